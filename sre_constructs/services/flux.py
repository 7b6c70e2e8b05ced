"""Flux, watched: its controllers' exporter, the kube-state-metrics config that reports its objects'
readiness, the PodMonitor on its controllers, and its alerting rules.

Flux is bootstrapped with the cluster, not installed by a chart of ours, so its facts live here and
:class:`~sre_constructs.services.monitoring.Monitoring` emits them: the kube-state-metrics values
through kube-prometheus-stack, the PodMonitor and the rules (``platform_component: flux``) through
its ``monitoring-config`` companion.

Flux's controllers register ``gotk_reconcile_condition`` but never write it (kustomize-controller
v1.9.4, helm-controller v1.6.3): readiness comes from kube-state-metrics' custom resource state
metric ``gotk_resource_info`` (Flux's own monitoring guide, fluxcd/flux2-monitoring-example). Its
labels ``name``, ``exported_namespace``, ``ready`` and ``suspended`` are set by the config itself;
kube-prometheus-stack scrapes kube-state-metrics with ``honorLabels: true``, so they arrive as named
(``namespace`` is kube-state-metrics' own).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget, register_exporter
from ..kernel.sources import FLUX_NAMESPACE

__all__ = ["ALERTS", "CONTROLLERS", "EXPORTER", "KIND_LABELS", "kube_state_metrics_values", "pod_monitor"]

#: The controllers ``flux bootstrap`` installs by default (label ``app``, metrics port ``http-prom``).
CONTROLLERS = ("source-controller", "kustomize-controller", "helm-controller", "notification-controller")

_RECORDER = "fluxcd/pkg runtime/metrics/recorder.go@runtime/v0.110.1"

EXPORTER = register_exporter(
    Exporter(
        "Flux controllers",
        MappingProxyType(
            {
                "gotk_reconcile_duration_seconds": f"{_RECORDER}:64",
                "gotk_cache_events_total": "fluxcd/pkg cache/metrics.go@cache/v0.14.0:58",
                "controller_runtime_reconcile_errors_total": "fluxcd.io/flux/monitoring (controller-runtime) [doc]",
                "controller_runtime_reconcile_total": "fluxcd.io/flux/monitoring (controller-runtime) [doc]",
            }
        ),
        scraped_by="PodMonitor flux-system (services/flux.py, in monitoring-config); port http-prom 8080",
        targets=tuple(
            ScrapeTarget(kind="PodMonitor", labels=MappingProxyType({"app": controller})) for controller in CONTROLLERS
        ),
    )
)

# -- kube-state-metrics custom resource state --------------------------------------------------

#: Flux kind -> (group, version, labels beyond name/exported_namespace/ready/suspended: label -> path).
KIND_LABELS: dict[str, tuple[str, str, dict[str, list[str]]]] = {
    "Kustomization": (
        "kustomize.toolkit.fluxcd.io",
        "v1",
        {"revision": ["status", "lastAppliedRevision"], "source_name": ["spec", "sourceRef", "name"]},
    ),
    "HelmRelease": (
        "helm.toolkit.fluxcd.io",
        "v2",
        {
            "revision": ["status", "history", "0", "chartVersion"],
            "chart_name": ["status", "history", "0", "chartName"],
            "chart_app_version": ["status", "history", "0", "appVersion"],
            "chart_ref_name": ["spec", "chartRef", "name"],
            "chart_source_name": ["spec", "chart", "spec", "sourceRef", "name"],
        },
    ),
    "GitRepository": (
        "source.toolkit.fluxcd.io",
        "v1",
        {"revision": ["status", "artifact", "revision"], "url": ["spec", "url"]},
    ),
    "OCIRepository": (
        "source.toolkit.fluxcd.io",
        "v1",
        {"revision": ["status", "artifact", "revision"], "url": ["spec", "url"]},
    ),
    "HelmRepository": (
        "source.toolkit.fluxcd.io",
        "v1",
        {"revision": ["status", "artifact", "revision"], "url": ["spec", "url"]},
    ),
    "HelmChart": (
        "source.toolkit.fluxcd.io",
        "v1",
        {
            "revision": ["status", "artifact", "revision"],
            "chart_name": ["spec", "chart"],
            "chart_version": ["spec", "version"],
        },
    ),
    "Bucket": (
        "source.toolkit.fluxcd.io",
        "v1",
        {
            "revision": ["status", "artifact", "revision"],
            "endpoint": ["spec", "endpoint"],
            "bucket_name": ["spec", "bucketName"],
        },
    ),
}

_PLURALS = {
    "Kustomization": "kustomizations",
    "HelmRelease": "helmreleases",
    "GitRepository": "gitrepositories",
    "OCIRepository": "ocirepositories",
    "HelmRepository": "helmrepositories",
    "HelmChart": "helmcharts",
    "Bucket": "buckets",
}


def kube_state_metrics_values() -> dict[str, Any]:
    """kube-prometheus-stack values: kube-state-metrics reports ``gotk_resource_info`` per Flux object.

    Only ``rbac.extraRules`` and ``customResourceState``: the standard collectors stay on (the
    example's ``collectors: []`` and ``--custom-resource-state-only`` would silence every
    kube_* series the default rules and our own read).
    """
    resources = []
    for kind, (group, version, extra) in KIND_LABELS.items():
        labels: dict[str, list[str]] = {
            "exported_namespace": ["metadata", "namespace"],
            "ready": ["status", "conditions", "[type=Ready]", "status"],
            "suspended": ["spec", "suspend"],
            **extra,
        }
        resources.append(
            {
                "groupVersionKind": {"group": group, "version": version, "kind": kind},
                "metricNamePrefix": "gotk",
                "metrics": [
                    {
                        "name": "resource_info",
                        "help": f"The current state of a Flux {kind} resource.",
                        "each": {"type": "Info", "info": {"labelsFromPath": {"name": ["metadata", "name"]}}},
                        "labelsFromPath": labels,
                    }
                ],
            }
        )
    groups = sorted({group for group, _, _ in KIND_LABELS.values()})
    return {
        "kube-state-metrics": {
            "rbac": {
                "extraRules": [
                    {"apiGroups": groups, "resources": sorted(_PLURALS.values()), "verbs": ["list", "watch"]}
                ]
            },
            "customResourceState": {"enabled": True, "config": {"spec": {"resources": resources}}},
        }
    }


def pod_monitor(namespace: str) -> dict[str, Any]:
    """The PodMonitor ``flux-system`` (in ``namespace``) over the Flux controllers' ``http-prom`` port."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": "flux-system",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "flux", "app.kubernetes.io/component": "monitoring"},
        },
        "spec": {
            "namespaceSelector": {"matchNames": [FLUX_NAMESPACE]},
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": list(CONTROLLERS)}]},
            "podMetricsEndpoints": [{"port": "http-prom", "path": "/metrics"}],
        },
    }


ALERTS: tuple[AlertRule, ...] = ()
