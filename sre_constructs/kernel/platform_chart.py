"""PlatformChart: a cdk8s Chart that is the root of one Flux kustomize tree."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from cdk8s import Chart
from constructs import Construct

from .errors import ValidationError
from .validation import check_dns_label

if TYPE_CHECKING:
    from .component import PlatformComponent

__all__ = ["PlatformChart", "check_tree_path"]


def check_tree_path(where: str, path: str) -> str:
    """A tree path inside the repository: relative, no ``..``, no empty or dot segments.

    Returns:
        The normalized POSIX path (``platform/core``).
    """
    if not isinstance(path, str) or not path.strip():
        raise ValidationError(where, "path", path, "a relative directory path such as 'core'")
    normalized = posixpath.normpath(path.replace("\\", "/"))
    if (
        posixpath.isabs(normalized)
        or normalized == "."
        or normalized.split("/")[0] == ".."
        or ":" in normalized.split("/")[0]
    ):
        raise ValidationError(
            where, "path", path,
            "a relative directory path inside the output directory (no '..', not absolute), such as 'core'",
        )
    return normalized


class PlatformChart(Chart):
    """A chart whose components form one Flux tree at ``<outdir>/<path>/``.

    ``write_tree`` writes every PlatformChart it finds. The tree holds a root ``kustomization.yaml``,
    ``sources/helmrepositories.yaml``, one Flux Kustomization per component in ``components/`` and a
    folder of manifests per component. :class:`~sre_constructs.CorePlatform` is the PlatformChart
    with the nine core services; an application team can use a PlatformChart of its own.

    Args:
        scope: the app (or any construct).
        id: construct id.
        path: repository path of the tree, also the output path below ``outdir``. Default ``core``.
        source_ref: name of the Flux ``GitRepository`` (in ``flux-system``) that holds the tree.
            Default ``flux-system``, the one ``flux bootstrap`` creates.
        name_prefix: prefix for every Flux Kustomization name (``sre-`` gives ``sre-istio``), so
            several trees can share one cluster's ``flux-system``. Default none.
        **chart_props: passed to ``cdk8s.Chart`` (``labels``, ``namespace``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        path: str = "core",
        source_ref: str = "flux-system",
        name_prefix: str = "",
        **chart_props: Any,
    ) -> None:
        super().__init__(scope, id, **chart_props)
        where = self.node.path
        self.tree_path: str = check_tree_path(where, path)
        """Repository path of the tree (normalized)."""
        self.source_ref: str = check_dns_label(where, "source_ref", source_ref)
        """The Flux GitRepository every component Kustomization reads from."""
        if name_prefix and not isinstance(name_prefix, str):
            raise ValidationError(where, "name_prefix", name_prefix, "a string such as 'sre-'")
        if name_prefix:
            # The prefix must leave a valid name when a component name follows it.
            check_dns_label(where, "name_prefix", name_prefix + "x")
        self.name_prefix: str = name_prefix
        """Prefix of every Flux Kustomization name."""
        self._components: list[PlatformComponent] = []

    def _register(self, component: PlatformComponent) -> None:
        """Called by each component created inside this chart."""
        for other in self._components:
            if other.name == component.name:
                raise ValidationError(
                    component.node.path, "name", component.name,
                    f"a name not already used in {self.node.path} (taken by {other.node.path})",
                )
        self._components.append(component)

    @property
    def registered_components(self) -> list[PlatformComponent]:
        """Every component of this tree, in creation order."""
        return list(self._components)

    @property
    def components(self) -> list[PlatformComponent]:
        """Every component of this tree, in dependency order (dependencies first, ties by creation)."""
        from .graph import dependency_order

        return dependency_order(self._components, where=self.node.path)
