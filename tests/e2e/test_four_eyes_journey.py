"""Journey: four eyes on money. The plan's analyst (plan_analyst) requested the demo's payment run in
review and requests a ledger correction; the page refuses their own approval of either; the second
analyst (plan_analyst2) approves both, and the ledger shows the reversal and the corrected entry."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from payments.models import LedgerCorrection, LedgerEntry, PaymentRun
from tests.e2e.conftest import login

REFUSED = re.compile(r"cannot also approve it")


def test_one_analyst_requests_and_another_approves(page, live_server, demo):
    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.get_by_role("row").filter(has_text="Bayview Home Palliative Care").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Payment history")).to_be_visible()
    contract_url = page.url

    # The run in review: plan_analyst requested it, so their approval is refused and shown.
    page.get_by_role("row").filter(has_text="In review").get_by_role("link").click()
    run_url = page.url
    run_id = re.search(r"/payments/runs/([0-9a-f-]{36})/", run_url).group(1)
    expect(page.get_by_test_id("requested-by")).to_contain_text("another analyst approves it")
    page.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_text(REFUSED)).to_be_visible()
    expect(page.get_by_test_id("run-status")).to_have_text("In review")

    # A ledger correction, requested with a reason (htmx), and again not approvable by its requester.
    page.goto(contract_url)
    page.get_by_role("link", name="ledger and corrections").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ledger")
    contract = PaymentRun.objects.get(public_id=run_id).contract
    first = LedgerEntry.objects.get(contract=contract, sequence=1)
    corrected = f"{first.amount - 1:.2f}"
    form = page.get_by_role("form", name="Request a correction")
    form.get_by_label("Entry").select_option("1")
    form.get_by_label("Corrected amount").fill(corrected)
    form.get_by_label("Reason").fill("Rate keyed wrongly")
    form.get_by_role("button", name="Request correction").click()
    row = page.get_by_test_id("correction-1")
    expect(row.get_by_test_id("correction-status")).to_have_text("Requested")
    row.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_test_id("correction-error")).to_have_text(REFUSED)
    assert LedgerCorrection.objects.get(contract=contract).status == "requested"
    page.get_by_role("button", name="Log out").click()

    # The second analyst approves the run and the correction.
    login(page, live_server, "plan_analyst2")
    page.goto(run_url)
    page.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_text(re.compile(r"^Approved and posted"))).to_be_visible()
    expect(page.get_by_test_id("run-status")).to_have_text("Approved")
    run = PaymentRun.objects.get(public_id=run_id)
    assert run.requested_by.username == "plan_analyst" and run.approved_by.username == "plan_analyst2"

    page.goto(f"{live_server.url}/payments/contracts/{contract.public_id}/ledger/")
    row = page.get_by_test_id("correction-1")
    row.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_test_id("correction-1").get_by_test_id("correction-status")).to_have_text("Approved")
    correction = LedgerCorrection.objects.get(contract=contract)
    assert correction.approved_by.username == "plan_analyst2"
    reversal, replacement = correction.reversal, correction.replacement
    expect(page.get_by_test_id(f"ledger-entry-{reversal.sequence}")).to_contain_text(
        f"Reverses #{first.sequence}"
    )
    expect(page.get_by_test_id(f"ledger-entry-{replacement.sequence}")).to_contain_text("Rate keyed wrongly")
    assert replacement.amount == first.amount - 1
