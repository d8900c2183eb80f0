"""Journey: a negative month recovered. On the demo's last contract an adjustment run took back more than it
paid, so the month paid 0.00 and the difference was carried to a receivable; the month in review offsets it
and a refund recorded by plan_analyst waits. The balance page shows what the provider owes; plan_analyst
cannot approve their own refund (four eyes); plan_analyst2 approves it and the open receivable falls by its
amount; the run in review shows its recovery offset and, once approved, the balance is cleared or lower."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import expect

from contracts.models import Contract
from payments.models import Refund
from payments.services import open_receivable_of
from tests.e2e.conftest import login

AMOUNT = re.compile(r"([-\u2212]?)\$?([\d,]+\.\d\d)")


def money(text: str, last: bool = False) -> Decimal:
    """An amount as a page shows it ($1,234.56, −$4.10): the first one in ``text``, or the last."""
    sign, digits = AMOUNT.findall(text)[-1 if last else 0]
    value = Decimal(digits.replace(",", ""))
    return -value if sign else value


def test_a_receivable_is_offset_and_refunded_with_four_eyes(page, live_server, demo):
    contract = Contract.objects.order_by("-pk").first()
    refund = Refund.objects.get(contract=contract)
    owed_before = open_receivable_of(contract)
    assert owed_before > 0 and refund.status == "requested"

    login(page, live_server, "plan_analyst")
    page.goto(f"{live_server.url}/payments/contracts/{contract.number}/")
    page.get_by_test_id("balance-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Balance and refunds")
    assert money(page.get_by_test_id("open-receivable").inner_text()) == owed_before

    # The refund plan_analyst recorded: their own approval is refused, and it stays requested.
    row = page.get_by_test_id(f"refund-{refund.public_id}")
    expect(row.get_by_test_id("refund-status")).to_have_text("Requested")
    row.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_test_id("refund-problems")).to_contain_text("cannot also approve it")
    refund.refresh_from_db()
    assert refund.status == "requested"
    page.get_by_role("button", name="Log out").click()

    # The second analyst approves it: the open receivable falls by the refund.
    login(page, live_server, "plan_analyst2")
    page.goto(f"{live_server.url}/payments/contracts/{contract.public_id}/balance/")
    page.get_by_test_id(f"refund-{refund.public_id}").get_by_role("button", name="Approve and post").click()
    expect(page.get_by_test_id(f"refund-{refund.public_id}").get_by_test_id("refund-status")).to_have_text(
        "Approved"
    )
    expect(page.get_by_test_id("open-receivable")).to_contain_text(f"{owed_before - refund.amount:,.2f}")
    assert open_receivable_of(contract) == owed_before - refund.amount

    # The month in review repays the receivable from its payment: its run page shows the offset and why.
    page.goto(f"{live_server.url}/payments/contracts/{contract.number}/")
    page.get_by_role("row").filter(has_text="In review").get_by_role("link").first.click()
    expect(page.get_by_test_id("run-status")).to_have_text("In review")
    offset = page.get_by_test_id("line-recovery_offset")
    expect(offset).to_contain_text("Recovery offset")
    assert money(offset.inner_text(), last=True) < 0  # the line's last cell
