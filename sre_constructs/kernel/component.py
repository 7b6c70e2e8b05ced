"""PlatformComponent: one service = one Flux Kustomization plus one folder of manifests."""

from __future__ import annotations

import posixpath
import re
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cdk8s import ApiObject, ApiObjectMetadata, Chart
from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import helm as flux_helm
from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import kustomize as flux_kustomize

from ..versions import ChartPin, ChartRepository
from .errors import ValidationError
from .manifest import (
    Manifest,
    PythonRendered,
    _register_object,
    cached_chart,
    create_typed,
    remember_chart,
    struct,
    structs_unchecked_ok,
)
from .network import NetworkNeed, Peer, Port, baseline_policies, check_ports, network_policy, normalize_peers
from .paths import check_scope_id, path_of, remember_path
from .platform_chart import PlatformChart, check_tree_path
from .sources import FLUX_NAMESPACE, ChartSources
from .validation import (
    check_bool,
    check_chart_version,
    check_dns_label,
    check_duration,
    check_kind,
    check_labels,
    check_object_name,
    check_values,
    duration_seconds,
    format_minutes,
)

__all__ = [
    "POD_SECURITY_LEVELS",
    "FluxDependency",
    "HealthCheck",
    "HelmReleaseHandle",
    "PlatformComponent",
    "PodSecurity",
]

POD_SECURITY_LEVELS = ("restricted", "baseline", "privileged")


@dataclass(frozen=True)
class PodSecurity:
    """The Pod Security Standard a namespace enforces, and why when it is not ``restricted``."""

    level: str
    reason: str = ""


# Flux picks these up; they are also what `kubectl get` users expect to see.
_PART_OF = "app.kubernetes.io/part-of"
_LIBRARY = "sre-constructs"


_API_VERSION = re.compile(r"([a-z0-9.-]+/)?v[0-9]+([a-z]+[0-9]+)?")


@dataclass(frozen=True)
class HealthCheck:
    """An object Flux checks for readiness when the component's ``wait`` is off.

    Args:
        kind: the object kind (``Deployment``, ``StatefulSet``, ``DaemonSet``, ``HelmRelease``).
        name: the object name.
        namespace: the object namespace.
        api_version: its API version. Default ``apps/v1``.
    """

    kind: str
    name: str
    namespace: str
    api_version: str = "apps/v1"

    def __post_init__(self) -> None:
        where = f"HealthCheck({self.kind!r}, {self.name!r})"
        check_kind(where, "kind", self.kind)
        check_object_name(where, "name", self.name)
        check_dns_label(where, "namespace", self.namespace)
        if not isinstance(self.api_version, str) or not _API_VERSION.fullmatch(self.api_version):
            raise ValidationError(where, "api_version", self.api_version, "an API version such as 'apps/v1'")

    def to_flux(self) -> dict[str, str]:
        """The ``healthChecks`` entry."""
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name, "namespace": self.namespace}


@dataclass(frozen=True)
class FluxDependency:
    """A Flux Kustomization this component waits for, by name (for trees not built here)."""

    name: str
    namespace: str = FLUX_NAMESPACE


@dataclass
class HelmReleaseHandle:
    """A HelmRelease emitted by a component, with what later calls need to know about it.

    Attributes:
        release_name: the Helm release name (also the HelmRelease object name).
        namespace: where the release is installed.
        chart: the chart name.
        version: the chart version or range.
        timeout: Helm's timeout for install and upgrade.
        values: the final values (defaults, then knobs, then the user's ``values``).
        api_object: the emitted HelmRelease.
        depends_on: releases this one waits for (Flux HelmRelease ``dependsOn``).
    """

    release_name: str
    namespace: str
    chart: str
    version: str
    timeout: str
    values: dict[str, Any]
    api_object: ApiObject
    depends_on: list[HelmReleaseHandle] = field(default_factory=list)

    def health_check(self) -> HealthCheck:
        """A health check on the HelmRelease itself (Ready includes Helm's own wait)."""
        return HealthCheck("HelmRelease", self.release_name, self.namespace, "helm.toolkit.fluxcd.io/v2")


# jsii's generated struct constructors re-check every argument with typeguard. The Flux objects of a
# component are built from values checked here (or built here), so they skip those checks (see
# manifest.struct), unless this jsii lays its structs out differently (then _CHECKED is True).
_CHECKED = not structs_unchecked_ok(
    (ApiObjectMetadata, {"name": "n", "namespace": "ns"}),
    (flux_helm.HelmReleaseSpecInstallRemediation, {"retries": 3}),
    (
        flux_helm.HelmReleaseSpecUpgrade,
        {
            "crds": flux_helm.HelmReleaseSpecUpgradeCrds.CREATE,
            "cleanup_on_fail": True,
            "disable_wait": None,
            "remediation": flux_helm.HelmReleaseSpecUpgradeRemediation(retries=3),
        },
    ),
    (
        flux_kustomize.KustomizationProps,
        {
            "metadata": ApiObjectMetadata(name="n"),
            "spec": flux_kustomize.KustomizationSpec(
                interval="1m",
                prune=True,
                source_ref=flux_kustomize.KustomizationSpecSourceRef(
                    kind=flux_kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY, name="n"
                ),
            ),
        },
    ),
)


class _HelmRelease(PythonRendered, flux_helm.HelmRelease):
    """A typed HelmRelease whose ``values`` stay Python data.

    jsii sorts keys and drops ``None``; Helm needs ``null`` to delete a chart default, so the values
    are put in here rather than crossing into jsii at construction.
    """

    def __init__(self, scope: Construct, id: str, handle_values: dict[str, Any], **props: Any) -> None:
        if not create_typed(self, flux_helm.HelmReleaseProps, scope, id, props, checked=_CHECKED):
            super().__init__(scope, id, **props)
        _register_object(scope, self)
        self._values = handle_values
        self._depends_on: list[HelmReleaseHandle] = []

    def to_json(self) -> Any:
        data = super().to_json()
        spec = data["spec"]
        if self._depends_on:
            spec["dependsOn"] = [{"name": dep.release_name, "namespace": dep.namespace} for dep in self._depends_on]
        if self._values:
            spec["values"] = self._values
        return data


class _ComponentKustomization(PythonRendered, flux_kustomize.Kustomization):
    """The component's Flux Kustomization; dependsOn, healthChecks and timeout follow later calls."""

    def __init__(self, scope: Construct, id: str, owner: PlatformComponent, **props: Any) -> None:
        if not create_typed(self, flux_kustomize.KustomizationProps, scope, id, props, checked=_CHECKED):
            super().__init__(scope, id, **props)
        _register_object(scope, self)
        self._owner = weakref.ref(owner)  # the owner holds this object: no reference cycle

    def to_json(self) -> Any:
        data = super().to_json()
        owner = self._owner()
        if owner is None:  # pragma: no cover - jsii keeps every construct made in Python
            raise RuntimeError(f"{self.node.path}: the component of this Flux Kustomization is gone")
        data["spec"].update(owner._dynamic_spec())
        return data


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
        self.kustomization: ApiObject = _ComponentKustomization(
            self,
            "Kustomization",
            self,
            metadata={"name": self.flux_name, "namespace": FLUX_NAMESPACE},
            spec=struct(
                flux_kustomize.KustomizationSpec,
                _CHECKED,
                interval=self._interval,
                retry_interval=self._retry_interval,
                path=self.flux_path,
                prune=True,
                wait=self.wait,
                source_ref=struct(
                    flux_kustomize.KustomizationSpecSourceRef,
                    _CHECKED,
                    kind=flux_kustomize.KustomizationSpecSourceRefKind.GIT_REPOSITORY,
                    name=self.source_ref,
                    namespace=FLUX_NAMESPACE,
                ),
            ),
        )
        """The component's Flux Kustomization (written to ``components/<name>.yaml``)."""

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
        where = path_of(self)
        check_dns_label(where, "namespace", name)
        if name in self._namespaces:
            raise ValidationError(where, "namespace", name, "a namespace not already emitted by this component")
        if pod_security not in POD_SECURITY_LEVELS:
            raise ValidationError(where, "pod_security", pod_security, "one of " + ", ".join(POD_SECURITY_LEVELS))
        if pod_security != "restricted" and not (isinstance(pod_security_reason, str) and pod_security_reason):
            raise ValidationError(
                where,
                "pod_security_reason",
                pod_security_reason,
                f"a reason naming the workload that needs {pod_security!r} rather than 'restricted'",
            )
        if not isinstance(mesh_injection, bool):
            raise ValidationError(where, "mesh_injection", mesh_injection, "True or False")
        labels = check_labels(where, "namespace_labels", labels) if labels is not None else {}
        merged = {
            _PART_OF: _LIBRARY,
            "istio-injection": "enabled" if mesh_injection else "disabled",
            **{f"pod-security.kubernetes.io/{mode}": pod_security for mode in ("enforce", "audit", "warn")},
            **(labels or {}),
        }
        namespace = Manifest(
            self,
            f"Namespace-{name}",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": merged}},
        )
        self._namespaces[name] = namespace
        self._pod_security[name] = PodSecurity(pod_security, pod_security_reason or "")
        claim = getattr(self.platform, "_claim_namespace", None)
        if claim is not None:
            claim(self, name, merged)
        for index, policy in enumerate(baseline_policies(name)):
            Manifest(self, f"NetworkPolicy-{name}-baseline-{index}", policy)
        return namespace

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
        return self._allow("ingress", name, peers, ports, pods, namespace)

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
        return self._allow("egress", name, peers, ports, pods, namespace)

    def _allow(
        self,
        direction: str,
        name: str,
        peers: Peer | Sequence[Peer],
        ports: Sequence[Port],
        pods: Mapping[str, str] | None,
        namespace: str | None,
    ) -> Manifest:
        where = path_of(self)
        target = namespace if namespace is not None else self.namespace
        if target is None or target not in self._namespaces:
            raise ValidationError(
                where, "namespace", target, "a namespace this component owns: " + ", ".join(self._namespaces)
            )
        check_dns_label(where, "network need name", f"allow-{name}")
        need = NetworkNeed(
            name,
            direction,
            normalize_peers(where, peers),
            check_ports(where, ports),
            check_labels(where, "pods", pods) if pods else None,
        )
        if any(ns == target and n.name == name for ns, n in self._network_needs):
            raise ValidationError(where, "network need name", name, "a name not already used in this namespace")
        self._network_needs.append((target, need))
        return Manifest(self, f"NetworkPolicy-{target}-{name}", network_policy(target, need))

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
        """
        scope_ref, own_id = self.__dict__["_sre_parent"]  # node.scope and node.id, without round-trips
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

        Returns:
            A handle with the release's names and the emitted object.
        """
        where = f"{path_of(self)}/{release_name}"
        check_dns_label(where, "release_name", release_name)
        if isinstance(chart, ChartPin):
            chart_name, repository, pinned = chart.chart, chart.repository, chart.version
        elif (
            isinstance(chart, tuple)
            and len(chart) == 2
            and isinstance(chart[0], str)
            and isinstance(chart[1], ChartRepository)
        ):
            chart_name, repository, pinned = chart[0], chart[1], None
        else:
            raise ValidationError(where, "chart", chart, "a ChartPin or a (chart name, ChartRepository) pair")
        chosen = version if version is not None else pinned
        if chosen is None:
            raise ValidationError(where, "version", None, "a chart version for a chart without a pin")
        check_chart_version(where, "version", chosen)
        check_duration(where, "timeout", timeout)
        check_duration(where, "interval", interval)
        check_bool(where, "disable_wait", disable_wait)
        if (
            isinstance(depends_on, str)
            or not isinstance(depends_on, Sequence)
            or not all(isinstance(dep, HelmReleaseHandle) for dep in depends_on)
        ):
            raise ValidationError(where, "depends_on", depends_on, "a list of HelmReleaseHandle")
        if not isinstance(crds, str):
            raise ValidationError(where, "crds", crds, "one of 'Skip', 'Create', 'CreateReplace'")
        crd_policy = {
            "Skip": (flux_helm.HelmReleaseSpecInstallCrds.SKIP, flux_helm.HelmReleaseSpecUpgradeCrds.SKIP),
            "Create": (flux_helm.HelmReleaseSpecInstallCrds.CREATE, flux_helm.HelmReleaseSpecUpgradeCrds.CREATE),
            "CreateReplace": (
                flux_helm.HelmReleaseSpecInstallCrds.CREATE_REPLACE,
                flux_helm.HelmReleaseSpecUpgradeCrds.CREATE_REPLACE,
            ),
        }.get(crds)
        if crd_policy is None:
            raise ValidationError(where, "crds", crds, "one of 'Skip', 'Create', 'CreateReplace'")
        release_namespace = namespace if namespace is not None else self.namespace
        if release_namespace is None:
            raise ValidationError(where, "namespace", None, "a namespace (the component has none)")
        check_dns_label(where, "namespace", release_namespace)
        if any(r.release_name == release_name and r.namespace == release_namespace for r in self._releases):
            raise ValidationError(where, "release_name", release_name, "a release name not already used here")
        final_values = check_values(where, "values", values or {})
        chart_props = self._chart_source(where, chart, chart_name, repository, chosen)

        obj = _HelmRelease(
            self,
            f"HelmRelease-{release_namespace}-{release_name}",
            final_values,
            metadata={"name": release_name, "namespace": release_namespace},
            spec=struct(
                flux_helm.HelmReleaseSpec,
                _CHECKED,
                release_name=release_name,
                interval=interval,
                timeout=timeout,
                **chart_props,
                install=struct(
                    flux_helm.HelmReleaseSpecInstall,
                    _CHECKED,
                    crds=crd_policy[0],
                    disable_wait=disable_wait or None,
                    remediation=struct(flux_helm.HelmReleaseSpecInstallRemediation, _CHECKED, retries=3),
                ),
                upgrade=struct(
                    flux_helm.HelmReleaseSpecUpgrade,
                    _CHECKED,
                    crds=crd_policy[1],
                    cleanup_on_fail=True,
                    disable_wait=disable_wait or None,
                    remediation=struct(
                        flux_helm.HelmReleaseSpecUpgradeRemediation,
                        _CHECKED,
                        retries=3,
                        remediate_last_failure=True,
                        strategy=flux_helm.HelmReleaseSpecUpgradeRemediationStrategy.ROLLBACK,
                    ),
                ),
                rollback=struct(flux_helm.HelmReleaseSpecRollback, _CHECKED, cleanup_on_fail=True),
                uninstall=struct(flux_helm.HelmReleaseSpecUninstall, _CHECKED, keep_history=False),
            ),
        )
        handle = HelmReleaseHandle(
            release_name=release_name,
            namespace=release_namespace,
            chart=chart_name,
            version=chosen,
            timeout=timeout,
            values=final_values,
            api_object=obj,
            depends_on=list(depends_on),
        )
        obj._depends_on = handle.depends_on
        self._releases.append(handle)
        return handle

    def _chart_source(
        self,
        where: str,
        chart: ChartPin | tuple[str, ChartRepository],
        chart_name: str,
        repository: ChartRepository,
        version: str,
    ) -> dict[str, Any]:
        """``spec.chart`` (from a HelmRepository) or ``spec.chartRef`` (to an OCIRepository).

        Follows the enclosing PlatformChart's ``chart_source`` (``helm`` or ``oci``, default
        ``helm``) and ``registry_mirror`` (default none). With ``oci``, charts published as OCI
        artifacts (``ChartPin.oci``) get an OCIRepository; the rest stay on HTTPS. With a mirror,
        every chart comes from it (layout in :mod:`sre_constructs.airgap`).
        """
        from ..airgap import mirror_chart_repository, mirror_chart_url

        chart_source = getattr(self.platform, "chart_source", "helm")
        mirror = getattr(self.platform, "registry_mirror", None)
        sources = ChartSources.of(self)
        oci_url: str | None = None
        if mirror:
            if chart_source == "oci":
                oci_url = mirror_chart_url(mirror, chart_name)
            else:
                repository = mirror_chart_repository(mirror)
        elif chart_source == "oci" and isinstance(chart, ChartPin) and chart.oci:
            oci_url = chart.oci
        if oci_url is not None:
            name = sources.use_oci(chart_name, oci_url, version, where=where)
            return {
                "chart_ref": struct(
                    flux_helm.HelmReleaseSpecChartRef,
                    _CHECKED,
                    kind=flux_helm.HelmReleaseSpecChartRefKind.OCI_REPOSITORY,
                    name=name,
                    namespace=FLUX_NAMESPACE,
                )
            }
        repo_name = sources.use(repository, where=where)
        return {
            "chart": struct(
                flux_helm.HelmReleaseSpecChart,
                _CHECKED,
                spec=struct(
                    flux_helm.HelmReleaseSpecChartSpec,
                    _CHECKED,
                    chart=chart_name,
                    version=version,
                    interval="12h",
                    source_ref=struct(
                        flux_helm.HelmReleaseSpecChartSpecSourceRef,
                        _CHECKED,
                        kind=flux_helm.HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY,
                        name=repo_name,
                        namespace=FLUX_NAMESPACE,
                    ),
                ),
            )
        }

    # -- synthesis --------------------------------------------------------------------------

    def _derived_timeout(self) -> str:
        """Helm timeouts summed along the longest release chain, plus 5m for apply and retries."""
        memo: dict[int, float] = {}

        def chain(release: HelmReleaseHandle) -> float:
            if id(release) not in memo:
                memo[id(release)] = duration_seconds(release.timeout) + max(
                    (chain(dep) for dep in release.depends_on if dep in self._releases), default=0.0
                )
            return memo[id(release)]

        longest = max((chain(r) for r in self._releases), default=0.0)
        return format_minutes(longest + 300)

    def _dynamic_spec(self) -> dict[str, Any]:
        """The Kustomization fields that later calls can change."""
        spec: dict[str, Any] = {"timeout": self._timeout or self._derived_timeout()}
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
