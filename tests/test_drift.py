"""Every HelmRelease runs with helm-controller drift detection enabled; its only ignore rules are
fields a controller owns once running (HPA replicas, injected caBundles, istiod's failurePolicy)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

import sre_constructs  # noqa: F401  (chooses jsii's Node before cdk8s loads)
from sre_constructs import CorePlatform, render_tree
from sre_constructs.cluster import load_cluster
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.services.istio import Istio

REPO = Path(__file__).resolve().parents[1]
WEBHOOKS = "admissionregistration.k8s.io"
CA_BUNDLE = re.compile(r"/webhooks/\d+/clientConfig/caBundle")
# (group, kinds, path pattern) a rule may name; failurePolicy only on istiod's validators.
ALLOWED = (
    ("apps", {"Deployment", "StatefulSet"}, re.compile(r"/spec/replicas")),
    (WEBHOOKS, {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}, CA_BUNDLE),
    (WEBHOOKS, {"ValidatingWebhookConfiguration"}, re.compile(r"/webhooks/\d+/failurePolicy")),
    (
        "apiextensions.k8s.io",
        {"CustomResourceDefinition"},
        re.compile(r"/spec/conversion/webhook/clientConfig/caBundle"),
    ),
)


def releases(platform: CorePlatform) -> dict[str, dict[str, Any]]:
    found = {}
    for text in render_tree(platform).values():
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict) and doc.get("kind") == "HelmRelease":
                found[doc["metadata"]["name"]] = doc
    return found


@pytest.mark.parametrize("cluster", ["default", "lab", "production"])
def test_every_release_corrects_drift_and_ignores_only_controller_owned_fields(cluster: str) -> None:
    if cluster == "default":
        platform = CorePlatform(App(), "core")
    else:
        platform = load_cluster(REPO / "clusters" / f"{cluster}.yaml").platform(App())
    found = releases(platform)
    assert len(found) >= 9
    for name, release in found.items():
        drift = release["spec"]["driftDetection"]
        assert drift["mode"] == "enabled", name
        for rule in drift.get("ignore", []):
            target = rule["target"]
            assert target["name"] and target["kind"], (name, rule)  # never a blanket rule
            for path in rule["paths"]:
                assert any(
                    target["group"] == group and target["kind"] in kinds and pattern.fullmatch(path)
                    for group, kinds, pattern in ALLOWED
                ), (name, rule)
            if re.search("failurePolicy", " ".join(rule["paths"])):
                assert target["name"].startswith(("istiod-default-validator", "istio-validator")), (name, rule)


def test_replicas_are_ignored_exactly_where_an_hpa_scales() -> None:
    found = releases(CorePlatform(App(), "core"))

    def replica_targets(name: str) -> set[str]:
        ignore = found[name]["spec"]["driftDetection"].get("ignore", [])
        return {r["target"]["name"] for r in ignore if "/spec/replicas" in r["paths"]}

    assert replica_targets("istiod") == {"istiod"}  # autoscaleEnabled, HPA min 2 max 5
    for name in set(found) - {"istiod", "istio-ingressgateway"}:
        assert replica_targets(name) == set(), name
    fixed = releases(CorePlatform(App(), "core", services={"istio": {"values": {"autoscaleEnabled": False}}}))
    assert not any("/spec/replicas" in r["paths"] for r in fixed["istiod"]["spec"]["driftDetection"].get("ignore", []))


def test_gateway_and_webhook_names_follow_the_values() -> None:
    from cdk8s import Chart

    istio = Istio(Chart(App(), "c"), "istio", gateway=True, values={"revision": "canary"})
    assert istio.gateway is not None
    ignores = {
        r["target"]["name"]
        for handle in (istio.istiod, istio.gateway)
        for r in handle.api_object.to_json()["spec"]["driftDetection"]["ignore"]
    }
    assert ignores == {
        "istio-validator-canary-istio-system",
        "istio-sidecar-injector-canary",
        "istiod-canary",
        "istio-ingressgateway",
    }


def test_releases_with_drift_rules_validate_against_the_flux_crd(default_tree: Path) -> None:
    assert check_tree(default_tree, kustomize=False) == []
