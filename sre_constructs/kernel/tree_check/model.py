"""What every check shares: :class:`Finding`, the parsed tree, the YAML loader and small helpers."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

try:  # the C loader is ~10x faster on large files
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

CHECKS = ("schema", "kustomize", "listing", "flux-path", "depends-on", "source", "health-check", "yaml")
"""Every value :attr:`Finding.check` can take."""

Severity = Literal["error", "note"]
SEVERITIES: tuple[Severity, ...] = ("error", "note")
"""``error``: the tree will not apply as written. ``note``: valid kustomize/Flux, but not this library's layout."""

KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in the written tree.

    Attributes:
        file: the file, relative to the tree root (posix separators).
        check: which check found it: ``yaml`` (unparsable file, missing apiVersion/kind/name),
            ``schema`` (object vs. its Kubernetes/CRD schema, kustomization.yaml shape),
            ``kustomize`` (``kubectl kustomize`` fails), ``listing`` (what the kustomization.yaml
            files list vs. the files on disk), ``flux-path`` (Flux Kustomization spec.path),
            ``depends-on`` (dependsOn targets and cycles), ``source`` (HelmRelease chart source),
            ``health-check`` (Flux Kustomization healthChecks).
        message: names the object (kind namespace/name), the field, the value and what is expected.
        severity: ``error`` (the tree will not come up as written) or ``note`` (valid kustomize and
            Flux, but not the layout this library writes); only errors fail validation.
    """

    file: str
    check: str
    message: str
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        tag = self.check if self.is_error else f"{self.check}, note"
        return f"{self.file}: [{tag}] {self.message}"


# --------------------------------------------------------------------------- YAML


class Loader(_BaseLoader):
    """Safe loader that keeps ``=`` and timestamps as strings, like Kubernetes does."""


def _construct_str(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


# prometheus-operator CRDs hold a bare `=`, which YAML 1.1 tags as !!value.
Loader.add_constructor("tag:yaml.org,2002:value", _construct_str)
# An unquoted date would become a datetime and fail `type: string`; the API server sees a string.
Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)


def load_all(path: Path) -> list[Any]:
    """Every document of a YAML file, loaded as Kubernetes reads it."""
    with path.open(encoding="utf-8") as handle:
        return list(yaml.load_all(handle, Loader=Loader))


# --------------------------------------------------------------------------- helpers


def group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def label(obj: Mapping[str, Any], namespace: str | None = None) -> str:
    meta = as_dict(obj.get("metadata"))
    ns = namespace if namespace is not None else meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '<no kind>')} {ns}/{name}" if ns else f"{obj.get('kind', '<no kind>')} {name}"


def json_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<object>"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_object(value: Any) -> bool:
    """A Kubernetes object, as kustomize and Flux tell one: a mapping with apiVersion and kind.

    A Helm values file is a mapping too, but without them.
    """
    return isinstance(value, dict) and "apiVersion" in value and "kind" in value


@dataclass
class Doc:
    file: str  # relative to the tree root, posix
    obj: dict[str, Any]
    namespace: str | None = None  # effective namespace after kustomize/Flux overrides

    @property
    def api_version(self) -> str:
        return str(self.obj["apiVersion"])

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def spec(self) -> dict[str, Any]:
        return as_dict(self.obj.get("spec"))

    @property
    def label(self) -> str:
        return label(self.obj, self.namespace)

    def is_(self, group: str, kind: str) -> bool:
        return group_of(self.api_version) == group and self.kind == kind


@dataclass
class Tree:
    """The parsed tree and the findings the checks add to it."""

    root: Path
    docs: list[Doc] = field(default_factory=list)
    # folder (relative, "" = root) -> parsed kustomization.yaml, when it is a mapping
    kustomizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # every .yaml file (relative) -> whether it holds at least one Kubernetes object
    files: dict[str, bool] = field(default_factory=dict)
    # files that do not parse (relative) -> the parser's message
    unparsable: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add(self, file: str, check: str, message: str, severity: Severity = "error") -> None:
        self.findings.append(Finding(file, check, message, severity))

    def note(self, file: str, check: str, message: str) -> None:
        self.add(file, check, message, "note")

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def has_kustomization(self, folder: str) -> bool:
        return (self.root / folder / "kustomization.yaml").is_file()

    def flux_kustomizations(self) -> list[Doc]:
        return [d for d in self.docs if d.is_(FLUX_KUSTOMIZE_GROUP, "Kustomization")]


def flux_path_parts(path: Any) -> list[str] | None:
    """Split a Flux spec.path (relative to the repo root) into folder names.

    Returns:
        The folder names ([] for the repo root itself or a non-string), or None if the path
        climbs above the repo root.
    """
    if not isinstance(path, str):
        return []
    norm = posixpath.normpath(path.lstrip("/"))  # a leading / still means the repo root
    if norm == ".":
        return []
    if norm == ".." or norm.startswith("../"):
        return None
    return norm.split("/")
