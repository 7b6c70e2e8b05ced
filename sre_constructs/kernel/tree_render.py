"""Rendering a PlatformChart to the files of its kustomize tree, in memory (``{path: bytes}``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from cdk8s import ApiObject

from .component import PlatformComponent
from .errors import ValidationError
from .platform_chart import PlatformChart
from .sources import ChartSources
from .validation import check_kind
from .yaml_out import Unsupported, dump_documents

__all__ = ["dump_yaml", "render_tree"]

_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
_SOURCES_FILE = "sources/helmrepositories.yaml"
_SOURCE_FILES = {"HelmRepository": _SOURCES_FILE, "OCIRepository": "sources/ocirepositories.yaml"}

try:  # libyaml is much faster; both dumpers give the same bytes for this data.
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def dump_yaml(documents: Iterable[Any]) -> bytes:
    """YAML for a list of documents: sorted keys, block style, no line folding, UTF-8.

    The bytes of PyYAML's ``dump_all`` (libyaml's emitter) with those options. Most files are
    written by :mod:`.yaml_out`, which gives the same bytes without PyYAML's pure-Python
    representer; a file holding something it does not reproduce goes through PyYAML itself.
    """
    docs = list(documents)
    try:
        return dump_documents(docs).encode("utf-8")
    except Unsupported:
        pass
    text = yaml.dump_all(
        docs,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        explicit_start=False,
    )
    return str(text).encode("utf-8")


def _kustomization(resources: list[str]) -> bytes:
    return dump_yaml([{"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": resources}])


def _resolved_objects(chart: PlatformChart) -> list[tuple[ApiObject, Any]]:
    """Every ApiObject of the chart with its resolved JSON.

    One ``to_json`` per object: ``chart.to_json()`` would call back into Python for every object
    whose ``to_json`` is overridden here anyway, and lining its result up with the nodes would cost
    a kind and a name round-trip per object. A :class:`~.manifest.Manifest` (most objects of a
    tree) renders itself in Python, chart labels and namespace included, with no jsii call.
    """
    return [(n, n.to_json()) for n in chart.node.find_all() if isinstance(n, ApiObject)]


def _known_owners(
    chart: PlatformChart, components: list[PlatformComponent], sources: Any
) -> dict[int, PlatformComponent | None] | None:
    """The component of each object the components made themselves (Python-side lists, no jsii).

    ``None`` when a component is not a direct child of the chart (nested components: the
    ``find_all`` walk decides there). The caller falls back to the walk as well when the chart
    holds any object not listed here (one a user made in a component with ``ApiObject(...)``).
    """
    owner: dict[int, PlatformComponent | None] = {}
    for component in components:
        parent = component.__dict__.get("_sre_parent")
        objects = component.__dict__.get("_sre_objects")
        if parent is None or parent[0]() is not chart or objects is None:
            return None
        for obj in objects:
            owner[id(obj)] = component
    if isinstance(sources, ChartSources):
        for obj in sources.objects:
            owner[id(obj)] = None
    return owner


def _file_for(node: ApiObject, manifest: Any) -> str:
    """The file of an object in its component folder: one per kind (``networkpolicy.yaml``).

    The kind becomes a file name, so it must be a plain Kubernetes kind; a kind named like the
    folder's own ``kustomization.yaml`` (a Flux Kustomization) gets its API group in the name.
    """
    try:
        kind = check_kind("", "kind", manifest.get("kind"))
    except ValidationError as error:  # the path costs jsii round-trips: only for the message
        raise ValidationError(node.node.path, error.field, error.value, error.allowed) from None
    name = kind.lower()
    if name == "kustomization":
        group = str(manifest.get("apiVersion", "")).split("/")[0].split(".")[0] or "core"
        name = f"{name}-{group}"
    return f"{name}.yaml"


def render_tree(chart: PlatformChart) -> dict[str, bytes]:
    """The files of one tree, relative to ``<outdir>/<path>``, as bytes.

    Raises:
        ValidationError: an object outside any component, or a dependency cycle.
    """
    components = chart.components  # dependency order; raises on a cycle
    # ChartSources.of keeps the chart's sources on the chart: no tryFindChild round-trip.
    sources = chart.__dict__.get("_sre_chart_sources") or chart.node.try_find_child(ChartSources.ID)
    objects = _resolved_objects(chart)
    owner = _known_owners(chart, components, sources)
    if owner is None or any(id(node) not in owner for node, _ in objects):
        owner = {}
        for component in components:
            for node in component.node.find_all():
                owner[id(node)] = component
        if isinstance(sources, ChartSources):
            for obj in sources.objects:
                owner[id(obj)] = None

    source_docs: list[Any] = []
    flux_docs: dict[str, Any] = {}
    folders: dict[str, dict[str, list[Any]]] = {c.name: {} for c in components}
    for node, manifest in objects:
        if id(node) not in owner:
            raise ValidationError(
                node.node.path,
                "placement",
                f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}",
                f"an object inside a PlatformComponent of {chart.node.path}; every object of a tree "
                "belongs to a component's folder",
            )
        holder = owner[id(node)]
        if holder is None:
            source_docs.append(manifest)
        elif node is holder.kustomization:
            flux_docs[holder.name] = manifest
        else:
            folders[holder.name].setdefault(_file_for(node, manifest), []).append(manifest)

    files: dict[str, bytes] = {}
    root_resources: list[str] = []
    by_file: dict[str, list[Any]] = {}
    for doc in source_docs:  # sources/helmrepositories.yaml, sources/ocirepositories.yaml
        by_file.setdefault(_SOURCE_FILES.get(doc.get("kind"), _SOURCES_FILE), []).append(doc)
    for rel in sorted(by_file):
        files[rel] = dump_yaml(by_file[rel])
        root_resources.append(rel)
    for component in components:
        rel = f"components/{component.name}.yaml"
        files[rel] = dump_yaml([flux_docs[component.name]])
        root_resources.append(rel)
        folder = folders[component.name]
        for filename in sorted(folder):
            files[f"{component.name}/{filename}"] = dump_yaml(folder[filename])
        files[f"{component.name}/kustomization.yaml"] = _kustomization(sorted(folder))
    files["kustomization.yaml"] = _kustomization(root_resources)
    return files
