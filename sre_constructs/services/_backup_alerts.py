"""Velero's metrics at v1.18.1 and its alerting rules (facts of :mod:`.backup`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTERS"]

_M = "pkg/metrics/metrics.go@v1.18.1"

EXPORTERS = (
    Exporter(
        "Velero server",
        MappingProxyType(
            {
                "velero_backup_attempt_total": f"{_M}:132",
                "velero_backup_success_total": f"{_M}:140",
                "velero_backup_partial_failure_total": f"{_M}:148",
                "velero_backup_failure_total": f"{_M}:156",
                "velero_backup_validation_failure_total": f"{_M}:164",
                "velero_backup_last_successful_timestamp": f"{_M}:117",
                "velero_backup_last_status": f"{_M}:239",
                "velero_backup_duration_seconds": f"{_M}:196",
                "velero_backup_items_total": f"{_M}:215",
                "velero_backup_items_errors": f"{_M}:223",
                "velero_backup_warning_total": f"{_M}:231",
                "velero_backup_total": f"{_M}:125",
                "velero_backup_location_status_gauge": f"{_M}:247",
                "velero_restore_attempt_total": f"{_M}:262",
                "velero_restore_success_total": f"{_M}:270",
                "velero_restore_partial_failure_total": f"{_M}:278",
                "velero_restore_failed_total": f"{_M}:286",
                "velero_restore_validation_failed_total": f"{_M}:294",
                "velero_volume_snapshot_attempt_total": f"{_M}:302",
                "velero_volume_snapshot_success_total": f"{_M}:310",
                "velero_volume_snapshot_failure_total": f"{_M}:318",
                "velero_csi_snapshot_attempt_total": f"{_M}:326",
                "velero_csi_snapshot_success_total": f"{_M}:334",
                "velero_csi_snapshot_failure_total": f"{_M}:342",
                "velero_repo_maintenance_success_total": f"{_M}:350",
                "velero_repo_maintenance_failure_total": f"{_M}:357",
            }
        ),
        scraped_by="the chart's ServiceMonitor (metrics.serviceMonitor.enabled); port http-monitoring 8085",
        targets=(ScrapeTarget(chart="velero", values_path="metrics.serviceMonitor.enabled"),),
    ),
    Exporter(
        "Velero node-agent",
        MappingProxyType(
            {
                "podVolume_data_upload_failure_total": f"{_M}:389",
                "podVolume_data_download_failure_total": f"{_M}:397",
            }
        ),
        scraped_by="the chart's PodMonitor (metrics.nodeAgentPodMonitor.enabled)",
        targets=(ScrapeTarget(chart="velero", values_path="metrics.nodeAgentPodMonitor.enabled"),),
    ),
)

ALERTS: tuple[AlertRule, ...] = ()
