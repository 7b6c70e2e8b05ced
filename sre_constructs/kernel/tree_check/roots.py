"""Where the trees are in a folder: this library's layout, or the layouts Flux users write.

A tree root is a folder Flux (or ``flux bootstrap``) is pointed at: one with a kustomization.yaml
listing a ``components/`` folder (this library's layout), a cluster folder beside its bootstrap
``flux-system/`` folder (``gotk-components.yaml``/``gotk-sync.yaml``), or a folder holding Flux
Kustomizations itself (Flux generates its kustomization).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .model import FLUX_KUSTOMIZE_GROUP, group_of, load_all

__all__ = ["find_tree_roots"]

_BOOTSTRAP_FILES = ("gotk-sync.yaml", "gotk-components.yaml")


def _holds_flux_kustomizations(folder: Path) -> bool:
    for path in sorted(folder.glob("*.y*ml")):
        try:
            docs = load_all(path)
        except (yaml.YAMLError, UnicodeDecodeError, OSError):
            continue
        for doc in docs:
            if (
                isinstance(doc, dict)
                and doc.get("kind") == "Kustomization"
                and group_of(str(doc.get("apiVersion") or "")) == FLUX_KUSTOMIZE_GROUP
            ):
                return True
    return False


def _is_root(folder: Path) -> bool:
    if (folder / "kustomization.yaml").is_file() and (folder / "components").is_dir():
        return True  # this library's layout
    if any((folder / "flux-system" / name).is_file() for name in _BOOTSTRAP_FILES):
        return True  # a cluster folder flux bootstrap syncs
    return not (folder / "kustomization.yaml").is_file() and _holds_flux_kustomizations(folder)


def find_tree_roots(directory: str | Path) -> list[Path]:
    """``directory`` itself if it is a tree root (or has a kustomization.yaml), else every
    outermost tree root below it, sorted."""
    directory = Path(directory)
    if (directory / "kustomization.yaml").is_file() or _is_root(directory):
        return [directory]
    roots: list[Path] = []
    for folder in sorted(p for p in directory.rglob("*") if p.is_dir()):
        if any(folder.is_relative_to(r) for r in roots) or ".git" in folder.parts:
            continue
        if _is_root(folder):
            roots.append(folder)
    return roots
