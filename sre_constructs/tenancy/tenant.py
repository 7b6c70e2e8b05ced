"""Tenant: an application team on the platform, isolated by default.

A :class:`Tenant` is a tree of its own (a :class:`~sre_constructs.PlatformChart`, default path
``tenancy/<name>``) that the platform's Flux applies with its own rights, and that hands the team
a lane of its own:

```
tenancy/<name>/kustomization.yaml         root: the three Flux Kustomizations
tenancy/<name>/components/namespaces.yaml tenant-<name>-namespaces (waits for nothing)
tenancy/<name>/components/secrets.yaml    tenant-<name>-secrets (waits for cert-manager-config, external-secrets-config)
tenancy/<name>/components/sync.yaml       tenant-<name>-sync (waits for the two above and the platform's components)
tenancy/<name>/namespaces/                Namespaces (restricted, default-deny + DNS), ResourceQuota, LimitRange,
                                          ServiceAccounts, RoleBindings, NetworkPolicies
tenancy/<name>/secrets/                   per namespace: Certificate openbao-ca (carries the platform CA), SecretStore
tenancy/<name>/sync/                      the team's source (if its own) and Flux Kustomization tenant-<name>
```

The team's Kustomization ``tenant-<name>`` lives in ``flux-system`` (the team cannot edit it),
reads ``source_path`` from ``flux-system``'s GitRepository or from the team's own source (also in
``flux-system``, so no cross-namespace reference is needed even with Flux's
``--no-cross-namespace-refs``), and Flux impersonates ServiceAccount ``tenant-<name>``, which holds
RoleBindings in the tenant's namespaces only. What the team writes at ``source_path`` (by hand or
through :attr:`Tenant.workloads`) is therefore applied with namespaced rights only, and the
platform's lane policies (:mod:`sre_constructs.tenancy.policies`) keep the team's own Flux objects
in that lane.

Limits, said plainly:

- The OpenBao role and policy come from the app that writes the *platform* tree: declaring the
  Tenant there (``platform=core``) registers it with OpenBao's reconcile. A tenant tree written
  only by a team's own app gets no role until the platform's app declares it too. After the role
  is written (at most one reconcile period after Flux applies OpenBao's ConfigMap) the
  SecretStores become Ready; until then ``tenant-<name>-secrets`` retries.
- The platform CA ClusterIssuer serves every namespace: a team with ``edit`` can request a
  certificate for any name (``openbao.openbao.svc`` too). Restricting issuance needs
  cert-manager's approver-policy (or a policy on Certificates and CertificateRequests).
- ``edit`` lets team members impersonate the ServiceAccounts of their
  namespaces, ``tenant-<name>`` included: the team can do what its Flux can, which is namespaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from constructs import Construct

from ..kernel.component import PlatformComponent
from ..kernel.errors import ValidationError
from ..kernel.manifest import Manifest
from ..kernel.network import Peer, Port
from ..kernel.paths import child_path
from ..kernel.platform_chart import PlatformChart, check_tree_path
from ..kernel.sources import FLUX_NAMESPACE
from ..kernel.validation import check_bool, check_dns_label, check_duration, check_positive_int, check_quantity
from ._parts import SECRETS_SERVICE_ACCOUNT, ca_carrier, limit_range, quota, secret_store
from .policies import RECONCILER_PREFIX, STORE_LABEL, TENANT_LABEL
from .workloads import TenantWorkloads, pod_labels

__all__ = ["DEFAULT_PLATFORM_DEPENDENCIES", "SECRETS_SERVICE_ACCOUNT", "Tenant"]

#: What any workload needs before it starts: the mesh, cert-manager's issuers, the secret store,
#: monitoring's CRDs, and the lane policies (so the team's Flux never runs outside its lane).
DEFAULT_PLATFORM_DEPENDENCIES = (
    "istio",
    "cert-manager-config",
    "external-secrets-config",
    "monitoring",
    "kyverno-policies",
)
_MAX_NAME = 40  # tenant-<name>-namespaces stays a DNS label
_GIT_URL = re.compile(r"^(https|ssh)://\S+$")
_OCI_URL = re.compile(r"^oci://\S+$")


class Tenant(PlatformChart):
    """One application team's namespaces, quotas, RBAC, Flux lane and secrets lane.

    ``Tenant(app, id, platform=core, ...)``: ``platform`` (required) is the platform the tenant
    runs on, a ``CorePlatform``: the Flux Kustomizations the team's waits for come from it, the
    tenant's OpenBao role is registered with its OpenBao, and its External Secrets reads the
    tenant's SecretStores. Quotas apply per namespace and also forbid ``LoadBalancer`` and
    ``NodePort`` Services (traffic enters through the platform's gateway); no CPU limit is
    defaulted (CPU limits throttle; requests schedule).

    Knobs (all keyword arguments):

    - ``namespaces``: the tenant's namespaces; the first is the default for workloads. Default ``[name]``.
    - ``groups``: identity-provider groups bound to ``team_role`` in every tenant namespace (and
      nowhere else). Default none.
    - ``source_path``: the folder Flux applies for the team, in its source. Default ``./tenants/<name>``.
    - ``name``: tenant name, a DNS-1123 label of at most 40 characters. Default: ``id``.
    - ``path``: repository path of this tree; it may not contain ``source_path`` nor lie inside it
      when the team's source is ``flux-system``. Default ``tenancy/<name>``.
    - ``git_url``: the team's own Git repository (``https://`` or ``ssh://``). Default none.
    - ``git_branch``: its branch. Default ``main``.
    - ``oci_url``: the team's own OCI artifact (``oci://``), instead of Git. Default none.
    - ``oci_tag``: its tag. Default ``latest``.
    - ``source_secret``: Secret in ``flux-system`` with the source's credentials. Default none.
    - ``interval``: how often Flux reconciles the team's source and Kustomization. Default ``5m``.
    - ``platform_dependencies``: names of the platform's components the team's Kustomization waits
      for; disabled services are skipped. Default: ``istio``, ``cert-manager-config``,
      ``external-secrets-config``, ``monitoring``, ``kyverno-policies`` (what any workload needs,
      and the lane policies, so the team's Flux never runs outside its lane).
    - ``team_role``: ClusterRole the groups get through RoleBindings. Default ``edit``.
    - ``reconciler_role``: ClusterRole Flux gets (as ``tenant-<name>``) through RoleBindings:
      Roles and RoleBindings inside the namespaces, never quotas. Default ``admin``.
    - ``store_name``: name of each namespace's SecretStore. Default ``openbao``.
    - ``cpu_requests``: ResourceQuota ``requests.cpu``. Default ``4``.
    - ``memory_requests``: ResourceQuota ``requests.memory``. Default ``8Gi``.
    - ``memory_limits``: ResourceQuota ``limits.memory``. Default ``16Gi``.
    - ``max_pods``: ResourceQuota ``pods``. Default ``50``.
    - ``max_pvcs``: ResourceQuota ``persistentvolumeclaims``. Default ``10``.
    - ``storage_requests``: ResourceQuota ``requests.storage``. Default ``100Gi``.
    - ``default_cpu_request``: LimitRange default CPU request of a container. Default ``100m``.
    - ``default_memory_request``: LimitRange default memory request. Default ``128Mi``.
    - ``default_memory_limit``: LimitRange default memory limit. Default ``512Mi``.
    - ``max_container_memory``: LimitRange maximum memory limit per container. Default ``4Gi``.
    - ``mesh_injection``: Istio sidecar injection in the tenant namespaces (``restricted`` pods
      cannot run istio-init without istio-cni). Default ``False``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        platform: PlatformChart,
        namespaces: Sequence[str] | None = None,
        groups: Sequence[str] = (),
        source_path: str | None = None,
        name: str | None = None,
        path: str | None = None,
        git_url: str | None = None,
        git_branch: str = "main",
        oci_url: str | None = None,
        oci_tag: str = "latest",
        source_secret: str | None = None,
        interval: str = "5m",
        platform_dependencies: Sequence[str] | None = None,
        team_role: str = "edit",
        reconciler_role: str = "admin",
        store_name: str = "openbao",
        cpu_requests: str = "4",
        memory_requests: str = "8Gi",
        memory_limits: str = "16Gi",
        max_pods: int = 50,
        max_pvcs: int = 10,
        storage_requests: str = "100Gi",
        default_cpu_request: str = "100m",
        default_memory_request: str = "128Mi",
        default_memory_limit: str = "512Mi",
        max_container_memory: str = "4Gi",
        mesh_injection: bool = False,
    ) -> None:
        where = child_path(scope, id)
        self.tenant: str = check_dns_label(where, "name", name if name is not None else id)
        """The tenant name."""
        if len(self.tenant) > _MAX_NAME:
            raise ValidationError(where, "name", self.tenant, f"at most {_MAX_NAME} characters (names derive from it)")
        if not isinstance(platform, PlatformChart):
            raise ValidationError(where, "platform", platform, "the platform's PlatformChart (a CorePlatform)")
        spaces = list(namespaces) if namespaces is not None else [self.tenant]
        if isinstance(namespaces, str) or not spaces:
            raise ValidationError(where, "namespaces", namespaces, "a non-empty list of namespace names")
        for ns in spaces:
            check_dns_label(where, "namespaces", ns)
        if len(set(spaces)) != len(spaces):
            raise ValidationError(where, "namespaces", spaces, "distinct namespace names")
        taken = set(platform.namespace_owners)
        clash = [ns for ns in spaces if ns in taken or ns == FLUX_NAMESPACE]
        if clash:
            raise ValidationError(where, "namespaces", clash[0], "a namespace the platform does not own")
        if isinstance(groups, str) or not all(isinstance(g, str) and g and len(g) <= 253 for g in groups):
            raise ValidationError(where, "groups", groups, "a list of group names, e.g. ['team-payments']")
        raw_source = source_path if source_path is not None else f"tenants/{self.tenant}"
        stripped = raw_source[2:] if isinstance(raw_source, str) and raw_source.startswith("./") else raw_source
        self.source_path: str = check_tree_path(where, stripped)
        """The folder (in the source) Flux applies for the team, normalized (``tenants/payments``)."""
        tree = check_tree_path(where, path if path is not None else f"tenancy/{self.tenant}")
        if git_url is not None and oci_url is not None:
            raise ValidationError(where, "oci_url", oci_url, "None when git_url is given: one source per tenant")
        if git_url is not None and (not isinstance(git_url, str) or not _GIT_URL.fullmatch(git_url)):
            raise ValidationError(where, "git_url", git_url, "an https:// or ssh:// repository URL")
        if oci_url is not None and (not isinstance(oci_url, str) or not _OCI_URL.fullmatch(oci_url)):
            raise ValidationError(where, "oci_url", oci_url, "an oci://host/path artifact URL")
        if git_url is None and oci_url is None:
            a, b = tree + "/", self.source_path + "/"
            if a.startswith(b) or b.startswith(a):
                raise ValidationError(
                    where,
                    "source_path",
                    self.source_path,
                    f"a folder apart from this tree ({tree}): the team's Flux would apply the tenant's own definition",
                )
        for field, value in (("git_branch", git_branch), ("oci_tag", oci_tag)):
            if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}", value):
                raise ValidationError(where, field, value, "a branch or tag name")
        if source_secret is not None:
            check_dns_label(where, "source_secret", source_secret)
        check_duration(where, "interval", interval)
        for field, value in (("team_role", team_role), ("reconciler_role", reconciler_role)):
            if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9:._-]{0,252}", value):
                raise ValidationError(where, field, value, "a ClusterRole name such as 'edit'")
        for field, value in (("team_role", team_role), ("reconciler_role", reconciler_role)):
            if value == "cluster-admin":
                raise ValidationError(where, field, value, "a namespaced role such as 'edit' or 'admin'")
        check_dns_label(where, "store_name", store_name)
        quantities = {
            "cpu_requests": cpu_requests,
            "memory_requests": memory_requests,
            "memory_limits": memory_limits,
            "storage_requests": storage_requests,
            "default_cpu_request": default_cpu_request,
            "default_memory_request": default_memory_request,
            "default_memory_limit": default_memory_limit,
            "max_container_memory": max_container_memory,
        }
        for field, value in quantities.items():
            check_quantity(where, field, value)
        check_positive_int(where, "max_pods", max_pods)
        check_positive_int(where, "max_pvcs", max_pvcs, minimum=0)
        check_bool(where, "mesh_injection", mesh_injection)
        wanted = list(platform_dependencies) if platform_dependencies is not None else None
        known = {c.name: c for c in platform.registered_components}
        # A core service (or its companion) that is disabled is skipped, not an error. Imported
        # here: the platform imports this package (its lane policies).
        from ..platform import SERVICES

        services = {spec.name for spec in SERVICES}
        if wanted is not None:
            for dep in wanted:
                if dep not in known and not ({dep, dep.rsplit("-", 1)[0]} & services):
                    raise ValidationError(
                        where, "platform_dependencies", dep, "a component of the platform: " + ", ".join(known)
                    )
        deps = [
            known[d].flux_name for d in (wanted if wanted is not None else DEFAULT_PLATFORM_DEPENDENCIES) if d in known
        ]

        prefix = f"{RECONCILER_PREFIX}{self.tenant}-"
        super().__init__(scope, id, path=tree, source_ref=platform.source_ref, name_prefix=prefix)
        self.platform: PlatformChart = platform
        """The platform the tenant runs on."""
        self.namespaces: list[str] = spaces
        """The tenant's namespaces, the default one first."""
        self.groups: list[str] = list(groups)
        self.service_account: str = RECONCILER_PREFIX + self.tenant
        """The ServiceAccount Flux impersonates (in flux-system and in every tenant namespace)."""
        self.store_name: str = store_name
        """Each tenant namespace's SecretStore."""
        self.interval = interval

        labels = {TENANT_LABEL: self.tenant, STORE_LABEL: store_name}
        self.base: PlatformComponent = PlatformComponent(
            self, "namespaces", namespace=spaces[0], namespace_labels=labels, mesh_injection=mesh_injection
        )
        """Namespaces, quotas, RBAC and network paths (``tenant-<name>-namespaces``)."""
        for ns in spaces[1:]:
            self.base.add_namespace(ns, labels, mesh_injection=mesh_injection)
        for ns in spaces:
            self._namespace_objects(ns, team_role, reconciler_role, quantities, max_pods, max_pvcs)
        self.base.add_manifest(self._service_account(FLUX_NAMESPACE))

        self.secrets: PlatformComponent | None = self._secrets_lane(platform)
        """SecretStores (``tenant-<name>-secrets``), ``None`` without the platform's External Secrets."""

        # wait=False: the platform's step is Ready once the team's Kustomization is applied; the
        # team's own health shows on tenant-<name>, not as a failing platform Kustomization.
        self.sync: PlatformComponent = PlatformComponent(self, "sync", interval="10m", wait=False)
        """The team's source and Flux Kustomization (``tenant-<name>-sync``)."""
        self.sync.depends_on(*(c for c in (self.base, self.secrets) if c is not None))
        for dep in deps:
            self.sync.add_flux_dependency(dep)
        source_kind = self._team_source(git_url, git_branch, oci_url, oci_tag, source_secret)
        self.kustomization: Manifest = self.sync.add_manifest(self._team_kustomization(source_kind, platform))
        """The team's Flux Kustomization ``tenant-<name>`` (in flux-system, impersonating the tenant)."""
        self._workloads: TenantWorkloads | None = None
        self._scope = scope
        if git_url is None and oci_url is None:
            # source_path is in this repository: this app writes it (empty until workloads are
            # added), so the folder the team's Kustomization applies always exists.
            _ = self.workloads

    # -- the team's tree ----------------------------------------------------------------------

    @property
    def workloads(self) -> TenantWorkloads:
        """A chart written at ``source_path`` (plain kustomize, applied by the team's Flux):
        cdk8s or cdk8s-plus-28 objects land in the tenant's first namespace unless they name another.

        With the ``flux-system`` source it always exists, so this app owns ``source_path`` in the
        repository (hand-written manifests belong in the team's own source: ``git_url`` or
        ``oci_url``); with the team's own source it is written only once used, into the team's
        checkout."""
        if self._workloads is None:
            self._workloads = TenantWorkloads(
                self._scope,
                f"{self.node.id}-workloads",
                tenant=self.tenant,
                namespaces=self.namespaces,
                path=self.source_path,
            )
        return self._workloads

    def allow_ingress(
        self,
        name: str,
        peers: Peer | Sequence[Peer],
        ports: Sequence[Port] = (),
        *,
        pods: Mapping[str, str] | Any = None,
        namespace: str | None = None,
    ) -> Manifest:
        """Open an inbound path to the tenant's pods (the kernel's network needs).

        Args:
            name: policy name suffix (``allow-<name>``).
            peers: who may connect.
            ports: on which ports (default all).
            pods: which pods: labels, or a cdk8s-plus-28 workload (its selector). Default all.
            namespace: which tenant namespace. Default: the workload's, else the first.
        """
        labels, ns = pod_labels(self.node.path, pods, namespace)
        return self.base.allow_ingress(name, peers, ports, pods=labels, namespace=ns or self.namespaces[0])

    def allow_egress(
        self,
        name: str,
        peers: Peer | Sequence[Peer],
        ports: Sequence[Port] = (),
        *,
        pods: Mapping[str, str] | Any = None,
        namespace: str | None = None,
    ) -> Manifest:
        """Open an outbound path from the tenant's pods (arguments as :meth:`allow_ingress`)."""
        labels, ns = pod_labels(self.node.path, pods, namespace)
        return self.base.allow_egress(name, peers, ports, pods=labels, namespace=ns or self.namespaces[0])

    # -- parts ---------------------------------------------------------------------------------

    def _service_account(self, namespace: str, name: str | None = None) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": name or self.service_account,
                "namespace": namespace,
                "labels": {TENANT_LABEL: self.tenant},
            },
        }

    def _namespace_objects(
        self,
        ns: str,
        team_role: str,
        reconciler_role: str,
        quantities: Mapping[str, str],
        max_pods: int,
        max_pvcs: int,
    ) -> None:
        add = self.base.add_manifest
        add(quota(ns, self.tenant, quantities, max_pods, max_pvcs))
        add(limit_range(ns, self.tenant, quantities))
        add(self._service_account(ns))
        add(self._service_account(ns, SECRETS_SERVICE_ACCOUNT))
        reconcilers = [FLUX_NAMESPACE, *self.namespaces]
        add(
            self._role_binding(
                ns,
                "tenant-reconciler",
                reconciler_role,
                [{"kind": "ServiceAccount", "name": self.service_account, "namespace": n} for n in reconcilers],
            )
        )
        if self.groups:
            subjects = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g} for g in self.groups]
            add(self._role_binding(ns, "tenant-team", team_role, subjects))

    def _role_binding(self, ns: str, name: str, role: str, subjects: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": ns, "labels": {TENANT_LABEL: self.tenant}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        }

    def _secrets_lane(self, platform: PlatformChart) -> PlatformComponent | None:
        """A SecretStore per namespace, logging in with the tenant's OpenBao role."""
        openbao = getattr(platform, "openbao", None)
        eso = getattr(platform, "external_secrets", None)
        if openbao is None or eso is None:
            return None
        from ..services._openbao_tenants import TenantGrant, register_tenant

        grant = TenantGrant(self.tenant, tuple(self.namespaces), SECRETS_SERVICE_ACCOUNT)
        register_tenant(openbao, grant)
        self.openbao_role: str = grant.role
        """The tenant's OpenBao Kubernetes-auth role and policy (``tenant-<name>``)."""
        secrets = PlatformComponent(self, "secrets", timeout="10m")
        secrets.depends_on(self.base)
        cert_manager = getattr(platform, "cert_manager", None)
        for companion in (getattr(cert_manager, "config", None), getattr(eso, "config", None)):
            if isinstance(companion, PlatformComponent):
                secrets.add_flux_dependency(companion.flux_name)
        issuer = getattr(cert_manager, "ca_issuer_name", None) or "platform-ca"
        for ns in self.namespaces:
            secrets.add_manifest(ca_carrier(ns, self.tenant, issuer))
            secrets.add_manifest(secret_store(ns, self.tenant, self.store_name, openbao, grant.role))
        return secrets

    def _team_source(
        self, git_url: str | None, branch: str, oci_url: str | None, tag: str, secret: str | None
    ) -> tuple[str, str]:
        """The team's own source in flux-system, if any: ``(kind, name)`` of what the Kustomization reads."""
        if git_url is None and oci_url is None:
            return "GitRepository", self.source_ref
        spec: dict[str, Any] = {"interval": self.interval}
        if git_url is not None:
            kind, api = "GitRepository", "source.toolkit.fluxcd.io/v1"
            spec.update(url=git_url, ref={"branch": branch})
        else:
            kind, api = "OCIRepository", "source.toolkit.fluxcd.io/v1"
            spec.update(url=oci_url, ref={"tag": tag})
        if secret is not None:
            spec["secretRef"] = {"name": secret}
        self.sync.add_manifest(
            {
                "apiVersion": api,
                "kind": kind,
                "metadata": {
                    "name": self.service_account,
                    "namespace": FLUX_NAMESPACE,
                    "labels": {TENANT_LABEL: self.tenant},
                },
                "spec": spec,
            }
        )
        return kind, self.service_account

    def _team_kustomization(self, source: tuple[str, str], platform: PlatformChart) -> dict[str, Any]:
        kind, name = source
        return {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "kind": "Kustomization",
            "metadata": {
                "name": self.service_account,
                "namespace": FLUX_NAMESPACE,
                "labels": {TENANT_LABEL: self.tenant},
            },
            "spec": {
                "interval": self.interval,
                "retryInterval": "2m",
                "timeout": "10m",
                "path": "./" + self.source_path,
                "prune": True,
                "wait": True,
                # Flux acts as this account: RoleBindings in the tenant namespaces, nothing else.
                "serviceAccountName": self.service_account,
                "sourceRef": {"kind": kind, "name": name, "namespace": FLUX_NAMESPACE},
            },
        }
