"""jsii's kernel in one Node process (``sre_constructs/_jsii_host.js``), and the way back to jsii's relay.

The host maps the kernel's protocol fd onto stdin/stdout and wraps anything else the kernel prints,
so the tests pin: the channel mapping and the wrapping (against a stub kernel), the processes a real
start leaves, the environment after it, the fall-back, and that both hosts write the same bytes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sre_constructs import _node

REPO = Path(__file__).resolve().parent.parent
HOST_JS = REPO / "sre_constructs" / "_jsii_host.js"

# A stand-in for jsii's program.js: prints every way a Node library can, then answers one request
# on fd 3 as the kernel does (fs.readSync / fs.writeSync on fd 3, SyncStdio-style).
STUB_KERNEL = r"""
const fs = require('fs');
console.log('console.log line');
console.error('console.error line');
process.stdout.write('stdout write\n');
process.stderr.write(Buffer.from('stderr write\n'));
fs.writeSync(2, 'fd 2 line\n');
fs.writeSync(1, Buffer.from('xxfd 1 partyy'), 2, 9);
const buffer = Buffer.alloc(1024);
const n = fs.readSync(3, buffer, 0, buffer.length, null);
const request = JSON.parse(buffer.subarray(0, n).toString());
fs.writeSync(3, Buffer.from(JSON.stringify({ ok: request.ping.toUpperCase() }) + '\n'), 0);
"""


def _node_binary() -> str:
    return os.environ.get("JSII_NODE") or shutil.which("node") or "node"


def test_host_puts_the_channel_on_stdio_and_wraps_all_other_output(tmp_path: Path) -> None:
    shutil.copy(HOST_JS, tmp_path / "host.js")
    (tmp_path / "program.js").write_text(STUB_KERNEL)
    result = subprocess.run(
        [_node_binary(), str(tmp_path / "host.js")],
        input=b'{"ping":"hello"}\n',
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # stdout carries the protocol and nothing else.
    assert result.stdout == b'{"ok":"HELLO"}\n'
    # Everything printed arrives on stderr, in order, in the relay's {"stdout"|"stderr": base64} form.
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    printed = [(stream, base64.b64decode(data)) for line in lines for stream, data in line.items()]
    assert printed == [
        ("stdout", b"console.log line\n"),
        ("stderr", b"console.error line\n"),
        ("stdout", b"stdout write\n"),
        ("stderr", b"stderr write\n"),
        ("stderr", b"fd 2 line\n"),
        ("stdout", b"fd 1 part"),
    ]


_PROBE = """
import json, os
import sre_constructs
import jsii
process = jsii._runtime.kernel.provider._process._process
tasks = f"/proc/{process.pid}/task"
pids = [p for t in os.listdir(tasks) for p in open(f"{tasks}/{t}/children").read().split()]
children = [open(f"/proc/{p}/cmdline", "rb").read().replace(b"\\0", b" ").decode().strip() for p in pids]
print(json.dumps({
    "args": process.args,
    "children": children,
    "env": {k: os.environ.get(k) for k in ("JSII_RUNTIME", "NODE_PRESERVE_SYMLINKS")},
    "kernel_scripts": [os.path.basename(sre_constructs._node._script(p)) for p in sre_constructs._node.kernel_pids],
}))
"""


def _probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k not in ("JSII_RUNTIME", _node.HOST_ENV, "NODE_PRESERVE_SYMLINKS")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**clean, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return report


def test_kernel_runs_in_one_node_process_and_leaves_the_environment_as_it_was() -> None:
    report = _probe()
    args = report["args"]
    assert isinstance(args, list) and Path(args[-1]).name == "host.js"
    assert report["children"] == []  # no relay: the kernel is this one process
    assert report["env"] == {"JSII_RUNTIME": None, "NODE_PRESERVE_SYMLINKS": None}
    assert not Path(args[-1]).parent.exists(), "the host's folder is removed at exit"


def test_relay_setting_keeps_jsii_own_entry_point() -> None:
    report = _probe(**{_node.HOST_ENV: "relay"})
    args = report["args"]
    assert isinstance(args, list) and Path(args[-1]).name == "jsii-runtime.js"
    children = report["children"]
    assert isinstance(children, list) and len(children) == 1 and children[0].endswith("program.js")


@pytest.mark.parametrize(
    ("runtime", "host", "wanted"),
    [(None, None, True), (None, "direct", True), (None, "relay", False), ("/opt/my-jsii-runtime.js", None, False)],
)
def test_direct_host_only_when_nobody_chose_otherwise(
    monkeypatch: pytest.MonkeyPatch, runtime: str | None, host: str | None, wanted: bool
) -> None:
    for key, value in (("JSII_RUNTIME", runtime), (_node.HOST_ENV, host)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert _node.direct_host_wanted() is wanted


def test_an_unknown_kernel_keeps_the_relay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_node, "_CHANNEL_MARKER", "a kernel that talks on some other fd")
    assert _node.install_direct_host() is None
    monkeypatch.undo()
    host = _node.install_direct_host()
    assert host is not None and host.name == "host.js"
    assert (host.parent / "program.js").is_file() and (host.parent / "runtime-index-worker.js").is_file()
    assert host.read_bytes() == HOST_JS.read_bytes()


def test_both_hosts_write_the_same_tree(tmp_path: Path) -> None:
    trees = {}
    for mode in ("direct", "relay"):
        out = tmp_path / mode
        clean = {k: v for k, v in os.environ.items() if k != "JSII_RUNTIME"}
        subprocess.run(
            [sys.executable, "-m", "sre_constructs", "synth", "--out", str(out)],
            env={**clean, "PYTHONPATH": str(REPO), _node.HOST_ENV: mode},
            capture_output=True,
            check=True,
            timeout=300,
        )
        trees[mode] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert trees["direct"] and trees["direct"] == trees["relay"]


# -- the calling thread and the kernel on one CPU while a platform is built --------------------

needs_pinning = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="this machine gives the tests one CPU: nothing to pin"
)


@needs_pinning
def test_build_runs_on_the_kernel_core_and_gives_the_cpus_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    assert _node.kernel_pids
    before = os.sched_getaffinity(0)
    seen: list[tuple[set[int], set[int]]] = []
    build = CorePlatform._build

    def spying(self: CorePlatform, *args: object, **kwargs: object) -> object:
        seen.append((os.sched_getaffinity(0), set().union(*map(os.sched_getaffinity, _node.kernel_pids))))
        return build(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CorePlatform, "_build", spying)
    CorePlatform(App(), "core")
    assert seen and all(len(mine) == 1 and mine == kernel for mine, kernel in seen)
    assert os.sched_getaffinity(0) == before
    # Bad input raises from inside the build: the CPUs come back all the same.
    with pytest.raises(ValueError, match="admission_replicas"):
        CorePlatform(App(), "bad", services={"kyverno": {"admission_replicas": -1}})
    assert os.sched_getaffinity(0) == before


@needs_pinning
def test_pinning_nests_and_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    before = os.sched_getaffinity(0)
    with _node.kernel_on_this_core():
        inner = os.sched_getaffinity(0)
        assert len(inner) == 1
        with _node.kernel_on_this_core():
            assert os.sched_getaffinity(0) == inner
        assert os.sched_getaffinity(0) == inner  # the inner block leaves the outer pin alone
    assert os.sched_getaffinity(0) == before
    monkeypatch.setenv(_node.SAME_CORE_ENV, "0")
    with _node.kernel_on_this_core():
        assert os.sched_getaffinity(0) == before


def test_kernel_processes_are_found_for_both_hosts() -> None:
    """This test process started the kernel in the direct host (conftest imports sre_constructs
    first); the probes show the relay case (two processes, both found)."""
    if _node.direct_host_wanted():
        assert len(_node.kernel_pids) == 1
        with open(f"/proc/{_node.kernel_pids[0]}/cmdline", "rb") as f:
            assert Path(f.read().split(b"\0")[-2].decode()).name == "host.js"
    for env, scripts in (({}, ["host.js"]), ({_node.HOST_ENV: "relay"}, ["jsii-runtime.js", "program.js"])):
        assert _probe(**env)["kernel_scripts"] == scripts


@needs_pinning
def test_a_forked_child_leaves_its_parents_kernel_alone() -> None:
    before = {pid: os.sched_getaffinity(pid) for pid in _node.kernel_pids}
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            with _node.kernel_on_this_core():
                mine = os.sched_getaffinity(0)
            os._exit(0 if len(mine) > 1 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child pinned itself"
    assert {pid: os.sched_getaffinity(pid) for pid in _node.kernel_pids} == before
