"""Kyverno: Kubernetes-native policy enforcement."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["Kyverno"]

_CONTROLLERS = ("admission-controller", "background-controller", "cleanup-controller", "reports-controller")


class Kyverno(PlatformComponent):
    """Kyverno admission, background, cleanup and reports controllers, with their CRDs.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``3.9.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``kyverno``.
    - ``release_name``: Default ``kyverno``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the four controller
      Deployments ``kyverno-<controller>`` (fixed names: they follow ``nameOverride`` only).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "kyverno",
        release_name: str = "kyverno",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="kyverno", namespace=namespace, wait=wait)
        self.release = self.add_helm_release(
            release_name, CHARTS["kyverno/kyverno"], version=version, values=deep_merge({}, values or {}),
        )
        base = self.release.values.get("nameOverride") or "kyverno"
        for controller in _CONTROLLERS:
            self.add_health_check(HealthCheck("Deployment", f"{base}-{controller}", namespace))
