"""Istio, cert-manager and Kyverno: knobs, production defaults, network needs, companions, CRD validity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdk8s
import pytest
from cdk8s import App, Chart

from sre_constructs import PlatformChart, PlatformComponent, write_tree
from sre_constructs.kernel.errors import ValidationError
from sre_constructs.services.cert_manager import LETSENCRYPT_PRODUCTION, CertManager
from sre_constructs.services.istio import Istio
from sre_constructs.services.kyverno import POLICIES, Kyverno

Obj = dict[str, Any]


def synth(component: PlatformComponent) -> list[Obj]:
    chart = Chart.of(component)
    return list(cdk8s.Testing.synth(chart))


def of(manifests: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def policy(manifests: list[Obj], namespace: str, name: str) -> Obj:
    found = [m for m in of(manifests, "NetworkPolicy", f"allow-{name}") if m["metadata"]["namespace"] == namespace]
    assert len(found) == 1, name
    return found[0]


def rule_ports(np: Obj) -> set[tuple[Any, str]]:
    direction = np["spec"]["policyTypes"][0].lower()
    return {(p["port"], p["protocol"]) for p in np["spec"][direction][0].get("ports", [])}


def release(component: PlatformComponent, name: str) -> Obj:
    return next(r.values for r in component.releases if r.release_name == name)


@pytest.fixture
def chart() -> Chart:
    # A tree: alone in a plain chart, a service holds back its companion's custom resources.
    return PlatformChart(App(), "c", path="c")


# --------------------------------------------------------------------------- istio


def test_istio_production_defaults(chart: Chart) -> None:
    istio = Istio(chart, "istio")
    v = release(istio, "istiod")
    assert v["autoscaleEnabled"] is True and v["autoscaleMin"] == 2  # > 1, so the chart renders the PDB
    assert v["global"]["defaultPodDisruptionBudget"]["enabled"] is True
    assert v["resources"]["requests"] and v["resources"]["limits"]
    assert v["seccompProfile"] == {"type": "RuntimeDefault"}
    assert v["global"]["proxy"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert v["global"]["proxy"]["resources"]["limits"]["memory"]
    assert istio.pod_security["istio-system"].level == "restricted"
    assert istio.gateway is None


def test_istio_knobs_map_and_user_values_win(chart: Chart) -> None:
    istio = Istio(
        chart,
        "istio",
        replicas=3,
        max_replicas=7,
        resources={"limits": {"memory": "2Gi"}},
        values={"autoscaleMax": 9, "pdb": {"minAvailable": 2}},
    )
    v = release(istio, "istiod")
    assert v["autoscaleMin"] == 3 and v["replicaCount"] == 3
    assert v["autoscaleMax"] == 9  # the user's values win over the knob
    assert v["pdb"] == {"minAvailable": 2}
    assert v["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}  # merged over the default


def test_istio_gateway_security_context_keeps_the_sysctl(chart: Chart) -> None:
    istio = Istio(chart, "istio", gateway=True, gateway_namespace="edge", gateway_replicas=3)
    v = release(istio, "istio-ingressgateway")
    assert v["autoscaling"]["minReplicas"] == 3 and v["podDisruptionBudget"] == {"minAvailable": 1}
    pod = v["securityContext"]
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in pod["sysctls"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = v["containerSecurityContext"]
    assert container["capabilities"] == {"drop": ["ALL"]} and container["allowPrivilegeEscalation"] is False
    assert istio.pod_security["edge"].level == "restricted"
    manifests = synth(istio)
    ns = of(manifests, "Namespace", "edge")[0]
    # The gateway pod's proxy is injected: its namespace must not be labelled disabled.
    assert ns["metadata"]["labels"]["istio-injection"] == "enabled"
    hr = of(manifests, "HelmRelease", "istio-ingressgateway")[0]
    assert hr["spec"]["dependsOn"] == [{"name": "istiod", "namespace": "istio-system"}]
    assert rule_ports(policy(manifests, "edge", "gateway-traffic")) >= {(80, "TCP"), (443, "TCP")}
    assert rule_ports(policy(manifests, "edge", "istiod")) == {(15012, "TCP")}


def test_istio_network_needs(chart: Chart) -> None:
    manifests = synth(Istio(chart, "istio"))
    xds = policy(manifests, "istio-system", "istiod-xds")
    assert xds["spec"]["ingress"][0]["from"] == [{"namespaceSelector": {}, "podSelector": {}}]
    assert rule_ports(xds) == {(15012, "TCP")}
    assert rule_ports(policy(manifests, "istio-system", "istiod-webhook")) == {(15017, "TCP")}
    metrics = policy(manifests, "istio-system", "istiod-metrics")
    assert rule_ports(metrics) == {(15014, "TCP")}
    assert metrics["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert rule_ports(policy(manifests, "istio-system", "api-server")) == {(443, "TCP"), (6443, "TCP")}


@pytest.mark.parametrize("mode", ["STRICT", "PERMISSIVE"])
def test_istio_config_peer_authentication(chart: Chart, mode: str) -> None:
    istio = Istio(chart, "istio", mtls_mode=mode)
    assert istio.config.name == "istio-config" and istio in istio.config.dependencies
    pa = of(synth(istio), "PeerAuthentication")
    assert len(pa) == 1
    assert pa[0]["apiVersion"] == "security.istio.io/v1"
    assert pa[0]["metadata"] == {"name": "default", "namespace": "istio-system"}
    assert pa[0]["spec"] == {"mtls": {"mode": mode}}


def test_istio_service_monitor(chart: Chart) -> None:
    (sm,) = Istio(chart, "istio").service_monitors()
    assert sm["metadata"]["namespace"] == "istio-system"
    assert sm["spec"]["selector"]["matchLabels"] == {"app": "istiod", "istio": "pilot"}
    assert sm["spec"]["endpoints"][0]["port"] == "http-monitoring"


@pytest.mark.parametrize(
    ("gateway_values", "name", "pods"),
    [
        ({}, "istio-ingressgateway", {"app": "istio-ingressgateway", "istio": "ingressgateway"}),
        ({"name": "istio-edge"}, "istio-edge", {"app": "istio-edge", "istio": "edge"}),
        ({"labels": {"app": "gw", "istio": "in"}}, "istio-ingressgateway", {"app": "gw", "istio": "in"}),
    ],
)
def test_istio_gateway_pod_monitor(
    chart: Chart, gateway_values: dict[str, Any], name: str, pods: dict[str, str]
) -> None:
    istio = Istio(chart, "istio", gateway=True, gateway_namespace="edge", gateway_values=gateway_values)
    istiod, gateway = istio.service_monitors()
    assert istiod["kind"] == "ServiceMonitor"
    assert gateway["kind"] == "PodMonitor"
    assert gateway["metadata"]["namespace"] == "edge" and gateway["metadata"]["name"] == name
    # The gateway chart's selector labels (and its injection label): exactly the gateway's pods.
    assert gateway["spec"]["selector"]["matchLabels"] == {**pods, "sidecar.istio.io/inject": "true"}
    (endpoint,) = gateway["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http-envoy-prom", "/stats/prometheus")
    # Prometheus may reach the Envoy stats port in the gateway namespace.
    policies = [m for m in synth(istio) if m["kind"] == "NetworkPolicy" and m["metadata"]["namespace"] == "edge"]
    admitted = {
        port["port"]
        for policy in policies
        for rule in policy["spec"].get("ingress", [])
        if any(
            (peer.get("podSelector") or {}).get("matchLabels") == {"app.kubernetes.io/name": "prometheus"}
            for peer in rule.get("from", [])
        )
        for port in rule.get("ports", [])
    }
    assert 15090 in admitted


def test_istio_health_checks_follow_gateway(chart: Chart) -> None:
    istio = Istio(chart, "istio", gateway=True, wait=False, gateway_values={"name": "edge-gw"})
    names = {(c.name, c.namespace) for c in istio.health_checks}
    assert names == {("istiod", "istio-system"), ("edge-gw", "istio-ingress")}


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"mtls_mode": "DISABLE"}, "mtls_mode"),
        ({"replicas": 0}, "replicas"),
        ({"replicas": 4, "max_replicas": 3}, "max_replicas"),
        ({"resources": {"limits": {"memory": "lots"}}}, "resources.limits.memory"),
        ({"gateway": "yes"}, "gateway"),
        ({"gateway": True, "gateway_values": 5}, "gateway_values"),
        ({"base_values": "a: 1"}, "base_values"),
    ],
)
def test_istio_bad_knobs(chart: Chart, knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Istio(chart, "istio", **knobs)
    assert info.value.field == field
    assert field in str(info.value) and repr(info.value.value) in str(info.value)


# --------------------------------------------------------------------------- cert-manager


def test_cert_manager_production_defaults(chart: Chart) -> None:
    cm = CertManager(chart, "cm")
    v = release(cm, "cert-manager")
    assert v["crds"] == {"enabled": True, "keep": True}
    assert v["prometheus"]["servicemonitor"]["enabled"] is False  # CRD comes later: service_monitors()
    for block in (v, v["webhook"], v["cainjector"]):
        assert block["replicaCount"] == 2
        assert block["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    for block in (v, v["webhook"], v["cainjector"], v["startupapicheck"]):
        assert block["resources"]["requests"] and block["resources"]["limits"]
        assert block["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        assert block["containerSecurityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert cm.pod_security["cert-manager"].level == "restricted"


def test_cert_manager_knobs_and_user_values_win(chart: Chart) -> None:
    cm = CertManager(
        chart,
        "cm",
        replicas=3,
        resources={"webhook": {"limits": {"memory": "1Gi"}}},
        values={"cainjector": {"replicaCount": 1}},
    )
    v = release(cm, "cert-manager")
    assert v["replicaCount"] == 3 and v["webhook"]["replicaCount"] == 3
    assert v["cainjector"]["replicaCount"] == 1
    assert v["webhook"]["resources"]["limits"]["memory"] == "1Gi"
    assert v["webhook"]["resources"]["requests"]["cpu"] == "10m"
    single = release(CertManager(Chart(App(), "other"), "one", replicas=1, namespace="cm1"), "cert-manager")
    assert single["podDisruptionBudget"]["enabled"] is False  # a PDB would block every drain


def test_cert_manager_companion_ca_chain(chart: Chart) -> None:
    cm = CertManager(chart, "cm")
    assert cm.config.name == "cert-manager-config" and cm in cm.config.dependencies
    assert cm.ca_issuer_name == "platform-ca"
    manifests = synth(cm)
    issuers = {m["metadata"]["name"]: m for m in of(manifests, "ClusterIssuer")}
    assert set(issuers) == {"selfsigned-bootstrap", "platform-ca"}  # no ACME without an email
    assert issuers["selfsigned-bootstrap"]["spec"] == {"selfSigned": {}}
    assert issuers["platform-ca"]["spec"] == {"ca": {"secretName": "platform-root-ca"}}
    (cert,) = of(manifests, "Certificate", "platform-root-ca")
    assert cert["metadata"]["namespace"] == "cert-manager"
    spec = cert["spec"]
    assert spec["isCA"] is True and spec["secretName"] == "platform-root-ca" and spec["duration"] == "87600h"
    assert spec["privateKey"]["algorithm"] == "ECDSA" and spec["privateKey"]["size"] == 256
    assert spec["issuerRef"]["name"] == "selfsigned-bootstrap" and spec["issuerRef"]["kind"] == "ClusterIssuer"
    # Without ACME there is no egress beyond the API server.
    names = {m["metadata"]["name"] for m in of(manifests, "NetworkPolicy")}
    assert "allow-acme" not in names and "allow-acme-dns" not in names


def test_cert_manager_acme(chart: Chart) -> None:
    cm = CertManager(chart, "cm", acme_email="sre@example.com", acme_ingress_class="edge")
    manifests = synth(cm)
    (le,) = of(manifests, "ClusterIssuer", "letsencrypt")
    acme = le["spec"]["acme"]
    assert acme["email"] == "sre@example.com" and acme["server"] == LETSENCRYPT_PRODUCTION
    assert acme["solvers"] == [{"http01": {"ingress": {"class": "edge"}}}]
    acme_np = policy(manifests, "cert-manager", "acme")
    assert (443, "TCP") in rule_ports(acme_np)
    assert acme_np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "controller"
    assert rule_ports(policy(manifests, "cert-manager", "acme-dns")) == {(53, "UDP"), (53, "TCP")}
    staging = "https://acme-staging-v02.api.letsencrypt.org/directory"
    other = CertManager(Chart(App(), "other"), "cm2", namespace="cm2", acme_email="a@b.io", acme_server=staging)
    assert other.acme_server == staging


def test_cert_manager_network_needs(chart: Chart) -> None:
    manifests = synth(CertManager(chart, "cm"))
    webhook = policy(manifests, "cert-manager", "webhook")
    assert rule_ports(webhook) == {(10250, "TCP")}
    assert webhook["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "webhook"
    assert rule_ports(policy(manifests, "cert-manager", "metrics")) == {(9402, "TCP")}
    assert rule_ports(policy(manifests, "cert-manager", "api-server")) == {(443, "TCP"), (6443, "TCP")}


def test_cert_manager_service_monitor_replicates_the_chart(chart: Chart) -> None:
    (sm,) = CertManager(chart, "cm", release_name="zz", namespace="certs").service_monitors()
    assert sm["metadata"] == {
        "name": "zz-cert-manager",
        "namespace": "certs",
        "labels": {"app.kubernetes.io/name": "cert-manager"},
    }
    exprs = {e["key"]: e["values"] for e in sm["spec"]["selector"]["matchExpressions"]}
    assert exprs == {
        "app.kubernetes.io/name": ["cainjector", "cert-manager", "webhook"],
        "app.kubernetes.io/instance": ["zz"],
        "app.kubernetes.io/component": ["cainjector", "controller", "webhook"],
    }
    assert sm["spec"]["endpoints"][0]["targetPort"] == "http-metrics"


def test_cert_manager_health_checks_follow_values(chart: Chart) -> None:
    cm = CertManager(chart, "cm", wait=False, values={"cainjector": {"enabled": False}})
    assert {c.name for c in cm.health_checks} == {"cert-manager", "cert-manager-webhook"}


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"replicas": "2"}, "replicas"),
        ({"resources": {"proxy": {}}}, "resources"),
        ({"resources": {"webhook": {"limits": {"cpu": "fast"}}}}, "resources.webhook.limits.cpu"),
        ({"acme_email": "not-an-email"}, "acme_email"),
        ({"acme_email": "a@b.io", "acme_server": "http://acme.example.com/dir"}, "acme_server"),
        ({"acme_server": LETSENCRYPT_PRODUCTION}, "acme_email"),
        ({"acme_ingress_class": "Istio Class"}, "acme_ingress_class"),
        ({"values": 5}, "values"),
    ],
)
def test_cert_manager_bad_knobs(chart: Chart, knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        CertManager(chart, "cm", **knobs)
    assert info.value.field == field
    assert field in str(info.value)


# --------------------------------------------------------------------------- kyverno


def test_kyverno_production_defaults(chart: Chart) -> None:
    ky = Kyverno(chart, "ky")
    v = release(ky, "kyverno")
    assert v["admissionController"]["replicas"] == 3
    for key in ("backgroundController", "cleanupController", "reportsController"):
        assert v[key]["replicas"] == 2
        assert v[key]["resources"]["requests"] and v[key]["resources"]["limits"]
    for key in ("admissionController", "backgroundController", "cleanupController", "reportsController"):
        assert v[key]["podDisruptionBudget"]["enabled"] is True
        assert v[key]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert v[key]["serviceMonitor"]["enabled"] is False
    assert v["admissionController"]["container"]["resources"]["limits"]["memory"]
    assert v["admissionController"]["initContainer"]["resources"]["limits"]["memory"]
    # The migration Job's container resources key is podResources (resources is the CRD list).
    assert "resources" not in v["crds"]["migration"] and v["crds"]["migration"]["podResources"]
    assert ky.pod_security["kyverno"].level == "restricted"


def test_kyverno_knobs_and_user_values_win(chart: Chart) -> None:
    ky = Kyverno(
        chart, "ky", admission_replicas=5, controller_replicas=1, values={"reportsController": {"replicas": 4}}
    )
    v = release(ky, "kyverno")
    assert v["admissionController"]["replicas"] == 5
    assert v["backgroundController"]["replicas"] == 1
    assert v["backgroundController"]["podDisruptionBudget"]["enabled"] is False
    assert v["reportsController"]["replicas"] == 4


def test_kyverno_network_needs(chart: Chart) -> None:
    manifests = synth(Kyverno(chart, "ky"))
    for name, component in (("admission-webhook", "admission-controller"), ("cleanup-webhook", "cleanup-controller")):
        np = policy(manifests, "kyverno", name)
        assert rule_ports(np) == {(9443, "TCP")}
        assert np["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
    assert rule_ports(policy(manifests, "kyverno", "metrics")) == {(8000, "TCP")}
    assert rule_ports(policy(manifests, "kyverno", "api-server")) == {(443, "TCP"), (6443, "TCP")}
    assert not of(manifests, "NetworkPolicy", "allow-registries")
    with_registry = synth(Kyverno(Chart(App(), "r"), "ky", registry_egress=True))
    assert rule_ports(policy(with_registry, "kyverno", "registries")) == {(443, "TCP")}


def _policies(manifests: list[Obj]) -> dict[str, Obj]:
    return {m["metadata"]["name"]: m for m in of(manifests, "ValidatingPolicy")}


def _excluded(body: Obj) -> set[str]:
    selector = body["spec"]["matchConstraints"].get("namespaceSelector", {})
    (expr,) = selector.get("matchExpressions") or [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": []}
    ]
    assert (expr["key"], expr["operator"]) == ("kubernetes.io/metadata.name", "NotIn")
    return set(expr["values"])


def test_kyverno_policies_defaults() -> None:
    # In a platform tree: a plain chart holds back the companion's custom resources.
    ky = Kyverno(PlatformChart(App(), "t", path="t"), "ky")
    assert ky.policies.name == "kyverno-policies" and ky in ky.policies.dependencies
    manifests = synth(ky)
    assert not of(manifests, "ClusterPolicy") and not of(manifests, "Policy")
    found = _policies(manifests)
    assert set(found) == set(POLICIES) - {"require-run-as-non-root"}
    for body in found.values():
        assert body["apiVersion"] == "policies.kyverno.io/v1"
        spec = body["spec"]
        assert spec["validationActions"] == ["Deny"] and spec["failurePolicy"] == "Fail"
        assert spec["evaluation"]["background"]["enabled"] is True
        (rule,) = spec["matchConstraints"]["resourceRules"]
        assert rule == {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["pods"],
        }
        assert spec["validations"] and all(v["expression"] for v in spec["validations"])
    # Autogen (Kyverno's default: every pod controller) except for the latest-tag check.
    assert {n for n, b in found.items() if "autogen" in b["spec"]} == {"disallow-latest-tag"}
    assert found["disallow-latest-tag"]["spec"]["autogen"]["podControllers"]["controllers"] == []

    def controls(name: str) -> set[str]:
        text = [v.get("message") or v["messageExpression"] for v in found[name]["spec"]["validations"]]
        return {t.split("(", 1)[1].split(")", 1)[0] for t in text if "Pod Security" in t}

    baseline = {
        "HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities", "HostPath Volumes", "Host Ports",
        "AppArmor", "SELinux", "/proc Mount Type", "Seccomp", "Sysctls",
    }  # fmt: skip
    restricted = {"Volume Types", "Privilege Escalation", "Running as Non-root", "Running as Non-root user"}
    assert controls("pod-security-baseline") == baseline
    assert controls("pod-security-restricted") == baseline | restricted
    privileged = {"kube-system", "monitoring", "neuvector", "velero"}
    assert _excluded(found["pod-security-baseline"]) == privileged
    # Restricted platform namespaces stay covered by the restricted policy.
    assert _excluded(found["pod-security-restricted"]) == privileged
    assert not {"istio-system", "logging", "cert-manager"} & _excluded(found["pod-security-restricted"])
    assert _excluded(found["disallow-latest-tag"]) == {"kube-system"}
    assert _excluded(found["require-requests-limits"]) == {"kube-system"}


def test_kyverno_policy_actions_exclusions_and_options() -> None:
    ky = Kyverno(
        PlatformChart(App(), "t", path="t"),
        "ky",
        policy_action="Audit",
        policy_actions={"disallow-latest-tag": "Enforce"},
        excluded_namespaces={"require-requests-limits": []},
        require_run_as_non_root=True,
        mesh_exemptions=False,
    )
    found = _policies(synth(ky))
    actions = {n: b["spec"]["validationActions"] for n, b in found.items()}
    assert actions == {**{p: ["Audit"] for p in POLICIES}, "disallow-latest-tag": ["Deny"]}
    assert "namespaceSelector" not in found["require-requests-limits"]["spec"]["matchConstraints"]
    variables = {v["name"]: v["expression"] for v in found["pod-security-baseline"]["spec"]["variables"]}
    assert variables["meshInits"] == "[]" and "proxyv2" not in variables["containers"]
    assert "runAsNonRoot" in found["require-run-as-non-root"]["spec"]["validations"][0]["expression"]


def test_kyverno_service_monitors(chart: Chart) -> None:
    monitors = Kyverno(chart, "ky").service_monitors()
    components = {m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] for m in monitors}
    assert components == {"admission-controller", "background-controller", "cleanup-controller", "reports-controller"}
    for m in monitors:
        assert m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "kyverno"
        assert m["spec"]["selector"]["matchLabels"]["app.kubernetes.io/part-of"] == "kyverno"
        assert m["spec"]["endpoints"][0]["port"] == "metrics-port"


def test_kyverno_health_checks_follow_values(chart: Chart) -> None:
    ky = Kyverno(chart, "ky", wait=False, values={"nameOverride": "pol", "cleanupController": {"enabled": False}})
    assert {c.name for c in ky.health_checks} == {
        "pol-admission-controller",
        "pol-background-controller",
        "pol-reports-controller",
    }


@pytest.mark.parametrize(
    ("knobs", "field"),
    [
        ({"admission_replicas": 0}, "admission_replicas"),
        ({"controller_replicas": True}, "controller_replicas"),
        ({"policy_action": "enforce"}, "policy_action"),
        ({"policy_actions": {"no-such-policy": "Audit"}}, "policy_actions key"),
        ({"policy_actions": {"disallow-latest-tag": "Warn"}}, "policy_actions.disallow-latest-tag"),
        ({"excluded_namespaces": {"disallow-latest-tag": "kube-system"}}, "excluded_namespaces.disallow-latest-tag"),
        ({"excluded_namespaces": {"disallow-latest-tag": ["Kube_System"]}}, "excluded_namespaces.disallow-latest-tag"),
        ({"resources": {"admission": {"requests": {"memory": -1}}}}, "resources.admission.requests.memory"),
        ({"registry_egress": "no"}, "registry_egress"),
    ],
)
def test_kyverno_bad_knobs(chart: Chart, knobs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Kyverno(chart, "ky", **knobs)
    assert info.value.field == field
    assert field in str(info.value)


# --------------------------------------------------------------------------- CRD validity


def test_every_emitted_cr_validates_against_its_crd(tmp_path: Path) -> None:
    from sre_constructs.kernel.tree_check import check_tree

    app = App()
    tree = PlatformChart(app, "t", path="t")
    istio = Istio(tree, "istio", gateway=True, mtls_mode="PERMISSIVE")
    cm = CertManager(tree, "cert-manager", acme_email="sre@example.com")
    ky = Kyverno(tree, "kyverno", require_run_as_non_root=True)
    cm.depends_on(istio)
    ky.depends_on(cm)
    # Stand-in for the monitoring companion that ships these ServiceMonitors.
    monitors = PlatformComponent(tree, "monitors", name="monitors")
    monitors.depends_on(ky)
    for body in istio.service_monitors() + cm.service_monitors() + ky.service_monitors():
        monitors.add_manifest(body)
    write_tree(app, tmp_path)
    assert check_tree(tmp_path / "t", kustomize=False) == []
    kinds = {p.parent.name + "/" + p.stem for p in (tmp_path / "t").rglob("*.yaml")}
    assert {
        "istio-config/peerauthentication",
        "cert-manager-config/certificate",
        "cert-manager-config/clusterissuer",
        "kyverno-policies/validatingpolicy",
        "monitors/servicemonitor",
    } <= kinds
