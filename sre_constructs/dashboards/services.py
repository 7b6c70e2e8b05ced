"""One dashboard per platform service and Flux: what an operator opens when that service's alert fires.

Every query reads only metrics the service's exporter has at its pin (``ChartFacts.exporters``, see
:mod:`sre_constructs.kernel.metrics`); a test checks each expression. Queries select by the
namespace a component runs in, read from :class:`Scope`, so renamed namespaces keep working.
Where a ServiceMonitor keeps ``honorLabels: false`` (cert-manager, External Secrets), an object's
own namespace is ``exported_namespace``.
"""

from __future__ import annotations

from collections.abc import Callable

from .data_services import backup, external_secrets, openbao, sealed_count
from .flux import flux
from .model import Dashboard, Panel, Query, Threshold
from .scope import GREEN, RED, WIDE, Scope, errors_log, workload_panels

__all__ = ["DASHBOARDS", "Scope", "dashboard_for", "sealed_count"]


def istio(scope: Scope) -> tuple[Panel, ...]:
    """The panels of Istio's dashboard."""
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
            thresholds=(GREEN, Threshold("red", 1)),
        ),
        Panel(
            "xDS send errors (5m)",
            (Query('sum by (type) (increase(pilot_xds_pushes{type=~".*_senderr"}[5m]))', "{{type}}"),),
            description="0: istiod failed to send configuration to a proxy.",
        ),
        *workload_panels(ns),
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
                thresholds=(GREEN, Threshold("orange", 0.01), Threshold("red", 0.05)),
                description="Share of gateway responses that are 5xx; below 1%.",
            ),
        ]
    return (*panels, *errors_log(scope, "istio"))


def cert_manager(scope: Scope) -> tuple[Panel, ...]:
    """The panels of cert-manager's dashboard."""
    return (
        Panel(
            "Certificates not Ready",
            (Query('sum(certmanager_certificate_ready_status{condition!="True"} == 1) or vector(0)'),),
            kind="stat",
            width=6,
            thresholds=(GREEN, Threshold("red", 1)),
            description="0. A certificate that is not Ready is not served renewed.",
        ),
        Panel(
            "Soonest expiry",
            (Query("min(certmanager_certificate_expiration_timestamp_seconds > 0) - time()"),),
            kind="stat",
            width=6,
            unit="dtdurations",
            thresholds=(RED, Threshold("orange", 7 * 86400), Threshold("green", 21 * 86400)),
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
            width=WIDE,
            height=10,
            thresholds=(RED, Threshold("orange", 7 * 86400), Threshold("green", 21 * 86400)),
            description="Every certificate's remaining life; red below a week.",
        ),
        Panel(
            "Controller sync errors (5m)",
            (Query("sum by (controller) (increase(certmanager_controller_sync_error_count[5m]))", "{{controller}}"),),
            description="0 or rare; a steady rate means issuance keeps failing.",
        ),
        *workload_panels(scope.ns("cert-manager"))[:1],
        *errors_log(scope, "cert-manager"),
    )


def kyverno(scope: Scope) -> tuple[Panel, ...]:
    """The panels of Kyverno's dashboard."""
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
            thresholds=(GREEN, Threshold("orange", 1), Threshold("red", 5)),
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
        *workload_panels(scope.ns("kyverno")),
        *errors_log(scope, "kyverno"),
    )


def monitoring(scope: Scope) -> tuple[Panel, ...]:
    """The panels of the monitoring stack's dashboard."""
    ns = scope.ns("monitoring")
    return (
        Panel(
            "Scrape targets down",
            (Query("count by (job, namespace) (up == 0)", "{{namespace}}/{{job}}"),),
            description="Targets Prometheus cannot scrape: their alerts cannot fire either.",
            thresholds=(GREEN, Threshold("red", 1)),
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
        *workload_panels(ns),
    )


def logging(scope: Scope) -> tuple[Panel, ...]:
    """The panels of Loki's and Alloy's dashboard."""
    return (
        Panel(
            "Lines received (5m rate)",
            (Query("sum(rate(loki_distributor_lines_received_total[5m]))", "lines/s"),),
            description="Log lines per second Loki accepts; a drop to 0 means nothing ships logs.",
        ),
        Panel(
            "Lines rejected by reason (5m rate)",
            (Query("sum by (reason) (rate(loki_discarded_samples_total[5m]))", "{{reason}}"),),
            thresholds=(GREEN, Threshold("red", 0.001)),
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
        *workload_panels(scope.ns("logging")),
        *errors_log(scope, "logging"),
    )


def runtime_security(scope: Scope) -> tuple[Panel, ...]:
    """The panels of NeuVector's dashboard."""
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
        *workload_panels(ns),
        *errors_log(scope, "runtime-security"),
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
