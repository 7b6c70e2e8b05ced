"""What did not come up, and why: the blockers, read from the world and the final cluster state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .kinds import OPTIONAL_FLUX_CRDS, Key, Need, describe
from .model import STAGES, Blocker, UnitOutcome, stage_of
from .source import Obj, Unit
from .state import ClusterState
from .world import CLUSTER, MANUAL, World, source_hint

__all__ = ["diagnose"]


def _ancestors(units: list[Unit], parent: Mapping[str, str]) -> dict[str, set[str]]:
    names = {u.name: u for u in units}
    memo: dict[str, set[str]] = {}

    def up(name: str, path: frozenset[str]) -> set[str]:
        if name in memo:
            return memo[name]
        if name in path or name not in names:
            return set()
        found: set[str] = set()
        for dep in [*names[name].depends_on, *([parent[name]] if name in parent else [])]:
            found |= {dep} | up(dep, path | {name})
        memo[name] = found
        return found

    return {u.name: up(u.name, frozenset()) for u in units}


def _cycle_through(world: World, start: str) -> list[str]:
    """A ``dependsOn`` cycle from ``start`` back to it, or ``[]``."""
    by_name = {u.name: u for u in world.units}

    def walk(name: str, path: list[str]) -> list[str]:
        for dep in by_name[name].depends_on if name in by_name else []:
            if dep == start:
                return [*path, dep]
            if dep not in path:
                found = walk(dep, [*path, dep])
                if found:
                    return found
        return []

    return walk(start, [start])


def _providers(world: World, key: Key) -> list[tuple[str, str, str]]:
    """``(unit, object label, phase)`` of everything in the tree that provides ``key``."""
    found = []
    for unit in world.units:
        for obj in unit.objects:
            for prov in world.provs[id(obj)]:
                if prov.key == key:
                    found.append((unit.name, obj.label, prov.phase))
            release = world.releases.get(id(obj))
            if release is not None:
                for prov in release.install + release.ready:
                    if prov.key == key:
                        found.append((unit.name, obj.label, prov.phase))
    return found


def _stage_name(index_of: int, stages: list[list[Obj]]) -> str:

    return STAGES[stage_of(stages[index_of][0])]


def _provider_text(world: World, key: Key, unit: str, obj: Obj, same_stage: list[Obj], ready: set[str]) -> str:
    if key[0] == "rbac":
        roles = [o for o in same_stage if o.group == "rbac.authorization.k8s.io"]
        if roles:
            return (
                f"{', '.join(r.label for r in roles)} would grant it, but in the same apply stage: Flux dry-runs the "
                "whole stage before applying any of it and Kyverno refuses the policy on the dry-run, so they are "
                "never applied (a deadlock at every retry); apply the RBAC in an earlier stage or Kustomization"
            )
        return "nothing in the cluster grants it before the policy's dry-run; Kyverno refuses the policy"
    providers = list(_providers(world, key))
    if not providers:
        optional = [name for name, crds in OPTIONAL_FLUX_CRDS.items() if key[0] == "crd" and tuple(key[1:]) in crds]
        if optional:
            return (
                "nothing in the tree provides it: it is the CRD of an optional Flux controller, on the cluster "
                f"only when Flux is installed with it (--flux-crds {optional[0]})"
            )
        return "nothing in the tree provides it"
    texts = []
    same_labels = {o.label for o in same_stage}
    for provider_unit, label, _phase in providers[:3]:
        if provider_unit == unit and label in same_labels:
            texts.append(f"{label} provides it in the same apply stage (dry-run as a whole first: never applied)")
        elif provider_unit == unit:
            texts.append(f"{label} provides it, in this Kustomization")
        elif provider_unit not in ready:
            texts.append(f"{label} in {provider_unit} would provide it, but {provider_unit} is not Ready")
        else:
            texts.append(f"{label} in {provider_unit} provides it")
    return "; ".join(texts)


def diagnose(
    world: World,
    state: ClusterState,
    outcomes: Mapping[str, UnitOutcome],
    ready: set[str],
    failures: Mapping[str, tuple[Obj, Need, int]],
    done_stages: Mapping[str, int],
    known: Mapping[str, Any],
) -> list[Blocker]:
    """Every blocker, once the rounds are over: why each unit that is not Ready is not, then the
    needs met only by luck (:func:`_order_problems`) and objects applied twice (:func:`_collisions`).
    Sets each outcome's ``failure`` and ``waits_for``."""

    blockers: list[Blocker] = []
    names = {u.name for u in world.units}
    for unit in world.units:
        outcome = outcomes[unit.name]
        missing = [d for d in unit.depends_on if d not in names and d not in known]
        for dep in missing:
            blockers.append(
                Blocker(
                    unit.name,
                    f"Kustomization {unit.name}",
                    f"Kustomization {dep} (dependsOn)",
                    "no tree given defines it (pass the tree that does with --with)",
                )
            )
        outcome.waits_for = [d for d in unit.depends_on if d not in ready]
        if unit.name in ready or missing:
            continue
        if unit.errors:
            outcome.failure = "kustomize build fails"
            for error in unit.errors:
                blockers.append(Blocker(unit.name, f"Kustomization {unit.name}", "its path to build", error, "build"))
            continue
        cycle = _cycle_through(world, unit.name)
        if cycle:
            outcome.failure = "dependsOn cycle"
            blockers.append(
                Blocker(
                    unit.name,
                    f"Kustomization {unit.name}",
                    "dependsOn without a cycle",
                    " -> ".join(cycle) + ": each waits for the other, forever",
                    "blocked",
                )
            )
            continue
        if unit.name in failures:
            obj, need, index = failures[unit.name]
            text = _provider_text(world, need.key, unit.name, obj, outcome.stages[index], ready)
            outcome.failure = f"dry-run of stage '{_stage_name(index, outcome.stages)}' fails: {obj.label}"
            blockers.append(Blocker(unit.name, obj.label, f"{describe(need.key)} ({need.why})", text))
            continue
        source = world.sources.get(unit.name)
        if source is not None and not state.satisfied(source):
            defined = _providers(world, source)
            flux_ks = unit.kustomization
            if flux_ks is not None and (not defined or id(flux_ks) in state.applied):
                outcome.failure = f"its source {describe(source)[: -len(' Ready')]} is never Ready"
                text = _provider_text(world, source, unit.name, flux_ks, [], ready) if defined else ""
                blockers.append(
                    Blocker(
                        unit.name,
                        f"Kustomization {unit.name}",
                        f"{describe(source)} (spec.sourceRef)",
                        text or source_hint(world, source),
                    )
                )
            continue
        if done_stages[unit.name] < len(outcome.stages):
            continue  # waiting for a dependency or for its parent: reported there
        for obj in unit.objects:
            if id(obj) in state.ready:
                continue
            for need in world.needs[id(obj)]:
                if need.phase in ("install", "ready") and not state.satisfied(need.key):
                    if need.key[0] == "admitted":
                        blockers.append(Blocker(unit.name, obj.label, "its pods admitted", need.why, "admission"))
                        continue
                    text = _provider_text(world, need.key, unit.name, obj, [], ready)
                    blockers.append(Blocker(unit.name, obj.label, f"{describe(need.key)} ({need.why})", text))
        unknown = [
            (check, why)
            for check in ([] if unit.wait else unit.health_checks)
            for target, why in [world.health[(unit.name, check)]]
            if target is None
        ]
        for (kind, namespace, name), why in unknown:
            outcome.failure = "not Ready"
            blockers.append(
                Blocker(unit.name, f"Kustomization {unit.name}", f"health check {kind} {namespace}/{name} Ready", why)
            )
        if not any(b.unit == unit.name for b in blockers):
            waiting = [f"{k} {ns}/{n}" for k, ns, n in unit.health_checks if not state.check_ready(unit, (k, ns, n))]
            outcome.failure = "not Ready"
            blockers.append(
                Blocker(
                    unit.name,
                    f"Kustomization {unit.name}",
                    "its health checks Ready" if waiting else "its objects Ready",
                    ("never Ready: " + ", ".join(waiting)) if waiting else "some applied object never becomes Ready",
                )
            )
    blockers.extend(_order_problems(world, state, ready))
    blockers.extend(_collisions(world))
    return sorted(set(blockers))


def _order_problems(world: World, state: ClusterState, ready: set[str]) -> list[Blocker]:
    """Needs met only by a Kustomization the needing one does not wait for (a race won by a retry)."""
    ancestors = _ancestors(world.units, world.parent)
    found = []
    for unit in world.units:
        if unit.name not in ready:
            continue
        allowed = ancestors[unit.name] | {unit.name, CLUSTER, MANUAL}
        for obj in unit.objects:
            for need in world.needs[id(obj)]:
                provider = state.have.get(need.key)
                if provider is None or provider in allowed or need.key[0] == "admitted":
                    continue
                found.append(
                    Blocker(
                        unit.name,
                        obj.label,
                        f"{describe(need.key)} ({need.why})",
                        f"only {provider} provides it, and {unit.name} does not depend on it: it comes up only "
                        f"if a retry happens after {provider}; add dependsOn {provider}",
                        "order",
                    )
                )
            for hook, _served, owner in state.hooks:
                # An Ignore webhook lets objects through while it is down: no race to report.
                if owner in allowed or hook.failure_policy != "Fail" or not hook.intercepts(obj.group, obj.kind):
                    continue
                if hook.namespace_label is not None:
                    continue  # label-scoped webhooks (sidecar injection) are checked with the namespace
                found.append(
                    Blocker(
                        unit.name,
                        obj.label,
                        f"webhook {hook.name} ({owner})",
                        f"it intercepts {obj.kind} and {unit.name} does not depend on {owner}: applied while "
                        f"the webhook is down, the dry-run fails; add dependsOn {owner}",
                        "order",
                    )
                )
            release = world.releases.get(id(obj))
            if release is not None:
                found.extend(_manual_in_same_unit(world, state, unit, obj))
    return found


def _manual_in_same_unit(world: World, state: ClusterState, unit: Unit, release: Obj) -> list[Blocker]:
    """A release reading a Secret that exists only after a manual step, produced in its own Kustomization:
    Helm's install times out and exhausts its retries before a person acts."""

    found = []
    gated = {n.key for n in world.needs[id(release)] if n.phase == "install"}  # valuesFrom: no install before
    for need in world.needs[id(release)]:
        if need.phase != "ready" or state.have.get(need.key) != unit.name or need.key in gated:
            continue
        for producer in unit.objects:
            if not any(p.key == need.key for p in world.provs[id(producer)]):
                continue
            manual = [n for n in world.needs[id(producer)] if state.have.get(n.key) == MANUAL]
            if manual:
                found.append(
                    Blocker(
                        unit.name,
                        release.label,
                        f"{describe(need.key)} ({need.why})",
                        f"{producer.label} in the same Kustomization produces it only after a manual step "
                        f"({describe(manual[0].key)}): Helm's install would time out and exhaust its retries "
                        "first; move the producer to a Kustomization this one depends on",
                        "order",
                    )
                )
    return found


def _collisions(world: World) -> list[Blocker]:

    seen: dict[tuple[str, str, str, str], str] = {}
    found = []
    for unit in world.units:
        for obj in unit.objects:
            key = (obj.group, obj.kind, obj.namespace, obj.name)
            if key in seen and seen[key] != unit.name:
                found.append(
                    Blocker(
                        unit.name,
                        obj.label,
                        "to be the only Kustomization applying it",
                        f"{seen[key]} applies it too: each apply replaces the other's and pruning one deletes "
                        "it from both",
                        "collision",
                    )
                )
            seen.setdefault(key, unit.name)
    # Webhook configurations are cluster-scoped: two releases rendering one name overwrite each other.
    registered: dict[tuple[bool, str], tuple[str, str]] = {}
    for release in world.releases.values():
        for hook, _ in release.webhooks:
            kind = "MutatingWebhookConfiguration" if hook.mutating else "ValidatingWebhookConfiguration"
            first = registered.setdefault((hook.mutating, hook.name), (release.unit, release.obj.label))
            if first[1] != release.obj.label:
                found.append(
                    Blocker(
                        release.unit,
                        release.obj.label,
                        f"to be the only release rendering {kind} {hook.name}",
                        f"{first[1]} in {first[0]} renders it too: each install overwrites the other's",
                        "collision",
                    )
                )
    return found
