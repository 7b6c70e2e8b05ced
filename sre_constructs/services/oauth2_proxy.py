"""oauth2-proxy: single sign-on in front of UIs without a login of their own, as Istio's external authorizer."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ServedPort, register_chart
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_domain, check_positive_int, check_values
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._credentials import checksum_values_from, credentials_external_secret

__all__ = ["CHART_FACTS", "HEALTH_CHECKED_RELEASES", "HTTP_PORT", "RELEASE", "OAuth2Proxy"]

RELEASE = "oauth2-proxy"
"""Default release name; the Deployment and Service are named after it (std fullname)."""
HEALTH_CHECKED_RELEASES = (RELEASE,)
HTTP_PORT = 4180  # container port `http` (chart 10.7.0, httpScheme http); Service port 80
_SERVICE_PORT = 80
_METRICS_PORT = 44180
_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}}
_ISSUER = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")
_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}")


def _pods(values: Mapping[str, Any], release: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": str(values.get("nameOverride") or "oauth2-proxy"),
        "app.kubernetes.io/instance": release,
    }


def _served_ports(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ServedPort, ...]:
    """Service ``<fullname>`` port ``service.portNumber`` (80) -> container port 4180 (chart 10.7.0)."""
    name = helm_fullname(release, "oauth2-proxy", override=values.get("fullnameOverride"))
    port = (values.get("service") or {}).get("portNumber", _SERVICE_PORT)
    return (ServedPort(name, port if isinstance(port, int) else _SERVICE_PORT, HTTP_PORT, _pods(values, release)),)


CHART_FACTS = register_chart(
    ChartFacts(
        "oauth2-proxy",
        # image.registry falls back to global.imageRegistry, then quay.io; redis is off.
        image_keys=MappingProxyType({"global.imageRegistry": "{mirror}"}),
        served_ports=_served_ports,
    )
)


class OAuth2Proxy(PlatformComponent):
    """oauth2-proxy (chart ``oauth2-proxy`` from https://oauth2-proxy.github.io/manifests): Istio's
    external authorizer (``envoyExtAuthzHttp``) for UIs without a login of their own.

    It logs users in at the OIDC ``issuer_url`` (callback ``https://auth.<domain>/oauth2/callback``),
    sets a session cookie for ``.<domain>`` and lets in only members of ``allowed_groups``. Its
    Secret comes from outside the tree: ExternalSecret ``oauth2-proxy`` renders the client id, the
    client secret from OpenBao key ``client_secret_key`` and a 32-character cookie secret derived
    one-way from it (sha256; ESO's ``Password`` generator once its CRD is in the bundled schemas).
    The release waits for it (``valuesFrom`` its checksum), so nothing times out while the client
    secret is not yet in OpenBao. Namespace ``restricted``, default-deny plus: the gateway in, the issuer (443) and
    the API server out, Prometheus scrapes 44180.

    Knobs (all keyword arguments):

    - ``issuer_url``: the OIDC issuer, ``https://``. Required.
    - ``client_id``: the OIDC client. Required.
    - ``domain``: the platform's DNS zone (cookie domain, redirect host ``auth.<domain>``). Required.
    - ``version``: chart version. Default ``10.7.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``oauth2-proxy``.
    - ``release_name``: Default ``oauth2-proxy``.
    - ``replicas``: Default ``2`` (PDB minAvailable 1 above one).
    - ``client_secret_key``: OpenBao KV path of the client secret. Default ``sso/oidc``.
    - ``client_secret_property``: its property. Default ``client_secret``.
    - ``groups_claim``: the ID token claim with the groups. Default ``groups``.
    - ``allowed_groups``: groups let in (empty: every user the issuer authenticates). Default ``()``.
    - ``secret_store``: the ClusterSecretStore of the client secret. Default ``openbao``.
    - ``gateway_namespace``: namespace of the Istio ingress gateway (the only client). Default ``istio-ingress``.
    - ``gateway_pods``: labels of the gateway pods. Default ``{"istio": "ingressgateway"}``.
    - ``monitoring_namespace``: where Prometheus runs. Default ``monitoring``.
    - ``wait``: Default ``True``; with ``False`` the health check names the Deployment.
    """

    requires_external_secrets: bool = True
    """The ExternalSecrets need External Secrets' CRDs and the ClusterSecretStore first."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        issuer_url: str,
        client_id: str,
        domain: str,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "oauth2-proxy",
        release_name: str = RELEASE,
        replicas: int = 2,
        client_secret_key: str = "sso/oidc",
        client_secret_property: str = "client_secret",
        groups_claim: str = "groups",
        allowed_groups: Sequence[str] = (),
        secret_store: str = "openbao",
        gateway_namespace: str = "istio-ingress",
        gateway_pods: Mapping[str, str] | None = None,
        monitoring_namespace: str = "monitoring",
        wait: bool = True,
    ) -> None:
        where = child_path(scope, id)
        if not isinstance(issuer_url, str) or not _ISSUER.fullmatch(issuer_url):
            raise ValidationError(where, "issuer_url", issuer_url, "an https:// issuer URL")
        check_domain(where, "domain", domain)
        for name, text in (
            ("client_id", client_id),
            ("client_secret_key", client_secret_key),
            ("client_secret_property", client_secret_property),
            ("groups_claim", groups_claim),
        ):
            if not isinstance(text, str) or not _TEXT.fullmatch(text):
                raise ValidationError(where, name, text, "letters, digits and . _ : @ / - (at most 128)")
        if isinstance(allowed_groups, str) or not isinstance(allowed_groups, Sequence):
            raise ValidationError(where, "allowed_groups", allowed_groups, "a list of group names")
        for group in allowed_groups:
            if not isinstance(group, str) or not _TEXT.fullmatch(group):
                raise ValidationError(where, "allowed_groups", group, "group names: letters, digits and . _ : @ / -")
        for name, label in (
            ("namespace", namespace),
            ("release_name", release_name),
            ("secret_store", secret_store),
            ("gateway_namespace", gateway_namespace),
            ("monitoring_namespace", monitoring_namespace),
        ):
            check_dns_label(where, name, label)
        check_positive_int(where, "replicas", replicas)
        check_bool(where, "wait", wait)
        user_values = check_values(where, "values", values or {})
        gateway = dict(gateway_pods or {"istio": "ingressgateway"})

        super().__init__(scope, id, name="oauth2-proxy", namespace=namespace, wait=wait)
        fullname = helm_fullname(release_name, "oauth2-proxy", override=user_values.get("fullnameOverride"))
        self.auth_host: str = f"auth.{domain}"
        """The host the issuer sends users back to (``/oauth2/callback``)."""
        self.service: str = fullname
        """The Service (port 80 -> 4180) Istio's extension provider calls."""
        self.service_host: str = f"{fullname}.{namespace}.svc.cluster.local"
        self.service_port: int = _SERVICE_PORT
        self.pods: dict[str, str] = _pods(user_values, release_name)
        """Labels of the oauth2-proxy pods."""

        config = {
            "provider": "oidc",
            "oidc_issuer_url": issuer_url,
            "redirect_url": f"https://{self.auth_host}/oauth2/callback",
            "cookie_domains": [f".{domain}"],
            "whitelist_domains": [f".{domain}"],
            "cookie_secure": True,
            "email_domains": ["*"],
            # The authorizer answers checks: 200 once logged in, a redirect to the issuer otherwise.
            "upstreams": ["static://200"],
            "reverse_proxy": True,
            "set_xauthrequest": True,
            "skip_provider_button": True,
            "oidc_groups_claim": groups_claim,
            "scope": "openid profile email",
            **({"allowed_groups": list(allowed_groups)} if allowed_groups else {}),
        }
        # TOML: JSON strings, lists and booleans are valid TOML values.
        config_file = "".join(f"{key} = {json.dumps(value)}\n" for key, value in config.items())
        security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        defaults: dict[str, Any] = {
            "replicaCount": replicas,
            "podDisruptionBudget": {"enabled": replicas > 1, "minAvailable": 1},
            "resources": _RESOURCES,
            "podSecurityContext": security,
            "config": {"existingSecret": fullname, "configFile": config_file},
            "metrics": {"enabled": True, "serviceMonitor": {"enabled": True}},
        }
        self.release = self.add_helm_release(
            release_name,
            CHARTS["oauth2-proxy/oauth2-proxy"],
            version=version,
            values=deep_merge(defaults, user_values),
            values_from=checksum_values_from(fullname, ["podAnnotations.checksum/credentials"]),
        )
        self.add_health_check(HealthCheck("Deployment", fullname, namespace))

        # -- Secret: the client secret from OpenBao, the cookie secret derived from it.
        self.credentials = self.add_manifest(
            credentials_external_secret(
                fullname,
                namespace,
                secret_store,
                client_secret_key,
                [client_secret_property],
                data={
                    "client-id": client_id,
                    "client-secret": "{{ ." + client_secret_property + " }}",
                    # 32 characters (an AES-256 key as oauth2-proxy takes it), derived one-way from
                    # the client secret: the bundled schemas have no ESO generator CRDs yet.
                    "cookie-secret": '{{ printf "oauth2-proxy-cookie:%s" .'
                    + client_secret_property
                    + " | sha256sum | trunc 32 }}",
                },
            )
        )
        # -- Network: the gateway in (checks and the callback), Prometheus in, the issuer out.
        self.allow_ingress(
            "gateway",
            Peer.in_namespace(gateway_namespace, "Istio ingress gateway", **gateway),
            tcp(HTTP_PORT),
            pods=self.pods,
        )
        self.allow_ingress(
            "prometheus",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **{"app.kubernetes.io/name": "prometheus"}),
            tcp(_METRICS_PORT),
            pods=self.pods,
        )
        self.allow_egress("oidc-issuer", Peer.anywhere("the OIDC issuer"), tcp(443), pods=self.pods)
