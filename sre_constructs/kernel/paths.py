"""Construct paths, cached on the Python side: a path never changes once the construct exists."""

from __future__ import annotations

from constructs import Construct

__all__ = ["path_of"]


def path_of(construct: Construct) -> str:
    """``construct.node.path``, asking jsii once per construct instead of twice per call."""
    cached: str | None = construct.__dict__.get("_sre_path")
    if cached is None:
        cached = construct.node.path
        construct.__dict__["_sre_path"] = cached
    return cached
