"""cert-manager: TLS certificate issuance and rotation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.naming import helm_fullname
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["CertManager"]


class CertManager(PlatformComponent):
    """cert-manager controller, webhook and cainjector, with its CRDs.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``v1.21.1``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``cert-manager``.
    - ``release_name``: Default ``cert-manager``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the three Deployments.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "cert-manager",
        release_name: str = "cert-manager",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="cert-manager", namespace=namespace, wait=wait)
        defaults: dict[str, Any] = {
            # The chart ships its CRDs as templates, off by default; keep them on uninstall.
            "crds": {"enabled": True, "keep": True},
        }
        self.release = self.add_helm_release(
            release_name, CHARTS["cert-manager/cert-manager"], version=version,
            values=deep_merge(defaults, values or {}),
        )
        fullname = helm_fullname(release_name, "cert-manager", override=self.release.values.get("fullnameOverride"))
        for suffix in ("", "-webhook", "-cainjector"):
            self.add_health_check(HealthCheck("Deployment", fullname + suffix, namespace))
