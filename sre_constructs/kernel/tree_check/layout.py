"""Loading the tree and judging it by kustomize's and Flux's rules, then by this library's layout.

What gets applied is what kustomize and Flux apply: the tree root's kustomization.yaml and the
folder of every Flux Kustomization in the tree (a folder without kustomization.yaml gets one that
Flux generates from every manifest below it), followed through ``resources``/``components``/``crds``
entries, files or folders, in subfolders or not. Errors: a file with Kubernetes objects that nothing
applies, an entry that does not exist, a listed file that holds no object. A YAML file without
objects (a Helm values file) that nothing lists is not an object and not a finding.

The library's own layout (see ``__init__``) is a convention on top: departures are notes.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import (
    FLUX_HELM_GROUP,
    FLUX_KUSTOMIZE_GROUP,
    KUSTOMIZE_CONFIG_API,
    Doc,
    Tree,
    as_dict,
    as_list,
    flux_path_parts,
    group_of,
    is_object,
    label,
    load_all,
)

_KUSTOMIZE_COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"
# Top-level fields kustomize accepts in a Kustomization or Component (kustomize v5).
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
_OWNED_BY_ROOT = ("sources", "components")  # the library's layout: the root lists these folders


@dataclass
class _Parsed:
    objects: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    others: list[tuple[int, str]] = field(default_factory=list)  # (document, type) of non-objects


@dataclass
class Reach:
    """What kustomize and Flux apply: file -> the kustomization folders above it (outermost first)."""

    applied: dict[str, tuple[str, ...]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # patches, generator inputs: read, not applied
    entries: dict[str, str] = field(default_factory=dict)  # entry folder -> Flux targetNamespace ("" none)


# --------------------------------------------------------------------------- loading


def load(tree: Tree) -> dict[str, _Parsed]:
    """Parse every .yaml file: kustomization.yaml files into ``tree.kustomizations``, objects into
    ``tree.docs``; objects without apiVersion/kind/metadata.name are errors wherever they are."""
    parsed: dict[str, _Parsed] = {}
    for path in sorted(tree.root.rglob("*.yaml")):
        if not path.is_file():
            continue
        rel = tree.rel(path)
        try:
            documents = load_all(path)
        except yaml.YAMLError as exc:
            tree.unparsable[rel] = " ".join(str(exc).split())
            continue
        if path.name == "kustomization.yaml":
            _load_kustomization(tree, rel, documents)
            continue
        mine = parsed[rel] = _Parsed()
        for index, obj in enumerate(documents):
            if obj is None:  # an empty document (e.g. trailing ---) is harmless
                continue
            if not is_object(obj):
                mine.others.append((index, type(obj).__name__))
                continue
            missing = [
                key
                for key, value in (
                    ("apiVersion", obj.get("apiVersion")),
                    ("kind", obj.get("kind")),
                    ("metadata.name", as_dict(obj.get("metadata")).get("name")),
                )
                if not isinstance(value, str) or not value
            ]
            mine.objects.append((index, obj))
            if missing:
                tree.add(
                    rel,
                    "yaml",
                    f"document {index} ({label(obj)}): field {', '.join(missing)} missing or not a "
                    "non-empty string; expected apiVersion, kind and metadata.name on every object",
                )
                continue
            tree.docs.append(Doc(rel, obj))
        tree.files[rel] = bool(mine.objects)
    return parsed


def _load_kustomization(tree: Tree, rel: str, documents: list[Any]) -> None:
    documents = [d for d in documents if d is not None]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        tree.add(rel, "yaml", f"kustomization.yaml holds {len(documents)} document(s); expected exactly one mapping")
        return
    tree.kustomizations[posixpath.dirname(rel)] = documents[0]


# --------------------------------------------------------------------------- kustomize's rules


def check_kustomization_files(tree: Tree) -> None:
    """The kustomization.yaml files' own shape (they are not Kubernetes objects)."""
    for folder, kust in sorted(tree.kustomizations.items()):
        rel = posixpath.join(folder, "kustomization.yaml")
        what = f"Kustomization {folder or '<root>'}"
        api, kind = kust.get("apiVersion"), kust.get("kind")
        allowed = {"Kustomization": KUSTOMIZE_CONFIG_API, "Component": _KUSTOMIZE_COMPONENT_API}
        if api is None and kind is None:
            # kustomize fills both in; this library always writes them.
            tree.note(
                rel, "schema", f"{what}: fields apiVersion and kind are missing; expected {KUSTOMIZE_CONFIG_API!r}"
            )
        elif kind not in allowed:
            tree.add(rel, "schema", f"{what}: field kind is {kind!r}; expected one of {sorted(allowed)}")
        elif api != allowed[str(kind)]:
            tree.add(rel, "schema", f"{what}: field apiVersion is {api!r}; expected {allowed[str(kind)]!r}")
        for key in ("resources", "components", "crds"):
            entries = kust.get(key)
            if entries is not None and not (
                isinstance(entries, list) and all(isinstance(e, str) and e for e in entries)
            ):
                tree.add(rel, "schema", f"{what}: field {key} is {entries!r}; expected a list of paths (strings)")
        unknown = sorted(str(k) for k in kust if k not in _KUSTOMIZE_FIELDS)
        if unknown:
            tree.add(rel, "schema", f"{what}: unknown field(s) {unknown}; expected kustomize v1beta1 fields only")


def _paths(kust: dict[str, Any], key: str) -> list[str]:
    return [e for e in as_list(kust.get(key)) if isinstance(e, str) and e]


def _remote(entry: str) -> bool:
    return "://" in entry or entry.startswith(("github.com/", "git@"))


def _used_files(kust: dict[str, Any]) -> Iterator[str]:
    """Files a kustomization reads without applying them: patches and generator inputs."""
    for patch in as_list(kust.get("patches")) + as_list(kust.get("patchesJson6902")):
        if isinstance(as_dict(patch).get("path"), str):
            yield as_dict(patch)["path"]
    yield from (p for p in as_list(kust.get("patchesStrategicMerge")) if isinstance(p, str) and "\n" not in p)
    for generator in as_list(kust.get("configMapGenerator")) + as_list(kust.get("secretGenerator")):
        for key in ("files", "envs"):
            for entry in as_list(as_dict(generator).get(key)):
                if isinstance(entry, str):
                    yield entry.rpartition("=")[2]  # `key=path` names the path after the =
        env = as_dict(generator).get("env")
        if isinstance(env, str):
            yield env
    yield from _paths(kust, "configurations")


def reach(tree: Tree, repo_root: Path) -> Reach:
    """Follow the tree root and every in-tree Flux Kustomization folder; report broken entries."""
    out = Reach()
    entries: dict[str, str] = {"": ""}
    for doc in tree.flux_kustomizations():
        parts = flux_path_parts(doc.spec.get("path"))
        if parts is None:
            continue
        try:
            folder = repo_root.joinpath(*parts).resolve().relative_to(tree.root).as_posix()
        except ValueError:
            continue  # outside this tree
        folder = "" if folder == "." else folder
        ns = doc.spec.get("targetNamespace")
        if (tree.root / folder).is_dir():
            entries.setdefault(folder, ns if isinstance(ns, str) else "")
    out.entries = entries
    walked: set[str] = set()

    def walk(folder: str, chain: tuple[str, ...]) -> None:
        if folder in walked:
            return
        walked.add(folder)
        kust = tree.kustomizations.get(folder)
        if kust is None:
            if not tree.has_kustomization(folder):
                flux_generated(folder, chain)
            return  # an unreadable kustomization.yaml is already a finding
        chain = (*chain, folder)
        rel_kust = posixpath.join(folder, "kustomization.yaml")
        what = f"Kustomization {folder or '<root>'}"
        for key in ("resources", "components", "crds"):
            seen: set[str] = set()
            for entry in _paths(kust, key):
                if _remote(entry):
                    continue  # fetched by kustomize at build time
                target = posixpath.normpath(posixpath.join(folder, entry))
                if target == ".." or target.startswith("../"):
                    continue  # outside the tree: the kustomize build judges it
                if target in seen:
                    tree.add(rel_kust, "listing", f"{what}: {key} entry {entry!r} is listed twice; expected each once")
                    continue
                seen.add(target)
                path = tree.root / target
                if path.is_dir():
                    if tree.has_kustomization(target):
                        walk("" if target == "." else target, chain)
                    else:
                        tree.add(
                            rel_kust,
                            "listing",
                            f"{what}: {key} entry {entry!r} is the folder {target}/, which has no "
                            "kustomization.yaml; expected a file or a folder with a kustomization.yaml",
                        )
                elif path.is_file():
                    out.applied.setdefault(target, chain)
                else:
                    tree.add(
                        rel_kust, "listing", f"{what}: {key} entry {entry!r} does not exist ({target}); expected a file"
                    )
        for entry in _used_files(kust):
            out.used.add(posixpath.normpath(posixpath.join(folder, entry)))

    def flux_generated(folder: str, chain: tuple[str, ...]) -> None:
        # Flux's generated kustomization.yaml: every manifest below, a sub-kustomization as a whole.
        base = tree.root / folder
        for path in sorted(base.rglob("*.yaml")):
            rel = tree.rel(path)
            inner = posixpath.dirname(rel)
            owner = next(
                (f for f in _parents(inner, folder) if f != folder and tree.has_kustomization(f)),
                None,
            )
            if owner is not None:
                walk(owner, chain)
            elif tree.files.get(rel) or rel in tree.unparsable:
                out.applied.setdefault(rel, chain)

    for folder in sorted(entries):
        walk(folder, ())
    return out


def _parents(folder: str, stop: str) -> list[str]:
    """``folder`` and its parents up to ``stop``, outermost first."""
    out = [folder]
    while folder != stop and folder:
        folder = posixpath.dirname(folder)
        out.append(folder)
    return out[::-1]


def check_applied(tree: Tree, parsed: dict[str, _Parsed], reached: Reach) -> None:
    """Files with objects that nothing applies; listed files that are not objects."""
    for rel, message in sorted(tree.unparsable.items()):
        text = f"file does not parse as YAML: {message}"
        if rel in reached.applied or rel in reached.used or posixpath.basename(rel) == "kustomization.yaml":
            tree.add(rel, "yaml", text)
        else:
            tree.note(rel, "yaml", f"{text} (no kustomization lists it)")
    for rel, content in sorted(parsed.items()):
        if rel in reached.applied:
            for index, kind in content.others:
                tree.add(
                    rel,
                    "yaml",
                    f"document {index}: expected a Kubernetes object (a mapping with apiVersion and kind), "
                    f"got {'a mapping without them' if kind == 'dict' else kind}; kustomize refuses it as a resource",
                )
        elif content.objects and rel not in reached.used:
            tree.add(
                rel,
                "listing",
                f"{rel} holds {len(content.objects)} Kubernetes object(s) but no kustomization.yaml lists it "
                "(nor is it below a Flux Kustomization's folder without one, which Flux would generate), so it "
                "is never applied; expected it listed in a kustomization.yaml's resources",
            )


# --------------------------------------------------------------------------- namespaces


def resolve_namespaces(tree: Tree, reached: Reach, cluster_kinds: frozenset[tuple[str, str]]) -> None:
    """Set each object's effective namespace, as Flux will apply it.

    Precedence: the Flux Kustomization's spec.targetNamespace for the folder it applies, then
    the outermost kustomization.yaml ``namespace`` above the file, then metadata.namespace.
    Cluster-scoped kinds (built-in list, or CRD scope) get none.
    """
    for doc in tree.docs:
        group = group_of(doc.api_version)
        core = "." not in group or group.endswith(".k8s.io")
        if (core and doc.kind in _CORE_CLUSTER_KINDS) or (group, doc.kind) in cluster_kinds:
            doc.namespace = None
            continue
        chain = reached.applied.get(doc.file, ())
        candidates = (
            reached.entries.get(chain[0]) if chain else None,
            *(as_dict(tree.kustomizations.get(f)).get("namespace") for f in chain),
            as_dict(doc.obj.get("metadata")).get("namespace"),
        )
        doc.namespace = next((ns for ns in candidates if isinstance(ns, str) and ns), None)


# --------------------------------------------------------------------------- the library's layout


def check_conventions(tree: Tree, reached: Reach) -> None:
    """The layout ``write_tree`` produces; departures are notes (valid kustomize, another layout).

    Only files with Kubernetes objects count (a values file is nobody's business), and a file that
    nothing applies already has its error.
    """
    objects_by_folder: dict[str, set[str]] = defaultdict(set)
    for rel, has_objects in tree.files.items():
        if has_objects:
            objects_by_folder[posixpath.dirname(rel)].add(rel)
    if not tree.has_kustomization(""):
        tree.note(
            "kustomization.yaml",
            "listing",
            "the tree root has no kustomization.yaml; expected one listing sources/*.yaml and components/*.yaml",
        )
    for folder, files in sorted(objects_by_folder.items()):
        if folder in (*_OWNED_BY_ROOT, "") or tree.has_kustomization(folder):
            continue
        tree.note(
            f"{folder}/",
            "listing",
            f"folder {folder}/ holds {len(files)} file(s) with Kubernetes objects but no kustomization.yaml; "
            "expected a kustomization.yaml listing them",
        )
    for rel in sorted(objects_by_folder.get("", set())):
        tree.note(
            rel,
            "listing",
            f"{rel} sits in the tree root; expected it under sources/, components/ or a component folder",
        )
    for folder, kust in sorted(tree.kustomizations.items()):
        resources = kust.get("resources")
        if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
            continue  # shape already reported
        rel_kust = posixpath.join(folder, "kustomization.yaml")
        if folder == "":
            expected = set().union(*(objects_by_folder.get(f, set()) for f in _OWNED_BY_ROOT))
            what = "every file of sources/ and components/"
        else:
            expected = objects_by_folder.get(folder, set())
            what = f"every file of {folder}/ with Kubernetes objects"
        listed = {posixpath.normpath(posixpath.join(folder, entry)) for entry in resources}
        for entry in resources:
            target = posixpath.normpath(posixpath.join(folder, entry))
            if (tree.root / target).exists() and target not in expected:
                tree.note(
                    rel_kust,
                    "listing",
                    f"Kustomization {folder or '<root>'}: resources entry {entry!r} ({target}) is not one of "
                    f"the files this library lists there; expected {what}",
                )
        for missing in sorted((expected - listed) & reached.applied.keys()):
            tree.note(
                rel_kust,
                "listing",
                f"Kustomization {folder or '<root>'}: field resources does not list "
                f"{posixpath.relpath(missing, folder or '.')!r}, which another kustomization applies; expected {what}",
            )


def known_objects(trees: Sequence[Path]) -> set[tuple[str, str, str]]:
    """``(kind, namespace, name)`` of the Flux Kustomizations and HelmReleases of other trees."""
    known: set[tuple[str, str, str]] = set()
    for other in trees:
        other_tree = Tree(other.resolve())
        load(other_tree)
        known |= {
            # Flux objects carry their namespace explicitly (no folder-level override applies).
            (doc.kind, str(as_dict(doc.obj.get("metadata")).get("namespace") or ""), doc.name)
            for doc in other_tree.docs
            if doc.is_(FLUX_KUSTOMIZE_GROUP, "Kustomization") or doc.is_(FLUX_HELM_GROUP, "HelmRelease")
        }
    return known
