"""Chart sources: every HelmRelease names its repository once; sources are the derived union.

Two kinds: a ``HelmRepository`` per distinct repository URL (``chart_source="helm"``, the default),
and an ``OCIRepository`` per chart artifact and version (``chart_source="oci"``: HelmReleases then
use ``spec.chartRef`` instead of ``spec.chart``).
"""

from __future__ import annotations

from typing import Any

from cdk8s import Chart
from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import source as flux_source

from .charts import ChartRepository
from .errors import ValidationError
from .manifest import (
    PythonRendered,
    cached_chart,
    create_typed,
    struct,
    structs_unchecked_ok,
)
from .validation import _VERSION, check_dns_label

__all__ = ["FLUX_NAMESPACE", "ChartSources"]

#: Where Flux and its sources live.
FLUX_NAMESPACE = "flux-system"


# Sources are built from checked names and URLs: jsii's typeguard checks are skipped (see
# manifest.struct), unless this jsii lays its structs out differently.
_CHECKED = not structs_unchecked_ok(
    (
        flux_source.HelmRepositorySpec,
        {"interval": "1h", "url": "oci://r", "type": flux_source.HelmRepositorySpecType.OCI},
    ),
    (flux_source.OciRepositorySpecRef, {"tag": "1.0.0"}),
)


class _Source(PythonRendered):
    """A chart source (first base of the generated class ``_props_type`` belongs to)."""

    _props_type: type[Any]

    def __init__(self, scope: Construct, id: str, *, metadata: dict[str, str], spec: Any) -> None:
        props = {"metadata": metadata, "spec": spec}
        if not create_typed(self, self._props_type, scope, id, props, checked=_CHECKED):  # type: ignore[arg-type]
            super().__init__(scope, id, metadata=metadata, spec=spec)  # type: ignore[call-arg]


class _HelmRepository(_Source, flux_source.HelmRepository):
    _props_type = flux_source.HelmRepositoryProps


class _OciRepository(_Source, flux_source.OciRepository):
    _props_type = flux_source.OciRepositoryProps


class ChartSources(Construct):
    """The ``HelmRepository`` objects of one chart: one per distinct URL, created on first use.

    Never hand-kept: components call :meth:`use` for each chart they install, so the set always
    equals what the enabled components need. A :class:`~sre_constructs.PlatformChart` writes
    them to ``sources/helmrepositories.yaml`` (in ``flux-system``); in any other chart they
    synthesize with it: in ``flux-system`` for components given a ``path``, and for a component
    alone in the chart (``standalone``) in the namespace of the release that uses it, so a team's
    chart never shares (or replaces) the platform's sources and needs no cross-namespace reference.

    Args:
        scope: the chart.
        id: construct id (use :meth:`of` instead of constructing directly).
        interval: how often Flux refreshes each repository index. Default ``1h``.
    """

    ID = "ChartSources"

    def __init__(self, scope: Construct, id: str, *, interval: str = "1h") -> None:
        super().__init__(scope, id)
        self._interval = interval
        # Keyed by (namespace, url) and (namespace, name): one set of sources per namespace.
        self._by_url: dict[tuple[str, str], ChartRepository] = {}
        self._by_name: dict[tuple[str, str], ChartRepository] = {}
        self._objects: list[flux_source.HelmRepository | flux_source.OciRepository] = []
        self._oci: dict[tuple[str, str], tuple[str, str]] = {}  # (namespace, name) -> (url, version)

    @classmethod
    def of(cls, construct: Construct) -> ChartSources:
        """The sources of the chart that holds ``construct``, created on first use."""
        chart = cached_chart(construct) or Chart.of(construct)
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
    def objects(self) -> list[flux_source.HelmRepository | flux_source.OciRepository]:
        """The emitted ``HelmRepository`` and ``OCIRepository`` objects, in first-use order."""
        return list(self._objects)

    def use_oci(self, name: str, url: str, version: str, *, where: str, namespace: str = FLUX_NAMESPACE) -> str:
        """Register that a release installs the chart artifact ``url`` at ``version`` (``chartRef``).

        One ``OCIRepository`` per name; an exact version becomes ``ref.tag``, a range ``ref.semver``.

        Args:
            name: the OCIRepository name (the chart name; a DNS-1123 label).
            url: the chart artifact, ``oci://host/path/chart``.
            version: the chart version (the OCI tag) or a semver range.
            where: the construct path of the user, for error messages.
            namespace: where the OCIRepository lives. Default ``flux-system``.

        Returns:
            The ``OCIRepository`` name to reference from ``spec.chartRef``.
        """
        check_dns_label(where, "OCIRepository name", name)
        if not isinstance(url, str) or not url.startswith("oci://"):
            raise ValidationError(where, "chart OCI url", url, "an oci://host/path/chart URL")
        known = self._oci.get((namespace, name))
        if known is not None:
            if known != (url, version):
                raise ValidationError(
                    where,
                    "chart",
                    f"{url}:{version}",
                    f"OCIRepository {name!r} already serves {known[0]}:{known[1]}; one chart version per name",
                )
            return name
        if (namespace, name) in self._by_name:
            raise ValidationError(where, "OCIRepository name", name, "a name not used by a HelmRepository")
        self._oci[(namespace, name)] = (url, version)
        exact = bool(_VERSION.fullmatch(version))
        self._objects.append(
            _OciRepository(
                self,
                f"oci-{name}" if namespace == FLUX_NAMESPACE else f"oci-{name}-{namespace}",
                metadata={"name": name, "namespace": namespace},
                spec=struct(
                    flux_source.OciRepositorySpec,
                    _CHECKED,
                    interval=self._interval,
                    url=url,
                    # Helm charts are one layer of this media type; Flux needs to be told.
                    layer_selector=struct(
                        flux_source.OciRepositorySpecLayerSelector,
                        _CHECKED,
                        media_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                        operation=flux_source.OciRepositorySpecLayerSelectorOperation.COPY,
                    ),
                    ref=struct(flux_source.OciRepositorySpecRef, _CHECKED, tag=version)
                    if exact
                    else struct(flux_source.OciRepositorySpecRef, _CHECKED, semver=version),
                ),
            )
        )
        return name

    def use(self, repository: ChartRepository, *, where: str, namespace: str = FLUX_NAMESPACE) -> str:
        """Register that a release installs a chart from ``repository``.

        Args:
            repository: the chart repository.
            where: the construct path of the user, for error messages.
            namespace: where the HelmRepository lives. Default ``flux-system``.

        Returns:
            The ``HelmRepository`` name to reference from ``sourceRef``.
        """
        known = self._by_url.get((namespace, repository.url))
        if known is not None:
            if known.name != repository.name:
                raise ValidationError(
                    where,
                    "chart repository name",
                    repository.name,
                    f"{repository.url} is already registered as {known.name!r}; one name per URL",
                )
            return known.name
        check_dns_label(where, "chart repository name", repository.name)
        clash = self._by_name.get((namespace, repository.name))
        if clash is None and (namespace, repository.name) in self._oci:
            raise ValidationError(
                where, "chart repository name", repository.name, "a name not used by an OCIRepository"
            )
        if clash is not None:
            raise ValidationError(
                where,
                "chart repository name",
                repository.name,
                f"already used for {clash.url}; give {repository.url} another name",
            )
        self._by_url[(namespace, repository.url)] = repository
        self._by_name[(namespace, repository.name)] = repository
        spec: dict[str, Any] = {"interval": self._interval, "url": repository.url}
        if repository.url.startswith("oci://"):
            spec["type"] = flux_source.HelmRepositorySpecType.OCI
        self._objects.append(
            _HelmRepository(
                self,
                repository.name if namespace == FLUX_NAMESPACE else f"{repository.name}-{namespace}",
                metadata={"name": repository.name, "namespace": namespace},
                spec=struct(flux_source.HelmRepositorySpec, _CHECKED, **spec),
            )
        )
        return repository.name
