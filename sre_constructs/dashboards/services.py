"""One dashboard per platform service and Flux: what an operator opens when that service's alert fires.

Every query reads only metrics the service's exporter has at its pin (``ChartFacts.exporters``, see
:mod:`sre_constructs.kernel.metrics`); a test checks each expression. Queries select by the
namespace a component runs in, read from :class:`Scope`, so renamed namespaces keep working.
Where a ServiceMonitor keeps ``honorLabels: false`` (cert-manager, External Secrets), an object's
own namespace is ``exported_namespace``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .model import LOKI, Dashboard, Panel, Query, Threshold

__all__ = ["DASHBOARDS", "Scope", "dashboard_for"]

_RED, _ORANGE, _GREEN = Threshold("red"), Threshold("orange"), Threshold("green")
_WIDE = 24


@dataclass(frozen=True)
class Scope:
    """What the dashboards need to know of the platform they watch.

    Attributes:
        namespaces: component name -> the namespace it runs in.
        flux_names: component name -> its Flux Kustomization's name (``name_prefix`` included).
        gateway: the Istio ingress gateway's ``(namespace, Deployment name)``, when it is on.
        loki: Loki is a datasource (logging is enabled): dashboards add their log panels.
    """

    namespaces: Mapping[str, str]
    flux_names: Mapping[str, str] = field(default_factory=dict)
    gateway: tuple[str, str] | None = None
    loki: bool = False

    def ns(self, component: str) -> str:
        return self.namespaces[component]


def _errors_log(scope: Scope, component: str) -> tuple[Panel, ...]:
    """The component's recent error lines, when Loki is there to ask."""
    if not scope.loki:
        return ()
    selector = f'{{namespace="{scope.ns(component)}"}} |~ "(?i)(error|fail|panic)"'
    return (
        Panel(
            "Error lines",
            (Query(selector, datasource=LOKI),),
            kind="logs",
            width=_WIDE,
            height=10,
            description="Recent log lines of the namespace matching error, fail or panic (Loki).",
        ),
    )


def _workload_panels(namespace: str) -> tuple[Panel, ...]:
    """Pods ready and restarts in one namespace (kube-state-metrics)."""
    return (
        Panel(
            "Deployments: available / desired",
            (
                Query(
                    f'kube_deployment_status_replicas_available{{namespace="{namespace}"}}',
                    "{{deployment}} available",
                ),
                Query(f'kube_deployment_spec_replicas{{namespace="{namespace}"}}', "{{deployment}} desired"),
            ),
            description="Available replicas should equal the desired count.",
        ),
        Panel(
            "Container restarts (1h)",
            (
                Query(
                    f'sum by (pod) (increase(kube_pod_container_status_restarts_total{{namespace="{namespace}"}}[1h]))',
                    "{{pod}}",
                ),
            ),
            description="Restarts in the last hour; steady growth means a crash loop.",
            thresholds=(_GREEN, Threshold("orange", 1), Threshold("red", 5)),
        ),
    )


def istio(scope: Scope) -> tuple[Panel, ...]:
    ns = scope.ns("istio")
    panels = [
        Panel(
            "Connected proxies",
            (Query("sum(pilot_xds)", "proxies"),),
            kind="stat",
            width=6,
            description="Sidecars and gateways connected to istiod; drops when proxies lose the control plane.",
        ),
        Panel(
            "xDS pushes by type (5m rate)",
            (Query('sum by (type) (rate(pilot_xds_pushes{type!~".*_senderr"}[5m]))', "{{type}}"),),
            width=18,
            description="Configuration pushes to proxies; bursts follow deployments, a constant high rate means churn.",
        ),
        Panel(
            "Config rejected by proxies (5m)",
            (Query("sum by (type) (increase(pilot_total_xds_rejects[5m]))", "{{type}}"),),
            description="NACKs: proxies refusing the configuration istiod sent. Should be 0.",
            thresholds=(_GREEN, Threshold("red", 1)),
        ),
        Panel(
            "xDS send errors (5m)",
            (Query('sum by (type) (increase(pilot_xds_pushes{type=~".*_senderr"}[5m]))', "{{type}}"),),
            description="0: istiod failed to send configuration to a proxy.",
        ),
        *_workload_panels(ns),
    ]
    if scope.gateway is not None:
        gateway_ns, gateway = scope.gateway
        source = f'reporter="source",source_workload="{gateway}",source_workload_namespace="{gateway_ns}"'
        panels += [
            Panel(
                "Ingress gateway requests by code (5m rate)",
                (Query(f"sum by (response_code) (rate(istio_requests_total{{{source}}}[5m]))", "{{response_code}}"),),
                unit="reqps",
                description="Requests through the ingress gateway by HTTP status.",
            ),
            Panel(
                "Ingress gateway 5xx ratio",
                (
                    Query(
                        f'sum(rate(istio_requests_total{{{source},response_code=~"5.."}}[5m]))'
                        f" / sum(rate(istio_requests_total{{{source}}}[5m]))",
                        "5xx",
                    ),
                ),
                unit="percentunit",
                thresholds=(_GREEN, Threshold("orange", 0.01), Threshold("red", 0.05)),
                description="Share of gateway responses that are 5xx; below 1%.",
            ),
        ]
    return (*panels, *_errors_log(scope, "istio"))


def cert_manager(scope: Scope) -> tuple[Panel, ...]:
    return (
        Panel(
            "Certificates not Ready",
            (Query('sum(certmanager_certificate_ready_status{condition!="True"} == 1) or vector(0)'),),
            kind="stat",
            width=6,
            thresholds=(_GREEN, Threshold("red", 1)),
            description="0. A certificate that is not Ready is not served renewed.",
        ),
        Panel(
            "Soonest expiry",
            (Query("min(certmanager_certificate_expiration_timestamp_seconds > 0) - time()"),),
            kind="stat",
            width=6,
            unit="dtdurations",
            thresholds=(_RED, Threshold("orange", 7 * 86400), Threshold("green", 21 * 86400)),
            description="Time until the first certificate expires; weeks, not days.",
        ),
        Panel(
            "ACME requests by status (5m rate)",
            (Query("sum by (status) (rate(certmanager_http_acme_client_request_count[5m]))", "{{status}}"),),
            description='Status "999" means no response (network error).',
            width=12,
        ),
        Panel(
            "Time to expiry per certificate",
            (
                Query(
                    "sort(certmanager_certificate_expiration_timestamp_seconds - time())",
                    "{{exported_namespace}}/{{name}}",
                    instant=True,
                ),
            ),
            kind="bargauge",
            unit="dtdurations",
            width=_WIDE,
            height=10,
            thresholds=(_RED, Threshold("orange", 7 * 86400), Threshold("green", 21 * 86400)),
            description="Every certificate's remaining life; red below a week.",
        ),
        Panel(
            "Controller sync errors (5m)",
            (Query("sum by (controller) (increase(certmanager_controller_sync_error_count[5m]))", "{{controller}}"),),
            description="0 or rare; a steady rate means issuance keeps failing.",
        ),
        *_workload_panels(scope.ns("cert-manager"))[:1],
        *_errors_log(scope, "cert-manager"),
    )


def kyverno(scope: Scope) -> tuple[Panel, ...]:
    return (
        Panel(
            "Admission requests by outcome (5m rate)",
            (
                Query(
                    "sum by (request_allowed) (rate(kyverno_admission_requests_total[5m]))",
                    "allowed={{request_allowed}}",
                ),
            ),
            unit="reqps",
            description="allowed=false are requests Kyverno refused: policy denials, or errors.",
        ),
        Panel(
            "Admission review latency p99",
            (
                Query(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(kyverno_admission_review_duration_seconds_bucket[5m])))",
                    "p99",
                ),
            ),
            unit="s",
            thresholds=(_GREEN, Threshold("orange", 1), Threshold("red", 5)),
            description="Well under a second; the API server times webhooks out at 10s.",
        ),
        Panel(
            "Policy rules by readiness",
            (Query("sum by (status_ready) (kyverno_policy_rule_info_total)", "ready={{status_ready}}"),),
            kind="stat",
            description="All rules ready=true; a rule that is not ready enforces nothing.",
        ),
        Panel(
            "ValidatingPolicy results (5m rate)",
            (Query("sum by (result) (rate(kyverno_validating_policy_results_total[5m]))", "{{result}}"),),
            description="Results of the CEL ValidatingPolicies by outcome (pass, fail, error).",
        ),
        Panel(
            "Controller reconcile errors (5m)",
            (
                Query(
                    "sum by (controller_name) (increase(kyverno_controller_requeue_total[5m]))", "{{controller_name}}"
                ),
            ),
            description="0 or rare: reconcile errors requeued by Kyverno's controllers.",
        ),
        *_workload_panels(scope.ns("kyverno")),
        *_errors_log(scope, "kyverno"),
    )


def monitoring(scope: Scope) -> tuple[Panel, ...]:
    ns = scope.ns("monitoring")
    return (
        Panel(
            "Scrape targets down",
            (Query("count by (job, namespace) (up == 0)", "{{namespace}}/{{job}}"),),
            description="Targets Prometheus cannot scrape: their alerts cannot fire either.",
            thresholds=(_GREEN, Threshold("red", 1)),
        ),
        Panel(
            "Firing alerts by severity",
            (Query('count by (severity) (ALERTS{alertstate="firing"})', "{{severity}}"),),
            description="Only the always-firing Watchdog (severity none) when healthy.",
        ),
        Panel(
            "Prometheus and Alertmanager replicas ready",
            (
                Query(f'kube_statefulset_status_replicas_ready{{namespace="{ns}"}}', "{{statefulset}} ready"),
                Query(f'kube_statefulset_replicas{{namespace="{ns}"}}', "{{statefulset}} desired"),
            ),
            description="Ready equals desired for every StatefulSet.",
        ),
        *_workload_panels(ns),
    )


def logging(scope: Scope) -> tuple[Panel, ...]:
    return (
        Panel(
            "Lines received (5m rate)",
            (Query("sum(rate(loki_distributor_lines_received_total[5m]))", "lines/s"),),
            description="Log lines per second Loki accepts; a drop to 0 means nothing ships logs.",
        ),
        Panel(
            "Lines rejected by reason (5m rate)",
            (Query("sum by (reason) (rate(loki_discarded_samples_total[5m]))", "{{reason}}"),),
            thresholds=(_GREEN, Threshold("red", 0.001)),
            description="0: lines Loki refused (rate limits, too old, too long).",
        ),
        Panel(
            "Loki requests by status (5m rate)",
            (Query("sum by (status_code) (rate(loki_request_duration_seconds_count[5m]))", "{{status_code}}"),),
            unit="reqps",
            description="Mostly 2xx; 5xx are failed pushes or queries.",
        ),
        Panel(
            "Alloy: entries sent and dropped (5m rate)",
            (
                Query("sum(rate(loki_write_sent_entries_total[5m]))", "sent"),
                Query("sum by (reason) (rate(loki_write_dropped_entries_total[5m]))", "dropped: {{reason}}"),
            ),
            description="Dropped is 0: Alloy gave up on those entries (Loki refused or unreachable).",
        ),
        Panel(
            "Alloy components by health",
            (Query("sum by (health_type) (alloy_component_controller_running_components)", "{{health_type}}"),),
            kind="stat",
            description="Only healthy; an unhealthy component collects or forwards nothing.",
        ),
        *_workload_panels(scope.ns("logging")),
        *_errors_log(scope, "logging"),
    )


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
    return (
        Panel(
            "Seal state per node",
            # A pod restarted sealed reports no gauge at all: it shows as 0 through its `up`.
            (Query(_unsealed(scope.ns("openbao")), "{{pod}}", instant=True),),
            kind="stat",
            width=_WIDE,
            mappings=((0, "sealed"), (1, "unsealed")),
            thresholds=(_RED, Threshold("green", 1)),
            description="Every node unsealed. A sealed node serves no secrets.",
        ),
        Panel(
            "Active (leader) nodes",
            (Query("sum(vault_core_active)", "active"),),
            kind="stat",
            width=6,
            description="Exactly 1 in a healthy HA cluster.",
            thresholds=(_RED, Threshold("green", 1), Threshold("red", 2)),
        ),
        Panel(
            "Raft failure tolerance",
            (Query("max(vault_autopilot_failure_tolerance)", "voters"),),
            kind="stat",
            width=6,
            thresholds=(_RED, Threshold("green", 1)),
            description="Voters the cluster can lose and keep its quorum (autopilot, on the leader): 1 with 3 "
            "replicas, 0 with one.",
        ),
        Panel(
            "Autopilot healthy",
            (Query("max(vault_autopilot_healthy)", "healthy"),),
            kind="stat",
            width=6,
            mappings=((0, "unhealthy"), (1, "healthy")),
            thresholds=(_RED, Threshold("green", 1)),
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
            thresholds=(_GREEN, Threshold("red", 1)),
            description="0. OpenBao refuses requests it cannot audit.",
        ),
        *_workload_panels(scope.ns("openbao"))[1:],
        *_errors_log(scope, "openbao"),
    )


def external_secrets(scope: Scope) -> tuple[Panel, ...]:
    not_ready = '{condition="Ready",status="False"} == 1'
    return (
        Panel(
            "ExternalSecrets not Ready",
            (Query(f"sum(externalsecret_status_condition{not_ready}) or vector(0)"),),
            kind="stat",
            width=8,
            thresholds=(_GREEN, Threshold("red", 1)),
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
            thresholds=(_GREEN, Threshold("red", 1)),
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
        *_workload_panels(scope.ns("external-secrets")),
        *_errors_log(scope, "external-secrets"),
    )


def runtime_security(scope: Scope) -> tuple[Panel, ...]:
    ns = scope.ns("runtime-security")
    return (
        Panel(
            "Enforcers ready / scheduled",
            (
                Query(f'kube_daemonset_status_number_ready{{namespace="{ns}"}}', "{{daemonset}} ready"),
                Query(f'kube_daemonset_status_desired_number_scheduled{{namespace="{ns}"}}', "{{daemonset}} scheduled"),
            ),
            description="NeuVector's core chart exports no metrics: its health comes from kube-state-metrics.",
        ),
        *_workload_panels(ns),
        *_errors_log(scope, "runtime-security"),
    )


def backup(scope: Scope) -> tuple[Panel, ...]:
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
            width=_WIDE,
            thresholds=(_GREEN, Threshold("orange", 86400 * 1.5), Threshold("red", 86400 * 2)),
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
            thresholds=(_RED, Threshold("green", 1)),
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
        *_workload_panels(scope.ns("backup"))[:1],
        *_errors_log(scope, "backup"),
    )


def flux(scope: Scope) -> tuple[Panel, ...]:
    not_ready = 'gotk_resource_info{ready!="True",suspended!="true"}'
    return (
        Panel(
            "Objects not Ready by kind",
            (Query(f"count by (customresource_kind) ({not_ready})", "{{customresource_kind}}"),),
            kind="stat",
            width=_WIDE,
            thresholds=(_GREEN, Threshold("red", 1)),
            description="0 for every kind; suspended objects are left out.",
        ),
        Panel(
            "Not Ready",
            (Query(not_ready, "{{customresource_kind}} {{exported_namespace}}/{{name}}", instant=True),),
            kind="table",
            description="Empty: each row is a Flux object whose Ready condition is False or Unknown.",
        ),
        Panel(
            "Suspended",
            (
                Query(
                    'gotk_resource_info{suspended="true"}',
                    "{{customresource_kind}} {{exported_namespace}}/{{name}}",
                    instant=True,
                ),
            ),
            kind="table",
            description="Empty outside maintenance: a suspended object is not reconciled.",
        ),
        Panel(
            "Reconcile duration p99 by kind",
            (
                Query(
                    "histogram_quantile(0.99, sum by (le, kind) (rate(gotk_reconcile_duration_seconds_bucket[5m])))",
                    "{{kind}}",
                ),
            ),
            unit="s",
            description="Seconds; a steady climb means slow sources or a chart that times out.",
        ),
        Panel(
            "Controllers up",
            (Query('up{namespace="flux-system"}', "{{pod}}"),),
            thresholds=(_RED, Threshold("green", 1)),
            description="1 per Flux controller pod; 0 means Prometheus cannot scrape it.",
        ),
    )


# Component name -> (title, what it answers, panels).
DASHBOARDS: dict[str, tuple[str, str, Callable[[Scope], tuple[Panel, ...]]]] = {
    "istio": ("Istio", "Is istiod serving the mesh, and is the ingress gateway healthy?", istio),
    "cert-manager": ("cert-manager", "Are certificates Ready and renewed in time?", cert_manager),
    "kyverno": ("Kyverno", "Is admission fast and are the policies ready?", kyverno),
    "monitoring": ("Monitoring", "Is everything scraped, and who is alerting?", monitoring),
    "logging": ("Logging", "Are logs arriving in Loki, or rejected and dropped?", logging),
    "openbao": ("OpenBao", "Is every node unsealed, with one leader and full raft membership?", openbao),
    "external-secrets": ("External Secrets", "Do ExternalSecrets sync from their stores?", external_secrets),
    "runtime-security": ("NeuVector", "Are the controller and an enforcer on every node running?", runtime_security),
    "backup": ("Velero", "Did every scheduled backup succeed in time?", backup),
    "flux": ("Flux", "Is everything Flux reconciles Ready?", flux),
}


def dashboard_for(component: str, scope: Scope) -> Dashboard:
    """The dashboard of one component (or ``flux``)."""
    title, question, panels = DASHBOARDS[component]
    return Dashboard(
        uid=f"sre-{component}",
        title=f"Platform / {title}",
        panels=panels(scope),
        component=component,
        description=question,
    )
