"""HelmReleases of a component: the handle later calls use, the typed object, and its chart source."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cdk8s import ApiObject
from constructs import Construct

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import helm as flux_helm

from . import flux_structs
from .charts import ChartPin, ChartRepository
from .drift import drift_detection
from .errors import ValidationError
from .flux_kustomization import HealthCheck
from .manifest import PythonRendered, _register_object, create_typed, struct
from .mirror import mirror_chart_repository, mirror_chart_url
from .paths import path_of
from .sources import FLUX_NAMESPACE, ChartSources
from .validation import check_bool, check_chart_version, check_dns_label, check_duration, check_values

if TYPE_CHECKING:
    from .component import PlatformComponent

__all__ = ["HelmReleaseHandle", "ValuesFrom", "chart_source", "create_helm_release"]


@dataclass(frozen=True)
class ValuesFrom:
    """One ``valuesFrom`` entry: a value of a Secret or ConfigMap merged into the release's values.

    helm-controller does not install or upgrade the release while a non-optional source is
    missing, and its Ready condition names it: the way to make a release wait for a Secret.

    Attributes:
        kind: ``Secret`` or ``ConfigMap``.
        name: the object, in the release's namespace.
        values_key: the key whose value is taken.
        target_path: where it goes in the values (Helm ``--set`` path syntax).
        optional: do not wait when the object or key is missing. Default ``False``.
    """

    kind: str
    name: str
    values_key: str
    target_path: str
    optional: bool = False

    def to_flux(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "valuesKey": self.values_key,
            "targetPath": self.target_path,
        }
        if self.optional:
            entry["optional"] = True
        return entry


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
        values_from: values taken from Secrets and ConfigMaps (Flux HelmRelease ``valuesFrom``).
    """

    release_name: str
    namespace: str
    chart: str
    version: str
    timeout: str
    values: dict[str, Any]
    api_object: ApiObject
    depends_on: list[HelmReleaseHandle] = field(default_factory=list)
    values_from: list[ValuesFrom] = field(default_factory=list)

    def health_check(self) -> HealthCheck:
        """A health check on the HelmRelease itself (Ready includes Helm's own wait)."""
        return HealthCheck("HelmRelease", self.release_name, self.namespace, "helm.toolkit.fluxcd.io/v2")


class _HelmRelease(PythonRendered, flux_helm.HelmRelease):
    """A typed HelmRelease whose ``values`` stay Python data.

    jsii sorts keys and drops ``None``; Helm needs ``null`` to delete a chart default, so the values
    are put in here rather than crossing into jsii at construction.
    """

    def __init__(self, scope: Construct, id: str, handle_values: dict[str, Any], **props: Any) -> None:
        if not create_typed(self, flux_helm.HelmReleaseProps, scope, id, props, checked=flux_structs.CHECKED):
            super().__init__(scope, id, **props)
        _register_object(scope, self)
        self._values = handle_values
        self._depends_on: list[HelmReleaseHandle] = []
        self._values_from: list[ValuesFrom] = []

    def to_json(self) -> Any:
        data = super().to_json()
        spec = data["spec"]
        if self._depends_on:
            spec["dependsOn"] = [{"name": dep.release_name, "namespace": dep.namespace} for dep in self._depends_on]
        if self._values_from:
            spec["valuesFrom"] = [entry.to_flux() for entry in self._values_from]
        if self._values:
            spec["values"] = self._values
        return data


def create_helm_release(
    component: PlatformComponent,
    release_name: str,
    chart: ChartPin | tuple[str, ChartRepository],
    *,
    version: str | None,
    values: Mapping[str, Any] | None,
    namespace: str | None,
    depends_on: Sequence[HelmReleaseHandle],
    timeout: str,
    interval: str,
    crds: str,
    disable_wait: bool,
    values_from: Sequence[ValuesFrom] = (),
) -> HelmReleaseHandle:
    """The HelmRelease of :meth:`PlatformComponent.add_helm_release` (arguments and defaults there),
    checked and emitted in ``component``; the caller records the handle."""
    where = f"{path_of(component)}/{release_name}"
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
    if isinstance(values_from, str) or not all(
        isinstance(entry, ValuesFrom) and entry.kind in ("Secret", "ConfigMap") for entry in values_from
    ):
        raise ValidationError(where, "values_from", values_from, "a list of ValuesFrom('Secret'|'ConfigMap', ...)")
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
    release_namespace = namespace if namespace is not None else component.namespace
    if release_namespace is None:
        raise ValidationError(where, "namespace", None, "a namespace (the component has none)")
    check_dns_label(where, "namespace", release_namespace)
    if any(r.release_name == release_name and r.namespace == release_namespace for r in component._releases):
        raise ValidationError(where, "release_name", release_name, "a release name not already used here")
    final_values = check_values(where, "values", values or {})
    chart_props = chart_source(component, where, chart, chart_name, repository, chosen, release_namespace)

    obj = _HelmRelease(
        component,
        f"HelmRelease-{release_namespace}-{release_name}",
        final_values,
        metadata={"name": release_name, "namespace": release_namespace},
        spec=struct(
            flux_helm.HelmReleaseSpec,
            flux_structs.CHECKED,
            release_name=release_name,
            interval=interval,
            timeout=timeout,
            **chart_props,
            install=struct(
                flux_helm.HelmReleaseSpecInstall,
                flux_structs.CHECKED,
                crds=crd_policy[0],
                disable_wait=disable_wait or None,
                remediation=struct(flux_helm.HelmReleaseSpecInstallRemediation, flux_structs.CHECKED, retries=3),
            ),
            upgrade=struct(
                flux_helm.HelmReleaseSpecUpgrade,
                flux_structs.CHECKED,
                crds=crd_policy[1],
                cleanup_on_fail=True,
                disable_wait=disable_wait or None,
                remediation=struct(
                    flux_helm.HelmReleaseSpecUpgradeRemediation,
                    flux_structs.CHECKED,
                    retries=3,
                    remediate_last_failure=True,
                    strategy=flux_helm.HelmReleaseSpecUpgradeRemediationStrategy.ROLLBACK,
                ),
            ),
            rollback=struct(flux_helm.HelmReleaseSpecRollback, flux_structs.CHECKED, cleanup_on_fail=True),
            uninstall=struct(flux_helm.HelmReleaseSpecUninstall, flux_structs.CHECKED, keep_history=False),
            drift_detection=drift_detection(chart_name, final_values, release_namespace, release_name),
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
        values_from=list(values_from),
    )
    obj._depends_on = handle.depends_on
    obj._values_from = handle.values_from
    component._releases.append(handle)
    return handle


def chart_source(
    component: PlatformComponent,
    where: str,
    chart: ChartPin | tuple[str, ChartRepository],
    chart_name: str,
    repository: ChartRepository,
    version: str,
    release_namespace: str,
) -> dict[str, Any]:
    """``spec.chart`` (from a HelmRepository) or ``spec.chartRef`` (to an OCIRepository).

    Follows the enclosing PlatformChart's ``chart_source`` (``helm`` or ``oci``, default
    ``helm``) and ``registry_mirror`` (default none). With ``oci``, charts published as OCI
    artifacts (``ChartPin.oci``) get an OCIRepository; the rest stay on HTTPS. With a mirror,
    every chart comes from it (layout in :mod:`sre_constructs.airgap`).
    """
    chart_source = getattr(component.platform, "chart_source", "helm")
    mirror = getattr(component.platform, "registry_mirror", None)
    sources = ChartSources.of(component)
    # In a Flux tree the sources live in flux-system; alone in a plain chart, beside the release
    # (a team's chart never shares or replaces the platform's sources).
    source_namespace = release_namespace if component.standalone else FLUX_NAMESPACE
    oci_url: str | None = None
    if mirror:
        if chart_source == "oci":
            oci_url = mirror_chart_url(mirror, chart_name)
        else:
            repository = mirror_chart_repository(mirror)
    elif chart_source == "oci" and isinstance(chart, ChartPin) and chart.oci:
        oci_url = chart.oci
    if oci_url is not None:
        name = sources.use_oci(chart_name, oci_url, version, where=where, namespace=source_namespace)
        return {
            "chart_ref": struct(
                flux_helm.HelmReleaseSpecChartRef,
                flux_structs.CHECKED,
                kind=flux_helm.HelmReleaseSpecChartRefKind.OCI_REPOSITORY,
                name=name,
                namespace=source_namespace,
            )
        }
    repo_name = sources.use(repository, where=where, namespace=source_namespace)
    return {
        "chart": struct(
            flux_helm.HelmReleaseSpecChart,
            flux_structs.CHECKED,
            spec=struct(
                flux_helm.HelmReleaseSpecChartSpec,
                flux_structs.CHECKED,
                chart=chart_name,
                version=version,
                interval="12h",
                source_ref=struct(
                    flux_helm.HelmReleaseSpecChartSpecSourceRef,
                    flux_structs.CHECKED,
                    kind=flux_helm.HelmReleaseSpecChartSpecSourceRefKind.HELM_REPOSITORY,
                    name=repo_name,
                    namespace=source_namespace,
                ),
            ),
        )
    }
