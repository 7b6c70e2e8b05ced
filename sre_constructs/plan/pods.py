"""Rendered pods, checked as the API server and Kyverno would admit them.

For every pod template (a chart's rendered workloads, or the tree's own): the Secrets, ConfigMaps
and ServiceAccount it reads by name; the Pod Security Standard its namespace enforces
(``pod-security.kubernetes.io/enforce``, the ``latest`` version of the standard); the tree's own
Kyverno ``validate`` rules on Pods (``podSecurity`` and ``pattern``) and ``policies.kyverno.io``
ValidatingPolicies (their CEL, :mod:`.cel`, on the request as its sender makes it); and, with a
mirror, that every image comes from it. Each pod is judged as the mutating webhooks of the tree
leave it (:mod:`.mutation`: Istio's sidecar injector), since those run before any validation.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..kernel.pod_security import BASELINE_CAPABILITIES, LEVELS, RESTRICTED_VOLUMES, SAFE_SYSCTLS
from . import cel
from .kinds import Need, pod_templates
from .mutation import SidecarInjector, mutate
from .source import Obj

__all__ = ["FLUX_APPLIER", "HELM_APPLIER", "PodCheck", "check_pods", "pss_violations"]

FLUX_APPLIER = "system:serviceaccount:flux-system:kustomize-controller"
HELM_APPLIER = "system:serviceaccount:flux-system:helm-controller"

_BASELINE_CAPS = frozenset(BASELINE_CAPABILITIES)
_SAFE_SYSCTLS = frozenset(SAFE_SYSCTLS)
_RESTRICTED_VOLUMES = frozenset(RESTRICTED_VOLUMES)
_LEVELS = LEVELS


@dataclass(frozen=True)
class Violation:
    """One Pod Security control a pod fails."""

    control: str
    image: str
    detail: str


@dataclass
class PodCheck:
    """What one pod template needs, and why it would be refused."""

    where: str
    needs: list[Need] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _containers(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    result = []
    for field_name in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field_name) or []:
            if isinstance(container, dict):
                result.append((field_name, container))
    return result


def pss_violations(spec: Mapping[str, Any], level: str) -> list[Violation]:
    """The Pod Security Standard controls (``latest``) a pod spec fails at ``level``."""
    if level not in ("baseline", "restricted"):
        return []
    found: list[Violation] = []
    pod_ctx = spec.get("securityContext") or {}

    def add(control: str, image: str, detail: str) -> None:
        found.append(Violation(control, image, detail))

    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            add("Host Namespaces", "", f"{host}: true")
    for volume in spec.get("volumes") or []:
        if isinstance(volume, dict) and "hostPath" in volume:
            add("HostPath Volumes", "", f"volume {volume.get('name')} is a hostPath")
    for name, value in ((s.get("name"), s.get("value")) for s in pod_ctx.get("sysctls") or []):
        if name not in _SAFE_SYSCTLS:
            add("Sysctls", "", f"sysctl {name}={value}")
    if (pod_ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
        add("Seccomp", "", "pod seccompProfile Unconfined")
    for _, container in _containers(spec):
        image = str(container.get("image") or "")
        ctx = container.get("securityContext") or {}
        label = f"container {container.get('name')}"
        if ctx.get("privileged"):
            add("Privileged Containers", image, f"{label} is privileged")
        added = set((ctx.get("capabilities") or {}).get("add") or [])
        if added - _BASELINE_CAPS:
            add("Capabilities", image, f"{label} adds {', '.join(sorted(added - _BASELINE_CAPS))}")
        if any(p.get("hostPort") for p in container.get("ports") or [] if isinstance(p, dict)):
            add("Host Ports", image, f"{label} uses a hostPort")
        if ctx.get("procMount") not in (None, "Default"):
            add("/proc Mount Type", image, f"{label} procMount {ctx.get('procMount')}")
        if (ctx.get("seccompProfile") or {}).get("type") == "Unconfined":
            add("Seccomp", image, f"{label} seccompProfile Unconfined")
    if level == "baseline":
        return found
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"} if isinstance(volume, dict) else set()
        if kinds and not kinds <= _RESTRICTED_VOLUMES:
            add("Volume Types", "", f"volume {volume.get('name')} is {', '.join(sorted(kinds))}")
    pod_non_root = pod_ctx.get("runAsNonRoot") is True
    pod_seccomp = (pod_ctx.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
    if pod_ctx.get("runAsUser") == 0:
        add("Running as Non-root user", "", "pod runAsUser 0")
    for _, container in _containers(spec):
        image = str(container.get("image") or "")
        ctx = container.get("securityContext") or {}
        label = f"container {container.get('name')}"
        if ctx.get("allowPrivilegeEscalation") is not False:
            add("Privilege Escalation", image, f"{label} does not set allowPrivilegeEscalation: false")
        if ctx.get("runAsNonRoot") is False or (ctx.get("runAsNonRoot") is not True and not pod_non_root):
            add("Running as Non-root", image, f"{label} does not set runAsNonRoot: true")
        if ctx.get("runAsUser") == 0:
            add("Running as Non-root user", image, f"{label} runAsUser 0")
        seccomp = (ctx.get("seccompProfile") or {}).get("type")
        if not (seccomp in ("RuntimeDefault", "Localhost") or (seccomp is None and pod_seccomp)):
            add("Seccomp", image, f"{label} has no RuntimeDefault seccompProfile")
        caps = ctx.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            add("Capabilities", image, f"{label} does not drop ALL capabilities")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            add("Capabilities", image, f"{label} adds {', '.join(sorted(set(caps['add']) - {'NET_BIND_SERVICE'}))}")
    return found


# -- Kyverno validate rules ---------------------------------------------------------------


def _atom(pattern: str, value: Any) -> bool:
    if pattern.startswith("!"):
        return not _atom(pattern[1:], value)
    text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    if pattern == "?*":
        return text != ""
    return fnmatch.fnmatchcase(text, pattern)


def _match_scalar(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, str):
        return any(all(_atom(part.strip(), value) for part in alt.split("&")) for alt in pattern.split("|"))
    return bool(pattern == value)


def pattern_matches(pattern: Any, value: Any) -> bool:
    """Kyverno's ``validate.pattern`` semantics for the anchors and operators a tree uses here:
    wildcards, ``?*``, ``!``, ``|``, ``&``, the equality anchor ``=(key)`` and negation ``X(key)``."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for raw_key, sub in pattern.items():
            key = str(raw_key)
            if key.startswith("=(") and key.endswith(")"):
                inner = key[2:-1]
                if inner in value and not pattern_matches(sub, value[inner]):
                    return False
            elif key.startswith("X(") and key.endswith(")"):
                if key[2:-1] in value:
                    return False
            elif key not in value or not pattern_matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        return all(any(pattern_matches(p, item) for p in pattern) for item in value)
    return _match_scalar(pattern, value)


def _rule_applies(rule: Mapping[str, Any], namespace: str) -> bool:
    def kinds_of(block: Any) -> list[tuple[list[str], list[str]]]:
        result = []
        for entry in ((block or {}).get("any") or []) + ((block or {}).get("all") or []):
            res = entry.get("resources") or {} if isinstance(entry, dict) else {}
            result.append((list(res.get("kinds") or []), list(res.get("namespaces") or [])))
        res = (block or {}).get("resources")
        if isinstance(res, dict):
            result.append((list(res.get("kinds") or []), list(res.get("namespaces") or [])))
        return result

    matched = any(
        "Pod" in kinds and (not namespaces or any(fnmatch.fnmatchcase(namespace, n) for n in namespaces))
        for kinds, namespaces in kinds_of(rule.get("match"))
    )
    excluded = any(
        namespaces and any(fnmatch.fnmatchcase(namespace, n) for n in namespaces)
        for _, namespaces in kinds_of(rule.get("exclude"))
    )
    return matched and not excluded


def _kyverno_refusals(policy: Obj, pod: Mapping[str, Any], namespace: str) -> list[str]:
    refusals = []
    default_action = policy.spec.get("validationFailureAction", "Audit")
    for rule in policy.spec.get("rules") or []:
        validate = rule.get("validate") if isinstance(rule, dict) else None
        if not isinstance(validate, dict) or not _rule_applies(rule, namespace):
            continue
        if str(validate.get("failureAction") or default_action).lower() != "enforce":
            continue
        security = validate.get("podSecurity")
        if isinstance(security, dict):
            excludes = security.get("exclude") or []
            left = [
                v
                for v in pss_violations(pod.get("spec") or {}, str(security.get("level")))
                if not any(
                    e.get("controlName") == v.control
                    and any(fnmatch.fnmatchcase(v.image, i) for i in e.get("images") or ["*"])
                    for e in excludes
                )
            ]
            if left:
                refusals.append(f"Kyverno {policy.label} rule {rule.get('name')!r} refuses it: {left[0].detail}")
        pattern = validate.get("pattern")
        if pattern is not None and not pattern_matches(pattern, pod):
            refusals.append(f"Kyverno {policy.label} rule {rule.get('name')!r} refuses it: {validate.get('message')}")
    return refusals


# -- the checks ---------------------------------------------------------------------------


def _references(spec: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    """``(kind, name, how)`` of every Secret/ConfigMap/ServiceAccount a pod needs by name."""
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        secret, config = volume.get("secret") or {}, volume.get("configMap") or {}
        if secret.get("secretName") and not secret.get("optional"):
            yield "Secret", str(secret["secretName"]), f"volume {volume.get('name')}"
        if config.get("name") and not config.get("optional"):
            yield "ConfigMap", str(config["name"]), f"volume {volume.get('name')}"
        for source in (volume.get("projected") or {}).get("sources") or []:
            for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                ref = source.get(key) if isinstance(source, dict) else None
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield kind, str(ref["name"]), f"projected volume {volume.get('name')}"
    for _, container in _containers(spec):
        for source in container.get("envFrom") or []:
            for kind, key in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                ref = source.get(key) if isinstance(source, dict) else None
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield kind, str(ref["name"]), f"container {container.get('name')} envFrom"
        for env in container.get("env") or []:
            value_from = env.get("valueFrom") if isinstance(env, dict) else None
            for kind, key in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                ref = (value_from or {}).get(key)
                if isinstance(ref, dict) and ref.get("name") and not ref.get("optional"):
                    yield kind, str(ref["name"]), f"container {container.get('name')} env {env.get('name')}"
    for pull in spec.get("imagePullSecrets") or []:
        if isinstance(pull, dict) and pull.get("name"):
            yield "Secret", str(pull["name"]), "imagePullSecrets"
    account = spec.get("serviceAccountName")
    if account and account != "default":
        yield "ServiceAccount", str(account), "serviceAccountName"


def check_pods(
    docs: Iterable[Obj],
    default_namespace: str,
    namespaces: Mapping[str, Obj],
    policies: Iterable[Obj],
    mirror: str | None,
    owner: str,
    *,
    unpoliced: frozenset[str] = frozenset(),
    tests: bool = False,
    applier: str = FLUX_APPLIER,
    injectors: Sequence[SidecarInjector] = (),
) -> list[PodCheck]:
    """Check every pod template in ``docs``, as admission sees it after the mutating webhooks;
    needs are ``ready`` needs of ``owner``.

    Args:
        unpoliced: namespaces Kyverno's webhooks never see (its own and kube-system).
        tests: also check Helm test hooks (Flux runs them only when a HelmRelease enables tests).
        applier: who sends a bare Pod (a workload's pods come from its controller): Flux's
            kustomize-controller by default, helm-controller for a release, or a tenant's account.
        injectors: the sidecar injectors the tree runs (:func:`~.mutation.injectors_of`).
    """
    policies = [
        p
        for p in policies
        if (p.group == "kyverno.io" and p.kind in ("ClusterPolicy", "Policy"))
        or (p.group == "policies.kyverno.io" and p.kind in cel.KINDS)
    ]
    checks = []
    for doc in docs:
        hooks = str((doc.metadata.get("annotations") or {}).get("helm.sh/hook", ""))
        if not tests and "test" in hooks.split(","):
            continue
        for template in pod_templates(doc):
            where = template.where
            namespace = doc.namespace or default_namespace
            ns_obj = namespaces.get(namespace)
            ns_labels = (ns_obj.metadata.get("labels") or {}) if ns_obj else {}
            spec = mutate(injectors, ns_labels, template.metadata, template.spec)
            label = f"{owner}: {where}" if owner != where else where
            check = PodCheck(label)
            for kind, name, how in _references(spec):
                check.needs.append(
                    Need(("exists", kind, namespace, name), "ready", f"{label} reads {kind} {name} ({how})")
                )
            level = str(ns_labels.get("pod-security.kubernetes.io/enforce", ""))
            if level in _LEVELS:
                for violation in pss_violations(spec, level)[:1]:
                    check.refusals.append(
                        f"namespace {namespace} enforces Pod Security '{level}' and {where} fails "
                        f"'{violation.control}': {violation.detail}"
                    )
            metadata = {**template.metadata, "namespace": namespace}
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
            ns_body = (
                ns_obj.body if ns_obj else {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
            for policy in policies if namespace not in unpoliced else ():
                if policy.kind in ("Policy", "NamespacedValidatingPolicy") and policy.namespace != namespace:
                    continue
                if policy.group == "kyverno.io":
                    check.refusals.extend(_kyverno_refusals(policy, pod, namespace))
                    continue
                verdict = cel.evaluate(
                    policy.body, f"Kyverno {policy.label}", pod, ns_body, template.creator or applier
                )
                check.refusals.extend(f"Kyverno {policy.label} refuses it: {message}" for message in verdict.refusals)
                check.notes.extend(f"{label}: {note}" for note in verdict.notes)
            if mirror:
                for _, container in _containers(spec):
                    image = str(container.get("image") or "")
                    if not image.startswith(mirror.rstrip("/") + "/"):
                        check.refusals.append(
                            f"{where} container {container.get('name')} pulls {image!r}, outside the mirror {mirror}"
                        )
            if check.needs or check.refusals or check.notes:
                checks.append(check)
    return checks
