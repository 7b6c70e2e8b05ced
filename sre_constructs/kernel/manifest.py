"""Manifest: any Kubernetes object given as Python data, crossing into jsii once."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cdk8s import ApiObject
from constructs import Construct

from .errors import ValidationError
from .paths import path_of
from .validation import check_dns_label, check_values

__all__ = ["Manifest"]


class Manifest(ApiObject):
    """A Kubernetes object (custom resources, NetworkPolicies, ...) from a plain mapping.

    The body stays Python data and is returned as-is on synthesis: no per-field jsii calls, and
    ``null`` values survive. Tests validate every Manifest against its CRD or core schema.

    Args:
        scope: parent construct (a component).
        id: construct id.
        body: the whole object: ``apiVersion``, ``kind``, ``metadata`` (with ``name``) and the rest
            (``spec``, ``data``, ...).
    """

    def __init__(self, scope: Construct, id: str, body: Mapping[str, Any]) -> None:
        where = f"{path_of(scope)}/{id}"
        data = check_values(where, "manifest", body)
        for key in ("apiVersion", "kind"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValidationError(where, key, data.get(key), "a non-empty string")
        metadata = data.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise ValidationError(where, "metadata.name", metadata, "a metadata mapping with a name")
        if "namespace" in metadata:
            check_dns_label(where, "metadata.namespace", metadata["namespace"])
        super().__init__(scope, id, api_version=data["apiVersion"], kind=data["kind"], metadata=metadata)
        self._body = data

    @property
    def body(self) -> dict[str, Any]:
        """A copy of the object's data."""
        return copy.deepcopy(self._body)

    def to_json(self) -> Any:
        data = super().to_json()  # apiVersion, kind and metadata with chart labels applied
        for key, value in self._body.items():
            if key not in ("apiVersion", "kind", "metadata"):
                data[key] = value
        return data
