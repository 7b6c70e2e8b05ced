"""The dependency-graph block, generated inside a hand-written page (``docs/dependency-graph.md``).

The block sits between two HTML comment markers; the entry point (:mod:`sre_constructs.docs`)
replaces what is between them and leaves the rest of the page as written. The bring-up block
beside it comes from :func:`sre_constructs.plan.docs_block.bringup_block`.
"""

from __future__ import annotations

import re

from ..diagram import default_mermaid
from .knobs import DocsError

__all__ = ["GRAPH_END", "GRAPH_START", "graph", "graph_of"]

GRAPH_START = "<!-- graph:start -->"
GRAPH_END = "<!-- graph:end -->"


def graph() -> str:
    """The dependency-graph block: a Mermaid fence of the default platform's Flux Kustomizations."""
    return f"```mermaid\n{default_mermaid()}```\n"


def graph_of(text: str) -> str:
    """The Mermaid text between a page's graph markers (without the fence).

    Raises:
        DocsError: the markers or the fence are missing.
    """
    start, end = text.find(GRAPH_START), text.find(GRAPH_END)
    if start < 0 or end < start:
        raise DocsError(f"expected {GRAPH_START} ... {GRAPH_END} around the graph block")
    inner = text[start + len(GRAPH_START) : end].strip("\n")
    match = re.fullmatch(r"```mermaid\n(.*\n)```", inner, re.DOTALL)
    if match is None:
        raise DocsError("the graph block must be one ```mermaid fence")
    return match[1]
