"""kube-prometheus-stack's paths through the default-deny policies (Monitoring's network needs)."""

from __future__ import annotations

from collections.abc import Sequence

from ..kernel.component import PlatformComponent
from ..kernel.network import Peer, tcp
from ._monitoring_values import (
    API_SERVER_PORTS,
    CONTROL_PLANE_PORTS,
    HOST_SCRAPE_PORTS,
    LOKI_GATEWAY_PORT,
    OPERATOR_WEBHOOK_PORT,
)


def declare_network(
    component: PlatformComponent,
    release: str,
    *,
    logging_namespace: str,
    loki_datasource: bool,
    managed_control_plane: bool,
    alertmanager_egress: bool,
    receiver_ports: Sequence[int] = (),
) -> None:
    """Open the paths of the operator, Prometheus, Grafana and Alertmanager of ``release`` in ``component``.

    ``receiver_ports``: TCP ports other than 443 of the alerting receivers' mail relays and webhooks
    (opened only with ``alertmanager_egress``).
    """
    # Operator, kube-state-metrics, Grafana's sidecars, Prometheus discovery and the certgen Jobs
    # all talk to the API server.
    component.allow_egress("api-server", Peer.api_server(), tcp(*API_SERVER_PORTS))
    component.allow_ingress(
        "operator-webhook",
        Peer.api_server(),
        tcp(OPERATOR_WEBHOOK_PORT),
        pods={"app.kubernetes.io/component": "prometheus-operator", "app.kubernetes.io/instance": release},
    )
    prometheus_pods = {"app.kubernetes.io/name": "prometheus"}
    # Metrics ports differ per service: Prometheus may reach any pod port in any namespace.
    component.allow_egress(
        "prometheus-scrape-pods",
        Peer.any_namespace("metrics endpoints of every namespace"),
        pods=prometheus_pods,
    )
    host_ports = HOST_SCRAPE_PORTS + API_SERVER_PORTS + (() if managed_control_plane else CONTROL_PLANE_PORTS)
    component.allow_egress(
        "prometheus-scrape-hosts",
        Peer(cidr="0.0.0.0/0", description="kubelets, node-exporter (host network), the API server and control plane"),
        tcp(*host_ports),
        pods=prometheus_pods,
    )
    if loki_datasource:
        component.allow_egress(
            "grafana-loki",
            Peer.in_namespace(
                logging_namespace,
                "Loki gateway",
                **{"app.kubernetes.io/name": "loki", "app.kubernetes.io/component": "gateway"},
            ),
            tcp(LOKI_GATEWAY_PORT),
            pods={"app.kubernetes.io/name": "grafana"},
        )
    if alertmanager_egress:
        component.allow_egress(
            "alertmanager-receivers",
            Peer.anywhere("alert receivers (webhooks, mail relays, chat)"),
            tcp(443),
            pods={"app.kubernetes.io/name": "alertmanager"},
        )
        if receiver_ports:
            component.allow_egress(
                "alertmanager-receiver-ports",
                Peer.anywhere("mail relays and webhooks of the alerting receivers"),
                tcp(*receiver_ports),
                pods={"app.kubernetes.io/name": "alertmanager"},
            )
