"""The edge: each exposed UI reachable end to end (host -> Gateway -> certificate Secret ->
VirtualService -> the Service port its chart renders), through NetworkPolicies opened exactly
for it, with single sign-on whose secrets never enter the tree; bad knobs refused before anything
is built; and the plan sees a broken link, naming the host."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk8s import App

from sre_constructs import CorePlatform, ValidationError
from sre_constructs.cluster import parse_cluster
from sre_constructs.edge import OWN_LOGIN, UIS
from sre_constructs.edge.access_docs import access_pages
from sre_constructs.kernel.facts import chart_facts
from sre_constructs.kernel.tree import _platform_charts, _render
from sre_constructs.plan import plan_app, plan_files
from sre_constructs.plan.source import Files, Obj

DOMAIN = "prod.example.com"
ISSUER = "https://login.example.com/realms/platform"
SSO: dict[str, Any] = {
    "issuer": ISSUER,
    "client_id": "platform",
    "admin_group": "platform-admins",
    "viewer_group": "platform-viewers",
    "authorize_url": f"{ISSUER}/protocol/openid-connect/auth",
    "token_url": f"{ISSUER}/protocol/openid-connect/token",
    "userinfo_url": f"{ISSUER}/protocol/openid-connect/userinfo",
}
GATEWAY_NS = "istio-ingress"
GATEWAY_PODS = {"istio": "ingressgateway"}


def _files(app: App) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for tree in _platform_charts(app):
        for rel, data in _render(tree).items():
            files[posixpath.normpath(posixpath.join(tree.tree_path, rel))] = data
    return files


@pytest.fixture(scope="module")
def exposed() -> tuple[App, dict[str, bytes], list[dict[str, Any]]]:
    app = App()
    CorePlatform(app, "core", domain=DOMAIN, expose=list(UIS), sso=SSO)
    files = _files(app)
    docs = [d for data in files.values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    return app, files, docs


def _find(docs: list[dict[str, Any]], kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        d for d in docs if d.get("kind") == kind and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]


def _one(docs: list[dict[str, Any]], kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (found,) = [d for d in _find(docs, kind, namespace) if d["metadata"]["name"] == name]
    return found


def _release(docs: list[dict[str, Any]], chart: str) -> dict[str, Any]:
    (found,) = [d for d in _find(docs, "HelmRelease") if d["spec"]["chart"]["spec"]["chart"] == chart]
    return found


def _served(docs: list[dict[str, Any]], namespace: str) -> dict[str, Any]:
    """Service name -> ServedPort of every chart release in ``namespace``, from the chart facts."""
    found = {}
    for hr in _find(docs, "HelmRelease"):
        target = hr["spec"].get("targetNamespace") or hr["metadata"]["namespace"]
        facts = chart_facts(hr["spec"]["chart"]["spec"]["chart"])
        if target == namespace and facts is not None:
            for port in facts.served_ports(hr["spec"]["values"], target, hr["spec"]["releaseName"]):
                found[port.service] = port
    return found


def _selects(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def test_each_ui_chain_from_host_to_the_port_its_chart_renders(exposed: Any) -> None:
    _, _, docs = exposed
    gateway = _one(docs, "Gateway", "edge")
    assert gateway["apiVersion"] == "networking.istio.io/v1"
    ((https,),) = [gateway["spec"]["servers"]]
    assert https["port"]["number"] == 443 and https["tls"]["mode"] == "SIMPLE"
    # Port 80 redirects every host to HTTPS (the redirect itself: test_http01_challenges_get_through).
    ((http,),) = [_one(docs, "Gateway", "edge-http")["spec"]["servers"]]
    assert http["port"]["number"] == 80 and sorted(http["hosts"]) == sorted(https["hosts"])
    # The gateway workload's namespace is where Envoy reads the certificate Secret.
    gw_release = _release(docs, "gateway")
    gw_namespace = gw_release["spec"].get("targetNamespace") or gw_release["metadata"]["namespace"]
    assert gw_namespace == GATEWAY_NS == gateway["metadata"]["namespace"]
    assert gateway["spec"]["selector"] == GATEWAY_PODS
    secret = https["tls"]["credentialName"]
    producers = [c for c in _find(docs, "Certificate") if c["spec"]["secretName"] == secret]
    assert [c["metadata"]["namespace"] for c in producers] == [GATEWAY_NS]
    # Without acme_email the platform CA issues it.
    assert producers[0]["spec"]["issuerRef"]["name"] == "platform-ca"
    for ui in UIS:
        host = f"{ui}.{DOMAIN}"
        assert host in https["hosts"] and host in producers[0]["spec"]["dnsNames"]
        (vs,) = [v for v in _find(docs, "VirtualService") if v["spec"]["hosts"] == [host]]
        assert vs["spec"]["gateways"] == [f"{GATEWAY_NS}/{gateway['metadata']['name']}"]
        ((route,),) = [h["route"] for h in vs["spec"]["http"]]
        service, namespace = route["destination"]["host"].split(".")[:2]
        served = _served(docs, namespace)
        assert service in served, f"{ui}: {service} is no Service the chart renders"
        assert route["destination"]["port"]["number"] == served[service].port
        # HTTPS-only UIs get TLS from the gateway, verified against the platform CA.
        rules = [d for d in _find(docs, "DestinationRule") if d["spec"]["host"] == route["destination"]["host"]]
        if served[service].tls:
            ((setting,),) = [r["spec"]["trafficPolicy"]["portLevelSettings"] for r in rules]
            assert setting["tls"]["mode"] == "SIMPLE" and setting["port"]["number"] == served[service].port
            ca = _one(docs, "Certificate", setting["tls"]["credentialName"], GATEWAY_NS)
            assert ca["spec"]["issuerRef"]["name"] == "platform-ca"
        else:
            assert not rules
    assert {ui for ui in UIS if _served_tls(docs, ui)} == {"openbao", "neuvector"}


def _route_pods(docs: list[dict[str, Any]], ui: str) -> dict[str, str]:
    """The pod labels behind ``<ui>.<domain>``, from the Service port its chart renders."""
    (vs,) = [v for v in _find(docs, "VirtualService") if v["spec"]["hosts"] == [f"{ui}.{DOMAIN}"]]
    service, namespace = vs["spec"]["http"][0]["route"][0]["destination"]["host"].split(".")[:2]
    return dict(_served(docs, namespace)[service].pods)


def _served_tls(docs: list[dict[str, Any]], ui: str) -> bool:
    (vs,) = [v for v in _find(docs, "VirtualService") if v["spec"]["hosts"] == [f"{ui}.{DOMAIN}"]]
    service, namespace = vs["spec"]["http"][0]["route"][0]["destination"]["host"].split(".")[:2]
    return bool(_served(docs, namespace)[service].tls)


def test_network_paths_from_the_gateway_are_exact(exposed: Any) -> None:
    _, _, docs = exposed
    policies = _find(docs, "NetworkPolicy")
    # No blanket egress from the gateway any more: one path per route.
    assert not [p for p in policies if p["metadata"]["name"] == "allow-backends"]
    for ui in UIS:
        (vs,) = [v for v in _find(docs, "VirtualService") if v["spec"]["hosts"] == [f"{ui}.{DOMAIN}"]]
        service, namespace = vs["spec"]["http"][0]["route"][0]["destination"]["host"].split(".")[:2]
        port = _served(docs, namespace)[service]
        inbound = _one(docs, "NetworkPolicy", f"allow-gateway-{ui}", namespace)
        assert inbound["spec"]["podSelector"] == {"matchLabels": dict(port.pods)}
        ((rule,),) = [inbound["spec"]["ingress"]]
        assert rule["from"] == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": GATEWAY_NS}},
                "podSelector": {"matchLabels": GATEWAY_PODS},
            }
        ]
        assert rule["ports"] == [{"port": port.target_port, "protocol": "TCP"}]
        outbound = _one(docs, "NetworkPolicy", f"allow-route-{ui}", GATEWAY_NS)
        ((rule,),) = [outbound["spec"]["egress"]]
        assert rule["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": namespace}
        assert rule["to"][0]["podSelector"] == {"matchLabels": dict(port.pods)}
        assert rule["ports"] == [{"port": port.target_port, "protocol": "TCP"}]
    # Out to the OIDC issuer (outside the cluster, known by name only): 443 from exactly the pods
    # that talk OIDC, the UIs' pods as their routes select them, and oauth2-proxy's.
    proxy_pods = {"app.kubernetes.io/name": "oauth2-proxy", "app.kubernetes.io/instance": "oauth2-proxy"}
    expected = {
        ("monitoring", "allow-grafana-oidc-issuer"): _route_pods(docs, "grafana"),
        ("openbao", "allow-oidc-issuer"): _route_pods(docs, "openbao"),
        ("neuvector", "allow-controller-oidc-issuer"): {"app": "neuvector-controller-pod"},
        ("oauth2-proxy", "allow-oidc-issuer"): proxy_pods,
    }
    to_issuer = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p
        for p in policies
        if any(
            peer.get("ipBlock") and 443 in [x["port"] for x in r.get("ports") or []]
            for r in p["spec"].get("egress") or []
            for peer in r.get("to") or []
        )
        and p["metadata"]["namespace"] in {"monitoring", "openbao", "neuvector", "oauth2-proxy"}
        and "oidc" in p["metadata"]["name"]
    }
    assert set(to_issuer) == set(expected)
    for key, pods in expected.items():
        policy = to_issuer[key]
        assert policy["spec"]["podSelector"] == {"matchLabels": pods} and pods
        assert policy["spec"]["egress"] == [
            {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}
        ]
    # Nothing else lets the gateway namespace in to the UI namespaces.
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            for peer in rule.get("from") or []:
                labels = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
                if labels.get("kubernetes.io/metadata.name") == GATEWAY_NS:
                    assert policy["metadata"]["name"].startswith("allow-gateway"), policy["metadata"]


def test_the_authorizer_guards_exactly_the_uis_without_a_login(exposed: Any) -> None:
    _, _, docs = exposed
    istiod = _release(docs, "istiod")
    (provider,) = istiod["spec"]["values"]["meshConfig"]["extensionProviders"]
    ((policy,),) = [_find(docs, "AuthorizationPolicy")]
    assert policy["spec"]["action"] == "CUSTOM"
    assert policy["spec"]["provider"]["name"] == provider["name"]
    assert policy["spec"]["selector"]["matchLabels"] == GATEWAY_PODS
    hosts = {h.removesuffix(":*") for r in policy["spec"]["rules"] for t in r["to"] for h in t["operation"]["hosts"]}
    # ACME's HTTP-01 challenge for those hosts is not sent to a login.
    assert [t["operation"]["notPaths"] for r in policy["spec"]["rules"] for t in r["to"]] == [
        ["/.well-known/acme-challenge/*"]
    ]
    assert (
        hosts
        == {f"{ui}.{DOMAIN}" for ui in UIS if ui not in OWN_LOGIN}
        == {
            f"prometheus.{DOMAIN}",
            f"alertmanager.{DOMAIN}",
        }
    )
    # After login at the issuer, back to the page asked for (not a bare path on auth.<domain>).
    assert provider["envoyExtAuthzHttp"]["includeAdditionalHeadersInCheck"] == {
        "X-Auth-Request-Redirect": "https://%REQ(:authority)%%REQ(:path)%"
    }
    # The provider's Service is the one oauth2-proxy's chart renders.
    service, namespace = provider["envoyExtAuthzHttp"]["service"].split(".")[:2]
    assert _served(docs, namespace)[service].port == provider["envoyExtAuthzHttp"]["port"]
    proxy = _release(docs, "oauth2-proxy")
    assert proxy["spec"]["driftDetection"]["mode"] == "enabled"
    assert proxy["spec"]["values"]["podDisruptionBudget"]["enabled"] is True
    namespace_obj = _one(docs, "Namespace", "oauth2-proxy")
    assert namespace_obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert _one(docs, "NetworkPolicy", "default-deny", "oauth2-proxy")["spec"]["podSelector"] == {}


def test_grafana_reads_its_client_secret_from_an_external_secret(exposed: Any) -> None:
    _, _, docs = exposed
    grafana = _release(docs, "kube-prometheus-stack")["spec"]["values"]["grafana"]
    oauth = grafana["grafana.ini"]["auth.generic_oauth"]
    assert oauth["enabled"] is True and oauth["client_id"] == "platform"
    assert "client_secret" not in oauth
    assert "contains(groups[*], 'platform-admins')" in oauth["role_attribute_path"]
    ref = grafana["envValueFrom"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]["secretKeyRef"]
    (producer,) = [e for e in _find(docs, "ExternalSecret", "monitoring") if e["spec"]["target"]["name"] == ref["name"]]
    assert ref["key"] in producer["spec"]["target"]["template"]["data"]
    assert producer["spec"]["data"][0]["remoteRef"] == {"key": "sso/oidc", "property": "client_secret"}
    # No local admin, so no admin password anywhere.
    assert grafana["env"]["GF_SECURITY_DISABLE_INITIAL_ADMIN_CREATION"] == "true"


def test_no_secret_value_in_the_tree(exposed: Any) -> None:
    _, files, docs = exposed
    assert not [d for d in docs if d.get("kind") == "Secret"]
    proxy = _release(docs, "oauth2-proxy")["spec"]["values"]
    assert proxy["config"].get("existingSecret") and "clientSecret" not in proxy["config"]
    assert "cookieSecret" not in proxy["config"]
    for path, data in files.items():
        text = data.decode()
        for key in ("client_secret:", "clientSecret:", "cookie_secret =", "adminPassword:"):
            for line in text.splitlines():
                if key in line:
                    # Only templates of values filled in the cluster, never a value.
                    assert "{{" in line, f"{path}: {line}"


def test_openbao_oidc_maps_the_admin_group_and_the_plan_names_each_input(exposed: Any) -> None:
    app, _, docs = exposed
    init = _release(docs, "openbao")["spec"]["values"]["extraObjects"][0]["data"]["init.hcl"]
    assert 'path = "sys/auth/oidc"' in init
    assert "bound_claims = {\n" in init or "bound_claims" in init
    assert '"platform-admins"' in init and 'token_policies = ["platform-admin"]' in init
    plan = plan_app(app)
    assert plan.ok, plan.render("text")
    commands = [step["command"] for step in plan.manual_steps]
    assert any("bao kv put -mount=secret sso/oidc client_secret=<CLIENT_SECRET>" in c for c in commands)
    assert any("bao write auth/oidc/config" in c and "-field=client_secret sso/oidc" in c for c in commands)


def _plan_with(files: dict[str, bytes], path: str, change: Any) -> Any:
    changed = dict(files)
    docs = list(yaml.safe_load_all(changed[path]))
    for doc in docs:
        change(doc)
    changed[path] = yaml.safe_dump_all(docs).encode()
    return plan_files(Files(files=changed), ["core"])


def test_seeded_broken_links_are_blockers_naming_the_host(exposed: Any) -> None:
    _, files, _ = exposed
    vs_file = "core/edge/virtualservice.yaml"

    def wrong_port(doc: dict[str, Any]) -> None:
        if doc["metadata"]["name"] == "grafana":
            doc["spec"]["http"][0]["route"][0]["destination"]["port"]["number"] = 3000

    plan = _plan_with(files, vs_file, wrong_port)
    (blocker,) = [b for b in plan.blockers if f"grafana.{DOMAIN}" in b.need]
    assert "port" in blocker.need and "80" in blocker.provider

    def moved_certificate(doc: dict[str, Any]) -> None:
        if doc["metadata"]["name"] == "edge-tls":
            doc["metadata"]["namespace"] = "cert-manager"

    plan = _plan_with(files, "core/edge/certificate.yaml", moved_certificate)
    (blocker,) = [b for b in plan.blockers if "certificate Secret istio-ingress/edge-tls" in b.need]
    assert f"grafana.{DOMAIN}" in blocker.need and "another namespace" in blocker.provider

    def no_tls(doc: dict[str, Any]) -> None:
        doc["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"]["mode"] = "DISABLE"

    plan = _plan_with(files, "core/edge/destinationrule.yaml", no_tls)
    assert {b.need.split(":")[0] for b in plan.blockers if "HTTPS" in b.need} == {
        f"host openbao.{DOMAIN}",
        f"host neuvector.{DOMAIN}",
    }


def test_seeded_closed_path_and_undeclared_authorizer_are_blockers(exposed: Any) -> None:
    _, files, _ = exposed
    path = next(p for p in files if p.startswith("core/monitoring/") and p.endswith("networkpolicy.yaml"))

    def closed(doc: dict[str, Any]) -> None:
        if doc["metadata"]["name"] == "allow-gateway-prometheus":
            doc["spec"]["ingress"][0]["ports"] = [{"port": 9091, "protocol": "TCP"}]

    plan = _plan_with(files, path, closed)
    assert [b.need for b in plan.blockers if "letting the gateway" in b.need] == [
        f"host prometheus.{DOMAIN}: route to kube-prometheus-stack-prometheus.monitoring:9090: a NetworkPolicy "
        "in monitoring letting the gateway (istio-ingress) in on port 9090"
    ]
    istio = next(p for p in files if p.startswith("core/istio/") and "helmrelease" in p)

    def undeclared(doc: dict[str, Any]) -> None:
        if doc["kind"] == "HelmRelease" and doc["metadata"]["name"] == "istiod":
            doc["spec"]["values"]["meshConfig"]["extensionProviders"] = []

    def closed_authorizer(doc: dict[str, Any]) -> None:
        if doc["metadata"]["name"] == "allow-route-auth":
            doc["spec"]["egress"][0]["ports"] = [{"port": 4181, "protocol": "TCP"}]

    gateway_policies = next(p for p in files if p.startswith("core/istio/") and p.endswith("networkpolicy.yaml"))
    plan = _plan_with(files, gateway_policies, closed_authorizer)
    (blocker,) = [b for b in plan.blockers if "external authorizer" in b.need]
    assert "in istio-ingress letting the gateway (istio-ingress) reach oauth2-proxy.oauth2-proxy on port 4180" in (
        blocker.need
    )
    plan = _plan_with(files, istio, undeclared)
    (blocker,) = [b for b in plan.blockers if "external authorizer" in b.need]
    assert f"prometheus.{DOMAIN}" in blocker.need and "meshConfig.extensionProviders" in blocker.provider


def test_with_rendered_charts_the_service_must_be_in_the_helm_output(exposed: Any) -> None:
    _, files, _ = exposed
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-prometheus-stack-grafana", "namespace": "monitoring"},
        "spec": {"selector": {"app.kubernetes.io/name": "grafana"}, "ports": [{"port": 8080, "targetPort": 3000}]},
    }
    rendered = {("monitoring", "kube-prometheus-stack"): [Obj(service, "rendered")]}
    plan = plan_files(Files(files=files), ["core"], rendered=rendered)
    assert [b for b in plan.blockers if f"grafana.{DOMAIN}" in b.need and "8080" in b.provider]


@pytest.mark.parametrize(
    ("knobs", "field", "fragment"),
    [
        ({"domain": "Not_A_Domain", "expose": ["grafana"]}, "domain", "DNS name"),
        ({"domain": DOMAIN, "expose": ["kibana"]}, "expose", "one of grafana, alertmanager"),
        (
            {"domain": DOMAIN, "expose": ["openbao"], "sso": {**SSO, "issuer": "http://login.example.com"}},
            "sso.issuer",
            "https://",
        ),
        ({"domain": DOMAIN, "expose": ["prometheus"]}, "expose", "prometheus has no login"),
        ({"domain": DOMAIN, "expose": ["alertmanager"]}, "expose", "alertmanager has no login"),
        ({"expose": ["grafana"]}, "domain", "when expose is set"),
        (
            {"domain": DOMAIN, "expose": ["grafana"], "sso": {"issuer": ISSUER, "client_id": "x", "admin_group": "a"}},
            "sso.authorize_url",
            "discovery",
        ),
        ({"domain": DOMAIN, "expose": ["openbao"], "sso": {**SSO, "realm": "x"}}, "sso.realm", "one of issuer"),
    ],
)
def test_bad_edge_knobs_are_refused_before_anything_is_built(knobs: dict[str, Any], field: str, fragment: str) -> None:
    app = App()
    with pytest.raises(ValidationError) as raised:
        CorePlatform(app, "core", **knobs)
    assert raised.value.field == field and fragment in str(raised.value)
    assert not app.node.children  # nothing was created


def test_cluster_files_take_expose_and_sso_with_errors_at_their_line() -> None:
    text = yaml.safe_dump(
        {
            "name": "x",
            "git": {"url": "https://git.example.com/fleet.git"},
            "domain": DOMAIN,
            "expose": ["grafana"],
            "sso": SSO,
        },
        sort_keys=False,
    )
    spec = parse_cluster(text, "x.yaml")
    assert spec.expose == ("grafana",) and spec.sso == SSO
    bad = text.replace("http://", "").replace(ISSUER, "http://login.example.com", 1)
    line = next(i for i, line in enumerate(bad.splitlines(), 1) if line.strip().startswith("issuer:"))
    with pytest.raises(ValidationError) as raised:
        parse_cluster(bad, "x.yaml")
    assert raised.value.where == f"x.yaml:{line}" and raised.value.field == "sso.issuer"


@pytest.mark.parametrize(
    ("change", "field", "line_of"),
    [
        ({"domain": "Not_A_Domain"}, "domain", "domain:"),
        ({"expose": ["grafana", "kibana"]}, "expose", "expose:"),
        ({"expose": ["prometheus"], "sso": None}, "expose", "expose:"),
        ({"sso": {**SSO, "issuer": "http://login.example.com"}}, "sso.issuer", "issuer:"),
    ],
)
def test_each_bad_edge_input_in_a_cluster_file_is_refused_at_its_line(
    change: dict[str, Any], field: str, line_of: str
) -> None:
    data = {
        "name": "x",
        "git": {"url": "https://git.example.com/fleet.git"},
        "domain": DOMAIN,
        "expose": ["grafana", "prometheus"],
        "sso": SSO,
    }
    data.update(change)
    text = yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)
    line = next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(line_of))
    with pytest.raises(ValidationError) as raised:
        parse_cluster(text, "x.yaml")
    assert (raised.value.where, raised.value.field) == (f"x.yaml:{line}", field)


def test_http01_challenges_get_through_the_redirect_and_the_authorizer() -> None:
    """With the ACME issuer, Let's Encrypt fetches /.well-known/acme-challenge/<token> over HTTP on
    port 80 of each host, where cert-manager's solver route joins the host's virtual host: no
    ``httpsRedirect`` there (Istio would redirect that route too), a catch-all redirect route instead
    (Istio sorts catch-alls after the solver's exact match), and no login on the challenge path."""
    app = App()
    CorePlatform(
        app,
        "core",
        domain=DOMAIN,
        expose=list(UIS),
        sso=SSO,
        services={"cert-manager": {"acme_email": "ops@example.com"}},
    )
    files = _files(app)
    docs = [d for data in files.values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    (issuer,) = [i for i in _find(docs, "ClusterIssuer") if "acme" in i["spec"]]
    assert issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["class"] == "istio"
    tls = _one(docs, "Certificate", "edge-tls", GATEWAY_NS)
    assert tls["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    servers = [s for g in _find(docs, "Gateway") for s in g["spec"]["servers"]]
    assert not [s for s in servers if (s.get("tls") or {}).get("httpsRedirect")]
    (http,) = [s for s in servers if s["port"]["number"] == 80]
    assert set(http["hosts"]) == set(tls["spec"]["dnsNames"])
    (redirect,) = [v for v in _find(docs, "VirtualService") if v["spec"]["gateways"] == [f"{GATEWAY_NS}/edge-http"]]
    assert set(redirect["spec"]["hosts"]) == set(http["hosts"])
    ((rule,),) = [redirect["spec"]["http"]]
    assert "match" not in rule and "route" not in rule  # a catch-all, so the solver's exact route wins
    assert rule["redirect"] == {"scheme": "https", "redirectCode": 301}
    # UI routes are bound to the HTTPS gateway only: nothing is served over plain HTTP.
    for vs in _find(docs, "VirtualService"):
        if vs is not redirect:
            assert vs["spec"]["gateways"] == [f"{GATEWAY_NS}/edge"]
    plan = plan_files(Files(files=files), ["core"])
    assert plan.ok, plan.render("text")

    def redirect_on_gateway(doc: dict[str, Any]) -> None:
        if doc["metadata"]["name"] == "edge-http":
            doc["spec"]["servers"][0]["tls"] = {"httpsRedirect": True}

    plan = _plan_with(files, "core/edge/gateway.yaml", redirect_on_gateway)
    blocked = {b.need.split(":")[0] for b in plan.blockers if "HTTP-01" in b.need}
    assert blocked == {f"host {h}" for h in tls["spec"]["dnsNames"]}
    assert all("httpsRedirect" in b.provider for b in plan.blockers if "HTTP-01" in b.need)

    def login_on_challenges(doc: dict[str, Any]) -> None:
        del doc["spec"]["rules"][0]["to"][0]["operation"]["notPaths"]

    plan = _plan_with(files, "core/edge/authorizationpolicy.yaml", login_on_challenges)
    assert {b.need.split(":")[0] for b in plan.blockers if "HTTP-01" in b.need} == {
        f"host prometheus.{DOMAIN}",
        f"host alertmanager.{DOMAIN}",
    }


def test_access_pages_are_current() -> None:
    """docs/access/<cluster>.md: one generated page per example cluster that exposes UIs."""
    repo = Path(__file__).resolve().parent.parent
    pages = access_pages(sorted((repo / "clusters").glob("*.yaml")))
    assert "production.md" in pages
    for name, text in pages.items():
        assert (repo / "docs" / "access" / name).read_text(encoding="utf-8") == text, (
            "access page is stale: run `python -m sre_constructs.docs`"
        )
    page = pages["production.md"]
    for ui in UIS:
        assert f"https://{ui}.prod.example.com" in page
    assert "| `auth.prod.example.com` | A or CNAME |" in page
    assert "bao kv put -mount=secret sso/oidc client_secret=<CLIENT_SECRET>" in page


def test_domain_turns_the_gateway_on_and_exposes_nothing_until_expose() -> None:
    """``domain`` alone: the ingress gateway runs (the zone's records point at it) and routes only
    what you add to it; no UI is served before ``expose`` names it. Without ``domain``, no gateway."""
    app = App()
    CorePlatform(app, "core", domain=DOMAIN)
    docs = [d for data in _files(app).values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    assert _release(docs, "gateway")["spec"]["releaseName"] == "istio-ingressgateway"
    assert not [d for d in docs if str(d.get("apiVersion", "")).startswith("networking.istio.io")]
    assert _one(docs, "NetworkPolicy", "allow-backends", GATEWAY_NS)["spec"]["egress"]
    assert not [d for d in docs if d["kind"] == "HelmRelease" and d["metadata"]["name"] == "oauth2-proxy"]
    # The user's knob wins over the domain's default.
    app = App()
    CorePlatform(app, "core", domain=DOMAIN, services={"istio": {"gateway": False}})
    docs = [d for data in _files(app).values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    assert not [d for d in _find(docs, "HelmRelease") if d["spec"]["chart"]["spec"]["chart"] == "gateway"]
    app = App()
    CorePlatform(app, "core")
    docs = [d for data in _files(app).values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    assert not [d for d in _find(docs, "HelmRelease") if d["spec"]["chart"]["spec"]["chart"] == "gateway"]


def test_oauth2_proxy_alone_refuses_a_plain_http_issuer() -> None:
    from cdk8s import Chart

    from sre_constructs import OAuth2Proxy

    chart = Chart(App(), "team")
    with pytest.raises(ValidationError) as raised:
        OAuth2Proxy(chart, "proxy", issuer_url="http://login.example.com", client_id="c", domain=DOMAIN)
    assert raised.value.field == "issuer_url" and "https://" in str(raised.value)
    proxy = OAuth2Proxy(chart, "sso", issuer_url=ISSUER, client_id="c", domain=DOMAIN, allowed_groups=["a"])
    assert proxy.auth_host == f"auth.{DOMAIN}"
    assert 'allowed_groups = ["a"]' in proxy.release.values["config"]["configFile"]


def test_uis_with_their_own_login_need_no_sso_and_no_authorizer() -> None:
    app = App()
    CorePlatform(app, "core", domain=DOMAIN, expose=["grafana", "openbao", "neuvector"])
    docs = [d for data in _files(app).values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    routed = {v["spec"]["hosts"][0] for v in _find(docs, "VirtualService") if v["metadata"]["name"] != "https-redirect"}
    assert routed == {f"{ui}.{DOMAIN}" for ui in ("grafana", "openbao", "neuvector")}
    assert not _find(docs, "AuthorizationPolicy") and not _find(docs, "ExternalSecret", "monitoring")
    assert "meshConfig" not in _release(docs, "istiod")["spec"]["values"]
    assert plan_app(app).ok
    # Without the authorizer nothing reaches the issuer but the UIs that log in there themselves.
    assert not [p for p in _find(docs, "NetworkPolicy") if "oidc-issuer" in p["metadata"]["name"]]


def test_behind_a_registry_mirror_oauth2_proxy_pulls_from_it() -> None:
    mirror = "registry.local:5000/platform"
    app = App()
    CorePlatform(app, "core", domain=DOMAIN, expose=["prometheus"], sso=SSO, registry_mirror=mirror)
    docs = [d for data in _files(app).values() for d in yaml.safe_load_all(data) if isinstance(d, dict)]
    assert _release(docs, "oauth2-proxy")["spec"]["values"]["global"]["imageRegistry"] == mirror
    plan = plan_app(app)
    assert plan.ok, plan.render("text")
