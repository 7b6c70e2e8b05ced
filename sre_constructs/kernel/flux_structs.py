"""Whether the Flux objects' jsii structs are built with or without jsii's argument checks."""

from __future__ import annotations

from cdk8s import ApiObjectMetadata

from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import helm as flux_helm
from sre_constructs._imports.sre_constructs_flux.io.fluxcd.toolkit import kustomize as flux_kustomize

from .manifest import structs_unchecked_ok

__all__ = ["CHECKED"]

# jsii's generated struct constructors re-check every argument with typeguard. The Flux objects of a
# component are built from values checked here (or built here), so they skip those checks (see
# manifest.struct), unless this jsii lays its structs out differently (then CHECKED is True).
# Users read it as ``flux_structs.CHECKED`` when they build, so one switch covers them all.
CHECKED = not structs_unchecked_ok(
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
