"""External Secrets: syncs secrets from OpenBao into Kubernetes Secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.naming import helm_fullname
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["ExternalSecrets"]


class ExternalSecrets(PlatformComponent):
    """The External Secrets Operator: controller, webhook and cert-controller, with CRDs.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``2.9.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``external-secrets``.
    - ``release_name``: Default ``external-secrets``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the three Deployments.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "external-secrets",
        release_name: str = "external-secrets",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="external-secrets", namespace=namespace, wait=wait)
        defaults: dict[str, Any] = {
            "installCRDs": True,
            # The chart has no keep policy of its own: deleting the release must not delete every ExternalSecret.
            "crds": {"annotations": {"helm.sh/resource-policy": "keep"}},
        }
        self.release = self.add_helm_release(
            release_name, CHARTS["external-secrets/external-secrets"], version=version,
            values=deep_merge(defaults, values or {}),
        )
        fullname = helm_fullname(
            release_name, "external-secrets", override=self.release.values.get("fullnameOverride")
        )
        for suffix in ("", "-webhook", "-cert-controller"):
            self.add_health_check(HealthCheck("Deployment", fullname + suffix, namespace))
