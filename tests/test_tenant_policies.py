"""The tenant lane policies: their CEL evaluated on fixtures, and their shape.

The CEL runs on the runtime the bring-up plan uses (cel-expr-python, through
:mod:`sre_constructs.plan.cel`), with Kyverno's variables: ``object``, ``request``,
``namespaceObject`` and ``variables``.
"""

from __future__ import annotations

from typing import Any

from sre_constructs.plan.cel import _eval
from sre_constructs.tenancy.policies import STORE_LABEL, TENANT_LABEL, tenant_policies

POLICIES = {p["metadata"]["name"]: p for p in tenant_policies()}
TENANT_NS = {TENANT_LABEL: "payments", STORE_LABEL: "openbao"}
TENANT_SA = "system:serviceaccount:payments:tenant-payments"


def evaluate(
    policy: dict[str, Any],
    obj: dict[str, Any] | None,
    *,
    namespace: str | None = "payments",
    labels: dict[str, str] | None = None,
    username: str = TENANT_SA,
    resource: str = "kustomizations",
) -> list[str] | None:
    """The messages of every failed validation, as Kyverno would evaluate them; ``None`` when a
    match condition leaves the request alone."""
    context: dict[str, Any] = {
        "object": obj,
        "oldObject": None,
        "request": {
            "namespace": namespace or "",
            "userInfo": {"username": username},
            "resource": {"resource": resource},
        },
        "namespaceObject": {"metadata": {"name": namespace, "labels": labels or TENANT_NS}} if namespace else None,
        "variables": {},
    }
    spec = policy["spec"]
    if not all(_eval(c["expression"], context) is True for c in spec.get("matchConditions", [])):
        return None
    variables: dict[str, Any] = {}
    for variable in spec.get("variables", []):
        variables[variable["name"]] = _eval(variable["expression"], {**context, "variables": variables})
    context["variables"] = variables
    return [
        str(_eval(v["messageExpression"], context)) if "messageExpression" in v else str(v.get("message"))
        for v in spec["validations"]
        if _eval(v["expression"], context) is not True
    ]


def kustomization(**spec: Any) -> dict[str, Any]:
    base = {
        "serviceAccountName": "tenant-payments",
        "sourceRef": {"kind": "GitRepository", "name": "apps"},
        "path": "./",
    }
    return {"kind": "Kustomization", "metadata": {"name": "apps", "namespace": "payments"}, "spec": {**base, **spec}}


def helm_release(**spec: Any) -> dict[str, Any]:
    base = {
        "serviceAccountName": "tenant-payments",
        "chart": {"spec": {"chart": "api", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}},
    }
    return {"kind": "HelmRelease", "metadata": {"name": "api", "namespace": "payments"}, "spec": {**base, **spec}}


def test_flux_lane_admits_the_tenant_own_objects() -> None:
    lanes = POLICIES["tenant-flux-lanes"]
    assert evaluate(lanes, kustomization()) == []
    same = kustomization(sourceRef={"kind": "GitRepository", "name": "apps", "namespace": "payments"})
    assert evaluate(lanes, same) == []
    assert evaluate(lanes, helm_release(), resource="helmreleases") == []
    chart_ref = helm_release(chartRef={"kind": "OCIRepository", "name": "api", "namespace": "payments"})
    del chart_ref["spec"]["chart"]
    assert evaluate(lanes, chart_ref, resource="helmreleases") == []


def test_flux_lane_refuses_a_cross_namespace_source() -> None:
    lanes = POLICIES["tenant-flux-lanes"]
    (message,) = evaluate(
        lanes, kustomization(sourceRef={"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"})
    ) or [""]
    assert message == "Kustomization payments/apps must read a source in its own namespace payments"
    release = helm_release()
    release["spec"]["chart"]["spec"]["sourceRef"]["namespace"] = "flux-system"
    assert evaluate(lanes, release, resource="helmreleases") == [
        "HelmRelease payments/api must read its chart from its own namespace payments"
    ]
    chart_ref = helm_release(chartRef={"kind": "OCIRepository", "name": "api", "namespace": "other-team"})
    del chart_ref["spec"]["chart"]
    assert len(evaluate(lanes, chart_ref, resource="helmreleases") or []) == 1


def test_flux_lane_refuses_another_service_account() -> None:
    lanes = POLICIES["tenant-flux-lanes"]
    missing = kustomization()
    del missing["spec"]["serviceAccountName"]
    for obj in (missing, kustomization(serviceAccountName="kustomize-controller")):
        (message,) = evaluate(lanes, obj) or [""]
        assert "must set spec.serviceAccountName: tenant-payments" in message


def test_secret_store_lane_refuses_a_cluster_store_and_names_the_own_one() -> None:
    lane = POLICIES["tenant-secret-stores"]
    own = {
        "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "payments"},
        "spec": {"secretStoreRef": {"name": "openbao"}},
    }
    assert evaluate(lane, own) == []
    shared = {
        "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "payments"},
        "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "openbao"}},
    }
    (message,) = evaluate(lane, shared) or [""]
    assert "names a ClusterSecretStore" in message
    assert message.endswith("use this namespace's own store: secretStoreRef: {kind: SecretStore, name: openbao}")
    through_data_from = {
        "kind": "ExternalSecret",
        "metadata": {"name": "db", "namespace": "payments"},
        "spec": {
            "secretStoreRef": {"kind": "SecretStore", "name": "openbao"},
            "dataFrom": [{"sourceRef": {"storeRef": {"kind": "ClusterSecretStore", "name": "openbao"}}}],
        },
    }
    assert len(evaluate(lane, through_data_from) or []) == 1
    push = {
        "kind": "PushSecret",
        "metadata": {"name": "p", "namespace": "payments"},
        "spec": {"secretStoreRefs": [{"kind": "ClusterSecretStore", "name": "openbao"}]},
    }
    assert len(evaluate(lane, push, resource="pushsecrets") or []) == 1


def test_namespaced_only_refuses_a_tenant_cluster_scoped_write() -> None:
    policy = POLICIES["tenant-namespaced-only"]
    role = {"kind": "ClusterRole", "metadata": {"name": "x"}}
    (message,) = evaluate(policy, role, namespace=None, resource="clusterroles") or [""]
    assert message.startswith(TENANT_SA + " is a tenant's ServiceAccount")
    root = "system:serviceaccount:flux-system:tenant-payments"  # the team's root Kustomization
    assert len(evaluate(policy, role, namespace=None, username=root, resource="clusterroles") or []) == 1
    platform = "system:serviceaccount:flux-system:kustomize-controller"
    assert evaluate(policy, role, namespace=None, username=platform, resource="clusterroles") is None


# -- shape --------------------------------------------------------------------------------------


def test_lane_policies_select_tenant_namespaces() -> None:
    for name in ("tenant-flux-lanes", "tenant-secret-stores"):
        constraints = POLICIES[name]["spec"]["matchConstraints"]
        assert constraints["namespaceSelector"] == {"matchExpressions": [{"key": TENANT_LABEL, "operator": "Exists"}]}
    rules = POLICIES["tenant-flux-lanes"]["spec"]["matchConstraints"]["resourceRules"]
    assert {(r["apiGroups"][0], r["resources"][0]) for r in rules} == {
        ("kustomize.toolkit.fluxcd.io", "kustomizations"),
        ("helm.toolkit.fluxcd.io", "helmreleases"),
    }
    (cluster,) = POLICIES["tenant-namespaced-only"]["spec"]["matchConstraints"]["resourceRules"]
    assert cluster["scope"] == "Cluster" and cluster["resources"] == ["*"]
    assert POLICIES["tenant-namespaced-only"]["spec"]["failurePolicy"] == "Ignore"


def test_every_policy_denies_and_is_cel() -> None:
    for policy in POLICIES.values():
        assert policy["apiVersion"] == "policies.kyverno.io/v1" and policy["kind"] == "ValidatingPolicy"
        assert policy["spec"]["validationActions"] == ["Deny"]
        assert "random(" not in str(policy)
