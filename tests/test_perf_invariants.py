"""Invariants behind the synth's speed (no wall-clock assertions): jsii round-trips per tree, the
unchecked struct construction, the YAML writer and the durable staging step.

Each test pins a mechanism with a count or a byte comparison, so a change that silently brings
back per-object jsii requests, typeguard checks, PyYAML's representer or per-file fsyncs fails here
rather than only in ``bench/bench.py``.
"""

from __future__ import annotations

import collections
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import ApiObject, App
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsii._kernel.providers import process as jsii_process

from sre_constructs import CorePlatform, write_tree
from sre_constructs.kernel import flux_structs
from sre_constructs.kernel import sources as sources_module
from sre_constructs.kernel import staging as staging_module
from sre_constructs.kernel.tree import dump_yaml, render_tree
from sre_constructs.kernel.yaml_out import Unsupported, dump_documents

# -- jsii round-trips ------------------------------------------------------------------------

# Measured with this version: build 132 creates + 7 other requests, render 43 requests (35 of
# them the toJson of the Flux objects); the alerts add one create per emitted object (a
# PrometheusRule per component with rules, the PodMonitors they need): 145 creates. The bounds
# leave a little room for cdk8s upgrades, not for a request per object or per component.
MAX_CREATES_PER_TREE = 150
MAX_OTHER_BUILD_REQUESTS_PER_TREE = 12
MAX_RENDER_REQUESTS_PER_TREE = 50


@pytest.fixture
def jsii_requests(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Every request this process sends to the jsii kernel, counted by kind (Create, Get, ...)."""
    counts: collections.Counter[str] = collections.Counter()
    send = jsii_process._NodeProcess.send

    def counting(self: Any, request: Any, response_type: Any) -> Any:
        counts[type(request).__name__.removesuffix("Request")] += 1
        return send(self, request, response_type)

    monkeypatch.setattr(jsii_process._NodeProcess, "send", counting)
    return counts


def test_jsii_requests_to_build_and_render_one_tree(jsii_requests: collections.Counter[str]) -> None:
    app = App()
    jsii_requests.clear()
    core = CorePlatform(app, "core")
    creates = jsii_requests["Create"]
    other = sum(jsii_requests.values()) - creates
    assert creates <= MAX_CREATES_PER_TREE, dict(jsii_requests)
    # No node.path / node.scope / Chart.of per construct: paths and charts come from Python caches.
    assert other <= MAX_OTHER_BUILD_REQUESTS_PER_TREE, dict(jsii_requests)
    jsii_requests.clear()
    files = render_tree(core)
    assert sum(jsii_requests.values()) <= MAX_RENDER_REQUESTS_PER_TREE, dict(jsii_requests)
    # One toJson per Flux object (Manifests render in Python), no per-component findAll.
    assert jsii_requests["Invoke"] <= 40, dict(jsii_requests)
    assert len(files) > 60


def test_jsii_requests_grow_linearly_with_trees(jsii_requests: collections.Counter[str], tmp_path: Path) -> None:
    """A further tree in the same App costs what one tree costs: nothing scans all the others."""

    def cost(trees: int) -> int:
        app = App()
        jsii_requests.clear()
        for i in range(trees):
            CorePlatform(app, f"c{i}", path=f"clusters/c{i}/core")
        write_tree(app, tmp_path / f"out{trees}")
        return sum(jsii_requests.values())

    one, three = cost(1), cost(3)
    assert three - one <= 2 * (one + 2), (one, three)


# -- unchecked structs -------------------------------------------------------------------------


def test_flux_structs_are_built_without_runtime_type_checks() -> None:
    """With this jsii, the self-check at import accepted the unchecked construction."""
    assert flux_structs.CHECKED is False
    assert sources_module._CHECKED is False


@pytest.mark.parametrize("chart_source", ["helm", "oci"])
def test_unchecked_structs_give_the_same_tree(monkeypatch: pytest.MonkeyPatch, chart_source: str) -> None:
    def tree() -> dict[str, bytes]:
        app = App()
        return render_tree(CorePlatform(app, "core", chart_source=chart_source, name_prefix="sre-"))

    fast = tree()
    monkeypatch.setattr(flux_structs, "CHECKED", True)
    monkeypatch.setattr(sources_module, "_CHECKED", True)
    assert tree() == fast


# -- render_tree without per-component walks ---------------------------------------------------


def test_object_made_directly_in_a_component_lands_in_its_folder() -> None:
    """An ApiObject the component did not make itself sends render_tree down the find_all path."""
    app = App()
    core = CorePlatform(app, "core")
    assert core.istio is not None
    ApiObject(core.istio, "extra", api_version="v1", kind="ConfigMap", metadata={"name": "extra", "namespace": "x"})
    files = render_tree(core)
    assert yaml.safe_load(files["istio/configmap.yaml"])["metadata"]["name"] == "extra"
    assert "configmap.yaml" in yaml.safe_load(files["istio/kustomization.yaml"])["resources"]


# -- durable staging ---------------------------------------------------------------------------


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    fsync = os.fsync

    def counting(fd: int) -> None:
        calls[0] += 1
        fsync(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_staging_uses_one_syncfs_not_an_fsync_per_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if staging_module._libc_syncfs() is None:
        pytest.skip("no syncfs on this platform")
    calls = _count_fsyncs(monkeypatch)
    app = App()
    CorePlatform(app, "a", path="a")
    CorePlatform(app, "b", path="b")
    written = write_tree(app, tmp_path)
    assert len(written) > 100
    assert calls[0] <= 2  # the parent folder after each swap


def test_staging_falls_back_to_fsync_per_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core")
    fast = write_tree(app, tmp_path / "fast")
    monkeypatch.setattr(staging_module, "_syncfs", lambda path: False)
    calls = _count_fsyncs(monkeypatch)
    slow = write_tree(app, tmp_path / "slow")
    assert calls[0] > len(slow)  # every file, every folder
    assert [p.read_bytes() for p in fast] == [p.read_bytes() for p in slow]


# -- the YAML writer ---------------------------------------------------------------------------


def _pyyaml(documents: list[Any]) -> bytes:
    text = yaml.dump_all(
        documents,
        Dumper=yaml.CSafeDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        explicit_start=False,
    )
    return str(text).encode("utf-8")


def test_yaml_writer_reproduces_every_file_of_the_default_tree(default_tree: Path) -> None:
    files = sorted(p for p in default_tree.rglob("*.yaml"))
    assert len(files) > 60
    for path in files:
        raw = path.read_bytes()
        documents = list(yaml.safe_load_all(raw))
        assert dump_documents(documents).encode("utf-8") == raw, path  # no fallback to PyYAML


# Characters that make YAML scalars special: indicators, quotes, breaks, spaces, escapes, a tab,
# non-ASCII and a byte-order mark; plus words YAML 1.1 reads as booleans, null, numbers or dates.
_NASTY = st.sampled_from(
    [
        "",
        " ",
        "\n",
        "-",
        ":",
        "#",
        "'",
        '"',
        "?",
        "[",
        "]",
        "{",
        "}",
        ",",
        "&",
        "*",
        "!",
        "|",
        ">",
        "%",
        "@",
        "`",
        "\\",
        "\t",
        "\r",
        ".",
        "---",
        "...",
        "=",
        "<<",
        "~",
        "é",
        "\u2028",
        "\ufeff",
        "a",
        "Z",
        "0",
        "7",
        "_",
        "/",
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "null",
        "Null",
        "true",
        "False",
        "1e3",
        "0x1f",
        "0o17",
        "012",
        "1_000",
        "+1",
        "-.5",
        ".inf",
        ".NaN",
        "2024-01-02",
        "2001-12-14t21:59:43.10-05:00",
        "1:20",
        "a: b",
        "a #b",
    ]
)
_ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\n"), max_size=12)


def _documents(text: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
    data = st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
        max_leaves=24,
    )
    return st.lists(st.dictionaries(text, data, min_size=1, max_size=5), min_size=1, max_size=3)


# Any text (non-ASCII and control characters make the fast writer decline the file) ...
_DOCUMENTS = _documents(st.lists(_NASTY, max_size=6).map("".join) | _ASCII_TEXT | st.text(max_size=6))
# ... and printable ASCII with line breaks, which it writes itself nearly always.
_ASCII_NASTY = _NASTY.filter(lambda piece: all(" " <= c <= "~" or c == "\n" for c in piece))
_DOCUMENTS_ASCII = _documents(st.lists(_ASCII_NASTY, max_size=6).map("".join) | _ASCII_TEXT)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS | _DOCUMENTS_ASCII)
def test_yaml_writer_equals_pyyaml_or_declines(documents: list[dict[str, Any]]) -> None:
    expected = _pyyaml(documents)
    with contextlib.suppress(Unsupported):
        assert dump_documents(documents).encode("utf-8") == expected
    written = dump_yaml(documents)
    assert written == expected
    assert list(yaml.safe_load_all(written)) == documents


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS_ASCII)
def test_yaml_writer_handles_printable_ascii_itself(documents: list[dict[str, Any]]) -> None:
    """Printable ASCII data goes through the fast writer (the PyYAML fallback stays rare), with
    PyYAML's bytes: the fallback only for floats PyYAML tags explicitly, or long strings."""
    try:
        text = dump_documents(documents)
    except Unsupported:
        return
    assert text.encode("utf-8") == _pyyaml(documents)


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "with space",
        "a:b",
        "true",
        "yes",
        "012",
        "1.5",
        "",
        "it's",
        "- x",
        "two\nlines\n",
        "  indented\n  block",
        'quote " and \\ back',
        1.5,
        1e17,
        -0.0,
        float("inf"),
        None,
        True,
        0,
    ],
)
def test_yaml_writer_fast_path_cases(value: Any) -> None:
    """Common shapes go through the fast writer (no Unsupported), with PyYAML's exact bytes."""
    documents: list[Any] = [{"k": value, "l": [value, {"m": [value]}], "e": {}, "f": []}]
    assert dump_documents(documents).encode("utf-8") == _pyyaml(documents)


def test_yaml_writer_declines_shared_objects() -> None:
    shared = {"a": 1}
    documents = [{"x": shared, "y": shared}]
    with pytest.raises(Unsupported):
        dump_documents(documents)
    assert dump_yaml(documents) == _pyyaml(documents)  # anchors and aliases, as before


# -- no reference cycles ----------------------------------------------------------------------

_CYCLE_PROBE = """
import gc, sys
import sre_constructs
from cdk8s import App
from sre_constructs.cluster import load_cluster
import jsii._reference_map as refs

app = App()
sre_constructs.CorePlatform(app, "core", services={"monitoring": {"enabled": False}})
sre_constructs.build_fleet(app, [load_cluster(path) for path in sys.argv[2:]])
sre_constructs.write_tree(app, sys.argv[1])
gc.collect()
gc.disable()
del app
refs._refs._refs.clear()  # what interpreter exit does: drop jsii's hold on every construct
print(gc.collect())
"""


def test_trees_hold_no_reference_cycles(tmp_path: Path) -> None:
    """Objects point up at their chart and component weakly, so a tree is freed by reference
    counting: with cycles, Python's GC walks every object of every tree at interpreter exit
    (about 10 ms per tree on the benchmark machine)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _CYCLE_PROBE,
            str(tmp_path / "out"),
            *map(str, sorted((repo / "clusters").glob("*.yaml"))),
        ],
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert result.stdout.split() == ["0"], result.stderr


def test_a_component_in_a_scope_made_on_the_node_side_survives_its_wrapper(tmp_path: Path) -> None:
    """jsii does not keep the Python wrapper of a construct made on the Node side (here an object
    cdk8s's ``Include`` made): the weak reference to such a scope dies, and the component asks jsii
    for its scope again."""
    import gc

    from cdk8s import App, Chart, Include

    from sre_constructs import PlatformComponent

    manifest = tmp_path / "configmap.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: included\n")
    included = Include(Chart(App(), "team"), "include", url=str(manifest))
    made_on_node = included.node.children[0]
    assert made_on_node is not included.node.children[0]  # a fresh wrapper each time: nothing keeps it
    component = PlatformComponent(made_on_node, "app", namespace="team-app", path="apps")  # in a tree
    del made_on_node
    gc.collect()
    assert component.__dict__["_sre_parent"][0]() is None
    companion = component.add_companion("config")
    assert companion.node.path == "team/include/included-configmap/app-config"
