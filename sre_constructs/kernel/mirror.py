"""Where charts and images live on a registry mirror (layout: :mod:`sre_constructs.airgap`).

In the kernel because a component points its chart sources at the mirror; :mod:`sre_constructs.airgap`
re-exports these names beside the per-chart image overlays.
"""

from __future__ import annotations

from .charts import ChartRepository

__all__ = ["MIRROR_REPOSITORY_NAME", "mirror_chart_repository", "mirror_chart_url", "mirror_image"]

#: Name of the one OCI ``HelmRepository`` all charts come from with a mirror and ``chart_source: helm``.
MIRROR_REPOSITORY_NAME = "registry-mirror"


def mirror_image(reference: str, mirror: str) -> str:
    """An image reference moved to the mirror: the registry host is replaced, the path kept.

    ``docker.io/velero/velero-plugin-for-aws:v1.14.4`` -> ``<mirror>/velero/velero-plugin-for-aws:v1.14.4``;
    ``busybox:1.36`` (Docker Hub) -> ``<mirror>/library/busybox:1.36``.
    """
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest
    elif rest:
        path = reference  # Docker Hub user/repo
    else:
        path = f"library/{reference}"  # Docker Hub official image
    return f"{mirror}/{path}"


def mirror_chart_url(mirror: str, chart: str) -> str:
    """Where a chart lives on the mirror: ``oci://<mirror>/charts/<chart>``."""
    return f"oci://{mirror}/charts/{chart}"


def mirror_chart_repository(mirror: str) -> ChartRepository:
    """The one OCI Helm repository of the mirror: ``oci://<mirror>/charts``."""
    return ChartRepository(MIRROR_REPOSITORY_NAME, f"oci://{mirror}/charts")
