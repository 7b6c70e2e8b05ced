"""Who is told: Alertmanager receivers, routes, grouping and inhibition from the ``alerting`` knob.

Design (why credentials are files, not a templated configuration):

- The whole Alertmanager configuration is plain data in the HelmRelease's values
  (``alertmanager.config``): reviewable in git, checked with ``amtool check-config`` exactly as
  deployed, and free of any secret.
- Every credential (Slack webhook URL, PagerDuty routing key, webhook bearer token, SMTP password)
  lives in OpenBao. One ExternalSecret ``alertmanager-receivers`` (in the monitoring namespace, from
  the platform's ClusterSecretStore) renders Secret ``alertmanager-receivers`` with one key per
  credential; ``alertmanagerSpec.secrets`` makes the operator mount it at
  ``/etc/alertmanager/secrets/alertmanager-receivers/``, and the configuration names each file
  (``api_url_file``, ``routing_key_file``, ``http_config.authorization.credentials_file``,
  ``auth_password_file``: accepted by Alertmanager 0.25 and by every release up to 0.34, so by the
  one operator v0.93.1 runs). Alertmanager reads these files at each notification, so a rotated
  credential (ESO refresh, then the kubelet's Secret volume sync) needs no restart.
- The other design, an ESO-templated ``configSecret``, would put credentials into the configuration
  text through a second template language (Alertmanager's own ``{{ }}`` templates would need
  escaping), hide the routing tree from review and from ``amtool``, and rewrite the whole
  configuration on every rotation.

The cost, stated: the Alertmanager pods mount the Secret, so they start only once a person has
written the credentials (the plan lists each ``bao kv put``); Prometheus, Grafana and the rest
run meanwhile, and nothing could have been delivered without the credentials anyway.

Generic webhooks take their URL literally (``url_file`` arrived after Alertmanager 0.25): it must
be ``https://``, and a secret belongs in the bearer token (``bearer_token: true``), never in the URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kernel.alerts import SEVERITIES
from ..kernel.errors import ValidationError
from ..kernel.validation import check_bool, check_dns_label, check_prometheus_duration, duration_seconds
from ._credentials import external_secret

__all__ = [
    "HEARTBEAT_RECEIVER",
    "INHIBIT_EQUAL",
    "NULL_RECEIVER",
    "PLATFORM_COMPONENTS",
    "RECEIVER_TYPES",
    "SECRETS_DIR",
    "SECRETS_NAME",
    "Alerting",
    "Credential",
    "alertmanager_values",
    "parse_alerting",
    "receivers_external_secret",
]

RECEIVER_TYPES = ("slack", "pagerduty", "webhook", "email")
PLATFORM_COMPONENTS = (
    "istio",
    "cert-manager",
    "kyverno",
    "monitoring",
    "logging",
    "openbao",
    "external-secrets",
    "runtime-security",
    "backup",
    "flux",
)
"""Values of the ``platform_component`` label: CorePlatform's services and Flux (a test keeps them equal)."""

NULL_RECEIVER = "null"
HEARTBEAT_RECEIVER = "heartbeat"
SECRETS_NAME = "alertmanager-receivers"
"""The ExternalSecret and the Secret it renders, mounted into Alertmanager."""
SECRETS_DIR = f"/etc/alertmanager/secrets/{SECRETS_NAME}"
"""Where the operator mounts ``alertmanagerSpec.secrets`` entries (``/etc/alertmanager/secrets/<name>``)."""
DEFAULT_KV_PREFIX = "platform/alertmanager"

GROUP_BY = ("alertname", "platform_component", "namespace")
GROUP_WAIT = "30s"
GROUP_INTERVAL = "5m"
REPEAT_INTERVAL = "4h"
HEARTBEAT_INTERVAL = "1m"
INHIBIT_EQUAL = (
    "alertname",
    "namespace",
    "exported_namespace",  # an object's own namespace where honorLabels is false (cert-manager, ESO, Flux)
    "platform_component",
    "cluster",
    "job",
    "service",
    "instance",
    "pod",
    "name",
)
"""Labels a critical (or warning) must share with the alert it silences: the same alert on the same target."""

# Which OpenBao property holds each type's credential, and which config field reads its file.
_PROPERTY = {"slack": "api_url", "pagerduty": "routing_key", "webhook": "token", "email": "password"}
_COMMON_KEYS = ("name", "type", "secret", "send_resolved")
_TYPE_KEYS = {
    "slack": ("channel",),
    "pagerduty": (),
    "webhook": ("url", "bearer_token"),
    "email": ("to", "from", "smarthost", "username", "require_tls"),
}
_TOP_KEYS = (
    "receivers",
    "routes",
    "default_receiver",
    "heartbeat",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
)
_ROUTE_KEYS = (
    "receiver",
    "severity",
    "platform_component",
    "continue",
    "group_wait",
    "group_interval",
    "repeat_interval",
)
_HEARTBEAT_KEYS = ("url", "bearer_token", "secret", "repeat_interval")
_KV_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?$")
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
_SMARTHOST = re.compile(r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_SLACK_CHANNEL = re.compile(r"^[#@]?[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Credential:
    """One credential a receiver reads from a file: its OpenBao path and property, and the file."""

    receiver: str
    path: str
    prop: str

    @property
    def key(self) -> str:
        """Its key in Secret ``alertmanager-receivers`` (and file name in the mount)."""
        return f"{self.receiver}.{self.prop}"

    @property
    def file(self) -> str:
        """Where Alertmanager reads it (the Secret mounted by ``alertmanagerSpec.secrets``)."""
        return f"{SECRETS_DIR}/{self.key}"


@dataclass
class Alerting:
    """The validated ``alerting`` knob: the Alertmanager configuration and the credentials it reads."""

    config: dict[str, Any]
    credentials: list[Credential] = field(default_factory=list)
    receivers: list[str] = field(default_factory=list)
    """The receivers that reach someone (not ``null``, not the heartbeat)."""
    ports: list[int] = field(default_factory=list)
    """TCP ports of mail relays and webhooks other than 443, for Alertmanager's egress policy."""


def _keys(where: str, dotted: str, value: object, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(where, dotted, value, "a mapping with keys " + ", ".join(allowed))
    for key in value:
        if key not in allowed:
            raise ValidationError(where, f"{dotted}.{key}", key, "one of " + ", ".join(allowed))
    return value


def _text(where: str, dotted: str, value: object, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValidationError(where, dotted, value, allowed)
    return value


def _port(address: str) -> int:
    """The TCP port of an ``https://`` URL or a ``host:port`` smarthost (443 when the URL names none)."""
    host = address.removeprefix("https://").split("/", 1)[0]
    return int(host.rsplit(":", 1)[1]) if ":" in host else 443


def _https(where: str, dotted: str, value: object) -> str:
    url = _text(
        where,
        dotted,
        value,
        _HTTPS_URL,
        "an https:// URL without credentials in it (put a token in OpenBao: bearer_token: true)",
    )
    if not 1 <= _port(url) <= 65535:
        raise ValidationError(where, dotted, url, "an https:// URL with a port in 1-65535")
    return url


def _kv_path(where: str, dotted: str, value: object) -> str:
    return _text(where, dotted, value, _KV_PATH, "an OpenBao KV path such as 'platform/alertmanager/slack'")


def _names(where: str, dotted: str, value: object, allowed: Sequence[str]) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ValidationError(where, dotted, value, "one or a list of " + ", ".join(allowed))
    for index, item in enumerate(items):
        if item not in allowed:
            raise ValidationError(where, f"{dotted}[{index}]", item, "one of " + ", ".join(allowed))
    return list(dict.fromkeys(items))


def _receiver(where: str, dotted: str, raw: object) -> tuple[dict[str, Any], Credential | None]:
    """One receiver's Alertmanager entry and the credential it reads (if any)."""
    if not isinstance(raw, Mapping) or raw.get("type") not in RECEIVER_TYPES:
        kind = raw.get("type") if isinstance(raw, Mapping) else raw
        raise ValidationError(where, f"{dotted}.type", kind, "one of " + ", ".join(RECEIVER_TYPES))
    kind = str(raw["type"])
    for literal in ("url", "api_url", "routing_key", "service_key", "token", "password", "auth_password"):
        if literal in raw and literal not in _TYPE_KEYS[kind]:
            raise ValidationError(
                where,
                f"{dotted}.{literal}",
                "<redacted>",
                f"no credential in git: write it into OpenBao (property {_PROPERTY[kind]!r} at the path in "
                f"{dotted}.secret, default {DEFAULT_KV_PREFIX}/<name>); see docs/alerting.md",
            )
    _keys(where, dotted, raw, _COMMON_KEYS + _TYPE_KEYS[kind])
    name = check_dns_label(where, f"{dotted}.name", raw.get("name"))
    if name in (NULL_RECEIVER, HEARTBEAT_RECEIVER):
        raise ValidationError(
            where, f"{dotted}.name", name, f"a name other than {NULL_RECEIVER!r} and {HEARTBEAT_RECEIVER!r}"
        )
    path = _kv_path(where, f"{dotted}.secret", raw.get("secret", f"{DEFAULT_KV_PREFIX}/{name}"))
    resolved = check_bool(where, f"{dotted}.send_resolved", raw.get("send_resolved", True))
    credential = Credential(name, path, _PROPERTY[kind])
    reads = kind in ("slack", "pagerduty")  # webhooks and mail read one only with a token or a user
    entry: dict[str, Any] = {"send_resolved": resolved}
    if kind == "slack":
        entry["api_url_file"] = credential.file
        if "channel" in raw:
            entry["channel"] = _text(
                where, f"{dotted}.channel", raw["channel"], _SLACK_CHANNEL, "a Slack channel such as '#platform-alerts'"
            )
        entry["title"] = (
            "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.platform_component }})"
        )
        entry["text"] = "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.runbook_url }}\n{{ end }}"
    elif kind == "pagerduty":
        entry["routing_key_file"] = credential.file
        # Our severities are PagerDuty's own (critical, warning, info); anything else is an error.
        entry["severity"] = "{{ if .CommonLabels.severity }}{{ .CommonLabels.severity }}{{ else }}error{{ end }}"
    elif kind == "webhook":
        entry["url"] = _https(where, f"{dotted}.url", raw.get("url"))
        reads = check_bool(where, f"{dotted}.bearer_token", raw.get("bearer_token", False))
        if reads:
            entry["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": credential.file}}
    else:
        entry["to"] = _text(where, f"{dotted}.to", raw.get("to"), _EMAIL, "an email address such as 'ops@example.com'")
        entry["from"] = _text(
            where, f"{dotted}.from", raw.get("from"), _EMAIL, "an email address such as 'alertmanager@example.com'"
        )
        entry["smarthost"] = _text(
            where,
            f"{dotted}.smarthost",
            raw.get("smarthost"),
            _SMARTHOST,
            "host:port of the mail relay, e.g. 'smtp.example.com:587'",
        )
        if not 1 <= _port(entry["smarthost"]) <= 65535:
            raise ValidationError(where, f"{dotted}.smarthost", entry["smarthost"], "host:port with a port in 1-65535")
        entry["require_tls"] = check_bool(where, f"{dotted}.require_tls", raw.get("require_tls", True))
        username = raw.get("username")
        reads = username is not None  # without a user: an unauthenticated relay
        if reads:
            if not isinstance(username, str) or not username.strip():
                raise ValidationError(
                    where, f"{dotted}.username", username, "the SMTP user name, or omit it for no auth"
                )
            entry["auth_username"] = username
            entry["auth_password_file"] = credential.file
    return {"name": name, f"{kind}_configs": [entry]}, credential if reads else None


def _matcher(label: str, values: Sequence[str]) -> str:
    # Values are checked names (no regex metacharacters but '-' and '.'): no escaping needed.
    return f'{label}="{values[0]}"' if len(values) == 1 else f'{label}=~"{"|".join(values)}"'


def _route(where: str, dotted: str, raw: object, receivers: Sequence[str]) -> dict[str, Any]:
    route = _keys(where, dotted, raw, _ROUTE_KEYS)
    receiver = route.get("receiver")
    if receiver not in receivers:
        raise ValidationError(
            where, f"{dotted}.receiver", receiver, "a receiver named in receivers: " + ", ".join(receivers)
        )
    out: dict[str, Any] = {"receiver": receiver}
    matchers = []
    if "severity" in route:
        severities = _names(where, f"{dotted}.severity", route["severity"], SEVERITIES)
        matchers.append(_matcher("severity", severities))
    if "platform_component" in route:
        components = _names(where, f"{dotted}.platform_component", route["platform_component"], PLATFORM_COMPONENTS)
        matchers.append(_matcher("platform_component", components))
    if matchers:
        out["matchers"] = matchers
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in route:
            out[key] = check_prometheus_duration(where, f"{dotted}.{key}", route[key])
    if check_bool(where, f"{dotted}.continue", route.get("continue", False)):
        out["continue"] = True
    return out


def parse_alerting(where: str, raw: object, knob: str = "alerting") -> Alerting:
    """Validate the ``alerting`` knob and build the Alertmanager configuration.

    Raises:
        ValidationError: naming the dotted field (``alerting.receivers[0].type``), the value and what
            is allowed.
    """
    top = _keys(where, knob, raw, _TOP_KEYS)
    entries: list[dict[str, Any]] = [{"name": NULL_RECEIVER}]
    credentials: list[Credential] = []
    names: list[str] = []
    raw_receivers = top.get("receivers", [])
    if not isinstance(raw_receivers, list):
        raise ValidationError(where, f"{knob}.receivers", raw_receivers, "a list of receivers")
    for index, item in enumerate(raw_receivers):
        entry, credential = _receiver(where, f"{knob}.receivers[{index}]", item)
        if entry["name"] in names:
            raise ValidationError(
                where, f"{knob}.receivers[{index}].name", entry["name"], "a name used by no other receiver"
            )
        names.append(entry["name"])
        entries.append(entry)
        if credential is not None:
            credentials.append(credential)

    raw_routes = top.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ValidationError(where, f"{knob}.routes", raw_routes, "a list of routes")
    routes = [_route(where, f"{knob}.routes[{i}]", r, names) for i, r in enumerate(raw_routes)]
    default = top.get("default_receiver", NULL_RECEIVER)
    if default not in (NULL_RECEIVER, *names):
        raise ValidationError(
            where, f"{knob}.default_receiver", default, "a receiver named in receivers, or 'null': " + ", ".join(names)
        )
    used = {r["receiver"] for r in routes} | {default}
    for index, name in enumerate(names):
        if name not in used:
            raise ValidationError(
                where, f"{knob}.receivers[{index}].name", name, "a receiver that routes or default_receiver name"
            )

    group_by = top.get("group_by", list(GROUP_BY))
    if not isinstance(group_by, list) or not group_by:
        raise ValidationError(where, f"{knob}.group_by", group_by, "a non-empty list of label names")
    for index, label in enumerate(group_by):
        _text(where, f"{knob}.group_by[{index}]", label, _LABEL_NAME, "a Prometheus label name such as 'namespace'")
    timing = {
        key: check_prometheus_duration(where, f"{knob}.{key}", top.get(key, default_value))
        for key, default_value in (
            ("group_wait", GROUP_WAIT),
            ("group_interval", GROUP_INTERVAL),
            ("repeat_interval", REPEAT_INTERVAL),
        )
    }

    watchdog = {"receiver": NULL_RECEIVER, "matchers": ['alertname="Watchdog"']}
    if "heartbeat" in top:
        hb = _keys(where, f"{knob}.heartbeat", top["heartbeat"], _HEARTBEAT_KEYS)
        interval = check_prometheus_duration(
            where, f"{knob}.heartbeat.repeat_interval", hb.get("repeat_interval", HEARTBEAT_INTERVAL)
        )
        if not 30 <= duration_seconds(interval) <= 900:
            raise ValidationError(
                where, f"{knob}.heartbeat.repeat_interval", interval, "between 30s and 15m (the heartbeat's period)"
            )
        hook: dict[str, Any] = {"url": _https(where, f"{knob}.heartbeat.url", hb.get("url")), "send_resolved": False}
        if check_bool(where, f"{knob}.heartbeat.bearer_token", hb.get("bearer_token", False)):
            path = _kv_path(where, f"{knob}.heartbeat.secret", hb.get("secret", f"{DEFAULT_KV_PREFIX}/heartbeat"))
            credential = Credential(HEARTBEAT_RECEIVER, path, _PROPERTY["webhook"])
            credentials.append(credential)
            hook["http_config"] = {"authorization": {"type": "Bearer", "credentials_file": credential.file}}
        elif "secret" in hb:
            raise ValidationError(where, f"{knob}.heartbeat.secret", hb["secret"], "only with bearer_token: true")
        entries.append({"name": HEARTBEAT_RECEIVER, "webhook_configs": [hook]})
        # Always firing: sent right away and again every interval; the switch alarms when it stops.
        watchdog = {
            "receiver": HEARTBEAT_RECEIVER,
            "matchers": ['alertname="Watchdog"'],
            "group_wait": "0s",
            "group_interval": interval,
            "repeat_interval": interval,
        }

    equal = list(INHIBIT_EQUAL)
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": default,
            "group_by": list(dict.fromkeys(group_by)),
            **timing,
            # Never to people: Watchdog (always firing) and kube-prometheus-stack's InfoInhibitor.
            "routes": [watchdog, {"receiver": NULL_RECEIVER, "matchers": ['alertname="InfoInhibitor"']}, *routes],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": equal,
            },
            {"source_matchers": ['severity="warning"'], "target_matchers": ['severity="info"'], "equal": equal},
            # kube-prometheus-stack's: InfoInhibitor fires while a namespace has only info alerts firing.
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
        ],
        "receivers": entries,
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }
    hooks = {_port(c["url"]) for r in entries for c in r.get("webhook_configs", ())}
    relays = {_port(c["smarthost"]) for r in entries for c in r.get("email_configs", ())}
    ports = sorted((hooks | relays) - {443})
    return Alerting(config, credentials, names, ports)


def alertmanager_values(alerting: Alerting) -> dict[str, Any]:
    """The kube-prometheus-stack ``alertmanager`` values: the configuration and the mounted Secret."""
    values: dict[str, Any] = {"config": alerting.config}
    if alerting.credentials:
        values["alertmanagerSpec"] = {"secrets": [SECRETS_NAME]}
    return values


def receivers_external_secret(alerting: Alerting, namespace: str, store: str) -> dict[str, Any]:
    """The ExternalSecret rendering Secret ``alertmanager-receivers``: one key per credential file."""
    return external_secret(SECRETS_NAME, namespace, store, [(c.key, c.path, c.prop) for c in alerting.credentials])
