"""External Secrets Operator's metrics at v2.9.0 and its alerting rules (facts of :mod:`.external_secrets`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
from ..kernel.metrics import Exporter, ScrapeTarget
from ._openbao_alerts import as_admin

__all__ = ["ALERTS", "EXPORTER"]

_ES = "pkg/controllers/externalsecret/esmetrics/esmetrics.go@v2.9.0"
_CES = "pkg/controllers/clusterexternalsecret/cesmetrics/cesmetrics.go@v2.9.0"

EXPORTER = Exporter(
    "External Secrets controller",
    MappingProxyType(
        {
            "externalsecret_status_condition": f"{_ES}:64",
            "externalsecret_sync_calls_total": f"{_ES}:35",
            "externalsecret_sync_calls_error": f"{_ES}:37",
            "externalsecret_reconcile_duration": f"{_ES}:70",
            "externalsecret_provider_api_calls_count": "runtime/metrics/metrics.go@v2.9.0:29",
            "secretstore_status_condition": "pkg/controllers/secretstore/ssmetrics/ssmetrics.go@v2.9.0:30",
            "clustersecretstore_status_condition": "pkg/controllers/secretstore/cssmetrics/cssmetrics.go@v2.9.0:30",
            "secretstore_reconcile_duration": "pkg/controllers/secretstore/ssmetrics/ssmetrics.go@v2.9.0:42",
            "clustersecretstore_reconcile_duration": "pkg/controllers/secretstore/cssmetrics/cssmetrics.go@v2.9.0:41",
            "clusterexternalsecret_status_condition": _CES,
            "pushsecret_status_condition": "pkg/controllers/pushsecret/psmetrics/psmetrics.go@v2.9.0",
            "controller_runtime_reconcile_errors_total": "docs/api/metrics.md@v2.9.0 (controller-runtime)",
            "controller_runtime_reconcile_total": "docs/api/metrics.md@v2.9.0 (controller-runtime)",
        }
    ),
    scraped_by="the chart's ServiceMonitor (serviceMonitor.enabled, honorLabels false); port 8080",
    targets=(ScrapeTarget(chart="external-secrets", values_path="serviceMonitor.enabled"),),
)

# The chart's ServiceMonitor keeps honorLabels false: an object's namespace arrives as exported_namespace.
_ES = 'name="db",exported_namespace="apps",namespace="${namespace}"'
_WHICH = (("exported_namespace", "apps"), ("name", "db"))
_CONFIRM = (
    "kubectl get externalsecret -A",
    "kubectl -n <namespace> describe externalsecret <name>",
    "kubectl -n ${namespace} logs deploy/${fullname} | grep <name>",
)


def _in_openbao(commands: str) -> str:
    """``commands`` run in OpenBao's pod as the platform admin (OpenBao's default names; see its runbooks)."""
    return as_admin(commands, namespace="${openbao_namespace}", pod="sts/openbao")


ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "ExternalSecretNotReady",
        'max by (exported_namespace, name) (externalsecret_status_condition{condition="Ready",status="False"}) == 1',
        "15m",
        "warning",
        "ExternalSecret {{ $labels.exported_namespace }}/{{ $labels.name }} is not Ready",
        "ExternalSecret {{ $labels.exported_namespace }}/{{ $labels.name }} has not been Ready for 15 minutes: its "
        "Secret is missing or stale.",
        Runbook(
            "External Secrets could not build the Secret: the key is missing in OpenBao, the store is not Ready, or "
            "the template fails. A Secret that exists keeps its last value; a new one is not created, and the pods "
            "that mount it do not start.",
            _CONFIRM,
            (
                "Read the Ready condition's message (kubectl -n <namespace> get externalsecret <name> -o "
                "jsonpath='{.status.conditions}').",
                "A missing key: write it (bao kv put -mount=<kv mount> <path> <key>=<value>) — the bring-up plan "
                "lists the exact command for the platform's own secrets.",
                "Then sync at once: kubectl -n <namespace> annotate externalsecret <name> force-sync=$(date +%s) "
                "--overwrite",
            ),
        ),
        tests=(
            RuleTest(
                (Series(f'externalsecret_status_condition{{{_ES},condition="Ready",status="False"}}', "1x30"),),
                "20m",
                True,
                _WHICH,
            ),
            RuleTest(
                (
                    Series(f'externalsecret_status_condition{{{_ES},condition="Ready",status="False"}}', "0x30"),
                    Series(f'externalsecret_status_condition{{{_ES},condition="Ready",status="True"}}', "1x30"),
                ),
                "20m",
                False,
            ),
        ),
    ),
    AlertRule(
        "ExternalSecretSyncErrors",
        "sum by (exported_namespace, name) (increase(externalsecret_sync_calls_error[15m])) > ${threshold}",
        "15m",
        "warning",
        "ExternalSecret {{ $labels.exported_namespace }}/{{ $labels.name }} fails to sync",
        "ExternalSecret {{ $labels.exported_namespace }}/{{ $labels.name }} has had reconcile errors for 15 minutes "
        "({{ $value }} in the last 15): its Secret is not refreshed.",
        Runbook(
            "Every reconcile of the ExternalSecret errs: the provider refuses (permission denied, key not found), "
            "OpenBao is unreachable or sealed, or the target Secret cannot be written. Rotated values do not "
            "reach the cluster.",
            (*_CONFIRM, "kubectl get clustersecretstore"),
            (
                "Permission denied: check the role's policy covers the path: "
                + _in_openbao("bao policy read ${openbao_role}"),
                "OpenBao unreachable or sealed: see the OpenBao alerts; the store turns Ready again once it serves.",
                "kubectl -n <namespace> annotate externalsecret <name> force-sync=$(date +%s) --overwrite",
            ),
        ),
        tests=(
            RuleTest((Series(f"externalsecret_sync_calls_error{{{_ES}}}", "0+1x40"),), "30m", True, _WHICH),
            # One error that did not repeat.
            RuleTest((Series(f"externalsecret_sync_calls_error{{{_ES}}}", "0 1x40"),), "30m", False),
        ),
        threshold=0,
    ),
    AlertRule(
        "SecretStoreNotReady",
        'max by (exported_namespace, name) (secretstore_status_condition{condition="Ready",status="False"}) == 1'
        ' or max by (name) (clustersecretstore_status_condition{condition="Ready",status="False"}) == 1',
        "10m",
        "critical",
        "Secret store {{ $labels.exported_namespace }}{{ if $labels.exported_namespace }}/{{ end }}{{ $labels.name }}"
        " is not Ready",
        "The (Cluster)SecretStore {{ $labels.name }} has not been Ready for 10 minutes: no ExternalSecret that uses "
        "it syncs.",
        Runbook(
            "External Secrets cannot authenticate to the store's backend (OpenBao's Kubernetes auth role, its CA, "
            "its address) or the backend is down. Every ExternalSecret of the store goes stale.",
            (
                "kubectl get clustersecretstore,secretstore -A",
                "kubectl describe clustersecretstore <name>",
                "kubectl -n ${namespace} logs deploy/${fullname} | grep -i store",
            ),
            (
                "Check OpenBao is unsealed and active (OpenBao alerts) and reachable from ${namespace}.",
                "Check the Kubernetes auth role still binds the controller's ServiceAccount (${fullname} in "
                "${namespace}): " + _in_openbao("bao read auth/kubernetes/role/${openbao_role}"),
                "The store is re-validated every minute; after a fix: kubectl annotate clustersecretstore <name> "
                "force-sync=$(date +%s) --overwrite",
            ),
        ),
        tests=(
            RuleTest(
                (
                    Series(
                        'clustersecretstore_status_condition{name="openbao",namespace="${namespace}",condition="Ready",'
                        'status="False"}',
                        "1x20",
                    ),
                ),
                "15m",
                True,
                (("name", "openbao"),),
            ),
            RuleTest(
                (Series(f'secretstore_status_condition{{{_ES},condition="Ready",status="False"}}', "1x20"),),
                "15m",
                True,
                _WHICH,
            ),
            RuleTest(
                (
                    Series(
                        'clustersecretstore_status_condition{name="openbao",namespace="${namespace}",condition="Ready",'
                        'status="True"}',
                        "1x20",
                    ),
                ),
                "15m",
                False,
            ),
        ),
    ),
    AlertRule(
        "ExternalSecretsControllerDown",
        'absent(up{job="${fullname}-metrics",namespace="${namespace}"} == 1)',
        "10m",
        "critical",
        "The External Secrets controller is down",
        "No External Secrets controller in ${namespace} has answered its metrics endpoint for 10 minutes: no "
        "Secret is created or refreshed from OpenBao.",
        Runbook(
            "The controller Deployment has no running pod, or none answers on port 8080. Existing Secrets keep "
            "their values; new ExternalSecrets and rotations wait.",
            (
                "kubectl -n ${namespace} get deploy,pods",
                "kubectl -n ${namespace} describe pod -l app.kubernetes.io/name=external-secrets",
                "kubectl -n ${namespace} logs deploy/${fullname} --previous",
            ),
            (
                "Fix what the pod events say (image pull, OOMKilled, scheduling).",
                "kubectl -n ${namespace} rollout restart deploy/${fullname}",
                "flux reconcile helmrelease ${release} -n ${namespace} --force",
            ),
        ),
        tests=(
            RuleTest((Series('up{job="${fullname}-metrics",namespace="${namespace}"}', "0x20"),), "15m", True),
            RuleTest((Series('up{job="${fullname}-metrics",namespace="${namespace}"}', "1x20"),), "15m", False),
        ),
    ),
)
