"""A component's namespaces (Pod Security labels, default-deny) and the paths it opens through them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdk8s import ApiObject

from .errors import ValidationError
from .manifest import Manifest
from .network import NetworkNeed, Peer, Port, baseline_policies, check_ports, network_policy, normalize_peers
from .paths import path_of
from .validation import check_dns_label, check_labels

if TYPE_CHECKING:
    from .component import PlatformComponent

__all__ = ["POD_SECURITY_LEVELS", "PodSecurity", "emit_namespace", "open_path"]

POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")


@dataclass(frozen=True)
class PodSecurity:
    """The Pod Security Standard a namespace enforces, and why when it is not ``restricted``."""

    level: str
    reason: str = ""


# Flux picks these up; they are also what `kubectl get` users expect to see.
_PART_OF = "app.kubernetes.io/part-of"
_LIBRARY = "sre-constructs"


def emit_namespace(
    component: PlatformComponent,
    name: str,
    labels: Mapping[str, str] | None,
    *,
    pod_security: str,
    pod_security_reason: str | None,
    mesh_injection: bool,
) -> ApiObject:
    """The Namespace of :meth:`PlatformComponent.add_namespace` (arguments there), with its
    baseline NetworkPolicies, recorded on ``component``."""
    where = path_of(component)
    check_dns_label(where, "namespace", name)
    if name in component._namespaces:
        raise ValidationError(where, "namespace", name, "a namespace not already emitted by this component")
    if pod_security not in POD_SECURITY_LEVELS:
        raise ValidationError(where, "pod_security", pod_security, "one of " + ", ".join(POD_SECURITY_LEVELS))
    if pod_security != "restricted" and not (isinstance(pod_security_reason, str) and pod_security_reason):
        raise ValidationError(
            where,
            "pod_security_reason",
            pod_security_reason,
            f"a reason naming the workload that needs {pod_security!r} rather than 'restricted'",
        )
    if not isinstance(mesh_injection, bool):
        raise ValidationError(where, "mesh_injection", mesh_injection, "True or False")
    labels = check_labels(where, "namespace_labels", labels) if labels is not None else {}
    merged = {
        _PART_OF: _LIBRARY,
        "istio-injection": "enabled" if mesh_injection else "disabled",
        **{f"pod-security.kubernetes.io/{mode}": pod_security for mode in ("enforce", "audit", "warn")},
        **(labels or {}),
    }
    namespace = Manifest(
        component,
        f"Namespace-{name}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": merged}},
    )
    component._namespaces[name] = namespace
    component._pod_security[name] = PodSecurity(pod_security, pod_security_reason or "")
    claim = getattr(component.platform, "_claim_namespace", None)
    if claim is not None:
        claim(component, name, merged)
    for index, policy in enumerate(baseline_policies(name)):
        Manifest(component, f"NetworkPolicy-{name}-baseline-{index}", policy)
    return namespace


def open_path(
    component: PlatformComponent,
    direction: str,
    name: str,
    peers: Peer | Sequence[Peer],
    ports: Sequence[Port],
    pods: Mapping[str, str] | None,
    namespace: str | None,
) -> Manifest:
    """The NetworkPolicy of :meth:`PlatformComponent.allow_ingress` / ``allow_egress`` (arguments
    there; ``direction`` is ``ingress`` or ``egress``), recorded on ``component``."""
    where = path_of(component)
    target = namespace if namespace is not None else component.namespace
    if target is None or target not in component._namespaces:
        raise ValidationError(
            where, "namespace", target, "a namespace this component owns: " + ", ".join(component._namespaces)
        )
    check_dns_label(where, "network need name", f"allow-{name}")
    need = NetworkNeed(
        name,
        direction,
        normalize_peers(where, peers),
        check_ports(where, ports),
        check_labels(where, "pods", pods) if pods else None,
    )
    if any(ns == target and n.name == name for ns, n in component._network_needs):
        raise ValidationError(where, "network need name", name, "a name not already used in this namespace")
    component._network_needs.append((target, need))
    return Manifest(component, f"NetworkPolicy-{target}-{name}", network_policy(target, need))
