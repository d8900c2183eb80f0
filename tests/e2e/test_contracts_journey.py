"""Journey: the plan's contract manager opens a contract with Bayview, fills the rate grid, proposes
and accepts it; Bayview's administrator accepts it; the plan downloads the rate sheet PDF."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login

EPISODE = "Post-discharge palliative transition (90 days) v1"


def test_open_propose_accept_by_both_sides_and_download_the_rate_sheet(page, live_server, demo, tmp_path):
    login(page, live_server, "plan_contracts")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contracts").click()
    expect(page.get_by_role("heading", name="Contracts", exact=True)).to_be_visible()
    page.get_by_role("link", name="New contract").click()

    page.get_by_label("Provider").select_option(label="Bayview Home Palliative Care")
    page.get_by_label("Bundle version").select_option(label=EPISODE)
    # The markets follow the chosen bundle version (htmx swaps the terms part of the form).
    expect(page.get_by_label("RURAL-S · Southern Sierra frontier")).to_have_count(0)
    page.get_by_label("URBAN-E · East Bay suburbs").uncheck()
    page.get_by_label("RURAL-N · Northern Sierra foothills").uncheck()
    page.get_by_label("Proration").select_option("daily")
    page.get_by_role("button", name="Create draft").click()

    expect(page).to_have_url(re.compile(r"/contracts/CTR-\d{4}-\d{4}/versions/1/edit/$"))
    number = re.search(r"CTR-\d{4}-\d{4}", page.url).group(0)
    # an episode bundle: its rates are case rates per episode
    expect(page.get_by_text("No rate per episode for tier 1 in URBAN (Medicaid).")).to_be_visible()
    expect(page.get_by_role("heading", name="Rates (per episode, US$)")).to_be_visible()

    page.get_by_label("Assessment fee, URBAN (US$)").fill("355.00")
    page.get_by_role("button", name="Save terms").click()
    expect(page.get_by_text("Terms saved.")).to_be_visible()

    for tier, pmpm in (("1", "780.00"), ("2", "1,140.00")):
        page.get_by_label(f"PMPM tier {tier} URBAN medicaid").fill(pmpm)
        page.get_by_label(f"Reason tier {tier} URBAN medicaid").fill(
            "Episode rate agreed at the November meeting"
        )
        page.get_by_label(f"Reason tier {tier} URBAN medicaid").press("Tab")
        expect(page.get_by_test_id(f"cell-medicaid-{tier}-URBAN")).to_have_text("Saved")

    page.get_by_role("button", name="Propose to Bayview Home Palliative Care").click()
    expect(page).to_have_url(re.compile(rf"/contracts/{number}/$"))
    expect(page.get_by_test_id("contract-status")).to_have_text("Proposed")
    page.get_by_role("button", name="Accept version 1").click()
    expect(page.get_by_text("Accepted; waiting for the other side.")).to_be_visible()
    expect(page.get_by_test_id("contract-status")).to_have_text("Proposed")
    page.get_by_role("button", name="Log out").click()

    login(page, live_server, "urban_admin")
    page.goto(f"{live_server.url}/contracts/{number}/")
    expect(page.get_by_text("Accepted by the plan: Marcus Bell")).to_be_visible()
    page.get_by_role("button", name="Accept version 1").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Active")
    page.get_by_role("button", name="Log out").click()

    login(page, live_server, "plan_contracts")
    page.goto(f"{live_server.url}/contracts/")
    page.get_by_role("link", name=number).click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Active")
    fingerprint = page.get_by_test_id("fingerprint").inner_text()
    with page.expect_download() as download_info:
        page.get_by_label("Rate sheet of version 1").get_by_role("link", name="PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"{number}-v1-rate-sheet.pdf"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    content = target.read_bytes()
    assert content.startswith(b"%PDF")
    from io import BytesIO

    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(BytesIO(content)).pages)
    assert "780.00" in text and "1,140.00" in text and fingerprint in text.replace("\n", "")
    assert "Case rates per episode" in text and "case rate per episode of 90 days" in text.replace("\n", " ")
