"""Calendar months and periods, one function per meaning.

A month is named by its first day (``date(2026, 3, 1)``) and ranges are half-open
``[start, end)``: a month ends on the first day of the next one.

Two different things are called "adding months", and each has its own function:

- :func:`add_months` moves a *day* by calendar months and keeps its day of the month, clamped
  to the end of the target month (Jan 31 + 1 = Feb 28 or 29). For dates that keep their day:
  a date of birth, an eligibility start, "the same day three months ago".
- :func:`shift_month` moves a *month*: the first day of the month ``n`` months after the
  given day's month, whatever its day (any day of March + 1 = April 1st). For payment months,
  rosters and performance periods.

The two agree on first days of months; they differ on any other day.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

#: The earliest year a month or period may name (a guard against typos such as ``0202-03``).
MIN_YEAR = 1900

INVALID_MONTH_MESSAGE = "Give the month as YYYY-MM."
INVALID_PERIOD_MESSAGE = (
    "A period is a month (2026-03), a quarter (2026-Q1), a year (2026) or a contract year (CY1)."
)

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


# --- one month ---------------------------------------------------------------------------------


def first_of_month(day: date) -> date:
    """The first day of ``day``'s month: the date that names the month."""
    return day.replace(day=1)


def is_first_of_month(day: date) -> bool:
    return day.day == 1


def days_in_month(day: date) -> int:
    """How many days ``day``'s month has (28 to 31)."""
    return calendar.monthrange(day.year, day.month)[1]


def last_of_month(day: date) -> date:
    """The last day of ``day``'s month (inclusive end, as people write it)."""
    return day.replace(day=days_in_month(day))


def day_of_month(day: date, n: int) -> date:
    """The ``n``-th day of ``day``'s month, clamped to the month (31 in February is the 28th or
    29th; 0 or less is the 1st): a due day written once for every month."""
    return day.replace(day=max(1, min(n, days_in_month(day))))


def next_month(day: date) -> date:
    """The first day of the month after ``day``'s: the exclusive end of ``day``'s month."""
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def previous_month(day: date) -> date:
    """The first day of the month before ``day``'s."""
    return shift_month(day, -1)


# --- moving by months --------------------------------------------------------------------------


def month_index(day: date) -> int:
    """``day``'s month as a running integer (months since year 0), so that months subtract."""
    return day.year * 12 + day.month - 1


def month_from_index(index: int) -> date:
    """The first day of the month a :func:`month_index` names."""
    year, month0 = divmod(index, 12)
    return date(year, month0 + 1, 1)


def shift_month(day: date, months: int) -> date:
    """The first day of the month ``months`` calendar months after ``day``'s month (negative: before)."""
    return month_from_index(month_index(day) + months)


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months, its day clamped to the month's end.

    Jan 31 + 1 month = Feb 28 (Feb 29 in a leap year); Mar 31 - 1 month = Feb 28/29.
    """
    target = shift_month(day, months)
    return target.replace(day=min(day.day, days_in_month(target)))


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier``'s month to ``later``'s month, days ignored.

    2025-11-30 -> 2026-02-01 is 3; negative when ``later`` is in an earlier month.
    """
    return month_index(later) - month_index(earlier)


def months_in(start: date, end: date) -> Iterator[date]:
    """The first days of the months from ``start``'s month up to, not including, ``end``'s month."""
    for index in range(month_index(start), month_index(end)):
        yield month_from_index(index)


# --- spelling ----------------------------------------------------------------------------------


def months_text(n: int) -> str:
    """A number of months as people read it: 1 month, 3 months."""
    return f"{n} month{'' if n == 1 else 's'}"


def month_key(day: date) -> str:
    """``day``'s month as ``YYYY-MM``: how files, URLs and JSON name a month."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(value: str | date) -> date:
    """``YYYY-MM`` (or ``YYYY-MM-01``, or a date) to the month's first day.

    Raises ``ValueError(INVALID_MONTH_MESSAGE)`` for anything else, including months before
    :data:`MIN_YEAR`.
    """
    if isinstance(value, date):
        return first_of_month(value)
    match = _MONTH_RE.match(str(value or "").strip())
    if match and 1 <= int(match[2]) <= 12 and int(match[1]) >= MIN_YEAR:
        return date(int(match[1]), int(match[2]), 1)
    raise ValueError(INVALID_MONTH_MESSAGE)


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A run of whole months, half-open: ``start`` is a first day, ``end`` the first day after.

    ``kind`` is ``month``, ``quarter``, ``year`` or ``contract_year``; ``code`` is how the
    period is named (``2026-03``, ``2026-Q1``, ``2026``, ``CY1``).
    """

    code: str
    kind: str
    start: date
    end: date

    @property
    def months(self) -> list[date]:
        return list(months_in(self.start, self.end))

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        last = shift_month(self.end, -1)
        return f"Contract year {self.code[2:]} ({self.start:%b %Y} - {last:%b %Y})"


def parse_period(code: str, *, contract_start: date | None = None) -> Period:
    """The period ``code`` names; ``ValueError(INVALID_PERIOD_MESSAGE)`` when it names none.

    ``2026-03`` a month, ``2026-Q1`` a quarter, ``2026`` a calendar year, ``CY1``, ``CY2``, ...
    the contract's first, second, ... contract year: twelve-month steps from the month of
    ``contract_start`` (without it, a contract year names nothing).
    """
    code = (code or "").strip().upper()
    if m := re.fullmatch(r"(\d{4})-(\d{2})", code):
        year, month = int(m[1]), int(m[2])
        if 1 <= month <= 12 and year >= MIN_YEAR:
            start = date(year, month, 1)
            return Period(code, "month", start, shift_month(start, 1))
    elif m := re.fullmatch(r"(\d{4})-Q([1-4])", code):
        if int(m[1]) >= MIN_YEAR:
            start = date(int(m[1]), 3 * int(m[2]) - 2, 1)
            return Period(code, "quarter", start, shift_month(start, 3))
    elif m := re.fullmatch(r"(\d{4})", code):
        if int(m[1]) >= MIN_YEAR:
            start = date(int(m[1]), 1, 1)
            return Period(code, "year", start, shift_month(start, 12))
    elif (m := re.fullmatch(r"CY([1-9]\d?)", code)) and contract_start is not None:
        start = shift_month(contract_start, 12 * (int(m[1]) - 1))
        return Period(code, "contract_year", start, shift_month(start, 12))
    raise ValueError(INVALID_PERIOD_MESSAGE)
