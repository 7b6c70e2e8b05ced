"""OpenBao's metrics at v2.6.2 (prefix ``vault_``) and its alerting rules (facts of :mod:`.openbao`)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget

__all__ = ["ALERTS", "EXPORTER", "as_admin", "pod_monitor"]

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


def pod_monitor(fullname: str, namespace: str, release: str, ca_secret: str) -> dict[str, Any]:
    """The PodMonitor ``<fullname>`` scraping every server pod (sealed and standby ones too).

    The chart's ServiceMonitor selects the ``-active`` Service in HA mode: only the leader would be
    scraped, and a sealed pod (not Ready, so out of every Service) never. All pods serve the one
    certificate of ``ca_secret``, whose names include ``<fullname>.<namespace>.svc``.
    """
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": fullname, "namespace": namespace, "labels": {"app.kubernetes.io/name": "openbao"}},
        "spec": {
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "openbao",
                    "app.kubernetes.io/instance": release,
                    "component": "server",
                }
            },
            "namespaceSelector": {"matchNames": [namespace]},
            "podMetricsEndpoints": [
                {
                    "portNumber": 8200,
                    "scheme": "https",
                    "path": "/v1/sys/metrics",
                    "params": {"format": ["prometheus"]},
                    "interval": "30s",
                    "scrapeTimeout": "10s",
                    "tlsConfig": {
                        "serverName": f"{fullname}.{namespace}.svc",
                        "ca": {"secret": {"name": ca_secret, "key": "ca.crt"}},
                    },
                }
            ],
        },
    }


_JOB = 'job="${namespace}/${fullname}"'
_POD = 'namespace="${namespace}",pod="${fullname}-1"'
_WHERE = (("namespace", "${namespace}"), ("pod", "${fullname}-1"))
_STATUS = (
    "kubectl -n ${namespace} get pods -l app.kubernetes.io/instance=${release} -L openbao-sealed,openbao-active",
    "kubectl -n ${namespace} exec ${fullname}-0 -- bao status",
)


def as_admin(commands: str, *, namespace: str = "${namespace}", pod: str = "${fullname}-0") -> str:
    """``commands`` run in an OpenBao pod (default the first), logged in as the platform admin (as the
    bring-up plan does it); other services' runbooks name OpenBao's namespace and pod their own way.

    In the pod because the API's certificate and address are the cluster's; the token comes from the
    ``openbao-admin`` ServiceAccount through the Kubernetes auth role ``platform-admin``.
    """
    return (
        f"kubectl -n {namespace} exec -i {pod} -- sh -ec 'export BAO_CACERT=/openbao/tls/ca.crt; "
        'BAO_TOKEN=$(bao write -field=token auth/kubernetes/login role=platform-admin jwt="$1"); export BAO_TOKEN; '
        f'{commands}\' sh "$(kubectl -n {namespace} create token openbao-admin)"'
    )


ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "OpenBaoSealed",
        f"max by (namespace, pod) (up{{{_JOB}}}) == 1"
        ' unless on (namespace, pod) max by (namespace, pod) (vault_core_unsealed{namespace="${namespace}"}) == 1',
        "5m",
        "critical",
        "OpenBao {{ $labels.pod }} is sealed",
        "OpenBao pod {{ $labels.pod }} answers but has not reported itself unsealed for 5 minutes: it serves no "
        "secret and does not count towards the raft quorum.",
        Runbook(
            "The pod runs but is sealed: after a restart the auto-unseal (static seal key or KMS) did not work, or "
            "the node was sealed by an operator. A sealed node reports vault_core_unsealed 0 or, restarted sealed, "
            "nothing at all, so the alert also fires when the pod answers without the gauge.",
            (*_STATUS, "kubectl -n ${namespace} logs ${fullname}-0 | grep -i -E 'seal|unseal'"),
            (
                "Check the seal key is mounted and unchanged: kubectl -n ${namespace} get secret openbao-seal-key "
                "(or the KMS's reachability and permissions for a seal_config).",
                "Restart the pod so it unseals at start: kubectl -n ${namespace} delete pod <pod>",
                "If it was sealed on purpose (bao operator seal), it stays sealed until restarted.",
            ),
        ),
        tests=(
            RuleTest(
                (Series(f"up{{{_JOB},{_POD}}}", "1x20"), Series(f"vault_core_unsealed{{{_POD}}}", "0x20")),
                "10m",
                True,
                _WHERE,
            ),
            # Restarted sealed: the gauge was never set.
            RuleTest((Series(f"up{{{_JOB},{_POD}}}", "1x20"),), "10m", True, _WHERE),
            RuleTest(
                (Series(f"up{{{_JOB},{_POD}}}", "1x20"), Series(f"vault_core_unsealed{{{_POD}}}", "1x20")),
                "10m",
                False,
            ),
        ),
    ),
    AlertRule(
        "OpenBaoDown",
        f"max by (namespace, pod) (up{{{_JOB}}}) == 0 or absent(up{{{_JOB}}})",
        "5m",
        "critical",
        "OpenBao {{ $labels.pod }} does not answer",
        "OpenBao {{ $labels.pod }} in ${namespace} (or every pod: no scrape target) has not answered its metrics "
        "endpoint for 5 minutes.",
        Runbook(
            "Prometheus cannot reach OpenBao's /v1/sys/metrics on the pod (or finds no pod at all): the pod is down, "
            "crash-looping, or its listener or TLS is broken. Its seal state is then unknown.",
            (
                *_STATUS,
                "kubectl -n ${namespace} describe pod ${fullname}-0",
                "kubectl -n ${namespace} get podmonitor ${fullname} -o yaml",
            ),
            (
                "Fix what the pod events and logs say: kubectl -n ${namespace} logs <pod> --previous",
                "A certificate problem shows as a TLS error on the target in Prometheus' /targets page: check "
                "kubectl -n ${namespace} get certificate",
                "flux reconcile helmrelease ${release} -n ${namespace} --force",
            ),
        ),
        tests=(
            RuleTest((Series(f"up{{{_JOB},{_POD}}}", "0x20"),), "10m", True, _WHERE),
            RuleTest((), "10m", True, (("job", "${namespace}/${fullname}"),)),
            RuleTest((Series(f"up{{{_JOB},{_POD}}}", "1x20"),), "10m", False),
        ),
    ),
    AlertRule(
        "OpenBaoNoLeader",
        'absent(vault_core_active{namespace="${namespace}"} == 1)',
        "5m",
        "critical",
        "OpenBao has no active node",
        "No OpenBao node in ${namespace} has reported itself active for 5 minutes: every request fails.",
        Runbook(
            "No node holds HA leadership: the raft cluster lost quorum, or every node is sealed or down. External "
            "Secrets cannot sync and nothing can log in.",
            (*_STATUS, "kubectl -n ${namespace} exec ${fullname}-0 -- bao operator raft list-peers"),
            (
                "Bring sealed or down pods back first (see OpenBaoSealed, OpenBaoDown).",
                "With quorum lost for good (more than half of the voters gone), recover from the surviving node: "
                "https://openbao.org/docs/concepts/integrated-storage/#manual-recovery-using-peersjson",
                "Restore the latest snapshot when the data is lost: bao operator raft snapshot restore <file>",
            ),
        ),
        tests=(
            RuleTest((Series('vault_core_active{namespace="${namespace}",pod="a"}', "0x20"),), "10m", True),
            RuleTest((), "10m", True),
            RuleTest(
                (
                    Series('vault_core_active{namespace="${namespace}",pod="a"}', "0x20"),
                    Series('vault_core_active{namespace="${namespace}",pod="b"}', "1x20"),
                ),
                "10m",
                False,
            ),
        ),
    ),
    AlertRule(
        "OpenBaoRaftUnhealthy",
        # Autopilot's gauges are refreshed every few seconds on the active node. raft's own
        # vault_raft_peers is set only when the configuration changes, so with the 30s
        # prometheus_retention_time it has vanished long before any `for` could elapse.
        'max(vault_autopilot_healthy{namespace="${namespace}"}) == 0'
        ' or max(vault_autopilot_failure_tolerance{namespace="${namespace}"}) < ${tolerated}',
        "10m",
        "warning",
        "OpenBao's raft cluster is unhealthy or missing a peer",
        "OpenBao's autopilot has reported the raft cluster unhealthy, or able to lose fewer than ${tolerated} "
        "voters (${replicas} replicas), for 10 minutes: one more failure may cost the quorum.",
        Runbook(
            "A raft voter is missing or lagging: a pod lost its volume and did not rejoin, a node is partitioned, "
            "or a peer was removed. The cluster still serves while it has quorum, with less failure tolerance "
            "(autopilot's failure tolerance: healthy voters beyond the quorum).",
            (
                *_STATUS,
                as_admin("bao operator raft list-peers; bao operator raft autopilot state"),
            ),
            (
                "A pod that lost its data rejoins through retry_join after a restart: kubectl -n ${namespace} delete "
                "pod <pod>",
                "Remove a peer that is gone for good, then let the new pod join: "
                + as_admin("bao operator raft remove-peer <id>"),
            ),
        ),
        tests=(
            RuleTest((Series('vault_autopilot_healthy{namespace="${namespace}",pod="a"}', "0x30"),), "15m", True),
            RuleTest(
                (
                    Series('vault_autopilot_healthy{namespace="${namespace}",pod="a"}', "1x30"),
                    Series('vault_autopilot_failure_tolerance{namespace="${namespace}",pod="a"}', "${tolerated}x30"),
                ),
                "15m",
                False,
            ),
        ),
    ),
    AlertRule(
        "OpenBaoAuditFailures",
        'sum by (namespace, pod) (increase(vault_audit_log_request_failure{namespace="${namespace}"}[5m]))'
        ' + sum by (namespace, pod) (increase(vault_audit_log_response_failure{namespace="${namespace}"}[5m])) > 0',
        "1m",
        "critical",
        "OpenBao {{ $labels.pod }} fails to write its audit log",
        "OpenBao {{ $labels.pod }} failed to audit requests or responses in the last 5 minutes: a request that no "
        "audit device can log is refused.",
        Runbook(
            "Every audit device failed for some requests. OpenBao refuses a request it cannot audit, so clients "
            "(External Secrets among them) get errors. The platform's device writes to stdout; a blocked or full "
            "log pipeline is the usual cause. OpenBao keeps these counters only while requests flow (its "
            "prometheus_retention_time is 30s, so the seal and autopilot gauges never go stale): the alert sees "
            "failures that repeat, as they do while clients retry; one failure on an idle node may pass unseen.",
            (
                "kubectl -n ${namespace} logs ${fullname}-0 | grep -i audit",
                as_admin("bao audit list -detailed"),
            ),
            (
                "Fix the device's sink (node disk pressure, container log rotation).",
                "Add a second device so one failure does not block requests. OpenBao creates audit devices from "
                "its configuration only (the API refuses them by default): add a second `audit` block to the "
                "server configuration (the openbao `values` knob, server.ha.raft.config), e.g. a file device on a "
                "writable volume, then: flux reconcile helmrelease ${release} -n ${namespace} --force",
            ),
        ),
        tests=(
            RuleTest(
                (
                    Series(f"vault_audit_log_request_failure{{{_POD}}}", "0+1x20"),
                    Series(f"vault_audit_log_response_failure{{{_POD}}}", "0x20"),
                ),
                "10m",
                True,
                _WHERE,
            ),
            RuleTest(
                (
                    Series(f"vault_audit_log_request_failure{{{_POD}}}", "3x20"),
                    Series(f"vault_audit_log_response_failure{{{_POD}}}", "0x20"),
                ),
                "10m",
                False,
            ),
        ),
    ),
)
