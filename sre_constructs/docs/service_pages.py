"""The service pages, ``docs/services/<service>.md``: one per core service, from the code.

Each page is built from data only: the service class docstring (what it deploys, its knobs), the
constructor signature (types and defaults, cross-checked against the docstring: a knob missing on
either side is an error, see :mod:`.knobs`), and a default ``CorePlatform`` synthesized in memory
(the objects of every file, the HelmReleases, Pod Security, network needs, health checks and Flux
``dependsOn``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..kernel.component import HelmReleaseHandle, PlatformComponent
from ..kernel.network import NetworkNeed, Peer
from ..kernel.tree import render_tree
from ..platform import SERVICES, CorePlatform, ServiceSpec
from ._markdown import GENERATED, code, md, table
from .knobs import DocsError, check_knobs, split_docstring

__all__ = ["render_pages"]

_BASELINE_NOTE = (
    "Every namespace the component owns starts at default-deny for ingress and egress (`default-deny`), "
    "then allows DNS to kube-system and traffic between pods of the same namespace (`allow-baseline`). "
    "Each row below opens one more path."
)


def _ref(obj: Mapping[str, Any]) -> str:
    """``Kind namespace/name`` (or ``Kind name`` when cluster-scoped)."""
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta.get("name"))
    return f"{obj.get('kind')} {code(where)}"


def _labels(labels: Mapping[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (labels or {}).items())


def _peer(peer: Peer) -> str:
    """A peer in words, then its selector."""
    if peer.cidr is not None:
        selector = f"addresses {code(peer.cidr)}"
    elif peer.namespace == "*":
        selector = "any namespace"
    elif peer.namespace is not None:
        selector = f"namespace {code(peer.namespace)}"
    else:
        selector = "this namespace"
    if peer.pod_labels:
        selector += f", pods {code(_labels(peer.pod_labels))}"
    return f"{peer.description or 'peer'} ({selector})"


def _ports(need: NetworkNeed) -> str:
    return ", ".join(f"{p.port}/{p.protocol}" for p in need.ports) if need.ports else "all"


# --------------------------------------------------------------------------- the default platform


@dataclass
class _Synth:
    """A default platform and its rendered files, parsed."""

    platform: CorePlatform
    files: dict[str, list[dict[str, Any]]]
    repositories: dict[str, str]


def _synth(services: Mapping[str, Mapping[str, Any]] | None = None) -> _Synth:
    # Imported here, after this package (which chooses jsii's Node) is loaded.
    from cdk8s import App

    platform = CorePlatform(App(), "core", services=services)
    files = {
        path: [doc for doc in yaml.safe_load_all(data) if doc is not None]
        for path, data in render_tree(platform).items()
    }
    # Every chart source of the tree (HelmRepository, OCIRepository), by name.
    repositories = {
        doc["metadata"]["name"]: doc["spec"]["url"]
        for path, docs in files.items()
        if path.startswith("sources/")
        for doc in docs
    }
    return _Synth(platform, files, repositories)


def _companions(platform: CorePlatform, component: PlatformComponent) -> list[PlatformComponent]:
    """Components a service created beside itself (``add_companion``): ``<name>-<suffix>``, depending on it."""
    return [
        c
        for c in platform.components
        if c is not component
        and type(c) is PlatformComponent
        and c.node.id.startswith(component.node.id + "-")
        and component in c.dependencies
    ]


def _folder_lines(synth: _Synth, component: PlatformComponent) -> list[str]:
    """Every file of the component's folder with the objects it holds."""
    lines: list[str] = []
    prefix = f"{component.name}/"
    for path in sorted(p for p in synth.files if p.startswith(prefix) and p != prefix + "kustomization.yaml"):
        objects = ", ".join(_ref(doc) for doc in synth.files[path])
        lines.append(f"- `{synth.platform.tree_path}/{path}`: {objects}")
    return lines


def _flux_lines(synth: _Synth, component: PlatformComponent) -> list[str]:
    """The component's Flux Kustomization, in short."""
    doc = synth.files[f"components/{component.name}.yaml"][0]
    spec = doc["spec"]
    depends = ", ".join(code(d["name"]) for d in spec.get("dependsOn", [])) or "none"
    return [
        (
            f"- Flux Kustomization {code(doc['metadata']['name'])} in `{synth.platform.tree_path}/components/"
            f"{component.name}.yaml`: path {code(spec['path'])}, wait {code(str(spec['wait']).lower())}, "
            f"timeout {code(spec['timeout'])}, interval {code(spec['interval'])}, dependsOn {depends}"
        ),
    ]


def _component_release(component: PlatformComponent, name: str, namespace: str) -> HelmReleaseHandle:
    """The component's HelmRelease handle with this name and namespace."""
    return next(r for r in component.releases if r.release_name == name and r.namespace == namespace)


def _release_rows(synth: _Synth, component: PlatformComponent) -> list[list[str]]:
    rows: list[list[str]] = []
    for doc in synth.files.get(f"{component.name}/helmrelease.yaml", []):
        depends = ", ".join(code(d["name"]) for d in doc["spec"].get("dependsOn", [])) or "-"
        release = _component_release(component, doc["metadata"]["name"], doc["metadata"]["namespace"])
        # spec.chart names a HelmRepository; spec.chartRef an OCIRepository (one per chart artifact).
        ref = doc["spec"]["chart"]["spec"]["sourceRef"] if "chart" in doc["spec"] else doc["spec"]["chartRef"]
        source = ref["name"]
        rows.append(
            [
                code(doc["metadata"]["name"]),
                code(doc["metadata"]["namespace"]),
                code(release.chart),
                code(release.version),
                f"{code(source)} {synth.repositories.get(source, '')}".strip(),
                depends,
            ]
        )
    return rows


def _elsewhere_lines(synth: _Synth, component: PlatformComponent, own: Sequence[PlatformComponent]) -> list[str]:
    """Objects in this service's namespaces that other components ship (e.g. its ServiceMonitors)."""
    owned = set(component.owned_namespaces)
    mine = {c.name for c in own}
    lines: list[str] = []
    for other in synth.platform.components:
        if other.name in mine:
            continue
        for path in sorted(p for p in synth.files if p.startswith(f"{other.name}/")):
            for doc in synth.files[path]:
                if (doc.get("metadata") or {}).get("namespace") in owned:
                    lines.append(f"- {_ref(doc)} in `{synth.platform.tree_path}/{path}` (component {code(other.name)})")
    return lines


# --------------------------------------------------------------------------- one page


def _page(spec: ServiceSpec, synth: _Synth, checks: Mapping[str, list[dict[str, Any]]]) -> str:
    """The Markdown page of one service."""
    cls = spec.construct
    component = getattr(synth.platform, spec.attribute)
    assert isinstance(component, PlatformComponent)
    description, _, trailing = split_docstring(cls)
    knobs = check_knobs(cls)
    for knob in knobs:
        # A ``version`` of None means the pin: the documented version must be what is emitted.
        if knob.name == "version" and knob.default not in (None, "none") and component.releases:
            emitted = component.releases[0].version
            if knob.default != emitted:
                raise DocsError(
                    f"{cls.__module__}.{cls.__name__}: knob 'version': documented default {knob.default!r}, "
                    f"emitted chart version {emitted!r}"
                )
    companions = _companions(synth.platform, component)
    tree = synth.platform.tree_path

    out: list[str] = [f"# {spec.name}", "", GENERATED, ""]
    out += [
        (
            f"Construct: `sre_constructs.{cls.__name__}` ({code(cls.__module__)}); in `CorePlatform` it is "
            f'`core.{spec.attribute}` and its settings go in `services={{"{spec.name}": {{...}}}}`.'
        ),
        "",
        md(description),
        "",
    ]
    if trailing:
        out += [md(trailing), ""]

    out += [
        "## Knobs",
        "",
        (
            "All keyword arguments. Types and defaults come from the constructor signature, "
            "cross-checked with the docstring."
        ),
        "",
    ]
    rows = []
    for knob in knobs:
        default = (
            "none"
            if knob.default == "none"
            else (code(knob.default) if knob.default is not None else "see description")
        )
        rows.append([code(knob.name), code(knob.annotation), default, md(knob.text)])
    out += table(["knob", "type", "default", "description"], rows)
    out.append("")

    out += [
        "## What it emits",
        "",
        f'With default settings, in the tree `CorePlatform(App(), "core")` writes to `{tree}/`.',
        "",
    ]
    out += ["### Flux", "", *_flux_lines(synth, component), ""]
    out += ["### Files", "", *_folder_lines(synth, component), ""]
    release_rows = _release_rows(synth, component)
    if release_rows:
        out += ["### HelmReleases", ""]
        out += table(["release", "namespace", "chart", "version", "repository", "dependsOn"], release_rows)
        out.append("")
    for companion in companions:
        out += [
            f"### Companion `{companion.name}`",
            "",
            (
                "Custom resources whose CRDs this service's charts install, applied by their own Flux "
                "Kustomization once the service is Ready."
            ),
            "",
        ]
        out += _flux_lines(synth, companion) + _folder_lines(synth, companion) + [""]
    elsewhere = _elsewhere_lines(synth, component, [component, *companions])
    if elsewhere:
        out += [
            "### Shipped by other components",
            "",
            (
                "Objects in this service's namespaces that another component applies (their CRDs "
                "come later in the chain)."
            ),
            "",
            *elsewhere,
            "",
        ]

    out += ["## Security posture", "", "### Pod Security", ""]
    out += table(
        ["namespace", "level", "reason"],
        [[code(ns), code(ps.level), ps.reason or "-"] for ns, ps in component.pod_security.items()],
    )
    out += ["", "### Network", "", _BASELINE_NOTE, ""]
    needs = component.network_needs
    if needs:
        out += table(
            ["namespace", "policy", "direction", "peer", "ports", "local pods"],
            [
                [
                    code(ns),
                    code(f"allow-{need.name}"),
                    need.direction,
                    "; ".join(_peer(p) for p in need.peers),
                    _ports(need),
                    code(_labels(need.pods)) if need.pods else "all",
                ]
                for ns, need in needs
            ],
        )
    else:
        out.append("No further paths.")
    out.append("")

    out += [
        "## Health checks",
        "",
        (
            "With the default `wait=True` Flux waits for every applied object. With `wait=False` the "
            f"Flux Kustomization `{component.flux_name}` checks these instead:"
        ),
        "",
    ]
    health = checks.get(component.name, [])
    out += (
        table(
            ["kind", "namespace/name", "apiVersion"],
            [[c["kind"], code(f"{c['namespace']}/{c['name']}"), code(c["apiVersion"])] for c in health],
        )
        if health
        else ["None."]
    )
    out.append("")

    out += ["## Flux dependsOn", "", "In the default platform (edges point in install order):", ""]
    waited_by: dict[str, list[str]] = {}
    for other in synth.platform.components:
        for dep in other.dependencies:
            waited_by.setdefault(dep.name, []).append(other.name)
    for member in [component, *companions]:
        after = ", ".join(code(d.flux_name) for d in member.dependencies) or "nothing"
        before = ", ".join(code(n) for n in waited_by.get(member.name, [])) or "nothing"
        out.append(f"- {code(member.flux_name)} waits for {after}; waited for by {before}.")
    out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_pages() -> dict[str, str]:
    """Every service page, by file name (``istio.md``, ...), from a default CorePlatform.

    Returns:
        The Markdown text of each page, in SERVICES order.

    Raises:
        DocsError: a service's docstring and signature disagree.
    """
    synth = _synth()
    # Health checks as Flux sees them with wait off: a second platform with wait=False everywhere.
    no_wait = _synth({spec.name: {"wait": False} for spec in SERVICES})
    checks = {
        path[len("components/") : -len(".yaml")]: docs[0]["spec"].get("healthChecks", [])
        for path, docs in no_wait.files.items()
        if path.startswith("components/")
    }
    return {f"{spec.name}.md": _page(spec, synth, checks) for spec in SERVICES}
