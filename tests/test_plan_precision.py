"""The plan assumes nothing it cannot see: sources and health checks must exist, policies judge
only what they match, pods are judged after the mutating webhooks. Each fault has its control."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sre_constructs.kernel.facts import ChartFacts, ObjectRef, register_chart
from sre_constructs.plan import plan_tree
from sre_constructs.plan.source import Obj
from tests.test_plan_faults import blockers, flux_ks, ns, release, write

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
