"""Kubernetes label selectors (``matchLabels`` and ``matchExpressions``), as the API server reads them.

One operator table for the plan: admission policies' ``namespaceSelector``/``objectSelector``
(:mod:`.cel`) and the selectors of Prometheus Operator resources (:mod:`.scrapes`, which judges
only the keys an exporter's labels name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["requirement_holds", "selector_matches"]


def requirement_holds(requirement: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether one ``matchExpressions`` entry selects ``labels`` (an unknown operator: no)."""
    key, operator = str(requirement.get("key")), str(requirement.get("operator"))
    values = [str(v) for v in requirement.get("values") or []]
    return {
        "In": key in labels and labels[key] in values,
        "NotIn": key not in labels or labels[key] not in values,
        "Exists": key in labels,
        "DoesNotExist": key not in labels,
    }.get(operator, False)


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Whether a label selector selects ``labels`` (an empty or missing selector selects all)."""
    if not selector:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    return all(requirement_holds(r, labels) for r in selector.get("matchExpressions") or [])
