"""Alerting and recording rules as data: each service module declares its own beside its other facts.

An :class:`AlertRule` carries its PromQL, its ``for`` and severity, the text a person reads when it
fires, a :class:`Runbook`, and the :class:`RuleTest` cases that prove it fires on a failing series
and stays silent on a healthy one (run by ``promtool test rules``).

Expressions may name ``${namespace}``, ``${release}`` and ``${threshold}`` (``string.Template``
syntax: PromQL's own braces stay as they are); they are filled in when the rules are emitted,
from the component's actual namespace and release and the (possibly overridden) threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "SEVERITIES",
    "AlertRule",
    "RecordingRule",
    "RuleTest",
    "Runbook",
    "Series",
]

#: The severities an alert may carry; Alertmanager routes on them.
SEVERITIES = ("critical", "warning", "info")


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


@dataclass(frozen=True)
class RecordingRule:
    """One recording rule (a precomputed series alerts or dashboards read).

    Attributes:
        record: the new series' name (``namespace:metric:rate5m`` convention).
        expr: PromQL; may name ``${namespace}`` and ``${release}``.
    """

    record: str
    expr: str
