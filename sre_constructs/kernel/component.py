"""PlatformComponent: one service = one Flux Kustomization plus one folder of manifests.

Its parts live beside it: :mod:`.helm_release` (HelmReleases and their chart sources),
:mod:`.namespaces` (namespaces and the network paths opened through them) and
:mod:`.flux_kustomization` (health checks, dependencies, the derived timeout); the names they
define stay importable from here.
"""

from __future__ import annotations

import posixpath
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

from cdk8s import ApiObject, App, Chart
from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import kustomize as flux_kustomize

from . import flux_structs
from .alerts import AlertRule, RecordingRule, RuleSet
from .charts import ChartPin, ChartRepository
from .errors import ValidationError
from .flux_kustomization import ComponentKustomization, FluxDependency, HealthCheck, derived_timeout
from .helm_release import HelmReleaseHandle, ValuesFrom, create_helm_release
from .manifest import Manifest, cached_chart, remember_chart, struct
from .namespaces import POD_SECURITY_LEVELS, PodSecurity, emit_namespace, open_path
from .network import NetworkNeed, Peer, Port
from .paths import check_scope_id, path_of, remember_path
from .platform_chart import PlatformChart, check_tree_path
from .sources import FLUX_NAMESPACE
from .validation import (
    check_bool,
    check_dns_label,
    check_duration,
)

__all__ = [
    "POD_SECURITY_LEVELS",
    "FluxDependency",
    "HealthCheck",
    "HelmReleaseHandle",
    "PlatformComponent",
    "PodSecurity",
]


class PlatformComponent(Construct):
    """One platform service: a Flux Kustomization (``components/<name>.yaml``) and a folder (``<name>/``).

    The component owns its namespace, its HelmReleases and the chart sources they need. Inside a
    :class:`~sre_constructs.PlatformChart` (such as ``CorePlatform``) it joins that tree; inside any
    other cdk8s Chart it synthesizes on its own, HelmRepositories included.

    Args:
        scope: the parent construct.
        id: construct id.
        name: component name: the folder name and, with the tree's prefix, the Flux Kustomization
            name. A DNS-1123 label. Default: ``id``.
        namespace: the namespace the component owns and installs into, or ``None`` for a component
            with cluster-scoped objects only. Default ``None``.
        create_namespace: emit the ``Namespace`` object. Default ``True``.
        namespace_labels: extra labels on the Namespace.
        pod_security: Pod Security Standard the namespace enforces: ``restricted`` (default),
            ``baseline`` or ``privileged``; anything but ``restricted`` needs ``pod_security_reason``.
        pod_security_reason: why the workloads need more than ``restricted`` (kept for the docs).
        mesh_injection: label the namespace for Istio sidecar injection. Default ``False``: the
            platform's own services run outside the mesh (sidecars would need ``privileged`` without
            istio-cni, and webhooks and the mesh would wait on each other at bootstrap).
        wait: Flux waits for every applied object to be Ready before dependents start. Default
            ``True``. With ``False``, Flux checks the :meth:`add_health_check` targets instead (or,
            when none were added, the component's HelmReleases).
        interval: how often Flux reconciles the Kustomization. Default ``10m``.
        retry_interval: retry delay after a failure. Default ``2m``.
        timeout: apply-plus-readiness timeout. Default: derived from the releases, the sum of Helm
            timeouts along the longest release dependsOn chain plus 5m, so the slowest chart fits.
        path: repository path of the tree the component's folder lives in. Default: the
            enclosing PlatformChart's path, else ``.``.
        source_ref: Flux GitRepository (in ``flux-system``) with the tree. Default: the enclosing
            PlatformChart's, else ``flux-system``.
        name_prefix: prefix of the Flux Kustomization name. Default: the enclosing PlatformChart's,
            else none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str | None = None,
        namespace: str | None = None,
        create_namespace: bool = True,
        namespace_labels: Mapping[str, str] | None = None,
        pod_security: str = "restricted",
        pod_security_reason: str | None = None,
        mesh_injection: bool = False,
        wait: bool = True,
        interval: str = "10m",
        retry_interval: str = "2m",
        timeout: str | None = None,
        path: str | None = None,
        source_ref: str | None = None,
        name_prefix: str | None = None,
    ) -> None:
        check_scope_id(scope, id)
        super().__init__(scope, id)
        # The path and the parent follow from (scope, id): cached here, no round-trips later.
        remember_path(self, scope, id)
        self.__dict__["_sre_parent"] = (weakref.ref(scope), id)  # weak: see manifest.remember_chart
        self.__dict__["_sre_objects"] = []  # ApiObjects made in this scope (see render_tree)
        where = path_of(self)
        self.name: str = check_dns_label(where, "name", name if name is not None else id)
        """Component name: folder name and (with the prefix) Flux Kustomization name."""
        self.namespace: str | None = check_dns_label(where, "namespace", namespace) if namespace is not None else None
        """The namespace the component owns, if any."""
        if not isinstance(wait, bool):
            raise ValidationError(where, "wait", wait, "True or False")
        check_bool(where, "create_namespace", create_namespace)
        self.wait: bool = wait
        self._interval = check_duration(where, "interval", interval)
        self._retry_interval = check_duration(where, "retry_interval", retry_interval)
        self._timeout = check_duration(where, "timeout", timeout) if timeout is not None else None

        # Chart.of(self) is the scope itself or the scope's chart (cached by components and Manifests).
        chart = scope if isinstance(scope, Chart) else (cached_chart(scope) or Chart.of(self))
        remember_chart(self, chart)  # ChartSources.of needs it; spare a round-trip
        self.__dict__["_sre_platform"] = weakref.ref(chart) if isinstance(chart, PlatformChart) else None
        tree_path = path if path is not None else (self.platform.tree_path if self.platform else ".")
        self.tree_path: str = check_tree_path(where, tree_path) if tree_path != "." else "."
        self.source_ref: str = check_dns_label(
            where,
            "source_ref",
            source_ref if source_ref is not None else (self.platform.source_ref if self.platform else "flux-system"),
        )
        if name_prefix is not None and not isinstance(name_prefix, str):
            raise ValidationError(where, "name_prefix", name_prefix, "a string such as 'sre-'")
        prefix = name_prefix if name_prefix is not None else (self.platform.name_prefix if self.platform else "")
        self.flux_name: str = check_dns_label(where, "flux name (name_prefix + name)", prefix + self.name)
        """Name of the component's Flux Kustomization in ``flux-system``."""

        # Weak: a companion depends on the component that holds it (``config``), so strong
        # references would make a cycle.
        self._dependencies: list[weakref.ref[PlatformComponent]] = []
        self._external_dependencies: list[FluxDependency] = []
        self._releases: list[HelmReleaseHandle] = []
        self._health_checks: list[HealthCheck] = []
        self.rule_sets: list[RuleSet] = []
        """Alerting and recording rules by ``platform_component`` (see :meth:`add_alert_rules`)."""

        if self.platform is not None:
            self.platform._register(self)
        self._namespaces: dict[str, ApiObject] = {}
        self._pod_security: dict[str, PodSecurity] = {}
        self._network_needs: list[tuple[str, NetworkNeed]] = []
        self.namespace_object: ApiObject | None = None
        """The emitted Namespace, if any."""
        if self.namespace is not None and create_namespace:
            self.namespace_object = self.add_namespace(
                self.namespace,
                namespace_labels,
                pod_security=pod_security,
                pod_security_reason=pod_security_reason,
                mesh_injection=mesh_injection,
            )
        # A service alone in a plain chart (no tree, no path given) has no folder for a Flux
        # Kustomization to apply, and one named like the platform's would replace it: none then.
        self.standalone: bool = self.platform is None and path is None
        """Alone in a plain chart: no Flux Kustomization, chart sources beside the releases,
        companions held back (see :meth:`add_companion`)."""
        self.kustomization: ApiObject | None = (
            ComponentKustomization(
                self,
                "Kustomization",
                self,
                metadata={"name": self.flux_name, "namespace": FLUX_NAMESPACE},
                spec=struct(
                    flux_kustomize.KustomizationSpec,
                    flux_structs.CHECKED,
                    interval=self._interval,
                    retry_interval=self._retry_interval,
                    path=self.flux_path,
                    prune=True,
                    wait=self.wait,
                    source_ref=struct(
                        flux_kustomize.KustomizationSpecSourceRef,
                        flux_structs.CHECKED,
                        kind=flux_kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                        name=self.source_ref,
                        namespace=FLUX_NAMESPACE,
                    ),
                ),
            )
            if not self.standalone
            else None
        )
        """The component's Flux Kustomization (written to ``components/<name>.yaml``); ``None``
        when :attr:`standalone`."""

    # -- identity ---------------------------------------------------------------------------

    @property
    def flux_path(self) -> str:
        """``spec.path`` of the Flux Kustomization: ``./<tree path>/<name>``."""
        return "./" + posixpath.normpath(posixpath.join(self.tree_path, self.name))

    @property
    def platform(self) -> PlatformChart | None:
        """The tree this component belongs to, or ``None`` when used in a plain chart."""
        ref = self.__dict__.get("_sre_platform")
        return ref() if ref is not None else None

    @property
    def dependencies(self) -> list[PlatformComponent]:
        """Components this one waits for (direct edges only)."""
        return [dep for ref in self._dependencies if (dep := ref()) is not None]

    @property
    def releases(self) -> list[HelmReleaseHandle]:
        """The HelmReleases this component installs, in creation order."""
        return list(self._releases)

    @property
    def health_checks(self) -> list[HealthCheck]:
        """What Flux checks when ``wait`` is off: the added checks, else the HelmReleases."""
        if self._health_checks:
            return list(self._health_checks)
        return [release.health_check() for release in self._releases]

    # -- additions --------------------------------------------------------------------------

    def depends_on(self, *components: PlatformComponent) -> PlatformComponent:
        """Make Flux apply this component only after each of ``components`` is Ready.

        Inside a PlatformChart the dependencies must belong to the same tree; a component in a
        plain chart (an application team's) may depend on any tree's components. For a Flux
        Kustomization that no construct here represents, use :meth:`add_flux_dependency`.

        Returns:
            ``self``, for chaining.
        """
        for dep in components:
            if not isinstance(dep, PlatformComponent):
                raise ValidationError(
                    self.node.path, "dependsOn", dep, "a PlatformComponent (the component to wait for)"
                )
            if dep is self:
                raise ValidationError(self.node.path, "dependsOn", dep.name, "another component, not itself")
            if self.platform is not None and dep.platform is not self.platform:
                raise ValidationError(
                    self.node.path,
                    "dependsOn",
                    dep.node.path,
                    f"a component of the same platform {self.platform.node.path}; for a Flux Kustomization "
                    "outside it use add_flux_dependency(name, namespace)",
                )
            if dep not in self.dependencies:
                self._dependencies.append(weakref.ref(dep))
        return self

    def add_flux_dependency(self, name: str, namespace: str = FLUX_NAMESPACE) -> PlatformComponent:
        """Wait for a Flux Kustomization by name (one not built by these constructs).

        Returns:
            ``self``, for chaining.
        """
        where = path_of(self)
        dep = FluxDependency(
            check_dns_label(where, "dependsOn name", name), check_dns_label(where, "dependsOn namespace", namespace)
        )
        if dep not in self._external_dependencies:
            self._external_dependencies.append(dep)
        return self

    def add_namespace(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        *,
        pod_security: str = "restricted",
        pod_security_reason: str | None = None,
        mesh_injection: bool = False,
    ) -> ApiObject:
        """Emit a Namespace this component owns, with Pod Security labels and default-deny policies.

        Args:
            name: the namespace name.
            labels: extra labels.
            pod_security: ``restricted`` (default), ``baseline`` or ``privileged``.
            pod_security_reason: required for anything but ``restricted``: which workload needs it.
            mesh_injection: Istio sidecar injection on (``enabled``) or off (``disabled``).

        Returns:
            The Namespace object.
        """
        return emit_namespace(
            self,
            name,
            labels,
            pod_security=pod_security,
            pod_security_reason=pod_security_reason,
            mesh_injection=mesh_injection,
        )

    @property
    def pod_security(self) -> dict[str, PodSecurity]:
        """Pod Security level (and reason) of every namespace this component owns."""
        return dict(self._pod_security)

    @property
    def network_needs(self) -> list[tuple[str, NetworkNeed]]:
        """Every opened path as ``(namespace, need)``, beyond default-deny and the baseline (DNS, same namespace)."""
        return list(self._network_needs)

    def allow_ingress(
        self,
        name: str,
        peers: Peer | Sequence[Peer],
        ports: Sequence[Port] = (),
        *,
        pods: Mapping[str, str] | None = None,
        namespace: str | None = None,
    ) -> Manifest:
        """Open one inbound path through the default-deny policy.

        Args:
            name: policy name suffix (``allow-<name>``).
            peers: who may connect.
            ports: on which local ports (default all).
            pods: to which local pods, by labels (default all in the namespace).
            namespace: which owned namespace. Default: the component's.
        """
        return open_path(self, "ingress", name, peers, ports, pods, namespace)

    def allow_egress(
        self,
        name: str,
        peers: Peer | Sequence[Peer],
        ports: Sequence[Port] = (),
        *,
        pods: Mapping[str, str] | None = None,
        namespace: str | None = None,
    ) -> Manifest:
        """Open one outbound path through the default-deny policy (arguments as :meth:`allow_ingress`)."""
        return open_path(self, "egress", name, peers, ports, pods, namespace)

    def add_manifest(self, body: Mapping[str, Any], id: str | None = None) -> Manifest:
        """Emit any object given as data (a custom resource, a ConfigMap, ...) in this component's folder.

        Custom resources whose CRD a chart installs belong in a companion (:meth:`add_companion`)
        that depends on the component installing the chart, never in the same step.
        """
        if not isinstance(body, Mapping):
            raise ValidationError(path_of(self), "manifest", body, "a mapping: apiVersion, kind, metadata, ...")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise ValidationError(path_of(self), "metadata", metadata, "a mapping with a name")
        construct_id = id or f"{body.get('kind')}-{metadata.get('namespace', '')}-{metadata.get('name')}"
        return Manifest(self, construct_id, body)

    def add_companion(self, suffix: str = "config") -> PlatformComponent:
        """A ``<name>-<suffix>`` component for objects whose CRDs this component's charts install.

        It is a sibling (its own folder and Flux Kustomization) that depends on this component, so
        Flux applies the custom resources only once the CRDs and their controllers are Ready.

        When this component is :attr:`standalone` nothing can order them after the CRDs, so the
        companion is held back: it lives in a chart of its own (``Chart.of(companion)``, in an
        App of its own) that the caller's ``app.synth()`` does not write; synthesize or apply it
        once the chart's CRDs exist.
        """
        scope_ref, own_id = self.__dict__["_sre_parent"]  # node.scope and node.id, without round-trips
        if self.standalone:
            held_back = Chart(App(), f"{self.name}-{suffix}")
            companion = PlatformComponent(held_back, f"{own_id}-{suffix}", name=f"{self.name}-{suffix}")
            companion.depends_on(self)  # recorded, not emitted: neither has a Flux Kustomization
            return companion
        # A scope jsii made on the Node side (a cdk8s-plus child, say) has a Python wrapper that
        # nothing may hold any more: ask jsii for it then.
        scope = scope_ref()
        if scope is None:
            scope = cast(Construct, self.node.scope)
        companion = PlatformComponent(
            scope,
            f"{own_id}-{suffix}",
            name=f"{self.name}-{suffix}",
            wait=True,
            path=self.tree_path,
            source_ref=self.source_ref,
            name_prefix=self.flux_name[: len(self.flux_name) - len(self.name)],
        )
        companion.depends_on(self)
        return companion

    @property
    def owned_namespaces(self) -> list[str]:
        """Every namespace this component emits."""
        return list(self._namespaces)

    def remove_dependency(self, component: PlatformComponent) -> None:
        """Drop a direct dependency (used when a platform disables a service)."""
        self._dependencies = [ref for ref in self._dependencies if ref() is not component]

    def add_alert_rules(
        self,
        alerts: Sequence[AlertRule],
        *,
        recording: Sequence[RecordingRule] = (),
        monitors: Sequence[Mapping[str, Any]] = (),
        **where: str,
    ) -> RuleSet:
        """Rules (through :func:`~.alerts.check_alerts`) and the monitors they need, for the platform to emit.

        ``where``: ``component`` (the ``platform_component`` label, default the name), ``namespace``
        of the PrometheusRule (default the component's) and ``${release}``-like substitutions.
        """
        name, home = where.pop("component", self.name), where.pop("namespace", self.namespace or "default")
        rules = RuleSet(name, home, tuple(alerts), tuple(recording), {"namespace": home, **where}, tuple(monitors))
        if rules.alerts or rules.recording or rules.monitors:
            self.rule_sets.append(rules)
        return rules

    def add_health_check(self, check: HealthCheck) -> None:
        """Name a workload Flux must see Ready when ``wait`` is off."""
        if not isinstance(check, HealthCheck):
            raise ValidationError(self.node.path, "health check", check, "a HealthCheck(kind, name, namespace)")
        if check not in self._health_checks:
            self._health_checks.append(check)

    def add_helm_release(
        self,
        release_name: str,
        chart: ChartPin | tuple[str, ChartRepository],
        *,
        version: str | None = None,
        values: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        depends_on: Sequence[HelmReleaseHandle] = (),
        timeout: str = "10m",
        interval: str = "30m",
        crds: str = "CreateReplace",
        disable_wait: bool = False,
        values_from: Sequence[ValuesFrom] = (),
    ) -> HelmReleaseHandle:
        """Install a chart as a Flux HelmRelease, with install and upgrade remediation.

        Args:
            release_name: the Helm release name, always set explicitly so workload names never
                depend on Flux's ``<namespace>-<name>`` rule.
            chart: a pinned chart from :mod:`sre_constructs.versions`, or ``(chart, repository)``.
            version: chart version or semver range. Default: the pin's version (required for a
                ``(chart, repository)`` pair).
            values: final Helm values (the service has already merged defaults, knobs and the user's
                values). Default none.
            namespace: install namespace. Default: the component's namespace.
            depends_on: HelmReleases (of this or another component) that must be Ready first.
            timeout: Helm's install/upgrade timeout. Default ``10m``.
            interval: HelmRelease reconcile interval. Default ``30m``.
            crds: CRD policy of the chart's ``crds/`` folder on install and upgrade: ``Skip``,
                ``Create`` or ``CreateReplace``. Default ``CreateReplace``, so CRDs follow upgrades.
            disable_wait: skip Helm's wait for resources on install/upgrade. Default ``False``.
            values_from: values taken from Secrets or ConfigMaps in the release namespace
                (:class:`~sre_constructs.kernel.helm_release.ValuesFrom`); the release waits for each
                non-optional one. Default none.

        Returns:
            A handle with the release's names and the emitted object.
        """
        handle = create_helm_release(
            self,
            release_name,
            chart,
            version=version,
            values=values,
            namespace=namespace,
            depends_on=depends_on,
            timeout=timeout,
            interval=interval,
            crds=crds,
            disable_wait=disable_wait,
            values_from=values_from,
        )
        self._releases.append(handle)
        return handle

    # -- synthesis --------------------------------------------------------------------------

    def _dynamic_spec(self) -> dict[str, Any]:
        """The Kustomization fields that later calls can change."""
        spec: dict[str, Any] = {"timeout": self._timeout or derived_timeout(self._releases)}
        depends = [{"name": dep.flux_name, "namespace": FLUX_NAMESPACE} for dep in self.dependencies] + [
            {"name": dep.name, "namespace": dep.namespace} for dep in self._external_dependencies
        ]
        if depends:
            spec["dependsOn"] = depends
        if not self.wait:
            checks = self.health_checks
            if checks:
                spec["healthChecks"] = [check.to_flux() for check in checks]
        return spec
