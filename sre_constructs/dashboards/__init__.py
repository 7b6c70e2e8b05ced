"""Grafana dashboards for the platform: one per service, Flux's and an overview, as sidecar ConfigMaps.

kube-prometheus-stack's Grafana sidecar loads every ConfigMap labelled ``grafana_dashboard: "1"``
(any namespace) and, with the folder annotation Monitoring configures, files it under
:data:`FOLDER`. :func:`platform_dashboards` returns the ConfigMaps for the enabled services.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .model import LOKI, PROMETHEUS, Dashboard, Panel, Query, Threshold
from .overview import overview
from .scope import Scope
from .services import DASHBOARDS, dashboard_for

__all__ = [
    "CONFIG_MAP_NAME",
    "FOLDER",
    "FOLDER_ANNOTATION",
    "LOKI",
    "PROMETHEUS",
    "SIDECAR_LABEL",
    "Dashboard",
    "Panel",
    "Query",
    "Scope",
    "Threshold",
    "config_map",
    "platform_dashboards",
]

#: The label kube-prometheus-stack's Grafana sidecar selects dashboards by (``grafana.sidecar.dashboards``).
SIDECAR_LABEL = ("grafana_dashboard", "1")
#: The annotation naming a dashboard's folder (``grafana.sidecar.dashboards.folderAnnotation``).
FOLDER_ANNOTATION = "grafana_folder"
#: The Grafana folder of the platform's dashboards.
FOLDER = "Platform"


#: The ConfigMap holding every platform dashboard.
CONFIG_MAP_NAME = "platform-dashboards"


def config_map(dashboards: Sequence[Dashboard], namespace: str) -> dict[str, Any]:
    """The sidecar ConfigMap carrying the dashboards, one ``<uid>.json`` key each.

    One object for all of them: the sidecar writes every key as a file of the folder, and one
    object instead of a dozen keeps the synth's jsii round-trips flat (a tree's creations are bounded).
    """
    uids = [d.uid for d in dashboards]
    if len(set(uids)) != len(uids):
        raise ValueError(f"dashboard uids must be unique: {uids}")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CONFIG_MAP_NAME,
            "namespace": namespace,
            "labels": {SIDECAR_LABEL[0]: SIDECAR_LABEL[1], "app.kubernetes.io/part-of": "sre-constructs"},
            "annotations": {FOLDER_ANNOTATION: FOLDER},
        },
        "data": {f"{d.uid}.json": d.to_json() for d in dashboards},
    }


def platform_dashboards(scope: Scope) -> list[Dashboard]:
    """The overview, Flux's dashboard and one per enabled component, in a stable order."""
    found = [overview(scope), dashboard_for("flux", scope)]
    found += [dashboard_for(name, scope) for name in DASHBOARDS if name in scope.namespaces]
    return found
