"""What people and the library run against OpenBao: the KV write a manual step prints, the inputs
only a person gives (an external seal key, a KMS key), and the init container that turns
cert-manager's Ed25519 key into the static seal key."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.facts import ManualStep, ObjectRef
from ..kernel.naming import helm_fullname
from ._openbao_config import (
    ADMIN_POLICY,
    CONTAINER_SECURITY,
    KUBERNETES_AUTH_MOUNT,
    SEAL_DIR,
    SEAL_SOURCE_DIR,
    SERVER_IMAGE,
    TLS_DIR,
)

__all__ = ["admin_command", "kv_write_command", "manual_inputs", "seal_key_container"]


def admin_command(values: Mapping[str, Any], namespace: str, release: str, script: str) -> str:
    """The command that runs ``script`` (``bao`` commands) inside pod 0 as ``platform-admin``.

    It logs in there with a short-lived token of the admin ServiceAccount the self-init binds to
    role ``platform-admin`` (read from the init file the values ship; ``openbao-admin`` if absent).
    """
    pod = f"{helm_fullname(release, 'openbao', override=values.get('fullnameOverride'))}-0"
    init = " ".join(str(v) for obj in values.get("extraObjects") or () for v in (obj.get("data") or {}).values())
    found = re.search(rf'"role-{ADMIN_POLICY}".*?bound_service_account_names = \["([^"]+)"\]', init, re.S)
    account = found[1] if found else "openbao-admin"
    # A bare assignment, so `sh -e` stops on a failed login instead of running with no token.
    return (
        f"kubectl -n {namespace} exec -i {pod} -- sh -ec 'export BAO_CACERT={TLS_DIR}/ca.crt; "
        f'BAO_TOKEN=$(bao write -field=token auth/{KUBERNETES_AUTH_MOUNT}/login role={ADMIN_POLICY} jwt="$1"); '
        f"export BAO_TOKEN; {script}' sh "
        f'"$(kubectl -n {namespace} create token {account})"'
    )


def kv_write_command(
    values: Mapping[str, Any], namespace: str, release: str, mount: str, path: str, properties: Sequence[str]
) -> str:
    """The command that writes a KV secret as ``platform-admin`` (a manual step of the plan).

    It logs in inside pod 0 with a short-lived token of ServiceAccount ``openbao-admin`` (the
    admin path the self-init creates) and writes ``path`` under ``mount``; replace each
    ``<PROPERTY>`` (``key=-`` reads one value from stdin instead of the command line).
    """
    pairs = " ".join(f"{prop}=<{prop.upper()}>" for prop in properties)
    return admin_command(values, namespace, release, f"bao kv put -mount={mount} {path} {pairs}")


# What a person checks for each KMS seal type before OpenBao can start (its attributes fill the command).
_SEAL_CHECKS = {
    "awskms": "aws kms describe-key --key-id {kms_key_id} --region {region}",
    "gcpckms": "gcloud kms keys describe {crypto_key} --keyring {key_ring} --location {region} --project {project}",
    "azurekeyvault": "az keyvault key show --vault-name {vault_name} --name {key_name}",
    "transit": "bao read -address={address} {mount_path}/keys/{key_name}",
}
_HCL_SEAL = re.compile(r'seal "([A-Za-z0-9_]+)" \{(.*?)\n\}', re.S)
_HCL_ATTR = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*) = "([^"]*)"', re.M)


def manual_inputs(values: Mapping[str, Any], namespace: str, release: str) -> tuple[ManualStep, ...]:
    """What a person provides: the static seal key Secret (``seal_key_source="external"``), or
    the KMS key and OpenBao's access to it (``seal_config``)."""
    server = values.get("server") or {}
    steps: list[ManualStep] = []
    for volume in server.get("volumes") or ():
        secret = volume.get("secret") if isinstance(volume, Mapping) and volume.get("name") == "seal" else None
        if isinstance(secret, Mapping) and secret.get("secretName"):
            name = str(secret["secretName"])
            steps.append(
                ManualStep(
                    f"create the static seal key Secret {namespace}/{name} (key 'key': 64 hex characters, no "
                    "newline) before OpenBao starts, and keep a copy offline",
                    f"kubectl -n {namespace} create secret generic {name} --from-literal=key=$(openssl rand -hex 32)",
                    provides=(ObjectRef("Secret", namespace, name),),
                )
            )
    config = str(((server.get("ha") or {}).get("raft") or {}).get("config") or "")
    for kind, body in _HCL_SEAL.findall(config):
        if kind == "static":
            continue
        attrs = dict(_HCL_ATTR.findall(body))
        check = _SEAL_CHECKS.get(kind, "see OpenBao's seal documentation for '" + kind + "'")
        for key in re.findall(r"\{(\w+)\}", check):
            attrs.setdefault(key, f"<{key}>")
        steps.append(
            ManualStep(
                f"the {kind} seal's key must exist and OpenBao's pods in {namespace} must be able to use it "
                "(credentials in the pod environment, or workload identity)",
                check.format(**attrs),
            )
        )
    return tuple(steps)


def seal_key_container() -> dict[str, Any]:
    """Init container: the Ed25519 seed (last 32 bytes of the PKCS#8 DER) as 64 hex characters."""
    script = (
        f"sed '1d;$d' {SEAL_SOURCE_DIR}/tls.key | tr -d '\\n' | base64 -d | tail -c 32 "
        f"| od -An -v -tx1 | tr -d ' \\n' > {SEAL_DIR}/key; "
        f'[ "$(wc -c < {SEAL_DIR}/key)" -eq 64 ] || {{ echo "seal key: expected 64 hex characters" >&2; exit 1; }}'
    )
    return {
        "name": "seal-key",
        "image": SERVER_IMAGE,
        "command": ["/bin/sh", "-ec", script],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        "securityContext": CONTAINER_SECURITY,
        "volumeMounts": [
            {"name": "seal-source", "mountPath": SEAL_SOURCE_DIR, "readOnly": True},
            {"name": "seal", "mountPath": SEAL_DIR},
        ],
    }
