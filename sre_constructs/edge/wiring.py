"""The edge in a platform: knobs it sets on the services before they are built, and the objects
and network paths it adds once they are.

:func:`layer_knobs` runs before the services are built (defaults only: the user's knobs and
values win); :func:`build_edge` runs after, adding component ``edge`` (Gateway, certificates,
VirtualServices, DestinationRules, the CUSTOM policy, the ExternalSecrets of the UIs' client
secret), component ``oauth2-proxy`` when a UI without its own login is exposed, and to each UI's
own component the NetworkPolicy that lets the gateway in (and the UI out to the issuer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from ..kernel.component import PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ServedPort, chart_facts
from ..kernel.network import Peer, tcp
from ..kernel.values import deep_merge
from ..services.cert_manager import CertManager
from ..services.istio import Istio
from . import objects
from .settings import Exposure

__all__ = [
    "CALLBACK_PATHS",
    "GATEWAY",
    "GATEWAY_PODS",
    "HTTP_GATEWAY",
    "OPENBAO_CLI_CALLBACK",
    "Route",
    "build_edge",
    "layer_knobs",
    "routes_of",
]

GATEWAY_PODS = {"istio": "ingressgateway"}
"""Labels of the ingress gateway pods (chart gateway 1.30.3, release ``istio-ingressgateway``)."""
GATEWAY = "edge"
HTTP_GATEWAY = "edge-http"
TLS_SECRET = "edge-tls"
UPSTREAM_CA = "edge-upstream-ca"
CALLBACK_PATHS = {
    "grafana": "/login/generic_oauth",
    "openbao": "/ui/vault/auth/oidc/oidc/callback",
    "neuvector": "/openId_auth",
}
"""Where each UI with an OIDC login of its own takes the provider's answer (a path on its host)."""
OPENBAO_CLI_CALLBACK = "http://localhost:8250/oidc/callback"
"""The callback of ``bao login -method=oidc`` on a person's machine."""

# Which service serves each UI, and which of its chart's Service ports is the UI.
_SERVICE_OF = {
    "grafana": ("monitoring", "grafana"),
    "prometheus": ("monitoring", "prometheus"),
    "alertmanager": ("monitoring", "alertmanager"),
    "openbao": ("openbao", ""),
    "neuvector": ("runtime-security", ""),
}


@dataclass(frozen=True)
class Route:
    """One exposed UI: its host and the Service port (with pods and pod port) behind it."""

    ui: str
    host: str
    namespace: str
    target: ServedPort


def _check_services(where: str, exposure: Exposure, enabled: set[str], knobs: Mapping[str, Mapping[str, Any]]) -> None:
    needed = {"istio": "the ingress gateway serves every UI", "cert-manager": "it issues the UIs' certificate"}
    for ui in exposure.uis:
        needed.setdefault(_SERVICE_OF[ui][0], f"it serves {ui}")
    if exposure.sso is not None:
        needed["external-secrets"] = "the client secret comes from OpenBao through it"
    for service, why in needed.items():
        if service not in enabled:
            raise ValidationError(where, f"services.{service}.enabled", False, f"True while exposing UIs: {why}")
    if "neuvector" in exposure.uis and knobs["runtime-security"].get("manager", True) is False:
        raise ValidationError(where, "services.runtime-security.manager", False, "True while neuvector is exposed")
    if knobs["istio"].get("gateway", True) is False:
        raise ValidationError(where, "services.istio.gateway", False, "True (or unset) while exposing UIs")


def layer_knobs(where: str, exposure: Exposure, knobs: dict[str, dict[str, Any]], enabled: set[str]) -> None:
    """Set what the edge needs on the services, under the user's knobs (which win)."""
    _check_services(where, exposure, enabled, knobs)
    sso = exposure.sso

    def under(service: str, values: Mapping[str, Any]) -> None:
        user = knobs[service].get("values")
        knobs[service]["values"] = deep_merge(dict(values), user) if isinstance(user, Mapping) else user or dict(values)

    istio = knobs["istio"]
    istio.setdefault("gateway", True)
    # The gateway reaches exactly the exposed UIs (opened per route below), not every namespace.
    istio.setdefault("gateway_backends_egress", False)
    if sso is not None and exposure.behind_proxy:
        # oauth2-proxy with its defaults (release and namespace oauth2-proxy): Service port 80.
        host = "oauth2-proxy.oauth2-proxy.svc.cluster.local"
        under("istio", {"meshConfig": {"extensionProviders": [objects.extension_provider(host, 80)]}})
    if sso is not None and "grafana" in exposure.uis:
        under("monitoring", objects.grafana_values(sso))
    if "neuvector" in exposure.uis:
        # The manager serves HTTPS with a platform-CA certificate the gateway can verify.
        under(
            "runtime-security",
            {
                "manager": {
                    "certificate": {"secret": "neuvector-manager-tls", "keyFile": "tls.key", "pemFile": "tls.crt"}
                }
            },
        )
    if sso is not None and "openbao" in exposure.uis:
        from ..services._openbao_oidc import OpenBaoOidc

        host = exposure.host("openbao")
        knobs["openbao"].setdefault(
            "oidc",
            OpenBaoOidc(
                discovery_url=sso.issuer,
                client_id=sso.client_id,
                secret_key=sso.client_secret_key,
                secret_property=sso.client_secret_property,
                groups_claim=sso.groups_claim,
                admin_group=sso.admin_group,
                redirect_uris=(f"https://{host}{CALLBACK_PATHS['openbao']}", OPENBAO_CLI_CALLBACK),
            ),
        )


def routes_of(exposure: Exposure, built: Mapping[str, PlatformComponent]) -> list[Route]:
    """The Service port behind each exposed UI, from the chart facts of its release."""
    found = []
    for ui in exposure.uis:
        service, part = _SERVICE_OF[ui]
        component = built[service]
        release = component.releases[0]
        facts = chart_facts(release.chart)
        ports = facts.served_ports(release.values, release.namespace, release.release_name) if facts else ()
        match = [p for p in ports if not part or p.service.endswith(part)]
        if not match:
            raise ValidationError(
                component.node.path, "expose", ui, f"a UI its chart renders: no {ui} Service with these values"
            )
        found.append(Route(ui, exposure.host(ui), release.namespace, match[0]))
    return found


def build_edge(
    platform: Construct, exposure: Exposure, built: Mapping[str, PlatformComponent], mirror: str | None
) -> PlatformComponent:
    """Component ``edge`` (and ``oauth2-proxy`` when needed), and the network paths of each route."""
    istio, cert_manager, eso = built["istio"], built["cert-manager"], built.get("external-secrets")
    assert isinstance(istio, Istio) and isinstance(cert_manager, CertManager)
    gateway_ns = str(istio.gateway_namespace)
    issuer = cert_manager.acme_issuer_name or cert_manager.ca_issuer_name
    ca_issuer = cert_manager.ca_issuer_name
    store = str(getattr(eso, "store_name", None) or "openbao")
    sso = exposure.sso
    routes = routes_of(exposure, built)

    edge = PlatformComponent(platform, "edge", name="edge")
    edge.depends_on(istio, cert_manager.config)
    hosts = exposure.hosts
    edge.add_manifest(objects.certificate(TLS_SECRET, gateway_ns, hosts, str(issuer)))
    edge.add_manifest(objects.gateway(GATEWAY, gateway_ns, GATEWAY_PODS, hosts, TLS_SECRET))
    edge.add_manifest(objects.http_gateway(HTTP_GATEWAY, gateway_ns, GATEWAY_PODS, hosts))
    edge.add_manifest(objects.https_redirect("https-redirect", gateway_ns, HTTP_GATEWAY, hosts))
    gateway_peer = Peer.in_namespace(gateway_ns, "Istio ingress gateway", **GATEWAY_PODS)
    if any(r.target.tls for r in routes):
        # ca.crt of a platform-CA certificate: what the gateway verifies HTTPS-only UIs against.
        edge.add_manifest(
            objects.certificate(UPSTREAM_CA, gateway_ns, [], ca_issuer, common_name="edge upstream trust")
        )
    for route in routes:
        owner = built[_SERVICE_OF[route.ui][0]]
        edge.depends_on(owner)  # its namespace (the ExternalSecrets there) and its Services
        edge.add_manifest(
            objects.virtual_service(route.ui, gateway_ns, GATEWAY, route.host, route.target, route.namespace)
        )
        if route.target.tls:
            edge.add_manifest(
                objects.destination_rule(f"{route.ui}-tls", gateway_ns, route.target, route.namespace, UPSTREAM_CA)
            )
        pods = dict(route.target.pods)
        owner.allow_ingress(f"gateway-{route.ui}", gateway_peer, tcp(route.target.target_port), pods=pods)
        istio.allow_egress(
            f"route-{route.ui}",
            Peer.in_namespace(route.namespace, route.ui, **pods),
            tcp(route.target.target_port),
            namespace=gateway_ns,
        )
    if "neuvector" in exposure.uis:
        runtime = built["runtime-security"]
        runtime.add_manifest(
            objects.certificate(
                "neuvector-manager-tls",
                str(runtime.namespace),
                [f"neuvector-service-webui.{runtime.namespace}.svc", f"neuvector-service-webui.{runtime.namespace}"],
                ca_issuer,
            )
        )
    if sso is None:
        return edge
    if eso is not None:
        edge.depends_on(getattr(eso, "config", None) or eso)
    # The issuer is outside the cluster, known by name only: NetworkPolicies cannot name a host, so
    # its peer is any address, on 443 only and from the pods that log in through it only.
    issuer_peer = Peer.anywhere("the OIDC issuer")
    pods_of = {r.ui: dict(r.target.pods) for r in routes}
    if "grafana" in exposure.uis:
        monitoring = built["monitoring"]
        edge.add_manifest(objects.grafana_client_secret(str(monitoring.namespace), store, sso))
        monitoring.allow_egress("grafana-oidc-issuer", issuer_peer, tcp(443), pods=pods_of["grafana"])
    if "openbao" in exposure.uis:
        built["openbao"].allow_egress("oidc-issuer", issuer_peer, tcp(443), pods=pods_of["openbao"])
    if "neuvector" in exposure.uis:
        runtime = built["runtime-security"]
        edge.add_manifest(objects.neuvector_oidc_secret(str(runtime.namespace), store, sso))
        runtime.allow_egress("controller-oidc-issuer", issuer_peer, tcp(443), pods={"app": "neuvector-controller-pod"})
    if exposure.behind_proxy:
        _add_proxy(platform, edge, exposure, built, mirror, gateway_ns, store)
    return edge


def _add_proxy(
    platform: Construct,
    edge: PlatformComponent,
    exposure: Exposure,
    built: Mapping[str, PlatformComponent],
    mirror: str | None,
    gateway_ns: str,
    store: str,
) -> None:
    from ..airgap import mirror_knobs
    from ..services.oauth2_proxy import OAuth2Proxy

    sso, auth_host = exposure.sso, exposure.auth_host
    assert sso is not None and auth_host is not None
    istio, eso = built["istio"], built.get("external-secrets")
    monitoring = built.get("monitoring")
    proxy = OAuth2Proxy(
        platform,
        "oauth2-proxy",
        issuer_url=sso.issuer,
        client_id=sso.client_id,
        domain=exposure.domain,
        client_secret_key=sso.client_secret_key,
        client_secret_property=sso.client_secret_property,
        groups_claim=sso.groups_claim,
        allowed_groups=list(sso.groups),
        secret_store=store,
        gateway_namespace=gateway_ns,
        monitoring_namespace=str(monitoring.namespace) if monitoring is not None else "monitoring",
        values=mirror_knobs("oauth2-proxy", mirror).get("values") if mirror else None,
    )
    proxy.depends_on(istio)
    if eso is not None:
        proxy.depends_on(getattr(eso, "config", None) or eso)
    target = ServedPort(proxy.service, proxy.service_port, 4180, proxy.pods)
    ns = str(proxy.namespace)
    edge.add_manifest(objects.virtual_service("auth", gateway_ns, GATEWAY, auth_host, target, ns))
    edge.add_manifest(
        objects.authorization_policy(
            "edge-sso", gateway_ns, GATEWAY_PODS, [exposure.host(ui) for ui in exposure.behind_proxy]
        )
    )
    istio.allow_egress(
        "route-auth", Peer.in_namespace(ns, "oauth2-proxy", **proxy.pods), tcp(4180), namespace=gateway_ns
    )
