"""The plan assumes nothing it cannot see: sources and health checks must exist, policies judge
only what they match, pods are judged after the mutating webhooks. Each fault has its control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sre_constructs.kernel.facts import ChartFacts, ObjectRef, register_chart
from sre_constructs.plan import plan_tree
from sre_constructs.plan.charts import load_rendered
from sre_constructs.plan.mutation import injectors_of, mutate
from sre_constructs.plan.pods import pss_violations
from sre_constructs.plan.source import Obj
from sre_constructs.tenancy.policies import namespaced_only
from tests.test_plan_faults import (
    GOOD_CONTAINER,
    KYVERNO_CRD,
    VPOL_CRD,
    blockers,
    deployment,
    flux_ks,
    library_policies,
    ns,
    release,
    rendered_tree,
    write,
)

# A chart whose facts name the workload each release renders: a Deployment named like the release.
register_chart(
    ChartFacts(chart="demo-app", workloads=lambda values, ns, release: (ObjectRef("Deployment", ns, release),))
)


# -- sources: bootstrap provides flux-system only ------------------------------------------


def _git(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": {"interval": "1m", "url": "https://git.example.com/apps", "ref": {"branch": "main"}},
    }


def _sourced(name: str, source: str) -> dict[str, Any]:
    component = flux_ks(name, f"./platform/{name}")
    component["spec"]["sourceRef"] = {"kind": "GitRepository", "name": source}
    return component


def test_misspelled_source_is_a_blocker_naming_the_likely_target(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"repos": [_git("team-apps")], "apps": [ns("apps")]},
        [flux_ks("repos", "./platform/repos"), _sourced("apps", "team-aps")],
    )
    plan = plan_tree(tree)
    assert not plan.ok
    found = [b for b in plan.blockers if b.unit == "flux-system/apps"]
    assert len(found) == 1, [str(b) for b in plan.blockers]
    assert found[0].need == "GitRepository flux-system/team-aps Ready (spec.sourceRef)"
    assert "nothing in the tree defines it" in found[0].provider
    assert "did you mean GitRepository flux-system/team-apps?" in found[0].provider
    assert not next(s for s in plan.steps if s.name == "flux-system/apps").ready


def test_source_the_tree_defines_or_bootstrap_made_comes_up(tmp_path: Path) -> None:
    component = _sourced("apps", "team-apps")
    component["spec"]["dependsOn"] = [{"name": "repos"}]
    tree = write(
        tmp_path,
        {"repos": [_git("team-apps")], "apps": [ns("apps")]},
        [flux_ks("repos", "./platform/repos"), component],
    )
    plan = plan_tree(tree)
    # Defined in the tree, the source comes up; what it serves is another repository: unknown, not ok.
    assert plan.ok and not plan.blockers, [str(b) for b in plan.blockers]
    apps = next(s for s in plan.steps if s.name == "flux-system/apps")
    assert not apps.ready and apps.unknown and "another repository" in apps.unknown
    assert "?? flux-system/apps" in plan.render("text")
    # A source only bootstrap made is there when named on the command line, and only then.
    other = write(tmp_path / "other", {"apps": [ns("apps")]}, [_sourced("apps", "fleet")])
    assert any("GitRepository flux-system/fleet Ready (spec.sourceRef)" in b for b in blockers(other))
    assert blockers(other, bootstrap=["flux-system", "fleet"]) == []


# -- health checks: on what the tree or a chart produces -----------------------------------


def _checked(name: str, kind: str = "Deployment") -> dict[str, Any]:
    component = flux_ks("demo", "./platform/demo", wait=False)
    component["spec"]["healthChecks"] = [{"apiVersion": "apps/v1", "kind": kind, "name": name, "namespace": "demo"}]
    return component


def test_health_check_on_a_misspelled_deployment_is_a_blocker(tmp_path: Path) -> None:
    folder = [ns("demo"), release("web", "demo", chart="demo-app")]
    tree = write(tmp_path, {"demo": folder}, [_checked("wbe")])
    plan = plan_tree(tree)
    assert not plan.ok
    assert [(b.need, b.provider) for b in plan.blockers] == [
        (
            "health check Deployment demo/wbe Ready",
            "nothing in the tree or its charts produces Deployment demo/wbe; did you mean Deployment demo/web?",
        )
    ]
    # The control: the name the chart renders.
    good = write(tmp_path / "good", {"demo": folder}, [_checked("web")])
    assert blockers(good) == []


def test_health_check_is_matched_exactly_against_rendered_charts(tmp_path: Path) -> None:
    folder = [ns("demo"), release("web", "demo", chart="demo-app")]
    tree = write(tmp_path, {"demo": folder}, [_checked("web-server")])
    # Rendered, the chart names its Deployment web-server, not after the release as its facts say.
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web-server"}, "spec": {}}
    rendered = {("demo", "web"): [Obj(deployment, "rendered")]}
    assert plan_tree(tree, rendered=rendered).ok
    assert any(
        "did you mean Deployment demo/web-server?" in b
        for b in blockers(write(tmp_path / "bad", {"demo": folder}, [_checked("web-servr")]), rendered=rendered)
    )


def test_health_check_on_an_object_nothing_produces_is_a_blocker(tmp_path: Path) -> None:
    tree = write(tmp_path, {"demo": [ns("demo")]}, [_checked("anything")])
    assert any("nothing in the tree or its charts produces Deployment demo/anything" in b for b in blockers(tree))


# -- ValidatingPolicies judge only what they match -----------------------------------------


def _vpol(name: str, rule: dict[str, Any], validation: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policies.kyverno.io/v1",
        "kind": "ValidatingPolicy",
        "metadata": {"name": name},
        "spec": {
            "validationActions": ["Deny"],
            "matchConstraints": {"resourceRules": [rule]},
            "validations": [{"expression": validation, "message": f"{name} refuses it"}],
            **spec,
        },
    }


_PODS = {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}


def _plan_rendered(tmp_path: Path, docs: list[dict[str, Any]], policies: list[dict[str, Any]]) -> Any:
    tree, rendered = rendered_tree(tmp_path, docs, policies)
    return plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")


def test_cluster_scope_only_policy_says_nothing_about_namespaced_pods(tmp_path: Path) -> None:
    plan = _plan_rendered(tmp_path, [deployment(GOOD_CONTAINER)], [namespaced_only()])
    assert plan.ok, [str(b) for b in plan.blockers]
    assert not [n for n in plan.notes if "tenant-namespaced-only" in n], plan.notes
    # The control: the same unevaluable CEL on a rule that does match pods is still noted.
    matching = _vpol("quantities", _PODS, "quantity('1Gi').isInteger()")
    plan = _plan_rendered(tmp_path / "matching", [deployment(GOOD_CONTAINER)], [matching])
    assert plan.ok
    assert any("ValidatingPolicy quantities could not be evaluated" in n for n in plan.notes), plan.notes


def test_object_selector_and_match_conditions_choose_the_pods_judged(tmp_path: Path) -> None:
    selected = _vpol("no-demo", _PODS, "false", matchConstraints={
        "resourceRules": [_PODS], "objectSelector": {"matchLabels": {"app": "demo"}}
    })  # fmt: skip
    labelled = deployment(GOOD_CONTAINER)
    labelled["spec"]["template"]["metadata"] = {"labels": {"app": "demo"}}
    assert any("no-demo refuses it" in str(b) for b in _plan_rendered(tmp_path / "a", [labelled], [selected]).blockers)
    assert _plan_rendered(tmp_path / "b", [deployment(GOOD_CONTAINER)], [selected]).ok
    # A Deployment's pods are created by the ReplicaSet controller, not by Flux: a condition on
    # Flux's account does not match them; one on the controller's does.
    by_flux = _vpol("by-flux", _PODS, "false", matchConditions=[
        {"name": "flux", "expression": "request.userInfo.username.endsWith(':helm-controller')"}
    ])  # fmt: skip
    assert _plan_rendered(tmp_path / "c", [deployment(GOOD_CONTAINER)], [by_flux]).ok
    by_controller = _vpol("by-controller", _PODS, "false", matchConditions=[
        {"name": "rs", "expression": "request.userInfo.username.endsWith(':replicaset-controller')"}
    ])  # fmt: skip
    plan = _plan_rendered(tmp_path / "d", [deployment(GOOD_CONTAINER)], [by_controller])
    assert any("by-controller refuses it" in str(b) for b in plan.blockers)


# -- pods judged after the mutating webhooks (Istio's injector) ----------------------------


def _gateway_pod() -> dict[str, Any]:
    """What the istio/gateway chart renders: `image: auto`, filled in by istiod's injector."""
    pod = deployment({**GOOD_CONTAINER, "name": "istio-proxy", "image": "auto"})
    pod["metadata"]["name"] = "demo-operator"
    pod["spec"]["template"]["metadata"] = {
        "labels": {"sidecar.istio.io/inject": "true", "app": "gateway"},
        "annotations": {"inject.istio.io/templates": "gateway"},
    }
    return pod


def _mesh_tree(tmp_path: Path, injection: str) -> Path:
    istiod = release("istiod", "istio-system", chart="istiod", values={"global": {"hub": "mirror.example.com/istio"}})
    demo_ns = ns("demo")
    demo_ns["metadata"]["labels"]["istio-injection"] = injection
    return write(
        tmp_path,
        {
            "kyverno": [KYVERNO_CRD, VPOL_CRD, *library_policies("disallow-latest-tag")],
            "mesh": [ns("istio-system", "privileged"), istiod],
            "demo": [demo_ns, release("demo-operator", "demo")],
        },
        [
            flux_ks("kyverno", "./platform/kyverno"),
            flux_ks("mesh", "./platform/mesh", ("kyverno",)),
            flux_ks("demo", "./platform/demo", ("mesh",)),
        ],
    )


def test_gateway_pod_is_judged_with_the_image_istio_injects(tmp_path: Path) -> None:
    rendered = {("demo", "demo-operator"): [Obj(_gateway_pod(), "rendered")]}
    plan = plan_tree(_mesh_tree(tmp_path, "enabled"), rendered=rendered, mirror="mirror.example.com")
    assert plan.ok, [str(b) for b in plan.blockers]
    # The control: where nothing injects, `image: auto` is what the policy sees, and refuses.
    plan = plan_tree(_mesh_tree(tmp_path / "off", "disabled"), rendered=rendered, mirror="mirror.example.com")
    refused = [str(b) for b in plan.blockers if b.kind == "admission"]
    assert any("disallow-latest-tag refuses it" in b and "containers: istio-proxy" in b for b in refused), refused


def test_sidecar_injection_adds_the_proxy_and_its_privileged_init_without_cni() -> None:
    istiod = Obj(release("istiod", "istio-system", chart="istiod", values={"global": {"hub": "m.example/istio"}}), "x")
    (injector,) = injectors_of([istiod])
    assert injector.proxy_image == "m.example/istio/proxyv2:1.0.0"
    spec = mutate([injector], {"istio-injection": "enabled"}, {}, {"containers": [GOOD_CONTAINER]})
    assert [c["name"] for c in spec["containers"]] == ["manager", "istio-proxy"]
    assert spec["initContainers"][0]["securityContext"]["capabilities"]["add"] == ["NET_ADMIN", "NET_RAW"]
    assert pss_violations(spec, "restricted"), "istio-init needs NET_ADMIN: restricted refuses it"
    # Opted out by the pod's label, or in a namespace not selected: untouched.
    assert mutate([injector], {"istio-injection": "enabled"}, {"labels": {"sidecar.istio.io/inject": "false"}},
                  {"containers": [GOOD_CONTAINER]}) == {"containers": [GOOD_CONTAINER]}  # fmt: skip
    assert mutate([injector], {}, {}, {"containers": [GOOD_CONTAINER]}) == {"containers": [GOOD_CONTAINER]}


def test_wait_off_services_health_checks_match_their_charts_facts() -> None:
    """OpenBao and Velero declare the workloads they render: their health checks are verified
    without charts (no 'taken as a workload' note), and a misspelled one would be a blocker."""
    from cdk8s import App

    from sre_constructs import CorePlatform
    from sre_constructs.plan import plan_app

    app = App()
    CorePlatform(app, "core", services={"openbao": {"wait": False}, "backup": {"wait": False}})
    plan = plan_app(app)
    assert plan.ok, plan.render("text")
    assert not [n for n in plan.notes if "taken as a workload" in n], plan.notes
    openbao = next(s for s in plan.steps if s.name == "flux-system/openbao")
    assert openbao.gate == "healthChecks: StatefulSet openbao/openbao"


def test_health_check_on_a_library_chart_is_checked_against_its_facts(tmp_path: Path) -> None:
    """A hand-written tree installing cert-manager: its workloads come from the library's facts."""
    folder = [ns("cert-manager"), release("cert-manager", "cert-manager", chart="cert-manager")]

    def tree(name: str) -> Path:
        component = flux_ks("cert-manager", "./platform/cert-manager", wait=False)
        component["spec"]["healthChecks"] = [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "namespace": "cert-manager"}
        ]
        return write(tmp_path / name, {"cert-manager": folder}, [component])

    assert blockers(tree("cert-manager-webhook")) == []
    found = blockers(tree("cert-manager-webhok"))
    assert any("did you mean Deployment cert-manager/cert-manager-webhook?" in b for b in found), found


def test_every_library_chart_declares_the_workloads_its_health_checks_name() -> None:
    """With every service's wait off (node-exporter in its own namespace, the gateway on), each
    health check is matched against its chart's declared workloads: no note, no blocker."""
    from cdk8s import App

    from sre_constructs import CorePlatform
    from sre_constructs.plan import plan_app

    names = ("istio", "cert-manager", "kyverno", "monitoring", "logging", "openbao", "external-secrets",
             "runtime-security", "backup")  # fmt: skip
    extra = {"monitoring": {"node_exporter_namespace": "monitoring-node-exporter"}, "istio": {"gateway": True}}
    app = App()
    CorePlatform(app, "core", services={n: {"wait": False, **extra.get(n, {})} for n in names})
    plan = plan_app(app)
    assert plan.ok, [str(b) for b in plan.blockers]
    assert not [n for n in plan.notes if "taken as a workload" in n], plan.notes
    gates = [s.gate for s in plan.steps if s.gate.startswith("healthChecks")]
    assert len(gates) == len(names)
    assert any("DaemonSet monitoring-node-exporter/" in g for g in gates), gates


def test_a_bare_pod_is_sent_by_the_account_its_kustomization_names(tmp_path: Path) -> None:
    """A tenant's Kustomization applies as its own ServiceAccount: a policy conditioned on that
    account judges the tenant's bare Pod, and not the same Pod applied by Flux's own account."""
    policy = _vpol("tenant-pods", _PODS, "false", matchConditions=[
        {"name": "tenant", "expression": "request.userInfo.username == 'system:serviceaccount:flux-system:tenant-a'"}
    ])  # fmt: skip
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "demo"},
           "spec": {"containers": [GOOD_CONTAINER]}}  # fmt: skip

    def plan(account: str | None) -> Any:
        component = flux_ks("demo", "./platform/demo", ("kyverno",))
        if account:
            component["spec"]["serviceAccountName"] = account
        tree = write(
            tmp_path / str(account),
            {"kyverno": [KYVERNO_CRD, VPOL_CRD, policy], "demo": [ns("demo"), pod]},
            [flux_ks("kyverno", "./platform/kyverno"), component],
        )
        return plan_tree(tree)

    assert any("tenant-pods refuses it" in str(b) for b in plan("tenant-a").blockers)
    assert plan(None).ok
