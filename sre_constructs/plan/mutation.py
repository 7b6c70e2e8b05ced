"""Mutating admission before validation: pods as the validating policies see them.

The API server runs every mutating webhook before any validating one, so a pod is judged as the
mutating webhooks of the tree leave it. Modelled here: istiod's sidecar injector (chart
``istiod``), which selects pods by the labels istiod's ``MutatingWebhookConfiguration`` names
(namespace ``istio-injection=enabled`` or ``istio.io/rev``, pod ``sidecar.istio.io/inject`` or
``istio.io/rev``) and applies the templates the pod asks for (``inject.istio.io/templates``,
default ``sidecar``): every container whose image is ``auto`` gets the proxy image; the
``sidecar`` template adds the ``istio-proxy`` container and, without Istio CNI, the privileged
``istio-init`` container, with the security contexts and resources istio renders them with.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..kernel.values import get_path
from .kinds import FLUX_HELM, release_chart, release_values, release_version
from .source import Obj

__all__ = ["SidecarInjector", "injectors_of", "mutate"]

_PROXY_RESOURCES = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "2000m", "memory": "1024Mi"}}


@dataclass(frozen=True)
class SidecarInjector:
    """istiod's injection webhook, as one istiod release configures it.

    Attributes:
        release: the HelmRelease, for messages.
        revision: the revision it injects for (``default`` for none).
        proxy_image: the image injected containers and ``image: auto`` get.
        cni: whether Istio CNI replaces ``istio-init`` (no privileged init container then).
        resources: the resources of the injected proxy.
    """

    release: str
    revision: str
    proxy_image: str
    cni: bool
    resources: Mapping[str, Any]

    def selects(self, namespace_labels: Mapping[str, str], pod_labels: Mapping[str, str]) -> bool:
        """Whether the webhook's namespace and object selectors match the pod."""
        if str(pod_labels.get("sidecar.istio.io/inject", "")) == "false":
            return False
        namespace_injection = namespace_labels.get("istio-injection")
        if namespace_injection is not None:
            return namespace_injection == "enabled" and self.revision == "default"
        if namespace_labels.get("istio.io/rev"):
            return namespace_labels["istio.io/rev"] == self.revision
        if pod_labels.get("istio.io/rev"):
            return pod_labels["istio.io/rev"] == self.revision
        return str(pod_labels.get("sidecar.istio.io/inject", "")) == "true" and self.revision == "default"

    def inject(self, metadata: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
        """The pod spec after injection."""
        annotations = metadata.get("annotations") or {}
        templates = [t.strip() for t in str(annotations.get("inject.istio.io/templates", "sidecar")).split(",")]
        result = copy.deepcopy(dict(spec))
        for field_name in ("initContainers", "containers"):
            for container in result.get(field_name) or []:
                if isinstance(container, dict) and container.get("image") == "auto":
                    container["image"] = self.proxy_image
        names = {c.get("name") for c in result.get("containers") or [] if isinstance(c, dict)}
        if "sidecar" in templates and "istio-proxy" not in names:
            result["containers"] = [*(result.get("containers") or []), self._proxy()]
            if not self.cni:
                result["initContainers"] = [self._init(), *(result.get("initContainers") or [])]
        return result

    def _proxy(self) -> dict[str, Any]:
        return {
            "name": "istio-proxy",
            "image": self.proxy_image,
            "resources": copy.deepcopy(dict(self.resources)),
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "privileged": False,
                "readOnlyRootFilesystem": True,
                "runAsGroup": 1337,
                "runAsNonRoot": True,
                "runAsUser": 1337,
            },
        }

    def _init(self) -> dict[str, Any]:
        return {
            "name": "istio-init",
            "image": self.proxy_image,
            "resources": copy.deepcopy(dict(self.resources)),
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
                "privileged": False,
                "readOnlyRootFilesystem": False,
                "runAsGroup": 0,
                "runAsNonRoot": False,
                "runAsUser": 0,
            },
        }


def injectors_of(objects: Iterable[Obj]) -> list[SidecarInjector]:
    """The sidecar injectors the tree's istiod releases run."""
    found = []
    objects = list(objects)
    oci = {(o.namespace, o.name): o for o in objects if o.kind == "OCIRepository"}
    for obj in objects:
        if not obj.is_(FLUX_HELM, "HelmRelease") or release_chart(obj) != "istiod":
            continue
        values = release_values(obj)
        hub = str(get_path(values, "global.hub", "docker.io/istio")).rstrip("/")
        # The published chart's global.tag is its release: the chart version (spec.chart or chartRef's OCIRepository).
        tag = str(get_path(values, "global.tag", "") or release_version(obj, oci) or "latest")
        variant = str(get_path(values, "global.variant", "") or "")
        image = str(get_path(values, "global.proxy.image", "proxyv2"))
        proxy = image if "/" in image else f"{hub}/{image}:{tag}" + (f"-{variant}" if variant else "")
        found.append(
            SidecarInjector(
                release=obj.label,
                revision=str(values.get("revision") or "default"),
                proxy_image=proxy,
                cni=bool(get_path(values, "istio_cni.enabled", False) or get_path(values, "pilot.cni.enabled", False)),
                resources=get_path(values, "global.proxy.resources", _PROXY_RESOURCES),
            )
        )
    return found


def mutate(
    injectors: Iterable[SidecarInjector],
    namespace_labels: Mapping[str, str],
    metadata: Mapping[str, Any],
    spec: Mapping[str, Any],
) -> dict[str, Any]:
    """A pod spec as admission's validating phase sees it, after the tree's mutating webhooks."""
    pod_labels = metadata.get("labels") or {}
    for injector in injectors:
        if injector.selects(namespace_labels, pod_labels):
            return injector.inject(metadata, spec)
    return dict(spec)
