"""Manifest: any Kubernetes object given as Python data, crossing into jsii once."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsii
from cdk8s import (
    ApiObject,
    ApiObjectMetadata,
    ApiObjectProps,
    App,
    Chart,
    ImplicitTokenResolver,
    LazyResolver,
    NumberStringUnionResolver,
)
from constructs import Construct

from .errors import ValidationError
from .paths import path_of
from .validation import check_dns_label, check_values

__all__ = ["Manifest"]

# The metadata fields cdk8s's ApiObjectMetadata accepts from Python (any other key is a TypeError
# at construction). Manifest renders these itself; ownerReferences go through cdk8s.
_STRING_FIELDS = ("name", "namespace")
_MAP_FIELDS = ("labels", "annotations")
_LIST_FIELDS = ("finalizers",)
_PLAIN_FIELDS = frozenset(_STRING_FIELDS + _MAP_FIELDS + _LIST_FIELDS)
# What `App()` installs when given no resolvers: none of them changes a plain string.
_DEFAULT_RESOLVERS = (LazyResolver, ImplicitTokenResolver, NumberStringUnionResolver)
# Attributes through which the object can change on the Node side after construction.
_JSII_MUTATORS = frozenset(("metadata", "add_json_patch"))


def _unchecked_props(api_version: str, kind: str, metadata: Mapping[str, Any]) -> ApiObjectProps:
    """``ApiObjectProps(api_version=..., kind=..., metadata=...)`` without jsii's runtime type checks.

    The checks (typeguard, run under ``__debug__``) cost about a third of a Manifest's creation;
    the caller has already checked the same types (see :func:`_plain_metadata`). The structs are
    filled the way jsii's generated ``__init__`` fills them; :data:`_UNCHECKED_OK` confirms, once
    per process, that this gives an equal struct, else the checked constructors are used.
    """
    meta = ApiObjectMetadata.__new__(ApiObjectMetadata)
    meta._values = {k: v for k, v in metadata.items() if v is not None}
    props = ApiObjectProps.__new__(ApiObjectProps)
    props._values = {"api_version": api_version, "kind": kind, "metadata": meta}
    return props


def _unchecked_props_ok() -> bool:
    sample = {"name": "n", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"c": "d"}, "finalizers": ["f"]}
    try:
        return bool(_unchecked_props("v1", "K", sample) == ApiObjectProps(api_version="v1", kind="K", metadata=sample))
    except (AttributeError, TypeError):  # pragma: no cover - a jsii whose structs are built differently
        return False


_UNCHECKED_OK = _unchecked_props_ok()


def _chart_of(scope: Construct) -> Chart:
    """The chart ``scope`` is in (``Chart.of``), asked once per scope and kept on it."""
    chart: Chart | None = scope.__dict__.get("_sre_chart")
    if chart is None:
        chart = scope if isinstance(scope, Chart) else Chart.of(scope)
        scope.__dict__["_sre_chart"] = chart
    return chart


def _chart_defaults(chart: Chart) -> tuple[dict[str, str], str | None] | None:
    """The chart's labels and namespace, which cdk8s puts into every object's metadata.

    ``None`` when the app has resolvers of its own: they may rewrite metadata, so the object is
    then rendered by cdk8s. Asked once per chart (a chart's labels and namespace are fixed).
    """
    cached = chart.__dict__.get("_sre_chart_defaults", False)
    if cached is False:
        resolvers = App.of(chart).resolvers
        if len(resolvers) == len(_DEFAULT_RESOLVERS) and all(
            type(r) is t for r, t in zip(resolvers, _DEFAULT_RESOLVERS, strict=True)
        ):
            cached = (dict(chart.labels), chart.namespace)
        else:
            cached = None
        chart.__dict__["_sre_chart_defaults"] = cached
    return cached  # type: ignore[no-any-return]


def _plain_metadata(metadata: Mapping[str, Any]) -> bool:
    """Only fields :func:`_render_metadata` renders exactly as cdk8s does, with their jsii types."""
    for key, value in metadata.items():
        if key not in _PLAIN_FIELDS:
            return False
        if value is None:
            continue
        if key in _STRING_FIELDS:
            ok = isinstance(value, str)
        elif key in _MAP_FIELDS:
            ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        else:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            return False
    return True


def _render_metadata(metadata: Mapping[str, Any], labels: Mapping[str, str], namespace: str | None) -> dict[str, Any]:
    """``ApiObject.toJson()``'s metadata, in Python.

    cdk8s (ApiObject constructor, ApiObjectMetadataDefinition.toJson, sanitizeValue): the
    namespace defaults to the chart's, the chart's labels come first and the object's own override
    them; ``null`` values, empty maps and empty lists are dropped; keys are sorted.
    """
    own_namespace = metadata.get("namespace")
    fields: dict[str, Any] = {
        "name": metadata.get("name"),
        "namespace": own_namespace if own_namespace is not None else namespace,
        "labels": {**labels, **(metadata.get("labels") or {})},
        "annotations": dict(metadata.get("annotations") or {}),
        "finalizers": list(metadata.get("finalizers") or []),
    }
    out: dict[str, Any] = {}
    for key in sorted(fields):
        value = fields[key]
        if value is None or (isinstance(value, (dict, list)) and not value):
            continue
        out[key] = {k: value[k] for k in sorted(value)} if isinstance(value, dict) else value
    return out


class Manifest(ApiObject):
    """A Kubernetes object (custom resources, NetworkPolicies, ...) from a plain mapping.

    The body stays Python data and is returned as-is on synthesis: no per-field jsii calls, and
    ``null`` values survive. Tests validate every Manifest against its CRD or core schema.

    ``to_json`` renders the object in Python, metadata included (the chart's labels and namespace
    applied as cdk8s does), without a round-trip to jsii. Once the cdk8s side of the object is
    reached (``.metadata`` or ``add_json_patch``), or the app has custom resolvers, cdk8s
    renders apiVersion, kind and metadata as before.

    Args:
        scope: parent construct (a component).
        id: construct id.
        body: the whole object: ``apiVersion``, ``kind``, ``metadata`` (with ``name``) and the rest
            (``spec``, ``data``, ...).
    """

    def __init__(self, scope: Construct, id: str, body: Mapping[str, Any]) -> None:
        where = f"{path_of(scope)}/{id}"
        data = check_values(where, "manifest", body)
        for key in ("apiVersion", "kind"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValidationError(where, key, data.get(key), "a non-empty string")
        metadata = data.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise ValidationError(where, "metadata.name", metadata, "a metadata mapping with a name")
        if "namespace" in metadata:
            check_dns_label(where, "metadata.namespace", metadata["namespace"])
        plain = _plain_metadata(metadata)
        if plain and _UNCHECKED_OK and isinstance(scope, Construct) and isinstance(id, str):
            # What ApiObject.__init__ does, minus the type checks done above.
            jsii.create(self.__class__, self, [scope, id, _unchecked_props(data["apiVersion"], data["kind"], metadata)])
        else:
            super().__init__(scope, id, api_version=data["apiVersion"], kind=data["kind"], metadata=metadata)
        self._body = data
        # Rendered here only when cdk8s would give the same bytes (see _plain_metadata).
        self._sre_chart = _chart_of(scope) if plain else None

    def __getattribute__(self, name: str) -> Any:
        if name in _JSII_MUTATORS:  # the Node-side object may change: let cdk8s render it
            object.__setattr__(self, "_sre_chart", None)
        return super().__getattribute__(name)

    @property
    def body(self) -> dict[str, Any]:
        """A copy of the object's data."""
        return copy.deepcopy(self._body)

    def to_json(self) -> Any:
        chart = self.__dict__.get("_sre_chart")
        defaults = _chart_defaults(chart) if chart is not None else None
        if defaults is not None:
            data = {
                "apiVersion": self._body["apiVersion"],
                "kind": self._body["kind"],
                "metadata": _render_metadata(self._body["metadata"], *defaults),
            }
        else:
            data = super().to_json()  # apiVersion, kind and metadata with chart labels applied
        for key, value in self._body.items():
            if key not in ("apiVersion", "kind", "metadata"):
                data[key] = value
        return data
