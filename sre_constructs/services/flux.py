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

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget, register_exporter
from ..kernel.sources import FLUX_NAMESPACE

__all__ = ["ALERTS", "CONTROLLERS", "EXPORTER", "KIND_LABELS", "custom_resources", "pod_monitor"]

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


def custom_resources() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """kube-state-metrics' custom resource state reporting ``gotk_resource_info`` per Flux object, and
    the RBAC rule that lets it list them (``_monitoring_values.custom_resource_state`` combines them)."""
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
    return resources, {"apiGroups": groups, "resources": sorted(_PLURALS.values()), "verbs": ["list", "watch"]}


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


# -- alerting rules ----------------------------------------------------------------------------

_KINDS = "|".join(KIND_LABELS)
_DEPLOYMENTS = "|".join(CONTROLLERS)
_RESOURCE = 'gotk_resource_info{{customresource_kind=~"{kinds}",{match}}}'


def _info(ready: str, suspended: str, kind: str = "Kustomization", name: str = "apps") -> str:
    return (
        f'gotk_resource_info{{customresource_kind="{kind}",exported_namespace="flux-system",name="{name}",'
        f'ready="{ready}",suspended="{suspended}",namespace="monitoring"}}'
    )


def _available(deployment: str, values: str) -> Series:
    return Series(
        f'kube_deployment_status_replicas_available{{namespace="flux-system",deployment="{deployment}"}}', values
    )


def _up(pod: str, values: str) -> Series:
    return Series(f'up{{job="${{namespace}}/flux-system",namespace="flux-system",pod="{pod}"}}', values)


_WHICH = (("customresource_kind", "Kustomization"), ("exported_namespace", "flux-system"), ("name", "apps"))

ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "FluxResourceNotReady",
        "max by (customresource_kind, exported_namespace, name) ("
        + _RESOURCE.format(kinds=_KINDS, match='ready!="True",suspended!="true"')
        + ") == 1",
        "30m",
        "warning",
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} is not Ready",
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has not been "
        "Ready for 30 minutes: what it applies or fetches is stale, and everything that depends on it waits.",
        Runbook(
            "A Kustomization, HelmRelease or source (GitRepository, OCIRepository, HelmRepository, HelmChart, "
            "Bucket) failed its last reconciliation and stayed failed. Changes in git do not reach the cluster; "
            "Kustomizations that dependOn it do not apply either.",
            (
                "flux get all -A --status-selector ready=false",
                "kubectl -n <namespace> describe <kind> <name>",
                "flux events -n <namespace> --for <Kind>/<name>",
            ),
            (
                "Read the Ready condition's message: it names the failing object, chart or fetch.",
                "For a Kustomization: flux logs --kind=Kustomization --name=<name> -n <namespace>; fix the manifest in "
                "git, then flux reconcile kustomization <name> -n <namespace> --with-source",
                "For a HelmRelease: helm history <release> -n <target namespace>; after fixing values or the chart, "
                "flux reconcile helmrelease <name> -n <namespace> --force",
                "For a source: check the URL and its credentials Secret, then flux reconcile source <git|oci|helm> "
                "<name> -n <namespace>",
            ),
        ),
        tests=(
            RuleTest((Series(_info("False", "false"), "1x40"),), "35m", True, _WHICH),
            RuleTest((Series(_info("Unknown", ""), "1x40"),), "35m", True, _WHICH),
            RuleTest((Series(_info("True", "false"), "1x40"),), "35m", False),
            # Suspended objects are the other alert's; a short failure is not an alert.
            RuleTest((Series(_info("False", "true"), "1x40"),), "35m", False),
            RuleTest(
                (Series(_info("False", "false"), "1x20"), Series(_info("True", "false"), "_x20 1x20")), "35m", False
            ),
        ),
    ),
    AlertRule(
        "FluxResourceSuspended",
        "max by (customresource_kind, exported_namespace, name) ("
        + _RESOURCE.format(kinds=_KINDS, match='suspended="true"')
        + ") == 1",
        "24h",
        "warning",
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has been "
        "suspended for a day",
        "Flux {{ $labels.customresource_kind }} {{ $labels.exported_namespace }}/{{ $labels.name }} has been "
        "suspended for more than 24 hours: git is no longer the truth for what it manages.",
        Runbook(
            "Someone ran flux suspend (or set spec.suspend) and did not resume it. While suspended, Flux neither "
            "applies changes nor repairs drift, so the cluster and git diverge silently.",
            (
                "flux get all -A | grep -i 'true.*suspended\\|suspended.*true'",
                "kubectl -n <namespace> get <kind> <name> -o jsonpath='{.spec.suspend}'",
            ),
            (
                "Ask who suspended it and why (kubectl -n <namespace> get events --field-selector "
                "involvedObject.name=<name>).",
                "Resume it: flux resume <kustomization|helmrelease|source git|...> <name> -n <namespace>",
                "If it must stay suspended, silence this alert in Alertmanager with the reason and an end date.",
            ),
        ),
        tests=(
            RuleTest((Series(_info("True", "true"), "1x400"),), "25h", True, _WHICH, interval="4m"),
            RuleTest((Series(_info("True", "true"), "1x300"),), "16h", False, interval="4m"),
            RuleTest((Series(_info("True", "false"), "1x400"),), "25h", False, interval="4m"),
        ),
    ),
    AlertRule(
        "FluxControllerDown",
        f'kube_deployment_status_replicas_available{{namespace="flux-system",deployment=~"{_DEPLOYMENTS}"}} == 0'
        ' or up{job="${namespace}/flux-system"} == 0'
        # No controller scraped at all (pods gone, PodMonitor selecting nothing): nothing above exists.
        ' or absent(up{job="${namespace}/flux-system"} == 1)',
        "10m",
        "critical",
        "Flux controller {{ $labels.deployment }}{{ $labels.pod }} is down",
        "Flux controller {{ $labels.deployment }}{{ $labels.pod }} in flux-system has no available replica or does "
        "not answer its metrics endpoint (no name: none is scraped at all) for 10 minutes: nothing it reconciles "
        "changes any more.",
        Runbook(
            "One of Flux's controllers (source, kustomize, helm, notification) is not running or not answering. "
            "Without source-controller nothing is fetched; without kustomize- or helm-controller nothing is applied "
            "or upgraded; without notification-controller no event leaves the cluster.",
            (
                "flux check",
                "kubectl -n flux-system get deploy,pods -o wide",
                "kubectl -n flux-system describe pod -l app=<controller>",
                "kubectl -n flux-system logs deploy/<controller> --previous",
            ),
            (
                "Fix what the pod events say (image pull, OOMKilled: raise the limit in the flux-system "
                "kustomization, node pressure).",
                "kubectl -n flux-system rollout restart deploy/<controller>",
                "If the controllers themselves are broken, re-run the bootstrap: flux bootstrap git --url=<url> "
                "--branch=<branch> --path=clusters/<cluster>/flux",
            ),
        ),
        tests=(
            RuleTest(
                (_available("helm-controller", "0x20"), _up("kustomize-controller-1", "1x20")),
                "15m",
                True,
                (("namespace", "flux-system"), ("deployment", "helm-controller")),
            ),
            RuleTest(
                (_up("source-controller-1", "0x20"), _up("kustomize-controller-1", "1x20")),
                "15m",
                True,
                (("job", "${namespace}/flux-system"), ("namespace", "flux-system"), ("pod", "source-controller-1")),
            ),
            # Nothing scraped, nothing reported: only absent() says so.
            RuleTest((), "15m", True),
            RuleTest((_available("helm-controller", "1x20"), _up("source-controller-1", "1x20")), "15m", False),
        ),
    ),
)
