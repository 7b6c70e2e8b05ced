"""Shared fixtures: upstream CRDs, the default tree written once, parsed manifests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform, write_tree

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def crd_dirs() -> list[Path]:
    """The upstream CRD folders named by SRE_CONSTRUCTS_CRDS (CI points it at ../shared/crds)."""
    raw = os.environ.get("SRE_CONSTRUCTS_CRDS", "")
    dirs = [Path(p) for p in raw.split(os.pathsep) if p]
    if not dirs or not all(d.is_dir() for d in dirs):
        pytest.fail(
            "SRE_CONSTRUCTS_CRDS must name the folder of upstream CRDs (e.g. ../shared/crds); "
            f"got {raw!r}. `make test` sets it.",
            pytrace=False,
        )
    return dirs


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl (with built-in kustomize); the tests that build trees fail loudly without it."""
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is required to build the trees with kustomize; install it", pytrace=False)
    return found


def load_docs(path: Path) -> list[dict[str, Any]]:
    """Every YAML document in ``path``."""
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


@pytest.fixture(scope="session")
def default_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default CorePlatform written once; returns the tree root (``<out>/core``)."""
    out = tmp_path_factory.mktemp("default")
    app = App()
    CorePlatform(app, "core")
    write_tree(app, out)
    return out / "core"


@pytest.fixture(scope="session")
def tree_objects(default_tree: Path) -> dict[str, list[dict[str, Any]]]:
    """Parsed documents of every file in the default tree, by path relative to the root."""
    return {p.relative_to(default_tree).as_posix(): load_docs(p) for p in sorted(default_tree.rglob("*.yaml"))}


@pytest.fixture
def app() -> Iterator[App]:
    return App()
