"""Whether anyone is told: a note when Alertmanager has no receiver that reaches a person.

Read from the written tree like the rest of the plan: each kube-prometheus-stack HelmRelease's
``alertmanager.config`` (absent: the chart's default, every alert to ``null``), plus the receivers of
any AlertmanagerConfig objects. A receiver reaches someone when it has at least one ``*_configs``
entry and a route other than the Watchdog heartbeat leads to it. A note, not a blocker: a platform
without receivers comes up fine; it just tells no one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .kinds import FLUX_HELM, release_chart, release_values
from .source import Unit

__all__ = ["alert_delivery_notes"]

_CHART = "kube-prometheus-stack"


def _has_configs(receiver: Mapping[str, Any]) -> bool:
    return any(key.endswith("_configs") and value for key, value in receiver.items())


def _routed(route: Mapping[str, Any], found: set[str]) -> None:
    """Receivers a route tree leads to, leaving out routes matching only the Watchdog alert."""
    matchers = [str(m).replace(" ", "") for m in route.get("matchers") or ()]
    match = route.get("match") or {}
    if matchers == ['alertname="Watchdog"'] or (isinstance(match, Mapping) and match == {"alertname": "Watchdog"}):
        return
    if route.get("receiver"):
        found.add(str(route["receiver"]))
    for child in route.get("routes") or ():
        if isinstance(child, Mapping):
            _routed(child, found)


def _reaches_someone(config: Mapping[str, Any]) -> bool:
    receivers = [r for r in config.get("receivers") or () if isinstance(r, Mapping)]
    route = config.get("route")
    routed: set[str] = set()
    if isinstance(route, Mapping):
        _routed(route, routed)
    return any(_has_configs(r) and str(r.get("name")) in routed for r in receivers)


def alert_delivery_notes(units: list[Unit]) -> list[str]:
    """One note per Alertmanager whose alerts reach no one (none when every one has a receiver)."""
    custom = any(
        obj.group == "monitoring.coreos.com" and obj.kind == "AlertmanagerConfig" and obj.spec.get("receivers")
        for unit in units
        for obj in unit.objects
    )
    notes = []
    for unit in units:
        for obj in unit.objects:
            if not obj.is_(FLUX_HELM, "HelmRelease") or release_chart(obj) != _CHART:
                continue
            section = release_values(obj).get("alertmanager") or {}
            if not isinstance(section, Mapping) or section.get("enabled", True) is False:
                continue
            spec = section.get("alertmanagerSpec") or {}
            if isinstance(spec, Mapping) and (spec.get("useExistingSecret") or spec.get("configSecret")):
                continue  # configured outside the tree: nothing to read
            config = section.get("config")
            if custom or (isinstance(config, Mapping) and _reaches_someone(config)):
                continue
            notes.append(
                f"{obj.label}: Alertmanager has no receiver, so alerts reach no one; give the platform "
                "`alerting:` receivers and routes (docs/alerting.md)"
            )
    return notes
