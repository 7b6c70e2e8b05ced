"""The sre-constructs command, run as a user runs it (python -m and the console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cdk8s import App

from sre_constructs import CHARTS, CorePlatform, diagram
from sre_constructs.cluster import load_cluster

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "sre-constructs"


def run(*args: str, cwd: Path | None = None, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "sre_constructs"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([*command, *args], cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("command", [[], ["synth"], ["validate"], ["graph"], ["versions"]])
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: sre-constructs" in result.stdout
    assert "exit codes:" in result.stdout and "2  usage error" in result.stdout


def test_usage_errors_exit_2() -> None:
    for args in ([], ["frobnicate"], ["synth", "--bogus"], ["graph", "--format", "png"], ["validate"]):
        result = run(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed (pip install -e .)")
def test_console_script() -> None:
    result = run("versions", "--json", script=True)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == len(CHARTS)


def test_versions_lists_every_pin() -> None:
    table = run("versions")
    assert table.returncode == 0
    lines = table.stdout.strip().splitlines()
    assert lines[0].split() == ["service", "chart", "version", "repository", "oci"]
    assert len(lines) == 1 + len(CHARTS) == 14
    rows = json.loads(run("versions", "--json").stdout)
    assert [(r["service"], r["chart"], r["version"], r["repository"]) for r in rows] == [
        (p.service, p.chart, p.version, p.repository.url) for p in CHARTS.values()
    ]
    for pin in CHARTS.values():
        assert any(pin.chart in line and pin.version in line and pin.repository.url in line for line in lines)


def test_synth_fleet_check_and_validate(tmp_path: Path, kubectl: str) -> None:
    out = tmp_path / "out"
    files = [str(REPO / "clusters/lab.yaml"), str(REPO / "clusters/production.yaml")]
    result = run("synth", *files, "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("synth lab: ") and lines[0].endswith(f"files -> {out}/clusters/lab")
    count = int(lines[0].split()[2])
    assert count == sum(1 for p in (out / "clusters/lab").rglob("*") if p.is_file())
    assert (out / "clusters/lab/core/kustomization.yaml").is_file()
    assert (out / "clusters/production/flux/platform-sync/components/core.yaml").is_file()

    assert run("synth", *files, "--out", str(out), "--check").returncode == 0
    (out / "clusters/lab/core/istio/namespace.yaml").write_text("stale: true\n")
    (out / "clusters/production/flux/platform-sync/kustomization.yaml").unlink()
    stale = run("synth", *files, "--out", str(out), "--check")
    assert stale.returncode == 1
    assert "~ istio/namespace.yaml" in stale.stderr and "+ kustomization.yaml" in stale.stderr
    assert "2 stale tree(s)" in stale.stderr and "Traceback" not in stale.stderr
    assert (out / "clusters/lab/core/istio/namespace.yaml").read_text() == "stale: true\n"  # --check writes nothing

    bad = run("validate", str(out))
    assert bad.returncode == 1 and "error(s)" in bad.stdout
    assert run("synth", *files, "--out", str(out)).returncode == 0
    good = run("validate", str(out))
    assert good.returncode == 0, good.stderr
    assert good.stdout.count(": ok") == 4


def test_validate_uses_the_bundled_schemas(tmp_path: Path, kubectl: str) -> None:
    """No CRD folder anywhere: the schemas in the package still catch an unknown ClusterIssuer field."""
    assert run("synth", "--out", str(tmp_path)).returncode == 0
    # The variable only feeds `make schemas`; pointing it nowhere must not matter to validate.
    env = {**os.environ, "PYTHONPATH": str(REPO), "SRE_CONSTRUCTS_CRDS": str(tmp_path / "no-such-dir")}

    def validate() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sre_constructs", "validate", str(tmp_path)]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    good = validate()
    assert good.returncode == 0, good.stderr
    assert good.stdout == f"validate {tmp_path / 'core'}: ok\n" and good.stderr == ""

    issuer = tmp_path / "core" / "cert-manager-config" / "clusterissuer.yaml"
    text = issuer.read_text(encoding="utf-8")
    assert "\nspec:\n" in text
    issuer.write_text(text.replace("\nspec:\n", "\nspec:\n  acmee: {}\n", 1), encoding="utf-8")
    bad = validate()
    assert bad.returncode == 1
    assert "cert-manager-config/clusterissuer.yaml: [schema] ClusterIssuer " in bad.stderr
    assert "'acmee' was unexpected" in bad.stderr
    assert bad.stdout == f"validate {tmp_path / 'core'}: 1 error(s)\n"


@pytest.mark.parametrize("cluster", ["lab", "production"])
def test_validate_finds_the_repository_root(tmp_path: Path, cluster: str, kubectl: str) -> None:
    """`synth clusters/*.yaml --out .` at a repository root, then `validate clusters/<name>` from any folder."""
    repo = tmp_path / "repo"
    repo.mkdir()
    files = [str(REPO / "clusters/lab.yaml"), str(REPO / "clusters/production.yaml")]
    assert run("synth", *files, "--out", ".", cwd=repo).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for cwd, folder in ((repo, f"clusters/{cluster}"), (elsewhere, f"../repo/clusters/{cluster}")):
        result = run("validate", folder, cwd=cwd)
        assert result.returncode == 0, (cwd, result.stderr)
        assert result.stdout.splitlines() == [
            f"validate {folder}/core: ok",
            f"validate {folder}/flux/platform-sync: ok",
        ]


def test_default_synth_equals_app_py(tmp_path: Path) -> None:
    result = run("synth", "--out", str(tmp_path / "cli"))
    assert result.returncode == 0 and result.stdout.startswith("synth default: ")
    env = {**os.environ, "CDK8S_OUTDIR": str(tmp_path / "app")}
    subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, check=True, capture_output=True)
    cli = {p.relative_to(tmp_path / "cli"): p.read_bytes() for p in (tmp_path / "cli").rglob("*") if p.is_file()}
    app = {p.relative_to(tmp_path / "app"): p.read_bytes() for p in (tmp_path / "app").rglob("*") if p.is_file()}
    assert cli == app and cli


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: lab\ngit:\n  url: ssh://x/y\n  brnch: main\n", ":4: invalid git.brnch"),
        (
            "name: lab\ngit:\n  url: ssh://x/y\nservices:\n  monitoring:\n    retention: forever\n",
            ":6: invalid services.monitoring.retention 'forever'",
        ),
        ("name: lab\n  git: [\n", ":2: invalid YAML"),
    ],
)
def test_bad_cluster_file(tmp_path: Path, text: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    for command in (["synth", str(bad), "--out", str(tmp_path / "out")], ["graph", str(bad)]):
        result = run(*command)
        assert result.returncode == 1, result.stderr
        assert f"{bad}{expected}" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_cluster_file(tmp_path: Path) -> None:
    result = run("synth", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1 and "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_graph_equals_diagram() -> None:
    assert run("graph").stdout == diagram.mermaid(CorePlatform(App(), "core"))
    lab = REPO / "clusters/lab.yaml"
    assert run("graph", str(lab)).stdout == diagram.mermaid(load_cluster(lab).platform(App()))
    assert run("graph", str(lab), "--format", "dot").stdout == diagram.dot(load_cluster(lab).platform(App()))


def test_every_pin_is_one_line_under_its_renovate_comment() -> None:
    """The Renovate regex manager of docs/upgrading-charts.md finds every pin (and its current version)."""
    import json
    import re

    from sre_constructs.versions import CHARTS

    page = (REPO / "docs" / "upgrading-charts.md").read_text(encoding="utf-8")
    (config,) = re.findall(r"^```json\n(.*?)^```$", page, re.MULTILINE | re.DOTALL)
    (manager,) = json.loads(config)["customManagers"]
    (file_pattern,) = manager["managerFilePatterns"]
    assert re.search(file_pattern.strip("/"), "sre_constructs/versions.py")
    (match_string,) = manager["matchStrings"]
    pattern = re.compile(match_string.replace("(?<", "(?P<"))  # Renovate's (JavaScript's) named groups
    text = (REPO / "sre_constructs" / "versions.py").read_text()
    found = {(m["depName"], m["currentValue"], m["registryUrl"]) for m in pattern.finditer(text)}
    assert found == {(p.chart, p.version, p.repository.url) for p in CHARTS.values()}


def test_validate_with_a_known_tree_accepts_cross_tree_depends_on(tmp_path: Path) -> None:
    """A team tree that waits for the platform validates once the platform tree is named with --with."""
    out = tmp_path / "out"
    run_example = subprocess.run(
        [sys.executable, str(REPO / "examples" / "team_app.py"), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run_example.returncode == 0, run_example.stderr
    team = out / "apps" / "payments"
    alone = subprocess.run(
        [sys.executable, "-m", "sre_constructs", "validate", str(team), "--no-kustomize"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert alone.returncode == 1 and "flux-system/monitoring" in alone.stderr
    known = subprocess.run(
        [sys.executable, "-m", "sre_constructs", "validate", str(team), "--no-kustomize", "--with", str(out / "core")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert known.returncode == 0, known.stderr
