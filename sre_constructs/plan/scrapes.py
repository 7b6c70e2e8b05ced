"""Every metric a library rule reads has a scrape target in the tree.

A rule whose metrics nothing scrapes never fires: an OpenBao "sealed" alert with no monitor on the
pods is silence that looks like health. For each PrometheusRule the library emitted (label
``app.kubernetes.io/part-of: sre-constructs``), each metric a rule reads is mapped to its
:class:`~sre_constructs.kernel.metrics.Exporter`, and one of the exporter's
:class:`~sre_constructs.kernel.metrics.ScrapeTarget` must be in the trees: a ServiceMonitor or
PodMonitor whose selector selects the exporter's labels, or a HelmRelease of the chart whose values
turn the chart's own monitor on. A rule reading a metric no known exporter has is reported too.

Both are blockers (kind ``scrape``): precise (the rule, the metric, the exporter and what would
scrape it are named) and about the tree's own objects, so fixing them is always in the tree. Rules
of other origins (a team's) are not checked: their exporters are not known here.

The library's dashboards (the Grafana sidecar ConfigMaps it labels) are read the same way: a panel
whose metrics nothing scrapes shows "No data", a note per dashboard and exporter (not a blocker:
nothing fails to come up).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..kernel.metrics import Exporter, ScrapeTarget, exporter_of, metric_names
from ..kernel.values import get_path
from .kinds import release_chart
from .labels import requirement_holds
from .model import Blocker
from .source import Obj, Unit

__all__ = ["LIBRARY_LABEL", "unscraped_panels", "unscraped_rules"]

#: The label the library's PrometheusRules carry (``kernel.alerts.RuleSet.prometheus_rule``).
LIBRARY_LABEL = ("app.kubernetes.io/part-of", "sre-constructs")

_MONITORING = "monitoring.coreos.com"
#: The label kube-prometheus-stack's Grafana sidecar loads dashboards by (``dashboards.SIDECAR_LABEL``).
_SIDECAR_LABEL = ("grafana_dashboard", "1")
#: The uid of the provisioned Prometheus datasource (``dashboards.PROMETHEUS``).
_PROMETHEUS = "prometheus"


def _requirement_holds(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool | None:
    """Whether a matchExpressions entry selects ``labels`` (``None``: it is about a key they lack)."""
    if requirement.get("operator") != "DoesNotExist" and str(requirement.get("key")) not in labels:
        return None
    return requirement_holds(requirement, labels)


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector selects objects carrying ``labels``, judged on the keys they share.

    Requirements on keys the exporter's labels do not name (a release's instance) are left out;
    at least one requirement must be about a shared key.
    """
    results: list[bool | None] = [
        (labels[key] == str(value)) if key in labels else None
        for key, value in (selector.get("matchLabels") or {}).items()
    ]
    results += [_requirement_holds(r, labels) for r in selector.get("matchExpressions") or [] if isinstance(r, dict)]
    judged = [r for r in results if r is not None]
    return bool(judged) and all(judged)


def _scraped(target: ScrapeTarget, objects: Sequence[Obj]) -> bool:
    if target.builtin:
        return True
    if target.chart:
        return any(
            obj.is_("helm.toolkit.fluxcd.io", "HelmRelease")
            and release_chart(obj) == target.chart
            and bool(get_path(obj.spec.get("values") or {}, target.values_path, target.default))
            for obj in objects
        )
    return any(
        obj.is_(_MONITORING, target.kind) and selects(obj.spec.get("selector") or {}, target.labels) for obj in objects
    )


def _scrape_check(objects: Sequence[Obj]) -> Callable[[Exporter], bool]:
    """Whether an exporter has a scrape target among ``objects``, judged once per exporter."""
    scraped: dict[str, bool] = {}

    def is_scraped(exporter: Exporter) -> bool:
        if exporter.name not in scraped:
            scraped[exporter.name] = any(_scraped(t, objects) for t in exporter.targets)
        return scraped[exporter.name]

    return is_scraped


def _not_scraped(exporter: Exporter) -> str:
    """The message's end: nothing scrapes the exporter, and what would."""
    wanted = " or ".join(str(t) for t in exporter.targets) or "a scrape target"
    return f"scraped by nothing in the tree (wants {wanted})"


def _library_rules(units: Iterable[Unit]) -> list[tuple[Unit, Obj]]:
    key, value = LIBRARY_LABEL
    return [
        (unit, obj)
        for unit in units
        for obj in unit.objects
        if obj.is_(_MONITORING, "PrometheusRule") and (obj.metadata.get("labels") or {}).get(key) == value
    ]


def unscraped_rules(units: Sequence[Unit]) -> list[Blocker]:
    """A blocker per (library rule, metric) that no scrape target in ``units`` provides."""
    is_scraped = _scrape_check([obj for unit in units for obj in unit.objects])
    blockers: list[Blocker] = []
    for unit, obj in _library_rules(units):
        for group in obj.spec.get("groups") or []:
            for rule in group.get("rules") or []:
                name = rule.get("alert") or rule.get("record")
                for metric in sorted(metric_names(str(rule.get("expr") or ""))):
                    exporter = exporter_of(metric)
                    where = f"{obj.label} rule {name}"
                    if exporter is None:
                        blockers.append(
                            Blocker(
                                unit.name, where, f"metric {metric}", "no known exporter has it at its pin", "scrape"
                            )
                        )
                    elif not is_scraped(exporter):
                        blockers.append(
                            Blocker(
                                unit.name,
                                where,
                                f"metric {metric} scraped",
                                f"its exporter {exporter.name} is {_not_scraped(exporter)}",
                                "scrape",
                            )
                        )
    return blockers


def _panel_queries(obj: Obj) -> Iterator[tuple[str, str, str]]:
    """``(dashboard uid, panel title, PromQL)`` of every Prometheus query in a sidecar ConfigMap."""
    for key, text in sorted((obj.body.get("data") or {}).items()):
        try:
            board = json.loads(str(text))
        except ValueError:
            continue
        if not isinstance(board, Mapping):
            continue
        for panel in board.get("panels") or []:
            for target in panel.get("targets") or [] if isinstance(panel, Mapping) else []:
                source = target.get("datasource") if isinstance(target, Mapping) else None
                if isinstance(source, Mapping) and source.get("uid") == _PROMETHEUS and target.get("expr"):
                    yield str(board.get("uid") or key), str(panel.get("title") or ""), str(target["expr"])


def unscraped_panels(units: Sequence[Unit]) -> list[str]:
    """A note per (library dashboard, exporter) whose panels read metrics nothing in ``units`` scrapes."""
    is_scraped = _scrape_check([obj for unit in units for obj in unit.objects])
    library_key, library_value = LIBRARY_LABEL
    found: dict[tuple[str, str, str], list[str]] = {}
    for unit in units:
        for obj in unit.objects:
            labels = obj.metadata.get("labels") or {}
            if not (
                obj.is_("", "ConfigMap")
                and labels.get(_SIDECAR_LABEL[0]) == _SIDECAR_LABEL[1]
                and labels.get(library_key) == library_value
            ):
                continue
            for uid, title, expr in _panel_queries(obj):
                for metric in sorted(metric_names(expr)):
                    exporter = exporter_of(metric)
                    if exporter is None:
                        problem = f"read {metric}, which no known exporter has at its pin"
                    elif not is_scraped(exporter):
                        problem = f"read metrics of {exporter.name}, {_not_scraped(exporter)}"
                    else:
                        continue
                    titles = found.setdefault((unit.name, f"{obj.label} dashboard {uid}", problem), [])
                    if title not in titles:
                        titles.append(title)
    return [
        f"{unit}: {where}: panels {', '.join(repr(t) for t in titles)} {problem}; they show no data"
        for (unit, where, problem), titles in found.items()
    ]
