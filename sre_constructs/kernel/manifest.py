"""Manifest: any Kubernetes object given as Python data, crossing into jsii once."""

from __future__ import annotations

import copy
import enum
import weakref
from collections.abc import Mapping
from typing import Any, TypeVar, cast

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
from .validation import check_dns_label, check_kind, check_labels, check_object_name, check_values

__all__ = [
    "Manifest",
    "PythonRendered",
    "cached_chart",
    "create_typed",
    "python_json",
    "remember_chart",
    "struct",
    "structs_unchecked_ok",
]

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

_T = TypeVar("_T")


def _unchecked_struct(cls: type[_T], values: Mapping[str, Any]) -> _T:
    obj = cls.__new__(cls)
    obj._values = {k: v for k, v in values.items() if v is not None}  # type: ignore[attr-defined]
    return obj


def structs_unchecked_ok(*samples: tuple[type[Any], Mapping[str, Any]]) -> bool:
    """Whether :func:`_unchecked_struct` gives structs equal to jsii's checked constructor for each
    ``(struct class, keyword arguments)`` sample (nested structs given as instances).

    Asked once per process, at import, by the modules that build structs with :func:`struct`.
    """
    try:
        return _UNCHECKED_OK and all(_unchecked_struct(cls, kw) == cls(**kw) for cls, kw in samples)
    except (AttributeError, TypeError):  # pragma: no cover - a jsii whose structs are built differently
        return False


def struct(cls: type[_T], checked: bool, /, **values: Any) -> _T:
    """The jsii struct ``cls(**values)``, without its runtime type checks unless ``checked``.

    For values the caller has validated (or built itself) with the declared types, nested structs
    as instances (not dicts): jsii's generated ``__init__`` would only re-check them with
    typeguard, which costs more than the rest of building a tree's Flux objects. ``checked`` is
    the caller's :func:`structs_unchecked_ok` answer negated: ``True`` when this jsii builds
    structs some other way, and then the generated constructor runs.
    """
    if checked:
        return cls(**values)
    return _unchecked_struct(cls, values)


def _register_object(scope: Construct, obj: ApiObject) -> None:
    """Note ``obj`` on its scope when the scope keeps a list of the objects made in it
    (``PlatformComponent``), so the tree writer finds a component's objects without asking jsii."""
    objects = scope.__dict__.get("_sre_objects")
    if objects is not None:
        objects.append(obj)


def remember_chart(holder: Any, chart: Chart) -> None:
    """Keep ``holder``'s chart on it, weakly.

    Objects point up at their chart, and the chart (through its components) down at them: strong
    references both ways would put every object of a tree in a reference cycle, which only
    Python's cyclic GC can free, and it does so at interpreter exit by walking every object (about
    10 ms per tree). jsii keeps every construct made in Python for the process's lifetime, charts
    included; a chart made on the Node side may lose its Python wrapper, and then
    :func:`cached_chart` answers ``None`` and callers ask jsii again.
    """
    holder.__dict__["_sre_chart"] = weakref.ref(chart)


def cached_chart(holder: Any) -> Chart | None:
    """The chart :func:`remember_chart` kept on ``holder``, or ``None``."""
    ref = holder.__dict__.get("_sre_chart")
    return ref() if ref is not None else None


def _chart_of(scope: Construct) -> Chart:
    """The chart ``scope`` is in (``Chart.of``), asked once per scope and kept on it."""
    chart = cached_chart(scope)
    if chart is None:
        chart = scope if isinstance(scope, Chart) else Chart.of(scope)
        remember_chart(scope, chart)
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


# -- typed objects (Flux) rendered in Python -------------------------------------------------

_TOKEN = "${Token["  # a cdk8s token inside a string: only cdk8s can resolve it
# (class, metadata fields, chart defaults, spec shape) -> (apiVersion, kind) once jsii's own
# rendering of an object of that shape matched the Python one; None when it did not.
_VERIFIED: dict[tuple[Any, ...], tuple[Any, Any] | None] = {}
# A jsii enum member -> its JSON value (the TypeScript enum's string, e.g. "CreateReplace" for
# CREATE_REPLACE), learnt from jsii's rendering: Python only knows the member names.
_ENUM_JSON: dict[enum.Enum, str] = {}


def _struct_json(value: Any) -> tuple[Any, Any] | None:
    """``(JSON, shape)`` of a jsii struct whose leaves are strings, booleans, integers and enums,
    as cdk8s renders it (jsii names, ``None`` dropped, empty objects dropped), enum members left
    in place; ``None`` for anything else. The shape is the nested field names with each leaf's kind."""
    if isinstance(value, bool):
        return value, "b"
    if isinstance(value, int):
        return value, "i"
    if isinstance(value, str):
        return None if _TOKEN in value else (value, "s")
    if isinstance(value, enum.Enum):
        return value, "e"
    mapping = getattr(type(value), "__jsii_name_mapping__", None)
    values = getattr(value, "_values", None)
    if not isinstance(mapping, dict) or not isinstance(values, dict) or not set(values) <= set(mapping):
        return None
    out: dict[str, Any] = {}
    shape: list[Any] = []
    for python_name, jsii_name in mapping.items():
        item = values.get(python_name)
        if item is None:
            continue
        rendered = _struct_json(item)
        if rendered is None:
            return None
        if rendered[0] == {}:
            continue
        out[jsii_name] = rendered[0]
        shape.append((jsii_name, rendered[1]))
    return out, tuple(shape)


def _fill_enums(data: Any) -> Any | None:
    """``data`` with each enum member replaced by its learnt JSON value; ``None`` if one is unknown."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            filled = _fill_enums(value)
            if filled is None:
                return None
            out[key] = filled
        return out
    if isinstance(data, enum.Enum):
        return _ENUM_JSON.get(data)
    return data


def _same(mine: Any, theirs: Any, learnt: dict[enum.Enum, str]) -> bool:
    """Strictly equal (``True`` is not ``1``), an enum member matching any string (noted in ``learnt``)."""
    if isinstance(mine, enum.Enum):
        if not isinstance(theirs, str) or learnt.setdefault(mine, theirs) != theirs:
            return False
        return _ENUM_JSON.get(mine, theirs) == theirs
    if isinstance(mine, dict):
        return (
            isinstance(theirs, dict)
            and mine.keys() == theirs.keys()
            and all(_same(v, theirs[k], learnt) for k, v in mine.items())
        )
    return type(mine) is type(theirs) and mine == theirs


def python_json(obj: ApiObject, jsii_json: Any) -> Any:
    """``obj.to_json()`` without the jsii round-trip when it is known to give the same data.

    For a typed object (a Flux HelmRelease, Kustomization, HelmRepository, ...) built by this
    library with ``{"metadata": ApiObjectMetadata, "spec": struct}`` props, kept as ``_sre_props``
    (``None`` once the cdk8s side may have changed: see :func:`guard_jsii_side`). Its metadata is
    rendered as for a :class:`Manifest`; its spec from the struct. The first object of each class
    and shape (field names, leaf kinds, metadata fields, chart labels and namespace), or with an
    enum member not met before, is rendered by jsii (``jsii_json()``) and compared; only a
    matching shape is rendered in Python after, and a mismatch leaves the shape to jsii for good.
    """
    props = obj.__dict__.get("_sre_props")
    chart = cached_chart(obj)
    defaults = _chart_defaults(chart) if props is not None and chart is not None else None
    if defaults is None:
        return jsii_json()
    values = getattr(props, "_values", None)
    if not isinstance(values, dict) or not set(values) <= {"metadata", "spec"}:
        return jsii_json()
    metadata = getattr(values.get("metadata"), "_values", None)
    spec = _struct_json(values["spec"]) if "spec" in values else ({}, ())
    if not isinstance(metadata, dict) or not _plain_metadata(metadata) or spec is None:
        return jsii_json()
    labels, namespace = defaults
    key = (type(obj), tuple(sorted(metadata)), tuple(sorted(labels.items())), namespace, spec[1])
    if _VERIFIED.get(key, ()) is None:
        return jsii_json()
    data: dict[str, Any] = {"metadata": _render_metadata(metadata, labels, namespace)}
    if spec[0]:
        data["spec"] = spec[0]
    known = _VERIFIED.get(key)
    filled = _fill_enums(data) if known is not None else None
    if known is None or filled is None:
        result = jsii_json()
        learnt: dict[enum.Enum, str] = {}
        rest = (
            {k: v for k, v in result.items() if k not in ("apiVersion", "kind")} if isinstance(result, dict) else None
        )
        if rest is not None and _same(data, rest, learnt):
            _ENUM_JSON.update(learnt)
            _VERIFIED[key] = (result.get("apiVersion"), result.get("kind"))
        else:
            _VERIFIED[key] = None
        return result
    return {"apiVersion": known[0], "kind": known[1], **filled}


def guard_jsii_side(obj: Any, name: str) -> None:
    """Called from ``__getattribute__``: once the cdk8s side of ``obj`` may change (``metadata``,
    ``add_json_patch``), :func:`python_json` leaves its rendering to cdk8s."""
    if name in _JSII_MUTATORS:
        object.__getattribute__(obj, "__dict__")["_sre_props"] = None


def create_typed(
    obj: ApiObject, props_type: type[Any], scope: Construct, id: str, props: Mapping[str, Any], *, checked: bool
) -> bool:
    """Create the jsii object of a generated Flux class as its ``__init__`` does, minus the type
    checks, and keep its props for :func:`python_json`.

    ``False`` (nothing done) when the checked constructor must run instead: ``checked`` (the
    caller's :func:`structs_unchecked_ok` answer negated), or a scope or id jsii would refuse.
    """
    if checked or not isinstance(scope, Construct) or not isinstance(id, str):
        return False
    metadata = props.get("metadata")
    if isinstance(metadata, dict):
        props = {**props, "metadata": struct(ApiObjectMetadata, False, **metadata)}
    made = struct(props_type, False, **props)
    jsii.create(obj.__class__, obj, [scope, id, made])
    obj.__dict__["_sre_props"] = made  # to_json renders from these (python_json)
    remember_chart(obj, _chart_of(scope))
    return True


class PythonRendered:
    """First base of a generated Flux class whose objects :func:`python_json` renders.

    ``to_json`` (registered with jsii as an override, so cdk8s's own synth calls it too) renders
    in Python; reaching the cdk8s side (``metadata``, ``add_json_patch``) hands the rendering
    back to jsii (:func:`guard_jsii_side`).
    """

    def __getattribute__(self, name: str) -> Any:
        guard_jsii_side(self, name)
        return super().__getattribute__(name)

    def to_json(self) -> Any:
        generated = super().to_json  # type: ignore[misc]  # the generated class's (a later base)
        return python_json(cast(ApiObject, self), generated)


def _check_annotations(where: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValidationError(where, "metadata.annotations", value, "a mapping of string keys to string values")


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
        check_kind(where, "kind", data["kind"])  # it names the object's file in the tree
        metadata = data.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise ValidationError(where, "metadata.name", metadata, "a metadata mapping with a name")
        check_object_name(where, "metadata.name", metadata["name"], colons=True)
        if "namespace" in metadata:
            check_dns_label(where, "metadata.namespace", metadata["namespace"])
        if "labels" in metadata:
            check_labels(where, "metadata.labels", metadata["labels"])
        if "annotations" in metadata:
            _check_annotations(where, metadata["annotations"])
        plain = _plain_metadata(metadata)
        if plain and _UNCHECKED_OK and isinstance(scope, Construct) and isinstance(id, str):
            # What ApiObject.__init__ does, minus the type checks done above.
            jsii.create(self.__class__, self, [scope, id, _unchecked_props(data["apiVersion"], data["kind"], metadata)])
        else:
            super().__init__(scope, id, api_version=data["apiVersion"], kind=data["kind"], metadata=metadata)
        self._body = data
        self._where = where  # for later messages, without asking jsii for the path
        _register_object(scope, self)
        # Rendered here only when cdk8s would give the same bytes (see _plain_metadata).
        if plain:
            remember_chart(self, _chart_of(scope))
        else:
            self._sre_chart = None

    def __getattribute__(self, name: str) -> Any:
        if name in _JSII_MUTATORS:  # the Node-side object may change: let cdk8s render it
            object.__setattr__(self, "_sre_chart", None)
        return super().__getattribute__(name)

    @property
    def body(self) -> dict[str, Any]:
        """A copy of the object's data."""
        return copy.deepcopy(self._body)

    def update_body(self, body: Mapping[str, Any]) -> None:
        """Replace the object's data before synthesis (its apiVersion, kind and metadata stay).

        For what only becomes known once every construct exists, such as the namespaces a policy
        must exempt.
        """
        where = self._where
        data = check_values(where, "manifest", body)
        for key in ("apiVersion", "kind", "metadata"):
            if data.get(key) != self._body.get(key):
                raise ValidationError(where, key, data.get(key), f"unchanged: {self._body.get(key)!r}")
        self._body = data

    def to_json(self) -> Any:
        chart = cached_chart(self)
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
