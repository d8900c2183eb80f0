"""Journey: the plan analyst uploads utilisation, opens a contract's performance page, reads the
composite score and downloads the performance report."""

from __future__ import annotations

import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader

from core.domain.display import money_text
from enrollment.models import MemberMonth
from performance.models import UtilizationRow
from tests.e2e.conftest import login

HEADER = (
    "member_id,month,ed_visits,inpatient_admissions,icu_admissions,discharges,readmissions_30d,tcoc_amount,"
    "acp_documented_date,satisfaction_score,death_date,death_place\n"
)


def test_plan_analyst_uploads_utilisation_and_downloads_the_report(page, live_server, demo, tmp_path):
    mm = (
        MemberMonth.objects.filter(contract__provider__short_name="Bayview", submission__is_current=True)
        .order_by("-month", "member_id")
        .first()
    )
    csv_text = HEADER + f"{mm.member_id},{mm.month:%Y-%m-%d},0,0,0,0,0,2999.99,,97,,\n"

    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Performance").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Contract performance")
    page.set_input_files(
        "#utilization-file",
        files=[{"name": "utilization.csv", "mimeType": "text/csv", "buffer": csv_text.encode()}],
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("upload-status")).to_have_text("Accepted")
    expect(page.get_by_text("1 earlier rows replaced", exact=False)).to_be_visible()
    row = UtilizationRow.objects.get(member_id=mm.member_id, month=mm.month, superseded=False)
    assert str(row.tcoc_amount) == "2999.99"

    page.get_by_role("link", name="Performance").first.click()
    page.get_by_role("row").filter(has_text="Bayview").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Quality measures")).to_be_visible()
    score = page.get_by_test_id("composite-score").inner_text()
    assert re.fullmatch(r"\d+\.\d%|Not scored", score), score
    expect(page.locator("svg#chart-enrollment rect").first).to_be_visible()
    expect(page.locator("svg#chart-before-after")).to_be_visible()

    with page.expect_download() as info:
        page.get_by_test_id("report-link").click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.name.startswith("performance-CTR-") and target.suffix == ".pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages)
    assert "Contract performance report" in text and score in text and "Avoided events" in text


def test_plan_analyst_settles_a_closed_quarter_and_the_provider_sees_it(page, live_server, demo):
    from payments.models import LedgerEntry, Settlement

    login(page, live_server, "plan_analyst")
    page.goto(f"{live_server.url}/payments/")
    page.get_by_role("row").filter(has_text="Bayview").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Performance settlements")).to_be_visible()
    page.get_by_role("button", name="Settle period").click()
    # The demo settled its latest closed quarter already: settling it again changes nothing.
    expect(page.get_by_test_id("settlement-status")).to_have_text("Approved")
    expect(page.get_by_text("nothing changed since", exact=False)).to_be_visible()
    settlement = Settlement.objects.get(contract__provider__short_name="Bayview")
    total = page.get_by_test_id("settlement-total").inner_text()
    assert total == money_text(settlement.total)
    assert LedgerEntry.objects.filter(settlement=settlement).count() == sum(
        1 for *_x, a in settlement.lines if a
    )
    expect(page.get_by_role("table", name="Ledger entries").get_by_role("row")).not_to_have_count(1)

    page.context.clear_cookies()
    login(page, live_server, "urban_admin")
    page.goto(f"{live_server.url}/payments/contracts/{settlement.contract.number}/")
    expect(
        page.get_by_role("table", name="Settlements").get_by_role("link", name=settlement.period)
    ).to_be_visible()
    expect(page.get_by_role("button", name="Settle period")).to_have_count(0)
