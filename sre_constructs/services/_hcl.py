"""A tiny HCL (v1, as OpenBao parses its config) renderer.

Configuration is Python data, and every string goes through one escaping function, so no user
input is ever pasted into HCL text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = ["HclBlock", "HclValue", "is_identifier", "render_hcl"]


HclValue = Union[str, bool, int, float, Sequence["HclValue"], Mapping[str, "HclValue"]]  # noqa: UP007  (recursive alias)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def is_identifier(name: str) -> bool:
    """Whether ``name`` can stand unquoted as an HCL block type, attribute or key."""
    return _IDENT.match(name) is not None


@dataclass(frozen=True)
class HclBlock:
    """One HCL block: ``type "label" ... { body }``.

    Args:
        type: the block type (``listener``, ``storage``, ``initialize``, ...).
        labels: the quoted labels after the type.
        body: attributes as ``(name, value)`` pairs and nested :class:`HclBlock` items, in order.
    """

    type: str
    labels: tuple[str, ...] = ()
    body: tuple[tuple[str, Any] | HclBlock, ...] = field(default=())


def _hcl_string(value: str) -> str:
    """A double-quoted HCL string: backslash, quote and control characters escaped.

    HCL1 treats ``${`` as the start of an interpolation whose braces are tracked while lexing, so
    such text could end a string early; it is refused rather than guessed at.
    """
    if "${" in value:
        raise ValueError("'${' is not allowed in an HCL string (HCL1 interpolation)")
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _hcl_key(key: str) -> str:
    return key if _IDENT.match(key) else _hcl_string(key)


def _hcl_value(value: Any, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # finite floats only: check_values refused the others earlier
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = indent + "  "
        lines = [f"{inner}{_hcl_key(str(k))} = {_hcl_value(v, inner)}" for k, v in value.items()]
        return "{\n" + "\n".join(lines) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_hcl_value(v, indent) for v in value) + "]"
    raise ValueError(f"cannot render {type(value).__name__} as HCL")


def render_hcl(items: Sequence[tuple[str, Any] | HclBlock], indent: str = "") -> str:
    """Render an HCL body (attributes and blocks) as text.

    Args:
        items: ``(name, value)`` attributes and :class:`HclBlock` blocks, in order. Values are
            strings, booleans, numbers, lists and mappings (rendered as HCL objects).
        indent: the indentation of this body.

    Returns:
        The HCL text, one attribute or block per line.

    Raises:
        ValueError: a name is not an HCL identifier, or a value cannot be rendered safely.
    """
    lines: list[str] = []
    for item in items:
        if isinstance(item, HclBlock):
            if not _IDENT.match(item.type):
                raise ValueError(f"block type {item.type!r} is not an HCL identifier")
            head = " ".join([item.type, *(_hcl_string(label) for label in item.labels)])
            if item.body:
                lines.append(f"{indent}{head} {{")
                lines.append(render_hcl(item.body, indent + "  ").rstrip("\n"))
                lines.append(f"{indent}}}")
            else:
                lines.append(f"{indent}{head} {{}}")
        else:
            name, value = item
            if not _IDENT.match(name):
                raise ValueError(f"attribute name {name!r} is not an HCL identifier")
            lines.append(f"{indent}{name} = {_hcl_value(value, indent)}")
    return "\n".join(lines) + "\n"
