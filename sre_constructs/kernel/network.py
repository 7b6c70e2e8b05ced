"""Network needs: each service declares what it talks to; one function turns that into policies.

Every namespace a component owns starts at default-deny for ingress and egress, plus DNS and
traffic inside the namespace. Each :class:`NetworkNeed` then opens exactly one path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NetworkNeed", "Peer", "Port", "baseline_policies", "network_policy", "tcp", "udp"]


@dataclass(frozen=True)
class Port:
    """A port and protocol.

    Args:
        port: the port number (or a named container port).
        protocol: ``TCP``, ``UDP`` or ``SCTP``. Default ``TCP``.
    """

    port: int | str
    protocol: str = "TCP"

    def to_k8s(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": self.protocol}


def tcp(*ports: int | str) -> tuple[Port, ...]:
    """TCP ports."""
    return tuple(Port(p) for p in ports)


def udp(*ports: int | str) -> tuple[Port, ...]:
    """UDP ports."""
    return tuple(Port(p, "UDP") for p in ports)


@dataclass(frozen=True)
class Peer:
    """The other side of a connection.

    Exactly one form: a namespace (optionally narrowed to pods by labels), the same namespace, or
    an address block. The API server, kubelets and object storage have no pod labels to select,
    so they are address blocks (:meth:`api_server`, :meth:`anywhere`).

    Args:
        namespace: the peer namespace, by name (``*``: every namespace).
        pod_labels: narrow to pods with these labels.
        cidr: an address block.
        description: what the peer is, for the policy's annotation.
    """

    namespace: str | None = None
    pod_labels: Mapping[str, str] | None = None
    cidr: str | None = None
    description: str = ""

    @staticmethod
    def in_namespace(namespace: str, description: str = "", **pod_labels: str) -> Peer:
        """Pods of ``namespace`` (all, or those with ``pod_labels``)."""
        return Peer(namespace=namespace, pod_labels=pod_labels or None, description=description or namespace)

    @staticmethod
    def any_namespace(description: str, **pod_labels: str) -> Peer:
        """Pods of every namespace (e.g. sidecars reaching istiod), optionally narrowed by labels."""
        return Peer(namespace="*", pod_labels=pod_labels or None, description=description)

    @staticmethod
    def api_server() -> Peer:
        """The Kubernetes API server (its addresses differ per cluster, so any address)."""
        return Peer(cidr="0.0.0.0/0", description="the Kubernetes API server")

    @staticmethod
    def anywhere(description: str) -> Peer:
        """Any address, e.g. object storage or an ACME server outside the cluster."""
        return Peer(cidr="0.0.0.0/0", description=description)

    def to_k8s(self) -> dict[str, Any]:
        if self.cidr is not None:
            return {"ipBlock": {"cidr": self.cidr}}
        peer: dict[str, Any] = {}
        if self.namespace == "*":
            peer["namespaceSelector"] = {}
        elif self.namespace is not None:
            peer["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": self.namespace}}
        peer["podSelector"] = {"matchLabels": dict(self.pod_labels)} if self.pod_labels else {}
        return peer


@dataclass(frozen=True)
class NetworkNeed:
    """One allowed path in or out of a namespace.

    Args:
        name: policy name suffix (``allow-<name>``), a DNS-1123 label.
        direction: ``ingress`` or ``egress``.
        peers: who may connect (ingress) or be reached (egress).
        ports: which ports (on the local pods for ingress, on the peer for egress).
        pods: which local pods (labels); default all pods of the namespace.
    """

    name: str
    direction: str
    peers: tuple[Peer, ...]
    ports: tuple[Port, ...] = ()
    pods: Mapping[str, str] | None = field(default=None, hash=False)


def network_policy(namespace: str, need: NetworkNeed) -> dict[str, Any]:
    """The NetworkPolicy for one need."""
    rule: dict[str, Any] = {("from" if need.direction == "ingress" else "to"): [p.to_k8s() for p in need.peers]}
    if need.ports:
        rule["ports"] = [p.to_k8s() for p in need.ports]
    description = ", ".join(p.description for p in need.peers if p.description)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"allow-{need.name}",
            "namespace": namespace,
            **({"annotations": {"sre-constructs.io/peer": description}} if description else {}),
        },
        "spec": {
            "podSelector": {"matchLabels": dict(need.pods)} if need.pods else {},
            "policyTypes": ["Ingress" if need.direction == "ingress" else "Egress"],
            need.direction: [rule],
        },
    }


def baseline_policies(namespace: str) -> list[dict[str, Any]]:
    """Default deny both ways, then DNS and traffic inside the namespace."""
    everything: dict[str, Any] = {}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": namespace},
            "spec": {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]},
        },
        network_policy(
            namespace,
            NetworkNeed(
                "dns",
                "egress",
                (Peer.in_namespace("kube-system", "cluster DNS", **{"k8s-app": "kube-dns"}),),
                udp(53) + tcp(53),
            ),
        ),
        network_policy(
            namespace,
            NetworkNeed(
                "same-namespace-ingress",
                "ingress",
                (Peer(description="pods of this namespace"),),
            ),
        ),
        network_policy(
            namespace,
            NetworkNeed(
                "same-namespace-egress",
                "egress",
                (Peer(description="pods of this namespace"),),
            ),
        ),
    ]


def normalize_peers(peers: Peer | Sequence[Peer]) -> tuple[Peer, ...]:
    """One peer or several, as a tuple."""
    return (peers,) if isinstance(peers, Peer) else tuple(peers)
