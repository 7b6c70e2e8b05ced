"""Monitoring: kube-prometheus-stack (Prometheus Operator, Prometheus, Alertmanager, Grafana)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from ..kernel.component import HealthCheck, PlatformComponent
from ..kernel.naming import helm_fullname
from ..kernel.values import deep_merge
from ..versions import CHARTS

__all__ = ["Monitoring"]


class Monitoring(PlatformComponent):
    """kube-prometheus-stack: the operator, Prometheus, Alertmanager, Grafana and exporters.

    Knobs (all keyword arguments):

    - ``version``: chart version. Default ``88.5.3``.
    - ``values``: Helm values, deep-merged last. Default none.
    - ``namespace``: Default ``monitoring``.
    - ``release_name``: Default ``kube-prometheus-stack``.
    - ``wait``: Default ``True``; with ``False`` the health checks name the operator, Grafana and
      kube-state-metrics Deployments, the node-exporter DaemonSet and the Prometheus and
      Alertmanager StatefulSets the operator creates.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str = "monitoring",
        release_name: str = "kube-prometheus-stack",
        wait: bool = True,
    ) -> None:
        super().__init__(scope, id, name="monitoring", namespace=namespace, wait=wait)
        # Select ServiceMonitors and rules of every namespace, not only those labelled with this release.
        selectors = {
            f"{kind}SelectorNilUsesHelmValues": False
            for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
        }
        defaults: dict[str, Any] = {"prometheus": {"prometheusSpec": selectors}}
        self.release = self.add_helm_release(
            release_name, CHARTS["monitoring/kube-prometheus-stack"], version=version,
            values=deep_merge(defaults, values or {}), timeout="15m",
        )
        for check in self._workloads(release_name, namespace, self.release.values):
            self.add_health_check(check)

    @staticmethod
    def _workloads(release: str, namespace: str, values: Mapping[str, Any]) -> list[HealthCheck]:
        # kube-prometheus-stack truncates its fullname to 26 characters; subcharts use their own rule.
        full = helm_fullname(release, "kube-prometheus-stack", override=values.get("fullnameOverride"), max_length=26)

        def sub(chart: str) -> str:
            return helm_fullname(release, chart, override=(values.get(chart) or {}).get("fullnameOverride"))

        operator = (values.get("prometheusOperator") or {}).get("fullnameOverride") or f"{full}-operator"
        return [
            HealthCheck("Deployment", operator, namespace),
            HealthCheck("Deployment", sub("grafana"), namespace),
            HealthCheck("Deployment", sub("kube-state-metrics"), namespace),
            HealthCheck("DaemonSet", sub("prometheus-node-exporter"), namespace),
            HealthCheck("StatefulSet", f"prometheus-{full}-prometheus", namespace),
            HealthCheck("StatefulSet", f"alertmanager-{full}-alertmanager", namespace),
        ]
