"""The ``sre-constructs`` command (also ``python -m sre_constructs``).

Subcommands: ``synth``, ``validate``, ``plan``, ``diff``, ``graph``, ``versions``. Exit codes: 0 ok, 1 validation
failure or drift (bad input included), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import _node  # noqa: F401  (JSII_NODE where no .pth set it, see _node.py)

if TYPE_CHECKING:
    from .cluster import ClusterSpec

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

_EXIT_CODES = """\
exit codes:
  0  success
  1  validation failure (bad cluster file or input, invalid tree) or drift (--check)
  2  usage error (unknown command or option, missing argument)
"""

_SYNTH_HELP = """\
Synthesize the Flux kustomize tree of each cluster file into --out, atomically (one process,
one cdk8s App for every cluster). Each cluster <name> gets:
  <out>/clusters/<name>/core/                  the core platform tree (the file's `path`)
  <out>/clusters/<name>/flux/platform-sync/    the root Flux Kustomization (and GitRepository)
Bootstrap with: flux bootstrap git --url=<git.url> --branch=<git.branch> --path=clusters/<name>/flux
Without a cluster file, the embedded default cluster is written to <out>/core, exactly what
app.py (`make synth`) writes.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 for usage errors and the exit codes in every --help."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("epilog", _EXIT_CODES)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog="sre-constructs",
        description="Synthesize, validate and inspect the core SRE platform's Flux trees.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    synth = sub.add_parser("synth", help="write the tree of each cluster file", description=_SYNTH_HELP)
    synth.add_argument(
        "clusters", nargs="*", metavar="CLUSTER_FILE", help="cluster files (YAML); none = the default cluster"
    )
    synth.add_argument("--out", default="dist", metavar="DIR", help="output directory (default: dist)")
    synth.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a summary if the trees on disk differ"
    )

    validate = sub.add_parser(
        "validate",
        help="validate a written tree",
        description="Check a Flux kustomize tree, ours or anyone's, by kustomize's and Flux's rules: YAML, "
        "schemas (core kinds; custom resources against the CRD schemas bundled in the package, served "
        "versions included), what kustomize and Flux apply (files nothing applies, missing entries), "
        "kustomize builds, Flux paths, dependsOn, sources, health checks. Departures from this "
        "library's layout are printed as notes and do not fail (unless --strict). DIR is a tree root "
        "(holding kustomization.yaml) or a folder above trees: every tree below it is checked. Flux "
        "paths are relative to the repository root each tree's Flux Kustomizations imply.",
    )
    validate.add_argument("dir", metavar="DIR", help="a tree root or a folder above trees, such as dist")
    validate.add_argument(
        "--crds",
        action="append",
        metavar="DIR",
        help="check custom resources against the CRDs in this folder instead of the bundled schemas (repeatable)",
    )
    validate.add_argument(
        "--repo-root", metavar="DIR", help="repository root Flux paths are relative to (default: inferred per tree)"
    )
    validate.add_argument("--strict", action="store_true", help="fail on notes too (this library's layout)")
    validate.add_argument("--no-kustomize", action="store_true", help="skip the kubectl kustomize builds")
    validate.add_argument(
        "--with",
        dest="known",
        action="append",
        default=[],
        metavar="TREE",
        help="another tree applied to the same cluster (repeatable): its Flux Kustomizations and "
        "HelmReleases count as dependsOn targets, e.g. the platform a team tree waits for",
    )

    graph = sub.add_parser(
        "graph",
        help="print the Flux dependsOn graph",
        description="Print the platform's Flux dependsOn graph (install order).",
    )
    graph.add_argument("cluster", nargs="?", metavar="CLUSTER_FILE", help="a cluster file; none = the default cluster")
    graph.add_argument(
        "--format", choices=("mermaid", "dot"), default="mermaid", help="output format (default: mermaid)"
    )

    versions = sub.add_parser(
        "versions",
        help="list every pinned chart",
        description="List every pinned chart: service, chart, version, repository, OCI artifact "
        "(the table in sre_constructs/versions.py).",
    )
    versions.add_argument("--json", action="store_true", help="print JSON instead of a table")

    from .plan.command import add_parser as add_plan

    add_plan(sub)
    from .diff.command import add_parser as add_diff

    add_diff(sub)
    return parser


def _load(files: Sequence[str]) -> list[ClusterSpec]:
    from .cluster import DEFAULT_CLUSTER, load_cluster

    return [load_cluster(f) for f in files] if files else [DEFAULT_CLUSTER]


def _synth(args: argparse.Namespace) -> int:
    from cdk8s import App

    from .fleet import build_fleet, files_below
    from .kernel.tree import TreeDriftError, write_tree

    specs = _load(args.clusters)
    app = App()
    clusters = build_fleet(app, specs)
    out = Path(args.out)
    if args.check:
        # Every tree checked on its own, so the summary names every stale one.
        paths: list[Path] = []
        drifts: list[TreeDriftError] = []
        for cluster in clusters:
            for tree in [cluster.platform] + ([cluster.sync] if cluster.sync else []):
                try:
                    paths += write_tree(tree, out, check=True)
                except TreeDriftError as stale:
                    drifts.append(stale)
        if drifts:
            for drift in drifts:
                print(str(drift), file=sys.stderr)
            changed = sum(len(d.added) + len(d.changed) + len(d.removed) for d in drifts)
            print(
                f"sre-constructs synth --check: {len(drifts)} stale tree(s), {changed} file(s) differ; "
                f"run `sre-constructs synth {' '.join(args.clusters)} --out {out}`".replace("  ", " "),
                file=sys.stderr,
            )
            return EXIT_INVALID
    else:
        paths = write_tree(app, out)
    verb = "check" if args.check else "synth"
    for cluster in clusters:
        root = cluster.spec.path if cluster.sync is None else f"clusters/{cluster.spec.name}"
        count = sum(files_below(paths, str(out / p)) for p in cluster.tree_paths)
        print(f"{verb} {cluster.spec.name}: {count} files {'up to date in' if args.check else '->'} {out / root}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from .kernel.tree_check import check_tree
    from .kernel.tree_check.roots import find_tree_roots

    directory = Path(args.dir)
    if not directory.is_dir():
        print(f"sre-constructs validate: {directory}: not a directory", file=sys.stderr)
        return EXIT_INVALID
    roots = find_tree_roots(directory)
    if not roots:
        print(
            f"sre-constructs validate: {directory}: no tree found (no kustomization.yaml with a components/ folder, "
            "no cluster folder beside a flux-system/ folder, no folder of Flux Kustomizations)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    failed = False
    for root in roots:
        findings = check_tree(
            root,
            crd_dirs=args.crds,  # None: the bundled schemas
            repo_root=args.repo_root,  # None: inferred from each tree's Flux paths, whatever the cwd
            kustomize=not args.no_kustomize,
            known_trees=args.known,
        )
        errors = sum(f.is_error for f in findings)
        notes = len(findings) - errors
        failed |= bool(errors or (args.strict and notes))
        for finding in findings:
            print(f"{root}: {finding}", file=sys.stderr)
        summary = "ok" if not errors else f"{errors} error(s)"
        print(f"validate {root}: {summary}" + (f", {notes} note(s)" if notes else ""))
    return EXIT_INVALID if failed else EXIT_OK


def _graph(args: argparse.Namespace) -> int:
    from cdk8s import App

    from . import diagram

    spec = _load([args.cluster] if args.cluster else [])[0]
    platform = spec.platform(App(), "core")
    sys.stdout.write(diagram.mermaid(platform) if args.format == "mermaid" else diagram.dot(platform))
    return EXIT_OK


def version_rows() -> list[dict[str, str | None]]:
    """Every pin of ``versions.CHARTS`` as a row (what ``versions`` prints)."""
    from .versions import CHARTS

    return [
        {
            "key": key,
            "service": pin.service,
            "chart": pin.chart,
            "version": pin.version,
            "repository": pin.repository.url,
            "oci": pin.oci,
        }
        for key, pin in CHARTS.items()
    ]


def _versions(args: argparse.Namespace) -> int:
    rows = version_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    columns = ("service", "chart", "version", "repository", "oci")
    table = [columns] + [tuple(str(row[c] or "-") for c in columns) for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip())
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    from .kernel.errors import ValidationError

    parser = build_parser()
    args = parser.parse_args(argv)
    from .diff.command import run as _diff
    from .plan.command import run as _plan

    handlers = {
        "synth": _synth,
        "validate": _validate,
        "graph": _graph,
        "versions": _versions,
        "plan": _plan,
        "diff": _diff,
    }
    try:
        return handlers[args.command](args)
    except ValidationError as error:
        print(f"sre-constructs {args.command}: {error}", file=sys.stderr)
        return EXIT_INVALID
    except BrokenPipeError:  # e.g. `sre-constructs versions | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
