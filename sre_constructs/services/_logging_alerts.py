"""Loki's (v3.7.6) and Alloy's (v1.18.1) metrics and their alerting rules (facts of :mod:`.logging`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "ALLOY_EXPORTER", "LOKI_EXPORTER"]

_CLIENT = "internal/component/common/loki/client/metrics.go@v1.18.1"
_CONTROLLER = "internal/runtime/internal/controller/metrics.go@v1.18.1"

LOKI_EXPORTER = Exporter(
    "Loki",
    MappingProxyType(
        {
            "loki_discarded_samples_total": "pkg/validation/validate.go@v3.7.6:127",
            "loki_discarded_bytes_total": "pkg/validation/validate.go@v3.7.6:117",
            "loki_distributor_lines_received_total": "pkg/loghttp/push/push.go@v3.7.6:55",
            "loki_distributor_bytes_received_total": "pkg/loghttp/push/push.go@v3.7.6:44",
            "loki_distributor_ingester_appends_total": "pkg/distributor/distributor.go@v3.7.6:354",
            "loki_distributor_ingester_append_timeouts_total": "pkg/distributor/distributor.go@v3.7.6:359",
            "loki_request_duration_seconds": "vendor/github.com/grafana/dskit/server/metrics.go@v3.7.6:56",
            "loki_panic_total": "pkg/util/server/recovery.go@v3.7.6:25",
        }
    ),
    scraped_by="the chart's ServiceMonitor (monitoring.serviceMonitor.enabled)",
    targets=(ScrapeTarget(chart="loki", values_path="monitoring.serviceMonitor.enabled"),),
)

ALLOY_EXPORTER = Exporter(
    "Alloy",
    MappingProxyType(
        {
            "alloy_component_controller_running_components": f"{_CONTROLLER}:113",
            "alloy_component_evaluation_slow_seconds": f"{_CONTROLLER}:68",
            "alloy_component_controller_evaluating": f"{_CONTROLLER}:32",
            "alloy_component_evaluation_seconds": f"{_CONTROLLER}:40",
            "alloy_component_evaluation_queue_size": f"{_CONTROLLER}:58",
            "loki_write_dropped_entries_total": f"{_CLIENT}:53",
            "loki_write_dropped_bytes_total": f"{_CLIENT}:45",
            "loki_write_sent_entries_total": f"{_CLIENT}:41",
            "loki_write_sent_bytes_total": f"{_CLIENT}:49",
            "loki_write_request_duration_seconds": f"{_CLIENT}:79",
            "loki_write_batch_retries_total": f"{_CLIENT}:87",
            "loki_write_last_read_timestamp": f"{_CLIENT}:119",
        }
    ),
    scraped_by="the chart's ServiceMonitor (serviceMonitor.enabled); port 12345",
    targets=(ScrapeTarget(chart="alloy", values_path="serviceMonitor.enabled"),),
)

ALERTS: tuple[AlertRule, ...] = ()
