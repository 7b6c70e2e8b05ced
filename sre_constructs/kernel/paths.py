"""Construct paths, cached on the Python side: a path never changes once the construct exists.

Every ``construct.node.path`` costs two jsii round-trips (``node``, then ``path``); these helpers
ask once per construct, or not at all when the path follows from the parent's.
"""

from __future__ import annotations

from constructs import Construct

from .errors import ValidationError

__all__ = ["check_scope_id", "child_path", "path_of", "remember_path"]


def check_scope_id(scope: object, id: object) -> None:
    """A construct's ``scope`` and ``id``, checked before jsii sees them."""
    if not isinstance(scope, Construct):
        raise ValidationError(repr(id), "scope", scope, "a construct (an App, a Chart or a construct inside one)")
    if not isinstance(id, str) or not id or "/" in id:
        raise ValidationError(path_of(scope) or "<app>", "id", id, "a non-empty construct id without '/'")


def path_of(construct: Construct) -> str:
    """``construct.node.path``, asking jsii once per construct instead of twice per call."""
    cached: str | None = construct.__dict__.get("_sre_path")
    if cached is None:
        cached = construct.node.path
        construct.__dict__["_sre_path"] = cached
    return cached


def child_path(scope: Construct, id: str) -> str:
    """The path a construct ``id`` created in ``scope`` has (or will have), for messages and caching.

    As constructs computes it: the ids from the root down joined by ``/``, the root's empty id
    left out. Only meaningful for an ``id`` without ``/`` (constructs would rewrite it to ``--``).
    """
    check_scope_id(scope, id)
    parent = path_of(scope)
    return f"{parent}/{id}" if parent else id


def remember_path(construct: Construct, scope: Construct, id: str) -> None:
    """Cache the path of ``construct``, just created as ``id`` in ``scope``, without asking jsii."""
    if isinstance(id, str) and id and "/" not in id:
        construct.__dict__["_sre_path"] = child_path(scope, id)
