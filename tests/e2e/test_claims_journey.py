"""Journey: the plan analyst downloads the claims template, uploads a file with errors and reads why
nothing was loaded, uploads it corrected, then a file that replaces one claim and voids another, and
finally sends the corrected file again and is told it changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

from playwright.sync_api import expect

from claims.models import ClaimLineRow, ClaimsUpload
from performance.models import UtilizationRow
from tests.e2e.conftest import login

# Ids the demo never uses, so every line and utilisation row checked below is this journey's.
MEMBERS = {"MBR00001": "E2E00001", "MBR00002": "E2E00002"}
PREFIX = "E2E-"
MARCH = dt.date(2026, 3, 1)


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _upload(page, name: str, data: bytes) -> None:
    page.set_input_files("#claims-file", files=[{"name": name, "mimeType": "text/csv", "buffer": data}])
    page.get_by_role("button", name="Upload").click()


def _open_claims(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Claims").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Claims")


def _journey_lines():
    return ClaimLineRow.objects.filter(member_id__in=MEMBERS.values())


def _march_cost(member_id: str) -> Decimal:
    return UtilizationRow.objects.get(member_id=member_id, month=MARCH, superseded=False).tcoc_amount


def test_plan_analyst_uploads_corrects_replaces_and_voids_claims(page, live_server, demo, tmp_path):
    # 1. Claims from the main navigation: the demo's file is there.
    login(page, live_server, "plan_analyst")
    _open_claims(page)
    uploads = page.get_by_role("table", name="Claims uploads")
    expect(uploads.get_by_role("row").filter(has_text="golden-coast-claims.csv")).to_contain_text("Accepted")

    # 2. The template, through its link.
    with page.expect_download() as info:
        page.get_by_role("link", name="download the template").click()
    assert info.value.suggested_filename == "claims.csv"
    template = tmp_path / "claims.csv"
    info.value.save_as(template)
    text = template.read_text(encoding="utf-8")
    assert text.startswith("member_id,claim_id,line_number"), text[:80]
    header, rows = _rows(text)
    for row in rows:
        row["member_id"] = MEMBERS[row["member_id"]]
        row["claim_id"] = PREFIX + row["claim_id"]
    # The template: P-1001 (member 1), its replacement (row 5), and the two-line stay I-2001 (member 2).
    assert [(r["claim_id"], r["line_number"], r["frequency_code"]) for r in rows] == [
        ("E2E-P-1001", "1", "1"),
        ("E2E-I-2001", "1", "1"),
        ("E2E-I-2001", "2", "1"),
        ("E2E-P-1001", "1", "7"),
    ]

    # 3. Two errors: an amount with 3 decimals (row 2), a line that ends before it starts (row 4).
    broken = [dict(r) for r in rows]
    broken[0]["paid_amount"] = "12.345"
    start = dt.date.fromisoformat(broken[2]["service_from"])
    broken[2]["service_to"] = (start - dt.timedelta(days=1)).isoformat()
    _upload(page, "claims-with-errors.csv", _csv(header, broken))
    expect(page.get_by_test_id("upload-status")).to_have_text("Rejected")
    expect(page.get_by_text("Nothing was loaded: 2 errors", exact=False)).to_be_visible()
    errors = page.get_by_test_id("upload-errors")
    expect(errors.locator("tbody tr")).to_have_count(2)
    expect(errors.locator("tbody tr").filter(has_text="not_an_amount").get_by_role("cell")).to_have_text(
        ["2", "paid_amount", "not_an_amount", re.compile(r"Not an amount .*'12\.345'")]
    )
    expect(
        errors.locator("tbody tr").filter(has_text="service_to_before_from").get_by_role("cell")
    ).to_have_text(["4", "service_to", "service_to_before_from", "service_to is before service_from."])
    expect(page.get_by_test_id("upload-lines")).to_have_count(0)
    rejected = ClaimsUpload.objects.get(original_filename="claims-with-errors.csv")
    assert rejected.status == "rejected" and rejected.error_count == 2
    assert not ClaimLineRow.objects.filter(upload=rejected).exists()
    assert not _journey_lines().exists()
    assert not UtilizationRow.objects.filter(member_id__in=MEMBERS.values()).exists()

    # 4a. The corrected file (the template as it is): every line loaded; the replacement in it stands.
    _open_claims(page)
    _upload(page, "claims-corrected.csv", _csv(header, rows))
    expect(page.get_by_test_id("upload-status")).to_have_text("Accepted")
    expect(page.get_by_test_id("upload-lines")).to_have_text("4 lines of 2 claims for 2 members")
    expect(page.get_by_text("3 lines, $11,090.00 paid; 1 claim replaced")).to_be_visible()
    expect(page.get_by_test_id("upload-errors")).to_have_count(0)
    assert _journey_lines().count() == 4
    assert _march_cost("E2E00001") == Decimal("80.00")
    assert _march_cost("E2E00002") == Decimal("11010.00")

    # 4b. A later file replaces the stay (frequency 7, paid later, new amounts) and voids the visit (8).
    later = "2026-05-06"
    stay = [dict(r) for r in rows if r["claim_id"] == "E2E-I-2001"]
    for row, amount in zip(stay, ("1500.00", "9650.50"), strict=True):
        row.update(
            frequency_code="7", bill_type="117", paid_date=later, allowed_amount=amount, paid_amount=amount
        )
    void = dict(rows[3], frequency_code="8", paid_date=later)
    _open_claims(page)
    _upload(page, "claims-changes.csv", _csv(header, [*stay, void]))
    expect(page.get_by_test_id("upload-status")).to_have_text("Accepted")
    expect(page.get_by_test_id("upload-lines")).to_have_text("3 lines of 2 claims for 2 members")
    expect(page.get_by_text("2 lines, $11,150.50 paid; 1 claim replaced; 1 voided")).to_be_visible()
    standing = {
        (line.claim_id, line.line_number, line.frequency_code, line.paid_amount)
        for line in _journey_lines().filter(standing=True)
    }
    assert standing == {
        ("E2E-I-2001", 1, "7", Decimal("1500.00")),
        ("E2E-I-2001", 2, "7", Decimal("9650.50")),
    }
    assert _journey_lines().count() == 7  # nothing is deleted
    assert _march_cost("E2E00002") == Decimal("11150.50")
    assert _march_cost("E2E00001") == Decimal("0.00")  # the voided visit leaves no cost behind

    # 5. The corrected file again: accepted, every claim in it reported as sent before, nothing changes.
    _open_claims(page)
    _upload(page, "claims-corrected.csv", _csv(header, rows))
    expect(page.get_by_test_id("upload-status")).to_have_text("Accepted")
    expect(
        page.get_by_text("0 lines, $0.00 paid; 3 claim versions received before, unchanged")
    ).to_be_visible()
    warnings = page.get_by_test_id("upload-warnings")
    expect(warnings.locator("tbody tr")).to_have_count(3)
    expect(warnings.locator("tbody tr").filter(has_text="duplicate_claim")).to_have_count(3)
    expect(warnings).to_contain_text("Claim 'E2E-P-1001' (frequency 7, paid 2026-04-03) was loaded before")
    assert {line.claim_id for line in _journey_lines().filter(standing=True)} == {"E2E-I-2001"}
    assert _march_cost("E2E00002") == Decimal("11150.50")

    # Every file of the journey is listed, the refused one with its errors.
    _open_claims(page)
    uploads = page.get_by_role("table", name="Claims uploads")
    expect(uploads.get_by_role("row").filter(has_text="claims-with-errors.csv")).to_contain_text("Rejected")
    expect(uploads.get_by_role("row").filter(has_text="claims-corrected.csv")).to_have_count(2)
    expect(uploads.get_by_role("row").filter(has_text="claims-changes.csv")).to_contain_text("$11,150.50")
