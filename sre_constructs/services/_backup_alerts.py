"""Velero's metrics at v1.18.1 and its alerting rules (facts of :mod:`.backup`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTERS", "NO_RECENT_BACKUP", "schedule_budgets"]

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

# Velero's metrics carry no namespace label: `namespace` is the velero pod's (the target label).
_BACKUPS = (
    "velero backup get",
    "velero backup describe <backup> --details",
    "velero backup logs <backup> | grep -i -e error -e warn",
)
_RERUN = "Run the schedule again once fixed: `velero backup create --from-schedule <schedule> --wait`."

NO_RECENT_BACKUP = "VeleroNoRecentBackup"
"""The alert whose budget is per Schedule: it reads ``${schedule_budgets}`` (see :func:`schedule_budgets`)."""


def schedule_budgets(intervals: dict[str, int]) -> str:
    """The PromQL vector ``{schedule=<name>} <longest gap in seconds>``, one element per Schedule."""
    return (
        "("
        + " or ".join(
            f'label_replace(vector({seconds}), "schedule", "{name}", "", "")'
            for name, seconds in sorted(intervals.items())
        )
        + ")"
    )


def _counter(metric: str, values: str) -> Series:
    return Series(metric + '{namespace="${namespace}",schedule="velero-daily"}', values)


def _failures(metric: str) -> tuple[RuleTest, ...]:
    labels = (("namespace", "${namespace}"), ("schedule", "velero-daily"))
    return (
        RuleTest((_counter(metric, "0x20 1x40"),), "35m", True, labels),
        RuleTest((_counter(metric, "3x60"),), "35m", False),
    )


_LAST_SUCCESS = 'velero_backup_last_successful_timestamp{namespace="${namespace}",schedule="${schedule}"}'
_FAILED = 'velero_backup_failure_total{namespace="${namespace}",schedule="${schedule}"}'
_LOCATION = 'velero_backup_location_status_gauge{backup_location_name="default",namespace="${namespace}"}'

ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "VeleroBackupFailed",
        'sum by (namespace, schedule) (increase(velero_backup_failure_total{namespace="${namespace}"}[1h])) > 0',
        "5m",
        "warning",
        "A Velero backup of schedule '{{ $labels.schedule }}' failed",
        "At least one backup of schedule '{{ $labels.schedule }}' ('' is an ad-hoc backup) ended in phase Failed "
        "within the last hour: nothing of it can be restored. (velero_backup_last_status is not used: Velero "
        "resets it to 1 within a minute.)",
        Runbook(
            "A backup failed as a whole: the storage location was unreachable, credentials were refused, or "
            "Velero crashed during the backup.",
            (*_BACKUPS, "velero backup-location get", "kubectl -n velero logs deploy/velero --tail=200"),
            (
                "Fix the cause in the backup's logs (storage location, credentials in OpenBao at platform/velero, "
                "node-agent pods for file-system backups: `kubectl -n velero get pods -l name=node-agent`).",
                _RERUN,
            ),
        ),
        _failures("velero_backup_failure_total"),
    ),
    AlertRule(
        "VeleroBackupPartiallyFailed",
        "sum by (namespace, schedule) "
        '(increase(velero_backup_partial_failure_total{namespace="${namespace}"}[1h])) > 0',
        "5m",
        "warning",
        "A Velero backup of schedule '{{ $labels.schedule }}' partially failed",
        "At least one backup of schedule '{{ $labels.schedule }}' ended in phase PartiallyFailed within the last "
        "hour: some items or pod volumes are missing from it.",
        Runbook(
            "Some items of a backup failed (a pod volume kopia could not read, an API object that could not be "
            "listed); the rest was saved.",
            (*_BACKUPS, "kubectl -n velero get podvolumebackups --sort-by=.metadata.creationTimestamp | tail"),
            (
                "Fix the failing items the logs name (a node-agent pod missing on the node, a volume type kopia "
                "cannot read: exclude it with the annotation backup.velero.io/backup-volumes-excludes).",
                _RERUN,
            ),
        ),
        _failures("velero_backup_partial_failure_total"),
    ),
    AlertRule(
        NO_RECENT_BACKUP,
        "(time() - max by (namespace, schedule) "
        '(velero_backup_last_successful_timestamp{namespace="${namespace}", schedule!=""})) '
        "> on (schedule) group_left () (${threshold} * ${schedule_budgets}) "
        # A schedule that failed and has no successful backup at all has no timestamp to age.
        'or ((max by (namespace, schedule) (velero_backup_failure_total{namespace="${namespace}", schedule!=""}) > 0 '
        "or max by (namespace, schedule) "
        '(velero_backup_partial_failure_total{namespace="${namespace}", schedule!=""}) > 0) '
        'unless on (schedule) velero_backup_last_successful_timestamp{namespace="${namespace}"})',
        "15m",
        "critical",
        "Schedule '{{ $labels.schedule }}' has no recent successful backup",
        "The last successful backup of Velero schedule '{{ $labels.schedule }}' is older than ${threshold} "
        "times the longest gap between two runs of its cron expression, or its backups have failed and none "
        "of it has ever succeeded (that Velero knows of). Restores would lose everything since.",
        Runbook(
            "Scheduled backups have stopped succeeding (each run fails or no run starts: the schedule is paused, "
            "Velero is down, or the storage location is unavailable).",
            (
                "velero schedule get",
                "velero backup get --selector velero.io/schedule-name=<schedule>",
                "velero backup-location get",
                "kubectl -n velero get deploy velero",
            ),
            (
                "Follow VeleroBackupFailed / VeleroBackupStorageLocationUnavailable if they fire too.",
                "Unpause a paused schedule: `velero schedule unpause <schedule>`.",
                _RERUN,
            ),
        ),
        (
            # A last success long ago fires whatever the schedule's budget; one now stays silent.
            RuleTest(
                (Series(_LAST_SUCCESS, "-1e10x30"),),
                "20m",
                True,
                (("namespace", "${namespace}"), ("schedule", "${schedule}")),
            ),
            RuleTest(
                (Series(_FAILED, "0x5 1x25"),),
                "25m",
                True,
                (("namespace", "${namespace}"), ("schedule", "${schedule}")),
            ),
            RuleTest((Series(_LAST_SUCCESS, "0+60x30"),), "20m", False),
            RuleTest((Series(_LAST_SUCCESS, "0+60x30"), Series(_FAILED, "0x5 1x25")), "25m", False),
        ),
        threshold=2,
    ),
    AlertRule(
        "VeleroBackupStorageLocationUnavailable",
        'velero_backup_location_status_gauge{namespace="${namespace}"} == 0 '
        'or absent(velero_backup_location_status_gauge{namespace="${namespace}"})',
        "10m",
        "critical",
        "Velero backup storage location {{ $labels.backup_location_name }} is unavailable or unknown",
        "Velero has found backup storage location '{{ $labels.backup_location_name }}' Unavailable for 10 minutes "
        "(it validates it every minute), or no location reports a phase at all (no series: Velero is down or "
        "not scraped, or the location was never validated). Backups to it fail.",
        Runbook(
            "Velero cannot reach or use its object storage: wrong or missing credentials, an unreachable endpoint, "
            "a missing bucket or prefix, or Velero itself is not running.",
            (
                "velero backup-location get",
                "kubectl -n velero describe backupstoragelocation default",
                "kubectl -n velero get externalsecret velero-credentials",
                "kubectl -n velero logs deploy/velero --tail=200 | grep -i backup-storage",
            ),
            (
                "Credentials: write them again into OpenBao (`sre-constructs plan` prints the command) and "
                "`kubectl -n velero annotate externalsecret velero-credentials force-sync=$(date +%s) --overwrite`.",
                "Endpoint or bucket: fix the `bucket`, `prefix`, `s3_url` or `region` knobs and "
                "`flux reconcile kustomization backup --with-source`.",
                "Velero down: `kubectl -n velero rollout restart deploy/velero`.",
            ),
        ),
        (
            RuleTest(
                (Series(_LOCATION, "0x30"),),
                "15m",
                True,
                (("namespace", "${namespace}"), ("backup_location_name", "default")),
            ),
            RuleTest(
                (Series('up{namespace="${namespace}",job="velero"}', "1x30"),),
                "15m",
                True,
                (("namespace", "${namespace}"),),
            ),
            RuleTest((Series(_LOCATION, "1x30"),), "15m", False),
        ),
    ),
)
