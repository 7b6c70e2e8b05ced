"""OpenBao and External Secrets: knobs, self-init, the store that uses it, security and network needs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cdk8s
import pytest
import yaml
from cdk8s import App, Chart

from sre_constructs import CorePlatform, write_tree
from sre_constructs.kernel.errors import ValidationError
from sre_constructs.kernel.tree_check import check_tree
from sre_constructs.services._openbao_operations import seal_key_container
from sre_constructs.services.external_secrets import ExternalSecrets
from sre_constructs.services.openbao import HclBlock, OpenBao, render_hcl

Obj = dict[str, Any]


def synth(chart: Chart) -> list[Obj]:
    return cdk8s.Testing.synth(chart)


def of_kind(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


def policy(docs: list[Obj], name: str) -> Obj:
    return next(d for d in of_kind(docs, "NetworkPolicy") if d["metadata"]["name"] == f"allow-{name}")


def policy_ports(doc: Obj) -> set[int]:
    rule = (doc["spec"].get("ingress") or doc["spec"].get("egress"))[0]
    return {p["port"] for p in rule.get("ports", [])}


def init_requests(hcl: str) -> dict[str, str]:
    """``path`` of every request in an init file, by request name (enough structure for these tests)."""
    return dict(re.findall(r'request "([^"]+)" \{\n\s+operation = "update"\n\s+path = "([^"]+)"', hcl))


@pytest.fixture
def chart() -> Chart:
    return Chart(App(), "c")


# --------------------------------------------------------------------------- HCL renderer


def test_hcl_renderer_escapes_strings() -> None:
    text = render_hcl(
        [
            ("a", 'quote " back \\ new\nline\ttab'),
            HclBlock("b", ('lab"el',), (("n", 3), ("f", True), ("l", ["x", "y"]), ("o", {"k": "v", "not ident": 1}))),
            HclBlock("empty"),
        ]
    )
    assert 'a = "quote \\" back \\\\ new\\nline\\ttab"' in text
    assert 'b "lab\\"el" {' in text
    assert 'l = ["x", "y"]' in text and '"not ident" = 1' in text and "f = true" in text
    assert "empty {}" in text
    assert "\n" not in text.split("a = ")[1].split("\n")[0][:-1]  # the value stays on one line


def test_hcl_renderer_refuses_interpolation_and_bad_names() -> None:
    with pytest.raises(ValueError, match="interpolation"):
        render_hcl([("a", '${file("/etc/passwd")}')])
    with pytest.raises(ValueError, match="not an HCL identifier"):
        render_hcl([("bad name", "x")])


# --------------------------------------------------------------------------- OpenBao


def test_openbao_defaults_ha_raft_tls(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao")
    values = bao.releases[0].values
    server = values["server"]
    assert values["global"]["tlsDisable"] is False
    assert values["injector"]["enabled"] is False
    assert server["ha"]["replicas"] == 3 and server["ha"]["raft"]["enabled"] is True
    assert server["ha"]["disruptionBudget"] == {"enabled": True, "maxUnavailable": 1}
    assert "podManagementPolicy" not in server  # the chart's OrderedReady stays
    assert server["statefulSet"]["securityContext"]["container"]["capabilities"] == {"drop": ["ALL"]}
    assert server["statefulSet"]["securityContext"]["container"]["allowPrivilegeEscalation"] is False
    assert server["resources"]["requests"] and server["resources"]["limits"]
    # Every pod is scraped (sealed and standby ones too): a PodMonitor, not the chart's leader-only ServiceMonitor.
    assert values["serverTelemetry"]["serviceMonitor"]["enabled"] is False
    (monitor,) = bao.rule_sets[0].monitors  # emitted where a Prometheus runs (alerts.emit_rules)
    endpoint = monitor["spec"]["podMetricsEndpoints"][0]
    assert (endpoint["portNumber"], endpoint["scheme"], endpoint["path"]) == (8200, "https", "/v1/sys/metrics")
    assert endpoint["params"] == {"format": ["prometheus"]}
    assert endpoint["tlsConfig"]["ca"]["secret"] == {"name": "openbao-tls", "key": "ca.crt"}
    assert monitor["spec"]["selector"]["matchLabels"]["component"] == "server"
    config = server["ha"]["raft"]["config"]
    assert config == bao.config_hcl
    assert 'tls_cert_file = "/openbao/tls/tls.crt"' in config
    assert "unauthenticated_metrics_access = true" in config
    assert config.count("retry_join {") == 3
    for i in range(3):
        assert f'leader_api_addr = "https://openbao-{i}.openbao-internal:8200"' in config
    assert 'leader_ca_cert_file = "/openbao/tls/ca.crt"' in config
    assert 'service_registration "kubernetes" {}' in config
    assert 'seal "static" {' in config and 'current_key = "file:///openbao/seal/key"' in config
    assert "initialize" not in config  # only pod 0 gets the init file
    mounts = {m["name"]: m["mountPath"] for m in server["volumeMounts"]}
    assert mounts == {"tls": "/openbao/tls", "seal": "/openbao/seal", "init": "/openbao/init"}
    secrets = {v["secret"]["secretName"] for v in server["volumes"] if "secret" in v}
    assert secrets == {"openbao-tls", "openbao-static-seal"}
    # The server reads the key from memory, where the init container put it.
    (seal,) = [v for v in server["volumes"] if v["name"] == "seal"]
    assert seal["emptyDir"]["medium"] == "Memory"
    assert [c["name"] for c in server["extraInitContainers"]] == ["seal-key"]
    # The init file goes to pod 0 only, and only while no peer is unsealed.
    assert '"$BAO_K8S_POD_NAME" = "openbao-0"' in server["extraArgs"]
    assert "for p in 1 2;" in server["extraArgs"]
    assert "-config=/openbao/init/init.hcl" in server["extraArgs"]
    assert bao.service_url == "https://openbao.openbao.svc:8200"
    assert (bao.kv_mount, bao.kubernetes_auth_mount, bao.eso_role, bao.ca_secret, bao.namespace) == (
        "secret",
        "kubernetes",
        "external-secrets",
        "openbao-tls",
        "openbao",
    )


def test_openbao_certificate(chart: Chart) -> None:
    OpenBao(chart, "openbao", namespace="vault", issuer_name="corp-ca")
    (cert,) = [c for c in of_kind(synth(chart), "Certificate") if c["metadata"]["name"] == "openbao-tls"]
    spec = cert["spec"]
    assert cert["apiVersion"] == "cert-manager.io/v1"
    assert spec["secretName"] == "openbao-tls"
    assert spec["issuerRef"] == {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "corp-ca"}
    for name in (
        "openbao",
        "openbao.vault",
        "openbao.vault.svc",
        "openbao-active.vault.svc",
        "*.openbao-internal",
        "*.openbao-internal.vault.svc",
    ):
        assert name in spec["dnsNames"]
    assert spec["ipAddresses"] == ["127.0.0.1"]


def test_openbao_self_init_follows_knobs(chart: Chart) -> None:
    bao = OpenBao(
        chart,
        "openbao",
        kv_mount="kv",
        eso_service_account="eso",
        eso_namespace="secrets",
        admin_service_account="bao-admin",
    )
    init = bao.init_hcl
    requests = init_requests(init)
    assert requests == {
        "enable-kubernetes-auth": "sys/auth/kubernetes",
        "configure-kubernetes-auth": "auth/kubernetes/config",
        "mount-kv-v2": "sys/mounts/kv",
        "policy-external-secrets": "sys/policies/acl/external-secrets",
        "policy-platform-admin": "sys/policies/acl/platform-admin",
        "role-external-secrets": "auth/kubernetes/role/external-secrets",
        "role-platform-admin": "auth/kubernetes/role/platform-admin",
    }
    assert 'bound_service_account_names = ["eso"]' in init
    assert 'bound_service_account_namespaces = ["secrets"]' in init
    assert 'bound_service_account_names = ["bao-admin"]' in init
    assert 'bound_service_account_namespaces = ["openbao"]' in init
    # The policy text is itself escaped HCL: the paths follow the KV mount.
    assert 'path \\"kv/data/*\\" {\\n  capabilities = [\\"read\\"]\\n}' in init
    assert 'path \\"kv/metadata/*\\" {\\n  capabilities = [\\"read\\", \\"list\\"]\\n}' in init
    # It ships as the init ConfigMap in the release; the admin SA is a plain object.
    (configmap,) = bao.releases[0].values["extraObjects"]
    assert configmap["data"]["init.hcl"] == init
    docs = synth(chart)
    assert [d["metadata"]["name"] for d in of_kind(docs, "ServiceAccount")] == ["bao-admin"]


def test_openbao_replicas_knob(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao", replicas=5)
    server = bao.releases[0].values["server"]
    assert server["ha"]["replicas"] == 5
    assert server["ha"]["disruptionBudget"]["maxUnavailable"] == 2
    assert bao.config_hcl.count("retry_join {") == 5
    assert "for p in 1 2 3 4;" in server["extraArgs"]


def test_openbao_single_replica_has_no_pdb_and_no_peer_probe(chart: Chart) -> None:
    server = OpenBao(chart, "openbao", replicas=1).releases[0].values["server"]
    assert server["ha"]["disruptionBudget"]["enabled"] is False
    assert "for p in" not in server["extraArgs"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", 2),
        ("replicas", 0),
        ("replicas", "3"),
        ("replicas", True),
        ("issuer_name", "Bad_Issuer"),
        ("kv_mount", "a/b"),
        ("eso_namespace", ""),
        ("seal_key_source", "vault"),
        ("seal_key_id", "has space"),
        ("storage_size", "10"),
        ("seal_config", {"awskms": {"region": "eu"}, "transit": {}}),
        ("seal_config", {"transit": {"address": "https://HOSTNAME:8200"}}),
        ("seal_config", {"transit": {"token": "${env}"}}),
        ("values", ["not", "a", "mapping"]),
    ],
)
def test_openbao_bad_knobs(chart: Chart, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        OpenBao(chart, "openbao", **{field: value})
    assert field in str(info.value)


def test_openbao_user_values_win(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao", values={"server": {"ha": {"replicas": 7}, "logLevel": "debug"}})
    server = bao.releases[0].values["server"]
    assert server["ha"]["replicas"] == 7 and server["logLevel"] == "debug"
    assert server["ha"]["raft"]["enabled"] is True  # the rest of the defaults stay


def test_openbao_seal_key_is_generated_not_shipped(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao")
    docs = synth(chart)
    assert not of_kind(docs, "Secret") and not of_kind(docs, "ClusterPolicy") and not of_kind(docs, "RoleBinding")
    (issuer,) = of_kind(docs, "Issuer")
    assert issuer["spec"] == {"selfSigned": {}}
    (cert,) = [c for c in of_kind(docs, "Certificate") if c["metadata"]["name"] == "openbao-static-seal"]
    spec = cert["spec"]
    assert spec["secretName"] == "openbao-static-seal"
    assert spec["privateKey"] == {"algorithm": "Ed25519", "rotationPolicy": "Never"}
    assert spec["issuerRef"]["name"] == issuer["metadata"]["name"] and spec["issuerRef"]["kind"] == "Issuer"
    assert spec["secretTemplate"]["labels"]["velero.io/exclude-from-backup"] == "true"
    assert bao.seal_key_certificate is not None
    assert "random(" not in json.dumps(docs)


def test_openbao_seal_key_script_takes_the_ed25519_seed(tmp_path: Path) -> None:
    """Run the init container's script on a real Ed25519 key: it writes the key's 32-byte seed as hex."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make an Ed25519 key")
    source, target = tmp_path / "source", tmp_path / "seal"
    source.mkdir()
    target.mkdir()
    subprocess.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", str(source / "tls.key")], check=True)
    text = subprocess.run(
        [openssl, "pkey", "-in", str(source / "tls.key"), "-text", "-noout"], check=True, capture_output=True, text=True
    ).stdout
    seed = "".join(text.split("priv:")[1].split("pub:")[0].split()).replace(":", "")
    container = seal_key_container()
    script = container["command"][2].replace("/openbao/seal-source", str(source)).replace("/openbao/seal", str(target))
    subprocess.run(["/bin/sh", "-ec", script], check=True)
    key = (target / "key").read_text()
    assert key == seed and len(key) == 64 and "\n" not in key
    assert container["securityContext"]["runAsNonRoot"] is True and container["resources"]["limits"]


def test_openbao_external_seal_key_and_kms_seal(chart: Chart) -> None:
    OpenBao(chart, "external", seal_key_source="external", namespace="bao1")
    kms = OpenBao(
        chart,
        "kms",
        namespace="bao2",
        seal_config={
            "transit": {"address": "https://transit.example:8200", "key_name": 'k"1', "mount_path": "transit/"}
        },
    )
    docs = synth(chart)
    assert not of_kind(docs, "ClusterPolicy")
    assert 'seal "transit" {' in kms.config_hcl and 'key_name = "k\\"1"' in kms.config_hcl
    assert 'seal "static"' not in kms.config_hcl
    assert kms.seal_key_secret is None
    assert "seal" not in {v["name"] for v in kms.releases[0].values["server"]["volumes"]}


def test_openbao_network_and_pod_security(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao", eso_namespace="eso", monitoring_namespace="mon")
    assert bao.pod_security["openbao"].level == "restricted"
    docs = synth(chart)
    eso = policy(docs, "external-secrets")
    assert policy_ports(eso) == {8200}
    assert eso["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "eso"
    }
    assert policy_ports(policy(docs, "prometheus")) == {8200}
    assert policy_ports(policy(docs, "api-server")) == {443, 6443}
    assert policy(docs, "api-server")["spec"]["policyTypes"] == ["Egress"]


def test_openbao_health_check_follows_release_name(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao", release_name="bao", wait=False)
    assert [(c.kind, c.name) for c in bao.health_checks] == [("StatefulSet", "bao-openbao")]
    assert "https://bao-openbao-1.bao-openbao-internal:8200" in bao.config_hcl


# --------------------------------------------------------------------------- External Secrets


def test_eso_defaults(chart: Chart) -> None:
    eso = ExternalSecrets(chart, "external-secrets")
    values = eso.releases[0].values
    assert values["replicaCount"] == 2 and values["leaderElect"] is True
    assert values["webhook"]["replicaCount"] == 2 and values["certController"]["replicaCount"] == 1
    assert values["podDisruptionBudget"]["enabled"] is True
    assert values["webhook"]["podDisruptionBudget"]["enabled"] is True
    assert values["certController"]["podDisruptionBudget"]["enabled"] is False  # 1 replica: no drain blocker
    for part in (values, values["webhook"], values["certController"]):
        assert part["resources"]["requests"] and part["resources"]["limits"]
        assert part["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["installCRDs"] is True and values["serviceMonitor"]["enabled"] is True
    assert values["bitwarden-sdk-server"]["enabled"] is False
    assert eso.pod_security["external-secrets"].level == "restricted"


def test_eso_knobs_and_user_values(chart: Chart) -> None:
    eso = ExternalSecrets(
        chart, "external-secrets", replicas=3, webhook_replicas=4, values={"webhook": {"replicaCount": 5}}
    )
    values = eso.releases[0].values
    assert values["replicaCount"] == 3 and values["webhook"]["replicaCount"] == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replicas", 0),
        ("webhook_replicas", "2"),
        ("openbao_url", "http://openbao:8200"),
        ("openbao_namespace", "Bad"),
        ("kv_mount", ""),
        ("store_name", "UPPER"),
        ("values", 3),
    ],
)
def test_eso_bad_knobs(chart: Chart, field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        ExternalSecrets(chart, "external-secrets", **{field: value})
    assert field in str(info.value)


def test_eso_network(chart: Chart) -> None:
    ExternalSecrets(chart, "external-secrets", openbao_namespace="vault")
    docs = synth(chart)
    assert policy_ports(policy(docs, "webhook")) == {10250}
    assert policy(docs, "webhook")["spec"]["ingress"][0]["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}]
    assert policy_ports(policy(docs, "prometheus")) == {8080}
    assert policy_ports(policy(docs, "api-server")) == {443, 6443}
    to_bao = policy(docs, "openbao")
    assert policy_ports(to_bao) == {8200}
    assert to_bao["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "vault"
    }


def test_store_points_at_what_openbao_creates(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao", namespace="vault", kv_mount="kv", eso_namespace="eso")
    eso = ExternalSecrets(
        chart,
        "external-secrets",
        namespace="eso",
        openbao_namespace=bao.namespace,
        openbao_url=bao.service_url,
        openbao_ca_secret=bao.ca_secret,
        openbao_role=bao.eso_role,
        kubernetes_auth_mount=bao.kubernetes_auth_mount,
        kv_mount=bao.kv_mount,
    )
    assert eso.config is not None and eso.store is not None
    assert eso in eso.config.dependencies and eso.config.name == "external-secrets-config"
    store = eso.store.body
    assert store["kind"] == "ClusterSecretStore" and store["apiVersion"] == "external-secrets.io/v1"
    vault = store["spec"]["provider"]["vault"]
    assert vault["server"] == "https://openbao.vault.svc:8200" == bao.service_url
    assert (vault["path"], vault["version"]) == ("kv", "v2")
    assert vault["caProvider"] == {"type": "Secret", "name": "openbao-tls", "key": "ca.crt", "namespace": "vault"}
    auth = vault["auth"]["kubernetes"]
    sa = auth["serviceAccountRef"]
    # OpenBao's init creates exactly this role, bound to exactly this ServiceAccount.
    requests = init_requests(bao.init_hcl)
    assert requests[f"role-{auth['role']}"] == f"auth/{auth['mountPath']}/role/{auth['role']}"
    assert requests["mount-kv-v2"] == f"sys/mounts/{vault['path']}"
    role = bao.init_hcl.split(f'request "role-{auth["role"]}"')[1].split("request ")[0]
    assert f'bound_service_account_names = ["{sa["name"]}"]' in role
    assert f'bound_service_account_namespaces = ["{sa["namespace"]}"]' in role


def test_eso_defaults_match_openbao_defaults(chart: Chart) -> None:
    bao = OpenBao(chart, "openbao")
    eso = ExternalSecrets(chart, "external-secrets")
    vault = eso.store.body["spec"]["provider"]["vault"]
    assert vault["server"] == bao.service_url and vault["path"] == bao.kv_mount
    assert vault["auth"]["kubernetes"]["role"] == bao.eso_role
    assert vault["auth"]["kubernetes"]["mountPath"] == bao.kubernetes_auth_mount
    assert vault["caProvider"]["name"] == bao.ca_secret and vault["caProvider"]["namespace"] == bao.namespace
    assert eso.service_account == "external-secrets"


def test_eso_without_store(chart: Chart) -> None:
    eso = ExternalSecrets(chart, "external-secrets", store_name=None)
    assert eso.config is None and not of_kind(synth(chart), "ClusterSecretStore")


# --------------------------------------------------------------------------- the written tree


def test_tree_is_valid_and_holds_no_secret_data(tmp_path: Path) -> None:
    app = App()
    CorePlatform(app, "core")
    write_tree(app, tmp_path)
    root = tmp_path / "core"
    mine = (
        "openbao/",
        "external-secrets/",
        "external-secrets-config/",
        "components/openbao",
        "components/external-secrets",
    )
    findings = [f for f in check_tree(root, kustomize=False) if f.file.startswith(mine)]
    assert findings == []
    for path in root.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Secret":
                assert not doc.get("data") and not doc.get("stringData"), path
    kinds = {d["kind"] for p in (root / "openbao").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d}
    assert {"Certificate", "Issuer", "HelmRelease", "ServiceAccount"} <= kinds and "ClusterPolicy" not in kinds
    stores = [
        d
        for p in (root / "external-secrets-config").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and d["kind"] == "ClusterSecretStore"
    ]
    assert len(stores) == 1
