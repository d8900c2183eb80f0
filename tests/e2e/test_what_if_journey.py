"""Journey: the plan analyst opens the demo's home-based run, clicks "What if…", sees the run's own
levers reproduce its rates, lowers productivity with the slider (htmx re-quotes the result panel),
reads a rate cell's higher PMPM and its change, and saves the what-if as a new pricing run."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import expect

from core.domain.display import MINUS, amount_text, change_text
from pricing import services
from pricing.compute import what_if_result
from pricing.engine.scenarios import WhatIf
from pricing.models import PricingRun
from tests.e2e.conftest import login

CELL = ("2", "URBAN", "medicaid")  # the rate cell read after the slider moved
PRODUCTIVITY = Decimal("0.60")


def _amount(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace(MINUS, "-").lstrip("+"))


def _pmpm(result: dict, cell: tuple[str, str, str]) -> Decimal:
    return next(
        Decimal(r["pmpm"]) for r in result["quote"]["rates"] if (r["tier"], r["market"], r["lob"]) == cell
    )


def test_plan_analyst_moves_a_lever_and_saves_the_what_if(page, live_server, demo):
    run = PricingRun.objects.filter(
        status="succeeded", bundle_version__bundle__name="Home-based palliative care"
    ).get()
    levers = services.run_levers(run)
    assert levers["productivity"] > PRODUCTIVITY  # the slider moves it down

    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    page.get_by_role("row").filter(has_text="Home-based palliative care v2").get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}/pricing/runs/{run.public_id}/")
    page.get_by_test_id("what-if-link").click()
    expect(page).to_have_url(f"{live_server.url}/pricing/runs/{run.public_id}/what-if/")
    expect(page.get_by_role("heading", level=1)).to_have_text("What if: Home-based palliative care v2")

    # at the run's own levers the re-quote is the run: every rate cell's change is 0.00
    result = page.get_by_test_id("what-if-result")
    heading = result.get_by_role("heading", level=2)
    expect(heading).to_contain_text(f"productivity {levers['productivity']:.2f},")
    changes = page.get_by_test_id("what-if-rates").locator("tbody tr td:nth-child(4)")
    expect(changes).to_have_text(["0.00"] * len(run.result["quote"]["rates"]))

    # lower productivity: more paid minutes per visit, so every rate goes up
    page.get_by_role("slider", name="Productivity").fill(str(PRODUCTIVITY))
    expect(heading).to_contain_text("productivity 0.60,")
    expect(heading).to_contain_text(f"conversion {levers['conversion_rate']:.2f},")
    row = (
        page.get_by_test_id("what-if-rates")
        .get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name="Tier 2 · URBAN · Medicaid", exact=True))
    )
    run_text, what_if_text, change = row.get_by_role("cell").all_inner_texts()
    assert _amount(what_if_text) > _amount(run_text)
    assert change.startswith("+") and _amount(change) > 0

    # the same cell priced here, independently of the page
    expected = what_if_result(
        run.inputs,
        WhatIf(conversion_rate=levers["conversion_rate"], productivity=PRODUCTIVITY),
    )
    pmpm, run_pmpm = _pmpm(expected, CELL), _pmpm(run.result, CELL)
    expect(row.get_by_role("cell")).to_have_text(
        [amount_text(run_pmpm), amount_text(pmpm), change_text(pmpm - run_pmpm)]
    )

    # save: a new assumption set and a new run (queued; no worker needed), the browser on its page
    page.get_by_test_id("what-if-save").click()
    expect(page.get_by_role("status")).to_contain_text("The what-if is saved as a new assumption set")
    new_run = PricingRun.objects.exclude(pk=run.pk).order_by("-created_at").first()
    expect(page).to_have_url(f"{live_server.url}/pricing/runs/{new_run.public_id}/")
    assert new_run.public_id != run.public_id and new_run.bundle_version == run.bundle_version
    assert Decimal(new_run.inputs["pricing_file"]["assumptions"]["productivity"]) == PRODUCTIVITY
    assert new_run.assumption_set_version.assumption_set.name.startswith(
        f"{run.assumption_set_version.assumption_set.name} v{run.assumption_set_version.number} · what-if"
    )
    # enrollment was not moved: every market keeps its own enrollees a year
    assert new_run.options["enrollees_per_year"] == run.options["enrollees_per_year"]
