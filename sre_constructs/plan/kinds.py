"""What each kind of object needs before Flux can apply it or before it is Ready, and what it provides.

Keys name facts about the cluster, as tuples of strings:

``("crd", group, kind)``            the API server serves that kind
``("ns", name)``                    the Namespace exists
``("exists", kind, ns, name)``      the object exists (Secrets, ConfigMaps, ServiceAccounts, ...)
``("ready", kind, ns, name)``       the object is Ready (kstatus Current)
``("controller", group)``           the controller of a CRD group runs (its release is Ready)
``("serving", ns)``                 some release in that namespace is Ready (its Services answer)
``("remote", store, key)``          a key exists in the backend a SecretStore reads
``("rbac", sa, verb, resource, ns)`` checked against the RBAC objects present (Kyverno's generate rules)

A need is checked either at the server-side dry-run of the object's stage (``dry-run``) or before
the object counts as Ready (``ready``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from ..kernel.facts import chart_facts
from .source import Obj, group_of

__all__ = ["BUILTIN_GROUPS", "Need", "Prov", "needs_of", "provisions_of", "release_key"]

Key = tuple[str, ...]

# Groups the API server serves without any CRD (and Flux's own controllers', installed by bootstrap
# before any tree; the optional controllers' are in OPTIONAL_FLUX_CRDS).
BUILTIN_GROUPS = frozenset(
    {
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "rbac.authorization.k8s.io",
        "networking.k8s.io",
        "storage.k8s.io",
        "scheduling.k8s.io",
        "node.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "certificates.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "resource.k8s.io",
        "source.toolkit.fluxcd.io",
        "kustomize.toolkit.fluxcd.io",
        "helm.toolkit.fluxcd.io",
        "notification.toolkit.fluxcd.io",
        "image.toolkit.fluxcd.io",
    }
)
FLUX_HELM = "helm.toolkit.fluxcd.io"
FLUX_SOURCE = "source.toolkit.fluxcd.io"
KYVERNO = "kyverno.io"
ESO = "external-secrets.io"
CERT_MANAGER = "cert-manager.io"
SOURCE_EXTENSIONS = "source.extensions.fluxcd.io"
OPTIONAL_FLUX_CRDS = {"artifactgenerator": ((SOURCE_EXTENSIONS, "ArtifactGenerator"),)}
"""CRDs of Flux's optional controllers, by the name ``--flux-crds`` takes: there only when named."""


@dataclass(frozen=True)
class Need:
    """One precondition of an object.

    Attributes:
        key: the cluster fact it needs (see the module doc).
        phase: ``dry-run`` (checked when its stage is dry-run), ``install`` (a HelmRelease's
            install: chart source, namespace, dependsOn) or ``ready``.
        why: what needs it and through which field, for messages.
    """

    key: Key
    phase: str
    why: str


@dataclass(frozen=True)
class Prov:
    """A cluster fact an object makes true: on ``apply`` or once it is ``ready``."""

    key: Key
    phase: str


def release_key(obj: Obj) -> Key:
    return ("ready", "HelmRelease", obj.namespace, obj.name)


def describe(key: Key) -> str:
    """A key in words, for messages."""
    kind = key[0]
    if kind == "crd":
        return f"the CRD of {key[1]}/{key[2]}"
    if kind == "ns":
        return f"Namespace {key[1]}"
    if kind in ("exists", "ready"):
        where = f"{key[2]}/{key[3]}" if key[2] else key[3]
        return f"{key[1]} {where}" + (" Ready" if kind == "ready" else "")
    if kind == "controller":
        return f"the {key[1]} controller running"
    if kind == "serving":
        return f"a Ready release serving namespace {key[1]}"
    if kind == "remote":
        return f"key {key[2]} in the backend of {key[1]}"
    if kind == "served":
        return f"webhook {key[1]} served"
    if kind == "rbac":
        resource = key[3].lstrip("/")  # core-group resources read as plain plurals
        return f"RBAC letting {key[1]} {key[2]} {resource} in namespace {key[4]}"
    return " ".join(key)


def _ns_needs(obj: Obj, cluster_scoped: bool) -> list[Need]:
    if cluster_scoped or not obj.namespace:
        return []
    return [Need(("ns", obj.namespace), "dry-run", f"{obj.label} is namespaced")]


def needs_of(obj: Obj, cluster_scoped: bool, facts_ns: dict[str, str]) -> list[Need]:
    """Every need of one object (pods' needs from rendered charts are added by the engine)."""
    needs = _ns_needs(obj, cluster_scoped)
    if obj.group not in BUILTIN_GROUPS:
        needs.append(Need(("crd", obj.group, obj.kind), "dry-run", f"{obj.label} is a {obj.group} custom resource"))
        if obj.group in (CERT_MANAGER, ESO, KYVERNO, "policies.kyverno.io") or obj.group.endswith(".cert-manager.io"):
            needs.append(Need(("controller", obj.group), "ready", f"{obj.label} is reconciled by its controller"))
    spec = obj.spec
    if obj.is_(FLUX_HELM, "HelmRelease"):
        needs.extend(_helm_release_needs(obj))
    elif obj.group == CERT_MANAGER and obj.kind == "Certificate":
        issuer = spec.get("issuerRef") or {}
        kind = str(issuer.get("kind") or "Issuer")
        ns = "" if kind == "ClusterIssuer" else obj.namespace
        needs.append(Need(("ready", kind, ns, str(issuer.get("name"))), "ready", f"{obj.label} spec.issuerRef"))
    elif obj.group == CERT_MANAGER and obj.kind in ("ClusterIssuer", "Issuer"):
        ca = spec.get("ca") or {}
        if ca.get("secretName"):
            ns = obj.namespace or facts_ns.get("cert-manager", "cert-manager")
            needs.append(
                Need(("exists", "Secret", ns, str(ca["secretName"])), "ready", f"{obj.label} spec.ca.secretName")
            )
    elif obj.group == ESO and obj.kind == "ExternalSecret":
        needs.extend(_external_secret_needs(obj))
    elif obj.group == SOURCE_EXTENSIONS and obj.kind == "ArtifactGenerator":
        for source in spec.get("sources") or []:
            if isinstance(source, dict) and source.get("name"):
                ns = str(source.get("namespace") or obj.namespace or "flux-system")
                key = ("ready", str(source.get("kind")), ns, str(source["name"]))
                needs.append(Need(key, "ready", f"{obj.label} source {source.get('alias')!r}"))
    elif obj.group == ESO and obj.kind in ("ClusterSecretStore", "SecretStore"):
        needs.extend(_store_needs(obj))
    elif obj.group == KYVERNO and obj.kind in ("ClusterPolicy", "Policy"):
        background = facts_ns.get("kyverno-background-sa", "kyverno/kyverno-background-controller")
        for rule in spec.get("rules") or []:
            generate = rule.get("generate") if isinstance(rule, dict) else None
            if isinstance(generate, dict) and generate.get("kind"):
                # Kyverno's policy webhook asks the API server (a SubjectAccessReview) whether its
                # background controller may get and create the kind (and update and delete it when
                # synchronize is on), on dry-runs too (kyverno pkg/policy/generate/validate.go).
                target_ns = str(generate.get("namespace") or obj.namespace)
                resource = _resource(str(generate.get("apiVersion") or "v1"), str(generate["kind"]))
                target = f"{generate['kind']} {target_ns}/{generate.get('name')}"
                why = f"{obj.label} rule {rule.get('name')!r} generates {target}"
                verbs = ("get", "create", "update", "delete") if generate.get("synchronize") else ("get", "create")
                for verb in verbs:
                    needs.append(Need(("rbac", background, verb, resource, target_ns), "dry-run", why))
    return needs


def _resource(api_version: str, kind: str) -> str:
    """``group/plural`` as RBAC names it (plural by the usual rule)."""
    plural = kind.lower()
    plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
    return f"{group_of(api_version)}/{plural}"


def _helm_release_needs(obj: Obj) -> list[Need]:
    spec = obj.spec
    needs = []
    chart = (spec.get("chart") or {}).get("spec") or {}
    ref = chart.get("sourceRef") or spec.get("chartRef") or {}
    if ref.get("name"):
        kind = str(ref.get("kind") or "HelmRepository")
        ns = str(ref.get("namespace") or obj.namespace)
        needs.append(Need(("ready", kind, ns, str(ref["name"])), "install", f"{obj.label} chart source"))
    target = str(spec.get("targetNamespace") or obj.namespace)
    if not (spec.get("install") or {}).get("createNamespace"):
        needs.append(Need(("ns", target), "install", f"{obj.label} installs into namespace {target}"))
    storage = spec.get("storageNamespace")
    if storage and storage != target:
        needs.append(Need(("ns", str(storage)), "install", f"{obj.label} keeps its release records in {storage}"))
    for dep in spec.get("dependsOn") or []:
        if isinstance(dep, dict) and dep.get("name"):
            key = ("ready", "HelmRelease", str(dep.get("namespace") or obj.namespace), str(dep["name"]))
            needs.append(Need(key, "install", f"{obj.label} spec.dependsOn"))
    # helm-controller does nothing (no install, no retries spent) until each non-optional source exists.
    for source in spec.get("valuesFrom") or []:
        if isinstance(source, dict) and source.get("name") and not source.get("optional"):
            key = ("exists", str(source.get("kind") or "ConfigMap"), obj.namespace, str(source["name"]))
            needs.append(Need(key, "install", f"{obj.label} spec.valuesFrom"))
    facts = chart_facts(str(chart.get("chart") or release_chart(obj)))
    if facts is not None:
        release = str(spec.get("releaseName") or obj.name)
        for ref_obj in facts.reads(release_values(obj), target, release):
            key = ("exists", ref_obj.kind, ref_obj.namespace, ref_obj.name)
            needs.append(Need(key, "ready", f"{obj.label}: its pods read {ref_obj} (values)"))
    return needs


def release_values(obj: Obj) -> dict[str, Any]:
    """A HelmRelease's ``spec.values`` (``{}`` when absent or not a mapping)."""
    values = obj.spec.get("values")
    return values if isinstance(values, dict) else {}


def release_chart(obj: Obj) -> str:
    """The chart name of a HelmRelease (``spec.chart.spec.chart``, or the OCIRepository's name)."""
    chart = ((obj.spec.get("chart") or {}).get("spec") or {}).get("chart")
    if chart:
        return str(chart)
    ref = obj.spec.get("chartRef") or {}
    return str(ref.get("name") or "")


def release_version(obj: Obj, oci_repositories: Mapping[tuple[str, str], Obj]) -> str:
    """A HelmRelease's chart version: ``spec.chart.spec.version``, or for ``spec.chartRef`` the
    OCIRepository's ``ref.tag`` (else its ``ref.semver``); ``""`` when neither says.

    Args:
        obj: the HelmRelease.
        oci_repositories: the tree's OCIRepositories by ``(namespace, name)``.
    """
    version = ((obj.spec.get("chart") or {}).get("spec") or {}).get("version")
    if version:
        return str(version)
    ref = obj.spec.get("chartRef") or {}
    source = oci_repositories.get((str(ref.get("namespace") or obj.namespace), str(ref.get("name")))) if ref else None
    if source is None:
        return ""
    pinned = source.spec.get("ref") or {}
    return str(pinned.get("tag") or pinned.get("semver") or "")


def _store_ref(obj: Obj) -> tuple[str, str, str]:
    ref = obj.spec.get("secretStoreRef") or {}
    kind = str(ref.get("kind") or "SecretStore")
    return kind, "" if kind == "ClusterSecretStore" else obj.namespace, str(ref.get("name") or "")


def remote_keys(obj: Obj) -> list[tuple[str, list[str]]]:
    """``(key, properties)`` an ExternalSecret reads from its store's backend."""
    found: dict[str, list[str]] = {}
    for item in obj.spec.get("data") or []:
        remote = item.get("remoteRef") if isinstance(item, dict) else None
        if isinstance(remote, dict) and remote.get("key"):
            props = found.setdefault(str(remote["key"]), [])
            if remote.get("property") and remote["property"] not in props:
                props.append(str(remote["property"]))
    for item in obj.spec.get("dataFrom") or []:
        extract = item.get("extract") if isinstance(item, dict) else None
        if isinstance(extract, dict) and extract.get("key"):
            found.setdefault(str(extract["key"]), [])
    return list(found.items())


def _external_secret_needs(obj: Obj) -> list[Need]:
    kind, ns, name = _store_ref(obj)
    needs = [Need(("ready", kind, ns, name), "ready", f"{obj.label} spec.secretStoreRef")]
    for key, _ in remote_keys(obj):
        needs.append(Need(("remote", f"{kind} {name}", key), "ready", f"{obj.label} reads {key!r}"))
    return needs


def _store_needs(obj: Obj) -> list[Need]:
    provider = obj.spec.get("provider") or {}
    needs = []
    vault = provider.get("vault") if isinstance(provider, dict) else None
    if isinstance(vault, dict):
        host = urlparse(str(vault.get("server") or "")).hostname or ""
        parts = host.split(".")
        if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
            needs.append(Need(("serving", parts[1]), "ready", f"{obj.label} spec.provider.vault.server {host}"))
        ca = vault.get("caProvider") or {}
        if ca.get("type") == "Secret" and ca.get("name"):
            ns = str(ca.get("namespace") or obj.namespace)
            needs.append(Need(("exists", "Secret", ns, str(ca["name"])), "ready", f"{obj.label} caProvider"))
    return needs


def provisions_of(obj: Obj) -> list[Prov]:
    """What an object makes true (releases' chart facts are added by the engine)."""
    provs = [Prov(("exists", obj.kind, obj.namespace, obj.name), "apply"), Prov(_ready(obj), "ready")]
    spec = obj.spec
    if obj.group == "" and obj.kind == "Namespace":
        provs.append(Prov(("ns", obj.name), "apply"))
    elif obj.is_("apiextensions.k8s.io", "CustomResourceDefinition"):
        names = spec.get("names") or {}
        provs.append(Prov(("crd", str(spec.get("group")), str(names.get("kind"))), "apply"))
        # A CRD applied as a plain object: its controller is assumed to come with it.
        provs.append(Prov(("controller", str(spec.get("group"))), "ready"))
    elif obj.group == CERT_MANAGER and obj.kind == "Certificate" and spec.get("secretName"):
        provs.append(Prov(("exists", "Secret", obj.namespace, str(spec["secretName"])), "ready"))
    elif obj.group == ESO and obj.kind == "ExternalSecret":
        target = str((spec.get("target") or {}).get("name") or obj.name)
        provs.append(Prov(("exists", "Secret", obj.namespace, target), "ready"))
    elif obj.group == SOURCE_EXTENSIONS and obj.kind == "ArtifactGenerator":
        for artifact in spec.get("artifacts") or []:
            if isinstance(artifact, dict) and artifact.get("name"):
                key = ("ready", "ExternalArtifact", obj.namespace or "flux-system", str(artifact["name"]))
                provs.append(Prov(key, "ready"))
    elif obj.group == KYVERNO and obj.kind in ("ClusterPolicy", "Policy"):
        for rule in spec.get("rules") or []:
            generate = rule.get("generate") if isinstance(rule, dict) else None
            if isinstance(generate, dict) and generate.get("kind") and generate.get("name"):
                ns = str(generate.get("namespace") or obj.namespace)
                provs.append(Prov(("exists", str(generate["kind"]), ns, str(generate["name"])), "ready"))
    return provs


def _ready(obj: Obj) -> Key:
    return ("ready", obj.kind, obj.namespace, obj.name)


# Who creates a workload's pods: the kube-controller-manager controller of its kind.
_CREATORS = {
    "Deployment": "replicaset-controller",
    "ReplicaSet": "replicaset-controller",
    "StatefulSet": "statefulset-controller",
    "DaemonSet": "daemonset-controller",
    "Job": "job-controller",
    "CronJob": "job-controller",
}


@dataclass(frozen=True)
class PodTemplate:
    """A pod as a workload object makes it.

    Attributes:
        where: the workload, for messages.
        metadata: the pod's metadata (labels, annotations) from the template.
        spec: the pod spec.
        creator: the user whose request creates the pod: the controller of the workload's kind
            (``system:serviceaccount:kube-system:<kind>-controller``), or ``""`` for a bare Pod
            (created by whoever applies it).
    """

    where: str
    metadata: dict[str, Any]
    spec: dict[str, Any]
    creator: str


def _decoded(value: Any) -> Any:
    """``value`` as the API server stores a typed object: a ``null`` field is its zero value and
    left out (a chart's empty ``annotations:`` reaches admission as no annotations, not as null)."""
    if isinstance(value, dict):
        return {k: _decoded(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_decoded(v) for v in value if v is not None]
    return value


def pod_templates(obj: Obj) -> Iterable[PodTemplate]:
    """The pod template of a workload object (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob),
    as the API server decodes it (``null`` fields left out)."""
    spec = obj.spec
    templated = (obj.group == "apps" and obj.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")) or (
        obj.group == "batch" and obj.kind == "Job"
    )
    template: Any = None
    if obj.group == "" and obj.kind == "Pod":
        yield PodTemplate(obj.label, _decoded(obj.metadata), _decoded(spec), "")
        return
    if templated:
        template = spec.get("template") or {}
    elif obj.group == "batch" and obj.kind == "CronJob":
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    if isinstance(template, dict):
        creator = f"system:serviceaccount:kube-system:{_CREATORS[obj.kind]}"
        metadata = template.get("metadata") if isinstance(template.get("metadata"), dict) else {}
        yield PodTemplate(obj.label, _decoded(metadata or {}), _decoded(template.get("spec") or {}), creator)
