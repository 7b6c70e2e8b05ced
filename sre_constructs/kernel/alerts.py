"""Alerting and recording rules as data: each service module declares its own beside its other facts.

An :class:`AlertRule` carries its PromQL, its ``for`` and severity, the text a person reads when it
fires, a :class:`Runbook`, and the :class:`RuleTest` cases that prove it fires on a failing series
and stays silent on a healthy one (run by ``promtool test rules``).

Expressions may name ``${namespace}``, ``${release}`` and ``${threshold}`` (``string.Template``
syntax: PromQL's own braces stay as they are); they are filled in when the rules are emitted,
from the component's actual namespace and release and the (possibly overridden) threshold.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from string import Template
from types import MappingProxyType
from typing import Any

from .errors import ValidationError
from .validation import check_prometheus_duration

__all__ = [
    "DEFAULT_RUNBOOK_BASE_URL",
    "OVERRIDE_FIELDS",
    "SEVERITIES",
    "AlertRule",
    "RecordingRule",
    "RuleSet",
    "RuleTest",
    "Runbook",
    "Series",
    "check_alerts",
    "check_runbook_base_url",
    "runbook_anchor",
    "runbook_url",
]

#: The severities an alert may carry; Alertmanager routes on them.
SEVERITIES = ("critical", "warning", "info")

_ALERT_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


@dataclass(frozen=True)
class Runbook:
    """What a person does when the alert fires.

    Attributes:
        meaning: what is wrong and what it breaks, in a sentence or two.
        confirm: exact commands that show the problem (``kubectl ...``, ``bao ...``, ``flux ...``).
        fix: steps, each an exact command where one exists.
    """

    meaning: str
    confirm: tuple[str, ...]
    fix: tuple[str, ...]


@dataclass(frozen=True)
class Series:
    """An input series of a ``promtool test rules`` case: ``series`` and ``values`` as promtool takes them.

    Attributes:
        series: the series selector, e.g. ``certmanager_certificate_ready_status{condition="False",name="a"}``.
        values: promtool's expanding notation, e.g. ``1x30`` or ``0+60x30``.
    """

    series: str
    values: str


@dataclass(frozen=True)
class RuleTest:
    """One ``promtool test rules`` case of an alert.

    Attributes:
        series: the input series.
        eval_time: when to evaluate (after the alert's ``for`` for a firing case), e.g. ``20m``.
        fires: whether the alert is expected to fire at ``eval_time``.
        labels: labels the firing alert must carry besides ``alertname``, ``severity`` and
            ``platform_component`` (added when the case is rendered).
        interval: the input series' step. Default ``1m``.
    """

    series: tuple[Series, ...]
    eval_time: str
    fires: bool
    labels: tuple[tuple[str, str], ...] = ()
    interval: str = "1m"


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule of a platform component.

    Attributes:
        name: the alert name (``CertManagerCertificateNotReady``), unique across the platform.
        expr: PromQL; may name ``${namespace}``, ``${release}`` and ``${threshold}``.
        for_: how long the condition holds before the alert fires (Prometheus duration).
        severity: one of :data:`SEVERITIES`.
        summary: one line, may use ``{{ $labels.x }}`` and ``{{ $value }}``.
        description: what is wrong and its effect, may use the same templates.
        runbook: what to do.
        tests: promtool cases; at least one that fires and one that stays silent.
        threshold: the number ``${threshold}`` stands for (overridable per cluster), or ``None``.
    """

    name: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: Runbook
    tests: tuple[RuleTest, ...] = ()
    threshold: float | None = None

    def __post_init__(self) -> None:
        # A rule is library data: a mistake in it is caught when its module is imported.
        where = f"AlertRule({self.name!r})"
        if not _ALERT_NAME.fullmatch(self.name):
            raise ValidationError(where, "name", self.name, "an UpperCamelCase alert name such as 'OpenBaoSealed'")
        check_prometheus_duration(where, "for_", self.for_)
        if self.severity not in SEVERITIES:
            raise ValidationError(where, "severity", self.severity, "one of " + ", ".join(SEVERITIES))


@dataclass(frozen=True)
class RecordingRule:
    """One recording rule (a precomputed series alerts or dashboards read).

    Attributes:
        record: the new series' name (``namespace:metric:rate5m`` convention).
        expr: PromQL; may name ``${namespace}`` and ``${release}``.
    """

    record: str
    expr: str


#: Where ``runbook_url`` points by default: the generated ``docs/alerts.md`` of the project; a
#: fork or a mirror sets ``runbook_base_url`` (CorePlatform knob, cluster-file key) to its own copy.
DEFAULT_RUNBOOK_BASE_URL = "https://github.com/sre-constructs/sre-constructs/blob/main/docs/alerts.md"

#: What the ``alerts`` knob may change per alert.
OVERRIDE_FIELDS = ("threshold", "for", "severity", "enabled")


_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?")


def check_runbook_base_url(where: str, field: str, value: object) -> str:
    """An ``http(s)://`` address of the alerts page, without a ``#fragment`` (the alert's anchor is added)."""
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise ValidationError(
            where,
            field,
            value,
            "an https:// address of docs/alerts.md without '#', such as " + DEFAULT_RUNBOOK_BASE_URL,
        )
    return value


def runbook_anchor(alert: str) -> str:
    """The Markdown anchor of an alert's runbook section in ``docs/alerts.md`` (its heading, lowercased)."""
    return alert.lower()


def runbook_url(base: str, alert: str) -> str:
    """The address of an alert's runbook: ``<base>#<anchor>``."""
    return f"{base}#{runbook_anchor(alert)}"


class _Braced(Template):
    """``${name}`` only: ``{{ $labels.x }}`` and ``{{ $value }}`` in annotations stay as they are."""

    pattern = r"\$(?:(?P<escaped>\$)|\{(?P<braced>[_a-z][_a-z0-9]*)\}|(?P<named>(?!x)x)|(?P<invalid>(?!x)x))"  # type: ignore[assignment]  # a str, compiled by Template


def _number(value: float) -> str:
    return format(value, "g")


@dataclass(frozen=True)
class RuleSet:
    """The rules one platform component emits as one ``PrometheusRule`` (group ``<component>.rules``).

    Attributes:
        component: the ``platform_component`` label of every rule (``cert-manager``, ``flux``).
        namespace: where the PrometheusRule lives.
        alerts: the alerting rules, overrides applied.
        recording: the recording rules.
        substitutions: the values of ``${namespace}``, ``${release}``, ... in expressions and tests.
        monitors: the ServiceMonitors and PodMonitors the rules need (emitted beside the rule, after
            the CRD, and only where a Prometheus evaluates it).
    """

    component: str
    namespace: str
    alerts: tuple[AlertRule, ...] = ()
    recording: tuple[RecordingRule, ...] = ()
    substitutions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    monitors: tuple[Mapping[str, Any], ...] = ()

    def expand(self, text: str, rule: AlertRule | None = None) -> str:
        """``text`` with ``${namespace}``, ``${release}`` (and the rule's ``${threshold}``) filled in."""
        values = dict(self.substitutions)
        if rule is not None and rule.threshold is not None:
            values["threshold"] = _number(rule.threshold)
        return _Braced(text).substitute(values)

    def labels(self, rule: AlertRule) -> dict[str, str]:
        """The labels every alert of the set carries."""
        return {"severity": rule.severity, "platform_component": self.component}

    def rules(self, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL) -> list[dict[str, Any]]:
        """The Prometheus rule entries: recording rules first, then the alerts."""
        rules: list[dict[str, Any]] = [{"record": r.record, "expr": self.expand(r.expr)} for r in self.recording]
        for alert in self.alerts:
            rules.append(
                {
                    "alert": alert.name,
                    "expr": self.expand(alert.expr, alert),
                    "for": alert.for_,
                    "labels": self.labels(alert),
                    "annotations": {
                        "summary": self.expand(alert.summary, alert),
                        "description": self.expand(alert.description, alert),
                        "runbook_url": runbook_url(runbook_base_url, alert.name),
                    },
                }
            )
        return rules

    def group(self, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL) -> dict[str, Any]:
        """The rule group (``spec.groups[0]`` of the PrometheusRule, or a promtool rule file's group)."""
        return {"name": f"{self.component}.rules", "rules": self.rules(runbook_base_url)}

    def prometheus_rule(self, runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL) -> dict[str, Any]:
        """The ``monitoring.coreos.com/v1`` PrometheusRule ``<component>-alerts``."""
        return {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": f"{self.component}-alerts",
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/part-of": "sre-constructs", "platform_component": self.component},
            },
            "spec": {"groups": [self.group(runbook_base_url)]},
        }


def _override(where: str, rule: AlertRule, given: object) -> AlertRule | None:
    """One alert's override applied (``None``: the alert is turned off)."""
    field_of = f"alerts.{rule.name}"
    if not isinstance(given, Mapping):
        raise ValidationError(where, field_of, given, "a mapping with keys among " + ", ".join(OVERRIDE_FIELDS))
    unknown = sorted(str(k) for k in given if k not in OVERRIDE_FIELDS)
    if unknown:
        raise ValidationError(
            where, f"{field_of}.{unknown[0]}", given[unknown[0]], "one of " + ", ".join(OVERRIDE_FIELDS)
        )
    enabled = given.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationError(where, f"{field_of}.enabled", enabled, "True or False")
    changes: dict[str, Any] = {}
    if "for" in given:
        changes["for_"] = check_prometheus_duration(where, f"{field_of}.for", given["for"])
    if "severity" in given:
        if given["severity"] not in SEVERITIES:
            raise ValidationError(where, f"{field_of}.severity", given["severity"], "one of " + ", ".join(SEVERITIES))
        changes["severity"] = given["severity"]
    if "threshold" in given:
        value = given["threshold"]
        if rule.threshold is None:
            raise ValidationError(where, f"{field_of}.threshold", value, "nothing: this alert has no threshold")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise ValidationError(
                where, f"{field_of}.threshold", value, f"a number (default {_number(rule.threshold)})"
            )
        changes["threshold"] = float(value)
    return replace(rule, **changes) if enabled else None


def check_alerts(where: str, alerts: object, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
    """The rules a service emits under its ``alerts`` knob, validated before anything is created.

    Args:
        where: construct path for the message.
        alerts: ``True`` (every rule as defined), ``False`` (none), or a mapping alert name ->
            ``{threshold, for, severity, enabled}`` (each optional).
        rules: the service's rules as defined.

    Returns:
        The rules, overrides applied and disabled ones left out.
    """
    if isinstance(alerts, bool):
        return rules if alerts else ()
    names = [rule.name for rule in rules]
    if not isinstance(alerts, Mapping):
        raise ValidationError(where, "alerts", alerts, "True, False or a mapping alert name -> overrides")
    for name in alerts:
        if name not in names:
            # Field alerts.<name>: a cluster file's error points at the line of that key.
            raise ValidationError(
                where, f"alerts.{name}", name, "an alert of this service: " + (", ".join(names) or "(it has none)")
            )
    result = []
    for rule in rules:
        changed = _override(where, rule, alerts[rule.name]) if rule.name in alerts else rule
        if changed is not None:
            result.append(changed)
    return tuple(result)
