"""Construct paths, cached on the Python side: a path never changes once the construct exists.

Every ``construct.node.path`` costs two jsii round-trips (``node``, then ``path``); these helpers
ask once per construct, or not at all when the path follows from the parent's.
"""

from __future__ import annotations

from constructs import Construct

__all__ = ["child_path", "path_of", "remember_path"]


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
    parent = path_of(scope)
    return f"{parent}/{id}" if parent else id


def remember_path(construct: Construct, scope: Construct, id: str) -> None:
    """Cache the path of ``construct``, just created as ``id`` in ``scope``, without asking jsii."""
    if isinstance(id, str) and id and "/" not in id:
        construct.__dict__["_sre_path"] = child_path(scope, id)
