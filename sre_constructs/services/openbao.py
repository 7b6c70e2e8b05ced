"""OpenBao: secrets management, HA on integrated (raft) storage, TLS from cert-manager, self-initialised."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.naming import helm_fullname
from ..kernel.network import Peer, tcp
from ..kernel.paths import child_path
from ..kernel.validation import check_bool, check_dns_label, check_positive_int, check_values
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["HclBlock", "OpenBao", "render_hcl"]


# --------------------------------------------------------------------------------------------
# A tiny HCL (v1, as OpenBao parses its config) renderer: configuration is Python data, and every
# string goes through one escaping function, so no user input is ever pasted into HCL text.

HclValue = Union[str, bool, int, float, Sequence["HclValue"], Mapping[str, "HclValue"]]  # noqa: UP007  (recursive alias)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class HclBlock:
    """One HCL block: ``type "label" ... { body }``.

    Args:
        type: the block type (``listener``, ``storage``, ``initialize``, ...).
        labels: the quoted labels after the type.
        body: attributes as ``(name, value)`` pairs and nested :class:`HclBlock` items, in order.
    """

    type: str
    labels: tuple[str, ...] = ()
    body: tuple[tuple[str, Any] | HclBlock, ...] = field(default=())


def _hcl_string(value: str) -> str:
    """A double-quoted HCL string: backslash, quote and control characters escaped.

    HCL1 treats ``${`` as the start of an interpolation whose braces are tracked while lexing, so
    such text could end a string early; it is refused rather than guessed at.
    """
    if "${" in value:
        raise ValueError("'${' is not allowed in an HCL string (HCL1 interpolation)")
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _hcl_key(key: str) -> str:
    return key if _IDENT.match(key) else _hcl_string(key)


def _hcl_value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # finite floats only: check_values refused the others earlier
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = indent + "  "
        lines = [f"{inner}{_hcl_key(str(k))} = {_hcl_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl_value(v, indent) for v in value) + "]"
    raise ValueError(f"cannot render {type(value).__name__} as HCL")


def render_hcl(items: Sequence[tuple[str, Any] | HclBlock], indent: str = "") -> str:
    """Render an HCL body (attributes and blocks) as text.

    Args:
        items: ``(name, value)`` attributes and :class:`HclBlock` blocks, in order. Values are
            strings, booleans, numbers, lists and mappings (rendered as HCL objects).
        indent: the indentation of this body.

    Returns:
        The HCL text, one attribute or block per line.

    Raises:
        ValueError: a name is not an HCL identifier, or a value cannot be rendered safely.
    """
    lines: list[str] = []
    for item in items:
        if isinstance(item, HclBlock):
            if not _IDENT.match(item.type):
                raise ValueError(f"block type {item.type!r} is not an HCL identifier")
            head = " ".join([item.type, *(_hcl_string(label) for label in item.labels)])
            if item.body:
                lines.append(f"{indent}{head} {{")
                lines.append(render_hcl(item.body, indent + "  ").rstrip("\n"))
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{head} {{}}")
        else:
            name, value = item
            if not _IDENT.match(name):
                raise ValueError(f"attribute name {name!r} is not an HCL identifier")
            lines.append(f"{indent}{name} = {_hcl_value(value, indent)}")
    return "\n".join(lines) + "\n"


def _policy(rules: Mapping[str, Sequence[str]]) -> str:
    """An OpenBao ACL policy document (itself HCL) from ``{path: capabilities}``."""
    return render_hcl([HclBlock("path", (path,), (("capabilities", list(caps)),)) for path, caps in rules.items()])


# --------------------------------------------------------------------------------------------
# Defaults: the one place they live.

_DEFAULT_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
_CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
_TLS_DIR = "/openbao/tls"
_SEAL_DIR = "/openbao/seal"
_INIT_DIR = "/openbao/init"
_INIT_FILE = "init.hcl"
_KUBERNETES_AUTH_MOUNT = "kubernetes"
_ESO_POLICY = "external-secrets"
_ADMIN_POLICY = "platform-admin"
_KYVERNO_BACKGROUND_SA = "kyverno-background-controller"  # the Kyverno chart's fixed SA name
_SEAL_KEY_SOURCES = ("kyverno", "external")
# The chart's entrypoint sed-replaces these words anywhere in the main config.
_ENTRYPOINT_WORDS = ("HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR")


class OpenBao(PlatformComponent):
    """OpenBao as a 3-member raft StatefulSet with TLS, auto-unseal and declarative self-initialisation.

    What it emits besides the HelmRelease (all in ``openbao/``; their CRDs come from cert-manager
    and Kyverno, which are ancestors of openbao in the chain):

    - a cert-manager ``Certificate`` (Secret ``openbao-tls``: ``tls.crt``, ``tls.key``, ``ca.crt``)
      for the Services, the per-pod ``*.openbao-internal`` names that ``retry_join`` dials, and
      ``127.0.0.1``; mounted at ``/openbao/tls``;
    - (through the chart's ``extraObjects``) a ConfigMap ``openbao-init`` with the ``initialize``
      blocks (see below); a ``values`` override of ``extraObjects`` must keep it;
    - ServiceAccount ``openbao-admin``: the lasting admin path;
    - with ``seal_key_source="kyverno"``: a Kyverno generate ClusterPolicy plus a Role/RoleBinding
      letting Kyverno's background controller create Secrets in this namespace only.

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
    enough: a local 3-node test with the init file on every node gave 3 Cluster IDs (research notes
    values-b §1.1). So the init file is a separate ConfigMap given (via ``server.extraArgs``, which
    the chart's ``/bin/sh -ec`` expands) only to pod ``openbao-0``, and only when no peer answers
    ``bao status`` as unsealed: a pod-0 that lost its PVC rejoins instead of splitting the cluster.
    A failed self-init is permanent (the pod crash-loops until its PVC is wiped), so test changes to
    the init in a throwaway cluster. Check ``bao status`` shows one Cluster ID on every pod.

    **Readiness.** The readiness probe is ``bao status`` (exit 2 while sealed). With auto-unseal and
    self-init the pods become Ready on their own, so ``wait=True`` (Flux and Helm wait) works, as
    long as the TLS and seal-key Secrets exist (Secret volumes are not optional: until then the pod
    stays ``ContainerCreating``).

    **Unseal.** Default: the ``static`` seal, a 32-byte AES-256-GCM key read from a mounted Secret
    (``seal_key_secret``, key ``key``: 64 hex characters, no newline). The tree never holds a Secret
    with data:

    - ``seal_key_source="kyverno"`` (default; zero manual steps): a Kyverno generate rule (trigger:
      this Namespace, ``generateExisting``, ``synchronize: false`` so it is created once and never
      regenerated) writes the key. Caveat: Kyverno's ``random()`` is not a CSPRNG (goregen over Go's
      ``math/rand``, a fresh 63-bit seed per call); the key joins four calls so it is not limited
      to one seed, but treat it as weaker than ``openssl rand``. The Secret is labelled
      ``velero.io/exclude-from-backup`` so backups never hold the key next to the data it protects;
      export it once (``kubectl -n openbao get secret openbao-static-seal -o
      jsonpath='{.data.key}'``) and keep it offline, or a lost cluster means lost data.
    - ``seal_key_source="external"``: the Secret is provided by you (SOPS-encrypted in your own
      Flux Kustomization, or ``kubectl create secret generic openbao-static-seal
      --from-literal=key=$(openssl rand -hex 32)`` before the first reconcile). The recommended
      production path when no KMS exists.

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
    - ``seal_key_source``: who creates the static seal key Secret: ``kyverno`` or ``external``. Default ``kyverno``.
    - ``seal_key_secret``: name of the static seal key Secret. Default ``openbao-static-seal``.
    - ``seal_key_id``: the static seal's ``current_key_id`` (change it when the key changes). Default
      ``openbao-seal-1``.
    - ``seal_config``: replace the static seal with ``{type: {attribute: value}}`` (awskms, transit, ...). Default none.
    - ``storage_size``: raft data volume size per pod. Default ``10Gi``.
    - ``monitoring_namespace``: where Prometheus runs (scrapes port 8200). Default ``monitoring``.
    - ``kyverno_namespace``: where Kyverno's background controller runs. Default ``kyverno``.
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
        release_name: str = "openbao",
        replicas: int = 3,
        issuer_name: str = "platform-ca",
        kv_mount: str = "secret",
        eso_service_account: str = "external-secrets",
        eso_namespace: str = "external-secrets",
        admin_service_account: str = "openbao-admin",
        seal_key_source: str = "kyverno",
        seal_key_secret: str = "openbao-static-seal",
        seal_key_id: str = "openbao-seal-1",
        seal_config: Mapping[str, Mapping[str, Any]] | None = None,
        storage_size: str = "10Gi",
        monitoring_namespace: str = "monitoring",
        kyverno_namespace: str = "kyverno",
        wait: bool = True,
    ) -> None:
        # Validate every knob before anything crosses into jsii.
        where = child_path(scope, id)
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
            ("kyverno_namespace", kyverno_namespace),
        ):
            check_dns_label(where, name, value)
        if not isinstance(kv_mount, str) or not re.match(r"^[a-z0-9][a-z0-9_-]{0,62}$", kv_mount):
            raise ValidationError(where, "kv_mount", kv_mount, "a mount path: lower-case letters, digits, '-', '_'")
        if seal_key_source not in _SEAL_KEY_SOURCES:
            raise ValidationError(where, "seal_key_source", seal_key_source, "one of 'kyverno', 'external'")
        if not isinstance(seal_key_id, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", seal_key_id):
            raise ValidationError(where, "seal_key_id", seal_key_id, "an identifier: letters, digits, '.', '_', '-'")
        if not isinstance(storage_size, str) or not re.match(r"^[0-9]+(Mi|Gi|Ti)$", storage_size):
            raise ValidationError(where, "storage_size", storage_size, "a size such as '10Gi'")
        check_bool(where, "wait", wait)
        values = check_values(where, "values", values or {})
        seal_block = OpenBao._seal_block(where, seal_config, seal_key_id)

        super().__init__(scope, id, name="openbao", namespace=namespace, wait=wait)

        fullname = helm_fullname(release_name, "openbao", override=(values or {}).get("fullnameOverride"))
        internal = f"{fullname}-internal"
        self.service_url: str = f"https://{fullname}.{namespace}.svc:8200"
        """The API URL clients in the cluster use."""
        self.kv_mount: str = kv_mount
        """Path of the KV v2 secrets engine created at init."""
        self.kubernetes_auth_mount: str = _KUBERNETES_AUTH_MOUNT
        """Path of the Kubernetes auth method created at init."""
        self.eso_role: str = _ESO_POLICY
        """Kubernetes auth role (and policy) for External Secrets."""
        self.admin_role: str = _ADMIN_POLICY
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
        tls = f"{_TLS_DIR}/ca.crt"
        config: list[tuple[str, Any] | HclBlock] = [
            ("ui", True),
            ("cluster_name", fullname),
            HclBlock(
                "listener",
                ("tcp",),
                (
                    ("address", "[::]:8200"),
                    ("cluster_address", "[::]:8201"),
                    ("tls_disable", False),
                    ("tls_cert_file", f"{_TLS_DIR}/tls.crt"),
                    ("tls_key_file", f"{_TLS_DIR}/tls.key"),
                    ("tls_min_version", "tls12"),
                    # The chart's ServiceMonitor sends no token.
                    HclBlock("telemetry", (), (("unauthenticated_metrics_access", True),)),
                ),
            ),
            HclBlock(
                "storage",
                ("raft",),
                (
                    ("path", "/openbao/data"),
                    *(
                        HclBlock(
                            "retry_join",
                            (),
                            (
                                ("leader_api_addr", f"https://{fullname}-{i}.{internal}:8200"),
                                ("leader_ca_cert_file", tls),
                            ),
                        )
                        for i in range(replicas)
                    ),
                ),
            ),
            seal_block,
            HclBlock("service_registration", ("kubernetes",)),
            HclBlock("telemetry", (), (("prometheus_retention_time", "30s"), ("disable_hostname", True))),
            # Audit devices cannot be created through the API by default: declare one here.
            HclBlock(
                "audit",
                ("file", "stdout"),
                (
                    ("description", "audit log to container stdout"),
                    HclBlock("options", (), (("file_path", "stdout"),)),
                ),
            ),
        ]
        self.config_hcl: str = render_hcl(config)
        self.init_blocks: list[HclBlock] = self._init_blocks(
            namespace, kv_mount, eso_service_account, eso_namespace, admin_service_account
        )
        self.init_hcl: str = render_hcl(self.init_blocks)
        init_configmap = f"{fullname}-init"
        self.add_manifest(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": admin_service_account, "namespace": namespace},
            }
        )

        # -- Seal key Secret, generated in-cluster (never in the tree).
        self.seal_key_policy: Any = None
        """The Kyverno ClusterPolicy generating the seal key, if any."""
        if seal_config is None and seal_key_source == "kyverno":
            self._kyverno_seal_key(namespace, seal_key_secret, kyverno_namespace)

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
            {"name": "tls", "mountPath": _TLS_DIR, "readOnly": True},
            {"name": "init", "mountPath": _INIT_DIR, "readOnly": True},
        ]
        if self.seal_key_secret is not None:
            volumes.append({"name": "seal", "secret": {"secretName": seal_key_secret, "defaultMode": 0o440}})
            mounts.append({"name": "seal", "mountPath": _SEAL_DIR, "readOnly": True})
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
                        "container": _CONTAINER_SECURITY,
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
                    "raft": {"enabled": True, "setNodeId": True, "config": _tpl_escape(self.config_hcl)},
                },
                "extraArgs": extra_args,
                "volumes": volumes,
                "volumeMounts": mounts,
            },
            # The init file ships with the release (chart ``extraObjects``, rendered through ``tpl``).
            "extraObjects": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": init_configmap, "namespace": namespace},
                    "data": {_INIT_FILE: _tpl_escape(self.init_hcl)},
                }
            ],
            "serverTelemetry": {
                "serviceMonitor": {
                    "enabled": True,
                    "selectors": {"release": "kube-prometheus-stack"},
                    "interval": "30s",
                    "scrapeTimeout": "10s",
                    "tlsConfig": {
                        "serverName": f"{fullname}-active.{namespace}.svc",
                        "ca": {"secret": {"name": self.ca_secret, "key": "ca.crt"}},
                    },
                }
            },
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

    # -- pieces -------------------------------------------------------------------------------

    @staticmethod
    def _seal_block(where: str, seal_config: Mapping[str, Mapping[str, Any]] | None, key_id: str) -> HclBlock:
        if seal_config is None:
            return HclBlock(
                "seal",
                ("static",),
                (
                    ("current_key_id", key_id),
                    ("current_key", f"file://{_SEAL_DIR}/key"),
                ),
            )
        if not isinstance(seal_config, Mapping) or len(seal_config) != 1:
            raise ValidationError(
                where, "seal_config", seal_config, "one seal type mapped to its attributes, e.g. {'awskms': {...}}"
            )
        ((kind, attrs),) = seal_config.items()
        if not isinstance(kind, str) or not _IDENT.match(kind) or not isinstance(attrs, Mapping):
            raise ValidationError(
                where, "seal_config", seal_config, "a seal type name mapped to a mapping of attributes"
            )

        def check(node: Any, path: str) -> None:
            if isinstance(node, Mapping):
                for k, v in node.items():
                    check(v, f"{path}.{k}")
            elif isinstance(node, (list, tuple)):
                for i, v in enumerate(node):
                    check(v, f"{path}[{i}]")
            elif isinstance(node, str):
                hit = [w for w in _ENTRYPOINT_WORDS if w in node]
                if hit or "${" in node:
                    raise ValidationError(
                        where,
                        f"seal_config{path}",
                        node,
                        "text without '${' and without the words the chart's entrypoint replaces: "
                        + ", ".join(_ENTRYPOINT_WORDS),
                    )
            elif not isinstance(node, (bool, int, float)) or node != node:
                raise ValidationError(where, f"seal_config{path}", node, "strings, numbers, booleans, lists, mappings")

        check(attrs, f".{kind}")
        for key in attrs:
            if not isinstance(key, str) or not _IDENT.match(key):
                raise ValidationError(where, f"seal_config.{kind}", key, "attribute names that are HCL identifiers")
        return HclBlock("seal", (kind,), tuple((k, v) for k, v in attrs.items()))

    @staticmethod
    def _init_blocks(
        namespace: str,
        kv_mount: str,
        eso_sa: str,
        eso_namespace: str,
        admin_sa: str,
    ) -> list[HclBlock]:
        auth = _KUBERNETES_AUTH_MOUNT

        def request(name: str, path: str, data: Mapping[str, Any]) -> HclBlock:
            return HclBlock("request", (name,), (("operation", "update"), ("path", path), ("data", dict(data))))

        return [
            HclBlock(
                "initialize",
                ("auth",),
                (
                    request(
                        "enable-kubernetes-auth",
                        f"sys/auth/{auth}",
                        {"type": "kubernetes", "description": "Kubernetes service account auth"},
                    ),
                    # In the pod, the reviewer JWT and CA come from its own service-account mount.
                    request(
                        "configure-kubernetes-auth",
                        f"auth/{auth}/config",
                        {"kubernetes_host": "https://kubernetes.default.svc"},
                    ),
                ),
            ),
            HclBlock(
                "initialize",
                ("secrets",),
                (
                    request(
                        "mount-kv-v2",
                        f"sys/mounts/{kv_mount}",
                        {"type": "kv", "description": "KV v2 for platform secrets", "options": {"version": "2"}},
                    ),
                ),
            ),
            HclBlock(
                "initialize",
                ("policies",),
                (
                    request(
                        f"policy-{_ESO_POLICY}",
                        f"sys/policies/acl/{_ESO_POLICY}",
                        {
                            "policy": _policy(
                                {
                                    f"{kv_mount}/data/*": ["read"],
                                    f"{kv_mount}/metadata/*": ["read", "list"],
                                }
                            )
                        },
                    ),
                    request(
                        f"policy-{_ADMIN_POLICY}",
                        f"sys/policies/acl/{_ADMIN_POLICY}",
                        {
                            "policy": _policy(
                                {
                                    "*": ["create", "read", "update", "patch", "delete", "list", "scan", "sudo"],
                                }
                            )
                        },
                    ),
                ),
            ),
            HclBlock(
                "initialize",
                ("roles",),
                (
                    request(
                        f"role-{_ESO_POLICY}",
                        f"auth/{auth}/role/{_ESO_POLICY}",
                        {
                            "bound_service_account_names": [eso_sa],
                            "bound_service_account_namespaces": [eso_namespace],
                            "token_policies": [_ESO_POLICY],
                            "token_ttl": "1h",
                            "token_max_ttl": "4h",
                        },
                    ),
                    request(
                        f"role-{_ADMIN_POLICY}",
                        f"auth/{auth}/role/{_ADMIN_POLICY}",
                        {
                            "bound_service_account_names": [admin_sa],
                            "bound_service_account_namespaces": [namespace],
                            "token_policies": [_ADMIN_POLICY],
                            "token_ttl": "1h",
                            "token_max_ttl": "8h",
                        },
                    ),
                ),
            ),
        ]

    def _kyverno_seal_key(self, namespace: str, secret: str, kyverno_namespace: str) -> None:
        """Kyverno creates the seal key Secret once; RBAC lets it write Secrets in this namespace only."""
        rbac_name = "kyverno-generate-seal-key"
        self.add_manifest(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": rbac_name, "namespace": namespace},
                "rules": [
                    {
                        "apiGroups": [""],
                        "resources": ["secrets"],
                        "verbs": ["get", "list", "watch", "create", "update", "patch"],
                    }
                ],
            }
        )
        self.add_manifest(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": rbac_name, "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": rbac_name},
                "subjects": [
                    {"kind": "ServiceAccount", "name": _KYVERNO_BACKGROUND_SA, "namespace": kyverno_namespace}
                ],
            }
        )
        # Four random() calls, each freshly seeded: 64 hex characters (32 bytes), no trailing newline.
        key = "{{ base64_encode(join('', [" + ", ".join(["random('[0-9a-f]{16}')"] * 4) + "])) }}"
        self.seal_key_policy = self.add_manifest(
            {
                "apiVersion": "kyverno.io/v1",
                "kind": "ClusterPolicy",
                "metadata": {
                    "name": f"{namespace}-static-seal-key",
                    "annotations": {
                        "policies.kyverno.io/title": "OpenBao static seal key",
                        "policies.kyverno.io/description": (
                            f"Creates Secret {secret} in {namespace} once (never regenerated: synchronize is off). "
                            "Deleting it makes the OpenBao data unreadable."
                        ),
                    },
                },
                "spec": {
                    "background": True,
                    "rules": [
                        {
                            "name": "generate-static-seal-key",
                            "match": {"any": [{"resources": {"kinds": ["Namespace"], "names": [namespace]}}]},
                            "generate": {
                                "generateExisting": True,
                                "synchronize": False,
                                "apiVersion": "v1",
                                "kind": "Secret",
                                "name": secret,
                                "namespace": namespace,
                                "data": {
                                    "metadata": {
                                        "labels": {
                                            "app.kubernetes.io/part-of": "sre-constructs",
                                            "velero.io/exclude-from-backup": "true",
                                        }
                                    },
                                    "type": "Opaque",
                                    "data": {"key": key},
                                },
                            },
                        }
                    ],
                },
            }
        )


def _tpl_escape(text: str) -> str:
    """The chart renders the raft config through Helm's ``tpl``: keep a literal ``{{`` literal."""
    return text.replace("{{", '{{ "{{" }}')
