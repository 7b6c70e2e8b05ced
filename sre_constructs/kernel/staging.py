"""The tree writer's disk side: stage a tree beside its target, make it durable, swap it in.

Only our own names are ever created or removed beside a tree: ``.<name>.new-*`` (staging) and
``.<name>.old-*`` (the old tree between the two renames of the fallback swap). The caller holds
the outdir's lock (:mod:`.outdir_lock`) around all of it, so no other writer's staging is there.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import glob
import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["clean_leftovers", "make_durable", "stage", "stage_all", "swap_in", "write_file"]

_RENAME_EXCHANGE = 2


@functools.cache
def _libc() -> Any:
    """The C library, looked up once per process (``find_library`` runs ``ldconfig -p``), or ``None``."""
    libc_name = ctypes.util.find_library("c")
    return ctypes.CDLL(libc_name, use_errno=True) if libc_name else None


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2); ``False`` where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
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


def swap_in(staging: Path, target: Path) -> None:
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
    # run renames back (see clean_leftovers) if this process dies here.
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


def clean_leftovers(target: Path) -> None:
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


def _libc_syncfs() -> Any:
    """libc's ``syncfs`` (Linux), or ``None`` where there is none."""
    return getattr(_libc(), "syncfs", None)


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


def write_file(path: Path, content: bytes) -> None:
    """Create one new file with ``content`` (what ``open(path, "xb").write`` does, minus the
    buffered file object: the folder is new). Tests wrap it to interrupt a write at a given file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def stage(target: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` into a new staging folder beside ``target`` and return it.

    Not yet durable: :func:`make_durable` flushes every staging folder before any swap.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        made: set[Path] = {staging}
        for rel, content in files.items():
            path = staging / rel
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            write_file(path, content)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the tree is shared with git and CI
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def stage_all(changed: dict[Path, dict[str, bytes]], staged: dict[Path, Path], *, parallel: bool = True) -> None:
    """Stage every changed tree into ``staged`` (in order), several at a time for a fleet.

    File creation waits on the disk with the GIL released, so a few threads overlap it;
    ``parallel=False`` stages the trees one by one, in order.
    """
    items = list(changed.items())
    if len(items) < 2 or not parallel:
        for target, files in items:
            staged[target] = stage(target, files)
        return
    with ThreadPoolExecutor(max_workers=min(4, len(items))) as pool:
        futures = [(target, pool.submit(stage, target, files)) for target, files in items]
        failure: BaseException | None = None
        for target, future in futures:
            try:
                staged[target] = future.result()
            except BaseException as error:  # keep collecting: every finished staging must be cleaned up
                failure = failure or error
        if failure is not None:
            raise failure


def make_durable(staged: dict[Path, Path], trees: dict[Path, dict[str, bytes]]) -> None:
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
