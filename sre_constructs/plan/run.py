"""The simulation's rounds, and the diagnosis of what did not come up (see :mod:`.engine`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .kinds import Key, Need, describe
from .model import STAGES, Blocker, Outcome, UnitOutcome, stage_of
from .source import Obj, Unit

if TYPE_CHECKING:
    from .engine import _Sim

_MAX_ROUNDS = 200
_MANUAL = "<manual>"
_CLUSTER = "<cluster>"


def _waves(units: list[Unit], parent: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, int]:
    names = {u.name: u for u in units}
    memo: dict[str, int] = {}

    def wave(name: str, path: frozenset[str]) -> int:
        if name in memo:
            return memo[name]
        if name in path or name not in names:
            return 0 if name in known or name not in names else len(path)
        unit = names[name]
        before = [*unit.depends_on, *([parent[name]] if name in parent else [])]
        memo[name] = 0 if unit.kustomization is None else 1 + max((wave(d, path | {name}) for d in before), default=0)
        return memo[name]

    return {u.name: wave(u.name, frozenset()) for u in units}


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


def run(sim: _Sim, known: Mapping[str, Any]) -> Outcome:

    units = sim.units
    waves = _waves(units, sim.parent, known)
    outcomes: dict[str, UnitOutcome] = {}
    for unit in units:
        by_stage: dict[int, list[Obj]] = {}
        for obj in unit.objects:
            by_stage.setdefault(stage_of(obj), []).append(obj)
        outcomes[unit.name] = UnitOutcome(unit, waves[unit.name], [by_stage[s] for s in sorted(by_stage)])
    unit_ready: set[str] = set(known)
    done_stages = {u.name: 0 for u in units}
    installed: set[int] = set()
    manual_done: set[int] = set()
    failures: dict[str, tuple[Obj, Need, int]] = {}
    hooks: list[tuple[Any, Key, str]] = []  # (webhook, served key, unit of the release)
    namespace_labels = {
        o.name: o.metadata.get("labels") or {}
        for u in units
        for o in u.objects
        if o.group == "" and o.kind == "Namespace"
    }

    def intercepted(obj: Obj) -> list[tuple[Any, Key, str]]:
        result = []
        for hook, served, owner in hooks:
            if not hook.intercepts(obj.group, obj.kind):
                continue
            if hook.namespace_label is not None:
                labels = namespace_labels.get(obj.namespace, {})
                if labels.get(hook.namespace_label[0]) != hook.namespace_label[1]:
                    continue
            result.append((hook, served, owner))
        return result

    for rnd in range(1, _MAX_ROUNDS):
        changed = False
        for unit in units:
            outcome = outcomes[unit.name]
            if unit.name in unit_ready:
                continue
            if unit.errors:
                continue  # kustomize build fails: Flux applies nothing of it, at every retry
            started = unit.kustomization is None or id(unit.kustomization) in sim.applied
            if not started or not all(dep in unit_ready for dep in unit.depends_on):
                continue
            while done_stages[unit.name] < len(outcome.stages):
                index = done_stages[unit.name]
                stage = outcome.stages[index]
                failed = None
                for obj in stage:
                    for need in sim.needs[id(obj)]:
                        if need.phase == "dry-run" and not sim.satisfied(need.key):
                            failed = (obj, need, index)
                            break
                    for hook, served, _ in intercepted(obj) if failed is None else ():
                        if hook.failure_policy == "Fail" and served not in sim.have:
                            failed = (
                                obj,
                                Need(served, "dry-run", f"{obj.label} is intercepted by webhook {hook.name}"),
                                index,
                            )
                            break
                    if failed:
                        break
                if failed:
                    failures[unit.name] = failed
                    break
                failures.pop(unit.name, None)
                for obj in stage:
                    sim.applied.add(id(obj))
                    sim.provide(sim.provs[id(obj)], ("apply",), unit.name)
                done_stages[unit.name] += 1
                changed = True
        progress = True
        while progress:
            progress = False
            for unit in units:
                for obj in unit.objects:
                    if id(obj) not in sim.applied or id(obj) in sim.ready:
                        continue
                    needs = sim.needs[id(obj)]
                    release = sim.releases.get(id(obj))
                    if release is not None and id(obj) not in installed:
                        if all(sim.satisfied(n.key) for n in needs if n.phase == "install"):
                            installed.add(id(obj))
                            sim.provide(release.install, ("install",), unit.name)
                            hooks.extend((hook, key, unit.name) for hook, key in release.webhooks)
                            progress = True
                        else:
                            continue
                    if all(sim.satisfied(n.key) for n in needs if n.phase in ("install", "ready")):
                        sim.ready.add(id(obj))
                        sim.provide(sim.provs[id(obj)], ("ready",), unit.name)
                        if release is not None:
                            sim.provide(release.ready, ("ready",), unit.name)
                        progress = True
            for index, (_, pre, key) in enumerate(sim.manual):
                if index not in manual_done and all(sim.satisfied(k) for k in pre):
                    manual_done.add(index)
                    sim.have.setdefault(key, _MANUAL)
                    progress = True
            changed |= progress
        for unit in units:
            outcome = outcomes[unit.name]
            if unit.name in unit_ready or done_stages[unit.name] < len(outcome.stages):
                continue
            if _unit_ready(sim, unit):
                unit_ready.add(unit.name)
                outcome.ready_round = rnd
                changed = True
        if not changed:
            break

    blockers = _diagnose(sim, outcomes, unit_ready, failures, done_stages, known, hooks)
    manual = [(step, sim.have.get(key, "")) for step, _, key in sim.manual]
    return Outcome(list(outcomes.values()), blockers, manual, sim.notes, sim.rendered is not None)


def _unit_ready(sim: _Sim, unit: Unit) -> bool:
    if unit.kustomization is None:
        return True
    if unit.wait:
        return all(id(obj) in sim.ready for obj in unit.objects)
    return all(_check_ready(sim, unit, check) for check in unit.health_checks)


def _check_ready(sim: _Sim, unit: Unit, check: tuple[str, str, str]) -> bool:
    """A health check target: an object of the tree, else a workload a release in its namespace makes
    (Ready with that release; the release's own Helm wait covers its workloads)."""
    kind, namespace, name = check
    for other in sim.units:
        for obj in other.objects:
            if (obj.kind, obj.namespace, obj.name) == (kind, namespace, name):
                return id(obj) in sim.ready
    releases = [
        r for r in sim.releases.values() if str(r.obj.spec.get("targetNamespace") or r.obj.namespace) == namespace
    ]
    mine = [r for r in releases if r.unit == unit.name] or releases
    return any(id(r.obj) in sim.ready for r in mine) if mine else True


def _cycle_through(sim: _Sim, start: str) -> list[str]:
    """A ``dependsOn`` cycle from ``start`` back to it, or ``[]``."""
    by_name = {u.name: u for u in sim.units}

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


def _providers(sim: _Sim, key: Key) -> list[tuple[str, str, str]]:
    """``(unit, object label, phase)`` of everything in the tree that provides ``key``."""
    found = []
    for unit in sim.units:
        for obj in unit.objects:
            for prov in sim.provs[id(obj)]:
                if prov.key == key:
                    found.append((unit.name, obj.label, prov.phase))
            release = sim.releases.get(id(obj))
            if release is not None:
                for prov in release.install + release.ready:
                    if prov.key == key:
                        found.append((unit.name, obj.label, prov.phase))
    return found


def _stage_name(index_of: int, stages: list[list[Obj]]) -> str:

    return STAGES[stage_of(stages[index_of][0])]


def _provider_text(sim: _Sim, key: Key, unit: str, obj: Obj, same_stage: list[Obj], ready: set[str]) -> str:
    if key[0] == "rbac":
        roles = [o for o in same_stage if o.group == "rbac.authorization.k8s.io"]
        if roles:
            return (
                f"{', '.join(r.label for r in roles)} would grant it, but in the same apply stage: Flux dry-runs the "
                "whole stage before applying any of it and Kyverno refuses the policy on the dry-run, so they are "
                "never applied (a deadlock at every retry); apply the RBAC in an earlier stage or Kustomization"
            )
        return "nothing in the cluster grants it before the policy's dry-run; Kyverno refuses the policy"
    providers = list(_providers(sim, key))
    if not providers:
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


def _diagnose(
    sim: _Sim,
    outcomes: dict[str, Any],
    ready: set[str],
    failures: Mapping[str, tuple[Obj, Need, int]],
    done_stages: Mapping[str, int],
    known: Mapping[str, Any],
    hooks: list[tuple[Any, Key, str]],
) -> list[Any]:

    blockers: list[Blocker] = []
    names = {u.name for u in sim.units}
    for unit in sim.units:
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
        cycle = _cycle_through(sim, unit.name)
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
            text = _provider_text(sim, need.key, unit.name, obj, outcome.stages[index], ready)
            outcome.failure = f"dry-run of stage '{_stage_name(index, outcome.stages)}' fails: {obj.label}"
            blockers.append(Blocker(unit.name, obj.label, f"{describe(need.key)} ({need.why})", text))
            continue
        if done_stages[unit.name] < len(outcome.stages):
            continue  # waiting for a dependency or for its parent: reported there
        for obj in unit.objects:
            if id(obj) in sim.ready:
                continue
            for need in sim.needs[id(obj)]:
                if need.phase in ("install", "ready") and not sim.satisfied(need.key):
                    if need.key[0] == "admitted":
                        blockers.append(Blocker(unit.name, obj.label, "its pods admitted", need.why, "admission"))
                        continue
                    text = _provider_text(sim, need.key, unit.name, obj, [], ready)
                    blockers.append(Blocker(unit.name, obj.label, f"{describe(need.key)} ({need.why})", text))
        if not any(b.unit == unit.name for b in blockers):
            waiting = [f"{k} {ns}/{n}" for k, ns, n in unit.health_checks if not _check_ready(sim, unit, (k, ns, n))]
            outcome.failure = "not Ready"
            blockers.append(
                Blocker(
                    unit.name,
                    f"Kustomization {unit.name}",
                    "its health checks Ready" if waiting else "its objects Ready",
                    ("never Ready: " + ", ".join(waiting)) if waiting else "some applied object never becomes Ready",
                )
            )
    blockers.extend(_order_problems(sim, ready, hooks))
    blockers.extend(_collisions(sim))
    return sorted(set(blockers))


def _order_problems(sim: _Sim, ready: set[str], hooks: list[tuple[Any, Key, str]]) -> list[Any]:
    """Needs met only by a Kustomization the needing one does not wait for (a race won by a retry)."""
    ancestors = _ancestors(sim.units, sim.parent)
    found = []
    for unit in sim.units:
        if unit.name not in ready:
            continue
        allowed = ancestors[unit.name] | {unit.name, _CLUSTER, _MANUAL}
        for obj in unit.objects:
            for need in sim.needs[id(obj)]:
                provider = sim.have.get(need.key)
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
            for hook, _served, owner in hooks:
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
            release = sim.releases.get(id(obj))
            if release is not None:
                found.extend(_manual_in_same_unit(sim, unit, obj))
    return found


def _manual_in_same_unit(sim: _Sim, unit: Unit, release: Obj) -> list[Any]:
    """A release reading a Secret that exists only after a manual step, produced in its own Kustomization:
    Helm's install times out and exhausts its retries before a person acts."""

    found = []
    gated = {n.key for n in sim.needs[id(release)] if n.phase == "install"}  # valuesFrom: no install before
    for need in sim.needs[id(release)]:
        if need.phase != "ready" or sim.have.get(need.key) != unit.name or need.key in gated:
            continue
        for producer in unit.objects:
            if not any(p.key == need.key for p in sim.provs[id(producer)]):
                continue
            manual = [n for n in sim.needs[id(producer)] if sim.have.get(n.key) == _MANUAL]
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


def _collisions(sim: _Sim) -> list[Any]:

    seen: dict[tuple[str, str, str, str], str] = {}
    found = []
    for unit in sim.units:
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
    for release in sim.releases.values():
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
