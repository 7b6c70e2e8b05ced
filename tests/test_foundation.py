"""The foundation contract: tree layout, Flux objects, dependency chain, readiness, determinism."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import cdk8s
import pytest
from cdk8s import App, Chart

from sre_constructs import (
    Backup,
    CertManager,
    ChartRepository,
    CorePlatform,
    ExternalSecrets,
    Istio,
    Kyverno,
    Logging,
    Monitoring,
    OpenBao,
    PlatformComponent,
    RuntimeSecurity,
    write_tree,
)
from sre_constructs.kernel.facts import chart_facts

from .conftest import REPO, load_docs

NAMES = [
    "istio",
    "cert-manager",
    "kyverno",
    "monitoring",
    "logging",
    "openbao",
    "external-secrets",
    "runtime-security",
    "backup",
]
EDGES = {
    ("cert-manager", "istio"),
    ("kyverno", "cert-manager"),
    ("monitoring", "kyverno"),
    ("logging", "monitoring"),
    ("openbao", "monitoring"),
    ("external-secrets", "openbao"),
    ("runtime-security", "openbao"),
    ("backup", "runtime-security"),
}
# From shared/reference/platform.md: (chart, version, repository URL) per release.
PINS = {
    "istio-base": ("base", "1.30.3", "https://istio-release.storage.googleapis.com/charts"),
    "istiod": ("istiod", "1.30.3", "https://istio-release.storage.googleapis.com/charts"),
    "cert-manager": ("cert-manager", "v1.21.1", "https://charts.jetstack.io"),
    "kyverno": ("kyverno", "3.9.0", "https://kyverno.github.io/kyverno/"),
    "kube-prometheus-stack": ("kube-prometheus-stack", "88.5.3", "https://prometheus-community.github.io/helm-charts"),
    "loki": ("loki", "18.11.0", "https://grafana-community.github.io/helm-charts"),
    "alloy": ("alloy", "1.11.1", "https://grafana.github.io/helm-charts"),
    "openbao": ("openbao", "0.29.2", "https://openbao.github.io/openbao-helm"),
    "external-secrets": ("external-secrets", "2.9.0", "https://charts.external-secrets.io"),
    "neuvector": ("core", "2.11.0", "https://neuvector.github.io/neuvector-helm/"),
    "velero": ("velero", "12.1.0", "https://vmware-tanzu.github.io/helm-charts"),
}


def flux_kustomizations(tree: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {
        path.split("/")[1][: -len(".yaml")]: docs[0] for path, docs in tree.items() if path.startswith("components/")
    }


def objects_of_kind(tree: dict[str, list[dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [
        doc
        for docs in tree.values()
        for doc in docs
        if doc.get("kind") == kind and "apiVersion" in doc and not doc["apiVersion"].startswith("kustomize.config")
    ]


def test_tree_layout(default_tree: Path) -> None:
    files = {p.relative_to(default_tree).as_posix() for p in default_tree.rglob("*") if p.is_file()}
    assert "kustomization.yaml" in files
    assert "sources/helmrepositories.yaml" in files
    components = {f for f in files if f.startswith("components/")}
    assert {f"components/{n}.yaml" for n in NAMES} <= components
    # Beyond the nine: only their companions (custom resources applied after the CRDs' charts).
    extra = {f.split("/")[1][: -len(".yaml")] for f in components} - set(NAMES)
    assert all(any(e.startswith(n + "-") for n in NAMES) for e in extra), extra
    for name in NAMES:
        assert f"{name}/kustomization.yaml" in files
        assert f"{name}/helmrelease.yaml" in files
        assert f"{name}/namespace.yaml" in files


def test_root_lists_sources_then_components_in_dependency_order(default_tree: Path) -> None:
    root = load_docs(default_tree / "kustomization.yaml")[0]
    assert root["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert root["kind"] == "Kustomization"
    resources = root["resources"]
    assert resources[0] == "sources/helmrepositories.yaml"
    order = [r.split("/")[1][: -len(".yaml")] for r in resources[1:]]
    assert set(NAMES) <= set(order)
    assert sorted(resources[1:]) == sorted(f"components/{p.name}" for p in (default_tree / "components").iterdir())
    for child, parent in EDGES:
        assert order.index(parent) < order.index(child), f"{parent} must come before {child}"


def test_each_folder_lists_exactly_its_files(default_tree: Path) -> None:
    for kustomization in default_tree.glob("*/kustomization.yaml"):
        folder = kustomization.parent
        listed = load_docs(kustomization)[0]["resources"]
        present = sorted(p.name for p in folder.iterdir() if p.name != "kustomization.yaml")
        assert sorted(listed) == present, folder.name


def test_kustomize_builds_root_and_every_folder(default_tree: Path, kubectl: str) -> None:
    folders = [default_tree, *sorted(p.parent for p in default_tree.glob("*/kustomization.yaml"))]
    assert {f.name for f in folders[1:]} >= set(NAMES)
    for folder in folders:
        result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True)
        assert result.returncode == 0, f"{folder}: {result.stderr}"
        assert "kind:" in result.stdout


def test_flux_kustomizations(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    flux = flux_kustomizations(tree_objects)
    assert set(NAMES) <= set(flux)
    for name, obj in flux.items():
        assert obj["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
        assert obj["metadata"] == {"name": name, "namespace": "flux-system"}
        spec = obj["spec"]
        assert spec["path"] == f"./core/{name}"
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
        assert spec["prune"] is True
        assert spec["wait"] is True
        assert "healthChecks" not in spec  # Flux ignores them under wait: true
        assert spec["interval"] and spec["timeout"]


def test_depends_on_edges_are_exactly_the_chain(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    flux = flux_kustomizations(tree_objects)
    edges = {
        (name, dep["name"])
        for name, obj in flux.items()
        for dep in obj["spec"].get("dependsOn", [])
        if name in NAMES and dep["name"] in NAMES
    }
    assert edges == EDGES
    # A real need beyond the chain: Velero's credentials come from the External Secrets store.
    assert {"name": "external-secrets-config", "namespace": "flux-system"} in flux["backup"]["spec"]["dependsOn"]
    for obj in flux.values():
        for dep in obj["spec"].get("dependsOn", []):
            assert dep.get("namespace", "flux-system") == "flux-system"


def _seconds(duration: str) -> int:
    import re

    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def test_timeout_covers_the_slowest_release(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    flux = flux_kustomizations(tree_objects)
    for name in NAMES:
        releases = load_releases(tree_objects, name)
        slowest = max(_seconds(r["spec"]["timeout"]) for r in releases)
        assert _seconds(flux[name]["spec"]["timeout"]) > slowest, name


def load_releases(tree: dict[str, list[dict[str, Any]]], component: str) -> list[dict[str, Any]]:
    return [d for d in tree[f"{component}/helmrelease.yaml"] if d["kind"] == "HelmRelease"]


def test_helm_releases_pinned_with_remediation(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    repos = {r["metadata"]["name"]: r for r in tree_objects["sources/helmrepositories.yaml"]}
    releases = objects_of_kind(tree_objects, "HelmRelease")
    assert {r["metadata"]["name"] for r in releases} == set(PINS)
    for release in releases:
        spec = release["spec"]
        chart, version, url = PINS[release["metadata"]["name"]]
        assert release["apiVersion"] == "helm.toolkit.fluxcd.io/v2"
        assert spec["releaseName"] == release["metadata"]["name"]
        assert spec["chart"]["spec"]["chart"] == chart
        assert spec["chart"]["spec"]["version"] == version
        source = spec["chart"]["spec"]["sourceRef"]
        assert source["kind"] == "HelmRepository" and source["namespace"] == "flux-system"
        assert repos[source["name"]]["spec"]["url"] == url
        assert spec["install"]["remediation"]["retries"] > 0
        assert spec["upgrade"]["remediation"]["retries"] > 0
        assert spec["upgrade"]["remediation"]["remediateLastFailure"] is True


def test_sources_are_the_union_of_what_releases_use(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    repos = tree_objects["sources/helmrepositories.yaml"]
    assert all(r["kind"] == "HelmRepository" and r["metadata"]["namespace"] == "flux-system" for r in repos)
    urls = [r["spec"]["url"] for r in repos]
    assert len(urls) == len(set(urls)), "one HelmRepository per distinct URL"
    used = {r["spec"]["chart"]["spec"]["sourceRef"]["name"] for r in objects_of_kind(tree_objects, "HelmRelease")}
    assert used == {r["metadata"]["name"] for r in repos}


def test_namespaces_emitted_and_releases_installed_there(tree_objects: dict[str, list[dict[str, Any]]]) -> None:
    expected = {
        "istio": {"istio-system"},
        "cert-manager": {"cert-manager"},
        "kyverno": {"kyverno"},
        "monitoring": {"monitoring"},
        "logging": {"logging"},
        "openbao": {"openbao"},
        "external-secrets": {"external-secrets"},
        "runtime-security": {"neuvector"},
        "backup": {"velero"},
    }
    for component, namespaces in expected.items():
        emitted = {d["metadata"]["name"] for d in tree_objects[f"{component}/namespace.yaml"]}
        assert namespaces <= emitted
        for release in load_releases(tree_objects, component):
            assert release["metadata"]["namespace"] in emitted


def test_core_attributes_and_components_order(app: App) -> None:
    core = CorePlatform(app, "core")
    attrs = [
        core.istio,
        core.cert_manager,
        core.kyverno,
        core.monitoring,
        core.logging,
        core.openbao,
        core.external_secrets,
        core.runtime_security,
        core.backup,
    ]
    assert all(isinstance(c, PlatformComponent) for c in attrs)
    assert [c.name for c in attrs] == NAMES
    order = [c.name for c in core.components]
    for child, parent in EDGES:
        assert order.index(parent) < order.index(child)


def test_path_source_ref_and_prefix(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    CorePlatform(app, "lab", path="platform/core", source_ref="sre-platform", name_prefix="sre-")
    written = write_tree(app, tmp_path)
    assert (tmp_path / "core" / "kustomization.yaml") in written
    lab = tmp_path / "platform" / "core"
    flux = {p.stem: load_docs(p)[0] for p in (lab / "components").glob("*.yaml")}
    assert set(NAMES) <= set(flux)
    for name, obj in flux.items():
        assert obj["metadata"]["name"] == f"sre-{name}"
        assert obj["spec"]["path"] == f"./platform/core/{name}"
        assert obj["spec"]["sourceRef"]["name"] == "sre-platform"
        assert all(dep["name"].startswith("sre-") for dep in obj["spec"].get("dependsOn", []))
    assert (lab / "backup" / "helmrelease.yaml").is_file()


# Workloads each chart really creates at the default release names (platform.md).
HEALTH = {
    "istio": {("Deployment", "istiod", "istio-system")},
    "cert-manager": {
        ("Deployment", n, "cert-manager") for n in ("cert-manager", "cert-manager-webhook", "cert-manager-cainjector")
    },
    "kyverno": {
        ("Deployment", f"kyverno-{c}", "kyverno")
        for c in ("admission-controller", "background-controller", "cleanup-controller", "reports-controller")
    },
    "monitoring": {
        ("Deployment", "kube-prometheus-stack-operator", "monitoring"),
        ("Deployment", "kube-prometheus-stack-grafana", "monitoring"),
        ("Deployment", "kube-prometheus-stack-kube-state-metrics", "monitoring"),
        ("DaemonSet", "kube-prometheus-stack-prometheus-node-exporter", "monitoring"),
        ("StatefulSet", "prometheus-kube-prometheus-stack-prometheus", "monitoring"),
        ("StatefulSet", "alertmanager-kube-prometheus-stack-alertmanager", "monitoring"),
    },
    "openbao": {("StatefulSet", "openbao", "openbao")},
    "external-secrets": {
        ("Deployment", n, "external-secrets")
        for n in ("external-secrets", "external-secrets-webhook", "external-secrets-cert-controller")
    },
    "runtime-security": {
        ("Deployment", "neuvector-controller-pod", "neuvector"),
        ("Deployment", "neuvector-manager-pod", "neuvector"),
        ("Deployment", "neuvector-scanner-pod", "neuvector"),
        ("DaemonSet", "neuvector-enforcer-pod", "neuvector"),
    },
    "backup": {("Deployment", "velero", "velero"), ("DaemonSet", "node-agent", "velero")},
}


def test_wait_off_gives_health_checks_on_real_workloads(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core", services={name: {"wait": False} for name in NAMES})
    write_tree(app, tmp_path)
    for name in NAMES:
        spec = load_docs(tmp_path / "core" / "components" / f"{name}.yaml")[0]["spec"]
        assert spec["wait"] is False
        assert spec["healthChecks"], name
        checks = {(c["kind"], c["name"], c["namespace"]) for c in spec["healthChecks"]}
        if name in HEALTH:
            assert HEALTH[name] <= checks, name
        assert all(c["apiVersion"] for c in spec["healthChecks"])


def test_health_checks_follow_release_names(app: App) -> None:
    chart = Chart(app, "c")
    cm = CertManager(chart, "cm", release_name="zz", wait=False)
    mon = Monitoring(chart, "mon", release_name="mon", wait=False)
    names = {c.name for c in cm.health_checks}
    assert names == {"zz-cert-manager", "zz-cert-manager-webhook", "zz-cert-manager-cainjector"}
    mon_names = {c.name for c in mon.health_checks}
    assert "mon-kube-prometheus-stack-operator" in mon_names
    assert "prometheus-mon-kube-prometheus-stack-prometheus" in mon_names
    assert "mon-grafana" in mon_names


@pytest.mark.parametrize(
    "construct",
    [Istio, CertManager, Kyverno, Monitoring, Logging, OpenBao, ExternalSecrets, RuntimeSecurity, Backup],
)
def test_each_service_works_alone_in_a_plain_chart(construct: type[PlatformComponent]) -> None:
    app = App()
    chart = Chart(app, "team")
    component = construct(chart, "svc")
    manifests = cdk8s.Testing.synth(chart)
    kinds = [m["kind"] for m in manifests]
    assert "Namespace" in kinds and "HelmRelease" in kinds and "HelmRepository" in kinds
    # No Flux Kustomization (nothing for it to apply, and one named like the platform's would
    # replace it) and nothing in flux-system: the chart sources sit beside the releases.
    assert "Kustomization" not in kinds and component.kustomization is None
    assert all(m["metadata"].get("namespace") != "flux-system" for m in manifests)
    for release in (m for m in manifests if m["kind"] == "HelmRelease"):
        source = release["spec"]["chart"]["spec"]["sourceRef"]
        assert source["namespace"] == release["metadata"]["namespace"]
    # Custom resources of the service's own CRDs are held back (nothing could order them after the CRDs).
    own_groups = {crd.partition("/")[0] for r in component.releases for crd in (chart_facts(r.chart).crds or ())}
    assert not [m for m in manifests if m["apiVersion"].partition("/")[0] in own_groups]
    urls = [m["spec"]["url"] for m in manifests if m["kind"] == "HelmRepository"]
    assert len(urls) == len(set(urls))


def test_team_component_depends_on_platform_component(app: App) -> None:
    core = CorePlatform(app, "core", name_prefix="sre-")
    team = Chart(app, "team")
    payments = PlatformComponent(team, "payments", namespace="payments", path="apps")
    payments.add_helm_release(
        "payments", ("payments", ChartRepository("team", "https://charts.example.com")), version="1.2.3"
    )
    assert core.openbao is not None
    payments.depends_on(core.openbao)
    flux = next(m for m in cdk8s.Testing.synth(team) if m["kind"] == "Kustomization")
    assert flux["spec"]["dependsOn"] == [{"name": "sre-openbao", "namespace": "flux-system"}]
    assert flux["spec"]["path"] == "./apps/payments"


def test_disabled_service_keeps_order_of_the_rest(app: App, tmp_path: Path) -> None:
    core = CorePlatform(app, "core", services={"runtime-security": {"enabled": False}})
    assert core.runtime_security is None
    assert core.backup is not None
    deps = [d.name for d in core.backup.dependencies]
    assert "openbao" in deps and "runtime-security" not in deps
    write_tree(app, tmp_path)
    assert not (tmp_path / "core" / "runtime-security").exists()
    assert not (tmp_path / "core" / "components" / "runtime-security.yaml").exists()


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_synths_are_byte_identical(tmp_path: Path) -> None:
    trees = []
    for run in ("a", "b"):
        app = App()
        CorePlatform(app, "core")
        write_tree(app, tmp_path / run)
        trees.append(_snapshot(tmp_path / run))
    assert trees[0] == trees[1]


def test_resynth_removes_stale_files_and_touches_nothing_else(tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path)
    before = _snapshot(tmp_path / "core")
    (tmp_path / "core" / "istio" / "stale.yaml").write_text("stale: true\n")
    (tmp_path / "core" / "old-service").mkdir()
    (tmp_path / "core" / "old-service" / "x.yaml").write_text("x: 1\n")
    (tmp_path / "README.md").write_text("mine\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.yaml").write_text("keep: true\n")

    app2 = App()
    CorePlatform(app2, "core")
    write_tree(app2, tmp_path)
    assert _snapshot(tmp_path / "core") == before
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert (tmp_path / "other" / "keep.yaml").read_text() == "keep: true\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "core", "other"]


def test_cdk8s_cli_synth_writes_the_tree(tmp_path: Path) -> None:
    cli = REPO / "node_modules" / ".bin" / "cdk8s"
    if not cli.exists():
        pytest.fail("the cdk8s CLI is missing: run `make test` (it runs npm ci)", pytrace=False)
    out = tmp_path / "out"
    result = subprocess.run(
        [str(cli), "synth", "--output", str(out), "--no-check-upgrade"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "end-of-life" not in (result.stdout + result.stderr).lower()
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path / "py")
    assert _snapshot(out / "core") == _snapshot(tmp_path / "py" / "core")


def test_every_object_validates_against_its_schema(default_tree: Path) -> None:
    from sre_constructs.kernel.tree_check import check_tree

    findings = check_tree(default_tree, kustomize=False)
    assert findings == [], "\n".join(map(str, findings))


def test_flux_kinds_are_checked_against_the_crds(default_tree: Path, tmp_path: Path) -> None:
    """The schema check can fail: a HelmRelease with a bad field is reported."""
    import shutil

    import yaml

    from sre_constructs.kernel.tree_check import check_tree

    broken = tmp_path / "core"
    shutil.copytree(default_tree, broken)
    releases = load_docs(broken / "kyverno" / "helmrelease.yaml")
    releases[0]["spec"]["install"]["crds"] = "Sometimes"
    (broken / "kyverno" / "helmrelease.yaml").write_text(yaml.safe_dump_all(releases))
    findings = check_tree(broken, kustomize=False)
    assert any("Sometimes" in f.message for f in findings), findings
