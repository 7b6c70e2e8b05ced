"""The plan as data, and as text, Markdown or JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from .model import STAGES, Blocker, Outcome, UnitOutcome, stage_of

__all__ = ["FORMATS", "Plan", "StepPlan", "build_plan"]

FORMATS = ("text", "markdown", "json")
_PODS_SKIPPED = (
    "pods not checked: no rendered charts (pass --rendered DIR or --charts DIR to check Pod Security, "
    "Kyverno policies, Secret references and images of every rendered pod)"
)


@dataclass
class StepPlan:
    """One Flux Kustomization in the plan.

    Attributes:
        name: ``namespace/name`` (``<path>`` for a tree root).
        wave: its ``dependsOn`` depth (0: applied by hand or by Flux's bootstrap).
        applies: per apply stage (``definitions``, ``classes``, ``rest``), the objects it applies.
        waits_for: its ``dependsOn``.
        gate: what makes it Ready: ``wait`` (every object Ready), its health checks, or ``applied``.
        ready: whether it comes up.
        failure: why not, in one line.
        unknown: why the plan cannot tell (its source is not read); then ``ready`` is false and
            the step is no blocker: its dependents are planned as if it came up.
    """

    name: str
    wave: int
    applies: dict[str, list[str]]
    waits_for: list[str]
    gate: str
    ready: bool
    failure: str | None = None
    unknown: str | None = None


@dataclass
class Plan:
    """A bring-up plan. ``ok`` is true when no blocker is found: every Kustomization comes up
    (or, for one whose source the plan cannot read, is ``unknown``) and nothing depends on luck."""

    title: str
    steps: list[StepPlan]
    blockers: list[Blocker]
    manual_steps: list[dict[str, str]]
    notes: list[str]
    checked_pods: bool
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ok = not self.blockers and all(step.ready or step.unknown for step in self.steps)

    @property
    def waves(self) -> list[list[StepPlan]]:
        """The steps grouped by wave, in order."""
        result: dict[int, list[StepPlan]] = {}
        for step in self.steps:
            result.setdefault(step.wave, []).append(step)
        return [result[w] for w in sorted(result)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "ok": self.ok,
            "waves": [[asdict(step) for step in wave] for wave in self.waves],
            "blockers": [asdict(b) | {"message": str(b)} for b in self.blockers],
            "manual_steps": self.manual_steps,
            "notes": self.notes + ([] if self.checked_pods else [_PODS_SKIPPED]),
        }

    def render(self, format: str = "text") -> str:
        """The plan as ``text``, ``markdown`` or ``json``."""
        if format == "json":
            return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        if format == "markdown":
            return _markdown(self)
        if format == "text":
            return _text(self)
        raise ValueError(f"format {format!r}: one of {', '.join(FORMATS)}")

    def mermaid(self) -> str:
        """The waves as a Mermaid flowchart (one subgraph per wave)."""
        lines = ["flowchart LR"]
        ids = {step.name: f"k{i}" for i, step in enumerate(self.steps)}
        for index, wave in enumerate(self.waves):
            lines.append(f'  subgraph w{index}["wave {wave[0].wave}"]')
            lines.extend(f'    {ids[s.name]}["{_short(s.name)}"]' for s in wave)
            lines.append("  end")
        for step in self.steps:
            lines.extend(f"  {ids[dep]} --> {ids[step.name]}" for dep in step.waits_for if dep in ids)
        return "\n".join(lines)


def when(after: str) -> str:
    """A manual step's moment in words: ``once flux-system/x is Ready`` or ``once <condition>``."""
    if not after or after == "any time":
        return "any time"
    return f"once {after} is Ready" if "/" in after and " " not in after else f"once {after}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _short(name: str) -> str:
    """A step's name in a picture: the Kustomization name, or ``<path> (root)``."""
    return f"{name.strip('<>')} (root)" if name.startswith("<") else name.rpartition("/")[2]


def _summary(objects: list[str]) -> str:
    kinds = Counter(label.split(" ", 1)[0] for label in objects)
    return ", ".join(f"{n} {k}" if n > 1 else k for k, n in sorted(kinds.items()))


def _step(outcome: UnitOutcome) -> StepPlan:
    unit = outcome.unit
    if unit.kustomization is None:
        gate = "applied"
    elif unit.wait:
        gate = "wait"
    elif unit.health_checks:
        gate = "healthChecks: " + ", ".join(f"{k} {ns}/{n}" for k, ns, n in unit.health_checks)
    else:
        gate = "applied"
    return StepPlan(
        name=unit.name,
        wave=outcome.wave,
        applies={STAGES[stage_of(stage[0])]: [obj.label for obj in stage] for stage in outcome.stages},
        waits_for=unit.depends_on,
        gate=gate,
        ready=outcome.ready_round is not None and unit.unreadable is None,
        failure=outcome.failure,
        unknown=unit.unreadable,
    )


def build_plan(outcome: Outcome, title: str) -> Plan:
    steps = sorted((_step(o) for o in outcome.units), key=lambda s: (s.wave, s.name))
    manual = [
        {"what": step.what, "command": step.command, "after": step.after or "any time", "done_after": by}
        for step, by in outcome.manual
    ]
    return Plan(title, steps, outcome.blockers, manual, sorted(set(outcome.notes)), outcome.checked_pods)


def _unknown_count(plan: Plan) -> str:
    count = sum(1 for step in plan.steps if step.unknown)
    return f" ({count} Kustomization{'s' if count > 1 else ''} unknown: source not read)" if count else ""


def _text(plan: Plan) -> str:
    out = [f"plan for {plan.title}: " + ("comes up" if plan.ok else "DOES NOT COME UP") + _unknown_count(plan)]
    for wave in plan.waves:
        out.append(f"\nwave {wave[0].wave}")
        for step in wave:
            mark = "ok " if step.ready else "?? " if step.unknown else "!! "
            waits = f"; after {', '.join(step.waits_for)}" if step.waits_for else ""
            out.append(f"  {mark}{step.name} (ready when {step.gate}{waits})")
            for stage, objects in step.applies.items():
                out.append(f"       {stage}: {_summary(objects)}")
            if step.failure:
                out.append(f"       {step.failure}")
            if step.unknown:
                out.append(f"       unknown: {step.unknown}")
    if plan.manual_steps:
        out.append("\nmanual steps")
        for number, manual in enumerate(plan.manual_steps, 1):
            out.append(f"  {number}. {when(manual['after'])}: {manual['what']}")
            out.extend(f"       {line}" for line in manual["command"].splitlines())
    if plan.blockers:
        out.append("\nblockers")
        out.extend(f"  [{b.kind}] {b}" for b in plan.blockers)
    notes = plan.notes + ([] if plan.checked_pods else [_PODS_SKIPPED])
    if notes:
        out.append("\nnotes")
        out.extend(f"  - {note}" for note in notes)
    return "\n".join(out) + "\n"


def _markdown(plan: Plan) -> str:
    headline = "comes up" if plan.ok else "**does not come up**"
    out = [f"### Plan: {plan.title} — {headline}{_unknown_count(plan)}", ""]
    out.append("| wave | Kustomization | applies | ready when | after |")
    out.append("|---:|---|---|---|---|")
    for step in plan.steps:
        applies = "; ".join(f"{stage}: {_summary(objs)}" for stage, objs in step.applies.items()) or "-"
        name = step.name if step.ready else f"{step.name} (unknown)" if step.unknown else f"**{step.name}** (not Ready)"
        out.append(f"| {step.wave} | {name} | {applies} | {step.gate} | {', '.join(step.waits_for) or '-'} |")
    if plan.manual_steps:
        out += ["", "Manual steps:", ""]
        for number, manual in enumerate(plan.manual_steps, 1):
            out.append(f"{number}. {_capital(when(manual['after']))}: {manual['what']}")
            out += ["", "   ```sh", *(f"   {line}" for line in manual["command"].splitlines()), "   ```", ""]
    if plan.blockers:
        out += ["", "Blockers:", ""]
        out.extend(f"- [{b.kind}] {b}" for b in plan.blockers)
    notes = plan.notes + ([] if plan.checked_pods else [_PODS_SKIPPED])
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"- {note}" for note in notes)
    return "\n".join(out).rstrip() + "\n"
