"""Custom resource schemas: the bundle shipped in the package, or CRD files given by the caller.

Both become the same records (one per CRD: group, kind, scope, every version with ``served`` and,
when served, its ``openAPIV3Schema`` without ``description`` fields), so the tree check says the
same thing whichever it reads, e.g. that ``external-secrets.io/v1beta1`` is defined but not
served by External Secrets v2.9.0. ``tools/gen_schemas.py`` writes the bundle with
:func:`crd_records`.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.protocols

from .model import as_dict, as_list, load_all

CRDS_ENV = "SRE_CONSTRUCTS_CRDS"
"""Environment variable naming the upstream CRD folders (``os.pathsep``-separated): the input
of ``make schemas`` (``tools/gen_schemas.py``), not of validation."""

BUNDLE_FILE = "crds.json.gz"
LOCK_FILE = "crds.lock.json"
BUNDLE_FORMAT = 1
BUNDLED = "<bundled>"
"""The schema-set key of the bundle (any other key is a tuple of CRD folders)."""

# Enough of ObjectMeta to catch mistakes in a custom resource's metadata; CRD schemas
# describe metadata as a bare object.
_OBJECT_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"},
        "namespace": {"type": "string", "maxLength": 63, "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "generateName": {"type": "string"},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "creationTimestamp": {},
        "deletionGracePeriodSeconds": {},
        "deletionTimestamp": {},
        "generation": {},
        "managedFields": {},
        "resourceVersion": {},
        "selfLink": {},
        "uid": {},
    },
}


def crd_dirs_from_env() -> list[Path]:
    """Read the CRD folders from ``SRE_CONSTRUCTS_CRDS`` (the schema generator's input).

    Returns:
        The folders named by the variable (``os.pathsep``-separated, blanks dropped);
        an empty list if it is unset or empty.
    """
    raw = os.environ.get(CRDS_ENV, "")
    return [Path(part) for part in raw.split(os.pathsep) if part.strip()]


# --------------------------------------------------------------------------- records


def strip_descriptions(node: Any) -> Any:
    """``node`` without the schema keyword ``description`` (fields named "description" stay)."""
    if isinstance(node, list):
        return [strip_descriptions(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description" and not isinstance(value, dict):
            continue  # the keyword is a string; a property named "description" maps to a schema
        if key in ("properties", "patternProperties", "definitions") and isinstance(value, dict):
            out[key] = {name: strip_descriptions(sub) for name, sub in value.items()}
        elif key in ("default", "enum", "example", "const"):
            out[key] = value  # data, not schema: kept as written
        else:
            out[key] = strip_descriptions(value)
    return out


def crd_records(documents: Iterable[Any], *, file: str, source: str) -> list[dict[str, Any]]:
    """One record per CustomResourceDefinition in ``documents`` (other documents are skipped).

    Args:
        documents: parsed YAML documents.
        file: where they come from (e.g. ``external-secrets/external-secrets.io_externalsecrets.yaml``).
        source: the upstream release that serves them (e.g. ``External Secrets v2.9.0``).

    Returns:
        ``{"group", "kind", "plural", "scope", "file", "source", "versions": [{"name", "served",
        "storage", "schema"?}]}``; ``schema`` (without descriptions) only on served versions.
    """
    records = []
    for doc in documents:
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = as_dict(doc.get("spec"))
        names = as_dict(spec.get("names"))
        versions = []
        for version in as_list(spec.get("versions")):
            version = as_dict(version)
            entry: dict[str, Any] = {
                "name": str(version.get("name")),
                "served": bool(version.get("served")),
                "storage": bool(version.get("storage")),
            }
            schema = as_dict(as_dict(version.get("schema")).get("openAPIV3Schema"))
            if entry["served"] and schema:  # an unserved version cannot be applied: its name is enough
                entry["schema"] = strip_descriptions(schema)
            versions.append(entry)
        records.append(
            {
                "group": str(spec.get("group")),
                "kind": str(names.get("kind")),
                "plural": str(names.get("plural")),
                "scope": "Cluster" if spec.get("scope") == "Cluster" else "Namespaced",
                "file": file,
                "source": source,
                "versions": versions,
            }
        )
    return records


def records_from_dirs(dirs: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Records of every CRD in .yaml/.yml files under ``dirs`` (recursively); source = the folder."""
    records = []
    for directory in dirs:
        base = Path(directory)
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                records += crd_records(
                    load_all(path), file=path.relative_to(base).as_posix(), source=f"the CRDs in {base}"
                )
    return records


def bundle_bytes(records: Sequence[Mapping[str, Any]]) -> bytes:
    """The bundle file's content: compact, key-sorted JSON, gzipped with no timestamp (deterministic)."""
    ordered = sorted(records, key=lambda r: (r["group"], r["kind"], r["file"]))
    text = json.dumps({"format": BUNDLE_FORMAT, "crds": ordered}, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def read_bundle(data: bytes) -> list[dict[str, Any]]:
    """The records of a bundle file's content."""
    parsed = json.loads(gzip.decompress(data))
    if parsed.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"schema bundle: field format is {parsed.get('format')!r}; expected {BUNDLE_FORMAT}")
    records: list[dict[str, Any]] = parsed["crds"]
    return records


def bundled_crds() -> list[dict[str, Any]]:
    """The records shipped in the package (``sre_constructs/kernel/schemas/crds.json.gz``)."""
    return read_bundle(resources.files("sre_constructs.kernel").joinpath("schemas", BUNDLE_FILE).read_bytes())


# --------------------------------------------------------------------------- index


@dataclass(frozen=True)
class CrdIndex:
    # (apiVersion, kind) -> openAPIV3Schema of a served version
    schemas: dict[tuple[str, str], dict[str, Any]]
    # (group, kind) -> (every version it defines, the versions it serves, who serves them)
    versions: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], str]]
    cluster_scoped: frozenset[tuple[str, str]]  # (group, kind) of cluster-scoped CRDs
    where: str  # "the bundled schemas" or the folders, for messages


@functools.lru_cache(maxsize=8)
def crd_index(key: str | tuple[str, ...]) -> CrdIndex:
    """Index the bundle (``key == BUNDLED``) or the CRDs under a tuple of folders, once per key."""
    records = bundled_crds() if key == BUNDLED else records_from_dirs(key)
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    versions: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...], str]] = {}
    cluster: set[tuple[str, str]] = set()
    for record in records:
        group, kind = record["group"], record["kind"]
        if record["scope"] == "Cluster":
            cluster.add((group, kind))
        for version in record["versions"]:
            if version.get("schema"):
                schemas.setdefault((f"{group}/{version['name']}", kind), version["schema"])
        versions.setdefault(
            (group, kind),
            (
                tuple(v["name"] for v in record["versions"]),
                tuple(v["name"] for v in record["versions"] if v["served"]),
                record["source"],
            ),
        )
    where = "the bundled schemas" if key == BUNDLED else f"the CRDs under {', '.join(key)}"
    return CrdIndex(schemas, versions, frozenset(cluster), where)


@functools.lru_cache(maxsize=512)
def crd_validator(key: str | tuple[str, ...], api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """Compile (once) the validator of one served CRD version; None if no CRD serves it."""
    raw = crd_index(key).schemas.get((api_version, kind))
    if raw is None:
        return None
    schema = to_jsonschema(raw, structural=True)
    properties = schema.setdefault("properties", {})
    # apiVersion/kind/metadata are implicit in every CRD; pin them and check metadata ourselves.
    properties["apiVersion"] = {"const": api_version}
    properties["kind"] = {"const": kind}
    properties["metadata"] = _OBJECT_META_SCHEMA
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema)
    return validator


def to_jsonschema(node: Any, *, structural: bool) -> Any:
    """Turn a CRD (OpenAPI v3 structural) schema into JSON Schema with Kubernetes semantics.

    ``structural`` is false inside anyOf/oneOf/allOf/not, whose branches only add
    constraints: they must not close objects (additionalProperties) or set types.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {k: to_jsonschema(v, structural=structural) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = to_jsonschema(value, structural=structural)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [to_jsonschema(v, structural=False) for v in value]
        elif key == "not":
            out[key] = to_jsonschema(value, structural=False)
        elif key in ("description", "x-kubernetes-validations", "example"):
            continue  # CEL rules cannot be evaluated here; descriptions only cost memory
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string"):
        # Often given with no `type` (or an anyOf): accept exactly integers and strings.
        out["type"] = ["integer", "string"]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        # OpenAPI 3.0 boolean form -> JSON Schema number form
        if isinstance(out.get(bound), bool) and out.pop(bound) and limit in out:
            out[bound] = out.pop(limit)
    if out.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if (
        structural
        and out.get("type") == "object"
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
        and not out.get("x-kubernetes-embedded-resource")
    ):
        # The API server prunes (and kubectl's strict field validation rejects) unknown fields.
        out["additionalProperties"] = False
    if out.get("nullable"):
        if any(k in out for k in ("allOf", "anyOf", "oneOf", "not")):
            return {"anyOf": [{"type": "null"}, out]}
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out
