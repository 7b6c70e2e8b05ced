"""``sre-constructs plan``: the bring-up plan of cluster files or of a written tree."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .kinds import OPTIONAL_FLUX_CRDS
from .report import FORMATS

__all__ = ["add_parser", "run"]

EXIT_UP = 0
EXIT_BLOCKED = 1
EXIT_USAGE = 2

_HELP = """\
Simulate Flux on an empty cluster and show that the tree comes up: the Flux Kustomizations in
dependsOn waves, what each applies (in Flux's apply stages) and waits for, the manual steps (with
their exact commands), and anything that would block forever, naming the Kustomization, the
object, the need and what would provide it.

  sre-constructs plan                         the default platform
  sre-constructs plan clusters/lab.yaml ...   each cluster file, on its own cluster
  sre-constructs plan --tree dist/core        any written Flux tree (ours or hand-written YAML)
  sre-constructs plan --tree .                every tree root of a repository (clusters/<name> beside
                                              flux-system/, ...), each on its own cluster

With --rendered DIR (helm template output, DIR/<namespace>/<release>.yaml) or --charts DIR
(charts to render with helm from PATH), every rendered pod is checked too: Pod Security level of
its namespace, the tree's Kyverno policies, the Secrets and ConfigMaps it reads, its images
against the mirror, and the CRDs of the custom resources the charts render.
"""

_EXIT_CODES = """\
exit codes:
  0  the tree comes up (manual steps listed)
  1  something would block forever, or comes up only by the luck of a retry
  2  usage error (unknown option, missing folder, bad cluster file)
"""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register the ``plan`` subcommand."""
    plan = sub.add_parser(
        "plan", help="show that the tree comes up, in Flux's order", description=_HELP, epilog=_EXIT_CODES
    )
    plan.add_argument("clusters", nargs="*", metavar="CLUSTER_FILE", help="cluster files; none = the default platform")
    plan.add_argument("--tree", metavar="DIR", help="plan a written tree instead of cluster files")
    plan.add_argument(
        "--with",
        dest="known",
        action="append",
        default=[],
        metavar="DIR",
        help="another written tree on the same cluster (repeatable; with --tree)",
    )
    plan.add_argument("--repo-root", metavar="DIR", help="repository root Flux paths are relative to (with --tree)")
    plan.add_argument("--rendered", metavar="DIR", help="helm template output: DIR/<namespace>/<release>.yaml")
    plan.add_argument("--charts", metavar="DIR", help="charts (<chart>-<version>.tgz or <chart>/) to render with helm")
    plan.add_argument(
        "--bootstrap-source",
        dest="bootstrap",
        action="append",
        default=[],
        metavar="NAME",
        help="a source flux bootstrap made besides flux-system ([NAMESPACE/]NAME; repeatable; with --tree)",
    )
    plan.add_argument(
        "--flux-crds",
        dest="flux_crds",
        action="append",
        default=[],
        choices=sorted(OPTIONAL_FLUX_CRDS),
        help="an optional Flux controller installed with Flux, whose CRDs the cluster has (repeatable; with --tree)",
    )
    plan.add_argument("--mirror", metavar="REGISTRY", help="every image must come from here (default: the tree's)")
    plan.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")


def run(args: argparse.Namespace) -> int:
    """Run ``plan``; 0 when every plan comes up, 1 when any does not, 2 for usage errors."""
    from ..kernel.errors import ValidationError
    from ..kernel.tree_check.roots import find_tree_roots
    from . import plan_clusters, plan_tree
    from .charts import load_rendered

    if args.rendered and args.charts:
        print("sre-constructs plan: --rendered and --charts: give one", file=sys.stderr)
        return EXIT_USAGE
    if args.tree and args.clusters:
        print("sre-constructs plan: give cluster files or --tree DIR, not both", file=sys.stderr)
        return EXIT_USAGE
    if not args.tree and (args.known or args.repo_root or args.bootstrap or args.flux_crds):
        print(
            "sre-constructs plan: --with, --repo-root, --bootstrap-source and --flux-crds go with --tree DIR",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        rendered = load_rendered(args.rendered) if args.rendered else None
        if args.tree:
            # A repository of cluster folders: each tree root below it, each on its own cluster.
            roots = find_tree_roots(args.tree) if Path(args.tree).is_dir() and not args.known else []
            plans = [
                plan_tree(
                    root,
                    with_trees=args.known,
                    repo_root=args.repo_root,
                    rendered=rendered,
                    charts=args.charts,
                    mirror=args.mirror,
                    bootstrap=["flux-system", *args.bootstrap],
                    flux_crds=args.flux_crds,
                )
                for root in roots or [args.tree]
            ]
        else:
            plans = plan_clusters(args.clusters, rendered=rendered, charts=args.charts)
    except ValidationError as error:
        print(f"sre-constructs plan: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json" and len(plans) > 1:
        import json

        sys.stdout.write(json.dumps([p.to_dict() for p in plans], indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(p.render(args.format) for p in plans))
    return EXIT_UP if all(p.ok for p in plans) else EXIT_BLOCKED
