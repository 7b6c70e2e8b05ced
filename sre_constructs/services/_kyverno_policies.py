"""The platform's baseline Kyverno policies, as ``policies.kyverno.io/v1`` ValidatingPolicies (CEL).

Kyverno's CEL policy types have no ``podSecurity`` sub-rule (v1.19 offers no Pod Security library
in CEL either), so the Pod Security Standards (``latest``, the controls Kyverno's ``podSecurity`` checked) are
written out here, one ``validation`` per control, each naming the control and the offending
containers in its message. Every expression uses standard CEL, optional field selection
(``?.``, ``orValue``) and the strings extension (``join``), all of which Kyverno's CEL
environment has; the bring-up plan evaluates them (``sre_constructs.plan.cel``).

Every policy matches Pods on CREATE and UPDATE; Kyverno's autogen (default: every pod
controller) rewrites it for Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and
ReplicaSets, except ``disallow-latest-tag`` (Pods only). Exempt namespaces are a
``namespaceSelector`` on ``kubernetes.io/metadata.name`` (autogen keeps it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.pod_security import BASELINE_CAPABILITIES, RESTRICTED_VOLUMES, SAFE_SYSCTLS

__all__ = [
    "DISALLOW_LATEST",
    "MESH_IMAGE_REGEX",
    "PSS_BASELINE",
    "PSS_RESTRICTED",
    "REQUIRE_RESOURCES",
    "RUN_AS_NON_ROOT",
    "policy_bodies",
]

PSS_BASELINE = "pod-security-baseline"
PSS_RESTRICTED = "pod-security-restricted"
DISALLOW_LATEST = "disallow-latest-tag"
REQUIRE_RESOURCES = "require-requests-limits"
RUN_AS_NON_ROOT = "require-run-as-non-root"

# Istio's injected istio-init (proxyv2 image; Kyverno image patterns */proxyv2:* and */proxyv2@*).
MESH_IMAGE_REGEX = "/proxyv2[:@]"
_BASELINE_CAPS = list(BASELINE_CAPABILITIES)
_MESH_CAPS = ["NET_ADMIN", "NET_RAW"]
_SAFE_SYSCTLS = list(SAFE_SYSCTLS)
_SELINUX_TYPES = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"]
_RESTRICTED_VOLUMES = list(RESTRICTED_VOLUMES)
_ACTIONS = {"Enforce": ["Deny"], "Audit": ["Audit"]}


def _cel_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def _each(containers: str, ok: str, what: str) -> dict[str, str]:
    """A validation that every container of ``containers`` satisfies ``ok`` (over ``c``), whose
    message names the ones that do not."""
    failing = f"{containers}.filter(c, !({ok})).map(c, c.name).join(', ')"
    return {"expression": f"{containers}.all(c, {ok})", "messageExpression": f'"{what}: " + {failing}'}


def _pod(ok: str, message: str) -> dict[str, str]:
    return {"expression": ok, "message": message}


def _variables(mesh: bool) -> list[dict[str, str]]:
    inits = "object.spec.?initContainers.orValue([])"
    others = f"{inits}.filter(c, !c.image.matches('{MESH_IMAGE_REGEX}'))" if mesh else inits
    mesh_inits = f"{inits}.filter(c, c.image.matches('{MESH_IMAGE_REGEX}'))" if mesh else "[]"
    return [
        # Every container but the mesh's istio-init (checked by the exempted rules below).
        {
            "name": "containers",
            "expression": f"object.spec.containers + object.spec.?ephemeralContainers.orValue([]) + {others}",
        },
        {"name": "meshInits", "expression": mesh_inits},
        {"name": "allContainers", "expression": "variables.containers + variables.meshInits"},
        {"name": "podContext", "expression": "object.spec.?securityContext.orValue({})"},
    ]


def _baseline(mesh: bool) -> list[dict[str, str]]:
    ctx = "c.?securityContext"
    pod = "variables.podContext"
    added = f"{ctx}.?capabilities.?add.orValue([])"
    found = [
        _pod(
            f"!{pod}.?windowsOptions.?hostProcess.orValue(false)",
            "Pod Security baseline (HostProcess): the pod may not set windowsOptions.hostProcess.",
        ),
        _each(
            "variables.allContainers",
            f"!{ctx}.?windowsOptions.?hostProcess.orValue(false)",
            "Pod Security baseline (HostProcess): hostProcess containers",
        ),
        _pod(
            "!object.spec.?hostNetwork.orValue(false) && !object.spec.?hostPID.orValue(false)"
            " && !object.spec.?hostIPC.orValue(false)",
            "Pod Security baseline (Host Namespaces): hostNetwork, hostPID and hostIPC must be unset or false.",
        ),
        _each(
            "variables.allContainers",
            f"!{ctx}.?privileged.orValue(false)",
            "Pod Security baseline (Privileged Containers): privileged containers",
        ),
        _each(
            "variables.containers",
            f"{added}.all(a, a in {_cel_list(_BASELINE_CAPS)})",
            "Pod Security baseline (Capabilities): containers adding capabilities beyond the baseline set",
        ),
        _pod(
            "object.spec.?volumes.orValue([]).all(v, !has(v.hostPath))",
            "Pod Security baseline (HostPath Volumes): hostPath volumes are not allowed.",
        ),
        _each(
            "variables.allContainers",
            "c.?ports.orValue([]).all(p, p.?hostPort.orValue(0) == 0)",
            "Pod Security baseline (Host Ports): containers using a hostPort",
        ),
        _pod(
            f"{pod}.?appArmorProfile.?type.orValue('RuntimeDefault') in ['RuntimeDefault', 'Localhost']"
            " && object.metadata.?annotations.orValue({}).all(k, !k.startsWith("
            "'container.apparmor.security.beta.kubernetes.io/') || object.metadata.annotations[k] == 'runtime/default'"
            " || object.metadata.annotations[k].startsWith('localhost/'))",
            "Pod Security baseline (AppArmor): only the RuntimeDefault or a Localhost AppArmor profile.",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?appArmorProfile.?type.orValue('RuntimeDefault') in ['RuntimeDefault', 'Localhost']",
            "Pod Security baseline (AppArmor): containers with another AppArmor profile",
        ),
        _pod(
            f"{pod}.?seLinuxOptions.?type.orValue('') in {_cel_list(_SELINUX_TYPES)}"
            f" && {pod}.?seLinuxOptions.?user.orValue('') == '' && {pod}.?seLinuxOptions.?role.orValue('') == ''",
            "Pod Security baseline (SELinux): only the container SELinux types, without user or role.",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?seLinuxOptions.?type.orValue('') in {_cel_list(_SELINUX_TYPES)}"
            f" && {ctx}.?seLinuxOptions.?user.orValue('') == '' && {ctx}.?seLinuxOptions.?role.orValue('') == ''",
            "Pod Security baseline (SELinux): containers with another SELinux type, user or role",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?procMount.orValue('Default') == 'Default'",
            "Pod Security baseline (/proc Mount Type): containers with a non-default procMount",
        ),
        _pod(
            f"{pod}.?seccompProfile.?type.orValue('') != 'Unconfined'",
            "Pod Security baseline (Seccomp): the pod seccompProfile may not be Unconfined.",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?seccompProfile.?type.orValue('') != 'Unconfined'",
            "Pod Security baseline (Seccomp): containers with an Unconfined seccompProfile",
        ),
        _pod(
            f"{pod}.?sysctls.orValue([]).all(s, s.name in {_cel_list(_SAFE_SYSCTLS)})",
            "Pod Security baseline (Sysctls): only the safe sysctls.",
        ),
    ]
    if mesh:
        found.append(
            _each(
                "variables.meshInits",
                f"{added}.all(a, a in {_cel_list([*_BASELINE_CAPS, *_MESH_CAPS])})",
                "Pod Security baseline (Capabilities): istio-init adding beyond NET_ADMIN, NET_RAW, baseline",
            )
        )
    return found


def _restricted(mesh: bool) -> list[dict[str, str]]:
    ctx = "c.?securityContext"
    pod = "variables.podContext"
    pod_non_root = f"{pod}.?runAsNonRoot.orValue(false)"
    pod_seccomp = f"{pod}.?seccompProfile.?type.orValue('')"
    found = [
        _pod(
            f"object.spec.?volumes.orValue([]).all(v, v.all(k, k == 'name' || k in {_cel_list(_RESTRICTED_VOLUMES)}))",
            "Pod Security restricted (Volume Types): only configMap, csi, downwardAPI, emptyDir, ephemeral, "
            "persistentVolumeClaim, projected and secret volumes.",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?allowPrivilegeEscalation.orValue(true) == false",
            "Pod Security restricted (Privilege Escalation): containers without allowPrivilegeEscalation: false",
        ),
        _each(
            "variables.containers",
            f"{ctx}.?runAsNonRoot.orValue({pod_non_root})",
            "Pod Security restricted (Running as Non-root): containers without runAsNonRoot: true",
        ),
        _pod(
            f"{pod}.?runAsUser.orValue(1) != 0",
            "Pod Security restricted (Running as Non-root user): the pod may not set runAsUser: 0.",
        ),
        _each(
            "variables.containers",
            f"{ctx}.?runAsUser.orValue(1) != 0",
            "Pod Security restricted (Running as Non-root user): containers with runAsUser: 0",
        ),
        _each(
            "variables.allContainers",
            f"{ctx}.?seccompProfile.?type.orValue({pod_seccomp}) in ['RuntimeDefault', 'Localhost']",
            "Pod Security restricted (Seccomp): containers without a RuntimeDefault or Localhost seccompProfile",
        ),
        _each(
            "variables.allContainers",
            f"'ALL' in {ctx}.?capabilities.?drop.orValue([])",
            "Pod Security restricted (Capabilities): containers that do not drop ALL capabilities",
        ),
        _each(
            "variables.containers",
            f"{ctx}.?capabilities.?add.orValue([]).all(a, a == 'NET_BIND_SERVICE')",
            "Pod Security restricted (Capabilities): containers adding more than NET_BIND_SERVICE",
        ),
    ]
    if mesh:
        found += [
            # istio-init runs as root with NET_ADMIN/NET_RAW (iptables); it may say so explicitly.
            _each(
                "variables.meshInits",
                f"{ctx}.?runAsNonRoot.hasValue() || {pod_non_root}",
                "Pod Security restricted (Running as Non-root): istio-init without runAsNonRoot",
            ),
            _each(
                "variables.meshInits",
                f"{ctx}.?capabilities.?add.orValue([]).all(a, a in {_cel_list(['NET_BIND_SERVICE', *_MESH_CAPS])})",
                "Pod Security restricted (Capabilities): istio-init adding beyond NET_ADMIN, NET_RAW, NET_BIND_SERVICE",
            ),
        ]
    return found


def _latest() -> list[dict[str, str]]:
    return [
        _each(
            "variables.allContainers",
            "c.image.contains(':') && !c.image.endsWith(':latest')",
            "Images need an explicit tag (or digest) other than ':latest'; containers",
        )
    ]


def _resources() -> list[dict[str, str]]:
    req = "c.?resources.?requests"
    return [
        _each(
            "object.spec.containers",
            f"{req}.?cpu.orValue('') != '' && {req}.?memory.orValue('') != ''"
            " && c.?resources.?limits.?memory.orValue('') != ''",
            "Containers need CPU and memory requests and a memory limit; containers",
        )
    ]


def _non_root() -> list[dict[str, str]]:
    set_true = "c.?securityContext.?runAsNonRoot.orValue({}) == true"
    return [
        {
            "expression": (
                "(variables.podContext.?runAsNonRoot.orValue(false) == true"
                f" && variables.checked.all(c, {set_true.format('true')}))"
                f" || variables.checked.all(c, {set_true.format('false')})"
            ),
            "message": "Pods (or every container) must set securityContext.runAsNonRoot: true.",
        }
    ]


def policy_bodies(
    actions: Mapping[str, str],
    excluded: Mapping[str, Sequence[str]],
    mesh_exemptions: bool,
    run_as_non_root: bool,
) -> list[dict[str, Any]]:
    """The ValidatingPolicies, with each one's action (``Enforce``/``Audit``) and exempt namespaces."""
    specs: list[tuple[str, str, list[dict[str, str]], list[dict[str, str]]]] = [
        (PSS_BASELINE, "Pod Security Standard baseline", _variables(mesh_exemptions), _baseline(mesh_exemptions)),
        (
            PSS_RESTRICTED,
            "Pod Security Standard restricted",
            _variables(mesh_exemptions),
            _baseline(mesh_exemptions) + _restricted(mesh_exemptions),
        ),
        (DISALLOW_LATEST, "Pinned image tags", _variables(False), _latest()),
        (REQUIRE_RESOURCES, "Requests and limits", [], _resources()),
    ]
    if run_as_non_root:
        checked = {"name": "checked", "expression": "object.spec.containers + object.spec.?initContainers.orValue([])"}
        podctx = {"name": "podContext", "expression": "object.spec.?securityContext.orValue({})"}
        specs.append((RUN_AS_NON_ROOT, "runAsNonRoot", [checked, podctx], _non_root()))
    bodies = []
    for name, title, variables, validations in specs:
        match: dict[str, Any] = {
            "resourceRules": [
                {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"]}
            ]
        }
        if excluded[name]:
            match["namespaceSelector"] = {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": list(excluded[name])}
                ]
            }
        spec: dict[str, Any] = {
            "validationActions": _ACTIONS[actions[name]],
            "failurePolicy": "Fail",
            "evaluation": {"background": {"enabled": True}},
            "matchConstraints": match,
        }
        if name == DISALLOW_LATEST:
            # Pods only: Istio's gateway Deployment says `image: auto`, which the injector replaces
            # with the pinned proxy image when the Pod is created (mutation comes first).
            spec["autogen"] = {"podControllers": {"controllers": []}}
        if variables:
            spec["variables"] = variables
        spec["validations"] = validations
        annotations = {"policies.kyverno.io/title": title, "policies.kyverno.io/category": "Platform baseline"}
        bodies.append(
            {
                "apiVersion": "policies.kyverno.io/v1",
                "kind": "ValidatingPolicy",
                "metadata": {"name": name, "annotations": annotations},
                "spec": spec,
            }
        )
    return bodies
