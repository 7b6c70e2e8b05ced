"""Fleets: many clusters in one App and one write_tree, each with its Flux entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdk8s import App

from sre_constructs import ValidationError, write_tree
from sre_constructs.cluster import parse_cluster
from sre_constructs.fleet import FluxSync, build_fleet
from sre_constructs.kernel.tree_check import check_tree

from .conftest import load_docs


def _spec(name: str, extra: str = "") -> object:
    return parse_cluster(
        f"name: {name}\ngit:\n  url: https://git.example.com/fleet.git\n  branch: live\n{extra}", f"{name}.yaml"
    )


def test_one_app_many_clusters(tmp_path: Path, kubectl: str) -> None:
    app = App()
    clusters = build_fleet(app, [_spec("a"), _spec("b", "source_ref: fleet\n")])
    write_tree(app, tmp_path)
    assert sorted(p.name for p in (tmp_path / "clusters").iterdir()) == ["a", "b"]
    for cluster in clusters:
        assert cluster.tree_paths == [
            f"clusters/{cluster.spec.name}/core",
            f"clusters/{cluster.spec.name}/flux/platform-sync",
        ]
        for tree in cluster.tree_paths:
            assert check_tree(tmp_path / tree, repo_root=tmp_path) == [], tree


def test_sync_tree_content(tmp_path: Path) -> None:
    app = App()
    build_fleet(app, [_spec("b", "source_ref: fleet\n")])
    write_tree(app, tmp_path)
    sync = tmp_path / "clusters/b/flux/platform-sync"
    assert sorted(p.relative_to(sync).as_posix() for p in sync.rglob("*.yaml")) == [
        "components/core.yaml",
        "kustomization.yaml",
        "sources/gitrepositories.yaml",
    ]
    (repo,) = load_docs(sync / "sources/gitrepositories.yaml")
    assert repo["apiVersion"] == "source.toolkit.fluxcd.io/v1" and repo["kind"] == "GitRepository"
    assert repo["metadata"] == {"name": "fleet", "namespace": "flux-system"}
    assert repo["spec"]["url"] == "https://git.example.com/fleet.git" and repo["spec"]["ref"] == {"branch": "live"}
    (root,) = load_docs(sync / "components/core.yaml")
    assert root["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" and root["metadata"]["name"] == "core"
    assert root["spec"]["path"] == "./clusters/b/core" and root["spec"]["prune"] is True
    assert root["spec"]["sourceRef"] == {"kind": "GitRepository", "name": "fleet", "namespace": "flux-system"}
    # The core tree's component Kustomizations read from the same source.
    comp = load_docs(tmp_path / "clusters/b/core/components/istio.yaml")[0]
    assert comp["spec"]["sourceRef"]["name"] == "fleet" and comp["spec"]["path"] == "./clusters/b/core/istio"
    (kust,) = load_docs(sync / "kustomization.yaml")
    assert kust["resources"] == ["sources/gitrepositories.yaml", "components/core.yaml"]


def test_bootstrap_source_is_not_emitted(tmp_path: Path) -> None:
    """flux-system is the GitRepository `flux bootstrap` writes: a second one would break its build."""
    app = App()
    build_fleet(app, [_spec("a")])
    write_tree(app, tmp_path)
    sync = tmp_path / "clusters/a/flux/platform-sync"
    assert not (sync / "sources").exists()
    assert load_docs(sync / "kustomization.yaml")[0]["resources"] == ["components/core.yaml"]
    assert load_docs(sync / "components/core.yaml")[0]["spec"]["sourceRef"]["name"] == "flux-system"


def test_bootstrap_files_beside_the_sync_tree_survive(tmp_path: Path) -> None:
    """`flux bootstrap --path=clusters/<name>/flux` writes flux-system/ beside ours; a synth keeps it."""
    gotk = tmp_path / "clusters/a/flux/flux-system/gotk-sync.yaml"
    gotk.parent.mkdir(parents=True)
    gotk.write_text("kind: GitRepository\n")
    for _ in range(2):
        app = App()
        build_fleet(app, [_spec("a")])
        write_tree(app, tmp_path)
    assert gotk.read_text() == "kind: GitRepository\n"


def test_duplicate_cluster_names() -> None:
    with pytest.raises(ValidationError) as caught:
        build_fleet(App(), [_spec("a"), _spec("a")])
    assert caught.value.field == "name" and caught.value.where == "a.yaml:1"


def test_flux_sync_needs_a_url_for_its_own_source() -> None:
    with pytest.raises(ValidationError):
        FluxSync(App(), "s", path="x/sync", target_path="x/core", source_ref="fleet")
