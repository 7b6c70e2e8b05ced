"""Monitoring (kube-prometheus-stack) and Logging (Loki + Alloy): knobs, safety, network, health, schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest
from cdk8s import App, Chart

from sre_constructs import Logging, Monitoring, PlatformChart, ValidationError, write_tree
from sre_constructs.kernel.network import NetworkNeed


def _chart() -> Chart:
    return Chart(App(), "c")


def _needs(component: Any, namespace: str | None = None) -> dict[str, NetworkNeed]:
    return {need.name: need for ns, need in component.network_needs if namespace is None or ns == namespace}


def _ports(need: NetworkNeed) -> set[int | str]:
    return {p.port for p in need.ports}


def _checks(component: Any) -> set[tuple[str, str, str]]:
    return {(c.kind, c.name, c.namespace) for c in component.health_checks}


# -- Monitoring ---------------------------------------------------------------------------------


def test_monitoring_knobs_map_to_chart_values() -> None:
    mon = Monitoring(
        _chart(),
        "mon",
        prometheus_replicas=3,
        alertmanager_replicas=1,
        retention="30d",
        retention_size="40GB",
        storage_size="80Gi",
        storage_class="fast",
        alertmanager_storage_size="3Gi",
        managed_control_plane=True,
    )
    v = mon.release.values
    spec = v["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 3 and spec["retention"] == "30d" and spec["retentionSize"] == "40GB"
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "80Gi" and claim["storageClassName"] == "fast"
    assert v["prometheus"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    am = v["alertmanager"]["alertmanagerSpec"]
    assert am["replicas"] == 1
    # Alertmanager's volume key is `storage`, not `storageSpec`.
    assert "storageSpec" not in am
    assert am["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "3Gi"
    assert am["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "fast"
    # One replica: a minAvailable-1 PDB would block node drains.
    assert v["alertmanager"]["podDisruptionBudget"]["enabled"] is False
    for target in ("kubeEtcd", "kubeControllerManager", "kubeScheduler", "kubeProxy"):
        assert v[target] == {"enabled": False}
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


def test_monitoring_defaults_are_production_grade() -> None:
    v = Monitoring(_chart(), "mon").release.values
    spec = v["prometheus"]["prometheusSpec"]
    assert spec["replicas"] == 2 and spec["retention"] == "15d" and "retentionSize" not in spec
    assert "storageClassName" not in spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert spec["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert v["alertmanager"]["alertmanagerSpec"]["replicas"] == 2
    assert v["alertmanager"]["alertmanagerSpec"]["storage"]["volumeClaimTemplate"]["spec"]["resources"] == {
        "requests": {"storage": "5Gi"}
    }
    assert v["prometheus"]["podDisruptionBudget"]["enabled"] and v["alertmanager"]["podDisruptionBudget"]["enabled"]
    # requests and limits for every component
    for resources in (
        v["prometheusOperator"]["resources"],
        v["prometheusOperator"]["prometheusConfigReloader"]["resources"],
        v["prometheusOperator"]["admissionWebhooks"]["patch"]["resources"],
        spec["resources"],
        v["alertmanager"]["alertmanagerSpec"]["resources"],
        v["grafana"]["resources"],
        v["grafana"]["sidecar"]["resources"],
        v["kube-state-metrics"]["resources"],
        v["prometheus-node-exporter"]["resources"],
    ):
        assert resources["requests"] and resources["limits"]["memory"]
    assert v["grafana"]["initChownData"] == {"enabled": False}
    assert v["grafana"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert v["grafana"]["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert v["prometheusOperator"]["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert "additionalDataSources" not in v["grafana"]
    assert "kubeEtcd" not in v  # control-plane targets stay at chart defaults


def test_monitoring_user_values_win() -> None:
    mon = Monitoring(
        _chart(),
        "mon",
        prometheus_replicas=3,
        values={"prometheus": {"prometheusSpec": {"replicas": 5}}, "grafana": {"initChownData": {"enabled": True}}},
    )
    v = mon.release.values
    assert v["prometheus"]["prometheusSpec"]["replicas"] == 5
    assert v["prometheus"]["prometheusSpec"]["retention"] == "15d"  # siblings kept
    assert v["grafana"]["initChownData"] == {"enabled": True}


@pytest.mark.parametrize("retention", ["15d", "30d", "12h", "1w", "1h30m", "744h"])
def test_monitoring_accepts_prometheus_durations(retention: str) -> None:
    assert (
        Monitoring(_chart(), "mon", retention=retention).release.values["prometheus"]["prometheusSpec"]["retention"]
        == retention
    )


# Every spelling of zero the duration pattern lets through; the message promises a non-zero one.
ZERO_DURATIONS = ["0", "0d", "0s0ms", "0h0m", "00d", "0y0w0d0h0m0s0ms"]


@pytest.mark.parametrize("retention", ZERO_DURATIONS)
@pytest.mark.parametrize("service", [Monitoring, Logging])
def test_zero_retention_is_refused(service: type, retention: str) -> None:
    with pytest.raises(ValidationError) as info:
        service(_chart(), "svc", retention=retention)
    assert info.value.field == "retention" and info.value.value == retention
    assert "a non-zero Prometheus duration" in str(info.value)


@pytest.mark.parametrize("retention", ["1ms", "0d1h", "0h1m", "10d", "1y0w"])
def test_non_zero_retention_with_zero_terms_is_accepted(retention: str) -> None:
    """The control of the zero cases: a zero term beside a non-zero one is still a duration."""
    mon = Monitoring(_chart(), "mon", retention=retention)
    assert mon.release.values["prometheus"]["prometheusSpec"]["retention"] == retention
    log = Logging(_chart(), "log", retention=retention)
    assert log.loki.values["loki"]["limits_config"]["retention_period"] == retention


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("retention", "15 days"),
        ("retention", "15D"),
        ("retention", ""),
        ("retention", 15),
        ("retention_size", "45G"),
        ("prometheus_replicas", 0),
        ("alertmanager_replicas", True),
        ("storage_size", "lots"),
        ("storage_class", "Fast_SSD"),
        ("alertmanager_storage_size", "5GB"),
        ("loki_datasource", "yes"),
        ("managed_control_plane", 1),
        ("logging_namespace", "Logging"),
        ("node_exporter_namespace", "monitoring"),
        ("release_name", "Kps"),
    ],
)
def test_monitoring_bad_knob_names_field_and_value(knob: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Monitoring(_chart(), "mon", **{knob: value})
    assert info.value.field == knob and info.value.value == value
    assert knob in str(info.value) and repr(value) in str(info.value)


def test_monitoring_loki_datasource_and_grafana_egress() -> None:
    mon = Monitoring(_chart(), "mon", loki_datasource=True, logging_namespace="logs")
    (source,) = mon.release.values["grafana"]["additionalDataSources"]
    assert source["type"] == "loki" and source["url"] == "http://loki-gateway.logs.svc:80"
    need = _needs(mon)["grafana-loki"]
    assert need.direction == "egress" and _ports(need) == {8080}
    assert need.pods == {"app.kubernetes.io/name": "grafana"}
    (peer,) = need.peers
    assert peer.namespace == "logs" and peer.pod_labels["app.kubernetes.io/component"] == "gateway"
    assert "grafana-loki" not in _needs(Monitoring(_chart(), "mon"))


def test_monitoring_network_needs() -> None:
    needs = _needs(Monitoring(_chart(), "mon"))
    webhook = needs["operator-webhook"]
    assert webhook.direction == "ingress" and _ports(webhook) == {10250}
    assert webhook.pods and webhook.pods["app.kubernetes.io/component"] == "prometheus-operator"
    assert needs["api-server"].direction == "egress" and _ports(needs["api-server"]) == {443, 6443}
    pods = needs["prometheus-scrape-pods"]
    assert pods.direction == "egress" and pods.peers[0].namespace == "*" and pods.ports == ()
    hosts = needs["prometheus-scrape-hosts"]
    assert {10250, 9100, 443, 6443, 2381, 10257, 10259, 10249} <= _ports(hosts)
    assert hosts.pods == {"app.kubernetes.io/name": "prometheus"}
    assert _ports(needs["alertmanager-receivers"]) == {443}
    managed = _needs(Monitoring(_chart(), "mon", managed_control_plane=True, alertmanager_egress=False))
    assert _ports(managed["prometheus-scrape-hosts"]) == {10250, 9100, 443, 6443}
    assert "alertmanager-receivers" not in managed


def test_monitoring_pod_security() -> None:
    mon = Monitoring(_chart(), "mon")
    level = mon.pod_security["monitoring"]
    assert level.level == "privileged" and "node-exporter" in level.reason
    moved = Monitoring(_chart(), "mon", node_exporter_namespace="monitoring-node-exporter")
    assert moved.pod_security["monitoring"].level == "restricted"
    assert moved.pod_security["monitoring-node-exporter"].level == "privileged"
    assert moved.release.values["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-node-exporter"
    chown = Monitoring(_chart(), "mon", node_exporter_namespace="ne", grafana_init_chown=True)
    assert chown.pod_security["monitoring"].level == "privileged"
    assert "Grafana" in chown.pod_security["monitoring"].reason


def test_monitoring_health_checks_follow_knobs() -> None:
    default = _checks(Monitoring(_chart(), "mon", wait=False))
    assert ("DaemonSet", "kube-prometheus-stack-prometheus-node-exporter", "monitoring") in default
    assert ("StatefulSet", "alertmanager-kube-prometheus-stack-alertmanager", "monitoring") in default
    moved = _checks(Monitoring(_chart(), "mon", node_exporter_namespace="ne", release_name="obs", wait=False))
    assert ("DaemonSet", "obs-prometheus-node-exporter", "ne") in moved
    assert ("StatefulSet", "prometheus-obs-kube-prometheus-stack-prometheus", "monitoring") in moved
    off = _checks(
        Monitoring(
            _chart(),
            "mon",
            wait=False,
            values={"alertmanager": {"enabled": False}, "cleanPrometheusOperatorObjectNames": True},
        )
    )
    assert not any(name.startswith("alertmanager-") for _, name, _ in off)
    assert ("StatefulSet", "prometheus-kube-prometheus-stack", "monitoring") in off


def test_monitoring_service_monitors_go_to_the_companion() -> None:
    chart = _chart()
    mon = Monitoring(chart, "mon")
    # Alone in a plain chart: no Flux Kustomization, and no companion until something needs it.
    assert not [m for m in cdk8s.Testing.synth(chart) if m["kind"] == "Kustomization"]
    body = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": "istiod", "namespace": "istio-system"},
        "spec": {"selector": {"matchLabels": {"app": "istiod"}}, "endpoints": [{"port": "http-monitoring"}]},
    }
    mon.add_service_monitor(body)
    assert mon.config.name == "monitoring-config" and mon in mon.config.dependencies
    # Alone, the companion is held back in a chart of its own (its CRD comes with the chart).
    assert not [m for m in cdk8s.Testing.synth(chart) if m["kind"] == "ServiceMonitor"]
    monitors = [m for m in cdk8s.Chart.of(mon.config).to_json() if m["kind"] == "ServiceMonitor"]
    assert [m["metadata"]["name"] for m in monitors] == ["istiod"]
    pod_monitor = {**body, "kind": "PodMonitor", "metadata": {"name": "gw", "namespace": "istio-ingress"}}
    mon.add_service_monitor(pod_monitor)
    assert [m["metadata"]["name"] for m in cdk8s.Chart.of(mon.config).to_json() if m["kind"] == "PodMonitor"] == ["gw"]
    with pytest.raises(ValidationError) as info:
        mon.add_service_monitor({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert "ServiceMonitor" in str(info.value)


# -- Logging ------------------------------------------------------------------------------------


def test_logging_monolithic_defaults() -> None:
    log = Logging(_chart(), "log")
    v = log.loki.values
    assert v["deploymentMode"] == "Monolithic"
    assert v["singleBinary"]["replicas"] == 1
    assert {v[k]["replicas"] for k in ("backend", "read", "write")} == {0}
    assert v["loki"]["storage"] == {"type": "filesystem"}
    assert v["loki"]["schemaConfig"]["configs"][0]["object_store"] == "filesystem"
    assert v["loki"]["limits_config"]["retention_period"] == "744h"
    assert v["loki"]["compactor"] == {"retention_enabled": True, "delete_request_store": "filesystem"}
    assert v["singleBinary"]["persistence"] == {"enabled": True, "size": "10Gi"}
    assert v["chunksCache"] == {"enabled": False} and v["resultsCache"] == {"enabled": False}
    assert v["monitoring"]["serviceMonitor"]["enabled"] is True
    assert "defaults" not in v
    for resources in (
        v["singleBinary"]["resources"],
        v["gateway"]["resources"],
        v["lokiCanary"]["resources"],
        v["sidecar"]["resources"],
        v["gateway"]["metrics"]["resources"],
    ):
        assert resources["requests"] and resources["limits"]["memory"]
    a = log.alloy.values
    assert a["controller"]["type"] == "daemonset"
    assert a["alloy"]["mounts"]["varlog"] is False and a["alloy"]["mounts"]["dockercontainers"] is False
    assert a["alloy"]["securityContext"]["runAsUser"] == 473
    assert a["global"]["podSecurityContext"]["runAsNonRoot"] is True
    content = a["alloy"]["configMap"]["content"]
    assert 'loki.source.kubernetes "pods"' in content and "spec.nodeName=" in content
    assert 'url = "http://loki-gateway.logging.svc:80/loki/api/v1/push"' in content
    assert log.gateway_url == "http://loki-gateway.logging.svc:80"


def test_logging_scalable_s3() -> None:
    log = Logging(
        _chart(),
        "log",
        mode="scalable",
        replicas=4,
        storage_size="20Gi",
        storage_class="fast",
        retention="30d",
        s3_endpoint="minio.storage.svc:9000",
        s3_bucket_chunks="loki-chunks",
        s3_bucket_ruler="loki-ruler",
        s3_region="eu-west-1",
        s3_force_path_style=True,
        s3_credentials_secret="loki-s3",
    )
    v = log.loki.values
    assert v["singleBinary"]["replicas"] == 4 and v["loki"]["commonConfig"]["replication_factor"] == 3
    storage = v["loki"]["storage"]
    assert storage["type"] == "s3" and storage["bucketNames"] == {"chunks": "loki-chunks", "ruler": "loki-ruler"}
    assert storage["s3"]["endpoint"] == "minio.storage.svc:9000" and storage["s3"]["s3ForcePathStyle"] is True
    assert storage["s3"]["region"] == "eu-west-1"
    # Credentials: only env references in the values, the Secret is mounted by name.
    assert storage["s3"]["accessKeyId"] == "${AWS_ACCESS_KEY_ID}"
    assert v["defaults"]["extraEnvFrom"] == [{"secretRef": {"name": "loki-s3"}}]
    assert v["loki"]["limits_config"]["retention_period"] == "30d"
    assert v["singleBinary"]["persistence"] == {"enabled": True, "size": "20Gi", "storageClass": "fast"}
    assert v["chunksCache"]["allocatedMemory"] == 512 and v["resultsCache"]["enabled"] is True
    egress = _needs(log)["object-storage"]
    assert egress.direction == "egress" and _ports(egress) == {9000}
    assert egress.pods["app.kubernetes.io/component"] == "single-binary"
    assert 9150 in _ports(_needs(log)["prometheus-scrape"])


def test_logging_s3_defaults_port_and_ruler_bucket() -> None:
    log = Logging(_chart(), "log", mode="scalable", s3_endpoint="s3.eu-west-1.amazonaws.com", s3_bucket_chunks="logs")
    assert log.loki.values["loki"]["storage"]["bucketNames"] == {"chunks": "logs", "ruler": "logs"}
    assert "accessKeyId" not in log.loki.values["loki"]["storage"]["s3"]  # SDK default chain (IRSA)
    assert _ports(_needs(log)["object-storage"]) == {443}
    assert "object-storage" not in _needs(Logging(_chart(), "log"))


def test_logging_user_values_win() -> None:
    log = Logging(
        _chart(),
        "log",
        values={"singleBinary": {"resources": {"limits": {"memory": "4Gi"}}}},
        alloy_values={"alloy": {"clustering": {"enabled": True}}},
    )
    assert log.loki.values["singleBinary"]["resources"]["limits"]["memory"] == "4Gi"
    assert log.loki.values["singleBinary"]["resources"]["requests"]["cpu"] == "250m"
    assert log.alloy.values["alloy"]["clustering"]["enabled"] is True


@pytest.mark.parametrize(
    ("knobs", "field", "value"),
    [
        ({"mode": "SimpleScalable"}, "mode", "SimpleScalable"),
        ({"mode": "scalable"}, "s3_bucket_chunks", None),
        ({"mode": "scalable", "s3_bucket_chunks": "b-1"}, "s3_endpoint", None),
        ({"s3_endpoint": "https://s3.example.com", "s3_bucket_chunks": "b-1"}, "s3_endpoint", "https://s3.example.com"),
        ({"s3_endpoint": "s3.example.com"}, "s3_endpoint", "s3.example.com"),
        ({"s3_bucket_chunks": "B", "s3_endpoint": "s3.example.com"}, "s3_bucket_chunks", "B"),
        ({"retention": "31 days"}, "retention", "31 days"),
        ({"replicas": 1}, "replicas", 1),
        ({"storage_size": "10G B"}, "storage_size", "10G B"),
        ({"s3_force_path_style": "true"}, "s3_force_path_style", "true"),
        (
            {"s3_credentials_secret": "Secret!", "s3_bucket_chunks": "b-1", "s3_endpoint": "h"},
            "s3_credentials_secret",
            "Secret!",
        ),
        ({"cluster_name": "my cluster"}, "cluster_name", "my cluster"),
        ({"monitoring_namespace": "Mon"}, "monitoring_namespace", "Mon"),
    ],
)
def test_logging_bad_knob_names_field_and_value(knobs: dict[str, Any], field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Logging(_chart(), "log", **knobs)
    assert info.value.field == field and info.value.value == value
    assert field in str(info.value)


def test_logging_pod_security_and_network() -> None:
    log = Logging(_chart(), "log", monitoring_namespace="obs")
    assert log.pod_security["logging"].level == "restricted"
    needs = _needs(log)
    gateway = needs["grafana-to-gateway"]
    assert gateway.direction == "ingress" and _ports(gateway) == {8080}
    assert gateway.peers[0].namespace == "obs" and gateway.peers[0].pod_labels == {"app.kubernetes.io/name": "grafana"}
    assert gateway.pods["app.kubernetes.io/component"] == "gateway"
    scrape = needs["prometheus-scrape"]
    assert {3100, 12345} <= _ports(scrape) and scrape.peers[0].namespace == "obs"
    assert 9150 not in _ports(scrape)  # no memcached without object storage
    assert needs["api-server"].direction == "egress" and _ports(needs["api-server"]) == {443, 6443}


def test_logging_health_checks_follow_knobs() -> None:
    mono = _checks(Logging(_chart(), "log", wait=False))
    assert mono == {
        ("StatefulSet", "loki", "logging"),
        ("Deployment", "loki-gateway", "logging"),
        ("DaemonSet", "loki-canary", "logging"),
        ("DaemonSet", "alloy", "logging"),
    }
    scalable = _checks(
        Logging(
            _chart(),
            "log",
            wait=False,
            mode="scalable",
            s3_endpoint="s3.example.com",
            s3_bucket_chunks="logs",
            release_name="logs",
            alloy_release_name="shipper",
        )
    )
    assert {
        ("StatefulSet", "logs-loki", "logging"),
        ("Deployment", "logs-loki-gateway", "logging"),
        ("StatefulSet", "logs-loki-chunks-cache", "logging"),
        ("StatefulSet", "logs-loki-results-cache", "logging"),
        ("DaemonSet", "shipper-alloy", "logging"),
    } <= scalable
    renamed = Logging(_chart(), "log", release_name="logs")
    assert renamed.gateway_url == "http://logs-loki-gateway.logging.svc:80"
    assert (
        "http://logs-loki-gateway.logging.svc:80/loki/api/v1/push"
        in renamed.alloy.values["alloy"]["configMap"]["content"]
    )


# -- Both, written as a tree --------------------------------------------------------------------


def test_tree_validates_against_crds(tmp_path: Path) -> None:
    from sre_constructs.kernel.tree_check import check_tree

    app = App()
    platform = PlatformChart(app, "obs", path="obs")
    mon = Monitoring(platform, "monitoring", loki_datasource=True, node_exporter_namespace="monitoring-node-exporter")
    mon.add_service_monitor(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "istiod", "namespace": "istio-system"},
            "spec": {"selector": {"matchLabels": {"app": "istiod"}}, "endpoints": [{"port": "http-monitoring"}]},
        }
    )
    log = Logging(
        platform,
        "logging",
        mode="scalable",
        s3_endpoint="s3.example.com",
        s3_bucket_chunks="logs",
        s3_credentials_secret="loki-s3",
        wait=False,
    )
    log.depends_on(mon)
    write_tree(app, tmp_path)
    root = tmp_path / "obs"
    findings = check_tree(root, kustomize=False)
    assert findings == [], "\n".join(map(str, findings))
    assert (root / "monitoring-config").is_dir()
    written = "".join(p.read_text() for p in (root / "monitoring-config").glob("*.yaml"))
    assert "kind: ServiceMonitor" in written
    assert "kind: ServiceMonitor" not in "".join(p.read_text() for p in (root / "monitoring").glob("*.yaml"))


@pytest.mark.parametrize(
    ("construct", "knob", "value"),
    [
        (Monitoring, "values", "a: 1"),
        (Logging, "values", ["a"]),
        (Logging, "alloy_values", 5),
        (Monitoring, "retention", "15d\n"),
        (Logging, "retention", "744h\n"),
        (Logging, "s3_endpoint", "s3.example.com\n"),
    ],
)
def test_values_and_strings_are_checked_before_use(construct: type, knob: str, value: Any) -> None:
    knobs: dict[str, Any] = {knob: value}
    if knob == "s3_endpoint":
        knobs["s3_bucket_chunks"] = "logs"
    with pytest.raises(ValidationError) as info:
        construct(_chart(), "svc", **knobs)
    assert info.value.field == knob and info.value.value == value


def test_domain_sets_external_urls_of_prometheus_alertmanager_and_grafana() -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform
    from sre_constructs.kernel.errors import ValidationError as VE

    core = CorePlatform(App(), "core", domain="lab.example.com")
    values = core.monitoring.release.values  # type: ignore[union-attr]
    assert values["prometheus"]["prometheusSpec"]["externalUrl"] == "https://prometheus.lab.example.com"
    assert values["alertmanager"]["alertmanagerSpec"]["externalUrl"] == "https://alertmanager.lab.example.com"
    assert values["grafana"]["grafana.ini"]["server"]["root_url"] == "https://grafana.lab.example.com"
    plain = CorePlatform(App(), "core").monitoring.release.values  # type: ignore[union-attr]
    assert "externalUrl" not in plain["prometheus"]["prometheusSpec"]
    with pytest.raises(VE, match="domain 'Lab_Example'"):
        CorePlatform(App(), "core", domain="Lab_Example")
