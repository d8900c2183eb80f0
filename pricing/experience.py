"""Experience files: a program's cost history and enrollment spans, validated row by row and summarised.

Two CSV files (UTF-8, a BOM accepted, comma-separated, a header row; header names matched
case-insensitively with surrounding spaces ignored; column order free; other columns ignored):

``experience.csv``, one row per month and tier (or per member and month: rows are added up):

    month          YYYY-MM (or a date YYYY-MM-DD: its month), not after the current month
    tier           the acuity tier code, as in the bundle (e.g. 1, 2, 3)
    member_months  member-months in the month and tier, more than 0 (proration allowed: 0.5)
    cost           the program's direct cost of care for them, a plain decimal (412.37), 0 or more

``spans.csv`` (optional), one row per enrollment span, for the length of stay (docs/domain.md 4.5):

    enrollment_start       YYYY-MM-DD
    enrollment_end         YYYY-MM-DD, inclusive; empty while still enrolled
    disenrollment_reason   optional: death, hospice, moved, declined, lost_eligibility,
                           discharged, transferred
    member_id, tier        optional, not used in the estimate

Every error is reported, each with its row as a spreadsheet shows it (the header is row 1, the
first data row is row 2) and its column. The files are streamed: a million rows are validated
and added up per month and tier without ever being held in memory (only the first
`MAX_ISSUES` issues are kept, the count of all of them is exact).

No Django here: the service saves the files, calls `summarise_experience` / `summarise_spans`,
and stores the summary only when there is no error at all.
"""

from __future__ import annotations

import csv
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext
from typing import IO, Any

import numpy as np

from pricing.engine import kaplan_meier_spans
from pricing.engine.money import ENGINE_CONTEXT, cents_str

EXPERIENCE_COLUMNS = ("month", "tier", "member_months", "cost")
SPAN_COLUMNS = ("enrollment_start", "enrollment_end", "disenrollment_reason")
SPAN_REQUIRED = ("enrollment_start",)
DISENROLLMENT_REASONS = frozenset(
    {"death", "hospice", "moved", "declined", "lost_eligibility", "discharged", "transferred"}
)
MAX_ISSUES = 1000
MAX_TIER_LENGTH = 32
MAX_ROW_MEMBER_MONTHS = Decimal(1_000_000)
MAX_COST_PER_MEMBER_MONTH = Decimal(1_000_000)
HEADER_ROW = 1

# issue codes (stable: the API returns them, tests and clients match on them)
EMPTY_FILE = "empty_file"
NO_DATA_ROWS = "no_data_rows"
NOT_UTF8 = "not_utf8"
NOT_CSV = "not_csv"
MISSING_COLUMN = "missing_column"
DUPLICATE_COLUMN = "duplicate_column"
EXTRA_CELLS = "extra_cells"
REQUIRED = "required"
INVALID_MONTH = "invalid_month"
MONTH_IN_FUTURE = "month_in_future"
INVALID_DATE = "invalid_date"
DATE_IN_FUTURE = "date_in_future"
END_BEFORE_START = "end_before_start"
AFTER_DATA_END = "after_data_end"
INVALID_NUMBER = "invalid_number"
NOT_POSITIVE = "not_positive"
NEGATIVE = "negative"
IMPLAUSIBLE = "implausible"
TOO_LONG = "too_long"
UNKNOWN_REASON = "unknown_reason"

_DECIMAL_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Issue:
    row: int
    column: str
    code: str
    message: str

    def as_dict(self, file: str) -> dict[str, Any]:
        return {
            "file": file,
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class _Issues:
    kept: list[Issue] = field(default_factory=list)
    count: int = 0

    def add(self, row: int, column: str, code: str, message: str) -> None:
        self.count += 1
        if len(self.kept) < MAX_ISSUES:
            self.kept.append(Issue(row, column, code, message))


@dataclass(frozen=True)
class ExperienceSummary:
    row_count: int
    issues: list[Issue]
    issue_count: int
    summary: dict[str, Any]  # empty when there are issues

    @property
    def valid(self) -> bool:
        return self.issue_count == 0


@dataclass(frozen=True)
class SpansSummary:
    row_count: int
    issues: list[Issue]
    issue_count: int
    summary: dict[str, Any]

    @property
    def valid(self) -> bool:
        return self.issue_count == 0


def month_label(index: int) -> str:
    """A running month index (year * 12 + month - 1) as YYYY-MM."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """The stream's lines decoded one by one, so a decoding error is found on its own row."""
    raw = getattr(stream, "file", stream)  # a Django File: iterate the real file, not its chunk splitter
    first = True
    for line in raw:
        if first:
            first = False
            if line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
        yield line.decode("utf-8")


def _rows(stream: IO[bytes], issues: _Issues) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of a CSV byte stream; decoding problems become issues and end the file."""
    reader = csv.reader(_lines(stream))
    row_number = HEADER_ROW - 1
    try:
        for row_number, row in enumerate(reader, start=HEADER_ROW):  # noqa: B007 - used after the loop
            yield row_number, row
    except UnicodeDecodeError:
        issues.add(
            row_number + 1, "", NOT_UTF8, "The file is not UTF-8 text from this row on; save it as CSV UTF-8."
        )
    except csv.Error as exc:
        issues.add(row_number + 1, "", NOT_CSV, f"The file cannot be read as CSV here: {exc}.")


def _header(cells: list[str], required: tuple[str, ...], issues: _Issues) -> dict[str, int] | None:
    names = [c.strip().lower() for c in cells]
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if name in positions:
            issues.add(HEADER_ROW, name, DUPLICATE_COLUMN, f"The column {name!r} appears twice.")
        positions.setdefault(name, i)
    missing = [c for c in required if c not in positions]
    for column in missing:
        issues.add(HEADER_ROW, column, MISSING_COLUMN, f"The header has no {column!r} column.")
    return None if missing else positions


def _blank(row: list[str]) -> bool:
    return not row or all(not cell.strip() for cell in row)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def summarise_experience(stream: IO[bytes], *, today: date) -> ExperienceSummary:
    """Validate every row of an experience CSV and add member-months and cost up by tier and month."""
    issues = _Issues()
    rows = _rows(stream, issues)
    first = next(rows, None)
    if first is None:
        if not issues.count:
            issues.add(HEADER_ROW, "", EMPTY_FILE, "The file is empty; it needs a header row and data rows.")
        return ExperienceSummary(0, issues.kept, issues.count, {})
    positions = _header(first[1], EXPERIENCE_COLUMNS, issues)
    if positions is None:
        return ExperienceSummary(0, issues.kept, issues.count, {})
    width = len(first[1])
    i_month, i_tier, i_mm, i_cost = (positions[c] for c in EXPERIENCE_COLUMNS)
    current_month = _month_index(today)
    month_cache: dict[str, int | str] = {}  # text -> month index, or the issue code
    cells: dict[tuple[int, str], list[Decimal]] = {}
    decimal_match = _DECIMAL_RE.match
    add = issues.add
    data_rows = 0
    with localcontext(ENGINE_CONTEXT):
        for row_number, row in rows:
            if _blank(row):
                continue
            data_rows += 1
            ok = True
            if len(row) > width and any(c.strip() for c in row[width:]):
                add(row_number, "", EXTRA_CELLS, f"The row has {len(row)} cells but the header only {width}.")
                ok = False
            text = _cell(row, i_month)
            month = month_cache.get(text)
            if month is None:
                month = month_cache[text] = _parse_month(text, current_month)
            if isinstance(month, str):
                ok = False
                add(row_number, "month", month, _MONTH_MESSAGES[month].format(text))
            tier = _cell(row, i_tier)
            if not tier:
                ok = False
                add(row_number, "tier", REQUIRED, "The tier is missing.")
            elif len(tier) > MAX_TIER_LENGTH:
                ok = False
                add(row_number, "tier", TOO_LONG, f"A tier code has at most {MAX_TIER_LENGTH} characters.")
            text = _cell(row, i_mm)
            mm = None
            if not text:
                add(row_number, "member_months", REQUIRED, "Member-months are missing.")
            elif not decimal_match(text):
                add(row_number, "member_months", INVALID_NUMBER, f"{text!r} is not a plain decimal number.")
            else:
                mm = Decimal(text)
                if mm <= 0:
                    add(row_number, "member_months", NOT_POSITIVE, "Member-months must be more than 0.")
                    mm = None
                elif mm > MAX_ROW_MEMBER_MONTHS:
                    add(
                        row_number,
                        "member_months",
                        IMPLAUSIBLE,
                        f"{text} member-months in one row is not plausible.",
                    )
                    mm = None
            text = _cell(row, i_cost)
            cost = None
            if not text:
                add(row_number, "cost", REQUIRED, "The cost is missing.")
            elif not decimal_match(text):
                add(
                    row_number,
                    "cost",
                    INVALID_NUMBER,
                    f"{text!r} is not a plain decimal number (e.g. 412.37).",
                )
            else:
                cost = Decimal(text)
                if cost < 0:
                    add(row_number, "cost", NEGATIVE, "The cost must be 0 or more.")
                    cost = None
                elif mm is not None and cost > mm * MAX_COST_PER_MEMBER_MONTH:
                    add(
                        row_number,
                        "cost",
                        IMPLAUSIBLE,
                        f"{text} for {mm} member-months is more than {MAX_COST_PER_MEMBER_MONTH:,} per member-month.",
                    )
                    cost = None
            if not ok or mm is None or cost is None or issues.count:
                continue  # once anything is wrong only validation goes on: nothing is summarised
            key = (month, tier)  # type: ignore[assignment]
            cell = cells.get(key)  # type: ignore[arg-type]
            if cell is None:
                cells[key] = [mm, cost]  # type: ignore[index]
            else:
                cell[0] += mm
                cell[1] += cost
    if data_rows == 0 and not issues.count:
        issues.add(2, "", NO_DATA_ROWS, "The file has a header but no data rows.")
    if issues.count:
        return ExperienceSummary(data_rows, issues.kept, issues.count, {})
    return ExperienceSummary(data_rows, [], 0, _experience_summary(cells))


_MONTH_MESSAGES = {
    REQUIRED: "The month is missing.{}",
    INVALID_MONTH: "{!r} is not a month (YYYY-MM) or a date (YYYY-MM-DD).",
    MONTH_IN_FUTURE: "{} is after the current month.",
}


def _parse_month(text: str, current_month: int) -> int | str:
    if not text:
        return REQUIRED
    match = _MONTH_RE.match(text)
    if not match:
        return INVALID_MONTH
    year, month, day = int(match[1]), int(match[2]), match[3]
    try:
        date(year, month, int(day) if day else 1)
    except ValueError:
        return INVALID_MONTH
    index = year * 12 + month - 1
    return MONTH_IN_FUTURE if index > current_month else index


def _num(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _experience_summary(cells: dict[tuple[int, str], list[Decimal]]) -> dict[str, Any]:
    by_tier: dict[str, list[Decimal]] = {}
    by_month: dict[int, list[Decimal]] = {}
    with localcontext(ENGINE_CONTEXT):
        for (month, tier), (mm, cost) in cells.items():
            t = by_tier.setdefault(tier, [Decimal(0), Decimal(0)])
            t[0] += mm
            t[1] += cost
            m = by_month.setdefault(month, [Decimal(0), Decimal(0)])
            m[0] += mm
            m[1] += cost
        total_mm = sum((v[0] for v in by_tier.values()), Decimal(0))
        total_cost = sum((v[1] for v in by_tier.values()), Decimal(0))
        first, last = min(by_month), max(by_month)
        # the experience period's midpoint, as the trend's base: the middle month of the span
        middle = (first + last + 1) // 2
        return {
            "first_month": month_label(first),
            "last_month": month_label(last),
            "months": last - first + 1,
            "midpoint": f"{month_label(middle)}-01",
            "by_tier": {
                tier: {"member_months": _num(mm), "cost": _num(cost), "pmpm": cents_str(cost / mm)}
                for tier, (mm, cost) in sorted(by_tier.items(), key=lambda item: _tier_sort_key(item[0]))
            },
            "by_month": [
                {
                    "month": month_label(month),
                    "member_months": _num(mm),
                    "cost": _num(cost),
                    "pmpm": cents_str(cost / mm),
                }
                for month, (mm, cost) in sorted(by_month.items())
            ],
            "total": {
                "member_months": _num(total_mm),
                "cost": _num(total_cost),
                "pmpm": cents_str(total_cost / total_mm),
            },
        }


def _tier_sort_key(code: str) -> tuple[int, int | str]:
    return (0, int(code)) if code.isdigit() else (1, code)


def experience_part(summary: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The pricing file's `experience.by_tier` from a stored summary."""
    return {
        tier: {"member_months": cell["member_months"], "cost": cell["cost"]}
        for tier, cell in summary.get("by_tier", {}).items()
    }


# --- enrollment spans -----------------------------------------------------------------------------


def summarise_spans(stream: IO[bytes], *, today: date, data_end_month: int | None = None) -> SpansSummary:
    """Validate every enrollment span and estimate months enrolled (Kaplan-Meier, censored at data end).

    `data_end_month` is the last month the data covers (the experience file's last month); spans
    still open, or running past it, are censored there. Without it the latest month in the file is used.
    """
    issues = _Issues()
    rows = _rows(stream, issues)
    first = next(rows, None)
    if first is None:
        if not issues.count:
            issues.add(HEADER_ROW, "", EMPTY_FILE, "The file is empty; it needs a header row and data rows.")
        return SpansSummary(0, issues.kept, issues.count, {})
    positions = _header(first[1], SPAN_REQUIRED, issues)
    if positions is None:
        return SpansSummary(0, issues.kept, issues.count, {})
    width = len(first[1])
    i_start = positions["enrollment_start"]
    i_end = positions.get("enrollment_end")
    i_reason = positions.get("disenrollment_reason")
    starts = array("l")
    ends = array("l")  # month index of the last month enrolled, -1 while open
    data_rows = 0
    current_month = _month_index(today)
    for row_number, row in rows:
        if _blank(row):
            continue
        data_rows += 1
        if len(row) > width and any(c.strip() for c in row[width:]):
            issues.add(
                row_number, "", EXTRA_CELLS, f"The row has {len(row)} cells but the header only {width}."
            )
        start = _date_cell(row, i_start, "enrollment_start", row_number, issues, required=True, today=today)
        end = (
            None
            if i_end is None
            else _date_cell(row, i_end, "enrollment_end", row_number, issues, required=False, today=today)
        )
        reason = "" if i_reason is None else _cell(row, i_reason).lower()
        if reason and reason not in DISENROLLMENT_REASONS:
            issues.add(
                row_number,
                "disenrollment_reason",
                UNKNOWN_REASON,
                f"{reason!r} is not a disenrollment reason; one of {', '.join(sorted(DISENROLLMENT_REASONS))}.",
            )
        if isinstance(start, date) and isinstance(end, date) and end < start:
            issues.add(
                row_number, "enrollment_end", END_BEFORE_START, "The enrollment ends before it starts."
            )
            continue
        if isinstance(start, date) and data_end_month is not None and _month_index(start) > data_end_month:
            issues.add(
                row_number,
                "enrollment_start",
                AFTER_DATA_END,
                f"The span starts after {month_label(data_end_month)}, the last month of the experience data.",
            )
            continue
        if isinstance(start, date) and end is not False and not issues.count:
            starts.append(_month_index(start))
            ends.append(_month_index(end) if isinstance(end, date) else -1)
    if data_rows == 0 and not issues.count:
        issues.add(2, "", NO_DATA_ROWS, "The file has a header but no data rows.")
    if issues.count:
        return SpansSummary(data_rows, issues.kept, issues.count, {})
    end_month = data_end_month if data_end_month is not None else max(max(starts), max(ends))
    end_month = min(end_month, current_month)
    summary = km_summary(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), end_month)
    return SpansSummary(data_rows, [], 0, summary)


def _date_cell(
    row: list[str], index: int, column: str, row_number: int, issues: _Issues, *, required: bool, today: date
) -> date | None | bool:
    """The cell as a date; None when empty (and allowed); False after an issue."""
    text = _cell(row, index)
    if not text:
        if required:
            issues.add(row_number, column, REQUIRED, f"The {column.replace('_', ' ')} is missing.")
            return False
        return None
    if not _DATE_RE.match(text):
        issues.add(row_number, column, INVALID_DATE, f"{text!r} is not a date YYYY-MM-DD.")
        return False
    try:
        day = date.fromisoformat(text)
    except ValueError:
        issues.add(row_number, column, INVALID_DATE, f"{text} is not a calendar date.")
        return False
    if day > today:
        issues.add(row_number, column, DATE_IN_FUTURE, f"{text} is in the future.")
        return False
    return day


def km_summary(starts: np.ndarray, ends: np.ndarray, data_end_month: int) -> dict[str, Any]:
    """Kaplan-Meier of months enrolled and the monthly disenrollment probabilities a pricing file takes.

    The observed hazards cover the months the data reaches; beyond them a constant hazard (all
    disenrollments / all months of exposure) continues the curve, so the expected months is not
    cut at the longest span observed.
    """
    open_spans = ends < 0
    last = np.where(open_spans, data_end_month, np.minimum(ends, data_end_month))
    months = last - starts + 1
    disenrolled = ~open_spans & (ends <= data_end_month)
    km = kaplan_meier_spans(starts, months, disenrolled, data_end_month=data_end_month)
    tau = km.restricted_to
    observed_months = np.minimum(months, tau)
    exposure = int(observed_months.sum())
    events = int(km.events[1:].sum())
    tail = events / exposure if exposure else 0.0
    hazards = [f"{h:.8f}" for h in km.hazards[1:]]
    median = next((k for k in range(1, tau + 1) if km.survival[k] <= 0.5), None)
    return {
        "spans": int(starts.size),
        "disenrolled": int(disenrolled.sum()),
        "censored": int(starts.size - disenrolled.sum()),
        "data_end_month": month_label(data_end_month),
        "restricted_to_months": tau,
        "expected_months_observed": f"{km.expected_months:.4f}",
        "median_months": median,
        "exposure_months": exposure,
        "tail_hazard": f"{tail:.8f}",
        "hazards": hazards,
        "survival": [f"{s:.6f}" for s in km.survival],
    }


def observed_disenrollment(spans_summary: dict[str, Any]) -> list[str] | None:
    """Monthly disenrollment probabilities for the pricing file: the observed ones, then the tail."""
    if not spans_summary or not spans_summary.get("hazards"):
        return None
    return [*spans_summary["hazards"], spans_summary["tail_hazard"]]
