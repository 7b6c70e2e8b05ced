"""Flux on an empty cluster, simulated: what comes up, in which order, and what would block forever.

The model follows kustomize-controller and helm-controller:

- A Flux Kustomization starts once every ``dependsOn`` target is Ready. It applies its objects in
  stages (fluxcd/pkg ``ssa.ApplyAllStaged``): CustomResourceDefinitions, Namespaces and
  ClusterRoles; then ``*Class`` kinds; then everything else. Each stage is server-side dry-run as
  a whole before any of it is applied, so one refused object keeps its whole stage (and every
  later stage) out of the cluster, at every retry.
- With ``wait: true`` it is Ready when every applied object is Ready (health checks are ignored);
  otherwise when its ``healthChecks`` are Ready; with neither, once applied.
- A HelmRelease installs once its chart source, namespace and ``dependsOn`` releases are there;
  the install brings the chart's CRDs and webhook configurations; it is Ready once every Secret
  and ConfigMap its pods read exists and its pods are admitted.

Flux retries failed applies, so the simulation runs in rounds until nothing changes: whatever is
not Ready then would block forever. Separately, every need must be met by the Kustomization itself
(an earlier stage, or its own objects for readiness), by what it depends on, or by what applied it:
a need met only by an unrelated Kustomization works by the luck of a retry, and is reported too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..kernel.facts import ManualStep, Webhook, chart_facts
from .kinds import BUILTIN_GROUPS, FLUX_HELM, Key, Need, Prov, needs_of, provisions_of, release_chart, release_values
from .manual import manual_steps_for
from .model import STAGES, Blocker, Outcome, stage_of
from .pods import PodCheck, check_pods
from .run import run
from .source import CLUSTER_SCOPED, Obj, Unit

__all__ = ["STAGES", "Blocker", "Outcome", "simulate", "stage_of"]

PRE_EXISTING_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "flux-system")
_CLUSTER = "<cluster>"


@dataclass
class _Release:
    obj: Obj
    unit: str
    install: list[Prov]
    ready: list[Prov]
    webhooks: list[tuple[Webhook, Key]]
    rendered_needs: list[Need]


class _Sim:
    def __init__(self, units: list[Unit], rendered: Mapping[tuple[str, str], list[Obj]] | None, mirror: str | None):
        self.units = units
        self.by_name = {u.name: u for u in units}
        self.rendered = rendered
        self.mirror = mirror
        self.notes: list[str] = []
        self.blockers: list[Blocker] = []
        self.have: dict[Key, str] = {}
        self.applied: set[int] = set()
        self.ready: set[int] = set()
        self.owner: dict[int, str] = {}
        self.parent: dict[str, str] = {}
        self.cluster_scoped = set(CLUSTER_SCOPED)
        for unit in units:
            for obj in unit.objects:
                self.owner[id(obj)] = unit.name
                if obj.is_("kustomize.toolkit.fluxcd.io", "Kustomization"):
                    self.parent[f"{obj.namespace or 'flux-system'}/{obj.name}"] = unit.name
                if obj.is_("apiextensions.k8s.io", "CustomResourceDefinition") and obj.spec.get("scope") == "Cluster":
                    self.cluster_scoped.add(
                        (str(obj.spec.get("group")), str((obj.spec.get("names") or {}).get("kind")))
                    )
        self.unpoliced: frozenset[str] = frozenset({"kube-system"})
        self.aggregations: list[tuple[str, str, str]] = []  # (label key, value, "namespace/service account")
        self.context = self._context()
        self.needs: dict[int, list[Need]] = {}
        self.provs: dict[int, list[Prov]] = {}
        self.releases: dict[int, _Release] = {}
        self.pod_checks: list[PodCheck] = []
        for unit in units:
            for obj in unit.objects:
                scoped = (obj.group, obj.kind) in self.cluster_scoped or not obj.namespace
                self.needs[id(obj)] = needs_of(obj, scoped, self.context)
                self.provs[id(obj)] = provisions_of(obj)
                if obj.is_(FLUX_HELM, "HelmRelease"):
                    self.releases[id(obj)] = self._release(obj, unit.name)
        self._pods()
        self.manual = manual_steps_for(units, self._provided_keys()) + self._chart_manual_steps()
        for ns in PRE_EXISTING_NAMESPACES:
            self.have[("ns", ns)] = _CLUSTER
        for unit in units:  # the repositories Flux itself was bootstrapped with
            if unit.kustomization is not None:
                ref = unit.kustomization.spec.get("sourceRef") or {}
                key = ("ready", str(ref.get("kind")), str(ref.get("namespace") or "flux-system"), str(ref.get("name")))
                if key not in self._provided_keys():
                    self.have.setdefault(key, _CLUSTER)

    # -- preparation -------------------------------------------------------------------------

    def _context(self) -> dict[str, str]:
        context: dict[str, str] = {}
        for unit in self.units:
            for obj in unit.objects:
                if obj.is_(FLUX_HELM, "HelmRelease"):
                    chart = release_chart(obj)
                    target = str(obj.spec.get("targetNamespace") or obj.namespace)
                    facts = chart_facts(chart)
                    for key, value, account in facts.aggregated_roles if facts else ():
                        self.aggregations.append((key, value, f"{target}/{account}"))
                    if chart == "kyverno":
                        context["kyverno-background-sa"] = f"{target}/kyverno-background-controller"
                        # Kyverno's resource webhooks skip its own namespace and kube-system.
                        self.unpoliced = frozenset({target, "kube-system"})
                    elif chart == "cert-manager":
                        context["cert-manager"] = target
        return context

    def _release(self, obj: Obj, unit: str) -> _Release:
        target = str(obj.spec.get("targetNamespace") or obj.namespace)
        release = str(obj.spec.get("releaseName") or obj.name)
        values = release_values(obj)
        install: list[Prov] = []
        ready = [Prov(("serving", target), "ready")]
        webhooks: list[tuple[Webhook, Key]] = []
        facts = chart_facts(release_chart(obj))
        rendered = None if self.rendered is None else self.rendered.get((target, release))
        if facts is None and rendered is None:
            self.notes.append(
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
            for made in facts.creates_at_runtime(values, target, release):
                install.append(Prov(("exists", made.kind, made.namespace, made.name), "install"))
        for doc in rendered or ():
            namespace = doc.namespace or ("" if (doc.group, doc.kind) in self.cluster_scoped else target)
            install.append(Prov(("exists", doc.kind, namespace, doc.name), "install"))
            if doc.is_("apiextensions.k8s.io", "CustomResourceDefinition"):
                names = doc.spec.get("names") or {}
                install.append(Prov(("crd", str(doc.spec.get("group")), str(names.get("kind"))), "install"))
                ready.append(Prov(("controller", str(doc.spec.get("group"))), "ready"))
        ready.extend(Prov(hook_key, "ready") for _, hook_key in webhooks)
        return _Release(obj, unit, install, ready, webhooks, [])

    def _pods(self) -> None:
        """Rendered pods of each release (with charts) and the tree's own workloads."""
        kyverno_groups = ("kyverno.io", "policies.kyverno.io")
        policies = [obj for unit in self.units for obj in unit.objects if obj.group in kyverno_groups]
        namespaces = {
            obj.name: obj for unit in self.units for obj in unit.objects if obj.group == "" and obj.kind == "Namespace"
        }
        for key, release in self.releases.items():
            obj = release.obj
            target = str(obj.spec.get("targetNamespace") or obj.namespace)
            docs = (
                None
                if self.rendered is None
                else self.rendered.get((target, str(obj.spec.get("releaseName") or obj.name)))
            )
            if docs is None:
                continue
            own = {("exists", d.kind, d.namespace or target, d.name) for d in docs}
            tests = bool((obj.spec.get("test") or {}).get("enable"))
            for check in check_pods(
                docs, target, namespaces, policies, self.mirror, obj.label, unpoliced=self.unpoliced, tests=tests
            ):
                self.pod_checks.append(check)
                self.notes.extend(check.notes)
                for need in check.needs:
                    if need.key not in own:
                        self.needs[key].append(need)
                for problem in check.refusals:
                    self.needs[key].append(Need(("admitted", check.where), "ready", problem))
            for doc in docs:
                if doc.group not in BUILTIN_GROUPS and not doc.is_("apiextensions.k8s.io", "CustomResourceDefinition"):
                    self.needs[key].append(
                        Need(("crd", doc.group, doc.kind), "ready", f"{obj.label} renders {doc.label}")
                    )
        for unit in self.units:
            for obj in unit.objects:
                for check in check_pods(
                    [obj], obj.namespace, namespaces, policies, self.mirror, obj.label, unpoliced=self.unpoliced
                ):
                    self.pod_checks.append(check)
                    self.notes.extend(check.notes)
                    self.needs[id(obj)].extend(check.needs)
                    for problem in check.refusals:
                        self.needs[id(obj)].append(Need(("admitted", check.where), "ready", problem))

    def _chart_manual_steps(self) -> list[tuple[ManualStep, tuple[Key, ...], Key]]:
        """Inputs the charts' facts name (a seal key Secret, a KMS key): given once the namespace exists."""
        steps: list[tuple[ManualStep, tuple[Key, ...], Key]] = []
        for release in self.releases.values():
            facts = chart_facts(release_chart(release.obj))
            if facts is None:
                continue
            target = str(release.obj.spec.get("targetNamespace") or release.obj.namespace)
            name = str(release.obj.spec.get("releaseName") or release.obj.name)
            for step in facts.manual_inputs(release_values(release.obj), target, name):
                provided = [("exists", ref.kind, ref.namespace, ref.name) for ref in step.provides]
                key: Key = provided[0] if provided else ("manual", step.command)
                after = step.after or f"namespace {target} exists"
                steps.append((replace(step, after=after), (("ns", target),), key))
        return steps

    def _provided_keys(self) -> set[Key]:
        keys = {p.key for provs in self.provs.values() for p in provs}
        for release in self.releases.values():
            keys |= {p.key for p in release.install + release.ready}
        return keys

    # -- the cluster's state -----------------------------------------------------------------

    def satisfied(self, key: Key) -> bool:
        if key[0] == "crd" and key[1] in BUILTIN_GROUPS:
            return True
        if key[0] == "rbac":
            return self._rbac(key)
        return key in self.have

    def _rbac(self, key: Key) -> bool:
        """Whether the RBAC objects in the cluster let a service account do ``verb`` on ``resource``."""
        sa, verb, resource, ns = key[1], key[2], key[3], key[4]
        sa_ns, _, sa_name = sa.partition("/")
        group, _, plural = resource.partition("/")
        roles = {}
        for obj in self._applied_objects():
            if obj.group == "rbac.authorization.k8s.io" and obj.kind in ("Role", "ClusterRole"):
                roles[(obj.kind, obj.namespace if obj.kind == "Role" else "", obj.name)] = obj
                labels = obj.metadata.get("labels") or {}
                aggregated = any(labels.get(k) == v and account == sa for k, v, account in self.aggregations)
                if obj.kind == "ClusterRole" and aggregated and _allows(obj, verb, group, plural):
                    return True  # aggregated into a ClusterRole the chart binds to the account
        for binding in self._applied_objects():
            if binding.group != "rbac.authorization.k8s.io" or binding.kind not in (
                "RoleBinding",
                "ClusterRoleBinding",
            ):
                continue
            if binding.kind == "RoleBinding" and binding.namespace != ns:
                continue
            subjects = binding.body.get("subjects") or []
            if not any(
                s.get("kind") == "ServiceAccount"
                and s.get("name") == sa_name
                and s.get("namespace", binding.namespace) == sa_ns
                for s in subjects
            ):
                continue
            ref = binding.body.get("roleRef") or {}
            role_ns = binding.namespace if ref.get("kind") == "Role" else ""
            role = roles.get((str(ref.get("kind")), role_ns, str(ref.get("name"))))
            if role is not None and _allows(role, verb, group, plural):
                return True
        return False

    def _applied_objects(self) -> list[Obj]:
        return [obj for unit in self.units for obj in unit.objects if id(obj) in self.applied]

    def provide(self, provs: list[Prov], phases: tuple[str, ...], by: str) -> bool:
        changed = False
        for prov in provs:
            if prov.phase in phases and prov.key not in self.have:
                self.have[prov.key] = by
                changed = True
        return changed


def _allows(role: Obj, verb: str, group: str, plural: str) -> bool:
    for rule in role.body.get("rules") or []:
        if not isinstance(rule, dict):
            continue
        groups, resources, verbs = rule.get("apiGroups") or [], rule.get("resources") or [], rule.get("verbs") or []
        if (
            (group in groups or "*" in groups)
            and (plural in resources or "*" in resources)
            and (verb in verbs or "*" in verbs)
        ):
            return True
    return False


def simulate(
    units: list[Unit],
    *,
    rendered: Mapping[tuple[str, str], list[Obj]] | None = None,
    mirror: str | None = None,
    known: Mapping[str, Any] | None = None,
) -> Outcome:
    """Run Flux on an empty cluster over ``units``; see the module doc.

    Args:
        units: what each Flux Kustomization applies (:func:`~sre_constructs.plan.source.load_units`).
        rendered: helm template output per release, by ``(namespace, release name)``; ``None``
            skips the pod checks.
        mirror: the registry every image must come from, if any.
        known: Flux Kustomizations of other trees already Ready on the cluster (``--with``).
    """
    return run(_Sim(units, rendered, mirror), known or {})
