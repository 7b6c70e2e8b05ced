"""OpenBao: secrets management, HA on integrated (raft) storage, TLS from cert-manager, self-initialised."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from constructs import Construct

from ..kernel.alerts import check_alerts
from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.facts import ChartFacts, ObjectRef, register_chart
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_positive_int, check_values
from ..kernel.values import deep_merge
from ..versions import CHARTS
from ._hcl import HclBlock, render_hcl
from ._openbao_alerts import ALERTS, EXPORTER, pod_monitor
from ._openbao_config import (
    ADMIN_POLICY,
    CONTAINER_SECURITY,
    ESO_POLICY,
    KUBERNETES_AUTH_MOUNT,
    SEAL_DIR,
    SERVER_IMAGE,
    TLS_DIR,
    init_blocks,
    server_config,
    static_or_given_seal,
    tpl_escape,
)
from ._openbao_oidc import OpenBaoOidc, oidc_init_block, oidc_settings, oidc_steps, served_ports
from ._openbao_operations import kv_write_command, manual_inputs, seal_key_container

__all__ = ["ALERTS", "CHART_FACTS", "HEALTH_CHECKED_RELEASES", "RELEASE", "HclBlock", "OpenBao", "render_hcl"]


def _openbao_reads(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ObjectRef, ...]:
    """The Secrets and ConfigMaps the server pods mount (``server.volumes``), minus those the
    release renders itself (``extraObjects``): the TLS Secret (a cert-manager Certificate of this
    component) and the static seal key Secret (cert-manager's Certificate or yours), by default."""
    rendered = {
        (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
        for obj in values.get("extraObjects") or ()
        if isinstance(obj, Mapping)
    }
    refs: list[ObjectRef] = []
    for volume in (values.get("server") or {}).get("volumes") or ():
        for key, kind, name_key in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
            source = volume.get(key) if isinstance(volume, Mapping) else None
            if isinstance(source, Mapping) and source.get(name_key) and (kind, source[name_key]) not in rendered:
                refs.append(ObjectRef(kind, namespace, str(source[name_key])))
    return tuple(refs)


# -- chart facts (read by the registry mirror and the bring-up plan) -------------------------


def _fullname(values: Mapping[str, Any], release: str) -> str:
    """The chart's fullname: its server StatefulSet, Services and ServiceAccount are named after it."""
    return helm_fullname(release, "openbao", override=values.get("fullnameOverride"))


CHART_FACTS = register_chart(
    ChartFacts(
        "openbao",
        exporters=(EXPORTER,),
        # The server image is the only one enabled (injector and CSI are off); no global key exists.
        image_keys=MappingProxyType({"server.image.registry": "{mirror}"}),
        reads=_openbao_reads,
        kv_write=kv_write_command,
        manual_inputs=lambda values, ns, release: manual_inputs(values, ns, release) + oidc_steps(values, ns, release),
        served_ports=served_ports,
        # The seal-key init container runs the server image, written here in full.
        library_images=(SERVER_IMAGE,),
        workloads=lambda values, ns, release: (ObjectRef("StatefulSet", ns, _fullname(values, release)),),
    )
)

RELEASE = "openbao"
"""Default release name; the server StatefulSet is named after it."""
HEALTH_CHECKED_RELEASES = (RELEASE,)


# --------------------------------------------------------------------------------------------
# Defaults: the one place they live.

_DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_INIT_DIR = "/openbao/init"
_INIT_FILE = "init.hcl"
_SEAL_KEY_SOURCES = ("cert-manager", "external")


class OpenBao(PlatformComponent):
    """OpenBao as a 3-member raft StatefulSet with TLS, auto-unseal and declarative self-initialisation.

    What it emits besides the HelmRelease (all in ``openbao/``; the CRDs of its custom resources
    come from cert-manager, an ancestor of openbao in the chain):

    - a cert-manager ``Certificate`` (Secret ``openbao-tls``: ``tls.crt``, ``tls.key``, ``ca.crt``)
      for the Services, the per-pod ``*.openbao-internal`` names that ``retry_join`` dials, and
      ``127.0.0.1``; mounted at ``/openbao/tls``;
    - (through the chart's ``extraObjects``) a ConfigMap ``openbao-init`` with the ``initialize``
      blocks (see below); a ``values`` override of ``extraObjects`` must keep it;
    - ServiceAccount ``openbao-admin``: the lasting admin path;
    - with ``seal_key_source="cert-manager"`` (the default): a self-signed ``Issuer`` and a
      ``Certificate`` whose Ed25519 private key is the seal key (see **Unseal**).

    **Self-initialisation.** OpenBao >= 2.4 runs ``initialize`` blocks once, on an empty store, then
    revokes the root token. They enable Kubernetes auth at ``kubernetes``, configure it, mount KV v2
    at ``kv_mount``, write policy ``external-secrets`` (read ``<kv>/data/*``, read+list
    ``<kv>/metadata/*``) and role ``external-secrets`` (bound to ``eso_service_account`` in
    ``eso_namespace``), and policy + role ``platform-admin`` bound to ``admin_service_account`` in
    this namespace. Log in as admin (and for break-glass: there are no recovery keys) with
    ``bao write auth/kubernetes/login role=platform-admin jwt=$(kubectl -n openbao create token
    openbao-admin)``; whoever may create tokens for that ServiceAccount is an OpenBao superuser,
    so restrict ``serviceaccounts/token`` in this namespace.

    **The first-boot race.** openbao/openbao#2274 and #3652 (open; fix PR #3987 open): a follower
    with empty storage and ``initialize`` blocks can self-init its own cluster instead of joining
    via ``retry_join``. ``podManagementPolicy: OrderedReady`` (the chart default, kept) is NOT
    enough: a local 3-node test with the init file on every node gave 3 Cluster IDs (one per pod).
    So the init file is a separate ConfigMap given (via ``server.extraArgs``, which
    the chart's ``/bin/sh -ec`` expands) only to pod ``openbao-0``, and only when no peer answers
    ``bao status`` as unsealed: a pod-0 that lost its PVC rejoins instead of splitting the cluster.
    A failed self-init is permanent (the pod crash-loops until its PVC is wiped), so test changes to
    the init in a throwaway cluster. Check ``bao status`` shows one Cluster ID on every pod.

    **Readiness.** The readiness probe is ``bao status`` (exit 2 while sealed). With auto-unseal and
    self-init the pods become Ready on their own, so ``wait=True`` (Flux and Helm wait) works, as
    long as the TLS and seal-key Secrets exist (Secret volumes are not optional: until then the pod
    stays ``ContainerCreating``).

    **Unseal.** Default: the ``static`` seal, a 32-byte AES-256-GCM key read from a mounted Secret
    (``/openbao/seal/key``: 64 hex characters, no newline, which OpenBao reads as hex). The tree
    never holds a Secret with data:

    - ``seal_key_source="cert-manager"`` (default; zero manual steps): cert-manager generates the key.
      A ``Certificate`` (self-signed ``Issuer`` in this namespace, ``Ed25519``,
      ``rotationPolicy: Never``, 10 years) has cert-manager create a private key with Go's
      ``crypto/rand`` (a CSPRNG) into Secret ``seal_key_secret``; an init container of each pod
      (the server image: sh, base64, od) takes the key's 32-byte seed (the last 32 bytes of its
      PKCS#8 DER) and writes it as 64 hex characters into a memory-backed volume, which
      ``current_key`` reads. cert-manager is installed before OpenBao, in the same Kustomization
      order as the TLS certificate, so there is no install-order trap. The key never changes:
      renewals keep it (``rotationPolicy: Never``); deleting the Secret makes cert-manager issue a
      new key, which makes the OpenBao data unreadable. The Secret is labelled
      ``velero.io/exclude-from-backup`` so backups never hold the key next to the data it protects;
      export it once (``kubectl -n openbao get secret openbao-static-seal -o yaml``) and keep it
      offline, or a lost cluster means lost data.
    - ``seal_key_source="external"``: the Secret (key ``key``: exactly 64 hex characters, no
      newline) is provided by you (SOPS-encrypted in your own Flux Kustomization, or ``kubectl
      create secret generic openbao-static-seal --from-literal=key=$(openssl rand -hex 32)``
      before the first reconcile). OpenBao reads the file as it is: a trailing newline makes 65
      characters, which it refuses.

    A key in a Kubernetes Secret protects against theft of the raft storage (PVC or snapshot), not
    against a cluster-admin, who can read both. The production upgrade is a KMS or transit seal:
    pass ``seal_config``, e.g. ``{"awskms": {"region": "eu-west-1", "kms_key_id": "..."}}`` (one seal
    type, its attributes as data); the static seal and its key Secret then disappear.

    **TLS rotation.** OpenBao reloads its certificate only on SIGHUP or restart, and the chart's
    ``updateStrategyType: OnDelete`` means upgrades restart nothing: the Certificate lasts a year
    (``8760h``, renewed 30 days early); restart pods one by one after a renewal.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``0.29.2``.
    - ``values``: Helm values, deep-merged last (user wins). Default none.
    - ``namespace``: Default ``openbao``.
    - ``release_name``: Default ``openbao``.
    - ``replicas``: raft voters, an odd number >= 1. Default ``3``.
    - ``issuer_name``: cert-manager ClusterIssuer (a CA issuer, so ``ca.crt`` is filled) signing the TLS certificate.
      Default ``platform-ca``.
    - ``kv_mount``: path of the KV v2 engine created at init. Default ``secret``.
    - ``eso_service_account``: ServiceAccount the ``external-secrets`` role binds. Default ``external-secrets``.
    - ``eso_namespace``: its namespace; also allowed to reach port 8200. Default ``external-secrets``.
    - ``admin_service_account``: ServiceAccount (emitted in this namespace) bound to role ``platform-admin``. Default
      ``openbao-admin``.
    - ``seal_key_source``: who creates the static seal key: ``cert-manager`` or ``external``. Default
      ``cert-manager``.
    - ``seal_key_secret``: name of the static seal key Secret (cert-manager's, or yours). Default
      ``openbao-static-seal``.
    - ``seal_key_id``: the static seal's ``current_key_id`` (change it when the key changes). Default
      ``openbao-seal-1``.
    - ``seal_config``: replace the static seal with ``{type: {attribute: value}}`` (awskms, transit, ...). Default none.
    - ``storage_size``: raft data volume size per pod. Default ``10Gi``.
    - ``monitoring_namespace``: where Prometheus runs (scrapes port 8200). Default ``monitoring``.
    - ``alerts``: ``True`` emits the service's alerting rules (listed in docs/alerts.md), ``False`` none, or a
      mapping alert name -> ``{threshold, for, severity, enabled}`` overriding single alerts. Default ``True``.
    - ``oidc``: single sign-on (:class:`~sre_constructs.services._openbao_oidc.OpenBaoOidc`): the
      self-init enables the ``oidc`` auth method and role ``platform-admin`` for the admin group; the
      plan prints the step that gives it the client secret. Default none.
    - ``wait``: Default ``True`` (pods become Ready after auto-unseal); with ``False`` the health check names
      StatefulSet ``openbao``.

    Attributes:
        service_url: ``https://openbao.<namespace>.svc:8200``.
        kv_mount: the KV v2 mount path.
        kubernetes_auth_mount: ``kubernetes``.
        eso_role: ``external-secrets``.
        admin_role: ``platform-admin``.
        ca_secret: ``openbao-tls`` (holds ``ca.crt`` for clients).
        config_hcl: the main server config (``server.ha.raft.config``).
        init_hcl: the self-init file (ConfigMap ``openbao-init``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "openbao",
        release_name: str = RELEASE,
        replicas: int = 3,
        issuer_name: str = "platform-ca",
        kv_mount: str = "secret",
        eso_service_account: str = "external-secrets",
        eso_namespace: str = "external-secrets",
        admin_service_account: str = "openbao-admin",
        seal_key_source: str = "cert-manager",
        seal_key_secret: str = "openbao-static-seal",
        seal_key_id: str = "openbao-seal-1",
        seal_config: Mapping[str, Mapping[str, Any]] | None = None,
        storage_size: str = "10Gi",
        monitoring_namespace: str = "monitoring",
        alerts: bool | Mapping[str, Mapping[str, Any]] = True,
        oidc: OpenBaoOidc | None = None,
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
        alert_rules = check_alerts(where, alerts, ALERTS)
        if oidc is not None and not isinstance(oidc, OpenBaoOidc):
            raise ValidationError(where, "oidc", oidc, "an OpenBaoOidc (set through the platform's sso knob) or None")
        check_positive_int(where, "replicas", replicas)
        if replicas % 2 == 0:
            raise ValidationError(where, "replicas", replicas, "an odd number >= 1 (raft needs a majority: 1, 3, 5)")
        check_dns_label(where, "namespace", namespace)
        check_dns_label(where, "release_name", release_name)
        for name, value in (
            ("issuer_name", issuer_name),
            ("eso_service_account", eso_service_account),
            ("eso_namespace", eso_namespace),
            ("admin_service_account", admin_service_account),
            ("seal_key_secret", seal_key_secret),
            ("monitoring_namespace", monitoring_namespace),
        ):
            check_dns_label(where, name, value)
        if not isinstance(kv_mount, str) or not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", kv_mount):
            raise ValidationError(where, "kv_mount", kv_mount, "a mount path: lower-case letters, digits, '-', '_'")
        if seal_key_source not in _SEAL_KEY_SOURCES:
            raise ValidationError(where, "seal_key_source", seal_key_source, "one of 'cert-manager', 'external'")
        if not isinstance(seal_key_id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", seal_key_id):
            raise ValidationError(where, "seal_key_id", seal_key_id, "an identifier: letters, digits, '.', '_', '-'")
        if not isinstance(storage_size, str) or not re.match(r"^[0-9]+(Mi|Gi|Ti)$", storage_size):
            raise ValidationError(where, "storage_size", storage_size, "a size such as '10Gi'")
        check_bool(where, "wait", wait)
        values = check_values(where, "values", values or {})
        seal_block = static_or_given_seal(where, seal_config, seal_key_id)

        super().__init__(scope, id, name="openbao", namespace=namespace, wait=wait)

        fullname = _fullname(values or {}, release_name)
        monitor = pod_monitor(fullname, namespace, release_name, f"{fullname}-tls")
        self.add_alert_rules(
            alert_rules,
            monitors=[monitor],
            release=release_name,
            fullname=fullname,
            replicas=str(replicas),
            tolerated=str((replicas - 1) // 2),  # voters raft can lose and keep its quorum
        )
        internal = f"{fullname}-internal"
        self.service_url: str = f"https://{fullname}.{namespace}.svc:8200"
        """The API URL clients in the cluster use."""
        self.kv_mount: str = kv_mount
        """Path of the KV v2 secrets engine created at init."""
        self.kubernetes_auth_mount: str = KUBERNETES_AUTH_MOUNT
        """Path of the Kubernetes auth method created at init."""
        self.eso_role: str = ESO_POLICY
        """Kubernetes auth role (and policy) for External Secrets."""
        self.admin_role: str = ADMIN_POLICY
        """Kubernetes auth role (and policy) of the lasting admin path."""
        self.ca_secret: str = f"{fullname}-tls"
        """Secret (in :attr:`namespace`) with ``tls.crt``, ``tls.key`` and ``ca.crt``."""
        self.admin_service_account: str = admin_service_account
        self.seal_key_secret: str | None = seal_key_secret if seal_config is None else None
        """The static seal key Secret, or ``None`` with a ``seal_config``."""

        # -- TLS from cert-manager (an ancestor: the Certificate may sit in this folder).
        svc_names = [
            name
            for service in (fullname, f"{fullname}-active", f"{fullname}-standby")
            for name in (service, f"{service}.{namespace}", f"{service}.{namespace}.svc")
        ]
        self.certificate = self.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": self.ca_secret, "namespace": namespace},
                "spec": {
                    "secretName": self.ca_secret,
                    "duration": "8760h",
                    "renewBefore": "720h",
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "dnsNames": [
                        *svc_names,
                        f"*.{internal}",
                        f"*.{internal}.{namespace}",
                        f"*.{internal}.{namespace}.svc",
                    ],
                    "ipAddresses": ["127.0.0.1"],
                    "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer_name},
                },
            }
        )

        # -- Main config (every pod) and init file (pod 0 only).
        tls = f"{TLS_DIR}/ca.crt"
        self.config_hcl: str = render_hcl(server_config(fullname, internal, replicas, seal_block))
        self.init_blocks: list[HclBlock] = init_blocks(
            namespace, kv_mount, eso_service_account, eso_namespace, admin_service_account
        ) + ([oidc_init_block(oidc)] if oidc is not None else [])
        self.init_hcl: str = render_hcl(self.init_blocks)
        init_configmap = f"{fullname}-init"
        self.add_manifest(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": admin_service_account, "namespace": namespace},
            }
        )

        # -- Seal key, generated in-cluster from a CSPRNG (never in the tree).
        self.seal_key_certificate: Any = None
        """The cert-manager Certificate whose private key is the seal key, if any."""
        generated = seal_config is None and seal_key_source == "cert-manager"
        if generated:
            self.seal_key_certificate = self._seal_key_certificate(namespace, seal_key_secret)

        # -- Chart values.
        peers = " ".join(str(i) for i in range(1, replicas))
        probe = (
            f'for p in {peers}; do bao status -address="https://{fullname}-$p.{internal}:8200" '
            f"-ca-cert={tls} >/dev/null 2>&1 && up=1; done; "
            if peers
            else ""
        )
        # The chart runs `bao server -config=... <extraArgs>` under /bin/sh -ec, so this expands there:
        # only pod 0 gets the init file, and only if no peer is already unsealed (a rejoin, not a new cluster).
        extra_args = (
            f'$(if [ "$BAO_K8S_POD_NAME" = "{fullname}-0" ]; then up=0; {probe}'
            f'[ "$up" = 0 ] && echo "-config={_INIT_DIR}/{_INIT_FILE}"; fi)'
        )
        volumes: list[dict[str, Any]] = [
            {"name": "tls", "secret": {"secretName": self.ca_secret, "defaultMode": 0o440}},
            {"name": "init", "configMap": {"name": init_configmap}},
        ]
        mounts: list[dict[str, Any]] = [
            {"name": "tls", "mountPath": TLS_DIR, "readOnly": True},
            {"name": "init", "mountPath": _INIT_DIR, "readOnly": True},
        ]
        init_containers: list[dict[str, Any]] = []
        if generated:
            volumes += [
                {"name": "seal-source", "secret": {"secretName": seal_key_secret, "defaultMode": 0o440}},
                {"name": "seal", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            ]
            mounts.append({"name": "seal", "mountPath": SEAL_DIR, "readOnly": True})
            init_containers.append(seal_key_container())
        elif self.seal_key_secret is not None:
            volumes.append({"name": "seal", "secret": {"secretName": seal_key_secret, "defaultMode": 0o440}})
            mounts.append({"name": "seal", "mountPath": SEAL_DIR, "readOnly": True})
        tolerated = (replicas - 1) // 2  # raft keeps quorum with this many members down
        defaults: dict[str, Any] = {
            "global": {"tlsDisable": False},
            "injector": {"enabled": False},
            "csi": {"enabled": False},
            "ui": {"enabled": False},
            "server": {
                "logLevel": "info",
                "logFormat": "json",
                "resources": _DEFAULT_RESOURCES,
                "authDelegator": {"enabled": True},  # TokenReview for Kubernetes auth
                "statefulSet": {
                    "securityContext": {
                        "pod": {
                            "runAsNonRoot": True,
                            "runAsUser": 100,
                            "runAsGroup": 1000,
                            "fsGroup": 1000,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "container": CONTAINER_SECURITY,
                    }
                },
                "dataStorage": {"enabled": True, "size": storage_size},
                "standalone": {"enabled": False},
                "ha": {
                    "enabled": True,
                    "replicas": replicas,
                    # The pod DNS name is in the certificate; the chart's default (the pod IP) is not.
                    "apiAddr": f"https://$(BAO_K8S_POD_NAME).{internal}:8200",
                    "disruptionBudget": {"enabled": tolerated > 0, "maxUnavailable": max(tolerated, 1)},
                    "raft": {"enabled": True, "setNodeId": True, "config": tpl_escape(self.config_hcl)},
                },
                "extraArgs": extra_args,
                **({"extraInitContainers": init_containers} if init_containers else {}),
                "volumes": volumes,
                "volumeMounts": mounts,
            },
            # The init file ships with the release (chart ``extraObjects``, rendered through ``tpl``).
            "extraObjects": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": init_configmap, "namespace": namespace},
                    "data": {_INIT_FILE: tpl_escape(self.init_hcl)},
                },
                *([oidc_settings(namespace, oidc)] if oidc is not None else []),
            ],
            # Every pod is scraped through the PodMonitor below, not the chart's (leader-only) ServiceMonitor.
            "serverTelemetry": {"serviceMonitor": {"enabled": False}},
        }
        self.release = self.add_helm_release(
            release_name,
            CHARTS["openbao/openbao"],
            version=version,
            values=deep_merge(defaults, values or {}),
            timeout="15m",
        )
        self.add_health_check(HealthCheck("StatefulSet", fullname, namespace))

        # -- Network: clients, scrapes, and the API server (TokenReview, service registration).
        self.allow_ingress(
            "external-secrets",
            Peer.in_namespace(eso_namespace, "External Secrets"),
            tcp(8200),
        )
        self.allow_ingress(
            "prometheus",
            Peer.in_namespace(monitoring_namespace, "Prometheus", **{"app.kubernetes.io/name": "prometheus"}),
            tcp(8200),
        )
        self.allow_egress("api-server", Peer.api_server(), tcp(443, 6443))

    def _seal_key_certificate(self, namespace: str, secret: str) -> Any:
        """A self-signed Ed25519 Certificate: cert-manager's CSPRNG makes the key, once."""
        issuer = f"{secret}-issuer"
        self.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Issuer",
                "metadata": {"name": issuer, "namespace": namespace},
                "spec": {"selfSigned": {}},
            }
        )
        return self.add_manifest(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": secret, "namespace": namespace},
                "spec": {
                    "secretName": secret,
                    "commonName": "openbao static seal key",
                    "duration": "87600h",
                    # Renewals keep the key: a new key would make the data unreadable.
                    "privateKey": {"algorithm": "Ed25519", "rotationPolicy": "Never"},
                    "secretTemplate": {
                        "labels": {
                            "app.kubernetes.io/part-of": "sre-constructs",
                            "velero.io/exclude-from-backup": "true",
                        }
                    },
                    "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": issuer},
                },
            }
        )
