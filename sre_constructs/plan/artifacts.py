"""Flux's source-watcher: what an ``ArtifactGenerator`` puts in the ``ExternalArtifact`` it makes.

An ArtifactGenerator (``source.extensions.fluxcd.io/v1beta1``) names its ``sources`` by alias and,
for each of its ``artifacts``, ``copy`` operations with ``cp``-like semantics (source-watcher's
``docs/spec/v1beta1/artifactgenerators.md``): ``from: "@alias/<glob or path>"``, ``to:
"@artifact/<path>"``; a trailing ``/`` in ``to`` copies into a folder; ``@alias/dir/`` copies the
folder as a subfolder, ``@alias/dir/**`` its contents; ``exclude`` globs (relative to the non-glob
prefix of ``from``; without a ``/``, a file name at any depth) drop files. Copies run in order, a
later one overwriting an earlier one. A Flux Kustomization reading the ExternalArtifact applies
its ``spec.path`` inside these files.

Only sources that serve the repository being planned are read (the bootstrap sources); the
``Merge`` and ``Extract`` strategies and ``pathPattern`` are not modelled, and say so.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Set
from functools import cache
from typing import Any

from .source import Files, Obj

__all__ = ["ARTIFACT_GENERATOR", "artifact_files", "generators_of"]

ARTIFACT_GENERATOR = ("source.extensions.fluxcd.io", "ArtifactGenerator")
_GLOB = re.compile(r"[*?\[]")


@cache
def _regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _excluded(rel: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        target = rel if "/" in pattern else posixpath.basename(rel)
        if _regex(pattern).match(target):
            return True
    return False


def generators_of(objects: list[Obj]) -> dict[tuple[str, str], tuple[Obj, dict[str, Any]]]:
    """``(namespace, artifact name) -> (generator, artifact spec)`` of every ArtifactGenerator."""
    found = {}
    for obj in objects:
        if (obj.group, obj.kind) != ARTIFACT_GENERATOR:
            continue
        for artifact in obj.spec.get("artifacts") or []:
            if isinstance(artifact, dict) and artifact.get("name"):
                found[(obj.namespace or "flux-system", str(artifact["name"]))] = (obj, artifact)
    return found


def artifact_files(
    files: Files, generator: Obj, artifact: dict[str, Any], readable: Set[str]
) -> tuple[Files | None, str]:
    """The files of the ExternalArtifact ``artifact`` of ``generator``, read from ``files`` (the
    repository) for sources in ``readable`` (``namespace/name``); else ``None`` and why not."""
    namespace = generator.namespace or "flux-system"
    aliases = {}
    for source in generator.spec.get("sources") or []:
        if isinstance(source, dict) and source.get("alias"):
            aliases[str(source["alias"])] = source
    if generator.spec.get("pathPattern"):
        return None, f"{generator.label} uses pathPattern, which the plan does not follow"
    out: dict[str, bytes] = {}
    for copy in artifact.get("copy") or []:
        origin, target = str(copy.get("from") or ""), str(copy.get("to") or "")
        alias, _, pattern = origin.lstrip("@").partition("/")
        source = aliases.get(alias)
        if not origin.startswith("@") or source is None or not target.startswith("@artifact/"):
            return None, f"{generator.label}: copy {origin!r} -> {target!r} is not '@<alias>/...' -> '@artifact/...'"
        ref = f"{source.get('namespace') or namespace}/{source.get('name')}"
        if source.get("kind") not in ("GitRepository", "OCIRepository", "Bucket") or ref not in readable:
            return None, f"{generator.label} copies from {source.get('kind')} {ref}, which is not this repository"
        if str(copy.get("strategy") or "Overwrite") != "Overwrite":
            return None, f"{generator.label}: copy strategy {copy.get('strategy')!r} is not modelled"
        excludes = [str(e) for e in copy.get("exclude") or []]
        for src, dest in _copies(files, pattern, target[len("@artifact/") :]):
            if not _excluded(src[1], excludes):
                out[dest] = files.read(src[0])
    return Files(files=out), ""


def _copies(files: Files, pattern: str, target: str) -> list[tuple[tuple[str, str], str]]:
    """``((repository path, path relative to the copy's prefix), artifact path)`` of one copy."""
    into = target == "" or target.endswith("/")
    target = target.rstrip("/")
    if _GLOB.search(pattern):
        parts = pattern.split("/")
        prefix = "/".join(p for p in parts[: next(i for i, p in enumerate(parts) if _GLOB.search(p))])
        matched = [p for p in files.walk(prefix or ".") if _regex(pattern).match(p)]
        rels = [(p, posixpath.relpath(p, prefix) if prefix else p) for p in matched]
        return [((p, rel), posixpath.join(target, rel) if target else rel) for p, rel in rels]
    folder = pattern.rstrip("/")
    if pattern.endswith("/") or (folder and files.is_dir(folder)) or not folder:
        base = posixpath.basename(folder)
        result = []
        for path in files.walk(folder or "."):
            rel = posixpath.relpath(path, folder) if folder else path
            dest = posixpath.join(*(p for p in (target, base, rel) if p))
            result.append(((path, rel), dest))
        return result
    if not files.is_file(folder):
        return []
    dest = posixpath.join(target, posixpath.basename(folder)) if into else target
    return [((folder, posixpath.basename(folder)), dest)]
