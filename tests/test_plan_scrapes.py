"""`plan` reports a library rule whose metrics no scrape target in the tree provides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform, write_tree
from sre_constructs.plan import plan_tree
from sre_constructs.plan.scrapes import selects


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path)
    return tmp_path / "core"


def scrape_blockers(tree: Path) -> list[str]:
    return [str(b) for b in plan_tree(tree).blockers if b.kind == "scrape"]


def drop(folder: Path, file: str) -> None:
    (folder / file).unlink()
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    kustomization["resources"].remove(file)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")


def test_the_default_platform_scrapes_every_metric_its_rules_read(tree: Path) -> None:
    assert scrape_blockers(tree) == []


def test_a_rule_whose_exporter_nothing_scrapes_is_reported(tree: Path) -> None:
    drop(tree / "openbao", "podmonitor.yaml")
    found = scrape_blockers(tree)
    assert any(
        "PrometheusRule openbao/openbao-alerts rule OpenBaoSealed needs metric vault_core_unsealed scraped" in b
        and "OpenBao server is scraped by nothing" in b
        and "PodMonitor selecting app.kubernetes.io/name=openbao" in b
        for b in found
    ), found
    # `up` is Prometheus' own: never reported.
    assert not [b for b in found if "metric up " in b]


def test_a_chart_monitor_turned_off_is_reported(tree: Path) -> None:
    folder = tree / "external-secrets"
    release = yaml.safe_load((folder / "helmrelease.yaml").read_text(encoding="utf-8"))
    release["spec"]["values"]["serviceMonitor"]["enabled"] = False
    (folder / "helmrelease.yaml").write_text(yaml.safe_dump(release), encoding="utf-8")
    found = scrape_blockers(tree)
    assert any("rule ExternalSecretNotReady needs metric externalsecret_status_condition scraped" in b for b in found)
    assert any("serviceMonitor.enabled: true" in b for b in found), found


def test_a_rule_reading_an_unknown_metric_is_reported(tree: Path) -> None:
    path = tree / "openbao" / "prometheusrule.yaml"
    rule = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule["spec"]["groups"][0]["rules"][0]["expr"] = "vault_core_sealed == 1"
    path.write_text(yaml.safe_dump(rule), encoding="utf-8")
    assert any("needs metric vault_core_sealed; no known exporter has it" in b for b in scrape_blockers(tree))


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({"matchLabels": {"app": "istiod", "istio": "pilot"}}, True),
        ({"matchLabels": {"app": "istiod", "release": "x"}}, True),  # keys the exporter does not name: left out
        ({"matchLabels": {"app": "other"}}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a", "istiod"]}]}, True),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["istiod"]}]}, False),
        ({"matchLabels": {"release": "x"}}, False),  # nothing judged: not evidence of a scrape
        ({}, False),
    ],
)
def test_selector_matching(selector: dict[str, object], selected: bool) -> None:
    assert selects(selector, {"app": "istiod", "istio": "pilot"}) is selected


def test_the_default_platform_scrapes_every_metric_its_dashboards_read(tree: Path) -> None:
    assert not [n for n in plan_tree(tree).notes if "dashboard" in n and "no data" in n]


def test_a_dashboard_panel_whose_exporter_nothing_scrapes_is_noted(tree: Path) -> None:
    drop(tree / "openbao", "podmonitor.yaml")
    notes = [n for n in plan_tree(tree).notes if "they show no data" in n]
    (openbao,) = [n for n in notes if "dashboard sre-openbao:" in n]
    assert "ConfigMap monitoring/platform-dashboards" in openbao and "'Seal state per node'" in openbao
    assert "metrics of OpenBao server, scraped by nothing in the tree" in openbao
    assert any("dashboard sre-platform-overview:" in n and "'OpenBao nodes sealed'" in n for n in notes), notes
    assert not [b for b in plan_tree(tree).blockers if "ConfigMap" in str(b)]  # a note, never a blocker


def test_a_panel_reading_an_unknown_metric_is_noted(tree: Path) -> None:
    path = tree / "monitoring-config" / "configmap.yaml"
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    (board_map,) = [d for d in docs if d and d["metadata"]["name"] == "platform-dashboards"]
    key = "sre-openbao.json"
    board = json.loads(board_map["data"][key])
    board["panels"][0]["targets"][0]["expr"] = "vault_core_sealed"
    board_map["data"][key] = json.dumps(board)
    path.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    notes = [n for n in plan_tree(tree).notes if "they show no data" in n]
    assert any(
        "dashboard sre-openbao:" in n and "read vault_core_sealed, which no known exporter has" in n for n in notes
    )
