"""What every platform dashboard knows of the platform it watches, and the panels they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import LOKI, Panel, Query, Threshold

__all__ = ["GREEN", "ORANGE", "RED", "WIDE", "Scope", "errors_log", "workload_panels"]

RED, ORANGE, GREEN = Threshold("red"), Threshold("orange"), Threshold("green")
#: The grid's full width.
WIDE = 24


@dataclass(frozen=True)
class Scope:
    """What the dashboards need to know of the platform they watch.

    Attributes:
        namespaces: component name -> the namespace it runs in.
        flux_names: component name -> its Flux Kustomization's name (``name_prefix`` included).
        gateway: the Istio ingress gateway's ``(namespace, Deployment name)``, when it is on.
        loki: Loki is a datasource (logging is enabled): dashboards add their log panels.
    """

    namespaces: Mapping[str, str]
    flux_names: Mapping[str, str] = field(default_factory=dict)
    gateway: tuple[str, str] | None = None
    loki: bool = False

    def ns(self, component: str) -> str:
        """The namespace ``component`` runs in."""
        return self.namespaces[component]


def errors_log(scope: Scope, component: str) -> tuple[Panel, ...]:
    """The component's recent error lines, when Loki is there to ask."""
    if not scope.loki:
        return ()
    selector = f'{{namespace="{scope.ns(component)}"}} |~ "(?i)(error|fail|panic)"'
    return (
        Panel(
            "Error lines",
            (Query(selector, datasource=LOKI),),
            kind="logs",
            width=WIDE,
            height=10,
            description="Recent log lines of the namespace matching error, fail or panic (Loki).",
        ),
    )


def workload_panels(namespace: str) -> tuple[Panel, ...]:
    """Pods ready and restarts in one namespace (kube-state-metrics)."""
    return (
        Panel(
            "Deployments: available / desired",
            (
                Query(
                    f'kube_deployment_status_replicas_available{{namespace="{namespace}"}}',
                    "{{deployment}} available",
                ),
                Query(f'kube_deployment_spec_replicas{{namespace="{namespace}"}}', "{{deployment}} desired"),
            ),
            description="Available replicas should equal the desired count.",
        ),
        Panel(
            "Container restarts (1h)",
            (
                Query(
                    f'sum by (pod) (increase(kube_pod_container_status_restarts_total{{namespace="{namespace}"}}[1h]))',
                    "{{pod}}",
                ),
            ),
            description="Restarts in the last hour; steady growth means a crash loop.",
            thresholds=(GREEN, Threshold("orange", 1), Threshold("red", 5)),
        ),
    )
