"""Matching the objects of two sides: same identity, moves between Kustomizations, renames.

An object keeps its identity (group, kind, namespace, name) across versions; ``apiVersion`` may
change. Of the rest, a removed and an added object of the same kind are one rename when the
identity is clear: their content is identical apart from name and namespace (exactly one candidate
each way), or they share kind and name and differ only in namespace (exactly one each).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from ..plan.source import Obj
from .fields import field_changes
from .model import ObjectChange
from .read import Identity

__all__ = ["match"]

Side = Mapping[Identity, tuple[str, Obj]]


def _change(action: str, unit: str, obj: Obj, via: str | None, old: Obj | None, new: Obj | None) -> ObjectChange:
    return ObjectChange(
        action,
        obj.kind,
        obj.group,
        obj.namespace,
        obj.name,
        unit,
        via=via,
        old_body=old.body if old is not None else None,
        new_body=new.body if new is not None else None,
    )


def _content(obj: Obj) -> str:
    """The object without its name and namespace, canonical (what a rename keeps)."""
    meta = {k: v for k, v in obj.metadata.items() if k not in ("name", "namespace")}
    return json.dumps({**obj.body, "metadata": meta}, sort_keys=True, default=str)


def _moved(old_unit: str, old: Obj, new_unit: str, new: Obj, via: str | None) -> ObjectChange:
    change = _change("moved", new_unit, new, via, old, new)
    change.old_label = old.label
    change.old_kustomization = old_unit if old_unit != new_unit else None
    change.fields = [
        f for f in field_changes(old.body, new.body) if f.path not in ("metadata.name", "metadata.namespace")
    ]
    return change


def match(old: Side, new: Side, prunes: Callable[[str], bool], via: str | None = None) -> list[ObjectChange]:
    """Every object change from ``old`` to ``new``.

    Args:
        old, new: identity -> (Kustomization, object) on each side.
        prunes: whether the old side's Kustomization of that name prunes what leaves it.
        via: the HelmRelease the objects are rendered from (``--charts``), or ``None``.
    """
    changes: list[ObjectChange] = []
    gone: dict[Identity, tuple[str, Obj]] = {}
    for key, (old_unit, old_obj) in old.items():
        found = new.get(key)
        if found is None:
            gone[key] = (old_unit, old_obj)
            continue
        new_unit, new_obj = found
        if new_unit != old_unit:
            changes.append(_moved(old_unit, old_obj, new_unit, new_obj, via))
        elif old_obj.body != new_obj.body:
            change = _change("changed", new_unit, new_obj, via, old_obj, new_obj)
            change.fields = field_changes(old_obj.body, new_obj.body)
            changes.append(change)
    fresh = {key: value for key, value in new.items() if key not in old}
    for old_key, new_key in _renames(gone, fresh):
        old_unit, old_obj = gone.pop(old_key)
        new_unit, new_obj = fresh.pop(new_key)
        changes.append(_moved(old_unit, old_obj, new_unit, new_obj, via))
    for unit, obj in gone.values():
        changes.append(_change("removed" if prunes(unit) else "orphaned", unit, obj, via, obj, None))
    for unit, obj in fresh.values():
        changes.append(_change("added", unit, obj, via, None, obj))
    return changes


def _renames(gone: Side, fresh: Side) -> list[tuple[Identity, Identity]]:
    pairs: list[tuple[Identity, Identity]] = []
    if not gone or not fresh:
        return pairs
    by_kind: dict[tuple[str, str], tuple[list[Identity], list[Identity]]] = defaultdict(lambda: ([], []))
    for key in gone:
        by_kind[key[:2]][0].append(key)
    for key in fresh:
        by_kind[key[:2]][1].append(key)
    for removed, added in by_kind.values():
        if not removed or not added:
            continue
        for keyer in (lambda k, o: _content(o), lambda k, o: k[3]):
            used = {k for pair in pairs for k in pair}
            pairs += _unique_pairs(
                [k for k in removed if k not in used], [k for k in added if k not in used], gone, fresh, keyer
            )
    return pairs


def _unique_pairs(
    removed: list[Identity],
    added: list[Identity],
    gone: Side,
    fresh: Side,
    keyer: Callable[[Identity, Obj], Any],
) -> list[tuple[Identity, Identity]]:
    """Pairs whose key is shared by exactly one removed and one added object."""
    left: dict[Any, list[Identity]] = defaultdict(list)
    right: dict[Any, list[Identity]] = defaultdict(list)
    for key in removed:
        left[keyer(key, gone[key][1])].append(key)
    for key in added:
        right[keyer(key, fresh[key][1])].append(key)
    return [(left[k][0], right[k][0]) for k in left if len(left[k]) == 1 and len(right.get(k, ())) == 1]
