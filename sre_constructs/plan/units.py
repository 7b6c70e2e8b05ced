"""The units of a repository: each root folder, then every Flux Kustomization found, with the
objects it applies (read by :func:`~.source.build` from the files of its source).

A Kustomization's source is read when it serves the repository being planned: one of the
bootstrap sources, or an ``ExternalArtifact`` an ArtifactGenerator in the tree makes from them
(:mod:`.artifacts`). Any other source is another repository: the unit is ``unreadable`` and the
plan reports it as unknown. The bootstrap Kustomization found in the root folder it syncs (``flux
bootstrap``'s ``flux-system``, its path the cluster folder) is that root, not a second unit.

The trees of a cdk8s App are read the same way, in memory (:func:`app_trees`), from the folders
no Flux Kustomization of the others points at (:func:`roots_of`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from .artifacts import artifact_files, generators_of
from .source import BOOTSTRAP_SOURCES, FLUX_KUSTOMIZE, Files, Obj, Unit, build, cluster_scoped_guess

__all__ = ["app_trees", "load_units", "roots_of", "tree_files"]

_REPOSITORY_KINDS = (None, "GitRepository", "OCIRepository", "Bucket")


def _repo_path(path: str) -> str:
    """A Flux ``spec.path`` as a repository-relative folder (``./core/x`` -> ``core/x``)."""
    cleaned = posixpath.normpath("/" + path.strip()).lstrip("/")
    return cleaned or "."


def load_units(
    files: Files, roots: list[str], bootstrap: Iterable[str] = BOOTSTRAP_SOURCES
) -> tuple[list[Unit], list[str]]:
    """Every unit reachable from the roots: each root folder, then each Flux Kustomization found.

    Args:
        files: the repository.
        roots: the folders Flux is pointed at by hand (or by ``flux bootstrap``).
        bootstrap: the sources serving this repository (``NAME`` or ``NAMESPACE/NAME``).

    Returns:
        The units (roots first, then Flux Kustomizations in discovery order) and reader notes.
    """
    units: list[Unit] = []
    notes: list[str] = []
    by_name: dict[str, Unit] = {}
    mine = {name if "/" in name else f"flux-system/{name}" for name in bootstrap}
    queue: list[Unit] = []
    for root in roots:
        unit = Unit(f"<{root}>", None, root)
        unit.objects = build(files, root, unit.notes, unit.errors)
        units.append(unit)
        queue.append(unit)
    waiting: list[Unit] = []  # reading an ExternalArtifact whose generator is not found yet
    while queue or waiting:
        if not queue:
            # Every generator the tree has is known now: the rest read artifacts nothing makes.
            for unit in waiting:
                ref = (unit.kustomization.spec.get("sourceRef") or {}) if unit.kustomization else {}
                unit.unreadable = f"no ArtifactGenerator in the tree makes ExternalArtifact {ref.get('name')}"
            waiting = []
            break
        unit = queue.pop(0)
        for obj in unit.objects:
            if not obj.is_(FLUX_KUSTOMIZE, "Kustomization"):
                continue
            name = f"{obj.namespace or 'flux-system'}/{obj.name}"
            if name in by_name:
                other = by_name[name]
                notes.append(
                    f"Flux Kustomization {name} is defined twice: in "
                    f"{other.kustomization.file if other.kustomization else '?'} and {obj.file}; "
                    "the later apply replaces the earlier one"
                )
                continue
            child = Unit(name, obj, _repo_path(str(obj.spec.get("path") or ".")))
            source = obj.spec.get("sourceRef") or {}
            source_ns = str(source.get("namespace") or obj.namespace or "flux-system")
            if unit.kustomization is None and child.path == unit.path and f"{source_ns}/{source.get('name')}" in mine:
                continue  # flux bootstrap's own Kustomization, in the root folder it syncs: the root unit
            by_name[name] = child
            units.append(child)
            if source.get("kind") == "ExternalArtifact":
                waiting.append(child)
            else:
                _read(files, child, mine)
                queue.append(child)
        still = []
        for child in waiting:
            if _read_artifact(files, child, units, mine):
                queue.append(child)
            else:
                still.append(child)
        waiting = still
    return units, notes


def _read(files: Files, child: Unit, mine: set[str]) -> None:
    assert child.kustomization is not None
    obj = child.kustomization
    source = obj.spec.get("sourceRef") or {}
    ref = f"{source.get('namespace') or obj.namespace or 'flux-system'}/{source.get('name')}"
    kind = source.get("kind") or "GitRepository"
    if source.get("kind") not in _REPOSITORY_KINDS:
        child.unreadable = f"its source {kind} {ref} is not read"
    elif ref not in mine:
        child.unreadable = (
            f"its source {kind} {ref} is another repository than the one planned (name it with "
            "--bootstrap-source if it serves this one)"
        )
    elif not files.is_dir(child.path):
        child.errors.append(f"spec.path {obj.spec.get('path')!r} is not a folder of this repository")
    else:
        child.objects = _namespaced(child, build(files, child.path, child.notes, child.errors))


def _read_artifact(files: Files, child: Unit, units: list[Unit], mine: set[str]) -> bool:
    """Read ``child`` from the ExternalArtifact a generator in the tree makes; ``False``: none yet."""
    assert child.kustomization is not None
    obj = child.kustomization
    source = obj.spec.get("sourceRef") or {}
    key = (str(source.get("namespace") or obj.namespace or "flux-system"), str(source.get("name")))
    found = generators_of([o for u in units for o in u.objects]).get(key)
    if found is None:
        return False
    generator, artifact = found
    artifact_tree, why = artifact_files(files, generator, artifact, mine)
    if artifact_tree is None:
        child.unreadable = why
    elif not artifact_tree.is_dir(child.path):
        child.errors.append(
            f"spec.path {obj.spec.get('path')!r} is not a folder of ExternalArtifact {key[0]}/{key[1]} "
            f"(what {generator.label} copies into it)"
        )
    else:
        child.objects = _namespaced(child, build(artifact_tree, child.path, child.notes, child.errors))
    return True


def _namespaced(child: Unit, objects: list[Obj]) -> list[Obj]:
    """The objects with the Kustomization's ``targetNamespace`` applied."""
    target_ns = child.kustomization.spec.get("targetNamespace") if child.kustomization else None
    if isinstance(target_ns, str) and target_ns:
        for item in objects:
            if not cluster_scoped_guess(item):
                item.body = {**item.body, "metadata": {**item.metadata, "namespace": target_ns}}
    return objects


def app_trees(scope: Any, paths: Iterable[str] | None = None) -> dict[str, bytes]:
    """Every file of the trees of a cdk8s App (or one tree construct; or the trees at ``paths``),
    rendered in memory, nothing written, by repository path (``<tree_path>/<file>``)."""
    from ..kernel.tree import render_trees

    return tree_files(render_trees(scope, paths))


def tree_files(trees: Iterable[tuple[str, Mapping[str, bytes]]]) -> dict[str, bytes]:
    """The files of rendered trees (``(tree path, {relative path: bytes})``) by repository path."""
    return {posixpath.normpath(posixpath.join(path, rel)): data for path, tree in trees for rel, data in tree.items()}


def roots_of(files: Files, paths: Iterable[str]) -> list[str]:
    """The tree folders no Flux Kustomization of the others points at: where Flux is pointed by
    hand (all of them when each is pointed at). A tree whose own Kustomization syncs it (``flux
    bootstrap``'s ``flux-system`` in the cluster folder) is still a root."""
    paths = [posixpath.normpath(p) for p in paths]
    targets = {
        target
        for path in paths
        if files.is_dir(path)
        for obj in build(files, path, [], [])
        if obj.is_(FLUX_KUSTOMIZE, "Kustomization")
        for target in [posixpath.normpath("/" + str(obj.spec.get("path") or "")).lstrip("/")]
        if target != path
    }
    return [p for p in paths if p not in targets] or paths
