"""The platform overview: one screen that says whether the platform is healthy, and where it is not."""

from __future__ import annotations

from .data_services import sealed_count
from .model import Dashboard, Panel, Query, Threshold
from .scope import GREEN, RED, Scope

__all__ = ["overview"]


def overview(scope: Scope) -> Dashboard:
    """Each component's Flux readiness, firing alerts by component and the signals a person checks first.

    A panel whose service is disabled is left out (its query would only ever show "No data").
    """
    names = "|".join(sorted(scope.flux_names.values()))
    panels = [
        Panel(
            "Components Ready (Flux Kustomizations)",
            (
                Query(
                    f'max by (name) (gotk_resource_info{{customresource_kind="Kustomization",name=~"{names}",'
                    'ready="True"}) or max by (name) (0 * gotk_resource_info{customresource_kind="Kustomization",'
                    f'name=~"{names}"}})',
                    "{{name}}",
                    instant=True,
                ),
            ),
            kind="stat",
            width=24,
            mappings=((0, "not ready"), (1, "ready")),
            thresholds=(RED, Threshold("green", 1)),
            description="1 when the component's Kustomization is Ready (kube-state-metrics' gotk_resource_info).",
        ),
        Panel(
            "Firing alerts by component",
            (
                Query(
                    'sum by (platform_component, severity) (ALERTS{alertstate="firing",platform_component!=""})',
                    "{{platform_component}} {{severity}}",
                    instant=True,
                ),
            ),
            kind="bargauge",
            width=24,
            thresholds=(GREEN, Threshold("orange", 1)),
            description="Empty when healthy; a bar per component and severity that is alerting.",
        ),
    ]
    enabled = scope.namespaces
    if "cert-manager" in enabled:
        panels.append(
            Panel(
                "Soonest certificate expiry",
                (Query("min(certmanager_certificate_expiration_timestamp_seconds > 0) - time()"),),
                kind="stat",
                width=6,
                unit="dtdurations",
                thresholds=(RED, Threshold("orange", 7 * 86400), Threshold("green", 21 * 86400)),
                description=(
                    "Time until the first certificate expires; cert-manager renews at two thirds of its"
                    " life, so weeks, not days."
                ),
            )
        )
    if "backup" in enabled:
        panels.append(
            Panel(
                "Oldest last successful backup",
                (Query('max(time() - velero_backup_last_successful_timestamp{schedule!=""})'),),
                kind="stat",
                width=6,
                unit="dtdurations",
                thresholds=(GREEN, Threshold("orange", 86400 * 1.5), Threshold("red", 86400 * 2)),
                description="Age of the stalest schedule's last success; under a day for daily schedules.",
            )
        )
    if "openbao" in enabled:
        panels.append(
            Panel(
                "OpenBao nodes sealed",
                (Query(sealed_count(scope.ns("openbao"))),),
                kind="stat",
                width=6,
                thresholds=(GREEN, Threshold("red", 1)),
                description="0. A sealed node serves no secrets until it is unsealed (one restarted sealed reports no "
                "seal gauge: it counts through its scrape).",
            )
        )
    if "external-secrets" in enabled:
        panels.append(
            Panel(
                "ExternalSecrets failing to sync",
                (Query('sum(externalsecret_status_condition{condition="Ready",status="False"} == 1) or vector(0)'),),
                kind="stat",
                width=6,
                thresholds=(GREEN, Threshold("red", 1)),
                description="0. Each failing ExternalSecret keeps a stale Secret (or none).",
            )
        )
    return Dashboard(
        uid="sre-platform-overview",
        title="Platform / Overview",
        panels=tuple(panels),
        component="platform-overview",
        description="Is the platform healthy, and where is it not?",
    )
