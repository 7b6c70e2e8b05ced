"""OpenBao: secrets management, HA on integrated (raft) storage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.naming import helm_fullname
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["OpenBao"]


class OpenBao(PlatformComponent):
    """OpenBao server as a raft StatefulSet.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``0.29.2``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``openbao``.
    - ``release_name``: Default ``openbao``.
    - ``replicas``: raft members. Default ``3``.
    - ``wait``: Default ``True``; with ``False`` the health check names StatefulSet ``openbao``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "openbao",
        release_name: str = "openbao",
        replicas: int = 3,
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="openbao", namespace=namespace, wait=wait)
        defaults: dict[str, Any] = {
            "injector": {"enabled": False},
            "server": {
                "standalone": {"enabled": False},
                "ha": {"enabled": True, "replicas": replicas, "raft": {"enabled": True, "setNodeId": True}},
            },
        }
        self.release = self.add_helm_release(
            release_name, CHARTS["openbao/openbao"], version=version, values=deep_merge(defaults, values or {}),
        )
        fullname = helm_fullname(release_name, "openbao", override=self.release.values.get("fullnameOverride"))
        self.add_health_check(HealthCheck("StatefulSet", fullname, namespace))
