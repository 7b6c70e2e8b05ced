"""The two sides of a diff: the objects each Flux Kustomization applies, from disk, git or memory.

Both sides are read with the plan's reader (:mod:`sre_constructs.plan.source`: kustomize's and
Flux's rules, the validator's YAML loader), so a diff sees exactly what a plan would.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..kernel.errors import ValidationError
from ..plan.source import Files, Obj, Unit
from ..plan.units import load_units

__all__ = ["Identity", "Snapshot", "git_files", "git_toplevel", "snapshot"]

Identity = tuple[str, str, str, str]
"""``(group, kind, namespace, name)``: what Flux and the API server tell objects apart by."""


def identity(obj: Obj) -> Identity:
    """The object's :data:`Identity`."""
    return (obj.group, obj.kind, obj.namespace, obj.name)


@dataclass
class Snapshot:
    """One side of a diff: the repository's files, the roots Flux is pointed at, what each unit applies."""

    files: Files
    roots: list[str]
    units: list[Unit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    objects: dict[Identity, tuple[str, Obj]] = field(default_factory=dict)

    def unit(self, name: str) -> Unit | None:
        """The unit (Flux Kustomization) of that name, if this side has it."""
        return next((u for u in self.units if u.name == name), None)

    def prunes(self, name: str) -> bool:
        """Whether Flux prunes what leaves this unit. A tree root is applied by bootstrap's own
        ``flux-system`` Kustomization, which ``flux bootstrap`` writes with ``prune: true``."""
        unit = self.unit(name)
        return unit is None or unit.kustomization is None or unit.kustomization.spec.get("prune") is True

    def forces(self, name: str) -> bool:
        """Whether Flux recreates objects whose immutable fields change (``spec.force: true``)."""
        unit = self.unit(name)
        return unit is not None and unit.kustomization is not None and unit.kustomization.spec.get("force") is True


def snapshot(files: Files, roots: Iterable[str]) -> Snapshot:
    """Read what every Flux Kustomization reachable from ``roots`` applies."""
    side = Snapshot(files, [r for r in roots if files.is_dir(r)])
    side.units, side.notes = load_units(files, side.roots) if side.roots else ([], [])
    for unit in side.units:
        for obj in unit.objects:
            key = identity(obj)
            owner = side.objects[key][0] if key in side.objects else None
            if owner is not None and owner != unit.name and not owner.startswith("<"):
                side.notes.append(f"{obj.label} is applied by {owner} and {unit.name}; compared once")
                continue
            # A root applied by hand that bootstrap's own Kustomization applies again: Flux owns it.
            side.objects[key] = (unit.name, obj)
    return side


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise ValidationError("diff", "--base", args[-1], "git on PATH") from None
    if done.returncode != 0:
        raise ValidationError("diff", "git " + args[0], " ".join(args), done.stderr.decode(errors="replace").strip())
    return done.stdout


def git_toplevel(path: str | os.PathLike[str]) -> Path:
    """The root of the git repository holding ``path`` (or its nearest existing parent)."""
    here = Path(path).resolve()
    while not here.exists():
        here = here.parent
    if here.is_file():
        here = here.parent
    try:
        return Path(_git(here, "rev-parse", "--show-toplevel").decode().strip())
    except ValidationError:
        raise ValidationError("diff", "--repo-root", str(path), "a folder inside a git repository") from None


def git_files(repo: Path, ref: str, prefix: str, paths: Iterable[str]) -> dict[str, bytes]:
    """The files below ``prefix/<path>`` for each of ``paths`` at revision ``ref`` of ``repo``,
    by path relative to ``prefix`` (one ``git ls-tree`` and one ``git cat-file --batch``).

    Raises:
        ValidationError: ``ref`` is not a commit of the repository.
    """
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ValidationError:
        raise ValidationError("diff", "--base", ref, f"a commit of the git repository at {repo}") from None
    prefix = posixpath.normpath(prefix) if prefix not in ("", ".") else ""
    specs = [posixpath.join(prefix, p) if prefix else p for p in paths]
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", ref, "--", *specs)
    blobs: list[tuple[str, str]] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        if kind == "blob" and mode != "120000":  # symlinks are not followed, as on disk
            blobs.append((sha, path.decode()))
    if not blobs:
        return {}
    out = _git(repo, "cat-file", "--batch", stdin="".join(f"{sha}\n" for sha, _ in blobs).encode())
    files: dict[str, bytes] = {}
    offset = 0
    for _sha, name in blobs:
        header_end = out.index(b"\n", offset)
        size = int(out[offset:header_end].split()[2])
        start = header_end + 1
        rel = posixpath.relpath(name, prefix) if prefix else name
        files[rel] = out[start : start + size]
        offset = start + size + 1
    return files
