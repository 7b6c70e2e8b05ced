"""Cron expressions as Velero's Schedule takes them (5 fields, robfig/cron)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from functools import cache
from itertools import pairwise
from typing import Any

from ..kernel.errors import ValidationError
from ..kernel.naming import helm_fullname

__all__ = ["check_cron", "longest_gap_seconds", "schedule_intervals"]

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


# Eight years hold every leap-day and weekday combination a 5-field expression can ask for.
_HORIZON_DAYS = 8 * 365 + 2
_EPOCH = date(2024, 1, 1)


def _field(part: str, low: int, high: int, names: Mapping[str, int]) -> tuple[set[int], bool]:
    """The values one field matches, and whether it is a wildcard (robfig/cron's ``starBit``:
    ``*`` or ``?`` without a step above 1)."""
    values: set[int] = set()
    star = False
    for item in part.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span in ("*", "?"):
            start, end = low, high
            star = star or step == 1
        else:
            bounds = [names[t.upper()] if t.upper() in names else int(t) for t in span.split("-")]
            start, end = bounds[0], bounds[-1]
            if step_text and len(bounds) == 1:  # "N/step" means "N-max/step"
                end = high
        values.update(range(start, end + 1, step))
    return values, star


@cache
def longest_gap_seconds(expression: str) -> int | None:
    """The longest time between two consecutive runs of a cron expression (UTC), in seconds.

    Days match as robfig/cron (Velero's parser) matches them: when day of month or day of week is
    a wildcard both must match, otherwise either. Day of week 7 is Sunday.

    Args:
        expression: a 5-field expression :func:`check_cron` accepts.

    Returns:
        The longest gap, or ``None`` when the expression never runs (``0 0 31 2 *``) or runs once in
        eight years.

    >>> longest_gap_seconds("0 2 * * *") // 3600, longest_gap_seconds("0 3 * * 0") // 86400
    (24, 7)
    """
    parts = expression.split()
    fields = [
        _field(part, low, high, names)
        for part, (low, high), names in zip(parts, _CRON_RANGES, _CRON_NAMES, strict=True)
    ]
    (minutes, _), (hours, _), (dom, dom_star), (months, _), (dow, dow_star) = fields
    weekdays = {d % 7 for d in dow}
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if times and dom_star and len(months) == 12:
        # Every month, any day of month: the runs repeat weekly (daily when the weekday is a wildcard).
        days = sorted(weekdays) if not dow_star else list(range(7))
        between = [(b - a) % 7 or 7 for a, b in zip(days, days[1:] + days[:1], strict=True)]
        gaps = [later - earlier for earlier, later in pairwise(times)]
        return max([*gaps, *(d * 1440 + times[0] - times[-1] for d in between)]) * 60
    runs_on = []
    for offset in range(_HORIZON_DAYS):
        day = _EPOCH + timedelta(days=offset)
        if day.month not in months:
            continue
        dom_match, dow_match = day.day in dom, (day.isoweekday() % 7) in weekdays
        if (dom_match and dow_match) if (dom_star or dow_star) else (dom_match or dow_match):
            runs_on.append(offset)
    if not times or not runs_on or (len(runs_on) == 1 and len(times) == 1):
        return None
    gaps = [later - earlier for earlier, later in pairwise(times)]
    gaps += [(b - a) * 1440 + times[0] - times[-1] for a, b in pairwise(runs_on)]
    return max(gaps) * 60


def schedule_intervals(where: str, values: Mapping[str, Any], release: str) -> dict[str, int]:
    """Each enabled Schedule of the velero chart's values -> the longest time between two of its runs (seconds).

    The chart names each Schedule ``<fullname>-<key>``; Velero labels its metrics with that name
    (``schedule``), so the alert on a missing backup can give each Schedule its own budget.

    Args:
        where: construct path for the message.
        values: the release's final values (``schedules``, ``nameOverride``, ``fullnameOverride``).
        release: the release name.
    """
    fullname = helm_fullname(release, values.get("nameOverride") or "velero", override=values.get("fullnameOverride"))
    intervals = {}
    for key, body in sorted((values.get("schedules") or {}).items()):
        if not isinstance(body, Mapping) or body.get("disabled"):
            continue
        field = f"values.schedules.{key}.schedule"
        cron = check_cron(where, field, body.get("schedule"))
        gap = longest_gap_seconds(cron)
        if gap is None:
            raise ValidationError(where, field, cron, "a cron expression that runs at least yearly")
        intervals[f"{fullname}-{key}"] = gap
    return intervals
