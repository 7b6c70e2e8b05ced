"""The diff's vocabulary: risk levels, ``--fail-on`` values, actions."""

from __future__ import annotations

__all__ = ["ABSENT", "ACTIONS", "FAIL_ON", "LEVELS"]

LEVELS = ("data-loss", "blocking", "security", "upgrade", "change")
"""Risk levels, worst first: ``data-loss`` (Flux prunes data), ``blocking`` (the API server refuses the
update, or the tree no longer comes up), ``security`` (a control loosened), ``upgrade`` (a chart major
version, a new manual step), ``change`` (the rest)."""

FAIL_ON = ("data-loss", "blocking", "security", "any", "none")
"""Values of ``--fail-on``: the lowest level that fails (``any``: every change, ``none``: never)."""

ACTIONS = ("added", "removed", "orphaned", "changed", "moved")
"""``removed``: Flux prunes it; ``orphaned``: it leaves the tree but stays on the cluster (``prune: false``);
``moved``: renamed, or handed to another Kustomization (one object, not a delete plus an add)."""

ABSENT = "<absent>"
