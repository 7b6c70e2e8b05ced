"""Cluster files: schema, line numbers in errors, the two examples synthesize to valid trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdk8s import App

from sre_constructs import ValidationError, write_tree
from sre_constructs.cluster import load_cluster, parse_cluster
from sre_constructs.fleet import build_fleet
from sre_constructs.kernel.tree_check import check_tree

REPO = Path(__file__).resolve().parent.parent
MINIMAL = "name: lab\ngit:\n  url: ssh://git@example.com/fleet.git\n"


def test_defaults() -> None:
    spec = parse_cluster(MINIMAL, "lab.yaml")
    assert (spec.name, spec.path, spec.source_ref) == ("lab", "clusters/lab/core", "flux-system")
    assert (spec.git_url, spec.git_branch, spec.chart_source) == ("ssh://git@example.com/fleet.git", "main", "helm")
    assert spec.registry_mirror is None and spec.domain is None
    assert spec.services == {"logging": {"cluster_name": "lab"}}  # Alloy's cluster label follows the name


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (MINIMAL + "colour: blue\n", 4, "colour"),
        (MINIMAL + "  brnch: main\n", 4, "git.brnch"),
        ("name: Lab_1\ngit:\n  url: ssh://x/y\n", 1, "name"),
        ("name: lab\ngit:\n  url: ftp://x/y\n", 3, "git.url"),
        ("name: lab\n", 1, "git"),
        (MINIMAL + "services:\n  monitorin:\n    enabled: true\n", 5, "services"),
        (MINIMAL + "services:\n  monitoring:\n    retension: 3d\n", 6, "services.monitoring.retension"),
        (MINIMAL + "services:\n  monitoring:\n    enabled: maybe\n", 6, "services.monitoring.enabled"),
        (MINIMAL + "services:\n  monitoring:\n    values: [1]\n", 6, "services.monitoring.values"),
        (MINIMAL + "chart_source: git\n", 4, "chart_source"),
        (MINIMAL + "registry_mirror: https://registry.local\n", 4, "registry_mirror"),
        (MINIMAL + "domain: Not_A.Domain\n", 4, "domain"),
        (MINIMAL + "name: again\n", 4, "name"),
        (MINIMAL + "path: ../outside\n", 4, "path"),
    ],
)
def test_bad_input_names_file_line_and_field(text: str, line: int, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_cluster(text, "clusters/x.yaml")
    assert caught.value.where == f"clusters/x.yaml:{line}"
    assert caught.value.field == field
    assert str(caught.value).startswith(f"clusters/x.yaml:{line}: invalid {field} ")


def test_bad_yaml_names_the_line() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_cluster("name: lab\ngit:\n  url: [\n", "c.yaml")
    assert caught.value.where.startswith("c.yaml:")


def test_construct_errors_point_at_the_knob_line() -> None:
    spec = parse_cluster(
        MINIMAL + "services:\n  monitoring:\n    prometheus_replicas: 1\n    retention: forever\n", "c.yaml"
    )
    with pytest.raises(ValidationError) as caught:
        spec.platform(App())
    assert caught.value.where == "c.yaml:7"
    assert caught.value.field == "services.monitoring.retention"


def test_services_are_corplatform_data() -> None:
    spec = parse_cluster(
        MINIMAL + "services:\n  runtime-security:\n    enabled: false\n  monitoring:\n"
        "    values:\n      grafana:\n        enabled: false\n",
        "c.yaml",
    )
    core = spec.platform(App())
    assert core.runtime_security is None
    assert core.monitoring is not None and core.monitoring.release.values["grafana"]["enabled"] is False


def test_requirement_errors_have_a_line() -> None:
    spec = parse_cluster(MINIMAL + "services:\n  external-secrets:\n    enabled: false\n", "c.yaml")
    with pytest.raises(ValidationError) as caught:
        spec.platform(App())
    assert caught.value.where.startswith("c.yaml:")
    assert caught.value.field == "services.external-secrets.enabled"


@pytest.mark.parametrize("name", ["lab", "production"])
def test_example_cluster_files_synthesize_valid_trees(name: str, tmp_path: Path, kubectl: str) -> None:
    spec = load_cluster(REPO / "clusters" / f"{name}.yaml")
    app = App()
    (cluster,) = build_fleet(app, [spec])
    write_tree(app, tmp_path)
    for tree in cluster.tree_paths:
        assert check_tree(tmp_path / tree, repo_root=tmp_path) == [], tree


def test_examples_differ_where_they_should() -> None:
    lab = load_cluster(REPO / "clusters" / "lab.yaml").platform(App())
    prod = load_cluster(REPO / "clusters" / "production.yaml").platform(App())
    assert lab.logging is not None and prod.logging is not None
    assert lab.openbao is not None and prod.openbao is not None
    assert prod.chart_source == "oci" and lab.chart_source == "helm"
    assert getattr(prod.cert_manager, "acme_issuer_name", None)
    assert not getattr(lab.cert_manager, "acme_issuer_name", None)


@pytest.mark.parametrize(
    ("text", "field", "allowed"),
    [
        (
            "name: lab\ngit: {url: https://g.example.com/r.git}\npath: clusters/lab/flux/flux-system\n",
            "path",
            "outside",
        ),
        (
            "name: lab\ngit: {url: https://g.example.com/r.git}\nservices: &x {istio: *x}\n",
            "services.istio",
            "recursive",
        ),
        ("name: lab\ngit: &g {url: https://g.example.com/r.git}\nother:\n  <<: *g\n", "other", "merge"),
        ("name: lab\ngit: !!python/object:os.system {url: x}\n", "git", "custom tags"),
        ("name: !foo lab\ngit: {url: https://g.example.com/r.git}\n", "name", "plain YAML"),
    ],
)
def test_hostile_yaml_is_a_validation_error_with_a_line(text: str, field: str, allowed: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_cluster(text, "c.yaml")
    assert info.value.where.startswith("c.yaml:")
    assert info.value.field == field
    assert allowed in info.value.allowed


def test_a_tree_in_another_clusters_flux_folder_is_refused() -> None:
    a = parse_cluster("name: a\ngit: {url: https://g.example.com/r.git}\npath: clusters/b/flux/x\n", "a.yaml")
    b = parse_cluster("name: b\ngit: {url: https://g.example.com/r.git}\n", "b.yaml")
    with pytest.raises(ValidationError) as info:
        build_fleet(App(), [a, b])
    assert info.value.where.startswith("a.yaml:") and "clusters/b/flux" in info.value.allowed
