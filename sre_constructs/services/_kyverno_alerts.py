"""Kyverno's metrics at v1.19.0 (OTel, counters with ``_total``) and its alerting rules (facts of :mod:`.kyverno`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER"]

_P = "pkg/metrics"

EXPORTER = Exporter(
    "Kyverno controllers",
    MappingProxyType(
        {
            "kyverno_admission_requests_total": f"{_P}/admission.go@v1.19.0:36",
            "kyverno_admission_review_duration_seconds": f"{_P}/admission.go@v1.19.0:43",
            "kyverno_policy_results_total": f"{_P}/policy_engine.go@v1.19.0:44",
            "kyverno_policy_execution_duration_seconds": f"{_P}/policy_engine.go@v1.19.0:51",
            "kyverno_validating_policy_results_total": f"{_P}/vpol.go@v1.19.0:45",
            "kyverno_mutating_policy_results_total": f"{_P}/mpol.go@v1.19.0",
            "kyverno_image_validating_policy_results_total": f"{_P}/ivpol.go@v1.19.0",
            "kyverno_generating_policy_results_total": f"{_P}/gpol.go@v1.19.0",
            "kyverno_policy_changes_total": f"{_P}/metrics.go@v1.19.0:155",
            "kyverno_policy_rule_info_total": f"{_P}/policy_rule.go@v1.19.0:37",
            "kyverno_controller_reconcile_total": f"{_P}/controller.go@v1.19.0:36",
            "kyverno_controller_requeue_total": f"{_P}/controller.go@v1.19.0:42",
            "kyverno_controller_drop_total": f"{_P}/controller.go@v1.19.0:48",
            "kyverno_http_requests_total": f"{_P}/http.go@v1.19.0:35",
            "kyverno_http_requests_duration_seconds": f"{_P}/http.go@v1.19.0:35",
            "kyverno_client_queries_total": f"{_P}/metrics.go@v1.19.0:160",
            "kyverno_events_dropped_total": f"{_P}/events.go@v1.19.0:31",
            "kyverno_breaker_drops_total": f"{_P}/breaker.go@v1.19.0:34",
            "kyverno_breaker_total": f"{_P}/breaker.go@v1.19.0:34",
            "kyverno_cleanup_controller_errors_total": f"{_P}/cleanup.go@v1.19.0:43",
            "kyverno_info": f"{_P}/metrics.go@v1.19.0:165",
        }
    ),
    scraped_by="ServiceMonitors per controller (Kyverno.service_monitors(), in monitoring-config); port 8000",
    targets=(
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "admission-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "background-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "cleanup-controller"})
        ),
        ScrapeTarget(
            kind="ServiceMonitor", labels=MappingProxyType({"app.kubernetes.io/component": "reports-controller"})
        ),
    ),
)

ALERTS: tuple[AlertRule, ...] = ()
