"""Inputs only a person can give: keys an ExternalSecret reads that nothing in the tree writes.

Each becomes a :class:`~sre_constructs.kernel.facts.ManualStep` with the exact command. For a
store backed by a chart the library knows (OpenBao), the chart's facts build the command
(``ChartFacts.kv_write``); for any other Vault-compatible store, a generic ``vault kv put``.
"""

from __future__ import annotations

from urllib.parse import urlparse

from ..kernel.facts import ManualStep, ObjectRef, chart_facts
from .kinds import ESO, FLUX_HELM, Key, release_chart, release_values, remote_keys
from .source import Obj, Unit

__all__ = ["manual_steps_for"]


def _stores(units: list[Unit]) -> dict[tuple[str, str, str], tuple[Obj, str]]:
    found = {}
    for unit in units:
        for obj in unit.objects:
            if obj.group == ESO and obj.kind in ("ClusterSecretStore", "SecretStore"):
                ns = "" if obj.kind == "ClusterSecretStore" else obj.namespace
                found[(obj.kind, ns, obj.name)] = (obj, unit.name)
    return found


def _backend_release(units: list[Unit], namespace: str) -> tuple[Obj, str] | None:
    for unit in units:
        for obj in unit.objects:
            target = str(obj.spec.get("targetNamespace") or obj.namespace)
            if obj.is_(FLUX_HELM, "HelmRelease") and target == namespace:
                facts = chart_facts(release_chart(obj))
                if facts is not None and facts.kv_write is not None:
                    return obj, unit.name
    return None


def _command(units: list[Unit], store: Obj | None, key: str, properties: list[str]) -> tuple[str, str]:
    """The command writing ``key`` (with placeholders for each property) and who must be Ready first."""
    pairs = properties or ["<property>"]
    vault = ((store.spec.get("provider") or {}).get("vault") or {}) if store is not None else {}
    mount = str(vault.get("path") or "secret")
    host = urlparse(str(vault.get("server") or "")).hostname or ""
    parts = host.split(".")
    namespace = parts[1] if len(parts) >= 2 else ""
    backend = _backend_release(units, namespace) if namespace else None
    if backend is not None:
        release, unit = backend
        facts = chart_facts(release_chart(release))
        assert facts is not None and facts.kv_write is not None
        target = str(release.spec.get("targetNamespace") or release.namespace)
        name = str(release.spec.get("releaseName") or release.name)
        return facts.kv_write(release_values(release), target, name, mount, key, pairs), unit
    assignments = " ".join(f"{p}=<{p.upper()}>" for p in pairs)
    server = vault.get("server") or "the store's backend"
    return f"vault kv put -mount={mount} {key} {assignments}  # authenticated against {server}", ""


def manual_steps_for(units: list[Unit], provided: set[Key]) -> list[tuple[ManualStep, tuple[Key, ...], Key]]:
    """Every manual input of the tree: the step, the keys that must hold before a person can give
    it (its store Ready), and the key it provides."""
    stores = _stores(units)
    wanted: dict[tuple[str, str, str, str], list[str]] = {}
    readers: dict[tuple[str, str, str, str], list[str]] = {}
    for unit in units:
        for obj in unit.objects:
            if obj.group != ESO or obj.kind != "ExternalSecret":
                continue
            ref = obj.spec.get("secretStoreRef") or {}
            kind = str(ref.get("kind") or "SecretStore")
            store_ns = "" if kind == "ClusterSecretStore" else obj.namespace
            for key, props in remote_keys(obj):
                if ("remote", f"{kind} {ref.get('name')}", key) in provided:
                    continue
                entry = (kind, store_ns, str(ref.get("name")), key)
                merged = wanted.setdefault(entry, [])
                merged.extend(p for p in props if p not in merged)
                readers.setdefault(entry, []).append(obj.label)
    steps: list[tuple[ManualStep, tuple[Key, ...], Key]] = []
    for (kind, store_ns, store_name, key), props in sorted(wanted.items()):
        store = stores.get((kind, store_ns, store_name))
        command, after = _command(units, store[0] if store else None, key, props)
        store_label = f"{kind} {store_ns + '/' if store_ns else ''}{store_name}"
        step = ManualStep(
            what=f"write {key!r} ({', '.join(props) or 'its properties'}) into the backend of {store_label}, "
            f"read by {', '.join(sorted(set(readers[(kind, store_ns, store_name, key)])))}",
            command=command,
            after=after or (store[1] if store else ""),
            provides=(ObjectRef("RemoteKey", store_label, key),),
        )
        preconditions: tuple[Key, ...] = (("ready", kind, store_ns, store_name),)
        steps.append((step, preconditions, ("remote", f"{kind} {store_name}", key)))
    return steps
