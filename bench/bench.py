"""Benchmark: how long a synth takes, whole process included, and how much memory it needs.

    .venv/bin/python bench/bench.py [--repeat N] [--warmup N] [--json FILE] [--cases a0,a,b,...] [--head | --source DIR]

Every run of every case is a fresh process (``bench/worker.py CASE OUTDIR``), timed from spawn to
exit: interpreter start, imports, jsii's Node kernel start and shutdown are all in the number,
because that is what ``python app.py`` / ``make synth`` / a CI job pays. Cases alternate
round-robin (a0, a, b, c1, ... then again), so drift on a shared machine hits all of them alike;
one warm-up round is run first and discarded. Python's bytecode cache is on and kept in a temporary
folder (``PYTHONPYCACHEPREFIX``), even when the environment sets ``PYTHONDONTWRITEBYTECODE``;
``--no-bytecode-cache`` measures that setting instead. ``--head`` measures the committed library
(``git archive HEAD``) rather than the working tree, for stable numbers while others edit;
``--source DIR`` measures a copy elsewhere (to compare a patch against HEAD). The table shows the median, min and max over
``--repeat`` rounds (default 5).

Cases:

- a0: bare cdk8s floor: ``App``, ``Chart``, one ``ApiObject``, ``app.synth()``.
- a:  a0 plus ``import cdk8s_plus_28``: the reference of issue 7 (a typical cdk8s app imports it; this
  library no longer does). Skipped, with b/a n/a, when cdk8s-plus-28 is not installed.
- b:  ``CorePlatform(app, "core")`` + ``write_tree`` (the default tree, as ``app.py`` writes it).
- p:  ``sre-constructs plan`` of the default platform without charts: the same build as (b), the
  tree rendered in memory, read back and simulated; "write" is the plan (plus its text file).
- df: ``sre-constructs diff --base HEAD`` of the default platform against its committed tree (the
  tree of (b), committed at set-up to a git repository as ``dist/core``): the same build as (b),
  rendered in memory, the committed tree read with git, both read back, compared and both planned;
  "write" is the diff text. The target: at most 2x (b).
- c1, c10, c50: one App with N ``CorePlatform`` trees at ``clusters/c<i>/core``, one ``write_tree``.
- d:  the pure-Python limit for the same output: the documents of (b), parsed once at set-up (not
  timed) and pickled; the timed process imports only ``yaml`` (plus pickle/copy), loads the pickle,
  ``copy.deepcopy``\\ s every document (stands in for building the dicts), dumps every file with
  ``yaml.CSafeDumper`` and the options of ``sre_constructs.kernel.tree.dump_yaml`` and writes the
  tree (plain writes, no staging/rename). Set-up checks that this reproduces (b)'s bytes exactly.

Every case starts jsii's kernel the stock way (a relay process plus the kernel), on the Node
named by ``JSII_NODE`` (the venv's bundled Node unless the environment chose one).

Outputs: each run writes its tree to a new folder, and all of them are deleted together after
the last run (about 15 MB per c50 run, 100 MB for a full benchmark). Deleting a run's files right after it, as earlier versions
did, charged the next runs for it: on the benchmark machine's disk, file creation stays several
times slower for a minute or more after thousands of files are deleted (3,450 files in 0.06 s on
a quiet disk, 1.3-1.6 s after a benchmark that deleted its outputs run by run), which landed
mostly on c50's write phase.

Memory: each worker reports its own peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``) and the peak
RSS (``VmHWM``) of its live descendants, read from ``/proc`` just before it exits: jsii's Node
processes, two with jsii's entry point (``jsii-runtime.js`` and the kernel it spawns; the count
is shown in brackets). "total" is Python + Node: the
processes run at the same time, so this is an upper bound of the footprint (each peak may come at
a different moment). The 1 GiB target is checked against this total.

Targets are checked on median wall time. The table also gives CPU time (user + system of the
worker and its Node processes, from ``wait4``), and the 1-minute load average before and after:
on a busy machine wall times stretch, CPU times much less.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "worker.py"
CASES = ["a0", "a", "b", "p", "df", "c1", "c10", "c50", "d"]
DESCRIPTIONS = {
    "a0": "bare cdk8s: App + Chart + 1 ApiObject, synth",
    "a": "a0 + import cdk8s_plus_28",
    "b": "CorePlatform + write_tree",
    "p": "CorePlatform + bring-up plan (no charts)",
    "df": "CorePlatform + diff against its committed tree",
    "c1": "1 cluster tree (clusters/c0/core)",
    "c10": "10 cluster trees, one App",
    "c50": "50 cluster trees, one App",
    "d": "(b)'s documents: deepcopy + PyYAML dump + write",
}
GIB_KIB = 1024 * 1024


def _env(source: Path | None = None, pycache: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if pycache is not None:
        # Bytecode cache on (as on a developer machine), kept out of the repository: the warm-up
        # round compiles sre_constructs and the generated Flux bindings (~0.5 MB of Python) once.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # every process compiles what has no .pyc yet
    if source is not None:  # ahead of the editable install (a meta-path finder, searched last)
        env["PYTHONPATH"] = os.pathsep.join([str(source), *filter(None, [env.get("PYTHONPATH")])])
    if not env.get("JSII_NODE"):
        node = ROOT / ".venv" / "bin" / "node"
        if node.exists():
            env["JSII_NODE"] = str(node)
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_case(case: str, env: dict[str, str], data: Path | None, outputs: Path) -> dict[str, Any]:
    """One fresh worker process: wall time from spawn to exit, plus its own report.

    Its tree is written to a new folder under ``outputs`` and left there: all of them are removed
    together once every run is done (see the module docstring, "Outputs").
    """
    outdir = Path(tempfile.mkdtemp(prefix=f"{case}-", dir=outputs))
    args = [sys.executable, str(WORKER), case, str(outdir)]
    if data is not None:
        args.append(str(data))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed ({proc.returncode}):\n{stdout}\n{stderr}")
    report = json.loads(stdout.strip().splitlines()[-1])
    report["wall_s"] = wall
    # wait4: max of the worker and the descendants it reaped (a cross-check, not a sum).
    report["wait4_maxrss_kib"] = usage.ru_maxrss
    # CPU of the worker and its reaped descendants (the Node processes): far less sensitive
    # than wall time to other load on the machine.
    report["cpu_s"] = usage.ru_utime + usage.ru_stime
    report["total_rss_kib"] = report["py_rss_kib"] + (report["node_rss_kib"] or 0)
    return report


def _read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def setup(workdir: Path, env: dict[str, str]) -> dict[str, Any]:
    """Untimed: synthesize (b) once, parse its documents for (d), check (d) reproduces the bytes."""
    import yaml

    outdir = workdir / "b"
    outdir.mkdir()
    subprocess.run(
        [sys.executable, str(WORKER), "b", str(outdir)],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    tree = _read_tree(outdir)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    parsed = {rel: list(yaml.load_all(content, Loader=loader)) for rel, content in tree.items()}
    identical = all(
        yaml.dump_all(
            copy.deepcopy(docs),
            Dumper=yaml.CSafeDumper,
            sort_keys=True,
            default_flow_style=False,
            allow_unicode=True,
            width=1 << 16,
            explicit_start=False,
        ).encode("utf-8")
        == tree[rel]
        for rel, docs in parsed.items()
    )
    # (df): the tree of (b) committed where `synth --out dist` writes it.
    repo = workdir / "repo"
    shutil.copytree(outdir, repo / "dist")
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "tree (b)"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    data = workdir / "b-documents.pickle"
    with open(data, "wb") as f:
        pickle.dump(parsed, f, protocol=pickle.HIGHEST_PROTOCOL)
    documents = sum(len(docs) for docs in parsed.values())
    kustomize = sum(
        1
        for docs in parsed.values()
        for doc in docs
        if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("kustomize.config.k8s.io/")
    )
    kinds: dict[str, int] = {}
    for docs in parsed.values():
        for doc in docs:
            kinds[doc["kind"]] = kinds.get(doc["kind"], 0) + 1
    return {
        "data": data,
        "repo": repo,
        "files": len(tree),
        "bytes": sum(len(c) for c in tree.values()),
        "documents": documents,
        "kustomize_documents": kustomize,
        "api_objects": documents - kustomize,
        "kinds": dict(sorted(kinds.items())),
        "d_reproduces_b_bytes": identical,
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    node = _env().get("JSII_NODE", "node")
    try:
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        node_version = "?"

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    try:
        import yaml

        libyaml = bool(yaml.__with_libyaml__)
    except ImportError:
        libyaml = False
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": node_version,
        "cdk8s": version("cdk8s"),
        "cdk8s-plus-28": version("cdk8s-plus-28"),
        "jsii": version("jsii"),
        "pyyaml": version("PyYAML") + (" (libyaml)" if libyaml else ""),
    }


def library(head: bool) -> dict[str, Any]:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    dirty = bool(git("status", "--porcelain", "--", "sre_constructs"))
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "source": "HEAD (git archive)"
        if head
        else ("working tree, uncommitted changes" if dirty else "working tree (clean)"),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_s"] for r in runs]
    cpus = [r["cpu_s"] for r in runs]
    phases = {k: statistics.median(r["phases"][k] for r in runs) for k in runs[0]["phases"]}
    node = [r["node_rss_kib"] for r in runs if r["node_rss_kib"] is not None]
    return {
        "runs": len(runs),
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "walls_s": walls,
        "cpu_median_s": statistics.median(cpus),
        "cpus_s": cpus,
        "phases_median_s": phases,
        "py_rss_kib": max(r["py_rss_kib"] for r in runs),
        "node_rss_kib": max(node) if node else None,
        "node_processes": max(r.get("node_processes", 0) for r in runs),
        "total_rss_kib": max(r["total_rss_kib"] for r in runs),
        "wait4_maxrss_kib": max(r["wait4_maxrss_kib"] for r in runs),
    }


def targets(s: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def med(c: str) -> float | None:
        return s[c]["median_s"] if c in s else None

    def ratio(x: str, y: str) -> float | None:
        a, b = med(x), med(y)
        return a / b if a is not None and b else None

    def cpu_ratio(x: str, y: str) -> float | None:
        if x in s and y in s and s[y]["cpu_median_s"]:
            return s[x]["cpu_median_s"] / s[y]["cpu_median_s"]
        return None

    rows = [
        {
            "name": "b/a",
            "value": ratio("b", "a"),
            "cpu": cpu_ratio("b", "a"),
            "limit": 1.3,
            "what": "CorePlatform over bare cdk8s + cdk8s-plus",
        },
        {
            "name": "b/a0",
            "value": ratio("b", "a0"),
            "cpu": cpu_ratio("b", "a0"),
            "limit": 2.0,
            "what": "CorePlatform over bare cdk8s",
        },
        {
            "name": "c50/c1",
            "value": ratio("c50", "c1"),
            "cpu": cpu_ratio("c50", "c1"),
            "limit": 10.0,
            "what": "50 trees vs 1 tree, one process",
        },
        {
            "name": "p/b",
            "value": ratio("p", "b"),
            "cpu": cpu_ratio("p", "b"),
            "limit": 1.5,
            "what": "bring-up plan over the synth of the same tree",
        },
        {
            "name": "df/b",
            "value": ratio("df", "b"),
            "cpu": cpu_ratio("df", "b"),
            "limit": 2.0,
            "what": "diff against the committed tree over the synth of the same tree",
        },
        {
            "name": "c50 peak RSS GiB",
            "limit": 1.0,
            "what": "Python + Node peaks, c50",
            "value": s["c50"]["total_rss_kib"] / GIB_KIB if "c50" in s else None,
        },
        {
            "name": "b/d",
            "value": ratio("b", "d"),
            "cpu": cpu_ratio("b", "d"),
            "limit": None,
            "what": "CorePlatform over the pure-PyYAML limit",
        },
    ]
    for row in rows:
        if row["value"] is None or row["limit"] is None:
            row["result"] = "-" if row["value"] is not None else "n/a"
        else:
            row["result"] = (
                "PASS"
                if row["value"] <= row["limit"] and not (row["name"].endswith("GiB") and row["value"] >= row["limit"])
                else "FAIL"
            )
    return rows


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f}" if kib else "-"


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        (
            f"Machine: {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; Python {m['python']}, "
            f"Node {m['node']}, cdk8s {m['cdk8s']}, cdk8s-plus-28 {m['cdk8s-plus-28']}, jsii {m['jsii']}, "
            f"PyYAML {m['pyyaml']}"
        ),
        f"Library: commit {result['library']['commit']}, {result['library']['source']}.",
        (
            f"Runs: median of {result['repeat']} per case, fresh process each, round-robin, "
            f"{result['warmup']} warm-up round(s) discarded; load average before/after "
            f"{result['load'][0]:.1f}/{result['load'][1]:.1f}; bytecode cache "
            f"{'on' if result['bytecode_cache'] else 'off (PYTHONDONTWRITEBYTECODE=1)'}; total {result['elapsed_s']:.0f} s."
        ),
        "",
        "| case | what | median s | min s | max s | CPU s | import / build / write s | Python RSS MiB | Node RSS MiB (processes) | total RSS MiB |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for case, s in result["cases"].items():
        ph = s["phases_median_s"]
        lines.append(
            f"| {case} | {DESCRIPTIONS[case]} | {s['median_s']:.2f} | {s['min_s']:.2f} | {s['max_s']:.2f} | "
            f"{s['cpu_median_s']:.2f} | "
            f"{ph['import']:.2f} / {ph['build']:.2f} / {ph['write']:.2f} | {_mib(s['py_rss_kib'])} | "
            f"{_mib(s['node_rss_kib'])}{f' ({n})' if (n := s['node_processes']) else ''} | {_mib(s['total_rss_kib'])} |"
        )
    t = result["tree_b"]
    lines += [
        "",
        (
            f"Tree (b): {t['documents']} YAML documents ({t['api_objects']} Kubernetes/Flux objects + "
            f"{t['kustomize_documents']} kustomization.yaml) in {t['files']} files, {t['bytes']} bytes; "
            f"(d) reproduces (b)'s bytes: {'yes' if t['d_reproduces_b_bytes'] else 'NO'}."
        ),
        "",
        "| target | value (wall) | limit | result | same on CPU time |",
        "|---|---:|---:|---|---:|",
    ]
    for row in result["targets"]:
        value = "-" if row["value"] is None else f"{row['value']:.2f}"
        limit = (
            "-"
            if row["limit"] is None
            else (f"< {row['limit']:g}" if row["name"].endswith("GiB") else f"<= {row['limit']:g}")
        )
        cpu = "-" if row.get("cpu") is None else f"{row['cpu']:.2f}"
        lines.append(f"| {row['name']} ({row['what']}) | {value} | {limit} | {row['result']} | {cpu} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median over them); default 5")
    parser.add_argument("--warmup", type=int, default=1, help="discarded rounds first; default 1")
    parser.add_argument("--json", metavar="FILE", help="write every number to FILE")
    parser.add_argument(
        "--head",
        action="store_true",
        help="measure the library as committed (git archive HEAD), not the working tree",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="run with PYTHONDONTWRITEBYTECODE=1: modules without a .pyc (sre_constructs and its Flux bindings) are "
        "compiled in every process, as in containers that set it",
    )
    parser.add_argument(
        "--source",
        metavar="DIR",
        type=Path,
        help="measure the sre_constructs/ found in DIR (e.g. a patched copy)",
    )
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    if "a" in cases and importlib.util.find_spec("cdk8s_plus_28") is None:
        print("note: cdk8s-plus-28 is not installed: case a (and b/a) skipped", file=sys.stderr)
        cases.remove("a")
    unknown = [c for c in cases if c not in CASES]
    if unknown or args.repeat < 1 or args.warmup < 0:
        parser.error(f"bad --cases {unknown} / --repeat / --warmup")
    if args.repeat < 5:
        print(f"note: --repeat {args.repeat} < 5; medians are noisy", file=sys.stderr)

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as work:
        # Default: this checkout's sre_constructs/, ahead of any other installed copy.
        source = args.source.resolve() if args.source else ROOT
        if args.head:
            source = Path(work) / "head"
            source.mkdir()
            archive = subprocess.run(
                ["git", "archive", "HEAD", "sre_constructs"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        env = _env(source, None if args.no_bytecode_cache else Path(work) / "pycache")
        lib = library(args.head)
        if args.source:
            lib["source"] = f"{source} (--source)"  # before any run: the lead may commit meanwhile
        tree = setup(Path(work), env)
        outputs = Path(work) / "runs"  # every run's tree, removed with `work` at the end
        outputs.mkdir()
        runs: dict[str, list[dict[str, Any]]] = {c: [] for c in cases}
        rounds = args.warmup + args.repeat
        for r in range(rounds):
            for case in cases:
                data = tree["data"] if case == "d" else tree["repo"] if case == "df" else None
                report = run_case(case, env, data, outputs)
                if r >= args.warmup:
                    runs[case].append(report)
            label = "warm-up" if r < args.warmup else f"round {r - args.warmup + 1}/{args.repeat}"
            print(f"{label} done ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    tree.pop("data")
    tree.pop("repo")
    summary = {c: summarize(runs[c]) for c in cases}
    result = {
        "machine": machine(),
        "library": lib,
        "bytecode_cache": not args.no_bytecode_cache,
        "repeat": args.repeat,
        "warmup": args.warmup,
        "elapsed_s": time.perf_counter() - began,
        "load": [load_before, os.getloadavg()[0]],
        "tree_b": tree,
        "cases": summary,
        "targets": targets(summary),
        "runs": runs,
    }
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
