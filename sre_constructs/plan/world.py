"""What the simulation knows before Flux starts: every object's needs and provisions, each
release's chart facts, the pod checks, the manual steps and the cluster Flux was bootstrapped on.

:func:`build_world` reads the units once; the rounds (:mod:`.engine`) and the diagnosis
(:mod:`.diagnose`) only read the :class:`World` it returns.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ..kernel.facts import ManualStep, Webhook, chart_facts
from .kinds import (
    BUILTIN_GROUPS,
    FLUX_HELM,
    OPTIONAL_FLUX_CRDS,
    Key,
    Need,
    Prov,
    needs_of,
    provisions_of,
    release_chart,
    release_values,
)
from .manual import manual_steps_for
from .mutation import injectors_of
from .pods import FLUX_APPLIER, HELM_APPLIER, PodCheck, check_pods
from .source import BOOTSTRAP_SOURCES, CLUSTER_SCOPED, FLUX_KUSTOMIZE, Obj, Unit

__all__ = ["BOOTSTRAP_SOURCES", "CLUSTER", "MANUAL", "PRE_EXISTING_NAMESPACES", "Release", "World", "build_world"]


PRE_EXISTING_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "flux-system")
CLUSTER = "<cluster>"
"""Who provides what the cluster has before any tree is applied."""
MANUAL = "<manual>"
"""Who provides what a person gives by hand."""


@dataclass
class Release:
    """A HelmRelease and what its chart brings: on install, once Ready, and its webhooks."""

    obj: Obj
    unit: str
    install: list[Prov]
    ready: list[Prov]
    webhooks: list[tuple[Webhook, Key]]

    @property
    def target(self) -> str:
        """The namespace the release installs into."""
        return str(self.obj.spec.get("targetNamespace") or self.obj.namespace)

    @property
    def name(self) -> str:
        """The Helm release name."""
        return str(self.obj.spec.get("releaseName") or self.obj.name)


@dataclass
class World:
    """The units and every fact about them the simulation reads (nothing here changes while it runs).

    Attributes:
        units: what each Flux Kustomization applies.
        rendered: helm template output per ``(namespace, release)``, or ``None``.
        needs: per object (by ``id``), what it needs; provs: what it provides.
        releases: per HelmRelease (by ``id``), its chart's facts.
        parent: per Flux Kustomization, the unit that applies it.
        manual: each manual step, the keys it waits for, the key it provides.
        preexisting: what the cluster has before any tree: its namespaces, the bootstrap sources.
        sources: per Flux Kustomization, the key of its ``sourceRef`` being Ready.
        health: per ``(unit, health check)``, the object (by ``id``: one of the tree's, or the
            release rendering it) whose readiness is the check's, or ``None`` with why nothing is.
        notes: what the preparation could not model.
    """

    units: list[Unit]
    rendered: Mapping[tuple[str, str], list[Obj]] | None
    notes: list[str] = field(default_factory=list)
    parent: dict[str, str] = field(default_factory=dict)
    cluster_scoped: set[tuple[str, str]] = field(default_factory=lambda: set(CLUSTER_SCOPED))
    unpoliced: frozenset[str] = frozenset({"kube-system"})
    aggregations: list[tuple[str, str, str]] = field(default_factory=list)  # (label, value, "ns/account")
    context: dict[str, str] = field(default_factory=dict)
    needs: dict[int, list[Need]] = field(default_factory=dict)
    provs: dict[int, list[Prov]] = field(default_factory=dict)
    releases: dict[int, Release] = field(default_factory=dict)
    pod_checks: list[PodCheck] = field(default_factory=list)
    manual: list[tuple[ManualStep, tuple[Key, ...], Key]] = field(default_factory=list)
    preexisting: dict[Key, str] = field(default_factory=dict)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: dict[str, Key] = field(default_factory=dict)
    health: dict[tuple[str, tuple[str, str, str]], tuple[int | None, str]] = field(default_factory=dict)

    def objects(self) -> list[Obj]:
        """Every object the units apply."""
        return [obj for unit in self.units for obj in unit.objects]

    def provided_keys(self) -> set[Key]:
        """Every key something in the tree provides (at any phase)."""
        keys = {p.key for provs in self.provs.values() for p in provs}
        for release in self.releases.values():
            keys |= {p.key for p in release.install + release.ready}
        return keys


def build_world(
    units: list[Unit],
    rendered: Mapping[tuple[str, str], list[Obj]] | None,
    mirror: str | None,
    bootstrap: Iterable[str] = BOOTSTRAP_SOURCES,
    flux_crds: Iterable[str] = (),
) -> World:
    """Read the units once: needs, provisions, releases, pods, manual steps, the bootstrapped cluster.

    ``bootstrap``: the sources the cluster has before any tree (``NAME`` or ``NAMESPACE/NAME``;
    the namespace defaults to ``flux-system``). ``flux_crds``: the optional Flux controllers
    installed with Flux (keys of :data:`~.kinds.OPTIONAL_FLUX_CRDS`), whose CRDs are there too.
    """
    world = World(units, rendered)
    for unit in units:
        for obj in unit.objects:
            if obj.is_(FLUX_KUSTOMIZE, "Kustomization"):
                world.parent[f"{obj.namespace or 'flux-system'}/{obj.name}"] = unit.name
            if obj.is_("apiextensions.k8s.io", "CustomResourceDefinition") and obj.spec.get("scope") == "Cluster":
                world.cluster_scoped.add((str(obj.spec.get("group")), str((obj.spec.get("names") or {}).get("kind"))))
            if obj.group == "" and obj.kind == "Namespace":
                world.namespace_labels[obj.name] = obj.metadata.get("labels") or {}
    _read_context(world)
    for unit in units:
        for obj in unit.objects:
            scoped = (obj.group, obj.kind) in world.cluster_scoped or not obj.namespace
            world.needs[id(obj)] = needs_of(obj, scoped, world.context)
            world.provs[id(obj)] = provisions_of(obj)
            if obj.is_(FLUX_HELM, "HelmRelease"):
                world.releases[id(obj)] = _release(world, obj, unit.name)
    _check_pods(world, mirror)
    provided = world.provided_keys()
    world.manual = manual_steps_for(units, provided) + _chart_manual_steps(world)
    for ns in PRE_EXISTING_NAMESPACES:
        world.preexisting[("ns", ns)] = CLUSTER
    for name in flux_crds:
        for group, kind in OPTIONAL_FLUX_CRDS[name]:
            world.preexisting[("crd", group, kind)] = CLUSTER
    given = {name if "/" in name else f"flux-system/{name}" for name in bootstrap}
    for unit in units:
        if unit.kustomization is None:
            continue
        ref = unit.kustomization.spec.get("sourceRef") or {}
        namespace = str(ref.get("namespace") or unit.kustomization.namespace or "flux-system")
        key = ("ready", str(ref.get("kind") or "GitRepository"), namespace, str(ref.get("name")))
        world.sources[unit.name] = key
        if f"{namespace}/{ref.get('name')}" in given:  # the repositories Flux was bootstrapped with
            world.preexisting[key] = CLUSTER
        for check in unit.health_checks:
            world.health[(unit.name, check)] = _health_target(world, unit, check)
    return world


def source_hint(world: World, key: Key) -> str:
    """Why a source nothing in the tree defines is missing, with the closest name that exists."""
    kind, namespace, name = key[1], key[2], key[3]
    names = [o.name for o in world.objects() if o.kind == kind and o.namespace == namespace]
    # Sources made by the tree (an ArtifactGenerator's ExternalArtifacts) or by bootstrap.
    made = world.provided_keys() | set(world.preexisting)
    names += [k[3] for k in made if k[0] == "ready" and tuple(k[1:3]) == (kind, namespace)]
    close = difflib.get_close_matches(name, sorted(set(names)), n=1)
    hint = f"; did you mean {kind} {namespace}/{close[0]}?" if close else ""
    return (
        f"nothing in the tree defines it, and Flux's bootstrap provides flux-system only (name another "
        f"with --bootstrap-source){hint}"
    )


def _produced(world: World, release: Release) -> set[tuple[str, str, str]] | None:
    """``(kind, namespace, name)`` of the workloads a release renders: exactly with rendered charts,
    else as its chart's facts declare them; ``None`` when neither tells."""
    docs = None if world.rendered is None else world.rendered.get((release.target, release.name))
    if docs is not None:
        return {(d.kind, d.namespace or release.target, d.name) for d in docs}
    facts = chart_facts(release_chart(release.obj))
    if facts is None or facts.workloads is None:
        return None
    made = facts.workloads(release_values(release.obj), release.target, release.name)
    return {(ref.kind, ref.namespace, ref.name) for ref in made}


def _health_target(world: World, unit: Unit, check: tuple[str, str, str]) -> tuple[int | None, str]:
    """What a health check waits for: the tree's object, else the release that renders it.

    A release whose workloads the plan cannot know (an unknown chart, not rendered) is taken at its
    word, with a note; a check nothing produces is ``None`` with the likely target of a typo.
    """
    kind, namespace, name = check
    for obj in world.objects():
        if (obj.kind, obj.namespace, obj.name) == check:
            return id(obj), ""
    releases = sorted(world.releases.values(), key=lambda r: r.unit != unit.name)  # its own first
    candidates = [o.name for o in world.objects() if o.kind == kind and o.namespace == namespace]
    unverified = None
    for release in releases:
        produced = _produced(world, release)
        if produced is None:
            if release.target == namespace and unverified is None:
                unverified = release
            continue
        if check in produced:
            return id(release.obj), ""
        candidates += [n for k, ns, n in produced if (k, ns) == (kind, namespace)]
    if unverified is not None:
        world.notes.append(
            f"Kustomization {unit.name}: health check {kind} {namespace}/{name} is taken as a workload of "
            f"{unverified.obj.label}, whose chart's workloads the plan does not know (pass --charts to check it)"
        )
        return id(unverified.obj), ""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1)
    hint = f"; did you mean {kind} {namespace}/{close[0]}?" if close else ""
    return None, f"nothing in the tree or its charts produces {kind} {namespace}/{name}{hint}"


def _read_context(world: World) -> None:
    """What other objects' needs depend on: where Kyverno and cert-manager run, aggregated roles."""
    for obj in world.objects():
        if not obj.is_(FLUX_HELM, "HelmRelease"):
            continue
        chart = release_chart(obj)
        target = str(obj.spec.get("targetNamespace") or obj.namespace)
        facts = chart_facts(chart)
        for key, value, account in facts.aggregated_roles if facts else ():
            world.aggregations.append((key, value, f"{target}/{account}"))
        if chart == "kyverno":
            world.context["kyverno-background-sa"] = f"{target}/kyverno-background-controller"
            # Kyverno's resource webhooks skip its own namespace and kube-system.
            world.unpoliced = frozenset({target, "kube-system"})
        elif chart == "cert-manager":
            world.context["cert-manager"] = target


def _release(world: World, obj: Obj, unit: str) -> Release:
    target = str(obj.spec.get("targetNamespace") or obj.namespace)
    name = str(obj.spec.get("releaseName") or obj.name)
    values = release_values(obj)
    install: list[Prov] = []
    ready = [Prov(("serving", target), "ready")]
    webhooks: list[tuple[Webhook, Key]] = []
    facts = chart_facts(release_chart(obj))
    rendered = None if world.rendered is None else world.rendered.get((target, name))
    if facts is None and rendered is None:
        world.notes.append(
            f"{obj.label}: chart {release_chart(obj)!r} is not one the library knows; its CRDs, webhooks "
            "and the Secrets its pods read are not modelled (pass --rendered or --charts)"
        )
    if facts is not None:
        for crd in facts.crds:
            group, _, kind = crd.partition("/")
            install.append(Prov(("crd", group, kind), "install"))
            ready.append(Prov(("controller", group), "ready"))
        for hook in facts.webhooks:
            webhooks.append((hook, ("served", f"{obj.namespace}/{obj.name}", hook.name)))
        # Controllers (and hook Jobs) make these while the release installs, before its pods are Ready.
        for made in facts.creates_at_runtime(values, target, name):
            install.append(Prov(("exists", made.kind, made.namespace, made.name), "install"))
    for doc in rendered or ():
        namespace = doc.namespace or ("" if (doc.group, doc.kind) in world.cluster_scoped else target)
        install.append(Prov(("exists", doc.kind, namespace, doc.name), "install"))
        if doc.is_("apiextensions.k8s.io", "CustomResourceDefinition"):
            names = doc.spec.get("names") or {}
            install.append(Prov(("crd", str(doc.spec.get("group")), str(names.get("kind"))), "install"))
            ready.append(Prov(("controller", str(doc.spec.get("group"))), "ready"))
    ready.extend(Prov(hook_key, "ready") for _, hook_key in webhooks)
    return Release(obj, unit, install, ready, webhooks)


def _applier(obj: Obj | None, default: str) -> str:
    """Who Flux sends a Kustomization's or HelmRelease's objects as: its service account, if named."""
    account = obj.spec.get("serviceAccountName") if obj is not None else None
    return f"system:serviceaccount:{obj.namespace or 'flux-system'}:{account}" if obj and account else default


def _check_pods(world: World, mirror: str | None) -> None:
    """Rendered pods of each release (with charts) and the tree's own workloads."""
    kyverno_groups = ("kyverno.io", "policies.kyverno.io")
    objects = world.objects()
    policies = [obj for obj in objects if obj.group in kyverno_groups]
    namespaces = {obj.name: obj for obj in objects if obj.group == "" and obj.kind == "Namespace"}
    injectors = injectors_of(objects)
    for key, release in world.releases.items():
        docs = None if world.rendered is None else world.rendered.get((release.target, release.name))
        if docs is None:
            continue
        obj = release.obj
        own = {("exists", d.kind, d.namespace or release.target, d.name) for d in docs}
        for check in check_pods(
            docs,
            release.target,
            namespaces,
            policies,
            mirror,
            obj.label,
            unpoliced=world.unpoliced,
            tests=bool((obj.spec.get("test") or {}).get("enable")),
            applier=_applier(obj, HELM_APPLIER),
            injectors=injectors,
        ):
            world.pod_checks.append(check)
            world.notes.extend(check.notes)
            for need in check.needs:
                if need.key not in own:
                    world.needs[key].append(need)
            for problem in check.refusals:
                world.needs[key].append(Need(("admitted", check.where), "ready", problem))
        for doc in docs:
            if doc.group not in BUILTIN_GROUPS and not doc.is_("apiextensions.k8s.io", "CustomResourceDefinition"):
                world.needs[key].append(Need(("crd", doc.group, doc.kind), "ready", f"{obj.label} renders {doc.label}"))
    for unit in world.units:
        applier = _applier(unit.kustomization, FLUX_APPLIER)
        for obj in unit.objects:
            for check in check_pods(
                [obj],
                obj.namespace,
                namespaces,
                policies,
                mirror,
                obj.label,
                unpoliced=world.unpoliced,
                applier=applier,
                injectors=injectors,
            ):
                world.pod_checks.append(check)
                world.notes.extend(check.notes)
                world.needs[id(obj)].extend(check.needs)
                for problem in check.refusals:
                    world.needs[id(obj)].append(Need(("admitted", check.where), "ready", problem))


def _chart_manual_steps(world: World) -> list[tuple[ManualStep, tuple[Key, ...], Key]]:
    """Inputs the charts' facts name (a seal key Secret, a KMS key): given once the namespace exists."""
    steps: list[tuple[ManualStep, tuple[Key, ...], Key]] = []
    for release in world.releases.values():
        facts = chart_facts(release_chart(release.obj))
        if facts is None:
            continue
        for step in facts.manual_inputs(release_values(release.obj), release.target, release.name):
            provided = [("exists", ref.kind, ref.namespace, ref.name) for ref in step.provides]
            key: Key = provided[0] if provided else ("manual", step.command)
            after = step.after or f"namespace {release.target} exists"
            steps.append((replace(step, after=after), (("ns", release.target),), key))
    return steps
