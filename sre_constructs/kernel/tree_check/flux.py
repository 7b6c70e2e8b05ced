"""Flux checks: the repository root, spec.path, dependsOn, HelmRelease sources, healthChecks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from pathlib import Path
from typing import Any

from .model import (
    FLUX_HELM_GROUP,
    FLUX_KUSTOMIZE_GROUP,
    FLUX_SOURCE_GROUP,
    Doc,
    Tree,
    as_dict,
    as_list,
    flux_path_parts,
    group_of,
)

# Workloads that Helm charts render inside the cluster: invisible in the tree.
_CHART_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})


def infer_repo_root(tree: Tree) -> Path:
    """The folder the tree's Flux Kustomization paths are relative to, from the tree alone.

    Every ancestor of the tree root (the root included) is a candidate; a candidate scores for each
    path that resolves under it to a folder (in this tree, with a kustomization.yaml: better). A
    tree at ``<x>/clusters/lab/core`` whose Kustomizations point at ``./clusters/lab/core/<name>``
    gives ``<x>``, and so does ``<x>/clusters/lab/flux/sync`` pointing at ``./clusters/lab/core``.
    When no path resolves, the root is the folder whose tail the paths name (``<x>`` for paths
    ``./clusters/lab/core/<name>``), else the tree root itself.
    """
    candidates = [tree.root, *tree.root.parents]
    scores: dict[Path, tuple[int, int, int]] = {}
    tails: dict[Path, int] = {}
    for doc in tree.flux_kustomizations():
        parts = flux_path_parts(doc.spec.get("path"))
        if not parts:
            continue
        for candidate in candidates:
            target = candidate.joinpath(*parts)
            if target.is_dir():
                inside = target.resolve().is_relative_to(tree.root)
                resolves, in_tree, kustomized = scores.get(candidate, (0, 0, 0))
                scores[candidate] = (
                    resolves + 1,
                    in_tree + int(inside),
                    kustomized + int((target / "kustomization.yaml").is_file()),
                )
        prefix = parts[:-1]
        if len(prefix) < len(tree.root.parts) and (not prefix or list(tree.root.parts[-len(prefix) :]) == prefix):
            tail = tree.root.parents[len(prefix) - 1] if prefix else tree.root
            tails[tail] = tails.get(tail, 0) + 1
    if scores:
        # Most paths resolving, then into this tree, then kustomized; then the innermost: deterministic.
        return max(scores, key=lambda p: (*scores[p], len(p.parts)))
    if tails:
        return max(tails, key=lambda p: (tails[p], -len(p.parts), str(p)))
    return tree.root


def _source_of(doc: Doc) -> tuple[str, str, str]:
    ref = as_dict(doc.spec.get("sourceRef"))
    return (str(ref.get("kind")), str(ref.get("namespace") or doc.namespace or ""), str(ref.get("name")))


def _elsewhere(tree: Tree, repo_root: Path) -> set[tuple[str, str, str]]:
    """Sources defined in this tree that are not the repository holding it (a team's own Git
    repository or OCI artifact): Kustomizations reading them have their folders elsewhere.

    The tree's own sources are those of the Kustomizations whose paths lead into the tree; with
    none of those, nothing is taken for elsewhere.
    """
    own: set[tuple[str, str, str]] = set()
    for doc in tree.flux_kustomizations():
        parts = flux_path_parts(doc.spec.get("path"))
        if parts and repo_root.joinpath(*parts).resolve().is_relative_to(tree.root.resolve()):
            own.add(_source_of(doc))
    if not own:
        return set()
    defined = {
        (d.kind, d.namespace or "", d.name)
        for d in tree.docs
        if group_of(d.api_version) == FLUX_SOURCE_GROUP and d.kind in ("GitRepository", "OCIRepository", "Bucket")
    }
    return defined - own


def check_flux_paths(tree: Tree, repo_root: Path) -> None:
    """Every Flux Kustomization spec.path is a folder of the repository (with a kustomization.yaml: a note).

    A Kustomization reading a source this tree defines for another repository is noted, not checked.
    """
    elsewhere = _elsewhere(tree, repo_root)
    for doc in tree.flux_kustomizations():
        path = doc.spec.get("path")
        source = _source_of(doc)
        if source[0] not in ("GitRepository", "OCIRepository", "Bucket", "None"):
            kind, namespace, name = source
            tree.note(
                doc.file,
                "flux-path",
                f"{doc.label}: field spec.path {path!r} is a folder of {kind} {namespace}/{name}, not of this "
                "repository; not checked here (sre-constructs plan follows an ArtifactGenerator's copies)",
            )
            continue
        if source in elsewhere:
            kind, namespace, name = source
            tree.note(
                doc.file,
                "flux-path",
                f"{doc.label}: field spec.path {path!r} is a folder of {kind} {namespace}/{name}, another "
                "repository this tree defines; not checked here",
            )
            continue
        if not isinstance(path, str) or not path:
            tree.add(
                doc.file, "flux-path", f"{doc.label}: field spec.path is {path!r}; expected './<repo-path>/<name>'"
            )
            continue
        parts = flux_path_parts(path)
        if parts is None:
            tree.add(
                doc.file,
                "flux-path",
                f"{doc.label}: field spec.path {path!r} leaves the repository root {repo_root}; "
                "expected a path inside it",
            )
            continue
        target = repo_root.joinpath(*parts)
        where = f"{doc.label}: field spec.path {path!r} resolves to {target} (repo root {repo_root})"
        if not target.is_dir():
            tree.add(doc.file, "flux-path", f"{where}, which is not a folder; expected a folder of the repository")
        elif not (target / "kustomization.yaml").is_file():
            # Valid: Flux generates a kustomization.yaml of every manifest below the folder.
            tree.note(
                doc.file,
                "flux-path",
                f"{where}, which has no kustomization.yaml (Flux generates one); "
                "this library writes one in every folder",
            )


# ----------------------------------------------------------------- depends-on


def check_depends_on(tree: Tree, known: Set[tuple[str, str, str]] = frozenset()) -> None:
    """Check 6: dependsOn targets exist (Kustomizations, HelmReleases) and do not cycle.

    Args:
        known: ``(kind, namespace, name)`` of objects in other trees of the same cluster.
    """
    for group, kind in ((FLUX_KUSTOMIZE_GROUP, "Kustomization"), (FLUX_HELM_GROUP, "HelmRelease")):
        objs = [d for d in tree.docs if d.is_(group, kind)]
        present = {(d.namespace or "", d.name): d for d in objs}
        graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for doc in objs:
            me = (doc.namespace or "", doc.name)
            graph.setdefault(me, [])
            for i, dep in enumerate(as_list(doc.spec.get("dependsOn"))):
                dep = as_dict(dep)
                name = dep.get("name")
                ns = dep.get("namespace") or doc.namespace or ""
                if (ns, name) not in present and (kind, ns, name) in known:
                    continue  # in another tree of the cluster: no edge to follow here
                if (ns, name) not in present:
                    tree.add(
                        doc.file,
                        "depends-on",
                        f"{doc.label}: field spec.dependsOn[{i}] names {kind} {ns}/{name}, "
                        f"which is not in the tree; expected one of {_names(present)}",
                    )
                else:
                    graph[me].append((ns, str(name)))
        for cycle in _cycles(graph):
            first = present[cycle[0]]
            chain = " -> ".join(f"{ns}/{name}" for ns, name in [*cycle, cycle[0]])
            tree.add(
                first.file,
                "depends-on",
                f"{first.label}: field spec.dependsOn forms a cycle of {kind}s: {chain}; "
                "expected an acyclic dependency graph",
            )


# ----------------------------------------------------------------- sources


def check_sources(tree: Tree) -> None:
    """HelmRelease chart sources (spec.chart.spec.sourceRef / spec.chartRef) exist in the tree."""
    sources = {(d.kind, d.namespace or "", d.name) for d in tree.docs if group_of(d.api_version) == FLUX_SOURCE_GROUP}
    for doc in tree.docs:
        if not doc.is_(FLUX_HELM_GROUP, "HelmRelease"):
            continue
        chart_ref = doc.spec.get("chartRef")
        source_ref = as_dict(as_dict(as_dict(doc.spec.get("chart")).get("spec")).get("sourceRef"))
        refs = []
        if isinstance(chart_ref, dict):
            refs.append(("spec.chartRef", chart_ref))
        if source_ref:
            refs.append(("spec.chart.spec.sourceRef", source_ref))
        if not refs:
            tree.add(
                doc.file,
                "source",
                f"{doc.label}: neither spec.chart.spec.sourceRef nor spec.chartRef is set; "
                "expected one naming a source in the tree",
            )
        for where, ref in refs:
            key = (str(ref.get("kind")), str(ref.get("namespace") or doc.namespace or ""), str(ref.get("name")))
            if key not in sources:
                known = sorted(f"{k} {ns}/{n}" for k, ns, n in sources)
                tree.add(
                    doc.file,
                    "source",
                    f"{doc.label}: field {where} names {key[0]} {key[1]}/{key[2]}, which is not "
                    f"in the tree; expected one of {known}",
                )


# ----------------------------------------------------------------- health checks


def check_health_checks(tree: Tree) -> None:
    """Check 7: healthChecks name objects of the tree (or a plausible namespace for chart workloads)."""
    namespaces = {d.name for d in tree.docs if d.api_version == "v1" and d.kind == "Namespace"}
    release_namespaces: set[str] = set()
    for d in tree.docs:
        if d.is_(FLUX_HELM_GROUP, "HelmRelease"):
            release_namespaces.update(ns for ns in (d.namespace, d.spec.get("targetNamespace")) if isinstance(ns, str))
    objects = [(d.api_version, d.kind, d.name, d.namespace) for d in tree.docs]
    for doc in tree.flux_kustomizations():
        checks = as_list(doc.spec.get("healthChecks"))
        if checks and doc.spec.get("wait") is True:
            tree.add(
                doc.file,
                "health-check",
                f"{doc.label}: field spec.wait is true and spec.healthChecks has {len(checks)} "
                "entries, which Flux ignores when wait is true; expected wait false or no healthChecks",
            )
        for i, check in enumerate(checks):
            check = as_dict(check)
            api, kind, name, ns = (
                check.get("apiVersion"),
                check.get("kind"),
                check.get("name"),
                check.get("namespace"),
            )
            what = f"{doc.label}: field spec.healthChecks[{i}] ({api} {kind} {ns or ''}/{name})"
            if kind in _CHART_WORKLOAD_KINDS:
                # Rendered by a chart, so invisible here: only its namespace can be checked.
                if not ns or (ns not in namespaces and ns not in release_namespaces):
                    tree.add(
                        doc.file,
                        "health-check",
                        f"{what} has namespace {ns!r}, which is neither a Namespace nor a "
                        f"HelmRelease namespace in the tree; expected one of "
                        f"{sorted(namespaces | release_namespaces)}",
                    )
                continue
            # An omitted namespace acts as a local reference (the Kustomization's own namespace).
            want_ns = ns or doc.namespace
            if not any(
                k == kind and n == name and (api is None or a == api) and (o_ns is None or o_ns == want_ns)
                for a, k, n, o_ns in objects
            ):
                tree.add(
                    doc.file,
                    "health-check",
                    f"{what} names no object in the tree; expected an object the tree "
                    "defines (same apiVersion, kind, namespace, name)",
                )


def _names(present: Mapping[tuple[str, str], Any]) -> list[str]:
    return sorted(f"{ns}/{name}" for ns, name in present)


def _cycles(graph: Mapping[tuple[str, str], list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """Every distinct cycle met by a depth-first search (back edges), rotated to start at its least node."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    found: set[tuple[tuple[str, str], ...]] = set()

    for start in sorted(graph):
        if color[start] != white:
            continue
        stack: list[tuple[tuple[str, str], Iterator[tuple[str, str]]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        color[start] = grey
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                color[node] = black
                continue
            if color.get(child, black) == grey:
                cycle = path[path.index(child) :]
                pivot = cycle.index(min(cycle))
                found.add(tuple(cycle[pivot:] + cycle[:pivot]))
            elif color.get(child) == white:
                color[child] = grey
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return [list(c) for c in sorted(found)]
