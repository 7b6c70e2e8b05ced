"""Grafana dashboards: sidecar ConfigMaps with stable uids, real metrics and provisioned datasources."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform, write_tree
from sre_constructs.dashboards import (
    FOLDER,
    FOLDER_ANNOTATION,
    LOKI,
    PROMETHEUS,
    SIDECAR_LABEL,
    Dashboard,
    Panel,
    Query,
    Scope,
    platform_dashboards,
)
from sre_constructs.dashboards.services import DASHBOARDS, sealed_count
from sre_constructs.kernel.metrics import exporter_of, metric_names
from sre_constructs.services.monitoring import Monitoring

from .alert_harness import PROMTOOL, requires_promtool
from .conftest import load_docs

SCOPE = Scope(
    namespaces={"istio": "istio-system", "cert-manager": "cert-manager", "kyverno": "kyverno"}
    | {"monitoring": "monitoring", "logging": "logging", "openbao": "openbao"}
    | {"external-secrets": "external-secrets", "runtime-security": "neuvector", "backup": "velero"},
    flux_names={"istio": "istio", "backup": "backup"},
    gateway=("istio-ingress", "istio-ingressgateway"),
    loki=True,
)


def _dashboards(tree: Path) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """uid -> (ConfigMap, parsed dashboard) of every sidecar ConfigMap in a written tree."""
    found = {}
    for path in sorted(tree.rglob("*.yaml")):
        for doc in load_docs(path):
            labels = (doc.get("metadata") or {}).get("labels") or {}
            if doc.get("kind") == "ConfigMap" and labels.get(SIDECAR_LABEL[0]) == SIDECAR_LABEL[1]:
                for key, text in doc["data"].items():
                    board = json.loads(text)
                    assert key == f"{board['uid']}.json" and board["uid"] not in found, f"uid {board['uid']} twice"
                    found[board["uid"]] = (doc, board)
    return found


def unknown_metrics(dashboard: Dashboard) -> list[tuple[str, str]]:
    """(panel title, metric) for every metric a Prometheus query reads that no exporter has at its pin."""
    return [
        (panel.title, metric)
        for panel in dashboard.panels
        for query in panel.queries
        if query.datasource == PROMETHEUS
        for metric in sorted(metric_names(query.expr))
        if exporter_of(metric) is None
    ]


def test_default_platform_ships_one_dashboard_per_service_flux_and_an_overview(default_tree: Path) -> None:
    boards = _dashboards(default_tree)
    expected = {f"sre-{name}" for name in DASHBOARDS} | {"sre-platform-overview"}
    assert set(boards) == expected
    for uid, (config_map, board) in boards.items():
        # Loaded by the sidecar into the platform folder, from the monitoring-config step.
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["annotations"][FOLDER_ANNOTATION] == FOLDER
        assert board["title"].startswith("Platform / ")
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), uid
        for panel in board["panels"]:
            assert {t["datasource"]["uid"] for t in panel["targets"]} <= {PROMETHEUS, LOKI}
            assert panel["targets"], f"{uid}: panel {panel['title']!r} queries nothing"
    where = {p.relative_to(default_tree).parts[0] for p in default_tree.rglob("configmap.yaml")}
    assert "monitoring-config" in where


def test_grafana_files_dashboards_by_the_annotation_the_configmaps_carry(app: App) -> None:
    core = CorePlatform(app, "core")
    assert isinstance(core.monitoring, Monitoring)
    sidecar = core.monitoring.release.values["grafana"]["sidecar"]["dashboards"]
    assert sidecar["folderAnnotation"] == FOLDER_ANNOTATION
    assert sidecar["provider"]["foldersFromFilesStructure"] is True


def test_panels_tile_the_grid_without_overlap() -> None:
    for dashboard in platform_dashboards(SCOPE):
        cells: set[tuple[int, int]] = set()
        for panel in dashboard.render()["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, (dashboard.uid, panel["title"])
            mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not cells & mine, (dashboard.uid, panel["title"])
            cells |= mine


def test_every_metric_a_panel_reads_is_exported_at_its_pin() -> None:
    for dashboard in platform_dashboards(SCOPE):
        assert unknown_metrics(dashboard) == [], dashboard.uid


def test_a_panel_reading_an_unknown_metric_is_caught() -> None:
    made_up = Dashboard(
        "x", "x", (Panel("sealed", (Query("vault_core_sealed == 1"),), description="0"),), component="openbao"
    )
    assert unknown_metrics(made_up) == [("sealed", "vault_core_sealed")]


@pytest.mark.parametrize("disabled", ["logging", "backup", "openbao"])
def test_a_disabled_service_has_no_dashboard_and_no_overview_panel(tmp_path: Path, disabled: str) -> None:
    app = App()
    services: dict[str, dict[str, Any]] = {disabled: {"enabled": False}}
    if disabled == "openbao":  # what needs OpenBao goes with it
        services |= {"external-secrets": {"enabled": False}, "backup": {"enabled": False}}
    CorePlatform(app, "core", services=services)
    write_tree(app, tmp_path)
    boards = _dashboards(tmp_path / "core")
    assert f"sre-{disabled}" not in boards
    overview_text = json.dumps(boards["sre-platform-overview"][1])
    signal = {"logging": "loki_", "backup": "velero_", "openbao": "vault_"}[disabled]
    assert signal not in overview_text
    if disabled == "logging":  # no Loki datasource: no log panels anywhere
        assert all('"uid":"loki"' not in json.dumps(b, separators=(",", ":")) for _, b in boards.values())


def test_dashboards_are_the_same_bytes_on_every_build() -> None:
    first = [d.to_json() for d in platform_dashboards(SCOPE)]
    assert first == [d.to_json() for d in platform_dashboards(SCOPE)]


@requires_promtool
def test_the_sealed_count_counts_a_pod_restarted_sealed(tmp_path: Path) -> None:
    """A pod restarted sealed has no vault_core_unsealed series (go-metrics drops it after the 30s
    retention, or never sets it): the overview counts it through its scrape; a pod down is not sealed."""
    series = [
        ('vault_core_unsealed{namespace="openbao",pod="openbao-0"}', "1x10"),
        ('up{namespace="openbao",pod="openbao-0"}', "1x10"),
        ('up{namespace="openbao",pod="openbao-1"}', "1x10"),  # restarted sealed: no gauge
        ('vault_core_unsealed{namespace="openbao",pod="openbao-2"}', "0x10"),
        ('up{namespace="openbao",pod="openbao-2"}', "1x10"),
        ('up{namespace="openbao",pod="openbao-3"}', "0x10"),  # down: OpenBaoDown's, not sealed
    ]
    healthy = [(s, v) for s, v in series if "openbao-0" in s]
    tests = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in inputs],
                "promql_expr_test": [{"expr": sealed_count("openbao"), "eval_time": "5m", "exp_samples": [expected]}],
            }
            for inputs, expected in ((series, {"labels": "{}", "value": 2}), (healthy, {"labels": "{}", "value": 0}))
        ],
    }
    path = tmp_path / "tests.yaml"
    path.write_text(yaml.safe_dump(tests), encoding="utf-8")
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
