"""Paths under NetworkPolicies: can pods A reach pods B on port P in the rendered tree?

Kubernetes' own reading of ``networking.k8s.io/v1`` NetworkPolicies, as far as the platform's
policies need it: a pod no policy of a direction selects is not isolated in that direction; an
isolated pod gets a path when a rule of a selecting policy admits both the peer (``podSelector``
and ``namespaceSelector`` on ``matchLabels``, an ``ipBlock`` only when it is all addresses) and
the TCP port. Ports are the pod's (a Service's ``targetPort``), so :func:`ports_of` resolves
a named ``targetPort`` to the container port number the policies name. Used by
:mod:`.exposure` for the gateway's path to each exposed UI and to an external authorizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .source import Obj

__all__ = ["ServicePort", "matches_labels", "path_open", "peer_allows", "port_allows", "ports_of"]


@dataclass(frozen=True)
class ServicePort:
    """One port of a Service: its number, the pod port it targets, the pods it selects, and
    whether it serves only TLS."""

    port: int
    target: int | str
    pods: Mapping[str, str]
    tls: bool


def matches_labels(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    """Whether ``labels`` carry every key and value of a ``matchLabels``-style ``selector``."""
    return all(labels.get(k) == v for k, v in selector.items())


def ports_of(service: Obj, workloads: Iterable[Obj] = (), namespace: str = "") -> list[ServicePort]:
    """A Service's ports; a named ``targetPort`` becomes the number of the container port of that
    name in the ``workloads`` the Service selects (NetworkPolicies of the tree name numbers).
    ``namespace`` is the release's, for objects a chart renders without ``metadata.namespace``."""
    selector = {str(k): str(v) for k, v in (service.spec.get("selector") or {}).items()}
    home = service.namespace or namespace
    named: dict[str, int] = {}
    for workload in workloads:
        if workload.kind not in ("Deployment", "StatefulSet", "DaemonSet") or (workload.namespace or namespace) != home:
            continue
        template = workload.spec.get("template") or {}
        labels = {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}
        if not selector or not matches_labels(selector, labels):
            continue
        for container in (template.get("spec") or {}).get("containers") or []:
            for port in container.get("ports") or []:
                if isinstance(port, dict) and port.get("name") and isinstance(port.get("containerPort"), int):
                    named[str(port["name"])] = port["containerPort"]
    found = []
    for p in service.spec.get("ports") or []:
        if isinstance(p, dict) and isinstance(p.get("port"), int):
            target = p.get("targetPort") or p["port"]
            found.append(
                ServicePort(
                    p["port"], named.get(target, target) if isinstance(target, str) else target, selector, False
                )
            )
    return found


def peer_allows(peer: Mapping[str, Any], own_ns: str, other_ns: str, other_pods: Mapping[str, str]) -> bool:
    """Whether one ``from``/``to`` peer of a policy in ``own_ns`` admits pods ``other_pods`` of ``other_ns``."""
    if "ipBlock" in peer:
        return str((peer.get("ipBlock") or {}).get("cidr")) in ("0.0.0.0/0", "::/0")
    ns_sel = peer.get("namespaceSelector")
    if ns_sel is None and own_ns != other_ns:
        return False
    if ns_sel is not None and not matches_labels(
        ns_sel.get("matchLabels") or {}, {"kubernetes.io/metadata.name": other_ns}
    ):
        return False
    return matches_labels((peer.get("podSelector") or {}).get("matchLabels") or {}, other_pods)


def port_allows(ports: list[Any] | None, port: int | str) -> bool:
    """Whether a rule's ``ports`` (none: every port) admit TCP ``port``."""
    if not ports:
        return True
    return any(
        isinstance(p, dict) and p.get("protocol", "TCP") == "TCP" and p.get("port") in (port, None) for p in ports
    )


def path_open(
    policies: Iterable[Obj],
    direction: str,
    ns: str,
    pods: Mapping[str, str],
    peer_ns: str,
    peer_pods: Mapping[str, str],
    port: int | str,
) -> bool:
    """Whether the NetworkPolicies among ``policies`` in ``ns`` let ``pods`` talk (``direction``:
    ``"ingress"``, else egress) to peer pods on ``port``; pods no policy of that direction selects
    are not isolated."""
    policy_type, rules_key, side = (
        ("Ingress", "ingress", "from") if direction == "ingress" else ("Egress", "egress", "to")
    )
    isolated = False
    for np in policies:
        if np.namespace != ns or policy_type not in (np.spec.get("policyTypes") or []):
            continue
        if not matches_labels((np.spec.get("podSelector") or {}).get("matchLabels") or {}, pods):
            continue
        isolated = True
        for rule in np.spec.get(rules_key) or []:
            peers = rule.get(side)
            # A rule without peers allows every peer.
            if (not peers or any(peer_allows(p, ns, peer_ns, peer_pods) for p in peers)) and port_allows(
                rule.get("ports"), port
            ):
                return True
    return not isolated
