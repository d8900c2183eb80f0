"""Journey: the plan analyst starts a pricing run, watches its progress bar, reads the rates and
downloads the PDF report. A real Celery worker computes the run."""

from __future__ import annotations

import io
import re

from playwright.sync_api import expect
from pypdf import PdfReader

from pricing.charts import money
from pricing.models import PricingRun
from tests.e2e.conftest import login


def test_plan_analyst_prices_a_bundle_and_downloads_the_report(page, live_server, demo, celery_worker):
    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pricing runs")
    expect(page.get_by_role("table")).to_contain_text("Home-based palliative care v2")  # the demo's runs

    page.get_by_role("link", name="Start a pricing run").click()
    page.get_by_label("Bundle version").select_option(label="Home-based palliative care v2")
    page.get_by_label("Assumption set version").select_option(label="Golden Coast standard assumptions v1")
    page.get_by_label("Experience").select_option(index=1)
    page.get_by_label("Expected enrollees a year, per market").fill("300")
    page.get_by_label("Simulated contract years").fill("100000")
    page.get_by_role("button", name="Start the run").click()

    # the progress bar, polled by htmx while the worker computes
    progress = page.get_by_role("progressbar", name="Pricing run progress")
    expect(progress).to_be_visible()
    expect(page.get_by_test_id("progress-message")).to_contain_text("Simulating", timeout=60_000)
    percent = int(page.get_by_test_id("progress-percent").inner_text())
    assert 0 < percent < 100

    # finished: the page reloads with the rates, tier x market, one table per line of business
    rates = page.get_by_test_id("rate-matrix").first
    expect(rates).to_be_visible(timeout=120_000)
    expect(rates).to_contain_text("Medicaid: PMPM by tier and market")
    run = PricingRun.objects.order_by("-created_at").first()
    assert run.status == "succeeded" and run.seed
    for rate in run.result["quote"]["rates"]:
        if rate["lob"] == "medicaid":
            expect(rates).to_contain_text(money(rate["pmpm"]))
            expect(rates).to_contain_text(f"{money(rate['low'])} – {money(rate['high'])}")
    expect(page.get_by_test_id("assessment-fees")).to_contain_text(
        money(run.result["quote"]["assessment_fee"]["URBAN"])
    )
    expect(page.get_by_test_id("inputs-hash")).to_have_text(run.inputs_hash)

    with page.expect_download() as download_info:
        page.get_by_test_id("pdf-link").click()
    download = download_info.value
    assert download.suggested_filename == f"pricing-report-{run.public_id}.pdf"
    with open(download.path(), "rb") as fh:
        reader = PdfReader(io.BytesIO(fh.read()))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    for rate in run.result["quote"]["rates"]:
        assert money(rate["pmpm"]) in text
