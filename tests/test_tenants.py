"""Tenants are isolated by default: proven on the synthesized objects of the issue's snippet."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# isort: off
from sre_constructs import CorePlatform, Peer, Tenant, ValidationError, tcp, write_tree
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.plan import plan_app, plan_tree
from sre_constructs.services._openbao_tenants import RECONCILE_IMAGE
from cdk8s import App

# isort: on

from .conftest import REPO, load_docs

TENANT_NAMESPACES = {"payments", "payments-batch", "search"}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The issue's snippet, plus a second tenant reading its own Git repository."""
    out = tmp_path_factory.mktemp("tenants")
    app = App()
    core = CorePlatform(app, "core")
    Tenant(
        app,
        "payments",
        platform=core,
        namespaces=["payments", "payments-batch"],
        groups=["team-payments"],
        source_path="./tenants/payments",
    )
    Tenant(app, "search", platform=core, groups=["team-search"], git_url="https://git.example.com/search.git")
    write_tree(app, out)
    return out


def docs(root: Path) -> list[dict[str, Any]]:
    return [doc for path in sorted(root.rglob("*.yaml")) for doc in load_docs(path)]


def of_kind(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Objects of ``kind`` (kustomize's own kustomization.yaml files are not objects)."""
    return [d for d in items if d.get("kind") == kind and "metadata" in d]


@pytest.fixture(scope="module")
def everything(out: Path) -> list[dict[str, Any]]:
    return docs(out)


@pytest.fixture(scope="module")
def payments(out: Path) -> list[dict[str, Any]]:
    return docs(out / "tenancy" / "payments")


def test_layout(out: Path) -> None:
    tree = {p.relative_to(out / "tenancy" / "payments").as_posix() for p in (out / "tenancy" / "payments").rglob("*")}
    assert {
        "kustomization.yaml",
        "components/namespaces.yaml",
        "components/secrets.yaml",
        "components/sync.yaml",
        "namespaces/namespace.yaml",
        "secrets/secretstore.yaml",
        "sync/kustomization-kustomize.yaml",
    } <= tree
    # source_path is written by this app (empty until workloads are added), so Flux finds it.
    assert load_docs(out / "tenants" / "payments" / "kustomization.yaml") == [
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": []}
    ]
    assert not (out / "tenants" / "search").exists()  # search's workloads live in its own repository


def test_namespaces_restricted_default_deny(payments: list[dict[str, Any]]) -> None:
    namespaces = {n["metadata"]["name"]: n["metadata"]["labels"] for n in of_kind(payments, "Namespace")}
    assert set(namespaces) == {"payments", "payments-batch"}
    for labels in namespaces.values():
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["sre-constructs.io/tenant"] == "payments"
        assert labels["sre-constructs.io/secret-store"] == "openbao"
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in of_kind(payments, "NetworkPolicy")}
    for ns in namespaces:
        assert {(ns, "default-deny"), (ns, "allow-baseline")} <= policies


def test_quota_and_limits_per_namespace(payments: list[dict[str, Any]]) -> None:
    quotas = {q["metadata"]["namespace"]: q["spec"]["hard"] for q in of_kind(payments, "ResourceQuota")}
    assert set(quotas) == {"payments", "payments-batch"}
    assert quotas["payments"]["services.loadbalancers"] == "0"
    assert quotas["payments"]["services.nodeports"] == "0"
    assert quotas["payments"]["requests.cpu"] == "4"
    (limits,) = [lr for lr in of_kind(payments, "LimitRange") if lr["metadata"]["namespace"] == "payments"]
    (container,) = limits["spec"]["limits"]
    # The quota counts limits.memory: every container gets one by default.
    assert container["default"] == {"memory": "512Mi"} and "memory" in container["defaultRequest"]


def test_rbac_is_namespaced(everything: list[dict[str, Any]], payments: list[dict[str, Any]]) -> None:
    bindings = of_kind(payments, "RoleBinding")
    assert {b["metadata"]["namespace"] for b in bindings} == {"payments", "payments-batch"}
    team = [b for b in bindings if any(s["kind"] == "Group" for s in b["subjects"])]
    assert {b["roleRef"]["name"] for b in team} == {"edit"}
    assert all(
        s == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-payments"}
        for b in team
        for s in b["subjects"]
    )
    reconciler = [b for b in bindings if b["metadata"]["name"] == "tenant-reconciler"]
    assert {b["roleRef"]["name"] for b in reconciler} == {"admin"}
    assert not of_kind(payments, "ClusterRoleBinding") and not of_kind(payments, "ClusterRole")
    # No ClusterRoleBinding anywhere names a tenant group or ServiceAccount.
    for crb in of_kind(everything, "ClusterRoleBinding"):
        for subject in crb.get("subjects") or []:
            assert subject.get("name") not in {"team-payments", "team-search"}
            assert not str(subject.get("name", "")).startswith("tenant-"), crb
            assert subject.get("namespace") not in TENANT_NAMESPACES, crb


def test_flux_impersonates_the_tenant(payments: list[dict[str, Any]], out: Path) -> None:
    (team,) = [k for k in of_kind(payments, "Kustomization") if k["metadata"]["name"] == "tenant-payments"]
    assert team["metadata"]["namespace"] == "flux-system"  # the team cannot edit it
    assert team["spec"]["serviceAccountName"] == "tenant-payments"
    assert team["spec"]["path"] == "./tenants/payments"
    assert team["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
    accounts = {(a["metadata"]["namespace"], a["metadata"]["name"]) for a in of_kind(payments, "ServiceAccount")}
    assert ("flux-system", "tenant-payments") in accounts
    # Flux's account holds RoleBindings in the tenant namespaces, nowhere else.
    granted = {
        b["metadata"]["namespace"]
        for b in of_kind(payments, "RoleBinding")
        if any(s.get("name") == "tenant-payments" for s in b["subjects"])
    }
    assert granted == {"payments", "payments-batch"}
    # Its own source: a GitRepository in flux-system, read from the same namespace.
    search = docs(out / "tenancy" / "search")
    (repo,) = of_kind(search, "GitRepository")
    (kustomization,) = [k for k in of_kind(search, "Kustomization") if k["metadata"]["name"] == "tenant-search"]
    assert repo["spec"]["url"] == "https://git.example.com/search.git"
    assert kustomization["spec"]["sourceRef"] == {
        "kind": "GitRepository",
        "name": repo["metadata"]["name"],
        "namespace": repo["metadata"]["namespace"],
    }


def test_sync_waits_for_the_platform(payments: list[dict[str, Any]]) -> None:
    (sync,) = [k for k in of_kind(payments, "Kustomization") if k["metadata"]["name"] == "tenant-payments-sync"]
    waits = [d["name"] for d in sync["spec"]["dependsOn"]]
    assert waits == [
        "tenant-payments-namespaces",
        "tenant-payments-secrets",
        "istio",
        "cert-manager-config",
        "external-secrets-config",
        "monitoring",
        "kyverno-policies",
    ]


def test_disabled_services_are_skipped_and_unknown_ones_refused(app: App) -> None:
    core = CorePlatform(app, "core", services={"runtime-security": {"enabled": False}})
    tenant = Tenant(app, "t", platform=core, platform_dependencies=["istio", "runtime-security"])
    assert [d.name for d in tenant.sync._external_dependencies] == ["istio"]
    with pytest.raises(ValidationError, match="a component of the platform"):
        Tenant(app, "u", platform=core, platform_dependencies=["mesh"])


def test_cluster_secret_store_serves_no_tenant(out: Path) -> None:
    (store,) = load_docs(out / "core" / "external-secrets-config" / "clustersecretstore.yaml")
    (condition,) = store["spec"]["conditions"]
    served = set(condition["namespaces"])
    assert not served & TENANT_NAMESPACES
    # The platform's own ExternalSecrets are still served, derived from its components.
    for path in (out / "core").rglob("externalsecret.yaml"):
        for secret in load_docs(path):
            assert secret["metadata"]["namespace"] in served
    assert {"velero", "logging", "external-secrets", "openbao"} <= served


def test_each_tenant_namespace_has_its_own_store(payments: list[dict[str, Any]]) -> None:
    stores = {s["metadata"]["namespace"]: s["spec"]["provider"]["vault"] for s in of_kind(payments, "SecretStore")}
    assert set(stores) == {"payments", "payments-batch"}
    for ns, vault in stores.items():
        auth = vault["auth"]["kubernetes"]
        assert auth["role"] == "tenant-payments"
        assert auth["serviceAccountRef"] == {"name": "secret-store"}
        assert vault["caProvider"] == {"type": "Secret", "name": "openbao-ca", "key": "ca.crt"}  # no namespace
        (carrier,) = [
            c for c in of_kind(payments, "Certificate") if c["metadata"]["namespace"] == ns
        ]  # its Secret holds the CA
        assert carrier["spec"]["secretName"] == "openbao-ca"
        assert not {"dnsNames", "ipAddresses", "uris"} & set(carrier["spec"])


_PATH = re.compile(r'path "([^"]+)" \{\s*capabilities = \[([^\]]*)\]\s*\}')


def test_openbao_policy_grants_only_the_tenant_subtree(out: Path) -> None:
    (configmap,) = load_docs(out / "core" / "openbao" / "configmap.yaml")
    data = configmap["data"]
    for tenant in ("payments", "search"):
        rules = _PATH.findall(data[f"{tenant}.hcl"])
        assert rules, data[f"{tenant}.hcl"]
        for path, caps in rules:
            assert path.startswith((f"secret/data/tenants/{tenant}/", f"secret/metadata/tenants/{tenant}/")), path
            assert set(re.findall(r'"(\w+)"', caps)) <= {"read", "list"}
        assert len(rules) == len(re.findall(r"\bpath\b", data[f"{tenant}.hcl"]))  # every path was checked
    script = data["reconcile.sh"]
    assert (
        "bao write auth/kubernetes/role/tenant-payments bound_service_account_names=secret-store "
        "bound_service_account_namespaces=payments,payments-batch token_policies=tenant-payments" in script
    )
    assert "role=platform-admin" in script and "bao policy delete" in script  # admin login, prune
    (cronjob,) = load_docs(out / "core" / "openbao" / "cronjob.yaml")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "openbao-admin"
    assert pod["containers"][0]["image"] == RECONCILE_IMAGE
    (ca,) = [v for v in pod["volumes"] if v["name"] == "ca"]
    assert ca["secret"]["items"] == [{"key": "ca.crt", "path": "ca.crt"}]  # never the server's key


def test_no_random_in_any_tenant_object(out: Path) -> None:
    for root in (out / "tenancy", out / "tenants"):
        for path in root.rglob("*.yaml"):
            assert "random(" not in path.read_text(encoding="utf-8"), path
    for path in (out / "core").rglob("*.yaml"):
        for doc in load_docs(path):
            if doc.get("kind") in ("ValidatingPolicy", "CronJob", "ConfigMap", "ClusterSecretStore"):
                assert "random(" not in str(doc), path


def test_trees_validate_and_come_up(out: Path, kubectl: str) -> None:
    # Schemas (every policy against its CRD), kustomize builds, Flux paths, dependsOn.
    assert [str(f) for f in check_tree(out / "core") if f.severity == "error"] == []
    for tenant in ("payments", "search"):
        root = out / "tenancy" / tenant
        findings = check_tree(root, known_trees=[out / "core"])
        assert [str(f) for f in findings if f.severity == "error"] == [], tenant
        plan = plan_tree(root, with_trees=[out / "core"])
        assert plan.ok, (tenant, [str(b) for b in plan.blockers])
        assert len([step for step in plan.steps if "tenant-" in step.name]) == 4, tenant
        # search's workloads live in its own Git repository: unknown to the plan, never "ok".
        assert [s.name for s in plan.steps if s.unknown] == (
            ["flux-system/tenant-search"] if tenant == "search" else []
        )


def test_plan_app_of_the_snippet_comes_up(app: App) -> None:
    core = CorePlatform(app, "core")
    Tenant(app, "payments", platform=core, namespaces=["payments", "payments-batch"], groups=["team-payments"])
    plan = plan_app(app)
    assert plan.ok, [str(b) for b in plan.blockers]
    names = [step.name for step in plan.steps]
    # The team's Flux starts after the platform it waits for, its secrets after the store.
    assert names.index("flux-system/tenant-payments") > names.index("flux-system/external-secrets-config")
    assert names.index("flux-system/tenant-payments-secrets") > names.index("flux-system/openbao")


def test_validation_errors(app: App) -> None:
    core = CorePlatform(app, "core")
    with pytest.raises(ValidationError, match="a namespace the platform does not own"):
        Tenant(app, "a", platform=core, namespaces=["monitoring"])
    with pytest.raises(ValidationError, match="apart from this tree"):
        Tenant(app, "b", platform=core, path="tenants/b", source_path="tenants/b/apps")
    with pytest.raises(ValidationError, match="one source per tenant"):
        Tenant(app, "c", platform=core, git_url="https://g/x.git", oci_url="oci://r/x")
    with pytest.raises(ValidationError, match="a namespaced role"):
        Tenant(app, "d", platform=core, reconciler_role="cluster-admin")
    with pytest.raises(ValidationError, match="at most 40 characters"):
        Tenant(app, "e" * 41, platform=core)
    Tenant(app, "f", platform=core)
    with pytest.raises(ValidationError, match="one tenant only"):
        Tenant(app, "g", platform=core, namespaces=["f"], path="tenancy/g2")


def test_workloads_stay_in_the_lane(app: App) -> None:
    core = CorePlatform(app, "core")
    tenant = Tenant(app, "t", platform=core, namespaces=["t", "t-jobs"])
    tenant.workloads.add_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    assert {d["metadata"]["namespace"] for d in load_yaml(tenant.workloads.render_files()["configmap.yaml"])} == {"t"}
    tenant.workloads.add_manifest(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "y", "namespace": "kube-system"}}
    )
    with pytest.raises(ValidationError, match="one of tenant t's namespaces"):
        tenant.workloads.render_files()


def test_workloads_write_no_cluster_scoped_objects(app: App) -> None:
    core = CorePlatform(app, "core")
    tenant = Tenant(app, "t", platform=core)
    tenant.workloads.add_manifest(
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "x"}}
    )
    with pytest.raises(ValidationError, match="writes no cluster-scoped objects"):
        tenant.workloads.render_files()


def load_yaml(data: bytes) -> list[dict[str, Any]]:
    import yaml

    return [d for d in yaml.safe_load_all(data) if d]


def test_cdk8s_plus_workload_lands_in_the_tenant_namespace(app: App) -> None:
    import cdk8s_plus_28 as kplus

    core = CorePlatform(app, "core")
    tenant = Tenant(app, "t", platform=core, namespaces=["t", "t-jobs"])
    api = kplus.Deployment(tenant.workloads, "api", containers=[kplus.ContainerProps(image="r/api:1")])
    jobs = kplus.Deployment(
        tenant.workloads,
        "jobs",
        metadata={"namespace": "t-jobs"},
        containers=[kplus.ContainerProps(image="r/jobs:1")],
    )
    files = tenant.workloads.render_files()
    namespaces = {d["metadata"]["namespace"] for d in load_yaml(files["deployment.yaml"])}
    assert namespaces == {"t", "t-jobs"}
    # A workload stands for its pods: its selector, in its namespace.
    policy = tenant.allow_ingress("prometheus", Peer.in_namespace("monitoring"), tcp(9090), pods=api).body
    assert policy["metadata"]["namespace"] == "t"
    assert policy["spec"]["podSelector"] == {"matchLabels": dict(api.match_labels)}
    other = tenant.allow_egress("api", Peer.in_namespace("t"), tcp(8080), pods=jobs).body
    assert other["metadata"]["namespace"] == "t-jobs"
    with pytest.raises(ValidationError, match="a mapping"):
        tenant.allow_ingress("x", Peer.in_namespace("t"), pods=object())


def test_platform_synth_does_not_load_cdk8s_plus() -> None:
    code = (
        "import sys\n"
        "from sre_constructs import CorePlatform, Tenant, render_tree\n"
        "from cdk8s import App\n"
        "app = App()\n"
        "core = CorePlatform(app, 'core')\n"
        "tenant = Tenant(app, 'payments', platform=core)\n"
        "render_tree(core); render_tree(tenant); tenant.workloads.render_files()\n"
        "assert 'cdk8s_plus_28' not in sys.modules, 'cdk8s_plus_28 was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_docs_page_is_current() -> None:
    from sre_constructs.tenancy.docs_page import render_tenant_page

    page = REPO / "docs" / "tenants.md"
    assert page.read_text(encoding="utf-8") == render_tenant_page(), (
        f"{page} is stale: run `python -m sre_constructs.docs` and commit the result"
    )
