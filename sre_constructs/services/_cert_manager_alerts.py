"""cert-manager's metrics at v1.21.1 and its alerting rules (facts of :mod:`.cert_manager`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER"]

_COLLECTOR = "internal/collectors/certificate_collector.go@v1.21.1"
_METRICS = "pkg/metrics/metrics.go@v1.21.1"

EXPORTER = Exporter(
    "cert-manager controller",
    MappingProxyType(
        {
            "certmanager_certificate_expiration_timestamp_seconds": f"{_COLLECTOR}:33",
            "certmanager_certificate_not_after_timestamp_seconds": f"{_COLLECTOR}:31",
            "certmanager_certificate_not_before_timestamp_seconds": f"{_COLLECTOR}:32",
            "certmanager_certificate_renewal_timestamp_seconds": f"{_COLLECTOR}:34",
            "certmanager_certificate_ready_status": f"{_COLLECTOR}:29",
            "certmanager_issuer_ready_status": "internal/collectors/issuer_collector.go@v1.21.1:29",
            "certmanager_clusterissuer_ready_status": "internal/collectors/clusterissuer_collector.go@v1.21.1:30",
            "certmanager_certificate_challenge_status": "internal/collectors/acme_collector.go@v1.21.1:31",
            "certmanager_http_acme_client_request_count": f"{_METRICS}:112",
            "certmanager_http_acme_client_request_duration_seconds": f"{_METRICS}:127",
            "certmanager_controller_sync_call_count": f"{_METRICS}:177",
            "certmanager_controller_sync_error_count": f"{_METRICS}:187",
            "certmanager_clock_time_seconds_gauge": f"{_METRICS}:78",
        }
    ),
    scraped_by="ServiceMonitor cert-manager (CertManager.service_monitors(), in monitoring-config); port 9402",
    targets=(
        ScrapeTarget(
            kind="ServiceMonitor",
            labels=MappingProxyType(
                {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"}
            ),
        ),
    ),
)

ALERTS: tuple[AlertRule, ...] = ()
