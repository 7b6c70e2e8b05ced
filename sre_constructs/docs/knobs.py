"""The Knobs list of a service docstring, cross-checked with the constructor signature.

A service documents every keyword argument in its class docstring (``Knobs (all keyword
arguments):``, one ``- ``name``: text. Default ...`` item each); :func:`check_knobs` fails when the
docstring and the signature disagree, so the generated service pages cannot describe knobs that
do not exist or defaults that are not the code's.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["DocsError", "Knob", "check_knobs", "split_docstring"]

_KNOBS_HEADER = re.compile(r"^Knobs\b.*:\s*$")
_ITEM = re.compile(r"^- ``(?P<name>[A-Za-z_][A-Za-z0-9_]*)``:\s*(?P<text>.*)$")
_DEFAULT = re.compile(r"(?:^|(?<=[\s(]))Default:?\s+(?P<rest>.*)$", re.DOTALL)
_LITERAL = re.compile(r"^``(?P<literal>[^`]*)``(?=$|[.;)]|\s\()")


class DocsError(Exception):
    """The docstring and the code disagree (a knob documented on one side only, a wrong default)."""


@dataclass(frozen=True)
class Knob:
    """One constructor keyword argument of a service, as documented and as declared.

    Attributes:
        name: the keyword argument.
        text: the docstring entry, reST markup kept, lines joined.
        default: the documented default: a literal (``2``), ``none``, or ``None`` when the
            docstring states it in prose (see :attr:`text`).
        annotation: the declared type, as written in the signature.
        signature_default: the signature's default value.
    """

    name: str
    text: str
    default: str | None
    annotation: str
    signature_default: Any


def _docstring(cls: type) -> str:
    """The cleaned class docstring (empty if none)."""
    return inspect.getdoc(cls) or ""


def split_docstring(cls: type) -> tuple[str, list[tuple[str, str]], str]:
    """Split a service docstring into its description, its raw knob items and the rest.

    Args:
        cls: the service class.

    Returns:
        ``(description, [(knob, text)], trailing sections)``; the text of a knob has its
        continuation lines joined with single spaces.

    Raises:
        DocsError: the docstring has no ``Knobs`` list.
    """
    lines = _docstring(cls).splitlines()
    start = next((i for i, line in enumerate(lines) if _KNOBS_HEADER.match(line)), None)
    if start is None:
        raise DocsError(f"{cls.__name__}: the class docstring has no 'Knobs (all keyword arguments):' list")
    description = "\n".join(lines[:start]).strip()
    items: list[tuple[str, list[str]]] = []
    index = start + 1
    while index < len(lines):
        line = lines[index]
        match = _ITEM.match(line)
        if match:
            items.append((match["name"], [match["text"].strip()]))
        elif line.startswith((" ", "\t")) and line.strip() and items:
            items[-1][1].append(line.strip())
        elif not line.strip() and not items:
            pass  # the blank line after the header
        else:
            break
        index += 1
    rest = "\n".join(lines[index:]).strip()
    return description, [(name, " ".join(part for part in parts if part)) for name, parts in items], rest


def _documented_default(text: str) -> str | None:
    """The default stated by a knob entry: a literal, ``none``, or ``None`` for prose.

    ``Default ``2``.`` gives ``2``; ``Default none.`` gives ``none``; ``Default: controller
    ``20m``/...`` (a sentence) gives ``None``.
    """
    match = _DEFAULT.search(text)
    if match is None:
        return None
    rest = match["rest"].strip()
    literal = _LITERAL.match(rest)
    if literal:
        return literal["literal"]
    if re.match(r"^none\b", rest):
        return "none"
    return None


def _has_default(text: str) -> bool:
    return _DEFAULT.search(text) is not None


def _literal(value: Any) -> str:
    """How a signature default is written in a docstring literal."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and not value:
        return "()"
    return repr(value)


def _knob_parameters(cls: type) -> list[inspect.Parameter]:
    """The constructor's keyword arguments (everything after ``scope`` and ``id``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())  # type: ignore[misc]
    return [p for p in params if p.name not in ("self", "scope", "id") and p.kind is not p.VAR_KEYWORD]


def check_knobs(cls: type) -> list[Knob]:
    """Cross-check the docstring's Knobs list with the constructor signature.

    Every signature parameter must be documented, every documented knob must exist, every entry
    must state a default, and a literal default must equal the signature's (a signature default
    of ``None`` may be documented as the value it resolves to, such as the pinned chart version).

    Args:
        cls: the service class.

    Returns:
        The knobs, in signature order.

    Raises:
        DocsError: naming the class and every mismatch.
    """
    _, items, _ = split_docstring(cls)
    documented = dict(items)
    params = _knob_parameters(cls)
    problems: list[str] = []
    duplicates = sorted({name for name, _ in items if [n for n, _ in items].count(name) > 1})
    problems += [f"knob {name!r} is documented twice" for name in duplicates]
    names = [p.name for p in params]
    problems += [
        f"signature parameter {n!r} is missing from the docstring Knobs list" for n in names if n not in documented
    ]
    problems += [f"documented knob {n!r} is not a constructor parameter" for n, _ in items if n not in names]
    knobs: list[Knob] = []
    for param in params:
        text = documented.get(param.name)
        if text is None:
            continue
        if param.default is inspect.Parameter.empty:
            problems.append(f"knob {param.name!r} has no default in the signature (knobs are optional)")
            continue
        default = _documented_default(text)
        if not _has_default(text):
            problems.append(f"knob {param.name!r}: the docstring states no 'Default ...'")
        elif default is not None and param.default is not None:
            expected = _literal(param.default)
            if default == "none" and param.default not in ((), {}, ""):
                problems.append(f"knob {param.name!r}: documented default none, signature default {expected!r}")
            elif default != "none" and default != expected:
                problems.append(f"knob {param.name!r}: documented default {default!r}, signature default {expected!r}")
        annotation = (
            param.annotation if isinstance(param.annotation, str) else inspect.formatannotation(param.annotation)
        )
        knobs.append(Knob(param.name, text, default, annotation, param.default))
    if problems:
        raise DocsError(f"{cls.__module__}.{cls.__name__}: " + "; ".join(problems))
    return knobs
