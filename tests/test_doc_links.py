"""Every relative link of the README and the docs leads somewhere: a file, and the heading it names.

Links are read as GitHub renders them: inline links and images (``[text](target)``) and reference
definitions (``[name]: target``), outside code fences, inline code and HTML comments. Anchors
follow GitHub's heading slugs: the heading's text lowercased, every character that is not a
letter, digit, ``-``, ``_`` or space dropped, each space turned into ``-``; the second heading
with the same slug gets ``-1``, the third ``-2``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import REPO

PAGES = [
    REPO / "README.md",
    *sorted((REPO / "docs").rglob("*.md")),
    *sorted((REPO / "clusters").rglob("*.md")),
]
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(?P<text>.*?)\s*#*\s*$")
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?(?P<target>[^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s+.*)?$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"(?P<name>[^\"]+)\"")


def _prose_lines(text: str) -> list[str]:
    """The lines outside code fences, with HTML comments blanked out."""
    text = _COMMENT.sub(lambda m: "\n" * m[0].count("\n"), text)
    lines: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match[1]
        elif fence is not None and match and match[1] == fence:
            fence = None
        elif fence is None:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's Markdown text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page offers: its headings' slugs, de-duplicated as GitHub does, and HTML anchors."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose_lines(text):
        heading = _HEADING.match(line)
        if heading:
            base = slug(heading["text"])
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
        found.update(m["name"] for m in _HTML_ANCHOR.finditer(line))
    return found


def links(text: str) -> list[str]:
    """Every link target of a page, in order."""
    found: list[str] = []
    for line in _prose_lines(text):
        reference = _REFERENCE.match(line)
        if reference:
            found.append(reference["target"])
            continue
        found += [m["target"] for m in _INLINE.finditer(_CODE_SPAN.sub("", line))]
    return found


def broken(page: Path) -> list[str]:
    """The relative links of ``page`` that lead to no file, or to no such heading."""
    problems: list[str] = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("//"):
            continue  # absolute: https:, mailto:, ...
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            problems.append(f"{target}: no file {destination}")
        elif anchor and destination.is_file() and anchor not in anchors(destination.read_text(encoding="utf-8")):
            problems.append(f"{target}: no heading #{anchor} in {destination.name}")
    return problems


def test_the_pages_are_there() -> None:
    names = {p.relative_to(REPO).as_posix() for p in PAGES}
    assert {"README.md", "docs/tenants.md", "docs/services/istio.md", "clusters/README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken(page) == []


def test_slugs_follow_github() -> None:
    assert slug("What `make` sets up") == "what-make-sets-up"
    assert slug("A platform team's own component") == "a-platform-teams-own-component"
    assert slug("Air-gapped clusters and OCI charts") == "air-gapped-clusters-and-oci-charts"
    assert slug("Step 2: the [plan](plan.md), 50% faster!") == "step-2-the-plan-50-faster"
    assert slug("snake_case  and   spaces") == "snake_case--and---spaces"
    page = '# Notes\n\n## Notes\n\n```\n# not a heading\n```\n\n## Notes\n<a name="old-name"></a>\n'
    assert anchors(page) == {"notes", "notes-1", "notes-2", "old-name"}


def test_broken_links_are_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other page\n\n## Its part\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "# Title\n\n"
        "[ok](docs/other.md) [ok](docs/other.md#its-part) [ok](#title) [ok](docs/) [web](https://x.org/#y)\n"
        "[missing](docs/gone.md) [no heading](docs/other.md#nothing) [here](#nowhere)\n"
        "`[in code](docs/gone.md)` <!-- [in a comment](docs/gone.md) -->\n\n"
        "```\n[in a fence](docs/gone.md)\n```\n\n"
        "[ref]: docs/also-gone.md\n",
        encoding="utf-8",
    )
    problems = broken(page)
    assert [p.split(":")[0] for p in problems] == [
        "docs/gone.md",
        "docs/other.md#nothing",
        "#nowhere",
        "docs/also-gone.md",
    ]
