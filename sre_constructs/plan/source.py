"""Reading a Flux repository: the objects each Flux Kustomization applies.

A repository is a set of files (on disk, or rendered in memory by the library). Flux applies a
Kustomization's ``spec.path`` the way kustomize builds it: the folder's ``kustomization.yaml``
(its ``resources``, recursively, and its ``namespace``), or, without one, every Kubernetes
manifest below the folder (kustomize-controller generates that kustomization itself). What this
reader cannot follow (generators, patches, remote bases, Helm charts inflated by kustomize) is
reported as a note rather than guessed at.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# One YAML reading and one group rule for the validator and the plan.
from ..kernel.tree_check.model import Loader, group_of

__all__ = ["BOOTSTRAP_SOURCES", "Files", "Loader", "Obj", "Unit", "build", "cluster_scoped_guess", "group_of"]

_KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_MANIFEST_SUFFIXES = (".yaml", ".yml")  # what Flux's generated kustomization takes
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
BOOTSTRAP_SOURCES = ("flux-system",)
"""The sources ``flux bootstrap`` creates (in ``flux-system``): they serve the repository being planned."""


class Files:
    """A repository's files by posix path relative to its root: a folder on disk or a mapping."""

    def __init__(self, root: Path | None = None, files: Mapping[str, bytes] | None = None) -> None:
        self.root = root
        self._files = dict(files) if files is not None else None

    def _norm(self, path: str) -> str:
        return posixpath.normpath(path.lstrip("/")) if path not in ("", ".", "./") else "."

    def is_file(self, path: str) -> bool:
        path = self._norm(path)
        if self._files is not None:
            return path in self._files
        return self.root is not None and (self.root / path).is_file()

    def is_dir(self, path: str) -> bool:
        path = self._norm(path)
        if self._files is not None:
            prefix = "" if path == "." else path + "/"
            return any(name.startswith(prefix) for name in self._files)
        return self.root is not None and (self.root / path).is_dir()

    def read(self, path: str) -> bytes:
        path = self._norm(path)
        if self._files is not None:
            return self._files[path]
        assert self.root is not None
        return (self.root / path).read_bytes()

    def walk(self, folder: str) -> list[str]:
        """Every file below ``folder``, sorted (symlinks are not followed)."""
        folder = self._norm(folder)
        if self._files is not None:
            prefix = "" if folder == "." else folder + "/"
            return sorted(name for name in self._files if name.startswith(prefix))
        assert self.root is not None
        base = self.root / folder
        found = [p for p in base.rglob("*") if p.is_file() and not p.is_symlink()]
        return sorted(p.relative_to(self.root).as_posix() for p in found)


@dataclass
class Obj:
    """One Kubernetes object as a Flux Kustomization would apply it."""

    body: dict[str, Any]
    file: str

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion") or "")

    @property
    def group(self) -> str:
        return group_of(self.api_version)

    @property
    def kind(self) -> str:
        return str(self.body.get("kind") or "")

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "")

    @property
    def spec(self) -> dict[str, Any]:
        spec = self.body.get("spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def label(self) -> str:
        """``Kind namespace/name`` (or ``Kind name``), as messages name objects."""
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    def is_(self, group: str, kind: str) -> bool:
        return self.group == group and self.kind == kind


@dataclass
class Unit:
    """What one Flux Kustomization (or the repository root) applies.

    Attributes:
        name: ``namespace/name`` of the Flux Kustomization; the root unit is ``<root>``.
        kustomization: the Flux Kustomization object (``None`` for the root).
        path: the repository folder it applies.
        objects: the objects it applies, in kustomize order.
        notes: what the reader could not follow.
        errors: why ``kustomize build`` (or Flux's generated kustomization) fails for this path:
            the Kustomization then never applies anything.
        unreadable: why the plan cannot read what it applies (its source is another repository);
            such a unit is reported as unknown, never as coming up.
    """

    name: str
    kustomization: Obj | None
    path: str
    objects: list[Obj] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unreadable: str | None = None

    @property
    def depends_on(self) -> list[str]:
        if self.kustomization is None:
            return []
        result = []
        for dep in self.kustomization.spec.get("dependsOn") or []:
            if isinstance(dep, dict) and dep.get("name"):
                namespace = dep.get("namespace") or self.kustomization.namespace or "flux-system"
                result.append(f"{namespace}/{dep['name']}")
        return result

    @property
    def wait(self) -> bool:
        return self.kustomization is not None and self.kustomization.spec.get("wait") is True

    @property
    def health_checks(self) -> list[tuple[str, str, str]]:
        """``(kind, namespace, name)`` of each ``healthChecks`` entry."""
        if self.kustomization is None:
            return []
        checks = self.kustomization.spec.get("healthChecks") or []
        return [(str(c.get("kind")), str(c.get("namespace") or ""), str(c.get("name"))) for c in checks]


def _documents(files: Files, path: str, notes: list[str]) -> list[dict[str, Any]]:
    try:
        docs = list(yaml.load_all(files.read(path), Loader=Loader))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        notes.append(f"{path}: not YAML ({str(error).splitlines()[0]})")
        return []
    result: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            result.extend(item for item in doc["items"] if isinstance(item, dict))
        elif isinstance(doc, dict):
            result.append(doc)
    return result


def _is_object(doc: Mapping[str, Any]) -> bool:
    return bool(doc.get("apiVersion")) and bool(doc.get("kind")) and isinstance(doc.get("metadata"), dict)


def _kustomization_file(files: Files, folder: str) -> str | None:
    for name in _KUSTOMIZATION_FILES:
        candidate = posixpath.join(folder, name) if folder != "." else name
        if files.is_file(candidate):
            return candidate
    return None


_UNFOLLOWED = (
    "configMapGenerator",
    "secretGenerator",
    "helmCharts",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "replacements",
    "images",
    "namePrefix",
    "nameSuffix",
    "components",
)


def build(
    files: Files, folder: str, notes: list[str], errors: list[str], seen: frozenset[str] = frozenset()
) -> list[Obj]:
    """The objects ``kustomize build <folder>`` gives, as far as they can be read without kustomize.

    What makes the build fail goes to ``errors``; what the reader does not follow, to ``notes``.
    """
    folder = posixpath.normpath(folder) if folder not in ("", ".") else "."
    if folder in seen:
        errors.append(f"{folder}: kustomization cycle")
        return []
    kfile = _kustomization_file(files, folder)
    if kfile is None:
        return _generated(files, folder, notes, errors, seen)
    docs = _documents(files, kfile, errors)
    spec = docs[0] if docs else {}
    objects: list[Obj] = []
    for key in _UNFOLLOWED:
        if spec.get(key):
            notes.append(f"{kfile}: '{key}' is not followed by the plan; its effects are not modelled")
    for entry in list(spec.get("resources") or []) + list(spec.get("bases") or []):
        if not isinstance(entry, str):
            continue
        if "://" in entry or entry.startswith(("github.com/", "git@")):
            notes.append(f"{kfile}: remote resource {entry!r} is not read")
            continue
        target = posixpath.normpath(posixpath.join(folder, entry)) if folder != "." else posixpath.normpath(entry)
        if files.is_file(target):
            objects.extend(Obj(doc, target) for doc in _documents(files, target, errors) if _is_object(doc))
        elif files.is_dir(target) and _kustomization_file(files, target) is not None:
            objects.extend(build(files, target, notes, errors, seen | {folder}))
        elif files.is_dir(target):
            errors.append(
                f"{kfile}: resource {entry!r} is a folder without a kustomization.yaml (kustomize build fails)"
            )
        else:
            errors.append(f"{kfile}: resource {entry!r} does not exist (kustomize build fails)")
    namespace = spec.get("namespace")
    if isinstance(namespace, str) and namespace:
        for obj in objects:
            if obj.metadata and not cluster_scoped_guess(obj):
                obj.body = {**obj.body, "metadata": {**obj.metadata, "namespace": namespace}}
    return objects


def _generated(files: Files, folder: str, notes: list[str], errors: list[str], seen: frozenset[str]) -> list[Obj]:
    """kustomize-controller's generated kustomization: the manifests below the folder, a subfolder
    with a kustomization of its own as one resource; a YAML document that is no Kubernetes object
    (a Helm values file, say) fails the build."""
    objects: list[Obj] = []
    nested: list[str] = []
    base = "" if folder == "." else folder + "/"
    for path in files.walk(folder):
        if any(path.startswith(prefix + "/") for prefix in nested):
            continue
        # The outermost folder between here and the file that has a kustomization of its own.
        parts = path[len(base) :].split("/")[:-1]
        inner = next(
            (
                base + "/".join(parts[: i + 1])
                for i in range(len(parts))
                if _kustomization_file(files, base + "/".join(parts[: i + 1])) is not None
            ),
            None,
        )
        if inner is not None:
            nested.append(inner)
            objects.extend(build(files, inner, notes, errors, seen | {folder}))
            continue
        if not path.endswith(_MANIFEST_SUFFIXES):
            continue
        for doc in _documents(files, path, errors):
            if _is_object(doc):
                objects.append(Obj(doc, path))
            else:
                errors.append(
                    f"{path}: not a Kubernetes object, in {folder or '.'} without a kustomization.yaml: Flux's "
                    "generated kustomization fails to decode it (add a kustomization.yaml or a .sourceignore)"
                )
    return objects


# Kinds kustomize never namespaces (its own built-in list, for the kinds this reader meets).
CLUSTER_SCOPED = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("apiregistration.k8s.io", "APIService"),
        ("policy", "PodSecurityPolicy"),
    }
)


def cluster_scoped_guess(obj: Obj) -> bool:
    """Whether kustomize leaves ``obj`` without a namespace (its built-in list, ``Cluster*`` kinds)."""
    return (obj.group, obj.kind) in CLUSTER_SCOPED or (obj.kind.startswith("Cluster") and not obj.namespace)


def iter_objects(units: list[Unit]) -> Iterator[tuple[Unit, Obj]]:
    """Every object with the unit that applies it."""
    for unit in units:
        for obj in unit.objects:
            yield unit, obj
