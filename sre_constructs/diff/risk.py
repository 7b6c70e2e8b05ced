"""The risk of each object change, with the reason (see :data:`~.model.LEVELS`).

Rules by what the API server, Flux and the controllers do with the change:

- ``data-loss``: Flux prunes a Namespace (and everything in it), a PersistentVolumeClaim or
  PersistentVolume, a StatefulSet with volumeClaimTemplates, a CustomResourceDefinition (every object of
  its kind goes with it) or a Velero Schedule; a rename or a hand-over between Kustomizations of one of
  those (Flux deletes the old object, or may prune it before the new owner adopts it).
- ``blocking``: a field the API server refuses to update (selectors of workloads, StatefulSet
  volumeClaimTemplates/serviceName/podManagementPolicy, Service clusterIP, Job template/selector, PVC
  storage class or a shrink); a CRD version no longer served while the tree still uses it. Under
  ``spec.force: true`` Flux recreates the object instead: ``change``.
- ``security``: a Pod Security level lowered, a NetworkPolicy path opened (new or wider rule, a wider
  podSelector, a policy type or a policy dropped, a new Namespace without any NetworkPolicy), a Kyverno
  policy out of Deny/Enforce or removed, a tenant-lane policy changed, Istio mTLS loosened, a
  ClusterSecretStore serving more namespaces.
- ``upgrade``: a chart's major version bump (or a different chart).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .fields import parse_quantity, under
from .levels import ABSENT
from .model import ObjectChange

__all__ = ["Context", "assess"]

_PSA = "pod-security.kubernetes.io/enforce"
_PSA_ORDER = ("privileged", "baseline", "restricted")
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
_IMMUTABLE: dict[tuple[str, str], tuple[str, ...]] = {
    **{("apps", kind): ("spec.selector",) for kind in _WORKLOADS},
    ("apps", "StatefulSet"): (
        "spec.selector",
        "spec.volumeClaimTemplates",
        "spec.serviceName",
        "spec.podManagementPolicy",
    ),
    ("", "Service"): ("spec.clusterIP", "spec.clusterIPs"),
    ("batch", "Job"): ("spec.template", "spec.selector", "spec.completionMode"),
    ("", "PersistentVolumeClaim"): ("spec.storageClassName", "spec.accessModes", "spec.volumeName", "spec.selector"),
}
_DATA_KINDS = {
    ("", "Namespace"): "everything in it is deleted, PersistentVolumeClaims and their volumes included",
    ("", "PersistentVolumeClaim"): "its volume is deleted with it unless the volume's reclaim policy is Retain",
    ("", "PersistentVolume"): "the volume goes with it unless its reclaim policy is Retain",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "every object of its kind on the cluster is deleted with it",
    ("velero.io", "Schedule"): "no more backups are taken, and the ones it made expire by their TTL",
}
_NETPOL = ("networking.k8s.io", "NetworkPolicy")
_KYVERNO_VP = ("policies.kyverno.io", "ValidatingPolicy")
_TENANT_LANES = "Tenant lanes"


@dataclass
class Context:
    """What the rules need beyond the one object.

    Attributes:
        forces: whether a Kustomization recreates objects on immutable-field changes (``force: true``).
        old_namespaces: the Namespaces of the old side (a new allow policy there opens a path).
        policy_namespaces: namespaces with a NetworkPolicy on the new side.
        api_versions: every ``apiVersion`` the new side's objects use (a CRD version they need).
        pruned_namespaces: Namespaces Flux prunes (what goes with them opens no path).
    """

    forces: Callable[[str], bool] = lambda _unit: False
    old_namespaces: set[str] = field(default_factory=set)
    policy_namespaces: set[str] = field(default_factory=set)
    api_versions: set[str] = field(default_factory=set)
    pruned_namespaces: set[str] = field(default_factory=set)


def _data_kind(body: dict[str, Any], group: str, kind: str) -> str | None:
    if (group, kind) == ("apps", "StatefulSet") and (body.get("spec") or {}).get("volumeClaimTemplates"):
        policy = ((body.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted")
        if policy == "Delete":
            return "its PersistentVolumeClaims are deleted with it (whenDeleted: Delete)"
        return "the volumes of its PersistentVolumeClaims lose their workload; the claims stay, orphaned"
    return _DATA_KINDS.get((group, kind))


def assess(changes: Iterable[ObjectChange], context: Context) -> None:
    """Add the risks of each change (in place)."""
    for change in changes:
        key = (change.group, change.kind)
        old, new = change.old_body or {}, change.new_body or {}
        if change.action == "removed":
            _removed(change, old, change.namespace in context.pruned_namespaces)
        elif change.action == "orphaned":
            change.risk("change", "leaves the tree but stays on the cluster: its Kustomization has prune off")
        elif change.action == "added":
            _added(change, new, context)
        if change.action == "moved":
            _moved(change, old)
        if change.action in ("changed", "moved"):
            _immutable(change, context)
            if key == ("", "PersistentVolumeClaim"):
                _storage(change)
            _security(change, old, new)
            _exempted(change, old, new, context)
            if key == ("helm.toolkit.fluxcd.io", "HelmRelease") or key == ("source.toolkit.fluxcd.io", "OCIRepository"):
                _chart(change)
            if key == ("apiextensions.k8s.io", "CustomResourceDefinition"):
                _crd_versions(change, old, new, context)


def _removed(change: ObjectChange, old: dict[str, Any], with_namespace: bool) -> None:
    data = _data_kind(old, change.group, change.kind)
    if data:
        change.risk("data-loss", f"Flux prunes {change.label}: {data}")
    if (change.group, change.kind) == ("helm.toolkit.fluxcd.io", "HelmRelease"):
        change.risk("change", "helm-controller uninstalls the release: every object the chart made is deleted")
    if with_namespace:
        change.risk("change", f"goes with Namespace {change.namespace}")
    else:
        _security(change, old, {})


def _moved(change: ObjectChange, old: dict[str, Any]) -> None:
    data = _data_kind(old, change.group, change.kind)
    if change.old_label != change.label:
        text = f"renamed from {change.old_label}: Flux creates {change.label} and prunes {change.old_label}"
        change.risk("data-loss" if data else "change", text + (f" ({data})" if data else ""))
    elif change.old_kustomization:
        text = (
            f"handed from {change.old_kustomization} to {change.kustomization}: if {change.old_kustomization} "
            f"reconciles first, Flux prunes it before {change.kustomization} adopts it"
        )
        if data:
            change.risk("data-loss", f"{text} ({data}); annotate it kustomize.toolkit.fluxcd.io/prune: disabled first")
        else:
            change.risk("change", text + " (recreated)")


def _added(change: ObjectChange, new: dict[str, Any], context: Context) -> None:
    if (change.group, change.kind) == ("", "Namespace") and change.name not in context.policy_namespaces:
        change.risk("security", f"new Namespace {change.name} without any NetworkPolicy: every path into it is open")
    if (change.group, change.kind) == _NETPOL and change.namespace in context.old_namespaces:
        rules = [f"{d} rule" for d in ("ingress", "egress") for _ in (new.get("spec") or {}).get(d) or []]
        if rules:
            change.risk(
                "security", f"new NetworkPolicy in existing namespace {change.namespace} opens {len(rules)} path(s)"
            )

    if (change.group, change.kind) == ("security.istio.io", "PeerAuthentication"):
        mode = ((new.get("spec") or {}).get("mtls") or {}).get("mode")
        if mode in ("PERMISSIVE", "DISABLE") and change.namespace in context.old_namespaces:
            change.risk(
                "security", f"mTLS loosened: a new {mode} PeerAuthentication in existing namespace {change.namespace}"
            )


def _immutable(change: ObjectChange, context: Context) -> None:
    fields = _IMMUTABLE.get((change.group, change.kind), ())
    for item in change.fields:
        hit = next((f for f in fields if under(item.path, f)), None)
        if hit is None:
            continue
        if change.via is None and context.forces(change.kustomization):
            change.risk("change", f"{hit} is immutable: Flux deletes and recreates the object (force: true)")
        else:
            change.risk("blocking", f"{hit} is immutable: the API server refuses the update ({item.path})")


def _storage(change: ObjectChange) -> None:
    for item in change.fields:
        if item.path == "spec.resources.requests.storage":
            old, new = parse_quantity(item.old), parse_quantity(item.new)
            if old is not None and new is not None and new < old:
                change.risk("blocking", f"storage shrinks {item.old} -> {item.new}: a claim can only grow")
            elif old is not None and new is not None and new > old:
                change.risk("change", f"storage grows {item.old} -> {item.new}: needs allowVolumeExpansion")


def _security(change: ObjectChange, old: dict[str, Any], new: dict[str, Any]) -> None:
    key = (change.group, change.kind)
    removed = not new
    if key == ("", "Namespace") and not removed:
        was = ((old.get("metadata") or {}).get("labels") or {}).get(_PSA, "privileged")
        now = ((new.get("metadata") or {}).get("labels") or {}).get(_PSA, "privileged")
        if was in _PSA_ORDER and _PSA_ORDER.index(str(now) if now in _PSA_ORDER else "privileged") < _PSA_ORDER.index(
            was
        ):
            change.risk("security", f"Pod Security enforce level lowered: {was} -> {now}")
    elif key == _NETPOL:
        for reason in _netpol_opened(old.get("spec") or {}, None if removed else new.get("spec") or {}):
            change.risk("security", reason)
    elif key == _KYVERNO_VP or (change.group == "policies.kyverno.io" and change.kind.endswith("ValidatingPolicy")):
        was = "Deny" in ((old.get("spec") or {}).get("validationActions") or [])
        if was and (removed or "Deny" not in ((new.get("spec") or {}).get("validationActions") or [])):
            now = "removed" if removed else ", ".join((new.get("spec") or {}).get("validationActions") or []) or "none"
            change.risk("security", f"policy no longer denies: validationActions Deny -> {now}")
        annotations = (old.get("metadata") or {}).get("annotations") or {}
        if annotations.get("policies.kyverno.io/category") == _TENANT_LANES:
            spec_changed = removed or any(under(f.path, "spec") for f in change.fields)
            if spec_changed:
                change.risk("security", "a tenant lane policy is " + ("removed" if removed else "changed"))
    elif key in (("kyverno.io", "ClusterPolicy"), ("kyverno.io", "Policy")):
        was = str((old.get("spec") or {}).get("validationFailureAction") or "Audit").lower() == "enforce"
        now = (
            not removed and str((new.get("spec") or {}).get("validationFailureAction") or "Audit").lower() == "enforce"
        )
        if was and not now:
            change.risk("security", "policy no longer enforces: validationFailureAction Enforce -> Audit")
    elif key == ("security.istio.io", "PeerAuthentication"):
        was = ((old.get("spec") or {}).get("mtls") or {}).get("mode")
        now = "removed" if removed else ((new.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET (inherits)"
        if was == "STRICT" and now != "STRICT":
            change.risk("security", f"mTLS loosened: STRICT -> {now}")
    elif key == ("external-secrets.io", "ClusterSecretStore") and not removed:
        widened = _conditions_widened(
            (old.get("spec") or {}).get("conditions"), (new.get("spec") or {}).get("conditions")
        )
        if widened:
            change.risk("security", f"ClusterSecretStore serves more namespaces: {widened}")


def _namespace_terms(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The ``In`` and ``NotIn`` values of a policy's ``matchConstraints.namespaceSelector``."""
    selector = ((body.get("spec") or {}).get("matchConstraints") or {}).get("namespaceSelector") or {}
    found: dict[str, set[str]] = {"In": set(), "NotIn": set()}
    for term in selector.get("matchExpressions") or []:
        if isinstance(term, dict) and term.get("operator") in found:
            found[str(term["operator"])] |= {str(v) for v in term.get("values") or []}
    return found["In"], found["NotIn"]


def _exempted(change: ObjectChange, old: dict[str, Any], new: dict[str, Any], context: Context) -> None:
    """An admission policy that stops covering a namespace the cluster already has."""
    if change.group not in ("policies.kyverno.io", "admissionregistration.k8s.io") or not new:
        return
    old_in, old_out = _namespace_terms(old)
    new_in, new_out = _namespace_terms(new)
    left = ((new_out - old_out) | (old_in - new_in if old_in else set())) & context.old_namespaces
    if left:
        change.risk("security", f"no longer covers existing namespace(s) {', '.join(sorted(left))}")


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _rule_covered(rule: dict[str, Any], olds: list[Any], peers_key: str) -> bool:
    """Whether an old rule allows at least everything ``rule`` does (same or more peers and ports)."""
    peers = rule.get(peers_key) or []
    ports = rule.get("ports") or []
    for old in olds:
        if not isinstance(old, dict):
            continue
        old_peers, old_ports = old.get(peers_key) or [], old.get("ports") or []
        peers_ok = not old_peers or (bool(peers) and {_canon(p) for p in peers} <= {_canon(p) for p in old_peers})
        ports_ok = not old_ports or (bool(ports) and {_canon(p) for p in ports} <= {_canon(p) for p in old_ports})
        if peers_ok and ports_ok:
            return True
    return False


def _netpol_opened(old: dict[str, Any], new: dict[str, Any] | None) -> list[str]:
    if new is None:
        return ["NetworkPolicy removed: the paths it closed are open"]
    reasons = []
    old_types = set(old.get("policyTypes") or ["Ingress"])
    new_types = set(new.get("policyTypes") or ["Ingress"])
    for dropped in sorted(old_types - new_types):
        reasons.append(f"policyTypes no longer has {dropped}: its {dropped.lower()} is no longer restricted")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        olds = old.get(direction) or []
        for index, rule in enumerate(new.get(direction) or []):
            if isinstance(rule, dict) and not _rule_covered(rule, olds, peers_key):
                reasons.append(f"{direction}[{index}] allows more than before: {_canon(rule)[:160]}")
    old_sel = (old.get("podSelector") or {}).get("matchLabels") or {}
    new_sel = (new.get("podSelector") or {}).get("matchLabels") or {}
    if old_sel and set(new_sel.items()) < set(old_sel.items()):
        reasons.append(f"podSelector widened: {_canon(old_sel)} -> {_canon(new_sel) if new_sel else 'every pod'}")
    return reasons


def _conditions_widened(old: Any, new: Any) -> str:
    if not old:
        return ""
    if not new:
        return "conditions removed: every namespace may use it"

    def entries(conditions: Any) -> set[str]:
        found = set()
        for condition in conditions if isinstance(conditions, list) else []:
            if not isinstance(condition, dict):
                continue
            for key in ("namespaces", "namespaceRegexes"):
                found |= {f"{key}: {v}" for v in condition.get(key) or []}
            if condition.get("namespaceSelector") is not None:
                found.add(f"namespaceSelector: {_canon(condition['namespaceSelector'])}")
        return found

    more = sorted(entries(new) - entries(old))
    return ", ".join(more)


def _major(version: Any) -> int | None:
    text = str(version or "").strip().lstrip("v=")
    head = text.split(".")[0]
    return int(head) if head.isdigit() else None


def _chart(change: ObjectChange) -> None:
    for item in change.fields:
        if item.path in ("spec.chart.spec.version", "spec.ref.tag", "spec.ref.semver"):
            was, now = _major(item.old), _major(item.new)
            if was is not None and now is not None and now > was:
                change.risk(
                    "upgrade", f"chart major version bump {item.old} -> {item.new}: read the chart's upgrade notes"
                )
        elif item.path in ("spec.chart.spec.chart", "spec.url") and item.old != ABSENT:
            change.risk("upgrade", f"a different chart: {item.old} -> {item.new}")


def _crd_versions(change: ObjectChange, old: dict[str, Any], new: dict[str, Any], context: Context) -> None:
    def served(body: dict[str, Any]) -> set[str]:
        return {
            str(v.get("name"))
            for v in (body.get("spec") or {}).get("versions") or []
            if isinstance(v, dict) and v.get("served", True)
        }

    group = str((new.get("spec") or {}).get("group") or "")
    for version in sorted(served(old) - served(new)):
        api = f"{group}/{version}"
        if api in context.api_versions:
            change.risk("blocking", f"version {version} is no longer served, and the tree still uses {api}")
        else:
            change.risk("change", f"version {version} is no longer served (nothing in the tree uses {api})")
