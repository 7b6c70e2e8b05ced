"""Tenant policies and roles in OpenBao, written by a small idempotent reconcile.

OpenBao's ``initialize`` blocks run once, on an empty store: a tenant added after the first boot
would never get its role. So the tenants this platform knows at synth time live in a ConfigMap
(``<fullname>-tenants``: one policy file per tenant plus the script), and a CronJob in OpenBao's
namespace logs in as ``platform-admin`` (Kubernetes auth, ServiceAccount ``openbao-admin``) and
writes every tenant's policy and role, then deletes ``tenant-*`` policies and roles of tenants no
longer listed. Every run converges; a new tenant's role exists at most one ``schedule`` period
after Flux applies the new ConfigMap.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..kernel.errors import ValidationError
from ..kernel.validation import check_dns_label
from ._cron import check_cron
from ._openbao_config import ADMIN_POLICY, KUBERNETES_AUTH_MOUNT, SERVER_IMAGE, policy

if TYPE_CHECKING:
    from ..kernel.manifest import Manifest
    from .openbao import OpenBao

__all__ = [
    "RECONCILE_IMAGE",
    "TENANT_PREFIX",
    "TenantGrant",
    "register_tenant",
    "tenant_policy",
    "tenant_role",
]

#: Prefix of every tenant policy and role; the reconcile prunes only these.
TENANT_PREFIX = "tenant-"
#: The ``bao`` CLI image of the reconcile: the server image of the chart pin.
RECONCILE_IMAGE = SERVER_IMAGE
_MOUNT = "/tenants"
_TLS_MOUNT = "/openbao/tls"
_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class TenantGrant:
    """What one tenant may read in OpenBao and who may log in as it.

    Attributes:
        name: the tenant name (policy and role ``tenant-<name>``).
        namespaces: the tenant's namespaces (``bound_service_account_namespaces``).
        service_account: the ServiceAccount, in each of those namespaces, that logs in.
    """

    name: str
    namespaces: tuple[str, ...]
    service_account: str

    @property
    def role(self) -> str:
        """Role and policy name: ``tenant-<name>``."""
        return TENANT_PREFIX + self.name


def tenant_policy(kv_mount: str, tenant: str) -> str:
    """The tenant's ACL policy: read its own KV subtree, nothing else."""
    return policy(
        {
            f"{kv_mount}/data/tenants/{tenant}/*": ["read"],
            f"{kv_mount}/metadata/tenants/{tenant}/*": ["read", "list"],
        }
    )


def tenant_role(grant: TenantGrant) -> dict[str, Any]:
    """The Kubernetes auth role: the tenant's ServiceAccount in the tenant's namespaces only."""
    return {
        "bound_service_account_names": [grant.service_account],
        "bound_service_account_namespaces": list(grant.namespaces),
        "token_policies": [grant.role],
        "token_ttl": "1h",
        "token_max_ttl": "4h",
    }


def _script(grants: Sequence[TenantGrant], auth: str) -> str:
    """The reconcile: log in, write every tenant, prune the rest, revoke the token."""
    lines = [
        "set -eu",
        f'BAO_TOKEN="$(bao write -field=token auth/{auth}/login role={ADMIN_POLICY} jwt=@{_TOKEN})"',
        "export BAO_TOKEN",
        "trap 'bao token revoke -self >/dev/null 2>&1 || true' EXIT",
    ]
    for grant in grants:
        role = tenant_role(grant)
        args = " ".join(f"{key}={','.join(value) if isinstance(value, list) else value}" for key, value in role.items())
        lines.append(f"bao policy write {grant.role} {_MOUNT}/{grant.name}.hcl")
        lines.append(f"bao write auth/{auth}/role/{grant.role} {args}")
    keep = " ".join(grant.role for grant in grants)
    lines += [
        f"keep={shlex.quote(' ' + keep + ' ')}",
        "# A tenant-* policy no longer listed is a removed tenant: drop its role and policy.",
        f"for stale in $(bao policy list | grep '^{TENANT_PREFIX}' || true); do",
        '  case "$keep" in *" $stale "*) continue ;; esac',
        f'  bao delete "auth/{auth}/role/$stale" || true',
        '  bao policy delete "$stale"',
        "done",
    ]
    return "\n".join(lines) + "\n"


def register_tenant(openbao: OpenBao, grant: TenantGrant, *, schedule: str = "*/5 * * * *") -> None:
    """Add ``grant`` to ``openbao``'s reconcile; the ConfigMap and CronJob appear with the first tenant.

    Args:
        openbao: the platform's OpenBao component.
        grant: the tenant's namespaces and ServiceAccount.
        schedule: how often the reconcile runs (5-field cron). Default every 5 minutes.
    """
    where = f"{openbao.node.path}/tenants"
    check_dns_label(where, "tenant", grant.name)
    check_dns_label(where, "tenant role", grant.role)
    check_dns_label(where, "service_account", grant.service_account)
    for namespace in grant.namespaces:
        check_dns_label(where, "namespace", namespace)
    check_cron(where, "schedule", schedule)
    state: dict[str, Any] = openbao.__dict__.setdefault("_sre_tenants", {"grants": {}, "configmap": None})
    grants: dict[str, TenantGrant] = state["grants"]
    if grant.name in grants:
        raise ValidationError(where, "tenant", grant.name, "a tenant name not already registered with this OpenBao")
    owners = {ns: other.name for other in grants.values() for ns in other.namespaces}
    for namespace in grant.namespaces:
        if namespace in owners:
            raise ValidationError(
                where, "namespace", namespace, f"a namespace of one tenant only (tenant {owners[namespace]} has it)"
            )
    grants[grant.name] = grant
    ordered = [grants[name] for name in sorted(grants)]
    namespace = openbao.namespace or "openbao"
    configmap_name = f"{openbao.ca_secret.removesuffix('-tls')}-tenants"
    data = {f"{g.name}.hcl": tenant_policy(openbao.kv_mount, g.name) for g in ordered}
    data["reconcile.sh"] = _script(ordered, openbao.kubernetes_auth_mount or KUBERNETES_AUTH_MOUNT)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap_name, "namespace": namespace},
        "data": data,
    }
    configmap: Manifest | None = state["configmap"]
    if configmap is not None:
        configmap.update_body(body)
        return
    state["configmap"] = openbao.add_manifest(body)
    openbao.add_manifest(_cronjob(openbao, configmap_name, schedule))


def _cronjob(openbao: OpenBao, configmap: str, schedule: str) -> dict[str, Any]:
    namespace = openbao.namespace or "openbao"
    image = RECONCILE_IMAGE
    mirror = getattr(openbao.platform, "registry_mirror", None)
    if mirror:
        image = f"{mirror}/{image.split('/', 1)[1]}"  # the mirror keeps the repository path
    env: list[Mapping[str, str]] = [
        {"name": "BAO_ADDR", "value": openbao.service_url},
        {"name": "BAO_CACERT", "value": f"{_TLS_MOUNT}/ca.crt"},
        {"name": "HOME", "value": "/tmp"},
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": configmap, "namespace": namespace},
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 300,
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": configmap}},
                        "spec": {
                            # The admin login: only this namespace may create tokens for it.
                            "serviceAccountName": openbao.admin_service_account,
                            "restartPolicy": "Never",
                            "securityContext": {
                                "runAsNonRoot": True,
                                "runAsUser": 100,
                                "runAsGroup": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "containers": [
                                {
                                    "name": "reconcile",
                                    "image": image,
                                    "command": ["/bin/sh", f"{_MOUNT}/reconcile.sh"],
                                    "env": env,
                                    "securityContext": _SECURITY,
                                    "resources": {
                                        "requests": {"cpu": "10m", "memory": "32Mi"},
                                        "limits": {"memory": "64Mi"},
                                    },
                                    "volumeMounts": [
                                        {"name": "tenants", "mountPath": _MOUNT, "readOnly": True},
                                        {"name": "ca", "mountPath": _TLS_MOUNT, "readOnly": True},
                                        {"name": "tmp", "mountPath": "/tmp"},
                                    ],
                                }
                            ],
                            "volumes": [
                                {"name": "tenants", "configMap": {"name": configmap}},
                                # Only the CA: the server's key stays out of this pod.
                                {
                                    "name": "ca",
                                    "secret": {
                                        "secretName": openbao.ca_secret,
                                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                    },
                                },
                                {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}},
                            ],
                        },
                    },
                }
            },
        },
    }
