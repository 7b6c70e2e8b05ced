"""The edge's objects as data: the Gateway, its certificates, one VirtualService per UI, TLS
origination to UIs that serve only HTTPS, the external authorizer and its policy, and each UI's
single sign-on settings. Pure functions; :mod:`.wiring` places them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.facts import ServedPort
from ..services._credentials import external_secret
from .settings import Sso

__all__ = [
    "ACME_CHALLENGE",
    "AUTHORIZER",
    "CERT_API",
    "authorization_policy",
    "certificate",
    "destination_rule",
    "extension_provider",
    "gateway",
    "grafana_values",
    "http_gateway",
    "https_redirect",
    "neuvector_oidc_secret",
    "virtual_service",
]

CERT_API = "cert-manager.io/v1"
NETWORKING_API = "networking.istio.io/v1"
SECURITY_API = "security.istio.io/v1"
AUTHORIZER = "oauth2-proxy"
"""The mesh extension provider name the gateway's CUSTOM policy names."""


def certificate(
    name: str, namespace: str, dns_names: Sequence[str], issuer: str, *, common_name: str | None = None
) -> dict[str, Any]:
    """A cert-manager Certificate from a ClusterIssuer; its Secret is ``name`` in ``namespace``."""
    spec: dict[str, Any] = {
        "secretName": name,
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
    }
    if dns_names:
        spec["dnsNames"] = list(dns_names)
    if common_name:
        spec["commonName"] = common_name
    return {
        "apiVersion": CERT_API,
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def gateway(
    name: str, namespace: str, pods: Mapping[str, str], hosts: Sequence[str], credential: str
) -> dict[str, Any]:
    """HTTPS on 443 for ``hosts`` with the certificate Secret ``credential``."""
    return {
        "apiVersion": NETWORKING_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": dict(pods),
            "servers": [
                {
                    "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                    "hosts": list(hosts),
                    "tls": {"mode": "SIMPLE", "credentialName": credential, "minProtocolVersion": "TLSV1_2"},
                }
            ],
        },
    }


ACME_CHALLENGE = "/.well-known/acme-challenge/"
"""The path ACME HTTP-01 challenges are fetched at, over plain HTTP on port 80."""


def http_gateway(name: str, namespace: str, pods: Mapping[str, str], hosts: Sequence[str]) -> dict[str, Any]:
    """Plain HTTP on 80 for ``hosts``, in a Gateway of its own so only :func:`https_redirect` routes it.

    Not ``tls.httpsRedirect``: Istio merges every port-80 server of a host into one Envoy virtual
    host and ``httpsRedirect`` marks all of it ``require_tls``, so the route cert-manager's HTTP-01
    solver adds (an Ingress of class ``istio``, converted to a Gateway on the same port and host)
    would be redirected too, to an HTTPS listener whose certificate that challenge is to produce."""
    return {
        "apiVersion": NETWORKING_API,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": dict(pods),
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": list(hosts)}],
        },
    }


def https_redirect(name: str, namespace: str, gateway_name: str, hosts: Sequence[str]) -> dict[str, Any]:
    """Every plain-HTTP request for ``hosts`` is redirected to HTTPS (301). A catch-all route:
    Istio sorts it after the exact ``/.well-known/acme-challenge/<token>`` route of a pending
    HTTP-01 challenge on the same host, so the challenge is answered over HTTP."""
    return {
        "apiVersion": NETWORKING_API,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": list(hosts),
            "gateways": [f"{namespace}/{gateway_name}"],
            "http": [{"name": "https-redirect", "redirect": {"scheme": "https", "redirectCode": 301}}],
        },
    }


def service_host(port: ServedPort, namespace: str) -> str:
    """The mesh host name of a Service."""
    return f"{port.service}.{namespace}.svc.cluster.local"


def virtual_service(
    name: str, namespace: str, gateway_name: str, host: str, target: ServedPort, target_namespace: str
) -> dict[str, Any]:
    """Every request for ``host`` through the gateway goes to the Service port ``target``."""
    return {
        "apiVersion": NETWORKING_API,
        "kind": "VirtualService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hosts": [host],
            "gateways": [f"{namespace}/{gateway_name}"],
            "http": [
                {
                    "route": [
                        {
                            "destination": {
                                "host": service_host(target, target_namespace),
                                "port": {"number": target.port},
                            }
                        }
                    ]
                }
            ],
        },
    }


def destination_rule(
    name: str, namespace: str, target: ServedPort, target_namespace: str, ca_secret: str
) -> dict[str, Any]:
    """The gateway originates TLS to an HTTPS-only UI, verifying it against the platform CA
    (``ca.crt`` of ``ca_secret`` in the gateway's namespace), for the gateway's namespace only."""
    return {
        "apiVersion": NETWORKING_API,
        "kind": "DestinationRule",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "host": service_host(target, target_namespace),
            "exportTo": ["."],
            "trafficPolicy": {
                "portLevelSettings": [
                    {
                        "port": {"number": target.port},
                        "tls": {
                            "mode": "SIMPLE",
                            "credentialName": ca_secret,
                            "sni": f"{target.service}.{target_namespace}.svc",
                        },
                    }
                ]
            },
        },
    }


def extension_provider(service: str, port: int) -> dict[str, Any]:
    """The mesh config entry naming oauth2-proxy as an HTTP external authorizer."""
    return {
        "name": AUTHORIZER,
        "envoyExtAuthzHttp": {
            "service": service,
            "port": port,
            "includeRequestHeadersInCheck": ["authorization", "cookie"],
            # The check carries no return URL: without it oauth2-proxy keeps a bare path and, after
            # the callback on auth.<domain>, sends the user to that path on auth.<domain>. Envoy
            # evaluates the operators (the value goes through its request-header formatter).
            "includeAdditionalHeadersInCheck": {"X-Auth-Request-Redirect": "https://%REQ(:authority)%%REQ(:path)%"},
            "headersToUpstreamOnAllow": [
                "authorization",
                "path",
                "x-auth-request-user",
                "x-auth-request-email",
                "x-auth-request-groups",
            ],
            "headersToDownstreamOnDeny": ["content-type", "set-cookie", "location"],
            "headersToDownstreamOnAllow": ["set-cookie"],
        },
    }


def authorization_policy(name: str, namespace: str, pods: Mapping[str, str], hosts: Sequence[str]) -> dict[str, Any]:
    """Requests for ``hosts`` at the gateway go through oauth2-proxy first (action CUSTOM), except
    ACME HTTP-01 challenges (the CA cannot log in; the solver answers only its own token)."""
    return {
        "apiVersion": SECURITY_API,
        "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": dict(pods)},
            "action": "CUSTOM",
            "provider": {"name": AUTHORIZER},
            # The Host header may carry the port: match both forms.
            "rules": [
                {
                    "to": [
                        {
                            "operation": {
                                "hosts": [h for host in hosts for h in (host, f"{host}:*")],
                                "notPaths": [f"{ACME_CHALLENGE}*"],
                            }
                        }
                    ]
                }
            ],
        },
    }


def _secret_from_openbao(name: str, namespace: str, store: str, sso: Sso, data: Mapping[str, str]) -> dict[str, Any]:
    return external_secret(
        name, namespace, store, [("client_secret", sso.client_secret_key, sso.client_secret_property)], data
    )


GRAFANA_SECRET = "grafana-oidc"
"""The Secret (from an ExternalSecret) whose ``client-secret`` Grafana reads."""


def grafana_client_secret(namespace: str, store: str, sso: Sso) -> dict[str, Any]:
    """The ExternalSecret producing :data:`GRAFANA_SECRET` from OpenBao."""
    return _secret_from_openbao(GRAFANA_SECRET, namespace, store, sso, {"client-secret": "{{ .client_secret }}"})


def grafana_values(sso: Sso) -> dict[str, Any]:
    """kube-prometheus-stack values: Grafana logs in through OIDC (generic_oauth), roles from groups.

    No local admin is created (nobody holds a password): the admin group gets Admin and Grafana
    server admin. The client secret comes from Secret :data:`GRAFANA_SECRET` (optional: Grafana
    starts before External Secrets exists; restart it once the secret is in OpenBao).
    """
    claim = sso.groups_claim
    role = f"contains({claim}[*], '{sso.admin_group}') && 'GrafanaAdmin'"
    if sso.viewer_group:
        role += f" || contains({claim}[*], '{sso.viewer_group}') && 'Viewer'"
    return {
        "grafana": {
            "env": {"GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION": "true"},
            "envValueFrom": {
                "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET": {
                    "secretKeyRef": {"name": GRAFANA_SECRET, "key": "client-secret", "optional": True}
                }
            },
            "grafana.ini": {
                "auth": {"disable_login_form": True},
                "auth.generic_oauth": {
                    "enabled": True,
                    "name": "Single sign-on",
                    "client_id": sso.client_id,
                    "scopes": "openid profile email",
                    # Set whenever Grafana is exposed with sso (checked in settings).
                    "auth_url": str(sso.authorize_url),
                    "token_url": str(sso.token_url),
                    "api_url": str(sso.userinfo_url),
                    "use_pkce": True,
                    "groups_attribute_path": claim,
                    "allowed_groups": " ".join(sso.groups),
                    "role_attribute_path": role,
                    # No matching group: no login (rather than a default Viewer).
                    "role_attribute_strict": True,
                    "allow_assign_grafana_admin": True,
                    "allow_sign_up": True,
                },
            },
        }
    }


NEUVECTOR_SECRET = "neuvector-secret"
"""The Secret the NeuVector controller reads its init config from (projected, optional, chart core 2.11.0)."""


def neuvector_oidc_secret(namespace: str, store: str, sso: Sso) -> dict[str, Any]:
    """``oidcinitcfg.yaml`` for the NeuVector controller, rendered by External Secrets with the
    client secret from OpenBao; ``always_reload`` applies changes without a restart."""
    roles = [{"group": sso.admin_group, "global_role": "admin"}]
    if sso.viewer_group:
        roles.append({"group": sso.viewer_group, "global_role": "reader"})
    config = {
        "always_reload": True,
        "enable": True,
        "issuer": sso.issuer,
        "client_id": sso.client_id,
        "client_secret": "{{ .client_secret | toJson }}",
        "group_claim": sso.groups_claim,
        "scopes": ["openid", "profile", "email"],
        "group_mapped_roles": roles,
    }
    # YAML is a superset of JSON: one line per key, the secret inserted as a JSON string.
    lines = "".join(
        f"{key}: {value if key == 'client_secret' else json.dumps(value)}\n" for key, value in config.items()
    )
    return _secret_from_openbao(NEUVECTOR_SECRET, namespace, store, sso, {"oidcinitcfg.yaml": lines})
