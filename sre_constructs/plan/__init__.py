"""The bring-up plan: before anything reaches a cluster, show that a Flux tree comes up.

:func:`plan_tree` reads any written Flux tree (ours or hand-written YAML); :func:`plan_app`
plans the trees of a cdk8s App in memory (the same reader and simulation, so both agree);
:func:`plan_clusters` plans cluster files. Each returns a :class:`Plan`: the Kustomizations in
``dependsOn`` waves, what each applies and waits for, the manual steps, and every blocker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..kernel.errors import ValidationError
from ..kernel.tree_check import infer_repo_root
from .alerting import alert_delivery_notes
from .challenges import challenge_blockers
from .engine import simulate
from .exposure import exposure_blockers
from .kinds import OPTIONAL_FLUX_CRDS
from .model import Blocker
from .report import Plan, build_plan
from .scrapes import unscraped_panels, unscraped_rules
from .source import BOOTSTRAP_SOURCES, Files, Obj, Unit
from .units import load_units, roots_of, tree_files

__all__ = ["Blocker", "Plan", "plan_app", "plan_clusters", "plan_files", "plan_tree", "plan_units"]


def plan_files(
    files: Files,
    roots: Sequence[str],
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    charts: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    title: str = "",
    bootstrap: Sequence[str] = BOOTSTRAP_SOURCES,
    flux_crds: Sequence[str] = (),
) -> Plan:
    """Plan the trees at ``roots`` (repository-relative folders) of one repository.

    Args:
        files: the repository.
        roots: the folders Flux is pointed at by hand (or by ``flux bootstrap``).
        rendered: helm template output per ``(namespace, release)``
            (:func:`~sre_constructs.plan.charts.load_rendered`); enables the pod checks.
        charts: a folder of charts to render with ``helm`` instead (see :mod:`.charts`).
        mirror: the registry every image must come from. Default: inferred from the tree.
        title: what the plan is of, for its heading.
        bootstrap: the sources ``flux bootstrap`` made, ``NAME`` or ``NAMESPACE/NAME`` (namespace
            ``flux-system`` by default). Default: ``flux-system`` only.
        flux_crds: optional Flux controllers installed with Flux, whose CRDs the cluster has from
            the start (``artifactgenerator``: source-watcher). Default: none.

    Raises:
        ValidationError: ``flux_crds`` names a controller the plan does not know.
    """
    units, notes = load_units(files, list(roots), bootstrap)
    return plan_units(
        units,
        notes,
        rendered=rendered,
        charts=charts,
        mirror=mirror,
        title=title or ", ".join(roots),
        bootstrap=bootstrap,
        flux_crds=flux_crds,
    )


def plan_units(
    units: list[Unit],
    notes: Sequence[str] = (),
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    charts: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    title: str = "",
    bootstrap: Sequence[str] = BOOTSTRAP_SOURCES,
    flux_crds: Sequence[str] = (),
) -> Plan:
    """Plan units already read with :func:`~sre_constructs.plan.units.load_units` (``notes``: its
    reader notes, with the ``bootstrap`` they were read with); the other arguments as for
    :func:`plan_files`, which reads and calls this.

    Raises:
        ValidationError: ``flux_crds`` names a controller the plan does not know.
    """
    for name in flux_crds:
        if name not in OPTIONAL_FLUX_CRDS:
            raise ValidationError("plan", "flux_crds", name, f"one of {', '.join(sorted(OPTIONAL_FLUX_CRDS))}")
    notes = list(notes)
    if charts is not None:
        from .charts import render_charts

        rendered, chart_notes = render_charts(Path(charts), units)
        notes = notes + chart_notes
    outcome = simulate(
        units,
        rendered=rendered,
        mirror=mirror if mirror is not None else infer_mirror(units),
        bootstrap=bootstrap,
        flux_crds=flux_crds,
    )
    outcome.blockers.extend(unscraped_rules(units))
    outcome.blockers.extend(exposure_blockers(units, rendered))  # exposed hosts, end to end
    outcome.blockers.extend(challenge_blockers(units))  # ACME HTTP-01 through the gateway
    outcome.notes[:0] = notes + [n for u in units for n in (f"{u.name}: {note}" for note in u.notes)]
    outcome.notes.extend(alert_delivery_notes(units))
    outcome.notes.extend(unscraped_panels(units))
    return build_plan(outcome, title)


def infer_mirror(units: Sequence[Any]) -> str | None:
    """The registry mirror a tree uses: its ``registry-mirror`` HelmRepository, or an OCIRepository
    under ``<mirror>/charts``, as the library writes them (``None`` when there is none)."""
    for unit in units:
        for obj in unit.objects:
            url = str(obj.spec.get("url") or "")
            if obj.group == "source.toolkit.fluxcd.io" and obj.name == "registry-mirror" and url.startswith("oci://"):
                return url[len("oci://") :].removesuffix("/charts")
    return None


def plan_tree(
    root: str | os.PathLike[str],
    *,
    with_trees: Sequence[str | os.PathLike[str]] = (),
    repo_root: str | os.PathLike[str] | None = None,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    charts: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    bootstrap: Sequence[str] = BOOTSTRAP_SOURCES,
    flux_crds: Sequence[str] = (),
) -> Plan:
    """Plan a written tree (and the trees given with it, applied to the same cluster).

    Args:
        root: the tree root: the folder holding the kustomization.yaml that lists its sources and
            Flux Kustomizations (or a folder of Flux Kustomizations without one).
        with_trees: other trees on the same cluster (the platform a team tree waits for).
        repo_root: the repository root Flux paths are relative to. Default: inferred from the
            paths the tree's Flux Kustomizations record.
        rendered: helm template output per release (see :func:`~sre_constructs.plan.charts.load_rendered`).
        charts: a folder of charts to render with ``helm`` (see :mod:`sre_constructs.plan.charts`).
        mirror: the registry every image must come from. Default: inferred from the tree.
        bootstrap: the sources ``flux bootstrap`` made (see :func:`plan_files`). Default: ``flux-system``.
        flux_crds: optional Flux controllers installed with Flux (see :func:`plan_files`). Default: none.

    Raises:
        ValidationError: a folder does not exist.
    """
    trees = [Path(root), *(Path(t) for t in with_trees)]
    for tree in trees:
        if not tree.is_dir():
            raise ValidationError("plan", "tree", str(tree), "an existing folder holding a Flux tree")
    if repo_root is not None and not Path(repo_root).is_dir():
        raise ValidationError("plan", "repo_root", str(repo_root), "an existing folder")
    base = Path(repo_root).resolve() if repo_root is not None else infer_repo_root(trees[0])
    roots = []
    for tree in trees:
        absolute = tree.resolve()
        if not absolute.is_relative_to(base):
            base = Path(os.path.commonpath([base, absolute]))
        roots.append(absolute)
    return plan_files(
        Files(base),
        [r.relative_to(base).as_posix() or "." for r in roots],
        rendered=rendered,
        charts=charts,
        mirror=mirror,
        title=str(root),
        bootstrap=bootstrap,
        flux_crds=flux_crds,
    )


def plan_app(
    scope: Any,
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    charts: str | os.PathLike[str] | None = None,
    title: str = "",
) -> Plan:
    """Plan every tree of a cdk8s App (or one tree construct), rendered in memory, nothing written."""
    from ..kernel.tree import render_trees

    trees = render_trees(scope)
    in_memory = Files(files=tree_files(trees))
    roots = roots_of(in_memory, [path for path, _ in trees])
    return plan_files(in_memory, roots, rendered=rendered, charts=charts, title=title or ", ".join(roots))


def plan_clusters(
    cluster_files: Sequence[str | os.PathLike[str]],
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    charts: str | os.PathLike[str] | None = None,
) -> list[Plan]:
    """Plan each cluster file (none: the default platform), each on its own empty cluster."""
    from cdk8s import App

    from ..cluster import DEFAULT_CLUSTER, load_cluster
    from ..fleet import build_fleet

    specs = [load_cluster(Path(f)) for f in cluster_files] if cluster_files else [DEFAULT_CLUSTER]
    plans = []
    for spec in specs:
        app = App()
        build_fleet(app, [spec])
        plans.append(plan_app(app, rendered=rendered, charts=charts, title=f"cluster {spec.name}"))
    return plans
