"""The examples run as a user runs them, and what they write is valid and means what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sre_constructs.kernel.tree_check import check_tree

from .conftest import REPO, load_docs

EXAMPLE = REPO / "examples" / "team_app.py"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``python examples/team_app.py <out>`` from the repository root; returns ``<out>``."""
    out = tmp_path_factory.mktemp("team-app")
    # The library under test, whatever copy is installed in the venv.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE.relative_to(REPO)), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(out / "apps" / "payments" / "kustomization.yaml") in result.stdout.splitlines()
    return out


def docs_of(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.relative_to(root).as_posix(): load_docs(p) for p in sorted(root.rglob("*.yaml"))}


def one(docs: dict[str, list[dict[str, Any]]], path: str, kind: str) -> dict[str, Any]:
    found = [d for d in docs[path] if d.get("kind") == kind]
    assert len(found) == 1, (path, kind, found)
    return found[0]


@pytest.fixture(scope="module")
def team(written: Path) -> dict[str, list[dict[str, Any]]]:
    return docs_of(written / "apps" / "payments")


@pytest.fixture(scope="module")
def core(written: Path) -> dict[str, list[dict[str, Any]]]:
    return docs_of(written / "core")


def test_core_tree_is_the_default_tree(written: Path, default_tree: Path) -> None:
    """Byte for byte, but for the store, which also serves the team's namespace (and only that more)."""
    store = Path("external-secrets-config/clustersecretstore.yaml")
    mine = {p.relative_to(written / "core"): p.read_bytes() for p in (written / "core").rglob("*") if p.is_file()}
    default = {p.relative_to(default_tree): p.read_bytes() for p in default_tree.rglob("*") if p.is_file()}
    assert {k: v for k, v in mine.items() if k != store} == {k: v for k, v in default.items() if k != store}
    (served,) = load_docs(written / "core" / store)[0]["spec"]["conditions"]
    (default_served,) = load_docs(default_tree / store)[0]["spec"]["conditions"]
    assert set(served["namespaces"]) - set(default_served["namespaces"]) == {"payments"}
    assert set(default_served["namespaces"]) <= set(served["namespaces"])


def test_trees_pass_the_tree_check(written: Path, kubectl: str, core: Any) -> None:
    assert check_tree(written / "core") == []
    # The team tree waits for two Kustomizations of the core tree: alone, those are missing...
    findings = check_tree(written / "apps" / "payments")
    core_names = {docs[0]["metadata"]["name"] for path, docs in core.items() if path.startswith("components/")}
    outside = {"external-secrets-config", "monitoring"}
    assert outside <= core_names
    assert all(f.check == "depends-on" for f in findings), [str(f) for f in findings]
    assert len(findings) == len(outside)
    assert all(any(f"flux-system/{name}," in f.message for name in outside) for f in findings)
    # ...and with the core tree known (the same cluster), the team tree is valid.
    assert check_tree(written / "apps" / "payments", known_trees=[written / "core"]) == []


def test_team_tree_layout(team: dict[str, list[dict[str, Any]]]) -> None:
    assert set(team) == {
        "kustomization.yaml",
        "sources/helmrepositories.yaml",
        "components/payments.yaml",
        "payments/kustomization.yaml",
        "payments/namespace.yaml",
        "payments/networkpolicy.yaml",
        "payments/helmrelease.yaml",
        "payments/externalsecret.yaml",
        "payments/servicemonitor.yaml",
    }


def test_depends_on_the_platform(team: dict[str, list[dict[str, Any]]]) -> None:
    flux = one(team, "components/payments.yaml", "Kustomization")
    assert flux["metadata"] == {"name": "payments", "namespace": "flux-system"}
    assert flux["spec"]["path"] == "./apps/payments/payments"
    assert [(d["name"], d["namespace"]) for d in flux["spec"]["dependsOn"]] == [
        ("external-secrets-config", "flux-system"),
        ("monitoring", "flux-system"),
    ]


def test_namespace_is_restricted_without_sidecars(team: dict[str, list[dict[str, Any]]]) -> None:
    labels = one(team, "payments/namespace.yaml", "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["istio-injection"] == "disabled"


def test_helm_release_from_the_team_repository(team: dict[str, list[dict[str, Any]]]) -> None:
    release = one(team, "payments/helmrelease.yaml", "HelmRelease")
    chart = release["spec"]["chart"]["spec"]
    assert (release["metadata"]["namespace"], release["spec"]["releaseName"]) == ("payments", "payments")
    assert (chart["chart"], chart["version"], chart["sourceRef"]["name"]) == ("payments", "1.4.2", "team-charts")
    repo = one(team, "sources/helmrepositories.yaml", "HelmRepository")
    assert (repo["metadata"]["name"], repo["spec"]["url"]) == ("team-charts", "https://charts.example.com")


def test_external_secret_reads_the_platform_store(
    team: dict[str, list[dict[str, Any]]], core: dict[str, list[dict[str, Any]]]
) -> None:
    secret = one(team, "payments/externalsecret.yaml", "ExternalSecret")
    store = one(core, "external-secrets-config/clustersecretstore.yaml", "ClusterSecretStore")
    assert secret["apiVersion"] == "external-secrets.io/v1"
    assert secret["metadata"]["namespace"] == "payments"
    assert secret["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": store["metadata"]["name"]}
    assert store["metadata"]["name"] == "openbao"
    # The Secret it writes is the one the chart's pods read.
    values = one(team, "payments/helmrelease.yaml", "HelmRelease")["spec"]["values"]
    assert secret["spec"]["target"]["name"] == values["envFromSecret"]


def test_service_monitor_selects_the_service(team: dict[str, list[dict[str, Any]]]) -> None:
    monitor = one(team, "payments/servicemonitor.yaml", "ServiceMonitor")
    service = one(team, "payments/helmrelease.yaml", "HelmRelease")["spec"]["values"]["service"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector and selector.items() <= service["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["payments"]}
    port_names = {p["name"] for p in service["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= port_names


def test_prometheus_may_scrape_and_nothing_else_is_opened(team: dict[str, list[dict[str, Any]]]) -> None:
    policies = {p["metadata"]["name"]: p for p in team["payments/networkpolicy.yaml"]}
    assert set(policies) == {
        "default-deny",
        "allow-baseline",
        "allow-prometheus",
    }
    scrape = policies["allow-prometheus"]["spec"]
    values = one(team, "payments/helmrelease.yaml", "HelmRelease")["spec"]["values"]
    metrics = next(p["port"] for p in values["service"]["ports"] if p["name"] == "metrics")
    assert scrape["policyTypes"] == ["Ingress"]
    assert scrape["podSelector"]["matchLabels"].items() <= values["podLabels"].items()
    (rule,) = scrape["ingress"]
    assert rule["ports"] == [{"port": metrics, "protocol": "TCP"}]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
        }
    ]
