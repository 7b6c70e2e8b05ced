"""The dashboards of the services that keep the platform's data: OpenBao, External Secrets and Velero."""

from __future__ import annotations

from .model import Panel, Query, Threshold
from .scope import GREEN, RED, WIDE, Scope, errors_log, workload_panels

__all__ = ["backup", "external_secrets", "openbao", "sealed_count"]


def _unsealed(namespace: str) -> str:
    """Per OpenBao pod: 1 unsealed, 0 sealed, also for a pod that answers without the gauge."""
    return (
        f'max by (pod) (vault_core_unsealed{{namespace="{namespace}"}}) '
        f'or max by (pod) (0 * (up{{namespace="{namespace}"}} == 1))'
    )


def sealed_count(namespace: str) -> str:
    """How many OpenBao pods answer and are sealed (the overview's signal, OpenBaoSealed's condition)."""
    return f"count(({_unsealed(namespace)}) == 0) or vector(0)"


def openbao(scope: Scope) -> tuple[Panel, ...]:
    """The panels of OpenBao's dashboard."""
    return (
        Panel(
            "Seal state per node",
            # A pod restarted sealed reports no gauge at all: it shows as 0 through its `up`.
            (Query(_unsealed(scope.ns("openbao")), "{{pod}}", instant=True),),
            kind="stat",
            width=WIDE,
            mappings=((0, "sealed"), (1, "unsealed")),
            thresholds=(RED, Threshold("green", 1)),
            description="Every node unsealed. A sealed node serves no secrets.",
        ),
        Panel(
            "Active (leader) nodes",
            (Query("sum(vault_core_active)", "active"),),
            kind="stat",
            width=6,
            description="Exactly 1 in a healthy HA cluster.",
            thresholds=(RED, Threshold("green", 1), Threshold("red", 2)),
        ),
        Panel(
            "Raft failure tolerance",
            (Query("max(vault_autopilot_failure_tolerance)", "voters"),),
            kind="stat",
            width=6,
            thresholds=(RED, Threshold("green", 1)),
            description="Voters the cluster can lose and keep its quorum (autopilot, on the leader): 1 with 3 "
            "replicas, 0 with one.",
        ),
        Panel(
            "Autopilot healthy",
            (Query("max(vault_autopilot_healthy)", "healthy"),),
            kind="stat",
            width=6,
            mappings=((0, "unhealthy"), (1, "healthy")),
            thresholds=(RED, Threshold("green", 1)),
            description="healthy: every raft server is healthy in autopilot's view.",
        ),
        Panel(
            "Audit failures (5m)",
            (
                Query("sum(increase(vault_audit_log_request_failure[5m]))", "requests"),
                Query("sum(increase(vault_audit_log_response_failure[5m]))", "responses"),
            ),
            kind="stat",
            width=6,
            thresholds=(GREEN, Threshold("red", 1)),
            description="0. OpenBao refuses requests it cannot audit.",
        ),
        *workload_panels(scope.ns("openbao"))[1:],
        *errors_log(scope, "openbao"),
    )


def external_secrets(scope: Scope) -> tuple[Panel, ...]:
    """The panels of External Secrets' dashboard."""
    not_ready = '{condition="Ready",status="False"} == 1'
    return (
        Panel(
            "ExternalSecrets not Ready",
            (Query(f"sum(externalsecret_status_condition{not_ready}) or vector(0)"),),
            kind="stat",
            width=8,
            thresholds=(GREEN, Threshold("red", 1)),
            description="0. Each one keeps a stale Secret (or none).",
        ),
        Panel(
            "Stores not Ready",
            (
                Query(
                    f"(sum(secretstore_status_condition{not_ready}) or vector(0))"
                    f" + (sum(clustersecretstore_status_condition{not_ready}) or vector(0))"
                ),
            ),
            kind="stat",
            width=8,
            thresholds=(GREEN, Threshold("red", 1)),
            description="0. A store that is not Ready syncs none of its ExternalSecrets.",
        ),
        Panel(
            "Backend calls by status (5m rate)",
            (Query("sum by (status) (rate(externalsecret_provider_api_calls_count[5m]))", "{{status}}"),),
            width=8,
            description="Calls to OpenBao; errors should stay near 0.",
        ),
        Panel(
            "Not Ready ExternalSecrets",
            (Query(f"externalsecret_status_condition{not_ready}", "{{exported_namespace}}/{{name}}", instant=True),),
            kind="table",
            description="Empty: each row is an ExternalSecret whose Ready condition is False.",
        ),
        Panel(
            "Sync errors (5m)",
            (
                Query(
                    "sum by (exported_namespace, name) (increase(externalsecret_sync_calls_error[5m])) > 0",
                    "{{exported_namespace}}/{{name}}",
                ),
            ),
            description="Empty: ExternalSecrets whose last syncs failed.",
        ),
        *workload_panels(scope.ns("external-secrets")),
        *errors_log(scope, "external-secrets"),
    )


def backup(scope: Scope) -> tuple[Panel, ...]:
    """The panels of Velero's dashboard."""
    return (
        Panel(
            "Time since the last successful backup, per schedule",
            (
                Query(
                    'time() - velero_backup_last_successful_timestamp{schedule!=""}',
                    "{{schedule}}",
                    instant=True,
                ),
            ),
            kind="bargauge",
            unit="dtdurations",
            width=WIDE,
            thresholds=(GREEN, Threshold("orange", 86400 * 1.5), Threshold("red", 86400 * 2)),
            description="Under one interval of each schedule; red past two days.",
        ),
        Panel(
            "Backups by outcome (1d)",
            (
                Query("sum by (schedule) (increase(velero_backup_success_total[1d]))", "{{schedule}} completed"),
                Query("sum by (schedule) (increase(velero_backup_failure_total[1d]))", "{{schedule}} failed"),
                Query(
                    "sum by (schedule) (increase(velero_backup_partial_failure_total[1d]))",
                    "{{schedule}} partially failed",
                ),
            ),
            description="Only completed backups; failed and partially failed ones need a look.",
        ),
        Panel(
            "Backup storage locations",
            (Query("velero_backup_location_status_gauge", "{{backup_location_name}}", instant=True),),
            kind="stat",
            mappings=((0, "unavailable"), (1, "available")),
            thresholds=(RED, Threshold("green", 1)),
            description="available: Velero can reach its bucket.",
        ),
        Panel(
            "Backup duration p95",
            (
                Query(
                    "histogram_quantile(0.95, sum by (le, schedule) (rate(velero_backup_duration_seconds_bucket[1d])))",
                    "{{schedule}}",
                ),
            ),
            unit="s",
            description="Stable; a sudden rise means more data or a slow bucket.",
        ),
        *workload_panels(scope.ns("backup"))[:1],
        *errors_log(scope, "backup"),
    )
