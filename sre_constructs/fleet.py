"""Fleets: many clusters in one App, one ``write_tree``, one repository.

Every cluster file becomes two trees under ``<out>``::

    clusters/<name>/core/                    the CorePlatform tree (the cluster file's ``path``)
    clusters/<name>/flux/platform-sync/      the cluster's Flux entry point (this module)
    clusters/<name>/flux/flux-system/        written by `flux bootstrap`, never by this library

``platform-sync`` holds the root Flux Kustomization ``core`` (``kustomize.toolkit.fluxcd.io/v1``,
path ``./<path>``, prune on, sourceRef the cluster's GitRepository) that applies the core tree's
sources and component Kustomizations, and, when ``source_ref`` is not ``flux-system``, that
GitRepository (``source.toolkit.fluxcd.io/v1``, url and branch from ``git``). ``flux-system`` is the
GitRepository ``flux bootstrap`` itself creates, so it is never emitted here (two objects of one name
would break the kustomize build of the bootstrap folder).

Bootstrap a cluster with ``flux bootstrap git --url=<git.url> --branch=<git.branch>
--path=clusters/<name>/flux``: Flux writes its own ``flux-system/`` folder there, and its
``flux-system`` Kustomization (no kustomization.yaml at that level, so Flux generates one
including every sub-folder with a kustomization.yaml) applies ``platform-sync/`` beside it. The
core tree sits outside the bootstrap path, so only the ``core`` Kustomization applies it. Without
bootstrap: ``flux install``, create the GitRepository ``flux-system`` (or set ``source_ref``), then
``kubectl apply -k clusters/<name>/flux/platform-sync``.

``FluxSync`` is a tree kind ``write_tree`` understands (like a PlatformChart, it replaces its folder
as a whole, atomically, together with every other tree of the App).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cdk8s import Chart
from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import kustomize as flux_kustomize
from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import source as flux_source

from .cluster import ClusterSpec
from .kernel.errors import ValidationError
from .kernel.platform_chart import check_tree_path
from .kernel.sources import FLUX_NAMESPACE
from .kernel.tree import dump_yaml
from .kernel.validation import check_dns_label, check_duration
from .platform import CorePlatform

__all__ = ["BOOTSTRAP_SOURCE", "ROOT_KUSTOMIZATION", "Cluster", "FluxSync", "build_fleet"]

#: Name of the root Flux Kustomization that applies a cluster's core tree.
ROOT_KUSTOMIZATION = "core"
#: The GitRepository `flux bootstrap` creates (and this module therefore never emits).
BOOTSTRAP_SOURCE = "flux-system"

_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


class FluxSync(Chart):
    """A cluster's Flux entry point: a tree at ``<outdir>/<path>`` that ``write_tree`` writes.

    Files: ``kustomization.yaml`` listing ``sources/gitrepositories.yaml`` (only when
    ``source_ref`` is not ``flux-system``) and ``components/<name>.yaml`` (the root Kustomization).

    Args:
        scope: the app.
        id: construct id.
        path: repository path of this tree (e.g. ``clusters/lab/flux/platform-sync``).
        target_path: repository path of the tree the root Kustomization applies.
        source_ref: the GitRepository (in ``flux-system``) both trees come from.
        git_url: its URL (needed when ``source_ref`` is not ``flux-system``).
        git_branch: its branch. Default ``main``.
        git_interval: how often Flux polls it. Default ``5m``.
        name: the root Kustomization name. Default ``core``.
        interval: the root Kustomization's reconcile interval. Default ``10m``.
    """

    _sre_tree_kind = True  # write_tree renders this with render_files()

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        path: str,
        target_path: str,
        source_ref: str = BOOTSTRAP_SOURCE,
        git_url: str | None = None,
        git_branch: str = "main",
        git_interval: str = "5m",
        name: str = ROOT_KUSTOMIZATION,
        interval: str = "10m",
    ) -> None:
        where = f"{scope.node.path}/{id}" if scope.node.path else id
        self.tree_path: str = check_tree_path(where, path)
        self.target_path: str = check_tree_path(where, target_path)
        self.source_ref: str = check_dns_label(where, "source_ref", source_ref)
        self.kustomization_name: str = check_dns_label(where, "name", name)
        check_duration(where, "interval", interval)
        check_duration(where, "git_interval", git_interval)
        if source_ref != BOOTSTRAP_SOURCE and not git_url:
            raise ValidationError(where, "git_url", git_url, f"a repository URL for GitRepository {source_ref!r}")
        super().__init__(scope, id)
        self.git_repository: flux_source.GitRepository | None = None
        if source_ref != BOOTSTRAP_SOURCE:
            self.git_repository = flux_source.GitRepository(
                self,
                "GitRepository",
                metadata={"name": source_ref, "namespace": FLUX_NAMESPACE},
                spec=flux_source.GitRepositorySpec(
                    interval=git_interval,
                    url=git_url or "",
                    ref=flux_source.GitRepositorySpecRef(branch=git_branch),
                ),
            )
        self.kustomization = flux_kustomize.Kustomization(
            self,
            "Kustomization",
            metadata={"name": name, "namespace": FLUX_NAMESPACE},
            spec=flux_kustomize.KustomizationSpec(
                interval=interval,
                retry_interval="2m",
                timeout="5m",
                path=f"./{self.target_path}",
                prune=True,
                # It applies Flux objects only; each component Kustomization waits for its own.
                wait=False,
                source_ref=flux_kustomize.KustomizationSpecSourceRef(
                    kind=flux_kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                    name=source_ref,
                    namespace=FLUX_NAMESPACE,
                ),
            ),
        )

    def render_files(self) -> dict[str, bytes]:
        """The tree's files, relative to ``<outdir>/<path>``."""
        files: dict[str, bytes] = {}
        resources: list[str] = []
        if self.git_repository is not None:
            files["sources/gitrepositories.yaml"] = dump_yaml([self.git_repository.to_json()])
            resources.append("sources/gitrepositories.yaml")
        rel = f"components/{self.kustomization_name}.yaml"
        files[rel] = dump_yaml([self.kustomization.to_json()])
        resources.append(rel)
        files["kustomization.yaml"] = dump_yaml(
            [{"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": resources}]
        )
        return files


@dataclass
class Cluster:
    """One cluster of a fleet: its spec, core tree and Flux entry point (``None`` without git)."""

    spec: ClusterSpec
    platform: CorePlatform
    sync: FluxSync | None

    @property
    def tree_paths(self) -> list[str]:
        """Repository paths of the cluster's trees."""
        return [self.platform.tree_path] + ([self.sync.tree_path] if self.sync else [])


def build_fleet(scope: Construct, clusters: Iterable[ClusterSpec]) -> list[Cluster]:
    """Add every cluster's trees to ``scope`` (one App for the whole fleet).

    A cluster with a git URL gets a :class:`FluxSync` at ``spec.sync_path``; the embedded default
    cluster (no git) gets its core tree only.

    Raises:
        ValidationError: two clusters of one name, or any bad input (at the cluster file's line).
    """
    specs = list(clusters)
    # A synth replaces each tree whole: no tree may sit in another cluster's Flux folder, where
    # flux bootstrap keeps its own files.
    for spec in specs:
        for other in specs:
            flux_folder = posixpath.dirname(other.sync_path)
            if other is not spec and (spec.path + "/").startswith(flux_folder + "/"):
                raise ValidationError(
                    spec.where("path"),
                    "path",
                    spec.path,
                    f"a path outside {flux_folder}, cluster {other.name}'s Flux folder",
                )
    built: list[Cluster] = []
    seen: dict[str, ClusterSpec] = {}
    for spec in specs:
        if spec.name in seen:
            raise ValidationError(
                spec.where("name"), "name", spec.name, f"a cluster name not already used by {seen[spec.name].file}"
            )
        seen[spec.name] = spec
        platform = spec.platform(scope, "core" if spec.git_url is None and spec.path == "core" else None)
        sync = None
        if spec.git_url is not None:
            with spec.errors_at_lines():
                sync = FluxSync(
                    scope,
                    f"sync-{spec.name}",
                    path=spec.sync_path,
                    target_path=spec.path,
                    source_ref=spec.source_ref,
                    git_url=spec.git_url,
                    git_branch=spec.git_branch,
                    git_interval=spec.git_interval,
                )
        built.append(Cluster(spec, platform, sync))
    return built


def files_below(paths: Iterable[Any], root: str) -> int:
    """How many of ``paths`` (as written by ``write_tree``) lie below ``root``."""
    prefix = posixpath.normpath(str(root)) + "/"
    return sum(1 for p in paths if posixpath.normpath(str(p)).startswith(prefix))
