"""The plan of the library's own trees: the default platform and both example clusters come up,
the plan of a written tree agrees with the plan of the same App in memory, and the docs'
bring-up block is current."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdk8s import App

from sre_constructs import CorePlatform, write_tree
from sre_constructs.plan import Plan, plan_app, plan_clusters, plan_tree
from sre_constructs.plan.docs_block import BRINGUP_END, BRINGUP_START, bringup_block
from sre_constructs.services.openbao import OpenBao

REPO = Path(__file__).resolve().parent.parent
CLUSTERS = sorted((REPO / "clusters").glob("*.yaml"))


@pytest.mark.parametrize("cluster", [None, *CLUSTERS], ids=lambda c: "default" if c is None else c.stem)
def test_the_library_trees_come_up(cluster: Path | None) -> None:
    (plan,) = plan_clusters([cluster] if cluster else [])
    assert plan.ok, plan.render("text")
    assert all(step.ready for step in plan.steps)


def test_written_tree_agrees_with_the_app(tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core")
    in_memory = plan_app(app)
    write_tree(app, tmp_path)
    written = plan_tree(tmp_path / "core")
    strip = lambda plan: {k: v for k, v in plan.to_dict().items() if k != "title"}  # noqa: E731
    assert strip(written) == strip(in_memory)


def test_production_lists_the_s3_credentials_as_manual_steps() -> None:
    (plan,) = plan_clusters([REPO / "clusters" / "production.yaml"])
    commands = "\n".join(step["command"] for step in plan.manual_steps)
    assert "bao kv put -mount=secret platform/velero access_key_id=" in commands
    assert "bao kv put -mount=secret platform/loki" in commands


def test_bringup_block_is_current() -> None:
    page = (REPO / "docs" / "bringing-up-a-cluster.md").read_text(encoding="utf-8")
    start, end = page.index(BRINGUP_START) + len(BRINGUP_START) + 1, page.index(BRINGUP_END)
    assert page[start:end] == bringup_block(CLUSTERS), (
        "docs/bringing-up-a-cluster.md: the bring-up block is stale: run `python -m sre_constructs.docs`"
    )


def test_a_service_alone_in_a_team_chart_collides_with_nothing(tmp_path: Path) -> None:
    """Alone in a plain Chart, a service emits no Flux Kustomization, keeps its chart sources in
    its own namespace and holds back the custom resources its chart's CRDs serve; no object of the
    team's tree then collides with the platform's tree (what the chart itself renders is Helm's to
    arbitrate: two cert-managers on one cluster would still compete for their CRDs)."""
    from cdk8s import Chart

    from sre_constructs import CertManager

    app = App()
    core = CorePlatform(app, "core")
    team = Chart(App(), "team")
    alone = CertManager(team, "cert-manager", namespace="team-certs", acme_email="sre@example.com")
    docs = team.to_json()
    kinds = {(d["kind"], d["metadata"].get("namespace", "")) for d in docs}
    assert not any(kind == "Kustomization" for kind, _ in kinds)
    assert all(ns != "flux-system" for _, ns in kinds)
    assert not any(d["apiVersion"].startswith(("cert-manager.io/", "acme.cert-manager.io/")) for d in docs)
    held_back = Chart.of(alone.config).to_json()
    assert {d["kind"] for d in held_back} == {"ClusterIssuer", "Certificate"}
    assert alone.kustomization is None

    write_tree(app, tmp_path)
    apps = tmp_path / "apps"
    # Beside the platform, a second cert-manager is a real conflict the plan names.
    assert _team_plan(apps, core, docs, tmp_path).blockers[0].kind == "collision"
    # A service whose chart registers nothing cluster-wide plans cleanly beside the platform.
    other = Chart(App(), "team")
    OpenBao(other, "bao", namespace="team-bao", release_name="team-bao", replicas=1)
    plan = _team_plan(apps, core, other.to_json(), tmp_path, waits=("cert-manager-config",))
    assert not [b for b in plan.blockers if b.kind == "collision"], [str(b) for b in plan.blockers]
    assert plan.ok, plan.render("text")


def _team_plan(
    apps: Path, core: CorePlatform, docs: list[dict[str, object]], root: Path, waits: tuple[str, ...] = ()
) -> Plan:
    """Plan a team tree holding ``docs`` (one Flux Kustomization at ./apps/team) beside the core tree."""
    import yaml

    (apps / "team").mkdir(parents=True, exist_ok=True)
    (apps / "team" / "objects.yaml").write_text(yaml.safe_dump_all(docs))
    (apps / "kustomization.yaml").write_text(yaml.safe_dump({"resources": ["team.yaml"]}))
    team_ks = {
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "team", "namespace": "flux-system"},
        "spec": {
            "interval": "10m",
            "path": "./apps/team",
            "prune": True,
            "wait": True,
            "dependsOn": [{"name": name} for name in waits],
            "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
        },
    }
    (apps / "team.yaml").write_text(yaml.safe_dump(team_ks))
    return plan_tree(apps, with_trees=[root / "core"])


@pytest.mark.parametrize(
    ("openbao", "command"),
    [
        ({"seal_key_source": "external"}, "kubectl -n openbao create secret generic openbao-static-seal"),
        (
            {"seal_config": {"awskms": {"region": "eu-west-1", "kms_key_id": "alias/bao"}}},
            "aws kms describe-key --key-id alias/bao --region eu-west-1",
        ),
    ],
)
def test_inputs_only_a_person_gives_are_manual_steps(openbao: dict[str, object], command: str) -> None:
    app = App()
    CorePlatform(app, "core", services={"openbao": openbao})
    plan = plan_app(app)
    assert plan.ok, plan.render("text")
    assert any(step["command"].startswith(command) for step in plan.manual_steps), plan.manual_steps


def test_wait_off_services_come_up_through_their_health_checks() -> None:
    app = App()
    CorePlatform(app, "core", services={"openbao": {"wait": False}, "backup": {"wait": False}})
    plan = plan_app(app)
    assert plan.ok, plan.render("text")
