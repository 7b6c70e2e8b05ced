"""OpenBao's single sign-on and its routes: the OIDC auth method the self-init enables, the role
mapping the admin group to ``platform-admin``, the one step a person runs once the client secret is
in OpenBao, and the Services the chart renders for a route to lead to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..kernel.facts import ManualStep, ObjectRef, ServedPort
from ..kernel.naming import helm_fullname
from ._hcl import HclBlock
from ._openbao_config import ADMIN_POLICY
from ._openbao_operations import admin_command

__all__ = ["OIDC_MOUNT", "OpenBaoOidc", "oidc_init_block", "oidc_settings", "oidc_steps", "served_ports"]

OIDC_MOUNT = "oidc"
_SETTINGS = "openbao-oidc"  # ConfigMap (chart extraObjects) holding the non-secret OIDC settings


@dataclass(frozen=True)
class OpenBaoOidc:
    """OpenBao's OIDC login (already validated by the platform's ``sso`` knob).

    Attributes:
        discovery_url: the issuer (``https://``), whose ``/.well-known/openid-configuration`` OpenBao reads.
        client_id: the OIDC client.
        secret_key: the KV path (below the KV mount) holding the client secret.
        secret_property: the property of that path holding it.
        groups_claim: the ID token claim listing the user's groups.
        admin_group: the group bound to the ``platform-admin`` policy.
        redirect_uris: the callbacks the provider may send users back to.
    """

    discovery_url: str
    client_id: str
    secret_key: str
    secret_property: str
    groups_claim: str
    admin_group: str
    redirect_uris: tuple[str, ...]


def oidc_init_block(oidc: OpenBaoOidc) -> HclBlock:
    """Self-init requests: enable the OIDC auth method and its ``platform-admin`` role (bound to
    the admin group). The provider config needs the client secret: a person's step
    (:func:`oidc_steps`) writes it once the secret is in OpenBao."""

    def request(name: str, path: str, data: Mapping[str, Any]) -> HclBlock:
        return HclBlock("request", (name,), (("operation", "update"), ("path", path), ("data", dict(data))))

    return HclBlock(
        "initialize",
        ("oidc",),
        (
            request(
                "enable-oidc-auth",
                f"sys/auth/{OIDC_MOUNT}",
                {"type": "oidc", "description": "single sign-on through the platform's OIDC provider"},
            ),
            request(
                f"oidc-role-{ADMIN_POLICY}",
                f"auth/{OIDC_MOUNT}/role/{ADMIN_POLICY}",
                {
                    "role_type": "oidc",
                    "user_claim": "sub",
                    "groups_claim": oidc.groups_claim,
                    "bound_audiences": [oidc.client_id],
                    "bound_claims": {oidc.groups_claim: [oidc.admin_group]},
                    "allowed_redirect_uris": list(oidc.redirect_uris),
                    "oidc_scopes": ["openid", "profile", "email"],
                    "token_policies": [ADMIN_POLICY],
                    "token_ttl": "1h",
                    "token_max_ttl": "8h",
                },
            ),
        ),
    )


def oidc_settings(namespace: str, oidc: OpenBaoOidc) -> dict[str, Any]:
    """The ConfigMap of the non-secret OIDC settings the person's step reads (no secret in it)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": _SETTINGS, "namespace": namespace},
        "data": {
            "discovery_url": oidc.discovery_url,
            "client_id": oidc.client_id,
            "secret_key": oidc.secret_key,
            "secret_property": oidc.secret_property,
        },
    }


def oidc_steps(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ManualStep, ...]:
    """Once the client secret is in OpenBao: configure the OIDC auth method with it (run as
    ``platform-admin``, inside pod 0, the secret read there: never on a command line)."""
    settings = next(
        (
            obj.get("data") or {}
            for obj in values.get("extraObjects") or ()
            if isinstance(obj, Mapping)
            and obj.get("kind") == "ConfigMap"
            and (obj.get("metadata") or {}).get("name") == _SETTINGS
        ),
        None,
    )
    if not isinstance(settings, Mapping):
        return ()
    init = " ".join(str(v) for obj in values.get("extraObjects") or () for v in (obj.get("data") or {}).values())
    mount = re.search(r'"mount-kv-v2".*?path = "sys/mounts/([^"]+)"', init, re.S)
    kv = mount[1] if mount else "secret"
    secret = f"bao kv get -mount={kv} -field={settings.get('secret_property')} {settings.get('secret_key')}"
    command = admin_command(
        values,
        namespace,
        release,
        f"bao write auth/{OIDC_MOUNT}/config oidc_discovery_url={settings.get('discovery_url')} "
        f'oidc_client_id={settings.get("client_id")} oidc_client_secret="$({secret})" '
        f"default_role={ADMIN_POLICY}",
    )
    return (
        ManualStep(
            f"configure OpenBao's OIDC login with the client secret (after writing {settings.get('secret_key')!r} "
            "into OpenBao); until then OpenBao's UI accepts only tokens",
            command,
            provides=(ObjectRef("OpenBaoAuth", namespace, OIDC_MOUNT),),
        ),
    )


def served_ports(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ServedPort, ...]:
    """Services ``<fullname>`` and ``<fullname>-active`` (chart openbao 0.29.2, HA): port 8200,
    TLS only (``global.tlsDisable: false``)."""
    fullname = helm_fullname(release, "openbao", override=values.get("fullnameOverride"))
    tls = (values.get("global") or {}).get("tlsDisable", True) is False
    pods = {"app.kubernetes.io/name": "openbao", "app.kubernetes.io/instance": release, "component": "server"}
    return tuple(ServedPort(name, 8200, 8200, pods, tls=tls) for name in (fullname, f"{fullname}-active"))
