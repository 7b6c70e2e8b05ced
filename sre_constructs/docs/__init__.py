"""Write the pages and blocks of the docs that come from the code: ``python -m sre_constructs.docs``.

Run from the repository root::

    python -m sre_constructs.docs            # writes every generated page and block
    python -m sre_constructs.docs --check    # writes nothing; exit 1 if any of them is stale (CI)

Every generated file is one entry of :func:`generated`, the registration point. To add a page,
write a function that returns its Markdown beside the concept it documents (as
``tenancy/docs_page.py`` does for ``docs/tenants.md``), then add one import and one entry::

    from ..alerts_page import render_alerts_page           # with the imports of this module
    Page("docs/alerts.md", render_alerts_page),            # in the list generated() returns

- :class:`Page`: a whole file, ``render() -> str``.
- :class:`Block`: the text between two markers (``<!-- name:start -->`` ... ``<!-- name:end -->``)
  of a hand-written page; ``render() -> str`` gives what goes between them.
- :class:`Folder`: one file per key of ``render() -> dict[str, str]``; any other ``*.md`` in the
  folder is stale (a page of a service that no longer exists).

Paths are relative to the repository root (``--root``). A renderer that needs the example cluster
files closes over ``clusters``, the argument of :func:`generated`. Each entry must be
deterministic: ``tests/test_docs.py`` checks every committed file against it through ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..alerts.docs_page import render_alerts_page
from ..dashboards.docs_page import render_dashboards_page
from ..edge.access_docs import access_pages
from ..plan.docs_block import BRINGUP_END, BRINGUP_START, bringup_block
from ..tenancy.docs_page import render_tenant_page
from ._markdown import replace_block
from .graph import GRAPH_END, GRAPH_START, graph, graph_of
from .knobs import DocsError, Knob, check_knobs
from .service_pages import render_pages

__all__ = [
    "GRAPH_END",
    "GRAPH_START",
    "Block",
    "DocsError",
    "Folder",
    "Knob",
    "Page",
    "check_knobs",
    "generated",
    "graph_of",
    "main",
    "render_pages",
]


@dataclass(frozen=True)
class Page:
    """A generated file: ``path`` holds exactly what ``render`` returns."""

    path: str
    render: Callable[[], str]


@dataclass(frozen=True)
class Block:
    """A generated block of a hand-written file, between the ``start`` and ``end`` markers."""

    path: str
    start: str
    end: str
    render: Callable[[], str]

    def fill(self, text: str, where: Path) -> str:
        """``text`` (the file at ``where``) with the block between the markers rendered anew.

        Raises:
            DocsError: the markers are missing or out of order.
        """
        try:
            return replace_block(text, self.start, self.end, self.render())
        except ValueError:
            raise DocsError(f"{where}: expected {self.start} ... {self.end} around the generated block") from None


@dataclass(frozen=True)
class Folder:
    """A folder of generated files, one per key of what ``render`` returns; other ``*.md`` are stale."""

    path: str
    render: Callable[[], dict[str, str]]


def generated(clusters: Sequence[Path]) -> list[Page | Block | Folder]:
    """Every generated page, block and folder: THE registration point (one import + one entry).

    Args:
        clusters: the example cluster files (``clusters/*.yaml``), for entries that show them.
    """
    return [
        Folder("docs/services", render_pages),
        Page("docs/tenants.md", render_tenant_page),
        Page("docs/alerts.md", render_alerts_page),
        Page("docs/dashboards.md", render_dashboards_page),
        Folder("docs/access", lambda: access_pages(clusters)),
        Block("docs/dependency-graph.md", GRAPH_START, GRAPH_END, graph),
        Block("docs/bringing-up-a-cluster.md", BRINGUP_START, BRINGUP_END, lambda: bringup_block(clusters)),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or with ``--check`` verify) every entry of :func:`generated`.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0, or 1 when ``--check`` finds a stale file.
    """
    parser = argparse.ArgumentParser(prog="python -m sre_constructs.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="the repository root (default: the working directory)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale")
    args = parser.parse_args(argv)

    root = Path(args.root)
    wanted: dict[Path, str] = {}
    extra: list[Path] = []
    for entry in generated(sorted((root / "clusters").glob("*.yaml"))):
        path = root / entry.path
        if isinstance(entry, Page):
            wanted[path] = entry.render()
        elif isinstance(entry, Block):
            # Several blocks of one file each fill their own markers in the text so far.
            current = wanted.get(path, path.read_text(encoding="utf-8") if path.is_file() else "")
            wanted[path] = entry.fill(current, path)
        else:
            files = {path / name: text for name, text in entry.render().items()}
            wanted.update(files)
            extra += sorted(p for p in path.glob("*.md") if p not in files) if path.is_dir() else []
    stale = [path for path, text in wanted.items() if not path.is_file() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in [*stale, *extra]:
            print(f"stale: {path}", file=sys.stderr)
        if stale or extra:
            print("run `python -m sre_constructs.docs` and commit the result", file=sys.stderr)
            return 1
        return 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path], encoding="utf-8")
        print(f"wrote {path}")
    for path in extra:
        path.unlink()
        print(f"removed {path}")
    return 0
