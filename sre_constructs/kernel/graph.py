"""The dependsOn graph: stable topological order and cycle reporting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import ValidationError

if TYPE_CHECKING:
    from .component import PlatformComponent

__all__ = ["dependency_order", "find_cycle"]


def find_cycle(components: Sequence[PlatformComponent]) -> list[str] | None:
    """A dependency cycle among ``components`` as names (``[a, b, a]``), or ``None``."""
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    stack: list[PlatformComponent] = []

    def visit(node: PlatformComponent) -> list[str] | None:
        state[id(node)] = 1
        stack.append(node)
        for dep in node.dependencies:
            mark = state.get(id(dep))
            if mark == 1:
                start = next(i for i, c in enumerate(stack) if c is dep)
                return [c.name for c in stack[start:]] + [dep.name]
            if mark is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[id(node)] = 2
        return None

    for component in components:
        if id(component) not in state:
            cycle = visit(component)
            if cycle:
                return cycle
    return None


def dependency_order(components: Sequence[PlatformComponent], *, where: str) -> list[PlatformComponent]:
    """Order components so every dependency comes first; ties keep the given order (Kahn's algorithm).

    Args:
        components: the components of one tree.
        where: construct path for error messages.

    Raises:
        ValidationError: on a cycle (named in the message).
    """
    members = {id(c) for c in components}
    remaining = {id(c): sum(1 for d in c.dependencies if id(d) in members) for c in components}
    dependents: dict[int, list[PlatformComponent]] = {id(c): [] for c in components}
    for component in components:
        for dep in component.dependencies:
            if id(dep) in members:
                dependents[id(dep)].append(component)
    position = {id(c): i for i, c in enumerate(components)}
    ready = [c for c in components if remaining[id(c)] == 0]
    ordered: list[PlatformComponent] = []
    while ready:
        ready.sort(key=lambda c: position[id(c)])
        current = ready.pop(0)
        ordered.append(current)
        for child in dependents[id(current)]:
            remaining[id(child)] -= 1
            if remaining[id(child)] == 0:
                ready.append(child)
    if len(ordered) != len(components):
        cycle = find_cycle(components) or []
        raise ValidationError(
            where, "dependsOn", " -> ".join(cycle), "an acyclic dependency graph; this cycle must be broken"
        )
    return ordered
