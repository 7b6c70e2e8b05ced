"""cert-manager: TLS certificate issuance and rotation, with the platform CA and optional ACME."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, DriftIgnore, ObjectRef, Webhook, register_chart, webhook_ca_paths
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp, udp
from ..kernel.paths import child_path
from ..kernel.validation import (
    check_dns_label,
    check_positive_int,
    check_resources,
    check_values,
)
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._cert_manager_alerts import ALERTS, EXPORTER

__all__ = [
    "ALERTS",
    "CHART_FACTS",
    "HEALTH_CHECKED_RELEASES",
    "LETSENCRYPT_PRODUCTION",
    "RELEASE",
    "CertManager",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _drift(values: Mapping[str, Any], release: str) -> tuple[DriftIgnore, ...]:
    """The cainjector fills both webhook configurations' caBundle (inject-ca-from-secret)."""
    name = helm_fullname(release, values.get("nameOverride") or "cert-manager", override=values.get("fullnameOverride"))
    return tuple(
        DriftIgnore("admissionregistration.k8s.io", kind, f"{name}-webhook", webhook_ca_paths(1))
        for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    )


def _workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The controller, webhook and (unless disabled) cainjector Deployments, named by the chart's fullname."""
    fullname = helm_fullname(
        release, values.get("nameOverride") or "cert-manager", override=values.get("fullnameOverride")
    )
    suffixes = ["", "-webhook"] + (["-cainjector"] if (values.get("cainjector") or {}).get("enabled", True) else [])
    return tuple(ObjectRef("Deployment", namespace, fullname + suffix) for suffix in suffixes)


CHART_FACTS = register_chart(
    ChartFacts(
        "cert-manager",
        exporters=(EXPORTER,),
        workloads=_workloads,
        # imageRegistry replaces quay.io for all five images (controller, webhook, cainjector,
        # startupapicheck, acmesolver); imageNamespace (jetstack) is kept.
        image_keys=MappingProxyType({"imageRegistry": "{mirror}"}),
        # The chart's CRD templates (crds.enabled): deploy/crds/ of cert-manager v1.21.1.
        crds=(
            "acme.cert-manager.io/Challenge",
            "acme.cert-manager.io/Order",
            "cert-manager.io/Certificate",
            "cert-manager.io/CertificateRequest",
            "cert-manager.io/ClusterIssuer",
            "cert-manager.io/Issuer",
        ),
        # Rendered MutatingWebhookConfiguration and ValidatingWebhookConfiguration
        # `cert-manager-webhook` (failurePolicy Fail); the webhook makes its own CA Secret.
        webhooks=(
            Webhook("cert-manager-webhook", ("cert-manager.io/*", "acme.cert-manager.io/*"), "Fail"),
            Webhook("cert-manager-webhook", ("cert-manager.io/CertificateRequest",), "Fail", mutating=True),
        ),
        creates_at_runtime=lambda values, ns, release: (ObjectRef("Secret", ns, f"{release}-webhook-ca"),),
        drift_ignores=lambda values, ns, release: _drift(values, release),
    )
)

RELEASE = "cert-manager"
"""Default release name; the controller, webhook and cainjector Deployments are named after it."""
HEALTH_CHECKED_RELEASES = (RELEASE,)

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
"""Default ACME directory when ``acme_email`` is given."""

# -- defaults (the one place they live) ------------------------------------------------------

_REPLICAS = 2
# Chart key prefix of each component ("" = top level, the controller).
_COMPONENTS = {"controller": "", "webhook": "webhook", "cainjector": "cainjector", "startupapicheck": "startupapicheck"}
_RESOURCES: dict[str, dict[str, Any]] = {
    "controller": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "webhook": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    "cainjector": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "startupapicheck": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
}
_POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
_PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
_BOOTSTRAP_ISSUER = "selfsigned-bootstrap"
_ROOT_CA = "platform-root-ca"
_CA_ISSUER = "platform-ca"
_ACME_ISSUER = "letsencrypt"
_ROOT_CA_DURATION = "87600h"  # 10 years: the root only signs the CA issuer's leaves
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HTTPS_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/\S*)?$")


class CertManager(PlatformComponent):
    """cert-manager controller, webhook and cainjector, with their CRDs and the platform CA.

    Every component runs ``replicas`` times with a PDB (above one replica), requests and limits
    and a restricted securityContext. The companion ``cert-manager-config`` (attribute ``config``)
    holds a self-signed bootstrap ClusterIssuer, the root CA Certificate ``platform-root-ca``
    (ECDSA P-256, 10 years, in the cert-manager namespace), the CA ClusterIssuer ``platform-ca``
    (attribute ``ca_issuer_name``) and, with ``acme_email``, the ACME ClusterIssuer
    ``letsencrypt`` (HTTP-01 through an Ingress of ``acme_ingress_class``). Prometheus scrapes the
    three components through :meth:`service_monitors`.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``v1.21.1``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``replicas``: replicas of the controller, webhook and cainjector (PDBs above 1). Default ``2``.
    - ``resources``: per component (``controller``, ``webhook``, ``cainjector``,
      ``startupapicheck``) requests/limits merged over the defaults. Default: controller and
      cainjector ``20m``/``64Mi`` requests, ``500m``/``256Mi`` limits; webhook ``10m``/``32Mi``,
      ``200m``/``128Mi``; startupapicheck ``10m``/``32Mi``, ``100m``/``64Mi``.
    - ``acme_email``: ACME account email; set it to get the ``letsencrypt`` ClusterIssuer and
      ACME egress. Default ``None`` (no ACME).
    - ``acme_server``: ACME directory URL (``https://``). Default the Let's Encrypt production
      directory when ``acme_email`` is set.
    - ``acme_ingress_class``: ingress class of the HTTP-01 solver Ingress (the ``class`` form: Istio
      serves Ingresses by that annotation without an IngressClass object). Default ``istio``.
    - ``monitoring_namespace``: namespace of the Prometheus that scrapes cert-manager. Default ``monitoring``.
    - ``namespace``: Default ``cert-manager``.
    - ``release_name``: Default ``cert-manager``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the three Deployments.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        replicas: int = _REPLICAS,
        resources: Mapping[str, Mapping[str, Any]] | None = None,
        acme_email: str | None = None,
        acme_server: str | None = None,
        acme_ingress_class: str = "istio",
        monitoring_namespace: str = "monitoring",
        namespace: str = "cert-manager",
        release_name: str = RELEASE,
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        replicas = check_positive_int(where, "replicas", replicas)
        given = resources or {}
        if not isinstance(given, Mapping) or not set(given) <= set(_COMPONENTS):
            raise ValidationError(where, "resources", given, "a mapping whose keys are among " + ", ".join(_COMPONENTS))
        final_resources = {
            component: deep_merge(default, check_resources(where, f"resources.{component}", given.get(component, {})))
            for component, default in _RESOURCES.items()
        }
        if acme_email is not None and not (isinstance(acme_email, str) and _EMAIL.match(acme_email)):
            raise ValidationError(
                where, "acme_email", acme_email, "an email address such as 'sre@example.com', or None"
            )
        if acme_server is not None:
            if not (isinstance(acme_server, str) and _HTTPS_URL.match(acme_server)):
                raise ValidationError(where, "acme_server", acme_server, "an https:// ACME directory URL")
            if acme_email is None:
                raise ValidationError(where, "acme_email", None, "an email address when acme_server is set")
        check_dns_label(where, "acme_ingress_class", acme_ingress_class)
        check_dns_label(where, "monitoring_namespace", monitoring_namespace)
        check_dns_label(where, "release_name", release_name)
        if values is not None:
            check_values(where, "values", values)

        super().__init__(scope, id, name="cert-manager", namespace=namespace, wait=wait, pod_security="restricted")
        self.add_alert_rules(alert_rules, release=release_name)

        defaults: dict[str, Any] = {
            # The chart ships its CRDs as templates, off by default; keep them on uninstall.
            "crds": {"enabled": True, "keep": True},
            # The metrics Services stay; the chart's ServiceMonitor would need the Prometheus
            # Operator CRD, which is installed later in the chain (see service_monitors()).
            "prometheus": {"enabled": True, "servicemonitor": {"enabled": False}},
        }
        for component, prefix in _COMPONENTS.items():
            block: dict[str, Any] = {
                "resources": final_resources[component],
                "securityContext": _POD_SECURITY,
                "containerSecurityContext": _CONTAINER_SECURITY,
            }
            if component != "startupapicheck":
                block["replicaCount"] = replicas
                # minAvailable 1 with a single replica would block every node drain.
                block["podDisruptionBudget"] = {"enabled": replicas > 1, "minAvailable": 1}
            defaults = deep_merge(defaults, {prefix: block} if prefix else block)
        self.release = self.add_helm_release(
            release_name,
            CHARTS["cert-manager/cert-manager"],
            version=version,
            values=deep_merge(defaults, values or {}),
        )
        final = self.release.values
        for ref in _workloads(final, namespace, release_name):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))

        def pods(component: str) -> dict[str, str]:
            return {"app.kubernetes.io/instance": release_name, "app.kubernetes.io/component": component}

        # The API server calls the webhook on its pod port (securePort, 10250 by default).
        webhook_port = (final.get("webhook") or {}).get("securePort", 10250)
        self.allow_ingress("webhook", Peer.api_server(), tcp(webhook_port), pods=pods("webhook"))
        self.allow_ingress(
            "metrics",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **_PROMETHEUS_PODS),
            tcp(9402),
        )
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))

        self.acme_server: str | None = (acme_server or LETSENCRYPT_PRODUCTION) if acme_email else None
        """The ACME directory of the ``letsencrypt`` ClusterIssuer, or ``None`` without ACME."""
        if acme_email:
            # ACME API (443) and the HTTP-01 self-check against the public name (80).
            self.allow_egress(
                "acme",
                Peer.anywhere("the ACME server and HTTP-01 self-checks"),
                tcp(443, 80),
                pods=pods("controller"),
            )
            # Challenge self-checks query public/authoritative resolvers directly, not the cluster DNS.
            self.allow_egress(
                "acme-dns",
                Peer.anywhere("public DNS resolvers for ACME self-checks"),
                udp(53) + tcp(53),
                pods=pods("controller"),
            )

        self.ca_issuer_name: str = _CA_ISSUER
        """ClusterIssuer of the platform CA (for in-cluster TLS, e.g. OpenBao)."""
        self.acme_issuer_name: str | None = _ACME_ISSUER if acme_email else None
        """ClusterIssuer for public certificates, or ``None`` without ``acme_email``."""
        self.config: PlatformComponent = self.add_companion("config")
        """Companion ``cert-manager-config``: the issuers and the root CA (need the CRDs and webhook)."""
        issuer_group = {"group": "cert-manager.io", "kind": "ClusterIssuer"}
        self.config.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": _BOOTSTRAP_ISSUER},
                "spec": {"selfSigned": {}},
            }
        )
        # ClusterIssuers read their secrets from the cluster resource namespace (cert-manager's).
        self.config.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": _ROOT_CA, "namespace": namespace},
                "spec": {
                    "isCA": True,
                    "commonName": _ROOT_CA,
                    "subject": {"organizations": ["sre-constructs platform"]},
                    "secretName": _ROOT_CA,
                    "duration": _ROOT_CA_DURATION,
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "issuerRef": {"name": _BOOTSTRAP_ISSUER, **issuer_group},
                },
            }
        )
        self.config.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "ClusterIssuer",
                "metadata": {"name": _CA_ISSUER},
                "spec": {"ca": {"secretName": _ROOT_CA}},
            }
        )
        if acme_email:
            self.config.add_manifest(
                {
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "ClusterIssuer",
                    "metadata": {"name": _ACME_ISSUER},
                    "spec": {
                        "acme": {
                            "email": acme_email,
                            "server": self.acme_server,
                            "privateKeySecretRef": {"name": f"{_ACME_ISSUER}-account-key"},
                            # `class` (the annotation) rather than `ingressClassName`: istiod serves
                            # it with no IngressClass object, which none of the Istio charts ship.
                            "solvers": [{"http01": {"ingress": {"class": acme_ingress_class}}}],
                        },
                    },
                }
            )

    def service_monitors(self) -> list[dict[str, Any]]:
        """The ServiceMonitor the chart would render, for the monitoring companion.

        Like the chart's own template: one ServiceMonitor over the controller, webhook and
        cainjector metrics Services (all three expose ``targetPort: http-metrics``, 9402).

        Returns:
            One ``monitoring.coreos.com/v1`` ServiceMonitor named after the release's fullname.
        """
        assert self.namespace is not None
        final = self.release.values
        name = final.get("nameOverride") or "cert-manager"
        fullname = helm_fullname(self.release.release_name, name, override=final.get("fullnameOverride"))
        return [
            {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "ServiceMonitor",
                "metadata": {"name": fullname, "namespace": self.namespace, "labels": {"app.kubernetes.io/name": name}},
                "spec": {
                    "jobLabel": "app.kubernetes.io/name",
                    "selector": {
                        "matchExpressions": [
                            {
                                "key": "app.kubernetes.io/name",
                                "operator": "In",
                                "values": ["cainjector", name, "webhook"],
                            },
                            {
                                "key": "app.kubernetes.io/instance",
                                "operator": "In",
                                "values": [self.release.release_name],
                            },
                            {
                                "key": "app.kubernetes.io/component",
                                "operator": "In",
                                "values": ["cainjector", "controller", "webhook"],
                            },
                        ]
                    },
                    "namespaceSelector": {"matchNames": [self.namespace]},
                    "endpoints": [
                        {
                            "targetPort": "http-metrics",
                            "path": "/metrics",
                            "interval": "60s",
                            "scrapeTimeout": "30s",
                            "honorLabels": False,
                        }
                    ],
                },
            }
        ]
