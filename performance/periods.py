"""Performance periods as half-open month ranges (pure; no Django).

A period is named by a string:

- ``2026-03``: a month; ``2026-Q1``: a quarter; ``2026``: a calendar year;
- ``CY1``, ``CY2``, ...: the contract's first, second, ... contract year, counted in twelve-month
  steps from the contract's first effective month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

INVALID_PERIOD_MESSAGE = (
    "A period is a month (2026-03), a quarter (2026-Q1), a year (2026) or a contract year (CY1)."
)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    code: str
    kind: str  # month, quarter, year, contract_year
    start: date  # first day, inclusive
    end: date  # first day of the month after the period, exclusive

    @property
    def months(self) -> list[date]:
        out, month = [], self.start
        while month < self.end:
            out.append(month)
            month = add_months(month, 1)
        return out

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        if self.kind == "year":
            return str(self.start.year)
        last = add_months(self.end, -1)
        return f"Contract year {self.code[2:]} ({self.start:%b %Y} - {last:%b %Y})"


def parse_period(code: str, *, contract_start: date | None = None) -> Period:
    """The period ``code`` names; ``ValueError(INVALID_PERIOD_MESSAGE)`` when it names none."""
    code = (code or "").strip().upper()
    if m := re.fullmatch(r"(\d{4})-(\d{2})", code):
        year, month = int(m[1]), int(m[2])
        if 1 <= month <= 12 and year >= 1900:
            start = date(year, month, 1)
            return Period(code, "month", start, add_months(start, 1))
    elif m := re.fullmatch(r"(\d{4})-Q([1-4])", code):
        start = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return Period(code, "quarter", start, add_months(start, 3))
    elif m := re.fullmatch(r"(\d{4})", code):
        if int(m[1]) >= 1900:
            start = date(int(m[1]), 1, 1)
            return Period(code, "year", start, add_months(start, 12))
    elif (m := re.fullmatch(r"CY([1-9]\d?)", code)) and contract_start is not None:
        start = add_months(contract_start.replace(day=1), 12 * (int(m[1]) - 1))
        return Period(code, "contract_year", start, add_months(start, 12))
    raise ValueError(INVALID_PERIOD_MESSAGE)
