"""`sre-constructs diff` on small hand-written trees: each risk rule with its control (the same
change made harmless), renames, moves, prune, the plan's new blockers, --charts with a stand-in helm,
and the shapes of the Markdown and JSON output."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre_constructs.cli import main
from sre_constructs.diff import TreeDiff, diff_trees

FLUX_NS = "flux-system"


def flux_ks(name: str, *, prune: bool = True, force: bool = False, depends: tuple[str, ...] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "10m",
        "path": f"./core/{name}",
        "prune": prune,
        "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
    }
    if force:
        spec["force"] = True
    if depends:
        spec["dependsOn"] = [{"name": d} for d in depends]
    return {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": name, "namespace": FLUX_NS},
        "spec": spec,
    }


def write_repo(root: Path, units: dict[str, list[dict[str, Any]]], **options: Any) -> Path:
    """A repository shaped like the library's: ``core/`` lists one Flux Kustomization per unit,
    each applying ``core/<unit>/`` (no kustomization.yaml there: Flux generates it)."""
    core = root / "core"
    (core / "components").mkdir(parents=True)
    for name, objects in units.items():
        ks = flux_ks(name, **options.get(name, {}))
        (core / "components" / f"{name}.yaml").write_text(yaml.safe_dump(ks))
        (core / name).mkdir()
        (core / name / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    listing = [f"components/{name}.yaml" for name in units]
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": listing}
    (core / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return core


def namespace(name: str, level: str = "restricted") -> dict[str, Any]:
    labels = {"pod-security.kubernetes.io/enforce": level}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(name: str = "web", ns: str = "app", replicas: int = 1, app: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "web", "image": "registry.example.com/web:1.0"}]},
            },
        },
    }


def configmap(name: str, ns: str = "app", data: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}
    return body | {"data": data if data is not None else {"greeting": "hello"}}


def pvc(name: str = "data", ns: str = "app", size: str = "10Gi", storage_class: str = "fast") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "resources": {"requests": {"storage": size}},
        },
    }


def release(version: str = "1.2.3", values: dict[str, Any] | None = None, ns: str = "app") -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "demo", "namespace": ns},
        "spec": {
            "interval": "30m",
            "chart": {
                "spec": {
                    "chart": "demo",
                    "version": version,
                    "sourceRef": {"kind": "HelmRepository", "name": "demo", "namespace": FLUX_NS},
                }
            },
            "values": values if values is not None else {"replicaCount": 1},
        },
    }


def validating_policy(actions: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "policies.kyverno.io/v1",
        "kind": "ValidatingPolicy",
        "metadata": {"name": "require-labels"},
        "spec": {
            "validationActions": actions,
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]},
            "validations": [{"expression": "has(object.metadata.labels)"}],
        },
    }


def netpol(ingress: list[dict[str, Any]] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    if ingress is not None:
        spec["ingress"] = ingress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "web", "namespace": "app"},
        "spec": spec,
    }


def peer_auth(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": {"name": "default", "namespace": "istio-system"},
        "spec": {"mtls": {"mode": mode}},
    }


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any], plan: bool = False, **kwargs: Any) -> TreeDiff:
    options = kwargs.pop("options", {})
    new_options = kwargs.pop("new_options", options)
    a = write_repo(tmp_path / "old", old, **options)
    b = write_repo(tmp_path / "new", new, **new_options)
    return diff_trees(a, b, plan=plan, **kwargs)


def risks(result: TreeDiff) -> dict[str, list[str]]:
    """Object label -> its risk levels."""
    return {c.label: [r.level for r in c.risks] for c in result.changes}


def base_units() -> dict[str, list[dict[str, Any]]]:
    return {"app": [namespace("app"), deployment(), configmap("settings"), pvc()]}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().out


# --------------------------------------------------------------------------- no change, exit codes


def test_no_change_exits_0_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_repo(tmp_path / "a", base_units())
    b = write_repo(tmp_path / "b", base_units())
    code, out = run_cli(["diff", "--tree", str(a), str(b)], capsys)
    assert code == 0 and "no changes" in out
    # Control: one replica more is a change, reported, below the default --fail-on.
    units = base_units()
    units["app"][1] = deployment(replicas=2)
    c = write_repo(tmp_path / "c", units)
    code, out = run_cli(["diff", "--tree", str(a), str(c)], capsys)
    assert code == 0 and "spec.replicas: 1 -> 2" in out and "no changes" not in out
    code, _ = run_cli(["diff", "--tree", str(a), str(c), "--fail-on", "any"], capsys)
    assert code == 1


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_repo(tmp_path / "a", base_units())
    assert main(["diff"]) == 2
    assert "--base REF" in capsys.readouterr().err
    assert main(["diff", "--tree", str(a), str(tmp_path / "missing")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["diff", "x.yaml", "--tree", str(a), str(a)]) == 2
    with pytest.raises(SystemExit) as exited:
        main(["diff", "--tree", str(a), str(a), "--fail-on", "sometimes"])
    assert exited.value.code == 2


# --------------------------------------------------------------------------- data loss and prune


def test_pruned_pvc_is_data_loss_unless_prune_is_off(tmp_path: Path) -> None:
    units = base_units()
    smaller = {"app": [o for o in units["app"] if o["kind"] != "PersistentVolumeClaim"]}
    result = diff(tmp_path / "on", units, smaller)
    (change,) = result.changes
    assert (change.action, change.label, change.level) == ("removed", "PersistentVolumeClaim app/data", "data-loss")
    assert result.fails("blocking")
    # Control: with prune off Flux leaves it on the cluster.
    kept = diff(tmp_path / "off", units, smaller, options={"app": {"prune": False}})
    (change,) = kept.changes
    assert (change.action, change.level) == ("orphaned", "change") and not kept.fails("blocking")


def test_rename_is_one_move_not_a_delete_and_an_add(tmp_path: Path) -> None:
    units = base_units()
    renamed = copy.deepcopy(units)
    renamed["app"][2] = configmap("settings-v2")
    result = diff(tmp_path / "same", units, renamed)
    (change,) = result.changes
    assert (change.action, change.old_label, change.label) == (
        "moved",
        "ConfigMap app/settings",
        "ConfigMap app/settings-v2",
    )
    # Control: a different name AND different content is no clear identity: a delete plus an add.
    rewritten = copy.deepcopy(units)
    rewritten["app"][2] = configmap("other", data={"greeting": "bye"})
    result = diff(tmp_path / "other", units, rewritten)
    assert sorted(c.action for c in result.changes) == ["added", "removed"]


def test_hand_over_between_kustomizations(tmp_path: Path) -> None:
    old = {"app": [namespace("app"), configmap("settings")], "extra": [configmap("other", ns="extra")]}
    new = {"app": [configmap("settings")], "extra": [namespace("app"), configmap("other", ns="extra")]}
    result = diff(tmp_path, old, new)
    (change,) = result.changes
    assert (change.action, change.kustomization, change.old_kustomization) == (
        "moved",
        "flux-system/extra",
        "flux-system/app",
    )
    assert change.level == "data-loss" and "prunes it before" in change.risks[0].reason
    # Control: a ConfigMap handed over is recreated at worst.
    old = {"app": [namespace("app"), configmap("settings")], "extra": []}
    new = {"app": [namespace("app")], "extra": [configmap("settings")]}
    (change,) = diff(tmp_path / "cm", old, new).changes
    assert (change.action, change.level) == ("moved", "change")


# --------------------------------------------------------------------------- blocking


def test_immutable_selector_is_blocking(tmp_path: Path) -> None:
    units = base_units()
    moved = copy.deepcopy(units)
    moved["app"][1] = deployment(app="web2")
    result = diff(tmp_path / "sel", units, moved)
    (change,) = result.changes
    assert change.level == "blocking" and "spec.selector is immutable" in change.risks[0].reason
    assert result.fails("blocking")
    # Controls: replicas are mutable; under force: true Flux recreates the Deployment.
    scaled = copy.deepcopy(units)
    scaled["app"][1] = deployment(replicas=3)
    assert diff(tmp_path / "rep", units, scaled).level == "change"
    forced = diff(tmp_path / "force", units, moved, options={"app": {"force": True}})
    assert forced.level == "change" and "recreates" in forced.changes[0].risks[0].reason


def test_pvc_shrink_and_class_are_blocking_growth_is_not(tmp_path: Path) -> None:
    units = base_units()
    for case, claim, level in (
        ("shrink", pvc(size="5Gi"), "blocking"),
        ("class", pvc(storage_class="slow"), "blocking"),
        ("grow", pvc(size="20Gi"), "change"),
    ):
        changed = copy.deepcopy(units)
        changed["app"][3] = claim
        assert diff(tmp_path / case, units, changed).level == level, case


def test_crd_version_dropped_while_used_is_blocking(tmp_path: Path) -> None:
    def crd(versions: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.demo.example.com"},
            "spec": {
                "group": "demo.example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [{"name": v, "served": True, "storage": v == versions[-1]} for v in versions],
            },
        }

    widget = {
        "apiVersion": "demo.example.com/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "app"},
    }
    old = {"crds": [crd(["v1alpha1", "v1"])], "app": [namespace("app"), widget]}
    new = {"crds": [crd(["v1"])], "app": [namespace("app"), widget]}
    result = diff(tmp_path / "used", old, new)
    assert risks(result)["CustomResourceDefinition widgets.demo.example.com"] == ["blocking"]
    # Control: nothing uses v1alpha1 any more.
    moved = {"crds": [crd(["v1"])], "app": [namespace("app"), widget | {"apiVersion": "demo.example.com/v1"}]}
    result = diff(tmp_path / "unused", old, moved)
    assert risks(result)["CustomResourceDefinition widgets.demo.example.com"] == ["change"]


def test_new_plan_blocker_is_blocking(tmp_path: Path) -> None:
    old = {"app": [namespace("app")], "web": [configmap("settings")]}
    result = diff(tmp_path / "typo", old, old, plan=True, new_options={"web": {"depends": ("ap",)}})
    assert [p.level for p in result.plan] == ["blocking"] and "ap" in result.plan[0].reason
    # Control: the dependency spelled right is a changed dependsOn and no plan change.
    result = diff(tmp_path / "ok", old, old, plan=True, new_options={"web": {"depends": ("app",)}})
    assert result.plan == [] and result.level == "change"


# --------------------------------------------------------------------------- security


def test_lowered_pod_security_level_is_security(tmp_path: Path) -> None:
    old = {"app": [namespace("app", "restricted")]}
    result = diff(tmp_path / "down", old, {"app": [namespace("app", "baseline")]})
    (change,) = result.changes
    assert change.level == "security" and "restricted -> baseline" in change.risks[0].reason
    # Control: raising the level tightens.
    assert diff(tmp_path / "up", {"app": [namespace("app", "baseline")]}, old).level == "change"


def test_policy_moved_to_audit_is_security(tmp_path: Path) -> None:
    result = diff(tmp_path / "audit", {"p": [validating_policy(["Deny"])]}, {"p": [validating_policy(["Audit"])]})
    assert result.level == "security" and "Deny -> Audit" in result.changes[0].risks[0].reason
    removed = diff(tmp_path / "gone", {"p": [validating_policy(["Deny"])], "q": []}, {"p": [], "q": []})
    assert removed.level == "security"
    # Control: Audit -> Deny tightens.
    assert diff(
        tmp_path / "deny", {"p": [validating_policy(["Audit"])]}, {"p": [validating_policy(["Deny"])]}
    ).level == ("change")


def test_network_policy_opened_is_security(tmp_path: Path) -> None:
    peers = [{"namespaceSelector": {"matchLabels": {"name": "gateway"}}}]
    old = {"app": [namespace("app"), netpol([{"from": peers, "ports": [{"port": 8080}, {"port": 9090}]}])]}
    anywhere = {"app": [namespace("app"), netpol([{"ports": [{"port": 8080}]}])]}  # no `from`: every peer
    any_port = {"app": [namespace("app"), netpol([{"from": peers}])]}  # no `ports`: every port
    assert diff(tmp_path / "anywhere", old, anywhere).level == "security"
    assert diff(tmp_path / "any-port", old, any_port).level == "security"
    # Control: the same peers on fewer ports is narrower: a change, no risk.
    narrower = {"app": [namespace("app"), netpol([{"from": peers, "ports": [{"port": 8080}]}])]}
    result = diff(tmp_path / "narrower", old, narrower)
    assert not result.empty and result.level == "change"


def test_new_namespace_without_network_policy_is_security(tmp_path: Path) -> None:
    old = {"app": [namespace("app"), netpol([])]}
    bare = diff(tmp_path / "bare", old, {"app": [namespace("app"), netpol([])], "b": [namespace("b")]})
    assert risks(bare)["Namespace b"] == ["security"]
    guarded = {
        "app": [namespace("app"), netpol([])],
        "b": [namespace("b"), netpol([]) | {"metadata": {"name": "d", "namespace": "b"}}],
    }
    assert risks(diff(tmp_path / "guarded", old, guarded))["Namespace b"] == []


def test_mtls_loosened_is_security(tmp_path: Path) -> None:
    old = {"mesh": [peer_auth("STRICT")]}
    assert diff(tmp_path / "loose", old, {"mesh": [peer_auth("PERMISSIVE")]}).level == "security"
    assert diff(tmp_path / "tight", {"mesh": [peer_auth("PERMISSIVE")]}, old).level == "change"
    # A namespace-wide PERMISSIVE policy added where the namespace already runs loosens it too;
    # control: the same policy in a namespace the change creates.
    existing = {"mesh": [peer_auth("STRICT")], "app": [namespace("app"), netpol([])]}
    permissive = peer_auth("PERMISSIVE") | {"metadata": {"name": "app", "namespace": "app"}}
    added = {"mesh": [peer_auth("STRICT")], "app": [namespace("app"), netpol([]), permissive]}
    assert diff(tmp_path / "ns", existing, added).level == "security"
    fresh = {"mesh": [peer_auth("STRICT")], "app": [namespace("app"), netpol([]), permissive]}
    assert risks(diff(tmp_path / "fresh", {"mesh": [peer_auth("STRICT")]}, fresh))["PeerAuthentication app/app"] == []


def test_secret_store_widened_is_security(tmp_path: Path) -> None:
    def store(namespaces: list[str]) -> dict[str, Any]:
        return {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ClusterSecretStore",
            "metadata": {"name": "openbao"},
            "spec": {"conditions": [{"namespaces": namespaces}], "provider": {"vault": {"server": "https://bao"}}},
        }

    old = {"eso": [store(["monitoring", "velero"])]}
    assert diff(tmp_path / "wide", old, {"eso": [store(["monitoring", "velero", "team-a"])]}).level == "security"
    assert diff(tmp_path / "narrow", old, {"eso": [store(["monitoring"])]}).level == "change"


# --------------------------------------------------------------------------- upgrade


def test_chart_major_bump_is_upgrade(tmp_path: Path) -> None:
    old = {"app": [namespace("app"), release("1.2.3")]}
    result = diff(tmp_path / "major", old, {"app": [namespace("app"), release("2.0.0")]})
    (change,) = result.changes
    assert change.level == "upgrade" and [f.path for f in change.fields] == ["spec.chart.spec.version"]
    assert not result.fails("security") and result.fails("any")
    # Control: a minor bump.
    assert diff(tmp_path / "minor", old, {"app": [namespace("app"), release("1.3.0")]}).level == "change"


# --------------------------------------------------------------------------- --charts


def stand_in_helm(tmp_path: Path, random_token: bool = False) -> Path:
    """A stand-in helm: renders a Deployment whose replicas come from the values file (-f), annotated
    with the chart's file name (and, with ``random_token``, a value that differs on every render,
    as a chart's generated password does)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helm = bin_dir / "helm"
    token = "'token': uuid.uuid4().hex, " if random_token else ""
    helm.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, uuid, yaml\n"
        "args = sys.argv[1:]\n"
        "values = json.load(open(args[args.index('-f') + 1]))\n"
        "name, chart = args[1], args[2].rsplit('/', 1)[-1]\n"
        "print(yaml.safe_dump({'apiVersion': 'apps/v1', 'kind': 'Deployment',\n"
        f"    'metadata': {{'name': name, 'annotations': {{{token}'chart': chart}}}},\n"
        "    'spec': {'replicas': values.get('replicaCount', 1), 'selector': {'matchLabels': {'app': name}},\n"
        "             'template': {'metadata': {'labels': {'app': name}}, 'spec': {'containers': [\n"
        "                 {'name': name, 'image': 'registry.example.com/demo:1'}]}}}}))\n"
    )
    helm.chmod(0o755)
    return bin_dir


def test_charts_show_the_rendered_fields_a_values_change_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    charts = tmp_path / "charts"
    (charts / "demo").mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{stand_in_helm(tmp_path)}:/usr/bin:/bin")
    old = {"app": [namespace("app"), release(values={"replicaCount": 1})]}
    new = {"app": [namespace("app"), release(values={"replicaCount": 3})]}
    result = diff(tmp_path / "values", old, new, charts=charts)
    rendered = [c for c in result.changes if c.via]
    assert [(c.via, c.label, [(f.path, f.old, f.new) for f in c.fields]) for c in rendered] == [
        ("HelmRelease app/demo", "Deployment app/demo", [("spec.replicas", 1, 3)])
    ]
    # Control: the same values render the same objects: only nothing changes.
    assert diff(tmp_path / "same", old, old, charts=charts).empty


def test_charts_leave_out_a_release_whose_inputs_did_not_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A chart that renders a random value (Grafana's admin password) renders differently every
    # time; the cluster keeps the value it has, so an unchanged release shows nothing.
    charts = tmp_path / "charts"
    (charts / "demo").mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{stand_in_helm(tmp_path, random_token=True)}:/usr/bin:/bin")
    old = {"app": [namespace("app"), release(), configmap("settings")]}
    new = {"app": [namespace("app"), release(), configmap("settings", data={"greeting": "hi"})]}
    result = diff(tmp_path / "same-release", old, new, charts=charts)
    assert [c.label for c in result.changes] == ["ConfigMap app/settings"]
    # Control: a values change still shows the rendered Deployment's fields it moves.
    moved = {"app": [namespace("app"), release(values={"replicaCount": 2}), configmap("settings")]}
    result = diff(tmp_path / "values", old, moved, charts=charts)
    rendered = [c for c in result.changes if c.via]
    assert [c.label for c in rendered] == ["Deployment app/demo"]
    assert ("spec.replicas", 1, 2) in [(f.path, f.old, f.new) for f in rendered[0].fields]


# --------------------------------------------------------------------------- output shapes


def test_long_values_print_where_they_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two dashboards that share their first 200 characters: the line shows the part that differs.
    common = '{"description": "' + "x" * 200
    units = {"app": [namespace("app"), configmap("dash", data={"d.json": common + ' old panel"}'})]}
    changed = {"app": [namespace("app"), configmap("dash", data={"d.json": common + ' new panel"}'})]}
    a = write_repo(tmp_path / "a", units)
    b = write_repo(tmp_path / "b", changed)
    for format in ("text", "markdown"):
        code, out = run_cli(["diff", "--tree", str(a), str(b), "--format", format], capsys)
        assert code == 0 and "old panel" in out and "new panel" in out, out
    # Control: values that differ early print from their start.
    short = {"app": [namespace("app"), configmap("dash", data={"d.json": '{"a": 1}'})]}
    code, out = run_cli(["diff", "--tree", str(a), str(write_repo(tmp_path / "c", short))], capsys)
    assert 'data[\'d.json\']: {"description": "xxx' in out and '... -> {"a": 1}' in out, out


def test_markdown_fits_a_pull_request_comment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 400 ConfigMaps with 30 keys each changed: the text lists all; the Markdown stays under
    # GitHub's 65,536 characters and says what it left out.
    def maps(word: str, keys: int = 30) -> list[dict[str, Any]]:
        data = {f"key{k:02}": f"{word} value of key {k} " * 3 for k in range(keys)}
        return [namespace("app"), *(configmap(f"settings-{i:03}", data=data) for i in range(400))]

    a = write_repo(tmp_path / "a", {"app": maps("old")})
    b = write_repo(tmp_path / "b", {"app": maps("new")})
    code, out = run_cli(["diff", "--tree", str(a), str(b), "--format", "markdown"], capsys)
    assert code == 0 and len(out) < 65_536, len(out)
    assert "| flux-system/app | 0 | 0 | 400 | 0 | change |" in out
    assert "(5 more fields: `--format text` lists them all)" in out
    assert "change(s) shown by their headline only or not at all" in out
    code, text = run_cli(["diff", "--tree", str(a), str(b), "--format", "text"], capsys)
    assert text.count("data.key29: ") == 400
    # Control: a small diff is shown whole (each field a - and a + line).
    c = write_repo(tmp_path / "c", {"app": maps("old", keys=25)[:4]})
    d = write_repo(tmp_path / "d", {"app": maps("new", keys=25)[:4]})
    code, out = run_cli(["diff", "--tree", str(c), str(d), "--format", "markdown"], capsys)
    assert "more fields" not in out and "headline only" not in out and out.count("data.key24: ") == 6


def test_json_and_markdown_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    units = base_units()
    changed = copy.deepcopy(units)
    changed["app"][0] = namespace("app", "privileged")
    changed["app"].remove(changed["app"][3])  # the PVC
    a = write_repo(tmp_path / "a", units)
    b = write_repo(tmp_path / "b", changed)
    code, out = run_cli(["diff", "--tree", str(a), str(b), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 1 and data["level"] == "data-loss"
    assert data["counts"]["removed"] == 1 and data["counts"]["changed"] == 1
    (kust,) = data["kustomizations"]
    assert kust["name"] == "flux-system/app"
    by_object = {c["object"]: c for c in kust["changes"]}
    namespace_change = by_object["Namespace app"]
    assert namespace_change["level"] == "security"
    assert namespace_change["fields"] == [
        {"path": "metadata.labels['pod-security.kubernetes.io/enforce']", "old": "restricted", "new": "privileged"}
    ]
    assert by_object["PersistentVolumeClaim app/data"]["risks"][0]["level"] == "data-loss"

    code, out = run_cli(["diff", "--tree", str(a), str(b), "--format", "markdown", "--fail-on", "none"], capsys)
    assert code == 0
    lines = out.splitlines()
    header = lines.index("| Kustomization | added | removed | changed | moved | risk |")
    row = [cell.strip() for cell in lines[header + 2].strip("|").split("|")]
    assert row == ["flux-system/app", "0", "1", "1", "0", "**data-loss**"]
    assert out.count("<details>") == out.count("</details>") >= 1


def statefulset(claims: bool) -> dict[str, Any]:
    body = deployment("db") | {"kind": "StatefulSet"}
    body["spec"] = body["spec"] | {"serviceName": "db"}
    if claims:
        body["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": pvc()["spec"]}]
    return body


SCHEDULE = {
    "apiVersion": "velero.io/v1",
    "kind": "Schedule",
    "metadata": {"name": "daily", "namespace": "app"},
    "spec": {"schedule": "0 2 * * *"},
}
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.demo.example.com"},
    "spec": {"group": "demo.example.com", "names": {"kind": "Widget"}, "versions": [{"name": "v1"}]},
}


@pytest.mark.parametrize(
    ("obj", "level"),
    [
        (SCHEDULE, "data-loss"),
        (CRD, "data-loss"),
        (statefulset(claims=True), "data-loss"),
        (statefulset(claims=False), "change"),  # control: no volumes
        (configmap("other"), "change"),  # control
    ],
    ids=["schedule", "crd", "statefulset-with-claims", "statefulset-without", "configmap"],
)
def test_pruning_what_holds_data(tmp_path: Path, obj: dict[str, Any], level: str) -> None:
    result = diff(tmp_path, {"app": [namespace("app"), obj]}, {"app": [namespace("app")]})
    (change,) = result.changes
    assert (change.action, change.level) == ("removed", level)


def test_tenant_lane_and_cluster_policy_loosened_are_security(tmp_path: Path) -> None:
    lane = validating_policy(["Deny"])
    lane["metadata"]["annotations"] = {"policies.kyverno.io/category": "Tenant lanes"}
    wider = copy.deepcopy(lane)
    wider["spec"]["validations"] = [{"expression": "true"}]
    assert diff(tmp_path / "lane", {"p": [lane]}, {"p": [wider]}).level == "security"
    # Control: the same edit on a policy outside the tenant lanes, still denying, is a change.
    plain, plain_wider = validating_policy(["Deny"]), copy.deepcopy(wider)
    del plain_wider["metadata"]["annotations"]
    assert diff(tmp_path / "plain", {"p": [plain]}, {"p": [plain_wider]}).level == "change"

    def cluster_policy(action: str) -> dict[str, Any]:
        spec = {"validationFailureAction": action, "rules": []}
        return {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"}, "spec": spec}

    assert diff(tmp_path / "cp", {"p": [cluster_policy("Enforce")]}, {"p": [cluster_policy("Audit")]}).level == (
        "security"
    )
    assert diff(tmp_path / "cp2", {"p": [cluster_policy("Audit")]}, {"p": [cluster_policy("Enforce")]}).level == (
        "change"
    )


def test_dropped_pod_selector_opens_a_path(tmp_path: Path) -> None:
    rule = [{"from": [{"podSelector": {}}]}]
    old = {"app": [namespace("app"), netpol(rule)]}
    everyone = netpol(rule)
    everyone["spec"]["podSelector"] = {}
    assert diff(tmp_path / "all", old, {"app": [namespace("app"), everyone]}).level == "security"
    # Control: a narrower podSelector (one more label) selects fewer pods.
    fewer = netpol(rule)
    fewer["spec"]["podSelector"] = {"matchLabels": {"app": "web", "tier": "front"}}
    assert diff(tmp_path / "fewer", old, {"app": [namespace("app"), fewer]}).level == "change"


def test_policy_exempting_an_existing_namespace_is_security(tmp_path: Path) -> None:
    def policy(exempt: list[str]) -> dict[str, Any]:
        body = validating_policy(["Deny"])
        selector = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": exempt}]}
        body["spec"]["matchConstraints"]["namespaceSelector"] = selector
        return body

    old = {"app": [namespace("app")], "p": [policy(["kube-system"])]}
    result = diff(tmp_path / "existing", old, {"app": [namespace("app")], "p": [policy(["kube-system", "app"])]})
    assert result.level == "security" and "existing namespace(s) app" in result.changes[0].risks[0].reason
    # Control: exempting the namespace of a service added by the same change loosens nothing that ran.
    new = {"app": [namespace("app")], "p": [policy(["kube-system", "velero"])], "velero": [namespace("velero")]}
    assert risks(diff(tmp_path / "new", old, new))["ValidatingPolicy require-labels"] == []


def test_charts_missing_on_one_side_are_noted_not_shown_as_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "demo-2.0.0.tgz").write_bytes(b"")  # the stand-in helm does not read it
    monkeypatch.setenv("PATH", f"{stand_in_helm(tmp_path)}:/usr/bin:/bin")
    old = {"app": [namespace("app"), release("1.2.3")]}
    new = {"app": [namespace("app"), release("2.0.0")]}
    result = diff(tmp_path / "one", old, new, charts=charts)
    assert [c.label for c in result.changes] == ["HelmRelease app/demo"]
    assert any("old chart is not in the charts folder" in note for note in result.notes), result.notes
    # Control: with both charts there, the rendered Deployment's change is shown.
    (charts / "demo-1.2.3.tgz").write_bytes(b"")
    result = diff(tmp_path / "both", old, new, charts=charts)
    rendered = [(c.label, [f.path for f in c.fields]) for c in result.changes if c.via]
    assert rendered == [("Deployment app/demo", ["metadata.annotations.chart"])]


def flux_example(root: Path, replicas: int, name: str = "prod") -> Path:
    """A repository shaped like Flux's own examples: ``clusters/<name>`` holds bootstrap's
    ``flux-system`` (a Kustomization applying that folder itself) and the ``apps`` Kustomization,
    whose folder has no kustomization.yaml (Flux generates it)."""
    cluster = root / "clusters" / name
    (cluster / "flux-system").mkdir(parents=True)
    sync = flux_ks("flux-system") | {}
    sync["spec"] = sync["spec"] | {"path": f"./clusters/{name}"}
    (cluster / "flux-system" / "gotk-sync.yaml").write_text(yaml.safe_dump(sync))
    (cluster / "flux-system" / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": ["gotk-sync.yaml"]}
        )
    )
    apps = flux_ks("apps")
    apps["spec"] = apps["spec"] | {"path": f"./apps/{name}"}
    (cluster / "apps.yaml").write_text(yaml.safe_dump(apps))
    (root / "apps" / name).mkdir(parents=True)
    (root / "apps" / name / "web.yaml").write_text(
        yaml.safe_dump_all([namespace("app"), deployment(replicas=replicas)])
    )
    return cluster


def test_tree_on_a_flux_shaped_repository(tmp_path: Path) -> None:
    old = flux_example(tmp_path / "old", 1)
    new = flux_example(tmp_path / "new", 2)
    result = diff_trees(old, new, old_repo_root=tmp_path / "old", new_repo_root=tmp_path / "new", plan=False)
    (change,) = result.changes
    assert (change.kustomization, change.label, [f.path for f in change.fields]) == (
        "flux-system/apps",
        "Deployment app/web",
        ["spec.replicas"],
    )
    assert not any("applied by" in note for note in result.notes), result.notes
    # Control: the same repository twice.
    assert diff_trees(old, old, old_repo_root=tmp_path / "old", new_repo_root=tmp_path / "old").empty


def test_tree_on_two_repositories_diffs_each_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--tree` given two checkouts: each cluster folder below is diffed on its own, as `plan --tree`
    # plans it; a cluster only on the new side is all added.
    flux_example(tmp_path / "old", 1)
    flux_example(tmp_path / "new", 2)
    flux_example(tmp_path / "new", 1, name="staging")
    old, new = tmp_path / "old", tmp_path / "new"
    code, out = run_cli(["diff", "--tree", str(old), str(new), "--no-plan", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and [d["title"].split(" ")[0] for d in data] == ["clusters/prod", "clusters/staging"]
    prod, staging = data
    assert [(c["object"], [f["path"] for f in c["fields"]]) for k in prod["kustomizations"] for c in k["changes"]] == [
        ("Deployment app/web", ["spec.replicas"])
    ]
    assert staging["counts"]["added"] == 4 and staging["counts"]["removed"] == 0, staging["counts"]
    assert not any("defined twice" in n for d in data for n in d["notes"]), [d["notes"] for d in data]
    # Control: one repository against itself: one cluster, no changes.
    code, out = run_cli(["diff", "--tree", str(old), str(old), "--no-plan"], capsys)
    assert code == 0 and out.startswith("diff clusters/prod (") and "no changes" in out, out
