"""Reusable checks of alerting rules with the real tools (``promtool`` from Debian's ``prometheus``).

Every service's tests use these unchanged: :func:`platforms` builds the default platform and each
``clusters/*.yaml``; :func:`emitted_rules` finds the PrometheusRules a written tree holds;
:func:`check_rules` and :func:`run_unit_tests` run promtool; :func:`unknown_metrics` and
:func:`missing_cases` are the static checks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform, write_tree
from sre_constructs.alerts.promtool import rule_file, unit_test_file
from sre_constructs.cluster import load_cluster
from sre_constructs.kernel.alerts import RuleSet
from sre_constructs.kernel.metrics import exporter_of, metric_names

REPO = Path(__file__).resolve().parent.parent
CLUSTERS = sorted((REPO / "clusters").glob("*.yaml"))
PROMTOOL = shutil.which("promtool")

#: Marks a test that runs promtool; skips with the package to install when it is missing.
requires_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool missing: apt-get install prometheus")


def platform(cluster: Path | None) -> tuple[App, CorePlatform]:
    """The default platform (``None``) or a cluster file's, in an App of its own."""
    app = App()
    core = load_cluster(cluster).platform(app) if cluster is not None else CorePlatform(app, "core")
    return app, core


def rule_sets(core: CorePlatform) -> list[RuleSet]:
    """Every rule set of every component of the platform (emitted or not)."""
    return [rule_set for component in core.registered_components for rule_set in component.rule_sets]


def emitted_rules(app: App, out: Path) -> dict[str, dict[str, Any]]:
    """The PrometheusRules of the written tree: ``folder/namespace/name`` -> object."""
    write_tree(app, out)
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(out.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule":
                meta = doc["metadata"]
                found[f"{path.parent.name}/{meta['namespace']}/{meta['name']}"] = doc
    return found


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


def check_rules(spec: dict[str, Any], work: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules`` on a PrometheusRule's spec written as a rule file."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_file(spec), sort_keys=False), encoding="utf-8")
    return _promtool("check", "rules", str(path))


def run_unit_tests(rule_set: RuleSet, work: Path) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` with every case of every alert of the set."""
    work.mkdir(parents=True, exist_ok=True)
    rules, tests = unit_test_file(rule_set, "rules.yaml")
    (work / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    (work / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False), encoding="utf-8")
    return _promtool("test", "rules", str(work / "tests.yaml"))


def unknown_metrics(rule_set: RuleSet) -> dict[str, set[str]]:
    """Rule -> the metrics it reads that no known exporter exports at its pin."""
    found: dict[str, set[str]] = {}
    for rule in rule_set.group()["rules"]:
        unknown = {name for name in metric_names(rule["expr"]) if exporter_of(name) is None}
        if unknown:
            found[rule.get("alert") or rule["record"]] = unknown
    return found


def missing_cases(rule_set: RuleSet) -> list[str]:
    """Alerts without a case that fires or without one that stays silent."""
    missing = []
    for alert in rule_set.alerts:
        if not any(case.fires for case in alert.tests):
            missing.append(f"{alert.name}: no case that fires")
        if not any(not case.fires for case in alert.tests):
            missing.append(f"{alert.name}: no case that stays silent")
    return missing
