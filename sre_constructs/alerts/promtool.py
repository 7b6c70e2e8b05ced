"""Rules and their unit tests as ``promtool`` reads them: ``promtool check rules`` on a rule file,
``promtool test rules`` on a test file that names it.

The unit tests check what an alert *does*: its expression, ``for`` and labels. Their rule file
carries the rules without annotations: promtool compares a firing alert's annotations exactly once
templates are expanded (``{{ $value }}``), which would tie every case to a rendering; the templates
themselves are checked by ``promtool check rules`` on the emitted file.
"""

from __future__ import annotations

from typing import Any

from ..kernel.alerts import RuleSet, RuleTest

__all__ = ["rule_file", "unit_cases", "unit_test_file"]


def rule_file(spec: dict[str, Any]) -> dict[str, Any]:
    """A promtool rule file from a PrometheusRule's ``spec`` (its ``groups``)."""
    return {"groups": list(spec.get("groups") or [])}


def _unit_rule_file(rule_set: RuleSet) -> dict[str, Any]:
    group = rule_set.group()
    rules = [{k: v for k, v in rule.items() if k != "annotations"} for rule in group["rules"]]
    return {"groups": [{**group, "rules": rules}]}


def unit_cases(rule_set: RuleSet) -> list[tuple[str, RuleTest]]:
    """Every ``(alert name, case)`` of the set."""
    return [(alert.name, case) for alert in rule_set.alerts for case in alert.tests]


def unit_test_file(rule_set: RuleSet, rules_path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(rule file, test file)`` for ``promtool test rules``: one test group per case of every alert.

    Args:
        rule_set: the rules and their cases; series, their values and labels may name
            ``${namespace}``, ``${release}``, like expressions.
        rules_path: the rule file's path as the test file names it.
    """
    by_name = {alert.name: alert for alert in rule_set.alerts}
    tests = []
    for name, case in unit_cases(rule_set):
        alert = by_name[name]
        expected: list[dict[str, Any]] = []
        if case.fires:
            labels = {k: rule_set.expand(v, alert) for k, v in case.labels}
            expected.append({"exp_labels": {**labels, **rule_set.labels(alert)}})
        tests.append(
            {
                "name": f"{name} {'fires' if case.fires else 'stays silent'} at {case.eval_time}",
                "interval": case.interval,
                "input_series": [
                    {"series": rule_set.expand(s.series, alert), "values": rule_set.expand(s.values, alert)}
                    for s in case.series
                ],
                "alert_rule_test": [{"eval_time": case.eval_time, "alertname": name, "exp_alerts": expected}],
            }
        )
    tests_doc = {"rule_files": [rules_path], "evaluation_interval": "1m", "tests": tests}
    return _unit_rule_file(rule_set), tests_doc
