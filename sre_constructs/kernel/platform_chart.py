"""PlatformChart: a cdk8s Chart that is the root of one Flux kustomize tree."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cdk8s import Chart
from constructs import Construct

from .errors import ValidationError
from .validation import check_bool, check_dns_label, check_labels

if TYPE_CHECKING:
    from .component import PlatformComponent

__all__ = ["PlatformChart", "check_tree_path"]


_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def check_tree_path(where: str, path: str) -> str:
    """A tree path inside the repository: relative, no ``..``, no empty or dot segments.

    Returns:
        The normalized POSIX path (``platform/core``).
    """
    if not isinstance(path, str) or not path.strip():
        raise ValidationError(where, "path", path, "a relative directory path such as 'core'")
    raw = path.replace("\\", "/")
    normalized = posixpath.normpath(raw)
    if (
        posixpath.isabs(normalized)
        or raw.startswith("/")
        or normalized == "."
        or normalized.split("/")[0] == ".."
        or ":" in normalized.split("/")[0]
        or "\0" in normalized
        or any(segment.startswith(".") for segment in normalized.split("/"))
        # Plain names only: no glob or shell metacharacters, spaces or control characters.
        or not all(_PATH_SEGMENT.fullmatch(segment) for segment in normalized.split("/"))
    ):
        raise ValidationError(
            where,
            "path",
            path,
            "a relative directory path inside the output directory (no '..', no hidden '.' folders, "
            "not absolute; letters, digits, '.', '_' and '-' only), such as 'core' or 'clusters/prod'",
        )
    return normalized


@dataclass(frozen=True)
class _NamespaceClaim:
    labels: dict[str, str]
    owner: PlatformComponent


_PREFIX = re.compile(r"^[a-z0-9][-a-z0-9]*$")
_CHART_PROPS = ("labels", "namespace", "disable_resource_name_hashes")


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
        # Check everything before the first call into jsii, whose type checks raise TypeError.
        if not isinstance(scope, Construct):
            raise ValidationError(
                f"{type(self).__name__} {id!r}", "scope", scope, "a construct (the cdk8s App or a Chart)"
            )
        if not isinstance(id, str) or not id or "/" in id:
            raise ValidationError(scope.node.path or "<app>", "id", id, "a non-empty construct id string without '/'")
        where = f"{scope.node.path}/{id}" if scope.node.path else id
        self.tree_path: str = check_tree_path(where, path)
        """Repository path of the tree (normalized)."""
        self.source_ref: str = check_dns_label(where, "source_ref", source_ref)
        """The Flux GitRepository every component Kustomization reads from."""
        if not isinstance(name_prefix, str):
            raise ValidationError(where, "name_prefix", name_prefix, "a string such as 'sre-' (or '' for none)")
        if name_prefix and (len(name_prefix) > 62 or not _PREFIX.fullmatch(name_prefix)):
            # The prefix must leave a valid DNS-1123 label when a component name follows it.
            raise ValidationError(
                where,
                "name_prefix",
                name_prefix,
                "the start of a DNS-1123 label such as 'sre-': lower-case letters, digits and '-', "
                "starting with a letter or digit, at most 62 characters",
            )
        self.name_prefix: str = name_prefix
        """Prefix of every Flux Kustomization name."""
        _check_chart_props(where, chart_props)
        super().__init__(scope, id, **chart_props)
        self._components: list[PlatformComponent] = []
        self._namespace_claims: dict[str, _NamespaceClaim] = {}

    def _register(self, component: PlatformComponent) -> None:
        """Called by each component created inside this chart."""
        for other in self._components:
            if other.name == component.name:
                raise ValidationError(
                    component.node.path,
                    "name",
                    component.name,
                    f"a name not already used in {self.node.path} (taken by {other.node.path})",
                )
        self._components.append(component)

    def _claim_namespace(self, component: PlatformComponent, name: str, labels: Mapping[str, str] | None) -> None:
        """Record that ``component`` emits Namespace ``name``; a second emitter is an error.

        One Namespace object per name per tree: two components emitting it would make kustomize
        fail on the duplicate (same labels) or leave the labels to whichever Flux applies last
        (different labels). The message names both components. A component that installs into a
        namespace another one owns passes ``create_namespace=False``.
        """
        merged = dict(labels or {})
        previous = self._namespace_claims.get(name)
        if previous is None:
            self._namespace_claims[name] = _NamespaceClaim(merged, component)
            return
        where = component.node.path
        owner = previous.owner.node.path
        if previous.owner is component:
            raise ValidationError(where, "namespace", name, "a namespace not already emitted by this component")
        if previous.labels != merged:
            differing = sorted(
                key for key in set(previous.labels) | set(merged) if previous.labels.get(key) != merged.get(key)
            )
            raise ValidationError(
                where,
                "namespace",
                name,
                f"a namespace no other component of {self.node.path} emits: {owner} already emits it with "
                f"different labels ({', '.join(differing)}); let one component own it and pass "
                "create_namespace=False to the other",
            )
        raise ValidationError(
            where,
            "namespace",
            name,
            f"a namespace no other component of {self.node.path} emits: {owner} already emits it; "
            "pass create_namespace=False to install into it without emitting it again",
        )

    @property
    def namespace_owners(self) -> dict[str, PlatformComponent]:
        """Every Namespace emitted in this tree, with the component that emits it."""
        return {name: claim.owner for name, claim in self._namespace_claims.items()}

    @property
    def registered_components(self) -> list[PlatformComponent]:
        """Every component of this tree, in creation order."""
        return list(self._components)

    @property
    def components(self) -> list[PlatformComponent]:
        """Every component of this tree, in dependency order (dependencies first, ties by creation)."""
        from .graph import dependency_order

        return dependency_order(self._components, where=self.node.path)


def _check_chart_props(where: str, props: Mapping[str, Any]) -> None:
    """The ``cdk8s.Chart`` keyword arguments, checked so jsii never sees a wrong type."""
    for key, value in props.items():
        if key not in _CHART_PROPS:
            raise ValidationError(
                where,
                "keyword argument",
                key,
                "path, source_ref, name_prefix or a cdk8s Chart option: " + ", ".join(_CHART_PROPS),
            )
        if value is None:
            continue
        if key == "labels":
            check_labels(where, "labels", value)
        elif key == "namespace":
            check_dns_label(where, "namespace", value)
        else:
            check_bool(where, key, value)
