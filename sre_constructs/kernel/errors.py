"""The one error type the library raises for bad input."""

from __future__ import annotations

from typing import Any

__all__ = ["ValidationError"]


class ValidationError(ValueError):
    """Bad input, detected before anything is written.

    The message always names where (the construct path or file), the field, the offending value
    and what is allowed, so a pipeline log is enough to fix the input.

    Args:
        where: the construct path (``core/monitoring``) or file that holds the bad input.
        field: the field or knob name (``retention``).
        value: the offending value.
        allowed: what would have been accepted, in words.
    """

    def __init__(self, where: str, field: str, value: Any, allowed: str) -> None:
        self.where = where
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{where}: invalid {field} {value!r}: {allowed}")
