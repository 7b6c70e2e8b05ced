"""ACME HTTP-01 challenges through the ingress gateway: a host whose certificate an ACME issuer
with an HTTP-01 solver signs must answer ``/.well-known/acme-challenge/<token>`` over plain HTTP
on port 80. cert-manager's solver route (an Ingress of class ``istio``, which istiod converts to a
Gateway server on port 80 for the host) joins the host's Envoy virtual host there, so two things
break it: ``tls.httpsRedirect`` on any port-80 server of the host (Istio marks the whole virtual
host ``require_tls``) and a CUSTOM AuthorizationPolicy that sends the challenge path to an
external authorizer (the CA cannot log in). Each is a :class:`~sre_constructs.plan.model.Blocker`
naming the host.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .exposure import host_matches
from .model import Blocker
from .source import Obj, Unit, iter_objects

__all__ = ["challenge_blockers"]

_CERTS = "cert-manager.io"
_NET = "networking.istio.io"
_SEC = "security.istio.io"

_CHALLENGE = "/.well-known/acme-challenge/"


def _http01_issuers(kind: Callable[[str, str], list[tuple[Unit, Obj]]]) -> set[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of the ACME issuers that solve HTTP-01 challenges."""
    found = set()
    for issuer_kind in ("ClusterIssuer", "Issuer"):
        for _, issuer in kind(_CERTS, issuer_kind):
            solvers = ((issuer.spec.get("acme") or {}).get("solvers")) or []
            if any(isinstance(s, dict) and s.get("http01") for s in solvers):
                found.add((issuer_kind, issuer.namespace if issuer_kind == "Issuer" else "", issuer.name))
    return found


def _path_matches(pattern: str, path: str) -> bool:
    """An AuthorizationPolicy path: exact, prefix ``/a/*``, suffix ``*/a`` or ``*``."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return pattern == path


def _challenge_exempt(operation: Mapping[str, Any]) -> bool:
    """Whether an AuthorizationPolicy operation leaves out ACME's challenge path."""
    probe = f"{_CHALLENGE}token"
    if any(_path_matches(str(p), probe) for p in operation.get("notPaths") or []):
        return True
    paths = operation.get("paths") or []
    return bool(paths) and not any(_path_matches(str(p), probe) for p in paths)


def challenge_blockers(units: list[Unit]) -> list[Blocker]:
    """A host whose certificate an ACME HTTP-01 issuer signs must answer the challenge over plain
    HTTP on port 80: no ``httpsRedirect`` on a port-80 server of that host (Istio applies it to the
    whole virtual host, the solver's route included) and no CUSTOM authorizer in front of the
    challenge path (the CA cannot log in)."""
    objects = list(iter_objects(units))

    def kind(group: str, name: str) -> list[tuple[Unit, Obj]]:
        return [(u, o) for u, o in objects if o.is_(group, name)]

    issuers = _http01_issuers(kind)
    found = []
    for _, cert in kind(_CERTS, "Certificate"):
        ref = cert.spec.get("issuerRef") or {}
        ref_kind = str(ref.get("kind") or "Issuer")
        if (ref_kind, cert.namespace if ref_kind == "Issuer" else "", str(ref.get("name"))) not in issuers:
            continue
        for host in cert.spec.get("dnsNames") or []:
            need = f"host {host}: its ACME HTTP-01 challenge ({cert.label}) answered over HTTP on port 80"
            for gw_unit, gw in kind(_NET, "Gateway"):
                for server in gw.spec.get("servers") or []:
                    if (server.get("port") or {}).get("number") != 80 or not (server.get("tls") or {}).get(
                        "httpsRedirect"
                    ):
                        continue
                    if any(host_matches(str(h), str(host)) for h in server.get("hosts") or []):
                        found.append(
                            Blocker(
                                gw_unit.name,
                                gw.label,
                                need,
                                "its port-80 server redirects the host to HTTPS (tls.httpsRedirect), which Istio "
                                "applies to the solver's route too; redirect with a VirtualService instead",
                            )
                        )
            for pol_unit, policy in kind(_SEC, "AuthorizationPolicy"):
                if policy.spec.get("action") != "CUSTOM":
                    continue
                for rule in policy.spec.get("rules") or []:
                    for to in rule.get("to") or []:
                        operation = to.get("operation") or {}
                        hosts = operation.get("hosts") or []
                        if any(host_matches(str(h), str(host)) for h in hosts) and not _challenge_exempt(operation):
                            found.append(
                                Blocker(
                                    pol_unit.name,
                                    policy.label,
                                    need,
                                    f"the CUSTOM policy sends {_CHALLENGE} of this host to its external authorizer; "
                                    f"add notPaths {_CHALLENGE}*",
                                )
                            )
    return found
