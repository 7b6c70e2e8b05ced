"""Validate the kustomize tree the library writes, before Flux ever sees it.

The written tree looks like this (``<root>`` is ``<repo_root>/<repo-path>``)::

    <root>/kustomization.yaml            kustomize Kustomization listing sources/*.yaml and components/*.yaml
    <root>/sources/*.yaml                Flux sources (HelmRepository, OCIRepository, ...)
    <root>/components/<name>.yaml        one Flux Kustomization per component, spec.path ./<repo-path>/<name>
    <root>/<name>/kustomization.yaml     lists every other .yaml file of that folder
    <root>/<name>/*.yaml                 the component's manifests

``check_tree`` returns every problem as a :class:`Finding`; ``validate_tree`` raises
:class:`~sre_constructs.kernel.errors.ValidationError` when there is any.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.protocols
import kubernetes_validate
import yaml
from jsonschema.exceptions import best_match
from kubernetes_validate import utils as _kv
from referencing import Registry, Resource

from sre_constructs.kernel.errors import ValidationError

try:  # the C loader is ~10x faster on the large CRD files
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

__all__ = [
    "CHECKS",
    "CRDS_ENV",
    "KUBERNETES_VERSION",
    "Finding",
    "check_tree",
    "crd_dirs_from_env",
    "validate_tree",
]

CRDS_ENV = "SRE_CONSTRUCTS_CRDS"
"""Environment variable naming the CRD directories (``os.pathsep``-separated)."""

KUBERNETES_VERSION = "1.33"
"""Kubernetes version whose schemas (from ``kubernetes-validate``) check the core kinds."""

CHECKS = ("schema", "kustomize", "listing", "flux-path", "depends-on", "source", "health-check", "yaml")
"""Every value :attr:`Finding.check` can take."""

_KUSTOMIZE_CONFIG_API = "kustomize.config.k8s.io/v1beta1"
_FLUX_KUSTOMIZE_GROUP = "kustomize.toolkit.fluxcd.io"
_FLUX_HELM_GROUP = "helm.toolkit.fluxcd.io"
_FLUX_SOURCE_GROUP = "source.toolkit.fluxcd.io"
# Workloads that Helm charts render inside the cluster: invisible in the tree.
_CHART_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
# Built-in kinds without a namespace (kustomize and Flux never namespace them).
_CORE_CLUSTER_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CertificateSigningRequest",
    }
)
# Top-level fields kustomize accepts in a Kustomization (kustomize v5).
_KUSTOMIZE_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "resources",
        "components",
        "crds",
        "namespace",
        "namePrefix",
        "nameSuffix",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "patches",
        "patchesStrategicMerge",
        "patchesJson6902",
        "images",
        "replicas",
        "replacements",
        "configMapGenerator",
        "secretGenerator",
        "generatorOptions",
        "generators",
        "transformers",
        "validators",
        "buildMetadata",
        "openapi",
        "helmCharts",
        "helmGlobals",
        "helmChartInflationGenerator",
        "sortOptions",
        "vars",
        "bases",
        "configurations",
    }
)
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
_MAX_SCHEMA_ERRORS = 10  # per object: enough to fix, short enough to read


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in the written tree.

    Attributes:
        file: the file, relative to the tree root (posix separators).
        check: which check found it: ``yaml`` (unparsable file, missing apiVersion/kind/name),
            ``schema`` (object vs. its Kubernetes/CRD schema, kustomization.yaml shape),
            ``kustomize`` (``kubectl kustomize`` fails), ``listing`` (kustomization.yaml
            resources vs. the files on disk), ``flux-path`` (Flux Kustomization spec.path),
            ``depends-on`` (dependsOn targets and cycles), ``source`` (HelmRelease chart source),
            ``health-check`` (Flux Kustomization healthChecks).
        message: names the object (kind namespace/name), the field, the value and what is expected.
    """

    file: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: [{self.check}] {self.message}"


def crd_dirs_from_env() -> list[Path]:
    """Read the CRD directories from ``SRE_CONSTRUCTS_CRDS``.

    Returns:
        The directories named by the variable (``os.pathsep``-separated, blanks dropped);
        an empty list if it is unset or empty.
    """
    raw = os.environ.get(CRDS_ENV, "")
    return [Path(part) for part in raw.split(os.pathsep) if part.strip()]


def validate_tree(
    root: str | os.PathLike[str],
    *,
    crd_dirs: Sequence[str | os.PathLike[str]] | None = None,
    repo_root: str | os.PathLike[str] | None = None,
    kustomize: bool = True,
    known_trees: Sequence[str | os.PathLike[str]] = (),
) -> None:
    """Raise if the written tree has any finding.

    Args:
        root: the tree root (the folder holding the top kustomization.yaml).
        crd_dirs: folders searched recursively for CRDs; ``None`` = :func:`crd_dirs_from_env`;
            empty = skip custom-resource schema checks.
        repo_root: the git repository root Flux paths are relative to; ``None`` = inferred.
        kustomize: also run ``kubectl kustomize`` on every kustomization folder.
        known_trees: other trees applied to the same cluster (e.g. the platform a team tree
            depends on): their Flux Kustomizations and HelmReleases count as existing dependsOn
            targets. They are not checked themselves.

    Raises:
        ValidationError: ``field='tree'``, ``value`` = number of findings, ``allowed`` = the
            findings, one per line.
    """
    findings = check_tree(root, crd_dirs=crd_dirs, repo_root=repo_root, kustomize=kustomize, known_trees=known_trees)
    if findings:
        raise ValidationError(str(root), "tree", len(findings), "\n".join(str(f) for f in findings))


def check_tree(
    root: str | os.PathLike[str],
    *,
    crd_dirs: Sequence[str | os.PathLike[str]] | None = None,
    repo_root: str | os.PathLike[str] | None = None,
    kustomize: bool = True,
    known_trees: Sequence[str | os.PathLike[str]] = (),
) -> list[Finding]:
    """Run every check on the written tree.

    Args:
        root: the tree root (the folder holding the top kustomization.yaml).
        crd_dirs: folders searched recursively for CRDs; ``None`` = :func:`crd_dirs_from_env`;
            empty = skip custom-resource schema checks (core kinds are still checked).
        repo_root: the git repository root Flux ``spec.path`` is relative to; ``None`` = the
            folder such that ``root == repo_root / <repo-path>``, with ``<repo-path>`` taken
            from the Flux Kustomizations' paths (``./<repo-path>/<name>``).
        kustomize: also run ``kubectl kustomize`` (or ``kustomize build``) on the root and on
            every folder with a kustomization.yaml.
        known_trees: other trees applied to the same cluster (e.g. the platform a team tree
            depends on): their Flux Kustomizations and HelmReleases count as existing dependsOn
            targets. They are not checked themselves.

    Returns:
        Every finding, sorted and without duplicates; an empty list means the tree is valid.

    Raises:
        ValidationError: ``root`` or a CRD directory is not an existing folder.
        RuntimeError: ``kustomize`` is true but neither ``kubectl`` nor ``kustomize`` is on PATH.
    """
    root_path = Path(root).resolve()
    if not root_path.is_dir():
        raise ValidationError(str(root), "root", str(root), "an existing folder")
    dirs = crd_dirs_from_env() if crd_dirs is None else [Path(d) for d in crd_dirs]
    for d in dirs:
        if not Path(d).is_dir():
            raise ValidationError(
                CRDS_ENV if crd_dirs is None else "crd_dirs",
                "crd_dirs",
                str(d),
                "existing folders holding CustomResourceDefinitions",
            )
    # Resolve the kustomize binary first: a missing tool must fail before any work.
    kustomize_cmd = _kustomize_command() if kustomize else None

    tree = _Tree(root_path)
    tree.load()
    crd_key = tuple(sorted({str(Path(d).resolve()) for d in dirs}))  # the schema cache key

    index = _crd_index(crd_key) if crd_key else None
    resolved_root = Path(repo_root).resolve() if repo_root is not None else tree.infer_repo_root()
    tree.resolve_namespaces(resolved_root, index.cluster_scoped if index else frozenset())

    tree.check_kustomization_files()
    tree.check_listing()
    tree.check_schemas(crd_key)
    tree.check_flux_paths(resolved_root)
    known: set[tuple[str, str, str]] = set()
    for other in known_trees:
        other_tree = _Tree(Path(other).resolve())
        other_tree.load()
        known |= {
            # Flux objects carry their namespace explicitly (no folder-level override applies).
            (doc.kind, str(_as_dict(doc.obj.get("metadata")).get("namespace") or ""), doc.name)
            for doc in other_tree.docs
            if doc.is_(_FLUX_KUSTOMIZE_GROUP, "Kustomization") or doc.is_(_FLUX_HELM_GROUP, "HelmRelease")
        }
    tree.check_depends_on(known)
    tree.check_sources()
    tree.check_health_checks()
    if kustomize_cmd is not None:
        tree.check_kustomize(kustomize_cmd)
    return sorted(set(tree.findings))


# --------------------------------------------------------------------------- YAML


class _Loader(_BaseLoader):
    """Safe loader that keeps ``=`` and timestamps as strings, like Kubernetes does."""


def _construct_str(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


# prometheus-operator CRDs hold a bare `=` which YAML 1.1 tags as !!value.
_Loader.add_constructor("tag:yaml.org,2002:value", _construct_str)
# An unquoted date would become a datetime and fail `type: string`; the API server sees a string.
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_str)


def _load_all(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return list(yaml.load_all(handle, Loader=_Loader))


# --------------------------------------------------------------------------- helpers


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _label(obj: Mapping[str, Any], namespace: str | None = None) -> str:
    meta = _as_dict(obj.get("metadata"))
    ns = namespace if namespace is not None else meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '<no kind>')} {ns}/{name}" if ns else f"{obj.get('kind', '<no kind>')} {name}"


def _json_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<object>"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass
class _Doc:
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
        return _as_dict(self.obj.get("spec"))

    @property
    def label(self) -> str:
        return _label(self.obj, self.namespace)

    def is_(self, group: str, kind: str) -> bool:
        return _group(self.api_version) == group and self.kind == kind


@dataclass
class _Tree:
    root: Path
    docs: list[_Doc] = field(default_factory=list)
    # folder (relative, "" = root) -> parsed kustomization.yaml, when it is a mapping
    kustomizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def add(self, file: str, check: str, message: str) -> None:
        self.findings.append(Finding(file, check, message))

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # ----------------------------------------------------------------- loading / yaml

    def load(self) -> None:
        """Parse every .yaml file; record check 1 (yaml) findings."""
        for path in sorted(self.root.rglob("*.yaml")):
            if not path.is_file():
                continue
            rel = self.rel(path)
            try:
                documents = _load_all(path)
            except yaml.YAMLError as exc:
                self.add(rel, "yaml", f"file does not parse as YAML: {' '.join(str(exc).split())}")
                continue
            if path.name == "kustomization.yaml":
                self._load_kustomization(rel, documents)
                continue
            for index, obj in enumerate(documents):
                if obj is None:  # an empty document (e.g. trailing ---) is harmless
                    continue
                where = f"document {index}"
                if not isinstance(obj, dict):
                    self.add(
                        rel, "yaml", f"{where}: expected a mapping (a Kubernetes object), got {type(obj).__name__}"
                    )
                    continue
                missing = [
                    key
                    for key, value in (
                        ("apiVersion", obj.get("apiVersion")),
                        ("kind", obj.get("kind")),
                        ("metadata.name", _as_dict(obj.get("metadata")).get("name")),
                    )
                    if not isinstance(value, str) or not value
                ]
                if missing:
                    self.add(
                        rel,
                        "yaml",
                        f"{where} ({_label(obj)}): field {', '.join(missing)} missing or not a "
                        "non-empty string; expected apiVersion, kind and metadata.name on every object",
                    )
                    continue
                self.docs.append(_Doc(rel, obj))

    def _load_kustomization(self, rel: str, documents: list[Any]) -> None:
        documents = [d for d in documents if d is not None]
        folder = posixpath.dirname(rel)
        if len(documents) != 1 or not isinstance(documents[0], dict):
            self.add(
                rel, "yaml", f"kustomization.yaml holds {len(documents)} document(s); expected exactly one mapping"
            )
            return
        self.kustomizations[folder] = documents[0]

    # ----------------------------------------------------------------- kustomization.yaml shape

    def check_kustomization_files(self) -> None:
        """Check 2 for the kustomize.config.k8s.io files: they are not Kubernetes objects."""
        for folder, kust in sorted(self.kustomizations.items()):
            rel = posixpath.join(folder, "kustomization.yaml")
            label = f"Kustomization {folder or '<root>'}"
            if kust.get("apiVersion") != _KUSTOMIZE_CONFIG_API:
                self.add(
                    rel,
                    "schema",
                    f"{label}: field apiVersion is {kust.get('apiVersion')!r}; expected {_KUSTOMIZE_CONFIG_API!r}",
                )
            if kust.get("kind") != "Kustomization":
                self.add(rel, "schema", f"{label}: field kind is {kust.get('kind')!r}; expected 'Kustomization'")
            resources = kust.get("resources")
            if not isinstance(resources, list) or not all(isinstance(r, str) and r for r in resources):
                self.add(
                    rel, "schema", f"{label}: field resources is {resources!r}; expected a list of file names (strings)"
                )
            unknown = sorted(str(k) for k in kust if k not in _KUSTOMIZE_FIELDS)
            if unknown:
                self.add(rel, "schema", f"{label}: unknown field(s) {unknown}; expected kustomize v1beta1 fields only")

    # ----------------------------------------------------------------- listing

    def check_listing(self) -> None:
        """Check 4: every kustomization.yaml lists exactly the .yaml files it owns."""
        owned_by_root = {"sources", "components"}
        yaml_by_folder: dict[str, set[str]] = defaultdict(set)
        for path in self.root.rglob("*.yaml"):
            if path.is_file():
                rel = self.rel(path)
                yaml_by_folder[posixpath.dirname(rel)].add(rel)

        if "" not in self.kustomizations and not self._has_kustomization(""):
            self.add(
                "kustomization.yaml",
                "listing",
                "the tree root has no kustomization.yaml; expected one listing sources/*.yaml and components/*.yaml",
            )
        for folder, files in sorted(yaml_by_folder.items()):
            if folder in owned_by_root or folder == "":
                continue
            if not self._has_kustomization(folder):
                self.add(
                    f"{folder}/",
                    "listing",
                    f"folder {folder}/ holds {len(files)} .yaml file(s) but no kustomization.yaml; "
                    "expected a kustomization.yaml listing them",
                )
        # Files at the root other than kustomization.yaml belong to nothing.
        for rel in sorted(yaml_by_folder.get("", set()) - {"kustomization.yaml"}):
            self.add(
                rel,
                "listing",
                f"{rel} sits in the tree root but no kustomization.yaml can list it; "
                "expected it under sources/, components/ or a component folder",
            )

        for folder, kust in sorted(self.kustomizations.items()):
            resources = kust.get("resources")
            if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
                continue  # shape already reported by check_kustomization_files
            rel_kust = posixpath.join(folder, "kustomization.yaml")
            if folder == "":
                expected = yaml_by_folder.get("sources", set()) | yaml_by_folder.get("components", set())
                what = "every file of sources/ and components/"
            else:
                expected = yaml_by_folder.get(folder, set()) - {rel_kust}
                what = f"every .yaml file of {folder}/ except kustomization.yaml"
            seen: set[str] = set()
            for entry in resources:
                target = posixpath.normpath(posixpath.join(folder, entry))
                label = f"Kustomization {folder or '<root>'}: resources entry {entry!r}"
                if target in seen:
                    self.add(rel_kust, "listing", f"{label} is listed twice; expected each file once")
                    continue
                seen.add(target)
                if not (self.root / target).exists():
                    self.add(rel_kust, "listing", f"{label} does not exist ({target}); expected {what}")
                elif target not in expected:
                    self.add(
                        rel_kust,
                        "listing",
                        f"{label} ({target}) is not one of the files it should list; expected {what}",
                    )
            for missing in sorted(expected - seen):
                self.add(
                    rel_kust,
                    "listing",
                    f"Kustomization {folder or '<root>'}: field resources does not list "
                    f"{posixpath.relpath(missing, folder or '.')!r}; expected {what}",
                )

    def _has_kustomization(self, folder: str) -> bool:
        return (self.root / folder / "kustomization.yaml").is_file()

    # ----------------------------------------------------------------- schema

    def check_schemas(self, crd_key: tuple[str, ...]) -> None:
        """Check 2: core kinds via kubernetes-validate, custom resources via the CRDs."""
        for doc in self.docs:
            group = _group(doc.api_version)
            if group == "" or "." not in group or group.endswith(".k8s.io"):
                outcome = _validate_core(doc.obj)
                if outcome is not None:
                    for msg in outcome:
                        self.add(doc.file, "schema", f"{doc.label}: {msg}")
                    continue
                if "." not in group:  # core/apps/batch/...: no CRD can define these
                    self.add(
                        doc.file,
                        "schema",
                        f"{doc.label}: no schema for apiVersion {doc.api_version!r} kind {doc.kind!r} "
                        f"in Kubernetes {KUBERNETES_VERSION}; expected a built-in kind",
                    )
                    continue
            if not crd_key:
                continue  # no CRDs given: custom resources are not checked at all
            validator = _crd_validator(crd_key, doc.api_version, doc.kind)
            if validator is None:
                self.add(
                    doc.file,
                    "schema",
                    f"{doc.label}: no schema for apiVersion {doc.api_version!r} kind {doc.kind!r} "
                    f"in the CRDs under {', '.join(crd_key)}; expected a served CRD version",
                )
                continue
            for msg in _schema_errors(validator, doc.obj):
                self.add(doc.file, "schema", f"{doc.label}: {msg}")

    def resolve_namespaces(self, repo_root: Path, cluster_kinds: frozenset[tuple[str, str]]) -> None:
        """Set each object's effective namespace, as Flux will apply it.

        Precedence: the Flux Kustomization's spec.targetNamespace for its folder, then the
        folder kustomization.yaml ``namespace``, then metadata.namespace. Cluster-scoped kinds
        (built-in list, or CRD scope) get none.
        """
        target_ns: dict[str, str] = {}
        for doc in self.flux_kustomizations():
            parts = _flux_path_parts(doc.spec.get("path"))
            ns = doc.spec.get("targetNamespace")
            if parts and isinstance(ns, str) and ns:
                try:
                    target_ns[repo_root.joinpath(*parts).relative_to(self.root).as_posix()] = ns
                except ValueError:
                    continue  # the path points outside this tree
        for doc in self.docs:
            group = _group(doc.api_version)
            core = "." not in group or group.endswith(".k8s.io")
            if (core and doc.kind in _CORE_CLUSTER_KINDS) or (group, doc.kind) in cluster_kinds:
                doc.namespace = None
                continue
            folder = posixpath.dirname(doc.file)
            owner = "" if folder in ("sources", "components") else folder
            candidates = (
                target_ns.get(folder) if owner else None,
                _as_dict(self.kustomizations.get(owner)).get("namespace"),
                _as_dict(doc.obj.get("metadata")).get("namespace"),
            )
            doc.namespace = next((ns for ns in candidates if isinstance(ns, str) and ns), None)

    # ----------------------------------------------------------------- flux paths

    def flux_kustomizations(self) -> list[_Doc]:
        return [d for d in self.docs if d.is_(_FLUX_KUSTOMIZE_GROUP, "Kustomization")]

    def infer_repo_root(self) -> Path:
        """Pick the repo root under which most Flux paths resolve to a kustomization folder."""
        votes: dict[Path, list[int]] = {}
        for doc in self.flux_kustomizations():
            parts = _flux_path_parts(doc.spec.get("path"))
            if not parts:
                continue
            prefix = parts[:-1]
            if len(prefix) >= len(self.root.parts) or (prefix and list(self.root.parts[-len(prefix) :]) != prefix):
                continue
            candidate = self.root.parents[len(prefix) - 1] if prefix else self.root
            score = votes.setdefault(candidate, [0, 0])
            score[0] += int((candidate.joinpath(*parts) / "kustomization.yaml").is_file())
            score[1] += 1
        if not votes:
            return self.root
        # Most resolving paths, then most votes, then the shortest (outermost) path: deterministic.
        return max(votes, key=lambda p: (votes[p][0], votes[p][1], -len(p.parts), str(p)))

    def check_flux_paths(self, repo_root: Path) -> None:
        """Check 5: every Flux Kustomization spec.path is a folder with a kustomization.yaml."""
        for doc in self.flux_kustomizations():
            path = doc.spec.get("path")
            if not isinstance(path, str) or not path:
                self.add(
                    doc.file, "flux-path", f"{doc.label}: field spec.path is {path!r}; expected './<repo-path>/<name>'"
                )
                continue
            parts = _flux_path_parts(path)
            if parts is None:
                self.add(
                    doc.file,
                    "flux-path",
                    f"{doc.label}: field spec.path {path!r} leaves the repository root {repo_root}; "
                    "expected a path inside it",
                )
                continue
            target = repo_root.joinpath(*parts)
            if not target.is_dir():
                problem = "is not a folder"
            elif not (target / "kustomization.yaml").is_file():
                problem = "has no kustomization.yaml"
            else:
                continue
            self.add(
                doc.file,
                "flux-path",
                f"{doc.label}: field spec.path {path!r} resolves to {target} (repo root {repo_root}), "
                f"which {problem}; expected a folder with a kustomization.yaml",
            )

    # ----------------------------------------------------------------- depends-on

    def check_depends_on(self, known: Set[tuple[str, str, str]] = frozenset()) -> None:
        """Check 6: dependsOn targets exist (Kustomizations, HelmReleases) and do not cycle.

        Args:
            known: ``(kind, namespace, name)`` of objects in other trees of the same cluster.
        """
        for group, kind in ((_FLUX_KUSTOMIZE_GROUP, "Kustomization"), (_FLUX_HELM_GROUP, "HelmRelease")):
            objs = [d for d in self.docs if d.is_(group, kind)]
            present = {(d.namespace or "", d.name): d for d in objs}
            graph: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for doc in objs:
                me = (doc.namespace or "", doc.name)
                graph.setdefault(me, [])
                for i, dep in enumerate(_as_list(doc.spec.get("dependsOn"))):
                    dep = _as_dict(dep)
                    name = dep.get("name")
                    ns = dep.get("namespace") or doc.namespace or ""
                    if (ns, name) not in present and (kind, ns, name) in known:
                        continue  # in another tree of the cluster: no edge to follow here
                    if (ns, name) not in present:
                        self.add(
                            doc.file,
                            "depends-on",
                            f"{doc.label}: field spec.dependsOn[{i}] names {kind} {ns}/{name}, "
                            f"which is not in the tree; expected one of {_names(present)}",
                        )
                    else:
                        graph[me].append((ns, str(name)))
            for cycle in _cycles(graph):
                first = present[cycle[0]]
                chain = " -> ".join(f"{ns}/{name}" for ns, name in [*cycle, cycle[0]])
                self.add(
                    first.file,
                    "depends-on",
                    f"{first.label}: field spec.dependsOn forms a cycle of {kind}s: {chain}; "
                    "expected an acyclic dependency graph",
                )

    # ----------------------------------------------------------------- sources

    def check_sources(self) -> None:
        """HelmRelease chart sources (spec.chart.spec.sourceRef / spec.chartRef) exist in the tree."""
        sources = {
            (d.kind, d.namespace or "", d.name) for d in self.docs if _group(d.api_version) == _FLUX_SOURCE_GROUP
        }
        for doc in self.docs:
            if not doc.is_(_FLUX_HELM_GROUP, "HelmRelease"):
                continue
            chart_ref = doc.spec.get("chartRef")
            source_ref = _as_dict(_as_dict(_as_dict(doc.spec.get("chart")).get("spec")).get("sourceRef"))
            refs = []
            if isinstance(chart_ref, dict):
                refs.append(("spec.chartRef", chart_ref))
            if source_ref:
                refs.append(("spec.chart.spec.sourceRef", source_ref))
            if not refs:
                self.add(
                    doc.file,
                    "source",
                    f"{doc.label}: neither spec.chart.spec.sourceRef nor spec.chartRef is set; "
                    "expected one naming a source in the tree",
                )
            for where, ref in refs:
                key = (str(ref.get("kind")), str(ref.get("namespace") or doc.namespace or ""), str(ref.get("name")))
                if key not in sources:
                    known = sorted(f"{k} {ns}/{n}" for k, ns, n in sources)
                    self.add(
                        doc.file,
                        "source",
                        f"{doc.label}: field {where} names {key[0]} {key[1]}/{key[2]}, which is not "
                        f"in the tree; expected one of {known}",
                    )

    # ----------------------------------------------------------------- health checks

    def check_health_checks(self) -> None:
        """Check 7: healthChecks name objects of the tree (or a plausible namespace for chart workloads)."""
        namespaces = {d.name for d in self.docs if d.api_version == "v1" and d.kind == "Namespace"}
        release_namespaces: set[str] = set()
        for d in self.docs:
            if d.is_(_FLUX_HELM_GROUP, "HelmRelease"):
                release_namespaces.update(
                    ns for ns in (d.namespace, d.spec.get("targetNamespace")) if isinstance(ns, str)
                )
        objects = [(d.api_version, d.kind, d.name, d.namespace) for d in self.docs]
        for doc in self.flux_kustomizations():
            checks = _as_list(doc.spec.get("healthChecks"))
            if checks and doc.spec.get("wait") is True:
                self.add(
                    doc.file,
                    "health-check",
                    f"{doc.label}: field spec.wait is true and spec.healthChecks has {len(checks)} "
                    "entries, which Flux ignores when wait is true; expected wait false or no healthChecks",
                )
            for i, check in enumerate(checks):
                check = _as_dict(check)
                api, kind, name, ns = (
                    check.get("apiVersion"),
                    check.get("kind"),
                    check.get("name"),
                    check.get("namespace"),
                )
                what = f"{doc.label}: field spec.healthChecks[{i}] ({api} {kind} {ns or ''}/{name})"
                if kind in _CHART_WORKLOAD_KINDS:
                    # Rendered by a chart, so invisible here: only its namespace can be checked.
                    if not ns or (ns not in namespaces and ns not in release_namespaces):
                        self.add(
                            doc.file,
                            "health-check",
                            f"{what} has namespace {ns!r}, which is neither a Namespace nor a "
                            f"HelmRelease namespace in the tree; expected one of "
                            f"{sorted(namespaces | release_namespaces)}",
                        )
                    continue
                # An omitted namespace acts as a local reference (the Kustomization's own namespace).
                want_ns = ns or doc.namespace
                if not any(
                    k == kind and n == name and (api is None or a == api) and (o_ns is None or o_ns == want_ns)
                    for a, k, n, o_ns in objects
                ):
                    self.add(
                        doc.file,
                        "health-check",
                        f"{what} names no object in the tree; expected an object the tree "
                        "defines (same apiVersion, kind, namespace, name)",
                    )

    # ----------------------------------------------------------------- kustomize

    def check_kustomize(self, command: list[str]) -> None:
        """Check 3: kustomize builds the root and every component folder."""
        folders = sorted(
            {self.rel(p.parent) if p.parent != self.root else "" for p in self.root.rglob("kustomization.yaml")}
        )

        def build(folder: str) -> Finding | None:
            try:
                result = subprocess.run(
                    [*command, str(self.root / folder)], capture_output=True, text=True, timeout=300, check=False
                )
            except subprocess.TimeoutExpired:
                return Finding(
                    posixpath.join(folder, "kustomization.yaml"),
                    "kustomize",
                    f"`{' '.join(command)} {folder or '.'}` timed out after 300 s; expected it to build",
                )
            if result.returncode == 0:
                return None
            error = " ".join((result.stderr or result.stdout).split())[-2000:]
            return Finding(
                posixpath.join(folder, "kustomization.yaml"),
                "kustomize",
                f"Kustomization {folder or '<root>'}: `{' '.join(command)} {folder or '.'}` failed "
                f"(exit {result.returncode}): {error}; expected a successful build",
            )

        # Two workers: kustomize is mostly CPU and the machines have two cores.
        with ThreadPoolExecutor(max_workers=2) as pool:
            for finding in pool.map(build, folders):
                if finding is not None:
                    self.findings.append(finding)


def _names(present: Mapping[tuple[str, str], Any]) -> list[str]:
    return sorted(f"{ns}/{name}" for ns, name in present)


def _flux_path_parts(path: Any) -> list[str] | None:
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


def _cycles(graph: Mapping[tuple[str, str], list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """Every distinct cycle met by a depth-first search (back edges), rotated to start at its least node."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(graph, white)
    found: set[tuple[tuple[str, str], ...]] = set()

    for start in sorted(graph):
        if color[start] != white:
            continue
        stack: list[tuple[tuple[str, str], Iterator[tuple[str, str]]]] = [(start, iter(sorted(graph[start])))]
        path = [start]
        color[start] = grey
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                color[node] = black
                continue
            if color.get(child, black) == grey:
                cycle = path[path.index(child) :]
                pivot = cycle.index(min(cycle))
                found.add(tuple(cycle[pivot:] + cycle[:pivot]))
            elif color.get(child) == white:
                color[child] = grey
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return [list(c) for c in sorted(found)]


# --------------------------------------------------------------------------- kustomize binary


def _kustomize_command() -> list[str]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    raise RuntimeError(
        "tree check: neither `kubectl` nor `kustomize` is on PATH; install one of them "
        "or call check_tree(..., kustomize=False) explicitly"
    )


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
    return [f"field {_json_path(path)}{shown}: {exc.message} (Kubernetes {KUBERNETES_VERSION} schema)"]


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


# --------------------------------------------------------------------------- CRDs


@dataclass(frozen=True)
class _CrdIndex:
    schemas: dict[tuple[str, str], dict[str, Any]]  # (apiVersion, kind) -> openAPIV3Schema
    cluster_scoped: frozenset[tuple[str, str]]  # (group, kind) of cluster-scoped CRDs


@functools.lru_cache(maxsize=8)
def _crd_index(crd_dirs: tuple[str, ...]) -> _CrdIndex:
    """Load every CRD under ``crd_dirs`` (recursively), once per tuple of folders."""
    schemas: dict[tuple[str, str], dict[str, Any]] = {}
    cluster: set[tuple[str, str]] = set()
    for directory in crd_dirs:
        for path in sorted(Path(directory).rglob("*")):
            if path.suffix not in (".yaml", ".yml") or not path.is_file():
                continue
            for doc in _load_all(path):
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = _as_dict(doc.get("spec"))
                group, kind = str(spec.get("group")), str(_as_dict(spec.get("names")).get("kind"))
                if spec.get("scope") == "Cluster":
                    cluster.add((group, kind))
                for version in _as_list(spec.get("versions")):
                    schema = _as_dict(_as_dict(_as_dict(version).get("schema")).get("openAPIV3Schema"))
                    if version.get("served") and schema:  # an unserved version cannot be applied
                        schemas.setdefault((f"{group}/{version['name']}", kind), schema)
    return _CrdIndex(schemas, frozenset(cluster))


@functools.lru_cache(maxsize=512)
def _crd_validator(crd_dirs: tuple[str, ...], api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    """Compile (once) the validator of one served CRD version; None if no CRD serves it."""
    raw = _crd_index(crd_dirs).schemas.get((api_version, kind))
    if raw is None:
        return None
    schema = _to_jsonschema(raw, structural=True)
    properties = schema.setdefault("properties", {})
    # apiVersion/kind/metadata are implicit in every CRD; pin them and check metadata ourselves.
    properties["apiVersion"] = {"const": api_version}
    properties["kind"] = {"const": kind}
    properties["metadata"] = _OBJECT_META_SCHEMA
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema)
    return validator


def _to_jsonschema(node: Any, *, structural: bool) -> Any:
    """Turn a CRD (OpenAPI v3 structural) schema into JSON Schema with Kubernetes semantics.

    ``structural`` is false inside anyOf/oneOf/allOf/not, whose branches only add
    constraints: they must not close objects (additionalProperties) or set types.
    """
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {k: _to_jsonschema(v, structural=structural) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _to_jsonschema(value, structural=structural)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_to_jsonschema(v, structural=False) for v in value]
        elif key == "not":
            out[key] = _to_jsonschema(value, structural=False)
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


def _schema_errors(validator: jsonschema.protocols.Validator, obj: Mapping[str, Any]) -> list[str]:
    errors = sorted(validator.iter_errors(obj), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    messages = []
    for error in errors[:_MAX_SCHEMA_ERRORS]:
        message = error.message
        if error.context:  # anyOf/oneOf: the closest branch says more than "not valid under any"
            message += f" (closest: {best_match(error.context).message})"
        value = error.instance if not isinstance(error.instance, (dict, list)) else None
        shown = f" (value {value!r})" if value is not None else ""
        messages.append(f"field {_json_path(error.absolute_path)}{shown}: {message}")
    if len(errors) > _MAX_SCHEMA_ERRORS:
        messages.append(f"... and {len(errors) - _MAX_SCHEMA_ERRORS} more schema error(s)")
    return messages
