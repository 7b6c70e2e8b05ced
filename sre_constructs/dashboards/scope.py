"""The platform as its dashboards see it: where each component runs, its Flux name, the gateway, Loki."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Scope"]


@dataclass(frozen=True)
class Scope:
    """What the dashboards need to know of the platform they watch.

    Attributes:
        namespaces: component name -> the namespace it runs in.
        flux_names: component name -> its Flux Kustomization's name (``name_prefix`` included).
        gateway: the Istio ingress gateway's ``(namespace, Deployment name)``, when it is on.
        loki: Loki is a datasource (logging is enabled): dashboards add their log panels.
    """

    namespaces: Mapping[str, str]
    flux_names: Mapping[str, str] = field(default_factory=dict)
    gateway: tuple[str, str] | None = None
    loki: bool = False

    def ns(self, component: str) -> str:
        """The namespace ``component`` runs in."""
        return self.namespaces[component]
