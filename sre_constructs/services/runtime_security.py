"""Runtime security: NeuVector (controller, enforcer, manager, scanner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ObjectRef, ServedPort, register_chart
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_one_of, check_positive_int, check_values
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._runtime_security_alerts import ALERTS

__all__ = [
    "ALERTS",
    "CHART_FACTS",
    "CRIO_SOCKET",
    "HEALTH_CHECKED_RELEASES",
    "K3S_SOCKET",
    "RUNTIMES",
    "RuntimeSecurity",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _served_ports(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ServedPort, ...]:
    """The manager UI Service ``neuvector-service-webui`` (fixed name, chart core 2.11.0): HTTPS
    unless ``manager.env.ssl`` is false."""
    manager = values.get("manager") or {}
    if manager.get("enabled", True) is False:
        return ()
    port = (manager.get("svc") or {}).get("mgrServerPort", 8443)
    tls = (manager.get("env") or {}).get("ssl", True) is not False
    return (ServedPort("neuvector-service-webui", port, port, {"app": "neuvector-manager-pod"}, tls=tls),)


def _workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The controller and enforcer, and the manager and scanner unless disabled (fixed names)."""
    checks = [("Deployment", "neuvector-controller-pod"), ("DaemonSet", "neuvector-enforcer-pod")]
    if (values.get("manager") or {}).get("enabled", True):
        checks.append(("Deployment", "neuvector-manager-pod"))
    if ((values.get("cve") or {}).get("scanner") or {}).get("enabled", True):
        checks.append(("Deployment", "neuvector-scanner-pod"))
    return tuple(ObjectRef(kind, namespace, name) for kind, name in checks)


CHART_FACTS = register_chart(
    ChartFacts(
        "core",
        workloads=_workloads,
        # One key for controller, enforcer, manager, scanner, updater and cert-upgrader.
        image_keys=MappingProxyType({"registry": "{mirror}"}),
        # core installs the neuvector.com CRDs itself (crdwebhook.enabled); the separate `crd`
        # chart is never installed, so no CRD is owned by two releases.
        crds=(
            "neuvector.com/NvAdmissionControlSecurityRule",
            "neuvector.com/NvClusterSecurityRule",
            "neuvector.com/NvComplianceProfile",
            "neuvector.com/NvDlpSecurityRule",
            "neuvector.com/NvGroupDefinition",
            "neuvector.com/NvResponseRuleSecurityRule",
            "neuvector.com/NvSecurityRule",
            "neuvector.com/NvVulnerabilityProfile",
            "neuvector.com/NvWafSecurityRule",
        ),
        served_ports=_served_ports,
    )
)

# -- defaults (the one place they live) ------------------------------------------------------

DEFAULT_NAMESPACE = "neuvector"
DEFAULT_RELEASE = "neuvector"
"""Default release name (the chart's workload names are fixed: ``neuvector-*-pod``)."""
HEALTH_CHECKED_RELEASES = (DEFAULT_RELEASE,)
DEFAULT_CONTROLLER_REPLICAS = 3
DEFAULT_SCANNER_REPLICAS = 2
DEFAULT_RUNTIME = "containerd"

K3S_SOCKET = "/run/k3s/containerd/containerd.sock"
"""The containerd socket of k3s and RKE2 (both embed containerd under /run/k3s)."""
CRIO_SOCKET = "/var/run/crio/crio.sock"
"""CRI-O's socket (the chart's ``crio.path`` default)."""

# runtime knob -> chart values. Since enforcer 5.2.10 the chart mounts a runtime socket only when
# the resolved path differs from the chart default; otherwise the enforcer auto-detects the
# runtime through hostPID. The per-runtime keys (k3s.enabled, crio.enabled, ...) are deprecated
# after 5.3.0, so a forced socket goes through the top-level ``runtimePath``.
RUNTIMES: dict[str, dict[str, Any]] = {
    # Plain containerd: auto-detect, nothing to set.
    "containerd": {},
    # k3s.enabled alone mounts nothing (its runtimePath equals the chart default): force the path.
    "k3s": {"runtimePath": K3S_SOCKET},
    "rke2": {"runtimePath": K3S_SOCKET},
    "crio": {"runtimePath": CRIO_SOCKET},
}

# Control-plane taints (plus the legacy "master" and RKE's "etcd" ones, as the chart default): the
# enforcer must run on every node it protects, control-plane nodes included. Set explicitly so a
# chart default change cannot silently leave control-plane nodes unprotected.
ENFORCER_TOLERATIONS: list[dict[str, str]] = [
    {"key": f"node-role.kubernetes.io/{role}", "operator": "Exists", "effect": "NoSchedule"}
    for role in ("control-plane", "master", "etcd")
]

# Small-cluster sizing (requests and memory limits for a few dozen nodes; CPU limits added because every
# component gets requests AND limits). The scanner holds the CVE database in memory, the
# controller the cluster's policy and connection graph.
RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "controller": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "3Gi"}},
    "enforcer": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "manager": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
    "scanner": {"requests": {"cpu": "100m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "3Gi"}},
    "updater": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    # The cert-upgrader CronJob (and the Job the controller's init container creates from it) reads
    # only controller.certupgrader.resources, never the top-level fallback: without it Kyverno's
    # require-requests-limits policy would reject the CronJob and the release would never install.
    "certupgrader": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
}

# Ports the API server calls on the controller pods (the controller registers both webhooks).
ADMISSION_WEBHOOK_PORT = 20443
CRD_WEBHOOK_PORT = 30443
MANAGER_PORT = 8443
REGISTRY_PORT = 443

# Pod labels of the chart's workloads (fixed names, independent of the release name).
CONTROLLER_PODS = {"app": "neuvector-controller-pod"}
MANAGER_PODS = {"app": "neuvector-manager-pod"}
SCANNER_PODS = {"app": "neuvector-scanner-pod"}

POD_SECURITY_REASON = (
    "NeuVector enforcer DaemonSet runs privileged with hostPID and hostPath mounts (/lib/modules, "
    "/var/nv_debug, the runtime socket); the controller runs as uid 0. The chart has no "
    "securityContext knobs, so no lower level works."
)


def controller_disruption_budget(replicas: int) -> int:
    """``controller.disruptionbudget`` (the PDB's minAvailable) for ``replicas`` controllers.

    The controllers form a consensus cluster: keep a majority up, but always let one pod go so
    node drains can progress. One replica gets no PDB (``0``: the chart renders none).

    Args:
        replicas: the controller replica count.
    """
    if replicas <= 1:
        return 0
    return min(replicas - 1, replicas // 2 + 1)


class RuntimeSecurity(PlatformComponent):
    """NeuVector from its ``core`` chart, which also installs its CRDs (and nothing else does).

    CRDs: core's own 9 ``neuvector.com`` CRDs (``crdwebhook.enabled: true``). The separate ``crd``
    chart is NOT installed: with both, two releases would own the same CRDs.

    Hardening: ``leastPrivilege: true`` (per-component ServiceAccounts), the manager Service as
    ClusterIP (the chart's default is NodePort), explicit control-plane tolerations for the
    enforcer, requests and limits for every component. The chart has no securityContext knobs.

    Metrics: the core chart has no ServiceMonitor; NeuVector's Prometheus exporter is the separate
    ``monitor`` chart and is not part of this component.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``2.11.0``.
    - ``values``: Helm values, deep-merged last (user wins). Default none.
    - ``controller_replicas``: controller replicas (``controller.replicas``); with more than one, a
      PDB keeps a majority (``controller.disruptionbudget``). Default ``3``.
    - ``scanner_replicas``: CVE scanner replicas (``cve.scanner.replicas``). Default ``2``.
    - ``runtime``: the nodes' container runtime: ``containerd`` (auto-detect), ``k3s`` or ``rke2``
      (``runtimePath: /run/k3s/containerd/containerd.sock``), ``crio``
      (``runtimePath: /var/run/crio/crio.sock``). Default ``containerd``.
    - ``manager``: install the web UI (``manager.enabled``). Default ``True``.
    - ``manager_ingress_namespaces``: namespaces (e.g. an ingress controller's) allowed to reach the
      manager UI on port 8443; empty means only pods of the NeuVector namespace. Default ``()``.
    - ``registry_egress``: let the scanner reach registries on 443 anywhere (image scans); the
      updater only talks to the API server (it restarts the scanner). Default ``True``.
    - ``namespace``: Default ``neuvector``.
    - ``release_name``: Default ``neuvector``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the controller and scanner
      Deployments, the enforcer DaemonSet and (with ``manager``) the manager Deployment (fixed
      names in this chart).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        controller_replicas: int = DEFAULT_CONTROLLER_REPLICAS,
        scanner_replicas: int = DEFAULT_SCANNER_REPLICAS,
        runtime: str = DEFAULT_RUNTIME,
        manager: bool = True,
        manager_ingress_namespaces: Sequence[str] = (),
        registry_egress: bool = True,
        namespace: str = DEFAULT_NAMESPACE,
        release_name: str = DEFAULT_RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        # Validate before anything crosses into jsii; the construct path is not known yet, so
        # errors name the scope's path plus the id.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        check_positive_int(where, "controller_replicas", controller_replicas)
        check_positive_int(where, "scanner_replicas", scanner_replicas)
        check_one_of(where, "runtime", runtime, tuple(RUNTIMES))
        check_bool(where, "manager", manager)
        check_bool(where, "registry_egress", registry_egress)
        if isinstance(manager_ingress_namespaces, str) or not isinstance(manager_ingress_namespaces, Sequence):
            raise ValidationError(
                where, "manager_ingress_namespaces", manager_ingress_namespaces, "a list of namespace names"
            )
        ui_namespaces = [check_dns_label(where, "manager_ingress_namespaces", ns) for ns in manager_ingress_namespaces]
        user_values = check_values(where, "values", values if values is not None else {})
        if ui_namespaces and not manager:
            raise ValidationError(
                where, "manager_ingress_namespaces", list(ui_namespaces), "empty while manager is False"
            )

        super().__init__(
            scope,
            id,
            name="runtime-security",
            namespace=namespace,
            wait=wait,
            pod_security="privileged",
            pod_security_reason=POD_SECURITY_REASON,
        )
        self.add_alert_rules(alert_rules, release=release_name)
        self.runtime = runtime
        """The container runtime the enforcer is set up for."""

        knobs: dict[str, Any] = {
            **RUNTIMES[runtime],
            "controller": {
                "replicas": controller_replicas,
                "disruptionbudget": controller_disruption_budget(controller_replicas),
                "resources": RESOURCES["controller"],
                "certupgrader": {"resources": RESOURCES["certupgrader"]},
            },
            "enforcer": {"tolerations": ENFORCER_TOLERATIONS, "resources": RESOURCES["enforcer"]},
            "manager": {
                "enabled": manager,
                # The chart's default is NodePort: expose the UI through an ingress, not node ports.
                "svc": {"type": "ClusterIP"},
                "resources": RESOURCES["manager"],
            },
            "cve": {
                "scanner": {"replicas": scanner_replicas, "resources": RESOURCES["scanner"]},
                "updater": {"resources": RESOURCES["updater"]},
            },
            # Per-component ServiceAccounts instead of `default` for every pod (the chart's leastPrivilege).
            "leastPrivilege": True,
            # Core installs the neuvector.com CRDs itself (templates); the `crd` chart is never installed,
            # so no CRD is owned by two releases. The CRD webhook Service stays on either way.
            "crdwebhook": {"enabled": True},
            "crdwebhooksvc": {"enabled": True},
        }
        self.release = self.add_helm_release(
            release_name,
            CHARTS["runtime-security/core"],
            version=version,
            values=deep_merge(knobs, user_values),
        )
        final = self.release.values

        # -- network: default-deny plus exactly these paths ---------------------------------
        # Controller (webhook registration, policy), enforcer, updater and cert-upgrader talk to the API.
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))
        # The API server calls the admission and CRD webhooks on the controller pods.
        self.allow_ingress(
            "webhooks-from-api-server",
            Peer.api_server(),
            tcp(ADMISSION_WEBHOOK_PORT, CRD_WEBHOOK_PORT),
            pods=CONTROLLER_PODS,
        )
        if ui_namespaces:
            self.allow_ingress(
                "manager-ui",
                [Peer.in_namespace(ns, f"manager UI clients in {ns}") for ns in ui_namespaces],
                tcp(MANAGER_PORT),
                pods=MANAGER_PODS,
            )
        if registry_egress:
            registries = Peer.anywhere("container registries (image scans, CVE database updates)")
            self.allow_egress("scanner-registries", registries, tcp(REGISTRY_PORT), pods=SCANNER_PODS)

        # -- health checks (wait=False): workload names are fixed in this chart --------------
        for ref in _workloads(final, namespace, release_name):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))
