"""The streaming XLSX reader: the values openpyxl reads, and every limit counted while reading."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import openpyxl
import pytest

from enrollment.ingest.xlsx import Workbook, XlsxError, XlsxLimits

SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def written(rows=(), *, setup=None) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    if setup:
        setup(book, sheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_part(data: bytes, name: str, xml: str | bytes) -> bytes:
    """``data`` with one part replaced (or added)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info.filename, source.read(info.filename))
        target.writestr(name, xml.encode() if isinstance(xml, str) else xml)
    return out.getvalue()


def with_shared_strings(data: bytes, strings: list[str] | str) -> bytes:
    """``data`` with a shared string table (openpyxl writes inline strings: Excel writes this)."""
    xml = (
        strings
        if isinstance(strings, str)
        else f'<sst xmlns="{MAIN}">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>"
    )
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        rels = archive.read("xl/_rels/workbook.xml.rels").decode()
        types = archive.read("[Content_Types].xml").decode()
    rels = rels.replace(
        "</Relationships>",
        '<Relationship Id="rIdSST" Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    types = types.replace(
        "</Types>",
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.sharedStrings+xml"/></Types>',
    )
    data = with_part(data, "xl/_rels/workbook.xml.rels", rels)
    data = with_part(data, "[Content_Types].xml", types)
    return with_part(data, "xl/sharedStrings.xml", xml)


def sheet_xml(body: str, *, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    ns = f"xmlns:{prefix}" if prefix else "xmlns"
    return f'<{p}worksheet {ns}="{MAIN}"><{p}sheetData>{body}</{p}sheetData></{p}worksheet>'


def mine(data: bytes, *, limits: XlsxLimits | None = None, max_col: int = 40, sheet=None) -> list:
    with Workbook(data, limits or XlsxLimits()) as book:
        return [(n, v) for n, v in book.rows(sheet, max_col=max_col) if any(x is not None for x in v)]


def theirs(data: bytes, max_col: int = 40) -> list:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    rows = []
    for n, values in enumerate(book.worksheets[0].iter_rows(max_col=max_col, values_only=True), start=1):
        values = list(values)
        while values and values[-1] is None:
            values.pop()
        if values:
            rows.append((n, values))
    book.close()
    return rows


def test_values_are_those_openpyxl_reads():
    def formats(book, sheet):
        sheet["B12"] = "=1+2"  # a formula without a cached value: nothing, as openpyxl's data_only
        for ref, value, fmt in (
            ("C13", 44000, "yyyy-mm-dd"),
            ("D13", 44000.5, "[$-409]mmmm d, yyyy;@"),
            ("E13", 12, '0.00 "days"'),  # d inside quotes is a literal: a number
            ("F13", 1.25, "[h]:mm:ss"),
        ):
            sheet[ref] = value
            sheet[ref].number_format = fmt
        sheet["Z20"] = "far right"

    data = written(
        [
            [
                "text",
                " spaced ",
                1,
                2.5,
                True,
                False,
                dt.datetime(2020, 1, 2),  # noqa: DTZ001 - spreadsheet dates carry no time zone
                dt.date(1950, 3, 4),
                None,
                "x",
            ],  # noqa: DTZ001
            [],
            [None, "Müller", 10**15, -3, 0.1 + 0.2, 1e20, dt.datetime(2020, 1, 2, 13, 45), dt.time(12, 30)],  # noqa: DTZ001
        ],
        setup=formats,
    )
    assert mine(data) == theirs(data)
    assert mine(data)[-1] == (20, [None] * 25 + ["far right"])


def test_inline_and_rich_shared_strings_prefixed_names_and_cells_without_references():
    data = with_shared_strings(
        written(),
        f'<sst xmlns="{MAIN}"><si><t>plain</t></si><si><r><t>ri</t></r><r><rPr/><t>ch</t></r>'
        "<rPh><t>PHONETIC</t></rPh></si></sst>",
    )
    body = (
        '<x:row r="1"><x:c t="s"><x:v>0</x:v></x:c><x:c t="s"><x:v>1</x:v></x:c>'
        '<x:c t="inlineStr"><x:is><x:t>in</x:t><x:r><x:t>line</x:t></x:r></x:is></x:c></x:row>'
        '<x:row><x:c r="C2"><x:v>7</x:v></x:c><x:c t="b"><x:v>1</x:v></x:c><x:c t="e"><x:v>#N/A</x:v></x:c>'
        '<x:c t="str"><x:v>cached</x:v></x:c><x:c t="d"><x:v>2026-03-01T00:00:00</x:v></x:c></x:row>'
    )
    data = with_part(data, SHEET, sheet_xml(body, prefix="x"))
    assert mine(data) == [
        (1, ["plain", "rich", "inline"]),
        (2, [None, None, 7, True, "#N/A", "cached", dt.datetime(2026, 3, 1)]),  # noqa: DTZ001
    ]


def test_shared_strings_read_as_openpyxl_reads_them():
    strings = ["member_id", "Müller", "  spaced  ", "a &amp; b", ""]
    body = '<row r="1">' + "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(5)) + "</row>"
    data = with_part(with_shared_strings(written(), strings), SHEET, sheet_xml(body))
    assert mine(data) == theirs(data) == [(1, ["member_id", "Müller", "  spaced  ", "a & b", ""])]


def test_the_1904_date_system():
    data = written(
        [[dt.date(2026, 3, 1)]],
        setup=lambda book, sheet: setattr(book, "epoch", openpyxl.utils.datetime.MAC_EPOCH),
    )
    assert mine(data) == theirs(data) == [(1, [dt.datetime(2026, 3, 1)])]  # noqa: DTZ001


def test_a_named_sheet_and_max_col_lowered_between_rows():
    def second(book, sheet):
        other = book.create_sheet("Roster")
        other.append(["h1", "h2"])
        other.append(["a", "b", "c", "d"])

    data = written([["first sheet"]], setup=second)
    with Workbook(data) as book:
        assert book.sheet_names == ["Sheet", "Roster"]
        rows = book.rows("Roster")
        it = iter(rows)
        assert next(it) == (1, ["h1", "h2"])
        rows.max_col = 3
        assert list(it) == [(2, ["a", "b", "c"])]


@pytest.mark.parametrize(
    ("body", "limits", "words"),
    [
        (
            '<row r="1">' + "<c/>" * 11 + "</row>",
            XlsxLimits(max_row_cells=10),
            "row 1 has more than 10 cells",
        ),
        (
            "".join(f'<row r="{r}"><c/><c/><c/></row>' for r in range(1, 5)),
            XlsxLimits(max_cells=10),
            "more than 10 cells",
        ),
        ("".join(f'<row r="{r}"/>' for r in range(1, 7)), XlsxLimits(max_rows=5), "more than 5 rows"),
        (
            '<row r="1"><c t="inlineStr"><is><t>' + "x" * 101 + "</t></is></c></row>",
            XlsxLimits(max_cell_chars=100),
            "more than 100 characters",
        ),
    ],
)
def test_each_limit_is_counted_while_reading(body, limits, words):
    data = with_part(written(), SHEET, sheet_xml(body))
    with pytest.raises(XlsxError) as refused:
        mine(data, limits=limits)
    assert refused.value.code == "file_too_large" and words in refused.value.message


def test_shared_strings_are_limited_in_number_and_size():
    data = with_shared_strings(written([["a"]]), ["abcdef"] * 20)
    for limits, words in (
        (XlsxLimits(max_shared_strings=10), "more than 10 shared strings"),
        (XlsxLimits(max_shared_chars=50), "more than 50 characters"),
    ):
        with pytest.raises(XlsxError) as refused:
            mine(data, limits=limits)
        assert refused.value.code == "file_too_large" and words in refused.value.message


def test_the_inflated_bytes_are_counted_not_only_the_declared_ones():
    data = with_part(written(), SHEET, sheet_xml('<row r="1"><c><v>1</v></c></row>' * 2000))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    with pytest.raises(XlsxError) as refused:
        Workbook(data, XlsxLimits(max_uncompressed_bytes=declared - 1))
    assert "expands to" in refused.value.message
    # A zip that lies about its sizes is cut at the declared size by zipfile; what is read is counted too.
    with Workbook(data, XlsxLimits(max_uncompressed_bytes=declared)) as book:
        rows = book.rows()
        assert len(list(rows)) == 2000 and rows.inflated_bytes <= declared


@pytest.mark.parametrize(
    "xml",
    [
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaa">]>'
        + sheet_xml('<row r="1"><c t="inlineStr"><is><t>&a;</t></is></c></row>'),
        '<?xml version="1.0"?><!DOCTYPE worksheet SYSTEM "http://example.invalid/x.dtd">' + sheet_xml(""),
        sheet_xml('<row r="1"><c r="1A"><v>1</v></c></row>'),
        sheet_xml('<row r="0"><c><v>1</v></c></row>'),
        sheet_xml('<row r="1"><c t="s"><v>99</v></c></row>'),
        sheet_xml('<row r="1"><c><v>1</v></c>'),
    ],
)
def test_what_a_workbook_never_holds_is_refused_as_not_a_table(xml):
    data = with_part(written(), SHEET, xml)
    with pytest.raises(XlsxError) as refused:
        mine(data)
    assert refused.value.code == "not_a_table"


def test_not_a_zip_and_a_zip_without_a_workbook():
    for data in (b"PK\x03\x04garbage", b"plain text"):
        with pytest.raises(XlsxError) as refused:
            Workbook(data)
        assert refused.value.code == "not_a_table"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(XlsxError):
        Workbook(out.getvalue())
