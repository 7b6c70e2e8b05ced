"""The CRD schemas bundled in the package and their generator, tools/gen_schemas.py.

The generator's online path is tested with a fake fetcher (never the network); the drift test
regenerates from $SRE_CONSTRUCTS_CRDS, or when it is unset from ``../shared/crds`` beside the
repository, wherever that folder exists.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from sre_constructs.kernel.tree_check import CRDS_ENV, bundled_crds, crd_dirs_from_env
from sre_constructs.kernel.tree_check.crds import BUNDLE_FILE, read_bundle, strip_descriptions

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "sre_constructs" / "kernel" / "schemas"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_schemas", REPO / "tools" / "gen_schemas.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_schemas"] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _crd(group: str, kind: str, *, scope: str = "Namespaced", unserved: str | None = None) -> dict[str, Any]:
    schema = {
        "type": "object",
        "description": "dropped",
        "properties": {
            "spec": {
                "type": "object",
                "description": "dropped too",
                "properties": {
                    "description": {"type": "string", "description": "a field named description stays"},
                    "op": {"type": "string", "enum": ["=", "!="]},
                },
            }
        },
    }
    versions = [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]
    if unserved:
        versions.append({"name": unserved, "served": False, "storage": False, "schema": {"openAPIV3Schema": schema}})
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": f"{kind.lower()}s"},
            "versions": versions,
        },
    }


def _yaml(*docs: dict[str, Any]) -> bytes:
    # prometheus-operator writes a bare `=` (YAML 1.1 !!value): safe_dump quotes it, so unquote it.
    return yaml.safe_dump_all(docs, sort_keys=False).replace("- '='", "- =").encode()


@pytest.fixture
def upstream(tmp_path: Path) -> tuple[dict[str, Any], dict[str, bytes], Path]:
    """A two-file lock: one file with a URL (served by the fake fetcher), one rendered chart (from a folder)."""
    widgets = _yaml(_crd("example.com", "Widget", unserved="v1beta1"))
    gadgets = _yaml(_crd("example.org", "Gadget", scope="Cluster"))
    assert b"- =\n" in widgets
    rendered = tmp_path / "crds"
    (rendered / "gadgets").mkdir(parents=True)
    (rendered / "gadgets" / "gadgets.rendered.yaml").write_bytes(gadgets)
    url = "https://raw.githubusercontent.com/example/widgets/v1.2.3/crds/widgets.yaml"
    lock = {
        "sources": {
            "widgets": {"name": "Widgets", "repository": "example/widgets", "version": "v1.2.3", "path": "crds"},
            "gadgets": {"name": "Gadgets", "version": "0.1.0", "rendered": "`helm template` of the gadgets chart"},
        },
        "files": {
            "widgets/widgets.yaml": {"source": "widgets", "url": url, "sha256": hashlib.sha256(widgets).hexdigest()},
            "gadgets/gadgets.rendered.yaml": {
                "source": "gadgets",
                "url": None,
                "sha256": hashlib.sha256(gadgets).hexdigest(),
            },
        },
    }
    return lock, {url: widgets}, rendered


def test_online_generation_with_a_fake_fetcher(upstream: tuple[dict[str, Any], dict[str, bytes], Path]) -> None:
    lock, served, rendered = upstream
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return served[url]

    contents = gen.collect(lock, crds_dir=rendered, fetch=fetch)
    assert fetched == list(served)  # the rendered chart has no URL: read from the folder
    records = {r["kind"]: r for r in gen.build_records(lock, contents)}
    widget, gadget = records["Widget"], records["Gadget"]
    assert (widget["scope"], gadget["scope"]) == ("Namespaced", "Cluster")
    assert widget["source"] == "Widgets v1.2.3" and widget["file"] == "widgets/widgets.yaml"
    assert [(v["name"], v["served"], "schema" in v) for v in widget["versions"]] == [
        ("v1", True, True),
        ("v1beta1", False, False),  # unserved: recorded by name, no schema
    ]
    spec = widget["versions"][0]["schema"]["properties"]["spec"]
    assert "description" not in widget["versions"][0]["schema"] and "description" not in spec
    assert spec["properties"]["description"] == {"type": "string"}  # the field stays, its text goes
    assert spec["properties"]["op"]["enum"] == ["=", "!="]  # the bare `=` loads as a string


def test_online_generation_refuses_a_changed_file(upstream: tuple[dict[str, Any], dict[str, bytes], Path]) -> None:
    lock, served, rendered = upstream
    url = next(iter(served))
    with pytest.raises(gen.LockError) as caught:
        gen.collect(lock, crds_dir=rendered, fetch=lambda _: served[url] + b"# changed\n")
    message = str(caught.value)
    assert "widgets/widgets.yaml: sha256 " in message and url in message
    assert f"expected {lock['files']['widgets/widgets.yaml']['sha256']} (lock)" in message
    # Without the folder, the rendered chart cannot be had online: the lock says what it is.
    with pytest.raises(gen.LockError, match=r"gadgets/gadgets.rendered.yaml: not found \(no URL; Gadgets 0.1.0: `helm"):
        gen.collect(lock, crds_dir=None, fetch=lambda u: served[u])


def test_offline_generation_refuses_unlisted_files(upstream: tuple[dict[str, Any], dict[str, bytes], Path]) -> None:
    lock, served, rendered = upstream
    (rendered / "widgets").mkdir()
    (rendered / "widgets" / "widgets.yaml").write_bytes(next(iter(served.values())))
    assert set(gen.collect(lock, crds_dir=rendered, fetch=None)) == set(lock["files"])
    (rendered / "widgets" / "extra.yaml").write_bytes(b"{}\n")
    with pytest.raises(gen.LockError, match=r"widgets/extra.yaml: not in crds.lock.json"):
        gen.collect(lock, crds_dir=rendered, fetch=None)


def test_main_writes_a_deterministic_bundle_and_checks_it(
    tmp_path: Path, upstream: tuple[dict[str, Any], dict[str, bytes], Path]
) -> None:
    lock, served, rendered = upstream
    lock_file = tmp_path / "crds.lock.json"
    lock_file.write_text(json.dumps(lock), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["--online", "--from", str(rendered), "--lock", str(lock_file), "--out", str(out)]
    assert gen.main(argv, fetch=served.__getitem__) == 0
    first = (out / BUNDLE_FILE).read_bytes()
    assert gen.main(argv, fetch=served.__getitem__) == 0
    assert (out / BUNDLE_FILE).read_bytes() == first  # no timestamp in the gzip header
    assert gen.main([*argv, "--check"], fetch=served.__getitem__) == 0
    (out / BUNDLE_FILE).write_bytes(gen.bundle_bytes([]))
    assert gen.main([*argv, "--check"], fetch=served.__getitem__) == 1


def test_the_lock_names_every_bundled_file_with_its_upstream_url() -> None:
    lock = gen.read_lock()
    bundled = bundled_crds()
    assert {r["file"] for r in bundled} == set(lock["files"])
    for file, entry in lock["files"].items():
        source = lock["sources"][entry["source"]]
        if "rendered" in source:  # NeuVector ships chart templates: no raw CRD file upstream
            assert entry["url"] is None, file
            continue
        name = file.rpartition("/")[2]
        assert entry["url"] == (
            f"https://raw.githubusercontent.com/{source['repository']}/{source['version']}/{source['path']}/{name}"
        )
        assert len(entry["sha256"]) == 64


def test_the_bundle_records_served_versions_and_scope() -> None:
    crds = {(r["group"], r["kind"]): r for r in bundled_crds()}
    external_secret = crds[("external-secrets.io", "ExternalSecret")]
    served = {v["name"]: v["served"] for v in external_secret["versions"]}
    assert served["v1"] is True and served.get("v1beta1") is False
    assert external_secret["source"] == "External Secrets v2.9.0"
    assert crds[("cert-manager.io", "ClusterIssuer")]["scope"] == "Cluster"
    assert crds[("helm.toolkit.fluxcd.io", "HelmRelease")]["scope"] == "Namespaced"
    groups = {group for group, _ in crds}
    for group in (
        "kustomize.toolkit.fluxcd.io",
        "source.toolkit.fluxcd.io",
        "networking.istio.io",
        "kyverno.io",
        "policies.kyverno.io",
        "monitoring.coreos.com",
        "velero.io",
        "neuvector.com",
    ):
        assert group in groups
    text = json.dumps(bundled_crds())
    assert '"description": "' not in text  # no description keyword survives (fields named so do)
    assert (SCHEMAS / BUNDLE_FILE).stat().st_size < 200_000


def test_strip_descriptions_keeps_data() -> None:
    schema = {"description": "x", "default": {"description": "kept"}, "properties": {"description": {"type": "string"}}}
    assert strip_descriptions(schema) == {
        "default": {"description": "kept"},
        "properties": {"description": {"type": "string"}},
    }


def _main_checkout(repo: Path) -> Path:
    """The repository's main checkout: ``repo`` itself, or for a git worktree the folder holding
    the shared ``.git`` (read from the worktree's ``.git`` file, without running git)."""
    dot_git = repo / ".git"
    if not dot_git.is_file():
        return repo
    gitdir = Path(dot_git.read_text().removeprefix("gitdir:").strip())
    common = gitdir / "commondir"
    common_dir = (gitdir / common.read_text().strip()).resolve() if common.is_file() else gitdir
    return common_dir.parent


def crd_folders(repo: Path = REPO) -> tuple[list[Path], str]:
    """The CRD folders the drift test reads, and where it looked (for the skip line).

    ``$SRE_CONSTRUCTS_CRDS`` when set (what ``make test`` exports); else ``../shared/crds`` beside
    the repository, as the Makefile defaults it (beside the main checkout for a git worktree).
    """
    if os.environ.get(CRDS_ENV, "").strip():
        named = crd_dirs_from_env()
        return [d for d in named if d.is_dir()], f"{CRDS_ENV}={os.pathsep.join(map(str, named))}"
    beside = [checkout.parent / "shared" / "crds" for checkout in dict.fromkeys([repo, _main_checkout(repo)])]
    return [d for d in beside if d.is_dir()], " or ".join(map(str, beside))


def test_crd_folder_defaults_beside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CRDS_ENV, raising=False)
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    assert crd_folders(clone) == ([], str(tmp_path / "shared" / "crds"))  # a fresh clone: the test skips
    (tmp_path / "shared" / "crds").mkdir(parents=True)
    assert crd_folders(clone)[0] == [tmp_path / "shared" / "crds"]
    # A worktree elsewhere finds the folder beside the main checkout it belongs to.
    worktree, gitdir = tmp_path / "wt" / "feature", clone / ".git" / "worktrees" / "feature"
    worktree.mkdir(parents=True)
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text("../..\n")
    (worktree / ".git").write_text(f"gitdir: {gitdir}\n")
    assert crd_folders(worktree)[0] == [tmp_path / "shared" / "crds"]
    # The variable wins, as with `make test`.
    monkeypatch.setenv(CRDS_ENV, str(tmp_path / "elsewhere"))
    assert crd_folders(clone) == ([], f"{CRDS_ENV}={tmp_path / 'elsewhere'}")


def test_bundle_matches_the_pinned_crds() -> None:
    """Drift: regenerating from the CRD folder gives the committed bundle (`make schemas`)."""
    dirs, looked = crd_folders()
    if not dirs:
        pytest.skip(f"no CRD folder at {looked}: nothing to compare the bundle with (set {CRDS_ENV})")
    lock = gen.read_lock()
    records = gen.build_records(lock, gen.collect(lock, crds_dir=dirs[0], fetch=None))
    assert read_bundle(gen.bundle_bytes(records)) == bundled_crds(), "stale bundle: run `make schemas`"
