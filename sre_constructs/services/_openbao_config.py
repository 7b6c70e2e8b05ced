"""The HCL documents of OpenBao: the server config, the seal, the self-init file and its policies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.errors import ValidationError
from ._hcl import HclBlock, is_identifier, render_hcl

TLS_DIR = "/openbao/tls"
SEAL_DIR = "/openbao/seal"
SERVER_IMAGE = "quay.io/openbao/openbao:2.6.2"
SEAL_SOURCE_DIR = "/openbao/seal-source"
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""The restricted container securityContext of every OpenBao container the library sets."""
"""The server image chart 0.29.2 ships (alpine: sh, base64, od); containers the library adds run it too."""
KUBERNETES_AUTH_MOUNT = "kubernetes"
ESO_POLICY = "external-secrets"
ADMIN_POLICY = "platform-admin"
# The chart's entrypoint sed-replaces these words anywhere in the main config.
ENTRYPOINT_WORDS = ("HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR")


def policy(rules: Mapping[str, Sequence[str]]) -> str:
    """An OpenBao ACL policy document (itself HCL) from ``{path: capabilities}``."""
    return render_hcl([HclBlock("path", (path,), (("capabilities", list(caps)),)) for path, caps in rules.items()])


def server_config(fullname: str, internal: str, replicas: int, seal: HclBlock) -> list[tuple[str, Any] | HclBlock]:
    """The main server config of every pod: TLS listener, raft with one retry_join per pod, the seal."""
    tls = f"{TLS_DIR}/ca.crt"
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
                ("tls_cert_file", f"{TLS_DIR}/tls.crt"),
                ("tls_key_file", f"{TLS_DIR}/tls.key"),
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
        seal,
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
    return config


def static_or_given_seal(where: str, seal_config: Mapping[str, Mapping[str, Any]] | None, key_id: str) -> HclBlock:
    """The ``seal`` block: the static seal reading its key file, or the one ``seal_config`` gives."""
    if seal_config is None:
        return HclBlock(
            "seal",
            ("static",),
            (
                ("current_key_id", key_id),
                ("current_key", f"file://{SEAL_DIR}/key"),
            ),
        )
    if not isinstance(seal_config, Mapping) or len(seal_config) != 1:
        raise ValidationError(
            where, "seal_config", seal_config, "one seal type mapped to its attributes, e.g. {'awskms': {...}}"
        )
    ((kind, attrs),) = seal_config.items()
    if not isinstance(kind, str) or not is_identifier(kind) or not isinstance(attrs, Mapping):
        raise ValidationError(where, "seal_config", seal_config, "a seal type name mapped to a mapping of attributes")

    def check(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for k, v in node.items():
                check(v, f"{path}.{k}")
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                check(v, f"{path}[{i}]")
        elif isinstance(node, str):
            hit = [w for w in ENTRYPOINT_WORDS if w in node]
            if hit or "${" in node:
                raise ValidationError(
                    where,
                    f"seal_config{path}",
                    node,
                    "text without '${' and without the words the chart's entrypoint replaces: "
                    + ", ".join(ENTRYPOINT_WORDS),
                )
        elif not isinstance(node, (bool, int, float)) or node != node:
            raise ValidationError(where, f"seal_config{path}", node, "strings, numbers, booleans, lists, mappings")

    check(attrs, f".{kind}")
    for key in attrs:
        if not isinstance(key, str) or not is_identifier(key):
            raise ValidationError(where, f"seal_config.{kind}", key, "attribute names that are HCL identifiers")
    return HclBlock("seal", (kind,), tuple((k, v) for k, v in attrs.items()))


def init_blocks(
    namespace: str,
    kv_mount: str,
    eso_sa: str,
    eso_namespace: str,
    admin_sa: str,
) -> list[HclBlock]:
    """The self-init file of pod 0: Kubernetes auth, the KV v2 mount, the two policies and roles."""
    auth = KUBERNETES_AUTH_MOUNT

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
                    f"policy-{ESO_POLICY}",
                    f"sys/policies/acl/{ESO_POLICY}",
                    {
                        "policy": policy(
                            {
                                f"{kv_mount}/data/*": ["read"],
                                f"{kv_mount}/metadata/*": ["read", "list"],
                            }
                        )
                    },
                ),
                request(
                    f"policy-{ADMIN_POLICY}",
                    f"sys/policies/acl/{ADMIN_POLICY}",
                    {
                        "policy": policy(
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
                    f"role-{ESO_POLICY}",
                    f"auth/{auth}/role/{ESO_POLICY}",
                    {
                        "bound_service_account_names": [eso_sa],
                        "bound_service_account_namespaces": [eso_namespace],
                        "token_policies": [ESO_POLICY],
                        "token_ttl": "1h",
                        "token_max_ttl": "4h",
                    },
                ),
                request(
                    f"role-{ADMIN_POLICY}",
                    f"auth/{auth}/role/{ADMIN_POLICY}",
                    {
                        "bound_service_account_names": [admin_sa],
                        "bound_service_account_namespaces": [namespace],
                        "token_policies": [ADMIN_POLICY],
                        "token_ttl": "1h",
                        "token_max_ttl": "8h",
                    },
                ),
            ),
        ),
    ]


def tpl_escape(text: str) -> str:
    """The chart renders the raft config through Helm's ``tpl``: keep a literal ``{{`` literal."""
    return text.replace("{{", '{{ "{{" }}')
