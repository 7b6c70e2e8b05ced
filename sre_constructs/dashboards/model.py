"""A small typed builder for Grafana dashboards: panels as data, laid out and rendered to Grafana's JSON.

Why not ``grafana-foundation-sdk``: its PyPI releases target Grafana 10.1 to 11.6 (the platform runs
Grafana 13 from kube-prometheus-stack 88.5.3), they are versioned by build epoch (no pin a
Renovate rule can follow) and weigh 2 MB for the four panel kinds used here. Grafana migrates a
dashboard of an older ``schemaVersion`` when it loads it, so the JSON below stays valid as Grafana moves on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GRID_WIDTH",
    "LOKI",
    "PROMETHEUS",
    "SCHEMA_VERSION",
    "Dashboard",
    "Panel",
    "Query",
    "Threshold",
]

#: Datasource uids kube-prometheus-stack provisions: its default Prometheus datasource
#: (``grafana.sidecar.datasources.uid``) and the Loki datasource Monitoring adds (``loki_datasource``).
PROMETHEUS = "prometheus"
LOKI = "loki"
_DATASOURCE_TYPES = {PROMETHEUS: "prometheus", LOKI: "loki"}

#: Grafana's dashboard JSON schema version written (Grafana 11.0's; later releases migrate on load).
SCHEMA_VERSION = 39
GRID_WIDTH = 24
_PANEL_KINDS = ("timeseries", "stat", "table", "logs", "bargauge")


@dataclass(frozen=True)
class Query:
    """One query of a panel.

    Attributes:
        expr: PromQL (``datasource`` Prometheus) or LogQL (Loki).
        legend: Grafana legend format (``{{namespace}}/{{name}}``). Default: the series' labels.
        datasource: :data:`PROMETHEUS` or :data:`LOKI`.
        instant: an instant query (tables and stats of the current state) rather than a range.
    """

    expr: str
    legend: str = ""
    datasource: str = PROMETHEUS
    instant: bool = False

    def __post_init__(self) -> None:
        if self.datasource not in _DATASOURCE_TYPES:
            raise ValueError(f"datasource {self.datasource!r}: one of {', '.join(_DATASOURCE_TYPES)}")


@dataclass(frozen=True)
class Threshold:
    """A colour step: from ``value`` upwards (``None``: the base step) the panel shows ``color``."""

    color: str
    value: float | None = None


@dataclass(frozen=True)
class Panel:
    """One panel.

    Attributes:
        title: what it shows.
        queries: its queries (refIds A, B, ... in order).
        kind: ``timeseries``, ``stat``, ``table``, ``logs`` or ``bargauge``.
        description: the tooltip: what a healthy value looks like (required: a panel nobody can
            read is noise).
        unit: Grafana unit id (``s``, ``percentunit``, ``short``, ``dtdurations``, ...). Default ``short``.
        thresholds: colour steps, lowest first. Default: green.
        width: grid columns of 24. Default ``12``.
        height: grid rows. Default ``8``.
        mappings: value -> text for stats (``{0: "sealed", 1: "unsealed"}``).
    """

    title: str
    queries: tuple[Query, ...]
    kind: str = "timeseries"
    description: str = ""
    unit: str = "short"
    thresholds: tuple[Threshold, ...] = (Threshold("green"),)
    width: int = 12
    height: int = 8
    mappings: tuple[tuple[float, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _PANEL_KINDS:
            raise ValueError(f"panel kind {self.kind!r}: one of {', '.join(_PANEL_KINDS)}")
        if not self.description:
            raise ValueError(f"panel {self.title!r}: say what a healthy value looks like (description)")
        if not 1 <= self.width <= GRID_WIDTH:
            raise ValueError(f"panel width {self.width}: 1 to {GRID_WIDTH}")

    def render(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        """Grafana's JSON of the panel, placed at ``(x, y)`` of the grid."""
        datasource = self.queries[0].datasource if self.queries else PROMETHEUS
        targets = [
            {
                "datasource": {"type": _DATASOURCE_TYPES[q.datasource], "uid": q.datasource},
                "expr": q.expr,
                "instant": q.instant,
                "legendFormat": q.legend or "__auto",
                "range": not q.instant,
                "refId": chr(ord("A") + i),
            }
            for i, q in enumerate(self.queries)
        ]
        steps = [{"color": t.color, "value": t.value} for t in self.thresholds]
        defaults: dict[str, Any] = {"unit": self.unit, "thresholds": {"mode": "absolute", "steps": steps}}
        if self.mappings:
            defaults["mappings"] = [
                {"type": "value", "options": {_number(value): {"text": text, "index": i}}}
                for i, (value, text) in enumerate(self.mappings)
            ]
        panel: dict[str, Any] = {
            "datasource": {"type": _DATASOURCE_TYPES[datasource], "uid": datasource},
            "description": self.description,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "gridPos": {"h": self.height, "w": self.width, "x": x, "y": y},
            "id": panel_id,
            "options": _OPTIONS[self.kind],
            "targets": targets,
            "title": self.title,
            "type": self.kind,
        }
        return panel


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_OPTIONS: dict[str, dict[str, Any]] = {
    "timeseries": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
    "stat": {"colorMode": "background", "graphMode": "none", "reduceOptions": {"calcs": ["lastNotNull"]}},
    "table": {"showHeader": True},
    "logs": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending"},
    "bargauge": {"displayMode": "gradient", "orientation": "horizontal"},
}


@dataclass(frozen=True)
class Dashboard:
    """One dashboard: a stable uid, a title and its panels, laid out left to right, top to bottom.

    Attributes:
        uid: stable id (Grafana links and bookmarks survive a redeploy), at most 40 characters.
        title: the title in Grafana's folder.
        panels: the panels in reading order.
        tags: Grafana tags (``sre-constructs`` and the component are added).
        component: the platform component it watches (``platform-overview`` for the overview).
        description: one line: what the dashboard answers.
    """

    uid: str
    title: str
    panels: tuple[Panel, ...]
    component: str
    description: str = ""
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.uid or len(self.uid) > 40:
            raise ValueError(f"dashboard uid {self.uid!r}: 1 to 40 characters")

    def render(self) -> dict[str, Any]:
        """Grafana's dashboard JSON model."""
        panels, x, y, row_height = [], 0, 0, 0
        for panel_id, panel in enumerate(self.panels, start=1):
            if x + panel.width > GRID_WIDTH:
                x, y, row_height = 0, y + row_height, 0
            panels.append(panel.render(panel_id, x, y))
            x += panel.width
            row_height = max(row_height, panel.height)
        return {
            "annotations": {"list": []},
            "description": self.description,
            "editable": False,
            "graphTooltip": 1,
            "links": [],
            "panels": panels,
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "tags": sorted({"sre-constructs", self.component, *self.tags}),
            "templating": {"list": []},
            "time": {"from": "now-6h", "to": "now"},
            "timezone": "browser",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
        }

    def to_json(self) -> str:
        """The JSON text, compact and with sorted keys: the same bytes on every synth."""
        return json.dumps(self.render(), sort_keys=True, separators=(",", ":"))
