"""sre-constructs: cdk8s constructs for the core SRE platform, delivered by Flux CD.

The public API. Everything else is internal and may change.
"""

from __future__ import annotations

from . import _node  # noqa: F401  (JSII_NODE where no .pth set it, see _node.py)
from .airgap import mirror_values
from .cluster import ClusterSpec, load_cluster, parse_cluster
from .fleet import FluxSync, build_fleet
from .kernel.component import FluxDependency, HealthCheck, HelmReleaseHandle, PlatformComponent
from .kernel.errors import ValidationError
from .kernel.network import Peer, Port, tcp, udp
from .kernel.platform_chart import PlatformChart
from .kernel.tree import TreeDriftError, render_tree, write_tree
from .platform import SERVICES, CorePlatform
from .services.backup import Backup
from .services.cert_manager import CertManager
from .services.external_secrets import ExternalSecrets
from .services.istio import Istio
from .services.kyverno import Kyverno
from .services.logging import Logging
from .services.monitoring import Monitoring
from .services.oauth2_proxy import OAuth2Proxy
from .services.openbao import OpenBao
from .services.runtime_security import RuntimeSecurity
from .tenant import Tenant
from .tenant_workloads import TenantWorkloads
from .versions import CHARTS, REPOSITORIES, ChartPin, ChartRepository

__all__ = [
    "CHARTS",
    "REPOSITORIES",
    "SERVICES",
    "Backup",
    "CertManager",
    "ChartPin",
    "ChartRepository",
    "ClusterSpec",
    "CorePlatform",
    "ExternalSecrets",
    "FluxDependency",
    "FluxSync",
    "HealthCheck",
    "HelmReleaseHandle",
    "Istio",
    "Kyverno",
    "Logging",
    "Monitoring",
    "OAuth2Proxy",
    "OpenBao",
    "Peer",
    "PlatformChart",
    "PlatformComponent",
    "Port",
    "RuntimeSecurity",
    "Tenant",
    "TenantWorkloads",
    "TreeDriftError",
    "ValidationError",
    "build_fleet",
    "load_cluster",
    "mirror_values",
    "parse_cluster",
    "render_tree",
    "tcp",
    "udp",
    "write_tree",
]
