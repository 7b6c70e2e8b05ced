"""Every pinned chart and chart repository, in one table.

This is the only place a chart version is written down: services read their defaults from here, the
CLI prints it, and an updater (Renovate's regex manager, or a script) can edit it line by line.
Versions are those of ``shared/reference/platform.md`` (Flux 2.9.4 era).
"""

from __future__ import annotations

from .kernel.charts import ChartPin, ChartRepository

__all__ = ["CHARTS", "FLUX_VERSION", "REPOSITORIES", "ChartPin", "ChartRepository"]

FLUX_VERSION = "2.9.4"


# Repository names are what HelmReleases reference; one per distinct URL.
REPOSITORIES: dict[str, ChartRepository] = {
    repo.name: repo
    for repo in (
        ChartRepository("istio", "https://istio-release.storage.googleapis.com/charts"),
        ChartRepository("jetstack", "https://charts.jetstack.io"),
        ChartRepository("kyverno", "https://kyverno.github.io/kyverno/"),
        ChartRepository("prometheus-community", "https://prometheus-community.github.io/helm-charts"),
        ChartRepository("grafana-community", "https://grafana-community.github.io/helm-charts"),
        ChartRepository("grafana", "https://grafana.github.io/helm-charts"),
        ChartRepository("openbao", "https://openbao.github.io/openbao-helm"),
        ChartRepository("external-secrets", "https://charts.external-secrets.io"),
        ChartRepository("neuvector", "https://neuvector.github.io/neuvector-helm/"),
        ChartRepository("vmware-tanzu", "https://vmware-tanzu.github.io/helm-charts"),
        ChartRepository("oauth2-proxy", "https://oauth2-proxy.github.io/manifests"),
    )
}

_R = REPOSITORIES

# Keyed by "<service>/<chart>" so two services may use charts of the same name.
#
# One pin per line, each under a "# renovate:" comment naming the chart for Renovate's regex manager
# (datasource helm, the HTTPS repository as registryUrl): the version is the second string of the
# ChartPin line below the comment. Keep that shape when adding a pin.
CHARTS: dict[str, ChartPin] = {
    f"{pin.service}/{pin.chart}": pin
    for pin in (
        # renovate: datasource=helm depName=base registryUrl=https://istio-release.storage.googleapis.com/charts
        ChartPin("base", "1.30.3", _R["istio"], "istio", "oci://gcr.io/istio-release/charts/base"),
        # renovate: datasource=helm depName=istiod registryUrl=https://istio-release.storage.googleapis.com/charts
        ChartPin("istiod", "1.30.3", _R["istio"], "istio", "oci://gcr.io/istio-release/charts/istiod"),
        # renovate: datasource=helm depName=gateway registryUrl=https://istio-release.storage.googleapis.com/charts
        ChartPin("gateway", "1.30.3", _R["istio"], "istio", "oci://gcr.io/istio-release/charts/gateway"),
        # renovate: datasource=helm depName=cert-manager registryUrl=https://charts.jetstack.io
        ChartPin("cert-manager", "v1.21.1", _R["jetstack"], "cert-manager", "oci://quay.io/jetstack/charts/cert-manager"),
        # renovate: datasource=helm depName=kyverno registryUrl=https://kyverno.github.io/kyverno/
        ChartPin("kyverno", "3.9.0", _R["kyverno"], "kyverno", "oci://ghcr.io/kyverno/charts/kyverno"),
        # renovate: datasource=helm depName=kube-prometheus-stack registryUrl=https://prometheus-community.github.io/helm-charts
        ChartPin("kube-prometheus-stack", "88.5.3", _R["prometheus-community"], "monitoring", "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack"),
        # renovate: datasource=helm depName=loki registryUrl=https://grafana-community.github.io/helm-charts
        ChartPin("loki", "18.11.0", _R["grafana-community"], "logging", "oci://ghcr.io/grafana-community/helm-charts/loki"),
        # renovate: datasource=helm depName=alloy registryUrl=https://grafana.github.io/helm-charts
        ChartPin("alloy", "1.11.1", _R["grafana"], "logging"),
        # renovate: datasource=helm depName=openbao registryUrl=https://openbao.github.io/openbao-helm
        ChartPin("openbao", "0.29.2", _R["openbao"], "openbao", "oci://ghcr.io/openbao/charts/openbao"),
        # renovate: datasource=helm depName=external-secrets registryUrl=https://charts.external-secrets.io
        ChartPin("external-secrets", "2.9.0", _R["external-secrets"], "external-secrets", "oci://ghcr.io/external-secrets/charts/external-secrets"),
        # renovate: datasource=helm depName=core registryUrl=https://neuvector.github.io/neuvector-helm/
        ChartPin("core", "2.11.0", _R["neuvector"], "runtime-security"),
        # renovate: datasource=helm depName=velero registryUrl=https://vmware-tanzu.github.io/helm-charts
        ChartPin("velero", "12.1.0", _R["vmware-tanzu"], "backup"),
        # renovate: datasource=helm depName=oauth2-proxy registryUrl=https://oauth2-proxy.github.io/manifests
        ChartPin("oauth2-proxy", "10.7.0", _R["oauth2-proxy"], "oauth2-proxy", "oci://ghcr.io/oauth2-proxy/charts/oauth2-proxy"),
    )
}
