"""Backup: Velero with the AWS (S3-compatible) plugin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["Backup"]

AWS_PLUGIN_IMAGE = "velero/velero-plugin-for-aws:v1.14.0"


class Backup(PlatformComponent):
    """Velero server and node agent.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``12.1.0``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``velero``.
    - ``release_name``: Default ``velero``.
    - ``node_agent``: run the file-system backup node agent DaemonSet. Default ``True``.
    - ``wait``: Default ``True``; with ``False`` the health checks name Deployment ``velero`` and
      (with the node agent) DaemonSet ``node-agent`` (fixed names in this chart).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "velero",
        release_name: str = "velero",
        node_agent: bool = True,
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="backup", namespace=namespace, wait=wait)
        defaults: dict[str, Any] = {
            "deployNodeAgent": node_agent,
            "initContainers": [{
                "name": "velero-plugin-for-aws",
                "image": AWS_PLUGIN_IMAGE,
                "volumeMounts": [{"mountPath": "/target", "name": "plugins"}],
            }],
        }
        self.release = self.add_helm_release(
            release_name, CHARTS["backup/velero"], version=version, values=deep_merge(defaults, values or {}),
        )
        self.add_health_check(HealthCheck("Deployment", "velero", namespace))
        if self.release.values.get("deployNodeAgent"):
            self.add_health_check(HealthCheck("DaemonSet", "node-agent", namespace))
