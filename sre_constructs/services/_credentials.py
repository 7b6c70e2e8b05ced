"""Credentials a platform service reads from OpenBao through External Secrets (Velero's, Loki's).

:func:`external_secret` writes every ExternalSecret the library emits (Alertmanager's receivers and
the edge's single sign-on Secrets use it as it is).

The pattern, shared so both read alike:

- an ``external-secrets.io/v1`` ExternalSecret renders the Secret from one KV path of the platform's
  ClusterSecretStore, plus a key ``CREDENTIALS_CHECKSUM`` (sha256 of the values);
- the service's HelmRelease takes that checksum through ``valuesFrom`` into a pod annotation. So
  helm-controller does not start the release until the Secret exists (its Ready condition names
  the missing Secret, and the ExternalSecret's names the missing KV path: nothing times out or
  exhausts Helm's retries while a person has not yet written the credentials), and the pods roll
  when the credentials change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..kernel.helm_release import ValuesFrom

__all__ = [
    "CHECKSUM_KEY",
    "EXTERNAL_SECRETS_API",
    "checksum_values_from",
    "credentials_external_secret",
    "external_secret",
]

EXTERNAL_SECRETS_API = "external-secrets.io/v1"
CHECKSUM_KEY = "CREDENTIALS_CHECKSUM"
"""The Secret key holding the sha256 of the credentials (a valid environment variable name)."""


def external_secret(
    name: str,
    namespace: str,
    store: str,
    refs: Sequence[tuple[str, str, str]],
    templates: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ExternalSecret rendering Secret ``name`` from OpenBao through ClusterSecretStore ``store``.

    Args:
        name: the ExternalSecret and its Secret.
        namespace: where both live.
        store: the ClusterSecretStore.
        refs: what is read, as ``(key in the ESO template data, KV path, property)``.
        templates: the Secret's keys as ESO v2 templates over the refs' keys (only those keys land
            in the Secret); default: no template, each ref's key as it is.
    """
    target: dict[str, Any] = {"name": name, "creationPolicy": "Owner"}
    if templates is not None:
        # Only the templated keys land in the Secret: no raw KV fields beside them.
        template = {"engineVersion": "v2", "mergePolicy": "Replace", "type": "Opaque", "data": dict(templates)}
        target["template"] = template
    return {
        "apiVersion": EXTERNAL_SECRETS_API,
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": store},
            "target": target,
            "data": [{"secretKey": key, "remoteRef": {"key": path, "property": prop}} for key, path, prop in refs],
        },
    }


def credentials_external_secret(
    name: str,
    namespace: str,
    store: str,
    remote_key: str,
    properties: Sequence[str],
    data: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ExternalSecret rendering Secret ``name`` from ``remote_key`` of ClusterSecretStore ``store``,
    plus :data:`CHECKSUM_KEY` (``name``, ``namespace`` and ``store`` as :func:`external_secret` takes them).

    Args:
        remote_key: the KV path with the properties.
        properties: the properties read from it.
        data: the Secret's keys as ESO v2 templates over the properties; default: each property as
            a key of its own.
    """
    templates = dict(data) if data is not None else {prop: "{{ ." + prop + " }}" for prop in properties}
    templates[CHECKSUM_KEY] = "{{ print " + " ".join("." + prop for prop in properties) + " | sha256sum }}"
    return external_secret(name, namespace, store, [(prop, remote_key, prop) for prop in properties], templates)


def checksum_values_from(secret: str, target_paths: Sequence[str]) -> list[ValuesFrom]:
    """``valuesFrom`` entries putting the credentials' checksum at each pod-annotation path."""
    return [ValuesFrom("Secret", secret, CHECKSUM_KEY, path) for path in target_paths]
