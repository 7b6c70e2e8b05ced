"""Validate a kustomize tree for Flux, before Flux ever sees it: the library's own or anyone's.

Any tree is judged by kustomize's and Flux's rules (errors). The tree this library writes (a root
with a ``components/`` folder) also follows a layout, whose departures are notes
(``Finding.severity == "note"``); other layouts (a Flux user's ``clusters/<name>``) are not held to
it. ``roots.find_tree_roots`` finds the trees in a folder::

    <root>/kustomization.yaml            kustomize Kustomization listing sources/*.yaml and components/*.yaml
    <root>/sources/*.yaml                Flux sources (HelmRepository, OCIRepository, ...)
    <root>/components/<name>.yaml        one Flux Kustomization per component, spec.path ./<repo-path>/<name>
    <root>/<name>/kustomization.yaml     lists every other .yaml file of that folder
    <root>/<name>/*.yaml                 the component's manifests

``check_tree`` returns every finding; ``validate_tree`` raises
:class:`~sre_constructs.kernel.errors.ValidationError` when there is any error. Custom resources
are checked against the CRD schemas bundled in the package (``make schemas`` writes them) unless
the caller names CRD folders.

Modules: ``model`` (Finding, the parsed tree), ``layout`` (loading, what kustomize and Flux apply,
the library's layout), ``crds`` (the bundled schemas and CRD folders), ``schema`` (objects vs.
schemas), ``flux`` (repository root, Flux references), ``kustomize`` (builds).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sre_constructs.kernel.errors import ValidationError

from . import flux, layout
from .crds import BUNDLED, CRDS_ENV, bundled_crds, crd_dirs_from_env, crd_index
from .kustomize import check_kustomize, kustomize_command
from .model import CHECKS, SEVERITIES, Finding, Severity, Tree
from .schema import KUBERNETES_VERSION, check_schemas

__all__ = [
    "CHECKS",
    "CRDS_ENV",
    "KUBERNETES_VERSION",
    "SEVERITIES",
    "Finding",
    "Severity",
    "bundled_crds",
    "check_tree",
    "crd_dirs_from_env",
    "infer_repo_root",
    "validate_tree",
]


def validate_tree(
    root: str | os.PathLike[str],
    *,
    crd_dirs: Sequence[str | os.PathLike[str]] | None = None,
    repo_root: str | os.PathLike[str] | None = None,
    kustomize: bool = True,
    known_trees: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Raise if the tree has any error (notes do not count).

    Args:
        root: the tree root (the folder holding the top kustomization.yaml).
        crd_dirs: folders searched recursively for CRDs; ``None`` = the bundled schemas;
            empty = skip custom-resource schema checks.
        repo_root: the git repository root Flux paths are relative to; ``None`` = inferred.
        kustomize: also run ``kubectl kustomize`` on every kustomization folder.
        known_trees: other trees applied to the same cluster (e.g. the platform a team tree
            depends on): their Flux Kustomizations and HelmReleases count as existing dependsOn
            targets. They are not checked themselves.

    Raises:
        ValidationError: ``field='tree'``, ``value`` = number of errors, ``allowed`` = the
            errors, one per line.
    """
    findings = check_tree(root, crd_dirs=crd_dirs, repo_root=repo_root, kustomize=kustomize, known_trees=known_trees)
    errors = [f for f in findings if f.is_error]
    if errors:
        raise ValidationError(str(root), "tree", len(errors), "\n".join(str(f) for f in errors))


def infer_repo_root(root: str | os.PathLike[str]) -> Path:
    """The repository root the tree's Flux Kustomizations' paths are relative to.

    A tree at ``<x>/clusters/lab/core`` whose Kustomizations point at ``./clusters/lab/core/<name>``
    has root ``<x>``; a tree without Flux Kustomizations is its own root.
    """
    tree = Tree(Path(root).resolve())
    layout.load(tree)
    return flux.infer_repo_root(tree)


def check_tree(
    root: str | os.PathLike[str],
    *,
    crd_dirs: Sequence[str | os.PathLike[str]] | None = None,
    repo_root: str | os.PathLike[str] | None = None,
    kustomize: bool = True,
    known_trees: Sequence[str | os.PathLike[str]] = (),
) -> list[Finding]:
    """Run every check on the tree.

    Args:
        root: the tree root (the folder holding the top kustomization.yaml).
        crd_dirs: folders searched recursively for CRDs; ``None`` = the schemas bundled in the
            package; empty = skip custom-resource schema checks (core kinds are still checked).
        repo_root: the git repository root Flux ``spec.path`` is relative to; ``None`` = the
            folder such that ``root == repo_root / <repo-path>``, with ``<repo-path>`` taken
            from the Flux Kustomizations' paths (``./<repo-path>/<name>``).
        kustomize: also run ``kubectl kustomize`` (or ``kustomize build``) on the root and on
            every folder with a kustomization.yaml.
        known_trees: other trees applied to the same cluster (e.g. the platform a team tree
            depends on): their Flux Kustomizations and HelmReleases count as existing dependsOn
            targets. They are not checked themselves.

    Returns:
        Every finding (errors and notes), sorted and without duplicates; an empty list means the
        tree is valid and follows the library's layout.

    Raises:
        ValidationError: ``root`` or a CRD directory is not an existing folder.
        RuntimeError: ``kustomize`` is true but neither ``kubectl`` nor ``kustomize`` is on PATH.
    """
    root_path = Path(root).resolve()
    if not root_path.is_dir():
        raise ValidationError(str(root), "root", str(root), "an existing folder")
    crd_key: str | tuple[str, ...] | None = BUNDLED
    if crd_dirs is not None:
        for d in crd_dirs:
            if not Path(d).is_dir():
                raise ValidationError(
                    "crd_dirs", "crd_dirs", str(d), "existing folders holding CustomResourceDefinitions"
                )
        crd_key = tuple(sorted({str(Path(d).resolve()) for d in crd_dirs})) or None
    # Resolve the kustomize binary first: a missing tool must fail before any work.
    kustomize_cmd = kustomize_command() if kustomize else None

    tree = Tree(root_path)
    parsed = layout.load(tree)
    resolved_root = Path(repo_root).resolve() if repo_root is not None else flux.infer_repo_root(tree)
    reached = layout.reach(tree, resolved_root)
    cluster_kinds = crd_index(crd_key).cluster_scoped if crd_key is not None else frozenset()
    layout.resolve_namespaces(tree, reached, cluster_kinds)

    layout.check_kustomization_files(tree)
    layout.check_applied(tree, parsed, reached)
    if (root_path / "components").is_dir():  # the library's layout; a Flux user's tree has its own
        layout.check_conventions(tree, reached)
    check_schemas(tree, crd_key)
    flux.check_flux_paths(tree, resolved_root)
    flux.check_depends_on(tree, layout.known_objects([Path(t) for t in known_trees]))
    flux.check_sources(tree)
    flux.check_health_checks(tree)
    if kustomize_cmd is not None:
        check_kustomize(tree, kustomize_cmd)
    return sorted(set(tree.findings))
