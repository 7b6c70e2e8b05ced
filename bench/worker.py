"""One benchmark case in this (fresh) process: ``python bench/worker.py CASE OUTDIR [DATA]``.

Only the standard library is imported before the case starts, so every case pays for exactly the
imports it needs (jsii's Node kernel starts on the first import of cdk8s). The last line of stdout
is a JSON report:

- ``phases``: seconds spent in ``import`` / ``build`` / ``write`` inside this process;
- ``py_rss_kib``: this Python process's own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``);
- ``node_rss_kib``: the peak RSS (``VmHWM`` in ``/proc/<pid>/status``) of the jsii Node processes
  (``jsii-runtime.js`` and the kernel it spawns), summed,
  read while they are still alive just before this process exits (``None`` for cases without jsii);
- ``node_processes``: how many Node processes that was;
- ``documents``: YAML documents written (for the tree cases).

The parent measures the wall time of the whole process (interpreter start, imports, jsii start
and shutdown included).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

CASES = ("a0", "a", "b", "p", "df", "c1", "c10", "c50", "d")
_LIBRARY: list[str] = []  # where sre_constructs was imported from


def _child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        return pids
    except OSError:  # no CONFIG_PROC_CHILDREN: scan /proc for the ppid
        pass
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(entry))
    return pids


def _descendants_peak_rss_kib() -> tuple[int | None, int]:
    """Sum of VmHWM (peak RSS) over this process's live descendants, and how many there are.

    jsii's entry point, ``node jsii-runtime.js``, spawns the kernel as a second Node process (both
    are counted).
    """
    todo, seen = _child_pids(os.getpid()), set()
    total = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += _child_pids(pid)
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total or None, len(seen)


def _count_documents(outdir: str) -> int:
    n = 0
    for root, _dirs, files in os.walk(outdir):
        for name in files:
            if name.endswith(".yaml"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    text = f.read()
                # dump_yaml writes explicit_start=False: documents are separated by "---" lines.
                n += 1 + sum(1 for line in text.splitlines() if line == "---")
    return n


def _bare(outdir: str, plus: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    from cdk8s import ApiObject, App, Chart  # starts the jsii kernel

    if plus:
        import cdk8s_plus_28  # noqa: F401
    t1 = time.perf_counter()
    app = App(outdir=outdir)
    chart = Chart(app, "bare")
    ApiObject(chart, "cm", api_version="v1", kind="ConfigMap", metadata={"name": "bare"})
    t2 = time.perf_counter()
    app.synth()
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "write": t3 - t2}


def _platform(outdir: str, clusters: int | None) -> dict[str, float]:
    t0 = time.perf_counter()
    import sre_constructs  # noqa: I001  (first: it picks jsii's Node)
    from cdk8s import App

    t1 = time.perf_counter()
    _LIBRARY.append(os.path.dirname(sre_constructs.__file__))
    app = App()
    if clusters is None:
        sre_constructs.CorePlatform(app, "core")
    else:
        for i in range(clusters):
            sre_constructs.CorePlatform(app, f"c{i}", path=f"clusters/c{i}/core")
    t2 = time.perf_counter()
    sre_constructs.write_tree(app, outdir)
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "write": t3 - t2}


def _plan(outdir: str) -> dict[str, float]:
    """(p): the bring-up plan of the default platform, without charts (what `sre-constructs plan` does)."""
    t0 = time.perf_counter()
    import sre_constructs  # noqa: I001
    from cdk8s import App

    from sre_constructs.plan import plan_app

    t1 = time.perf_counter()
    _LIBRARY.append(os.path.dirname(sre_constructs.__file__))
    app = App()
    sre_constructs.CorePlatform(app, "core")
    t2 = time.perf_counter()
    plan = plan_app(app)
    if not plan.ok:
        raise SystemExit("the default platform's plan does not come up")
    with open(os.path.join(outdir, "plan.txt"), "w", encoding="utf-8") as handle:
        handle.write(plan.render("text"))
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "write": t3 - t2}


def _diff(outdir: str, repo: str) -> dict[str, float]:
    """(df): `sre-constructs diff --base HEAD` of the default platform against its committed tree."""
    t0 = time.perf_counter()
    import sre_constructs

    t1 = time.perf_counter()
    _LIBRARY.append(os.path.dirname(sre_constructs.__file__))
    (diff,) = sre_constructs.diff_clusters([], base="HEAD", out=os.path.join(repo, "dist"))
    if not diff.empty:
        raise SystemExit("the default platform differs from its committed tree:\n" + diff.render("text"))
    t2 = time.perf_counter()
    with open(os.path.join(outdir, "diff.txt"), "w", encoding="utf-8") as handle:
        handle.write(diff.render("text"))
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "write": t3 - t2}


def _plain(outdir: str, data: str) -> dict[str, float]:
    """(d): the documents of (b), already parsed, copied and dumped like tree.dump_yaml does."""
    t0 = time.perf_counter()
    import copy
    import pickle

    import yaml

    with open(data, "rb") as f:
        captured: dict[str, list[object]] = pickle.load(f)
    t1 = time.perf_counter()
    files = copy.deepcopy(captured)  # the "build": fresh dicts and lists for every object
    t2 = time.perf_counter()
    for rel, docs in files.items():
        text = yaml.dump_all(
            docs,
            Dumper=yaml.CSafeDumper,
            sort_keys=True,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 16,
            explicit_start=False,
        )
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode("utf-8"))
    t3 = time.perf_counter()
    return {"import": t1 - t0, "build": t2 - t1, "write": t3 - t2}


def main(argv: list[str]) -> None:
    case, outdir = argv[0], argv[1]
    if case == "a0":
        phases = _bare(outdir, plus=False)
    elif case == "a":
        phases = _bare(outdir, plus=True)
    elif case == "b":
        phases = _platform(outdir, None)
    elif case == "p":
        phases = _plan(outdir)
    elif case == "df":
        phases = _diff(outdir, argv[2])
    elif case.startswith("c"):
        phases = _platform(outdir, int(case[1:]))
    elif case == "d":
        phases = _plain(outdir, argv[2])
    else:
        raise SystemExit(f"unknown case {case!r}; one of {', '.join(CASES)}")
    node, node_processes = _descendants_peak_rss_kib() if case != "d" else (None, 0)
    report = {
        "case": case,
        "phases": phases,
        "py_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "node_rss_kib": node,
        "node_processes": node_processes,
        "library": _LIBRARY[0] if _LIBRARY else None,
        "documents": _count_documents(outdir) if case in ("b", "d") else None,
    }
    sys.stdout.flush()
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
