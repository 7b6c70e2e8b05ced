"""The plan's results as data: blockers, how each Flux Kustomization fared, Flux's apply stages."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kernel.facts import ManualStep
from .source import Obj, Unit

__all__ = ["STAGES", "Blocker", "Outcome", "UnitOutcome", "stage_of"]


@dataclass(frozen=True, order=True)
class Blocker:
    """Something that keeps the tree from coming up (or makes it come up only by luck).

    Attributes:
        unit: the Flux Kustomization (``namespace/name``) it concerns.
        obj: the object (``Kind namespace/name``).
        need: the need in words.
        provider: what would provide it, and why that does not help; or that nothing does.
        kind: ``blocked`` (never Ready), ``order`` (needs something it does not depend on),
            ``collision`` (an object applied by two Kustomizations), ``admission`` (a pod refused).
    """

    unit: str
    obj: str
    need: str
    provider: str
    kind: str = "blocked"

    def __str__(self) -> str:
        return f"{self.unit}: {self.obj} needs {self.need}; {self.provider}"


@dataclass
class UnitOutcome:
    """How one unit fared."""

    unit: Unit
    wave: int
    stages: list[list[Obj]]
    ready_round: int | None = None
    failure: str | None = None
    waits_for: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """The result of a simulation."""

    units: list[UnitOutcome]
    blockers: list[Blocker]
    manual: list[tuple[ManualStep, str]]
    notes: list[str]
    checked_pods: bool


STAGES = ("definitions", "classes", "rest")
"""Flux's apply stages, in order: CRDs, Namespaces and ClusterRoles; ``*Class`` kinds; the rest."""


def stage_of(obj: Obj) -> int:
    """Flux's apply stage of an object: 0 definitions, 1 classes, 2 the rest."""
    if (obj.group, obj.kind) in (
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("", "Namespace"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
    ):
        return 0
    if obj.kind.endswith("Class"):
        return 1
    return 2
