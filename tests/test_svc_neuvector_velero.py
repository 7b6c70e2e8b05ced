"""RuntimeSecurity (NeuVector core 2.11.0) and Backup (Velero 12.1.0): knobs, network, PSS, CRs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml

from sre_constructs import Backup, PlatformChart, RuntimeSecurity, ValidationError, write_tree
from sre_constructs.kernel.component import PlatformComponent
from sre_constructs.services._cron import longest_gap_seconds
from sre_constructs.services.backup import check_cron
from sre_constructs.services.runtime_security import K3S_SOCKET, controller_disruption_budget

Obj = dict[str, Any]
PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}


def tree(app: cdk8s.App) -> PlatformChart:
    return PlatformChart(app, "t", path="core")


def neuvector(app: cdk8s.App, **knobs: Any) -> RuntimeSecurity:
    return RuntimeSecurity(tree(app), "runtime-security", **knobs)


def velero(app: cdk8s.App, **knobs: Any) -> Backup:
    return Backup(tree(app), "backup", **knobs)


def policies(component: PlatformComponent) -> dict[str, Obj]:
    """Every NetworkPolicy a component emits, by name."""
    chart = cdk8s.Chart.of(component)
    return {
        d["metadata"]["name"]: d
        for d in cdk8s.Testing.synth(chart)
        if d["kind"] == "NetworkPolicy" and d["metadata"]["namespace"] == component.namespace
    }


def rule_ports(policy: Obj) -> set[int]:
    direction = "ingress" if "ingress" in policy["spec"] else "egress"
    return {p["port"] for rule in policy["spec"][direction] for p in rule.get("ports", [])}


def checks(component: PlatformComponent) -> set[tuple[str, str]]:
    return {(c.kind, c.name) for c in component.health_checks}


# --------------------------------------------------------------------------- NeuVector


def test_neuvector_defaults_are_ha_with_resources(app: cdk8s.App) -> None:
    values = neuvector(app).release.values
    assert values["controller"]["replicas"] == 3
    assert values["controller"]["disruptionbudget"] == 2  # keep a majority of 3
    assert values["cve"]["scanner"]["replicas"] == 2
    assert values["manager"]["enabled"] is True
    for block in (
        values["controller"],
        values["controller"]["certupgrader"],  # the CronJob reads only this block
        values["enforcer"],
        values["manager"],
        values["cve"]["scanner"],
        values["cve"]["updater"],
    ):
        assert set(block["resources"]) == {"requests", "limits"}
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(block["resources"][part])
    taints = {t["key"] for t in values["enforcer"]["tolerations"]}
    assert "node-role.kubernetes.io/control-plane" in taints
    assert values["leastPrivilege"] is True
    assert values["crdwebhook"]["enabled"] is True and values["crdwebhooksvc"]["enabled"] is True


@pytest.mark.parametrize(("replicas", "budget"), [(1, 0), (2, 1), (3, 2), (5, 3)])
def test_controller_pdb_keeps_a_majority_but_allows_drains(replicas: int, budget: int) -> None:
    assert controller_disruption_budget(replicas) == budget


def test_neuvector_knobs_map_to_values(app: cdk8s.App) -> None:
    values = neuvector(app, controller_replicas=5, scanner_replicas=4, manager=False).release.values
    assert values["controller"]["replicas"] == 5
    assert values["controller"]["disruptionbudget"] == 3
    assert values["cve"]["scanner"]["replicas"] == 4
    assert values["manager"]["enabled"] is False


@pytest.mark.parametrize(
    ("runtime", "expected"),
    [
        ("containerd", None),
        ("k3s", K3S_SOCKET),
        ("rke2", K3S_SOCKET),
        ("crio", "/var/run/crio/crio.sock"),
    ],
)
def test_runtime_knob_sets_runtime_path(app: cdk8s.App, runtime: str, expected: str | None) -> None:
    values = neuvector(app, runtime=runtime).release.values
    assert values.get("runtimePath") == expected
    # The deprecated per-runtime switches are never used.
    for key in ("k3s", "containerd", "crio", "bottlerocket", "docker"):
        assert key not in values


def test_neuvector_user_values_win(app: cdk8s.App) -> None:
    values = neuvector(
        app,
        controller_replicas=3,
        values={
            "controller": {"replicas": 7},
            "runtimePath": "/custom.sock",
        },
    ).release.values
    assert values["controller"]["replicas"] == 7
    assert values["controller"]["disruptionbudget"] == 2  # untouched keys survive the merge
    assert values["runtimePath"] == "/custom.sock"


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("controller_replicas", 0),
        ("controller_replicas", "3"),
        ("scanner_replicas", True),
        ("runtime", "docker"),
        ("manager", "yes"),
        ("registry_egress", 1),
        ("manager_ingress_namespaces", "ingress-nginx"),
        ("manager_ingress_namespaces", ["Bad_NS"]),
        ("values", ["runtimePath"]),
    ],
)
def test_neuvector_bad_knob_names_field_and_value(app: cdk8s.App, knob: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        neuvector(app, **{knob: value})
    assert caught.value.field == knob
    assert knob in str(caught.value) and repr(value if not isinstance(value, list) else value[0]) in str(caught.value)


def test_manager_ingress_needs_the_manager(app: cdk8s.App) -> None:
    with pytest.raises(ValidationError, match="manager_ingress_namespaces"):
        neuvector(app, manager=False, manager_ingress_namespaces=["ingress-nginx"])


def test_neuvector_namespace_is_privileged_with_reason(app: cdk8s.App) -> None:
    level = neuvector(app).pod_security["neuvector"]
    assert level.level == "privileged"
    assert "enforcer" in level.reason and "uid 0" in level.reason


def test_neuvector_network_paths(app: cdk8s.App) -> None:
    nps = policies(neuvector(app))
    webhooks = nps["allow-webhooks-from-api-server"]
    assert rule_ports(webhooks) == {20443, 30443}
    assert webhooks["spec"]["podSelector"]["matchLabels"] == {"app": "neuvector-controller-pod"}
    assert rule_ports(nps["allow-api-server"]) == {443, 6443}
    egress = nps["allow-scanner-registries"]
    assert rule_ports(egress) == {443}
    assert egress["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert egress["spec"]["podSelector"]["matchLabels"] == {"app": "neuvector-scanner-pod"}
    # The updater only asks the API server to restart the scanner: no registry egress of its own.
    assert "allow-updater-registries" not in nps
    # The UI stays inside the namespace unless asked.
    assert "allow-manager-ui" not in nps


def test_neuvector_network_knobs(app: cdk8s.App) -> None:
    nps = policies(neuvector(app, registry_egress=False, manager_ingress_namespaces=["ingress-nginx"]))
    assert not any(name.endswith("-registries") for name in nps)
    ui = nps["allow-manager-ui"]
    assert rule_ports(ui) == {8443}
    assert ui["spec"]["podSelector"]["matchLabels"] == {"app": "neuvector-manager-pod"}
    assert ui["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }


def test_neuvector_health_checks_follow_manager(app: cdk8s.App) -> None:
    on = neuvector(cdk8s.App(), wait=False)
    assert checks(on) == {
        ("Deployment", "neuvector-controller-pod"),
        ("Deployment", "neuvector-manager-pod"),
        ("Deployment", "neuvector-scanner-pod"),
        ("DaemonSet", "neuvector-enforcer-pod"),
    }
    off = neuvector(app, wait=False, manager=False)
    assert ("Deployment", "neuvector-manager-pod") not in checks(off)
    flux = cdk8s.Testing.synth(cdk8s.Chart.of(off))
    kustomization = next(
        d for d in flux if d["kind"] == "Kustomization" and d["metadata"]["name"] == "runtime-security"
    )
    assert {c["name"] for c in kustomization["spec"]["healthChecks"]} == {n for _, n in checks(off)}


def test_only_one_release_installs_neuvector_crds(default_tree: Path) -> None:
    """Core installs the neuvector.com CRDs (crdwebhook.enabled); the `crd` chart is never installed."""
    owners = []
    for path in default_tree.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "HelmRelease":
                continue
            spec = doc["spec"]["chart"]["spec"]
            repo = spec["sourceRef"]["name"]
            values = doc["spec"].get("values", {})
            if spec["chart"] == "crd" and repo == "neuvector":
                owners.append(doc["metadata"]["name"])
            if spec["chart"] == "core" and repo == "neuvector" and values.get("crdwebhook", {}).get("enabled", True):
                owners.append(doc["metadata"]["name"])
    assert owners == ["neuvector"]


# --------------------------------------------------------------------------- Velero


def test_velero_defaults(app: cdk8s.App) -> None:
    values = velero(app).release.values
    plugin = values["initContainers"][0]
    assert plugin["image"] == "docker.io/velero/velero-plugin-for-aws:v1.14.4"  # the Velero 1.18 line
    assert plugin["securityContext"]["allowPrivilegeEscalation"] is False
    assert plugin["volumeMounts"] == [{"mountPath": "/target", "name": "plugins"}]
    assert values["credentials"] == {"useSecret": True, "existingSecret": "velero-credentials"}
    assert "secretContents" not in values["credentials"]  # never plaintext
    [bsl] = values["configuration"]["backupStorageLocation"]
    assert bsl["provider"] == "aws" and bsl["bucket"] == "velero-backups" and bsl["default"] is True
    assert bsl["config"] == {"region": "us-east-1", "s3ForcePathStyle": "false"}
    assert bsl["credential"] == {"name": "velero-credentials", "key": "cloud"}
    assert values["snapshotsEnabled"] is False
    assert "prefix" not in bsl and "caCert" not in bsl
    assert values["configuration"]["uploaderType"] == "kopia"
    assert values["deployNodeAgent"] is True
    assert values["metrics"]["serviceMonitor"] == {"enabled": True, "autodetect": False}
    assert values["metrics"]["nodeAgentPodMonitor"]["enabled"] is True
    for resources in (
        values["resources"],
        values["nodeAgent"]["resources"],
        plugin["resources"],
        values["upgradeJobResources"],
    ):
        assert {"requests", "limits"} == set(resources)
    assert values["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["schedules"]["daily"]["schedule"] == "0 2 * * *"
    assert values["schedules"]["daily"]["template"]["ttl"] == "168h"
    assert values["schedules"]["weekly"]["schedule"] == "0 3 * * 0"
    assert values["schedules"]["weekly"]["template"]["ttl"] == "720h"


def test_velero_storage_knobs(app: cdk8s.App) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    backup = velero(
        app,
        bucket="platform-backups",
        prefix="cluster-a",
        s3_url="https://minio.example.com:9000",
        region="eu-west-1",
        s3_force_path_style=True,
        ca_cert=pem,
    )
    [bsl] = backup.release.values["configuration"]["backupStorageLocation"]
    assert bsl["bucket"] == "platform-backups" and bsl["prefix"] == "cluster-a"
    assert bsl["config"] == {
        "region": "eu-west-1",
        "s3ForcePathStyle": "true",
        "s3Url": "https://minio.example.com:9000",
    }
    assert base64.b64decode(bsl["caCert"]).decode() == pem
    assert rule_ports(policies(backup)["allow-object-storage"]) == {9000}


@pytest.mark.parametrize(("url", "port"), [(None, 443), ("https://s3.example.com", 443), ("http://minio.local", 80)])
def test_object_storage_port_follows_s3_url(app: cdk8s.App, url: str | None, port: int) -> None:
    egress = policies(velero(app, s3_url=url))["allow-object-storage"]
    assert rule_ports(egress) == {port}
    assert egress["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert egress["metadata"]["annotations"]["sre-constructs.io/peer"] == "object storage"


def test_velero_schedule_knobs(app: cdk8s.App) -> None:
    values = velero(app, daily_schedule="30 1 * * 1-5", daily_ttl="72h", weekly_schedule=None).release.values
    assert values["schedules"]["daily"]["schedule"] == "30 1 * * 1-5"
    assert values["schedules"]["daily"]["template"]["ttl"] == "72h"
    assert "weekly" not in values["schedules"]


def test_velero_user_values_win(app: cdk8s.App) -> None:
    values = velero(
        app,
        values={
            "deployNodeAgent": False,
            "configuration": {"uploaderType": "restic"},
            "schedules": {"daily": {"paused": True}},
        },
    ).release.values
    assert values["deployNodeAgent"] is False
    assert values["configuration"]["uploaderType"] == "restic"
    assert values["configuration"]["backupStorageLocation"][0]["bucket"] == "velero-backups"
    assert values["schedules"]["daily"]["paused"] is True and values["schedules"]["daily"]["schedule"] == "0 2 * * *"


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("bucket", "Bad_Bucket"),
        ("bucket", ""),
        ("prefix", "/lead"),
        ("prefix", ""),
        ("s3_url", "minio:9000"),
        ("s3_url", "https://minio.example.com:99999"),
        ("region", ""),
        ("s3_force_path_style", "true"),
        ("ca_cert", "not a pem"),
        ("secret_store", "Open_Bao"),
        ("credentials_key", ""),
        ("daily_schedule", "0 2 * *"),
        ("daily_schedule", "61 2 * * *"),
        ("weekly_schedule", "0 3 * * 8"),
        ("daily_schedule", "@daily"),
        ("daily_ttl", "7d"),
        ("weekly_ttl", "0h"),
        ("weekly_ttl", "0s0ms"),
        ("daily_ttl", "0h0m"),
        ("node_agent", 1),
        ("monitoring_namespace", "Monitoring"),
        ("values", "a: 1"),
    ],
)
def test_velero_bad_knob_names_field_and_value(app: cdk8s.App, knob: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        velero(app, **{knob: value})
    assert caught.value.field == knob
    assert knob in str(caught.value) and repr(value) in str(caught.value)


@pytest.mark.parametrize("cron", ["0 2 * * *", "*/15 * * * *", "0 0 1,15 * *", "0 3 * JAN-JUN SUN", "5 4 * * 7"])
def test_cron_accepts_standard_expressions(cron: str) -> None:
    assert check_cron("x", "cron", cron) == cron


_HOUR, _DAY = 3600, 86400


@pytest.mark.parametrize(
    ("cron", "gap"),
    [
        ("0 2 * * *", _DAY),
        ("0 3 * * 0", 7 * _DAY),
        ("0 3 * * 7", 7 * _DAY),  # 7 is Sunday too
        ("*/15 * * * *", 900),
        ("0 */6 * * *", 6 * _HOUR),
        ("0 1,23 * * *", 22 * _HOUR),  # uneven: the longest gap counts
        ("30 1 * * 1-5", 3 * _DAY),  # Friday to Monday
        ("0 0 1 * *", 31 * _DAY),
        ("0 0 13 * 5", 7 * _DAY),  # both day fields restricted: the 13th OR a Friday
        ("0 0 */2 * 5", 2 * _DAY),  # a stepped day of month is no wildcard: odd days OR Fridays
        ("0 0 * * */1", _DAY),  # */1 is a wildcard: every day
        ("0 0 29 2 *", 4 * 365 * _DAY + _DAY),
    ],
)
def test_cron_longest_gap(cron: str, gap: int) -> None:
    assert longest_gap_seconds(cron) == gap


def test_schedule_intervals_follow_the_schedules(app: cdk8s.App) -> None:
    assert velero(app).schedule_intervals == {"velero-daily": _DAY, "velero-weekly": 7 * _DAY}
    other = velero(
        cdk8s.App(),
        release_name="bk",
        daily_schedule="0 */4 * * *",
        weekly_schedule=None,
        values={"schedules": {"monthly": {"schedule": "0 0 1 * *"}}},
    )
    assert other.schedule_intervals == {"bk-velero-daily": 4 * _HOUR, "bk-velero-monthly": 31 * _DAY}


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"daily_schedule": "0 0 31 2 *"}, "daily_schedule"),
        ({"values": {"schedules": {"extra": {"schedule": "every day"}}}}, "values.schedules.extra.schedule"),
    ],
)
def test_schedules_that_never_run_are_refused(app: cdk8s.App, knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        velero(app, **knobs)
    assert caught.value.field == field


def test_external_secret_from_openbao(app: cdk8s.App) -> None:
    backup = velero(app, secret_store="vault", credentials_key="clusters/a/velero")
    body = backup.credentials.body
    assert body["apiVersion"] == "external-secrets.io/v1" and body["kind"] == "ExternalSecret"
    assert body["metadata"] == {"name": "velero-credentials", "namespace": "velero"}
    spec = body["spec"]
    assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert {d["secretKey"]: d["remoteRef"] for d in spec["data"]} == {
        "access_key_id": {"key": "clusters/a/velero", "property": "access_key_id"},
        "secret_access_key": {"key": "clusters/a/velero", "property": "secret_access_key"},
    }
    template = spec["target"]["template"]
    assert spec["target"]["name"] == "velero-credentials"
    assert template["engineVersion"] == "v2"
    assert template["data"]["cloud"].splitlines() == [
        "[default]",
        "aws_access_key_id={{ .access_key_id }}",
        "aws_secret_access_key={{ .secret_access_key }}",
    ]
    assert Backup.requires_external_secrets is True


@pytest.mark.parametrize(("node_agent", "level"), [(True, "privileged"), (False, "restricted")])
def test_velero_pss_and_health_follow_node_agent(app: cdk8s.App, node_agent: bool, level: str) -> None:
    backup = velero(app, node_agent=node_agent, wait=False)
    security = backup.pod_security["velero"]
    assert security.level == level
    if node_agent:
        assert "node-agent" in security.reason
    expected = {("Deployment", "velero")} | ({("DaemonSet", "node-agent")} if node_agent else set())
    assert checks(backup) == expected
    for schedule in backup.release.values["schedules"].values():
        assert schedule["template"]["defaultVolumesToFsBackup"] is node_agent
    assert backup.release.values["metrics"]["nodeAgentPodMonitor"]["enabled"] is node_agent


def test_velero_pss_follows_final_values(app: cdk8s.App) -> None:
    """User values win, and the namespace level follows them."""
    loose = velero(app, node_agent=False, values={"containerSecurityContext": {"allowPrivilegeEscalation": True}})
    assert loose.pod_security["velero"].level == "baseline" and loose.pod_security["velero"].reason
    forced = velero(cdk8s.App(), node_agent=False, values={"deployNodeAgent": True}, wait=False)
    assert forced.pod_security["velero"].level == "privileged"
    assert ("DaemonSet", "node-agent") in checks(forced)


def test_velero_network_paths(app: cdk8s.App) -> None:
    nps = policies(velero(app, monitoring_namespace="observability"))
    assert rule_ports(nps["allow-api-server"]) == {443, 6443}
    metrics = nps["allow-metrics-from-prometheus"]
    assert rule_ports(metrics) == {8085}
    peer = metrics["spec"]["ingress"][0]["from"][0]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "observability"}
    assert peer["podSelector"]["matchLabels"] == PROMETHEUS


# --------------------------------------------------------------------------- trees


def test_emitted_objects_validate_against_crds(tmp_path: Path) -> None:
    from sre_constructs.kernel.tree_check import check_tree

    app = cdk8s.App()
    chart = tree(app)
    RuntimeSecurity(chart, "runtime-security", runtime="rke2", manager_ingress_namespaces=["ingress-nginx"])
    Backup(
        chart,
        "backup",
        s3_url="https://minio.example.com:9000",
        prefix="a",
        ca_cert="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    write_tree(app, tmp_path)
    assert check_tree(tmp_path / "core", kustomize=False) == []
    docs = [d for d in yaml.safe_load_all((tmp_path / "core" / "backup" / "externalsecret.yaml").read_text()) if d]
    assert [d["kind"] for d in docs] == ["ExternalSecret"]


def test_default_platform_keeps_both_services(default_tree: Path) -> None:
    for folder, namespace in (("runtime-security", "neuvector"), ("backup", "velero")):
        ns = yaml.safe_load((default_tree / folder / "namespace.yaml").read_text())
        assert ns["metadata"]["name"] == namespace
        assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
