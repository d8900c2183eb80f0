"""Reading rosters and assessments from CSV, XLSX and JSON, and refusing files we must not read."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile

import openpyxl
import pytest

from core.domain.problems import Problem
from enrollment.ingest import roster as R
from enrollment.ingest.tabular import (
    ASSESSMENTS,
    ROSTER,
    ReadLimits,
    read_assessments,
    read_roster,
    read_table,
)

D = dt.date
CTX = R.ValidationContext(
    month=D(2026, 3, 1),
    contract_start=D(2026, 1, 1),
    contract_end=None,
    tier_codes={"1", "2", "3"},
    market_codes={"URBAN", "RURAL-N"},
    today=D(2026, 4, 10),
)
HEADER = "member_id,last_name,first_name,birth_date,market,enrollment_start,enrollment_end,disenrollment_reason,tier,tier_start"
GOOD = "M001,Garcia,David,1948-02-09,URBAN,2026-02-01,,,2,"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def issue_codes(issues: list[Problem]) -> list[tuple[int, str, str]]:
    return [(i.row, i.column, i.code) for i in issues]


# --------------------------------------------------------------------------- CSV
def test_csv_with_bom_free_column_order_and_loose_header_names():
    data = csv_bytes(
        " TIER ,Member_ID,last_name,First_Name,birth_date,MARKET,enrollment_start,notes",
        "2,M001,Garcia,David,1948-02-09,URBAN,2026-02-01,first visit went well",
        bom=True,
    )
    result = read_roster(data, CTX)
    assert result.ok, result.errors
    assert result.rows[0].member_id == "M001" and result.rows[0].tier == "2"
    assert issue_codes(result.warnings) == [(1, "notes", R.UNKNOWN_COLUMN)]


def test_unknown_columns_are_warned_once_not_per_row():
    data = csv_bytes(
        HEADER + ",colour", *(f"M{i:03d},A,B,1950-01-01,URBAN,2026-02-01,,,1,,red" for i in range(50))
    )
    result = read_roster(data, CTX)
    assert result.ok and len(result.rows) == 50
    assert issue_codes(result.warnings) == [(1, "colour", R.UNKNOWN_COLUMN)]


def test_non_utf8_is_refused_with_a_clear_message_not_guessed():
    data = (HEADER + "\nM001,Müller,José,1948-02-09,URBAN,2026-02-01,,,2,\n").encode("latin-1")
    result = read_roster(data, CTX)
    assert issue_codes(result.errors) == [(1, "", R.NOT_UTF8)]
    message = result.errors[0].message
    assert "UTF-8" in message and "line 2" in message
    assert result.rows == []


def test_utf8_names_are_kept():
    data = csv_bytes(HEADER, "M001,Müller,José,1948-02-09,URBAN,2026-02-01,,,2,")
    result = read_roster(data, CTX)
    assert result.ok and result.rows[0].last_name == "Müller"


@pytest.mark.parametrize("data", [b"", b"   \r\n\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    assert issue_codes(read_roster(data, CTX).errors) == [(1, "", R.EMPTY_FILE)]


def test_header_only_file():
    assert issue_codes(read_roster(csv_bytes(HEADER), CTX).errors) == [(1, "", R.NO_DATA_ROWS)]


def test_missing_required_columns_are_each_named():
    result = read_roster(
        csv_bytes(
            "member_id,last_name,first_name,birth_date,enrollment_start", "M1,A,B,1950-01-01,2026-02-01"
        ),
        CTX,
    )
    assert issue_codes(result.errors) == [(1, "market", R.MISSING_COLUMN), (1, "tier", R.MISSING_COLUMN)]
    assert result.rows == []


def test_duplicate_column_is_an_error():
    result = read_roster(csv_bytes(HEADER + ",Tier", GOOD + ",3"), CTX)
    assert issue_codes(result.errors) == [(1, "tier", R.DUPLICATE_COLUMN)]


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        bytes(range(1, 32)) * 50,
        b"%PDF-1.7\n" + bytes(range(256)) * 8,
    ],
)
def test_binary_garbage_is_not_a_table(data):
    errors = read_roster(data, CTX).errors
    assert len(errors) == 1 and errors[0].row == 1
    assert errors[0].code in (R.NOT_A_TABLE, R.NOT_UTF8)


def test_a_row_with_too_many_cells_is_named_and_trailing_empty_cells_are_tolerated():
    data = csv_bytes(HEADER, GOOD + ",,,", "M002,Smith,Linda,1950-01-01,URBAN,2026-02-01,,,2,,oops")
    result = read_roster(data, CTX)
    assert issue_codes(result.errors) == [(3, "", R.TOO_MANY_CELLS)]
    assert [r.member_id for r in result.rows] == ["M001"]


def test_short_rows_blank_lines_and_quoted_newlines_keep_spreadsheet_row_numbers():
    data = csv_bytes(
        HEADER,
        "M001,Garcia,David,1948-02-09,URBAN,2026-02-01",  # trailing optional cells omitted
        "",
        'M002,"Smith\nJones",Linda,1950-01-01,URBAN,2026-02-01,,,2,',
        "M003,Lee,Ann,1950-01-01,URBAN,2026-02-01,,,7,",
    )
    result = read_roster(data, CTX)
    assert issue_codes(result.errors) == [(2, "tier", R.REQUIRED), (5, "tier", R.UNKNOWN_TIER)]
    assert [(r.member_id, r.row) for r in result.rows] == [("M002", 4)]


def test_row_limit_and_size_limit_give_file_too_large():
    data = csv_bytes(HEADER, *(f"M{i:03d},A,B,1950-01-01,URBAN,2026-02-01,,,1," for i in range(20)))
    result = read_roster(data, CTX, limits=ReadLimits(max_rows=10))
    assert R.FILE_TOO_LARGE in [e.code for e in result.errors]
    assert len(result.rows) == 10
    too_big = read_roster(data, CTX, limits=ReadLimits(max_bytes=100))
    assert issue_codes(too_big.errors) == [(1, "", R.FILE_TOO_LARGE)]


def test_reads_from_a_path_and_from_a_file_object(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(csv_bytes(HEADER, GOOD))
    assert read_roster(path, CTX).ok
    assert read_roster(str(path), CTX).ok
    with open(path, "rb") as fh:
        assert read_roster(fh, CTX).ok
    assert read_roster(io.BytesIO(csv_bytes(HEADER, GOOD)), CTX).ok


def test_old_xls_is_refused_with_advice():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    errors = read_roster(data, CTX, filename="roster.xls").errors
    assert issue_codes(errors) == [(1, "", R.UNSUPPORTED_FORMAT)]


def test_assessments_csv():
    data = csv_bytes(
        "member_id,last_name,first_name,birth_date,market,assessment_date,outcome,assessor_role",
        "M001,Garcia,David,1948-02-09,URBAN,2026-03-04,declined,np",
        "M002,Smith,Linda,1950-01-01,URBAN,2026-03-05,maybe,np",
    )
    result = read_assessments(data, CTX)
    assert issue_codes(result.errors) == [(3, "outcome", R.UNKNOWN_OUTCOME)]
    assert result.rows[0].outcome == "declined"


def test_hundred_thousand_rows_validate_quickly():
    lines = [HEADER]
    lines += [
        f"M{i:07d},Last{i % 977},First{i % 313},1950-01-01,URBAN,2026-02-01,,,{1 + i % 3},"
        for i in range(100_000)
    ]
    data = csv_bytes(*lines)
    start = time.perf_counter()
    result = read_roster(data, CTX)
    elapsed = time.perf_counter() - start
    assert result.ok and len(result.rows) == 100_000
    assert elapsed < 10, elapsed


# --------------------------------------------------------------------------- XLSX
def xlsx(rows: list[list[object]], *, title: str = "Sheet1", extra_first: str | None = None) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    if extra_first:
        ws.title = extra_first
        ws.append(["not", "this", "sheet"])
        ws = wb.create_sheet(title)
    else:
        ws.title = title
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XHEADER = HEADER.split(",")


def test_xlsx_with_date_cells_iso_strings_and_float_tiers():
    # Excel cells carry no time zone: a naive datetime is what openpyxl writes and reads back.
    birth_cell = dt.datetime(1948, 2, 9)  # noqa: DTZ001
    data = xlsx(
        [
            XHEADER,
            ["M001", "Garcia", "David", birth_cell, "URBAN", D(2026, 2, 1), None, None, 1.0, None],
            ["M002", "Smith", "Linda", "1950-01-01", "URBAN", "2026-02-01", "2026-03-20", "death", 3, None],
            [12345, "Lee", "Ann", D(1950, 1, 1), "URBAN", D(2026, 2, 1), None, None, 2.5, None],
        ]
    )
    result = read_roster(data, CTX)
    assert issue_codes(result.errors) == [(4, "tier", R.UNKNOWN_TIER)]
    assert "'2.5'" in result.errors[0].message
    m1, m2 = result.rows
    assert (m1.tier, m1.birth_date, m1.enrollment_start) == ("1", D(1948, 2, 9), D(2026, 2, 1))
    assert (m2.enrollment_end, m2.tier, m2.row) == (D(2026, 3, 20), "3", 3)


def test_xlsx_prefers_a_sheet_named_after_the_file_kind_and_keeps_row_numbers():
    data = xlsx(
        [
            XHEADER,
            ["M001", "Garcia", "David", D(1948, 2, 9), "URBAN", D(2026, 2, 1)],
            [],
            ["M002", "X", "Y", "bad", "URBAN", D(2026, 2, 1), None, None, 1],
        ],
        title="Roster",
        extra_first="Instructions",
    )
    result = read_roster(data, CTX)
    assert issue_codes(result.errors) == [(2, "tier", R.REQUIRED), (4, "birth_date", R.INVALID_DATE)]


def test_xlsx_empty_header_only_and_missing_columns():
    assert issue_codes(read_roster(xlsx([]), CTX).errors) == [(1, "", R.EMPTY_FILE)]
    assert issue_codes(read_roster(xlsx([XHEADER]), CTX).errors) == [(1, "", R.NO_DATA_ROWS)]
    missing = read_roster(xlsx([["member_id", "tier"], ["M1", 1]]), CTX).errors
    assert {e.column for e in missing} == set(R.ROSTER_REQUIRED) - {"member_id", "tier"}


def test_xlsx_row_with_values_beyond_the_header():
    data = xlsx(
        [
            XHEADER,
            ["M001", "Garcia", "David", D(1948, 2, 9), "URBAN", D(2026, 2, 1), None, None, 1, None, "x"],
        ]
    )
    assert issue_codes(read_roster(data, CTX).errors) == [(2, "", R.TOO_MANY_CELLS)]


def test_a_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert issue_codes(read_roster(buf.getvalue(), CTX).errors) == [(1, "", R.NOT_A_TABLE)]
    assert issue_codes(read_roster(b"PK\x03\x04garbage", CTX).errors) == [(1, "", R.NOT_A_TABLE)]


def test_xlsx_zip_bomb_is_refused_before_it_expands():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    data = buf.getvalue()
    assert len(data) < 1024 * 1024  # a small upload...
    errors = read_roster(data, CTX, limits=ReadLimits(max_uncompressed_bytes=20 * 1024 * 1024)).errors
    assert issue_codes(errors) == [(1, "", R.FILE_TOO_LARGE)]  # ...that would expand to 60 MB


def test_xlsx_row_limit():
    rows = [XHEADER] + [
        [f"M{i}", "A", "B", D(1950, 1, 1), "URBAN", D(2026, 2, 1), None, None, 1] for i in range(30)
    ]
    result = read_roster(xlsx(rows), CTX, limits=ReadLimits(max_rows=10))
    assert R.FILE_TOO_LARGE in [e.code for e in result.errors]


# --------------------------------------------------------------------------- JSON
def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = dict(zip(XHEADER, GOOD.split(","), strict=True))
    base.update(overrides)
    return base


def test_json_list_and_rows_object_with_spreadsheet_row_numbers():
    records = [record(), record(member_id="M002", tier=4), record(member_id="M003", tier=1.0, Extra="x")]
    for doc in (records, {"rows": records}):
        result = read_roster(json.dumps(doc).encode(), CTX)
        assert issue_codes(result.errors) == [(3, "tier", R.UNKNOWN_TIER)]  # record index 1 is row 3
        assert [r.row for r in result.rows] == [2, 4]
        assert result.rows[1].tier == "1"
        assert issue_codes(result.warnings) == [(1, "Extra", R.UNKNOWN_COLUMN)]


def test_json_optional_keys_may_be_absent_and_nulls_are_empty():
    rec = {k: v for k, v in record().items() if k not in ("tier_start", "enrollment_end")}
    rec["disenrollment_reason"] = None
    assert read_roster(json.dumps([rec]).encode(), CTX).ok


def test_json_structural_errors():
    assert issue_codes(read_roster(b'{"members": []}', CTX).errors) == [(1, "", R.NOT_A_TABLE)]
    assert issue_codes(read_roster(b"[1, 2", CTX).errors) == [(1, "", R.NOT_A_TABLE)]
    assert issue_codes(read_roster(b"[]", CTX).errors) == [(1, "", R.NO_DATA_ROWS)]
    nested = read_roster(json.dumps([record(), record(member_id={"id": 1}), "x"]).encode(), CTX)
    assert issue_codes(nested.errors) == [(3, "member_id", R.INVALID_VALUE), (4, "", R.INVALID_VALUE)]
    missing = read_roster(json.dumps([{"member_id": "M1"}]).encode(), CTX)
    assert R.MISSING_COLUMN in [e.code for e in missing.errors]
    latin = json.dumps([record(last_name="Müller")], ensure_ascii=False).encode("latin-1")
    assert issue_codes(read_roster(latin, CTX).errors) == [(1, "", R.NOT_UTF8)]


def test_format_comes_from_the_argument_the_filename_or_the_content():
    data = json.dumps([record()]).encode()
    assert read_table(data, ROSTER).format == "json"
    assert read_table(data, ROSTER, filename="upload.JSON").format == "json"
    assert read_table(csv_bytes(HEADER, GOOD), ROSTER, fmt="csv").format == "csv"
    assert read_table(xlsx([XHEADER]), ASSESSMENTS).format == "xlsx"
    with pytest.raises(ValueError):
        read_table(b"x", "claims")
