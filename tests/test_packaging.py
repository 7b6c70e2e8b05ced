"""The wheel: one top-level package, and it works in a team's cdk8s project with its own ``imports/flux``.

About a minute (builds the wheel, installs it with its dependencies into a fresh venv, runs
``cdk8s import`` for the team) and needs the package registry: ``pytest -m packaging`` runs these
alone, ``-m "not packaging"`` leaves them out.

The team's ``cdk8s import flux:=...`` yields jsii assemblies ``flux_iofluxcdtoolkit*``. Ours are
``sre_constructs_flux_*``: with the same names, jsii's kernel would keep whichever loaded first and
the other side's objects would silently use its classes (here: the team's HelmRelease v2beta1).
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_node_choice import PTH_NAME, _end_of_life_node

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / "node_modules" / ".bin" / "cdk8s"

# A HelmRelease CRD of another Flux version than ours (v2beta1, one field), as a team might import.
TEAM_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: helmreleases.helm.toolkit.fluxcd.io
spec:
  group: helm.toolkit.fluxcd.io
  names: {kind: HelmRelease, listKind: HelmReleaseList, plural: helmreleases, singular: helmrelease}
  scope: Namespaced
  versions:
    - name: v2beta1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                releaseName: {type: string}
"""

# cdk8s first, then the team's bindings, then ours: ruff's isort order for a team project.
TEAM_APP = """\
from cdk8s import App, Chart

from imports.flux.io.fluxcd.toolkit import helm as team_helm
from sre_constructs import CertManager

app = App()
chart = Chart(app, "team")
team_helm.HelmRelease(
    chart, "payments", metadata={"name": "payments"}, spec=team_helm.HelmReleaseSpec(release_name="payments")
)
CertManager(chart, "cert-manager", acme_email="sre@example.com")
app.synth()
"""


def _clean_env(path: list[Path]) -> dict[str, str]:
    """This environment without the checkout on PYTHONPATH or any JSII_ setting, ``path`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("JSII_")}
    env["PATH"] = os.pathsep.join([*map(str, path), env.get("PATH", "")])
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy of what the build reads: setuptools writes build/ and *.egg-info beside its input.
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO / "sre_constructs", src / "sre_constructs", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _run([*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(src)], src, dict(os.environ))
    (built,) = out.glob("sre_constructs-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv of this Python with the wheel and its runtime dependencies (no extras)."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], root, dict(os.environ))
    # This interpreter's pip installs into it (--python); without byte-compiling everything up front.
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(root / "bin" / "python")]
    constraints = str(REPO / "constraints.txt")
    _run([*pip, "install", "--quiet", "--no-compile", "-c", constraints, str(wheel)], root, _clean_env([]))
    return root


def test_wheel_installs_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/RECORD"))
        top_level = whl.read(f"{info}/top_level.txt").decode().split()
        metadata = email.parser.Parser().parsestr(whl.read(f"{info}/METADATA").decode())
        pth = whl.read(PTH_NAME).decode()
    assert top_level == ["sre_constructs"]
    # The .pth only sets JSII_NODE at start-up (see setup.py): a file, not an importable name.
    assert {n.split("/")[0] for n in names} == {"sre_constructs", info, PTH_NAME}
    assert pth.count("\n") == 1 and "JSII_NODE" in pth and "import sre_constructs" not in pth
    requires = metadata.get_all("Requires-Dist") or []
    plus = [r for r in requires if r.startswith("cdk8s-plus-28")]
    assert plus and all("extra ==" in r for r in plus), requires


def _helm_releases(folder: Path) -> dict[str, dict[str, Any]]:
    (manifest,) = folder.glob("*.k8s.yaml")
    docs = [d for d in yaml.safe_load_all(manifest.read_text()) if d]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "HelmRelease"}


def test_team_project_with_its_own_flux_bindings(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    team = tmp_path / "team"
    team.mkdir()
    (team / "cdk8s.yaml").write_text("language: python\napp: python app.py\n")
    (team / "app.py").write_text(TEAM_APP)
    (team / "flux-crd.yaml").write_text(TEAM_CRD)
    node_bin = tmp_path / "node-bin"  # the bundled node, npm and npx, as make deps links them
    node_bin.mkdir()
    _run([sys.executable, str(REPO / "tools" / "link_node.py"), str(node_bin)], REPO, dict(os.environ))
    cli_env = _clean_env([venv / "bin", node_bin])
    _run(
        [str(CLI), "import", "flux:=flux-crd.yaml", "--language", "python", "--no-save", "--no-check-upgrade"],
        team,
        cli_env,
    )
    (team / "imports" / "__init__.py").write_text("")  # a regular package, as some teams make it

    probe = "import importlib.util as u, sre_constructs; print(sre_constructs.__file__, u.find_spec('cdk8s_plus_28'))"
    where, plus = _run([python, "-c", probe], team, cli_env).split()
    assert Path(where).is_relative_to(venv) and plus == "None"

    (tmp_path / "eol-node").mkdir()
    eol_env = _clean_env([_end_of_life_node(tmp_path / "eol-node"), venv / "bin"])
    output = _run([python, "app.py"], team, {**eol_env, "CDK8S_OUTDIR": str(tmp_path / "python")})
    assert "end-of-life" not in output.lower(), output
    _run([str(CLI), "synth", "--no-check-upgrade", "--output", str(tmp_path / "cli")], team, cli_env)

    releases = _helm_releases(tmp_path / "python")
    assert releases["payments"]["apiVersion"] == "helm.toolkit.fluxcd.io/v2beta1"
    assert releases["payments"]["spec"] == {"releaseName": "payments"}
    ours = [r for name, r in releases.items() if name != "payments"]
    assert ours and all(r["apiVersion"] == "helm.toolkit.fluxcd.io/v2" and "chart" in r["spec"] for r in ours)
    python_files = {p.name: p.read_bytes() for p in (tmp_path / "python").iterdir()}
    assert python_files == {p.name: p.read_bytes() for p in (tmp_path / "cli").iterdir()}
