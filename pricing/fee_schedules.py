"""A plan's own fee schedule (a state Medicaid schedule): a CSV validated row by row, and the rates
in effect on a day.

``fee-schedule.csv`` (UTF-8, a BOM accepted, comma-separated, a header row; header names matched
case-insensitively; column order free; other columns ignored), one row per code and period:

    code             the procedure code: five letters or digits (99349, G0511)
    modifier         optional: two letters or digits (a rate that applies with that modifier only)
    rate             what one unit pays, in dollars: 0 or more, at most two decimals (88.10)
    effective_start  YYYY-MM-DD
    effective_end    YYYY-MM-DD, inclusive; empty while in effect

The same code and modifier may appear again only for a period that does not overlap. Every error
is reported with its row (the header is row 1) and column; a file with any error is rejected whole.
No Django here: the service stores the file, calls `read_fee_schedule` and keeps the rows only when
there is no error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from pricing.experience import HEADER_ROW, _blank, _cell, _header, _Issues, _rows

FEE_SCHEDULE_COLUMNS = ("code", "modifier", "rate", "effective_start", "effective_end")
REQUIRED_COLUMNS = ("code", "rate", "effective_start")
MAX_RATE = Decimal(100_000)
MAX_ROWS = 200_000
_CODE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

TEMPLATE = (
    "code,modifier,rate,effective_start,effective_end\n"
    "99349,,88.10,2026-01-01,\n"
    "99345,,150.25,2026-01-01,\n"
    "99487,,95.40,2026-01-01,2026-06-30\n"
    "99487,,97.00,2026-07-01,\n"
    "G0511,,72.00,2026-01-01,\n"
)


@dataclass(frozen=True)
class FeeScheduleFile:
    row_count: int
    issues: list[Any]
    issue_count: int
    rows: list[dict[str, str]]  # empty when there are issues

    @property
    def valid(self) -> bool:
        return self.issue_count == 0


def _date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def read_fee_schedule(stream: IO[bytes]) -> FeeScheduleFile:
    """Validate every row of a fee schedule CSV; the rows (as plain strings) when all are right."""
    issues = _Issues("fee_schedule")
    rows: list[dict[str, str]] = []
    periods: dict[tuple[str, str], list[tuple[date, date | None, int]]] = {}
    positions: dict[str, int] | None = None
    count = 0
    for number, cells in _rows(stream, issues):
        if number == HEADER_ROW:
            positions = _header(cells, REQUIRED_COLUMNS, issues)
            if positions is None:
                break
            continue
        if _blank(cells) or positions is None:
            continue
        count += 1
        if count > MAX_ROWS:
            issues.cell(number, "", "too_many_rows", f"A fee schedule has at most {MAX_ROWS:,} rows.")
            break
        values = {
            c: _cell(cells, positions[c]).upper() if c in ("code", "modifier") else _cell(cells, positions[c])
            for c in FEE_SCHEDULE_COLUMNS
            if c in positions
        }
        code, modifier = values.get("code", ""), values.get("modifier", "")
        ok = True
        if not code:
            issues.cell(number, "code", "required", "The code is empty.")
            ok = False
        elif not _CODE.match(code):
            issues.cell(
                number, "code", "invalid_code", f"{code!r} is not a procedure code (five letters or digits)."
            )
            ok = False
        if modifier and not _MODIFIER.match(modifier):
            issues.cell(
                number,
                "modifier",
                "invalid_modifier",
                f"{modifier!r} is not a modifier (two letters or digits).",
            )
            ok = False
        rate = _rate(values.get("rate", ""), number, issues)
        start = _date(values.get("effective_start", ""))
        if start is None:
            issues.cell(number, "effective_start", "invalid_date", "The start is a date YYYY-MM-DD.")
        end_text = values.get("effective_end", "")
        end = _date(end_text) if end_text else None
        if end_text and end is None:
            issues.cell(number, "effective_end", "invalid_date", "The end is a date YYYY-MM-DD, or empty.")
        elif start is not None and end is not None and end < start:
            issues.cell(number, "effective_end", "end_before_start", "The end is before the start.")
            end = None
        if not ok or rate is None or start is None or (end_text and end is None):
            continue
        key = (code, modifier)
        for other_start, other_end, other_row in periods.get(key, []):
            if start <= (other_end or date.max) and other_start <= (end or date.max):
                name = code + (f" with modifier {modifier}" if modifier else "")
                issues.cell(
                    number,
                    "effective_start",
                    "overlapping_period",
                    f"{name} already has a rate for part of this period (row {other_row}).",
                )
                break
        else:
            periods.setdefault(key, []).append((start, end, number))
            rows.append(
                {
                    "code": code,
                    "modifier": modifier,
                    "rate": format(rate, "f"),
                    "effective_start": start.isoformat(),
                    "effective_end": end.isoformat() if end else "",
                }
            )
    if positions is not None and count == 0 and not issues:
        issues.cell(HEADER_ROW + 1, "", "no_data_rows", "The file has a header but no rate.")
    if positions is None and not issues:
        issues.cell(HEADER_ROW, "", "empty_file", "The file is empty.")
    return FeeScheduleFile(count, list(issues), len(issues), [] if issues else rows)


def _rate(text: str, row: int, issues: _Issues) -> Decimal | None:
    try:
        rate = Decimal(text)
    except InvalidOperation:
        issues.cell(
            row,
            "rate",
            "invalid_number",
            f"{text!r} is not an amount (88.10)." if text else "The rate is empty.",
        )
        return None
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
        issues.cell(row, "rate", "out_of_range", f"A rate is an amount from 0 to {MAX_RATE:,}.")
        return None
    if rate.as_tuple().exponent < -2:  # type: ignore[operator]
        issues.cell(row, "rate", "too_precise", "A rate has at most two decimals (cents).")
        return None
    return rate


def rates_on(rows: list[dict[str, str]], day: date) -> dict[str, str]:
    """The rates in effect on ``day``, keyed by code (or "code:modifier" for a modifier's rate)."""
    out: dict[str, str] = {}
    for row in rows:
        start = date.fromisoformat(row["effective_start"])
        end = date.fromisoformat(row["effective_end"]) if row["effective_end"] else date.max
        if start <= day <= end:
            out[row["code"] + (f":{row['modifier']}" if row["modifier"] else "")] = row["rate"]
    return out
