"""External Secrets: syncs secrets from OpenBao into Kubernetes Secrets."""

from __future__ import annotations

import re
import weakref
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, DriftIgnore, ObjectRef, Webhook, register_chart, webhook_ca_paths
from ..kernel.manifest import Manifest
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_positive_int, check_values
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._external_secrets_alerts import ALERTS, EXPORTER

__all__ = [
    "ALERTS",
    "CHART_FACTS",
    "HEALTH_CHECKED_RELEASES",
    "RELEASE",
    "ExternalSecrets",
]

# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _drift(values: Mapping[str, Any], namespace: str, release: str) -> tuple[DriftIgnore, ...]:
    """The cert-controller injects the caBundle of both webhook configurations (fixed names)."""
    if not (values.get("webhook") or {}).get("create", True):
        return ()
    return (
        DriftIgnore(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            "secretstore-validate",
            webhook_ca_paths(2),
        ),
        DriftIgnore(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            "externalsecret-validate",
            webhook_ca_paths(1),
        ),
    )


def _workloads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The controller, webhook and cert-controller Deployments, named by the chart's fullname."""
    fullname = helm_fullname(release, "external-secrets", override=values.get("fullnameOverride"))
    return tuple(ObjectRef("Deployment", namespace, fullname + s) for s in ("", "-webhook", "-cert-controller"))


CHART_FACTS = register_chart(
    ChartFacts(
        "external-secrets",
        exporters=(EXPORTER,),
        workloads=_workloads,
        # global.repository replaces the whole repository of the controller, webhook and cert controller.
        image_keys=MappingProxyType({"global.repository": "{mirror}/external-secrets/external-secrets"}),
        # installCRDs: the chart's copy of config/crds/bases/ (external-secrets v2.9.0).
        crds=(
            "external-secrets.io/ClusterExternalSecret",
            "external-secrets.io/ClusterPushSecret",
            "external-secrets.io/ClusterSecretStore",
            "external-secrets.io/ExternalSecret",
            "external-secrets.io/PushSecret",
            "external-secrets.io/SecretStore",
            "generators.external-secrets.io/ACRAccessToken",
            "generators.external-secrets.io/BeyondtrustWorkloadCredentialsDynamicSecret",
            "generators.external-secrets.io/CloudsmithAccessToken",
            "generators.external-secrets.io/ClusterGenerator",
            "generators.external-secrets.io/CodeArtifactAuthorizationToken",
            "generators.external-secrets.io/ECRAuthorizationToken",
            "generators.external-secrets.io/Fake",
            "generators.external-secrets.io/GCRAccessToken",
            "generators.external-secrets.io/GeneratorState",
            "generators.external-secrets.io/GithubAccessToken",
            "generators.external-secrets.io/Grafana",
            "generators.external-secrets.io/MFA",
            "generators.external-secrets.io/Password",
            "generators.external-secrets.io/QuayAccessToken",
            "generators.external-secrets.io/SSHKey",
            "generators.external-secrets.io/STSSessionToken",
            "generators.external-secrets.io/UUID",
            "generators.external-secrets.io/VaultDynamicSecret",
            "generators.external-secrets.io/Webhook",
        ),
        # Rendered ValidatingWebhookConfigurations `externalsecret-validate` and
        # `secretstore-validate` (failurePolicy Fail); the cert-controller fills the webhook's
        # serving Secret (rendered empty) and the caBundles.
        webhooks=(
            Webhook("externalsecret-validate", ("external-secrets.io/ExternalSecret",), "Fail"),
            Webhook(
                "secretstore-validate",
                ("external-secrets.io/SecretStore", "external-secrets.io/ClusterSecretStore"),
                "Fail",
            ),
        ),
        drift_ignores=_drift,
    )
)

RELEASE = "external-secrets"
"""Default release name; the controller, webhook and cert-controller Deployments are named after it."""
HEALTH_CHECKED_RELEASES = (RELEASE,)

# Defaults: the one place they live. Ports are the chart's pod ports at 2.9.0.
_WEBHOOK_PORT = 10250
_METRICS_PORT = 8080
_OPENBAO_PORT = 8200
_RESOURCES: dict[str, dict[str, Any]] = {
    "controller": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "webhook": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "128Mi"}},
    "certController": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"cpu": "200m", "memory": "256Mi"}},
}
_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/.*)?$")


class ExternalSecrets(PlatformComponent):
    """The External Secrets Operator (controller, webhook, cert-controller, CRDs) and a ClusterSecretStore for OpenBao.

    The companion ``external-secrets-config`` (:attr:`config`) holds ClusterSecretStore
    ``store_name`` (``external-secrets.io/v1``, provider ``vault``): KV v2 at ``kv_mount`` on
    ``openbao_url``, trusting ``ca.crt`` of Secret ``openbao_ca_secret`` in ``openbao_namespace``,
    logging in through Kubernetes auth (``kubernetes`` mount, role ``openbao_role``) with the
    controller's ServiceAccount. The defaults match what :class:`~sre_constructs.services.openbao.OpenBao`
    creates at self-init; wire them from its attributes when OpenBao is renamed. The store can
    only become Ready after OpenBao is: the platform adds the Flux edge config -> openbao.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``2.9.0``.
    - ``values``: Helm values, deep-merged last (user wins). Default none.
    - ``namespace``: Default ``external-secrets``.
    - ``release_name``: Default ``external-secrets``.
    - ``replicas``: controller replicas (leader election on). Default ``2``.
    - ``webhook_replicas``: webhook replicas (the API server calls it with failurePolicy Fail). Default ``2``.
    - ``cert_controller_replicas``: cert-controller replicas. Default ``1``.
    - ``openbao_namespace``: where OpenBao runs (egress to port 8200). Default ``openbao``.
    - ``openbao_url``: OpenBao API URL. Default ``https://openbao.openbao.svc:8200``.
    - ``openbao_ca_secret``: Secret in ``openbao_namespace`` whose ``ca.crt`` signs OpenBao's certificate. Default
      ``openbao-tls``.
    - ``openbao_role``: OpenBao Kubernetes auth role. Default ``external-secrets``.
    - ``kubernetes_auth_mount``: OpenBao Kubernetes auth mount path. Default ``kubernetes``.
    - ``kv_mount``: OpenBao KV v2 mount path. Default ``secret``.
    - ``store_name``: ClusterSecretStore name; ``None`` emits no store (and no companion). Default ``openbao``.
      The store serves only the platform's own namespaces (``spec.conditions``): every namespace a
      component of the enclosing PlatformChart owns or installs into, found when the tree is
      written, so a component added later (Loki's S3 credentials in ``logging``, Velero's in
      ``velero``) is served without a list to keep; outside a PlatformChart, this component's
      namespace. :meth:`serve_namespaces` adds more. Tenants use their own SecretStore
      (:class:`~sre_constructs.Tenant`); the platform's ``tenant-secret-stores`` policy refuses
      an ExternalSecret in a tenant namespace that names a ClusterSecretStore.
    - ``monitoring_namespace``: where Prometheus runs (scrapes port 8080). Default ``monitoring``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the three Deployments.

    Attributes:
        config: the ``external-secrets-config`` companion (``None`` without a store).
        store: the ClusterSecretStore manifest (``None`` without a store).
        service_account: the controller's ServiceAccount name (OpenBao's role must bind it).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "external-secrets",
        release_name: str = RELEASE,
        replicas: int = 2,
        webhook_replicas: int = 2,
        cert_controller_replicas: int = 1,
        openbao_namespace: str = "openbao",
        openbao_url: str = "https://openbao.openbao.svc:8200",
        openbao_ca_secret: str = "openbao-tls",
        openbao_role: str = "external-secrets",
        kubernetes_auth_mount: str = "kubernetes",
        kv_mount: str = "secret",
        store_name: str | None = "openbao",
        monitoring_namespace: str = "monitoring",
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        wait: bool = True,
    ) -> None:
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        for name, count in (
            ("replicas", replicas),
            ("webhook_replicas", webhook_replicas),
            ("cert_controller_replicas", cert_controller_replicas),
        ):
            check_positive_int(where, name, count)
        for name, value in (
            ("namespace", namespace),
            ("release_name", release_name),
            ("openbao_namespace", openbao_namespace),
            ("openbao_ca_secret", openbao_ca_secret),
            ("openbao_role", openbao_role),
            ("monitoring_namespace", monitoring_namespace),
        ):
            check_dns_label(where, name, value)
        if store_name is not None:
            check_dns_label(where, "store_name", store_name)
        if not isinstance(openbao_url, str) or not _URL.match(openbao_url):
            raise ValidationError(
                where, "openbao_url", openbao_url, "an https:// URL such as 'https://openbao.openbao.svc:8200'"
            )
        for name, value in (("kubernetes_auth_mount", kubernetes_auth_mount), ("kv_mount", kv_mount)):
            if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", value):
                raise ValidationError(where, name, value, "a mount path: lower-case letters, digits, '-', '_'")
        check_bool(where, "wait", wait)
        values = check_values(where, "values", values or {})

        super().__init__(scope, id, name="external-secrets", namespace=namespace, wait=wait)
        fullname = helm_fullname(release_name, "external-secrets", override=(values or {}).get("fullnameOverride"))
        self.add_alert_rules(
            alert_rules,
            release=release_name,
            fullname=fullname,
            openbao_namespace=openbao_namespace,
            openbao_role=openbao_role,
        )
        self.service_account: str = fullname
        """The controller's ServiceAccount (the chart names it after the fullname)."""
        self._extra_served: list[str] = []
        self.store_name: str | None = store_name
        """The ClusterSecretStore other services read from, or ``None`` when none is emitted."""

        def pdb(count: int) -> dict[str, Any]:
            # A PDB on a single replica would block every node drain.
            return {"enabled": count > 1, "minAvailable": 1}

        defaults: dict[str, Any] = {
            "installCRDs": True,
            # The chart has no keep policy of its own: deleting the release must not delete every ExternalSecret.
            "crds": {"annotations": {"helm.sh/resource-policy": "keep"}},
            "replicaCount": replicas,
            "leaderElect": True,
            "resources": _RESOURCES["controller"],
            "securityContext": _SECURITY_CONTEXT,
            "podDisruptionBudget": pdb(replicas),
            # openbao and external-secrets come after monitoring: the ServiceMonitor CRD exists.
            "serviceMonitor": {"enabled": True},
            "bitwarden-sdk-server": {"enabled": False},
            "webhook": {
                "replicaCount": webhook_replicas,
                "resources": _RESOURCES["webhook"],
                "securityContext": _SECURITY_CONTEXT,
                "podDisruptionBudget": pdb(webhook_replicas),
            },
            "certController": {
                "replicaCount": cert_controller_replicas,
                "resources": _RESOURCES["certController"],
                "securityContext": _SECURITY_CONTEXT,
                "podDisruptionBudget": pdb(cert_controller_replicas),
            },
        }
        self.release = self.add_helm_release(
            release_name,
            CHARTS["external-secrets/external-secrets"],
            version=version,
            values=deep_merge(defaults, values or {}),
        )
        for ref in _workloads(self.release.values, namespace, release_name):
            self.add_health_check(HealthCheck(ref.kind, ref.name, ref.namespace))

        # -- Network: the API server calls the webhook; Prometheus scrapes; the controller reaches
        # the API server and OpenBao.
        # Only the webhook pods serve the admission port the API server calls.
        self.allow_ingress(
            "webhook",
            Peer.api_server(),
            tcp(_WEBHOOK_PORT),
            # The chart labels them `<nameOverride or chart name>-webhook`, whatever the release.
            pods={"app.kubernetes.io/name": f"{(values or {}).get('nameOverride') or 'external-secrets'}-webhook"},
        )
        self.allow_ingress(
            "prometheus",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **{"app.kubernetes.io/name": "prometheus"}),
            tcp(_METRICS_PORT),
        )
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))
        self.allow_egress("openbao", Peer.in_namespace(openbao_namespace, "OpenBao"), tcp(_OPENBAO_PORT))

        # -- The ClusterSecretStore (its CRD comes from this chart: a companion).
        self.config: PlatformComponent | None = None
        self.store: Any = None
        if store_name is not None:
            self.config = self.add_companion("config")
            self.store = _ServedStore(
                self.config,
                f"ClusterSecretStore--{store_name}",
                self,
                {
                    "apiVersion": "external-secrets.io/v1",
                    "kind": "ClusterSecretStore",
                    "metadata": {"name": store_name},
                    "spec": {
                        "provider": {
                            "vault": {
                                "server": openbao_url,
                                "path": kv_mount,
                                "version": "v2",
                                "caProvider": {
                                    "type": "Secret",
                                    "name": openbao_ca_secret,
                                    "key": "ca.crt",
                                    "namespace": openbao_namespace,
                                },
                                "auth": {
                                    "kubernetes": {
                                        "mountPath": kubernetes_auth_mount,
                                        "role": openbao_role,
                                        "serviceAccountRef": {"name": self.service_account, "namespace": namespace},
                                    }
                                },
                            }
                        }
                    },
                },
            )

    def serve_namespaces(self, *namespaces: str) -> None:
        """Let the ClusterSecretStore serve ``namespaces`` too (platform namespaces outside this tree).

        Never a tenant's: tenants read through their own SecretStore and role.
        """
        for namespace in namespaces:
            check_dns_label(self.node.path, "served namespace", namespace)
            if namespace not in self._extra_served:
                self._extra_served.append(namespace)

    @property
    def served_namespaces(self) -> list[str]:
        """The namespaces the ClusterSecretStore serves (``spec.conditions``), sorted."""
        platform = self.platform
        components = platform.registered_components if platform is not None else [self]
        found = {ns for c in components for ns in c.owned_namespaces}
        found.update(c.namespace for c in components if c.namespace is not None)
        found.update(self._extra_served)
        return sorted(found)


class _ServedStore(Manifest):
    """The ClusterSecretStore; its ``conditions`` are computed when the tree is written."""

    def __init__(self, scope: Construct, id: str, owner: ExternalSecrets, body: Mapping[str, Any]) -> None:
        super().__init__(scope, id, body)
        self._owner = weakref.ref(owner)  # the owner holds this object: no reference cycle

    def to_json(self) -> Any:
        data = super().to_json()
        owner = self._owner()
        if owner is None:  # pragma: no cover - jsii keeps every construct made in Python
            raise RuntimeError(f"{self._where}: the ExternalSecrets component of this store is gone")
        data["spec"] = {**data["spec"], "conditions": [{"namespaces": owner.served_namespaces}]}
        return data
