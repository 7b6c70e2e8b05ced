"""Helm values helpers."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

__all__ = ["deep_merge", "get_path", "set_path"]


def deep_merge(base: Mapping[str, Any], *overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Merge mappings recursively; later ones win. Lists and scalars are replaced, not merged.

    This is Helm's own rule for ``-f a.yaml -f b.yaml``, so users can predict the result.

    Args:
        base: the defaults.
        *overrides: applied in order.

    Returns:
        A new dict; the inputs are not modified.
    """
    result: dict[str, Any] = copy.deepcopy(dict(base))
    for override in overrides:
        for key, value in override.items():
            current = result.get(key)
            if isinstance(current, Mapping) and isinstance(value, Mapping):
                result[key] = deep_merge(current, value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``values["a"]["b"]["c"] = value`` for ``dotted="a.b.c"``, creating mappings on the way."""
    node = values
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def get_path(values: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``values["a"]["b"]["c"]`` for ``dotted="a.b.c"``, or ``default`` where the path is not there."""
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node
