"""Read and validate a claims extract (docs/formats.md section 11), CSV or Parquet, row by row.

One row per claim line. The rules are those of every table we read (docs/formats.md,
"Conventions"): UTF-8, header names matched without regard to case or surrounding spaces, column
order free, rows numbered as a spreadsheet shows them (a Parquet file's first record is row 2 too),
every problem reported with its row and column, and a file with any error refused as a whole.
Pure: no Django.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from claims.records import (
    FREQUENCY_CODES,
    INSTITUTIONAL,
    ORIGINAL,
    PROFESSIONAL,
    ClaimLine,
)
from core.domain.problems import WARNING, Problem

COLUMNS = (
    "member_id",
    "claim_id",
    "line_number",
    "claim_type",
    "frequency_code",
    "bill_type",
    "place_of_service",
    "revenue_code",
    "procedure_code",
    "modifiers",
    "diagnosis_codes",
    "admission_date",
    "discharge_date",
    "discharge_status",
    "service_from",
    "service_to",
    "paid_date",
    "allowed_amount",
    "paid_amount",
)
REQUIRED = frozenset(
    ("member_id", "claim_id", "line_number", "claim_type", "service_from", "paid_date", "paid_amount")
)
MAX_ID = 64
MAX_LINE_NUMBER = 9999
MAX_MODIFIERS = 4
MAX_DIAGNOSES = 25
MAX_AMOUNT = Decimal("9999999999.99")
MAX_ERRORS = 5000
PARQUET_MAGIC = b"PAR1"

NOT_A_TABLE = "The file is not a CSV or Parquet table."
NOT_UTF8 = "The file is not UTF-8 text."
NOT_PARQUET = "The file is not a readable Parquet file ({reason})."
NO_DATA_ROWS = "The file has a header but no data rows."
MISSING_COLUMN = "Required column {column!r} is missing from the header."
DUPLICATE_COLUMN = "Column {column!r} appears twice in the header."
REQUIRED_VALUE = "A value is required."
TOO_LONG = "At most {limit} characters."
NOT_A_DATE = "Not a date (YYYY-MM-DD): {value!r}."
NOT_A_LINE_NUMBER = "A line number is a whole number from 1 to 9999: {value!r}."
UNKNOWN_CLAIM_TYPE = "Claim type is professional or institutional: {value!r}."
UNKNOWN_FREQUENCY = "Frequency code is 1 (original), 7 (replacement) or 8 (void): {value!r}."
NOT_A_BILL_TYPE = "A bill type is 3 digits, e.g. 111 (a leading 0 is dropped): {value!r}."
BILL_TYPE_REQUIRED = "An institutional claim line needs its bill type."
FREQUENCY_DIFFERS = "The frequency code {code} differs from the bill type's last digit ({digit})."
NOT_A_PLACE_OF_SERVICE = "A place of service is 2 digits, e.g. 11 or 23: {value!r}."
PLACE_OF_SERVICE_REQUIRED = "A professional claim line needs its place of service."
NOT_A_REVENUE_CODE = "A revenue code is 4 digits, e.g. 0450: {value!r}."
NOT_A_PROCEDURE_CODE = "A procedure code is a CPT or HCPCS code of 5 letters and digits: {value!r}."
NOT_A_MODIFIER = (
    "Modifiers are up to 4 codes of 2 letters or digits separated by ':' (e.g. 25:GT): {value!r}."
)
NOT_A_DIAGNOSIS = (
    "Diagnoses are ICD-10-CM codes separated by ':', the principal first, at most 25 (e.g. C34.90:R52): "
    "{value!r}."
)
NOT_A_DISCHARGE_STATUS = "A discharge status is 2 digits, e.g. 01 (home) or 20 (expired): {value!r}."
ADMISSION_REQUIRED = "An inpatient claim line (bill type 11x) needs its admission date."
SERVICE_TO_BEFORE_FROM = "service_to is before service_from."
DISCHARGE_BEFORE_ADMISSION = "discharge_date is before admission_date."
PAID_BEFORE_SERVICE = "paid_date is before service_from: a claim is paid after its service."
NOT_AN_AMOUNT = "Not an amount (a plain decimal with at most 2 places, 0 or more): {value!r}."
DUPLICATE_LINE = (
    "Claim {claim!r} line {line} (frequency {frequency}) is already in row {first}: a file holds one version "
    "of a claim per frequency code (send its latest)."
)
CLAIM_MEMBER_MISMATCH = "Claim {claim!r} is for member {member!r} in row {first}."
CLAIM_TYPE_MISMATCH = "Claim {claim!r} is {claim_type} in row {first}."
TOO_MANY_ERRORS = "Reading stopped after {limit} errors; fix these and upload the file again."
UNKNOWN_COLUMN = "Column {column!r} is not one we read; it is ignored."

_DIGITS2 = re.compile(r"^\d{2}$")
_BILL_TYPE = re.compile(r"^0?(\d{3})$")
_REVENUE = re.compile(r"^\d{3,4}$")
_PROCEDURE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_DIAGNOSIS = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?$")
_AMOUNT = re.compile(r"^\d{1,10}(?:\.\d{1,2})?$")
_SPLIT = re.compile(r"[:\s]+")
CLAIM_TYPES = {
    "professional": PROFESSIONAL,
    "p": PROFESSIONAL,
    "institutional": INSTITUTIONAL,
    "i": INSTITUTIONAL,
}


@dataclass
class Result:
    records: list[ClaimLine]
    errors: list[Problem]
    error_count: int = 0
    warnings: list[Problem] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the row each record came from


class _Unreadable(ValueError):
    pass


def read_claims(data: bytes, filename: str = "") -> Result:
    """Validate the whole file; ``records`` is only meaningful when ``errors`` is empty."""
    try:
        header, rows = _table(data, filename)
    except _Unreadable as exc:
        return Result([], [Problem.at_cell(1, "", "not_a_table", str(exc))], 1)
    if not header:
        return Result([], [Problem.at_cell(1, "", "empty_file", NOT_A_TABLE)], 1)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    position: dict[str, int] = {}
    for i, name in enumerate(header):
        key = (name or "").strip().lower().lstrip("\ufeff")
        if key in COLUMNS:
            if key in position:
                errors.append(
                    Problem.at_cell(1, key, "duplicate_column", DUPLICATE_COLUMN.format(column=key))
                )
            position[key] = i
        elif key:
            warnings.append(
                Problem.at_cell(1, key, "unknown_column", UNKNOWN_COLUMN.format(column=key), severity=WARNING)
            )
    for column in COLUMNS:
        if column in REQUIRED and column not in position:
            errors.append(Problem.at_cell(1, column, "missing_column", MISSING_COLUMN.format(column=column)))
    if errors:
        return Result([], errors, len(errors), warnings)
    result = Result([], errors, 0, warnings)
    checker = _Checker(position, result)
    try:
        for row, cells in rows:
            if any(c.strip() for c in cells):
                checker.row(row, cells)
                if len(errors) >= MAX_ERRORS:
                    errors.append(
                        Problem.at_cell(row, "", "too_many_errors", TOO_MANY_ERRORS.format(limit=MAX_ERRORS))
                    )
                    break
    except _Unreadable as exc:
        errors.append(Problem.at_cell(checker.last_row + 1, "", "not_a_table", str(exc)))
    if not result.records and not errors:
        errors.append(Problem.at_cell(1, "", "no_data_rows", NO_DATA_ROWS))
    result.error_count = len(errors)
    return result


# -- reading the table ------------------------------------------------------------------------------


def _table(data: bytes, filename: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    if data[:4] == PARQUET_MAGIC or filename.lower().endswith(".parquet"):
        return _parquet(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Unreadable(NOT_UTF8) from exc
    reader = enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
    try:
        _, header = next(reader, (1, []))
    except csv.Error as exc:
        raise _Unreadable(NOT_A_TABLE) from exc
    return header, _csv_rows(reader)


def _csv_rows(reader: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from reader
    except csv.Error as exc:
        raise _Unreadable(f"{NOT_A_TABLE} ({exc})") from exc


def _parquet(data: bytes) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    # pyarrow is imported here: reading a CSV does not need it loaded.
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _Unreadable(NOT_PARQUET.format(reason=str(exc)[:120])) from exc
    header = list(parquet.schema_arrow.names)

    def rows() -> Iterator[tuple[int, list[str]]]:
        row = 1
        try:
            for batch in parquet.iter_batches(batch_size=65_536):
                columns = [[_parquet_cell(v) for v in column.to_pylist()] for column in batch.columns]
                for cells in zip(*columns, strict=True):
                    row += 1
                    yield row, list(cells)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _Unreadable(NOT_PARQUET.format(reason=str(exc)[:120])) from exc

    return header, rows()


def _parquet_cell(value: object) -> str:
    """A Parquet value written as the CSV would have it, so one checker reads both."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list | tuple):
        return ":".join(str(v) for v in value if v is not None)
    return str(value).strip()


# -- checking each row ------------------------------------------------------------------------------


class _Checker:
    """Checks rows one at a time and remembers what a later row is compared with."""

    def __init__(self, position: dict[str, int], result: Result) -> None:
        self.position = position
        self.result = result
        self.last_row = 1
        self.seen_lines: dict[tuple[str, str, int], int] = {}
        self.claims: dict[str, tuple[str, str, int]] = {}  # claim id -> (member, claim type, first row)

    def row(self, row: int, cells: list[str]) -> None:
        self.last_row = row
        errors = self.result.errors
        values = {
            column: (cells[i].strip() if i < len(cells) and cells[i] is not None else "")
            for column, i in self.position.items()
        }

        def problem(column: str, code: str, message: str) -> None:
            errors.append(Problem.at_cell(row, column, code, message))

        for column in REQUIRED:
            if not values.get(column):
                problem(column, "required", REQUIRED_VALUE)
        for column in ("member_id", "claim_id"):
            if len(values.get(column, "")) > MAX_ID:
                problem(column, "too_long", TOO_LONG.format(limit=MAX_ID))
        line_number = _whole(values.get("line_number", ""))
        if values.get("line_number") and line_number is None:
            problem("line_number", "not_a_line_number", NOT_A_LINE_NUMBER.format(value=values["line_number"]))
        claim_type = CLAIM_TYPES.get(values.get("claim_type", "").lower())
        if values.get("claim_type") and claim_type is None:
            problem("claim_type", "unknown_claim_type", UNKNOWN_CLAIM_TYPE.format(value=values["claim_type"]))

        bill_type = ""
        if text := values.get("bill_type", ""):
            match = _BILL_TYPE.match(text)
            if match:
                bill_type = match.group(1)
            else:
                problem("bill_type", "not_a_bill_type", NOT_A_BILL_TYPE.format(value=text))
        elif claim_type == INSTITUTIONAL:
            problem("bill_type", "required", BILL_TYPE_REQUIRED)
        frequency = values.get("frequency_code", "")
        if frequency and frequency not in FREQUENCY_CODES:
            problem("frequency_code", "unknown_frequency_code", UNKNOWN_FREQUENCY.format(value=frequency))
        if bill_type:
            digit = bill_type[2]
            if not frequency and digit in FREQUENCY_CODES:
                frequency = digit
            elif frequency in FREQUENCY_CODES and digit in FREQUENCY_CODES and digit != frequency:
                problem(
                    "frequency_code",
                    "frequency_differs",
                    FREQUENCY_DIFFERS.format(code=frequency, digit=digit),
                )
        frequency = frequency or ORIGINAL

        place = values.get("place_of_service", "")
        if place and not _DIGITS2.match(place):
            problem("place_of_service", "not_a_place_of_service", NOT_A_PLACE_OF_SERVICE.format(value=place))
        elif not place and claim_type == PROFESSIONAL:
            problem("place_of_service", "required", PLACE_OF_SERVICE_REQUIRED)
        revenue = values.get("revenue_code", "")
        if revenue and not _REVENUE.match(revenue):
            problem("revenue_code", "not_a_revenue_code", NOT_A_REVENUE_CODE.format(value=revenue))
        procedure = values.get("procedure_code", "").upper()
        if procedure and not _PROCEDURE.match(procedure):
            problem("procedure_code", "not_a_procedure_code", NOT_A_PROCEDURE_CODE.format(value=procedure))
        modifiers = _codes(values.get("modifiers", ""))
        if len(modifiers) > MAX_MODIFIERS or not all(_MODIFIER.match(m) for m in modifiers):
            problem("modifiers", "not_a_modifier", NOT_A_MODIFIER.format(value=values["modifiers"]))
        diagnoses = _codes(values.get("diagnosis_codes", ""))
        if len(diagnoses) > MAX_DIAGNOSES or not all(_DIAGNOSIS.match(d) for d in diagnoses):
            problem(
                "diagnosis_codes",
                "not_a_diagnosis_code",
                NOT_A_DIAGNOSIS.format(value=values["diagnosis_codes"]),
            )
        status = values.get("discharge_status", "")
        if status and not _DIGITS2.match(status):
            problem("discharge_status", "not_a_discharge_status", NOT_A_DISCHARGE_STATUS.format(value=status))

        dates: dict[str, dt.date | None] = {}
        for column in ("admission_date", "discharge_date", "service_from", "service_to", "paid_date"):
            text = values.get(column, "")
            dates[column] = None
            if text:
                try:
                    dates[column] = dt.date.fromisoformat(text)
                except ValueError:
                    problem(column, "not_a_date", NOT_A_DATE.format(value=text))
        service_from, paid = dates["service_from"], dates["paid_date"]
        service_to = dates["service_to"] or service_from
        admission, discharge = dates["admission_date"], dates["discharge_date"]
        if bill_type.startswith("11") and not values.get("admission_date"):
            problem("admission_date", "required", ADMISSION_REQUIRED)
        if service_from and service_to and service_to < service_from:
            problem("service_to", "service_to_before_from", SERVICE_TO_BEFORE_FROM)
        if admission and discharge and discharge < admission:
            problem("discharge_date", "discharge_before_admission", DISCHARGE_BEFORE_ADMISSION)
        if service_from and paid and paid < service_from:
            problem("paid_date", "paid_before_service", PAID_BEFORE_SERVICE)

        amounts: dict[str, Decimal | None] = {}
        for column in ("allowed_amount", "paid_amount"):
            amounts[column] = None
            if text := values.get(column, ""):
                amounts[column] = _amount(text)
                if amounts[column] is None:
                    problem(column, "not_an_amount", NOT_AN_AMOUNT.format(value=text))

        member, claim = values.get("member_id", ""), values.get("claim_id", "")
        if claim and member and claim_type:
            first = self.claims.setdefault(claim, (member, claim_type, row))
            if first[0] != member:
                problem(
                    "member_id",
                    "claim_member_mismatch",
                    CLAIM_MEMBER_MISMATCH.format(claim=claim, member=first[0], first=first[2]),
                )
            elif first[1] != claim_type:
                problem(
                    "claim_type",
                    "claim_type_mismatch",
                    CLAIM_TYPE_MISMATCH.format(claim=claim, claim_type=first[1], first=first[2]),
                )
        if claim and line_number is not None:
            first_row = self.seen_lines.setdefault((claim, frequency, line_number), row)
            if first_row != row:
                problem(
                    "line_number",
                    "duplicate_line",
                    DUPLICATE_LINE.format(
                        claim=claim, line=line_number, frequency=frequency, first=first_row
                    ),
                )
        if errors:  # records only matter for a file without errors
            return
        assert service_from and service_to and paid and line_number is not None and claim_type
        paid_amount = amounts["paid_amount"]
        assert paid_amount is not None
        self.result.records.append(
            ClaimLine(
                member_id=member,
                claim_id=claim,
                line_number=line_number,
                claim_type=claim_type,
                frequency_code=frequency,
                bill_type=bill_type,
                place_of_service=place,
                revenue_code=revenue.zfill(4) if revenue else "",
                procedure_code=procedure,
                modifiers=modifiers,
                diagnosis_codes=diagnoses,
                admission_date=admission,
                discharge_date=discharge,
                discharge_status=status,
                service_from=service_from,
                service_to=service_to,
                paid_date=paid,
                allowed_amount=amounts["allowed_amount"],
                paid_amount=paid_amount,
            )
        )
        self.result.rows.append(row)


def _whole(text: str) -> int | None:
    if not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= MAX_LINE_NUMBER else None


def _amount(text: str) -> Decimal | None:
    if not _AMOUNT.match(text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None
    return value if value <= MAX_AMOUNT else None


def _codes(text: str) -> tuple[str, ...]:
    return tuple(code.upper().replace(".", "") for code in _SPLIT.split(text.strip()) if code)


def write_claims_csv(lines: Iterable[ClaimLine]) -> str:
    """Claim lines as a claims extract (the template and the tests write files with it)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.member_id,
                line.claim_id,
                line.line_number,
                line.claim_type,
                line.frequency_code,
                line.bill_type,
                line.place_of_service,
                line.revenue_code,
                line.procedure_code,
                ":".join(line.modifiers),
                ":".join(line.diagnosis_codes),
                line.admission_date or "",
                line.discharge_date or "",
                line.discharge_status,
                line.service_from,
                line.service_to,
                line.paid_date,
                "" if line.allowed_amount is None else line.allowed_amount,
                line.paid_amount,
            ]
        )
    return out.getvalue()
