"""Read the rows of an XLSX sheet as a stream, with limits counted while reading.

An XLSX is a zip of XML parts. A reader that trusts what the file declares (the zip's sizes, the
sheet's ``<dimension>``) or that builds a whole row before looking at it can be made to churn: one
row of 4,000,000 empty ``<c/>`` cells is 16 MB of XML in a 17 KB upload, and openpyxl's read-only
mode builds that row (20 s, 1.5 GB) before handing it over. This reader parses the sheet with expat
in chunks and counts as it goes: rows, cell elements in a row, cell elements in the sheet, the
characters of a cell, the shared strings and the bytes inflated. The first limit passed stops it
at once with an :class:`XlsxError` saying which, so a bomb costs the time to reach a limit, not the
time to read the file.

It reads what a roster or a utilisation file needs, the way openpyxl's ``values_only`` mode does:
cached values (never formulas), shared and inline strings, numbers as ``int`` or ``float``,
booleans, error codes as their text, numbers in a date format as ``datetime`` (1900 or 1904 date
system), ISO dates (``t="d"``). A DTD in any part is refused (entity bombs), as are external
entities. Pure Python: no Django, no openpyxl.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NoReturn
from xml.parsers import expat

# --------------------------------------------------------------------------- limits and errors
NOT_A_WORKBOOK = "not_a_table"
TOO_LARGE = "file_too_large"

#: A spreadsheet has at most this many columns (XFD) and rows.
SHEET_MAX_COLUMNS = 16_384
SHEET_MAX_ROWS = 1_048_576


@dataclass(frozen=True)
class XlsxLimits:
    """What one workbook may hold; each is counted while reading, never taken from the file's word."""

    max_rows: int = SHEET_MAX_ROWS  # row elements of the sheet
    max_row_cells: int = SHEET_MAX_COLUMNS  # cell elements in one row, empty ones included
    max_cells: int = 25_000_000  # cell elements in the sheet
    max_cell_chars: int = 32_767  # characters of one cell (Excel's own limit)
    max_shared_strings: int = 5_000_000
    max_shared_chars: int = 64 * 1024 * 1024
    max_uncompressed_bytes: int = 512 * 1024 * 1024  # declared by the zip, and inflated while reading
    max_style_entries: int = 100_000  # number formats and cell formats of the stylesheet
    max_sheets: int = 1_000


DEFAULT_XLSX_LIMITS = XlsxLimits()
CHUNK_BYTES = 64 * 1024


class XlsxError(ValueError):
    """The workbook cannot be read, or holds more than a limit allows. ``code`` is ``not_a_table`` or
    ``file_too_large``; ``row`` the sheet row where reading stopped (None before the sheet)."""

    def __init__(self, code: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


# --------------------------------------------------------------------------- parts of the zip
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OFFICE_DOCUMENT = "/officeDocument"
_WORKSHEET = "/worksheet"
_SHARED_STRINGS = "/sharedStrings"
_STYLES = "/styles"


def _local(name: str) -> str:
    """An expat name ``namespace local`` (namespace_separator " ") without its namespace."""
    return name.rpartition(" ")[2]


def _refuse_dtd(*_args: object) -> NoReturn:
    raise XlsxError(NOT_A_WORKBOOK, "the workbook's XML declares a DTD, which a workbook never does")


def _parser(*, namespaces: bool = True) -> expat.XMLParserType:
    """An expat parser that refuses any DTD or entity declaration (so no entity expansion at all).

    With ``namespaces`` names read ``namespace local``; without (the sheet, where it saves a seventh of
    the time), ``prefix:local`` as written."""
    parser = expat.ParserCreate(namespace_separator=" ") if namespaces else expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.buffer_size = CHUNK_BYTES
    return parser


class _Budget:
    """Bytes inflated so far, against ``max_uncompressed_bytes``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise XlsxError(
                TOO_LARGE, f"the workbook expands to more than {self.limit:,} bytes; that is the limit"
            )


def _chunks(archive: zipfile.ZipFile, name: str, budget: _Budget) -> Iterator[bytes]:
    try:
        with archive.open(name) as part:
            while chunk := part.read(CHUNK_BYTES):
                budget.take(len(chunk))
                yield chunk
    except KeyError as exc:
        raise XlsxError(NOT_A_WORKBOOK, f"the workbook has no part {name!r}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise XlsxError(NOT_A_WORKBOOK, f"the workbook's part {name!r} cannot be inflated") from exc


def _parse_part(
    archive: zipfile.ZipFile,
    name: str,
    budget: _Budget,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Feed one XML part to expat chunk by chunk (handlers may raise XlsxError to stop)."""
    parser = _parser()
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
    try:
        for chunk in _chunks(archive, name, budget):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise XlsxError(
            NOT_A_WORKBOOK, f"the workbook's part {name!r} is not well-formed XML ({exc})"
        ) from exc


def _relationships(archive: zipfile.ZipFile, part: str, budget: _Budget) -> list[tuple[str, str, str]]:
    """(id, type, target part name) of ``part``'s relationships; [] when it has none."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    if rels_name not in archive.NameToInfo:
        return []
    found: list[tuple[str, str, str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship" and attrs.get("TargetMode") != "External":
            if len(found) > 10_000:
                raise XlsxError(TOO_LARGE, "the workbook has too many relationships")
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            found.append((attrs.get("Id", ""), attrs.get("Type", ""), posixpath.normpath(path)))

    _parse_part(archive, rels_name, budget, start)
    return found


# --------------------------------------------------------------------------- dates
# Date formats as openpyxl tells them (openpyxl.styles.numbers): the first section of the format,
# quoted literals and [locale] groups removed, holds d, m, h, y or s not escaped by _ or \.
_BUILTIN_DATE_FORMATS = frozenset({14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47})
_BUILTIN_TIMEDELTA_FORMATS = frozenset({46})
_STRIP = re.compile(r'".*?"|\[(?!hh?\]|mm?\]|ss?\])[^\]]*\]')
_DATE_CHAR = re.compile(r"(?<![_\\])[dmhysDMHYS]")
_TIMEDELTA = re.compile(r"\[hh?\](:mm(:ss(\.0*)?)?)?|\[mm?\](:ss(\.0*)?)?|\[ss?\](\.0*)?", re.I)
_WINDOWS_EPOCH = dt.datetime(1899, 12, 30)  # noqa: DTZ001 - spreadsheet dates carry no time zone
_MAC_EPOCH = dt.datetime(1904, 1, 1)  # noqa: DTZ001


def _is_date_format(code: str) -> bool:
    return _DATE_CHAR.search(_STRIP.sub("", code.split(";")[0])) is not None


def _is_timedelta_format(code: str) -> bool:
    return _TIMEDELTA.search(code.split(";")[0]) is not None


def _from_excel(value: float, epoch: dt.datetime, timedelta: bool) -> object:
    """A date serial as openpyxl's ``from_excel`` reads it (1900's phantom 29 February included)."""
    if timedelta:
        return dt.timedelta(days=value)
    day, fraction = divmod(value, 1)
    diff = dt.timedelta(milliseconds=round(fraction * 86_400_000))
    if 0 <= value < 1 and diff.days == 0:
        return (_WINDOWS_EPOCH + diff).time()  # a time of day: only the fraction counts
    if 0 < value < 60 and epoch is _WINDOWS_EPOCH:
        day += 1
    return epoch + dt.timedelta(days=day) + diff


def _number(text: str) -> int | float:
    if "." in text or "E" in text or "e" in text:
        return float(text)
    return int(text)


# --------------------------------------------------------------------------- the workbook
class Workbook:
    """An XLSX opened for streaming its sheets' rows (``sheet_names`` in workbook order)."""

    def __init__(self, data: bytes, limits: XlsxLimits = DEFAULT_XLSX_LIMITS) -> None:
        self.limits = limits
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            declared = sum(info.file_size for info in self._zip.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise XlsxError(NOT_A_WORKBOOK, "the file is not a readable XLSX workbook") from exc
        if declared > limits.max_uncompressed_bytes:
            self._zip.close()
            raise XlsxError(
                TOO_LARGE,
                f"the workbook expands to {declared:,} bytes; the limit is {limits.max_uncompressed_bytes:,}",
            )
        self._budget = _Budget(limits.max_uncompressed_bytes)
        try:
            self._open()
        except BaseException:
            self._zip.close()
            raise

    def _open(self) -> None:
        names = self._zip.NameToInfo
        book = next(
            (
                t
                for _, kind, t in _relationships(self._zip, "", self._budget)
                if kind.endswith(_OFFICE_DOCUMENT)
            ),
            "xl/workbook.xml",
        )
        if book not in names:
            raise XlsxError(
                NOT_A_WORKBOOK, "the file is not a readable XLSX workbook (it has no workbook part)"
            )
        rels = {rid: (kind, target) for rid, kind, target in _relationships(self._zip, book, self._budget)}
        sheets: list[tuple[str, str]] = []
        self.date1904 = False

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "sheet":
                if len(sheets) >= self.limits.max_sheets:
                    raise XlsxError(
                        TOO_LARGE, f"the workbook has more than {self.limits.max_sheets:,} sheets"
                    )
                kind, target = rels.get(attrs.get(f"{_REL_NS} id", ""), ("", ""))
                if kind.endswith(_WORKSHEET) and target in names:
                    sheets.append((attrs.get("name", ""), target))
            elif local == "workbookPr":
                self.date1904 = attrs.get("date1904", "").lower() in ("1", "true")

        _parse_part(self._zip, book, self._budget, start)
        self._sheets = sheets
        self.sheet_names = [name for name, _ in sheets]
        self._shared_part = next((t for kind, t in rels.values() if kind.endswith(_SHARED_STRINGS)), None)
        self._styles_part = next((t for kind, t in rels.values() if kind.endswith(_STYLES)), None)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self, sheet: str | None = None, *, max_col: int = SHEET_MAX_COLUMNS) -> SheetRows:
        """The rows of ``sheet`` (by name; the first worksheet when None)."""
        if not self._sheets:
            raise XlsxError(NOT_A_WORKBOOK, "the workbook has no sheet")
        part = dict(self._sheets)[sheet] if sheet is not None else self._sheets[0][1]
        date_styles, timedelta_styles = self._date_styles()
        return SheetRows(
            self._zip,
            part,
            strings=self._shared_strings(),
            date_styles=date_styles,
            timedelta_styles=timedelta_styles,
            epoch=_MAC_EPOCH if self.date1904 else _WINDOWS_EPOCH,
            limits=self.limits,
            budget=self._budget,
            max_col=max_col,
        )

    # --- the shared strings: one string and a table of offsets, not a Python object per string
    def _shared_strings(self) -> SharedStrings:
        table = SharedStrings()
        if self._shared_part is None or self._shared_part not in self._zip.NameToInfo:
            return table
        limits = self.limits
        parts: list[str] = []
        offsets = table.offsets
        state = {"chars": 0, "depth_si": 0, "in_t": False, "in_rph": False}

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local == "si":
                state["depth_si"] = 1
            elif local == "t" and state["depth_si"] and not state["in_rph"]:
                state["in_t"] = True
            elif local == "rPh":
                state["in_rph"] = True

        def end(name: str) -> None:
            local = _local(name)
            if local == "si":
                state["depth_si"] = 0
                if len(offsets) > limits.max_shared_strings:
                    raise XlsxError(
                        TOO_LARGE, f"the workbook has more than {limits.max_shared_strings:,} shared strings"
                    )
                offsets.append(state["chars"])
            elif local == "t":
                state["in_t"] = False
            elif local == "rPh":
                state["in_rph"] = False

        def text(data: str) -> None:
            if state["in_t"]:
                state["chars"] += len(data)
                if state["chars"] > limits.max_shared_chars:
                    raise XlsxError(
                        TOO_LARGE,
                        f"the workbook's shared strings hold more than {limits.max_shared_chars:,} characters",
                    )
                parts.append(data)

        _parse_part(self._zip, self._shared_part, self._budget, start, end, text)
        table.text = "".join(parts)
        return table

    # --- which cell formats are dates
    def _date_styles(self) -> tuple[frozenset[int], frozenset[int]]:
        if self._styles_part is None or self._styles_part not in self._zip.NameToInfo:
            return frozenset(), frozenset()
        limits = self.limits
        custom: dict[int, str] = {}
        xfs: list[int] = []
        state = {"in_cell_xfs": False, "entries": 0}

        def start(name: str, attrs: dict[str, str]) -> None:
            local = _local(name)
            if local in ("numFmt", "xf"):
                state["entries"] += 1
                if state["entries"] > limits.max_style_entries:
                    raise XlsxError(
                        TOO_LARGE, f"the workbook has more than {limits.max_style_entries:,} styles"
                    )
            if local == "numFmt":
                try:
                    custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode", "")
                except ValueError:
                    pass
            elif local == "cellXfs":
                state["in_cell_xfs"] = True
            elif local == "xf" and state["in_cell_xfs"]:
                try:
                    xfs.append(int(attrs.get("numFmtId", "0")))
                except ValueError:
                    xfs.append(0)

        def end(name: str) -> None:
            if _local(name) == "cellXfs":
                state["in_cell_xfs"] = False

        _parse_part(self._zip, self._styles_part, self._budget, start, end)
        dates, timedeltas = set(), set()
        for index, fmt_id in enumerate(xfs):
            code = custom.get(fmt_id)
            if code is None:
                if fmt_id in _BUILTIN_DATE_FORMATS:
                    dates.add(index)
                if fmt_id in _BUILTIN_TIMEDELTA_FORMATS:
                    timedeltas.add(index)
                continue
            if _is_date_format(code):
                dates.add(index)
            if _is_timedelta_format(code):
                timedeltas.add(index)
        return frozenset(dates), frozenset(timedeltas)


class SharedStrings:
    """The shared string table: all strings in one ``text``, string ``i`` is ``text[offsets[i]:offsets[i+1]]``."""

    def __init__(self) -> None:
        from array import array

        self.text = ""
        self.offsets = array("Q", [0])

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < len(self.offsets) - 1:
            raise IndexError(index)
        return self.text[self.offsets[index] : self.offsets[index + 1]]


# --------------------------------------------------------------------------- the sheet's rows
_CELL, _VALUE, _INLINE, _TEXT, _ROW, _PHONETIC = 1, 2, 3, 4, 5, 6
_CODES = {"c": _CELL, "v": _VALUE, "is": _INLINE, "t": _TEXT, "row": _ROW, "rPh": _PHONETIC}
_DIGITS = "0123456789"


class SheetRows:
    """Iterate ``(row number, values)`` of one sheet; ``values`` hold columns 1..``max_col`` (a list as
    long as the last of those columns with a value, ``None`` where a cell is empty or missing).

    ``max_col`` may be lowered between rows (read the header wide, the data as wide as the header).
    Rows the sheet leaves out are not produced: use the row numbers. ``cells`` and ``inflated_bytes``
    say how far the reader got (a bomb stops it at its first limit).
    """

    def __init__(
        self,
        archive: zipfile.ZipFile,
        part: str,
        *,
        strings: SharedStrings,
        date_styles: frozenset[int],
        timedelta_styles: frozenset[int],
        epoch: dt.datetime,
        limits: XlsxLimits,
        budget: _Budget,
        max_col: int,
    ) -> None:
        self.max_col = max_col
        self.cells = 0
        self.rows = 0
        self._archive, self._part, self._limits, self._budget = archive, part, limits, budget
        self._strings, self._epoch = strings, epoch
        self._dates, self._timedeltas = date_styles, timedelta_styles
        self._codes: dict[str, int] = {}
        self._columns: dict[str, int] = {}
        self._done: list[tuple[int, list[tuple[int, object]]]] = []
        # the row and cell being read
        self._row_number = 0
        self._row_cells = 0
        self._row: list[tuple[int, object]] = []
        self._col = 0
        self._type = "n"
        self._style = 0
        self._text: list[str] | None = None
        self._chars = 0
        self._capture = False
        self._inline = False
        self._phonetic = False

    @property
    def inflated_bytes(self) -> int:
        return self._budget.used

    # --- expat handlers (the hot path: a few attribute reads and one dict lookup per element; names are
    # as written, ``c`` or ``x:c``, and only the local part counts)
    def _code(self, name: str) -> int:
        code = self._codes[name] = _CODES.get(name.rpartition(":")[2], 0)
        return code

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        code = self._codes.get(name)
        if code is None:
            code = self._code(name)
        if code == _CELL:
            self.cells += 1
            self._row_cells += 1
            if self._row_cells > self._limits.max_row_cells:
                raise XlsxError(
                    TOO_LARGE,
                    f"row {self._row_number} has more than {self._limits.max_row_cells:,} cells; "
                    "a spreadsheet row has no more",
                    self._row_number,
                )
            if self.cells > self._limits.max_cells:
                raise XlsxError(
                    TOO_LARGE, f"the sheet has more than {self._limits.max_cells:,} cells", self._row_number
                )
            ref = attrs.get("r")
            self._col = self._column(ref) if ref else self._col + 1
            self._type = attrs.get("t", "n")
            style = attrs.get("s")
            self._style = int(style) if style and style.isdigit() else 0
            self._text = None
        elif code == _VALUE:
            if not self._inline:
                self._text, self._chars, self._capture = [], 0, True
        elif code == _TEXT:
            if self._inline and not self._phonetic:
                self._capture = True
        elif code == _INLINE:
            self._inline = True
            self._text, self._chars = [], 0
        elif code == _PHONETIC:
            self._phonetic = True
        elif code == _ROW:
            self.rows += 1
            if self.rows > self._limits.max_rows:
                raise XlsxError(
                    TOO_LARGE, f"the sheet has more than {self._limits.max_rows:,} rows", self._row_number
                )
            ref = attrs.get("r")
            if ref:
                if not ref.isdigit() or len(ref) > 7 or not 0 < int(ref) <= SHEET_MAX_ROWS:
                    raise XlsxError(NOT_A_WORKBOOK, f"row number {ref[:20]!r} is not a spreadsheet row")
                self._row_number = int(ref)
            else:
                self._row_number += 1
            self._row_cells = 0
            self._col = 0
            self._row = []

    def _end(self, name: str) -> None:
        code = self._codes.get(name)
        if code is None:
            code = self._code(name)
        if code == _CELL:
            text = self._text
            if text is not None:
                value = self._value("".join(text))
                if value is not None:
                    self._row.append((self._col, value))
            self._text = None
            self._capture = False
        elif code == _VALUE or code == _TEXT:
            self._capture = False
        elif code == _INLINE:
            self._inline = False
            self._type = "inlineStr"  # an <is> is the cell's value whatever its t says
        elif code == _PHONETIC:
            self._phonetic = False
        elif code == _ROW:
            self._done.append((self._row_number, self._row))
            self._row = []

    def _chars_in(self, data: str) -> None:
        if self._capture:
            self._chars += len(data)
            if self._chars > self._limits.max_cell_chars:
                raise XlsxError(
                    TOO_LARGE,
                    f"a cell of row {self._row_number} holds more than {self._limits.max_cell_chars:,} characters",
                    self._row_number,
                )
            self._text.append(data)  # type: ignore[union-attr]

    def _column(self, ref: str) -> int:
        letters = ref.rstrip(_DIGITS)
        column = self._columns.get(letters)
        if column is None:
            column = 0
            for ch in letters:
                if not "A" <= ch <= "Z":
                    raise XlsxError(NOT_A_WORKBOOK, f"cell reference {ref[:20]!r} is not a spreadsheet cell")
                column = column * 26 + ord(ch) - 64
            if not 0 < column <= SHEET_MAX_COLUMNS:
                raise XlsxError(NOT_A_WORKBOOK, f"cell reference {ref[:20]!r} is beyond the last column")
            if len(self._columns) < 20_000:
                self._columns[letters] = column
        return column

    def _value(self, text: str) -> object:
        kind = self._type
        try:
            if kind == "n":
                if not text:
                    return None
                number = _number(text)
                if self._style in self._dates:
                    return _from_excel(number, self._epoch, self._style in self._timedeltas)
                return number
            if kind == "s":
                return self._strings[int(text)] if text else None
            if kind in ("inlineStr", "str"):
                return text
            if kind == "b":
                return bool(int(text)) if text else None
            if kind == "e":
                return text or None
            if kind == "d":
                return dt.datetime.fromisoformat(text) if text else None
        except (ValueError, IndexError, OverflowError) as exc:
            raise XlsxError(
                NOT_A_WORKBOOK,
                f"a cell of row {self._row_number} cannot be read ({type(exc).__name__})",
                self._row_number,
            ) from exc
        return text or None

    # --- iteration
    def __iter__(self) -> Iterator[tuple[int, list[object]]]:
        parser = _parser(namespaces=False)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars_in
        done = self._done
        try:
            for chunk in _chunks(self._archive, self._part, self._budget):
                parser.Parse(chunk, False)
                if done:
                    for number, cells in done:
                        yield number, self._values(cells)
                    done.clear()
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise XlsxError(
                NOT_A_WORKBOOK,
                f"the sheet is not well-formed XML after row {self._row_number} ({exc})",
                self._row_number,
            ) from exc
        for number, cells in done:
            yield number, self._values(cells)
        done.clear()

    def _values(self, cells: list[tuple[int, object]]) -> list[object]:
        max_col = self.max_col
        kept = [(col, value) for col, value in cells if col <= max_col]
        if not kept:
            return []
        values: list[object] = [None] * max(col for col, _ in kept)
        for col, value in kept:
            values[col - 1] = value
        return values
