"""The component's Flux Kustomization: health checks, external dependencies and the derived timeout."""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import kustomize as flux_kustomize

from . import flux_structs
from .errors import ValidationError
from .manifest import PythonRendered, _register_object, create_typed
from .sources import FLUX_NAMESPACE
from .validation import check_dns_label, check_kind, check_object_name, duration_seconds, format_minutes

if TYPE_CHECKING:
    from .component import PlatformComponent
    from .helm_release import HelmReleaseHandle

__all__ = ["FluxDependency", "HealthCheck", "derived_timeout"]

_API_VERSION = re.compile(r"([a-z0-9.-]+/)?v[0-9]+([a-z]+[0-9]+)?")


@dataclass(frozen=True)
class HealthCheck:
    """An object Flux checks for readiness when the component's ``wait`` is off.

    Args:
        kind: the object kind (``Deployment``, ``StatefulSet``, ``DaemonSet``, ``HelmRelease``).
        name: the object name.
        namespace: the object namespace.
        api_version: its API version. Default ``apps/v1``.
    """

    kind: str
    name: str
    namespace: str
    api_version: str = "apps/v1"

    def __post_init__(self) -> None:
        where = f"HealthCheck({self.kind!r}, {self.name!r})"
        check_kind(where, "kind", self.kind)
        check_object_name(where, "name", self.name)
        check_dns_label(where, "namespace", self.namespace)
        if not isinstance(self.api_version, str) or not _API_VERSION.fullmatch(self.api_version):
            raise ValidationError(where, "api_version", self.api_version, "an API version such as 'apps/v1'")

    def to_flux(self) -> dict[str, str]:
        """The ``healthChecks`` entry."""
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "namespace": self.namespace}


@dataclass(frozen=True)
class FluxDependency:
    """A Flux Kustomization this component waits for, by name (for trees not built here)."""

    name: str
    namespace: str = FLUX_NAMESPACE


class ComponentKustomization(PythonRendered, flux_kustomize.Kustomization):
    """The component's Flux Kustomization; dependsOn, healthChecks and timeout follow later calls."""

    def __init__(self, scope: Construct, id: str, owner: PlatformComponent, **props: Any) -> None:
        if not create_typed(self, flux_kustomize.KustomizationProps, scope, id, props, checked=flux_structs.CHECKED):
            super().__init__(scope, id, **props)
        _register_object(scope, self)
        self._owner = weakref.ref(owner)  # the owner holds this object: no reference cycle

    def to_json(self) -> Any:
        data = super().to_json()
        owner = self._owner()
        if owner is None:  # pragma: no cover - jsii keeps every construct made in Python
            raise RuntimeError(f"{self.node.path}: the component of this Flux Kustomization is gone")
        data["spec"].update(owner._dynamic_spec())
        return data


def derived_timeout(releases: Sequence[HelmReleaseHandle]) -> str:
    """Helm timeouts summed along the longest release chain, plus 5m for apply and retries."""
    memo: dict[int, float] = {}

    def chain(release: HelmReleaseHandle) -> float:
        if id(release) not in memo:
            memo[id(release)] = duration_seconds(release.timeout) + max(
                (chain(dep) for dep in release.depends_on if dep in releases), default=0.0
            )
        return memo[id(release)]

    longest = max((chain(r) for r in releases), default=0.0)
    return format_minutes(longest + 300)
