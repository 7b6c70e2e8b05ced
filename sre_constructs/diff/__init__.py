"""``sre-constructs diff``: what a change does to each cluster, object by object, and how risky it is.

:func:`diff_trees` compares two written Flux trees (ours or hand-written); :func:`diff_clusters`
compares the trees the code produces now (synthesized in memory, nothing written) with the trees
committed at a git revision; :func:`diff_files` compares two repositories given as files;
:func:`diff_folders` compares two folders as ``diff --tree`` takes them (two trees, or two
repositories holding a tree per cluster). Each
returns a :class:`TreeDiff`: per Flux Kustomization, the objects added, pruned, changed (field
paths, old -> new) and moved, each with its risk (:data:`LEVELS`) and the reason; and what changes
in the bring-up plan (new blockers, new manual steps). Modules: ``read`` (both sides), ``match``
(identities and renames), ``fields`` (field paths), ``levels`` and ``model`` (the diff as data),
``risk``, ``charts`` (``--charts``), ``render`` (text, Markdown, JSON), ``command`` (the CLI).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..kernel.errors import ValidationError
from ..plan.source import Files, Obj
from ..plan.units import app_trees, roots_of
from .match import match
from .model import FAIL_ON, LEVELS, FieldChange, KustomizationDiff, ObjectChange, PlanChange, Risk, TreeDiff
from .read import Snapshot, git_files, git_toplevel, snapshot
from .render import FORMATS, render
from .risk import Context, assess

__all__ = [
    "FAIL_ON",
    "FORMATS",
    "LEVELS",
    "FieldChange",
    "KustomizationDiff",
    "ObjectChange",
    "PlanChange",
    "Risk",
    "TreeDiff",
    "diff_clusters",
    "diff_files",
    "diff_folders",
    "diff_trees",
    "render",
]

_NETPOL = ("networking.k8s.io", "NetworkPolicy")


def diff_files(
    old: Files,
    new: Files,
    roots: Sequence[str],
    *,
    new_roots: Sequence[str] | None = None,
    charts: str | os.PathLike[str] | None = None,
    plan: bool = True,
    title: str = "",
) -> TreeDiff:
    """Compare two repositories: what the Flux Kustomizations reachable from ``roots`` apply.

    Args:
        old, new: the repository before and after (files on disk or in memory).
        roots: the folders Flux is pointed at (repository-relative). A root missing on the old
            side counts as empty: everything is added.
        new_roots: the new side's roots when they differ. Default: ``roots``.
        charts: a folder of charts (``<chart>-<version>.tgz`` or ``<chart>/``) to render every
            HelmRelease with ``helm`` from PATH; the rendered objects are compared too.
        plan: also compare the bring-up plans (new blockers are ``blocking``, new manual steps
            ``upgrade``). Default true.
        title: what is compared, for the heading.
    """
    before = snapshot(old, roots)
    after = snapshot(new, new_roots if new_roots is not None else roots)
    result = TreeDiff(title or ", ".join(roots))
    changes = match(before.objects, after.objects, before.prunes)
    old_rendered: dict[tuple[str, str], list[Obj]] | None = None
    new_rendered: dict[tuple[str, str], list[Obj]] | None = None
    if charts is not None:
        from ..plan.charts import render_charts
        from .charts import rendered_changes

        old_rendered, old_notes = render_charts(Path(charts), before.units) if before.roots else ({}, [])
        new_rendered, new_notes = render_charts(Path(charts), after.units)
        result.notes += sorted(set(new_notes) | {f"old side: {n}" for n in old_notes if n not in new_notes})
        chart_changes, chart_notes = rendered_changes(before, after, old_rendered, new_rendered)
        changes += chart_changes
        result.notes += chart_notes
    context = _context(before, after, new_rendered)
    context.pruned_namespaces = {c.name for c in changes if (c.group, c.kind, c.action) == ("", "Namespace", "removed")}
    assess(changes, context)
    by_unit: dict[str, KustomizationDiff] = {}
    for change in changes:
        by_unit.setdefault(change.kustomization, KustomizationDiff(change.kustomization)).changes.append(change)
    result.kustomizations = [by_unit[name] for name in sorted(by_unit)]
    if plan:
        result.plan = _plan_changes(before, after, old_rendered, new_rendered)
    if not before.roots:
        result.notes.append(f"the old side has no tree at {', '.join(roots)}: everything is new")
    result.notes += sorted(set(after.notes))
    return result


def _context(before: Snapshot, after: Snapshot, rendered: Mapping[tuple[str, str], list[Obj]] | None) -> Context:
    objects = [obj for _, obj in after.objects.values()] + [o for objs in (rendered or {}).values() for o in objs]
    return Context(
        forces=after.forces,
        old_namespaces={key[3] for key in before.objects if key[:2] == ("", "Namespace")},
        policy_namespaces={o.namespace for o in objects if (o.group, o.kind) == _NETPOL}
        | {ns for (ns, _), objs in (rendered or {}).items() for o in objs if (o.group, o.kind) == _NETPOL},
        api_versions={o.api_version for o in objects},
    )


def _plan_changes(
    before: Snapshot,
    after: Snapshot,
    old_rendered: Mapping[tuple[str, str], list[Obj]] | None,
    new_rendered: Mapping[tuple[str, str], list[Obj]] | None,
) -> list[PlanChange]:
    from ..plan import plan_units

    # The snapshots' units, read once: the plan reads the same files with the same reader.
    now = plan_units(after.units, rendered=new_rendered) if after.roots else None
    was = plan_units(before.units, rendered=old_rendered) if before.roots else None
    if now is None:
        return []
    known = {str(b) for b in was.blockers} if was is not None else set()
    steps = {m["what"] for m in was.manual_steps} if was is not None else set()
    found = [
        PlanChange("blocking", f"new plan blocker [{b.kind}]", str(b)) for b in now.blockers if str(b) not in known
    ]
    found += [
        PlanChange("upgrade", "new manual step", f"{m['what']} ({m['after']})")
        for m in now.manual_steps
        if m["what"] not in steps
    ]
    return found


def diff_trees(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    old_repo_root: str | os.PathLike[str] | None = None,
    new_repo_root: str | os.PathLike[str] | None = None,
    charts: str | os.PathLike[str] | None = None,
    plan: bool = True,
) -> TreeDiff:
    """Compare two written Flux trees (ours or hand-written), each a folder Flux is pointed at.

    Args:
        old, new: the tree roots.
        old_repo_root, new_repo_root: the repository roots their Flux paths are relative to.
            Default: inferred from the paths each tree's Flux Kustomizations record.
        charts: see :func:`diff_files`.
        plan: see :func:`diff_files`.

    Raises:
        ValidationError: a folder does not exist.
    """
    from ..kernel.tree_check import infer_repo_root

    sides = []
    for tree, root in ((old, old_repo_root), (new, new_repo_root)):
        if not Path(tree).is_dir():
            raise ValidationError("diff", "--tree", str(tree), "an existing folder holding a Flux tree")
        if root is not None and not Path(root).is_dir():
            raise ValidationError("diff", "--repo-root", str(root), "an existing folder")
        base = Path(root).resolve() if root is not None else infer_repo_root(tree)
        absolute = Path(tree).resolve()
        if not absolute.is_relative_to(base):
            base = absolute
        sides.append((Files(base), absolute.relative_to(base).as_posix() or "."))
    (old_files, old_root), (new_files, new_root) = sides
    return diff_files(
        old_files, new_files, [old_root], new_roots=[new_root], charts=charts, plan=plan, title=f"{old} -> {new}"
    )


def diff_folders(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    *,
    repo_root: str | os.PathLike[str] | None = None,
    charts: str | os.PathLike[str] | None = None,
    plan: bool = True,
) -> list[TreeDiff]:
    """Compare two folders as ``diff --tree`` takes them: two tree roots (one diff, :func:`diff_trees`),
    or two repositories with tree roots below them (``clusters/<name>`` beside ``flux-system/``,
    this library's ``clusters/<name>/flux/platform-sync``), found as ``validate`` and ``plan --tree``
    find them: one diff per root Flux is pointed at, by its path in the repository (a root on one
    side only: everything added, or pruned). A root another root's Kustomization applies is compared
    as part of that one.

    Args:
        old, new: the folders.
        repo_root: the repository root both sides' Flux paths are relative to. Default: inferred
            per tree; for repositories, each folder itself.
        charts, plan: see :func:`diff_files`.

    Raises:
        ValidationError: a folder does not exist.
    """
    from ..kernel.tree_check.roots import find_tree_roots

    for folder in (old, new):
        if not Path(folder).is_dir():
            raise ValidationError("diff", "--tree", str(folder), "an existing folder holding a Flux tree")
    found = [find_tree_roots(Path(folder)) for folder in (old, new)]
    if any(roots in ([], [Path(folder)]) for roots, folder in zip(found, (old, new), strict=True)):
        return [diff_trees(old, new, old_repo_root=repo_root, new_repo_root=repo_root, charts=charts, plan=plan)]
    sides = []
    for folder, roots in zip((old, new), found, strict=True):
        base = Path(repo_root if repo_root is not None else folder).resolve()
        files = Files(base)
        inside = [r.resolve() for r in roots if r.resolve().is_relative_to(base)]
        sides.append((files, roots_of(files, [r.relative_to(base).as_posix() for r in inside])))
    (old_files, old_roots), (new_files, new_roots) = sides
    return [
        diff_files(old_files, new_files, [root], charts=charts, plan=plan, title=f"{root} ({old} -> {new})")
        for root in sorted(set(old_roots) | set(new_roots))
    ]


def diff_clusters(
    cluster_files: Sequence[str | os.PathLike[str]],
    *,
    base: str,
    out: str | os.PathLike[str] = "dist",
    repo_root: str | os.PathLike[str] | None = None,
    charts: str | os.PathLike[str] | None = None,
    plan: bool = True,
) -> list[TreeDiff]:
    """Compare the trees each cluster file produces now with the trees committed at git revision ``base``.

    The trees are synthesized in memory (one App, nothing written) at the paths ``synth --out OUT``
    writes them to; the committed ones are read from ``<OUT>/<tree path>`` at ``base`` with git.

    Args:
        cluster_files: cluster files; none = the default platform (its tree at ``<out>/core``).
        base: the git revision (a branch, tag or commit) to compare with.
        out: where ``synth`` writes the trees (``synth --out``). Default ``dist``.
        repo_root: the git repository ``out`` is committed to. Default: the one holding ``out``.
        charts: see :func:`diff_files`.
        plan: see :func:`diff_files`.

    Raises:
        ValidationError: a bad cluster file, ``out`` outside the repository, ``base`` not a commit.
    """
    from cdk8s import App

    from ..cluster import DEFAULT_CLUSTER, load_cluster
    from ..fleet import build_fleet

    specs = [load_cluster(Path(f)) for f in cluster_files] if cluster_files else [DEFAULT_CLUSTER]
    repo = Path(repo_root).resolve() if repo_root is not None else git_toplevel(out)
    target = Path(out).resolve()
    if not target.is_relative_to(repo):
        raise ValidationError("diff", "--out", str(out), f"a folder inside the repository {repo}")
    prefix = target.relative_to(repo).as_posix()
    app = App()
    clusters = build_fleet(app, specs)
    diffs = []
    for cluster in clusters:
        paths = cluster.tree_paths
        new = Files(files=app_trees(app, paths))
        old = Files(files=git_files(repo, base, prefix, paths))
        roots = roots_of(new, paths)
        diffs.append(
            diff_files(old, new, roots, charts=charts, plan=plan, title=f"cluster {cluster.spec.name} ({base} -> now)")
        )
    return diffs
