"""Istio: the service mesh (``istio-base`` CRDs and ``istiod``), with an optional ingress gateway."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["Istio"]


class Istio(PlatformComponent):
    """Istio service mesh: CRDs (``base``), control plane (``istiod``), optional ingress gateway.

    Knobs (all keyword arguments):

    - ``version``: chart version of base, istiod and gateway. Default ``1.30.3``.
    - ``values``: Helm values for istiod, deep-merged last. Default none.
    - ``base_values``: Helm values for the base chart, deep-merged last. Default none.
    - ``namespace``: control-plane namespace. Default ``istio-system``.
    - ``gateway``: also install the ingress gateway ``istio-ingressgateway`` in
      ``gateway_namespace``. Default ``False``.
    - ``gateway_namespace``: Default ``istio-ingress``.
    - ``gateway_values``: Helm values for the gateway chart. Default none.
    - ``wait``: Flux waits for every object (Default ``True``); with ``False`` the health checks
      name Deployment ``istiod`` (and the gateway Deployment).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        base_values: Mapping[str, Any] | None = None,
        namespace: str = "istio-system",
        gateway: bool = False,
        gateway_namespace: str = "istio-ingress",
        gateway_values: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="istio", namespace=namespace, wait=wait)
        base = self.add_helm_release(
            "istio-base", CHARTS["istio/base"], version=version,
            values=deep_merge({"defaultRevision": "default"}, base_values or {}),
        )
        # istiod's Deployment name is fixed ("istiod"), whatever the release is called.
        self.istiod = self.add_helm_release(
            "istiod", CHARTS["istio/istiod"], version=version, depends_on=[base],
            values=deep_merge({}, values or {}),
        )
        self.add_health_check(HealthCheck("Deployment", "istiod", namespace))
        self.gateway = None
        if gateway:
            # No istio-injection label: the gateway pod gets its proxy from the injector.
            self.add_namespace(gateway_namespace)
            # The gateway pod's image is injected by istiod, so it must come after istiod.
            self.gateway = self.add_helm_release(
                "istio-ingressgateway", CHARTS["istio/gateway"], version=version,
                namespace=gateway_namespace, depends_on=[self.istiod],
                values=deep_merge({}, gateway_values or {}),
            )
            self.add_health_check(HealthCheck("Deployment", "istio-ingressgateway", gateway_namespace))
