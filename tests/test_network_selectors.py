"""Which pods each NetworkPolicy of the default platform opens a path for (its ``podSelector``).

An empty selector opens the path for every pod of the namespace, so a dropped ``pods=`` widens a
policy without changing anything else. Three layers, on parsed objects of written trees:

- the writer: every declared need (``component.network_needs``) is one policy whose selector is
  exactly the need's pods, and no policy opens a path that no need declares;
- the services: which paths are narrowed, to which workload's pods (the contract below, stated
  from the charts' pod labels at our pins, not read back from the code);
- a rule for any service: the API server reaches webhook pods only, never a whole namespace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cdk8s import App

from sre_constructs import CorePlatform, PlatformComponent, write_tree

from .conftest import load_docs

# (namespace, policy) -> the labels of the only pods the path is for, in the default platform.
NARROWED: dict[tuple[str, str], dict[str, str]] = {
    # istiod serves xDS to sidecars, its injection webhook and its metrics; nothing else in istio-system.
    ("istio-system", "allow-istiod-xds"): {"app": "istiod", "istio": "pilot"},
    ("istio-system", "allow-istiod-webhook"): {"app": "istiod", "istio": "pilot"},
    ("istio-system", "allow-istiod-metrics"): {"app": "istiod", "istio": "pilot"},
    # The API server calls each chart's webhook pods, not its controllers.
    ("cert-manager", "allow-webhook"): {
        "app.kubernetes.io/instance": "cert-manager",
        "app.kubernetes.io/component": "webhook",
    },
    ("kyverno", "allow-admission-webhook"): {
        "app.kubernetes.io/instance": "kyverno",
        "app.kubernetes.io/component": "admission-controller",
    },
    ("kyverno", "allow-cleanup-webhook"): {
        "app.kubernetes.io/instance": "kyverno",
        "app.kubernetes.io/component": "cleanup-controller",
    },
    ("monitoring", "allow-operator-webhook"): {
        "app.kubernetes.io/component": "prometheus-operator",
        "app.kubernetes.io/instance": "kube-prometheus-stack",
    },
    ("external-secrets", "allow-webhook"): {"app.kubernetes.io/name": "external-secrets-webhook"},
    ("neuvector", "allow-webhooks-from-api-server"): {"app": "neuvector-controller-pod"},
    # Only Prometheus scrapes every namespace and the hosts; only Alertmanager reaches receivers.
    ("monitoring", "allow-prometheus-scrape-pods"): {"app.kubernetes.io/name": "prometheus"},
    ("monitoring", "allow-prometheus-scrape-hosts"): {"app.kubernetes.io/name": "prometheus"},
    ("monitoring", "allow-alertmanager-receivers"): {"app.kubernetes.io/name": "alertmanager"},
    # Only Grafana reaches Loki, through its gateway only; only the scanner pulls from registries.
    ("monitoring", "allow-grafana-loki"): {"app.kubernetes.io/name": "grafana"},
    ("logging", "allow-grafana-to-gateway"): {
        "app.kubernetes.io/name": "loki",
        "app.kubernetes.io/instance": "loki",
        "app.kubernetes.io/component": "gateway",
    },
    ("neuvector", "allow-scanner-registries"): {"app": "neuvector-scanner-pod"},
}


def _policies(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Every NetworkPolicy under ``root`` by (namespace, name), each name appearing once."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(root.rglob("*.yaml")):
        for doc in load_docs(path):
            if doc.get("kind") == "NetworkPolicy":
                key = (doc["metadata"]["namespace"], doc["metadata"]["name"])
                assert key not in found, f"{key} written twice"
                found[key] = doc
    return found


def _selector(pods: Any) -> dict[str, Any]:
    return {"matchLabels": dict(pods)} if pods else {}


@pytest.fixture(scope="module")
def default_policies(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    out = tmp_path_factory.mktemp("selectors")
    app = App()
    CorePlatform(app, "core")
    write_tree(app, out)
    return _policies(out / "core")


@pytest.mark.parametrize(
    "services",
    [
        {},
        # The optional paths too: the NeuVector manager UI, a renamed webhook.
        {
            "runtime-security": {"manager_ingress_namespaces": ["ops"]},
            "external-secrets": {"values": {"nameOverride": "eso"}},
        },
    ],
    ids=["default", "optional-paths"],
)
def test_every_declared_need_is_one_policy_with_exactly_its_selector(tmp_path: Path, services: Any) -> None:
    app = App()
    core = CorePlatform(app, "core", services=services)
    write_tree(app, tmp_path)
    written = _policies(tmp_path / "core")
    declared = {}
    for component in core.node.find_all():
        if isinstance(component, PlatformComponent):
            for namespace, need in component.network_needs:
                declared[(namespace, f"allow-{need.name}")] = need
    assert declared, "the platform declares network needs"
    # Beside default-deny and the baseline, every policy written is a declared need, and back.
    assert set(written) - {(ns, n) for ns, n in written if n in ("default-deny", "allow-baseline")} == set(declared)
    for key, need in declared.items():
        spec = written[key]["spec"]
        assert spec["podSelector"] == _selector(need.pods), key
        assert spec["policyTypes"] == [need.direction.capitalize()], key
    if services:  # the optional paths are there, narrowed
        assert written[("neuvector", "allow-manager-ui")]["spec"]["podSelector"]["matchLabels"]
        assert written[("external-secrets", "allow-webhook")]["spec"]["podSelector"] == _selector(
            {"app.kubernetes.io/name": "eso-webhook"}
        )


def test_narrowed_paths_select_exactly_their_workloads_pods(
    default_policies: dict[tuple[str, str], dict[str, Any]],
) -> None:
    narrowed = {key: doc["spec"]["podSelector"] for key, doc in default_policies.items() if doc["spec"]["podSelector"]}
    assert set(narrowed) == set(NARROWED), "narrowed paths differ from the contract (a selector dropped or added?)"
    for key, labels in NARROWED.items():
        assert narrowed[key] == {"matchLabels": labels}, key
    # Every other path is for the whole namespace, on purpose (single-workload namespaces, every
    # pod talking to the API server, ...): default-deny and the baseline select every pod too.
    assert all(doc["spec"]["podSelector"] == {} for key, doc in default_policies.items() if key not in NARROWED)


def test_the_api_server_reaches_webhook_pods_only(default_policies: dict[tuple[str, str], dict[str, Any]]) -> None:
    from_api_server = [
        (key, doc)
        for key, doc in default_policies.items()
        if doc["metadata"].get("annotations", {}).get("sre-constructs.io/peer") == "the Kubernetes API server"
        and "Ingress" in doc["spec"]["policyTypes"]
    ]
    assert len(from_api_server) >= 5, "every chart with a webhook opens a path from the API server"
    for key, doc in from_api_server:
        assert doc["spec"]["podSelector"].get("matchLabels"), f"{key} opens the namespace to the API server"
