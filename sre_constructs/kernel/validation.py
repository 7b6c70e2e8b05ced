"""Checks on user input. Each raises :class:`ValidationError` naming where, field, value and rule."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import ValidationError

__all__ = [
    "check_dns_label",
    "check_duration",
    "check_chart_version",
    "check_positive_int",
    "check_quantity",
    "check_values",
    "check_one_of",
    "duration_seconds",
    "format_minutes",
]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Go's time.ParseDuration as Flux's CRDs restrict it.
_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")
_SEMVER = r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
_VERSION = re.compile(rf"^{_SEMVER}$")
# One term of a Masterminds semver constraint, as Flux's chart.spec.version accepts it.
_PARTIAL = r"v?(\d+|[xX*])(\.(\d+|[xX*]))?(\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?"
_TERM = rf"(=|!=|>=|<=|>|<|~>|~|\^)?\s*{_PARTIAL}"
_RANGE = re.compile(rf"^\s*{_TERM}(\s*(,|\s|\|\|)\s*{_TERM})*\s*$")
_HYPHEN_RANGE = re.compile(rf"^\s*{_PARTIAL}\s+-\s+{_PARTIAL}\s*$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def check_dns_label(where: str, field: str, value: object) -> str:
    """A Kubernetes object or namespace name: a DNS-1123 label.

    Args:
        where: construct path for the message.
        field: field name for the message.
        value: the value to check.

    Returns:
        The value, unchanged.
    """
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValidationError(
            where, field, value,
            "a DNS-1123 label: at most 63 characters, lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    return value


def check_duration(where: str, field: str, value: object) -> str:
    """A Go duration string as Flux accepts it (``10m``, ``1h30m``, ``500ms``)."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ValidationError(
            where, field, value, "a Go duration such as '30s', '10m' or '1h30m' (units ms, s, m, h)"
        )
    return value


def check_chart_version(where: str, field: str, value: object) -> str:
    """A chart version: an exact semver (``1.30.3``, ``v1.21.1``) or a semver range (``>=1.2 <2``)."""
    if isinstance(value, str) and value.strip() and (
        _VERSION.match(value) or _RANGE.match(value) or _HYPHEN_RANGE.match(value)
    ):
        return value
    raise ValidationError(
        where, field, value,
        "a semantic version such as '1.30.3' or 'v1.21.1', or a range such as '>=1.30.0 <1.31.0', '~1.30' or '1.x'",
    )


def check_positive_int(where: str, field: str, value: object, *, minimum: int = 1) -> int:
    """A whole number at least ``minimum`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(where, field, value, f"a whole number >= {minimum}")
    return value


def check_quantity(where: str, field: str, value: object) -> str:
    """A Kubernetes resource quantity (``512Mi``, ``100m``, ``20Gi``)."""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValidationError(where, field, value, "a Kubernetes quantity such as '100m', '512Mi' or '20Gi'")
    return value


def check_one_of(where: str, field: str, value: object, allowed: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(where, field, value, "one of " + ", ".join(repr(a) for a in allowed))
    return value


def check_values(where: str, field: str, value: object) -> dict[str, Any]:
    """Helm values: a mapping with string keys whose leaves are JSON-serializable and finite.

    Returns:
        A plain ``dict`` deep copy, so later merges never mutate the caller's data.
    """
    if not isinstance(value, Mapping):
        raise ValidationError(where, field, value, "a mapping of Helm values (dict)")

    def walk(node: object, path: str) -> Any:
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            for key, child in node.items():
                if not isinstance(key, str):
                    raise ValidationError(where, f"{field}{path}", key, "string keys only")
                out[key] = walk(child, f"{path}.{key}")
            return out
        if isinstance(node, (list, tuple)):
            return [walk(child, f"{path}[{i}]") for i, child in enumerate(node)]
        if isinstance(node, float) and not math.isfinite(node):
            raise ValidationError(where, f"{field}{path}", node, "a finite number")
        if node is None or isinstance(node, (str, int, float, bool)):
            return node
        raise ValidationError(
            where, f"{field}{path}", node,
            "JSON-serializable data: dict, list, str, int, float, bool or None, "
            f"not {type(node).__name__}",
        )

    result = walk(value, "")
    json.dumps(result)  # belt and braces: anything walk() let through must serialize
    return result  # type: ignore[no-any-return]


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration string already checked by :func:`check_duration`."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def format_minutes(seconds: float) -> str:
    """A Go duration in whole minutes, rounded up (``930.0`` -> ``16m``)."""
    return f"{max(1, math.ceil(seconds / 60))}m"
