"""Someone is told: the alerting knob, the Alertmanager configuration it renders, its credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App, Chart

from sre_constructs import CorePlatform, Monitoring, ValidationError, write_tree
from sre_constructs.cluster import load_cluster, parse_cluster
from sre_constructs.fleet import build_fleet
from sre_constructs.plan import plan_app, plan_clusters
from sre_constructs.platform import SERVICES
from sre_constructs.services._alertmanager import PLATFORM_COMPONENTS, SECRETS_DIR, SECRETS_NAME, parse_alerting

REPO = Path(__file__).resolve().parent.parent

# Every receiver type, a heartbeat and routes by severity and component.
EVERY_RECEIVER: dict[str, Any] = {
    "receivers": [
        {"name": "oncall", "type": "pagerduty"},
        {"name": "platform-slack", "type": "slack", "channel": "#platform-alerts"},
        {"name": "ops-hook", "type": "webhook", "url": "https://hooks.example.com/am", "bearer_token": True},
        {"name": "plain-hook", "type": "webhook", "url": "https://audit.example.com/am"},
        {
            "name": "ops-mail",
            "type": "email",
            "to": "ops@example.com",
            "from": "am@example.com",
            "smarthost": "smtp.example.com:587",
            "username": "am",
            "secret": "teams/ops/smtp",
        },
    ],
    "routes": [
        {"receiver": "oncall", "severity": "critical", "continue": True},
        {"receiver": "ops-mail", "platform_component": ["backup", "openbao"], "severity": ["critical", "warning"]},
        {"receiver": "platform-slack", "severity": ["critical", "warning"], "repeat_interval": "2h"},
        {"receiver": "plain-hook", "severity": "info"},
    ],
    "default_receiver": "ops-hook",
    "heartbeat": {"url": "https://heartbeat.example.com/ping", "bearer_token": True, "repeat_interval": "2m"},
}

# What a credential looks like if one leaked: keys that hold one inline, and known secret URL shapes.
_INLINE_CREDENTIAL_KEYS = {
    "api_url",
    "routing_key",
    "service_key",
    "auth_password",
    "auth_secret",
    "bearer_token",
    "credentials",
    "password",
    "url_file",
}
_SECRET_URL = re.compile(r"hooks\.slack\.com|events\.pagerduty\.com")


def _amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.skip("amtool missing: install the Debian package prometheus-alertmanager")
    return found


def _written(tmp_path: Path, alerting: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    app = App()
    CorePlatform(app, "core", alerting=alerting)
    write_tree(app, tmp_path)
    return {
        p.relative_to(tmp_path).as_posix(): [d for d in yaml.safe_load_all(p.read_text()) if d is not None]
        for p in sorted(tmp_path.rglob("*.yaml"))
    }


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return _written(tmp_path_factory.mktemp("alerting"), EVERY_RECEIVER)


def _one(tree: dict[str, list[dict[str, Any]]], kind: str, name: str) -> dict[str, Any]:
    found = [
        d for docs in tree.values() for d in docs if d.get("kind") == kind and d.get("metadata", {}).get("name") == name
    ]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _config(tree: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    release = _one(tree, "HelmRelease", "kube-prometheus-stack")
    config: dict[str, Any] = release["spec"]["values"]["alertmanager"]["config"]
    return config


def _walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


# -- the rendered configuration, checked by Alertmanager's own tool --------------------------------


def test_amtool_accepts_the_rendered_configuration(tree: dict[str, Any], tmp_path: Path) -> None:
    amtool = _amtool()
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(_config(tree)))
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 receivers" in result.stdout  # null, heartbeat and the five above


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["alertname=Watchdog", "severity=none"], ["heartbeat"]),
        (["alertname=InfoInhibitor", "severity=none"], ["null"]),
        (["alertname=OpenBaoSealed", "severity=critical", "platform_component=openbao"], ["oncall", "ops-mail"]),
        (
            ["alertname=CertNotReady", "severity=critical", "platform_component=cert-manager"],
            ["oncall", "platform-slack"],
        ),
        (["alertname=VeleroBackupPartial", "severity=warning", "platform_component=backup"], ["ops-mail"]),
        (["alertname=KyvernoSlow", "severity=warning", "platform_component=kyverno"], ["platform-slack"]),
        (["alertname=LokiDrops", "severity=info", "platform_component=logging"], ["plain-hook"]),
        (["alertname=KubePodCrashLooping"], ["ops-hook"]),
    ],
)
def test_amtool_routes_alerts_by_severity_and_component(
    tree: dict[str, Any], tmp_path: Path, labels: list[str], receivers: list[str]
) -> None:
    amtool = _amtool()
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(_config(tree)))
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().split(",") == receivers


def test_without_heartbeat_watchdog_goes_to_null_and_never_to_people() -> None:
    alerting = parse_alerting("t", {"receivers": [{"name": "pager", "type": "pagerduty"}], "default_receiver": "pager"})
    watchdog = alerting.config["route"]["routes"][0]
    assert watchdog == {"receiver": "null", "matchers": ['alertname="Watchdog"']}
    assert "continue" not in watchdog  # stops here: the default receiver never sees it
    assert [r["name"] for r in alerting.config["receivers"]] == ["null", "pager"]


def test_heartbeat_repeats_on_its_interval(tree: dict[str, Any]) -> None:
    route = _config(tree)["route"]
    watchdog = route["routes"][0]
    assert watchdog["matchers"] == ['alertname="Watchdog"']
    assert (watchdog["receiver"], watchdog["group_wait"], watchdog["repeat_interval"]) == ("heartbeat", "0s", "2m")
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("30s", "5m", "4h")
    assert route["group_by"] == ["alertname", "platform_component", "namespace"]
    heartbeat = next(r for r in _config(tree)["receivers"] if r["name"] == "heartbeat")
    assert heartbeat["webhook_configs"][0]["send_resolved"] is False


def test_a_critical_silences_the_warning_of_the_same_alert_and_target(tree: dict[str, Any]) -> None:
    rules = _config(tree)["inhibit_rules"]
    critical = next(r for r in rules if r["source_matchers"] == ['severity="critical"'])
    assert critical["target_matchers"] == ['severity=~"warning|info"']
    assert {"alertname", "namespace", "exported_namespace", "name", "platform_component", "instance", "pod"} <= set(
        critical["equal"]
    )
    warning = next(r for r in rules if r["source_matchers"] == ['severity="warning"'])
    assert warning["target_matchers"] == ['severity="info"'] and warning["equal"] == critical["equal"]


# -- credentials: OpenBao -> ExternalSecret -> mounted Secret -> *_file ----------------------------


def test_no_credential_value_anywhere_in_the_tree(tree: dict[str, list[dict[str, Any]]]) -> None:
    for file, docs in tree.items():
        for doc in docs:
            assert doc.get("kind") != "Secret", f"{file}: a Secret in git ({doc['metadata']['name']})"
            for path, key, value in _walk(doc):
                # Inside Alertmanager's configuration, only *_file fields may name a credential.
                assert ".alertmanager." not in path or key not in _INLINE_CREDENTIAL_KEYS, (file, path)
                assert not (isinstance(value, str) and _SECRET_URL.search(value)), (file, path)
    config = _config(tree)
    files = [path for path, key, _ in _walk(config) if key.endswith("_file")]
    assert len(files) == 5  # the scan above saw the credentials, as files


def test_external_secret_mount_and_file_paths_line_up(tree: dict[str, list[dict[str, Any]]]) -> None:
    external = _one(tree, "ExternalSecret", SECRETS_NAME)
    spec = external["spec"]
    assert external["metadata"]["namespace"] == "monitoring"
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "openbao"}
    assert spec["target"]["name"] == SECRETS_NAME
    keys = {item["secretKey"]: item["remoteRef"] for item in spec["data"]}
    release = _one(tree, "HelmRelease", "kube-prometheus-stack")
    assert release["spec"]["values"]["alertmanager"]["alertmanagerSpec"]["secrets"] == [SECRETS_NAME]
    files = [value for path, key, value in _walk(_config(tree)) if key.endswith("_file")]
    assert sorted(files) == sorted(f"{SECRETS_DIR}/{key}" for key in keys)  # every file read, every key used
    assert keys["oncall.routing_key"] == {"key": "platform/alertmanager/oncall", "property": "routing_key"}
    assert keys["platform-slack.api_url"] == {"key": "platform/alertmanager/platform-slack", "property": "api_url"}
    assert keys["ops-hook.token"] == {"key": "platform/alertmanager/ops-hook", "property": "token"}
    assert keys["ops-mail.password"] == {"key": "teams/ops/smtp", "property": "password"}
    assert keys["heartbeat.token"] == {"key": "platform/alertmanager/heartbeat", "property": "token"}
    assert "plain-hook.token" not in keys  # no bearer token asked for, none read


def test_the_external_secret_waits_for_the_store_not_monitoring(tree: dict[str, list[dict[str, Any]]]) -> None:
    companion = _one(tree, "Kustomization", "monitoring-alerting")
    after = {ref["name"] for ref in companion["spec"]["dependsOn"]}
    assert after == {"monitoring", "external-secrets-config"}
    monitoring = _one(tree, "Kustomization", "monitoring")
    assert "external-secrets-config" not in {ref["name"] for ref in monitoring["spec"].get("dependsOn", [])}


def test_alertmanager_health_check_is_dropped_while_it_waits_for_credentials() -> None:
    def checks(alerting: dict[str, Any] | None) -> set[str]:
        monitoring = Monitoring(Chart(App(), "c"), "monitoring", wait=False, alerting=alerting, secret_store="openbao")
        return {check.name for check in monitoring.health_checks}

    with_pager = {"receivers": [{"name": "pager", "type": "pagerduty"}], "default_receiver": "pager"}
    assert "alertmanager-kube-prometheus-stack-alertmanager" in checks(None)
    assert "alertmanager-kube-prometheus-stack-alertmanager" not in checks(with_pager)
    assert "prometheus-kube-prometheus-stack-prometheus" in checks(with_pager)


# -- the plan tells -----------------------------------------------------------------------------


def test_plan_says_plainly_when_alerts_reach_no_one() -> None:
    app = App()
    CorePlatform(app, "core")
    plan = plan_app(app)
    assert plan.ok
    assert any("alerts reach no one" in note for note in plan.notes), plan.notes
    app = App()
    CorePlatform(app, "core", alerting={"heartbeat": {"url": "https://hb.example.com/x"}})
    assert any("alerts reach no one" in note for note in plan_app(app).notes)  # a heartbeat is not a person


def test_plan_of_production_lists_each_credential_and_is_quiet_about_delivery() -> None:
    (plan,) = plan_clusters([REPO / "clusters" / "production.yaml"])
    assert plan.ok, plan.render("text")
    assert not any("alerts reach no one" in note for note in plan.notes)
    spec = load_cluster(REPO / "clusters" / "production.yaml")
    assert spec.alerting is not None
    commands = "\n".join(step["command"] for step in plan.manual_steps)
    for credential in parse_alerting("production", spec.alerting).credentials:
        assert f"bao kv put -mount=secret {credential.path} {credential.prop}=" in commands
    # docs/alerting.md shows these exact commands: keep it current.
    doc = (REPO / "docs" / "alerting.md").read_text(encoding="utf-8")
    for step in plan.manual_steps:
        if "platform/alertmanager/" in step["command"]:
            assert step["command"] in doc, "docs/alerting.md: stale command, copy it from `sre-constructs plan`"


def test_production_example_renders_a_configuration_amtool_accepts(tmp_path: Path) -> None:
    amtool = _amtool()
    app = App()
    build_fleet(app, [load_cluster(REPO / "clusters" / "production.yaml")])
    write_tree(app, tmp_path)
    (release,) = [
        d
        for p in tmp_path.rglob("helmrelease.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and d["metadata"]["name"] == "kube-prometheus-stack"
    ]
    config = tmp_path / "alertmanager.yaml"
    config.write_text(yaml.safe_dump(release["spec"]["values"]["alertmanager"]["config"]))
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# -- validation: field, value and what is allowed ----------------------------------------------


def _with(receiver: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    receivers = [receiver or {"name": "pager", "type": "pagerduty"}]
    return {"receivers": receivers, "default_receiver": receivers[0].get("name"), **top}


@pytest.mark.parametrize(
    ("alerting", "field", "allowed"),
    [
        (_with({"name": "x", "type": "teams"}), "alerting.receivers[0].type", "slack, pagerduty, webhook, email"),
        (_with(routes=[{"receiver": "nobody"}]), "alerting.routes[0].receiver", "pager"),
        (_with(routes=[{"receiver": "pager", "severity": "page"}]), "alerting.routes[0].severity[0]", "critical"),
        (
            _with(routes=[{"receiver": "pager", "platform_component": ["openbao", "vault"]}]),
            "alerting.routes[0].platform_component[1]",
            "cert-manager",
        ),
        (_with(routes=[{"receiver": "pager", "matchers": ["a=b"]}]), "alerting.routes[0].matchers", "severity"),
        (
            _with({"name": "hook", "type": "webhook", "url": "http://hooks.example.com/x"}),
            "alerting.receivers[0].url",
            "https://",
        ),
        (
            _with({"name": "hook", "type": "webhook", "url": "https://user:pw@hooks.example.com/x"}),
            "alerting.receivers[0].url",
            "without credentials",
        ),
        (
            _with({"name": "chat", "type": "slack", "api_url": "https://hooks.slack.com/services/T0/B0/SECRET"}),
            "alerting.receivers[0].api_url",
            "OpenBao",
        ),
        (
            _with({"name": "chat", "type": "slack", "url": "https://x.example.com"}),
            "alerting.receivers[0].url",
            "OpenBao",
        ),
        (_with(group_wait="soon"), "alerting.group_wait", "Prometheus duration"),
        (
            _with(routes=[{"receiver": "pager", "repeat_interval": "1x"}]),
            "alerting.routes[0].repeat_interval",
            "duration",
        ),
        (
            _with(heartbeat={"url": "https://hb.example.com", "repeat_interval": "1h"}),
            "alerting.heartbeat.repeat_interval",
            "between 30s and 15m",
        ),
        (_with(heartbeat={"url": "http://hb.example.com"}), "alerting.heartbeat.url", "https://"),
        (_with(default_receiver="pagr"), "alerting.default_receiver", "pager"),
        (
            {"receivers": [{"name": "pager", "type": "pagerduty"}]},
            "alerting.receivers[0].name",
            "routes or default_receiver",
        ),
        (_with({"name": "null", "type": "pagerduty"}), "alerting.receivers[0].name", "other than"),
        (
            _with({"name": "pager", "type": "pagerduty", "secret": "/abs//path"}),
            "alerting.receivers[0].secret",
            "KV path",
        ),
        (
            _with({"name": "mail", "type": "email", "to": "ops", "from": "a@example.com", "smarthost": "m:25"}),
            "alerting.receivers[0].to",
            "email address",
        ),
        (_with(receivers_typo=[]), "alerting.receivers_typo", "receivers"),
    ],
)
def test_bad_alerting_names_field_value_and_allowed(alerting: dict[str, Any], field: str, allowed: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CorePlatform(App(), "core", alerting=alerting)
    assert caught.value.field == field
    assert allowed in caught.value.allowed
    assert "SECRET" not in str(caught.value)  # a credential pasted by mistake is not echoed


def test_credentials_need_a_secret_store() -> None:
    with pytest.raises(ValidationError) as caught:
        CorePlatform(
            App(),
            "core",
            alerting=_with(),
            services={"external-secrets": {"enabled": False}, "backup": {"enabled": False}},
        )
    assert caught.value.field == "secret_store"
    assert "ClusterSecretStore" in caught.value.allowed


def test_alerting_needs_monitoring() -> None:
    with pytest.raises(ValidationError) as caught:
        CorePlatform(App(), "core", alerting=_with(), services={"monitoring": {"enabled": False}})
    assert caught.value.field == "services.monitoring.enabled"


def test_the_monitoring_knob_wins_over_the_platform_one() -> None:
    mine = {
        "receivers": [{"name": "mine", "type": "webhook", "url": "https://a.example.com"}],
        "default_receiver": "mine",
    }
    core = CorePlatform(App(), "core", alerting=_with(), services={"monitoring": {"alerting": mine}})
    assert core.monitoring is not None
    names = [r["name"] for r in core.monitoring.release.values["alertmanager"]["config"]["receivers"]]
    assert names == ["null", "mine"]
    assert core.monitoring.alerting is None  # no credential read: no ExternalSecret, no companion


def test_component_names_are_the_platforms_services_and_flux() -> None:
    assert set(PLATFORM_COMPONENTS) == {spec.name for spec in SERVICES} | {"flux"}


def test_the_default_platform_keeps_the_charts_configuration() -> None:
    core = CorePlatform(App(), "core")
    assert core.monitoring is not None
    assert "config" not in core.monitoring.release.values["alertmanager"]
    assert "secrets" not in core.monitoring.release.values["alertmanager"]["alertmanagerSpec"]


# -- cluster files ------------------------------------------------------------------------------

_CLUSTER = "name: c\ngit:\n  url: https://git.example.com/x.git\nalerting:\n  receivers:\n"


def test_cluster_file_alerting_errors_point_at_the_line() -> None:
    spec = parse_cluster(_CLUSTER + "    - name: pager\n      type: pagr\n", "c.yaml")
    with pytest.raises(ValidationError) as caught:
        spec.platform(App())
    assert (caught.value.where, caught.value.field, caught.value.value) == (
        "c.yaml:7",
        "alerting.receivers[0].type",
        "pagr",
    )


def test_cluster_file_alerting_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_cluster("name: c\ngit:\n  url: https://git.example.com/x.git\nalerting: slack\n", "c.yaml")
    assert (caught.value.where, caught.value.field) == ("c.yaml:4", "alerting")


def test_alertmanager_may_reach_mail_relays_and_webhooks_on_their_ports() -> None:
    alerting = {
        **EVERY_RECEIVER,
        "heartbeat": {"url": "https://hb.example.com:8443/ping"},
    }
    monitoring = Monitoring(Chart(App(), "c"), "monitoring", alerting=alerting, secret_store="openbao")
    needs = {need.name: need for _, need in monitoring.network_needs}
    assert {p.port for p in needs["alertmanager-receiver-ports"].ports} == {587, 8443}
    plain = Monitoring(Chart(App(), "c"), "monitoring", alerting={"heartbeat": {"url": "https://hb.example.com/x"}})
    assert "alertmanager-receiver-ports" not in {need.name for _, need in plain.network_needs}  # 443 is open already


def test_an_unauthenticated_mail_relay_reads_no_credential() -> None:
    mail = {"name": "relay", "type": "email", "to": "ops@example.com", "from": "am@example.com", "smarthost": "mx:25"}
    alerting = parse_alerting("t", {"receivers": [mail], "default_receiver": "relay"})
    (entry,) = alerting.config["receivers"][1]["email_configs"]
    assert "auth_username" not in entry and "auth_password_file" not in entry
    assert alerting.credentials == [] and alerting.ports == [25]


@pytest.mark.parametrize(
    ("values", "noted"),
    [
        ({"alertmanager": {"config": {"route": {"receiver": "team"}, "receivers": [{"name": "team"}]}}}, True),
        (
            {
                "alertmanager": {
                    "config": {
                        "route": {"receiver": "team"},
                        "receivers": [{"name": "team", "webhook_configs": [{"url": "https://a.example.com"}]}],
                    }
                }
            },
            False,
        ),
        ({"alertmanager": {"alertmanagerSpec": {"configSecret": "my-alertmanager"}}}, False),
        ({"alertmanager": {"enabled": False}}, False),
    ],
    ids=["receiver-without-configs", "hand-written-receiver", "config-secret", "no-alertmanager"],
)
def test_the_note_reads_any_configuration_in_the_tree(values: dict[str, Any], noted: bool) -> None:
    app = App()
    CorePlatform(app, "core", services={"monitoring": {"values": values}})
    notes = plan_app(app).notes
    assert any("alerts reach no one" in note for note in notes) is noted, notes
