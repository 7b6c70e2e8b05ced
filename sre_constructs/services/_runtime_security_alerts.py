"""NeuVector's alerting rules (facts of :mod:`.runtime_security`).

The core chart exports no metrics (NeuVector 5.6.0 has no Prometheus endpoint; the exporter is a
separate chart we do not install): its rules read kube-state-metrics' workload series.
"""

from __future__ import annotations

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series

__all__ = ["ALERTS"]

# The chart's workload names are fixed (charts/core/templates @v2.11.0), whatever the release name.
_CONTROLLER = "neuvector-controller-pod"
_ENFORCER = "neuvector-enforcer-pod"
_AVAILABLE = f'kube_deployment_status_replicas_available{{namespace="${{namespace}}", deployment="{_CONTROLLER}"}}'
_SPEC = f'kube_deployment_spec_replicas{{namespace="${{namespace}}", deployment="{_CONTROLLER}"}}'
_DESIRED = f'kube_daemonset_status_desired_number_scheduled{{namespace="${{namespace}}", daemonset="{_ENFORCER}"}}'
_READY = f'kube_daemonset_status_number_ready{{namespace="${{namespace}}", daemonset="{_ENFORCER}"}}'
_CONTROLLER_LABELS = (("namespace", "${namespace}"), ("deployment", _CONTROLLER))
_ENFORCER_LABELS = (("namespace", "${namespace}"), ("daemonset", _ENFORCER))
_PODS = "kubectl -n neuvector get pods -o wide"


def _series(selector: str, values: str) -> Series:
    """A promtool input series from one of the selectors above."""
    return Series(selector.replace(", ", ","), values)


ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "NeuVectorControllerDown",
        _AVAILABLE + " == 0",
        "5m",
        "critical",
        "No NeuVector controller is available",
        "Deployment ${namespace}/neuvector-controller-pod has had no available pod for 5 minutes. The "
        "controllers hold NeuVector's policy and cluster state: enforcers keep their last rules but new "
        "workloads are not learned or protected, security events are not collected, and the API and UI are "
        "down.",
        Runbook(
            "NeuVector's control plane is down; runtime protection runs on stale rules.",
            (
                "kubectl -n neuvector get deploy neuvector-controller-pod",
                "kubectl -n neuvector describe pods -l app=neuvector-controller-pod",
                "kubectl -n neuvector logs deploy/neuvector-controller-pod --tail=200",
            ),
            (
                "Fix what the events name (memory: `values.controller.resources`; the cert-upgrader Job; "
                "the runtime socket), then `kubectl -n neuvector rollout restart deploy/neuvector-controller-pod`.",
                "`flux reconcile helmrelease -n neuvector neuvector --force` if the release itself is failing.",
            ),
        ),
        (
            RuleTest((_series(_AVAILABLE, "0x20"),), "10m", True, _CONTROLLER_LABELS),
            RuleTest((_series(_AVAILABLE, "3x20"),), "10m", False),
        ),
    ),
    AlertRule(
        "NeuVectorControllerDegraded",
        f"{_AVAILABLE} > 0 and on (namespace, deployment) ({_AVAILABLE} < on (namespace, deployment) {_SPEC})",
        "15m",
        "warning",
        "{{ $value }} NeuVector controllers available, fewer than requested",
        "Deployment ${namespace}/neuvector-controller-pod has had fewer available pods than its replicas for 15 "
        "minutes. The controllers form a consensus cluster: losing a majority stops it.",
        Runbook(
            "Some NeuVector controllers are not running; one more failure may lose the controllers' quorum.",
            (
                "kubectl -n neuvector get pods -l app=neuvector-controller-pod -o wide",
                "kubectl -n neuvector describe pods -l app=neuvector-controller-pod",
            ),
            (
                "Fix what keeps the missing pods Pending or crashing (node capacity, anti-affinity with too few "
                "nodes: lower `controller_replicas`).",
            ),
        ),
        (
            RuleTest((_series(_AVAILABLE, "2x30"), _series(_SPEC, "3x30")), "20m", True, _CONTROLLER_LABELS),
            RuleTest((_series(_AVAILABLE, "3x30"), _series(_SPEC, "3x30")), "20m", False),
            RuleTest((_series(_AVAILABLE, "0x30"), _series(_SPEC, "3x30")), "20m", False),  # NeuVectorControllerDown's
        ),
    ),
    AlertRule(
        "NeuVectorEnforcerNotRunning",
        f"{_DESIRED} - on (namespace, daemonset) {_READY} > 0",
        "15m",
        "warning",
        "NeuVector enforcer missing on {{ $value }} nodes",
        "DaemonSet ${namespace}/neuvector-enforcer-pod has had fewer ready pods than nodes it should run on "
        "for 15 minutes: containers on those nodes have no runtime protection, and their process and network "
        "activity is not watched.",
        Runbook(
            "An enforcer pod is not ready on some nodes (crash, image pull, runtime socket not found, or a "
            "node taint the enforcer does not tolerate).",
            (
                "kubectl -n neuvector get ds neuvector-enforcer-pod",
                _PODS + " -l app=neuvector-enforcer-pod",
                "kubectl -n neuvector logs <enforcer pod> --tail=200",
            ),
            (
                "Runtime socket: set the `runtime` knob to the nodes' runtime (k3s, rke2, crio).",
                "Taints: add the node's taint to the enforcer tolerations (`values.enforcer.tolerations`).",
                "Then `kubectl -n neuvector rollout restart ds/neuvector-enforcer-pod`.",
            ),
        ),
        (
            RuleTest((_series(_DESIRED, "5x30"), _series(_READY, "4x30")), "20m", True, _ENFORCER_LABELS),
            RuleTest((_series(_DESIRED, "5x30"), _series(_READY, "5x30")), "20m", False),
        ),
    ),
)
