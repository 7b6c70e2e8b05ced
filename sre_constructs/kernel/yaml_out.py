"""A fast YAML writer for JSON-like documents, byte for byte what ``dump_yaml``'s PyYAML set-up writes.

PyYAML's emitter is libyaml (C), but its representer and resolver are pure Python and cost more
than the rest of writing a tree. This module writes the common shapes itself: ``dict`` (string
keys), ``list``, ``str``, ``int``, ``bool``, ``None`` and ``float``, in block style with sorted keys
and PyYAML's choice of scalar style (plain when libyaml would write it plain and it reads back as
the same string, else single-quoted, else double-quoted), multi-line strings included. Anything else it
does not claim to reproduce exactly (non-ASCII or control characters, strings that would need
double quotes on a key, long keys, objects shared inside a document, other types) raises
:class:`Unsupported`, and the caller lets PyYAML write that file. Tests check the bytes against
PyYAML on random data and on every file of the default tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["Unsupported", "dump_documents"]


class Unsupported(Exception):
    """The documents hold something only PyYAML itself writes exactly."""


_RESOLVER = yaml.resolver.Resolver()  # the resolver of SafeDumper and CSafeDumper
_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
# Printable ASCII plus the line feed: no unicode, tabs or other control characters (PyYAML's and
# libyaml's analyses differ there, and some of them need double quotes).
_ASCII = re.compile(r"[\x20-\x7e\n]*")
# Why a scalar cannot be plain in block context (PyYAML's analyze_scalar, for ASCII text): a
# leading indicator, "- ", "? " or ": " at the start, ": " or a final ":", " #", leading or
# trailing spaces, a document marker, a line break.
_NOT_PLAIN = re.compile(r"""\A(?:[#,\[\]{}&*!|>'"%@`]|[-?:](?:\Z| )|---|\.\.\.| )|:(?:\Z| )| #| \Z|\n""")
_MAX_TEXT = 1 << 14  # far below the line width (1 << 16), so libyaml never folds a line
_MAX_KEY = 128  # libyaml writes longer keys as explicit ("? ") keys

_key_cache: dict[str, str] = {}
_value_cache: dict[str, str] = {}


def _resolves_to_str(text: str) -> bool:
    return bool(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG)  # type: ignore[no-untyped-call]


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _key(text: str) -> str:
    done = _key_cache.get(text)
    if done is None:
        if len(text) > _MAX_KEY or "\n" in text or not _ASCII.fullmatch(text):
            raise Unsupported(text)
        done = text if text and not _NOT_PLAIN.search(text) and _resolves_to_str(text) else _quoted(text)
        _key_cache[text] = done
    return done


def _text(text: str, indent: int) -> str:
    """A string value inside a collection whose lines start at ``indent``."""
    done = _value_cache.get(text)
    if done is not None:
        return done
    if len(text) > _MAX_TEXT or not _ASCII.fullmatch(text):
        raise Unsupported(text)
    if "\n" not in text:
        done = text if text and not _NOT_PLAIN.search(text) and _resolves_to_str(text) else _quoted(text)
        _value_cache[text] = done
        return done
    if " \n" in text or "\n " in text:
        # A space next to a break rules out single quotes: double quotes, breaks escaped (the
        # line never gets long enough for libyaml to fold it).
        done = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        _value_cache[text] = done
        return done
    # Single-quoted over several lines: a run of n breaks is written as n + 1 breaks and the
    # continuation is indented one step past the collection (not cached: depends on the indent).
    pad = " " * (indent + 2)
    return "'" + re.sub(r"\n+", lambda m: m.group(0) + "\n" + pad, text.replace("'", "''")) + "'"


def _float(value: float) -> str:
    # SafeRepresenter.represent_float
    if value != value:
        text = ".nan"
    elif value == float("inf"):
        text = ".inf"
    elif value == float("-inf"):
        text = "-.inf"
    else:
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
    if _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) != _FLOAT_TAG:  # type: ignore[no-untyped-call]
        raise Unsupported(value)  # PyYAML would add an explicit tag
    return text


def _scalar(value: Any, indent: int) -> str:
    kind = type(value)
    if kind is str:
        return _text(value, indent)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is float:
        return _float(value)
    if kind is dict:
        return "{}"  # only called for empty collections
    if kind is list:
        return "[]"
    raise Unsupported(value)


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()  # PyYAML writes an object met twice as an anchor and alias

    def _enter(self, value: Any) -> None:
        if id(value) in self.seen:
            raise Unsupported("shared object")
        self.seen.add(id(value))

    def mapping(self, data: dict[Any, Any], indent: int, lead: str | None) -> None:
        self._enter(data)
        out, pad = self.out, " " * indent
        try:
            keys = sorted(data)
        except TypeError:  # mixed key types: PyYAML fails too, let it say so
            raise Unsupported("unsortable keys") from None
        for key in keys:
            if type(key) is not str:
                raise Unsupported(key)
            value = data[key]
            line = (pad if lead is None else lead) + (_key_cache.get(key) or _key(key)) + ":"
            lead = None
            kind = type(value)
            if kind is str:
                out.append(f"{line} {_value_cache.get(value) or _text(value, indent)}\n")
            elif kind is dict and value:
                out.append(line + "\n")
                self.mapping(value, indent + 2, None)
            elif kind is list and value:
                out.append(line + "\n")
                self.sequence(value, indent, None)  # PyYAML does not indent a sequence in a mapping
            else:
                if kind is dict or kind is list:
                    self._enter(value)
                out.append(f"{line} {_scalar(value, indent)}\n")

    def sequence(self, data: list[Any], indent: int, lead: str | None) -> None:
        self._enter(data)
        out, pad = self.out, " " * indent
        for value in data:
            item = (pad if lead is None else lead) + "- "
            lead = None
            kind = type(value)
            if kind is str:
                out.append(f"{item}{_value_cache.get(value) or _text(value, indent)}\n")
            elif kind is dict and value:
                self.mapping(value, indent + 2, item)
            elif kind is list and value:
                self.sequence(value, indent + 2, item)
            else:
                if kind is dict or kind is list:
                    self._enter(value)
                out.append(f"{item}{_scalar(value, indent)}\n")


def dump_documents(documents: Iterable[Any]) -> str:
    """The YAML text PyYAML's ``dump_all`` gives with ``dump_yaml``'s options, or :class:`Unsupported`.

    Each document must be a non-empty ``dict`` (what a tree holds); documents after the first are
    preceded by ``---``.
    """
    parts: list[str] = []
    for number, document in enumerate(documents):
        if type(document) is not dict or not document:
            raise Unsupported(document)
        writer = _Writer()
        if number:
            writer.out.append("---\n")
        writer.mapping(document, 0, None)
        parts.append("".join(writer.out))
    return "".join(parts)
