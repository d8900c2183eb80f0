"""The claims extract reader (pure): every problem at its row and column, CSV and Parquet alike."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from claims.extract import COLUMNS, read_claims, write_claims_csv
from claims.records import INSTITUTIONAL, REPLACEMENT, VOID
from claims.template import EXAMPLE_LINES

from .lines import D, line


def csv_of(rows: list[dict], columns=COLUMNS) -> bytes:
    out = io.StringIO()
    out.write(",".join(columns) + "\n")
    for row in rows:
        out.write(",".join(str(row.get(c, "")) for c in columns) + "\n")
    return out.getvalue().encode()


def good(**overrides) -> dict:
    row = {
        "member_id": "M1",
        "claim_id": "C1",
        "line_number": "1",
        "claim_type": "professional",
        "place_of_service": "11",
        "procedure_code": "99214",
        "service_from": "2026-03-02",
        "paid_date": "2026-03-20",
        "paid_amount": "100.00",
    }
    return {**row, **overrides}


def found(result) -> set[tuple[int, str, str]]:
    return {(p.row, p.column, p.code) for p in result.errors}


def test_the_template_reads_back_as_written():
    result = read_claims(write_claims_csv(EXAMPLE_LINES).encode(), "claims.csv")
    assert result.errors == []
    assert result.records == list(EXAMPLE_LINES)
    assert result.rows == [2, 3, 4, 5]


def test_a_minimal_professional_line():
    result = read_claims(csv_of([good()]))
    assert result.errors == []
    (record,) = result.records
    assert record == line(
        diagnosis_codes=(), allowed_amount=None, paid_amount=Decimal("100.00"), service_to=D(2026, 3, 2)
    )


def test_every_problem_is_reported_at_its_row_and_column():
    rows = [
        good(line_number="0"),
        good(claim_type="dental", claim_id="C2"),
        good(claim_id="C3", frequency_code="5"),
        good(claim_id="C4", place_of_service="2"),
        good(claim_id="C5", revenue_code="45"),
        good(claim_id="C6", procedure_code="9921"),
        good(claim_id="C7", modifiers="25:GTX"),
        good(claim_id="C8", diagnosis_codes="C34.90:9999"),
        good(claim_id="C9", discharge_status="1"),
        good(claim_id="C10", service_to="2026-03-01"),
        good(claim_id="C11", paid_date="2026-03-01"),
        good(claim_id="C12", paid_amount="-5.00"),
        good(claim_id="C13", allowed_amount="1.005"),
        good(claim_id="C14", service_from="03/02/2026"),
        good(claim_id="C15", member_id=""),
        good(claim_id="C16", place_of_service=""),
    ]
    result = read_claims(csv_of(rows))
    assert found(result) == {
        (2, "line_number", "not_a_line_number"),
        (3, "claim_type", "unknown_claim_type"),
        (4, "frequency_code", "unknown_frequency_code"),
        (5, "place_of_service", "not_a_place_of_service"),
        (6, "revenue_code", "not_a_revenue_code"),
        (7, "procedure_code", "not_a_procedure_code"),
        (8, "modifiers", "not_a_modifier"),
        (9, "diagnosis_codes", "not_a_diagnosis_code"),
        (10, "discharge_status", "not_a_discharge_status"),
        (11, "service_to", "service_to_before_from"),
        (12, "paid_date", "paid_before_service"),
        (13, "paid_amount", "not_an_amount"),
        (14, "allowed_amount", "not_an_amount"),
        (15, "service_from", "not_a_date"),
        (16, "member_id", "required"),
        (17, "place_of_service", "required"),
    }
    assert result.error_count == 16
    assert result.records == []


def test_institutional_lines_need_a_bill_type_and_an_inpatient_stay_its_admission():
    rows = [
        good(claim_type="institutional", place_of_service="", revenue_code="0450"),
        good(claim_id="C2", claim_type="institutional", place_of_service="", bill_type="111"),
        good(claim_id="C3", claim_type="I", place_of_service="", bill_type="0131", revenue_code="300"),
        good(
            claim_id="C4",
            claim_type="institutional",
            bill_type="111",
            admission_date="2026-03-05",
            discharge_date="2026-03-04",
            service_from="2026-03-05",
        ),
    ]
    result = read_claims(csv_of(rows))
    assert found(result) == {
        (2, "bill_type", "required"),
        (3, "admission_date", "required"),
        (5, "discharge_date", "discharge_before_admission"),
    }


def test_the_frequency_comes_from_the_bill_type_when_not_given_and_must_agree_when_given():
    rows = [
        good(claim_type="institutional", bill_type="0137", place_of_service=""),
        good(claim_id="C2", claim_type="institutional", bill_type="138", frequency_code="7"),
    ]
    result = read_claims(csv_of(rows))
    assert found(result) == {(3, "frequency_code", "frequency_differs")}
    rows = rows[:1]
    (record,) = read_claims(csv_of(rows)).records
    assert (record.claim_type, record.bill_type, record.frequency_code) == (INSTITUTIONAL, "137", REPLACEMENT)
    assert record.revenue_code == ""


def test_codes_are_normalised():
    row = good(revenue_code="450", procedure_code="g0380", modifiers="25 gt", diagnosis_codes="c34.90:R52")
    (record,) = read_claims(csv_of([row])).records
    assert record.revenue_code == "0450"
    assert record.procedure_code == "G0380"
    assert record.modifiers == ("25", "GT")
    assert record.diagnosis_codes == ("C3490", "R52")


def test_a_line_twice_and_a_claim_split_between_members_or_types_are_errors():
    rows = [
        good(),
        good(paid_amount="90.00"),
        good(line_number="2", member_id="M2"),
        good(line_number="3", claim_type="institutional", bill_type="131", place_of_service=""),
        good(frequency_code=VOID),  # another version of the claim: not a duplicate
        good(paid_date="2026-03-21", frequency_code=REPLACEMENT),
        good(paid_date="2026-03-22", frequency_code=REPLACEMENT),  # a second replacement in one file
    ]
    result = read_claims(csv_of(rows))
    assert found(result) == {
        (3, "line_number", "duplicate_line"),
        (4, "member_id", "claim_member_mismatch"),
        (5, "claim_type", "claim_type_mismatch"),
        (8, "line_number", "duplicate_line"),
    }
    assert "row 2" in result.errors[0].message


def test_file_level_problems_are_on_row_one():
    assert found(read_claims(b"")) == {(1, "", "empty_file")}
    assert found(read_claims(b"\xff\xfe\x00")) == {(1, "", "not_a_table")}
    assert found(read_claims(csv_of([]))) == {(1, "", "no_data_rows")}
    missing = read_claims(csv_of([good()], columns=[c for c in COLUMNS if c != "paid_amount"]))
    assert found(missing) == {(1, "paid_amount", "missing_column")}
    twice = read_claims(b"member_id,MEMBER_ID\nA,B\n")
    assert (1, "member_id", "duplicate_column") in found(twice)
    assert found(read_claims(b"PAR1 not really", "claims.parquet")) == {(1, "", "not_a_table")}


def test_an_unknown_column_is_a_warning_and_blank_rows_are_skipped():
    data = csv_of([good(), {}, good(claim_id="C2")], columns=[*COLUMNS, "notes"])
    result = read_claims(data)
    assert result.errors == []
    assert result.rows == [2, 4]
    assert [(w.column, w.code, w.severity) for w in result.warnings] == [
        ("notes", "unknown_column", "warning")
    ]


def test_header_names_ignore_case_and_spaces_and_columns_come_in_any_order():
    columns = ["Paid_Amount ", " MEMBER_ID", *[c for c in COLUMNS if c not in ("paid_amount", "member_id")]]
    row = good()
    data = ",".join(columns) + "\n" + ",".join(row.get(c.strip().lower(), "") for c in columns) + "\n"
    assert read_claims(("\ufeff" + data).encode()).records[0].member_id == "M1"


def test_reading_stops_after_the_error_limit(monkeypatch):
    monkeypatch.setattr("claims.extract.MAX_ERRORS", 3)
    result = read_claims(csv_of([good(claim_id=f"C{i}", paid_amount="x") for i in range(10)]))
    assert [p.code for p in result.errors] == ["not_an_amount"] * 3 + ["too_many_errors"]


def test_parquet_reads_like_the_csv_with_typed_columns():
    records = list(EXAMPLE_LINES)
    table = pa.table(
        {
            "member_id": [r.member_id for r in records],
            "claim_id": [r.claim_id for r in records],
            "line_number": pa.array([r.line_number for r in records], pa.int32()),
            "claim_type": [r.claim_type for r in records],
            "frequency_code": [r.frequency_code for r in records],
            "bill_type": [r.bill_type or None for r in records],
            "place_of_service": [r.place_of_service or None for r in records],
            "revenue_code": [r.revenue_code or None for r in records],
            "procedure_code": [r.procedure_code or None for r in records],
            "modifiers": [list(r.modifiers) for r in records],
            "diagnosis_codes": [list(r.diagnosis_codes) for r in records],
            "admission_date": [r.admission_date for r in records],
            "discharge_date": [r.discharge_date for r in records],
            "discharge_status": [r.discharge_status or None for r in records],
            "service_from": [r.service_from for r in records],
            "service_to": [r.service_to for r in records],
            "paid_date": [r.paid_date for r in records],
            "allowed_amount": pa.array([r.allowed_amount for r in records], pa.decimal128(12, 2)),
            "paid_amount": pa.array([r.paid_amount for r in records], pa.decimal128(12, 2)),
        }
    )
    out = io.BytesIO()
    pq.write_table(table, out)
    result = read_claims(out.getvalue(), "claims.parquet")
    assert result.errors == []
    assert result.records == records


def test_parquet_errors_are_numbered_like_rows():
    table = pa.table({c: ["x"] for c in COLUMNS})
    out = io.BytesIO()
    pq.write_table(table, out)
    result = read_claims(out.getvalue(), "claims.parquet")
    assert (2, "paid_amount", "not_an_amount") in found(result)


def test_the_example_in_the_formats_guide_is_the_template():
    guide = (Path(__file__).resolve().parents[2] / "docs/formats.md").read_text()
    section = guide.split("## 11. Claims extract")[1]
    example = section.split("```csv\n")[1].split("```")[0]
    assert example == write_claims_csv(EXAMPLE_LINES)
