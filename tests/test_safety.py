"""Safe synthesis: every bad input is a ValidationError naming where, field, value and rule.

Also: wrong types never reach jsii (whose typeguard raises TypeError), the tree on disk survives
a killed or failing write byte for byte, and check mode writes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from cdk8s import ApiObject, App, Chart

from sre_constructs import (
    CHARTS,
    ChartRepository,
    CorePlatform,
    Peer,
    PlatformChart,
    PlatformComponent,
    Port,
    TreeDriftError,
    ValidationError,
    render_tree,
    write_tree,
)
from sre_constructs.kernel import staging as staging_module

from .conftest import REPO

DNS_RULE = "DNS-1123 label"
DURATION_RULE = "a Go duration such as '30s', '10m' or '1h30m' (units ms, s, m, h)"
BAD_LABELS = ["Bad_Name", "UPPER", "-lead", "trail-", "a.b", "", "a" * 64, "with space", "name\n"]


def assert_message(err: ValidationError, where: str, field: str, value: Any, allowed: str) -> None:
    """The message names the construct path, the field, the offending value and what is allowed."""
    text = str(err)
    assert err.where == where, text
    assert err.field == field, text
    assert text.startswith(f"{where}: invalid {field} "), text
    assert repr(value) in text, text
    assert allowed in text, text


def platform(app: App, id: str = "p", **kwargs: Any) -> PlatformChart:
    return PlatformChart(app, id, path=kwargs.pop("path", id), **kwargs)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_component_name_not_dns_label(app: App, bad: str) -> None:
    chart = platform(app)
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "c", name=bad)
    assert_message(info.value, "p/c", "name", bad, DNS_RULE)


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_namespace_not_dns_label(app: App, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformComponent(platform(app), "c", namespace=bad)
    assert_message(info.value, "p/c", "namespace", bad, DNS_RULE)


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_release_name_not_dns_label(app: App, bad: str) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.add_helm_release(bad, CHARTS["openbao/openbao"])
    assert_message(info.value, f"p/c/{bad}", "release_name", bad, DNS_RULE)


@pytest.mark.parametrize("bad", BAD_LABELS)
def test_source_ref_not_dns_label(app: App, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformChart(app, "p", source_ref=bad)
    assert_message(info.value, "p", "source_ref", bad, DNS_RULE)
    with pytest.raises(ValidationError) as info:
        PlatformComponent(Chart(app, "plain"), "c", source_ref=bad)
    assert_message(info.value, "plain/c", "source_ref", bad, DNS_RULE)


@pytest.mark.parametrize("bad", ["Sre-", "-sre", "sre_", "a" * 63, "sre.", " "])
def test_name_prefix_not_dns_label_start(app: App, bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformChart(app, "p", name_prefix=bad)
    assert_message(info.value, "p", "name_prefix", bad, "the start of a DNS-1123 label such as 'sre-'")


def test_name_prefix_too_long_for_component_name(app: App) -> None:
    chart = PlatformChart(app, "p", name_prefix="a" * 60)
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "c", name="long-name")
    assert "a" * 60 + "long-name" in str(info.value)
    assert DNS_RULE in str(info.value)


def test_duplicate_component_names(app: App) -> None:
    chart = platform(app)
    PlatformComponent(chart, "first", name="same")
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "second", name="same")
    assert_message(info.value, "p/second", "name", "same", "a name not already used in p (taken by p/first)")


# --------------------------------------------------------------------------- dependencies


def test_depends_on_component_of_another_platform(app: App) -> None:
    a = PlatformComponent(platform(app, "one"), "a")
    b = PlatformComponent(platform(app, "two"), "b")
    with pytest.raises(ValidationError) as info:
        a.depends_on(b)
    assert_message(info.value, "one/a", "dependsOn", "two/b", "a component of the same platform one")
    assert "add_flux_dependency" in str(info.value)


def test_depends_on_itself(app: App) -> None:
    a = PlatformComponent(platform(app), "a")
    with pytest.raises(ValidationError) as info:
        a.depends_on(a)
    assert_message(info.value, "p/a", "dependsOn", "a", "another component, not itself")


def test_dependency_cycle_is_named(app: App, tmp_path: Path) -> None:
    chart = platform(app)
    a, b, c = (PlatformComponent(chart, n) for n in "abc")
    a.depends_on(b)
    b.depends_on(c)
    c.depends_on(a)
    with pytest.raises(ValidationError) as info:
        chart.components  # noqa: B018
    assert_message(info.value, "p", "dependsOn", "a -> b -> c -> a", "an acyclic dependency graph")
    with pytest.raises(ValidationError) as info:
        write_tree(app, tmp_path)
    assert "'a -> b -> c -> a'" in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- versions and durations

VALID_VERSIONS = [
    "1.2",
    "1",
    "1.2.3",
    "v1.21.1",
    "1.2.3-rc.1",
    "1.2.3+build.5",
    ">=1.2 <2",
    ">= 1.2, < 3.0.0 || >= 4.2.3",
    "~1.30",
    "~>1.2",
    "^1.2",
    "1.x",
    "1.2.X",
    "*",
    "1.2 - 1.4.5",
    "!=1.2.3",
    "<=2",
    "=1.0.0",
]
INVALID_VERSIONS = ["latest", "v1..2", "abc", "", "   ", "1.2.3.4", "=>1.2", "1.2.3 ||", "^", 1.2, 5, ["1.2.3"]]


@pytest.mark.parametrize("version", VALID_VERSIONS)
def test_chart_version_valid_ranges_accepted(app: App, version: str) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    handle = component.add_helm_release("r", CHARTS["openbao/openbao"], version=version)
    assert handle.version == version


@pytest.mark.parametrize("version", INVALID_VERSIONS)
def test_chart_version_invalid(app: App, version: Any) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.add_helm_release("r", CHARTS["openbao/openbao"], version=version)
    assert_message(info.value, "p/c/r", "version", version, "a semantic version such as '1.30.3'")


def test_chart_version_of_core_service(app: App) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"monitoring": {"version": "latest"}})
    assert_message(info.value, "core/monitoring/kube-prometheus-stack", "version", "latest", "a range such as")


def test_bad_interval_message_is_human(app: App) -> None:
    chart = PlatformChart(app, "core")
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "monitoring", interval="10 minutes")
    assert str(info.value) == f"core/monitoring: invalid interval '10 minutes': {DURATION_RULE}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("interval", "10 minutes"),
        ("timeout", 5),
        ("retry_interval", ""),
        ("interval", "1d"),
        ("interval", "-5m"),
        ("timeout", "5"),
        ("retry_interval", None),
        ("interval", "10m\n"),
    ],
)
def test_bad_component_durations(app: App, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformComponent(platform(app), "c", **{field: value})
    assert_message(info.value, "p/c", field, value, DURATION_RULE)


@pytest.mark.parametrize(("field", "value"), [("timeout", 5), ("interval", "10 minutes"), ("timeout", "1.5")])
def test_bad_release_durations(app: App, field: str, value: Any) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.add_helm_release("r", CHARTS["openbao/openbao"], **{field: value})
    assert_message(info.value, "p/c/r", field, value, DURATION_RULE)


# --------------------------------------------------------------------------- values


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


_cyclic: dict[str, Any] = {"server": {}}
_cyclic["server"]["foo"] = _cyclic


@pytest.mark.parametrize(
    ("values", "field", "value", "allowed"),
    [
        ({"server": {"foo": {1, 2}}}, "values.server.foo", {1, 2}, "not set"),
        ({"server": {"foo": _Opaque()}}, "values.server.foo", _Opaque(), "not _Opaque"),
        ({"server": {"foo": float("nan")}}, "values.server.foo", float("nan"), "a finite number"),
        ({"server": {"foo": [1, float("inf")]}}, "values.server.foo[1]", float("inf"), "a finite number"),
        ({"server": {1: "x"}}, "values.server", 1, "string keys only"),
        ({"server": {"foo": b"bytes"}}, "values.server.foo", b"bytes", "not bytes"),
        (_cyclic, "values.server.foo", "<the same container again>", "must not contain itself"),
        ("replicas: 3", "values", "replicas: 3", "a mapping of Helm values"),
    ],
)
def test_values_not_serializable(app: App, values: Any, field: str, value: Any, allowed: str) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.add_helm_release("r", CHARTS["openbao/openbao"], values=values)
    err = info.value
    assert (err.where, err.field) == ("p/c/r", field), str(err)
    assert allowed in str(err)
    if not isinstance(value, (float, _Opaque)):
        assert repr(value) in str(err)


def test_values_of_core_service_name_the_path(app: App) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"monitoring": {"values": {"grafana": {"foo": {"a"}}}}})
    assert_message(
        info.value, "core/monitoring/kube-prometheus-stack", "values.grafana.foo", {"a"}, "JSON-serializable"
    )


def test_values_subclasses_become_plain_data(app: App, tmp_path: Path) -> None:
    class Mode(str, enum.Enum):  # noqa: UP042  (a str-mixin Enum, as user code writes them)
        HA = "ha"

    class Count(enum.IntEnum):
        THREE = 3

    component = PlatformComponent(platform(app), "c", namespace="ns")
    handle = component.add_helm_release("r", CHARTS["openbao/openbao"], values={Mode.HA: {"n": Count.THREE}})
    assert handle.values == {"ha": {"n": 3}}
    assert type(next(iter(handle.values))) is str and type(handle.values["ha"]["n"]) is int
    write_tree(app, tmp_path)
    assert "ha:\n      n: 3" in (tmp_path / "p/c/helmrelease.yaml").read_text()


# --------------------------------------------------------------------------- CorePlatform services


def test_unknown_service(app: App) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"grafana": {}})
    assert_message(info.value, "core", "services", "grafana", "one of istio, cert-manager, kyverno")


def test_unknown_knob(app: App) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"monitoring": {"retension": "30d"}})
    assert_message(
        info.value, "core/monitoring", "services.monitoring", "retension", "a knob of this service: enabled, version"
    )


@pytest.mark.parametrize("enabled", ["no", 0, None, "False"])
def test_enabled_not_bool(app: App, enabled: Any) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"backup": {"enabled": enabled}})
    assert_message(info.value, "core", "services.backup.enabled", enabled, "True or False")


# --------------------------------------------------------------------------- namespaces


def test_namespace_claimed_twice_with_different_labels(app: App) -> None:
    chart = platform(app)
    PlatformComponent(chart, "first", namespace="shared", namespace_labels={"team": "a"})
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "second", namespace="shared", namespace_labels={"team": "b"})
    assert_message(info.value, "p/second", "namespace", "shared", "p/first already emits it with different labels")
    assert "(team)" in str(info.value)
    assert "create_namespace=False" in str(info.value)


def test_namespace_claimed_twice_with_same_labels(app: App) -> None:
    chart = platform(app)
    PlatformComponent(chart, "first", namespace="shared")
    with pytest.raises(ValidationError) as info:
        PlatformComponent(chart, "second", namespace="shared")
    assert_message(info.value, "p/second", "namespace", "shared", "p/first already emits it")
    assert "pass create_namespace=False" in str(info.value)


def test_namespace_shared_with_create_namespace_false(app: App, tmp_path: Path) -> None:
    chart = platform(app)
    owner = PlatformComponent(chart, "first", namespace="shared")
    PlatformComponent(chart, "second", namespace="shared", create_namespace=False)
    assert chart.namespace_owners == {"shared": owner}
    write_tree(app, tmp_path)
    assert not (tmp_path / "p/second/namespace.yaml").exists()


def test_namespace_claims_are_per_tree(app: App, tmp_path: Path) -> None:
    one, two = platform(app, "one"), platform(app, "two")
    a = PlatformComponent(one, "a", namespace="shared")
    b = PlatformComponent(two, "b", namespace="shared")  # another tree: another cluster
    assert one.namespace_owners == {"shared": a}
    assert two.namespace_owners == {"shared": b}
    write_tree(app, tmp_path)
    for folder in ("one/a", "two/b"):  # each tree emits its own Namespace
        namespace = yaml.safe_load((tmp_path / folder / "namespace.yaml").read_text())
        assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", "shared"), folder
    with pytest.raises(ValidationError, match="one/a already emits it"):  # within a tree, still one owner
        PlatformComponent(one, "c", namespace="shared")


def test_core_services_sharing_a_namespace(app: App) -> None:
    with pytest.raises(ValidationError) as info:
        CorePlatform(app, "core", services={"monitoring": {"namespace": "logging"}})
    assert info.value.where == "core/logging"
    assert "core/monitoring already emits it" in str(info.value)


def test_claim_namespace_directly(app: App) -> None:
    chart = platform(app)
    a = PlatformComponent(chart, "a")
    b = PlatformComponent(chart, "b")
    chart._claim_namespace(a, "x", {"k": "v"})
    with pytest.raises(ValidationError, match="different labels"):
        chart._claim_namespace(b, "x", {"k": "w"})
    with pytest.raises(ValidationError, match="p/a already emits it; pass create_namespace=False"):
        chart._claim_namespace(b, "x", {"k": "v"})
    with pytest.raises(ValidationError, match="not already emitted by this component"):
        chart._claim_namespace(a, "x", {"k": "v"})


# --------------------------------------------------------------------------- output paths


def test_outdir_is_a_file(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    out = tmp_path / "out"
    out.write_text("not a folder")
    with pytest.raises(ValidationError) as info:
        write_tree(app, out)
    assert_message(info.value, str(out), "outdir", str(out), f"a directory path, but {out} is a file")
    with pytest.raises(ValidationError, match="is a file"):
        write_tree(app, out / "below")
    assert out.read_text() == "not a folder"


def test_tree_path_is_a_file(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    (tmp_path / "core").write_text("x")
    for check in (False, True):
        with pytest.raises(ValidationError) as info:
            write_tree(app, tmp_path, check=check)
        assert_message(info.value, "core", "path", str(tmp_path / "core"), "a directory for the tree")
    assert (tmp_path / "core").read_text() == "x"
    assert leftovers(tmp_path) == []


def test_tree_path_is_a_symlink(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "core").symlink_to(elsewhere)
    with pytest.raises(ValidationError, match="not through a symlink"):
        write_tree(app, out)
    assert list(elsewhere.iterdir()) == []


def test_outdir_not_writable(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    CorePlatform(app, "core")
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == locked else real_access(p, mode, **kw))
    with pytest.raises(ValidationError) as info:
        write_tree(app, locked / "out")
    assert_message(info.value, str(locked / "out"), "outdir", str(locked / "out"), f"{locked} is not writable")
    assert list(locked.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a 0o555 folder; covered by the os.access test")
def test_outdir_not_writable_for_real(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ValidationError, match="is not writable"):
            write_tree(app, locked)
    finally:
        locked.chmod(0o755)


@pytest.mark.parametrize(
    "bad", ["..", "../x", "/abs", "a/../../b", "a/..", ".", "", "  ", "C:/x", "\\abs", ".git", "core/.hidden", 5]
)
def test_tree_path_escapes_outdir(app: App, bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformChart(app, "p", path=bad)
    assert_message(info.value, "p", "path", bad, "a relative directory path")
    if bad == ".":
        return  # a component in a plain chart may live at the repository root
    with pytest.raises(ValidationError) as info:
        PlatformComponent(Chart(app, "plain"), "c", path=bad)
    assert_message(info.value, "plain/c", "path", bad, "a relative directory path")


@pytest.mark.parametrize(("first", "second"), [("core", "core/sub"), ("core/sub", "core"), ("core", "./core/")])
def test_overlapping_tree_paths(app: App, tmp_path: Path, first: str, second: str) -> None:
    PlatformChart(app, "one", path=first)
    PlatformChart(app, "two", path=second)
    with pytest.raises(ValidationError) as info:
        write_tree(app, tmp_path)
    err = info.value
    assert (err.where, err.field) == ("two", "path")
    assert "does not overlap" in str(err) and "of one" in str(err)
    assert list(tmp_path.iterdir()) == []


def test_sibling_tree_paths_do_not_overlap(app: App, tmp_path: Path) -> None:
    PlatformComponent(PlatformChart(app, "one", path="core"), "a")
    PlatformComponent(PlatformChart(app, "two", path="core-apps"), "b")
    write_tree(app, tmp_path)
    assert (tmp_path / "core/a/kustomization.yaml").is_file()
    assert (tmp_path / "core-apps/b/kustomization.yaml").is_file()


# --------------------------------------------------------------------------- jsii boundary: wrong types


COMPONENT_CASES = [
    ("name", 5, "name"),
    ("name", b"c", "name"),
    ("namespace", 5, "namespace"),
    ("namespace", ["ns"], "namespace"),
    pytest.param("create_namespace", "no", "create_namespace"),
    pytest.param("create_namespace", 1, "create_namespace"),
    ("namespace_labels", {"a": 1}, "namespace_labels"),
    ("namespace_labels", {1: "a"}, "namespace_labels"),
    pytest.param("namespace_labels", "team=a", "namespace_labels"),
    pytest.param("namespace_labels", ["team"], "namespace_labels"),
    ("pod_security", 5, "pod_security"),
    ("pod_security", "strict", "pod_security"),
    ("mesh_injection", "yes", "mesh_injection"),
    ("wait", "yes", "wait"),
    ("wait", 1, "wait"),
    ("wait", None, "wait"),
    ("interval", 5, "interval"),
    ("retry_interval", 120, "retry_interval"),
    ("timeout", 5.0, "timeout"),
    ("path", 5, "path"),
    ("path", ["a"], "path"),
    ("source_ref", 5, "source_ref"),
    pytest.param("name_prefix", 5, "name_prefix"),
    pytest.param("name_prefix", ["sre-"], "name_prefix"),
]


@pytest.mark.parametrize(("param", "value", "field"), COMPONENT_CASES)
def test_component_wrong_types(app: App, param: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformComponent(platform(app), "c", **({"namespace": "ns"} if param != "namespace" else {}), **{param: value})
    assert info.value.field.startswith(field), str(info.value)


def test_every_component_parameter_has_a_wrong_type_case() -> None:
    import inspect

    covered = {case.values[0] if hasattr(case, "values") else case[0] for case in COMPONENT_CASES}
    params = set(inspect.signature(PlatformComponent.__init__).parameters) - {"self", "scope", "id"}
    assert params - covered - {"pod_security_reason"} == set(), "add wrong-type cases for new parameters"


RELEASE_CASES = [
    ("release_name", 5, "release_name"),
    ("chart", "openbao", "chart"),
    ("chart", ("openbao", "https://openbao.github.io/openbao-helm"), "chart"),
    ("version", 1.2, "version"),
    ("version", ["1.2.3"], "version"),
    ("values", "a: 1", "values"),
    ("values", [("a", 1)], "values"),
    ("namespace", 5, "namespace"),
    pytest.param("depends_on", 5, "depends_on"),
    pytest.param("depends_on", [5], "depends_on"),
    pytest.param("depends_on", "istiod", "depends_on"),
    ("timeout", 600, "timeout"),
    ("interval", 30, "interval"),
    ("crds", 5, "crds"),
    ("crds", "create", "crds"),
    pytest.param("crds", ["Skip"], "crds"),
    pytest.param("disable_wait", "yes", "disable_wait"),
]


@pytest.mark.parametrize(("param", "value", "field"), RELEASE_CASES)
def test_add_helm_release_wrong_types(app: App, tmp_path: Path, param: str, value: Any, field: str) -> None:
    chart = platform(app)
    component = PlatformComponent(chart, "c", namespace="ns")
    kwargs: dict[str, Any] = {"release_name": "r", "chart": CHARTS["openbao/openbao"], param: value}
    with pytest.raises(ValidationError) as info:  # noqa: PT012  (either step may raise)
        component.add_helm_release(**kwargs)
        write_tree(app, tmp_path)  # some bad input only surfaces at synthesis
    assert info.value.field.startswith(field), str(info.value)


def test_add_helm_release_with_repository_pair(app: App) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    repo = ChartRepository("openbao", "https://openbao.github.io/openbao-helm")
    with pytest.raises(ValidationError) as info:
        component.add_helm_release("r", ("openbao", repo))
    assert_message(info.value, "p/c/r", "version", None, "a chart version for a chart without a pin")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.add_flux_dependency(5), "dependsOn name"),
        (lambda c: c.add_flux_dependency("x", namespace=5), "dependsOn namespace"),
        (lambda c: c.depends_on("istio"), "dependsOn"),
        (lambda c: c.add_namespace(5), "namespace"),
        (lambda c: c.add_namespace("x", {"a": 1}), "namespace_labels"),
        pytest.param(lambda c: c.add_namespace("x", "a=b"), "namespace_labels"),
        pytest.param(lambda c: c.add_health_check("Deployment/x"), "health check"),
    ],
)
def test_component_methods_wrong_types(app: App, tmp_path: Path, call: Any, field: str) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns", wait=False)
    with pytest.raises(ValidationError) as info:  # noqa: PT012  (either step may raise)
        call(component)
        write_tree(app, tmp_path)
    assert info.value.field.startswith(field), str(info.value)


CHART_CASES = [
    ("path", 5, "path"),
    ("source_ref", 5, "source_ref"),
    ("name_prefix", 5, "name_prefix"),
    ("name_prefix", None, "name_prefix"),
    ("labels", "team=sre", "labels"),
    ("labels", {"team": 1}, "labels.team"),
    ("labels", {"bad key!": "v"}, "labels key"),
    ("labels", {"team": "x" * 64}, "labels.team"),
    ("namespace", 5, "namespace"),
    ("namespace", "UPPER", "namespace"),
    ("disable_resource_name_hashes", "yes", "disable_resource_name_hashes"),
    ("bogus", 1, "keyword argument"),
]


@pytest.mark.parametrize("cls", [PlatformChart, CorePlatform])
@pytest.mark.parametrize(("param", "value", "field"), CHART_CASES)
def test_chart_wrong_types(app: App, cls: type, param: str, value: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        cls(app, "p", **{param: value})
    assert info.value.field == field, str(info.value)
    assert info.value.where == "p"


def test_chart_props_valid_pass_through(app: App) -> None:
    chart = PlatformChart(
        app,
        "p",
        labels={"team": "sre", "example.com/tier": "core"},
        namespace="team",
        disable_resource_name_hashes=True,
    )
    assert chart.labels == {"team": "sre", "example.com/tier": "core"}
    assert chart.namespace == "team"


@pytest.mark.parametrize(
    ("scope", "id", "field"), [(None, "p", "scope"), ("app", "p", "scope"), ("APP", 5, "id"), ("APP", "", "id")]
)
def test_chart_wrong_scope_or_id(app: App, scope: Any, id: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformChart(app if scope == "APP" else scope, id)
    assert info.value.field == field


CORE_CASES = [
    ("services", "monitoring"),
    ("services", [("monitoring", {})]),
    ("services", {"istio": "off"}),
    ("services", {5: {}}),
    ("services", {"monitoring": {"version": 5}}),
    ("services", {"monitoring": {"namespace": 5}}),
    ("services", {"monitoring": {"release_name": 5}}),
    ("services", {"monitoring": {"wait": "yes"}}),
    ("services", {"monitoring": {"values": {"a": {1}}}}),
    ("services", {"monitoring": {"values": "a: 1"}}),
    ("services", {"logging": {"alloy_version": 5}}),
    ("services", {"logging": {"alloy_values": 5}}),
    ("services", {"istio": {"base_values": "a: 1"}}),
    ("services", {"istio": {"gateway": True, "gateway_values": 5}}),
    ("services", {"istio": {"gateway": "yes"}}),
    ("services", {"backup": {"node_agent": "yes"}}),
    ("services", {"openbao": {"replicas": "3"}}),
    ("services", {"openbao": {"replicas": 0}}),
    ("services", {"openbao": {"replicas": True}}),
]


@pytest.mark.parametrize(("param", "value"), CORE_CASES)
def test_core_platform_wrong_types(app: App, tmp_path: Path, param: str, value: Any) -> None:
    with pytest.raises(ValidationError):  # noqa: PT012  (either step may raise)
        CorePlatform(app, "core", **{param: value})
        write_tree(app, tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scope": "app", "outdir": "x"}, "scope"),
        ({"outdir": 5}, "outdir"),
        ({"outdir": None}, "outdir"),
        ({"outdir": ""}, "outdir"),
        ({"outdir": "x", "check": "yes"}, "check"),
    ],
)
def test_write_tree_wrong_types(app: App, kwargs: dict[str, Any], field: str) -> None:
    CorePlatform(app, "core")
    with pytest.raises(ValidationError) as info:
        write_tree(**{"scope": app, **kwargs})
    assert info.value.field == field


# --------------------------------------------------------------------------- atomic writes

# The fault injection lives here, around the writer's small steps, never in the writer itself:
# "after-files:N" kills the child right after its N-th staged file, "between-renames" right
# after the fallback swap moved the old tree aside. The "swap-" modes watch the default swap
# through audit hooks (raised by os and shutil before each rename or removal, whichever function
# the writer calls): "swap-observe" notes what the tree is at each step, "swap-kill" kills the
# child at the first one.
_CHILD = r"""
import os, signal, sys
import sre_constructs
from cdk8s import App
from sre_constructs import CorePlatform, write_tree
from sre_constructs.kernel import staging

out, mode = sys.argv[1], sys.argv[2]
app = App()
CorePlatform(app, "core", services={
    "monitoring": {"values": {"grafana": {"replicas": 2}}},
    "openbao": {"replicas": 5},
    "backup": {"enabled": False},
})
if mode.startswith("after-files:"):
    limit, written, real_write_file = int(mode.split(":")[1]), [0], staging.write_file

    def write_file(path, content):
        real_write_file(path, content)
        written[0] += 1
        if written[0] >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    staging.write_file = write_file
if mode == "between-renames":
    staging._exchange = lambda a, b: False
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        os.kill(os.getpid(), signal.SIGKILL)  # right after the old tree was moved aside

    os.rename = rename
if mode.startswith("swap-"):
    import json
    from pathlib import Path
    from sre_constructs import render_tree
    from sre_constructs.kernel import tree

    target = Path(out) / "core"

    def read(root):
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    old, new = read(target), render_tree(app.node.find_child("core"))

    def state():
        if not target.is_dir():
            return "missing"
        files = read(target)
        return "old" if files == old else "new" if files == new else "other"

    steps, swapping, busy = [], [False], [False]
    changes = {"os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.rmtree", "shutil.move", "shutil.copytree"}

    def hook(event, args):
        if not swapping[0] or busy[0] or event not in changes:
            return
        if event in ("os.remove", "os.rmdir") and args[1] not in (None, -1):
            return  # a file of a folder being removed, by its folder's descriptor: seen at the folder
        if mode == "swap-kill":
            os.kill(os.getpid(), signal.SIGKILL)
        busy[0] = True
        try:
            steps.append([event, os.path.basename(os.fsdecode(args[0])), state()])
        finally:
            busy[0] = False

    sys.addaudithook(hook)
    real_swap_in = tree.swap_in

    def swap_in(staging_dir, target_dir):
        swapping[0] = True
        try:
            real_swap_in(staging_dir, target_dir)
        finally:
            swapping[0] = False
        steps.append(["returned", target_dir.name, state()])

    tree.swap_in = swap_in
write_tree(app, out)
if mode == "swap-observe":
    print(json.dumps(steps))
"""


def tree_b() -> App:
    app = App()
    CorePlatform(
        app,
        "core",
        services={
            "monitoring": {"values": {"grafana": {"replicas": 2}}},
            "openbao": {"replicas": 5},
            "backup": {"enabled": False},
        },
    )
    return app


def run_child(out: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), mode],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_a(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """``<tmp>/out`` holding the default tree A; returns the outdir and A's bytes."""
    out = tmp_path / "out"
    app = App()
    CorePlatform(app, "core")
    write_tree(app, out)
    return out, snapshot(out / "core")


def test_killed_while_staging_keeps_old_tree(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, before = tree_a
    result = run_child(out, "after-files:5")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert snapshot(out / "core") == before
    assert [n for n in leftovers(out) if n.startswith(".core.new-")], "the kill left no half-written staging"

    app = tree_b()
    write_tree(app, out)
    assert leftovers(out) == []
    assert snapshot(out / "core") == render_tree(app.node.find_child("core"))  # type: ignore[arg-type]


def test_leftovers_cleaned_even_when_tree_is_current(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, before = tree_a
    result = run_child(out, "after-files:1")
    assert result.returncode == -signal.SIGKILL, result.stderr
    app = App()
    CorePlatform(app, "core")
    write_tree(app, out)  # nothing to rewrite, but the leftovers go
    assert leftovers(out) == []
    assert snapshot(out / "core") == before


def test_killed_between_fallback_renames_restores_old_tree(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, before = tree_a
    result = run_child(out, "between-renames")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert not (out / "core").exists()  # the window the next run must repair
    parked = [n for n in leftovers(out) if n.startswith(".core.old-")]
    assert len(parked) == 1 and snapshot(out / parked[0]) == before

    app = App()
    CorePlatform(app, "core")
    with pytest.raises(TreeDriftError):  # check mode never repairs: it writes nothing
        write_tree(app, out, check=True)
    write_tree(app, out)
    assert leftovers(out) == []
    assert snapshot(out / "core") == before


def exchange_supported(folder: Path) -> bool:
    """Whether Linux renameat2(RENAME_EXCHANGE) swaps two folders in ``folder`` (asked of libc
    directly, not of the writer, so a writer that stops using it cannot make the tests skip)."""
    a, b = folder / "probe-a", folder / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        renameat2 = getattr(ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True), "renameat2", None)
        return renameat2 is not None and renameat2(-100, os.fsencode(a), -100, os.fsencode(b), 2) == 0
    except OSError:
        return False
    finally:
        a.rmdir()
        b.rmdir()


@pytest.fixture
def exchange(tmp_path: Path) -> None:
    if not exchange_supported(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) unsupported here: the default swap cannot run (Linux >= 3.15)")


@pytest.mark.usefixtures("exchange")
def test_default_swap_never_shows_a_missing_or_partial_tree(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    """At every rename or removal of the default swap the tree is the whole old or the whole new one."""
    out, _ = tree_a
    result = run_child(out, "swap-observe")
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout.splitlines()[-1])
    states = [state for _, _, state in steps]
    assert len(steps) >= 2 and steps[-1][0] == "returned", steps  # the old tree's removal was seen
    assert set(states) <= {"old", "new"}, steps  # never missing, never half old, half new
    assert states == sorted(states, key=["old", "new"].index) and states[-1] == "new", steps
    assert leftovers(out) == []
    assert snapshot(out / "core") == render_tree(tree_b().node.find_child("core"))  # type: ignore[arg-type]


@pytest.mark.usefixtures("exchange")
def test_killed_at_the_first_step_after_the_exchange(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    """Nothing is removed before the new tree is in: killed at the first removal, the new tree is
    already there and the old one waits whole in the staging folder, which the next run removes."""
    out, before = tree_a
    new = render_tree(tree_b().node.find_child("core"))  # type: ignore[arg-type]
    result = run_child(out, "swap-kill")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert snapshot(out / "core") == new
    parked = [n for n in leftovers(out) if n.startswith(".core.new-")]
    assert len(parked) == 1 and snapshot(out / parked[0]) == before
    write_tree(tree_b(), out)
    assert leftovers(out) == []
    assert snapshot(out / "core") == new


def test_fallback_swap_without_exchange(tree_a: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = tree_a
    monkeypatch.setattr(staging_module, "_exchange", lambda a, b: False)
    app = tree_b()
    write_tree(app, out)
    assert leftovers(out) == []
    assert snapshot(out / "core") == render_tree(app.node.find_child("core"))  # type: ignore[arg-type]


def test_fallback_second_rename_fails_rolls_back(
    tree_a: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    out, before = tree_a
    monkeypatch.setattr(staging_module, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls: list[str] = []

    def rename(src: Any, dst: Any) -> None:
        calls.append(Path(src).name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="No space left"):
        write_tree(tree_b(), out)
    assert snapshot(out / "core") == before
    assert leftovers(out) == []


def test_render_failure_leaves_old_tree(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, before = tree_a
    app = tree_b()
    core = app.node.find_child("core")
    ApiObject(core, "stray", api_version="v1", kind="ConfigMap", metadata={"name": "stray"})
    with pytest.raises(ValidationError) as info:
        write_tree(app, out)
    assert_message(info.value, "core/stray", "placement", "ConfigMap/stray", "an object inside a PlatformComponent")
    assert snapshot(out / "core") == before
    assert leftovers(out) == []


def test_staging_failure_leaves_every_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    app = App()
    PlatformComponent(PlatformChart(app, "one", path="one"), "a")
    PlatformComponent(PlatformChart(app, "two", path="two"), "b")
    write_tree(app, out)
    before = snapshot(out)
    app2 = App()
    PlatformComponent(PlatformChart(app2, "one", path="one"), "a", interval="5m")
    PlatformComponent(PlatformChart(app2, "two", path="two"), "b", interval="5m")
    real_stage = staging_module.stage
    staged: list[Path] = []

    def stage(target: Path, *args: Any) -> Path:
        if staged:
            raise OSError(28, "No space left on device")
        staged.append(target)
        return real_stage(target, *args)

    monkeypatch.setattr(staging_module, "stage", stage)
    with pytest.raises(OSError, match="No space left"):
        write_tree(app2, out)
    assert snapshot(out) == before  # the first tree was staged but never swapped in
    assert leftovers(out) == []


# --------------------------------------------------------------------------- check mode


def test_check_mode_on_missing_tree(app: App, tmp_path: Path) -> None:
    CorePlatform(app, "core")
    out = tmp_path / "out"
    with pytest.raises(TreeDriftError) as info:
        write_tree(app, out, check=True)
    drift = info.value
    assert drift.root == out / "core"
    assert drift.changed == [] and drift.removed == []
    assert "kustomization.yaml" in drift.added and "components/istio.yaml" in drift.added
    assert not out.exists()


def test_check_mode_passes_when_current(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, before = tree_a
    app = App()
    CorePlatform(app, "core")
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "core").rglob("*")}
    paths = write_tree(app, out, check=True)
    assert paths == sorted(out / "core" / rel for rel in before)
    assert {p: p.stat().st_mtime_ns for p in (out / "core").rglob("*")} == mtimes


def test_check_mode_reports_stale_tree_and_writes_nothing(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, _before = tree_a
    (out / "core/extra.yaml").write_text("stray: true\n")
    extra_before = snapshot(out / "core")
    with pytest.raises(TreeDriftError) as info:
        write_tree(tree_b(), out, check=True)
    drift = info.value
    assert "components/backup.yaml" in drift.removed and "backup/helmrelease.yaml" in drift.removed
    assert "extra.yaml" in drift.removed
    assert "openbao/helmrelease.yaml" in drift.changed and "monitoring/helmrelease.yaml" in drift.changed
    assert drift.added == []
    text = str(drift)
    assert "stale" in text and "  - extra.yaml" in text and "  ~ openbao/helmrelease.yaml" in text
    assert snapshot(out / "core") == extra_before
    assert leftovers(out) == []


def test_check_mode_reports_added(tree_a: tuple[Path, dict[str, bytes]]) -> None:
    out, _ = tree_a
    (out / "core/istio/helmrelease.yaml").unlink()
    app = App()
    CorePlatform(app, "core")
    with pytest.raises(TreeDriftError) as info:
        write_tree(app, out, check=True)
    assert info.value.added == ["istio/helmrelease.yaml"]
    assert not (out / "core/istio/helmrelease.yaml").exists()


def test_cdk8s_testing_synth_still_works() -> None:
    """A component in a plain chart synthesizes through cdk8s itself (no tree writer involved)."""
    app = cdk8s.Testing.app()
    chart = Chart(app, "team")
    PlatformComponent(chart, "payments", namespace="payments")
    kinds = [doc["kind"] for doc in cdk8s.Testing.synth(chart)]
    assert "Namespace" in kinds and "Kustomization" not in kinds  # alone in a plain chart: no Flux object
    PlatformComponent(chart, "orders", namespace="orders", path="apps")  # placed in a tree by its path
    kinds = [doc["kind"] for doc in cdk8s.Testing.synth(chart)]
    assert kinds.count("Kustomization") == 1


@pytest.mark.parametrize(
    ("name", "url", "field"),
    [("team", 5, "url"), ("Team_Charts", "https://charts.example.com", "name"), ("team", "ftp://x y", "url")],
)
def test_chart_repository_is_checked_where_it_is_written(name: Any, url: Any, field: str) -> None:
    from sre_constructs import ChartRepository

    with pytest.raises(ValidationError) as info:
        ChartRepository(name, url)
    assert info.value.field == field and info.value.where.startswith("ChartRepository(")


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Port(0), "port"),
        (lambda: Port("Not A Name"), "port"),
        (lambda: Port(80, "ICMP"), "protocol"),
        (lambda: Peer(namespace="Bad_NS"), "namespace"),
        (lambda: Peer(cidr="10.0.0.0/33"), "cidr"),
        (lambda: Peer(pod_labels={"app": 5}), "pod_labels.app"),
    ],
)
def test_network_peers_and_ports_are_checked(make: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        make()
    assert info.value.field == field


@pytest.mark.parametrize(("peers", "ports"), [(5, ()), ([], ()), (None, ()), ("any", ())])
def test_allow_rejects_what_is_not_a_peer(app: App, peers: Any, ports: Any) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.allow_ingress("x", peers, ports)
    assert info.value.field == "peers"


def test_allow_rejects_what_is_not_a_port(app: App) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.allow_egress("x", Peer.api_server(), [443])
    assert info.value.field == "ports"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"apiVersion": "v1", "kind": "../../evil", "metadata": {"name": "a"}}, "kind"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a/b"}}, "metadata.name"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"x": 1}}}, "metadata.labels.x"),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": ["x"]}},
            "metadata.annotations",
        ),
    ],
)
def test_manifests_cannot_name_files_outside_their_folder_or_carry_bad_metadata(
    app: App, tmp_path: Path, body: dict[str, Any], field: str
) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError) as info:
        component.add_manifest(body)
    assert info.value.field == field
    write_tree(app, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_flux_kustomization_in_a_folder_does_not_replace_its_kustomization_yaml(app: App, tmp_path: Path) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    component.add_manifest(
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {"name": "nested", "namespace": "flux-system"},
            "spec": {"interval": "10m", "prune": True, "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
        }
    )
    write_tree(app, tmp_path)
    folder = tmp_path / "p" / "c"
    listing = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert "kustomization-kustomize.yaml" in listing["resources"]
    assert "kustomization.yaml" not in listing["resources"]


def test_symlinks_in_a_tree_count_as_drift_and_are_replaced(app: App, tmp_path: Path) -> None:
    PlatformComponent(platform(app), "c", namespace="ns")
    write_tree(app, tmp_path)
    tree = tmp_path / "p"
    target = tree / "c" / "namespace.yaml"
    outside = tmp_path / "outside.yaml"
    outside.write_bytes(target.read_bytes())
    target.unlink()
    target.symlink_to(outside)  # same bytes, but a link out of the tree
    (tree / "dangling").symlink_to(tmp_path / "missing")
    (tree / "dirlink").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(TreeDriftError) as info:
        write_tree(app, tmp_path, check=True)
    assert "c/namespace.yaml" in info.value.changed
    assert {"dangling", "dirlink"} <= set(info.value.removed)
    write_tree(app, tmp_path)
    assert not target.is_symlink() and not (tree / "dangling").is_symlink()
    assert outside.exists()  # the link's target outside the tree is untouched
    write_tree(app, tmp_path, check=True)


@pytest.mark.parametrize("path", ["c*", "a b", "core/[x]", "x?"])
def test_tree_paths_are_plain_names(app: App, path: str) -> None:
    with pytest.raises(ValidationError) as info:
        PlatformChart(app, "p", path=path)
    assert info.value.field == "path"


@pytest.mark.parametrize(("scope", "id"), [(None, "x"), (5, "x"), ("chart", "x")])
@pytest.mark.parametrize("construct", ["component", "service"])
def test_scope_must_be_a_construct(app: App, construct: str, scope: Any, id: Any) -> None:
    from sre_constructs import Istio

    with pytest.raises(ValidationError) as info:
        PlatformComponent(scope, id) if construct == "component" else Istio(scope, id)
    assert info.value.field == "scope"


@pytest.mark.parametrize("id", ["", 5, "a/b", None])
def test_id_must_be_a_plain_string(app: App, id: Any) -> None:
    from sre_constructs import CertManager

    chart = platform(app)
    for make in (lambda: PlatformComponent(chart, id), lambda: CertManager(chart, id)):
        with pytest.raises(ValidationError) as info:
            make()
        assert info.value.field == "id"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("Deployment", "Bad Name", "ns"), "name"),
        (("Deployment", "ok", 3), "namespace"),
        (("deploy ment", "ok", "ns"), "kind"),
        (("Deployment", "ok", "ns", None), "api_version"),
    ],
)
def test_health_checks_are_checked_when_made(args: tuple[Any, ...], field: str) -> None:
    from sre_constructs import HealthCheck

    with pytest.raises(ValidationError) as info:
        HealthCheck(*args)
    assert info.value.field == field


@pytest.mark.parametrize("body", [5, "kind: ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}])
def test_add_manifest_wants_a_mapping(app: App, body: Any) -> None:
    component = PlatformComponent(platform(app), "c", namespace="ns")
    with pytest.raises(ValidationError):
        component.add_manifest(body)
