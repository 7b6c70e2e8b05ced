"""`sre-constructs diff --base REF` on the library's own trees, in a git repository made by the
test: synthesize a cluster, commit, change a knob, and diff against HEAD."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sre_constructs.cli import main
from sre_constructs.diff import diff_clusters, diff_trees

REPO = Path(__file__).resolve().parent.parent


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding clusters/lab.yaml and its trees (synth --out <repo>), committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed (Debian package: git)")
    root = tmp_path_factory.mktemp("fleet")
    git(root, "init", "-q")
    (root / "clusters").mkdir()
    shutil.copy(REPO / "clusters" / "lab.yaml", root / "clusters" / "lab.yaml")
    assert main(["synth", str(root / "clusters" / "lab.yaml"), "--out", str(root)]) == 0
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "lab")
    return root


def edited(repo: Path, tmp_path: Path, old: str, new: str) -> Path:
    """The repository's cluster file with one knob changed (working copy, not committed)."""
    text = (repo / "clusters" / "lab.yaml").read_text()
    assert old in text
    changed = tmp_path / "lab.yaml"
    changed.write_text(text.replace(old, new, 1))
    return changed


def test_no_change_against_head(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diff", str(repo / "clusters" / "lab.yaml"), "--base", "HEAD", "--out", str(repo)])
    out = capsys.readouterr().out
    assert code == 0 and "cluster lab" in out and "no changes" in out


def test_knob_moves_exactly_one_helm_release_value(repo: Path, tmp_path: Path) -> None:
    cluster = edited(repo, tmp_path, "retention: 3d", "retention: 5d")
    (result,) = diff_clusters([cluster], base="HEAD", out=repo)
    (change,) = result.changes
    assert (change.action, change.label, change.kustomization) == (
        "changed",
        "HelmRelease monitoring/kube-prometheus-stack",
        "flux-system/monitoring",
    )
    assert [(f.path, f.old, f.new) for f in change.fields] == [
        ("spec.values.prometheus.prometheusSpec.retention", "3d", "5d")
    ]
    assert result.level == "change" and result.plan == [] and not result.fails("blocking")


def test_disabled_service_prunes_its_namespace(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = edited(repo, tmp_path, "  runtime-security:\n", "  runtime-security:\n    enabled: false\n")
    code = main(["diff", str(cluster), "--base", "HEAD", "--out", str(repo), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["level"] == "data-loss"
    removed = {
        c["object"]: c
        for k in data["kustomizations"]
        for c in k["changes"]
        if c["action"] == "removed" and k["name"] == "flux-system/runtime-security"
    }
    assert removed["Namespace neuvector"]["level"] == "data-loss"
    assert "HelmRelease neuvector/neuvector" in removed
    # The Python entry point returns the same diff as data.
    (result,) = diff_clusters([cluster], base="HEAD", out=repo)
    assert json.loads(json.dumps(result.to_dict(), default=str)) == data and result.fails("data-loss")
    # Control: --fail-on none reports the same and exits 0.
    assert main(["diff", str(cluster), "--base", "HEAD", "--out", str(repo), "--fail-on", "none"]) == 0


def test_default_platform_against_its_committed_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(tmp_path, "init", "-q")
    dist = tmp_path / "dist"
    assert main(["synth", "--out", str(dist)]) == 0
    capsys.readouterr()
    assert main(["diff", "--base", "HEAD", "--out", str(dist)]) == 2  # no commit yet: a usage error
    assert "a commit of the git repository" in capsys.readouterr().err
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "default")
    assert main(["diff", "--base", "HEAD", "--out", str(dist)]) == 0
    assert "no changes" in capsys.readouterr().out
    # Control: a committed tree with a stricter monitoring Namespace than the code writes: going
    # back to the code's level lowers Pod Security.
    namespace_file = dist / "core" / "monitoring" / "namespace.yaml"
    text = namespace_file.read_text()
    assert "pod-security.kubernetes.io/enforce: privileged" in text
    namespace_file.write_text(text.replace("enforce: privileged", "enforce: restricted"))
    git(tmp_path, "commit", "-q", "-am", "hand edit")
    code = main(["diff", "--base", "HEAD", "--out", str(dist), "--fail-on", "security"])
    out = capsys.readouterr().out
    assert code == 1 and "Pod Security enforce level lowered: restricted -> privileged" in out


def test_new_manual_step_is_upgrade(tmp_path: Path) -> None:
    """Turning backup on adds its objects and the plan's manual step (Velero's credentials into OpenBao)."""
    text = (REPO / "clusters" / "lab.yaml").read_text()
    without = text.replace("  backup:\n", "  backup:\n    enabled: false\n", 1)
    trees = {}
    for name, body in (("without", without), ("with", text)):
        (tmp_path / f"{name}.yaml").write_text(body)
        assert main(["synth", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / name)]) == 0
        trees[name] = tmp_path / name / "clusters" / "lab" / "flux" / "platform-sync"
    result = diff_trees(trees["without"], trees["with"])
    steps = [p for p in result.plan if p.what == "new manual step"]
    assert [p.level for p in steps] == ["upgrade"] and "platform/velero" in steps[0].reason
    added = {c.label for c in result.changes if c.action == "added"}
    assert {"Namespace velero", "HelmRelease velero/velero"} <= added, added
    # Control: the other way round, the step goes away and is no plan change.
    assert diff_trees(trees["with"], trees["without"]).plan == []


def test_docs_example_is_real_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/pipelines.md shows the output of its example run; this run keeps it current."""
    git(tmp_path, "init", "-q")
    cluster = tmp_path / "clusters" / "production.yaml"
    cluster.parent.mkdir()
    shutil.copy(REPO / "clusters" / "production.yaml", cluster)
    assert main(["synth", str(cluster), "--out", str(tmp_path)]) == 0
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "production")
    text = cluster.read_text()
    text = text.replace("    gateway: true\n", "    gateway: true\n    mtls_mode: PERMISSIVE\n", 1)
    cluster.write_text(text.replace("    retention: 30d\n", "    retention: 45d\n", 1))
    capsys.readouterr()
    assert main(["diff", str(cluster), "--base", "HEAD", "--out", str(tmp_path)]) == 0
    plain = capsys.readouterr().out
    assert (
        main(
            [
                "diff",
                str(cluster),
                "--base",
                "HEAD",
                "--out",
                str(tmp_path),
                "--format",
                "markdown",
                "--fail-on",
                "security",
            ]
        )
        == 1
    )
    markdown = capsys.readouterr().out
    page = (REPO / "docs" / "pipelines.md").read_text()
    shown = page.split("$ sre-constructs diff clusters/production.yaml --base HEAD --out .\n", 1)[1]
    assert shown.split("$ echo $?\n", 1)[0] == plain
    assert page.split("as the pull request shows it:\n\n", 1)[1] == markdown
