"""A platform team's own component beside the core platform, in a tree of its own.

Run it as ``python examples/team_app.py [outdir]`` (default ``dist``). It writes two Flux trees:

- ``<outdir>/core``: the nine core services, exactly as ``app.py`` writes them;
- ``<outdir>/apps/payments``: the team's ``payments`` service, installed from the team's own chart
  repository, waiting for the platform's secret store and monitoring before Flux applies it.

Each tree needs a root Flux Kustomization (``./core`` and ``./apps/payments``); see
docs/using-the-tree-with-flux.md.
"""

from __future__ import annotations

import sys
from typing import Any

from cdk8s import App

from sre_constructs import ChartRepository, CorePlatform, Peer, PlatformChart, PlatformComponent, tcp, write_tree

NAMESPACE = "payments"
METRICS_PORT = 9090
METRICS_PORT_NAME = "metrics"
# The chart's Service and pods carry these labels (set through its values below); the
# ServiceMonitor and the NetworkPolicy select by them.
SERVICE_LABELS = {"app.kubernetes.io/name": "payments", "app.kubernetes.io/part-of": "payments"}
SECRET_NAME = "payments-db"
TEAM_CHARTS = ChartRepository("team-charts", "https://charts.example.com")
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}  # kube-prometheus-stack's Prometheus pods


def build(app: App) -> tuple[CorePlatform, PlatformChart, PlatformComponent]:
    """Add the core platform and the team's tree to ``app``.

    Args:
        app: the cdk8s App.

    Returns:
        The core platform, the team's PlatformChart and its ``payments`` component.
    """
    core = CorePlatform(app, "core")
    assert core.external_secrets is not None and core.external_secrets.config is not None
    assert core.monitoring is not None and core.monitoring.namespace is not None
    store_name = core.external_secrets.store.body["metadata"]["name"]  # the ClusterSecretStore (`openbao`)
    # The store serves only the platform's own namespaces. This component is the platform team's
    # (its tree is applied with the platform's Flux rights), so the platform lets its store serve
    # it; an application team gets a Tenant and a SecretStore of its own (examples/tenants.py).
    core.external_secrets.serve_namespaces(NAMESPACE)

    # A tree of its own at apps/payments, reconciled by a second root Flux Kustomization.
    team = PlatformChart(app, "team", path="apps/payments")
    payments = PlatformComponent(
        team,
        "payments",
        namespace=NAMESPACE,
        # Restricted, and no sidecar: with mesh_injection=True the injected istio-init container
        # needs NET_ADMIN/NET_RAW and root, which only `privileged` admits (there is no istio-cni
        # here). STRICT mTLS applies between sidecars; clients in the mesh reach this plain
        # workload without it (Istio's auto-mTLS sends plain text to pods without a sidecar).
        pod_security="restricted",
        mesh_injection=False,
    )
    # Cross-tree waits go by Flux Kustomization name: depends_on() only takes components of the
    # same tree. The store's companion already waits for External Secrets (its CRDs and
    # controller) and for OpenBao; monitoring brings the ServiceMonitor CRD and Prometheus.
    payments.add_flux_dependency(core.external_secrets.config.flux_name)
    payments.add_flux_dependency(core.monitoring.flux_name)

    values: dict[str, Any] = {
        "image": {"repository": "registry.example.com/payments", "tag": "1.4.2"},  # no `latest`: Kyverno refuses it
        "replicaCount": 2,
        "podLabels": SERVICE_LABELS,
        "service": {
            "labels": SERVICE_LABELS,
            "ports": [{"name": "http", "port": 8080}, {"name": METRICS_PORT_NAME, "port": METRICS_PORT}],
        },
        # The Secret that the ExternalSecret below keeps in sync; the pods read it as env.
        "envFromSecret": SECRET_NAME,
        # Kyverno's require-requests-limits and Pod Security `restricted` apply to this namespace.
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    payments.add_helm_release(
        "payments",
        ("payments", TEAM_CHARTS),
        version="1.4.2",
        values=values,
    )

    # Custom resources in the component's own folder: their CRDs come from the platform's
    # charts, which this component already waits for (no companion needed).
    payments.add_manifest(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": SECRET_NAME, "namespace": NAMESPACE},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "ClusterSecretStore", "name": store_name},
                "target": {"name": SECRET_NAME, "creationPolicy": "Owner"},
                "data": [
                    {"secretKey": "DATABASE_URL", "remoteRef": {"key": "apps/payments/db", "property": "url"}},
                    {
                        "secretKey": "DATABASE_PASSWORD",
                        "remoteRef": {"key": "apps/payments/db", "property": "password"},
                    },
                ],
            },
        }
    )
    payments.add_manifest(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "payments", "namespace": NAMESPACE, "labels": SERVICE_LABELS},
            "spec": {
                "selector": {"matchLabels": SERVICE_LABELS},
                "namespaceSelector": {"matchNames": [NAMESPACE]},
                "endpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics", "interval": "30s"}],
            },
        }
    )

    # Network: Prometheus scrapes the metrics port. No egress to OpenBao: the External Secrets
    # controller reads the secret, not these pods.
    payments.allow_ingress(
        "prometheus",
        Peer.in_namespace(core.monitoring.namespace, "Prometheus", **PROMETHEUS_PODS),
        tcp(METRICS_PORT),
        pods=SERVICE_LABELS,
    )
    return core, team, payments


def main(argv: list[str] | None = None) -> None:
    """Write both trees below the output directory (first argument, default ``dist``)."""
    args = sys.argv[1:] if argv is None else argv
    app = App()
    build(app)
    for path in write_tree(app, args[0] if args else "dist"):
        print(path)


if __name__ == "__main__":
    main()
