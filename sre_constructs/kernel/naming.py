"""Helm naming rules, so health checks name the workloads a chart really creates."""

from __future__ import annotations

__all__ = ["helm_fullname"]


def helm_fullname(release: str, chart: str, *, override: str | None = None, max_length: int = 63) -> str:
    """The common ``<chart>.fullname`` helper of Helm charts.

    ``fullnameOverride`` if set; else the release name when it already contains the chart name;
    else ``<release>-<chart>``; truncated to ``max_length`` with a trailing ``-`` removed.

    Args:
        release: the Helm release name.
        chart: the chart name (or its ``nameOverride``).
        override: the chart's ``fullnameOverride`` value, if any.
        max_length: truncation length (63 for most charts, 26 for kube-prometheus-stack).
    """
    if override:
        name = override
    elif chart in release:
        name = release
    else:
        name = f"{release}-{chart}"
    return name[:max_length].rstrip("-")
