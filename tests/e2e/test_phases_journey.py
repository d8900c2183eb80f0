"""Journey: the plan analyst opens the demo's phased bundle, gives the first months' nurse more effort in a
new draft (the grid switched to the phase, the base effort left alone), and reads the rates by phase on the
bundle's pricing run."""

from playwright.sync_api import expect

from bundles.models import BundleVersion
from tests.e2e.conftest import login

PHASED = "Home-based palliative care, phased"
RN_INITIAL = "Registered nurse tier 1 visits per member-month in phase initial"
RN_BASE = "Registered nurse tier 1 visits per member-month"


def test_the_analyst_edits_a_phase_effort_and_reads_the_rates_by_phase(page, live_server, demo):
    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bundles").click()
    page.get_by_role("link", name=PHASED).click()
    phases = page.get_by_test_id("phases")
    expect(phases).to_contain_text("Months 1-2")
    expect(phases).to_contain_text("Month 3 on")

    page.get_by_role("button", name="New draft from v1").click()
    expect(page.get_by_role("heading", name="Edit draft")).to_be_visible()
    tabs = page.get_by_role("navigation", name="Effort in a phase of enrollment")
    tabs.get_by_role("link", name="Months 1-2").click()
    expect(page.get_by_test_id("phase-note")).to_be_visible()
    cell = page.get_by_label(RN_INITIAL, exact=True)
    expect(cell).to_have_value("2")  # the demo's first months: two nurse visits in tier 1, not one
    cell.fill("2.5")
    cell.press("Tab")
    expect(page.get_by_label(RN_INITIAL, exact=True)).to_have_value("2.5")

    tabs.get_by_role("link", name="Base effort").click()
    expect(page.get_by_test_id("phase-note")).to_have_count(0)
    expect(page.get_by_label(RN_BASE, exact=True)).to_have_value("1")  # the base effort is untouched
    draft = BundleVersion.objects.get(bundle__name=PHASED, status="draft")
    rn = next(role for role in draft.definition["roles"] if role["role"] == "rn")
    assert rn["by_phase"]["initial"]["1"]["visits_per_mm"] == "2.5"
    assert rn["by_tier"]["1"]["visits_per_mm"] == "1"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    page.get_by_role("row").filter(has_text=f"{PHASED} v1").get_by_role("link").first.click()
    rates = page.get_by_test_id("phase-rates")
    expect(rates).to_contain_text("Months 1-2")
    expect(rates).to_contain_text("from month 3")
