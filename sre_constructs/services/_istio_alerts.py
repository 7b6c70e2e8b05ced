"""Istio's metrics at 1.30.3 (istiod and the Envoy proxies) and its alerting rules (facts of :mod:`.istio`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "ISTIOD_EXPORTER", "PROXY_EXPORTER"]

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
    scraped_by="a PodMonitor on the ingress gateway's merged metrics (port 15020, /stats/prometheus)",
    # The gateway chart labels its pods ``istio: <gateway name>``; the gateway is optional.
    targets=(ScrapeTarget(kind="PodMonitor", labels=MappingProxyType({"istio": "ingressgateway"})),),
)

ALERTS: tuple[AlertRule, ...] = ()
