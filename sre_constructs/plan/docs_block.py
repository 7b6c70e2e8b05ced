"""The bring-up block of ``docs/bringing-up-a-cluster.md``, generated from the plans of the example clusters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import Plan, plan_clusters
from .report import _capital, when

__all__ = ["BRINGUP_END", "BRINGUP_START", "bringup_block"]

BRINGUP_START = "<!-- bringup:start -->"
BRINGUP_END = "<!-- bringup:end -->"


def _section(name: str, plan: Plan) -> list[str]:
    lines = [
        f"**{name}** ({'comes up' if plan.ok else 'does NOT come up'}; "
        f"{len(plan.steps)} steps in {len(plan.waves)} waves)",
        "",
    ]
    lines += ["```mermaid", plan.mermaid(), "```", ""]
    if plan.manual_steps:
        lines += ["Manual steps:", ""]
        for number, step in enumerate(plan.manual_steps, 1):
            lines.append(f"{number}. {_capital(when(step['after']))}: {step['what']}.")
            lines += ["", "   ```sh", *(f"   {line}" for line in step["command"].splitlines()), "   ```", ""]
    else:
        lines += ["No manual step.", ""]
    for blocker in plan.blockers:
        lines.append(f"- blocked: {blocker}")
    return lines


def bringup_block(cluster_files: Sequence[str | Path]) -> str:
    """The generated block: the default platform, then each cluster file, each with its waves
    (a Mermaid picture) and its manual steps."""
    lines: list[str] = []
    for name, files in [("default platform", []), *((Path(f).stem, [f]) for f in cluster_files)]:
        (plan,) = plan_clusters(files)
        shown = f"{Path(files[0]).parent.name}/{Path(files[0]).name}" if files else ""  # the same from any cwd
        lines += _section(f"cluster {name} (`{shown}`)" if files else name, plan)
    return "\n".join(lines).rstrip("\n") + "\n"
