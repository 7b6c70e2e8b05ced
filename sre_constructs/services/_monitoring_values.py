"""kube-prometheus-stack's production values that no knob sets, and the defaults Monitoring documents."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..kernel.facts import ServedPort
from ..kernel.naming import helm_fullname

# -- defaults (the one place they live) ----------------------------------------------------------

PROMETHEUS_REPLICAS = 2
ALERTMANAGER_REPLICAS = 2
RETENTION = "15d"
STORAGE_SIZE = "50Gi"
ALERTMANAGER_STORAGE_SIZE = "5Gi"
LOGGING_NAMESPACE = "logging"
LOKI_GATEWAY_PORT = 8080  # nginx container port behind Service loki-gateway:80 (chart loki 18.11.0)
OPERATOR_WEBHOOK_PORT = 10250  # operator container port `https` (admission webhook)
# Host-network scrape targets (kubelet, node-exporter) and the API server: no pod labels to select.
HOST_SCRAPE_PORTS = (10250, 9100)
API_SERVER_PORTS = (443, 6443)
# kube-proxy, etcd, controller-manager and scheduler metrics (only when the control plane is scraped).
CONTROL_PLANE_PORTS = (10249, 2381, 10257, 10259)

_RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
_SECCOMP = {"seccompProfile": {"type": "RuntimeDefault"}}


def defaults() -> dict[str, Any]:
    """Production values of kube-prometheus-stack 88.5.3 that no knob sets (checked with helm template at 88.5.3)."""
    operator_pod = {"fsGroup": 65534, "runAsGroup": 65534, "runAsNonRoot": True, "runAsUser": 65534, **_SECCOMP}
    # Prometheus/Alertmanager pods are made by the operator; the pod SC comes from *Spec.securityContext.
    spec_pod = {"runAsGroup": 2000, "runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 2000, **_SECCOMP}
    selectors = {
        f"{kind}SelectorNilUsesHelmValues": False
        for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
    }
    return {
        # CRDs come from the crds/ folder (HelmRelease crds: CreateReplace), not the busybox:latest upgrade Job.
        "crds": {"enabled": True, "upgradeJob": {"enabled": False}},
        "prometheusOperator": {
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": operator_pod,
            "containerSecurityContext": dict(_RESTRICTED_CONTAINER),
            "prometheusConfigReloader": {
                "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            },
            "admissionWebhooks": {
                "enabled": True,
                "patch": {
                    "enabled": True,
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                },
            },
            "serviceMonitor": {"selfMonitor": True},
        },
        "prometheus": {
            "serviceMonitor": {"selfMonitor": True},
            "prometheusSpec": {
                **selectors,
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
                "podAntiAffinity": "soft",
                "securityContext": dict(spec_pod),
            },
        },
        "alertmanager": {
            "serviceMonitor": {"selfMonitor": True},
            "alertmanagerSpec": {
                "retention": "120h",
                "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                "securityContext": dict(spec_pod),
            },
        },
        "grafana": {
            # sqlite: one replica; HA needs an external database (grafana.ini.database).
            "replicas": 1,
            "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 472,
                "runAsGroup": 472,
                "fsGroup": 472,
                **_SECCOMP,
            },
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
                **_SECCOMP,
            },
            "sidecar": {
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                # The platform's dashboards go to the folder their ConfigMap's annotation names.
                "dashboards": {"folderAnnotation": "grafana_folder", "provider": {"foldersFromFilesStructure": True}},
            },
            "serviceMonitor": {"enabled": True},
            # The bats test pod pulls docker.io/bats/bats and is never run by Flux.
            "testFramework": {"enabled": False},
            # No calls home: the namespace has no internet egress for Grafana anyway.
            "grafana.ini": {"analytics": {"reporting_enabled": False, "check_for_updates": False}},
        },
        # One replica: two would scrape every object twice (scale with autosharding instead).
        "kube-state-metrics": {
            "replicas": 1,
            "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        },
        "prometheus-node-exporter": {
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        },
    }


def custom_resource_state(*parts: tuple[list[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """kube-prometheus-stack values: kube-state-metrics also reports the parts' custom resources
    (each part: its ``customResourceState`` resources and the RBAC rule that lets it list them).

    Only ``rbac.extraRules`` and ``customResourceState``: the standard collectors stay on (Flux's
    example's ``collectors: []`` and ``--custom-resource-state-only`` would silence every kube_*
    series the default rules and our own read).
    """
    resources = [resource for part, _ in parts for resource in part]
    return {
        "kube-state-metrics": {
            "rbac": {"extraRules": [rule for _, rule in parts]},
            "customResourceState": {"enabled": True, "config": {"spec": {"resources": resources}}},
        }
    }


# The CRDs' ByteSize (``45GB``, ``500MiB``).
BYTE_SIZE = re.compile(r"^(0|([0-9]*[.])?[0-9]+((K|M|G|T|E|P)i?)?B)$")


def volume_claim(size: str, storage_class: str | None) -> dict[str, Any]:
    """The operator's storage spec: a ReadWriteOnce claim per replica (Prometheus', Alertmanager's)."""
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def fullname(values: Mapping[str, Any], release: str) -> str:
    """kube-prometheus-stack's fullname, which it truncates to 26 characters (subcharts use their own rule)."""
    return helm_fullname(release, "kube-prometheus-stack", override=values.get("fullnameOverride"), max_length=26)


def served_ports(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ServedPort, ...]:
    """The UI Services kube-prometheus-stack 88.5.3 renders (templates prometheus/service.yaml,
    alertmanager/service.yaml and the grafana subchart's service.yaml), each while enabled."""
    full = fullname(values, release)

    def section(key: str) -> Mapping[str, Any]:
        found = values.get(key)
        return found if isinstance(found, Mapping) else {}

    def port(key: str, default: int) -> int:
        found = (section(key).get("service") or {}).get("port", default)
        return found if isinstance(found, int) else default

    ports: list[ServedPort] = []
    if section("prometheus").get("enabled", True) is not False:
        pods = {"app.kubernetes.io/name": "prometheus"}
        ports.append(ServedPort(f"{full}-prometheus", port("prometheus", 9090), 9090, pods))
    if section("alertmanager").get("enabled", True) is not False:
        pods = {"app.kubernetes.io/name": "alertmanager"}
        ports.append(ServedPort(f"{full}-alertmanager", port("alertmanager", 9093), 9093, pods))
    grafana = section("grafana")
    if grafana.get("enabled", True) is not False:
        name = helm_fullname(release, "grafana", override=grafana.get("fullnameOverride"))
        pods = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": release}
        ports.append(ServedPort(name, port("grafana", 80), 3000, pods))
    return tuple(ports)
