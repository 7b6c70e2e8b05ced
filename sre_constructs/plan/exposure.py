"""Exposed hosts, followed end to end: each host an Istio ``Gateway`` serves must lead somewhere.

For every host a VirtualService binds to a Gateway: the Gateway exists and selects a gateway
workload; its HTTPS certificate Secret is produced in the gateway workload's namespace (where
Envoy reads ``credentialName``); each route destination is a Service port a chart renders (the
``helm template`` output with ``--charts``, else the chart's recorded
:attr:`~sre_constructs.kernel.facts.ChartFacts.served_ports`, or a Service in the tree); a
Service that serves only TLS gets TLS from a DestinationRule; the NetworkPolicies of both
namespaces let the gateway through on the pod port (:mod:`.netpaths`); and an external
authorizer a CUSTOM AuthorizationPolicy names is declared in istiod's mesh config, by a
Kustomization the policy's waits for. Each broken link is a
:class:`~sre_constructs.plan.model.Blocker` naming the host and the missing piece (ACME's
HTTP-01 challenges through the same gateway: :mod:`.challenges`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..kernel.facts import ServedPort, chart_facts
from .kinds import FLUX_HELM, release_chart, release_values
from .model import Blocker
from .netpaths import ServicePort, matches_labels, path_open, ports_of
from .source import Obj, Unit, iter_objects

__all__ = ["exposure_blockers", "host_matches"]

_NET = "networking.istio.io"
_SEC = "security.istio.io"
_CERTS = "cert-manager.io"
_ESO = "external-secrets.io"
_K8S_NET = "networking.k8s.io"


@dataclass(frozen=True)
class _Release:
    unit: str
    namespace: str
    name: str
    chart: str
    values: dict[str, Any]


def _ancestors(units: list[Unit]) -> dict[str, set[str]]:
    """Each unit's transitive ``dependsOn`` (unit names ``namespace/name``)."""
    direct = {unit.name: set(unit.depends_on) for unit in units if unit.kustomization is not None}
    found: dict[str, set[str]] = {}

    def up(name: str, seen: frozenset[str]) -> set[str]:
        if name in found:
            return found[name]
        result: set[str] = set()
        for dep in direct.get(name, ()):
            if dep not in seen:
                result |= {dep} | up(dep, seen | {dep})
        found[name] = result
        return result

    for name in direct:
        up(name, frozenset({name}))
    return found


class _Tree:
    def __init__(self, units: list[Unit], rendered: Mapping[tuple[str, str], list[Obj]] | None) -> None:
        self.units = units
        self.rendered = rendered
        self.objects = list(iter_objects(units))
        self.releases = [
            _Release(
                unit.name,
                str(obj.spec.get("targetNamespace") or obj.namespace),
                str(obj.spec.get("releaseName") or obj.name),
                release_chart(obj),
                release_values(obj),
            )
            for unit, obj in self.objects
            if obj.is_(FLUX_HELM, "HelmRelease")
        ]
        self.ancestors = _ancestors(units)
        self.network_policies = [o for _, o in self.kind(_K8S_NET, "NetworkPolicy")]

    def kind(self, group: str, kind: str) -> list[tuple[Unit, Obj]]:
        return [(u, o) for u, o in self.objects if o.is_(group, kind)]

    def gateway_workloads(self) -> list[tuple[str, dict[str, str]]]:
        """``(namespace, pod labels)`` of each gateway chart release (chart gateway's selector labels)."""
        found = []
        for release in self.releases:
            if release.chart != "gateway":
                continue
            name = str(release.values.get("name") or release.name)
            labels = {
                "app": name,
                "istio": name.removeprefix("istio-"),
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/instance": release.name,
                **{str(k): str(v) for k, v in (release.values.get("labels") or {}).items()},
            }
            found.append((release.namespace, labels))
        # A gateway deployed as plain manifests (or rendered by helm with --charts).
        plain = [(o.namespace, o) for _, o in self.objects] + [
            (o.namespace or ns, o) for (ns, _), objs in (self.rendered or {}).items() for o in objs
        ]
        for namespace, obj in plain:
            if obj.group == "apps" and obj.kind in ("Deployment", "DaemonSet"):
                labels = ((obj.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
                found.append((namespace, {str(k): str(v) for k, v in labels.items()}))
        return found

    def service_ports(self, namespace: str, service: str) -> tuple[list[ServicePort], str] | None:
        """The ports of Service ``namespace/service``, and who renders it; ``None``: nothing does."""
        if self.rendered is not None:
            for (ns, release), objs in self.rendered.items():
                for obj in objs:
                    if obj.kind == "Service" and obj.name == service and (obj.namespace or ns) == namespace:
                        # Whether a port serves only HTTPS is a chart fact helm's output does not show.
                        tls = {(p.service, p.port) for p in self._served(namespace) if p.tls}
                        ports = [
                            replace(port, tls=(service, port.port) in tls)
                            for port in ports_of(obj, workloads=objs, namespace=ns)
                        ]
                        return ports, f"release {ns}/{release} (helm template)"
        for rel in self.releases:
            facts = chart_facts(rel.chart)
            if rel.namespace != namespace or facts is None:
                continue
            served: tuple[ServedPort, ...] = facts.served_ports(rel.values, rel.namespace, rel.name)
            ports = [ServicePort(p.port, p.target_port, p.pods, p.tls) for p in served if p.service == service]
            if ports:
                return ports, f"chart {rel.chart} (release {namespace}/{rel.name})"
        for _, obj in self.kind("", "Service"):
            if obj.name == service and obj.namespace == namespace:
                return ports_of(obj), f"Service {namespace}/{service}"
        return None

    def _served(self, namespace: str) -> list[ServedPort]:
        """The Service ports the chart facts of the releases in ``namespace`` record."""
        found: list[ServedPort] = []
        for rel in self.releases:
            facts = chart_facts(rel.chart)
            if rel.namespace == namespace and facts is not None:
                found += facts.served_ports(rel.values, namespace, rel.name)
        return found

    def rendered_names(self, namespace: str) -> list[str]:
        names = []
        for release in self.releases:
            facts = chart_facts(release.chart)
            if release.namespace == namespace and facts is not None:
                names += [f"{p.service}:{p.port}" for p in facts.served_ports(release.values, namespace, release.name)]
        return names


def _produces_secret(tree: _Tree, namespace: str, name: str) -> bool:
    for _, obj in tree.objects:
        if obj.namespace != namespace:
            continue
        if obj.is_(_CERTS, "Certificate") and obj.spec.get("secretName") == name:
            return True
        if obj.is_(_ESO, "ExternalSecret") and ((obj.spec.get("target") or {}).get("name") or obj.name) == name:
            return True
        if obj.is_("", "Secret") and obj.name == name:
            return True
    return False


def host_matches(pattern: str, host: str) -> bool:
    """Whether a Gateway or policy host pattern (``[ns/]host``, ``*.zone``, ``*``) covers ``host``."""
    pattern = pattern.split("/", 1)[-1]
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def _destination(host: str, vs_ns: str) -> tuple[str, str]:
    parts = host.split(".")
    return (parts[0], parts[1]) if len(parts) > 1 else (parts[0], vs_ns)


def _tls_origination(tree: _Tree, host: str, port: int) -> bool:
    for _, dr in tree.kind(_NET, "DestinationRule"):
        if dr.spec.get("host") != host:
            continue
        policy = dr.spec.get("trafficPolicy") or {}
        tls = [policy.get("tls") or {}] + [
            s.get("tls") or {}
            for s in policy.get("portLevelSettings") or []
            if (s.get("port") or {}).get("number") == port
        ]
        if any(t.get("mode") in ("SIMPLE", "MUTUAL") for t in tls):
            return True
    return False


def _route_blockers(
    tree: _Tree, unit: Unit, vs: Obj, host: str, gw_ns: str, gw_pods: Mapping[str, str]
) -> list[Blocker]:
    found = []
    for http in vs.spec.get("http") or []:
        for route in http.get("route") or []:
            dest = route.get("destination") or {}
            svc, ns = _destination(str(dest.get("host") or ""), vs.namespace)
            number = (dest.get("port") or {}).get("number")
            where = f"host {host}: route to {svc}.{ns}:{number}"
            result = tree.service_ports(ns, svc)
            if result is None:
                renders = ", ".join(tree.rendered_names(ns)) or "nothing"
                found.append(
                    Blocker(
                        unit.name,
                        vs.label,
                        f"{where}, a Service",
                        f"no chart or object renders Service {ns}/{svc} (namespace {ns} has {renders})",
                    )
                )
                continue
            ports, source = result
            match = [p for p in ports if p.port == number] if number is not None else ports[:1]
            if not match:
                found.append(
                    Blocker(
                        unit.name,
                        vs.label,
                        f"{where}, a Service port",
                        f"{source} renders {svc} with port(s) {', '.join(str(p.port) for p in ports)} only",
                    )
                )
                continue
            port = match[0]
            if port.tls and not _tls_origination(tree, f"{svc}.{ns}.svc.cluster.local", port.port):
                found.append(
                    Blocker(
                        unit.name,
                        vs.label,
                        f"{where}: TLS to a Service that serves only HTTPS",
                        "no DestinationRule for that host originates TLS (mode SIMPLE): the gateway sends plaintext",
                    )
                )
            if not path_open(tree.network_policies, "ingress", ns, port.pods, gw_ns, gw_pods, port.target):
                found.append(
                    Blocker(
                        unit.name,
                        vs.label,
                        f"{where}: a NetworkPolicy in {ns} letting the gateway ({gw_ns}) in on port {port.target}",
                        "default-deny there and no policy opens that path",
                    )
                )
            if not path_open(tree.network_policies, "egress", gw_ns, gw_pods, ns, port.pods, port.target):
                found.append(
                    Blocker(
                        unit.name,
                        vs.label,
                        f"{where}: a NetworkPolicy in {gw_ns} letting the gateway out to {ns} on port {port.target}",
                        "default-deny there and no policy opens that path",
                    )
                )
    return found


def _gateways(tree: _Tree) -> tuple[dict[str, tuple[Obj, str | None, dict[str, str]]], list[Blocker]]:
    """Gateways by ``namespace/name``: the object, its workload's namespace and pod labels."""
    found: dict[str, tuple[Obj, str | None, dict[str, str]]] = {}
    blockers = []
    workloads = tree.gateway_workloads()
    for unit, gw in tree.kind(_NET, "Gateway"):
        selector = gw.spec.get("selector") or {}
        match = [(ns, pods) for ns, pods in workloads if matches_labels(selector, pods)]
        gw_ns, pods = match[0] if match else (None, {})
        found[f"{gw.namespace}/{gw.name}"] = (gw, gw_ns, pods)
        for server in gw.spec.get("servers") or []:
            hosts = ", ".join(str(h) for h in server.get("hosts") or [])
            if gw_ns is None:
                blockers.append(
                    Blocker(
                        unit.name,
                        gw.label,
                        f"hosts {hosts}: a gateway workload with labels {selector}",
                        "no gateway chart release has pods with those labels",
                    )
                )
                break
            cred = (server.get("tls") or {}).get("credentialName")
            if cred and not _produces_secret(tree, gw_ns, str(cred)):
                elsewhere = [o.label for _, o in tree.kind(_CERTS, "Certificate") if o.spec.get("secretName") == cred]
                why = (
                    f"{', '.join(elsewhere)} writes it in another namespace"
                    if elsewhere
                    else "nothing in the tree produces it"
                )
                blockers.append(
                    Blocker(
                        unit.name,
                        gw.label,
                        f"hosts {hosts}: certificate Secret {gw_ns}/{cred} in the gateway's namespace",
                        why,
                    )
                )
    return found, blockers


def _authorizer_blockers(tree: _Tree) -> list[Blocker]:
    providers: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for release in tree.releases:
        if release.chart == "istiod":
            for entry in (release.values.get("meshConfig") or {}).get("extensionProviders") or []:
                if isinstance(entry, dict) and entry.get("name"):
                    providers[str(entry["name"])] = (release.unit, entry)
    found = []
    for unit, policy in tree.kind(_SEC, "AuthorizationPolicy"):
        if policy.spec.get("action") != "CUSTOM":
            continue
        name = str((policy.spec.get("provider") or {}).get("name"))
        hosts = sorted(
            {
                h
                for r in policy.spec.get("rules") or []
                for t in r.get("to") or []
                for h in (t.get("operation") or {}).get("hosts") or []
                if not h.endswith(":*")
            }
        )
        label = f"hosts {', '.join(hosts) or '(all)'}: external authorizer {name!r}"
        if name not in providers:
            found.append(
                Blocker(
                    unit.name,
                    policy.label,
                    f"{label} in the mesh config",
                    "no istiod release declares it in meshConfig.extensionProviders",
                )
            )
            continue
        where, entry = providers[name]
        if where != unit.name and where not in tree.ancestors.get(unit.name, set()):
            found.append(
                Blocker(
                    unit.name,
                    policy.label,
                    f"{label}, declared by {where}",
                    f"{unit.name} does not depend on {where}; add dependsOn {where}",
                    "order",
                )
            )
        http = entry.get("envoyExtAuthzHttp") or {}
        svc, ns = _destination(str(http.get("service") or ""), "")
        result = tree.service_ports(ns, svc) if ns else None
        if result is None or not any(p.port == http.get("port") for p in result[0]):
            found.append(
                Blocker(
                    unit.name,
                    policy.label,
                    f"{label}: its Service {http.get('service')}:{http.get('port')}",
                    "no chart or object renders that Service port",
                )
            )
            continue
        # The gateway pods the policy applies to call the authorizer: their path must be open.
        port = next(p for p in result[0] if p.port == http.get("port"))
        selector = (policy.spec.get("selector") or {}).get("matchLabels") or {}
        for gw_ns, gw_pods in tree.gateway_workloads():
            if gw_ns == policy.namespace and matches_labels(selector, gw_pods):
                for direction, where_ns in (("egress", gw_ns), ("ingress", ns)):
                    pods, peer_ns, peer = (
                        (gw_pods, ns, port.pods) if direction == "egress" else (port.pods, gw_ns, gw_pods)
                    )
                    if not path_open(tree.network_policies, direction, where_ns, pods, peer_ns, peer, port.target):
                        found.append(
                            Blocker(
                                unit.name,
                                policy.label,
                                f"{label}: a NetworkPolicy in {where_ns} letting the gateway ({gw_ns}) reach "
                                f"{svc}.{ns} on port {port.target}",
                                "default-deny there and no policy opens that path",
                            )
                        )
    return found


def exposure_blockers(units: list[Unit], rendered: Mapping[tuple[str, str], list[Obj]] | None = None) -> list[Blocker]:
    """Every broken link between an exposed host and the UI behind it (see the module docstring)."""
    tree = _Tree(units, rendered)
    gateways, found = _gateways(tree)
    for unit, vs in tree.kind(_NET, "VirtualService"):
        for ref in vs.spec.get("gateways") or []:
            key = str(ref) if "/" in str(ref) else f"{vs.namespace}/{ref}"
            if key == "mesh":
                continue
            for host in vs.spec.get("hosts") or []:
                if key not in gateways:
                    found.append(
                        Blocker(unit.name, vs.label, f"host {host}: Gateway {key}", "no such Gateway in the tree")
                    )
                    continue
                gw, gw_ns, pods = gateways[key]
                served = [
                    s
                    for s in gw.spec.get("servers") or []
                    if any(host_matches(str(h), str(host)) for h in s.get("hosts") or [])
                ]
                if not served:
                    found.append(
                        Blocker(
                            unit.name,
                            vs.label,
                            f"host {host}: a server of Gateway {key} for it",
                            "the Gateway lists other hosts only",
                        )
                    )
                    continue
                if gw_ns is not None:
                    found.extend(_route_blockers(tree, unit, vs, str(host), gw_ns, pods))
    found.extend(_authorizer_blockers(tree))
    return sorted(set(found))
