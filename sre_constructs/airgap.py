"""Air-gapped clusters: every image and every chart from one registry mirror.

``CorePlatform(..., registry_mirror="registry.example.com:5000/platform")`` (or ``registry_mirror``
in a cluster file) points every container image of every chart, and every chart source, at the
mirror. The layout this assumes on the mirror (``<mirror>`` = ``host[:port][/prefix]``):

``<mirror>/<repository>:<tag>`` for images
    The upstream image reference without its registry host: ``quay.io/jetstack/cert-manager-controller:v1.21.1``
    is expected at ``<mirror>/jetstack/cert-manager-controller:v1.21.1``, ``docker.io/istio/pilot``
    at ``<mirror>/istio/pilot``, ``registry.k8s.io/kube-state-metrics/kube-state-metrics`` at
    ``<mirror>/kube-state-metrics/kube-state-metrics``. This is the layout the charts' own
    registry keys produce (``global.imageRegistry`` and friends replace the registry host and keep
    the repository path), the layout of a Harbor project filled by replication, and what
    ``crane copy``/``skopeo sync``/``oras`` loops write when given ``<mirror>/<repository>``.
``<mirror>/charts/<chart>:<version>`` for charts
    Every chart as an OCI artifact (``helm push <chart>-<version>.tgz oci://<mirror>/charts``).
    With ``chart_source: helm`` (default) the tree holds one ``HelmRepository`` of ``type: oci``
    named ``registry-mirror`` at ``oci://<mirror>/charts``; with ``chart_source: oci`` one
    ``OCIRepository`` per chart at ``oci://<mirror>/charts/<chart>``. Chart names are unique in
    :data:`~sre_constructs.versions.CHARTS` (NeuVector's is ``core``).

How images are rewritten: through each chart's real image keys, which each service module states
beside its construct (``ChartFacts.image_keys``, registered with
:func:`~sre_constructs.kernel.facts.register_chart`; :data:`MIRROR_KEYS` is the view of all of
them). The overlay is merged *under* the user's values of that chart (``values``, ``base_values``,
``gateway_values``, ``alloy_values``), so a value the user sets still wins. Images the library
itself writes into values or manifests (``ChartFacts.library_images``, :data:`LIBRARY_IMAGES`, e.g.
Velero's AWS plugin init container) are rewritten in place with :func:`mirror_image`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .kernel.errors import ValidationError
from .kernel.facts import ChartFacts, chart_facts
from .kernel.mirror import MIRROR_REPOSITORY_NAME, mirror_chart_repository, mirror_chart_url, mirror_image
from .kernel.values import set_path

# Each service module states (and registers) the facts of its charts when imported.
from .services import (  # noqa: F401
    backup,
    cert_manager,
    external_secrets,
    istio,
    kyverno,
    logging,
    monitoring,
    oauth2_proxy,
    openbao,
    runtime_security,
)
from .versions import CHARTS

__all__ = [
    "LIBRARY_IMAGES",
    "MIRROR_KEYS",
    "MIRROR_REPOSITORY_NAME",
    "check_mirror",
    "mirror_chart_repository",
    "mirror_chart_url",
    "mirror_image",
    "mirror_knobs",
    "mirror_values",
    "rewrite_library_images",
]


def _facts(key: str) -> ChartFacts:
    facts = chart_facts(CHARTS[key].chart)
    if facts is None:  # pragma: no cover - tests/test_airgap.py checks every pinned chart has facts
        raise LookupError(f"chart {key!r}: its service module states no ChartFacts")
    return facts


#: Every pinned chart's image keys, from its service's facts: chart key -> (service knob holding
#: that chart's values, {dotted Helm value path: template}); "{mirror}" is replaced by the mirror.
MIRROR_KEYS: dict[str, tuple[str, dict[str, str]]] = {
    key: (_facts(key).values_knob, dict(_facts(key).image_keys)) for key in CHARTS
}

#: Full image references the library writes itself (not through a chart's registry key).
LIBRARY_IMAGES: tuple[str, ...] = tuple(image for key in CHARTS for image in _facts(key).library_images)

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_MIRROR = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def check_mirror(where: str, field: str, value: object) -> str:
    """A registry mirror: ``host[:port][/prefix]`` without scheme or trailing slash."""
    if isinstance(value, str) and len(value) <= 255 and _MIRROR.fullmatch(value):
        return value
    raise ValidationError(
        where,
        field,
        value,
        "a registry host with optional port and path prefix, without scheme, such as "
        "'registry.example.com', 'registry.local:5000' or 'harbor.example.com/platform'",
    )


def _chart_key(chart: str) -> str:
    if chart in CHARTS:
        return chart
    matches = [key for key, pin in CHARTS.items() if pin.chart == chart]
    if len(matches) == 1:
        return matches[0]
    raise ValidationError("airgap", "chart", chart, "a chart key of versions.CHARTS: " + ", ".join(CHARTS))


def mirror_values(chart: str, mirror: str) -> dict[str, Any]:
    """The Helm values that point every image of one chart at ``mirror``.

    Args:
        chart: a chart key of :data:`~sre_constructs.versions.CHARTS` (``monitoring/kube-prometheus-stack``)
            or a chart name (``kube-prometheus-stack``).
        mirror: ``host[:port][/prefix]``.

    Returns:
        A new nested mapping, e.g. ``{"global": {"imageRegistry": "registry.local:5000"}}``.
    """
    check_mirror("airgap", "mirror", mirror)
    values: dict[str, Any] = {}
    for dotted, template in _facts(_chart_key(chart)).image_keys.items():
        set_path(values, dotted, template.format(mirror=mirror))
    return values


def mirror_knobs(service: str, mirror: str) -> dict[str, dict[str, Any]]:
    """The mirror overlays of every chart of one service, by the service knob that takes them.

    Args:
        service: a service name (``logging``).
        mirror: ``host[:port][/prefix]``.

    Returns:
        ``{knob: values}`` with empty overlays left out, e.g. for ``logging``
        ``{"values": {...loki...}, "alloy_values": {...}}``.
    """
    knobs: dict[str, dict[str, Any]] = {}
    for key, pin in CHARTS.items():
        if pin.service == service:
            overlay = mirror_values(key, mirror)
            if overlay:
                knobs[_facts(key).values_knob] = overlay
    return knobs


def _rewrite(node: Any, mirror: str, images: frozenset[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and value in images:
                node[key] = mirror_image(value, mirror)
            else:
                _rewrite(value, mirror, images)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str) and value in images:
                node[index] = mirror_image(value, mirror)
            else:
                _rewrite(value, mirror, images)


def rewrite_library_images(components: Any, mirror: str) -> None:
    """Move the library's own image references (every chart's ``library_images``) to the mirror, in place.

    Walks the final values of every HelmRelease and the body of every Manifest of the given
    components. Only exact library references change: an image the user set stays as given.
    """
    from cdk8s import ApiObject

    from .kernel.manifest import Manifest

    images = frozenset(image for key in CHARTS for image in _facts(key).library_images)
    for component in components:
        for release in getattr(component, "_releases", []):
            _rewrite(release.values, mirror, images)
        for node in component.node.find_all():
            body = getattr(node, "_body", None) if isinstance(node, (Manifest, ApiObject)) else None
            if isinstance(body, dict):  # Manifests keep their body as Python data
                _rewrite(body, mirror, images)


def overlay_under(overlay: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """``deep_merge(overlay, user)``: the user's values win over the mirror overlay."""
    from .kernel.values import deep_merge

    return deep_merge(overlay, user or {})
