"""A Flux repository as Flux users write one, shaped like fluxcd/flux2-kustomize-helm-example:
``clusters/staging`` with the bootstrap ``flux-system/`` folder (placeholder components) and the
``infrastructure.yaml``/``apps.yaml`` Kustomizations; ``infrastructure/controllers`` and
``infrastructure/configs``; ``apps/base`` with an ``apps/staging`` overlay, delivered through an
ArtifactGenerator (source-watcher) as an ExternalArtifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

FLUX_KS = "kustomize.toolkit.fluxcd.io/v1"
SOURCE = "source.toolkit.fluxcd.io/v1"
HELM = "helm.toolkit.fluxcd.io/v2"


def _ks(name: str, path: str, *, depends: str = "", source: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "interval": "1h",
        "retryInterval": "1m",
        "timeout": "5m",
        "path": path,
        "prune": True,
        "wait": True,
        "sourceRef": source or {"kind": "GitRepository", "name": "flux-system"},
    }
    if depends:
        spec["dependsOn"] = [{"name": depends}]
    return {"apiVersion": FLUX_KS, "kind": "Kustomization", "metadata": {"name": name, "namespace": "flux-system"},
            "spec": spec}  # fmt: skip


def _release(name: str, namespace: str, chart: str, repo: str, version: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": HELM,
        "kind": "HelmRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "interval": "30m",
            "chart": {
                "spec": {"chart": chart, "version": version, "sourceRef": {"kind": "HelmRepository", "name": repo}}
            },
            "install": {"crds": "Create"},
            "values": values,
        },
    }


def _repo(name: str, namespace: str, url: str) -> dict[str, Any]:
    return {"apiVersion": SOURCE, "kind": "HelmRepository", "metadata": {"name": name, "namespace": namespace},
            "spec": {"interval": "24h", "url": url}}  # fmt: skip


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _write(root: Path, rel: str, docs: list[dict[str, Any]] | str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(docs if isinstance(docs, str) else yaml.safe_dump_all(docs, sort_keys=False))


GENERATOR = {
    "apiVersion": "source.extensions.fluxcd.io/v1beta1",
    "kind": "ArtifactGenerator",
    "metadata": {"name": "apps", "namespace": "flux-system"},
    "spec": {
        "sources": [{"alias": "repo", "kind": "GitRepository", "name": "flux-system"}],
        "artifacts": [{"name": "apps-staging", "copy": [{"from": "@repo/apps/**", "to": "@artifact/"}]}],
    },
}


def write_flux_repository(root: Path, *, apps_source: str = "apps-staging") -> Path:
    """Write the repository under ``root``; the apps Kustomization reads ExternalArtifact ``apps_source``."""
    cluster = "clusters/staging"
    _write(root, f"{cluster}/flux-system/gotk-components.yaml", "# Flux's components: written by flux bootstrap\n")
    sync = [
        {"apiVersion": SOURCE, "kind": "GitRepository", "metadata": {"name": "flux-system", "namespace": "flux-system"},
         "spec": {"interval": "1m", "ref": {"branch": "main"}, "url": "ssh://git@github.com/example/fleet"}},
        _ks("flux-system", "./clusters/staging"),
    ]  # fmt: skip
    _write(root, f"{cluster}/flux-system/gotk-sync.yaml", sync)
    _write(root, f"{cluster}/flux-system/kustomization.yaml",
           [{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
             "resources": ["gotk-components.yaml", "gotk-sync.yaml"]}])  # fmt: skip
    _write(root, f"{cluster}/infrastructure.yaml", [
        _ks("infra-controllers", "./infrastructure/controllers"),
        _ks("infra-configs", "./infrastructure/configs", depends="infra-controllers"),
    ])  # fmt: skip
    source = {"kind": "ExternalArtifact", "name": apps_source}
    _write(root, f"{cluster}/apps.yaml", [GENERATOR, _ks("apps", "./staging", depends="infra-configs", source=source)])
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    _write(root, "infrastructure/controllers/cert-manager.yaml", [
        _ns("cert-manager"),
        _repo("jetstack", "cert-manager", "https://charts.jetstack.io"),
        _release("cert-manager", "cert-manager", "cert-manager", "jetstack", "1.x", {"crds": {"enabled": True}}),
    ])  # fmt: skip
    _write(root, "infrastructure/controllers/kustomization.yaml",
           [{**kustomization, "resources": ["cert-manager.yaml"]}])  # fmt: skip
    issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt"},
        "spec": {"acme": {"server": "https://acme-staging-v02.api.letsencrypt.org/directory",
                          "privateKeySecretRef": {"name": "letsencrypt"}, "solvers": [{"http01": {}}]}},
    }  # fmt: skip
    _write(root, "infrastructure/configs/cluster-issuers.yaml", [issuer])
    _write(
        root, "infrastructure/configs/kustomization.yaml", [{**kustomization, "resources": ["cluster-issuers.yaml"]}]
    )
    _write(root, "apps/base/podinfo/namespace.yaml", [_ns("podinfo")])
    _write(
        root,
        "apps/base/podinfo/repository.yaml",
        [_repo("podinfo", "podinfo", "https://stefanprodan.github.io/podinfo")],
    )
    _write(root, "apps/base/podinfo/release.yaml", [_release("podinfo", "podinfo", "podinfo", "podinfo", "6.x", {})])
    _write(root, "apps/base/podinfo/kustomization.yaml",
           [{**kustomization, "namespace": "podinfo",
             "resources": ["namespace.yaml", "repository.yaml", "release.yaml"]}])  # fmt: skip
    _write(root, "apps/staging/kustomization.yaml", [{**kustomization, "resources": ["../base/podinfo"]}])
    return root / cluster
