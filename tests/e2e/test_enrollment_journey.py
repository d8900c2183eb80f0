"""Journey: a provider administrator downloads the roster template, uploads last month's roster with
errors, reads them, uploads the corrected roster and sees the member-months it yields."""

import csv
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from enrollment import calc
from tests.e2e.conftest import login
from tests.fixtures.contracts import unfreeze_contracts_for_flush

HEADER = [
    "member_id",
    "last_name",
    "first_name",
    "birth_date",
    "market",
    "enrollment_start",
    "enrollment_end",
    "disenrollment_reason",
    "tier",
    "tier_start",
]


@pytest.fixture
def seeded(demo):
    yield
    unfreeze_contracts_for_flush()  # contracts' SQLite triggers otherwise refuse the flush after the test


def roster(path, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_text(buffer.getvalue())
    return str(path)


def test_download_template_upload_with_errors_fix_and_see_member_months(page, live_server, seeded, tmp_path):
    month = calc.add_months(timezone.localdate().replace(day=1), -1)
    start = calc.add_months(month, -2).isoformat()
    members = [
        (f"GC1{k:05d}", "REYES", "LUZ", "1944-02-03", "URBAN", start, "", "", "1", "") for k in range(10, 16)
    ]
    broken = [list(m) for m in members]
    broken[1][8] = "7"  # no such tier
    broken[3][5] = "2026-02-30"  # no such day
    broken[4][7] = "death"  # a reason without an end date

    login(page, live_server, "urban_admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rosters").click()
    expect(page.get_by_role("heading", name="Rosters", exact=True)).to_be_visible()

    with page.expect_download() as download:
        page.get_by_test_id("roster-template-xlsx").click()
    assert download.value.suggested_filename == "roster-template.xlsx"

    form = page.get_by_role("region", name="Submit a month's roster")
    form.get_by_label("Month", exact=True).fill(f"{month:%Y-%m}")
    form.get_by_label("Roster file").set_input_files(roster(tmp_path / "roster.csv", broken))
    page.get_by_role("button", name="Submit and check").click()
    expect(page.get_by_test_id("roster-status")).to_have_text("Rejected")
    errors = page.get_by_test_id("roster-errors")
    expect(errors.locator("tbody tr")).to_have_count(3)
    expect(errors).to_contain_text("unknown_tier")
    expect(errors).to_contain_text("invalid_date")
    expect(errors).to_contain_text("reason_without_end")
    expect(errors.locator("tbody tr").first).to_contain_text("3")  # the spreadsheet's row number
    with page.expect_download() as report:
        page.get_by_test_id("error-report").click()
    assert report.value.suggested_filename.endswith("-errors.csv")

    page.get_by_role("link", name="Rosters").first.click()
    form.get_by_label("Month", exact=True).fill(f"{month:%Y-%m}")
    form.get_by_label("Roster file").set_input_files(roster(tmp_path / "roster-fixed.csv", members))
    page.get_by_role("button", name="Submit and check").click()
    expect(page.get_by_test_id("roster-status")).to_have_text("Accepted")
    table = page.get_by_test_id("member-months")
    expect(table).to_contain_text("URBAN")
    expect(page.get_by_test_id("member-months-total")).to_have_text("6.00")
    expect(page.get_by_test_id("diff-counts")).to_contain_text("22 removed · 6 changed")
    expect(page.get_by_test_id("versions").locator("tbody tr")).to_have_count(3)  # the demo's, then ours
