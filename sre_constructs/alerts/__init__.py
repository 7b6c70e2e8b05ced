"""The platform's alerts: where each component's rules go (here), ``docs/alerts.md``
(:mod:`.docs_page`) and the files ``promtool`` checks them with (:mod:`.promtool`). The rules
themselves live beside each service (``services/_<service>_alerts.py``).

Each component's alerting rules go into one PrometheusRule per ``platform_component``, applied
only once the PrometheusRule CRD exists.

The CRD comes with kube-prometheus-stack (Monitoring), in the middle of the chain. So:

- a component Flux applies only after Monitoring (it waits on it, directly or through others:
  logging, openbao, external-secrets, runtime-security, backup) carries its PrometheusRule in its
  own folder, in its own namespace: the rule lives and dies with its service, and its Kustomization
  cannot apply before the CRD;
- a component applied before Monitoring (istio, cert-manager, kyverno) and Monitoring itself (Flux's
  rules) put theirs into Monitoring's ``monitoring-config`` companion, like their ServiceMonitors;
  those namespaces exist by then.

The ServiceMonitors and PodMonitors a rule set brings (``RuleSet.monitors``: OpenBao's, Flux's) go
the same way, so a platform without Monitoring gets no monitor whose CRD it lacks.

Without Monitoring nothing evaluates rules, so none are emitted. ``sre-constructs plan`` checks the
placement like any custom resource: a PrometheusRule in a step that does not wait for the CRD's
release is a blocker.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..kernel.alerts import DEFAULT_RUNBOOK_BASE_URL
from ..kernel.component import PlatformComponent

__all__ = ["emit_rules", "waits_for"]


def waits_for(component: PlatformComponent, other: PlatformComponent) -> bool:
    """Whether Flux applies ``component`` only after ``other`` is Ready (through any chain of dependsOn)."""
    seen: set[int] = set()
    stack = list(component.dependencies)
    while stack:
        dep = stack.pop()
        if dep is other:
            return True
        if id(dep) not in seen:
            seen.add(id(dep))
            stack.extend(dep.dependencies)
    return False


def emit_rules(built: Mapping[str, PlatformComponent], runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL) -> None:
    """Emit every enabled component's rule sets as PrometheusRules (none when Monitoring is off).

    Args:
        built: the platform's enabled services by name (``monitoring`` among them, or not).
        runbook_base_url: the address of ``docs/alerts.md``; each rule's ``runbook_url`` is
            ``<base>#<alert name, lowercased>``.
    """
    monitoring = built.get("monitoring")
    if monitoring is None:
        return
    config = getattr(monitoring, "config", None)
    for component in built.values():
        after = component is not monitoring and waits_for(component, monitoring)
        home = component if after else config
        if not isinstance(home, PlatformComponent):
            continue
        for rule_set in component.rule_sets:
            for monitor in rule_set.monitors:
                home.add_manifest(monitor)
            if rule_set.alerts or rule_set.recording:
                home.add_manifest(rule_set.prometheus_rule(runbook_base_url))
