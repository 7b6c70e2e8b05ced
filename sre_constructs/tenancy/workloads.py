"""A tenant's own workloads: a plain kustomize folder at the tenant's ``source_path``.

Applied by the team's Flux Kustomization (impersonating ``tenant-<name>``), never by the
platform's. Objects may be written with cdk8s or cdk8s-plus-28; cdk8s-plus-28 is imported only
where a workload is handed to the library (:func:`pod_labels`), so the platform's synth never
loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk8s import ApiObject, Chart
from constructs import Construct

from ..kernel.errors import ValidationError
from ..kernel.manifest import Manifest
from ..kernel.platform_chart import check_tree_path
from ..kernel.tree_render import dump_yaml
from ..kernel.validation import check_dns_label, check_kind, check_labels

__all__ = ["CLUSTER_SCOPED_KINDS", "TenantWorkloads", "pod_labels"]

#: Kinds a tenant never writes (cluster-scoped): its Flux could not apply them anyway.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "ValidatingPolicy",
        "VolumeAttachment",
    }
)
_KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def pod_labels(where: str, pods: Any, namespace: str | None) -> tuple[dict[str, str] | None, str | None]:
    """``pods`` as the library takes them: ``(labels, namespace)``.

    Args:
        where: construct path for messages.
        pods: ``None`` (every pod), a label mapping, or a cdk8s-plus-28 workload (its selector
            labels and namespace).
        namespace: an explicit namespace, which wins over the workload's.
    """
    if pods is None or isinstance(pods, Mapping):
        return (check_labels(where, "pods", pods) if pods else None), namespace
    if not type(pods).__module__.startswith("cdk8s_plus_28"):
        raise ValidationError(where, "pods", pods, "pod labels (a mapping) or a cdk8s-plus-28 workload")
    import cdk8s_plus_28 as kplus  # only a team that wrote a cdk8s-plus workload pays for this

    if not isinstance(pods, kplus.Workload):
        raise ValidationError(where, "pods", pods, "a cdk8s-plus-28 workload (Deployment, StatefulSet, ...)")
    labels = dict(pods.match_labels or {})
    if not labels:
        raise ValidationError(where, "pods", pods.node.path, "a workload with selector labels")
    own = pods.metadata.namespace
    return labels, namespace if namespace is not None else own


class TenantWorkloads(Chart):
    """The team's objects, written as a plain kustomize folder at ``path`` (below ``outdir``).

    Every object must be namespaced and in one of the tenant's namespaces (cdk8s puts the first
    one on objects that name none). ``write_tree`` writes it beside the other trees.

    Args:
        scope: the app.
        id: construct id.
        tenant: the tenant name.
        namespaces: the tenant's namespaces; the first is the default.
        path: the folder, the tenant's ``source_path``.
    """

    _sre_tree_kind = True  # write_tree renders this with render_files()

    def __init__(self, scope: Construct, id: str, *, tenant: str, namespaces: list[str], path: str) -> None:
        where = f"{scope.node.path}/{id}" if scope.node.path else id
        self.tree_path: str = check_tree_path(where, path)
        self.tenant: str = check_dns_label(where, "tenant", tenant)
        self.namespaces: list[str] = list(namespaces)
        super().__init__(scope, id, namespace=namespaces[0])

    def add_manifest(self, body: Mapping[str, Any], id: str | None = None) -> Manifest:
        """Add any object given as data (an ExternalSecret, a ServiceMonitor, ...); without a
        namespace it lands in the tenant's first one."""
        if not isinstance(body, Mapping) or not isinstance(body.get("metadata"), Mapping):
            raise ValidationError(self.node.path, "manifest", body, "a mapping: apiVersion, kind, metadata, ...")
        metadata = body["metadata"]
        return Manifest(self, id or f"{body.get('kind')}-{metadata.get('namespace', '')}-{metadata.get('name')}", body)

    def render_files(self) -> dict[str, bytes]:
        """``kustomization.yaml`` and one file per kind, relative to ``<outdir>/<path>``.

        Raises:
            ValidationError: a cluster-scoped object, or one outside the tenant's namespaces.
        """
        by_file: dict[str, list[Any]] = {}
        for node in self.node.find_all():
            if not isinstance(node, ApiObject):
                continue
            body = node.to_json()
            kind = check_kind(node.node.path, "kind", body.get("kind"))
            name = (body.get("metadata") or {}).get("name")
            if kind in CLUSTER_SCOPED_KINDS or kind.startswith("Cluster"):
                raise ValidationError(
                    node.node.path,
                    "kind",
                    kind,
                    f"a namespaced kind: tenant {self.tenant} writes no cluster-scoped objects",
                )
            namespace = (body.get("metadata") or {}).get("namespace")
            if namespace not in self.namespaces:
                raise ValidationError(
                    node.node.path,
                    f"{kind}/{name} namespace",
                    namespace,
                    f"one of tenant {self.tenant}'s namespaces: " + ", ".join(self.namespaces),
                )
            file = (
                kind.lower() if kind.lower() != "kustomization" else "kustomization-" + body["apiVersion"].split(".")[0]
            )
            by_file.setdefault(f"{file}.yaml", []).append(body)
        files = {rel: dump_yaml(docs) for rel, docs in sorted(by_file.items())}
        files["kustomization.yaml"] = dump_yaml(
            [{"apiVersion": _KUSTOMIZE_API, "kind": "Kustomization", "resources": sorted(by_file)}]
        )
        return files
