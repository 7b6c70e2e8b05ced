"""Chart sources: every HelmRelease names its repository once; sources are the derived union."""

from __future__ import annotations

from typing import Any

from cdk8s import Chart
from constructs import Construct

from imports.flux.io.fluxcd.toolkit import source as flux_source

from ..versions import ChartRepository
from .errors import ValidationError
from .validation import check_dns_label

__all__ = ["ChartSources", "FLUX_NAMESPACE"]

#: Where Flux and its sources live.
FLUX_NAMESPACE = "flux-system"


class ChartSources(Construct):
    """The ``HelmRepository`` objects of one chart: one per distinct URL, created on first use.

    Never hand-kept: components call :meth:`use` for each chart they install, so the set always
    equals what the enabled components need. A :class:`~sre_constructs.PlatformChart` writes
    them to ``sources/helmrepositories.yaml``; in any other chart they synthesize with it.

    Args:
        scope: the chart.
        id: construct id (use :meth:`of` instead of constructing directly).
        interval: how often Flux refreshes each repository index. Default ``1h``.
    """

    ID = "ChartSources"

    def __init__(self, scope: Construct, id: str, *, interval: str = "1h") -> None:
        super().__init__(scope, id)
        self._interval = interval
        self._by_url: dict[str, ChartRepository] = {}
        self._by_name: dict[str, ChartRepository] = {}
        self._objects: list[flux_source.HelmRepository] = []

    @classmethod
    def of(cls, construct: Construct) -> ChartSources:
        """The sources of the chart that holds ``construct``, created on first use."""
        chart = construct.__dict__.get("_sre_chart") or Chart.of(construct)
        cached = chart.__dict__.get("_sre_chart_sources")
        if isinstance(cached, ChartSources):
            return cached
        found = chart.node.try_find_child(cls.ID)
        if found is None:
            found = cls(chart, cls.ID)
        elif not isinstance(found, ChartSources):
            raise ValidationError(chart.node.path, "construct id", cls.ID, "reserved for chart sources")
        chart.__dict__["_sre_chart_sources"] = found
        return found

    @property
    def repositories(self) -> list[ChartRepository]:
        """The repositories in use, in first-use order."""
        return list(self._by_url.values())

    @property
    def objects(self) -> list[flux_source.HelmRepository]:
        """The emitted ``HelmRepository`` objects, in first-use order."""
        return list(self._objects)

    def use(self, repository: ChartRepository, *, where: str) -> str:
        """Register that a release installs a chart from ``repository``.

        Args:
            repository: the chart repository.
            where: the construct path of the user, for error messages.

        Returns:
            The ``HelmRepository`` name to reference from ``sourceRef``.
        """
        known = self._by_url.get(repository.url)
        if known is not None:
            if known.name != repository.name:
                raise ValidationError(
                    where, "chart repository name", repository.name,
                    f"{repository.url} is already registered as {known.name!r}; one name per URL",
                )
            return known.name
        check_dns_label(where, "chart repository name", repository.name)
        clash = self._by_name.get(repository.name)
        if clash is not None:
            raise ValidationError(
                where, "chart repository name", repository.name,
                f"already used for {clash.url}; give {repository.url} another name",
            )
        self._by_url[repository.url] = repository
        self._by_name[repository.name] = repository
        spec: dict[str, Any] = {"interval": self._interval, "url": repository.url}
        if repository.url.startswith("oci://"):
            spec["type"] = flux_source.HelmRepositorySpecType.OCI
        self._objects.append(
            flux_source.HelmRepository(
                self, repository.name,
                metadata={"name": repository.name, "namespace": FLUX_NAMESPACE},
                spec=flux_source.HelmRepositorySpec(**spec),
            )
        )
        return repository.name
