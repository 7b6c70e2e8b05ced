"""``sre-constructs diff``: what a change does to each cluster, and how risky it is."""

from __future__ import annotations

import argparse
import sys

from .model import FAIL_ON
from .render import FORMATS

__all__ = ["add_parser", "run"]

EXIT_OK = 0
EXIT_RISKY = 1
EXIT_USAGE = 2

_HELP = """\
Compare the Flux trees of two states, object by object, per Flux Kustomization: what Flux will
create, change (field paths, old -> new), move or prune, and the bring-up plan's new blockers and
manual steps. Every change gets a risk and its reason: data-loss (a pruned Namespace, PVC,
PV-bearing StatefulSet, CRD or backup Schedule), blocking (an immutable field, a CRD version still
in use dropped, a new plan blocker), security (Pod Security lowered, a NetworkPolicy path opened, a
policy out of Deny, mTLS loosened, a ClusterSecretStore or tenant lane widened), upgrade (a chart
major version, a new manual step), change (the rest).

  sre-constructs diff --base origin/main                  the default platform (its tree at <out>/core)
  sre-constructs diff clusters/*.yaml --base main         each cluster file, trees at <out>/clusters/<name>
  sre-constructs diff --tree old/core new/core            any two written Flux trees
  sre-constructs diff --tree old-checkout new-checkout    two repositories: each cluster's tree root below

--base REF: the trees synthesized now (in memory, nothing written), against the trees committed at
REF in the git repository holding --out (synth's --out; default dist).
With --charts DIR (charts as `helm pull` leaves them, rendered with helm from PATH), the rendered
objects of every HelmRelease whose chart, version or values changed are compared too.
"""

_EXIT_CODES = """\
exit codes:
  0  nothing at or above --fail-on changed
  1  something did (or a cluster file is invalid)
  2  usage error (unknown option, missing folder, bad git revision)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``diff`` subcommand."""
    diff = sub.add_parser(
        "diff", help="what a change does to each cluster, and how risky", description=_HELP, epilog=_EXIT_CODES
    )
    diff.add_argument("clusters", nargs="*", metavar="CLUSTER_FILE", help="cluster files; none = the default platform")
    diff.add_argument("--base", metavar="REF", help="git revision holding the committed trees (branch, tag, commit)")
    diff.add_argument(
        "--tree", nargs=2, metavar=("OLD", "NEW"), help="compare two written trees (or repositories: each root below)"
    )
    diff.add_argument("--out", default="dist", metavar="DIR", help="where synth writes the trees (default: dist)")
    diff.add_argument(
        "--repo-root",
        metavar="DIR",
        help="with --base: the git repository (default: the one holding --out); with --tree: the repository "
        "root both trees' Flux paths are relative to (default: inferred per tree)",
    )
    diff.add_argument("--charts", metavar="DIR", help="charts (<chart>-<version>.tgz or <chart>/) to render with helm")
    diff.add_argument("--no-plan", action="store_true", help="skip the bring-up plans of both sides")
    diff.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    diff.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="blocking",
        help="exit 1 when a change at or above this risk is found (default: blocking; any: every change; none: never)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``diff``; 0 when nothing at or above ``--fail-on`` changed, 1 when something did, 2 for usage."""
    from ..kernel.errors import ValidationError
    from . import diff_clusters, diff_folders
    from .render import render

    def usage(message: str) -> int:
        print(f"sre-constructs diff: error: {message}", file=sys.stderr)
        return EXIT_USAGE

    if args.tree and (args.base or args.clusters):
        return usage("give --tree OLD NEW, or cluster files with --base REF, not both")
    if not args.tree and not args.base:
        return usage("nothing to compare: give --base REF (the committed trees) or --tree OLD NEW")
    if args.tree and args.out != "dist":
        return usage("--out goes with --base")
    try:
        if args.tree:
            diffs = diff_folders(
                args.tree[0], args.tree[1], repo_root=args.repo_root, charts=args.charts, plan=not args.no_plan
            )
        else:
            from ..cluster import load_cluster

            for file in args.clusters:  # a bad cluster file is invalid input (1), not a usage error
                try:
                    load_cluster(file)
                except ValidationError as error:
                    print(f"sre-constructs diff: {error}", file=sys.stderr)
                    return EXIT_RISKY
            diffs = diff_clusters(
                args.clusters,
                base=args.base,
                out=args.out,
                repo_root=args.repo_root,
                charts=args.charts,
                plan=not args.no_plan,
            )
    except ValidationError as error:
        # "diff: invalid --base 'x': ..." reads as argparse does without the repeated "diff:".
        return usage(str(error).removeprefix(f"{error.where}: ") if error.where == "diff" else str(error))
    sys.stdout.write(render(diffs, args.format))
    return EXIT_RISKY if any(d.fails(args.fail_on) for d in diffs) else EXIT_OK
