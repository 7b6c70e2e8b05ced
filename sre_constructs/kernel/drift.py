"""helm-controller drift detection for every HelmRelease, with the chart's own exceptions.

With ``driftDetection.mode: enabled`` helm-controller compares the release's objects in the
cluster with its manifest (a server-side dry-run apply) at every reconcile and corrects what
differs, so a ``kubectl edit`` of a platform Deployment is undone, not kept until the next
upgrade (Big Bang's ADR 0006 does the same). Fields a controller owns once running are ignored,
and only those: each chart's facts name them (:attr:`ChartFacts.drift_ignores`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import helm as flux_helm

from . import flux_structs
from .facts import chart_facts
from .manifest import struct

__all__ = ["drift_detection"]


def drift_detection(
    chart: str, values: Mapping[str, Any], namespace: str, release: str
) -> flux_helm.HelmReleaseSpecDriftDetection:
    """``spec.driftDetection`` of a release of ``chart``: enabled, ignoring only what its facts name."""
    facts = chart_facts(chart)
    rules = facts.drift_ignores(values, namespace, release) if facts is not None else ()
    ignore = [
        struct(
            flux_helm.HelmReleaseSpecDriftDetectionIgnore,
            flux_structs.CHECKED,
            paths=list(rule.paths),
            # Target fields are anchored regular expressions: match the name literally.
            target=struct(
                flux_helm.HelmReleaseSpecDriftDetectionIgnoreTarget,
                flux_structs.CHECKED,
                group=rule.group,
                kind=rule.kind,
                name=re.sub(r"([.])", r"\\\1", rule.name),
            ),
        )
        for rule in rules
    ]
    return struct(
        flux_helm.HelmReleaseSpecDriftDetection,
        flux_structs.CHECKED,
        mode=flux_helm.HelmReleaseSpecDriftDetectionMode.ENABLED,
        ignore=ignore or None,
    )
