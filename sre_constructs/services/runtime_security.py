"""Runtime security: NeuVector (controller, enforcer, manager, scanner)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["RuntimeSecurity"]


class RuntimeSecurity(PlatformComponent):
    """NeuVector from its ``core`` chart, which also installs its CRDs.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``2.11.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``neuvector``.
    - ``release_name``: Default ``neuvector``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the controller, manager and
      scanner Deployments and the enforcer DaemonSet (fixed names in this chart).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "neuvector",
        release_name: str = "neuvector",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="runtime-security", namespace=namespace, wait=wait)
        self.release = self.add_helm_release(
            release_name, CHARTS["runtime-security/core"], version=version, values=deep_merge({}, values or {}),
        )
        # NeuVector's workload names ignore the release name and fullnameOverride.
        for kind, name in (
            ("Deployment", "neuvector-controller-pod"),
            ("Deployment", "neuvector-manager-pod"),
            ("Deployment", "neuvector-scanner-pod"),
            ("DaemonSet", "neuvector-enforcer-pod"),
        ):
            self.add_health_check(HealthCheck(kind, name, namespace))
