"""The tree writer: every PlatformChart becomes a kustomize tree, written atomically.

cdk8s writes flat files (or one folder per chart); Flux needs a nested tree. So the writer renders
each PlatformChart to ``{relative path: bytes}`` in memory first, and only then touches the disk:
a staging folder beside the old tree, swapped in with one atomic rename. A failure at any point
leaves the previous tree byte for byte, and nothing outside ``<outdir>/<path>`` is touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import glob
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cdk8s import ApiObject
from constructs import Construct

from .component import PlatformComponent
from .errors import ValidationError
from .paths import path_of
from .platform_chart import PlatformChart
from .sources import ChartSources
from .validation import check_kind
from .yaml_out import Unsupported, dump_documents

__all__ = ["FAULT_AFTER_FILES_ENV", "TreeDriftError", "dump_yaml", "render_tree", "write_tree"]

_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
_SOURCES_FILE = "sources/helmrepositories.yaml"
_SOURCE_FILES = {"HelmRepository": _SOURCES_FILE, "OCIRepository": "sources/ocirepositories.yaml"}

try:  # libyaml is much faster; both dumpers give the same bytes for this data.
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def dump_yaml(documents: Iterable[Any]) -> bytes:
    """YAML for a list of documents: sorted keys, block style, no line folding, UTF-8.

    The bytes of PyYAML's ``dump_all`` (libyaml's emitter) with those options. Most files are
    written by :mod:`.yaml_out`, which gives the same bytes without PyYAML's pure-Python
    representer; a file holding something it does not reproduce goes through PyYAML itself.
    """
    docs = list(documents)
    try:
        return dump_documents(docs).encode("utf-8")
    except Unsupported:
        pass
    text = yaml.dump_all(
        docs,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        explicit_start=False,
    )
    return str(text).encode("utf-8")


def _kustomization(resources: list[str]) -> bytes:
    return dump_yaml([{"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": resources}])


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


def _resolved_objects(chart: PlatformChart) -> list[tuple[ApiObject, Any]]:
    """Every ApiObject of the chart with its resolved JSON.

    One ``to_json`` per object: ``chart.to_json()`` would call back into Python for every object
    whose ``to_json`` is overridden here anyway, and lining its result up with the nodes would cost
    a kind and a name round-trip per object. A :class:`~.manifest.Manifest` (most objects of a
    tree) renders itself in Python, chart labels and namespace included, with no jsii call.
    """
    return [(n, n.to_json()) for n in chart.node.find_all() if isinstance(n, ApiObject)]


def _known_owners(
    chart: PlatformChart, components: list[PlatformComponent], sources: Any
) -> dict[int, PlatformComponent | None] | None:
    """The component of each object the components made themselves (Python-side lists, no jsii).

    ``None`` when a component is not a direct child of the chart (nested components: the
    ``find_all`` walk decides there). The caller falls back to the walk as well when the chart
    holds any object not listed here (one a user made in a component with ``ApiObject(...)``).
    """
    owner: dict[int, PlatformComponent | None] = {}
    for component in components:
        parent = component.__dict__.get("_sre_parent")
        objects = component.__dict__.get("_sre_objects")
        if parent is None or parent[0]() is not chart or objects is None:
            return None
        for obj in objects:
            owner[id(obj)] = component
    if isinstance(sources, ChartSources):
        for obj in sources.objects:
            owner[id(obj)] = None
    return owner


def _file_for(node: ApiObject, manifest: Any) -> str:
    """The file of an object in its component folder: one per kind (``networkpolicy.yaml``).

    The kind becomes a file name, so it must be a plain Kubernetes kind; a kind named like the
    folder's own ``kustomization.yaml`` (a Flux Kustomization) gets its API group in the name.
    """
    try:
        kind = check_kind("", "kind", manifest.get("kind"))
    except ValidationError as error:  # the path costs jsii round-trips: only for the message
        raise ValidationError(node.node.path, error.field, error.value, error.allowed) from None
    name = kind.lower()
    if name == "kustomization":
        group = str(manifest.get("apiVersion", "")).split("/")[0].split(".")[0] or "core"
        name = f"{name}-{group}"
    return f"{name}.yaml"


def render_tree(chart: PlatformChart) -> dict[str, bytes]:
    """The files of one tree, relative to ``<outdir>/<path>``, as bytes.

    Raises:
        ValidationError: an object outside any component, or a dependency cycle.
    """
    components = chart.components  # dependency order; raises on a cycle
    # ChartSources.of keeps the chart's sources on the chart: no tryFindChild round-trip.
    sources = chart.__dict__.get("_sre_chart_sources") or chart.node.try_find_child(ChartSources.ID)
    objects = _resolved_objects(chart)
    owner = _known_owners(chart, components, sources)
    if owner is None or any(id(node) not in owner for node, _ in objects):
        owner = {}
        for component in components:
            for node in component.node.find_all():
                owner[id(node)] = component
        if isinstance(sources, ChartSources):
            for obj in sources.objects:
                owner[id(obj)] = None

    source_docs: list[Any] = []
    flux_docs: dict[str, Any] = {}
    folders: dict[str, dict[str, list[Any]]] = {c.name: {} for c in components}
    for node, manifest in objects:
        if id(node) not in owner:
            raise ValidationError(
                node.node.path,
                "placement",
                f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}",
                f"an object inside a PlatformComponent of {chart.node.path}; every object of a tree "
                "belongs to a component's folder",
            )
        holder = owner[id(node)]
        if holder is None:
            source_docs.append(manifest)
        elif node is holder.kustomization:
            flux_docs[holder.name] = manifest
        else:
            folders[holder.name].setdefault(_file_for(node, manifest), []).append(manifest)

    files: dict[str, bytes] = {}
    root_resources: list[str] = []
    by_file: dict[str, list[Any]] = {}
    for doc in source_docs:  # sources/helmrepositories.yaml, sources/ocirepositories.yaml
        by_file.setdefault(_SOURCE_FILES.get(doc.get("kind"), _SOURCES_FILE), []).append(doc)
    for rel in sorted(by_file):
        files[rel] = dump_yaml(by_file[rel])
        root_resources.append(rel)
    for component in components:
        rel = f"components/{component.name}.yaml"
        files[rel] = dump_yaml([flux_docs[component.name]])
        root_resources.append(rel)
        folder = folders[component.name]
        for filename in sorted(folder):
            files[f"{component.name}/{filename}"] = dump_yaml(folder[filename])
        files[f"{component.name}/kustomization.yaml"] = _kustomization(sorted(folder))
    files["kustomization.yaml"] = _kustomization(root_resources)
    return files


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


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); ``False`` where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable (best effort where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _swap_in(staging: Path, target: Path) -> None:
    """Make ``staging`` the tree at ``target``; the old tree survives any crash before this returns."""
    if not target.exists():
        os.rename(staging, target)
        _fsync_dir(target.parent)
        return
    if _exchange(staging, target):
        _fsync_dir(target.parent)
        shutil.rmtree(staging)  # now holds the old tree
        return
    # Two renames: in between, the old tree waits intact under a recognizable name, which the next
    # run renames back (see _clean_leftovers) if this process dies here.
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(backup)
    os.rename(target, backup)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(backup, target)
        raise
    _fsync_dir(target.parent)
    shutil.rmtree(backup)


def _clean_leftovers(target: Path) -> None:
    """Undo what a killed run left beside the tree (only our own names).

    ``.<name>.new-*`` is a staging folder (a half-written new tree, or the old tree after an
    exchange): removed. ``.<name>.old-*`` is the old tree parked between the two renames of the
    fallback swap: renamed back when the tree itself is missing, else removed.
    """
    if not target.parent.is_dir():
        return
    for prefix in (f".{target.name}.new-", f".{target.name}.old-"):
        for leftover in sorted(target.parent.glob(glob.escape(prefix) + "*")):
            if leftover.is_dir() and not leftover.is_symlink():
                if prefix.endswith(".old-") and not target.exists() and not target.is_symlink():
                    os.rename(leftover, target)  # finish an interrupted two-rename swap
                else:
                    shutil.rmtree(leftover)


#: Test hook (fault injection): when set to a whole number N, the process kills itself with
#: SIGKILL right after writing N files into its staging folders, so tests can interrupt a write
#: at a deterministic point and check that the previous tree survives. Never set it otherwise.
FAULT_AFTER_FILES_ENV = "SRE_CONSTRUCTS_FAULT_AFTER_FILES"


def _fault_limit() -> int | None:
    raw = os.environ.get(FAULT_AFTER_FILES_ENV)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(FAULT_AFTER_FILES_ENV, "test hook", raw, "a whole number of files, or unset") from None


@functools.cache
def _libc_syncfs() -> Any:
    """libc's ``syncfs`` (Linux), or ``None`` where there is none."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    return getattr(ctypes.CDLL(libc_name, use_errno=True), "syncfs", None)


def _syncfs(path: Path) -> bool:
    """Flush every written file and folder of the filesystem holding ``path`` (Linux ``syncfs``).

    ``False`` where ``syncfs`` is missing or not supported (the caller then syncs file by file);
    an I/O error is raised, as ``fsync`` would.
    """
    syncfs = _libc_syncfs()
    if syncfs is None:
        return False
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                return False
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)
    return True


def _fsync_tree(staging: Path, files: Iterable[str]) -> None:
    """The fallback of :func:`_syncfs`: ``fsync`` every file, then every folder (deepest first)."""
    folders = {staging}
    for rel in files:
        path = staging / rel
        folders.update(p for p in path.parents if p.is_relative_to(staging))
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    for folder in sorted(folders, key=lambda f: len(f.parts), reverse=True):
        _fsync_dir(folder)


def _stage(target: Path, files: dict[str, bytes], written: list[int], limit: int | None) -> Path:
    """Write ``files`` into a new staging folder beside ``target`` and return it.

    Not yet durable: :func:`_make_durable` flushes every staging folder before any swap.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        made: set[Path] = {staging}
        for rel, content in files.items():
            path = staging / rel
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            # What open(path, "wb") does, minus the buffered file object (the folder is new).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
            written[0] += 1
            if limit is not None and written[0] >= limit:
                os.kill(os.getpid(), signal.SIGKILL)  # test hook, see FAULT_AFTER_FILES_ENV
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the tree is shared with git and CI
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _stage_all(
    changed: dict[Path, dict[str, bytes]], staged: dict[Path, Path], written: list[int], limit: int | None
) -> None:
    """Stage every changed tree into ``staged`` (in order), several at a time for a fleet.

    File creation waits on the disk with the GIL released, so a few threads overlap it. With the
    fault-injection hook set, trees are staged one by one so the kill point stays deterministic.
    """
    items = list(changed.items())
    if len(items) < 2 or limit is not None:
        for target, files in items:
            staged[target] = _stage(target, files, written, limit)
        return
    with ThreadPoolExecutor(max_workers=min(4, len(items))) as pool:
        futures = [(target, pool.submit(_stage, target, files, written, limit)) for target, files in items]
        failure: BaseException | None = None
        for target, future in futures:
            try:
                staged[target] = future.result()
            except BaseException as error:  # keep collecting: every finished staging must be cleaned up
                failure = failure or error
        if failure is not None:
            raise failure


def _make_durable(staged: dict[Path, Path], trees: dict[Path, dict[str, bytes]]) -> None:
    """Every staged file and folder on disk before the first swap.

    One ``syncfs`` per filesystem holding staging folders (usually one for all trees) instead of
    an ``fsync`` per file and folder; where ``syncfs`` is unavailable, ``fsync`` file by file.
    """
    synced: set[int] = set()
    for target, staging in staged.items():
        device = os.stat(staging).st_dev
        if device in synced:
            continue
        if _syncfs(staging):
            synced.add(device)
        else:
            _fsync_tree(staging, trees[target])


def write_tree(scope: Construct, outdir: str | os.PathLike[str], *, check: bool = False) -> list[Path]:
    """Write every PlatformChart (and other tree kind, such as ``fleet.FluxSync``) under ``scope``
    as a kustomize tree below ``outdir``.

    All trees are rendered and checked before any file is written. Each tree replaces
    ``<outdir>/<path>`` as a whole (files it no longer produces disappear) and nothing else in
    ``outdir`` is touched. A tree whose bytes are unchanged is not rewritten.

    Args:
        scope: an App, or a Chart; every PlatformChart found under it is written.
        outdir: the output directory (created if missing).
        check: write nothing; raise :class:`TreeDriftError` if any tree on disk differs.

    Returns:
        The paths of every file of every tree, sorted.

    Raises:
        ValidationError: bad input (overlapping tree paths, unwritable outdir, ...).
        TreeDriftError: with ``check=True``, when a tree is stale.
    """
    if not isinstance(outdir, (str, os.PathLike)) or not os.fspath(outdir):
        raise ValidationError("write_tree", "outdir", outdir, "a directory path (str or os.PathLike)")
    if not isinstance(check, bool):
        raise ValidationError("write_tree", "check", check, "True or False")
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
        changed: dict[Path, dict[str, bytes]] = {}
        for path, files in rendered.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            _clean_leftovers(target)
            if _diff(target, files) is not None:
                changed[target] = files
        # Stage every changed tree first, then swap them in: a failure while staging leaves
        # every tree as it was.
        staged: dict[Path, Path] = {}
        written, limit = [0], _fault_limit()
        try:
            _stage_all(changed, staged, written, limit)
            _make_durable(staged, changed)
            for target in list(staged):
                _swap_in(staged[target], target)
                del staged[target]
        finally:
            for staging in staged.values():
                shutil.rmtree(staging, ignore_errors=True)
    return sorted(out / path / rel for path, files in rendered.items() for rel in files)
