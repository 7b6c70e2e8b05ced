"""The plain objects of a :class:`~sre_constructs.Tenant`: quotas, limits and its secrets lane."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .policies import TENANT_LABEL

__all__ = ["CA_SECRET", "SECRETS_SERVICE_ACCOUNT", "ca_carrier", "limit_range", "quota", "secret_store"]

#: The ServiceAccount (in each tenant namespace) the SecretStore logs in to OpenBao with. It has
#: no Kubernetes rights: a token sent to OpenBao is also a bearer token for the API server.
SECRETS_SERVICE_ACCOUNT = "secret-store"
#: The Secret (in each tenant namespace) whose ``ca.crt`` the SecretStore trusts.
CA_SECRET = "openbao-ca"


def _meta(name: str, namespace: str, tenant: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {TENANT_LABEL: tenant}}


def quota(namespace: str, tenant: str, q: Mapping[str, str], max_pods: int, max_pvcs: int) -> dict[str, Any]:
    """ResourceQuota ``tenant``: compute, pods, storage; no LoadBalancer or NodePort Services
    (traffic enters through the platform's gateway)."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta("tenant", namespace, tenant),
        "spec": {
            "hard": {
                "requests.cpu": q["cpu_requests"],
                "requests.memory": q["memory_requests"],
                "limits.memory": q["memory_limits"],
                "pods": str(max_pods),
                "persistentvolumeclaims": str(max_pvcs),
                "requests.storage": q["storage_requests"],
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }
        },
    }


def limit_range(namespace: str, tenant: str, q: Mapping[str, str]) -> dict[str, Any]:
    """LimitRange ``tenant``: requests and a memory limit for containers that set none (the quota
    counts them), a memory ceiling per container; no CPU limit (it throttles)."""
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("tenant", namespace, tenant),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": q["default_cpu_request"], "memory": q["default_memory_request"]},
                    "default": {"memory": q["default_memory_limit"]},
                    "max": {"memory": q["max_container_memory"]},
                }
            ]
        },
    }


def ca_carrier(namespace: str, tenant: str, issuer: str) -> dict[str, Any]:
    """A Certificate whose Secret carries the platform CA (``ca.crt``) into ``namespace``.

    A namespaced SecretStore reads its CA from its own namespace (ESO refuses a ``caProvider``
    namespace there), and the CA is made in-cluster: a CA issuer writes ``ca.crt`` into every
    Secret it fills. The certificate names no DNS name, IP or URI, so it passes for no server.
    """
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(CA_SECRET, namespace, tenant),
        "spec": {
            "secretName": CA_SECRET,
            "commonName": f"{tenant}.{namespace}.ca-carrier",
            "usages": ["digital signature"],
            "duration": "8760h",
            "renewBefore": "720h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": issuer},
        },
    }


def secret_store(namespace: str, tenant: str, name: str, openbao: Any, role: str) -> dict[str, Any]:
    """The namespace's SecretStore: OpenBao's KV v2, Kubernetes auth with the tenant's role."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "SecretStore",
        "metadata": _meta(name, namespace, tenant),
        "spec": {
            "provider": {
                "vault": {
                    "server": openbao.service_url,
                    "path": openbao.kv_mount,
                    "version": "v2",
                    "caProvider": {"type": "Secret", "name": CA_SECRET, "key": "ca.crt"},
                    "auth": {
                        "kubernetes": {
                            "mountPath": openbao.kubernetes_auth_mount,
                            "role": role,
                            "serviceAccountRef": {"name": SECRETS_SERVICE_ACCOUNT},
                        }
                    },
                }
            }
        },
    }
