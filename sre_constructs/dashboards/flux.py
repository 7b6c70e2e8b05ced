"""Flux's dashboard: what it reconciles and whether that is Ready, read from kube-state-metrics'
``gotk_resource_info`` and the controllers' own metrics."""

from __future__ import annotations

from .model import Panel, Query, Threshold
from .scope import GREEN, RED, WIDE, Scope

__all__ = ["flux"]


def flux(scope: Scope) -> tuple[Panel, ...]:
    """The panels of Flux's dashboard."""
    not_ready = 'gotk_resource_info{ready!="True",suspended!="true"}'
    return (
        Panel(
            "Objects not Ready by kind",
            (Query(f"count by (customresource_kind) ({not_ready})", "{{customresource_kind}}"),),
            kind="stat",
            width=WIDE,
            thresholds=(GREEN, Threshold("red", 1)),
            description="0 for every kind; suspended objects are left out.",
        ),
        Panel(
            "Not Ready",
            (Query(not_ready, "{{customresource_kind}} {{exported_namespace}}/{{name}}", instant=True),),
            kind="table",
            description="Empty: each row is a Flux object whose Ready condition is False or Unknown.",
        ),
        Panel(
            "Suspended",
            (
                Query(
                    'gotk_resource_info{suspended="true"}',
                    "{{customresource_kind}} {{exported_namespace}}/{{name}}",
                    instant=True,
                ),
            ),
            kind="table",
            description="Empty outside maintenance: a suspended object is not reconciled.",
        ),
        Panel(
            "Reconcile duration p99 by kind",
            (
                Query(
                    "histogram_quantile(0.99, sum by (le, kind) (rate(gotk_reconcile_duration_seconds_bucket[5m])))",
                    "{{kind}}",
                ),
            ),
            unit="s",
            description="Seconds; a steady climb means slow sources or a chart that times out.",
        ),
        Panel(
            "Controllers up",
            (Query('up{namespace="flux-system"}', "{{pod}}"),),
            thresholds=(RED, Threshold("green", 1)),
            description="1 per Flux controller pod; 0 means Prometheus cannot scrape it.",
        ),
    )
