"""Read a roster or an assessments file (CSV, XLSX or JSON) into rows of strings.

One reader for the three formats a provider may send (docs/formats.md sections 1 and 2), so that
:mod:`enrollment.ingest.roster` validates a single shape: a :class:`Table` whose rows are
``(row_number, values)`` with the values as stripped strings in the canonical column order
(``ROSTER_COLUMNS`` / ``ASSESSMENT_COLUMNS``) and ``""`` for an absent optional column.

Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2.
For JSON the first record is row 2 as well (record index + 2), so an error message reads the
same whatever format the provider used.

Rows are streamed (CSV is decoded line by line, an XLSX sheet is parsed in chunks by
:mod:`enrollment.ingest.xlsx`) so a million-row file is never held twice in memory. Limits
(:class:`ReadLimits`) cap the input size, the number of rows, an XLSX's uncompressed size and its
cells (counted while reading), so a zip or cell bomb is refused before it expands.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import operator
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from core.domain.problems import Problem
from enrollment.ingest import xlsx
from enrollment.ingest.roster import (
    ASSESSMENT_COLUMNS,
    ASSESSMENT_REQUIRED,
    DUPLICATE_COLUMN,
    EMPTY_FILE,
    FILE_TOO_LARGE,
    HEADER_ROW,
    INVALID_VALUE,
    MISSING_COLUMN,
    NO_DATA_ROWS,
    NOT_A_TABLE,
    NOT_UTF8,
    ROSTER_COLUMNS,
    ROSTER_REQUIRED,
    TOO_MANY_CELLS,
    UNKNOWN_COLUMN,
    UNSUPPORTED_FORMAT,
    AssessmentRow,
    RosterRow,
    Validation,
    ValidationContext,
    validate_assessments,
    validate_roster,
)
from enrollment.ingest.xlsx import DEFAULT_XLSX_LIMITS, Workbook, XlsxError, XlsxLimits

ROSTER = "roster"
ASSESSMENTS = "assessments"
FORMATS = ("csv", "xlsx", "json")

_SPECS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    ROSTER: (ROSTER_COLUMNS, ROSTER_REQUIRED),
    ASSESSMENTS: (ASSESSMENT_COLUMNS, ASSESSMENT_REQUIRED),
}

Source = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True)
class ReadLimits:
    """Upper bounds that keep one upload from exhausting the server.

    ``max_uncompressed_bytes`` is checked against the sizes an XLSX (a zip) declares before
    anything is inflated and against the bytes inflated while reading; ``max_row_cells`` and
    ``max_cells`` count an XLSX's cell elements as they are read (:mod:`enrollment.ingest.xlsx`),
    so neither a lying zip nor a row of millions of empty cells gets far.
    """

    max_bytes: int = 512 * 1024 * 1024
    max_rows: int = 2_000_000
    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_row_cells: int = DEFAULT_XLSX_LIMITS.max_row_cells  # cell elements in one XLSX row, counted
    max_cells: int = DEFAULT_XLSX_LIMITS.max_cells  # cell elements in an XLSX sheet, counted


DEFAULT_LIMITS = ReadLimits()

# An XLSX row is read this many cells wide at most: the header (a roster has 10 columns, a file may
# carry a few more) and, for data rows, the header's width plus a margin to notice values beyond it.
# Cells further right are counted against the limits but never kept.
XLSX_MAX_HEADER_CELLS = 1024
XLSX_EXTRA_CELLS = 16


class Table:
    """Rows of one file in canonical column order; iterate once.

    ``errors``/``warnings`` hold the file-level issues found while opening the file and
    grow while iterating (a row with too many cells, a decoding error, the row limit), so
    read them after the rows have been consumed, as the validators do.
    """

    def __init__(
        self,
        kind: str,
        fmt: str,
        rows: Iterator[tuple[int, tuple[str, ...]]] | None = None,
        errors: list[Problem] | None = None,
        warnings: list[Problem] | None = None,
    ) -> None:
        self.kind = kind
        self.format = fmt
        self.columns: tuple[str, ...] = _SPECS[kind][0]
        self.errors: list[Problem] = errors if errors is not None else []
        self.warnings: list[Problem] = warnings if warnings is not None else []
        self._rows = rows if rows is not None else iter(())

    def __iter__(self) -> Iterator[tuple[int, tuple[str, ...]]]:
        return self._rows


# --------------------------------------------------------------------------- public entry points
def read_table(
    source: Source,
    kind: str,
    *,
    fmt: str | None = None,
    filename: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Table:
    """Open ``source`` (bytes, a path or a binary file) as a roster or assessments table.

    ``fmt`` is ``csv``, ``xlsx`` or ``json``; when omitted it is taken from ``filename``'s
    extension or sniffed from the first bytes. Problems with the file as a whole come back
    as issues on row 1, never as exceptions, so the upload page can show them like any other.
    """
    if kind not in _SPECS:
        raise ValueError(f"kind must be {ROSTER!r} or {ASSESSMENTS!r}")
    fh, size, close = _open(source)
    try:
        if size is not None and size > limits.max_bytes:
            return _fail(
                kind,
                fmt or "csv",
                FILE_TOO_LARGE,
                f"the file is {size:,} bytes; the limit is {limits.max_bytes:,}",
            )
        start = fh.tell()
        head = fh.read(8192)
        fh.seek(start)
        if not head.strip(b" \t\r\n\xef\xbb\xbf"):
            return _fail(kind, fmt or "csv", EMPTY_FILE, "the file is empty")
        chosen = fmt or _format_from_name(filename) or _sniff(head)
        if chosen not in FORMATS:
            return _fail(
                kind, "csv", UNSUPPORTED_FORMAT, f"unsupported format {chosen!r}; use CSV, XLSX or JSON"
            )
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            return _fail(
                kind,
                chosen,
                UNSUPPORTED_FORMAT,
                "this is an old Excel .xls file; save it as .xlsx or CSV UTF-8",
            )
        if chosen == "xlsx":
            data = fh.read(limits.max_bytes + 1)
            return _xlsx_table(bytes(data), kind, limits)
        if chosen == "json":
            data = fh.read(limits.max_bytes + 1)
            if len(data) > limits.max_bytes:
                return _fail(
                    kind, chosen, FILE_TOO_LARGE, f"the file is larger than {limits.max_bytes:,} bytes"
                )
            return _json_table(bytes(data), kind, limits)
        if _looks_binary(head):
            return _fail(kind, "csv", NOT_A_TABLE, "this is a binary file, not a CSV text file")
        table = _csv_table(fh, kind, limits, close if close else None)
        close = None  # the CSV generator closes the file when it is done
        return table
    finally:
        if close:
            close()


def read_roster(
    source: Source,
    ctx: ValidationContext,
    *,
    fmt: str | None = None,
    filename: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Validation[RosterRow]:
    """Read and validate a monthly roster in one call (what the submission service uses)."""
    return validate_roster(read_table(source, ROSTER, fmt=fmt, filename=filename, limits=limits), ctx)


def read_assessments(
    source: Source,
    ctx: ValidationContext,
    *,
    fmt: str | None = None,
    filename: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> Validation[AssessmentRow]:
    """Read and validate an initial-assessments file in one call."""
    return validate_assessments(
        read_table(source, ASSESSMENTS, fmt=fmt, filename=filename, limits=limits), ctx
    )


# --------------------------------------------------------------------------- opening and sniffing
def _open(source: Source) -> tuple[IO[bytes], int | None, Callable[[], None] | None]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        return io.BytesIO(data), len(data), None
    if isinstance(source, str | os.PathLike):
        fh = open(source, "rb")  # closed by read_table, or by the CSV row generator when it ends
        return fh, os.fstat(fh.fileno()).st_size, fh.close
    try:
        pos = source.tell()
        source.seek(0, os.SEEK_END)
        size = source.tell() - pos
        source.seek(pos)
    except (OSError, AttributeError):
        size = None
    if not source.seekable():
        data = source.read()
        return io.BytesIO(data), len(data), None
    return source, size, None


def _format_from_name(filename: str | None) -> str | None:
    if not filename:
        return None
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    return {"csv": "csv", "txt": "csv", "xlsx": "xlsx", "xlsm": "xlsx", "json": "json"}.get(ext, ext or None)


def _sniff(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"[", b"{"):
        return "json"
    return "csv"


def _looks_binary(head: bytes) -> bool:
    """NUL bytes or many control characters: an image, a PDF, a zip, not a text file."""
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > max(2, len(head) // 100)


def _fail(kind: str, fmt: str, code: str, message: str) -> Table:
    return Table(kind, fmt, errors=[Problem.at_cell(HEADER_ROW, "", code, message)])


# --------------------------------------------------------------------------- header handling
@dataclass
class _Layout:
    """Where each canonical column sits in the file's rows."""

    width: int  # number of header cells
    getter: Callable[[list[str]], tuple[str, ...]]
    pad_to: int  # rows are padded to this many cells (width + 1 when a column is absent)
    ok: bool


def _layout(header: list[str], kind: str, issues: list[Problem], warnings: list[Problem]) -> _Layout:
    columns, required = _SPECS[kind]
    names = [(h or "").strip().lower() for h in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0].lstrip("\ufeff")
    position: dict[str, int] = {}
    ok = True
    for i, name in enumerate(names):
        if not name:
            continue
        if name in columns:
            if name in position:
                issues.append(
                    Problem.at_cell(
                        HEADER_ROW, name, DUPLICATE_COLUMN, f"column {name!r} appears twice in the header"
                    )
                )
                ok = False
            else:
                position[name] = i
        else:
            warnings.append(
                Problem.at_cell(
                    HEADER_ROW,
                    header[i].strip(),
                    UNKNOWN_COLUMN,
                    f"column {header[i].strip()!r} is not used and was ignored",
                )
            )
    for name in columns:
        if name in required and name not in position:
            issues.append(
                Problem.at_cell(
                    HEADER_ROW, name, MISSING_COLUMN, f"required column {name!r} is missing from the header"
                )
            )
            ok = False
    width = len(names)
    idx = [position.get(name, width) for name in columns]
    pad_to = width + 1 if any(name not in position for name in columns) else width
    return _Layout(width, operator.itemgetter(*idx), pad_to, ok)


# --------------------------------------------------------------------------- CSV
class _NotUtf8(Exception):
    def __init__(self, line: int, byte: int) -> None:
        self.line = line
        self.byte = byte


class _TooLarge(Exception):
    pass


def _decoded_lines(fh: IO[bytes], max_bytes: int) -> Iterator[str]:
    """Decode UTF-8 one line at a time, so a bad byte is reported with its line number."""
    seen = 0
    for lineno, raw in enumerate(fh, start=1):
        seen += len(raw)
        if seen > max_bytes:
            raise _TooLarge
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _NotUtf8(lineno, raw[exc.start]) from None
        if lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        yield text


def _csv_table(fh: IO[bytes], kind: str, limits: ReadLimits, close: Callable[[], None] | None) -> Table:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    reader = csv.reader(_decoded_lines(fh, limits.max_bytes), strict=False)
    try:
        try:
            header = next(reader)
        except StopIteration:
            return Table(
                kind, "csv", errors=[Problem.at_cell(HEADER_ROW, "", EMPTY_FILE, "the file is empty")]
            )
    except (_NotUtf8, _TooLarge, csv.Error) as exc:
        if close:
            close()
        return Table(kind, "csv", errors=[_csv_issue(exc, limits)])
    layout = _layout(header, kind, errors, warnings)
    if not layout.ok:
        if close:
            close()
        return Table(kind, "csv", errors=errors, warnings=warnings)
    table = Table(kind, "csv", errors=errors, warnings=warnings)
    table._rows = _csv_rows(reader, layout, limits, errors, close)
    return table


def _csv_issue(exc: Exception, limits: ReadLimits) -> Problem:
    if isinstance(exc, _NotUtf8):
        return Problem.at_cell(
            HEADER_ROW,
            "",
            NOT_UTF8,
            f"the file must be UTF-8 encoded: byte 0x{exc.byte:02X} on line {exc.line} is not UTF-8 "
            "(in Excel choose 'CSV UTF-8'; the file is not guessed as Latin-1)",
        )
    if isinstance(exc, _TooLarge):
        return Problem.at_cell(
            HEADER_ROW, "", FILE_TOO_LARGE, f"the file is larger than {limits.max_bytes:,} bytes"
        )
    return Problem.at_cell(HEADER_ROW, "", NOT_A_TABLE, f"the file is not a readable CSV: {exc}")


def _csv_rows(
    reader: Iterator[list[str]],
    layout: _Layout,
    limits: ReadLimits,
    errors: list[Problem],
    close: Callable[[], None] | None,
) -> Iterator[tuple[int, tuple[str, ...]]]:
    width, pad_to, getter = layout.width, layout.pad_to, layout.getter
    strip = str.strip
    max_rows = limits.max_rows
    rownum = 1
    data_rows = 0
    try:
        for rec in reader:
            rownum += 1
            n = len(rec)
            if n > width:
                extra = rec[width:]
                if any(map(strip, extra)):
                    data_rows += 1
                    errors.append(
                        Problem.at_cell(
                            rownum,
                            "",
                            TOO_MANY_CELLS,
                            f"row {rownum} has {n} cells but the header has {width}; "
                            "check for an unquoted comma",
                        )
                    )
                    continue
                del rec[width:]
                n = width
            if n < pad_to:
                rec.extend([""] * (pad_to - n))
            values = tuple(map(strip, getter(rec)))
            if not any(values) and not any(map(strip, rec)):
                continue  # a blank line
            if data_rows >= max_rows:
                errors.append(
                    Problem.at_cell(
                        HEADER_ROW, "", FILE_TOO_LARGE, f"the file has more than {limits.max_rows:,} rows"
                    )
                )
                return
            data_rows += 1
            yield rownum, values
    except (_NotUtf8, _TooLarge, csv.Error) as exc:
        errors.append(_csv_issue(exc, limits))
        return
    finally:
        if close:
            close()
    if data_rows == 0:
        errors.append(Problem.at_cell(HEADER_ROW, "", NO_DATA_ROWS, "the file has a header but no data rows"))


# --------------------------------------------------------------------------- XLSX
def _xlsx_limits(limits: ReadLimits) -> XlsxLimits:
    return XlsxLimits(
        # The sheet's own row limit is the table's plus its header; _xlsx_rows reports the table's.
        max_rows=min(limits.max_rows + HEADER_ROW + 1, DEFAULT_XLSX_LIMITS.max_rows),
        max_row_cells=limits.max_row_cells,
        max_cells=limits.max_cells,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
    )


def _xlsx_issue(exc: XlsxError) -> Problem:
    code = FILE_TOO_LARGE if exc.code == xlsx.TOO_LARGE else NOT_A_TABLE
    return Problem.at_cell(HEADER_ROW, "", code, exc.message)


def _xlsx_table(data: bytes, kind: str, limits: ReadLimits) -> Table:
    try:
        book = Workbook(data, _xlsx_limits(limits))
    except XlsxError as exc:
        return Table(kind, "xlsx", errors=[_xlsx_issue(exc)])
    sheet = next((name for name in book.sheet_names if name.strip().lower() == kind), None)
    if not book.sheet_names:
        book.close()
        return _fail(kind, "xlsx", EMPTY_FILE, "the workbook has no sheet")
    errors: list[Problem] = []
    warnings: list[Problem] = []
    try:
        reader = book.rows(sheet, max_col=XLSX_MAX_HEADER_CELLS)
        rows = iter(reader)
        number, first = next(rows, (0, []))
    except XlsxError as exc:
        book.close()
        return Table(kind, "xlsx", errors=[_xlsx_issue(exc)])
    header = [_cell_text(c) for c in first] if number == HEADER_ROW else []
    while header and not header[-1]:
        header.pop()
    if not header:
        book.close()
        return _fail(kind, "xlsx", EMPTY_FILE, "the sheet is empty or its first row (the header) is blank")
    layout = _layout(header, kind, errors, warnings)
    table = Table(kind, "xlsx", errors=errors, warnings=warnings)
    if not layout.ok:
        book.close()
        return table
    # Data rows are read only as wide as the header plus a margin to notice values beyond it.
    reader.max_col = layout.width + XLSX_EXTRA_CELLS
    table._rows = _xlsx_rows(book, rows, layout, limits, errors)
    return table


def _xlsx_rows(
    book: Workbook,
    rows: Iterator[tuple[int, list[object]]],
    layout: _Layout,
    limits: ReadLimits,
    errors: list[Problem],
) -> Iterator[tuple[int, tuple[str, ...]]]:
    width, pad_to, getter = layout.width, layout.pad_to, layout.getter
    data_rows = 0
    rownum = HEADER_ROW
    max_sheet_rows = HEADER_ROW + limits.max_rows
    try:
        for rownum, cells in rows:  # noqa: B007 - rownum is reported after the loop
            if rownum > max_sheet_rows:  # blank rows count too: a sheet of millions of empty rows is refused
                errors.append(
                    Problem.at_cell(
                        HEADER_ROW, "", FILE_TOO_LARGE, f"the sheet has more than {limits.max_rows:,} rows"
                    )
                )
                return
            if cells.count(None) == len(cells):
                continue  # a blank row, without looking at each cell
            rec = [_cell_text(c) for c in cells]
            while rec and not rec[-1]:
                rec.pop()
            if not rec:
                continue
            n = len(rec)
            if n > width:
                data_rows += 1
                errors.append(
                    Problem.at_cell(
                        rownum,
                        "",
                        TOO_MANY_CELLS,
                        f"row {rownum} has values in {n} columns but the header has {width}",
                    )
                )
                continue
            if n < pad_to:
                rec.extend([""] * (pad_to - n))
            if data_rows >= limits.max_rows:
                errors.append(
                    Problem.at_cell(
                        HEADER_ROW, "", FILE_TOO_LARGE, f"the sheet has more than {limits.max_rows:,} rows"
                    )
                )
                return
            data_rows += 1
            yield rownum, getter(rec)
    except XlsxError as exc:  # a limit reached, or the sheet XML broken part-way through
        issue = _xlsx_issue(exc)
        errors.append(
            Problem.at_cell(
                HEADER_ROW,
                "",
                issue.code,
                issue.message
                if issue.code == FILE_TOO_LARGE
                else f"the sheet could not be read past row {rownum}: {exc.message}",
            )
        )
        return
    finally:
        book.close()
    if data_rows == 0:
        errors.append(
            Problem.at_cell(HEADER_ROW, "", NO_DATA_ROWS, "the sheet has a header but no data rows")
        )


def _cell_text(value: object) -> str:
    """A cell as the text a CSV export would show: dates ISO, 1.0 as 1, blanks empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, int | Decimal):
        return str(value)
    return str(value).strip()


def _number_text(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    return repr(value)


# --------------------------------------------------------------------------- JSON
def _json_table(data: bytes, kind: str, limits: ReadLimits) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return _fail(
            kind,
            "json",
            NOT_UTF8,
            f"the file must be UTF-8 encoded: byte 0x{data[exc.start]:02X} on line {line} is not UTF-8",
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(
            kind,
            "json",
            NOT_A_TABLE,
            f"the file is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        )
    except RecursionError:
        return _fail(kind, "json", NOT_A_TABLE, "the file is not a table: its JSON is nested too deeply")
    records = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(records, list):
        return _fail(kind, "json", NOT_A_TABLE, 'JSON must be a list of objects or {"rows": [...]}')
    if not records:
        return _fail(kind, "json", NO_DATA_ROWS, "the JSON has no records")
    if len(records) > limits.max_rows:
        return _fail(kind, "json", FILE_TOO_LARGE, f"the JSON has more than {limits.max_rows:,} records")
    columns, required = _SPECS[kind]
    errors: list[Problem] = []
    warnings: list[Problem] = []
    seen_keys: dict[str, str] = {}
    for rec in records:
        if isinstance(rec, dict):
            for key in rec:
                seen_keys.setdefault(str(key).strip().lower(), str(key))
    for norm, original in seen_keys.items():
        if norm not in columns:
            warnings.append(
                Problem.at_cell(
                    HEADER_ROW, original, UNKNOWN_COLUMN, f"field {original!r} is not used and was ignored"
                )
            )
    missing = [c for c in columns if c in required and c not in seen_keys]
    for name in missing:
        errors.append(
            Problem.at_cell(
                HEADER_ROW, name, MISSING_COLUMN, f"required field {name!r} is absent from every record"
            )
        )
    table = Table(kind, "json", errors=errors, warnings=warnings)
    if missing:
        return table
    table._rows = _json_rows(records, columns, errors)
    return table


def _json_rows(
    records: list[object], columns: tuple[str, ...], errors: list[Problem]
) -> Iterator[tuple[int, tuple[str, ...]]]:
    for index, rec in enumerate(records):
        rownum = index + 2  # "row 2 is the first record", as in a spreadsheet
        if not isinstance(rec, dict):
            errors.append(
                Problem.at_cell(rownum, "", INVALID_VALUE, f"record {index + 1} is not a JSON object")
            )
            continue
        norm = {str(k).strip().lower(): v for k, v in rec.items()}
        values: list[str] = []
        bad = False
        for name in columns:
            value = norm.get(name)
            if value is None:
                values.append("")
            elif isinstance(value, str):
                values.append(value.strip())
            elif isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(
                    Problem.at_cell(
                        rownum,
                        name,
                        INVALID_VALUE,
                        f"{name} must be a string or a number, not {type(value).__name__}",
                    )
                )
                bad = True
            elif isinstance(value, float):
                values.append(_number_text(value))
            else:
                values.append(str(value))
        if not bad:
            yield rownum, tuple(values)
