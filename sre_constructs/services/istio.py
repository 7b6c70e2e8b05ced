"""Istio: the service mesh (``istio-base`` CRDs and ``istiod``), with an optional ingress gateway."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, DriftIgnore, ObjectRef, Webhook, register_chart, webhook_ca_paths
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
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
from ._istio_alerts import ALERTS, GATEWAY_ALERTS, GATEWAY_POD_LABEL, ISTIOD_EXPORTER, PROXY_EXPORTER

__all__ = [
    "ALERTS",
    "BASE_FACTS",
    "BASE_RELEASE",
    "GATEWAY_FACTS",
    "GATEWAY_RELEASE",
    "HEALTH_CHECKED_RELEASES",
    "ISTIOD_FACTS",
    "ISTIOD_RELEASE",
    "MTLS_MODES",
    "Istio",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------

# -- drift detection exceptions: what istiod and the HPAs own once running ---------------------
_WEBHOOKS = "admissionregistration.k8s.io"


def _base_drift(values: Mapping[str, Any], namespace: str, release: str) -> tuple[DriftIgnore, ...]:
    # istiod's validation controller injects the caBundle and flips failurePolicy Ignore -> Fail
    # (pkg/webhooks/validation/controller): restoring Ignore would reopen the webhook each reconcile.
    paths = ("/webhooks/0/failurePolicy", *webhook_ca_paths(1))
    return (DriftIgnore(_WEBHOOKS, "ValidatingWebhookConfiguration", "istiod-default-validator", paths),)


def _istiod_drift(values: Mapping[str, Any], namespace: str, release: str) -> tuple[DriftIgnore, ...]:
    suffix = f"-{values['revision']}" if values.get("revision") else ""
    rules = [
        DriftIgnore(
            _WEBHOOKS,
            "ValidatingWebhookConfiguration",
            f"istio-validator{suffix}-{namespace}",
            ("/webhooks/0/failurePolicy", *webhook_ca_paths(1)),
        ),
        # The four injection webhooks (revision/namespace/object selectors), caBundle from istiod.
        DriftIgnore(_WEBHOOKS, "MutatingWebhookConfiguration", f"istio-sidecar-injector{suffix}", webhook_ca_paths(4)),
    ]
    if values.get("autoscaleEnabled", True):
        rules.append(DriftIgnore("apps", "Deployment", f"istiod{suffix}", ("/spec/replicas",)))
    return tuple(rules)


def _gateway_drift(values: Mapping[str, Any], namespace: str, release: str) -> tuple[DriftIgnore, ...]:
    if not (values.get("autoscaling") or {}).get("enabled", True):
        return ()
    return (DriftIgnore("apps", "Deployment", str(values.get("name") or release), ("/spec/replicas",)),)


BASE_FACTS = register_chart(
    ChartFacts(
        "base",
        values_knob="base_values",
        # No images in istio-base: it holds the CRDs (manifests/charts/base/files/crd-all.gen.yaml).
        crds=(
            "extensions.istio.io/TrafficExtension",
            "extensions.istio.io/WasmPlugin",
            "networking.istio.io/DestinationRule",
            "networking.istio.io/EnvoyFilter",
            "networking.istio.io/Gateway",
            "networking.istio.io/ProxyConfig",
            "networking.istio.io/ServiceEntry",
            "networking.istio.io/Sidecar",
            "networking.istio.io/VirtualService",
            "networking.istio.io/WorkloadEntry",
            "networking.istio.io/WorkloadGroup",
            "security.istio.io/AuthorizationPolicy",
            "security.istio.io/PeerAuthentication",
            "security.istio.io/RequestAuthentication",
            "telemetry.istio.io/Telemetry",
        ),
        # `istiod-default-validator`: Ignore until istiod, once it answers, patches it to Fail.
        webhooks=(
            Webhook(
                "istiod-default-validator",
                ("networking.istio.io/*", "security.istio.io/*", "telemetry.istio.io/*", "extensions.istio.io/*"),
                "Ignore",
            ),
        ),
        drift_ignores=_base_drift,
    )
)
ISTIOD_FACTS = register_chart(
    ChartFacts(
        "istiod",
        exporters=(ISTIOD_EXPORTER,),
        # global.hub is the registry of pilot and of proxyv2 (every injected sidecar and gateway).
        image_keys=MappingProxyType({"global.hub": "{mirror}/istio"}),
        # The sidecar injector (failurePolicy Fail) mutates pods in namespaces labelled for injection;
        # istiod makes its own CA (Secret istio-ca-secret) and a root-cert ConfigMap in every namespace.
        webhooks=(
            Webhook(
                "istio-sidecar-injector",
                ("/Pod",),
                "Fail",
                mutating=True,
                namespace_label=("istio-injection", "enabled"),
            ),
        ),
        workloads=lambda values, ns, release: (ObjectRef("Deployment", ns, "istiod"),),
        creates_at_runtime=lambda values, ns, release: (ObjectRef("Secret", ns, "istio-ca-secret"),),
        drift_ignores=_istiod_drift,
    )
)
# The gateway runs `image: auto`: istiod's injector fills it in from global.hub above.
GATEWAY_FACTS = register_chart(
    ChartFacts(
        "gateway",
        values_knob="gateway_values",
        exporters=(PROXY_EXPORTER,),
        drift_ignores=_gateway_drift,
        # The gateway Deployment is named by the `name` value, else after the release.
        workloads=lambda values, ns, release: (ObjectRef("Deployment", ns, str(values.get("name") or release)),),
    )
)

BASE_RELEASE = "istio-base"
ISTIOD_RELEASE = "istiod"
GATEWAY_RELEASE = "istio-ingressgateway"
HEALTH_CHECKED_RELEASES = (ISTIOD_RELEASE, GATEWAY_RELEASE)
"""Releases whose workloads the component health-checks: istiod, and the gateway when enabled."""

MTLS_MODES = ("STRICT", "PERMISSIVE")
"""Mesh-wide PeerAuthentication modes the ``mtls_mode`` knob accepts."""

# -- defaults (the one place they live) ------------------------------------------------------

_REPLICAS = 2  # HPA minimum: the chart renders the istiod PDB only when it is > 1
_MAX_REPLICAS = 5
_GATEWAY_REPLICAS = 2
_ISTIOD_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "200m", "memory": "512Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
_PROXY_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_GATEWAY_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
# The gateway's pod securityContext REPLACES the chart default, which only sets this sysctl
# (it lets Envoy bind 80/443 without NET_BIND_SERVICE), so it is repeated here.
_UNPRIVILEGED_PORTS = {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}
# Pod labels of istiod (fixed by the chart) and of Prometheus (kube-prometheus-stack).
_ISTIOD_PODS = {"app": "istiod", "istio": "pilot"}
_PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}


class Istio(PlatformComponent):
    """Istio service mesh: CRDs (``base``), control plane (``istiod``), optional ingress gateway.

    istiod runs highly available (HPA from ``replicas`` to ``max_replicas`` and a PDB), with
    resource requests and limits and the RuntimeDefault seccomp profile, so ``istio-system``
    enforces Pod Security ``restricted`` (istiod's other container settings are hard-coded
    restricted by the chart; it has no pod securityContext key). Sidecars and gateways injected by
    this istiod get ``proxy_resources`` and RuntimeDefault seccomp too. The companion
    ``istio-config`` (attribute ``config``) holds the mesh-wide PeerAuthentication ``default`` in
    the root namespace. Prometheus scrapes istiod (and the gateway's Envoy stats, with
    ``istio_requests_total``) through :meth:`service_monitors`; the gateway's 5xx alert exists only
    with the gateway.

    Knobs (all keyword arguments):

    - ``version``: chart version of base, istiod and gateway. Default ``1.30.3``.
    - ``values``: Helm values for istiod, deep-merged last. Default none.
    - ``base_values``: Helm values for the base chart, deep-merged last. Default none.
    - ``replicas``: minimum istiod replicas (HPA ``autoscaleMin``; a PDB exists only above 1). Default ``2``.
    - ``max_replicas``: maximum istiod replicas (HPA ``autoscaleMax``). Default ``5``.
    - ``resources``: istiod container requests/limits, merged over the defaults. Default
      ``200m``/``512Mi`` requests, ``1``/``1Gi`` limits.
    - ``proxy_resources``: requests/limits of injected sidecars and gateways
      (``global.proxy.resources``). Default ``50m``/``128Mi`` requests, ``1``/``512Mi`` limits.
    - ``mtls_mode``: mesh-wide PeerAuthentication mode, ``STRICT`` or ``PERMISSIVE``. Default ``STRICT``.
    - ``monitoring_namespace``: namespace of the Prometheus that scrapes istiod. Default ``monitoring``.
    - ``namespace``: control-plane (and mesh root) namespace. Default ``istio-system``.
    - ``gateway``: also install the ingress gateway ``istio-ingressgateway`` in
      ``gateway_namespace``. Default ``False``.
    - ``gateway_namespace``: Default ``istio-ingress``.
    - ``gateway_replicas``: minimum gateway replicas (HPA; PDB above 1). Default ``2``.
    - ``gateway_resources``: gateway container requests/limits, merged over the defaults.
      Default ``100m``/``128Mi`` requests, ``1``/``512Mi`` limits.
    - ``gateway_values``: Helm values for the gateway chart, deep-merged last. Default none.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``gateway_backends_egress``: let the gateway reach pods of every namespace on any port (routes
      you add yourself); the platform's edge (``expose``) turns it off and opens each route alone.
      Default ``True``.
    - ``wait``: Flux waits for every object (Default ``True``); with ``False`` the health checks
      name Deployment ``istiod`` (and the gateway Deployment).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        base_values: Mapping[str, Any] | None = None,
        replicas: int = _REPLICAS,
        max_replicas: int = _MAX_REPLICAS,
        resources: Mapping[str, Any] | None = None,
        proxy_resources: Mapping[str, Any] | None = None,
        mtls_mode: str = "STRICT",
        monitoring_namespace: str = "monitoring",
        namespace: str = "istio-system",
        gateway: bool = False,
        gateway_namespace: str = "istio-ingress",
        gateway_replicas: int = _GATEWAY_REPLICAS,
        gateway_resources: Mapping[str, Any] | None = None,
        gateway_values: Mapping[str, Any] | None = None,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        gateway_backends_egress: bool = True,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        replicas = check_positive_int(where, "replicas", replicas)
        max_replicas = check_positive_int(where, "max_replicas", max_replicas)
        if max_replicas < replicas:
            raise ValidationError(where, "max_replicas", max_replicas, f"a whole number >= replicas ({replicas})")
        istiod_resources = deep_merge(_ISTIOD_RESOURCES, check_resources(where, "resources", resources or {}))
        sidecar_resources = deep_merge(
            _PROXY_RESOURCES, check_resources(where, "proxy_resources", proxy_resources or {})
        )
        self.mtls_mode: str = check_one_of(where, "mtls_mode", mtls_mode, MTLS_MODES)
        """The mesh-wide mTLS mode of PeerAuthentication ``default``."""
        check_dns_label(where, "monitoring_namespace", monitoring_namespace)
        check_dns_label(where, "namespace", namespace)
        check_bool(where, "gateway", gateway)
        check_bool(where, "gateway_backends_egress", gateway_backends_egress)
        check_dns_label(where, "gateway_namespace", gateway_namespace)
        if gateway and gateway_namespace == namespace:
            raise ValidationError(
                where, "gateway_namespace", gateway_namespace, f"a namespace other than {namespace!r}"
            )
        gateway_replicas = check_positive_int(where, "gateway_replicas", gateway_replicas)
        gw_resources = deep_merge(
            _GATEWAY_RESOURCES, check_resources(where, "gateway_resources", gateway_resources or {})
        )
        for name, given in (("values", values), ("base_values", base_values), ("gateway_values", gateway_values)):
            if given is not None:
                check_values(where, name, given)

        super().__init__(scope, id, name="istio", namespace=namespace, wait=wait, pod_security="restricted")

        base = self.add_helm_release(
            BASE_RELEASE,
            CHARTS["istio/base"],
            version=version,
            values=deep_merge(
                {"defaultRevision": "default", "global": {"istioNamespace": namespace}},
                base_values or {},
            ),
        )
        istiod_values: dict[str, Any] = {
            "global": {
                # The mesh root namespace (where PeerAuthentication `default` applies mesh-wide).
                "istioNamespace": namespace,
                "defaultPodDisruptionBudget": {"enabled": True},
                "proxy": {"resources": sidecar_resources, "seccompProfile": _RUNTIME_DEFAULT, "privileged": False},
            },
            "autoscaleEnabled": True,
            "autoscaleMin": replicas,
            "autoscaleMax": max_replicas,
            "replicaCount": replicas,  # used only if a user turns autoscaling off
            "pdb": {"minAvailable": 1},
            "resources": istiod_resources,
            # The one security key istiod exposes; the rest is hard-coded restricted in the chart.
            "seccompProfile": _RUNTIME_DEFAULT,
            "gateways": {"seccompProfile": _RUNTIME_DEFAULT},
        }
        # istiod's Deployment name is fixed ("istiod"), whatever the release is called.
        self.istiod = self.add_helm_release(
            ISTIOD_RELEASE,
            CHARTS["istio/istiod"],
            version=version,
            depends_on=[base],
            values=deep_merge(istiod_values, values or {}),
        )
        self.add_health_check(HealthCheck("Deployment", "istiod", namespace))

        prometheus = Peer.in_namespace(monitoring_namespace, "Prometheus", **_PROMETHEUS_PODS)
        # Sidecars and gateways anywhere fetch config and certificates over 15012 (xDS + CA, mTLS).
        self.allow_ingress(
            "istiod-xds",
            Peer.any_namespace("sidecars and gateways in any namespace"),
            tcp(15012),
            pods=_ISTIOD_PODS,
        )
        # The API server calls the injection and validation webhooks (Service 443 -> pod 15017).
        self.allow_ingress("istiod-webhook", Peer.api_server(), tcp(15017), pods=_ISTIOD_PODS)
        self.allow_ingress("istiod-metrics", prometheus, tcp(15014), pods=_ISTIOD_PODS)
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))

        self.gateway = None
        self.gateway_namespace: str | None = None
        """Namespace of the ingress gateway, when enabled."""
        self.gateway_name: str = GATEWAY_RELEASE
        """The gateway's Deployment (and workload) name, ``source_workload`` of its requests."""
        self.gateway_pods: dict[str, str] = {}
        """The gateway pods' selector labels, when enabled."""
        if gateway:
            self.gateway_namespace = gateway_namespace
            # The gateway pod (image: auto) gets its proxy from the injector, so its namespace must
            # not say istio-injection=disabled; only the gateway runs there, and the gateway
            # injection template has no privileged istio-init, so it stays `restricted`.
            self.add_namespace(gateway_namespace, mesh_injection=True)
            gateway_defaults: dict[str, Any] = {
                "autoscaling": {
                    "enabled": True,
                    "minReplicas": gateway_replicas,
                    "maxReplicas": max(_MAX_REPLICAS, gateway_replicas),
                },
                "replicaCount": gateway_replicas,
                "podDisruptionBudget": {"minAvailable": 1} if gateway_replicas > 1 else {},
                "resources": gw_resources,
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": _RUNTIME_DEFAULT,
                    "sysctls": [_UNPRIVILEGED_PORTS],
                },
                # Replaces the chart default too: restate drop ALL and no privilege escalation.
                "containerSecurityContext": {
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": _RUNTIME_DEFAULT,
                },
            }
            # The gateway pod's image is injected by istiod, so it must come after istiod.
            self.gateway = self.add_helm_release(
                GATEWAY_RELEASE,
                CHARTS["istio/gateway"],
                version=version,
                namespace=gateway_namespace,
                depends_on=[self.istiod],
                values=deep_merge(gateway_defaults, gateway_values or {}),
            )
            gateway_name = self.gateway.values.get("name") or GATEWAY_RELEASE
            self.gateway_name = gateway_name
            # The chart's selector labels (gateway.selectorLabels): app, and istio without "istio-".
            given_labels = self.gateway.values.get("labels") or {}
            self.gateway_pods = {
                "app": str(given_labels.get("app") or gateway_name),
                "istio": str(given_labels.get("istio") or gateway_name.removeprefix("istio-")),
            }
            self.add_health_check(HealthCheck("Deployment", gateway_name, gateway_namespace))
            gw = gateway_namespace
            self.allow_ingress(
                "gateway-traffic",
                Peer.anywhere("clients of the ingress gateway (through its load balancer)"),
                tcp(80, 443, 15021),
                namespace=gw,
            )
            self.allow_ingress("gateway-metrics", prometheus, tcp(15020, 15090), namespace=gw)
            self.allow_egress(
                "istiod",
                Peer.in_namespace(namespace, "istiod", **_ISTIOD_PODS),
                tcp(15012),
                namespace=gw,
            )
            if gateway_backends_egress:
                # Routes lead to workloads in any namespace, on whatever ports they serve.
                self.allow_egress("backends", Peer.any_namespace("workloads the gateway routes to"), namespace=gw)

        # The gateway's 5xx ratio reads its own Envoy stats: only with a gateway (and its PodMonitor).
        if self.gateway is None:
            alert_rules = tuple(rule for rule in alert_rules if rule.name not in GATEWAY_ALERTS)
        self.add_alert_rules(
            alert_rules, gateway=self.gateway_name, gateway_namespace=self.gateway_namespace or gateway_namespace
        )

        self.config: PlatformComponent = self.add_companion("config")
        """Companion ``istio-config``: the mesh-wide PeerAuthentication (needs the CRDs of base)."""
        self.config.add_manifest(
            {
                "apiVersion": "security.istio.io/v1",
                "kind": "PeerAuthentication",
                # `default` in the root namespace applies to the whole mesh.
                "metadata": {"name": "default", "namespace": namespace},
                "spec": {"mtls": {"mode": self.mtls_mode}},
            }
        )

    def service_monitors(self) -> list[dict[str, Any]]:
        """ServiceMonitors for istiod and a PodMonitor for the gateway (the charts ship none), for the
        monitoring companion.

        Returns:
            A ``monitoring.coreos.com/v1`` ServiceMonitor: Service ``istiod`` (labels
            ``app: istiod, istio: pilot``), port ``http-monitoring`` (15014); with the gateway, a
            PodMonitor on its pods' Envoy stats (container port ``http-envoy-prom``, 15090,
            ``/stats/prometheus``): ``istio_requests_total`` with ``reporter="source"``.
        """
        assert self.namespace is not None
        monitors = [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": "istiod", "namespace": self.namespace, "labels": {"app": "istiod"}},
                "spec": {
                    "jobLabel": "app",
                    "selector": {"matchLabels": dict(_ISTIOD_PODS)},
                    "namespaceSelector": {"matchNames": [self.namespace]},
                    "endpoints": [{"port": "http-monitoring", "path": "/metrics", "interval": "30s"}],
                },
            }
        ]
        if self.gateway is not None and self.gateway_namespace is not None:
            monitors.append(
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "PodMonitor",
                    "metadata": {
                        "name": self.gateway_name,
                        "namespace": self.gateway_namespace,
                        "labels": {"app": self.gateway_name},
                    },
                    "spec": {
                        # The injection label every gateway pod carries whatever its name: the
                        # plan knows the proxies' exporter by it (_istio_alerts.PROXY_EXPORTER).
                        "selector": {"matchLabels": {**self.gateway_pods, **GATEWAY_POD_LABEL}},
                        "namespaceSelector": {"matchNames": [self.gateway_namespace]},
                        # The port the gateway container itself declares (chart deployment.yaml).
                        "podMetricsEndpoints": [
                            {"port": "http-envoy-prom", "path": "/stats/prometheus", "interval": "30s"}
                        ],
                    },
                }
            )
        return monitors
