"""The tenant lanes as Kyverno ValidatingPolicies (``policies.kyverno.io/v1``, CEL).

Cluster-wide and emitted once, by the platform (its ``kyverno-policies`` companion), whatever the
tenants: they find tenant namespaces by the label every :class:`~sre_constructs.Tenant` namespace
carries (:data:`TENANT_LABEL`), so a tenant defined in another app is covered the day its
namespaces exist. flux2-multi-tenancy's Kyverno rules, in CEL:

- ``tenant-flux-lanes``: in a tenant namespace, every Flux ``Kustomization`` and ``HelmRelease``
  runs as the tenant's ServiceAccount (``tenant-<name>``: Flux impersonates it, so it can do only
  what that account's namespaced RoleBindings allow) and takes its source from its own namespace.
- ``tenant-secret-stores``: an ``ExternalSecret`` or ``PushSecret`` in a tenant namespace may not
  name a ``ClusterSecretStore`` (they serve the platform's namespaces only); the message names the
  namespace's own ``SecretStore``.
- ``tenant-namespaced-only``: a request by a tenant's ServiceAccount for a cluster-scoped object
  is refused. RBAC already guarantees this (the accounts have RoleBindings only, and admission
  runs after authorization), so this is defence in depth against a future ClusterRoleBinding;
  ``failurePolicy: Ignore`` keeps cluster-scoped writes working while Kyverno is down.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "RECONCILER_PREFIX",
    "STORE_LABEL",
    "TENANT_LABEL",
    "tenant_policies",
]

#: Label on every tenant namespace: the tenant's name.
TENANT_LABEL = "sre-constructs.io/tenant"
#: Label on every tenant namespace: the name of its own SecretStore.
STORE_LABEL = "sre-constructs.io/secret-store"
#: A tenant's Flux ServiceAccount is ``tenant-<name>`` (in each tenant namespace and flux-system).
RECONCILER_PREFIX = "tenant-"

_API = "policies.kyverno.io/v1"
_TENANT_NAMESPACES = {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
_WRITE = ["CREATE", "UPDATE"]


def _rule(group: str, *resources: str, scope: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "apiGroups": [group],
        "apiVersions": ["*"],
        "operations": list(_WRITE),
        "resources": list(resources),
    }
    if scope is not None:
        rule["scope"] = scope
    return rule


def _policy(name: str, title: str, description: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": _API,
        "kind": "ValidatingPolicy",
        "metadata": {
            "name": name,
            "annotations": {
                "policies.kyverno.io/title": title,
                "policies.kyverno.io/category": "Tenant lanes",
                "policies.kyverno.io/description": description,
            },
        },
        "spec": {"validationActions": ["Deny"], **spec},
    }


def _absent_or_here(path: str) -> str:
    """``path`` (a dotted field under ``object``) is unset or the object's own namespace.

    ``object.metadata.namespace``, not ``request.namespace``: the API server sets it before
    admission, and background scans (which have no request) see it too.
    """
    parts = path.split(".")
    guards = [f"!has(object.{'.'.join(parts[: i + 1])})" for i in range(len(parts))]
    return "(" + " || ".join(guards) + f" || object.{path} == object.metadata.namespace)"


def flux_lanes() -> dict[str, Any]:
    """``tenant-flux-lanes``: Flux objects in tenant namespaces impersonate the tenant, same-namespace sources."""
    reconciler = f"'{RECONCILER_PREFIX}' + namespaceObject.metadata.labels['{TENANT_LABEL}']"
    where = "object.kind + ' ' + object.metadata.namespace + '/' + object.metadata.name"
    return _policy(
        "tenant-flux-lanes",
        "Tenant Flux lanes",
        "In a tenant namespace, Flux Kustomizations and HelmReleases run as the tenant's ServiceAccount "
        "and read sources from their own namespace only (flux2-multi-tenancy).",
        {
            "matchConstraints": {
                "resourceRules": [
                    _rule("kustomize.toolkit.fluxcd.io", "kustomizations"),
                    _rule("helm.toolkit.fluxcd.io", "helmreleases"),
                ],
                "namespaceSelector": _TENANT_NAMESPACES,
            },
            "variables": [{"name": "reconciler", "expression": reconciler}],
            "validations": [
                {
                    "expression": "has(object.spec.serviceAccountName) && "
                    "object.spec.serviceAccountName == variables.reconciler",
                    "messageExpression": f"{where} + ' must set spec.serviceAccountName: ' + variables.reconciler"
                    " + ' (Flux then acts with the tenant\\'s namespaced rights only)'",
                },
                {
                    "expression": "object.kind != 'Kustomization' || " + _absent_or_here("spec.sourceRef.namespace"),
                    "messageExpression": f"{where} + ' must read a source in its own namespace '"
                    " + object.metadata.namespace",
                },
                {
                    "expression": "object.kind != 'HelmRelease' || ("
                    + _absent_or_here("spec.chart.spec.sourceRef.namespace")
                    + " && "
                    + _absent_or_here("spec.chartRef.namespace")
                    + ")",
                    "messageExpression": f"{where} + ' must read its chart from its own namespace '"
                    " + object.metadata.namespace",
                },
            ],
        },
    )


def secret_store_lane() -> dict[str, Any]:
    """``tenant-secret-stores``: no ClusterSecretStore from a tenant namespace."""
    cluster = "'ClusterSecretStore'"

    def named(ref: str) -> str:
        return f"(has({ref}.kind) && {ref}.kind == {cluster})"

    uses_cluster_store = (
        "object.kind == 'PushSecret' ? "
        f"(has(object.spec.secretStoreRefs) && object.spec.secretStoreRefs.exists(r, {named('r')})) : "
        f"((has(object.spec.secretStoreRef) && {named('object.spec.secretStoreRef')}) || "
        "(has(object.spec.data) && object.spec.data.exists(d, has(d.sourceRef) && has(d.sourceRef.storeRef) && "
        f"{named('d.sourceRef.storeRef')})) || "
        "(has(object.spec.dataFrom) && object.spec.dataFrom.exists(d, has(d.sourceRef) && "
        f"has(d.sourceRef.storeRef) && {named('d.sourceRef.storeRef')})))"
    )
    own_store = (
        f"'{STORE_LABEL}' in namespaceObject.metadata.labels ? "
        f"namespaceObject.metadata.labels['{STORE_LABEL}'] : 'openbao'"
    )
    return _policy(
        "tenant-secret-stores",
        "Tenant secret stores",
        "ExternalSecrets and PushSecrets in a tenant namespace use the namespace's own SecretStore, "
        "never a ClusterSecretStore (those serve the platform's namespaces only).",
        {
            "matchConstraints": {
                "resourceRules": [_rule("external-secrets.io", "externalsecrets", "pushsecrets")],
                "namespaceSelector": _TENANT_NAMESPACES,
            },
            "variables": [
                {"name": "usesClusterStore", "expression": uses_cluster_store},
                {"name": "ownStore", "expression": own_store},
            ],
            "validations": [
                {
                    "expression": "!variables.usesClusterStore",
                    "messageExpression": "object.kind + ' ' + object.metadata.namespace + '/' + object.metadata.name + "
                    "' names a ClusterSecretStore, which serves only the platform\\'s namespaces; use this "
                    "namespace\\'s own store: secretStoreRef: {kind: SecretStore, name: ' + variables.ownStore + '}'",
                }
            ],
        },
    )


def namespaced_only() -> dict[str, Any]:
    """``tenant-namespaced-only``: no cluster-scoped writes by a tenant's ServiceAccount."""
    tenant_account = f"^system:serviceaccount:[a-z0-9-]+:{RECONCILER_PREFIX}[a-z0-9-]+$"
    rule = _rule("*", "*", scope="Cluster")
    rule["operations"] = ["CREATE", "UPDATE", "DELETE"]
    return _policy(
        "tenant-namespaced-only",
        "Tenants create no cluster-scoped objects",
        "A tenant's Flux (its ServiceAccount tenant-<name>) writes no cluster-scoped object. RBAC already "
        "forbids it (namespaced RoleBindings only); this refuses it should a ClusterRoleBinding ever grant it.",
        {
            "failurePolicy": "Ignore",
            # It judges requests (who asks), which background scans of stored objects do not have.
            "evaluation": {"background": {"enabled": False}},
            "matchConstraints": {"resourceRules": [rule]},
            "matchConditions": [
                {
                    "name": "tenant-service-account",
                    "expression": f"request.userInfo.username.matches('{tenant_account}')",
                }
            ],
            "validations": [
                {
                    "expression": "false",
                    "messageExpression": "request.userInfo.username + ' is a tenant\\'s ServiceAccount: tenants "
                    "write namespaced objects in their own namespaces only, not ' + request.resource.resource",
                }
            ],
        },
    )


def tenant_policies() -> list[dict[str, Any]]:
    """Every tenant-lane policy, in a stable order."""
    return [flux_lanes(), secret_store_lane(), namespaced_only()]
