"""One writer at a time per output directory: an ``fcntl.flock`` on ``<outdir>/.sre-constructs.lock``.

Two synths into the same outdir at once would each clean the other's staging folders as
leftovers and race on the swaps. The second writer waits for the first (up to a bound), then
fails naming the lock file and the holder's pid. The lock file is hidden, directly in the outdir
(a tree path is never ``.`` nor hidden, so it is never inside a tree folder; tree validation reads
``*.yaml`` only), and removed on release, so the outdir holds nothing but the trees.
``cdk8s synth`` empties its outdir before the app runs, which is before the lock is taken.

The kernel releases the lock with the process: a killed writer leaves at most the file, which the
next writer locks, reuses and removes. Where ``fcntl`` is missing (Windows), writes are not locked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "OutdirBusyError", "outdir_lock"]

LOCK_NAME = ".sre-constructs.lock"
_POLL_SECONDS = 0.05


class OutdirBusyError(TimeoutError):
    """Another writer held the outdir's lock for longer than the wait allowed.

    Attributes:
        lock_file: the lock file.
        holder: the holder's pid as it wrote it into the lock file (``None`` if unreadable).
        waited: seconds waited.
    """

    def __init__(self, lock_file: Path, holder: int | None, waited: float) -> None:
        self.lock_file = lock_file
        self.holder = holder
        self.waited = waited
        who = f"process {holder}" if holder is not None else "another process (pid not recorded yet)"
        super().__init__(
            f"{lock_file}: {who} is writing trees into this directory; waited {waited:.1f}s for it to "
            "finish. Retry when it is done, or stop it if it hangs (the lock goes with the process)."
        )


def _holder(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _same_file(fd: int, path: Path) -> bool:
    """The locked descriptor is still the file at ``path`` (a releasing writer unlinks it)."""
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (on_disk.st_dev, on_disk.st_ino)


@contextlib.contextmanager
def outdir_lock(outdir: Path, timeout: float) -> Iterator[Path]:
    """Hold the exclusive lock of ``outdir`` (which must exist) for the ``with`` block.

    Args:
        outdir: the output directory.
        timeout: seconds to wait for another writer before :class:`OutdirBusyError`.

    Yields:
        The lock file.
    """
    path = outdir / LOCK_NAME
    if fcntl is None:  # pragma: no cover - Windows
        yield path
        return
    start = time.monotonic()
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            waited = time.monotonic() - start
            if waited >= timeout:
                raise OutdirBusyError(path, _holder(path), waited) from None
            time.sleep(min(_POLL_SECONDS, max(timeout - waited, 0.0)))
            continue
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            break
        os.close(fd)  # locked a file its holder had just removed: lock the current one
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        # Unlinked while still held: a waiter that locks the old file then sees it is gone.
        with contextlib.suppress(FileNotFoundError):  # removed by hand meanwhile
            os.unlink(path)
        os.close(fd)
