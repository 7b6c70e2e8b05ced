"""Air-gap: a registry mirror rewrites every image the library sets and every chart source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cdk8s import App

from sre_constructs import CHARTS, CorePlatform, ValidationError, write_tree
from sre_constructs.airgap import MIRROR_KEYS, mirror_image, mirror_knobs, mirror_values
from sre_constructs.kernel.manifest import Manifest
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.services.backup import CHART_FACTS as VELERO_FACTS

from .conftest import load_docs

MIRROR = "registry.local:5000/platform"
_IMAGE_KEYS = {"image", "repository", "registry", "hub", "imageRegistry"}
_IMAGE_LIKE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]+)$")

(VELERO_PLUGIN,) = VELERO_FACTS.library_images  # the AWS plugin init container


def _image_refs(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, value) of every image-ish string: values of image keys, and strings shaped like images."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if isinstance(value, str) and (key in _IMAGE_KEYS or _IMAGE_LIKE.match(value)):
                found.append((here, value))
            else:
                found += _image_refs(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str) and _IMAGE_LIKE.match(value):
                found.append((f"{path}[{index}]", value))
            else:
                found += _image_refs(value, f"{path}[{index}]")
    return found


def _everything(core: CorePlatform) -> list[tuple[str, str]]:
    refs: list[tuple[str, str]] = []
    for component in core.components:
        for release in component._releases:
            refs += _image_refs(release.values, f"{component.name}/{release.release_name}")
        for node in component.node.find_all():
            if isinstance(node, Manifest):
                refs += _image_refs(node.body, node.node.path)
    return refs


def test_one_entry_per_chart() -> None:
    assert set(MIRROR_KEYS) == set(CHARTS)


@pytest.mark.parametrize("chart_source", ["helm", "oci"])
def test_no_image_outside_the_mirror(chart_source: str) -> None:
    core = CorePlatform(
        App(), "core", registry_mirror=MIRROR, chart_source=chart_source, services={"istio": {"gateway": True}}
    )
    refs = _everything(core)
    assert refs, "the walk found nothing: the test would pass vacuously"
    # "auto": the gateway's image comes from istiod's injector; "*": Kyverno policy patterns.
    outside = [(p, v) for p, v in refs if v != "auto" and "*" not in v and not v.startswith(MIRROR)]
    assert outside == []
    # Every chart got its keys, and the library's own images moved.
    for key, (_, keys) in MIRROR_KEYS.items():
        for dotted in keys:
            assert any(p.endswith("." + dotted) for p, _ in refs), (key, dotted)
    assert any(v == mirror_image(VELERO_PLUGIN, MIRROR) for _, v in refs)


def test_without_mirror_images_are_upstream() -> None:
    refs = _everything(CorePlatform(App(), "core"))
    assert not any(v.startswith(MIRROR) for _, v in refs)
    assert ("backup/velero.initContainers[0].image", VELERO_PLUGIN) in refs


def test_user_values_win_over_the_mirror() -> None:
    core = CorePlatform(
        App(),
        "core",
        registry_mirror=MIRROR,
        services={
            "monitoring": {"values": {"global": {"imageRegistry": "other.example"}}},
            "backup": {"values": {"initContainers": [{"name": "plugin", "image": "mine.example/plugin:v1"}]}},
        },
    )
    assert core.monitoring.release.values["global"]["imageRegistry"] == "other.example"
    assert core.backup.release.values["initContainers"][0]["image"] == "mine.example/plugin:v1"
    assert core.kyverno.release.values["global"]["image"]["registry"] == MIRROR


def test_overlay_table_examples() -> None:
    assert mirror_values("kube-prometheus-stack", MIRROR) == {"global": {"imageRegistry": MIRROR}}
    assert mirror_values("istio/istiod", MIRROR) == {"global": {"hub": f"{MIRROR}/istio"}}
    assert mirror_values("backup/velero", MIRROR)["image"]["repository"] == f"{MIRROR}/velero/velero"
    assert set(mirror_knobs("logging", MIRROR)) == {"values", "alloy_values"}
    assert (
        mirror_image("docker.io/velero/velero-plugin-for-aws:v1.14.4", MIRROR)
        == f"{MIRROR}/velero/velero-plugin-for-aws:v1.14.4"
    )
    assert mirror_image("busybox:1.36", "m.example") == "m.example/library/busybox:1.36"
    assert mirror_image("grafana/alloy:v1", "m.example") == "m.example/grafana/alloy:v1"


@pytest.mark.parametrize("bad", ["https://registry.local", "registry.local/", "Registry.Local", "", "a b"])
def test_bad_mirror(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        CorePlatform(App(), "core", registry_mirror=bad)
    assert caught.value.field == "registry_mirror"


def test_bad_chart_source() -> None:
    with pytest.raises(ValidationError) as caught:
        CorePlatform(App(), "core", chart_source="git")
    assert caught.value.field == "chart_source"


def _releases(root: Path) -> list[dict[str, Any]]:
    return [d for p in sorted(root.rglob("helmrelease.yaml")) for d in load_docs(p)]


def test_mirror_helm_sources(tmp_path: Path, kubectl: str) -> None:
    app = App()
    CorePlatform(app, "core", registry_mirror=MIRROR)
    write_tree(app, tmp_path)
    root = tmp_path / "core"
    assert check_tree(root) == []
    (repo,) = load_docs(root / "sources/helmrepositories.yaml")
    assert repo["spec"] == {"interval": "1h", "type": "oci", "url": f"oci://{MIRROR}/charts"}
    assert not (root / "sources/ocirepositories.yaml").exists()
    for release in _releases(root):
        assert release["spec"]["chart"]["spec"]["sourceRef"]["name"] == repo["metadata"]["name"]


def test_mirror_oci_sources(tmp_path: Path, kubectl: str) -> None:
    app = App()
    CorePlatform(app, "core", registry_mirror=MIRROR, chart_source="oci")
    write_tree(app, tmp_path)
    root = tmp_path / "core"
    assert check_tree(root) == []
    assert not (root / "sources/helmrepositories.yaml").exists()
    repos = {d["metadata"]["name"]: d for d in load_docs(root / "sources/ocirepositories.yaml")}
    assert all(d["spec"]["url"] == f"oci://{MIRROR}/charts/{name}" for name, d in repos.items())
    releases = _releases(root)
    # The istio gateway is off by default, and oauth2-proxy runs only with UIs exposed behind it.
    assert len(releases) == len(repos) == len(CHARTS) - 2
    for release in releases:
        assert "chart" not in release["spec"]
        assert release["spec"]["chartRef"]["name"] in repos


def test_oci_without_mirror(tmp_path: Path, kubectl: str) -> None:
    """chart_source oci: OCIRepository + chartRef where upstream publishes OCI; HTTPS for the rest."""
    app = App()
    CorePlatform(app, "core", chart_source="oci", services={"istio": {"gateway": True}})
    write_tree(app, tmp_path)
    root = tmp_path / "core"
    assert check_tree(root) == []
    assert "sources/ocirepositories.yaml" in load_docs(root / "kustomization.yaml")[0]["resources"]
    oci = {d["metadata"]["name"]: d for d in load_docs(root / "sources/ocirepositories.yaml")}
    # oauth2-proxy runs only with UIs exposed behind it.
    pins = [pin for pin in CHARTS.values() if pin.chart != "oauth2-proxy"]
    by_chart = {pin.chart: pin for pin in pins}
    assert set(oci) == {pin.chart for pin in pins if pin.oci}
    for name, repo in oci.items():
        assert repo["apiVersion"] == "source.toolkit.fluxcd.io/v1"
        assert repo["spec"]["url"] == by_chart[name].oci and repo["spec"]["ref"] == {"tag": by_chart[name].version}
    https = {d["metadata"]["name"] for d in load_docs(root / "sources/helmrepositories.yaml")}
    assert https == {pin.repository.name for pin in pins if not pin.oci}
    for release in _releases(root):
        ref = release["spec"].get("chartRef")
        chart = release["spec"].get("chart")
        assert (ref is None) != (chart is None)
        if ref is not None:
            assert ref == {"kind": "OCIRepository", "name": ref["name"], "namespace": "flux-system"}
