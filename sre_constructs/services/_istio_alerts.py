"""Istio's metrics at 1.30.3 (istiod and the Envoy proxies) and its alerting rules (facts of :mod:`.istio`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "GATEWAY_ALERTS", "GATEWAY_POD_LABEL", "ISTIOD_EXPORTER", "PROXY_EXPORTER"]

_XDS = "pilot/pkg/xds/monitoring.go@1.30.3"
_PKG_XDS = "pkg/xds/monitoring.go@1.30.3"
_CONTEXT = "pilot/pkg/model/push_context.go@1.30.3"
_STATS = "istio/proxy source/extensions/filters/http/istio_stats/istio_stats.cc@1.30.3"

ISTIOD_EXPORTER = Exporter(
    "istiod",
    MappingProxyType(
        {
            "pilot_xds_pushes": f"{_XDS}:47",
            "pilot_total_xds_rejects": f"{_PKG_XDS}:67",
            "pilot_xds_cds_reject": f"{_PKG_XDS}:43",
            "pilot_xds_eds_reject": f"{_PKG_XDS}:43",
            "pilot_xds_lds_reject": f"{_PKG_XDS}:43",
            "pilot_xds_rds_reject": f"{_PKG_XDS}:43",
            "pilot_total_xds_internal_errors": f"{_PKG_XDS}:33",
            "pilot_xds_write_timeout": f"{_PKG_XDS}:38",
            "pilot_xds_expired_nonce": f"{_PKG_XDS}:72",
            "pilot_xds_push_time": f"{_XDS}:57",
            "pilot_proxy_convergence_time": f"{_XDS}:57",
            "pilot_proxy_queue_time": f"{_XDS}:57",
            "pilot_debounce_time": f"{_XDS}:57",
            "pilot_pushcontext_init_seconds": f"{_XDS}:57",
            "pilot_xds": f"{_XDS}:39",
            "pilot_push_triggers": f"{_XDS}:81",
            "pilot_conflict_inbound_listener": f"{_CONTEXT}:656",
            "pilot_eds_no_instances": f"{_CONTEXT}:656",
            "pilot_no_ip": f"{_CONTEXT}:656",
            "pilot_duplicate_envoy_clusters": f"{_CONTEXT}:656",
        }
    ),
    scraped_by="ServiceMonitor istiod (Istio.service_monitors(), in monitoring-config); port http-monitoring 15014",
    targets=(ScrapeTarget(kind="ServiceMonitor", labels=MappingProxyType({"app": "istiod", "istio": "pilot"})),),
)

#: A label every pod of the gateway chart carries (charts/gateway templates/_helpers.tpl@1.30.3).
GATEWAY_POD_LABEL = {"sidecar.istio.io/inject": "true"}

PROXY_EXPORTER = Exporter(
    "Istio proxies",
    MappingProxyType(
        {
            "istio_requests_total": f"{_STATS}:253",
            "istio_request_duration_milliseconds": f"{_STATS}:253",
            "istio_request_bytes": f"{_STATS}:253",
            "istio_response_bytes": f"{_STATS}:253",
            "istio_tcp_sent_bytes_total": f"{_STATS}:253",
            "istio_tcp_received_bytes_total": f"{_STATS}:253",
            "istio_tcp_connections_opened_total": f"{_STATS}:253",
            "istio_tcp_connections_closed_total": f"{_STATS}:253",
        }
    ),
    scraped_by="PodMonitor istio-ingressgateway (Istio.service_monitors(), in monitoring-config): Envoy stats, "
    "container port http-envoy-prom 15090, /stats/prometheus",
    # The gateway chart labels its pods ``istio: <gateway name without istio->`` and, whatever the
    # name, ``sidecar.istio.io/inject: "true"`` (gateway.sidecarInjectionLabels): our PodMonitor
    # selects both, so a renamed gateway is known as scraped too. The gateway is optional.
    targets=(
        ScrapeTarget(kind="PodMonitor", labels=MappingProxyType({"istio": "ingressgateway"})),
        ScrapeTarget(kind="PodMonitor", labels=MappingProxyType(GATEWAY_POD_LABEL)),
    ),
)

GATEWAY_ALERTS = ("IstioGatewayErrorRatioHigh",)
"""Alerts that read the ingress gateway's metrics: emitted only with ``gateway=True``."""

_ISTIOD = 'kube_deployment_status_replicas_available{namespace="${namespace}",deployment="istiod"}'
_ISTIOD_UP = 'up{namespace="${namespace}",job="istiod"}'
_PUSH_STATUS = "istioctl proxy-status"
_ISTIOD_LOGS = "kubectl -n istio-system logs deploy/istiod --tail=200"


def _gateway(code: str, values: str) -> Series:
    return Series(
        f'istio_requests_total{{reporter="source",response_code="{code}",source_workload="${{gateway}}",'
        'source_workload_namespace="${gateway_namespace}"}',
        values,
    )


ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "IstiodUnavailable",
        'kube_deployment_status_replicas_available{namespace="${namespace}", deployment="istiod"} == 0 '
        'or absent(up{namespace="${namespace}", job="istiod"} == 1)',
        "5m",
        "critical",
        "istiod is unavailable",
        "For 5 minutes istiod has had no available pod, or Prometheus has scraped no istiod. Without istiod "
        "new pods get no sidecar (the injection webhook fails closed), proxies get no configuration or "
        "certificate updates, and workload certificates expire within 24 hours.",
        Runbook(
            "The Istio control plane is down (or unreachable for Prometheus): the mesh runs on its last "
            "configuration until certificates expire.",
            (
                "kubectl -n istio-system get deploy,pods -l app=istiod",
                "kubectl -n istio-system describe pods -l app=istiod",
                _ISTIOD_LOGS,
                "kubectl -n monitoring get servicemonitor istiod -o yaml  # when only the scrape fails",
            ),
            (
                "Fix what keeps istiod from starting (events, resources: `resources` knob), then "
                "`kubectl -n istio-system rollout restart deploy/istiod`.",
                "`flux reconcile helmrelease -n istio-system istiod --force` if the release itself is failing.",
                "Scrape only: istiod's Service port http-monitoring (15014) and the NetworkPolicy istiod-metrics.",
            ),
        ),
        (
            RuleTest(
                (Series(_ISTIOD, "0x20"), Series(_ISTIOD_UP, "1x20")),
                "10m",
                True,
                (("namespace", "${namespace}"), ("deployment", "istiod")),
            ),
            RuleTest((Series(_ISTIOD, "2x20"), Series(_ISTIOD_UP, "0x20")), "10m", True),
            RuleTest((Series(_ISTIOD, "2x20"), Series(_ISTIOD_UP, "1x20")), "10m", False),
        ),
    ),
    AlertRule(
        "IstiodConfigRejected",
        'sum by (namespace, type) (increase(pilot_total_xds_rejects{namespace="${namespace}"}[10m])) > ${threshold}',
        "10m",
        "warning",
        "Proxies reject istiod's {{ $labels.type }} configuration",
        "Envoy proxies have been NACKing {{ $labels.type }} configuration pushed by istiod for 10 minutes (more "
        "than ${threshold} rejects per 10 minutes): those proxies keep running their previous "
        "configuration, so recent VirtualService, DestinationRule or Gateway changes do not take effect.",
        Runbook(
            "An Istio resource produces Envoy configuration the proxies refuse (an invalid EnvoyFilter, a "
            "conflicting listener, a bad certificate reference).",
            (
                _PUSH_STATUS + "  # STALE / NACK per proxy",
                "istioctl analyze -A",
                _ISTIOD_LOGS + " | grep -i -e nack -e reject",
            ),
            (
                "Fix or remove the resource the rejection names (`kubectl get envoyfilters,virtualservices,"
                "destinationrules,gateways -A`), and check with `istioctl proxy-status` that proxies are SYNCED.",
            ),
        ),
        (
            RuleTest(
                (Series('pilot_total_xds_rejects{namespace="${namespace}",type="lds"}', "0+1x40"),),
                "30m",
                True,
                (("namespace", "${namespace}"), ("type", "lds")),
            ),
            RuleTest((Series('pilot_total_xds_rejects{namespace="${namespace}",type="lds"}', "7x40"),), "30m", False),
        ),
        threshold=0,
    ),
    AlertRule(
        "IstiodPushErrors",
        "sum by (namespace, type) "
        '(rate(pilot_xds_pushes{namespace="${namespace}", type=~".+_senderr"}[5m])) > ${threshold}',
        "10m",
        "warning",
        "istiod fails to send {{ $labels.type }} configuration to proxies",
        "istiod has been failing to send configuration ({{ $labels.type }}) to connected proxies for 10 "
        "minutes: those proxies do not get updates. Only unexpected gRPC errors count (not disconnects).",
        Runbook(
            "istiod cannot push configuration: proxies or the network between them fail, or istiod is overloaded.",
            (
                _PUSH_STATUS,
                "kubectl -n istio-system top pods -l app=istiod",
                _ISTIOD_LOGS + " | grep -i -e 'send' -e error",
            ),
            (
                "Overload: raise `replicas`/`max_replicas` or `resources` of istiod.",
                "Restart stuck proxies (`kubectl -n <ns> rollout restart deploy/<workload>`) that proxy-status "
                "shows STALE.",
            ),
        ),
        (
            RuleTest(
                (Series('pilot_xds_pushes{namespace="${namespace}",type="eds_senderr"}', "0+5x40"),),
                "30m",
                True,
                (("namespace", "${namespace}"), ("type", "eds_senderr")),
            ),
            RuleTest(
                (
                    Series('pilot_xds_pushes{namespace="${namespace}",type="eds"}', "0+500x40"),
                    Series('pilot_xds_pushes{namespace="${namespace}",type="eds_senderr"}', "3x40"),
                ),
                "30m",
                False,
            ),
        ),
        threshold=0,
    ),
    AlertRule(
        "IstioGatewayErrorRatioHigh",
        '100 * sum by (source_workload_namespace, source_workload) (rate(istio_requests_total{reporter="source", '
        'source_workload_namespace="${gateway_namespace}", source_workload="${gateway}", response_code=~"5.."}[5m])) '
        '/ sum by (source_workload_namespace, source_workload) (rate(istio_requests_total{reporter="source", '
        'source_workload_namespace="${gateway_namespace}", source_workload="${gateway}"}[5m])) > ${threshold}',
        "10m",
        "warning",
        "The ingress gateway answers {{ $value | humanize }}% of requests with a 5xx",
        "More than ${threshold}% of the requests through ingress gateway "
        "{{ $labels.source_workload_namespace }}/{{ $labels.source_workload }} have ended in a 5xx for 10 "
        "minutes: failing backends (their own 5xx), no healthy endpoint (503 with response flag UH), or "
        "timeouts (504).",
        Runbook(
            "Clients coming through the ingress gateway get server errors.",
            (
                "# in Prometheus: sum by (destination_service, response_code, response_flags) "
                '(rate(istio_requests_total{reporter="source", source_workload="istio-ingressgateway", '
                'response_code=~"5.."}[5m]))',
                "kubectl -n istio-ingress logs deploy/istio-ingressgateway --tail=100",
                "istioctl proxy-config endpoints deploy/istio-ingressgateway -n istio-ingress | grep -v HEALTHY",
            ),
            (
                "A failing backend: fix that service (its pods, logs, readiness).",
                "UH/NR flags: no healthy endpoint or no route; check the VirtualService and the service's pods "
                "(`istioctl analyze -A`).",
            ),
        ),
        (
            RuleTest(
                (_gateway("200", "0+90x40"), _gateway("503", "0+10x40")),
                "30m",
                True,
                (("source_workload_namespace", "${gateway_namespace}"), ("source_workload", "${gateway}")),
            ),
            RuleTest((_gateway("200", "0+1000x40"), _gateway("503", "0+1x40")), "30m", False),
        ),
        threshold=5,
    ),
)
