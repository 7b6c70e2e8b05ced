"""Count jsii round-trips (Python -> Node requests and Node -> Python callbacks) of one case.

    .venv/bin/python bench/rpc_count.py [b|c1|c10|c50] [TOP]

Wraps the jsii runtime's ``_NodeProcess.send`` (one request/response pair on the kernel's pipe)
and prints, per phase (import, build, write_tree), the number of requests by API and FQN/method,
and the wall time spent waiting in them; TOP (default 12) is how many rows of each list to show.
Diagnostic only: it patches jsii internals.
"""

from __future__ import annotations

import collections
import sys
import tempfile
import time

from jsii._kernel.providers import process as _process

counts: collections.Counter[tuple[str, str]] = collections.Counter()
callers: collections.Counter[str] = collections.Counter()
seconds: collections.Counter[str] = collections.Counter()
_send = _process._NodeProcess.send


def _label(req: object) -> tuple[str, str]:
    name = type(req).__name__.removesuffix("Request")
    detail = getattr(req, "fqn", None) or getattr(req, "method", None) or getattr(req, "property", None) or ""
    if name == "Complete":
        detail = "callback result"
    return name, str(detail)


def _caller() -> str:
    """The innermost sre_constructs frame that caused this request."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if "sre_constructs" in name:
            short = name[name.index("sre_constructs") :]
            return f"{short}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "(outside sre_constructs)"


def send(self, request, response_type):  # type: ignore[no-untyped-def]
    counts[_label(request)] += 1
    callers[f"{type(request).__name__.removesuffix('Request')} <- {_caller()}"] += 1
    t0 = time.perf_counter()
    try:
        return _send(self, request, response_type)
    finally:
        seconds[type(request).__name__] += time.perf_counter() - t0


_process._NodeProcess.send = send  # type: ignore[method-assign]


def report(phase: str, elapsed: float, top: int = 12) -> None:
    total = sum(counts.values())
    print(f"== {phase}: {elapsed:.3f} s, {total} jsii requests, {sum(seconds.values()):.3f} s inside them")
    by_api: collections.Counter[str] = collections.Counter()
    for (api, _), n in counts.items():
        by_api[api] += n
    for api, n in by_api.most_common():
        print(f"   {api:<14} {n:6d}  {seconds[api + 'Request']:.3f} s")
    print("   top requests:")
    for (api, detail), n in counts.most_common(top):
        print(f"      {n:6d}  {api} {detail}")
    for where, n in callers.most_common(top):
        print(f"      {n:6d}  {where}")
    counts.clear()
    seconds.clear()
    callers.clear()


def main() -> None:
    case = sys.argv[1] if len(sys.argv) > 1 else "b"
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    t0 = time.perf_counter()
    from cdk8s import App

    import sre_constructs

    report("import cdk8s, sre_constructs", time.perf_counter() - t0)
    t0 = time.perf_counter()
    app = App()
    if case == "b":
        sre_constructs.CorePlatform(app, "core")
    else:
        for i in range(int(case[1:])):
            sre_constructs.CorePlatform(app, f"c{i}", path=f"clusters/c{i}/core")
    report("build", time.perf_counter() - t0, top)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        sre_constructs.write_tree(app, out)
        report("write_tree", time.perf_counter() - t0, top)


if __name__ == "__main__":
    main()
