"""The diff as data: field changes, object changes with their risks, per Flux Kustomization."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .levels import ACTIONS, FAIL_ON, LEVELS

__all__ = [
    "ACTIONS",
    "FAIL_ON",
    "LEVELS",
    "FieldChange",
    "KustomizationDiff",
    "ObjectChange",
    "PlanChange",
    "Risk",
    "TreeDiff",
    "at_or_above",
    "worst",
]


def worst(levels: Any) -> str | None:
    """The worst of ``levels`` (``None`` when empty)."""
    found = set(levels)
    return next((level for level in LEVELS if level in found), None)


def at_or_above(level: str | None, fail_on: str) -> bool:
    """Whether a change of ``level`` fails ``--fail-on fail_on``."""
    if level is None or fail_on == "none":
        return False
    if fail_on == "any":
        return True
    return LEVELS.index(level) <= LEVELS.index(fail_on)


def _counts(changes: list[ObjectChange]) -> dict[str, int]:
    found = Counter(c.action for c in changes)
    return {action: found.get(action, 0) for action in ACTIONS}


@dataclass(frozen=True)
class FieldChange:
    """One field path of one object: ``old`` -> ``new`` (:data:`ABSENT` where the field is not set)."""

    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON data."""
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Risk:
    """A risk level and why this change has it."""

    level: str
    reason: str


@dataclass
class ObjectChange:
    """One object added, removed, changed or moved by a Flux Kustomization.

    Attributes:
        action: one of :data:`ACTIONS`.
        kind, group, namespace, name: the object (its new identity for a move).
        kustomization: the Flux Kustomization applying it (``namespace/name``; ``<path>`` for a tree root).
        old_label: for a move, the old ``Kind namespace/name``; ``None`` otherwise.
        old_kustomization: for a move, the Kustomization that applied it before.
        via: ``HelmRelease namespace/name`` for objects rendered from a chart (``--charts``).
        fields: the field paths that changed (for ``changed`` and ``moved``).
        risks: every risk found, with its reason.
        old_body, new_body: the object as it was and as it will be (``None`` on the side it is absent).
    """

    action: str
    kind: str
    group: str
    namespace: str
    name: str
    kustomization: str
    old_label: str | None = None
    old_kustomization: str | None = None
    via: str | None = None
    fields: list[FieldChange] = field(default_factory=list)
    risks: list[Risk] = field(default_factory=list)
    old_body: dict[str, Any] | None = field(default=None, repr=False)
    new_body: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """``Kind namespace/name`` (``Kind name`` for a cluster-scoped object)."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def level(self) -> str:
        """The worst of its risks (``change`` when it has none)."""
        return worst(r.level for r in self.risks) or "change"

    def risk(self, level: str, reason: str) -> None:
        """Add a risk (once)."""
        if Risk(level, reason) not in self.risks:
            self.risks.append(Risk(level, reason))

    def to_dict(self) -> dict[str, Any]:
        """The change as JSON data."""
        return {
            "action": self.action,
            "object": self.label,
            "kind": self.kind,
            "group": self.group,
            "namespace": self.namespace,
            "name": self.name,
            "kustomization": self.kustomization,
            "old_object": self.old_label,
            "old_kustomization": self.old_kustomization,
            "via": self.via,
            "level": self.level,
            "risks": [{"level": r.level, "reason": r.reason} for r in self.risks],
            "fields": [f.to_dict() for f in self.fields],
        }


@dataclass
class KustomizationDiff:
    """What changes in what one Flux Kustomization applies."""

    name: str
    changes: list[ObjectChange] = field(default_factory=list)

    @property
    def level(self) -> str | None:
        """The worst risk of its changes (``None``: no changes)."""
        return worst(c.level for c in self.changes)

    def counts(self) -> dict[str, int]:
        """How many objects each action (:data:`ACTIONS`) touches."""
        return _counts(self.changes)


@dataclass(frozen=True)
class PlanChange:
    """A difference in the bring-up plan: a blocker NEW has and OLD did not, or a new manual step."""

    level: str
    what: str
    reason: str


@dataclass
class TreeDiff:
    """The difference between two states of one cluster's Flux trees.

    Attributes:
        title: what is compared (a cluster, or two folders).
        kustomizations: per Flux Kustomization with a change, sorted by name.
        plan: new blockers and manual steps of the bring-up plan.
        notes: what the diff could not read or compare.
    """

    title: str
    kustomizations: list[KustomizationDiff] = field(default_factory=list)
    plan: list[PlanChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> list[ObjectChange]:
        """Every object change, Kustomization by Kustomization."""
        return [c for k in self.kustomizations for c in k.changes]

    @property
    def level(self) -> str | None:
        """The worst risk of every change (``None``: no changes)."""
        return worst([c.level for c in self.changes] + [p.level for p in self.plan])

    @property
    def empty(self) -> bool:
        """Nothing changes: no object, nothing in the plan."""
        return not self.changes and not self.plan

    def fails(self, fail_on: str = "blocking") -> bool:
        """Whether anything at or above ``fail_on`` (see :data:`FAIL_ON`) changed."""
        return at_or_above(self.level, fail_on)

    def counts(self) -> dict[str, int]:
        """How many objects each action (:data:`ACTIONS`) touches, over every Kustomization."""
        return _counts(self.changes)

    def to_dict(self) -> dict[str, Any]:
        """The diff as JSON data (``--format json``)."""
        return {
            "title": self.title,
            "level": self.level,
            "counts": self.counts(),
            "kustomizations": [
                {"name": k.name, "level": k.level, "counts": k.counts(), "changes": [c.to_dict() for c in k.changes]}
                for k in self.kustomizations
            ],
            "plan": [{"level": p.level, "what": p.what, "reason": p.reason} for p in self.plan],
            "notes": self.notes,
        }

    def render(self, format: str = "text") -> str:
        """The diff as ``text``, ``markdown`` or ``json``."""
        from .render import render

        return render([self], format)
