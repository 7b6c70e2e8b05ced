"""NeuVector's alerting rules (facts of :mod:`.runtime_security`).

The core chart exports no metrics (NeuVector 5.6.0 has no Prometheus endpoint; the exporter is a
separate chart we do not install): its rules read kube-state-metrics' workload series.
"""

from __future__ import annotations

from ..kernel.alerts import AlertRule

__all__ = ["ALERTS"]

ALERTS: tuple[AlertRule, ...] = ()
