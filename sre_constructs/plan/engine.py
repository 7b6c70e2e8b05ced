"""Flux on an empty cluster, simulated: what comes up, in which order, and what would block forever.

The model follows kustomize-controller and helm-controller:

- A Flux Kustomization starts once every ``dependsOn`` target is Ready. It applies its objects in
  stages (fluxcd/pkg ``ssa.ApplyAllStaged``): CustomResourceDefinitions, Namespaces and
  ClusterRoles; then ``*Class`` kinds; then everything else. Each stage is server-side dry-run as
  a whole before any of it is applied, so one refused object keeps its whole stage (and every
  later stage) out of the cluster, at every retry.
- With ``wait: true`` it is Ready when every applied object is Ready (health checks are ignored);
  otherwise when its ``healthChecks`` are Ready; with neither, once applied.
- A HelmRelease installs once its chart source, namespace and ``dependsOn`` releases are there;
  the install brings the chart's CRDs and webhook configurations; it is Ready once every Secret
  and ConfigMap its pods read exists and its pods are admitted.

Flux retries failed applies, so the simulation runs in rounds until nothing changes: whatever is
not Ready then would block forever. Separately, every need must be met by the Kustomization itself
(an earlier stage, or its own objects for readiness), by what it depends on, or by what applied it:
a need met only by an unrelated Kustomization works by the luck of a retry, and is reported too.

:func:`simulate` owns the run, top to bottom: :func:`~.world.build_world` reads the units once,
the rounds apply stages and settle releases on a :class:`~.state.ClusterState`, and
:func:`~.diagnose.diagnose` says what did not come up; the report reads the :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .diagnose import diagnose
from .kinds import Need
from .model import STAGES, Blocker, Outcome, UnitOutcome, stage_of
from .source import Obj, Unit
from .state import ClusterState
from .world import BOOTSTRAP_SOURCES, MANUAL, World, build_world

__all__ = ["STAGES", "Blocker", "Outcome", "simulate", "stage_of"]

_MAX_ROUNDS = 200


def simulate(
    units: list[Unit],
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    mirror: str | None = None,
    known: Mapping[str, Any] | None = None,
    bootstrap: Sequence[str] = BOOTSTRAP_SOURCES,
    flux_crds: Sequence[str] = (),
) -> Outcome:
    """Run Flux on an empty cluster over ``units``; see the module doc.

    Args:
        units: what each Flux Kustomization applies (:func:`~sre_constructs.plan.units.load_units`).
        rendered: helm template output per release, by ``(namespace, release name)``; ``None``
            skips the pod checks.
        mirror: the registry every image must come from, if any.
        known: Flux Kustomizations of other trees already Ready on the cluster (``--with``).
        bootstrap: the sources ``flux bootstrap`` made (``NAME`` or ``NAMESPACE/NAME``). Default:
            ``flux-system``; a Kustomization's source that neither these nor the tree define never
            becomes Ready.
        flux_crds: optional Flux controllers installed with Flux (``artifactgenerator``): their
            CRDs are on the cluster from the start. Default: none.
    """
    known = known or {}
    world = build_world(units, rendered, mirror, bootstrap, flux_crds)
    state = ClusterState(world)
    waves = _waves(units, world.parent, known)
    outcomes: dict[str, UnitOutcome] = {}
    for unit in units:
        by_stage: dict[int, list[Obj]] = {}
        for obj in unit.objects:
            by_stage.setdefault(stage_of(obj), []).append(obj)
        outcomes[unit.name] = UnitOutcome(unit, waves[unit.name], [by_stage[s] for s in sorted(by_stage)])
    unit_ready: set[str] = set(known)
    done_stages = {u.name: 0 for u in units}
    failures: dict[str, tuple[Obj, Need, int]] = {}
    started: set[str] = set()
    for rnd in range(1, _MAX_ROUNDS):
        changed = False
        for unit in units:
            if unit.name in unit_ready or unit.errors:
                continue  # a failing kustomize build: Flux applies nothing of it, at every retry
            if not _may_start(state, unit, unit_ready):
                continue
            started.add(unit.name)
            if unit.unreadable is not None:
                # What it applies is unknown: its dependents are planned as if it came up.
                unit_ready.add(unit.name)
                outcomes[unit.name].ready_round = rnd
                changed = True
                continue
            changed |= _apply_stages(state, unit, outcomes[unit.name].stages, done_stages, failures)
        changed |= _settle(world, state)
        for unit in units:
            if unit.name in unit_ready or unit.name not in started:
                continue
            if done_stages[unit.name] < len(outcomes[unit.name].stages):
                continue
            if state.unit_ready(unit):
                unit_ready.add(unit.name)
                outcomes[unit.name].ready_round = rnd
                changed = True
        if not changed:
            break
    blockers = diagnose(world, state, outcomes, unit_ready, failures, done_stages, known)
    manual = [(step, state.have.get(key, "")) for step, _, key in world.manual]
    return Outcome(list(outcomes.values()), blockers, manual, world.notes, world.rendered is not None)


def _may_start(state: ClusterState, unit: Unit, unit_ready: set[str]) -> bool:
    """Applied by its parent, its source Ready, every ``dependsOn`` Ready (a root: at once)."""
    if unit.kustomization is None:
        return True
    if id(unit.kustomization) not in state.applied or not state.satisfied(state.world.sources[unit.name]):
        return False
    return all(dep in unit_ready for dep in unit.depends_on)


def _apply_stages(
    state: ClusterState,
    unit: Unit,
    stages: list[list[Obj]],
    done_stages: dict[str, int],
    failures: dict[str, tuple[Obj, Need, int]],
) -> bool:
    """Dry-run and apply the unit's stages in order, up to the first whose dry-run fails."""
    changed = False
    while done_stages[unit.name] < len(stages):
        index = done_stages[unit.name]
        failed = _dry_run(state, stages[index], index)
        if failed:
            failures[unit.name] = failed
            break
        failures.pop(unit.name, None)
        for obj in stages[index]:
            state.applied.add(id(obj))
            state.provide(state.world.provs[id(obj)], ("apply",), unit.name)
        done_stages[unit.name] += 1
        changed = True
    return changed


def _dry_run(state: ClusterState, stage: list[Obj], index: int) -> tuple[Obj, Need, int] | None:
    """The first object of the stage the server-side dry-run refuses, with the need it lacks."""
    for obj in stage:
        for need in state.world.needs[id(obj)]:
            if need.phase == "dry-run" and not state.satisfied(need.key):
                return obj, need, index
        for hook, served, _ in state.intercepted(obj):
            if hook.failure_policy == "Fail" and served not in state.have:
                return obj, Need(served, "dry-run", f"{obj.label} is intercepted by webhook {hook.name}"), index
    return None


def _settle(world: World, state: ClusterState) -> bool:
    """Install releases, mark objects Ready and take manual steps until nothing more happens."""
    changed = False
    progress = True
    while progress:
        progress = False
        for unit in world.units:
            for obj in unit.objects:
                if id(obj) not in state.applied or id(obj) in state.ready:
                    continue
                needs = world.needs[id(obj)]
                release = world.releases.get(id(obj))
                if release is not None and id(obj) not in state.installed:
                    if not all(state.satisfied(n.key) for n in needs if n.phase == "install"):
                        continue
                    state.installed.add(id(obj))
                    state.provide(release.install, ("install",), unit.name)
                    state.hooks.extend((hook, key, unit.name) for hook, key in release.webhooks)
                    progress = True
                if all(state.satisfied(n.key) for n in needs if n.phase in ("install", "ready")):
                    state.ready.add(id(obj))
                    state.provide(world.provs[id(obj)], ("ready",), unit.name)
                    if release is not None:
                        state.provide(release.ready, ("ready",), unit.name)
                    progress = True
        for index, (_, pre, key) in enumerate(world.manual):
            if index not in state.manual_done and all(state.satisfied(k) for k in pre):
                state.manual_done.add(index)
                state.have.setdefault(key, MANUAL)
                progress = True
        changed |= progress
    return changed


def _waves(units: list[Unit], parent: Mapping[str, str], known: Mapping[str, Any]) -> dict[str, int]:
    """Each unit's ``dependsOn`` depth (its parent counts as a dependency)."""
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
