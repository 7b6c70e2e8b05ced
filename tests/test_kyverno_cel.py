"""The library's CEL ValidatingPolicies, evaluated on pods: they refuse what the Pod Security
Standards refuse (the plan's own ``pss_violations`` as the reference), name the control, exempt
exactly the mesh's istio-init fields, and keep the meaning of the tag and resources checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sre_constructs.plan.cel import evaluate
from sre_constructs.plan.pods import pss_violations
from sre_constructs.services._kyverno_policies import policy_bodies

NAMES = ("pod-security-baseline", "pod-security-restricted", "disallow-latest-tag", "require-requests-limits")
POLICIES = {
    b["metadata"]["name"]: b
    for b in policy_bodies(dict.fromkeys(NAMES, "Enforce"), dict.fromkeys(NAMES, ("kube-system",)), True, False)
}
NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}
CONTAINER = {
    "name": "app",
    "image": "registry.example.com/app:1.0.0",
    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
ISTIO_INIT = {
    "name": "istio-init",
    "image": "registry.example.com/istio/proxyv2:1.30.3",
    "resources": CONTAINER["resources"],
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": False,
        "runAsUser": 0,
        "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def pod(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "apps"},
        "spec": {"containers": [CONTAINER], **spec},
    }


def with_container(**context: Any) -> dict[str, Any]:
    container = copy.deepcopy(CONTAINER)
    container["securityContext"].update(context)
    return pod(containers=[container])


# One pod per control (and a compliant one), each as the Pod Security Standards judge it.
PODS = {
    "compliant": pod(),
    "host network": pod(hostNetwork=True),
    "host pid": pod(hostPID=True),
    "host path": pod(volumes=[{"name": "root", "hostPath": {"path": "/"}}]),
    "unsafe sysctl": pod(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
    "safe sysctl": pod(securityContext={"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]}),
    "privileged": with_container(privileged=True),
    "sys admin": with_container(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    "chown": with_container(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
    "host port": pod(containers=[{**CONTAINER, "ports": [{"containerPort": 80, "hostPort": 80}]}]),
    "proc mount": with_container(procMount="Unmasked"),
    "unconfined": with_container(seccompProfile={"type": "Unconfined"}),
    "escalation": with_container(allowPrivilegeEscalation=True),
    "root": with_container(runAsNonRoot=False),
    "uid 0": with_container(runAsUser=0),
    "no seccomp": pod(
        containers=[{**CONTAINER, "securityContext": {**CONTAINER["securityContext"], "seccompProfile": None}}]
    ),
    "pod seccomp": pod(
        containers=[
            {**CONTAINER, "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
        ],
        securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    ),
    "nfs volume": pod(volumes=[{"name": "share", "nfs": {"server": "nfs", "path": "/"}}]),
    "secret volume": pod(volumes=[{"name": "creds", "secret": {"secretName": "creds"}}]),
}


def refusals(name: str, body: dict[str, Any]) -> list[str]:
    verdict = evaluate(POLICIES[name], name, body, NAMESPACE)
    assert verdict.notes == []
    return verdict.refusals


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    """Drop the ``None`` the table uses for 'unset' (YAML has no such value in a pod)."""
    if isinstance(spec, dict):
        return {k: _clean(v) for k, v in spec.items() if v is not None}
    if isinstance(spec, list):
        return [_clean(v) for v in spec]
    return spec


@pytest.mark.parametrize("case", sorted(PODS))
@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_pod_security_policies_agree_with_the_standard(case: str, level: str) -> None:
    body = _clean(PODS[case])
    expected = pss_violations(body["spec"], level)
    found = refusals(f"pod-security-{level}", body)
    assert bool(found) == bool(expected), (found, expected)
    for violation in expected:
        assert any(f"({violation.control})" in message for message in found), (violation, found)


def test_mesh_init_container_is_exempt_from_exactly_its_fields() -> None:
    meshed = pod(initContainers=[ISTIO_INIT])
    assert refusals("pod-security-restricted", meshed) == []
    assert refusals("pod-security-baseline", meshed) == []
    # The same container under another image is refused; the exemption is not a blanket one.
    other = pod(initContainers=[{**ISTIO_INIT, "image": "registry.example.com/tools/init:1"}])
    assert any("(Running as Non-root)" in m for m in refusals("pod-security-restricted", other))
    privileged = copy.deepcopy(ISTIO_INIT)
    privileged["securityContext"]["privileged"] = True
    privileged["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    found = refusals("pod-security-baseline", pod(initContainers=[privileged]))
    assert any("(Privileged Containers)" in m and "istio-init" in m for m in found), found
    assert any("(Capabilities): istio-init" in m for m in found), found


def test_latest_tag_and_resources_keep_their_meaning() -> None:
    for image, refused in (("app", True), ("app:latest", True), ("app:1.0", False), ("app@sha256:0a1b", False)):
        assert bool(refusals("disallow-latest-tag", pod(containers=[{**CONTAINER, "image": image}]))) is refused, image
    bare = {k: v for k, v in CONTAINER.items() if k != "resources"}
    (message,) = refusals("require-requests-limits", pod(containers=[bare]))
    assert message == "Containers need CPU and memory requests and a memory limit; containers: app"
    # Only regular containers are checked, as before; init containers need no limits.
    assert refusals("require-requests-limits", pod(initContainers=[bare])) == []


def test_exempt_namespace_and_audit_are_not_refusals() -> None:
    kube_system = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}}
    assert evaluate(POLICIES["pod-security-baseline"], "p", pod(hostNetwork=True), kube_system).refusals == []
    audit = policy_bodies(dict.fromkeys(NAMES, "Audit"), dict.fromkeys(NAMES, ()), True, False)[0]
    assert evaluate(audit, "p", pod(hostNetwork=True), NAMESPACE).refusals == []
