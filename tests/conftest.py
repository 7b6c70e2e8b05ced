"""Shared fixtures: kubectl, the default tree written once, parsed manifests.

Custom resources are checked against the CRD schemas bundled in the package; no CRD folder is needed.
"""

from __future__ import annotations

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
