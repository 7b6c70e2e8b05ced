"""One writer per outdir: concurrent synths wait for each other and never remove each other's staging."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

# isort: off
# sre_constructs first: it starts jsii's kernel (its Node, one process) before cdk8s would.
from sre_constructs import CorePlatform, ValidationError, render_tree, write_tree
from cdk8s import App

# isort: on
from sre_constructs.kernel.outdir_lock import LOCK_NAME, OutdirBusyError, outdir_lock
from sre_constructs.kernel.tree_check import check_tree

from .conftest import REPO

# A writer of the default tree (``plain``) or of a variant (``variant``), told when it is ready.
_WRITER = r"""
import sys
import sre_constructs
from cdk8s import App
from sre_constructs import CorePlatform, write_tree

out, kind, ready = sys.argv[1], sys.argv[2], sys.argv[3]
app = App()
services = {"openbao": {"replicas": 5}, "backup": {"enabled": False}} if kind == "variant" else {}
CorePlatform(app, "core", services=services)
open(ready, "w").close()
write_tree(app, out, lock_timeout=120)
"""


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _render(kind: str) -> dict[str, bytes]:
    app = App()
    services = {"openbao": {"replicas": 5}, "backup": {"enabled": False}} if kind == "variant" else {}
    CorePlatform(app, "core", services=services)
    return render_tree(app.node.find_child("core"))  # type: ignore[arg-type]


def _start(out: Path, kind: str, ready: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out), kind, str(ready)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the writer never got ready"
        time.sleep(0.05)


def test_two_concurrent_writers_both_succeed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    writers = [_start(out, kind, tmp_path / f"ready-{kind}") for kind in ("plain", "variant")]
    results = [proc.communicate(timeout=300) for proc in writers]
    assert [proc.returncode for proc in writers] == [0, 0], results
    # The tree is one writer's, whole; nothing of the other's staging or of the lock remains.
    assert _snapshot(out / "core") in (_render("plain"), _render("variant"))
    assert sorted(p.name for p in out.iterdir()) == ["core"]
    assert check_tree(out / "core", kustomize=False) == []  # the bundled schemas


def test_a_writer_waits_for_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with outdir_lock(out, 1):
        # A live writer's staging, as it would be mid-write.
        live = out / ".core.new-live"
        (live / "x").mkdir(parents=True)
        proc = _start(out, "plain", tmp_path / "ready")
        _wait_for(tmp_path / "ready", proc)
        time.sleep(2)  # plenty for the write, were it not waiting
        assert proc.poll() is None, proc.communicate()
        assert live.is_dir(), "a waiting writer removed a live writer's staging"
        assert not (out / "core").exists()
        assert (out / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    # Released with our staging left behind: to the next writer it is a killed writer's leftover.
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert _snapshot(out / "core") == _render("plain")
    assert sorted(p.name for p in out.iterdir()) == ["core"]


def test_busy_outdir_fails_clearly_after_the_wait(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    app = App()
    CorePlatform(app, "core")
    live = out / ".core.new-live"
    live.mkdir()
    with outdir_lock(out, 1):
        start = time.monotonic()
        with pytest.raises(OutdirBusyError) as info:
            write_tree(app, out, lock_timeout=0.3)
        assert 0.3 <= time.monotonic() - start < 10
    assert info.value.holder == os.getpid()
    assert info.value.lock_file == out / LOCK_NAME
    assert str(out / LOCK_NAME) in str(info.value) and f"process {os.getpid()}" in str(info.value)
    assert live.is_dir() and not (out / "core").exists()


def test_the_lock_is_reentrant_across_writes_and_leaves_no_file(tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path)
    write_tree(app, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core"]


def test_a_killed_holders_lock_file_is_reused(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("999999\n")  # what a SIGKILLed writer leaves: no lock, a file
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path, lock_timeout=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core"]


@pytest.mark.parametrize("bad", [-1, "5", True, float("nan"), float("inf"), None])
def test_lock_timeout_wrong(tmp_path: Path, bad: object) -> None:
    app = App()
    CorePlatform(app, "core")
    with pytest.raises(ValidationError) as info:
        write_tree(app, tmp_path, lock_timeout=bad)  # type: ignore[arg-type]
    assert info.value.field == "lock_timeout"
