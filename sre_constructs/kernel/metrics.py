"""The metrics each scrape target exports at its pin, and the metric names a PromQL expression reads.

Every alert rule and dashboard panel the library emits reads only metrics listed here: a test
checks each expression with :func:`metric_names` against :func:`known_metrics`, so a rule written
from memory (``vault_core_sealed``, ``certmanager_acme_client_request_count``) fails before it
reaches a cluster where it would never fire.

A chart's exporters are part of its facts (``ChartFacts.exporters``); targets that no chart of ours
installs (Flux's controllers, bootstrapped with the cluster) register with :func:`register_exporter`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "Exporter",
    "ScrapeTarget",
    "exporter_of",
    "known_metrics",
    "metric_names",
    "register_exporter",
]


@dataclass(frozen=True)
class ScrapeTarget:
    """One way a tree gets an exporter scraped, as a written tree shows it (read by ``plan``).

    Either a monitor object the tree emits (``kind`` + ``labels``), a chart whose release renders
    its own monitor (``chart`` + ``values_path``), or Prometheus itself (``builtin``).

    Attributes:
        kind: ``ServiceMonitor`` or ``PodMonitor`` the tree emits.
        labels: labels of the scraped Service (ServiceMonitor) or pods (PodMonitor); a monitor
            scrapes the exporter when its selector, on the keys it shares with these, selects them.
        chart: a chart whose HelmRelease renders the monitor itself.
        values_path: dotted path in that release's values that turns the chart's monitor on.
        default: the chart's own default at ``values_path`` (and for a missing parent key).
        builtin: series Prometheus makes itself (``up``, ``ALERTS``): always there.
    """

    kind: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    chart: str = ""
    values_path: str = ""
    default: bool = False
    builtin: bool = False

    def __str__(self) -> str:
        if self.builtin:
            return "Prometheus itself"
        if self.chart:
            return f"the {self.chart} chart's own monitor ({self.values_path}: true)"
        return f"a {self.kind} selecting " + ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))


@dataclass(frozen=True)
class Exporter:
    """One scrape target and the metric families it exports at the pinned version.

    Attributes:
        name: who exports them (``cert-manager controller``, ``kube-state-metrics``); unique.
        metrics: metric family name -> the upstream file it comes from at the pin
            (``pkg/metrics/metrics.go@v1.21.1:112``). Histograms and summaries are listed by family
            name; their ``_bucket``, ``_sum`` and ``_count`` series are known through it.
        scraped_by: how the tree gets them scraped (the ServiceMonitor or PodMonitor and who emits it).
        targets: the same, machine-checkable: any one of them present in a tree scrapes the exporter.
    """

    name: str
    metrics: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    scraped_by: str = ""
    targets: tuple[ScrapeTarget, ...] = ()


_EXTRA: dict[str, Exporter] = {}


def register_exporter(exporter: Exporter) -> Exporter:
    """Make a scrape target that no chart's facts carry known (Flux's controllers); idempotent per object."""
    known = _EXTRA.get(exporter.name)
    if known is not None and known is not exporter:
        raise ValueError(f"exporter {exporter.name!r} already registered")
    _EXTRA[exporter.name] = exporter
    return exporter


def _all_exporters() -> list[Exporter]:
    from .facts import known_charts  # facts stays free of this module

    found = [e for facts in known_charts().values() for e in facts.exporters]
    return [*found, *_EXTRA.values()]


def known_metrics() -> dict[str, Exporter]:
    """Every metric family of every known exporter -> its exporter."""
    return {metric: exporter for exporter in _all_exporters() for metric in exporter.metrics}


_SERIES_SUFFIXES = ("_bucket", "_sum", "_count")


def exporter_of(metric: str) -> Exporter | None:
    """The exporter of a series name (a histogram's ``_bucket``/``_sum``/``_count`` included), or ``None``."""
    known = known_metrics()
    if metric in known:
        return known[metric]
    for suffix in _SERIES_SUFFIXES:
        if metric.endswith(suffix) and metric[: -len(suffix)] in known:
            return known[metric[: -len(suffix)]]
    return None


# PromQL pieces that are not metric names, removed before names are read.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![0-9A-Za-z_:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"inf", "nan", "Inf", "NaN", "atan2"}
)


def metric_names(expr: str) -> frozenset[str]:
    """The metric names a PromQL expression selects (functions, keywords, labels and durations left out).

    >>> sorted(metric_names('sum by (job) (rate(up{job="a"}[5m])) / on(job) group_left count(b_total) > 0'))
    ['b_total', 'up']
    """
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    previous = None
    while previous != text:  # nested grouping lists do not occur, but group_left(x) may follow on(y)
        previous, text = text, _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return frozenset(names)
