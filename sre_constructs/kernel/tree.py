"""The tree writer: every PlatformChart becomes a kustomize tree, written atomically.

cdk8s writes flat files (or one folder per chart); Flux needs a nested tree. So the writer renders
each PlatformChart to ``{relative path: bytes}`` in memory first (:mod:`.tree_render`), and only
then touches the disk (:mod:`.staging`): a staging folder beside the old tree, swapped in with one
atomic rename, one writer per outdir at a time (:mod:`.outdir_lock`). A failure at any point
leaves the previous tree byte for byte, and nothing outside ``<outdir>/<path>`` is touched.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Construct

from .errors import ValidationError
from .outdir_lock import OutdirBusyError, outdir_lock
from .paths import path_of
from .platform_chart import PlatformChart
from .staging import clean_leftovers, make_durable, stage_all, swap_in
from .tree_render import dump_yaml, render_tree

__all__ = ["OutdirBusyError", "TreeDriftError", "dump_yaml", "render_tree", "render_trees", "write_tree"]


@dataclass
class TreeDriftError(Exception):
    """The tree on disk differs from what would be written (``check=True``).

    Attributes:
        root: the tree directory.
        added: files that would be created.
        changed: files whose content would change.
        removed: files that would be deleted.
    """

    root: Path
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"{self.root}: the tree is stale ({len(self.added)} added, {len(self.changed)} changed, "
            f"{len(self.removed)} removed); run the synth and commit the result"
        ]
        lines += [f"  + {p}" for p in self.added]
        lines += [f"  ~ {p}" for p in self.changed]
        lines += [f"  - {p}" for p in self.removed]
        return "\n".join(lines)


def _is_tree(node: Any) -> bool:
    """A PlatformChart, or another tree kind: a construct whose class sets ``_sre_tree_kind`` and
    that has ``tree_path`` and ``render_files() -> {relative path: bytes}`` (e.g. ``fleet.FluxSync``)."""
    return isinstance(node, PlatformChart) or bool(getattr(type(node), "_sre_tree_kind", False))


def _render(chart: Any) -> dict[str, bytes]:
    return render_tree(chart) if isinstance(chart, PlatformChart) else chart.render_files()


def _platform_charts(scope: Construct) -> list[Any]:
    if not isinstance(scope, Construct):
        raise ValidationError("write_tree", "scope", scope, "a construct: the cdk8s App or a Chart")
    if _is_tree(scope):
        return [scope]
    return [n for n in scope.node.find_all() if _is_tree(n)]


def render_trees(scope: Construct, paths: Iterable[str] | None = None) -> list[tuple[str, dict[str, bytes]]]:
    """Every tree under ``scope`` (or those at ``paths``) rendered in memory, nothing written: its
    normalized tree path and its files (``{relative path: bytes}``), in the order the trees were made."""
    wanted = None if paths is None else {posixpath.normpath(p) for p in paths}
    found = []
    for tree in _platform_charts(scope):
        path = posixpath.normpath(str(tree.tree_path))
        if wanted is None or path in wanted:
            found.append((path, _render(tree)))
    return found


def _check_writable(where: str, field: str, directory: Path) -> None:
    """The first existing folder on the way to ``directory`` is a folder we may write into."""
    for parent in [directory, *directory.parents]:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise ValidationError(where, field, str(directory), f"a directory path, but {parent} is a file")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValidationError(
                    where, field, str(directory), f"a writable directory, but {parent} is not writable"
                )
            return


def _check_target(where: str, target: Path, *, writing: bool) -> None:
    """``<outdir>/<path>`` can be replaced as a whole: absent or a real folder, in a writable parent."""
    if target.is_symlink():
        raise ValidationError(
            where,
            "path",
            str(target),
            "a real directory or nothing: the tree replaces the folder as a whole, not through a symlink",
        )
    if target.exists() and not target.is_dir():
        raise ValidationError(where, "path", str(target), "a directory for the tree, but this path is a file")
    if writing:
        _check_writable(where, "path", target.parent)


def _read_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative path; symlinks are never followed.

    A symlink (to a file, a folder or nothing) stands for a marker that no rendered file equals,
    so it always counts as changed or removed and a write replaces it.
    """
    if not root.is_dir() or root.is_symlink():
        return {}
    found: dict[str, bytes] = {}
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in [*filenames, *(d for d in dirnames if (base / d).is_symlink())]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            found[rel] = b"\0symlink:" + os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return dict(sorted(found.items()))


def _diff(root: Path, new: dict[str, bytes]) -> TreeDriftError | None:
    old = _read_tree(root)
    drift = TreeDriftError(
        root,
        added=sorted(set(new) - set(old)),
        changed=sorted(p for p in set(new) & set(old) if new[p] != old[p]),
        removed=sorted(set(old) - set(new)),
    )
    return drift if (drift.added or drift.changed or drift.removed) else None


def _replace_trees(out: Path, rendered: dict[str, dict[str, bytes]]) -> None:
    """Swap in every tree that changed; the caller holds the outdir's lock."""
    changed: dict[Path, dict[str, bytes]] = {}
    for path, files in rendered.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)  # a killed writer's: no live writer's staging exists under the lock
        if _diff(target, files) is not None:
            changed[target] = files
    # Stage every changed tree first, then swap them in: a failure while staging leaves every
    # tree as it was.
    staged: dict[Path, Path] = {}
    try:
        stage_all(changed, staged)
        make_durable(staged, changed)
        for target in list(staged):
            swap_in(staged[target], target)
            del staged[target]
    finally:
        for staging in staged.values():
            shutil.rmtree(staging, ignore_errors=True)


def write_tree(
    scope: Construct, outdir: str | os.PathLike[str], *, check: bool = False, lock_timeout: float = 60.0
) -> list[Path]:
    """Write every PlatformChart (and other tree kind, such as ``fleet.FluxSync``) under ``scope``
    as a kustomize tree below ``outdir``.

    All trees are rendered and checked before any file is written. Each tree replaces
    ``<outdir>/<path>`` as a whole (files it no longer produces disappear) and nothing else in
    ``outdir`` is touched. A tree whose bytes are unchanged is not rewritten. One writer at a time
    per outdir: a second waits for the first (see :mod:`.outdir_lock`).

    Args:
        scope: an App, or a Chart; every PlatformChart found under it is written.
        outdir: the output directory (created if missing).
        check: write nothing; raise :class:`TreeDriftError` if any tree on disk differs.
            Default ``False``.
        lock_timeout: seconds to wait while another process writes into ``outdir``. Default 60.

    Returns:
        The paths of every file of every tree, sorted.

    Raises:
        ValidationError: bad input (overlapping tree paths, unwritable outdir, ...).
        TreeDriftError: with ``check=True``, when a tree is stale.
        OutdirBusyError: another writer held ``outdir`` for longer than ``lock_timeout``.
    """
    if not isinstance(outdir, (str, os.PathLike)) or not os.fspath(outdir):
        raise ValidationError("write_tree", "outdir", outdir, "a directory path (str or os.PathLike)")
    if not isinstance(check, bool):
        raise ValidationError("write_tree", "check", check, "True or False")
    if (
        isinstance(lock_timeout, bool)
        or not isinstance(lock_timeout, (int, float))
        or not 0 <= lock_timeout < float("inf")
    ):
        raise ValidationError("write_tree", "lock_timeout", lock_timeout, "a number of seconds >= 0")
    out = Path(outdir)
    charts = _platform_charts(scope)
    by_path: dict[str, Any] = {}  # PlatformCharts and other tree kinds
    for chart in charts:
        for other_path, other in by_path.items():
            a, b = chart.tree_path + "/", other_path + "/"
            if a.startswith(b) or b.startswith(a):
                raise ValidationError(
                    chart.node.path,
                    "path",
                    chart.tree_path,
                    f"a tree path that does not overlap {other_path!r} of {other.node.path}: "
                    "each tree replaces its whole folder",
                )
        by_path[chart.tree_path] = chart
    # Everything is rendered (and so validated) before the disk is touched.
    rendered = {path: _render(chart) for path, chart in sorted(by_path.items())}

    if not check:
        _check_writable(str(out), "outdir", out)
    for path in rendered:
        _check_target(path_of(by_path[path]), out / path, writing=not check)

    if check:
        for path, files in rendered.items():
            drift = _diff(out / path, files)
            if drift is not None:
                raise drift
    else:
        out.mkdir(parents=True, exist_ok=True)
        with outdir_lock(out, lock_timeout):
            _replace_trees(out, rendered)
    return sorted(out / path / rel for path, files in rendered.items() for rel in files)
