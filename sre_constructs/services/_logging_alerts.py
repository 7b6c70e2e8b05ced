"""Loki's (v3.7.6) and Alloy's (v1.18.1) metrics and their alerting rules (facts of :mod:`.logging`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
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

# Every series below is scraped in the logging namespace: `namespace` is the target label (Loki's
# and Alloy's metrics carry `tenant`, `host`, never `namespace`).
_NS = (("namespace", "${namespace}"),)
_LOKI_LOGS = "kubectl -n logging logs sts/loki --tail=200"
_ALLOY_LOGS = "kubectl -n logging logs ds/alloy -c alloy --tail=200"


def _rate_cases(series: str, labels: tuple[tuple[str, str], ...]) -> tuple[RuleTest, ...]:
    """A counter growing for 30 minutes fires after a 15m ``for``; a flat one stays silent."""
    return (
        RuleTest((Series(series, "0+30x40"),), "30m", True, labels),
        RuleTest((Series(series, "500x40"),), "30m", False),
    )


def _requests(code: str, values: str) -> Series:
    return Series(
        f'loki_request_duration_seconds_count{{namespace="${{namespace}}",route="loki_api_v1_push",status_code="{code}"}}',
        values,
    )


_DISCARDED = 'loki_discarded_samples_total{namespace="${namespace}",reason="rate_limited",tenant="fake"}'
_DROPPED = 'loki_write_dropped_entries_total{namespace="${namespace}",pod="alloy-x",reason="rate_limited"}'
_HEALTH = 'alloy_component_controller_running_components{namespace="${namespace}",pod="alloy-x",health_type="%s"}'
_UP = 'up{namespace="${namespace}",job="${namespace}/${loki}",pod="${loki}-0"}'
_READY = 'kube_statefulset_status_replicas_ready{namespace="${namespace}",statefulset="${loki}"}'

ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "LokiUnavailable",
        'kube_statefulset_status_replicas_ready{namespace="${namespace}", statefulset="${loki}"} == 0',
        "5m",
        "critical",
        "Loki {{ $labels.namespace }}/{{ $labels.statefulset }} has no ready replica",
        "No Loki pod has been ready for 5 minutes: log lines cannot be stored (Alloy retries, then drops them) "
        "and Grafana cannot query logs.",
        Runbook(
            "Loki is down; logs of the whole cluster are being buffered by Alloy and then lost.",
            (
                "kubectl -n logging get sts,pods -l app.kubernetes.io/name=loki",
                "kubectl -n logging describe pod loki-0",
                _LOKI_LOGS,
            ),
            (
                "Fix what the events name (PVC not bound, OOMKilled: raise `values.singleBinary.resources`; S3 "
                "credentials: check `kubectl -n logging get externalsecret`), then "
                "`kubectl -n logging rollout restart sts/loki`.",
                "`flux reconcile helmrelease -n logging loki --force` if the release itself is failing.",
            ),
        ),
        (
            RuleTest((Series(_READY, "0x20"),), "10m", True, (*_NS, ("statefulset", "${loki}"))),
            RuleTest((Series(_READY, "1x20"),), "10m", False),
        ),
    ),
    AlertRule(
        "LokiDiscardingLines",
        'sum by (namespace, reason) (rate(loki_discarded_samples_total{namespace="${namespace}"}[5m])) > ${threshold}',
        "15m",
        "warning",
        "Loki rejects log lines: {{ $labels.reason }}",
        "Loki has been discarding lines for 15 minutes with reason '{{ $labels.reason }}' ({{ $value }} lines/s, "
        "above ${threshold}): they are not stored. rate_limited, per_stream_rate_limit and "
        "stream_limit are limits; line_too_long, too_far_behind, greater_than_max_sample_age are bad input.",
        Runbook(
            "Loki refuses part of what Alloy pushes (limits_config limits, or lines too old, too long, or with "
            "invalid labels).",
            (
                "# in Prometheus: sum by (reason, tenant) (rate(loki_discarded_samples_total[5m]))",
                _LOKI_LOGS + " | grep -i -e discard -e 'rate limit' -e 'too far behind'",
            ),
            (
                "Limits: raise `loki.limits_config` (ingestion_rate_mb, ingestion_burst_size_mb, "
                "per_stream_rate_limit, max_line_size) through the logging `values` knob.",
                "Bad input: find the noisy pod (`sum by (namespace, pod) (rate(loki_write_sent_entries_total[5m]))` "
                "on Alloy's side) and fix its logging.",
            ),
        ),
        _rate_cases(_DISCARDED, (*_NS, ("reason", "rate_limited"))),
        threshold=0,
    ),
    AlertRule(
        "AlloyDroppingLines",
        "sum by (namespace, pod, reason) "
        '(rate(loki_write_dropped_entries_total{namespace="${namespace}"}[5m])) > ${threshold}',
        "15m",
        "warning",
        "Alloy pod {{ $labels.pod }} drops log lines: {{ $labels.reason }}",
        "loki.write in {{ $labels.pod }} has been giving up on lines for 15 minutes (reason "
        "'{{ $labels.reason }}', {{ $value }} lines/s, above ${threshold}): Loki refused them or "
        "they could not be sent after retries. Those lines are lost.",
        Runbook(
            "Alloy cannot deliver logs to Loki (Loki down or rate limiting, the gateway unreachable, or the "
            "send queue is full).",
            (
                "kubectl -n logging get pods -l app.kubernetes.io/name=alloy -o wide",
                _ALLOY_LOGS + " | grep -i loki.write",
                "kubectl -n logging get pods -l app.kubernetes.io/component=gateway",
            ),
            (
                "ingester_error / queue_is_full: bring Loki back (LokiUnavailable, LokiRequestErrors).",
                "rate_limited / stream_limited / line_too_long: see LokiDiscardingLines (raise Loki's limits).",
            ),
        ),
        _rate_cases(_DROPPED, (*_NS, ("pod", "alloy-x"), ("reason", "rate_limited"))),
        threshold=0,
    ),
    AlertRule(
        "AlloyComponentsUnhealthy",
        "sum by (namespace, pod) "
        '(alloy_component_controller_running_components{namespace="${namespace}", health_type!="healthy"}) > 0',
        "15m",
        "warning",
        "Alloy pod {{ $labels.pod }} has {{ $value }} unhealthy components",
        "{{ $value }} components of the Alloy configuration in {{ $labels.pod }} have been unhealthy, exited or "
        "of unknown health for 15 minutes: the pipeline they belong to (discovery, tailing, sending) is not "
        "working on that node.",
        Runbook(
            "A component of Alloy's pipeline failed (API server unreachable for discovery or tailing, a bad "
            "configuration after a change).",
            (
                _ALLOY_LOGS + " | grep -i -e error -e unhealthy",
                "kubectl -n logging port-forward <pod> 12345 & curl -s localhost:12345/api/v0/web/components",
            ),
            (
                "Fix the component the log names (its configuration comes from the logging component's "
                "`alloy_config`/`alloy_values`), then `kubectl -n logging rollout restart ds/alloy`.",
            ),
        ),
        (
            RuleTest(
                (Series(_HEALTH % "healthy", "4x30"), Series(_HEALTH % "unhealthy", "1x30")),
                "20m",
                True,
                (*_NS, ("pod", "alloy-x")),
            ),
            RuleTest((Series(_HEALTH % "healthy", "5x30"), Series(_HEALTH % "unhealthy", "0x30")), "20m", False),
        ),
    ),
    AlertRule(
        "LokiRequestErrors",
        "100 * sum by (namespace, route) "
        '(rate(loki_request_duration_seconds_count{namespace="${namespace}", status_code=~"5.."}[5m])) '
        "/ sum by (namespace, route) "
        '(rate(loki_request_duration_seconds_count{namespace="${namespace}"}[5m])) > ${threshold}',
        "15m",
        "critical",
        "Loki answers {{ $value | humanize }}% of {{ $labels.route }} requests with a 5xx",
        "More than ${threshold}% of Loki's {{ $labels.route }} requests have failed with a server "
        "error for 15 minutes: pushes (loki_api_v1_push) lose lines, queries fail in Grafana.",
        Runbook(
            "Loki fails requests: storage (disk full, S3 errors), memory pressure, or a crashing component.",
            (
                _LOKI_LOGS + " | grep -i -e 'level=error' -e panic",
                "kubectl -n logging get pvc",
                "kubectl -n logging top pods -l app.kubernetes.io/name=loki",
            ),
            (
                "Disk full: grow the volume (`storage_size` knob; resize the PVC) or shorten `retention`.",
                "S3 errors: check the bucket and credentials (`kubectl -n logging get externalsecret`).",
                "Memory: raise `values.singleBinary.resources.limits.memory`.",
            ),
        ),
        (
            RuleTest(
                (_requests("200", "0+80x40"), _requests("500", "0+20x40")),
                "30m",
                True,
                (*_NS, ("route", "loki_api_v1_push")),
            ),
            RuleTest((_requests("200", "0+100x40"), _requests("500", "0+1x40")), "30m", False),
        ),
        threshold=10,
    ),
    AlertRule(
        "LoggingTargetDown",
        'up{namespace="${namespace}"} == 0',
        "10m",
        "warning",
        "Prometheus cannot scrape {{ $labels.job }} ({{ $labels.pod }})",
        "Scrapes of {{ $labels.pod }} (job {{ $labels.job }}) in {{ $labels.namespace }} have failed for 10 "
        "minutes: the pod is down or its metrics port is unreachable, and the logging alerts that read it are "
        "blind.",
        Runbook(
            "A Loki, canary, gateway or Alloy metrics endpoint is not answering Prometheus.",
            (
                "kubectl -n logging get pods -o wide",
                "kubectl -n logging get servicemonitors",
                "kubectl -n logging get networkpolicies",
            ),
            (
                "A crashing pod: its logs (`kubectl -n logging logs <pod> --previous`).",
                "A NetworkPolicy or port change: the logging component admits Prometheus on 3100, 3500, 4040, "
                "9150 and 12345; `flux reconcile kustomization logging --with-source` restores it.",
            ),
        ),
        (
            RuleTest(
                (Series(_UP, "0x20"),), "15m", True, (*_NS, ("job", "${namespace}/${loki}"), ("pod", "${loki}-0"))
            ),
            RuleTest((Series(_UP, "1x20"),), "15m", False),
        ),
    ),
)
