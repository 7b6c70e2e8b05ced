"""The bring-up plan on small hand-written trees: each seeded fault is refused with a precise
message, and each has a control (the same tree, fixed) that comes up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_constructs.kernel.facts import ChartFacts, ObjectRef, Webhook, register_chart
from sre_constructs.plan import plan_tree
from sre_constructs.plan.charts import load_rendered
from sre_constructs.services._kyverno_policies import policy_bodies

# A chart the tests invent: it installs the Widget CRD, serves a webhook on ConfigMaps and Widgets,
# and its pods read the Secret named by the value `credentialsSecret`.
register_chart(
    ChartFacts(
        chart="demo-operator",
        crds=("demo.example.com/Widget",),
        webhooks=(Webhook("demo-operator-webhook", ("demo.example.com/*", "/ConfigMap")),),
        reads=lambda values, ns, release: (
            (ObjectRef("Secret", ns, str(values["credentialsSecret"])),) if values.get("credentialsSecret") else ()
        ),
    )
)


def ns(name: str, level: str = "restricted") -> dict[str, Any]:
    labels = {"pod-security.kubernetes.io/enforce": level}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def flux_ks(name: str, path: str, depends: tuple[str, ...] = (), wait: bool = True) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "10m",
        "path": path,
        "prune": True,
        "wait": wait,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    if depends:
        spec["dependsOn"] = [{"name": d} for d in depends]
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "flux-system"},
        "spec": spec,
    }


def release(
    name: str, namespace: str, chart: str = "demo-operator", values: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "30m",
            "chart": {
                "spec": {
                    "chart": chart,
                    "version": "1.0.0",
                    "sourceRef": {"kind": "HelmRepository", "name": "demo", "namespace": "flux-system"},
                }
            },
            "values": values or {},
        },
    }


REPO = {
    "apiVersion": "source.toolkit.fluxcd.io/v1",
    "kind": "HelmRepository",
    "metadata": {"name": "demo", "namespace": "flux-system"},
    "spec": {"interval": "1h", "url": "https://charts.example.com"},
}


def write(root: Path, folders: dict[str, list[dict[str, Any]]], components: list[dict[str, Any]]) -> Path:
    """A tree in our layout: sources, one Flux Kustomization per folder, plain folders (no
    kustomization.yaml: Flux generates one)."""
    tree = root / "platform"
    (tree / "components").mkdir(parents=True)
    (tree / "sources.yaml").write_text(yaml.safe_dump(REPO))
    listing = ["sources.yaml"]
    for component in components:
        file = f"components/{component['metadata']['name']}.yaml"
        (tree / file).write_text(yaml.safe_dump(component))
        listing.append(file)
    (tree / "kustomization.yaml").write_text(yaml.safe_dump({"resources": listing}))
    for folder, docs in folders.items():
        (tree / folder).mkdir()
        (tree / folder / "objects.yaml").write_text(yaml.safe_dump_all(docs))
    return tree


def operator_folder() -> list[dict[str, Any]]:
    return [ns("demo"), release("demo-operator", "demo")]


def blockers(tree: Path, **kwargs: Any) -> list[str]:
    plan = plan_tree(tree, **kwargs)
    return [f"[{b.kind}] {b}" for b in plan.blockers] + [f"not ready: {s.name}" for s in plan.steps if not s.ready]


# -- 1. generate-policy RBAC in the same stage ---------------------------------------------

KYVERNO_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "clusterpolicies.kyverno.io"},
    "spec": {
        "group": "kyverno.io",
        "scope": "Cluster",
        "names": {"kind": "ClusterPolicy", "plural": "clusterpolicies"},
    },
}
GENERATE = {
    "apiVersion": "kyverno.io/v1",
    "kind": "ClusterPolicy",
    "metadata": {"name": "seal-key"},
    "spec": {
        "rules": [
            {
                "name": "generate-key",
                "match": {"any": [{"resources": {"kinds": ["Namespace"], "names": ["vault"]}}]},
                "generate": {"apiVersion": "v1", "kind": "Secret", "name": "seal", "namespace": "vault", "data": {}},
            }
        ]
    },
}
RBAC = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "kyverno-seal", "namespace": "vault"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "get"]}],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "kyverno-seal", "namespace": "vault"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kyverno-seal"},
        "subjects": [{"kind": "ServiceAccount", "name": "kyverno-background-controller", "namespace": "kyverno"}],
    },
]


def test_generate_policy_rbac_in_the_same_stage_deadlocks(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"kyverno": [KYVERNO_CRD], "vault": [ns("vault"), GENERATE, *RBAC]},
        [flux_ks("kyverno", "./platform/kyverno"), flux_ks("vault", "./platform/vault", ("kyverno",))],
    )
    found = blockers(tree)
    assert any(
        "flux-system/vault: ClusterPolicy seal-key needs RBAC letting kyverno/kyverno-background-controller get "
        "secrets in namespace vault"
        in b
        and "Role vault/kyverno-seal" in b
        and "same apply stage" in b
        for b in found
    ), found
    assert "not ready: flux-system/vault" in found


def test_generate_policy_rbac_applied_before_comes_up(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"kyverno": [KYVERNO_CRD], "rbac": [ns("vault"), *RBAC], "vault": [GENERATE]},
        [
            flux_ks("kyverno", "./platform/kyverno"),
            flux_ks("rbac", "./platform/rbac", ("kyverno",)),
            flux_ks("vault", "./platform/vault", ("rbac",)),
        ],
    )
    assert blockers(tree) == []


# -- 2. a custom resource before its CRD's provider -----------------------------------------

WIDGET = {"apiVersion": "demo.example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "demo"}}


def test_custom_resource_beside_the_release_that_installs_its_crd(tmp_path: Path) -> None:
    tree = write(tmp_path, {"demo": [*operator_folder(), WIDGET]}, [flux_ks("demo", "./platform/demo")])
    found = blockers(tree)
    assert any(
        "flux-system/demo: Widget demo/w needs the CRD of demo.example.com/Widget" in b
        and "HelmRelease demo/demo-operator provides it in the same apply stage" in b
        for b in found
    ), found


def test_custom_resource_in_a_kustomization_that_does_not_wait_for_the_provider(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"demo": operator_folder(), "widgets": [WIDGET]},
        [flux_ks("demo", "./platform/demo"), flux_ks("widgets", "./platform/widgets")],
    )
    found = blockers(tree)
    assert any(
        b.startswith("[order] flux-system/widgets: Widget demo/w needs the CRD of demo.example.com/Widget")
        and "add dependsOn flux-system/demo" in b
        for b in found
    ), found


def test_custom_resource_after_its_provider_comes_up(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"demo": operator_folder(), "widgets": [WIDGET]},
        [flux_ks("demo", "./platform/demo"), flux_ks("widgets", "./platform/widgets", ("demo",))],
    )
    assert blockers(tree) == []


# -- 3. a pod reading a Secret nothing creates ---------------------------------------------


def test_release_reading_a_secret_nothing_creates_blocks(tmp_path: Path) -> None:
    folder = [ns("demo"), release("demo-operator", "demo", values={"credentialsSecret": "demo-s3"})]
    tree = write(tmp_path, {"demo": folder}, [flux_ks("demo", "./platform/demo")])
    plan = plan_tree(tree)
    assert not plan.ok
    assert [str(b) for b in plan.blockers] == [
        "flux-system/demo: HelmRelease demo/demo-operator needs Secret demo/demo-s3 (HelmRelease demo/demo-operator: "
        "its pods read Secret demo/demo-s3 (values)); nothing in the tree provides it"
    ]


def test_release_reading_a_secret_made_upstream_comes_up(tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-s3", "namespace": "demo"}}
    folder = [release("demo-operator", "demo", values={"credentialsSecret": "demo-s3"})]
    tree = write(
        tmp_path,
        {"base": [ns("demo"), secret], "demo": folder},
        [flux_ks("base", "./platform/base"), flux_ks("demo", "./platform/demo", ("base",))],
    )
    assert blockers(tree) == []


# -- 4. an object intercepted by a webhook before the webhook's component ------------------

CONFIG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "apps"}}


def test_object_intercepted_by_a_webhook_of_a_component_it_does_not_wait_for(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"demo": operator_folder(), "apps": [ns("apps"), CONFIG]},
        [flux_ks("demo", "./platform/demo"), flux_ks("apps", "./platform/apps")],
    )
    found = blockers(tree)
    assert any(
        b.startswith("[order] flux-system/apps: ConfigMap apps/settings needs webhook demo-operator-webhook")
        and "add dependsOn flux-system/demo" in b
        for b in found
    ), found


def test_object_intercepted_after_the_webhooks_component_comes_up(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"demo": operator_folder(), "apps": [ns("apps"), CONFIG]},
        [flux_ks("demo", "./platform/demo"), flux_ks("apps", "./platform/apps", ("demo",))],
    )
    assert blockers(tree) == []


# -- 5. a team Kustomization named like a platform one -------------------------------------


def test_team_kustomization_named_like_a_platform_one_collides(tmp_path: Path) -> None:
    platform = write(tmp_path / "repo", {"demo": operator_folder()}, [flux_ks("demo", "./platform/demo")])
    team = tmp_path / "repo" / "team"
    (team / "app").mkdir(parents=True)
    (team / "app" / "objects.yaml").write_text(
        yaml.safe_dump_all([ns("payments"), {**CONFIG, "metadata": {"name": "c", "namespace": "payments"}}])
    )
    (team / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["demo.yaml"]}))
    (team / "demo.yaml").write_text(yaml.safe_dump(flux_ks("demo", "./team/app", ("demo",))))
    found = blockers(team, with_trees=[platform])
    assert any("[collision]" in b and "Kustomization flux-system/demo" in b for b in found), found
    (team / "demo.yaml").write_text(yaml.safe_dump(flux_ks("payments", "./team/app", ("demo",))))
    (team / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["demo.yaml"]}))
    assert blockers(team, with_trees=[platform]) == []


# -- 6-8. rendered pods: Pod Security, Kyverno requests, mirror ----------------------------

POLICY = {
    "apiVersion": "kyverno.io/v1",
    "kind": "ClusterPolicy",
    "metadata": {"name": "require-requests-limits"},
    "spec": {
        "rules": [
            {
                "name": "require-requests-limits",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "exclude": {"any": [{"resources": {"namespaces": ["kube-system"]}}]},
                "validate": {
                    "failureAction": "Enforce",
                    "message": "Containers need CPU and memory requests and a memory limit.",
                    "pattern": {
                        "spec": {
                            "containers": [
                                {"resources": {"limits": {"memory": "?*"}, "requests": {"cpu": "?*", "memory": "?*"}}}
                            ]
                        }
                    },
                },
            }
        ]
    },
}
GOOD_CONTAINER = {
    "name": "manager",
    "image": "mirror.example.com/demo/manager:1.0.0",
    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def deployment(container: dict[str, Any], **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo-operator"},
        "spec": {"template": {"spec": {"containers": [container], **pod}}},
    }


def rendered_tree(
    tmp_path: Path, docs: list[dict[str, Any]], policies: list[dict[str, Any]] | None = None, level: str = "restricted"
) -> tuple[Path, Path]:
    tree = write(
        tmp_path,
        {
            "kyverno": [KYVERNO_CRD, VPOL_CRD, *(policies or [POLICY])],
            "demo": [ns("demo", level), release("demo-operator", "demo")],
        },
        [flux_ks("kyverno", "./platform/kyverno"), flux_ks("demo", "./platform/demo", ("kyverno",))],
    )
    rendered = tmp_path / "rendered" / "demo"
    rendered.mkdir(parents=True)
    (rendered / "demo-operator.yaml").write_text(yaml.safe_dump_all(docs))
    return tree, tmp_path / "rendered"


def test_rendered_pod_that_its_namespace_pod_security_refuses(tmp_path: Path) -> None:
    tree, rendered = rendered_tree(tmp_path, [deployment(GOOD_CONTAINER, hostNetwork=True)])
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any(
        "[admission] flux-system/demo: HelmRelease demo/demo-operator needs its pods admitted; namespace demo "
        "enforces Pod Security 'restricted' and Deployment demo-operator fails 'Host Namespaces': hostNetwork: true"
        in b
        for b in found
    ), found


def test_rendered_container_without_requests_under_the_kyverno_policy(tmp_path: Path) -> None:
    bare = {k: v for k, v in GOOD_CONTAINER.items() if k != "resources"}
    tree, rendered = rendered_tree(tmp_path, [deployment(bare)])
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any(
        "Kyverno ClusterPolicy require-requests-limits rule 'require-requests-limits' refuses it: Containers need "
        "CPU and memory requests" in b
        for b in found
    ), found


def test_rendered_image_outside_the_mirror(tmp_path: Path) -> None:
    outside = {**GOOD_CONTAINER, "image": "ghcr.io/demo/manager:1.0.0"}
    tree, rendered = rendered_tree(tmp_path, [deployment(outside)])
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any("pulls 'ghcr.io/demo/manager:1.0.0', outside the mirror mirror.example.com" in b for b in found), found


def test_rendered_compliant_pod_comes_up(tmp_path: Path) -> None:
    tree, rendered = rendered_tree(tmp_path, [deployment(GOOD_CONTAINER)])
    plan = plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert plan.ok and plan.checked_pods, [str(b) for b in plan.blockers]


def test_rendered_pod_reading_a_secret_nothing_creates(tmp_path: Path) -> None:
    mounted = deployment(GOOD_CONTAINER, volumes=[{"name": "creds", "secret": {"secretName": "missing"}}])
    tree, rendered = rendered_tree(tmp_path, [mounted])
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any("Secret demo/missing" in b and "nothing in the tree provides it" in b for b in found), found


# -- 9. the same faults under the library's CEL ValidatingPolicies ------------------------

VPOL_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "validatingpolicies.policies.kyverno.io"},
    "spec": {
        "group": "policies.kyverno.io",
        "scope": "Cluster",
        "names": {"kind": "ValidatingPolicy", "plural": "validatingpolicies"},
    },
}


def library_policies(*names: str, exempt: tuple[str, ...] = ("kube-system",)) -> list[dict[str, Any]]:
    """The ValidatingPolicies the Kyverno construct emits (Enforce), exempting ``exempt``."""
    every = ("pod-security-baseline", "pod-security-restricted", "disallow-latest-tag", "require-requests-limits")
    bodies = policy_bodies(dict.fromkeys(every, "Enforce"), dict.fromkeys(every, exempt), True, False)
    return [b for b in bodies if b["metadata"]["name"] in names]


def test_rendered_container_without_requests_under_the_validating_policy(tmp_path: Path) -> None:
    bare = {k: v for k, v in GOOD_CONTAINER.items() if k != "resources"}
    policies = library_policies("require-requests-limits")
    tree, rendered = rendered_tree(tmp_path / "bad", [deployment(bare)], policies)
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any(
        "HelmRelease demo/demo-operator needs its pods admitted; Kyverno ValidatingPolicy require-requests-limits "
        "refuses it: Containers need CPU and memory requests and a memory limit; containers: manager" in b
        for b in found
    ), found
    tree, rendered = rendered_tree(tmp_path / "good", [deployment(GOOD_CONTAINER)], policies)
    plan = plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert plan.ok and plan.checked_pods and not plan.notes, ([str(b) for b in plan.blockers], plan.notes)


def test_host_network_pod_refused_by_the_restricted_validating_policy(tmp_path: Path) -> None:
    """The namespace is labelled privileged, so only the CEL policy stands between it and the node."""
    policies = library_policies("pod-security-restricted")
    tree, rendered = rendered_tree(
        tmp_path / "bad", [deployment(GOOD_CONTAINER, hostNetwork=True)], policies, "privileged"
    )
    found = blockers(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert any(
        "Kyverno ValidatingPolicy pod-security-restricted refuses it: Pod Security baseline (Host Namespaces)" in b
        for b in found
    ), found
    assert not any("enforces Pod Security" in b for b in found), found
    tree, rendered = rendered_tree(tmp_path / "good", [deployment(GOOD_CONTAINER)], policies, "privileged")
    assert plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com").ok
    # An exempt namespace (the policy's namespaceSelector) is not checked.
    exempt = library_policies("pod-security-restricted", exempt=("kube-system", "demo"))
    tree, rendered = rendered_tree(
        tmp_path / "exempt", [deployment(GOOD_CONTAINER, hostNetwork=True)], exempt, "privileged"
    )
    assert plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com").ok


def test_validating_policy_the_plan_cannot_evaluate_is_noted(tmp_path: Path) -> None:
    unknown = {
        "apiVersion": "policies.kyverno.io/v1",
        "kind": "ValidatingPolicy",
        "metadata": {"name": "memory-cap"},
        "spec": {
            "validationActions": ["Deny"],
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ]
            },
            "validations": [{"expression": "object.spec.containers.all(c, quantity('1Gi').isInteger())"}],
        },
    }
    tree, rendered = rendered_tree(tmp_path, [deployment(GOOD_CONTAINER)], [unknown])
    plan = plan_tree(tree, rendered=load_rendered(rendered), mirror="mirror.example.com")
    assert plan.ok, [str(b) for b in plan.blockers]
    assert any("ValidatingPolicy memory-cap could not be evaluated" in n and "quantity" in n for n in plan.notes), (
        plan.notes
    )


# -- the command ---------------------------------------------------------------------------


def test_command_exit_codes_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sre_constructs.cli import main

    bad = write(tmp_path / "bad", {"demo": [*operator_folder(), WIDGET]}, [flux_ks("demo", "./platform/demo")])
    good = write(tmp_path / "good", {"demo": operator_folder()}, [flux_ks("demo", "./platform/demo")])
    assert main(["plan", "--tree", str(bad)]) == 1
    assert "Widget demo/w needs the CRD of demo.example.com/Widget" in capsys.readouterr().out
    assert main(["plan", "--tree", str(good), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and [s["name"] for w in data["waves"] for s in w][-1] == "flux-system/demo"
    assert main(["plan", "--tree", str(good), "--format", "markdown"]) == 0
    assert "| 1 | flux-system/demo |" in capsys.readouterr().out
    assert main(["plan", "--tree", str(tmp_path / "nowhere")]) == 2
    assert "an existing folder holding a Flux tree" in capsys.readouterr().err
    # The option clashes the command finds itself: exit 2, one line naming the options, no plan.
    for argv, message in (
        (["--tree", str(good), "clusters/lab.yaml"], "give cluster files or --tree DIR, not both"),
        (["--tree", str(good), "--rendered", str(tmp_path), "--charts", str(tmp_path)], "--rendered and --charts"),
        (["--with", str(good)], "--with, --repo-root, --bootstrap-source and --flux-crds go with --tree DIR"),
        (["--repo-root", str(good)], "--with, --repo-root, --bootstrap-source and --flux-crds go with --tree DIR"),
        (["--bootstrap-source", "x"], "--with, --repo-root, --bootstrap-source and --flux-crds go with --tree DIR"),
    ):
        assert main(["plan", *argv]) == 2, argv
        out, err = capsys.readouterr()
        assert (out, err.count("\n")) == ("", 1) and f"sre-constructs plan: {message}" in err, (argv, err)
    with pytest.raises(SystemExit) as usage:
        main(["plan", "--format", "yaml"])
    assert usage.value.code == 2


# -- a hand-written repository: read what can be read, say what cannot --------------------


def test_hand_written_repository_is_read_and_its_limits_named(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"demo": [*operator_folder()], "apps": [ns("apps")]},
        [flux_ks("demo", "./platform/demo"), flux_ks("apps", "./platform/apps", ("demo",))],
    )
    # Beside a kustomization.yaml that does not list it, a Helm values file is not applied.
    (tree / "apps" / "values.yaml").write_text(yaml.safe_dump({"replicaCount": 2, "image": {"tag": "1.0"}}))
    # A kustomization with a generator the plan does not follow.
    (tree / "apps" / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["objects.yaml"], "configMapGenerator": [{"name": "s", "literals": ["a=b"]}]})
    )
    unknown = release("other", "apps", chart="somebody-elses-chart")
    (tree / "apps" / "objects.yaml").write_text(yaml.safe_dump_all([ns("apps"), unknown]))
    plan = plan_tree(tree)
    assert plan.ok, [str(b) for b in plan.blockers]
    notes = "\n".join(plan.notes)
    assert "'configMapGenerator' is not followed by the plan" in notes
    assert "chart 'somebody-elses-chart' is not one the library knows" in notes
    assert "pods not checked" in plan.render("text")
    assert [s.name for s in plan.steps] == ["<platform>", "flux-system/demo", "flux-system/apps"]
    # In a folder without a kustomization.yaml, Flux's generated kustomization fails on it.
    (tree / "demo" / "values.yaml").write_text(yaml.safe_dump({"replicaCount": 2}))
    found = blockers(tree)
    assert any(
        b.startswith("[build] flux-system/demo:") and "demo/values.yaml: not a Kubernetes object" in b for b in found
    )


def test_depends_on_cycle_is_named(tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {"a": [ns("a")], "b": [ns("b")]},
        [flux_ks("a", "./platform/a", ("b",)), flux_ks("b", "./platform/b", ("a",))],
    )
    found = blockers(tree)
    assert any("flux-system/a -> flux-system/b -> flux-system/a: each waits for the other" in b for b in found), found
    tree_ok = write(
        tmp_path / "ok",
        {"a": [ns("a")], "b": [ns("b")]},
        [flux_ks("a", "./platform/a"), flux_ks("b", "./platform/b", ("a",))],
    )
    assert blockers(tree_ok) == []


def test_health_checks_on_chart_workloads_follow_their_release(tmp_path: Path) -> None:
    """With wait off, a health check names a workload the chart makes: Ready with its release."""
    component = flux_ks("demo", "./platform/demo", wait=False)
    component["spec"]["healthChecks"] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "demo-operator", "namespace": "demo"}
    ]
    tree = write(tmp_path, {"demo": operator_folder()}, [component])
    assert blockers(tree) == []
    bad = write(
        tmp_path / "bad",
        {"demo": [ns("demo"), release("demo-operator", "demo", values={"credentialsSecret": "x"})]},
        [component],
    )
    assert any("Secret demo/x" in b for b in blockers(bad))


def test_charts_are_rendered_with_helm_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--charts runs `helm template` for each release whose chart is in the folder (a stand-in helm
    here prints a rendered Deployment), then checks its pods like --rendered does."""
    tree, _ = rendered_tree(tmp_path, [])
    charts = tmp_path / "charts"
    (charts / "demo-operator").mkdir(parents=True)
    bare = {k: v for k, v in GOOD_CONTAINER.items() if k != "resources"}
    rendered = tmp_path / "out.yaml"
    rendered.write_text(yaml.safe_dump(deployment(bare)))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    helm.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat {rendered}\n')
    helm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    plan = plan_tree(tree, charts=charts, mirror="mirror.example.com")
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["template", "demo-operator", str(charts / "demo-operator")]
    assert "--include-crds" in args and args[args.index("-n") + 1] == "demo"
    assert plan.checked_pods
    assert any("require-requests-limits" in str(b) for b in plan.blockers), [str(b) for b in plan.blockers]
