"""Every alerting rule the platform emits: valid for promtool, unit-tested (fires and stays silent),
reading only metrics its exporters have at their pins, labelled for routing, placed after its CRD."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform
from sre_constructs.kernel.alerts import SEVERITIES, AlertRule, RuleSet, RuleTest, Runbook, Series, check_alerts
from sre_constructs.kernel.errors import ValidationError

from .alert_harness import (
    CLUSTERS,
    REPO,
    check_rules,
    emitted_rules,
    missing_cases,
    platform,
    requires_promtool,
    rule_sets,
    run_unit_tests,
    unknown_metrics,
)

PLATFORMS = [None, *CLUSTERS]


def ids(cluster: Path | None) -> str:
    return "default" if cluster is None else cluster.stem


@pytest.fixture(scope="module", params=PLATFORMS, ids=ids)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``(platform, rule sets, emitted PrometheusRules)`` of the default platform and each cluster file."""
    app, core = platform(request.param)
    return core, rule_sets(core), emitted_rules(app, tmp_path_factory.mktemp(ids(request.param)))


def test_one_rule_per_component_with_routing_labels_and_runbook(built: Any) -> None:
    core, sets, emitted = built
    names = [alert.name for rule_set in sets for alert in rule_set.alerts]
    assert len(names) == len(set(names)), "alert names are unique across the platform"
    assert sorted(doc["metadata"]["name"] for doc in emitted.values()) == sorted(f"{s.component}-alerts" for s in sets)
    for key, doc in emitted.items():
        component = doc["metadata"]["labels"]["platform_component"]
        for rule in doc["spec"]["groups"][0]["rules"]:
            if "alert" not in rule:
                continue
            assert rule["labels"]["severity"] in SEVERITIES, (key, rule["alert"])
            assert rule["labels"]["platform_component"] == component, (key, rule["alert"])
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, (key, rule["alert"])
            assert rule["annotations"]["runbook_url"] == f"{core.runbook_base_url}#{rule['alert'].lower()}"


def test_every_enabled_service_and_flux_emit_alerting_rules(built: Any) -> None:
    """Monitoring's own are kube-prometheus-stack's default rules (left on); it emits Flux's."""
    from sre_constructs.platform import SERVICES

    core, _, emitted = built
    enabled = {spec.name for spec in SERVICES if getattr(core, spec.attribute) is not None}
    alerting = {
        doc["metadata"]["labels"]["platform_component"]
        for doc in emitted.values()
        if any("alert" in rule for rule in doc["spec"]["groups"][0]["rules"])
    }
    assert (enabled - {"monitoring"}) | {"flux"} <= alerting, sorted(enabled)
    assert core.monitoring.release.values.get("defaultRules", {}).get("create", True) is True


def test_every_runbook_url_of_every_platform_lands_on_a_runbook_in_docs_alerts_md(built: Any) -> None:
    """The page on disk (what the default runbook_base_url serves) has the anchor of every emitted
    alert, not only of the documented platform's, and the section holds meaning, confirm and fix."""
    _, _, emitted = built
    page = (REPO / "docs" / "alerts.md").read_text(encoding="utf-8")
    sections = {
        heading.lower(): body for heading, body in re.findall(r"^### (\S+)\n(.*?)(?=^### |^## |\Z)", page, re.S | re.M)
    }
    for doc in emitted.values():
        for rule in doc["spec"]["groups"][0]["rules"]:
            if "alert" not in rule:
                continue
            anchor = rule["annotations"]["runbook_url"].rsplit("#", 1)[1]
            assert anchor in sections, f"{rule['alert']}: no '### ' heading with anchor #{anchor} in docs/alerts.md"
            body = sections[anchor]
            for part in ("**What it means.**", "**Confirm.**", "```sh\n", "**Fix.**\n\n1. "):
                assert part in body, f"{rule['alert']}: runbook without {part!r}"


@requires_promtool
def test_every_emitted_rule_file_passes_promtool_check(built: Any, tmp_path: Path) -> None:
    _, _, emitted = built
    for key, doc in emitted.items():
        result = check_rules(doc["spec"], tmp_path / key.replace("/", "_"))
        assert result.returncode == 0, f"{key}:\n{result.stdout}{result.stderr}"


def test_every_alert_has_a_firing_and_a_silent_case(built: Any) -> None:
    _, sets, _ = built
    assert [problem for s in sets for problem in missing_cases(s)] == []


@requires_promtool
def test_every_alert_fires_and_stays_silent_as_its_cases_say(built: Any, tmp_path: Path) -> None:
    _, sets, _ = built
    for rule_set in sets:
        result = run_unit_tests(rule_set, tmp_path / rule_set.component)
        assert result.returncode == 0, f"{rule_set.component}:\n{result.stdout}{result.stderr}"


def test_every_metric_a_rule_reads_is_exported_at_the_pin(built: Any) -> None:
    _, sets, _ = built
    assert {s.component: unknown_metrics(s) for s in sets if unknown_metrics(s)} == {}


# -- the harness itself, on a rule set made here ----------------------------------------------------

_RUNBOOK = Runbook("m", ("kubectl get pods",), ("kubectl rollout restart deploy/x",))


def _demo(expr: str, *tests: RuleTest) -> RuleSet:
    rule = AlertRule("DemoDown", expr, "5m", "warning", "s", "d", _RUNBOOK, tests, threshold=None)
    return RuleSet("demo", "demo", (rule,), substitutions={"namespace": "demo"})


_DOWN = Series('up{job="demo",namespace="${namespace}"}', "0x20")
_UP = Series('up{job="demo",namespace="${namespace}"}', "1x20")


def test_a_rule_reading_an_unknown_metric_is_reported() -> None:
    assert unknown_metrics(_demo("vault_core_sealed == 1")) == {"DemoDown": {"vault_core_sealed"}}
    assert unknown_metrics(_demo('up{job="demo"} == 0')) == {}  # the control


@requires_promtool
def test_the_harness_fails_a_case_that_does_not_hold(tmp_path: Path) -> None:
    fires = RuleTest((_DOWN,), "10m", True, (("job", "demo"), ("namespace", "${namespace}")))
    silent = RuleTest((_UP,), "10m", False)
    good = _demo('up{job="demo"} == 0', fires, silent)
    assert missing_cases(good) == []
    assert run_unit_tests(good, tmp_path / "good").returncode == 0
    # Before its `for` the alert is pending, not firing: a case claiming it fires at 3m fails.
    early = _demo('up{job="demo"} == 0', RuleTest((_DOWN,), "3m", True, (("job", "demo"), ("namespace", "demo"))))
    assert run_unit_tests(early, tmp_path / "early").returncode != 0
    assert missing_cases(early) == ["DemoDown: no case that stays silent"]


# -- the alerts knob ---------------------------------------------------------------------------

_RULES = (
    AlertRule("A", "up == ${threshold}", "10m", "warning", "s", "d", _RUNBOOK, threshold=0),
    AlertRule("B", "up == 0", "5m", "critical", "s", "d", _RUNBOOK),
)


@pytest.mark.parametrize(
    ("field", "value", "changes"),
    [
        ("name", "demo down", {"name": "demo down"}),
        ("for_", "0", {"for_": "0"}),
        ("severity", "page", {"severity": "page"}),
    ],
)
def test_a_malformed_rule_is_refused_when_defined(field: str, value: str, changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as error:
        dataclasses.replace(_RULES[1], **changes)
    assert (error.value.field, error.value.value) == (field, value)


def test_alerts_knob_turns_off_overrides_and_validates() -> None:
    assert check_alerts("x", True, _RULES) == _RULES
    assert check_alerts("x", False, _RULES) == ()
    changed = check_alerts(
        "x", {"A": {"for": "1h", "severity": "critical", "threshold": 2}, "B": {"enabled": False}}, _RULES
    )
    assert [(r.name, r.for_, r.severity, r.threshold) for r in changed] == [("A", "1h", "critical", 2.0)]
    assert RuleSet("c", "ns", changed).rules()[0]["expr"] == "up == 2"


@pytest.mark.parametrize(
    ("knob", "field", "value"),
    [
        ({"C": {}}, "alerts.C", "C"),
        ({"A": {"for": "ten minutes"}}, "alerts.A.for", "ten minutes"),
        ({"A": {"for": "0"}}, "alerts.A.for", "0"),
        ({"A": {"severity": "page"}}, "alerts.A.severity", "page"),
        ({"B": {"threshold": 3}}, "alerts.B.threshold", 3),
        ({"A": {"threshold": "high"}}, "alerts.A.threshold", "high"),
        ({"A": {"enabled": "no"}}, "alerts.A.enabled", "no"),
        ({"A": {"window": "5m"}}, "alerts.A.window", "5m"),
        ("yes", "alerts", "yes"),
    ],
)
def test_a_bad_alerts_knob_names_field_and_value(knob: Any, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as error:
        check_alerts("core/x", knob, _RULES)
    assert (error.value.field, error.value.value) == (field, value)


def test_every_service_takes_the_alerts_knob_and_reports_an_unknown_alert() -> None:
    for name in ("istio", "cert-manager", "kyverno", "monitoring", "logging", "openbao", "external-secrets"):
        with pytest.raises(ValidationError, match="alerts") as error:
            CorePlatform(App(), "core", services={name: {"alerts": {"NoSuchAlert": {"for": "5m"}}}})
        assert error.value.value == "NoSuchAlert"
    for name in ("runtime-security", "backup"):
        with pytest.raises(ValidationError, match="alerts"):
            CorePlatform(App(), "core", services={name: {"alerts": {"NoSuchAlert": {}}}})


def test_without_monitoring_no_rules_are_emitted(tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core", services={"monitoring": {"enabled": False}})
    assert emitted_rules(app, tmp_path) == {}


def test_a_bad_runbook_base_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="runbook_base_url"):
        CorePlatform(App(), "core", runbook_base_url="docs/alerts.md#top")


def test_plan_refuses_a_prometheus_rule_applied_before_its_crd(tmp_path: Path) -> None:
    """The plan proves the placement: the platform's own rules come up (see test_plan_platform);
    the same kind of object in a step that does not wait for kube-prometheus-stack is a blocker."""
    from sre_constructs.plan import plan_tree

    app = App()
    CorePlatform(app, "core")
    emitted_rules(app, tmp_path)
    tree = tmp_path / "core"
    assert not [b for b in plan_tree(tree).blockers if "PrometheusRule" in str(b)]
    misplaced = _demo('up{job="demo"} == 0').prometheus_rule()
    misplaced["metadata"]["namespace"] = "cert-manager"
    folder = tree / "cert-manager"
    (folder / "prometheusrule.yaml").write_text(yaml.safe_dump(misplaced), encoding="utf-8")
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    kustomization["resources"].append("prometheusrule.yaml")
    (folder / "kustomization.yaml").write_text(yaml.safe_dump(kustomization), encoding="utf-8")
    found = [str(b) for b in plan_tree(tree).blockers]
    assert any(
        "PrometheusRule cert-manager/demo-alerts needs the CRD of monitoring.coreos.com/PrometheusRule" in b
        for b in found
    ), found


def test_rules_apply_after_the_crd_in_the_right_folder(built: Any) -> None:
    """Components before monitoring (and Flux's, emitted by monitoring) go to monitoring-config;
    the ones Flux applies after monitoring carry theirs in their own folder."""
    _, sets, emitted = built
    folders = {key.split("/")[2]: key.split("/")[0] for key in emitted}
    for rule_set in sets:
        if not rule_set.alerts:
            continue
        before = rule_set.component in ("istio", "cert-manager", "kyverno", "flux")
        expected = "monitoring-config" if before else rule_set.component
        assert folders[f"{rule_set.component}-alerts"] == expected, rule_set.component


def test_the_alerts_knob_reaches_the_emitted_rule(tmp_path: Path) -> None:
    app = App()
    CorePlatform(
        app,
        "core",
        services={
            "cert-manager": {"alerts": {"CertManagerCertificateExpiringSoon": {"threshold": 14, "for": "1h"}}},
            "external-secrets": {"alerts": False},
        },
    )
    emitted = emitted_rules(app, tmp_path)
    assert not [key for key in emitted if key.endswith("/external-secrets-alerts")]
    (cert_manager,) = [doc for key, doc in emitted.items() if key.endswith("/cert-manager-alerts")]
    (rule,) = [
        r for r in cert_manager["spec"]["groups"][0]["rules"] if r["alert"] == "CertManagerCertificateExpiringSoon"
    ]
    assert "< 14 * 86400" in rule["expr"] and rule["for"] == "1h"
    assert "less than 14 days" in rule["annotations"]["summary"]


# -- the alerts knob in a cluster file: errors at the line of the field ------------------------------

_CLUSTER = "name: c\ngit:\n  url: https://git.example.com/x.git\nservices:\n  cert-manager:\n    alerts:\n"


@pytest.mark.parametrize(
    ("alerts", "line", "field", "value", "allowed"),
    [
        (
            "      CertManagerACMEErrors:\n        for: ten minutes\n",
            8,
            "services.cert-manager.alerts.CertManagerACMEErrors.for",
            "ten minutes",
            "duration",
        ),
        (
            "      CertManagerACMEErrors: {severity: page}\n",
            7,
            "services.cert-manager.alerts.CertManagerACMEErrors.severity",
            "page",
            "critical, warning, info",
        ),
        (
            "      CertManagerCertificateNotReady: {}\n      NoSuchAlert: {for: 5m}\n",
            8,
            "services.cert-manager.alerts.NoSuchAlert",
            "NoSuchAlert",
            "CertManagerCertificateExpiringSoon",
        ),
    ],
)
def test_a_bad_alerts_knob_in_a_cluster_file_names_file_line_field_value_and_allowed(
    alerts: str, line: int, field: str, value: str, allowed: str
) -> None:
    from sre_constructs.cluster import parse_cluster

    spec = parse_cluster(_CLUSTER + alerts, "c.yaml")
    with pytest.raises(ValidationError) as error:
        spec.platform(App())
    assert (error.value.where, error.value.field, error.value.value) == (f"c.yaml:{line}", field, value)
    assert allowed in error.value.allowed


def test_the_alerts_knob_of_a_cluster_file_reaches_the_emitted_rules(tmp_path: Path) -> None:
    from sre_constructs.cluster import parse_cluster

    text = (
        _CLUSTER.replace("    alerts:\n", "    alerts: false\n")
        + "  monitoring:\n    alerts:\n      FluxResourceNotReady: {for: 1h, severity: critical}\n"
    )
    app = App()
    parse_cluster(text, "c.yaml").platform(app, "core")
    emitted = emitted_rules(app, tmp_path)
    assert not [key for key in emitted if key.endswith("/cert-manager-alerts")]
    (flux,) = [doc for key, doc in emitted.items() if key.endswith("/flux-alerts")]
    (rule,) = [r for r in flux["spec"]["groups"][0]["rules"] if r["alert"] == "FluxResourceNotReady"]
    assert (rule["for"], rule["labels"]["severity"]) == ("1h", "critical")


def test_a_bad_duration_through_the_python_api_names_the_service_field_and_value() -> None:
    with pytest.raises(ValidationError) as error:
        CorePlatform(App(), "core", services={"backup": {"alerts": {"VeleroBackupFailed": {"for": "soon"}}}})
    assert (error.value.where, error.value.field, error.value.value) == (
        "core/backup",
        "alerts.VeleroBackupFailed.for",
        "soon",
    )
