"""The Flux ``dependsOn`` graph of a platform, as Mermaid or Graphviz DOT text.

Edges point in install order: ``parent --> child`` means Flux applies ``child`` only after
``parent`` is Ready (``child`` lists ``parent`` in ``spec.dependsOn``). Nodes and edges follow
:attr:`PlatformChart.components` (dependency order, ties by creation), so the text is stable and
can be committed (the graph block of ``docs/dependency-graph.md`` is checked against
:func:`default_mermaid`).
"""

from __future__ import annotations

import re

from .kernel.component import FluxDependency, PlatformComponent
from .kernel.platform_chart import PlatformChart

__all__ = ["default_mermaid", "dot", "mermaid"]

# Words Mermaid's flowchart grammar reserves: a node id equal to one of them breaks the chart.
_MERMAID_RESERVED = frozenset(
    {"end", "graph", "flowchart", "subgraph", "style", "class", "classDef", "click", "linkStyle", "direction"}
)


def _edges(
    platform: PlatformChart,
) -> tuple[list[PlatformComponent], list[tuple[PlatformComponent, PlatformComponent]]]:
    """Components in dependency order and ``(parent, child)`` edges in the same order.

    Args:
        platform: the tree.

    Returns:
        The components and the in-tree edges, child by child, parents in ``dependsOn`` order.
    """
    components = platform.components
    edges = [(dep, child) for child in components for dep in child.dependencies]
    return components, edges


def _external(platform: PlatformChart) -> list[tuple[FluxDependency, PlatformComponent]]:
    """Edges to Flux Kustomizations outside the tree (``add_flux_dependency``), in order."""
    # FluxDependency entries are kept privately by the component; they are part of its dependsOn.
    return [(dep, child) for child in platform.components for dep in getattr(child, "_external_dependencies", [])]


def _external_nodes(external: list[tuple[FluxDependency, PlatformComponent]]) -> list[FluxDependency]:
    """The outside Kustomizations of ``external``, each once, in order."""
    return list(dict.fromkeys(dep for dep, _ in external))


def _mermaid_id(name: str, prefix: str = "") -> str:
    """A Mermaid node id for a DNS-1123 name: ``-`` becomes ``_`` (injective: names have no ``_``)."""
    node = prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)
    return node + "_" if node in _MERMAID_RESERVED else node


def mermaid(platform: PlatformChart) -> str:
    """The platform's Flux ``dependsOn`` graph as a Mermaid flowchart.

    Args:
        platform: a PlatformChart such as ``CorePlatform(App(), "core")``.

    Returns:
        Mermaid text (``flowchart TD``), one node per component labelled with its Flux
        Kustomization name, one ``parent --> child`` edge per dependsOn entry, ending in a
        newline. Kustomizations outside the tree appear as dashed nodes with dotted edges.
    """
    components, edges = _edges(platform)
    lines = ["flowchart TD"]
    lines += [f'  {_mermaid_id(c.name)}["{c.flux_name}"]' for c in components]
    external = _external(platform)
    seen = _external_nodes(external)
    lines += [f'  {_mermaid_id(f"{d.namespace}-{d.name}", "ext_")}["{d.namespace}/{d.name}"]' for d in seen]
    lines += [f"  {_mermaid_id(parent.name)} --> {_mermaid_id(child.name)}" for parent, child in edges]
    lines += [
        f"  {_mermaid_id(f'{d.namespace}-{d.name}', 'ext_')} -.-> {_mermaid_id(child.name)}" for d, child in external
    ]
    if seen:
        ids = ",".join(_mermaid_id(f"{d.namespace}-{d.name}", "ext_") for d in seen)
        lines.append("  classDef external stroke-dasharray: 5 5")
        lines.append(f"  class {ids} external")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    """A double-quoted DOT id."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(platform: PlatformChart) -> str:
    """The platform's Flux ``dependsOn`` graph in Graphviz DOT.

    Args:
        platform: a PlatformChart such as ``CorePlatform(App(), "core")``.

    Returns:
        A ``digraph`` named after the tree path, nodes labelled with Flux Kustomization names,
        edges ``parent -> child`` (install order), ending in a newline. Render it with
        ``dot -Tsvg``.
    """
    components, edges = _edges(platform)
    lines = [f"digraph {_dot_quote(platform.tree_path)} {{", "  rankdir=TB;", "  node [shape=box];"]
    lines += [f"  {_dot_quote(c.flux_name)};" for c in components]
    external = _external(platform)
    seen = _external_nodes(external)
    lines += [f"  {_dot_quote(f'{d.namespace}/{d.name}')} [style=dashed];" for d in seen]
    lines += [f"  {_dot_quote(p.flux_name)} -> {_dot_quote(c.flux_name)};" for p, c in edges]
    lines += [
        f"  {_dot_quote(f'{d.namespace}/{d.name}')} -> {_dot_quote(c.flux_name)} [style=dashed];" for d, c in external
    ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def default_mermaid() -> str:
    """Mermaid text of the default platform, ``CorePlatform(App(), "core")``.

    Returns:
        What ``mermaid(CorePlatform(App(), "core"))`` returns (and the CLI's ``graph`` prints).
    """
    from cdk8s import App  # after the package import chose jsii's Node

    from .platform import CorePlatform

    return mermaid(CorePlatform(App(), "core"))
