"""The edge knobs: which UIs the platform exposes under its domain, and the OIDC provider they log in with.

Validated here, before anything is created: :func:`check_exposure` takes the raw ``domain``,
``expose`` and ``sso`` of :class:`~sre_constructs.CorePlatform` (or a cluster file) and returns an
:class:`Exposure`, or ``None`` when nothing is exposed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..kernel.errors import ValidationError
from ..kernel.validation import check_domain

__all__ = ["ENDPOINTS", "OWN_LOGIN", "SSO_KEYS", "UIS", "Exposure", "Sso", "check_exposure"]

UIS = ("grafana", "alertmanager", "prometheus", "openbao", "neuvector")
"""The UIs ``expose`` accepts, each served at ``https://<ui>.<domain>``."""
OWN_LOGIN = ("grafana", "openbao", "neuvector")
"""UIs with a login of their own; the others sit behind oauth2-proxy and need ``sso``."""
SSO_KEYS = (
    "issuer",
    "client_id",
    "client_secret_key",
    "client_secret_property",
    "groups_claim",
    "admin_group",
    "viewer_group",
    "authorize_url",
    "token_url",
    "userinfo_url",
)
"""The keys of ``sso``; ``issuer``, ``client_id`` and ``admin_group`` are required, the three
endpoint URLs too when Grafana is exposed (its generic OAuth reads no discovery document)."""
ENDPOINTS = ("authorize_url", "token_url", "userinfo_url")

_ISSUER = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_KV_PATH = re.compile(r"[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*")
_CLAIM = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Sso:
    """The OIDC provider every exposed UI logs in with.

    Attributes:
        issuer: the issuer URL (``https://``; discovery at ``/.well-known/openid-configuration``).
        client_id: the OIDC client registered for the platform.
        client_secret_key: OpenBao KV path (below the KV mount) of the client secret. Default ``sso/oidc``.
        client_secret_property: the property of that path holding it. Default ``client_secret``.
        groups_claim: the ID token claim listing the user's groups. Default ``groups``.
        admin_group: members administer every UI.
        viewer_group: members get read-only access (Grafana Viewer, NeuVector reader, and through
            oauth2-proxy). Default none (admins only).
        authorize_url: the issuer's authorization endpoint (Grafana). Default none.
        token_url: its token endpoint (Grafana). Default none.
        userinfo_url: its userinfo endpoint (Grafana). Default none.
    """

    issuer: str
    client_id: str
    admin_group: str
    client_secret_key: str = "sso/oidc"
    client_secret_property: str = "client_secret"
    groups_claim: str = "groups"
    viewer_group: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups let in: the admin group, then the viewer group if any."""
        return (self.admin_group,) + ((self.viewer_group,) if self.viewer_group else ())


@dataclass(frozen=True)
class Exposure:
    """What the edge serves.

    Attributes:
        domain: the DNS zone; each UI is ``<ui>.<domain>``.
        uis: the exposed UIs, in :data:`UIS` order.
        sso: the OIDC provider, or ``None``.
    """

    domain: str
    uis: tuple[str, ...]
    sso: Sso | None

    def host(self, ui: str) -> str:
        """``<ui>.<domain>``."""
        return f"{ui}.{self.domain}"

    @property
    def behind_proxy(self) -> tuple[str, ...]:
        """Exposed UIs without their own login (behind oauth2-proxy)."""
        return tuple(ui for ui in self.uis if ui not in OWN_LOGIN)

    @property
    def auth_host(self) -> str | None:
        """oauth2-proxy's callback host, when it runs."""
        return f"auth.{self.domain}" if self.sso is not None and self.behind_proxy else None

    @property
    def hosts(self) -> list[str]:
        """Every name the gateway serves: each exposed UI's, then :attr:`auth_host` if any."""
        return [self.host(ui) for ui in self.uis] + ([self.auth_host] if self.auth_host else [])


def _sso(where: str, value: Any) -> Sso:
    if not isinstance(value, Mapping):
        raise ValidationError(where, "sso", value, "a mapping with issuer, client_id and admin_group")
    for key in value:
        if key not in SSO_KEYS:
            raise ValidationError(where, f"sso.{key}", key, "one of " + ", ".join(SSO_KEYS))
    for key in ("issuer", "client_id", "admin_group"):
        if value.get(key) is None:
            raise ValidationError(where, f"sso.{key}", None, f"a value: sso needs {key}")
    issuer = value["issuer"]
    if not isinstance(issuer, str) or not _ISSUER.fullmatch(issuer):
        raise ValidationError(
            where, "sso.issuer", issuer, "an https:// issuer URL such as 'https://login.example.com/realms/platform'"
        )
    checks: tuple[tuple[str, re.Pattern[str], str], ...] = (
        ("client_id", _NAME, "letters, digits and . _ : @ - (at most 128)"),
        ("admin_group", _NAME, "a group name: letters, digits and . _ : @ -"),
        ("viewer_group", _NAME, "a group name: letters, digits and . _ : @ -, or none"),
        ("client_secret_key", _KV_PATH, "a KV path such as 'sso/oidc' (lower-case, '/'-separated)"),
        ("client_secret_property", _CLAIM, "a property name such as 'client_secret'"),
        ("groups_claim", _CLAIM, "a claim name such as 'groups'"),
    )
    checks += tuple((key, _ISSUER, "an https:// URL from the issuer's discovery document") for key in ENDPOINTS)
    for key, pattern, allowed in checks:
        given = value.get(key)
        if given is not None and (not isinstance(given, str) or not pattern.fullmatch(given)):
            raise ValidationError(where, f"sso.{key}", given, allowed)
    known = {key: value[key] for key in SSO_KEYS if value.get(key) is not None}
    return Sso(**known)


def check_exposure(where: str, domain: Any, expose: Any, sso: Any) -> Exposure | None:
    """Validate the edge knobs; ``None`` when nothing is exposed (no ``expose``).

    Raises:
        ValidationError: an invalid DNS name, an unknown UI, a bad ``sso`` (an issuer that is not
            ``https://``, a missing key), ``expose`` or ``sso`` without ``domain``, or Prometheus or
            Alertmanager exposed without ``sso``.
    """
    if domain is not None:
        check_domain(where, "domain", domain)
    if expose is None:
        expose = ()
    if isinstance(expose, str) or not isinstance(expose, Sequence):
        raise ValidationError(where, "expose", expose, "a list of UIs: " + ", ".join(UIS))
    for ui in expose:
        if ui not in UIS:
            raise ValidationError(where, "expose", ui, "one of " + ", ".join(UIS))
    if len(set(expose)) != len(expose):
        raise ValidationError(where, "expose", list(expose), "each UI once")
    parsed = _sso(where, sso) if sso is not None else None
    if (expose or parsed is not None) and domain is None:
        field = "expose" if expose else "sso"
        raise ValidationError(where, "domain", None, f"a DNS name such as 'platform.example.com' when {field} is set")
    for ui in expose:
        if ui not in OWN_LOGIN and parsed is None:
            raise ValidationError(
                where,
                "expose",
                ui,
                f"a UI with a login of its own ({', '.join(OWN_LOGIN)}) while sso is not set: {ui} has no "
                "login and is exposed only behind oauth2-proxy, which needs sso",
            )
    if parsed is not None and "grafana" in expose:
        for key in ENDPOINTS:
            if getattr(parsed, key) is None:
                raise ValidationError(
                    where,
                    f"sso.{key}",
                    None,
                    "an https:// URL while Grafana is exposed with sso: Grafana's generic OAuth reads no "
                    "discovery document (find authorization_endpoint, token_endpoint and userinfo_endpoint "
                    "at <issuer>/.well-known/openid-configuration)",
                )
    if not expose:
        if parsed is not None:
            raise ValidationError(where, "expose", [], "at least one UI when sso is set: " + ", ".join(UIS))
        return None
    return Exposure(domain, tuple(ui for ui in UIS if ui in expose), parsed)
