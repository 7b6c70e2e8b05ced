"""examples/tenants.py runs as a user runs it; its trees validate, come up and mean what they say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.plan import plan_tree

from .conftest import REPO, load_docs

EXAMPLE = REPO / "examples" / "tenants.py"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tenants-example")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE.relative_to(REPO)), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def objects(root: Path) -> list[dict[str, Any]]:
    return [d for p in sorted(root.rglob("*.yaml")) for d in load_docs(p) if "metadata" in d]


def one(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in items if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def test_trees_validate(written: Path, kubectl: str) -> None:
    for tenant in ("payments", "search"):
        findings = check_tree(written / "tenancy" / tenant, known_trees=[written / "core"])
        assert [str(f) for f in findings if f.severity == "error"] == [], tenant
    workloads = check_tree(written / "tenants" / "payments")
    assert [str(f) for f in workloads if f.severity == "error"] == []


def test_trees_come_up(written: Path) -> None:
    for tenant in ("payments", "search"):
        plan = plan_tree(written / "tenancy" / tenant, with_trees=[written / "core"])
        assert plan.ok, (tenant, [str(b) for b in plan.blockers])
        tenant_steps = [step for step in plan.steps if "tenant-" in step.name]
        assert len(tenant_steps) == 4, tenant
        # search reads its workloads from its own Git repository, which the plan does not read.
        unknown = [step.name for step in tenant_steps if step.unknown]
        assert unknown == (["flux-system/tenant-search"] if tenant == "search" else []), tenant
        assert all(step.ready for step in tenant_steps if not step.unknown), tenant
    # The team's secret is a manual step in its own subtree, read through its own store.
    plan = plan_tree(written / "tenancy" / "payments", with_trees=[written / "core"])
    assert any("tenants/payments/db" in str(step) and "SecretStore payments/openbao" in str(step)
               for step in plan.manual_steps)  # fmt: skip


def test_cdk8s_plus_workload_in_its_lane(written: Path) -> None:
    team = objects(written / "tenants" / "payments")
    assert {d["metadata"]["namespace"] for d in team} == {"payments"}
    deployment = one(team, "Deployment", "payments-api")
    service = one(team, "Service", "payments-api")
    pods = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pods.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    secret = one(team, "ExternalSecret", "payments-db")
    assert secret["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "openbao"}
    assert all(item["remoteRef"]["key"].startswith("tenants/payments/") for item in secret["spec"]["data"])
    assert container["envFrom"] == [{"secretRef": {"name": secret["spec"]["target"]["name"]}}]
    monitor = one(team, "ServiceMonitor", "payments-api")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}


def test_network_needs_name_the_deployment_pods(written: Path) -> None:
    team = objects(written / "tenants" / "payments")
    pods = one(team, "Deployment", "payments-api")["spec"]["template"]["metadata"]["labels"]
    tree = objects(written / "tenancy" / "payments")
    scrape = [p for p in tree if p["kind"] == "NetworkPolicy" and p["metadata"]["name"] == "allow-prometheus"]
    (policy,) = scrape
    assert policy["metadata"]["namespace"] == "payments"
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 9090, "protocol": "TCP"}]


def test_search_reads_its_own_repository(written: Path) -> None:
    tree = objects(written / "tenancy" / "search")
    repo = one(tree, "GitRepository", "tenant-search")
    assert repo["spec"]["url"] == "https://git.example.com/search/deploy.git"
    assert repo["spec"]["secretRef"] == {"name": "search-deploy-key"}
    assert one(tree, "Kustomization", "tenant-search")["spec"]["path"] == "./clusters/production"
    quota = one(tree, "ResourceQuota", "tenant")["spec"]["hard"]
    assert quota["requests.memory"] == "32Gi"
    assert not (written / "clusters").exists()  # nothing of the team's repository is written here
