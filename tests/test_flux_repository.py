"""Any Flux repository, not only ours: a repository shaped like Flux's own examples validates and
plans as coming up, on a cluster where Flux runs (its optional controllers only when named)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre_constructs.cli import main
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.kernel.tree_check.roots import find_tree_roots
from sre_constructs.plan import plan_tree
from tests._flux_repository import write_flux_repository


@pytest.fixture
def cluster(tmp_path: Path) -> Path:
    return write_flux_repository(tmp_path / "fleet")


def test_flux_repository_validates(cluster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repository = cluster.parent.parent
    assert find_tree_roots(repository) == [cluster]
    findings = check_tree(cluster, kustomize=False)
    assert [str(f) for f in findings if f.is_error] == []
    # The library's layout conventions are not a Flux user's: no notes about them.
    assert [str(f) for f in findings if f.check == "listing"] == []
    assert main(["validate", str(repository), "--no-kustomize"]) == 0
    assert f"validate {cluster}: ok" in capsys.readouterr().out


def test_flux_repository_comes_up_with_the_artifact_generator(cluster: Path) -> None:
    plan = plan_tree(cluster, flux_crds=["artifactgenerator"])
    assert plan.ok, [str(b) for b in plan.blockers]
    assert all(step.ready for step in plan.steps), [(s.name, s.failure, s.unknown) for s in plan.steps]
    names = [step.name for step in plan.steps]
    assert names == [
        "<clusters/staging>",
        "flux-system/infra-controllers",
        "flux-system/infra-configs",
        "flux-system/apps",
    ]
    # The apps Kustomization reads ./staging inside the ExternalArtifact: apps/** of the repository.
    apps = plan.steps[-1]
    assert sorted(apps.applies["rest"]) == ["HelmRelease podinfo/podinfo", "HelmRepository podinfo/podinfo"]
    assert apps.applies["definitions"] == ["Namespace podinfo"]
    assert apps.waits_for == ["flux-system/infra-configs"]


def test_without_the_generator_crd_the_plan_names_it(cluster: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_tree(cluster)
    assert not plan.ok
    (blocker,) = plan.blockers
    assert blocker.obj == "ArtifactGenerator flux-system/apps"
    assert "the CRD of source.extensions.fluxcd.io/ArtifactGenerator" in blocker.need
    assert "--flux-crds artifactgenerator" in blocker.provider
    assert main(["plan", "--tree", str(cluster)]) == 1
    assert main(["plan", "--tree", str(cluster), "--flux-crds", "artifactgenerator"]) == 0
    capsys.readouterr()
    # Given the repository, the plan finds its cluster folder.
    assert main(["plan", "--tree", str(cluster.parent.parent), "--flux-crds", "artifactgenerator"]) == 0
    assert capsys.readouterr().out.startswith(f"plan for {cluster}: comes up")


def test_an_artifact_nothing_generates_is_a_blocker(tmp_path: Path) -> None:
    cluster = write_flux_repository(tmp_path / "fleet", apps_source="apps-stagin")
    plan = plan_tree(cluster, flux_crds=["artifactgenerator"])
    assert [(b.unit, b.need) for b in plan.blockers] == [
        ("flux-system/apps", "ExternalArtifact flux-system/apps-stagin Ready (spec.sourceRef)")
    ]
    assert "did you mean ExternalArtifact flux-system/apps-staging?" in plan.blockers[0].provider
    apps = next(step for step in plan.steps if step.name == "flux-system/apps")
    assert not apps.ready and apps.unknown


def test_artifact_copies_follow_source_watchers_cp_rules() -> None:
    from sre_constructs.plan.artifacts import artifact_files
    from sre_constructs.plan.source import Files, Obj

    repo = Files(files={"configs/a.yaml": b"a", "configs/sub/b.yaml": b"b", "configs/README.md": b"r", "c.yaml": b"c"})

    def generated(*copies: dict[str, object]) -> list[str]:
        generator = Obj(
            {
                "apiVersion": "source.extensions.fluxcd.io/v1beta1",
                "kind": "ArtifactGenerator",
                "metadata": {"name": "g", "namespace": "flux-system"},
                "spec": {"sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}]},
            },
            "g.yaml",
        )
        files, why = artifact_files(repo, generator, {"name": "x", "copy": list(copies)}, {"flux-system/flux-system"})
        assert files is not None, why
        return files.walk(".")

    # dir/** strips the prefix; dir/ copies the folder as a subfolder; exclude without '/' is a file name.
    assert generated({"from": "@repo/configs/**", "to": "@artifact/apps/", "exclude": ["*.md"]}) == [
        "apps/a.yaml",
        "apps/sub/b.yaml",
    ]
    assert generated({"from": "@repo/configs/", "to": "@artifact/apps/"}) == [
        "apps/configs/README.md",
        "apps/configs/a.yaml",
        "apps/configs/sub/b.yaml",
    ]
    assert generated({"from": "@repo/configs/*.yaml", "to": "@artifact/"}) == ["a.yaml"]
    assert generated({"from": "@repo/c.yaml", "to": "@artifact/x/"}) == ["x/c.yaml"]
    assert generated({"from": "@repo/c.yaml", "to": "@artifact/x/y.yaml"}) == ["x/y.yaml"]
