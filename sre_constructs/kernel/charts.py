"""Chart repositories and chart pins: the data types of :mod:`sre_constructs.versions`.

They live in the kernel because components consume them (``add_helm_release``, chart sources);
the table of pinned versions stays in :mod:`sre_constructs.versions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .validation import check_dns_label, check_repository_url

__all__ = ["ChartPin", "ChartRepository"]


@dataclass(frozen=True)
class ChartRepository:
    """A Helm chart repository, emitted once as a Flux ``HelmRepository`` in ``flux-system``.

    Args:
        name: the HelmRepository object name (a DNS-1123 label).
        url: the repository URL (``https://`` for a classic index, ``oci://`` for an OCI registry).
    """

    name: str
    url: str

    def __post_init__(self) -> None:
        # Checked here because a repository is data users write by hand (a team's own charts).
        check_dns_label(f"ChartRepository({self.name!r})", "name", self.name)
        check_repository_url(f"ChartRepository({self.name!r})", "url", self.url)


@dataclass(frozen=True)
class ChartPin:
    """A chart at a pinned version, from one repository.

    Args:
        chart: the chart name inside the repository.
        version: the pinned chart version (exact semver; a range is allowed by the constructs).
        repository: where the chart is published over HTTPS.
        service: the platform service that installs it.
        oci: the OCI artifact (``oci://host/path/chart``) where upstream publishes one, else ``None``.
    """

    chart: str
    version: str
    repository: ChartRepository
    service: str
    oci: str | None = None
