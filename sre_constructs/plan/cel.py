"""Kyverno ValidatingPolicies (``policies.kyverno.io``) evaluated on a pod, as admission would.

The CEL runs on ``cel-expr-python`` (the Python binding of the CEL C++ runtime, imported only
when a tree has such a policy), with the CEL extensions Kyverno's environment has that this
runtime offers too: optional values (``?.``, ``orValue``, ``hasValue``) and strings (``join``,
``split``, ``lowerAscii``, ...). Kubernetes' own CEL libraries (``quantity``, ``url``, ``ip``, ...)
and Kyverno's (``resource``, ``image``, ``http``, ...) are not there: an expression that uses them
does not compile, and the plan notes that it could not evaluate the policy rather than guess.

What is honoured: ``matchConstraints`` (``resourceRules`` with their ``scope`` and ``operations``
on the pod's CREATE, ``namespaceSelector`` on the namespace's labels, ``objectSelector`` on the
pod's labels, ``excludeResourceRules``), ``matchConditions`` on the request as its sender makes
it (``request.userInfo``: the controller that creates the pod, or Flux's applier for a bare Pod),
``variables``, ``validations`` (``expression``, ``message``, ``messageExpression``) and
``validationActions`` (only ``Deny`` refuses). A policy that does not match the request is not
evaluated at all, so its CEL is never noted as unevaluable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .labels import selector_matches

__all__ = ["KINDS", "Verdict", "evaluate", "user_info"]

KINDS = ("ValidatingPolicy", "NamespacedValidatingPolicy")
"""The ``policies.kyverno.io`` kinds evaluated on pods."""

_VARIABLES = ("object", "oldObject", "request", "namespaceObject", "variables")


@dataclass
class Verdict:
    """One policy on one pod: the messages of the validations it fails, and what was not evaluated."""

    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Unevaluable(Exception):
    pass


@cache
def _env() -> Any:
    try:
        from cel_expr_python import cel
        from cel_expr_python.ext import ext_optional, ext_strings
    except ImportError as missing:  # pragma: no cover - a declared dependency
        raise _Unevaluable("the CEL runtime (cel-expr-python) is not installed") from missing
    variables = dict.fromkeys(_VARIABLES, cel.Type.DYN)
    return cel, cel.NewEnv(variables=variables, extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional()])


@cache
def _compiled(expression: str) -> Any:
    _, env = _env()
    try:
        return env.compile(expression)
    except RuntimeError as error:
        raise _Unevaluable(f"{expression!r} does not compile here: {str(error).splitlines()[0]}") from error


def _eval(expression: str, data: Mapping[str, Any]) -> Any:
    cel, _ = _env()
    result = _compiled(expression).eval(data=dict(data))
    if result.type() == cel.Type.ERROR:
        raise _Unevaluable(f"{expression!r} failed: {result.plain_value()}")
    return result.plain_value()


def _rule_matches(rule: Mapping[str, Any]) -> bool:
    """Whether a ``resourceRules`` entry covers CREATE of ``pods`` (core group, ``v1``) in a namespace."""

    def has(key: str, value: str) -> bool:
        items = rule.get(key) or []
        return value in items or "*" in items

    if str(rule.get("scope") or "*") not in ("*", "Namespaced"):
        return False  # a Pod is namespaced: a Cluster-scope rule never sees it
    return (
        has("apiGroups", "") and has("apiVersions", "v1") and has("resources", "pods") and has("operations", "CREATE")
    )


def user_info(username: str) -> dict[str, Any]:
    """``request.userInfo`` of a request sent as ``username`` (a service account's groups with it)."""
    groups = ["system:authenticated"]
    if username.startswith("system:serviceaccount:"):
        namespace = username.split(":")[2]
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", *groups]
    return {"username": username, "groups": groups}


def evaluate(
    policy: Mapping[str, Any],
    label: str,
    pod: Mapping[str, Any],
    namespace: Mapping[str, Any],
    username: str = "system:serviceaccount:kube-system:replicaset-controller",
) -> Verdict:
    """Whether ``policy`` (a ValidatingPolicy body) admits ``pod`` (a Pod object, its labels
    included) created in ``namespace`` (a Namespace object, labels included) by ``username``
    (default: the ReplicaSet controller, which creates a Deployment's pods)."""
    verdict = Verdict()
    spec = policy.get("spec") or {}
    match = spec.get("matchConstraints") or {}
    labels = {**((namespace.get("metadata") or {}).get("labels") or {})}
    ns_name = str((namespace.get("metadata") or {}).get("name") or "")
    labels.setdefault("kubernetes.io/metadata.name", ns_name)
    if not any(_rule_matches(r) for r in match.get("resourceRules") or []):
        return verdict
    if any(_rule_matches(r) for r in match.get("excludeResourceRules") or []):
        return verdict
    if not selector_matches(match.get("namespaceSelector"), labels):
        return verdict
    if not selector_matches(match.get("objectSelector"), (pod.get("metadata") or {}).get("labels") or {}):
        return verdict
    if "Deny" not in (spec.get("validationActions") or []):
        return verdict
    request = {
        "operation": "CREATE",
        "namespace": ns_name,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "userInfo": user_info(username),
    }
    data: dict[str, Any] = {"object": pod, "oldObject": None, "request": request, "namespaceObject": namespace}
    try:
        for condition in spec.get("matchConditions") or []:
            if _eval(str(condition.get("expression")), {**data, "variables": {}}) is not True:
                return verdict
        variables: dict[str, Any] = {}
        for variable in spec.get("variables") or []:
            variables[str(variable.get("name"))] = _eval(
                str(variable.get("expression")), {**data, "variables": variables}
            )
        data["variables"] = variables
        for validation in spec.get("validations") or []:
            if _eval(str(validation.get("expression")), data) is True:
                continue
            message = validation.get("message")
            if validation.get("messageExpression"):
                with contextlib.suppress(_Unevaluable):  # else the static message
                    message = _eval(str(validation["messageExpression"]), data)
            verdict.refusals.append(str(message or f"failed {validation.get('expression')!r}"))
    except _Unevaluable as why:
        failure = str(spec.get("failurePolicy") or "Fail")
        verdict.notes.append(f"{label} could not be evaluated ({why}); with failurePolicy {failure} Kyverno decides")
    return verdict
