"""Field-level differences between two versions of one object, as paths with old -> new values.

Lists of mappings that each carry a distinct ``name`` (containers, env, ports, volumes) are matched
by name (``containers[name=app].image``), so inserting one entry does not show every later entry as
changed; other lists of equal length are compared item by item, and lists that grow or shrink are
shown whole.
"""

from __future__ import annotations

import re
from typing import Any

from .levels import ABSENT
from .model import FieldChange

__all__ = ["field_changes", "parse_quantity", "under"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# Fields the API server or Flux sets and nobody diffs.
_IGNORED = frozenset({"metadata.creationTimestamp", "metadata.resourceVersion", "metadata.generation", "status"})


def _key(path: str, key: Any) -> str:
    text = str(key)
    if _PLAIN_KEY.match(text):
        return f"{path}.{text}" if path else text
    return f"{path}[{text!r}]" if path else f"[{text!r}]"


def _named(items: list[Any]) -> dict[str, Any] | None:
    if not items or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        return None
    names = [i["name"] for i in items]
    return dict(zip(names, items, strict=True)) if len(set(names)) == len(names) else None


def _walk(path: str, old: Any, new: Any, out: list[FieldChange]) -> None:
    if old == new or path in _IGNORED:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _walk(_key(path, key), old.get(key, ABSENT), new.get(key, ABSENT), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_named, new_named = _named(old), _named(new)
        if old_named is not None and new_named is not None:
            for name in [*old_named, *(n for n in new_named if n not in old_named)]:
                _walk(f"{path}[name={name}]", old_named.get(name, ABSENT), new_named.get(name, ABSENT), out)
            return
        if len(old) == len(new):
            for index, (a, b) in enumerate(zip(old, new, strict=True)):
                _walk(f"{path}[{index}]", a, b, out)
            return
    out.append(FieldChange(path or "<object>", old, new))


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Every differing leaf (or differing list) between ``old`` and ``new``, in key order."""
    out: list[FieldChange] = []
    _walk("", old, new, out)
    return out


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it."""
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
_QUANTITY = re.compile(r"^\s*([0-9.]+)\s*([A-Za-z]*)\s*$")


def parse_quantity(value: Any) -> float | None:
    """A Kubernetes quantity (``10Gi``, ``500M``, ``1000``) in bytes/units; ``None`` if unreadable."""
    match = _QUANTITY.match(str(value))
    if match is None or match.group(2) not in _UNITS:
        return None
    try:
        return float(match.group(1)) * _UNITS[match.group(2)]
    except ValueError:
        return None
