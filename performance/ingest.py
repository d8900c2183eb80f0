"""Read and validate a utilisation file (docs/formats.md section 4), CSV or XLSX, row by row.

``enrollment.ingest.tabular.read_table`` only knows the roster and assessment layouts, so this
is a small reader of its own with the same rules: UTF-8 (a BOM accepted), header names matched
case-insensitively with surrounding spaces ignored, column order free, rows numbered as a
spreadsheet shows them (header = row 1). Every problem is reported with its row and column; a
file with any error is refused as a whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from core.domain.problems import Problem
from enrollment.ingest.tabular import DEFAULT_LIMITS, XLSX_EXTRA_CELLS, XLSX_MAX_HEADER_CELLS
from enrollment.ingest.xlsx import Workbook, XlsxError, XlsxLimits

COLUMNS = (
    "member_id",
    "month",
    "ed_visits",
    "inpatient_admissions",
    "icu_admissions",
    "discharges",
    "readmissions_30d",
    "tcoc_amount",
    "acp_documented_date",
    "satisfaction_score",
    "death_date",
    "death_place",
)
REQUIRED = frozenset(COLUMNS[:8])
COUNT_COLUMNS = ("ed_visits", "inpatient_admissions", "icu_admissions", "discharges", "readmissions_30d")
DEATH_PLACES = ("home", "hospital", "nursing_facility", "hospice_facility", "other")
MAX_ROWS = 2_000_000
MAX_ERRORS = 5000
MAX_COUNT = 1000
MAX_TCOC = Decimal("999999999999.99")

NOT_A_TABLE = "The file is not a CSV or XLSX table."
NOT_UTF8 = "The file is not UTF-8 text."
NO_DATA_ROWS = "The file has a header but no data rows."
MISSING_COLUMN = "Required column {column!r} is missing from the header."
DUPLICATE_COLUMN = "Column {column!r} appears twice in the header."
REQUIRED_VALUE = "A value is required."
NOT_A_DATE = "Not a date (YYYY-MM-DD): {value!r}."
NOT_FIRST_OF_MONTH = "The month is the first day of the month (e.g. 2026-03-01)."
NOT_A_COUNT = "Not a whole number from 0 to 1000: {value!r}."
NOT_AN_AMOUNT = "Not an amount (a plain decimal with at most 2 places, 0 or more): {value!r}."
NOT_A_SCORE = "A satisfaction score is a number from 0 to 100: {value!r}."
UNKNOWN_DEATH_PLACE = (
    "Death place is one of home, hospital, nursing_facility, hospice_facility, other: {value!r}."
)
DEATH_PLACE_WITHOUT_DATE = "A death place needs a death date."
READMISSIONS_OVER_DISCHARGES = "Readmissions within 30 days cannot exceed discharges."
DUPLICATE_ROW = "Member {member!r} already has a row for {month} (row {first})."
TOO_MANY_ROWS = "The file has more than {limit} rows."
NOT_AN_XLSX = "The file is not a readable XLSX workbook{reason}."
XLSX_UNREADABLE = "The sheet could not be read past row {row} ({reason})."
# An XLSX is a zip: the sizes its entries declare are checked against this before anything is inflated,
# and the bytes inflated while reading too; rows and cells are counted as they are read.
MAX_XLSX_UNCOMPRESSED = DEFAULT_LIMITS.max_uncompressed_bytes
XLSX_LIMITS = XlsxLimits(
    max_row_cells=DEFAULT_LIMITS.max_row_cells,
    max_cells=DEFAULT_LIMITS.max_cells,
    max_uncompressed_bytes=MAX_XLSX_UNCOMPRESSED,
)


class UtilizationRecord(NamedTuple):
    member_id: str
    month: dt.date
    ed_visits: int
    inpatient_admissions: int
    icu_admissions: int
    discharges: int
    readmissions_30d: int
    tcoc_amount: Decimal
    acp_documented_date: dt.date | None
    satisfaction_score: Decimal | None
    death_date: dt.date | None
    death_place: str


@dataclass
class Result:
    records: list[UtilizationRecord]
    errors: list[Problem]
    error_count: int = 0


class _Unreadable(ValueError):
    """The workbook cannot be read (at all, or past some row); ``code`` is the error code reported."""

    def __init__(self, message: str, code: str = "not_a_table") -> None:
        super().__init__(message)
        self.code = code


def _raw_rows(data: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of the file, the header first (row 1)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        yield from _xlsx_rows(data)
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(NOT_UTF8) from exc
    yield from enumerate(csv.reader(io.StringIO(text, newline="")), start=1)


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """The first sheet's rows, read as ``enrollment.ingest.tabular`` reads a roster workbook.

    :mod:`enrollment.ingest.xlsx` streams the sheet and counts rows, cells per row, cells and inflated
    bytes while reading, so a bomb stops at its first limit; the header is read at most
    ``XLSX_MAX_HEADER_CELLS`` wide and data rows at most the header's width plus ``XLSX_EXTRA_CELLS``.
    Rows the sheet leaves out are not produced (the row numbers say where each row is). Whatever
    stops the reader becomes a ``ValueError`` with a message a person can act on.
    """
    row = 1
    try:
        with Workbook(data, XLSX_LIMITS) as book:
            if not book.sheet_names:
                raise _Unreadable(NOT_AN_XLSX.format(reason=" (it has no sheet)"))
            reader = book.rows(max_col=XLSX_MAX_HEADER_CELLS)
            rows = iter(reader)
            number, first = next(rows, (0, []))
            header = [_cell(v) for v in first] if number == 1 else []
            while header and not header[-1]:
                header.pop()
            yield 1, header
            if not header:
                return
            width = len(header)
            reader.max_col = width + XLSX_EXTRA_CELLS
            for row, values in rows:
                if len(values) == width:
                    yield row, [_cell(v) for v in values]  # the usual row: as wide as the header
                elif values.count(None) == len(values):
                    yield row, []  # a blank row, without looking at each cell
                else:
                    cells = [_cell(v) for v in values]
                    yield row, cells + [""] * (width - len(cells))
    except XlsxError as exc:
        if exc.code == "file_too_large" or exc.row is None:
            raise _Unreadable(exc.message[:1].upper() + exc.message[1:] + ".", exc.code) from exc
        raise _Unreadable(XLSX_UNREADABLE.format(row=row, reason=exc.message)) from exc


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _date(text: str, column: str, row: int, errors: list[Problem]) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(Problem.at_cell(row, column, "not_a_date", NOT_A_DATE.format(value=text)))
        return None


def read_utilization(data: bytes, filename: str = "") -> Result:
    """Validate the whole file; ``records`` is only meaningful when ``errors`` is empty."""
    errors: list[Problem] = []
    records: list[UtilizationRecord] = []
    try:
        rows = _raw_rows(data, filename)
        _, header = next(rows, (1, None))
    except ValueError as exc:
        return Result([], [Problem.at_cell(1, "", getattr(exc, "code", "not_a_table"), str(exc))], 1)
    if not header:
        return Result([], [Problem.at_cell(1, "", "empty_file", NOT_A_TABLE)], 1)
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        key = (name or "").strip().lower().lstrip("\ufeff")
        if key in COLUMNS:
            if key in position:
                errors.append(
                    Problem.at_cell(1, key, "duplicate_column", DUPLICATE_COLUMN.format(column=key))
                )
            position[key] = i
    for column in COLUMNS:
        if column in REQUIRED and column not in position:
            errors.append(Problem.at_cell(1, column, "missing_column", MISSING_COLUMN.format(column=column)))
    if errors:
        return Result([], errors, len(errors))
    seen: dict[tuple[str, dt.date], int] = {}
    indexes = [position.get(c) for c in COLUMNS]
    # The usual layout (the columns of docs/formats.md in their order, nothing else): the cells are the row.
    in_order = indexes == list(range(len(COLUMNS))) and len(header) == len(COLUMNS)
    width_expected = len(COLUMNS)
    strip = str.strip
    month_cache: dict[str, dt.date] = {}
    error_count = 0
    row_number = 1
    try:
        for row_number, raw in rows:  # noqa: B007 - row_number is reported after the loop too
            if row_number > MAX_ROWS + 1:
                errors.append(
                    Problem.at_cell(row_number, "", "too_many_rows", TOO_MANY_ROWS.format(limit=MAX_ROWS))
                )
                break
            if in_order and len(raw) == width_expected:
                cells = list(map(strip, raw))
            else:
                width = len(raw)
                cells = [(raw[i] or "").strip() if i is not None and i < width else "" for i in indexes]
            record = _fast(cells, month_cache)
            row_errors: list[Problem] = []
            if record is None:  # blank, or something is off: the detailed check names every problem
                if not any((c or "").strip() for c in raw):
                    continue
                record = _record(dict(zip(COLUMNS, cells, strict=True)), row_number, row_errors)
            if record is not None and not row_errors:
                key = (record.member_id, record.month)
                if key in seen:
                    row_errors.append(
                        Problem.at_cell(
                            row_number,
                            "month",
                            "duplicate_row",
                            DUPLICATE_ROW.format(
                                member=record.member_id, month=record.month.isoformat(), first=seen[key]
                            ),
                        )
                    )
                else:
                    seen[key] = row_number
                    records.append(record)
            error_count += len(row_errors)
            if len(errors) < MAX_ERRORS:
                errors.extend(row_errors[: MAX_ERRORS - len(errors)])
    except ValueError as exc:  # a decoding problem mid-file, or a sheet unreadable past some row
        errors.append(Problem.at_cell(row_number, "", getattr(exc, "code", "not_a_table"), str(exc)))
        error_count += 1
    except csv.Error as exc:
        errors.append(Problem.at_cell(row_number, "", "not_a_table", f"{NOT_A_TABLE} ({exc})"))
        error_count += 1
    if not records and not errors:
        errors.append(Problem.at_cell(2, "", "no_data_rows", NO_DATA_ROWS))
        error_count += 1
    return Result(records, errors, max(error_count, len(errors)))


_SMALL = {str(i): i for i in range(MAX_COUNT + 1)}
_PLACES = frozenset(DEATH_PLACES)


def _two_places(text: str) -> bool:
    """At most 2 decimal places, read from the text (cheaper than ``Decimal.as_tuple``).

    Conservative: exponent notation is left to the detailed check, which decides.
    """
    dot = text.find(".")
    return (dot < 0 or len(text) - dot <= 3) and "e" not in text and "E" not in text


def _fast(cells: list[str], months: dict[str, dt.date]) -> UtilizationRecord | None:
    """The common case, quickly: a fully valid row, or ``None`` (then ``_record`` finds the errors)."""
    try:
        member, month_text, ed, ip, icu, dis, readm, tcoc_text, acp_text, sat_text, death_text, place = cells
        if not member:
            return None
        month = months.get(month_text)
        if month is None:
            month = dt.date.fromisoformat(month_text)
            if month.day != 1:
                return None
            months[month_text] = month
        ed, ip, icu, dis, readm = (_SMALL[ed], _SMALL[ip], _SMALL[icu], _SMALL[dis], _SMALL[readm])
        if readm > dis:
            return None
        tcoc = Decimal(tcoc_text)
        if not tcoc.is_finite() or tcoc < 0 or tcoc > MAX_TCOC or not _two_places(tcoc_text):
            return None
        acp = dt.date.fromisoformat(acp_text) if acp_text else None
        score = None
        if sat_text:
            score = Decimal(sat_text)
            if not score.is_finite() or not 0 <= score <= 100 or not _two_places(sat_text):
                return None
        death = dt.date.fromisoformat(death_text) if death_text else None
        if place:
            place = place.lower()
            if place not in _PLACES or death is None:
                return None
        return UtilizationRecord(member, month, ed, ip, icu, dis, readm, tcoc, acp, score, death, place)
    except (KeyError, ValueError, ArithmeticError, TypeError):
        return None


def _record(values: dict[str, str], row: int, errors: list[Problem]) -> UtilizationRecord | None:
    for column in REQUIRED:
        if not values.get(column):
            errors.append(Problem.at_cell(row, column, "required", REQUIRED_VALUE))
    month = _date(values["month"], "month", row, errors) if values.get("month") else None
    if month is not None and month.day != 1:
        errors.append(Problem.at_cell(row, "month", "not_first_of_month", NOT_FIRST_OF_MONTH))
    counts: dict[str, int] = {}
    for column in COUNT_COLUMNS:
        text = values.get(column, "")
        if not text:
            continue
        if not text.isdigit() or int(text) > MAX_COUNT:
            errors.append(Problem.at_cell(row, column, "not_a_count", NOT_A_COUNT.format(value=text)))
        else:
            counts[column] = int(text)
    if len(counts) == len(COUNT_COLUMNS) and counts["readmissions_30d"] > counts["discharges"]:
        errors.append(
            Problem.at_cell(
                row, "readmissions_30d", "readmissions_over_discharges", READMISSIONS_OVER_DISCHARGES
            )
        )
    tcoc = None
    if text := values.get("tcoc_amount", ""):
        try:
            tcoc = Decimal(text)
            if not tcoc.is_finite() or tcoc < 0 or tcoc > MAX_TCOC or tcoc != tcoc.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            errors.append(
                Problem.at_cell(row, "tcoc_amount", "not_an_amount", NOT_AN_AMOUNT.format(value=text))
            )
            tcoc = None
    acp = (
        _date(values["acp_documented_date"], "acp_documented_date", row, errors)
        if values.get("acp_documented_date")
        else None
    )
    score = None
    if text := values.get("satisfaction_score", ""):
        try:
            score = Decimal(text)
            if not score.is_finite() or not 0 <= score <= 100 or score != score.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            errors.append(
                Problem.at_cell(row, "satisfaction_score", "not_a_score", NOT_A_SCORE.format(value=text))
            )
            score = None
    death = _date(values["death_date"], "death_date", row, errors) if values.get("death_date") else None
    place = values.get("death_place", "").lower()
    if place and place not in DEATH_PLACES:
        errors.append(
            Problem.at_cell(
                row, "death_place", "unknown_death_place", UNKNOWN_DEATH_PLACE.format(value=place)
            )
        )
    elif place and not values.get("death_date"):
        errors.append(
            Problem.at_cell(row, "death_place", "death_place_without_date", DEATH_PLACE_WITHOUT_DATE)
        )
    if errors:
        return None
    return UtilizationRecord(
        values["member_id"],
        month,
        counts["ed_visits"],
        counts["inpatient_admissions"],
        counts["icu_admissions"],
        counts["discharges"],
        counts["readmissions_30d"],
        tcoc,
        acp,
        score,
        death,
        place,
    )


def write_utilization(records: Iterable[UtilizationRecord]) -> str:
    """Records as a utilisation file (section 4): what utilisation derived from claims is kept as."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in records:
        writer.writerow(["" if value is None else value for value in r])
    return out.getvalue()
