"""Kyverno: Kubernetes-native policy enforcement, with a baseline set of CEL ValidatingPolicies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ObjectRef, Webhook, register_chart
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path, path_of
from ..kernel.validation import (
    check_bool,
    check_dns_label,
    check_one_of,
    check_positive_int,
    check_resources,
    check_values,
)
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._kyverno_alerts import ALERTS, EXPORTER, POLICY_STATE
from ._kyverno_policies import (
    DISALLOW_LATEST,
    PSS_BASELINE,
    PSS_RESTRICTED,
    REQUIRE_RESOURCES,
    RUN_AS_NON_ROOT,
    policy_bodies,
)

__all__ = [
    "ALERTS",
    "CHART_FACTS",
    "HEALTH_CHECKED_RELEASES",
    "POLICIES",
    "POLICY_ACTIONS",
    "RELEASE",
    "Kyverno",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _fullname(values: Mapping[str, Any], release: str) -> str:
    return helm_fullname(release, values.get("nameOverride") or "kyverno", override=values.get("fullnameOverride"))


def _runtime_secrets(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The CA and serving-pair Secrets Kyverno's own certificate controllers create (admission
    controller's Service ``<fullname>-svc``; the cleanup controller's when enabled)."""
    services = [f"{_fullname(values, release)}-svc"]
    if (values.get("cleanupController") or {}).get("enabled", True):
        services.append(f"{_fullname(values, release)}-cleanup-controller")
    return tuple(
        ObjectRef("Secret", namespace, f"{service}.{namespace}.svc.kyverno-tls-{part}")
        for service in services
        for part in ("ca", "pair")
    )


def _workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """A Deployment per controller the values leave on, named ``<nameOverride or kyverno>-<controller>``."""
    base = values.get("nameOverride") or "kyverno"
    enabled = [suffix for key, suffix in _CONTROLLERS.items() if (values.get(key) or {}).get("enabled", True)]
    return tuple(ObjectRef("Deployment", namespace, f"{base}-{suffix}") for suffix in enabled)


CHART_FACTS = register_chart(
    ChartFacts(
        "kyverno",
        exporters=(EXPORTER, POLICY_STATE),
        workloads=_workloads,
        # global.image.registry covers reg.kyverno.io; test and webhooksCleanup pin ghcr.io themselves.
        image_keys=MappingProxyType(
            {
                "global.image.registry": "{mirror}",
                "test.image.registry": "{mirror}",
                "webhooksCleanup.image.registry": "{mirror}",
            }
        ),
        # The crds subchart (crds.install): kyverno.io and policies.kyverno.io as in kyverno v1.19.0
        # config/crds/; the reports and wgpolicyk8s.io kinds are the subchart's other default groups.
        crds=(
            "kyverno.io/CleanupPolicy",
            "kyverno.io/ClusterCleanupPolicy",
            "kyverno.io/ClusterPolicy",
            "kyverno.io/GlobalContextEntry",
            "kyverno.io/Policy",
            "kyverno.io/PolicyException",
            "kyverno.io/UpdateRequest",
            "policies.kyverno.io/DeletingPolicy",
            "policies.kyverno.io/GeneratingPolicy",
            "policies.kyverno.io/ImageValidatingPolicy",
            "policies.kyverno.io/MutatingPolicy",
            "policies.kyverno.io/NamespacedDeletingPolicy",
            "policies.kyverno.io/NamespacedGeneratingPolicy",
            "policies.kyverno.io/NamespacedImageValidatingPolicy",
            "policies.kyverno.io/NamespacedMutatingPolicy",
            "policies.kyverno.io/NamespacedValidatingPolicy",
            "policies.kyverno.io/PolicyException",
            "policies.kyverno.io/ValidatingPolicy",
            "reports.kyverno.io/ClusterEphemeralReport",
            "reports.kyverno.io/EphemeralReport",
            "wgpolicyk8s.io/ClusterPolicyReport",
            "wgpolicyk8s.io/PolicyReport",
        ),
        # Registered by the admission controller once running (none is rendered by the chart):
        # kyverno pkg/config/config.go, pkg/controllers/webhook/controller.go at v1.19.0.
        webhooks=(
            Webhook(
                "kyverno-policy-validating-webhook-cfg",
                (
                    "kyverno.io/ClusterPolicy",
                    "kyverno.io/Policy",
                    "policies.kyverno.io/DeletingPolicy",
                    "policies.kyverno.io/GeneratingPolicy",
                    "policies.kyverno.io/ImageValidatingPolicy",
                    "policies.kyverno.io/MutatingPolicy",
                    "policies.kyverno.io/NamespacedGeneratingPolicy",
                    "policies.kyverno.io/NamespacedImageValidatingPolicy",
                    "policies.kyverno.io/NamespacedMutatingPolicy",
                    "policies.kyverno.io/NamespacedValidatingPolicy",
                    "policies.kyverno.io/ValidatingPolicy",
                ),
                failure_policy="Fail",
            ),
        ),
        creates_at_runtime=_runtime_secrets,
        # ClusterRole kyverno:background-controller aggregates ClusterRoles with this label.
        aggregated_roles=(
            ("rbac.kyverno.io/aggregate-to-background-controller", "true", "kyverno-background-controller"),
        ),
    )
)

RELEASE = "kyverno"
"""Default release name; the four controller Deployments are named after it."""
HEALTH_CHECKED_RELEASES = (RELEASE,)

POLICY_ACTIONS = ("Enforce", "Audit")
"""Values of ``policy_action`` and of each ``policy_actions`` entry (``Enforce``: ``validationActions: [Deny]``;
``Audit``: ``[Audit]``, reported only)."""

# -- defaults (the one place they live) ------------------------------------------------------

# Values key of each controller, and its Deployment suffix / component label.
_CONTROLLERS = {
    "admissionController": "admission-controller",
    "backgroundController": "background-controller",
    "cleanupController": "cleanup-controller",
    "reportsController": "reports-controller",
}
_ADMISSION_REPLICAS = 3
_CONTROLLER_REPLICAS = 2
_RESOURCES: dict[str, dict[str, Any]] = {
    "admission": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "768Mi"}},
    "admission-init": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "256Mi"}},
    "background": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "cleanup": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "reports": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "hooks": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"cpu": "100m", "memory": "256Mi"}},
}
# Container securityContexts are restricted by chart default; the pod level is empty by default.
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}

POLICIES = (PSS_BASELINE, PSS_RESTRICTED, DISALLOW_LATEST, REQUIRE_RESOURCES, RUN_AS_NON_ROOT)
"""Names of the ValidatingPolicies in ``kyverno-policies`` (``require-run-as-non-root`` only on request)."""

# Platform namespaces whose PSS level is privileged: node-exporter (monitoring), the NeuVector
# enforcer, Velero's node-agent; kube-system belongs to the distribution.
_PRIVILEGED_NAMESPACES = ("kube-system", "monitoring", "neuvector", "velero")
_EXCLUDED: dict[str, tuple[str, ...]] = {
    PSS_BASELINE: _PRIVILEGED_NAMESPACES,
    # Every other platform namespace (istio-system, logging, openbao, ...) runs restricted.
    PSS_RESTRICTED: _PRIVILEGED_NAMESPACES,
    RUN_AS_NON_ROOT: _PRIVILEGED_NAMESPACES,
    # Platform charts pin tags and set resources; only the distribution's own pods are exempt.
    DISALLOW_LATEST: ("kube-system",),
    REQUIRE_RESOURCES: ("kube-system",),
}


class Kyverno(PlatformComponent):
    """Kyverno admission, background, cleanup and reports controllers, with their CRDs and policies.

    The admission controller runs ``admission_replicas`` times, the other three
    ``controller_replicas`` times, each with a PDB (above one replica), requests and limits and a
    restricted pod securityContext. Webhooks stay cluster-wide; the policies carry the
    exclusions. The companion ``kyverno-policies`` (attribute ``policies``) holds the baseline
    policy set, as ``policies.kyverno.io/v1`` ValidatingPolicies in CEL (the ``kyverno.io``
    ClusterPolicy type is deprecated in chart 3.9.0): Pod Security ``baseline`` and ``restricted``
    (every control of the Pod Security Standards, ``latest``, one CEL validation each),
    ``disallow-latest-tag``, ``require-requests-limits`` (CPU and memory requests, memory limit)
    and optionally ``require-run-as-non-root``. Each matches Pods on CREATE and UPDATE with
    ``failurePolicy: Fail``, background scans on, and exempts namespaces by a
    ``namespaceSelector`` on ``kubernetes.io/metadata.name``; Kyverno's autogen applies them to
    Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and ReplicaSets too (not
    ``disallow-latest-tag``: Pods only).

    What the Pod Security policies add to Kubernetes' own Pod Security admission (the
    namespaces' ``pod-security.kubernetes.io/enforce`` labels): a workload that breaks a control
    is refused when its Deployment (or other controller) is applied, not later when its pods
    fail to be created; they apply to a namespace whatever its labels (a namespace created
    without labels, or relabelled, by a team); and Kyverno's background scans report existing
    violations in PolicyReports. They do not replace the labels: Kyverno skips its own namespace
    and ``kube-system``. Prometheus scrapes the controllers through :meth:`service_monitors`.
    The CEL policies' readiness (their status only) reaches Prometheus through kube-state-metrics,
    which Monitoring configures for it.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``3.9.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``admission_replicas``: admission controller replicas. Default ``3``.
    - ``controller_replicas``: background, cleanup and reports controller replicas. Default ``2``.
    - ``resources``: per container (``admission``, ``admission-init``, ``background``,
      ``cleanup``, ``reports``, ``hooks``) requests/limits merged over the defaults. Default:
      admission ``100m``/``256Mi`` requests, ``1``/``768Mi`` limits; background and reports
      ``100m``/``128Mi``, ``1``/``512Mi``; cleanup ``100m``/``64Mi``, ``500m``/``256Mi``;
      admission-init and hooks ``10m``/``64Mi``, ``100m``/``256Mi``.
    - ``policy_action``: ``Enforce`` or ``Audit`` for every policy. Default ``Enforce``.
    - ``policy_actions``: per policy name overrides of ``policy_action``, e.g.
      ``{"pod-security-restricted": "Audit"}``. Default none.
    - ``excluded_namespaces``: per policy name, the namespaces it skips (replaces that policy's
      default). Default: ``kube-system``, ``monitoring``, ``neuvector``, ``velero`` (the
      privileged platform namespaces) for both Pod Security policies and runAsNonRoot;
      ``kube-system`` for ``disallow-latest-tag`` and ``require-requests-limits``.
    - ``mesh_exemptions``: exempt Istio's injected ``istio-init`` (an init container whose image is
      ``.../proxyv2:...`` or ``.../proxyv2@...``) from exactly the Pod Security checks it needs:
      adding NET_ADMIN and NET_RAW, and running as root. Default ``True``.
    - ``require_run_as_non_root``: also emit ``require-run-as-non-root`` (already implied by
      ``pod-security-restricted``; useful when that one is in Audit). Default ``False``.
    - ``registry_egress``: let the admission controller reach registries on 443 anywhere (needed
      only for ``verifyImages`` policies). Default ``False``.
    - ``monitoring_namespace``: namespace of the Prometheus that scrapes Kyverno. Default ``monitoring``.
    - ``namespace``: Default ``kyverno``.
    - ``release_name``: Default ``kyverno``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the four controller
      Deployments ``kyverno-<controller>`` (fixed names: they follow ``nameOverride`` only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        admission_replicas: int = _ADMISSION_REPLICAS,
        controller_replicas: int = _CONTROLLER_REPLICAS,
        resources: Mapping[str, Mapping[str, Any]] | None = None,
        policy_action: str = "Enforce",
        policy_actions: Mapping[str, str] | None = None,
        excluded_namespaces: Mapping[str, Sequence[str]] | None = None,
        mesh_exemptions: bool = True,
        require_run_as_non_root: bool = False,
        registry_egress: bool = False,
        monitoring_namespace: str = "monitoring",
        namespace: str = "kyverno",
        release_name: str = RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        admission_replicas = check_positive_int(where, "admission_replicas", admission_replicas)
        controller_replicas = check_positive_int(where, "controller_replicas", controller_replicas)
        given = resources or {}
        if not isinstance(given, Mapping) or not set(given) <= set(_RESOURCES):
            raise ValidationError(where, "resources", given, "a mapping whose keys are among " + ", ".join(_RESOURCES))
        res = {
            key: deep_merge(default, check_resources(where, f"resources.{key}", given.get(key, {})))
            for key, default in _RESOURCES.items()
        }
        check_one_of(where, "policy_action", policy_action, POLICY_ACTIONS)
        actions = policy_actions or {}
        if not isinstance(actions, Mapping):
            raise ValidationError(where, "policy_actions", actions, "a mapping of policy name to 'Enforce' or 'Audit'")
        for policy, action in actions.items():
            check_one_of(where, "policy_actions key", policy, POLICIES)
            check_one_of(where, f"policy_actions.{policy}", action, POLICY_ACTIONS)
        exclusions = dict(_EXCLUDED)
        if not isinstance(excluded_namespaces or {}, Mapping):
            raise ValidationError(
                where, "excluded_namespaces", excluded_namespaces, "a mapping of policy name to namespace names"
            )
        for policy, names in (excluded_namespaces or {}).items():
            check_one_of(where, "excluded_namespaces key", policy, POLICIES)
            if isinstance(names, str) or not isinstance(names, Sequence):
                raise ValidationError(where, f"excluded_namespaces.{policy}", names, "a list of namespace names")
            exclusions[policy] = tuple(check_dns_label(where, f"excluded_namespaces.{policy}", n) for n in names)
        check_bool(where, "mesh_exemptions", mesh_exemptions)
        check_bool(where, "require_run_as_non_root", require_run_as_non_root)
        check_bool(where, "registry_egress", registry_egress)
        check_dns_label(where, "monitoring_namespace", monitoring_namespace)
        check_dns_label(where, "release_name", release_name)
        if values is not None:
            check_values(where, "values", values)

        super().__init__(scope, id, name="kyverno", namespace=namespace, wait=wait, pod_security="restricted")
        self.add_alert_rules(alert_rules, release=release_name)

        def controller(replicas: int, resources: dict[str, Any] | None) -> dict[str, Any]:
            block: dict[str, Any] = {
                "replicas": replicas,
                # The chart renders a PDB whenever replicas > 1 anyway; with 1 it would block drains.
                "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
                "podSecurityContext": _POD_SECURITY,
                # The Prometheus Operator CRD comes later in the chain: see service_monitors().
                "serviceMonitor": {"enabled": False},
            }
            if resources is not None:
                block["resources"] = resources
            return block

        defaults: dict[str, Any] = {
            # The chart sets no keep annotation: uninstalling would delete the CRDs and every policy.
            "crds": {
                "install": True,
                "annotations": {"helm.sh/resource-policy": "keep"},
                "migration": {"podResources": res["hooks"], "podSecurityContext": _POD_SECURITY},
            },
            "admissionController": deep_merge(
                controller(admission_replicas, None),
                {
                    "initContainer": {"resources": res["admission-init"]},
                    "container": {"resources": res["admission"]},
                },
            ),
            "backgroundController": controller(controller_replicas, res["background"]),
            "cleanupController": controller(controller_replicas, res["cleanup"]),
            "reportsController": controller(controller_replicas, res["reports"]),
            "webhooksCleanup": {"resources": res["hooks"], "podSecurityContext": _POD_SECURITY},
        }
        self.release = self.add_helm_release(
            release_name,
            CHARTS["kyverno/kyverno"],
            version=version,
            values=deep_merge(defaults, values or {}),
        )
        final = self.release.values
        base = final.get("nameOverride") or "kyverno"
        self._part_of = helm_fullname(release_name, base, override=final.get("fullnameOverride"))
        # Follow the final values: a controller a user turns off has no Deployment to check.
        self._enabled = [suffix for key, suffix in _CONTROLLERS.items() if (final.get(key) or {}).get("enabled", True)]
        for ref in _workloads(final, namespace, release_name):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))

        def pods(suffix: str) -> dict[str, str]:
            return {"app.kubernetes.io/instance": release_name, "app.kubernetes.io/component": suffix}

        # Kyverno registers its webhooks at runtime; the API server calls pod port 9443.
        self.allow_ingress("admission-webhook", Peer.api_server(), tcp(9443), pods=pods("admission-controller"))
        self.allow_ingress("cleanup-webhook", Peer.api_server(), tcp(9443), pods=pods("cleanup-controller"))
        self.allow_ingress(
            "metrics",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **_PROMETHEUS_PODS),
            tcp(8000),
        )
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))
        if registry_egress:
            self.allow_egress(
                "registries",
                Peer.anywhere("container registries (verifyImages)"),
                tcp(443),
                pods=pods("admission-controller"),
            )

        self.policies: PlatformComponent = self.add_companion("policies")
        """Companion ``kyverno-policies``: the ValidatingPolicies (need the CRDs and the webhooks)."""
        self.policy_actions: dict[str, str] = {p: actions.get(p, policy_action) for p in POLICIES}
        """The failure action of each policy."""
        self.excluded_namespaces: dict[str, tuple[str, ...]] = exclusions
        """The namespaces each policy skips."""
        self._user_excluded = set(excluded_namespaces or {})
        self._policy_options = (mesh_exemptions, require_run_as_non_root)
        self._policy_objects = {
            body["metadata"]["name"]: self.policies.add_manifest(body)
            for body in self._policy_bodies(mesh_exemptions, require_run_as_non_root)
        }

    def exempt_namespaces(self, privileged: Iterable[str], baseline: Iterable[str] = ()) -> None:
        """Exempt the namespaces that really run above a Pod Security level from the PSS policies.

        A platform calls this once every service is built, with the namespaces their components
        label ``privileged`` or ``baseline``, so renamed or moved namespaces (node-exporter's, a
        renamed Velero namespace) stay admissible. Policies whose exclusions the user set keep them.

        Args:
            privileged: namespaces labelled ``privileged`` (exempt from baseline and restricted).
            baseline: namespaces labelled ``baseline`` (exempt from restricted).
        """
        where = path_of(self)
        above_baseline = tuple(sorted({"kube-system", *(check_dns_label(where, "privileged", n) for n in privileged)}))
        above_restricted = tuple(sorted({*above_baseline, *(check_dns_label(where, "baseline", n) for n in baseline)}))
        for policy, names in (
            (PSS_BASELINE, above_baseline),
            (PSS_RESTRICTED, above_restricted),
            (RUN_AS_NON_ROOT, above_restricted),
        ):
            if policy not in self._user_excluded:
                self.excluded_namespaces[policy] = names
        for body in self._policy_bodies(*self._policy_options):
            self._policy_objects[body["metadata"]["name"]].update_body(body)

    def _policy_bodies(self, mesh_exemptions: bool, run_as_non_root: bool) -> list[dict[str, Any]]:
        """The ValidatingPolicy set (bodies in :mod:`._kyverno_policies`)."""
        return policy_bodies(self.policy_actions, self.excluded_namespaces, mesh_exemptions, run_as_non_root)

    def service_monitors(self) -> list[dict[str, Any]]:
        """ServiceMonitors for the controllers' metrics Services, as the chart would render them.

        Returns:
            One ``monitoring.coreos.com/v1`` ServiceMonitor per enabled controller, selecting its
            ``*-metrics`` Service (``kyverno-svc-metrics``, ``kyverno-<controller>-metrics``) by
            component, instance and part-of labels, port ``metrics-port`` (8000).
        """
        assert self.namespace is not None
        monitors = []
        for suffix in self._enabled:
            labels = {
                "app.kubernetes.io/component": suffix,
                "app.kubernetes.io/instance": self.release.release_name,
                "app.kubernetes.io/part-of": self._part_of,
            }
            monitors.append(
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "ServiceMonitor",
                    "metadata": {"name": f"{self._part_of}-{suffix}", "namespace": self.namespace, "labels": labels},
                    "spec": {
                        "selector": {"matchLabels": labels},
                        "namespaceSelector": {"matchNames": [self.namespace]},
                        "endpoints": [{"port": "metrics-port", "interval": "30s", "scrapeTimeout": "25s"}],
                    },
                }
            )
        return monitors
