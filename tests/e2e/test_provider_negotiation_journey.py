"""Journey (issue 19): a rural provider prices its own bundle, shares the run with the plan, and
counters the plan's proposal; the plan accepts the counter-offer, the provider too, and the contract
is active at the negotiated rate. A real Celery worker computes the run."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login

RURAL = "Sierra Foothills Palliative Program"
RURAL_BUNDLE = "Sierra home palliative care (our service model) v1"
# The rural provider already has an active contract on the home-based bundle in RURAL-N: the
# plan proposes its episode bundle, which covers RURAL-N too.
EPISODE = "Post-discharge palliative transition (90 days) v1"
REASON = "Our drive times: the run we shared prices tier 1 higher"


def test_rural_provider_prices_shares_and_counters_and_the_plan_accepts(
    page, live_server, demo, celery_worker
):
    # 1. The provider prices its own bundle on its own costs.
    login(page, live_server, "rural_admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Pricing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pricing runs")
    page.get_by_role("link", name="Start a pricing run").click()
    page.get_by_label("Bundle version").select_option(label=RURAL_BUNDLE)
    page.get_by_label("Assumption set version").select_option(label="Our costs 2027 v1")
    page.get_by_label("RURAL-N · Northern Sierra foothills", exact=True).check()
    page.get_by_label("Expected enrollees a year, per market").fill("25")
    page.get_by_label("Simulated contract years").fill("5000")
    page.get_by_label("The program's fixed annual cost ($)").fill("60000")
    page.get_by_role("button", name="Start the run").click()

    # finished: the page reloads with the provider's economics first
    economics = page.get_by_test_id("economics")
    expect(economics).to_be_visible(timeout=120_000)
    expect(economics.get_by_role("heading", level=2)).to_have_text(
        "What this bundle costs you, and what breaks even"
    )
    expect(page.get_by_test_id("breakeven-enrollees")).to_have_text(re.compile(r"^(\d[\d,]*|never)$"))
    run_id = re.search(r"/pricing/runs/([^/]+)/$", page.url).group(1)

    # 2. It shares the run with the plan.
    sharing = page.get_by_test_id("sharing")
    expect(sharing.get_by_test_id("shares")).to_contain_text("Not shared with any organisation.")
    sharing.get_by_label("Share with").select_option(label="Golden Coast")
    sharing.get_by_label("Note").fill("Our costs behind the counter-offer")
    sharing.get_by_role("button", name="Share").click()
    shared_row = page.get_by_test_id("shares").get_by_role("row").filter(has_text="Golden Coast")
    expect(shared_row).to_contain_text("Our costs behind the counter-offer")
    expect(shared_row).to_contain_text("Active")
    page.get_by_role("button", name="Log out").click()

    # 3. The plan proposes a contract on its episode bundle in RURAL-N.
    login(page, live_server, "plan_contracts")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contracts").click()
    expect(page.get_by_role("heading", name="Contracts", exact=True)).to_be_visible()
    page.get_by_role("link", name="New contract").click()
    page.get_by_label("Provider").select_option(label=RURAL)
    page.get_by_label("Bundle version").select_option(label=EPISODE)
    expect(page.get_by_label("RURAL-S · Southern Sierra frontier")).to_have_count(0)
    for market in ("URBAN", "URBAN-E"):
        page.get_by_role("checkbox", name=re.compile(rf"^{market} · ")).uncheck()
    expect(page.get_by_label("RURAL-N · Northern Sierra foothills")).to_be_checked()
    page.get_by_label("Proration").select_option("daily")
    page.get_by_role("button", name="Create draft").click()

    expect(page).to_have_url(re.compile(r"/contracts/CTR-\d{4}-\d{4}/versions/1/edit/$"))
    number = re.search(r"CTR-\d{4}-\d{4}", page.url).group(0)
    expect(page.get_by_text("No rate per episode for tier 1 in RURAL-N (Medicaid).")).to_be_visible()
    page.get_by_label("Assessment fee, RURAL-N (US$)").fill("468.00")
    page.get_by_role("button", name="Save terms").click()
    expect(page.get_by_text("Terms saved.")).to_be_visible()
    for tier, rate in (("1", "820.00"), ("2", "1,180.00")):
        page.get_by_label(f"PMPM tier {tier} RURAL-N medicaid").fill(rate)
        page.get_by_label(f"Reason tier {tier} RURAL-N medicaid").fill("The plan's opening offer")
        page.get_by_label(f"Reason tier {tier} RURAL-N medicaid").press("Tab")
        expect(page.get_by_test_id(f"cell-medicaid-{tier}-RURAL-N")).to_have_text("Saved")
    page.get_by_role("button", name=f"Propose to {RURAL}").click()
    expect(page).to_have_url(re.compile(rf"/contracts/{number}/$"))
    expect(page.get_by_test_id("contract-status")).to_have_text("Proposed")
    page.get_by_role("button", name="Log out").click()

    # 4. The provider counters tier 1, naming the run it shared.
    login(page, live_server, "rural_admin")
    page.goto(f"{live_server.url}/contracts/{number}/")
    negotiation = page.locator("#negotiation")
    expect(negotiation.get_by_role("heading", name="Round 1: ")).to_be_visible()
    negotiation.get_by_label("Standard · RURAL-N · Medicaid", exact=True).fill("905.00")
    negotiation.get_by_label("Reason: Standard · RURAL-N · Medicaid", exact=True).fill(REASON)
    negotiation.get_by_label("Pricing run backing the offer (optional)").fill(run_id)
    negotiation.get_by_role("button", name="Send the counter-offer").click()
    expect(page.get_by_text("Counter-offer sent (round 2): the other side answers it.")).to_be_visible()
    round2 = page.locator("#negotiation article").filter(
        has=page.get_by_role("heading", name=re.compile("^Round 2: "))
    )
    expect(round2).to_contain_text(run_id)
    change = round2.get_by_role("row").filter(has_text="RURAL-N")
    expect(change).to_contain_text("820.00")
    expect(change).to_contain_text("905.00")
    expect(change).to_contain_text(REASON)
    page.get_by_role("button", name="Log out").click()

    # 5. The plan reads the counter-offer and the run shared with it, and accepts; then the provider.
    login(page, live_server, "plan_contracts")
    page.goto(f"{live_server.url}/shared/")
    expect(
        page.get_by_test_id("shared-runs").get_by_role("row").filter(has_text="Sierra Foothills")
    ).to_contain_text("Sierra home palliative care (our service model) v1")
    page.goto(f"{live_server.url}/contracts/{number}/")
    round2 = page.locator("#negotiation article").filter(
        has=page.get_by_role("heading", name=re.compile("^Round 2: "))
    )
    change = round2.get_by_role("row").filter(has_text="RURAL-N")
    expect(change).to_contain_text("905.00")
    expect(change).to_contain_text(REASON)
    page.get_by_role("button", name="Accept version 1").click()
    expect(page.get_by_text("Accepted; waiting for the other side.")).to_be_visible()
    expect(page.get_by_test_id("contract-status")).to_have_text("Proposed")
    page.get_by_role("button", name="Log out").click()

    login(page, live_server, "rural_admin")
    page.goto(f"{live_server.url}/contracts/{number}/")
    expect(page.get_by_text("Accepted by the plan: Marcus Bell")).to_be_visible()
    page.get_by_role("button", name="Accept version 1").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Active")
    rates = page.locator("table.rate-table")
    expect(rates.get_by_role("row").filter(has_text="Tier 1")).to_contain_text("905.00")
    expect(rates.get_by_role("row").filter(has_text="Tier 2")).to_contain_text("1,180.00")
