"""The alerts of Kyverno, Velero, Loki/Alloy, Istio and NeuVector follow each construct's configuration:
namespaces and names, the Schedules' own intervals, the gateway switch, the alerts knob."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from sre_constructs import (
    Backup,
    CorePlatform,
    Istio,
    Kyverno,
    Logging,
    Monitoring,
    OpenBao,
    PlatformChart,
    RuntimeSecurity,
    write_tree,
)
from sre_constructs.kernel.alerts import AlertRule, RuleSet, RuleTest, Series
from sre_constructs.kernel.component import PlatformComponent
from sre_constructs.kernel.metrics import metric_names
from sre_constructs.plan import plan_tree

from .alert_harness import missing_cases, requires_promtool, run_unit_tests, unknown_metrics

SERVICES: dict[str, tuple[type[PlatformComponent], dict[str, Any]]] = {
    "kyverno": (Kyverno, {}),
    "backup": (Backup, {}),
    "logging": (Logging, {}),
    "istio": (Istio, {"gateway": True}),
    "runtime-security": (RuntimeSecurity, {}),
}


CLUSTER_SCOPED = {"KyvernoCELPolicyNotReady"}


def build(kind: type[PlatformComponent], **knobs: Any) -> PlatformComponent:
    return kind(PlatformChart(cdk8s.App(), "t", path="core"), "c", **knobs)


def only_set(component: PlatformComponent) -> RuleSet:
    (rule_set,) = component.rule_sets
    return rule_set


def alert(rule_set: RuleSet, name: str) -> AlertRule:
    (found,) = [a for a in rule_set.alerts if a.name == name]
    return found


def expr(rule_set: RuleSet, name: str) -> str:
    return rule_set.expand(alert(rule_set, name).expr, alert(rule_set, name))


@pytest.mark.parametrize("service", SERVICES)
def test_every_alert_reads_known_metrics_and_has_cases_and_a_runbook(service: str) -> None:
    kind, knobs = SERVICES[service]
    rule_set = only_set(build(kind, **knobs))
    assert rule_set.component == service
    assert unknown_metrics(rule_set) == {}
    assert missing_cases(rule_set) == []
    for rule in rule_set.alerts:
        assert rule.runbook.confirm and rule.runbook.fix, rule.name
        # Scoped to the component's own namespace (cluster-scoped policies aside): another
        # namespace's series never match.
        assert 'namespace="' in expr(rule_set, rule.name) or rule.name in CLUSTER_SCOPED, rule.name


@pytest.mark.parametrize("service", SERVICES)
def test_rules_follow_a_renamed_namespace(service: str) -> None:
    kind, knobs = SERVICES[service]
    rule_set = only_set(build(kind, namespace="elsewhere", **knobs))
    own = [r.name for r in rule_set.alerts if r.name not in {"IstioGatewayErrorRatioHigh", *CLUSTER_SCOPED}]
    assert own and all('namespace="elsewhere"' in expr(rule_set, name) for name in own)


def test_logging_rules_name_loki_after_its_release() -> None:
    rule_set = only_set(build(Logging, release_name="logs"))
    assert 'statefulset="logs-loki"' in expr(rule_set, "LokiUnavailable")


# -- Istio: the gateway's alert exists only with the gateway ----------------------------------------


def test_istio_gateway_alert_only_with_the_gateway() -> None:
    assert "IstioGatewayErrorRatioHigh" not in [a.name for a in only_set(build(Istio)).alerts]
    rule_set = only_set(build(Istio, gateway=True, gateway_namespace="edge", gateway_values={"name": "istio-edge"}))
    text = expr(rule_set, "IstioGatewayErrorRatioHigh")
    assert 'source_workload="istio-edge"' in text and 'source_workload_namespace="edge"' in text
    assert metric_names(text) == {"istio_requests_total"}


def test_plan_needs_the_gateway_pod_monitor_for_the_gateway_alert(tmp_path: Path) -> None:
    app = cdk8s.App()
    CorePlatform(app, "core", services={"istio": {"gateway": True}})
    write_tree(app, tmp_path)
    tree = tmp_path / "core"
    assert not [b for b in plan_tree(tree).blockers if "IstioGateway" in str(b)]
    monitors = tree / "monitoring-config" / "podmonitor.yaml"
    kept = [
        d for d in yaml.safe_load_all(monitors.read_text()) if d and d["metadata"]["name"] != "istio-ingressgateway"
    ]
    monitors.write_text(yaml.safe_dump_all(kept), encoding="utf-8")
    assert any("IstioGatewayErrorRatioHigh" in str(b) for b in plan_tree(tree).blockers)


def test_plan_knows_a_renamed_gateway_is_scraped(tmp_path: Path) -> None:
    """The gateway chart's pods are labelled after the gateway's name; the PodMonitor also selects the
    injection label every one of them carries, by which the plan knows the proxies' exporter."""
    app = cdk8s.App()
    CorePlatform(app, "core", services={"istio": {"gateway": True, "gateway_values": {"name": "istio-edge"}}})
    write_tree(app, tmp_path)
    tree = tmp_path / "core"
    monitors = list(yaml.safe_load_all((tree / "monitoring-config" / "podmonitor.yaml").read_text()))
    (gateway,) = [d for d in monitors if d and d["metadata"]["name"] == "istio-edge"]
    assert gateway["spec"]["selector"]["matchLabels"] == {
        "app": "istio-edge",
        "istio": "edge",
        "sidecar.istio.io/inject": "true",
    }
    assert not [b for b in plan_tree(tree).blockers if b.kind == "scrape"]


def test_istio_gateway_alert_can_be_tuned_and_the_knob_knows_it_without_a_gateway() -> None:
    tuned = only_set(build(Istio, gateway=True, alerts={"IstioGatewayErrorRatioHigh": {"threshold": 1}}))
    assert expr(tuned, "IstioGatewayErrorRatioHigh").endswith("> 1")
    # Valid even while the gateway is off (the cluster file may turn it on later).
    build(Istio, alerts={"IstioGatewayErrorRatioHigh": {"enabled": False}})


# -- Velero: a missing-backup budget per Schedule -------------------------------------------------


def test_velero_budgets_come_from_each_schedules_cron() -> None:
    rule_set = only_set(build(Backup, daily_schedule="0 */6 * * *"))
    text = expr(rule_set, "VeleroNoRecentBackup")
    assert 'label_replace(vector(21600), "schedule", "velero-daily", "", "")' in text
    assert 'label_replace(vector(604800), "schedule", "velero-weekly", "", "")' in text
    assert "> on (schedule) group_left () (2 * (" in text


def test_velero_without_schedules_has_no_missing_backup_alert() -> None:
    rule_set = only_set(build(Backup, daily_schedule=None, weekly_schedule=None))
    assert "VeleroNoRecentBackup" not in [a.name for a in rule_set.alerts]
    assert "VeleroBackupFailed" in [a.name for a in rule_set.alerts]


@requires_promtool
def test_velero_each_schedule_gets_twice_its_own_interval(tmp_path: Path) -> None:
    """Two and a half days after the last success of both: the daily schedule (budget 2 days) fires,
    the weekly one (budget 14 days) stays silent; with the threshold at 3 the daily one is within budget too."""
    rule_set = only_set(build(Backup))
    last = 'velero_backup_last_successful_timestamp{namespace="velero",schedule="velero-%s"}'
    both = (Series(last % "daily", "0x3700"), Series(last % "weekly", "0x3700"))
    labels = (("namespace", "velero"), ("schedule", "velero-daily"))
    cases = (
        RuleTest(both, "60h", True, labels),
        RuleTest((Series(last % "weekly", "0x3700"),), "60h", False),
    )
    rule = replace(alert(rule_set, "VeleroNoRecentBackup"), tests=cases)
    result = run_unit_tests(replace(rule_set, alerts=(rule,)), tmp_path / "days")
    assert result.returncode == 0, result.stdout + result.stderr
    relaxed = replace(rule, threshold=3.0, tests=(RuleTest(both, "60h", False),))
    result = run_unit_tests(replace(rule_set, alerts=(relaxed,)), tmp_path / "relaxed")
    assert result.returncode == 0, result.stdout + result.stderr


# -- NeuVector ------------------------------------------------------------------------------------


def test_neuvector_rules_read_kube_state_metrics_of_the_charts_workloads() -> None:
    rule_set = only_set(build(RuntimeSecurity))
    assert 'deployment="neuvector-controller-pod"' in expr(rule_set, "NeuVectorControllerDown")
    assert 'daemonset="neuvector-enforcer-pod"' in expr(rule_set, "NeuVectorEnforcerNotRunning")
    assert rule_set.alerts and not [a for a in rule_set.alerts if "nv_" in a.expr]  # no exporter is installed


# -- Kyverno: the CEL policies' readiness through kube-state-metrics -------------------------------


def test_kube_state_metrics_reports_kyverno_cel_policies_beside_flux() -> None:
    monitoring = build(Monitoring)
    assert isinstance(monitoring, Monitoring)
    ksm = monitoring.release.values["kube-state-metrics"]
    resources = ksm["customResourceState"]["config"]["spec"]["resources"]
    kinds = {(r["groupVersionKind"]["group"], r["groupVersionKind"]["kind"]) for r in resources}
    assert ("kustomize.toolkit.fluxcd.io", "Kustomization") in kinds  # Flux's stay
    assert ("policies.kyverno.io", "ValidatingPolicy") in kinds
    (policy,) = [r for r in resources if r["groupVersionKind"]["kind"] == "ValidatingPolicy"]
    (metric,) = policy["metrics"]
    # The alert reads <metricNamePrefix>_<name> from status.conditionStatus.ready (the CRD's READY column).
    assert f"{policy['metricNamePrefix']}_{metric['name']}" == "kyverno_cel_policy_ready"
    assert metric["each"]["gauge"]["path"] == ["status", "conditionStatus", "ready"]
    granted = [r for r in ksm["rbac"]["extraRules"] if r["apiGroups"] == ["policies.kyverno.io"]]
    assert granted and "validatingpolicies" in granted[0]["resources"] and granted[0]["verbs"] == ["list", "watch"]


# -- OpenBao: a missing raft peer, whatever the number of replicas --------------------------------


@requires_promtool
@pytest.mark.parametrize(("replicas", "tolerance", "fires"), [(3, 0, True), (3, 1, False), (5, 1, True), (1, 0, False)])
def test_openbao_raft_alert_fires_when_autopilot_tolerates_fewer_failures_than_the_replicas_allow(
    tmp_path: Path, replicas: int, tolerance: int, fires: bool
) -> None:
    """A peer removed from the configuration leaves autopilot healthy but tolerating one failure fewer.

    vault_raft_peers would not show it: raft sets it only when the configuration changes, and the
    30s prometheus_retention_time drops it long before the alert's `for` (go-metrics' sink).
    """
    (rule_set,) = [s for s in build(OpenBao, replicas=replicas).rule_sets if s.component == "openbao"]
    rule = alert(rule_set, "OpenBaoRaftUnhealthy")
    assert "vault_raft_peers" not in rule.expr
    where = 'namespace="${namespace}",pod="openbao-0"'
    series = (
        Series(f"vault_autopilot_healthy{{{where}}}", "1x30"),
        Series(f"vault_autopilot_failure_tolerance{{{where}}}", f"{tolerance}x30"),
    )
    case = replace(rule, tests=(RuleTest(series, "15m", fires),))
    result = run_unit_tests(replace(rule_set, alerts=(case,)), tmp_path / "raft")
    assert result.returncode == 0, result.stdout + result.stderr
