"""Kyverno's metrics at v1.19.0 (OTel, counters with ``_total``) and its alerting rules (facts of :mod:`.kyverno`)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER", "POLICY_STATE", "policy_state"]

_P = "pkg/metrics"

EXPORTER = Exporter(
    "Kyverno controllers",
    MappingProxyType(
        {
            "kyverno_admission_requests_total": f"{_P}/admission.go@v1.19.0:36",
            "kyverno_admission_review_duration_seconds": f"{_P}/admission.go@v1.19.0:43",
            "kyverno_policy_results_total": f"{_P}/policy_engine.go@v1.19.0:44",
            "kyverno_policy_execution_duration_seconds": f"{_P}/policy_engine.go@v1.19.0:51",
            "kyverno_validating_policy_results_total": f"{_P}/vpol.go@v1.19.0:45",
            "kyverno_mutating_policy_results_total": f"{_P}/mpol.go@v1.19.0",
            "kyverno_image_validating_policy_results_total": f"{_P}/ivpol.go@v1.19.0",
            "kyverno_generating_policy_results_total": f"{_P}/gpol.go@v1.19.0",
            "kyverno_policy_changes_total": f"{_P}/metrics.go@v1.19.0:155",
            "kyverno_policy_rule_info_total": f"{_P}/policy_rule.go@v1.19.0:37",
            "kyverno_controller_reconcile_total": f"{_P}/controller.go@v1.19.0:36",
            "kyverno_controller_requeue_total": f"{_P}/controller.go@v1.19.0:42",
            "kyverno_controller_drop_total": f"{_P}/controller.go@v1.19.0:48",
            "kyverno_http_requests_total": f"{_P}/http.go@v1.19.0:35",
            "kyverno_http_requests_duration_seconds": f"{_P}/http.go@v1.19.0:35",
            "kyverno_client_queries_total": f"{_P}/metrics.go@v1.19.0:160",
            "kyverno_events_dropped_total": f"{_P}/events.go@v1.19.0:31",
            "kyverno_breaker_drops_total": f"{_P}/breaker.go@v1.19.0:34",
            "kyverno_breaker_total": f"{_P}/breaker.go@v1.19.0:34",
            "kyverno_cleanup_controller_errors_total": f"{_P}/cleanup.go@v1.19.0:43",
            "kyverno_info": f"{_P}/metrics.go@v1.19.0:165",
        }
    ),
    scraped_by="ServiceMonitors per controller (Kyverno.service_monitors(), in monitoring-config); port 8000",
    targets=(
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "admission-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "background-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "cleanup-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "reports-controller"})
        ),
    ),
)

# Kyverno's CEL policies (policies.kyverno.io/v1) report readiness only in their status
# (status.conditionStatus.ready; kyverno_policy_rule_info_total covers the kyverno.io kinds only,
# pkg/controllers/metrics/policy/controller.go@v1.19.0): kube-state-metrics reads it for them.
_CEL_KINDS = {
    "ValidatingPolicy": "validatingpolicies",
    "NamespacedValidatingPolicy": "namespacedvalidatingpolicies",
    "ImageValidatingPolicy": "imagevalidatingpolicies",
    "MutatingPolicy": "mutatingpolicies",
}

POLICY_STATE = Exporter(
    "kube-state-metrics (Kyverno CEL policies)",
    MappingProxyType(
        {
            # metricNamePrefix kyverno_cel_policy + metric ready (policy_state below).
            "kyverno_cel_policy_ready": "config/crds/policies.kyverno.io/policies.kyverno.io_validatingpolicies.yaml"
            "@v1.19.0:25 (status.conditionStatus.ready); kube-state-metrics "
            "pkg/customresourcestate/registry_factory.go@v2.20.0:755 (a bool gauge: 1 true, 0 false)",
        }
    ),
    scraped_by="kube-prometheus-stack's kube-state-metrics ServiceMonitor (customResourceState from Monitoring)",
    targets=(
        ScrapeTarget(
            chart="kube-prometheus-stack", values_path="kube-state-metrics.prometheus.monitor.enabled", default=True
        ),
    ),
)


def policy_state() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """kube-state-metrics' custom resource state reporting ``kyverno_cel_policy_ready`` (1 ready, 0
    not) per CEL policy, and the RBAC rule that lets it list them (combined with Flux's by Monitoring).

    kube-state-metrics skips a kind whose CRD is absent, so this holds with Kyverno off too.
    """
    resources = [
        {
            "groupVersionKind": {"group": "policies.kyverno.io", "version": "v1", "kind": kind},
            "metricNamePrefix": "kyverno_cel_policy",
            "metrics": [
                {
                    "name": "ready",
                    "help": f"Whether a Kyverno {kind} is ready (status.conditionStatus.ready).",
                    "each": {"type": "Gauge", "gauge": {"path": ["status", "conditionStatus", "ready"]}},
                    "labelsFromPath": {
                        "name": ["metadata", "name"],
                        "exported_namespace": ["metadata", "namespace"],
                    },
                }
            ],
        }
        for kind in _CEL_KINDS
    ]
    rule = {"apiGroups": ["policies.kyverno.io"], "resources": sorted(_CEL_KINDS.values()), "verbs": ["list", "watch"]}
    return resources, rule


# Kyverno's own namespace is the target label `namespace` of every series below (its metrics carry
# `resource_namespace`/`policy_namespace`, never `namespace`); kube-state-metrics keeps the object's.
_AVAILABLE = 'kube_deployment_status_replicas_available{namespace="${namespace}", deployment=~"%s"}'
_CEL_READY = (
    'kyverno_cel_policy_ready{customresource_kind="ValidatingPolicy",job="kube-state-metrics",'
    'name="disallow-latest-tag",namespace="monitoring"}'
)
_KSM_SERIES = 'kube_deployment_status_replicas_available{namespace="${namespace}",deployment="%s"}'
_LOGS = "kubectl -n kyverno logs deploy/kyverno-admission-controller --tail=200"
_WEBHOOKS = "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations | grep kyverno"


def _ksm_cases(deployment: str, eval_time: str) -> tuple[RuleTest, ...]:
    """Zero available replicas fires after the alert's ``for`` (``eval_time``); two stay silent."""
    labels = (("namespace", "${namespace}"), ("deployment", deployment))
    return (
        RuleTest((Series(_KSM_SERIES % deployment, "0x30"),), eval_time, True, labels),
        RuleTest((Series(_KSM_SERIES % deployment, "2x30"),), eval_time, False),
    )


def _admission(allowed: str, values: str) -> Series:
    return Series(
        f'kyverno_admission_requests_total{{namespace="${{namespace}}",request_allowed="{allowed}",'
        'request_webhook="ValidatingWebhookConfiguration",resource_kind="Pod"}',
        values,
    )


def _latency(seconds_per_request: float) -> tuple[Series, ...]:
    """Ten requests a minute, each taking ``seconds_per_request`` (buckets as Kyverno's default boundaries)."""
    series = (
        'kyverno_admission_review_duration_seconds_bucket{namespace="${namespace}",le="%s",'
        'request_webhook="ValidatingWebhookConfiguration"}'
    )
    return tuple(
        Series(series % le, "0+10x30" if seconds_per_request <= float(le) else "0x30")
        for le in ("0.1", "0.5", "1", "2.5", "5", "10", "+Inf")
    )


ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "KyvernoAdmissionControllerDown",
        (_AVAILABLE % ".+-admission-controller") + " == 0",
        "5m",
        "critical",
        "Kyverno's admission controller {{ $labels.namespace }}/{{ $labels.deployment }} has no available pod",
        "No admission controller pod has been available for 5 minutes. The webhooks Kyverno registers for "
        "its policies fail closed (failurePolicy Fail): Pods and their controllers matched by a policy cannot "
        "be created or updated anywhere in the cluster (Kyverno's own namespace and kube-system excepted).",
        Runbook(
            "Kyverno's admission controller is down; admission requests its webhooks intercept are refused.",
            (
                "kubectl -n kyverno get deploy,pods -l app.kubernetes.io/component=admission-controller",
                "kubectl -n kyverno describe pods -l app.kubernetes.io/component=admission-controller",
                _LOGS + " --all-containers",
                _WEBHOOKS,
            ),
            (
                "Fix what keeps the pods from starting (events above: image pull, OOMKilled, node capacity), then "
                "`kubectl -n kyverno rollout restart deploy/kyverno-admission-controller`.",
                "If the cluster must admit workloads before Kyverno is back, delete the resource webhooks (Kyverno "
                "recreates them when it runs again): `kubectl delete validatingwebhookconfiguration "
                "kyverno-resource-validating-webhook-cfg` and `kubectl delete mutatingwebhookconfiguration "
                "kyverno-resource-mutating-webhook-cfg`.",
                "`flux reconcile helmrelease -n kyverno kyverno --force` if the release itself is failing.",
            ),
        ),
        _ksm_cases("kyverno-admission-controller", "10m"),
    ),
    AlertRule(
        "KyvernoControllerDown",
        (_AVAILABLE % ".+-(background|cleanup|reports)-controller") + " == 0",
        "15m",
        "warning",
        "Kyverno controller {{ $labels.namespace }}/{{ $labels.deployment }} has no available pod",
        "No pod of {{ $labels.deployment }} has been available for 15 minutes: background scans and "
        "generate/mutate-existing rules (background), cleanup policies (cleanup) or policy reports (reports) "
        "stop. Admission is not affected.",
        Runbook(
            "A Kyverno background, cleanup or reports controller is down; its work queues up until it returns.",
            (
                "kubectl -n kyverno get deploy,pods -l app.kubernetes.io/part-of=kyverno",
                "kubectl -n kyverno describe deploy <deployment>",
                "kubectl -n kyverno logs deploy/<deployment> --tail=200",
            ),
            (
                "Fix what keeps the pods from starting (events, resources), then "
                "`kubectl -n kyverno rollout restart deploy/<deployment>`.",
                "`flux reconcile helmrelease -n kyverno kyverno --force` if the release itself is failing.",
            ),
        ),
        _ksm_cases("kyverno-reports-controller", "20m"),
    ),
    AlertRule(
        "KyvernoAdmissionLatencyHigh",
        "histogram_quantile(0.99, sum by (le, namespace, request_webhook) "
        '(rate(kyverno_admission_review_duration_seconds_bucket{namespace="${namespace}"}[5m])) '
        ") > ${threshold}",
        "15m",
        "warning",
        "Kyverno takes {{ $value | humanizeDuration }} at p99 to review admission requests",
        "The 99th percentile of Kyverno's end-to-end admission review time ({{ $labels.request_webhook }}) has "
        "been above ${threshold} s for 15 minutes. The API server gives Kyverno's webhooks "
        "10 seconds; beyond that requests fail (failurePolicy Fail) and every apply through the webhooks is slow.",
        Runbook(
            "Admission reviews are slow: a policy with a costly CEL expression or API call, or an overloaded "
            "admission controller.",
            (
                "kubectl -n kyverno top pods -l app.kubernetes.io/component=admission-controller",
                "kubectl get validatingpolicies,clusterpolicies",
                "# in Prometheus: topk(5, sum by (policy_name) "
                "(rate(kyverno_validating_policy_execution_duration_seconds_sum[5m])))",
                _LOGS + " | grep -i -e timeout -e slow",
            ),
            (
                "Scale the admission controller: knob `admission_replicas` (and its `resources`).",
                "Fix or narrow the slow policy's match (`kubectl edit validatingpolicy <name>`); set it to Audit "
                "meanwhile with the `policy_actions` knob.",
            ),
        ),
        (
            RuleTest(
                _latency(4.0),
                "25m",
                True,
                (("namespace", "${namespace}"), ("request_webhook", "ValidatingWebhookConfiguration")),
            ),
            RuleTest(_latency(0.05), "25m", False),
        ),
        threshold=2,
    ),
    AlertRule(
        "KyvernoAdmissionRefusalsHigh",
        "sum by (namespace) "
        '(rate(kyverno_admission_requests_total{namespace="${namespace}", request_allowed="false"}[10m])) '
        '/ sum by (namespace) (rate(kyverno_admission_requests_total{namespace="${namespace}"}[10m])) > ${threshold}',
        "15m",
        "warning",
        "Kyverno refuses {{ $value | humanizePercentage }} of the admission requests it reviews",
        "Over 10 minutes more than ${threshold} (a share) of the requests Kyverno reviewed were refused "
        "(request_allowed=false), for 15 minutes. The metric counts every refusal alike: a violation of a "
        "policy in Enforce mode and a policy that could not be evaluated (see KyvernoPolicyErrors). A "
        "sustained high share usually means a controller retrying an object a policy rejects.",
        Runbook(
            "Many admission requests are refused: a workload keeps violating an enforced policy, or a policy errors.",
            (
                "kubectl get events -A --field-selector reason=PolicyViolation --sort-by=.lastTimestamp | tail -20",
                "kubectl get policyreports -A",
                "# in Prometheus: sum by (resource_kind, resource_request_operation) "
                '(rate(kyverno_admission_requests_total{request_allowed="false"}[10m]))',
                "flux get kustomizations -A --status-selector ready=false",
            ),
            (
                "Fix the rejected manifests (the event message names the policy and the failed check), or exempt the "
                "namespace with the `excluded_namespaces` knob if it legitimately needs more privileges.",
                "Test a manifest offline: `kyverno apply <policy.yaml> --resource <manifest.yaml>`.",
            ),
        ),
        (
            RuleTest(
                (_admission("true", "0+10x40"), _admission("false", "0+20x40")),
                "30m",
                True,
                (("namespace", "${namespace}"),),
            ),
            RuleTest((_admission("true", "0+100x40"), _admission("false", "0+1x40")), "30m", False),
        ),
        threshold=0.25,
    ),
    AlertRule(
        "KyvernoPolicyErrors",
        "sum by (namespace, policy_name) "
        '(rate(kyverno_validating_policy_results_total{namespace="${namespace}", result="error"}[5m])) > 0 '
        "or sum by (namespace, policy_name) "
        '(rate(kyverno_policy_results_total{namespace="${namespace}", rule_result="error"}[5m])) > 0',
        "15m",
        "warning",
        "Kyverno policy {{ $labels.policy_name }} fails to evaluate",
        "Policy {{ $labels.policy_name }} has returned `error` results (the expression could not be evaluated, "
        "not a violation) for 15 minutes. In Enforce mode a request whose evaluation errors is refused; in "
        "Audit mode the check silently does not happen.",
        Runbook(
            "A policy errors on the resources it matches (a CEL expression reads a missing field, a context "
            "lookup fails), so it neither allows nor denies on its merits.",
            (
                "kubectl get validatingpolicy <policy_name> -o yaml",
                "kubectl get policyreports -A -o wide | grep -i error",
                _LOGS + " | grep <policy_name>",
            ),
            (
                "Guard the expression (`has(object.spec.x) && ...`) and test it: "
                "`kyverno apply <policy.yaml> --resource <manifest.yaml>`.",
                "Meanwhile set the policy to Audit with the `policy_actions` knob.",
            ),
        ),
        (
            RuleTest(
                (
                    Series(
                        'kyverno_validating_policy_results_total{namespace="${namespace}",policy_name="disallow-latest-tag",result="error"}',
                        "0+2x30",
                    ),
                ),
                "25m",
                True,
                (("namespace", "${namespace}"), ("policy_name", "disallow-latest-tag")),
            ),
            RuleTest(
                (
                    Series(
                        'kyverno_validating_policy_results_total{namespace="${namespace}",policy_name="disallow-latest-tag",result="pass"}',
                        "0+50x30",
                    ),
                    Series(
                        'kyverno_policy_results_total{namespace="${namespace}",policy_name="legacy",rule_result="fail"}',
                        "0+5x30",
                    ),
                ),
                "25m",
                False,
            ),
        ),
    ),
    AlertRule(
        "KyvernoPolicyNotReady",
        "max by (namespace, policy_namespace, policy_name) "
        '(kyverno_policy_rule_info_total{namespace="${namespace}", status_ready="false"}) == 1',
        "15m",
        "warning",
        "Kyverno policy {{ $labels.policy_name }} is not ready",
        "ClusterPolicy or Policy {{ $labels.policy_name }} (namespace {{ $labels.policy_namespace }}, - for "
        "cluster-wide) has not been ready for 15 minutes: Kyverno does not enforce it. Kyverno's metric covers the "
        "kyverno.io ClusterPolicy/Policy kinds only; CEL policies (the platform's own ValidatingPolicies) are "
        "watched by KyvernoCELPolicyNotReady.",
        Runbook(
            "A policy Kyverno cannot load (invalid rule, missing permissions for a generate/mutate target) is "
            "not applied, so what it should prevent is admitted.",
            (
                "kubectl get clusterpolicies,policies -A",
                "kubectl get validatingpolicies  # READY column; the platform's baseline policies are these",
                "kubectl describe clusterpolicy <policy_name>",
                "kubectl get validatingpolicy <name> -o jsonpath='{.status.conditionStatus}'",
            ),
            (
                "Fix the condition the status names (the message says which rule and why), then reapply it: "
                "`flux reconcile kustomization kyverno-policies --with-source` for the platform's policies.",
            ),
        ),
        (
            RuleTest(
                (
                    Series(
                        'kyverno_policy_rule_info_total{namespace="${namespace}",policy_name="require-labels",policy_namespace="-",rule_name="check",status_ready="false"}',
                        "1x30",
                    ),
                ),
                "20m",
                True,
                (("namespace", "${namespace}"), ("policy_name", "require-labels"), ("policy_namespace", "-")),
            ),
            RuleTest(
                (
                    Series(
                        'kyverno_policy_rule_info_total{namespace="${namespace}",policy_name="require-labels",policy_namespace="-",rule_name="check",status_ready="true"}',
                        "1x30",
                    ),
                ),
                "20m",
                False,
            ),
        ),
    ),
    AlertRule(
        "KyvernoCELPolicyNotReady",
        "max by (customresource_kind, exported_namespace, name) (kyverno_cel_policy_ready) == 0",
        "15m",
        "warning",
        "Kyverno {{ $labels.customresource_kind }} {{ $labels.name }} is not ready",
        "{{ $labels.customresource_kind }} {{ $labels.name }} has reported status.conditionStatus.ready false "
        "for 15 minutes: Kyverno has not configured its webhook (or lacks the permissions it needs), so the "
        "policy is not enforced. The platform's baseline policies are ValidatingPolicies.",
        Runbook(
            "A CEL policy Kyverno could not set up is not applied, so what it should prevent is admitted.",
            (
                "kubectl get validatingpolicies,imagevalidatingpolicies,mutatingpolicies",
                "kubectl get validatingpolicy <name> -o jsonpath='{.status.conditionStatus.conditions}'",
                _LOGS + " | grep <name>",
            ),
            (
                "Fix what the failing condition names (a CEL compile error in the message: correct the expression; "
                "RBACPermissionsGranted false: grant the admission controller the missing permission), then "
                "`flux reconcile kustomization kyverno-policies --with-source` for the platform's policies.",
            ),
        ),
        (
            RuleTest(
                (Series(_CEL_READY, "0x30"),),
                "20m",
                True,
                (("customresource_kind", "ValidatingPolicy"), ("name", "disallow-latest-tag")),
            ),
            RuleTest((Series(_CEL_READY, "1x30"),), "20m", False),
        ),
    ),
)
