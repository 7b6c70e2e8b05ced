"""Checks on user input. Each raises :class:`ValidationError` naming where, field, value and rule."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from .errors import ValidationError

__all__ = [
    "check_bool",
    "check_chart_version",
    "check_dns_label",
    "check_domain",
    "check_duration",
    "check_kind",
    "check_labels",
    "check_object_name",
    "check_one_of",
    "check_positive_int",
    "check_prometheus_duration",
    "check_quantity",
    "check_repository_url",
    "check_resources",
    "check_storage_class",
    "check_values",
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
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
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
    if not isinstance(value, str) or len(value) > 63 or not _DNS_LABEL.fullmatch(value):
        raise ValidationError(
            where,
            field,
            value,
            "a DNS-1123 label: at most 63 characters, lower-case letters, digits and '-', "
            "starting and ending with a letter or digit",
        )
    return value


def check_bool(where: str, field: str, value: object) -> bool:
    """``True`` or ``False``; truthy strings such as ``"yes"`` or ``"false"`` are refused."""
    if not isinstance(value, bool):
        raise ValidationError(where, field, value, "True or False")
    return value


def _label_key_ok(key: object) -> bool:
    if not isinstance(key, str):
        return False
    prefix, slash, name = key.rpartition("/")
    if slash and not (0 < len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


def check_labels(where: str, field: str, value: object) -> dict[str, str]:
    """Kubernetes labels: a mapping of label keys (``[prefix/]name``) to label values (strings).

    Returns:
        A plain ``dict`` copy.
    """
    if not isinstance(value, Mapping):
        raise ValidationError(where, field, value, "a mapping of label names to string values, such as {'team': 'sre'}")
    result: dict[str, str] = {}
    for key, item in value.items():
        if not _label_key_ok(key):
            raise ValidationError(
                where,
                f"{field} key",
                key,
                "a label key: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, "
                "'-', '_' or '.', starting and ending with a letter or digit",
            )
        if not isinstance(item, str) or not (item == "" or (len(item) <= 63 and _LABEL_NAME.fullmatch(item))):
            raise ValidationError(
                where,
                f"{field}.{key}",
                item,
                "a label value: a string of at most 63 letters, digits, '-', '_' or '.', starting and ending "
                "with a letter or digit (or empty)",
            )
        result[str.__str__(key)] = str.__str__(item)
    return result


def check_duration(where: str, field: str, value: object) -> str:
    """A Go duration string as Flux accepts it (``10m``, ``1h30m``, ``500ms``)."""
    if not isinstance(value, str) or not _DURATION.fullmatch(value):
        raise ValidationError(where, field, value, "a Go duration such as '30s', '10m' or '1h30m' (units ms, s, m, h)")
    return value


def check_chart_version(where: str, field: str, value: object) -> str:
    """A chart version: an exact semver (``1.30.3``, ``v1.21.1``) or a semver range (``>=1.2 <2``)."""
    if (
        isinstance(value, str)
        and value.strip()
        and (_VERSION.fullmatch(value) or _RANGE.fullmatch(value) or _HYPHEN_RANGE.fullmatch(value))
    ):
        return value
    raise ValidationError(
        where,
        field,
        value,
        "a semantic version such as '1.30.3' or 'v1.21.1', or a range such as '>=1.30.0 <1.31.0', '~1.30' or '1.x'",
    )


def check_positive_int(where: str, field: str, value: object, *, minimum: int = 1) -> int:
    """A whole number at least ``minimum`` (booleans are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationError(where, field, value, f"a whole number >= {minimum}")
    return value


def check_quantity(where: str, field: str, value: object) -> str:
    """A Kubernetes resource quantity (``512Mi``, ``100m``, ``20Gi``)."""
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
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

    on_path: set[int] = set()  # containers above the current node: a cycle would never end
    trail: list[str | int] = []  # keys and indexes down to the current node, for messages only

    def fail(value: object, allowed: str) -> NoReturn:
        path = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in trail)
        raise ValidationError(where, f"{field}{path}", value, allowed)

    def walk(node: object) -> Any:
        kind = type(node)
        # Exact plain types first (almost every leaf); subclasses become the plain type below,
        # as YAML's safe dumper refuses them (enums, numpy scalars, ...).
        if kind is str or kind is bool or kind is int or node is None:
            return node
        if kind is float:
            return node if math.isfinite(node) else fail(node, "a finite number")  # type: ignore[arg-type]
        if isinstance(node, (Mapping, list, tuple)):
            if id(node) in on_path:
                fail("<the same container again>", "a tree of data: a dict or list must not contain itself")
            on_path.add(id(node))
            try:
                if isinstance(node, Mapping):
                    out: dict[str, Any] = {}
                    for key, child in node.items():
                        if not isinstance(key, str):
                            fail(key, f"string keys only, not {type(key).__name__}")
                        trail.append(key)
                        out[str.__str__(key)] = walk(child)
                        trail.pop()
                    return out
                items = []
                for index, child in enumerate(node):
                    trail.append(index)
                    items.append(walk(child))
                    trail.pop()
                return items
            finally:
                on_path.discard(id(node))
        if isinstance(node, str):
            return str.__str__(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node) if math.isfinite(node) else fail(node, "a finite number")
        fail(node, f"JSON-serializable data: dict, list, str, int, float, bool or None, not {type(node).__name__}")

    # What walk() lets through (plain dicts, lists, strings, finite numbers, booleans, None) is
    # JSON by construction: no json.dumps round to confirm it.
    result = walk(value)
    return result  # type: ignore[no-any-return]


_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def duration_seconds(value: str) -> float:
    """Seconds in a duration already checked by :func:`check_duration` (Go) or
    :func:`check_prometheus_duration` (Prometheus: also ``d``, ``w``, ``y``)."""
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(value))


def format_minutes(seconds: float) -> str:
    """A Go duration in whole minutes, rounded up (``930.0`` -> ``16m``)."""
    return f"{max(1, math.ceil(seconds / 60))}m"


# Prometheus' model.Duration as the monitoring.coreos.com CRDs restrict it (``15d``, ``12h``, ``1w2d``).
_PROM_DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_NON_ZERO = re.compile(r"[1-9]")


def check_prometheus_duration(where: str, field: str, value: object) -> str:
    """A non-zero Prometheus/Loki duration (``15d``, ``30d``, ``12h``, ``744h``, ``1w``); Go's ``1h30m`` style too.

    Args:
        where: construct path for the message.
        field: knob name for the message.
        value: the value to check.

    Returns:
        The value, unchanged.
    """
    # The pattern also matches "", "0" and all-zero terms ("0d", "0s0ms"): a digit 1-9 makes it non-zero.
    if not isinstance(value, str) or not _PROM_DURATION.fullmatch(value) or not _NON_ZERO.search(value):
        raise ValidationError(
            where,
            field,
            value,
            "a non-zero Prometheus duration such as '15d', '30d', '12h' or '744h' (units y, w, d, h, m, s, ms, "
            "largest first)",
        )
    return value


def check_storage_class(where: str, field: str, value: object) -> str | None:
    """A StorageClass name (DNS-1123 subdomain), or ``None`` for the cluster default.

    Returns:
        The value, unchanged.
    """
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 253 or not _DNS_SUBDOMAIN.fullmatch(value):
        raise ValidationError(
            where, field, value, "a StorageClass name (DNS-1123 subdomain, e.g. 'gp3') or None for the default class"
        )
    return value


def check_resources(where: str, field: str, value: object) -> dict[str, Any]:
    """A container ``resources`` override: ``requests``/``limits`` maps of quantities.

    Returns:
        A plain-dict copy.
    """
    if not isinstance(value, Mapping) or not set(value) <= {"requests", "limits"}:
        raise ValidationError(where, field, value, "a mapping with 'requests' and/or 'limits'")
    for section, amounts in value.items():
        if not isinstance(amounts, Mapping):
            raise ValidationError(where, f"{field}.{section}", amounts, "a mapping such as {'cpu': '100m'}")
        for name, amount in amounts.items():
            check_quantity(where, f"{field}.{section}.{name}", amount)
    return check_values(where, field, value)


_DOMAIN = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+")


def check_domain(where: str, field: str, value: object) -> str:
    """A lower-case DNS name with at least two labels (``lab.example.com``)."""
    if not isinstance(value, str) or not _DOMAIN.fullmatch(value):
        raise ValidationError(where, field, value, "a lower-case DNS name such as 'lab.example.com'")
    return value


_REPOSITORY_URL = re.compile(r"(https?|oci)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?")


def check_repository_url(where: str, field: str, value: object) -> str:
    """A chart repository URL: ``https://`` (or ``http://``) for an index, ``oci://`` for a registry."""
    if not isinstance(value, str) or not _REPOSITORY_URL.fullmatch(value):
        raise ValidationError(
            where,
            field,
            value,
            "a chart repository URL such as 'https://charts.example.com' or 'oci://ghcr.io/org/charts'",
        )
    return value


_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_OBJECT_NAME = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_OBJECT_NAME_WITH_COLONS = re.compile(r"(?=.{1,253}\Z)[a-z0-9]([-a-z0-9.:]*[a-z0-9])?")


def check_kind(where: str, field: str, value: object) -> str:
    """A Kubernetes kind: letters and digits (it also names the object's file in a tree)."""
    if not isinstance(value, str) or not _KIND.fullmatch(value):
        raise ValidationError(where, field, value, "a Kubernetes kind: letters and digits, such as 'ConfigMap'")
    return value


def check_object_name(where: str, field: str, value: object, *, colons: bool = False) -> str:
    """A Kubernetes object name: a DNS-1123 subdomain (``colons``: also ``:``, as RBAC names use)."""
    pattern = _OBJECT_NAME_WITH_COLONS if colons else _OBJECT_NAME
    if not isinstance(value, str) or not pattern.fullmatch(value):
        extra = ", '.' or ':'" if colons else " or '.'"
        raise ValidationError(
            where,
            field,
            value,
            f"a Kubernetes object name: at most 253 lower-case letters, digits, '-'{extra}, "
            "starting and ending with a letter or digit",
        )
    return value
