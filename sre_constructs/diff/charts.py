"""``--charts``: what each HelmRelease's rendered objects become, object by object.

Every HelmRelease of both sides is rendered with ``helm template`` (:mod:`sre_constructs.plan.charts`,
the plan's renderer: its values, its chart at its version from the folder); where its chart,
version or values moved and the rendered output differs, its objects are matched and compared like
the tree's, so a values change shows the Deployment fields it moves. A release whose inputs did
not move is not compared: two renders of one chart differ wherever it makes random values
(Grafana's admin password, generated certificates), which the cluster keeps. Helm deletes what a chart no longer
renders on upgrade, so every rendered object that disappears is ``removed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..plan.charts import Rendered
from ..plan.kinds import FLUX_HELM, release_chart, release_version
from ..plan.source import CLUSTER_SCOPED, Obj
from .match import match
from .model import ObjectChange
from .read import Identity, Snapshot, identity

__all__ = ["rendered_changes"]


def _releases(side: Snapshot) -> dict[tuple[str, str], tuple[str, Obj]]:
    found = {}
    for unit, obj in side.objects.values():
        if obj.is_(FLUX_HELM, "HelmRelease"):
            key = (str(obj.spec.get("targetNamespace") or obj.namespace), str(obj.spec.get("releaseName") or obj.name))
            found[key] = (unit, obj)
    return found


def _inputs(side: Snapshot) -> dict[tuple[str, str], tuple[str, str, Any]]:
    """What ``helm template`` renders each release from: its chart, version and values."""
    oci = {(o.namespace, o.name): o for _, o in side.objects.values() if o.kind == "OCIRepository"}
    return {
        key: (release_chart(obj), release_version(obj, oci), obj.spec.get("values") or {})
        for key, (_, obj) in _releases(side).items()
    }


def _side(objects: list[Obj], namespace: str, unit: str) -> dict[Identity, tuple[str, Obj]]:
    out: dict[Identity, tuple[str, Obj]] = {}
    for obj in objects:
        if not obj.namespace and (obj.group, obj.kind) not in CLUSTER_SCOPED and not obj.kind.startswith("Cluster"):
            obj = Obj({**obj.body, "metadata": {**obj.metadata, "namespace": namespace}}, obj.file)
        out.setdefault(identity(obj), (unit, obj))
    return out


def rendered_changes(
    old: Snapshot, new: Snapshot, old_rendered: Mapping[tuple[str, str], list[Obj]], new_rendered: Rendered
) -> tuple[list[ObjectChange], list[str]]:
    """The changes of the rendered objects of every release whose rendered output differs, and a
    note per release on both sides rendered on one side only (its chart missing from the folder)."""
    old_releases, new_releases = _releases(old), _releases(new)
    old_inputs, new_inputs = _inputs(old), _inputs(new)
    changes: list[ObjectChange] = []
    notes: list[str] = []
    for key in sorted(set(old_rendered) | set(new_rendered)):
        before, after = old_rendered.get(key, []), new_rendered.get(key, [])
        if [o.body for o in before] == [o.body for o in after]:
            continue
        if key in old_inputs and old_inputs.get(key) == new_inputs.get(key):
            continue  # same chart, version and values: what differs is the chart's randomness
        unit, release = new_releases.get(key) or old_releases[key]
        if key in old_releases and key in new_releases and (key not in old_rendered or key not in new_rendered):
            side = "old" if key not in old_rendered else "new"
            notes.append(
                f"{release.label}: its {side} chart is not in the charts folder; rendered objects not compared"
            )
            continue
        old_unit = old_releases[key][0] if key in old_releases else unit
        changes += match(
            _side(before, key[0], old_unit), _side(after, key[0], unit), lambda _unit: True, via=release.label
        )
    return changes, notes
