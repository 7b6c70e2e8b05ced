"""The generated docs cannot drift: every registered page and block, knob cross-check, diagrams."""

from __future__ import annotations

import inspect
import re
from typing import Any

import cdk8s
import pytest

from sre_constructs import CorePlatform, PlatformChart, PlatformComponent, render_tree
from sre_constructs.diagram import default_mermaid, dot, mermaid
from sre_constructs.docs import (
    GRAPH_END,
    GRAPH_START,
    Block,
    DocsError,
    Folder,
    Page,
    check_knobs,
    generated,
    graph_of,
    main,
    render_pages,
)
from sre_constructs.platform import SERVICES

from .conftest import REPO

DOCS = REPO / "docs" / "services"
GRAPH_PAGE = REPO / "docs" / "dependency-graph.md"  # the page with the dependency-graph block


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    """What the generator produces now (two default platforms, synthesized once)."""
    return render_pages()


@pytest.fixture(scope="module")
def core() -> CorePlatform:
    return CorePlatform(cdk8s.App(), "core")


# --------------------------------------------------------------------------- pages


def test_one_page_per_service(pages: dict[str, str]) -> None:
    assert list(pages) == [f"{spec.name}.md" for spec in SERVICES]
    committed = sorted(p.name for p in DOCS.glob("*.md"))
    assert committed == sorted(pages), "run `python -m sre_constructs.docs` and commit docs/services"


@pytest.mark.parametrize("name", [spec.name for spec in SERVICES])
def test_committed_page_is_current(pages: dict[str, str], name: str) -> None:
    path = DOCS / f"{name}.md"
    assert path.is_file(), f"{path} is missing: run `python -m sre_constructs.docs`"
    assert path.read_text(encoding="utf-8") == pages[f"{name}.md"], (
        f"{path} is stale: run `python -m sre_constructs.docs` and commit the result"
    )


def test_generation_is_deterministic(pages: dict[str, str]) -> None:
    assert render_pages() == pages


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_every_signature_knob_is_on_its_page(pages: dict[str, str], spec: Any) -> None:
    page = pages[f"{spec.name}.md"]
    params = [p for p in inspect.signature(spec.construct.__init__).parameters if p not in ("self", "scope", "id")]
    assert params
    for knob in params:
        assert f"| `{knob}` |" in page, f"{spec.name}: knob {knob} missing from the Knobs table"


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_page_content_comes_from_the_platform(pages: dict[str, str], core: CorePlatform, spec: Any) -> None:
    page = pages[f"{spec.name}.md"]
    component = getattr(core, spec.attribute)
    files = render_tree(core)
    for release in component.releases:
        assert f"| `{release.release_name}` | `{release.namespace}` | `{release.chart}` | `{release.version}` |" in page
    for namespace, security in component.pod_security.items():
        assert f"| `{namespace}` | `{security.level}` |" in page
        if security.reason:
            assert security.reason in page
    for namespace, need in component.network_needs:
        assert f"| `{namespace}` | `allow-{need.name}` | {need.direction} |" in page
    for dep in component.dependencies:
        assert f"`{dep.flux_name}`" in page.split("## Flux dependsOn", 1)[1]
    own = [p for p in files if p.startswith(f"{component.name}/") and not p.endswith("kustomization.yaml")]
    for path in own:
        assert f"`core/{path}`" in page


# --------------------------------------------------------------------------- knob cross-check


class _Documented(PlatformComponent):
    """A test service.

    Knobs (all keyword arguments):

    - ``replicas``: how many. Default ``2``.
    - ``mode``: which. Default ``fast``.
    """

    def __init__(self, scope: Any, id: str, *, replicas: int = 2, mode: str = "fast") -> None:
        super().__init__(scope, id)


class _Undocumented(PlatformComponent):
    """A test service.

    Knobs (all keyword arguments):

    - ``replicas``: how many. Default ``2``.
    """

    def __init__(self, scope: Any, id: str, *, replicas: int = 2, secret_knob: bool = False) -> None:
        super().__init__(scope, id)


class _WrongDefault(PlatformComponent):
    """A test service.

    Knobs (all keyword arguments):

    - ``replicas``: how many. Default ``3``.
    """

    def __init__(self, scope: Any, id: str, *, replicas: int = 2) -> None:
        super().__init__(scope, id)


class _Stale(PlatformComponent):
    """A test service.

    Knobs (all keyword arguments):

    - ``replicas``: how many. Default ``2``.
    - ``gone``: removed long ago. Default ``True``.
    """

    def __init__(self, scope: Any, id: str, *, replicas: int = 2) -> None:
        super().__init__(scope, id)


def test_knobs_parse_with_defaults() -> None:
    knobs = check_knobs(_Documented)
    assert [(k.name, k.default, k.signature_default, k.annotation) for k in knobs] == [
        ("replicas", "2", 2, "int"),
        ("mode", "fast", "fast", "str"),
    ]


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_Undocumented, "signature parameter 'secret_knob' is missing from the docstring"),
        (_WrongDefault, "documented default '3', signature default '2'"),
        (_Stale, "documented knob 'gone' is not a constructor parameter"),
    ],
)
def test_knob_mismatch_fails_loudly(cls: type, message: str) -> None:
    with pytest.raises(DocsError, match=re.escape(message)):
        check_knobs(cls)


@pytest.mark.parametrize("spec", SERVICES, ids=[s.name for s in SERVICES])
def test_service_docstrings_match_signatures(spec: Any) -> None:
    knobs = check_knobs(spec.construct)
    assert [k.name for k in knobs] == [
        p for p in inspect.signature(spec.construct.__init__).parameters if p not in ("self", "scope", "id")
    ]


# --------------------------------------------------------------------------- the entry point


def test_graph_block_is_current() -> None:
    text = GRAPH_PAGE.read_text(encoding="utf-8")
    assert text.count(GRAPH_START) == 1 and text.count(GRAPH_END) == 1
    assert graph_of(text) == mermaid(CorePlatform(cdk8s.App(), "core")), (
        f"{GRAPH_PAGE.name}: the graph is stale: run `python -m sre_constructs.docs`"
    )


def test_every_entry_is_in_the_repository() -> None:
    entries = generated(sorted((REPO / "clusters").glob("*.yaml")))
    blocks = [e for e in entries if isinstance(e, Block)]
    assert {(e.start, e.end) for e in blocks} >= {(GRAPH_START, GRAPH_END)}
    for entry in entries:
        path = REPO / entry.path
        assert path.is_dir() if isinstance(entry, Folder) else path.is_file(), entry
        if isinstance(entry, Block):
            text = path.read_text(encoding="utf-8")
            assert text.count(entry.start) == 1 and text.count(entry.end) == 1, entry
    assert [e.path for e in entries if isinstance(e, Folder)] == ["docs/services", "docs/access"]
    pages = [e.path for e in entries if isinstance(e, Page)]
    assert {"docs/tenants.md", "docs/alerts.md", "docs/dashboards.md"} <= set(pages)


def test_main_check_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--root", str(REPO)]) == 0


def _copy_of_the_repository(tmp_path: Any) -> Any:
    """The files the generator reads or writes, copied to ``tmp_path``."""
    import shutil

    for entry in generated([]):
        source = REPO / entry.path
        if isinstance(entry, Folder):
            shutil.copytree(source, tmp_path / entry.path, dirs_exist_ok=True)
        else:
            (tmp_path / entry.path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp_path / entry.path)
    shutil.copytree(REPO / "clusters", tmp_path / "clusters")
    return tmp_path


def test_main_check_reports_a_stale_page(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy_of_the_repository(tmp_path)
    out = root / "docs" / "services"
    assert main(["--check", "--root", str(root)]) == 0
    (out / "istio.md").write_text("edited by hand\n", encoding="utf-8")
    (out / "retired.md").write_text("an old service\n", encoding="utf-8")
    assert main(["--check", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert "istio.md" in err and "retired.md" in err
    assert main(["--root", str(root)]) == 0
    assert not (out / "retired.md").exists()
    assert (out / "istio.md").read_text(encoding="utf-8") == (DOCS / "istio.md").read_text(encoding="utf-8")
    assert main(["--check", "--root", str(root)]) == 0


def test_main_rewrites_a_stale_block_and_keeps_the_page_around_it(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _copy_of_the_repository(tmp_path)
    page = root / GRAPH_PAGE.relative_to(REPO)
    committed = page.read_text(encoding="utf-8")
    page.write_text(committed.replace("istio --> cert_manager", "cert_manager --> istio"), encoding="utf-8")
    assert main(["--check", "--root", str(root)]) == 1
    assert str(page) in capsys.readouterr().err
    assert main(["--root", str(root)]) == 0
    assert page.read_text(encoding="utf-8") == committed


def test_a_block_without_its_markers_fails_loudly(tmp_path: Any) -> None:
    root = _copy_of_the_repository(tmp_path)
    page = root / GRAPH_PAGE.relative_to(REPO)
    page.write_text(page.read_text(encoding="utf-8").replace(GRAPH_END, ""), encoding="utf-8")
    with pytest.raises(DocsError, match=re.escape(f"{page}: expected {GRAPH_START} ... {GRAPH_END}")):
        main(["--check", "--root", str(root)])


# --------------------------------------------------------------------------- diagrams


def _tree_edges(core: CorePlatform) -> set[tuple[str, str]]:
    """(parent, child) from the rendered Flux Kustomizations' dependsOn."""
    import yaml

    edges = set()
    for path, data in render_tree(core).items():
        if path.startswith("components/"):
            doc = yaml.safe_load(data)
            edges |= {(dep["name"], doc["metadata"]["name"]) for dep in doc["spec"].get("dependsOn", [])}
    return edges


def test_mermaid_matches_the_tree(core: CorePlatform) -> None:
    text = mermaid(core)
    assert text.startswith("flowchart TD\n") and text.endswith("\n")
    ids = dict(re.findall(r'^  (\w+)\["([^"]+)"\]$', text, re.MULTILINE))
    assert list(ids.values()) == [c.flux_name for c in core.components]
    edges = {(ids[a], ids[b]) for a, b in re.findall(r"^  (\w+) --> (\w+)$", text, re.MULTILINE)}
    assert edges == _tree_edges(core)
    assert ("istio", "istio-config") in edges and ("openbao", "external-secrets") in edges
    assert default_mermaid() == text


def test_dot_matches_the_tree(core: CorePlatform) -> None:
    text = dot(core)
    assert text.startswith('digraph "core" {') and text.endswith("}\n")
    edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)";$', text, re.MULTILINE))
    assert edges == _tree_edges(core)
    nodes = re.findall(r'^  "([^"]+)";$', text, re.MULTILINE)
    assert nodes == [c.flux_name for c in core.components]


def test_graph_with_prefix_and_external_dependency() -> None:
    app = cdk8s.App()
    team = PlatformChart(app, "team", path="apps/team", name_prefix="team-")
    api = PlatformComponent(team, "api", namespace="api")
    worker = PlatformComponent(team, "end", namespace="worker")  # `end` is a Mermaid keyword
    worker.depends_on(api)
    api.add_flux_dependency("monitoring")
    text = mermaid(team)
    assert '  api["team-api"]' in text and '  end_["team-end"]' in text
    assert "  api --> end_" in text
    assert '  ext_flux_system_monitoring["flux-system/monitoring"]' in text
    assert "  ext_flux_system_monitoring -.-> api" in text
    graph = dot(team)
    assert '"team-api" -> "team-end";' in graph
    assert '"flux-system/monitoring" -> "team-api" [style=dashed];' in graph
