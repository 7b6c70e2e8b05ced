"""False reports ``plan --charts`` made on the real charts, each pinned by a hand-made fixture and
its control: istiod's proxy tag behind ``spec.chartRef``, a Service's named ``targetPort``, and
``null`` fields in a rendered pod template."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform
from sre_constructs.kernel.tree import _platform_charts, _render
from sre_constructs.plan import plan_files, plan_tree
from sre_constructs.plan.charts import load_rendered
from sre_constructs.plan.mutation import injectors_of
from sre_constructs.plan.source import Files, Obj
from tests.test_plan_faults import (
    GOOD_CONTAINER,
    KYVERNO_CRD,
    VPOL_CRD,
    deployment,
    flux_ks,
    library_policies,
    ns,
    release,
    rendered_tree,
    write,
)
from tests.test_plan_precision import _gateway_pod, _vpol

MIRROR = "mirror.example.com"

# -- 1. istiod installed from an OCIRepository (spec.chartRef): the proxy tag is the chart's ------


def _oci_istiod(tag: str | None) -> list[dict[str, Any]]:
    """istiod from ``spec.chartRef`` (as production installs it) and its OCIRepository."""
    istiod = release("istiod", "istio-system", chart="istiod", values={"global": {"hub": f"{MIRROR}/istio"}})
    del istiod["spec"]["chart"]
    istiod["spec"]["chartRef"] = {"kind": "OCIRepository", "name": "istiod", "namespace": "flux-system"}
    source = {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": "istiod", "namespace": "flux-system"},
        "spec": {"interval": "1h", "url": f"oci://{MIRROR}/charts/istiod", **({"ref": {"tag": tag}} if tag else {})},
    }
    return [source, istiod]


# Admits a pod only when each container pulls exactly the proxy of istiod 1.30.3: the image judged.
_PINNED_PROXY = _vpol(
    "pinned-proxy",
    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]},
    f"object.spec.containers.all(c, c.image == '{MIRROR}/istio/proxyv2:1.30.3')",
)


def _oci_mesh_tree(tmp_path: Path, tag: str | None) -> Path:
    demo = ns("demo")
    demo["metadata"]["labels"]["istio-injection"] = "enabled"
    return write(
        tmp_path,
        {
            "kyverno": [KYVERNO_CRD, VPOL_CRD, *library_policies("disallow-latest-tag"), _PINNED_PROXY],
            "mesh": [ns("istio-system", "privileged"), *_oci_istiod(tag)],
            "demo": [demo, release("demo-operator", "demo")],
        },
        [
            flux_ks("kyverno", "./platform/kyverno"),
            flux_ks("mesh", "./platform/mesh", ("kyverno",)),
            flux_ks("demo", "./platform/demo", ("mesh",)),
        ],
    )


def test_gateway_image_auto_gets_the_tag_of_the_istiod_chart_behind_chart_ref(tmp_path: Path) -> None:
    assert injectors_of(Obj(d, "x") for d in _oci_istiod("1.30.3"))[0].proxy_image == f"{MIRROR}/istio/proxyv2:1.30.3"
    rendered = {("demo", "demo-operator"): [Obj(_gateway_pod(), "rendered")]}
    plan = plan_tree(_oci_mesh_tree(tmp_path / "tagged", "1.30.3"), rendered=rendered, mirror=MIRROR)
    assert plan.ok and plan.checked_pods, [str(b) for b in plan.blockers]
    assert not [n for n in plan.notes if "could not be evaluated" in n], plan.notes
    # The control: no version in the release nor its source, the injector's image is :latest, refused.
    assert injectors_of(Obj(d, "x") for d in _oci_istiod(None))[0].proxy_image == f"{MIRROR}/istio/proxyv2:latest"
    plan = plan_tree(_oci_mesh_tree(tmp_path / "untagged", None), rendered=rendered, mirror=MIRROR)
    refused = [str(b) for b in plan.blockers if b.kind == "admission"]
    assert any("disallow-latest-tag refuses it" in b and "containers: istio-proxy" in b for b in refused), refused
    assert any("pinned-proxy refuses it" in b for b in refused), refused


# -- 2. a rendered Service's named targetPort is the number the NetworkPolicies must open ---------

DOMAIN = "prod.example.com"


@pytest.fixture(scope="module")
def edge_files() -> dict[str, bytes]:
    """The tree exposing Grafana (plain HTTP, port 80 -> container port 3000) and OpenBao (HTTPS only)."""
    app = App()
    CorePlatform(app, "core", domain=DOMAIN, expose=["grafana", "openbao"])
    files: dict[str, bytes] = {}
    for tree in _platform_charts(app):
        for rel, data in _render(tree).items():
            files[posixpath.normpath(posixpath.join(tree.tree_path, rel))] = data
    return files


def _service(name: str, namespace: str, selector: dict[str, str], port: int, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "ports": [{"name": "web", "port": port, "targetPort": target}]},
    }


def _workload(kind: str, name: str, namespace: str, labels: dict[str, str], ports: dict[str, int]) -> dict[str, Any]:
    container = {**GOOD_CONTAINER, "ports": [{"name": n, "containerPort": p} for n, p in ports.items()]}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}},
    }


_GRAFANA = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kube-prometheus-stack"}


def _grafana(container_port: int) -> dict[tuple[str, str], list[Obj]]:
    """What kube-prometheus-stack renders for Grafana: Service port 80 -> targetPort ``grafana``."""
    name = "kube-prometheus-stack-grafana"
    docs = [
        _service(name, "monitoring", _GRAFANA, 80, "grafana"),
        _workload("Deployment", name, "monitoring", {**_GRAFANA, "app.kubernetes.io/version": "13"},
                  {"grafana": container_port, "profiling": 6060}),
    ]  # fmt: skip
    return {("monitoring", "kube-prometheus-stack"): [Obj(d, "rendered") for d in docs]}


def _paths(plan: Any) -> list[str]:
    return [b.need for b in plan.blockers if "letting the gateway" in b.need or "reach" in b.need]


def test_named_target_port_is_checked_as_its_container_port(edge_files: dict[str, bytes]) -> None:
    # The tree's NetworkPolicies open 3000 for Grafana: the pod's port `grafana` is 3000, open.
    plan = plan_files(Files(files=edge_files), ["core"], rendered=_grafana(3000))
    assert not [b for b in plan.blockers if f"grafana.{DOMAIN}" in b.need], [str(b) for b in plan.blockers]
    # helm template leaves metadata.namespace to the chart: a Deployment without one is the release's.
    rendered = _grafana(3000)
    del rendered[("monitoring", "kube-prometheus-stack")][1].metadata["namespace"]
    plan = plan_files(Files(files=edge_files), ["core"], rendered=rendered)
    assert not [b for b in plan.blockers if f"grafana.{DOMAIN}" in b.need], [str(b) for b in plan.blockers]
    # The control: the port named `grafana` is 3001, which no NetworkPolicy opens.
    plan = plan_files(Files(files=edge_files), ["core"], rendered=_grafana(3001))
    closed = [n for n in _paths(plan) if f"grafana.{DOMAIN}" in n]
    assert closed and all("3001" in n for n in closed), [str(b) for b in plan.blockers]


_OPENBAO = {"app.kubernetes.io/name": "openbao", "app.kubernetes.io/instance": "openbao", "component": "server"}


def _openbao() -> dict[tuple[str, str], list[Obj]]:
    """OpenBao's Service rendered, serving only HTTPS (port 8200 -> targetPort ``https``)."""
    docs = [
        _service("openbao", "openbao", _OPENBAO, 8200, "https"),
        _workload("StatefulSet", "openbao", "openbao", _OPENBAO, {"https": 8200, "https-internal": 8201}),
    ]
    return {("openbao", "openbao"): [Obj(d, "rendered") for d in docs]}


def _without_tls(files: dict[str, bytes]) -> dict[str, bytes]:
    """The tree with the gateway's DestinationRules originating plain HTTP."""
    changed = dict(files)
    docs = list(yaml.safe_load_all(changed["core/edge/destinationrule.yaml"]))
    for doc in docs:
        for setting in doc["spec"]["trafficPolicy"]["portLevelSettings"]:
            setting["tls"]["mode"] = "DISABLE"
    changed["core/edge/destinationrule.yaml"] = yaml.safe_dump_all(docs).encode()
    return changed


def test_rendered_https_only_service_still_needs_its_destination_rule(edge_files: dict[str, bytes]) -> None:
    """helm's output does not say a port serves only HTTPS; the chart facts do, rendered or not."""
    plan = plan_files(Files(files=edge_files), ["core"], rendered=_openbao())
    assert not [b for b in plan.blockers if f"openbao.{DOMAIN}" in b.need], [str(b) for b in plan.blockers]
    plan = plan_files(Files(files=_without_tls(edge_files)), ["core"], rendered=_openbao())
    found = [b.need for b in plan.blockers if f"openbao.{DOMAIN}" in b.need]
    assert found and all("HTTPS" in n for n in found), [str(b) for b in plan.blockers]


# -- 3. null fields of a rendered pod template are left out, as the API server decodes them -------


def _memcached(container: dict[str, Any]) -> dict[str, Any]:
    """Loki's memcached StatefulSets render ``annotations:`` with no value (and ``nodeSelector:``)."""
    sts = deployment(container, nodeSelector=None, tolerations=None)
    sts["kind"] = "StatefulSet"
    sts["metadata"]["name"] = "demo-memcached"
    sts["spec"]["template"]["metadata"] = {"labels": {"app": "memcached"}, "annotations": None}
    return sts


_POD_SECURITY = ("pod-security-baseline", "pod-security-restricted")


def _plan_memcached(tmp_path: Path, container: dict[str, Any]) -> Any:
    tree, rendered = rendered_tree(tmp_path, [_memcached(container)], library_policies(*_POD_SECURITY), "privileged")
    loaded = load_rendered(rendered)
    (sts,) = loaded[("demo", "demo-operator")]
    assert sts.spec["template"]["metadata"]["annotations"] is None  # the fixture holds the null
    return plan_tree(tree, rendered=loaded, mirror=MIRROR)


def test_null_annotations_in_a_rendered_template_are_no_annotations(tmp_path: Path) -> None:
    plan = _plan_memcached(tmp_path / "good", GOOD_CONTAINER)
    assert plan.ok and plan.checked_pods, [str(b) for b in plan.blockers]
    assert not [n for n in plan.notes if "could not be evaluated" in n], plan.notes
    # The control: a real violation in the same template is still refused by both policies.
    escalating = {**GOOD_CONTAINER, "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": True,
                  "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}}  # fmt: skip
    plan = _plan_memcached(tmp_path / "bad", escalating)
    refused = [str(b) for b in plan.blockers if b.kind == "admission"]
    assert any("pod-security-restricted refuses it" in b and "Privilege Escalation" in b for b in refused), refused
    assert not [n for n in plan.notes if "could not be evaluated" in n], plan.notes
