"""Two application teams on the platform, each in a lane of its own.

Run it as ``python examples/tenants.py [outdir]`` (default ``dist``). It writes:

- ``<outdir>/core``: the nine core services (the ClusterSecretStore serves their namespaces only;
  OpenBao's ``openbao-tenants`` CronJob writes both tenants' policies and roles);
- ``<outdir>/tenancy/payments`` and ``<outdir>/tenancy/search``: each team's namespaces, quotas,
  RBAC, SecretStores and Flux Kustomization (applied by the platform's Flux);
- ``<outdir>/tenants/payments``: what the payments team runs, written with cdk8s-plus-28 (a
  Deployment and its Service), an ExternalSecret from the namespace's own SecretStore and a
  ServiceMonitor; Flux applies it as ``tenant-payments``, with namespaced rights only.

The search team deploys from its own Git repository (``git_url``): nothing of it is written
here. Needs the ``plus`` extra (cdk8s-plus-28). Each of ``core``, ``tenancy/payments`` and
``tenancy/search`` needs a root Flux Kustomization.
"""

from __future__ import annotations

import sys

# isort: off
# sre_constructs first: it picks jsii's Node before cdk8s starts the jsii kernel.
from sre_constructs import CorePlatform, Peer, Tenant, tcp, write_tree
from cdk8s import ApiObjectMetadata, App, Size
import cdk8s_plus_28 as kplus

# isort: on

HTTP_PORT = 8080
METRICS_PORT = 9090
LABELS = {"app.kubernetes.io/name": "payments-api", "app.kubernetes.io/part-of": "payments"}
SECRET = "payments-db"
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}  # kube-prometheus-stack's Prometheus pods


def build(app: App) -> tuple[CorePlatform, Tenant, Tenant]:
    """Add the platform and both tenants to ``app``.

    Returns:
        The platform, the payments tenant and the search tenant.
    """
    core = CorePlatform(app, "core")
    assert core.monitoring is not None and core.monitoring.namespace is not None

    payments = Tenant(
        app,
        "payments",
        platform=core,
        namespaces=["payments", "payments-batch"],
        groups=["team-payments"],
        source_path="./tenants/payments",
    )
    search = Tenant(
        app,
        "search",
        platform=core,
        groups=["team-search"],
        git_url="https://git.example.com/search/deploy.git",
        git_branch="production",
        source_path="./clusters/production",
        source_secret="search-deploy-key",
        cpu_requests="8",
        memory_requests="32Gi",
        memory_limits="48Gi",
        max_container_memory="16Gi",
    )

    # -- payments' workload, with cdk8s-plus-28. Restricted Pod Security: non-root, no
    # privilege escalation, every capability dropped, the runtime's seccomp profile.
    security = kplus.ContainerSecurityContextProps(
        user=10001,
        group=10001,
        capabilities=kplus.ContainerSecutiryContextCapabilities(drop=[kplus.Capability.ALL]),
        seccomp_profile=kplus.SeccompProfile(type=kplus.SeccompProfileType.RUNTIME_DEFAULT),
    )
    api = kplus.Deployment(
        payments.workloads,
        "api",
        metadata=ApiObjectMetadata(name="payments-api", labels=LABELS),
        replicas=2,
        security_context=kplus.PodSecurityContextProps(user=10001, group=10001),
        containers=[
            kplus.ContainerProps(
                name="api",
                image="registry.example.com/payments:1.4.2",  # no `latest`: Kyverno refuses it
                ports=[
                    kplus.ContainerPort(number=HTTP_PORT, name="http"),
                    kplus.ContainerPort(number=METRICS_PORT, name="metrics"),
                ],
                security_context=security,
                resources=kplus.ContainerResources(
                    cpu=kplus.CpuResources(request=kplus.Cpu.millis(100)),
                    memory=kplus.MemoryResources(request=Size.mebibytes(128), limit=Size.mebibytes(256)),
                ),
                env_from=[kplus.Env.from_secret(kplus.Secret.from_secret_name(payments.workloads, "db", SECRET))],
            )
        ],
    )
    kplus.Service(
        payments.workloads,
        "api-service",
        metadata=ApiObjectMetadata(name="payments-api", labels=LABELS),
        selector=api,
        ports=[
            kplus.ServicePort(name="http", port=HTTP_PORT, target_port=HTTP_PORT),
            kplus.ServicePort(name="metrics", port=METRICS_PORT, target_port=METRICS_PORT),
        ],
    )
    # The namespace's own SecretStore reads secret/tenants/payments/*; a ClusterSecretStore
    # here would be refused (tenant-secret-stores) and not served (its conditions).
    payments.workloads.add_manifest(
        {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": SECRET},
            "spec": {
                "refreshInterval": "1h",
                "secretStoreRef": {"kind": "SecretStore", "name": payments.store_name},
                "target": {"name": SECRET, "creationPolicy": "Owner"},
                "data": [
                    {"secretKey": "DATABASE_URL", "remoteRef": {"key": "tenants/payments/db", "property": "url"}},
                    {
                        "secretKey": "DATABASE_PASSWORD",
                        "remoteRef": {"key": "tenants/payments/db", "property": "password"},
                    },
                ],
            },
        }
    )
    payments.workloads.add_manifest(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "payments-api", "labels": LABELS},
            "spec": {
                "selector": {"matchLabels": LABELS},
                "namespaceSelector": {"matchNames": ["payments"]},
                "endpoints": [{"port": "metrics", "path": "/metrics", "interval": "30s"}],
            },
        }
    )
    # Network needs in the library's terms: the Deployment stands for its pods.
    payments.allow_ingress(
        "prometheus",
        Peer.in_namespace(core.monitoring.namespace, "Prometheus", **PROMETHEUS_PODS),
        tcp(METRICS_PORT),
        pods=api,
    )
    payments.allow_ingress(
        "batch-to-api",
        Peer.in_namespace("payments-batch", "payments' batch jobs"),
        tcp(HTTP_PORT),
        pods=api,
    )
    payments.allow_egress(
        "api", Peer.in_namespace("payments", "payments' API"), tcp(HTTP_PORT), namespace="payments-batch"
    )
    return core, payments, search


def main(argv: list[str] | None = None) -> None:
    """Write every tree below the output directory (first argument, default ``dist``)."""
    args = sys.argv[1:] if argv is None else argv
    app = App()
    build(app)
    for path in write_tree(app, args[0] if args else "dist"):
        print(path)


if __name__ == "__main__":
    main()
