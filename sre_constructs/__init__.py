"""sre-constructs: cdk8s constructs for the core SRE platform, delivered by Flux CD.

The public API. Everything else is internal and may change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from .tenancy import Tenant, TenantWorkloads
from .versions import CHARTS, REPOSITORIES, ChartPin, ChartRepository

if TYPE_CHECKING:
    from .diff import TreeDiff, diff_clusters, diff_trees

# Imported on first use: a synth never pays for the diff (and the plan it reads with).
_DIFF = ("TreeDiff", "diff_clusters", "diff_trees")


def __getattr__(name: str) -> Any:
    if name in _DIFF:
        from . import diff

        return getattr(diff, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "TreeDiff",
    "TreeDriftError",
    "ValidationError",
    "build_fleet",
    "diff_clusters",
    "diff_trees",
    "load_cluster",
    "mirror_values",
    "parse_cluster",
    "render_tree",
    "tcp",
    "udp",
    "write_tree",
]
