"""The cluster as the simulation goes: what exists, what is applied and Ready, which webhooks serve.

A :class:`ClusterState` answers the one question every round asks, whether a need is met
(:meth:`ClusterState.satisfied`), and records what each unit provides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kernel.facts import Webhook
from .kinds import BUILTIN_GROUPS, Key, Prov
from .source import Obj, Unit
from .world import World

__all__ = ["ClusterState"]


@dataclass
class ClusterState:
    """The cluster at one moment of the simulation.

    Attributes:
        have: every key that holds, with who provided it (a unit, ``<cluster>`` or ``<manual>``).
        applied: objects applied (by ``id``); ready: objects Ready; installed: releases installed.
        hooks: the webhooks installed releases registered: ``(webhook, served key, unit)``.
    """

    world: World
    have: dict[Key, str] = field(default_factory=dict)
    applied: set[int] = field(default_factory=set)
    ready: set[int] = field(default_factory=set)
    installed: set[int] = field(default_factory=set)
    manual_done: set[int] = field(default_factory=set)
    hooks: list[tuple[Webhook, Key, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.have.update(self.world.preexisting)

    def satisfied(self, key: Key) -> bool:
        """Whether the cluster has ``key`` now (built-in kinds always; a permission once applied RBAC grants it)."""
        if key[0] == "crd" and key[1] in BUILTIN_GROUPS:
            return True
        if key[0] == "rbac":
            return self._rbac(key)
        return key in self.have

    def provide(self, provs: list[Prov], phases: tuple[str, ...], by: str) -> bool:
        """Record what ``by`` provides in ``phases``; whether anything was new."""
        changed = False
        for prov in provs:
            if prov.phase in phases and prov.key not in self.have:
                self.have[prov.key] = by
                changed = True
        return changed

    def intercepted(self, obj: Obj) -> list[tuple[Webhook, Key, str]]:
        """The registered webhooks that see ``obj`` (label-scoped ones only in their namespaces)."""
        result = []
        for hook, served, owner in self.hooks:
            if not hook.intercepts(obj.group, obj.kind):
                continue
            if hook.namespace_label is not None:
                labels = self.world.namespace_labels.get(obj.namespace, {})
                if labels.get(hook.namespace_label[0]) != hook.namespace_label[1]:
                    continue
            result.append((hook, served, owner))
        return result

    def unit_ready(self, unit: Unit) -> bool:
        """A unit's Ready gate, once its stages are applied: every object (``wait``), else its health checks."""
        if unit.kustomization is None:
            return True
        if unit.wait:
            return all(id(obj) in self.ready for obj in unit.objects)
        return all(self.check_ready(unit, check) for check in unit.health_checks)

    def check_ready(self, unit: Unit, check: tuple[str, str, str]) -> bool:
        """A health check is Ready with what produces its target (:func:`~.world.build_world`)."""
        target, _ = self.world.health[(unit.name, check)]
        return target is not None and target in self.ready

    def _rbac(self, key: Key) -> bool:
        """Whether the RBAC objects in the cluster let a service account do ``verb`` on ``resource``."""
        sa, verb, resource, ns = key[1], key[2], key[3], key[4]
        sa_ns, _, sa_name = sa.partition("/")
        group, _, plural = resource.partition("/")
        applied = [obj for obj in self.world.objects() if id(obj) in self.applied]
        roles = {}
        for obj in applied:
            if obj.group == "rbac.authorization.k8s.io" and obj.kind in ("Role", "ClusterRole"):
                roles[(obj.kind, obj.namespace if obj.kind == "Role" else "", obj.name)] = obj
                labels = obj.metadata.get("labels") or {}
                aggregated = any(labels.get(k) == v and account == sa for k, v, account in self.world.aggregations)
                if obj.kind == "ClusterRole" and aggregated and _allows(obj, verb, group, plural):
                    return True  # aggregated into a ClusterRole the chart binds to the account
        for binding in applied:
            if binding.group != "rbac.authorization.k8s.io" or binding.kind not in (
                "RoleBinding",
                "ClusterRoleBinding",
            ):
                continue
            if binding.kind == "RoleBinding" and binding.namespace != ns:
                continue
            subjects = binding.body.get("subjects") or []
            if not any(
                s.get("kind") == "ServiceAccount"
                and s.get("name") == sa_name
                and s.get("namespace", binding.namespace) == sa_ns
                for s in subjects
            ):
                continue
            ref = binding.body.get("roleRef") or {}
            role_ns = binding.namespace if ref.get("kind") == "Role" else ""
            role = roles.get((str(ref.get("kind")), role_ns, str(ref.get("name"))))
            if role is not None and _allows(role, verb, group, plural):
                return True
        return False


def _allows(role: Obj, verb: str, group: str, plural: str) -> bool:
    for rule in role.body.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        groups, resources, verbs = rule.get("apiGroups") or [], rule.get("resources") or [], rule.get("verbs") or []
        if (
            (group in groups or "*" in groups)
            and (plural in resources or "*" in resources)
            and (verb in verbs or "*" in verbs)
        ):
            return True
    return False
