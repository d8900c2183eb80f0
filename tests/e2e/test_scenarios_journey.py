"""Journey: the plan analyst compares two pricing runs. From Pricing they open "Compare runs", are
told one run is not enough, tick a second, read both runs' rates and the change side by side, pick
another rate cell to see what moved its rate (the walk), and download the XLSX and the PDF."""

from __future__ import annotations

import copy
import io
import re
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import Membership
from accounts.tenancy import Scope
from core.domain.display import amount_text, change_text
from pricing import services
from pricing.models import PricingRun
from tests.e2e.conftest import login

CELL = ("2", "URBAN", "medicaid")  # the rate cell read in the rates table
WALK_CELL = ("3", "RURAL-N", "medicaid")  # the rate cell chosen for the walk


@pytest.fixture
def runs(demo):
    """The demo's home-based run (B) and the same run priced with a higher margin (A, newer)."""
    demo_run = PricingRun.objects.filter(
        status="succeeded", bundle_version__bundle__name="Home-based palliative care"
    ).get()
    assert PricingRun.objects.filter(payer=demo_run.payer, status="succeeded").count() >= 2
    scope = Scope(Membership.objects.get(user__username="plan_analyst", organization=demo_run.payer))
    assumptions = copy.deepcopy(demo_run.assumption_set_version.assumptions)
    assumptions["margin"] = "0.04"  # the demo's is the platform's 0.03
    assumption_set = services.assumption_set_create(
        scope=scope, name="Higher margin", assumptions=assumptions
    )
    version = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    higher = services.pricing_run_start(
        scope=scope,
        bundle_version=demo_run.bundle_version,
        assumption_set_version=version,
        experience=demo_run.experience,
        markets=demo_run.markets,
        lobs=demo_run.lobs,
        options=demo_run.inputs["options"],
        enqueue=False,
    )
    return services.pricing_run_execute(run_id=higher.pk), demo_run


def _pmpm(run: PricingRun, cell: tuple[str, str, str]) -> Decimal:
    rates = run.result["quote"]["rates"]
    return next(Decimal(r["pmpm"]) for r in rates if (r["tier"], r["market"], r["lob"]) == cell)


def test_plan_analyst_compares_two_runs_and_walks_a_rate_cell(page, live_server, runs):
    a, b = runs
    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    page.get_by_role("link", name="Compare runs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare pricing runs")

    # one run is not enough; the tick is kept (the list is newest first: this run will be column A)
    first = page.get_by_label(re.compile("Higher margin v1"))
    first.check()
    page.get_by_test_id("compare-choose").get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("compare-error")).to_contain_text("Choose 2 to 6 different pricing runs")
    expect(first).to_be_checked()

    page.get_by_label(re.compile("Home-based palliative care v2 · Golden Coast")).check()
    page.get_by_test_id("compare-choose").get_by_role("button", name="Compare").click()
    expect(page.get_by_test_id("compare-error")).to_have_count(0)
    runs_table = page.get_by_test_id("compare-runs")
    expect(runs_table.get_by_role("row").nth(1)).to_contain_text("Higher margin v1")
    expect(runs_table.get_by_role("row").nth(2)).to_contain_text("Golden Coast standard assumptions v1")

    # the rates side by side: each run's stored PMPM and the change from the baseline (A)
    row = (
        page.get_by_test_id("compare-rates")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name="Tier 2 · URBAN · Medicaid", exact=True))
    )
    pmpm_a, pmpm_b = _pmpm(a, CELL), _pmpm(b, CELL)
    assert pmpm_a != pmpm_b
    expect(row.get_by_role("cell")).to_have_text(
        [amount_text(pmpm_a), amount_text(pmpm_b), change_text(pmpm_b - pmpm_a)]
    )

    # another rate cell: the page reloads with its walk, which adds up to the runs' difference
    page.get_by_test_id("walk-form").get_by_label("Rate cell").select_option("/".join(WALK_CELL))
    expect(page).to_have_url(re.compile(r"cell=3%2FRURAL-N%2Fmedicaid"))
    walk = page.get_by_test_id("walk")
    expect(walk.locator("caption")).to_contain_text("Tier 3 · RURAL-N · Medicaid")
    expect(walk).to_contain_text("Margin")  # the one assumption that differs
    expect(page.get_by_test_id("walk-total")).to_have_text(
        change_text(_pmpm(b, WALK_CELL) - _pmpm(a, WALK_CELL))
    )

    with page.expect_download() as download_info:
        page.get_by_test_id("compare-xlsx").click()
    assert download_info.value.suggested_filename.endswith(".xlsx")
    with open(download_info.value.path(), "rb") as fh:
        book = load_workbook(io.BytesIO(fh.read()))
    assert any(name.startswith("Walk") for name in book.sheetnames), book.sheetnames

    with page.expect_download() as download_info:
        page.get_by_test_id("compare-pdf").click()
    with open(download_info.value.path(), "rb") as fh:
        reader = PdfReader(io.BytesIO(fh.read()))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages))
    assert "Pricing runs compared" in text
