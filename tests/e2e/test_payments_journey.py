"""Journey: the plan's second analyst opens the demo's payment run in review (plan_analyst requested it:
four eyes), sees what changed since the month before, approves it and downloads the three statement files; the provider then sees it posted."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from playwright.sync_api import expect
from pypdf import PdfReader

from core.domain.display import money_text
from payments.models import LedgerEntry, PaymentRun
from tests.e2e.conftest import login
from tests.fixtures.x12 import pyx12_check


def test_plan_analyst_approves_a_run_and_downloads_its_statements(page, live_server, demo, tmp_path):
    login(page, live_server, "plan_analyst2")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    page.get_by_role("row").filter(has_text="Bayview Home Palliative Care").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Payment history")).to_be_visible()
    expect(page.locator("svg[data-chart='payment-history'] rect").first).to_be_visible()

    page.get_by_role("row").filter(has_text="In review").get_by_role("link").click()
    expect(page.get_by_test_id("run-status")).to_have_text("In review")
    expect(page.get_by_role("heading", name=re.compile(r"^What changed since"))).to_be_visible()
    run_id = re.search(r"/payments/runs/([0-9a-f-]{36})/", page.url).group(1)
    total = page.get_by_test_id("run-total").inner_text()

    page.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_text(re.compile(r"^Approved and posted"))).to_be_visible()
    expect(page.get_by_test_id("run-status")).to_have_text("Approved")
    run = PaymentRun.objects.get(public_id=run_id)
    assert run.status == "approved" and money_text(run.total) == total
    assert sum(LedgerEntry.objects.filter(run=run).values_list("amount", flat=True)) == run.total

    downloads = page.get_by_role("list", name="Statement downloads")
    files = {}
    for label in ("PDF", "CSV", "X12 820"):
        with page.expect_download() as info:
            downloads.get_by_role("link", name=label).click()
        target = tmp_path / info.value.suggested_filename
        info.value.save_as(target)
        files[label] = target
    assert files["PDF"].name == f"{run.contract.number}-{run.month:%Y-%m}-statement.pdf"
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(files["PDF"].read_bytes())).pages)
    assert total in pdf_text and "Year to date" in pdf_text
    rows = list(csv.DictReader(io.StringIO(files["CSV"].read_text())))
    assert sum(Decimal(r["amount"]) for r in rows) == run.total
    ok, messages = pyx12_check(files["X12 820"].read_text(), tmp_path)
    assert ok, messages
    page.get_by_role("button", name="Log out").click()

    login(page, live_server, "urban_admin")
    page.goto(f"{live_server.url}/payments/runs/{run_id}/")
    expect(page.get_by_test_id("run-status")).to_have_text("Approved")
    expect(page.get_by_role("button", name="Approve and post")).to_have_count(0)
