"""Network needs: each service declares what it talks to; one function turns that into policies.

Every namespace a component owns starts at default-deny for ingress and egress, plus DNS and
traffic inside the namespace. Each :class:`NetworkNeed` then opens exactly one path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ValidationError
from .validation import check_dns_label, check_labels

_PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

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

    def __post_init__(self) -> None:
        where = f"Port({self.port!r})"
        if isinstance(self.port, bool) or not (
            (isinstance(self.port, int) and 1 <= self.port <= 65535)
            or (isinstance(self.port, str) and _PORT_NAME.fullmatch(self.port))
        ):
            raise ValidationError(where, "port", self.port, "a port number 1-65535 or a named container port")
        if self.protocol not in ("TCP", "UDP", "SCTP"):
            raise ValidationError(where, "protocol", self.protocol, "one of 'TCP', 'UDP', 'SCTP'")

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

    def __post_init__(self) -> None:
        where = f"Peer({self.description or self.namespace or self.cidr!r})"
        if self.namespace is not None and self.namespace != "*":
            check_dns_label(where, "namespace", self.namespace)
        if self.pod_labels is not None:
            check_labels(where, "pod_labels", self.pod_labels)
        if self.cidr is not None:
            try:
                ipaddress.ip_network(self.cidr)
            except (TypeError, ValueError):
                raise ValidationError(where, "cidr", self.cidr, "an address block such as '10.0.0.0/8'") from None
        if self.cidr is not None and (self.namespace is not None or self.pod_labels):
            raise ValidationError(where, "cidr", self.cidr, "either an address block or namespace/pod labels, not both")
        if not isinstance(self.description, str):
            raise ValidationError(where, "description", self.description, "a string")

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
    """Default deny both ways, then one policy for DNS and traffic inside the namespace.

    Two objects rather than one per path: every namespace carries them, and each object is a
    construct (a jsii round-trip) in every tree of a fleet.
    """
    everything: dict[str, Any] = {}
    own_pods = Peer(description="pods of this namespace").to_k8s()
    dns = Peer.in_namespace("kube-system", "cluster DNS", **{"k8s-app": "kube-dns"}).to_k8s()
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": namespace},
            "spec": {"podSelector": everything, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": "allow-baseline",
                "namespace": namespace,
                "annotations": {"sre-constructs.io/peer": "pods of this namespace, cluster DNS"},
            },
            "spec": {
                "podSelector": everything,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [own_pods]}],
                "egress": [
                    {"to": [own_pods]},
                    {"to": [dns], "ports": [p.to_k8s() for p in udp(53) + tcp(53)]},
                ],
            },
        },
    ]


def normalize_peers(where: str, peers: Peer | Sequence[Peer]) -> tuple[Peer, ...]:
    """One peer or several, as a tuple."""
    result = (peers,) if isinstance(peers, Peer) else tuple(peers) if isinstance(peers, (list, tuple)) else None
    if not result or not all(isinstance(p, Peer) for p in result):
        raise ValidationError(where, "peers", peers, "a Peer or a non-empty list of Peers")
    return result


def check_ports(where: str, ports: Sequence[Port]) -> tuple[Port, ...]:
    """A list of :class:`Port` (empty: every port)."""
    if (
        isinstance(ports, (str, bytes))
        or not isinstance(ports, (list, tuple))
        or not all(isinstance(p, Port) for p in ports)
    ):
        raise ValidationError(where, "ports", ports, "a list of Port, e.g. tcp(8080)")
    return tuple(ports)
