"""Logging: Loki stores logs, Alloy ships every pod's logs to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.naming import helm_fullname
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["Logging"]


class Logging(PlatformComponent):
    """Loki (single binary, filesystem storage) and Alloy (DaemonSet).

    Knobs (all keyword arguments):

    - ``version``: Loki chart version. Default ``18.11.0``.
    - ``values``: Helm values for Loki, deep-merged last. Default none.
    - ``alloy_version``: Alloy chart version. Default ``1.11.1``.
    - ``alloy_values``: Helm values for Alloy, deep-merged last. Default none.
    - ``namespace``: Default ``logging``.
    - ``wait``: Default ``True``; with ``False`` the health checks name StatefulSet ``loki``,
      Deployment ``loki-gateway`` and DaemonSet ``alloy``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        alloy_version: str | None = None,
        alloy_values: Mapping[str, Any] | None = None,
        namespace: str = "logging",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="logging", namespace=namespace, wait=wait)
        loki_defaults: dict[str, Any] = {
            # The chart refuses to render without a schema and a storage choice.
            "deploymentMode": "SingleBinary",
            "loki": {
                "auth_enabled": False,
                "commonConfig": {"replication_factor": 1},
                "storage": {"type": "filesystem"},
                "schemaConfig": {
                    "configs": [{
                        "from": "2024-04-01", "store": "tsdb", "object_store": "filesystem",
                        "schema": "v13", "index": {"prefix": "loki_index_", "period": "24h"},
                    }]
                },
            },
            "singleBinary": {"replicas": 1},
            "backend": {"replicas": 0},
            "read": {"replicas": 0},
            "write": {"replicas": 0},
        }
        self.loki = self.add_helm_release(
            "loki", CHARTS["logging/loki"], version=version, values=deep_merge(loki_defaults, values or {}),
        )
        self.alloy = self.add_helm_release(
            "alloy", CHARTS["logging/alloy"], version=alloy_version, depends_on=[self.loki],
            values=deep_merge({}, alloy_values or {}),
        )
        loki = helm_fullname("loki", "loki", override=self.loki.values.get("fullnameOverride"))
        alloy = helm_fullname("alloy", "alloy", override=self.alloy.values.get("fullnameOverride"))
        self.add_health_check(HealthCheck("StatefulSet", loki, namespace))
        self.add_health_check(HealthCheck("Deployment", f"{loki}-gateway", namespace))
        self.add_health_check(HealthCheck("DaemonSet", alloy, namespace))
