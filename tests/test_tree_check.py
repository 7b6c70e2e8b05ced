"""Tests of the written-tree validator (sre_constructs.kernel.tree_check).

Every tree is built from Python dicts dumped with PyYAML. One valid tree passes every check;
each other test breaks that tree in one way and asserts the finding names the object and field.
"""

from __future__ import annotations

import copy
import datetime
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_constructs.kernel.errors import ValidationError
from sre_constructs.kernel.tree_check import (
    CHECKS,
    CRDS_ENV,
    Finding,
    check_tree,
    crd_dirs_from_env,
    infer_repo_root,
    validate_tree,
)

Obj = dict[str, Any]
FLUX_NS = "flux-system"


# --------------------------------------------------------------------------- helpers


def write_docs(path: Path, *docs: Obj) -> None:
    """Write ``docs`` as one (multi-document) YAML file, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")


def read_docs(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def edit(path: Path, change: Callable[[list[Obj]], None]) -> None:
    """Load ``path``, let ``change`` mutate its documents in place, write them back."""
    docs = read_docs(path)
    change(docs)
    write_docs(path, *docs)


def kustomization(*resources: str) -> Obj:
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(resources)}


def namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def helm_repository(name: str, url: str) -> Obj:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "HelmRepository",
        "metadata": {"name": name, "namespace": FLUX_NS},
        "spec": {"interval": "1h", "url": url},
    }


def helm_release(name: str, ns: str, chart: str, repo: str, depends_on: list[Obj] | None = None) -> Obj:
    spec: Obj = {
        "interval": "1h",
        "chart": {
            "spec": {
                "chart": chart,
                "version": "1.0.0",
                "sourceRef": {"kind": "HelmRepository", "name": repo, "namespace": FLUX_NS},
            }
        },
        "values": {"anything": {"goes": [1, "two"]}},  # values preserve unknown fields
    }
    if depends_on:
        spec["dependsOn"] = depends_on
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def flux_kustomization(name: str, *, wait: bool, depends_on: Sequence[str] = (), health: Sequence[Obj] = ()) -> Obj:
    spec: Obj = {
        "interval": "10m",
        "path": f"./core/{name}",
        "prune": True,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        "wait": wait,
    }
    if depends_on:
        spec["dependsOn"] = [{"name": d} for d in depends_on]
    if health:
        spec["healthChecks"] = list(health)
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NS},
        "spec": spec,
    }


def write_component(root: Path, name: str, files: dict[str, list[Obj]]) -> None:
    """A component folder: its manifests plus a kustomization.yaml listing them."""
    for file, docs in files.items():
        write_docs(root / name / file, *docs)
    write_docs(root / name / "kustomization.yaml", kustomization(*sorted(files)))


def messages(findings: list[Finding], check: str) -> list[str]:
    return [f.message for f in findings if f.check == check]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A valid tree at <tmp>/dist/core (repo-path ``core``) with two components."""
    root = tmp_path / "dist" / "core"
    write_docs(
        root / "sources" / "helmrepositories.yaml",
        helm_repository("jetstack", "https://charts.jetstack.io"),
        helm_repository("prometheus-community", "https://prometheus-community.github.io/helm-charts"),
    )
    write_docs(
        root / "components" / "cert-manager.yaml",
        flux_kustomization(
            "cert-manager",
            wait=False,
            health=[
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cert-manager", "namespace": "cert-manager"},
                {
                    "apiVersion": "helm.toolkit.fluxcd.io/v2",
                    "kind": "HelmRelease",
                    "name": "cert-manager",
                    "namespace": "cert-manager",
                },
                {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "name": "selfsigned"},
            ],
        ),
    )
    write_docs(
        root / "components" / "monitoring.yaml",
        flux_kustomization("monitoring", wait=True, depends_on=["cert-manager"]),
    )
    write_component(
        root,
        "cert-manager",
        {
            "namespace.yaml": [namespace("cert-manager")],
            "helmrelease.yaml": [helm_release("cert-manager", "cert-manager", "cert-manager", "jetstack")],
            "clusterissuer.yaml": [
                {
                    "apiVersion": "cert-manager.io/v1",
                    "kind": "ClusterIssuer",
                    "metadata": {"name": "selfsigned"},
                    "spec": {"selfSigned": {}},
                }
            ],
            "networkpolicy.yaml": [
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "default-deny", "namespace": "cert-manager"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
                }
            ],
        },
    )
    write_component(
        root,
        "monitoring",
        {
            "namespace.yaml": [namespace("monitoring")],
            "helmrelease.yaml": [
                helm_release(
                    "kube-prometheus-stack",
                    "monitoring",
                    "kube-prometheus-stack",
                    "prometheus-community",
                    depends_on=[{"name": "cert-manager", "namespace": "cert-manager"}],
                )
            ],
            "servicemonitor.yaml": [
                {
                    "apiVersion": "monitoring.coreos.com/v1",
                    "kind": "ServiceMonitor",
                    "metadata": {"name": "grafana", "namespace": "monitoring"},
                    "spec": {"selector": {"matchLabels": {"app": "grafana"}}, "endpoints": [{"port": "http"}]},
                }
            ],
            # safe_dump writes the date unquoted (a YAML timestamp); Kubernetes reads it as a string.
            "configmap.yaml": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "dash", "namespace": "monitoring"},
                    "data": {"since": datetime.date(2024, 1, 1)},
                }
            ],
            "peerauthentication.yaml": [
                {
                    "apiVersion": "security.istio.io/v1",
                    "kind": "PeerAuthentication",
                    "metadata": {"name": "default", "namespace": "monitoring"},
                    "spec": {"mtls": {"mode": "STRICT"}},
                }
            ],
        },
    )
    write_docs(
        root / "kustomization.yaml",
        kustomization("sources/helmrepositories.yaml", "components/cert-manager.yaml", "components/monitoring.yaml"),
    )
    return root


# --------------------------------------------------------------------------- the valid tree


def test_valid_tree_has_no_findings(tree: Path) -> None:
    assert check_tree(tree) == []
    validate_tree(tree)  # does not raise


def test_repo_root_inferred_or_given(tree: Path) -> None:
    assert check_tree(tree, repo_root=tree.parent, kustomize=False) == []
    wrong = check_tree(tree, repo_root=tree, kustomize=False)
    assert sorted(f.file for f in wrong if f.check == "flux-path") == [
        "components/cert-manager.yaml",
        "components/monitoring.yaml",
    ]
    assert "'./core/cert-manager' resolves to" in messages(wrong, "flux-path")[0]


def test_repo_root_inferred_from_the_flux_paths(tree: Path, tmp_path: Path) -> None:
    assert infer_repo_root(tree) == tmp_path / "dist"  # ./core/<name> in <tmp>/dist/core
    # A sync tree beside the platform, pointing at it: the root is where its path resolves.
    sync = tmp_path / "dist" / "flux" / "sync"
    write_docs(sync / "components" / "core.yaml", {**flux_kustomization("core", wait=False)})
    edit(sync / "components" / "core.yaml", lambda docs: docs[0]["spec"].update(path="./core"))
    write_docs(sync / "kustomization.yaml", kustomization("components/core.yaml"))
    assert infer_repo_root(sync) == tmp_path / "dist"
    assert check_tree(sync, kustomize=False) == []
    write_docs(tmp_path / "plain" / "kustomization.yaml", kustomization())
    assert infer_repo_root(tmp_path / "plain") == tmp_path / "plain"  # no Flux paths: the tree itself


def test_crd_env_names_the_generator_input_not_the_schemas(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CRDS_ENV, os.pathsep.join(["/a", "", "/b"]))
    assert crd_dirs_from_env() == [Path("/a"), Path("/b")]
    # Validation reads the bundled schemas whatever the variable says.
    assert check_tree(tree, kustomize=False) == []
    monkeypatch.delenv(CRDS_ENV)
    assert crd_dirs_from_env() == []


def test_missing_crd_dir_is_an_error(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="crd_dirs"):
        check_tree(tree, crd_dirs=[tmp_path / "nope"], kustomize=False)


# --------------------------------------------------------------------------- 1. yaml


def test_unparsable_file_and_missing_name(tree: Path) -> None:
    # A broken file cannot come from yaml.dump: these raw bytes are the point of the test.
    (tree / "monitoring" / "broken.yaml").write_bytes(b"kind: [unclosed\n")
    edit(tree / "monitoring" / "namespace.yaml", lambda docs: docs[0]["metadata"].pop("name"))
    findings = check_tree(tree, kustomize=False)
    yaml_findings = {f.file: f.message for f in findings if f.check == "yaml"}
    assert "does not parse as YAML" in yaml_findings["monitoring/broken.yaml"]
    assert "metadata.name" in yaml_findings["monitoring/namespace.yaml"]
    assert "Namespace" in yaml_findings["monitoring/namespace.yaml"]


# --------------------------------------------------------------------------- 2. schema


def test_core_kind_unknown_field_and_bad_type(tree: Path) -> None:
    def break_policy(docs: list[Obj]) -> None:
        docs[0]["spec"]["podSelectr"] = {}

    edit(tree / "cert-manager" / "networkpolicy.yaml", break_policy)
    edit(tree / "monitoring" / "namespace.yaml", lambda docs: docs[0]["metadata"].update(labels={"team": 7}))
    findings = check_tree(tree, kustomize=False)
    schema = messages(findings, "schema")
    assert any(
        "NetworkPolicy cert-manager/default-deny" in m and "field spec" in m and "'podSelectr' was unexpected" in m
        for m in schema
    ), schema
    assert any("Namespace monitoring" in m and "metadata.labels.team" in m and "7" in m for m in schema), schema


def test_custom_resource_against_crd(tree: Path) -> None:
    edit(tree / "cert-manager" / "helmrelease.yaml", lambda docs: docs[0]["spec"].update(interval=5))
    edit(tree / "cert-manager" / "clusterissuer.yaml", lambda docs: docs[0]["spec"].update(selfSigned={"bogus": True}))
    edit(tree / "monitoring" / "peerauthentication.yaml", lambda docs: docs[0]["spec"]["mtls"].update(mode="SOMETIMES"))
    schema = messages(check_tree(tree, kustomize=False), "schema")
    assert any(
        "HelmRelease cert-manager/cert-manager" in m and "spec.interval" in m and "5 is not of type 'string'" in m
        for m in schema
    ), schema
    assert any(
        "ClusterIssuer selfsigned" in m and "spec.selfSigned" in m and "'bogus' was unexpected" in m for m in schema
    ), schema
    assert any(
        "PeerAuthentication monitoring/default" in m and "spec.mtls.mode" in m and "'SOMETIMES'" in m for m in schema
    ), schema


def test_custom_resource_without_crd(tree: Path) -> None:
    gadget = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g", "namespace": "monitoring"}}
    write_docs(tree / "monitoring" / "gadget.yaml", gadget)
    edit(tree / "monitoring" / "kustomization.yaml", lambda docs: docs[0]["resources"].append("gadget.yaml"))
    edit(tree / "cert-manager" / "networkpolicy.yaml", lambda docs: docs[0]["spec"].update(policyTypes="Ingress"))

    schema = messages(check_tree(tree, kustomize=False), "schema")
    assert any(
        "Gadget monitoring/g" in m and "no schema for apiVersion 'example.com/v1' kind 'Gadget'" in m for m in schema
    ), schema

    # No CRD folders: custom resources are skipped entirely, core kinds are still checked.
    schema = messages(check_tree(tree, crd_dirs=[], kustomize=False), "schema")
    assert not any("Gadget" in m for m in schema)
    assert any("NetworkPolicy cert-manager/default-deny" in m and "spec.policyTypes" in m for m in schema), schema


def crd(group: str, kind: str, schema: Obj, *, unserved: str | None = None) -> Obj:
    """A CustomResourceDefinition serving ``v1`` (and not serving ``unserved``)."""
    versions = [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}]
    if unserved:
        versions.append({"name": unserved, "served": False, "storage": False, "schema": {"openAPIV3Schema": schema}})
    plural = kind.lower() + "s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "versions": versions,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
        },
    }


def test_crd_in_a_k8s_io_group_shadowing_a_core_kind(tmp_path: Path) -> None:
    # kubernetes-validate maps networking.example.k8s.io to its networking.k8s.io schema by name:
    # the CRD must win, not a core schema for another group.
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {"cidr": {"type": "string"}}}}}
    write_docs(tmp_path / "crds" / "policy.yaml", crd("networking.example.k8s.io", "NetworkPolicy", schema))
    root = tmp_path / "tree"
    write_docs(root / "kustomization.yaml", kustomization("net"))
    policy = {
        "apiVersion": "networking.example.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "n"},
    }
    write_component(
        root,
        "net",
        {
            "ok.yaml": [{**policy, "spec": {"cidr": "10.0.0.0/8"}}],
            "bad.yaml": [{**policy, "metadata": {"name": "q"}, "spec": {"cidr": 10}}],
        },
    )
    findings = check_tree(root, crd_dirs=[tmp_path / "crds"], kustomize=False)
    errors = [f for f in findings if f.is_error]
    assert [(f.file, f.check) for f in errors] == [("net/bad.yaml", "schema")], findings
    assert "NetworkPolicy q: field spec.cidr (value 10): 10 is not of type 'string'" in errors[0].message


def test_crd_schema_semantics(tmp_path: Path) -> None:
    """int-or-string without type, nullable, list-type set, preserve-unknown-fields, served."""
    crds = tmp_path / "crds"
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "port": {"x-kubernetes-int-or-string": True},
                    "note": {"type": "string", "nullable": True},
                    "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "op": {"type": "string", "enum": ["=", "!="]},
                },
            }
        },
    }
    crd_file = crds / "nested" / "widgets.yaml"
    write_docs(crd_file, crd("example.com", "Widget", schema, unserved="v1alpha1"))
    # prometheus-operator CRDs carry a bare `=` (YAML 1.1 !!value); safe_dump quotes it, so unquote it.
    crd_file.write_text(crd_file.read_text(encoding="utf-8").replace("- '='", "- ="), encoding="utf-8")
    assert "- =\n" in crd_file.read_text(encoding="utf-8")

    def widget(name: str, spec: Obj, version: str = "v1") -> Obj:
        return {
            "apiVersion": f"example.com/{version}",
            "kind": "Widget",
            "metadata": {"name": name, "namespace": "w"},
            "spec": spec,
        }

    root = tmp_path / "tree"
    write_docs(root / "kustomization.yaml", kustomization("widgets"))
    write_component(
        root,
        "widgets",
        {
            "widgets.yaml": [
                widget("int-port", {"port": 8080, "note": None, "tags": ["a", "b"], "extra": {"free": {"form": 1}}}),
                widget("str-port", {"port": "http", "note": "hi", "op": "="}),
                widget("bad-op", {"op": "~"}),
                widget("bool-port", {"port": True}),
                widget("dup-tags", {"tags": ["a", "a"]}),
                widget("unknown-field", {"colour": "red"}),
                widget("unserved", {}, version="v1alpha1"),
                widget("Bad_Name", {}),
            ]
        },
    )
    schema_msgs = messages(check_tree(root, crd_dirs=[crds], kustomize=False), "schema")
    by_name = {
        name: [m for m in schema_msgs if f"Widget w/{name}:" in m]
        for name in ("int-port", "str-port", "bool-port", "dup-tags", "unknown-field", "unserved", "Bad_Name", "bad-op")
    }
    assert by_name["int-port"] == [] and by_name["str-port"] == [], schema_msgs
    assert any("spec.port" in m and "True" in m for m in by_name["bool-port"]), schema_msgs
    assert any("spec.tags" in m and "non-unique" in m for m in by_name["dup-tags"]), schema_msgs
    assert any("'colour' was unexpected" in m for m in by_name["unknown-field"]), schema_msgs
    assert any(
        "apiVersion 'example.com/v1alpha1' of kind 'Widget' is defined but not served by the CRDs in" in m
        and "expected one of ['example.com/v1']" in m
        for m in by_name["unserved"]
    ), schema_msgs
    assert any("metadata.name" in m for m in by_name["Bad_Name"]), schema_msgs
    assert any("spec.op" in m and "'~' is not one of ['=', '!=']" in m for m in by_name["bad-op"]), schema_msgs


def test_kustomization_file_shape(tree: Path) -> None:
    edit(tree / "monitoring" / "kustomization.yaml", lambda docs: docs[0].update(apiVersion="v1", resourcez=[]))
    schema = {
        f.message
        for f in check_tree(tree, kustomize=False)
        if f.check == "schema" and f.file == "monitoring/kustomization.yaml"
    }
    assert any("field apiVersion is 'v1'" in m and "kustomize.config.k8s.io/v1beta1" in m for m in schema), schema
    assert any("unknown field(s) ['resourcez']" in m for m in schema), schema


# --------------------------------------------------------------------------- 3. kustomize


def test_kustomize_build_failure(tree: Path) -> None:
    # Same Namespace twice in one folder: listing and schema are fine, kustomize refuses it.
    write_docs(tree / "monitoring" / "namespace-again.yaml", namespace("monitoring"))
    edit(tree / "monitoring" / "kustomization.yaml", lambda docs: docs[0]["resources"].append("namespace-again.yaml"))
    findings = check_tree(tree)
    assert [(f.file, f.check) for f in findings] == [("monitoring/kustomization.yaml", "kustomize")], findings
    assert "failed" in findings[0].message and "monitoring" in findings[0].message
    assert check_tree(tree, kustomize=False) == []


def test_kustomize_missing_binary_raises(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(RuntimeError, match="neither `kubectl` nor `kustomize`"):
        check_tree(tree, crd_dirs=[])


# --------------------------------------------------------------------------- 4. listing


def test_listing_missing_extra_and_unlisted(tree: Path) -> None:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dash2", "namespace": "monitoring"}}
    write_docs(tree / "monitoring" / "configmap2.yaml", configmap)
    write_docs(tree / "cert-manager" / "configmap.yaml", {**configmap, "metadata": {"name": "cm", "namespace": "x"}})
    edit(tree / "cert-manager" / "kustomization.yaml", lambda docs: docs[0]["resources"].append("ghost.yaml"))
    edit(tree / "kustomization.yaml", lambda docs: docs[0]["resources"].remove("components/monitoring.yaml"))
    # Valid kustomize, not the library's layout: the root lists a file of a component folder.
    edit(tree / "kustomization.yaml", lambda docs: docs[0]["resources"].append("cert-manager/configmap.yaml"))
    listing = {(f.file, f.severity, f.message) for f in check_tree(tree, kustomize=False) if f.check == "listing"}
    assert sorted((file, severity) for file, severity, _ in listing) == [
        # kustomize's rules: a missing entry, and files nothing applies
        ("cert-manager/kustomization.yaml", "error"),
        ("cert-manager/kustomization.yaml", "note"),
        ("components/monitoring.yaml", "error"),
        ("kustomization.yaml", "note"),
        ("monitoring/configmap2.yaml", "error"),
    ], listing
    text = {(file, severity): message for file, severity, message in listing}
    assert "resources entry 'ghost.yaml' does not exist" in text[("cert-manager/kustomization.yaml", "error")]
    assert (
        "holds 1 Kubernetes object(s) but no kustomization.yaml lists it"
        in text[("monitoring/configmap2.yaml", "error")]
    )
    assert "never applied" in text[("components/monitoring.yaml", "error")]
    assert "resources entry 'cert-manager/configmap.yaml'" in text[("kustomization.yaml", "note")]
    assert (
        "does not list 'configmap.yaml', which another kustomization applies"
        in text[("cert-manager/kustomization.yaml", "note")]
    )


def test_listing_folder_without_kustomization(tree: Path) -> None:
    (tree / "monitoring" / "kustomization.yaml").unlink()
    listing = messages(check_tree(tree, kustomize=False), "listing")
    assert any("folder monitoring/" in m and "no kustomization.yaml" in m for m in listing), listing


# --------------------------------------------------------------------------- 5. flux-path


def test_flux_path_to_missing_folder(tree: Path) -> None:
    edit(tree / "components" / "monitoring.yaml", lambda docs: docs[0]["spec"].update(path="./core/monitorng"))
    flux = messages(check_tree(tree, kustomize=False), "flux-path")
    assert len(flux) == 1, flux
    assert "Kustomization flux-system/monitoring" in flux[0] and "spec.path './core/monitorng'" in flux[0]
    assert "is not a folder" in flux[0]


# --------------------------------------------------------------------------- 6. depends-on / source


def test_depends_on_missing_targets(tree: Path) -> None:
    edit(tree / "components" / "monitoring.yaml", lambda docs: docs[0]["spec"].update(dependsOn=[{"name": "istio"}]))
    edit(
        tree / "monitoring" / "helmrelease.yaml",
        lambda docs: docs[0]["spec"].update(dependsOn=[{"name": "cert-manager"}]),
    )  # wrong namespace by default
    deps = messages(check_tree(tree, kustomize=False), "depends-on")
    assert any(
        "Kustomization flux-system/monitoring" in m and "spec.dependsOn[0] names Kustomization flux-system/istio" in m
        for m in deps
    ), deps
    assert any(
        "HelmRelease monitoring/kube-prometheus-stack" in m
        and "HelmRelease monitoring/cert-manager" in m
        and "cert-manager/cert-manager" in m
        for m in deps
    ), deps


def test_depends_on_cycle(tree: Path) -> None:
    edit(
        tree / "components" / "cert-manager.yaml",
        lambda docs: docs[0]["spec"].update(dependsOn=[{"name": "monitoring"}]),
    )
    deps = messages(check_tree(tree, kustomize=False), "depends-on")
    assert len(deps) == 1, deps
    assert "cycle" in deps[0]
    assert "flux-system/cert-manager -> flux-system/monitoring -> flux-system/cert-manager" in deps[0]


def test_helmrelease_source_missing(tree: Path) -> None:
    def retarget(docs: list[Obj]) -> None:
        docs[0]["spec"]["chart"]["spec"]["sourceRef"]["name"] = "jetstak"

    edit(tree / "cert-manager" / "helmrelease.yaml", retarget)
    source = messages(check_tree(tree, kustomize=False), "source")
    assert len(source) == 1, source
    assert "HelmRelease cert-manager/cert-manager" in source[0]
    assert "spec.chart.spec.sourceRef names HelmRepository flux-system/jetstak" in source[0]


# --------------------------------------------------------------------------- 7. health-check


def test_health_checks(tree: Path) -> None:
    def break_checks(docs: list[Obj]) -> None:
        checks = docs[0]["spec"]["healthChecks"]
        checks[0]["namespace"] = "certmanager"  # Deployment: only the namespace can be checked
        checks[1]["name"] = "cert-manger"  # HelmRelease: must exist in the tree

    edit(tree / "components" / "cert-manager.yaml", break_checks)
    edit(
        tree / "components" / "monitoring.yaml",
        lambda docs: docs[0]["spec"].update(
            healthChecks=[{"apiVersion": "v1", "kind": "Namespace", "name": "monitoring"}]
        ),
    )
    health = messages(check_tree(tree, kustomize=False), "health-check")
    assert len(health) == 3, health
    text = "\n".join(health)
    assert "spec.healthChecks[0] (apps/v1 Deployment certmanager/cert-manager) has namespace 'certmanager'" in text
    assert (
        "spec.healthChecks[1] (helm.toolkit.fluxcd.io/v2 HelmRelease cert-manager/cert-manger) names no object" in text
    )
    assert "Kustomization flux-system/monitoring: field spec.wait is true and spec.healthChecks has 1" in text


# --------------------------------------------------------------------------- API


def test_validate_tree_raises_with_every_finding(tree: Path) -> None:
    edit(tree / "components" / "monitoring.yaml", lambda docs: docs[0]["spec"].update(dependsOn=[{"name": "istio"}]))
    write_docs(tree / "monitoring" / "extra.yaml", namespace("extra"))
    findings = check_tree(tree, kustomize=False)
    assert findings == sorted(findings) and len(findings) >= 2
    assert {f.check for f in findings} <= set(CHECKS)
    with pytest.raises(ValidationError) as caught:
        validate_tree(tree, kustomize=False)
    assert caught.value.field == "tree"
    assert caught.value.where == str(tree)
    errors = [f for f in findings if f.severity == "error"]
    assert len(errors) == len(findings) == 2  # a missing dependsOn target; an unlisted file is never applied
    assert caught.value.value == len(errors)
    assert caught.value.allowed.splitlines() == [str(f) for f in errors]


def test_findings_are_deterministic(tree: Path) -> None:
    edit(
        tree / "components" / "cert-manager.yaml",
        lambda docs: docs[0]["spec"].update(dependsOn=[{"name": "x"}, {"name": "y"}]),
    )
    first = check_tree(tree, kustomize=False)
    assert first == check_tree(copy.copy(tree), kustomize=False)
    assert first == sorted(set(first))


# --------------------------------------------------------------------------- foreign trees

PLAIN_REPO = Path(__file__).resolve().parent / "fixtures" / "plain-flux-repo"


def test_a_hand_written_flux_repo_is_judged_by_kustomize_rules(kubectl: str) -> None:
    """Real errors fail; this library's layout conventions are notes; a values file is nothing."""
    findings = check_tree(PLAIN_REPO / "platform" / "core")  # repo root inferred: the fixture's folder
    got = sorted((f.severity, f.file, f.check) for f in findings)
    assert got == [
        ("error", "external-secrets/clustersecretstore.yaml", "listing"),  # no kustomization lists it
        ("error", "external-secrets/externalsecret.yaml", "schema"),  # v1beta1: not served by ESO 2.9
        ("note", "cert-manager/kustomization.yaml", "listing"),  # lists files in a subfolder
        ("note", "cert-manager/kustomization.yaml", "listing"),
        ("note", "cert-manager/manifests/", "listing"),  # no kustomization.yaml of its own
        ("note", "components/monitoring.yaml", "flux-path"),  # Flux generates monitoring's kustomization
        ("note", "monitoring/", "listing"),
    ], "\n".join(map(str, findings))
    by_file = {f.file: f.message for f in findings if f.is_error}
    assert by_file["external-secrets/externalsecret.yaml"] == (
        "ExternalSecret external-secrets/grafana-admin: apiVersion 'external-secrets.io/v1beta1' of kind "
        "'ExternalSecret' is defined but not served by External Secrets v2.9.0; expected one of "
        "['external-secrets.io/v1']"
    )
    assert "never applied" in by_file["external-secrets/clustersecretstore.yaml"]
    assert not any("values.yaml" in f.file or "values.yaml" in f.message for f in findings)
    with pytest.raises(ValidationError) as caught:
        validate_tree(PLAIN_REPO / "platform" / "core", kustomize=False)
    assert caught.value.value == 2  # the notes do not count


def test_validate_exits_on_errors_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sre_constructs.cli import main

    repo = tmp_path / "repo"
    shutil.copytree(PLAIN_REPO, repo)
    core = repo / "platform" / "core"
    assert main(["validate", str(core), "--no-kustomize"]) == 1
    out, err = capsys.readouterr()
    assert out == f"validate {core}: 2 error(s), 5 note(s)\n"
    assert err.count(", note] ") == 5 and err.count("[schema] ") == 1 and err.count("[listing] ") == 1

    # Fix the two errors: notes alone print but pass, unless --strict.
    secret = core / "external-secrets" / "externalsecret.yaml"
    secret.write_text(secret.read_text().replace("external-secrets.io/v1beta1", "external-secrets.io/v1"))
    edit(
        core / "external-secrets" / "kustomization.yaml", lambda d: d[0]["resources"].append("clustersecretstore.yaml")
    )
    assert main(["validate", str(core), "--no-kustomize"]) == 0
    out, err = capsys.readouterr()
    assert out == f"validate {core}: ok, 5 note(s)\n" and err.count(", note] ") == 5
    assert main(["validate", str(core), "--no-kustomize", "--strict"]) == 1
