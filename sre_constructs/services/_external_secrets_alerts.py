"""External Secrets Operator's metrics at v2.9.0 and its alerting rules (facts of :mod:`.external_secrets`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER"]

_ES = "pkg/controllers/externalsecret/esmetrics/esmetrics.go@v2.9.0"
_CES = "pkg/controllers/clusterexternalsecret/cesmetrics/cesmetrics.go@v2.9.0"

EXPORTER = Exporter(
    "External Secrets controller",
    MappingProxyType(
        {
            "externalsecret_status_condition": f"{_ES}:64",
            "externalsecret_sync_calls_total": f"{_ES}:35",
            "externalsecret_sync_calls_error": f"{_ES}:37",
            "externalsecret_reconcile_duration": f"{_ES}:70",
            "externalsecret_provider_api_calls_count": "runtime/metrics/metrics.go@v2.9.0:29",
            "secretstore_status_condition": "pkg/controllers/secretstore/ssmetrics/ssmetrics.go@v2.9.0:30",
            "clustersecretstore_status_condition": "pkg/controllers/secretstore/cssmetrics/cssmetrics.go@v2.9.0:30",
            "secretstore_reconcile_duration": "pkg/controllers/secretstore/ssmetrics/ssmetrics.go@v2.9.0:42",
            "clustersecretstore_reconcile_duration": "pkg/controllers/secretstore/cssmetrics/cssmetrics.go@v2.9.0:41",
            "clusterexternalsecret_status_condition": _CES,
            "pushsecret_status_condition": "pkg/controllers/pushsecret/psmetrics/psmetrics.go@v2.9.0",
            "controller_runtime_reconcile_errors_total": "docs/api/metrics.md@v2.9.0 (controller-runtime)",
            "controller_runtime_reconcile_total": "docs/api/metrics.md@v2.9.0 (controller-runtime)",
        }
    ),
    scraped_by="the chart's ServiceMonitor (serviceMonitor.enabled, honorLabels false); port 8080",
    targets=(ScrapeTarget(chart="external-secrets", values_path="serviceMonitor.enabled"),),
)

ALERTS: tuple[AlertRule, ...] = ()
