"""Check every object against its schema: core kinds with kubernetes-validate, custom resources
with the CRD schemas (bundled, or the caller's CRD folders)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
import jsonschema.protocols
import kubernetes_validate
from jsonschema.exceptions import best_match
from kubernetes_validate import utils as _kv
from referencing import Registry, Resource

from .crds import BUNDLED, crd_index, crd_validator
from .model import Tree, group_of, json_path

KUBERNETES_VERSION = "1.33"
"""Kubernetes version whose schemas (from ``kubernetes-validate``) check the core kinds."""

_MAX_SCHEMA_ERRORS = 10  # per object: enough to fix, short enough to read


def check_schemas(tree: Tree, crd_key: str | tuple[str, ...] | None) -> None:
    """Core kinds via kubernetes-validate, custom resources via the CRDs (``crd_key`` None: skipped)."""
    for doc in tree.docs:
        group = group_of(doc.api_version)
        if group == "" or "." not in group or group.endswith(".k8s.io"):
            outcome = _validate_core(doc.obj)
            if outcome is not None:
                for msg in outcome:
                    tree.add(doc.file, "schema", f"{doc.label}: {msg}")
                continue
            if "." not in group:  # core/apps/batch/...: no CRD can define these
                tree.add(
                    doc.file,
                    "schema",
                    f"{doc.label}: no schema for apiVersion {doc.api_version!r} kind {doc.kind!r} "
                    f"in Kubernetes {KUBERNETES_VERSION}; expected a built-in kind",
                )
                continue
        if crd_key is None:
            continue  # custom resources are not checked at all
        validator = crd_validator(crd_key, doc.api_version, doc.kind)
        if validator is None and group in _OPTIONAL_FLUX_GROUPS and crd_key == BUNDLED:
            tree.note(
                doc.file,
                "schema",
                f"{doc.label}: {group} is an optional Flux controller's API, without a bundled schema; "
                "not checked (pass --crds with its CRDs to check it)",
            )
            continue
        if validator is None:
            tree.add(doc.file, "schema", f"{doc.label}: {_unserved(crd_key, group, doc.api_version, doc.kind)}")
            continue
        for msg in _schema_errors(validator, doc.obj):
            tree.add(doc.file, "schema", f"{doc.label}: {msg}")


# APIs of Flux's optional controllers (source-watcher), installed only when asked for.
_OPTIONAL_FLUX_GROUPS = frozenset({"source.extensions.fluxcd.io"})


def _unserved(crd_key: str | tuple[str, ...], group: str, api_version: str, kind: str) -> str:
    """Why no schema serves ``api_version``/``kind``: an unserved version, or no CRD at all."""
    index = crd_index(crd_key)
    known = index.versions.get((group, kind))
    if known is None:
        return f"no schema for apiVersion {api_version!r} kind {kind!r} in {index.where}; expected a served CRD version"
    defined, served, source = known
    version = api_version.rpartition("/")[2]
    state = "is defined but not served" if version in defined else "is not defined"
    allowed = [f"{group}/{v}" for v in served]
    return f"apiVersion {api_version!r} of kind {kind!r} {state} by {source}; expected one of {allowed}"


# --------------------------------------------------------------------------- core kinds


def _validate_core(obj: dict[str, Any]) -> list[str] | None:
    """Validate a built-in kind with kubernetes-validate (strict).

    Returns:
        The error messages (empty = valid), or None if kubernetes-validate has no schema for
        this apiVersion/kind (so it may be a custom resource in a *.k8s.io group).
    """
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return _validate_core_uncached(obj)
    validator = _core_validator(api_version, kind)
    if validator is None:
        return None
    try:
        validator.validate(obj)  # what kubernetes_validate.validate does, minus the schema loads
    except jsonschema.ValidationError as exc:
        return _core_error(exc)
    return []


def _validate_core_uncached(obj: dict[str, Any]) -> list[str] | None:
    """kubernetes_validate.validate itself (for objects without a string apiVersion and kind)."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError as exc:
        return _core_error(exc)
    return []


def _core_error(exc: jsonschema.ValidationError) -> list[str] | None:
    path = list(exc.path)
    if path == ["apiVersion"] and exc.validator == "enum":
        # Its file lookup drops the group's domain (x.k8s.io -> x): a different group matched.
        return None
    value = exc.instance if not isinstance(exc.instance, (dict, list)) else None
    shown = f" (value {value!r})" if value is not None else ""
    return [f"field {json_path(path)}{shown}: {exc.message} (Kubernetes {KUBERNETES_VERSION} schema)"]


@functools.lru_cache(maxsize=1)
def _core_schema_dir() -> tuple[str, str]:
    """kubernetes-validate's schema folder for KUBERNETES_VERSION (strict), as its validate() picks it."""
    wanted = _kv.major_minor(KUBERNETES_VERSION)
    if wanted > _kv.latest_version():
        raise _kv.VersionNotSupportedError(version=wanted)
    version = [v for v in _kv.all_versions() if _kv.major_minor(v) <= wanted][-1]
    return f"v{version}-local-strict", version


@functools.lru_cache(maxsize=1)
def _core_definitions() -> Any:
    """The 1.4 MB ``_definitions.json`` every core schema refers to: parsed once per process."""
    schema_dir, _ = _core_schema_dir()
    return _kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", KUBERNETES_VERSION)


@functools.lru_cache(maxsize=256)
def _core_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """The validator kubernetes_validate.validate(strict=True) builds for this apiVersion and kind,
    built once (None when it has no schema for them)."""
    schema_dir, _ = _core_schema_dir()
    file_api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = _kv.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{file_api}.json", KUBERNETES_VERSION
        )
    except FileNotFoundError:
        return None
    registry: Any = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_core_definitions()) @ registry
    validator: jsonschema.protocols.Validator = jsonschema.validators.Draft202012Validator(schema, registry=registry)
    return validator


def _schema_errors(validator: jsonschema.protocols.Validator, obj: Mapping[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    messages = []
    for error in errors[:_MAX_SCHEMA_ERRORS]:
        message = error.message
        if error.context:  # anyOf/oneOf: the closest branch says more than "not valid under any"
            message += f" (closest: {best_match(error.context).message})"
        value = error.instance if not isinstance(error.instance, (dict, list)) else None
        shown = f" (value {value!r})" if value is not None else ""
        messages.append(f"field {json_path(error.absolute_path)}{shown}: {message}")
    if len(errors) > _MAX_SCHEMA_ERRORS:
        messages.append(f"... and {len(errors) - _MAX_SCHEMA_ERRORS} more schema error(s)")
    return messages
