"""Cron expressions as Velero's Schedule takes them (5 fields, robfig/cron)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..kernel.errors import ValidationError

__all__ = ["check_cron"]

_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    {
        m: i + 1
        for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
    },
    {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))},
)
_CRON_ITEM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


def check_cron(where: str, field: str, value: object) -> str:
    """A standard 5-field cron expression (minute hour day-of-month month day-of-week).

    Each field is ``*``, a number or name, a range ``a-b``, any of these with ``/step``, or a
    comma list of them; numbers must lie in the field's range. Velero's parser (robfig/cron)
    accepts the same.

    Args:
        where: construct path for the message.
        field: knob name for the message.
        value: the expression.

    Returns:
        The expression, unchanged.
    """
    allowed = "a 5-field cron expression such as '0 2 * * *' (minute hour day-of-month month day-of-week)"
    if not isinstance(value, str):
        raise ValidationError(where, field, value, allowed)
    parts = value.split()
    if len(parts) != 5:
        raise ValidationError(where, field, value, allowed)

    def number(token: str, names: Mapping[str, int], label: str) -> int:
        if token.upper() in names:
            return names[token.upper()]
        if not token.isdigit():
            raise ValidationError(where, field, value, f"{allowed}; {label} {token!r} is not a number")
        return int(token)

    for part, (low, high), names, label in zip(parts, _CRON_RANGES, _CRON_NAMES, _CRON_FIELDS, strict=True):
        for item in part.split(","):
            match = _CRON_ITEM.fullmatch(item)
            if not match:
                raise ValidationError(where, field, value, f"{allowed}; bad {label} {item!r}")
            span, step = match.group(1), match.group(2)
            if step is not None and int(step) == 0:
                raise ValidationError(where, field, value, f"{allowed}; {label} step must be >= 1")
            if span == "*":
                continue
            bounds = [number(t, names, label) for t in span.split("-")]
            if any(not low <= b <= high for b in bounds) or bounds[0] > bounds[-1]:
                raise ValidationError(where, field, value, f"{allowed}; {label} must lie in {low}-{high}")
    return value
