"""The diff as text (a terminal), Markdown (a pull-request comment) or JSON (a pipeline)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .levels import ABSENT, LEVELS

if TYPE_CHECKING:
    from .model import ObjectChange, TreeDiff

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "markdown", "json")
_MARKS = {"added": "+", "removed": "-", "orphaned": "-", "changed": "~", "moved": ">"}
_WIDTH = 100
# A pull-request comment holds 65,536 characters on GitHub: the details stop short of it (the
# tables, headlines and notes are small), and one object shows at most this many fields.
_COMMENT_BUDGET = 52_000
_HEADLINES_BUDGET = 6_000
_FIELDS_SHOWN = 25


def _flat(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str) if not isinstance(value, str) else value
    return text.replace("\n", "\\n")


def _value(value: Any, start: int = 0) -> str:
    """``value`` on one line, at most ``_WIDTH`` characters from ``start`` (elided around)."""
    if value == ABSENT:
        return "(absent)"
    text = _flat(value)
    head = "..." if start > 0 else ""
    text = text[start:]
    return head + text if len(text) <= _WIDTH else head + text[: _WIDTH - 3] + "..."


def _first_difference(old: Any, new: Any) -> int:
    """Where two long values start to differ, less some context: so that two dashboards or
    configurations that share their first hundred characters do not print the same."""
    if old == ABSENT or new == ABSENT:
        return 0
    a, b = _flat(old), _flat(new)
    if len(a) <= _WIDTH and len(b) <= _WIDTH:
        return 0
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return max(0, at - 40) if at >= _WIDTH - 10 else 0


def _scalars(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value)


def _pair(old: Any, new: Any) -> str:
    """``old -> new``; for two lists of scalars, the items removed and added."""
    if _scalars(old) and _scalars(new):
        gone = [v for v in old if v not in new]
        came = [v for v in new if v not in old]
        if gone or came:
            parts = [f"-{_value(v)}" for v in gone] + [f"+{_value(v)}" for v in came]
            return " ".join(parts)
    start = _first_difference(old, new)
    return f"{_value(old, start)} -> {_value(new, start)}"


def _summary(diff: TreeDiff) -> str:
    if diff.empty:
        return "no changes"
    counts = ", ".join(f"{n} {action}" for action, n in diff.counts().items() if n)
    plan = f", {len(diff.plan)} plan change(s)" if diff.plan else ""
    return f"{counts or 'no object changes'}{plan}; highest risk: {diff.level}"


def _headline(change: ObjectChange) -> str:
    text = f"{_MARKS[change.action]} {change.action} {change.label}"
    if change.old_label and change.old_label != change.label:
        text += f" (was {change.old_label})"
    if change.old_kustomization:
        text += f" (from {change.old_kustomization})"
    if change.via:
        text += f" (via {change.via})"
    return text


def _order(change: ObjectChange) -> tuple[int, str, str]:
    return (LEVELS.index(change.level), change.action, change.label)


def _text(diffs: Sequence[TreeDiff]) -> str:
    out: list[str] = []
    for diff in diffs:
        out.append(f"diff {diff.title}: {_summary(diff)}")
        for kust in diff.kustomizations:
            out.append(f"\n  Kustomization {kust.name} [{kust.level}]")
            for change in sorted(kust.changes, key=_order):
                out.append(f"    {_headline(change)} [{change.level}]")
                out.extend(f"        ! {r.level}: {r.reason}" for r in change.risks)
                out.extend(f"        {f.path}: {_pair(f.old, f.new)}" for f in change.fields)
        if diff.plan:
            out.append("\n  plan")
            out.extend(f"    ! {p.level}: {p.what}: {p.reason}" for p in diff.plan)
        if diff.notes:
            out.append("\n  notes")
            out.extend(f"    - {note}" for note in diff.notes)
        out.append("")
    return "\n".join(out)


def _diff_lines(path: str, old: Any, new: Any) -> list[str]:
    """A field as ``diff`` lines (lists of scalars item by item)."""
    if _scalars(old) and _scalars(new):
        return [f"  - {path}: {_value(v)}" for v in old if v not in new] + [
            f"  + {path}: {_value(v)}" for v in new if v not in old
        ]
    start = _first_difference(old, new)
    lines = [f"  - {path}: {_value(old, start)}"] if old != ABSENT else []
    return lines + ([f"  + {path}: {_value(new, start)}"] if new != ABSENT else [])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _change_block(change: ObjectChange) -> list[str]:
    """One change as Markdown: its headline, risks and (at most ``_FIELDS_SHOWN``) fields."""
    block = [f"- `{_headline(change)}` — **{change.level}**"]
    block.extend(f"  - {r.level}: {_cell(r.reason)}" for r in change.risks)
    if change.fields:
        block += ["", "  ```diff"]
        for f in change.fields[:_FIELDS_SHOWN]:
            block.extend(_diff_lines(f.path, f.old, f.new))
        block += ["  ```", ""]
        if len(change.fields) > _FIELDS_SHOWN:
            block += [f"  ({len(change.fields) - _FIELDS_SHOWN} more fields: `--format text` lists them all)", ""]
    return block


def _markdown(diffs: Sequence[TreeDiff]) -> str:
    out: list[str] = []
    size = cut = 0
    for diff in diffs:
        out += [f"### Diff: {diff.title} — {_summary(diff)}", ""]
        if diff.kustomizations:
            out += [
                "| Kustomization | added | removed | changed | moved | risk |",
                "|---|---:|---:|---:|---:|---|",
            ]
            for kust in diff.kustomizations:
                c = kust.counts()
                level = f"**{kust.level}**" if kust.level != "change" else "change"
                out.append(
                    f"| {kust.name} | {c['added']} | {c['removed'] + c['orphaned']} | {c['changed']} | "
                    f"{c['moved']} | {level} |"
                )
            out.append("")
        for kust in diff.kustomizations:
            out += [f"<details><summary>{kust.name}: {kust.level}</summary>", ""]
            for change in sorted(kust.changes, key=_order):
                block = _change_block(change)
                if size + sum(len(line) + 1 for line in block) > _COMMENT_BUDGET:
                    cut += 1  # over budget: the headline only, then nothing
                    block = block[:1] if size + len(block[0]) < _COMMENT_BUDGET + _HEADLINES_BUDGET else []
                size += sum(len(line) + 1 for line in block)
                out += block
            while out and out[-1] == "":
                out.pop()
            out += ["", "</details>", ""]
        if diff.plan:
            out += ["Plan:", ""]
            out.extend(f"- **{p.level}**: {_cell(p.what)}: {_cell(p.reason)}" for p in diff.plan)
            out.append("")
        if diff.notes:
            out += ["<details><summary>notes</summary>", ""]
            out.extend(f"- {_cell(n)}" for n in diff.notes)
            out += ["", "</details>", ""]
    if cut:
        out.append(
            f"_{cut} change(s) shown by their headline only or not at all: the whole comment would pass "
            "GitHub's 65,536 characters; `--format text` lists every change and field._"
        )
    return "\n".join(out).rstrip() + "\n"


def render(diffs: Sequence[TreeDiff], format: str = "text") -> str:
    """Every diff in ``format`` (one of :data:`FORMATS`); JSON is a list when there are several."""
    if format == "json":
        data: Any = [d.to_dict() for d in diffs] if len(diffs) != 1 else diffs[0].to_dict()
        return json.dumps(data, indent=2, default=str) + "\n"
    if format == "markdown":
        return _markdown(diffs)
    if format == "text":
        return _text(diffs)
    raise ValueError(f"format {format!r}: one of {', '.join(FORMATS)}")
