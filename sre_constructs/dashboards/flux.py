"""Flux's dashboard: is everything Flux reconciles Ready?

Flux is bootstrapped with the cluster, not installed by a chart of ours (its facts are in
:mod:`sre_constructs.services.flux`): readiness comes from kube-state-metrics'
``gotk_resource_info``, durations from the controllers' own metrics.
"""

from __future__ import annotations

from .model import GRID_WIDTH, Panel, Query, Threshold
from .scope import Scope

__all__ = ["flux"]

_RED, _GREEN = Threshold("red"), Threshold("green")


def flux(scope: Scope) -> tuple[Panel, ...]:
    """Flux objects not Ready or suspended, reconcile durations, the controllers up (cluster-wide)."""
    not_ready = 'gotk_resource_info{ready!="True",suspended!="true"}'
    return (
        Panel(
            "Objects not Ready by kind",
            (Query(f"count by (customresource_kind) ({not_ready})", "{{customresource_kind}}"),),
            kind="stat",
            width=GRID_WIDTH,
            thresholds=(_GREEN, Threshold("red", 1)),
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
            thresholds=(_RED, Threshold("green", 1)),
            description="1 per Flux controller pod; 0 means Prometheus cannot scrape it.",
        ),
    )
