"""OpenBao's metrics at v2.6.2 (prefix ``vault_``) and its alerting rules (facts of :mod:`.openbao`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER"]

_RAFT = "hashicorp/raft@v1.7.3 raft.go"
_AUTOPILOT = "physical/raft/raft_autopilot_delegate.go@v2.6.2"

EXPORTER = Exporter(
    "OpenBao server",
    MappingProxyType(
        {
            "vault_core_unsealed": "vault/core_metrics.go@v2.6.2:65",
            "vault_core_active": "vault/core_metrics.go@v2.6.2:72",
            "vault_raft_state_leader": f"{_RAFT}:470",
            "vault_raft_state_candidate": f"{_RAFT}:288",
            "vault_raft_state_follower": f"{_RAFT}:162",
            "vault_raft_peers": f"{_RAFT}:643",
            "vault_raft_leader_lastContact": f"{_RAFT}:1069",
            "vault_autopilot_healthy": f"{_AUTOPILOT}:74",
            "vault_autopilot_failure_tolerance": f"{_AUTOPILOT}:76",
            "vault_autopilot_node_healthy": f"{_AUTOPILOT}:83",
            "vault_raft_storage_follower_last_heartbeat_ms": "physical/raft/raft_autopilot.go@v2.6.2:310",
            "vault_raft_storage_follower_applied_index_delta": "physical/raft/raft_autopilot.go@v2.6.2:325",
            "vault_raft_storage_stats_term": "physical/raft/raft.go@v2.6.2:641",
            "vault_raft_storage_stats_commit_index": "physical/raft/raft.go@v2.6.2:641",
            "vault_raft_storage_stats_applied_index": "physical/raft/raft.go@v2.6.2:641",
            "vault_raft_storage_stats_fsm_pending": "physical/raft/raft.go@v2.6.2:641",
            "vault_audit_log_request_failure": "vault/audit_broker.go@v2.6.2:119",
            "vault_audit_log_response_failure": "vault/audit_broker.go@v2.6.2:202",
        }
    ),
    scraped_by="PodMonitor openbao (every pod, /v1/sys/metrics?format=prometheus over TLS); port 8200",
    targets=(ScrapeTarget(kind="PodMonitor", labels=MappingProxyType({"app.kubernetes.io/name": "openbao"})),),
)

ALERTS: tuple[AlertRule, ...] = ()
