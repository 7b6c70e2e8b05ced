"""Issue 3 across all services: CRD ordering, Pod Security, default-deny, mTLS, no secrets in git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import load_docs

# Which upstream CRD folder each component's charts install (Flux's own come with bootstrap).
CRD_OWNER_FOLDERS = {
    "istio": "istio",
    "cert-manager": "cert-manager",
    "kyverno": "kyverno",
    "prometheus-operator": "monitoring",
    "external-secrets": "external-secrets",
    "velero": "backup",
    "neuvector": "runtime-security",
}


@pytest.fixture(scope="session")
def crd_owner() -> dict[tuple[str, str], str]:
    """(group, kind) -> the component whose chart installs that CRD (by the bundled CRD's upstream folder)."""
    from sre_constructs.kernel.tree_check import bundled_crds

    owners = {
        (crd["group"], crd["kind"]): CRD_OWNER_FOLDERS[crd["file"].partition("/")[0]]
        for crd in bundled_crds()
        if crd["file"].partition("/")[0] in CRD_OWNER_FOLDERS
    }
    assert owners, "no CRDs found"
    return owners


def _docs(tree: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(tree.rglob("*.yaml")):
        rel = path.relative_to(tree).as_posix()
        for doc in load_docs(path):
            if not doc.get("apiVersion", "").startswith("kustomize.config.k8s.io"):
                yield rel, doc


def _ancestors(flux: dict[str, dict[str, Any]], name: str) -> set[str]:
    seen: set[str] = set()
    stack = [d["name"] for d in flux[name]["spec"].get("dependsOn", [])]
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack += [d["name"] for d in flux[current]["spec"].get("dependsOn", [])]
    return seen


def _flux(tree: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: load_docs(p)[0] for p in (tree / "components").glob("*.yaml")}


def test_every_custom_resource_ships_after_the_component_installing_its_crd(
    default_tree: Path, crd_owner: dict[tuple[str, str], str]
) -> None:
    flux = _flux(default_tree)
    checked = 0
    for rel, doc in _docs(default_tree):
        group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
        owner = crd_owner.get((group, doc["kind"]))
        if owner is None:
            continue
        shipping = rel.split("/")[0]
        assert shipping != "components", rel
        assert owner in _ancestors(flux, shipping), (
            f"{doc['kind']}/{doc['metadata']['name']} in {shipping}/ needs {owner} as a dependsOn ancestor"
        )
        checked += 1
    assert checked > 0, "the default platform ships custom resources (companions)"


def test_every_namespace_has_pod_security_labels_and_default_deny(default_tree: Path) -> None:
    policies: dict[str, set[str]] = {}
    namespaces: dict[str, dict[str, str]] = {}
    for _, doc in _docs(default_tree):
        if doc["kind"] == "Namespace":
            namespaces[doc["metadata"]["name"]] = doc["metadata"].get("labels", {})
        if doc["kind"] == "NetworkPolicy":
            policies.setdefault(doc["metadata"]["namespace"], set()).add(doc["metadata"]["name"])
    assert namespaces
    for name, labels in namespaces.items():
        for mode in ("enforce", "audit", "warn"):
            assert labels.get(f"pod-security.kubernetes.io/{mode}") in ("restricted", "baseline", "privileged"), name
        assert labels.get("istio-injection") in ("enabled", "disabled"), name
        assert {"default-deny", "allow-baseline"} <= policies.get(name, set()), name


def test_default_deny_denies_both_directions(default_tree: Path) -> None:
    for _, doc in _docs(default_tree):
        if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "default-deny":
            assert doc["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_baseline_allows_only_dns_and_the_own_namespace(default_tree: Path) -> None:
    baselines = [
        doc
        for _, doc in _docs(default_tree)
        if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] == "allow-baseline"
    ]
    assert baselines
    for doc in baselines:
        spec = doc["spec"]
        assert spec["ingress"] == [{"from": [{"podSelector": {}}]}]
        own, dns = spec["egress"]
        assert own == {"to": [{"podSelector": {}}]}
        assert dns["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
        assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}


def test_mtls_is_strict_mesh_wide(default_tree: Path) -> None:
    peer_auth = [doc for _, doc in _docs(default_tree) if doc["kind"] == "PeerAuthentication"]
    mesh_wide = [
        p for p in peer_auth if p["metadata"]["namespace"] == "istio-system" and not p.get("spec", {}).get("selector")
    ]
    assert len(mesh_wide) == 1
    assert mesh_wide[0]["spec"]["mtls"]["mode"] == "STRICT"
    assert all(p["spec"].get("mtls", {}).get("mode", "STRICT") == "STRICT" for p in peer_auth)


def test_tree_holds_no_secret_with_data(default_tree: Path) -> None:
    for rel, doc in _docs(default_tree):
        if doc["kind"] == "Secret":
            assert not doc.get("data") and not doc.get("stringData"), rel


def test_cluster_secret_store_points_at_openbao_self_init(default_tree: Path) -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(App(), "core")
    openbao = core.openbao
    assert openbao is not None
    stores = [doc for _, doc in _docs(default_tree) if doc["kind"] == "ClusterSecretStore"]
    assert len(stores) == 1
    vault = stores[0]["spec"]["provider"]["vault"]
    assert vault["server"] == openbao.service_url  # type: ignore[attr-defined]
    assert vault["path"] == openbao.kv_mount  # type: ignore[attr-defined]
    assert vault["version"] == "v2"
    auth = vault["auth"]["kubernetes"]
    assert auth["role"] == openbao.eso_role  # type: ignore[attr-defined]
    assert auth["mountPath"] == openbao.kubernetes_auth_mount  # type: ignore[attr-defined]
    # The role OpenBao creates at first start binds exactly the service account the store uses.
    init = yaml.safe_dump(openbao.releases[0].values)
    assert f"auth/{openbao.kubernetes_auth_mount}/role/{openbao.eso_role}" in init  # type: ignore[attr-defined]


def test_non_restricted_namespaces_say_why() -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(App(), "core")
    for component in core.components:
        for namespace, posture in component.pod_security.items():
            if posture.level != "restricted":
                assert len(posture.reason) > 10, (component.name, namespace)


def test_renamed_namespaces_stay_consistent_across_services(tmp_path: Path) -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform, write_tree
    from sre_constructs.kernel.tree_check import check_tree

    app = App()
    core = CorePlatform(
        app,
        "core",
        services={
            "openbao": {"namespace": "vault"},
            "external-secrets": {"namespace": "eso", "release_name": "eso"},
            "monitoring": {"namespace": "obs"},
        },
    )
    write_tree(app, tmp_path)
    tree = tmp_path / "core"
    docs = list(_docs(tree))
    store = next(doc for _, doc in docs if doc["kind"] == "ClusterSecretStore")
    vault = store["spec"]["provider"]["vault"]
    assert vault["server"] == "https://openbao.vault.svc:8200"
    assert vault["caProvider"]["namespace"] == "vault"
    # OpenBao's self-init binds the renamed controller service account in its renamed namespace.
    init = core.openbao.init_hcl  # type: ignore[union-attr]
    assert 'bound_service_account_names = ["eso-external-secrets"]' in init
    assert 'bound_service_account_namespaces = ["eso"]' in init
    # Prometheus scrape rules everywhere point at the renamed monitoring namespace.
    scrape_peers = [
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for _, doc in docs
        if doc["kind"] == "NetworkPolicy" and "prometheus" in doc["metadata"]["name"]
        for rule in doc["spec"].get("ingress", [])
        for peer in rule.get("from", [])
        if "namespaceSelector" in peer and peer["namespaceSelector"].get("matchLabels")
    ]
    assert scrape_peers and set(scrape_peers) == {"obs"}
    assert check_tree(tree, kustomize=False) == []


@pytest.mark.parametrize(
    ("services", "field", "needs"),
    [
        ({"cert-manager": {"enabled": False}}, "services.cert-manager.enabled", "openbao needs cert-manager"),
        (
            {"cert-manager": {"acme_email": "sre@example.com"}},
            "services.istio.gateway",
            "HTTP-01 challenge is served through the Istio ingress gateway",
        ),
    ],
)
def test_disabling_a_real_need_names_both_sides(services: dict[str, Any], field: str, needs: str) -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform, ValidationError

    with pytest.raises(ValidationError) as info:
        CorePlatform(App(), "core", services=services)
    assert info.value.field == field
    assert needs in str(info.value)


def test_knob_dependent_needs_can_be_met_another_way() -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(
        App(),
        "core",
        services={
            "kyverno": {"enabled": False},
            "openbao": {"seal_key_source": "external"},
            "cert-manager": {"acme_email": "sre@example.com", "acme_ingress_class": "nginx"},
        },
    )
    assert core.kyverno is None and core.openbao is not None


def test_jobs_the_platform_starts_later_carry_requests_and_limits() -> None:
    """Kyverno's require-requests-limits would reject them: pods the charts' controllers create."""
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(App(), "core")
    neuvector = core.runtime_security.release.values  # type: ignore[union-attr]
    upgrader = neuvector["controller"]["certupgrader"]["resources"]
    assert upgrader["requests"]["cpu"] and upgrader["requests"]["memory"] and upgrader["limits"]["memory"]
    velero = core.backup.release.values  # type: ignore[union-attr]
    maintenance = velero["configuration"]["repositoryMaintenanceJob"]["repositoryConfigData"]["global"]
    assert {"cpuRequest", "memoryRequest", "memoryLimit"} <= set(maintenance["podResources"])


def test_latest_tag_policy_checks_pods_after_injection(default_tree: Path) -> None:
    """Istio's gateway Deployment says `image: auto`; only the injected Pod has the real image."""
    policy = next(
        doc
        for _, doc in _docs(default_tree)
        if doc["kind"] == "ValidatingPolicy" and doc["metadata"]["name"] == "disallow-latest-tag"
    )
    assert policy["spec"]["autogen"] == {"podControllers": {"controllers": []}}


def test_kyverno_exempts_exactly_the_namespaces_that_run_above_a_level() -> None:
    """Renamed or moved privileged namespaces stay admissible; restricted ones stay covered."""
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(
        App(),
        "core",
        services={
            "monitoring": {"namespace": "observability", "node_exporter_namespace": "node-exporter"},
            "backup": {"namespace": "backups"},
        },
    )
    privileged = {
        ns for c in core.components for ns, posture in c.pod_security.items() if posture.level == "privileged"
    }
    assert privileged == {"node-exporter", "neuvector", "backups"}
    exclusions = core.kyverno.excluded_namespaces  # type: ignore[union-attr]
    assert set(exclusions["pod-security-baseline"]) == privileged | {"kube-system"}
    assert "observability" not in exclusions["pod-security-restricted"]  # restricted now: still checked
    from sre_constructs import render_tree

    written = yaml.safe_load_all(render_tree(core)["kyverno-policies/validatingpolicy.yaml"])
    policies = {doc["metadata"]["name"]: doc for doc in written}
    (selector,) = policies["pod-security-baseline"]["spec"]["matchConstraints"]["namespaceSelector"]["matchExpressions"]
    assert selector["key"] == "kubernetes.io/metadata.name" and selector["operator"] == "NotIn"
    assert set(selector["values"]) == privileged | {"kube-system"}


def test_user_exclusions_are_kept() -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    core = CorePlatform(
        App(), "core", services={"kyverno": {"excluded_namespaces": {"pod-security-baseline": ["only-this"]}}}
    )
    assert core.kyverno.excluded_namespaces["pod-security-baseline"] == ("only-this",)  # type: ignore[union-attr]
