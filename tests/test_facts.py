"""Each service states the facts of its charts; the registry and the mirror read them from there."""

from __future__ import annotations

import importlib

import pytest
from cdk8s import App

import sre_constructs  # noqa: F401  (chooses jsii's Node before cdk8s loads)
from sre_constructs import CHARTS, CorePlatform
from sre_constructs.kernel.facts import ChartFacts, ObjectRef, chart_facts, known_charts

# Chart key -> the module attribute holding its facts.
_OWNERS = {
    "istio/base": "istio.BASE_FACTS",
    "istio/istiod": "istio.ISTIOD_FACTS",
    "istio/gateway": "istio.GATEWAY_FACTS",
    "cert-manager/cert-manager": "cert_manager.CHART_FACTS",
    "kyverno/kyverno": "kyverno.CHART_FACTS",
    "monitoring/kube-prometheus-stack": "monitoring.CHART_FACTS",
    "logging/loki": "logging.LOKI_FACTS",
    "logging/alloy": "logging.ALLOY_FACTS",
    "openbao/openbao": "openbao.CHART_FACTS",
    "external-secrets/external-secrets": "external_secrets.CHART_FACTS",
    "runtime-security/core": "runtime_security.CHART_FACTS",
    "backup/velero": "backup.CHART_FACTS",
    "oauth2-proxy/oauth2-proxy": "oauth2_proxy.CHART_FACTS",
}


def test_every_pinned_chart_has_facts_stated_by_its_service() -> None:
    assert set(_OWNERS) == set(CHARTS)
    for key, owner in _OWNERS.items():
        module, name = owner.split(".")
        facts = getattr(importlib.import_module(f"sre_constructs.services.{module}"), name)
        assert isinstance(facts, ChartFacts)
        assert facts.chart == CHARTS[key].chart
        assert chart_facts(facts.chart) is facts
        assert CHARTS[key].service.replace("-", "_") == module
    assert set(known_charts()) >= {pin.chart for pin in CHARTS.values()}


@pytest.mark.parametrize("key", sorted(CHARTS))
def test_crds_are_group_slash_kind(key: str) -> None:
    facts = chart_facts(CHARTS[key].chart)
    assert facts is not None
    assert len(set(facts.crds)) == len(facts.crds)
    for crd in facts.crds:
        group, _, kind = crd.partition("/")
        assert "." in group and kind[:1].isupper(), crd


def test_charts_that_install_crds() -> None:
    def crds(chart: str) -> tuple[str, ...]:
        facts = chart_facts(chart)
        assert facts is not None
        return facts.crds

    assert "security.istio.io/PeerAuthentication" in crds("base")
    assert "cert-manager.io/ClusterIssuer" in crds("cert-manager")
    assert "acme.cert-manager.io/Order" in crds("cert-manager")
    assert len(crds("kube-prometheus-stack")) == 10
    assert "policies.kyverno.io/ValidatingPolicy" in crds("kyverno")
    assert "external-secrets.io/ClusterSecretStore" in crds("external-secrets")
    assert "velero.io/Schedule" in crds("velero")
    assert all(c.startswith("neuvector.com/") for c in crds("core")) and len(crds("core")) == 9
    for chart in ("istiod", "gateway", "loki", "openbao"):
        assert crds(chart) == ()


def _release_values(core: CorePlatform, release: str) -> tuple[str, dict[str, object]]:
    for component in core.components:
        for handle in component.releases:
            if handle.release_name == release:
                return handle.namespace, handle.values
    raise AssertionError(release)


def test_reads_follow_the_release_values() -> None:
    app = App()
    core = CorePlatform(
        app,
        "core",
        services={
            "logging": {"s3_bucket_chunks": "chunks", "s3_endpoint": "s3.example:9000", "s3_credentials_secret": "s3"}
        },
    )

    def reads(chart: str, release: str) -> tuple[ObjectRef, ...]:
        facts = chart_facts(chart)
        assert facts is not None
        namespace, values = _release_values(core, release)
        return facts.reads(values, namespace, release)

    assert reads("velero", "velero") == (ObjectRef("Secret", "velero", "velero-credentials"),)
    assert reads("loki", "loki") == (ObjectRef("Secret", "logging", "s3"),)
    # The init ConfigMap ships with the release (extraObjects): not an input from outside.
    assert reads("openbao", "openbao") == (
        ObjectRef("Secret", "openbao", "openbao-tls"),
        ObjectRef("Secret", "openbao", "openbao-static-seal"),
    )
    assert reads("kube-prometheus-stack", "kube-prometheus-stack") == ()


def test_no_s3_secret_no_loki_reads() -> None:
    core = CorePlatform(App(), "core")
    facts = chart_facts("loki")
    assert facts is not None
    namespace, values = _release_values(core, "loki")
    assert facts.reads(values, namespace, "loki") == ()


def test_kyverno_policy_webhook_background_role_and_runtime_secrets() -> None:
    facts = chart_facts("kyverno")
    assert facts is not None
    (hook,) = facts.webhooks
    assert hook.name == "kyverno-policy-validating-webhook-cfg" and hook.failure_policy == "Fail"
    assert hook.intercepts("kyverno.io", "ClusterPolicy") and hook.intercepts("policies.kyverno.io", "ValidatingPolicy")
    # Kyverno's policy webhook does not validate policies.kyverno.io PolicyExceptions.
    assert not hook.intercepts("policies.kyverno.io", "PolicyException")
    assert facts.aggregated_roles == (
        ("rbac.kyverno.io/aggregate-to-background-controller", "true", "kyverno-background-controller"),
    )
    secrets = {ref.name for ref in facts.creates_at_runtime({}, "kyverno", "kyverno")}
    assert secrets == {
        "kyverno-svc.kyverno.svc.kyverno-tls-ca",
        "kyverno-svc.kyverno.svc.kyverno-tls-pair",
        "kyverno-cleanup-controller.kyverno.svc.kyverno-tls-ca",
        "kyverno-cleanup-controller.kyverno.svc.kyverno-tls-pair",
    }
    without_cleanup = facts.creates_at_runtime({"cleanupController": {"enabled": False}}, "policy", "pol")
    assert {ref.name for ref in without_cleanup} == {
        "pol-kyverno-svc.policy.svc.kyverno-tls-ca",
        "pol-kyverno-svc.policy.svc.kyverno-tls-pair",
    }
