"""cert-manager's metrics at v1.21.1 and its alerting rules (facts of :mod:`.cert_manager`)."""

from __future__ import annotations

from types import MappingProxyType

from ..kernel.alerts import AlertRule, RuleTest, Runbook, Series
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

# The ServiceMonitor keeps honorLabels false: a certificate's namespace arrives as exported_namespace,
# `namespace` is cert-manager's own. Two controller replicas may both report: max by deduplicates.
_WHICH = (("exported_namespace", "apps"), ("name", "web-tls"))
_LABELS = 'name="web-tls",exported_namespace="apps",namespace="${namespace}",issuer_name="platform-ca"'


def _series(metric: str, values: str, extra: str = "") -> Series:
    return Series(f"{metric}{{{_LABELS}{extra}}}", values)


_CONFIRM_CERT = (
    "kubectl get certificate -A",
    "kubectl -n <namespace> describe certificate <name>",
    "kubectl -n <namespace> get certificaterequest,order,challenge",
    "cmctl status certificate <name> -n <namespace>",
)

ALERTS: tuple[AlertRule, ...] = (
    AlertRule(
        "CertManagerCertificateNotReady",
        'max by (exported_namespace, name) (certmanager_certificate_ready_status{condition!="True"}) == 1',
        "15m",
        "warning",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} is not Ready",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} has not been Ready for 15 minutes: its "
        "Secret is missing or stale, and whatever serves it may present no or an old certificate.",
        Runbook(
            "cert-manager could not issue or renew the certificate (issuer not ready, request denied, ACME "
            "challenge failing, Secret not writable). Until it is Ready the Secret is absent or holds the old one.",
            _CONFIRM_CERT,
            (
                "Read the Ready condition and the latest CertificateRequest's message; for ACME, kubectl -n "
                "<namespace> describe challenge <name> names the failing check.",
                "Check the issuer: kubectl get clusterissuer,issuer -A (Ready must be True).",
                "After fixing the cause, retry at once: cmctl renew <name> -n <namespace>",
            ),
        ),
        tests=(
            RuleTest(
                (_series("certmanager_certificate_ready_status", "1x30", ',condition="False"'),), "20m", True, _WHICH
            ),
            RuleTest(
                (_series("certmanager_certificate_ready_status", "1x30", ',condition="Unknown"'),), "20m", True, _WHICH
            ),
            RuleTest(
                (
                    _series("certmanager_certificate_ready_status", "1x30", ',condition="True"'),
                    _series("certmanager_certificate_ready_status", "0x30", ',condition="False"'),
                ),
                "20m",
                False,
            ),
        ),
    ),
    AlertRule(
        "CertManagerCertificateRenewalOverdue",
        "max by (exported_namespace, name) (certmanager_certificate_renewal_timestamp_seconds > 0) < time() - 3600"
        " and on (exported_namespace, name)"
        " max by (exported_namespace, name) (certmanager_certificate_expiration_timestamp_seconds > 0) > time()",
        "1h",
        "warning",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} is in its renewal window but not renewed",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} should have been renewed more than an hour "
        "ago and still is not: it expires at the end of its renewal window unless the renewal succeeds.",
        Runbook(
            "The renewal time (status.renewalTime) has passed and cert-manager has not issued a new certificate. "
            "The old one still works, but the remaining renewal window is the time left to fix it.",
            (
                *_CONFIRM_CERT,
                "kubectl -n <namespace> get certificate <name> -o jsonpath='{.status.renewalTime} {.status.notAfter}'",
            ),
            (
                "Find why the renewal fails in the newest CertificateRequest: kubectl -n <namespace> describe "
                "certificaterequest -l cert-manager.io/certificate-name=<name>",
                "Fix the issuer or challenge, then: cmctl renew <name> -n <namespace>",
            ),
        ),
        tests=(
            # Renewal due at 0 (the epoch in promtool's clock), expiry 30 days later.
            RuleTest(
                (
                    _series("certmanager_certificate_renewal_timestamp_seconds", "1x200"),
                    _series("certmanager_certificate_expiration_timestamp_seconds", "2592000x200"),
                ),
                "150m",
                True,
                _WHICH,
            ),
            RuleTest(
                (
                    _series("certmanager_certificate_renewal_timestamp_seconds", "2000000x200"),
                    _series("certmanager_certificate_expiration_timestamp_seconds", "2592000x200"),
                ),
                "150m",
                False,
            ),
        ),
    ),
    AlertRule(
        "CertManagerCertificateExpiringSoon",
        "max by (exported_namespace, name) (certmanager_certificate_expiration_timestamp_seconds > 0)"
        " - time() < ${threshold} * 86400"
        " and on (exported_namespace, name)"
        " max by (exported_namespace, name) (certmanager_certificate_renewal_timestamp_seconds > 0) < time()",
        "10m",
        "critical",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} expires in less than ${threshold} days",
        "Certificate {{ $labels.exported_namespace }}/{{ $labels.name }} expires in {{ $value | humanizeDuration }} "
        "and its renewal is overdue: clients will reject it when it expires.",
        Runbook(
            "The certificate is close to its notAfter and cert-manager has not renewed it although its renewal "
            "time has passed. When it expires, TLS to the service fails for every client.",
            _CONFIRM_CERT,
            (
                "Follow CertManagerCertificateRenewalOverdue's steps; this is the same failure, now urgent.",
                "If the issuer cannot be fixed in time, issue from another one: change spec.issuerRef in git (or "
                "kubectl -n <namespace> edit certificate <name>) and cmctl renew <name> -n <namespace>",
            ),
        ),
        tests=(
            RuleTest(
                (
                    _series("certmanager_certificate_renewal_timestamp_seconds", "1x30"),
                    _series("certmanager_certificate_expiration_timestamp_seconds", "86400x30"),
                ),
                "20m",
                True,
                _WHICH,
            ),
            RuleTest(
                (
                    _series("certmanager_certificate_renewal_timestamp_seconds", "1x30"),
                    _series("certmanager_certificate_expiration_timestamp_seconds", "5184000x30"),
                ),
                "20m",
                False,
            ),
            # notAfter unset (0) is a certificate never issued: the NotReady alert's case.
            RuleTest(
                (
                    _series("certmanager_certificate_renewal_timestamp_seconds", "0x30"),
                    _series("certmanager_certificate_expiration_timestamp_seconds", "0x30"),
                ),
                "20m",
                False,
            ),
        ),
        threshold=7,
    ),
    AlertRule(
        "CertManagerACMEErrors",
        'sum by (host) (rate(certmanager_http_acme_client_request_count{status=~"4..|5..|999"}[15m]))'
        " / sum by (host) (rate(certmanager_http_acme_client_request_count[15m])) > ${threshold}",
        "30m",
        "warning",
        "ACME requests to {{ $labels.host }} fail",
        "{{ $value | humanizePercentage }} of cert-manager's requests to the ACME server {{ $labels.host }} failed "
        "(HTTP 4xx/5xx or no response) for 30 minutes: certificates from that issuer are not issued or renewed.",
        Runbook(
            "cert-manager's ACME client gets errors from the ACME server (rate limits 429, unauthorized 403, server "
            "errors 5xx) or no answer at all (status 999: DNS, egress or proxy). Issuance and renewal through the "
            "ACME ClusterIssuer stall.",
            (
                "kubectl get clusterissuer letsencrypt -o yaml",
                "kubectl -n ${namespace} logs deploy/${release} | grep -i acme",
                "kubectl get order,challenge -A",
            ),
            (
                "Status 999: check egress to the ACME server (the acme NetworkPolicy, any proxy) from the controller: "
                "kubectl -n ${namespace} exec deploy/${release} -- wget -qO- https://acme-v02.api.letsencrypt.org/directory",
                "Status 429: a Let's Encrypt rate limit; wait for its window and stop what re-requests certificates.",
                "Status 403 on the account: re-register by deleting the account key Secret: kubectl -n ${namespace} "
                "delete secret letsencrypt-account-key",
            ),
        ),
        tests=(
            RuleTest(
                (
                    Series(
                        'certmanager_http_acme_client_request_count{host="acme.example",status="429",namespace="${namespace}"}',
                        "0+10x60",
                    ),
                    Series(
                        'certmanager_http_acme_client_request_count{host="acme.example",status="200",namespace="${namespace}"}',
                        "0+1x60",
                    ),
                ),
                "50m",
                True,
                (("host", "acme.example"),),
            ),
            RuleTest(
                (
                    Series(
                        'certmanager_http_acme_client_request_count{host="acme.example",status="400",namespace="${namespace}"}',
                        "0+1x60",
                    ),
                    Series(
                        'certmanager_http_acme_client_request_count{host="acme.example",status="200",namespace="${namespace}"}',
                        "0+20x60",
                    ),
                ),
                "50m",
                False,
            ),
        ),
        threshold=0.25,
    ),
    AlertRule(
        "CertManagerControllerDown",
        'absent(up{job="cert-manager",namespace="${namespace}"} == 1)',
        "10m",
        "critical",
        "cert-manager's controller is down",
        "No cert-manager controller in ${namespace} has answered its metrics endpoint for 10 minutes: no certificate "
        "is issued or renewed.",
        Runbook(
            "No controller pod runs or none answers on port 9402. Certificates keep their current Secrets but none "
            "is issued or renewed; expiry alerts cannot fire either (their metrics come from the controller).",
            (
                "kubectl -n ${namespace} get deploy,pods -l app.kubernetes.io/instance=${release}",
                "kubectl -n ${namespace} describe pod -l app.kubernetes.io/component=controller",
                "kubectl -n ${namespace} logs deploy/${release} --previous",
                "flux get helmreleases -n ${namespace}",
            ),
            (
                "Fix what the pod events say (image pull, OOMKilled, scheduling).",
                "kubectl -n ${namespace} rollout restart deploy/${release}",
                "If the release failed: flux reconcile helmrelease ${release} -n ${namespace} --force",
            ),
        ),
        tests=(
            RuleTest(
                (Series('up{job="cert-manager",namespace="${namespace}",pod="c-1"}', "0x20"),),
                "15m",
                True,
            ),
            RuleTest(
                (Series('up{job="webhook",namespace="${namespace}"}', "1x20"),),
                "15m",
                True,
            ),
            RuleTest((Series('up{job="cert-manager",namespace="${namespace}",pod="c-1"}', "1x20"),), "15m", False),
        ),
    ),
)
