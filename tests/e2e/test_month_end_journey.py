"""Journey: the plan analyst opens Payments → Month-end and finds the demo's latest month-end done, runs
month-end for the month after (contracts in force, no roster yet) and watches its progress until every
contract is skipped for want of a roster; Bayview then sends that month's roster, the analyst runs the
same month-end again, Bayview's contract is done with its run in review (the other still skipped) and the
run link opens that run. A plan contract manager sees the month-ends but cannot run one. A real Celery
worker runs the items."""

from __future__ import annotations

import re

from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.models import Membership, Organization, Role
from accounts.tenancy import Scope
from contracts.models import Contract
from core.domain.display import money_text
from core.domain.months import month_key, next_month
from core.models import BulkOperation
from enrollment import services as enrollment_services
from enrollment.selectors import current_submission
from payments.models import MONTH_END, PaymentRun
from payments.services import NO_ROSTER_MESSAGE
from tests.e2e.conftest import login

BAYVIEW = "Bayview Home Palliative Care"


def _send_roster_like(contract: Contract, previous_month, month) -> None:
    """The contract's provider sends ``month``'s roster: its own members of ``previous_month``, unchanged
    (no member of another provider), processed through the enrollment services."""
    previous = current_submission(contract=contract, month=previous_month)
    with previous.file.open("rb") as roster:
        data = roster.read()
    admin = Membership.objects.select_related("organization", "user").get(
        organization=contract.provider, role=Role.ADMIN
    )
    submission = enrollment_services.roster_submit(
        scope=Scope(admin),
        contract=contract,
        month=month,
        file=ContentFile(data, name=f"{contract.number}-{month_key(month)}-roster.csv"),
        run_inline=True,
    )
    submission.refresh_from_db()
    assert submission.status == "accepted", list(submission.issues.values_list("row", "message"))


def _run_month_end(page, month: str) -> None:
    page.get_by_label("Month", exact=True).fill(month)
    page.get_by_role("button", name="Run month-end").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Month-end {month}")


def _wait_until_finished(page, polls: list[str]) -> None:
    """While the month-end runs the panel polls; when it is finished the page reloads, done. The first time
    the worker is still busy with what the demo queued (its claims completion, about half a minute)."""
    running = page.get_by_test_id("month-end-status").inner_text() == "Running"
    expect(page.get_by_test_id("month-end-status")).to_have_text("Done", timeout=60_000)
    if running:
        assert polls, "the progress panel never polled while the month-end was running"


def test_plan_analyst_runs_month_end_and_runs_it_again_once_a_roster_arrives(
    page, live_server, demo, celery_worker
):
    plan = Organization.objects.get(legal_name="Golden Coast Health Plan")
    demo_month = PaymentRun.objects.filter(contract__payer=plan).order_by("-month").first().month
    month = next_month(demo_month)  # contracts in force, no roster yet
    key = month_key(month)
    contracts = list(Contract.objects.filter(payer=plan, status="active").order_by("number"))
    assert len(contracts) == 2 and not any(current_submission(contract=c, month=month) for c in contracts)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "progress=1" in r.url else None)

    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payments")
    page.get_by_role("link", name="Month-end", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Month-end")
    month_ends = page.get_by_role("table", name="Month-ends")
    demo_row = month_ends.get_by_role("row").filter(has_text=f"Month-end {month_key(demo_month)}")
    expect(demo_row).to_contain_text("Done")
    # The form offers last month (the demo's) by default.
    expect(page.get_by_label("Month", exact=True)).to_have_value(month_key(demo_month))

    # The month after the demo's: no roster yet, so every contract is skipped with the reason.
    _run_month_end(page, key)
    expect(page.get_by_text(f"Month-end {key}: 2 contracts queued.")).to_be_visible()
    _wait_until_finished(page, polls)
    expect(page.get_by_test_id("month-end-counts")).to_have_text(
        "2 of 2 contracts finished: 0 done, 2 waiting for a roster, 0 failed"
    )
    items = page.get_by_test_id("month-end-item")
    expect(items).to_have_count(2)
    for contract in contracts:
        row = items.filter(has_text=contract.number)
        expect(row.get_by_role("cell").nth(1)).to_have_text("Skipped")
        expect(row.get_by_role("cell").nth(2)).to_have_text(NO_ROSTER_MESSAGE)
        expect(row.get_by_role("link", name=re.compile("In review|Approved|Calculating"))).to_have_count(0)
    expect(page.get_by_role("button", name="Retry the failed contracts")).to_have_count(0)

    # Bayview sends the month's roster; month-end again picks up its contract and leaves the other skipped.
    bayview = next(c for c in contracts if c.provider.legal_name == BAYVIEW)
    other = next(c for c in contracts if c != bayview)
    _send_roster_like(bayview, demo_month, month)
    page.get_by_role("link", name="Month-end", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Month-end")
    _run_month_end(page, key)
    polls.clear()
    _wait_until_finished(page, polls)
    expect(page.get_by_test_id("month-end-counts")).to_have_text(
        "2 of 2 contracts finished: 1 done, 1 waiting for a roster, 0 failed"
    )
    run = PaymentRun.objects.get(contract=bayview, month=month)
    assert run.status == "review" and run.total > 0
    done = items.filter(has_text=bayview.number)
    expect(done.get_by_role("cell").nth(1)).to_have_text("Done")
    expect(done.get_by_role("cell").nth(2)).to_have_text(f"{money_text(run.total)} to review")
    expect(done.get_by_role("cell").nth(4)).to_have_text(money_text(run.total))
    skipped = items.filter(has_text=other.number)
    expect(skipped.get_by_role("cell").nth(1)).to_have_text("Skipped")
    expect(skipped.get_by_role("cell").nth(2)).to_have_text(NO_ROSTER_MESSAGE)
    assert not PaymentRun.objects.filter(contract=other, month=month).exists()

    # The same month-end, not a second one.
    assert BulkOperation.objects.filter(organization=plan, kind=MONTH_END, params__month=key).count() == 1
    page.get_by_role("link", name="Month-end", exact=True).click()
    expect(month_ends.get_by_role("row").filter(has_text=f"Month-end {key}")).to_have_count(1)
    month_end_row = month_ends.get_by_role("row").filter(has_text=f"Month-end {key}")
    expect(month_end_row).to_contain_text("Done")
    month_end_row.get_by_role("link").click()

    page.get_by_test_id("month-end-item").filter(has_text=bayview.number).get_by_role(
        "link", name="In review"
    ).click()
    expect(page).to_have_url(re.compile(rf"/payments/runs/{run.public_id}/$"))
    expect(page.get_by_test_id("run-status")).to_have_text("In review")
    expect(page.get_by_test_id("run-total")).to_have_text(money_text(run.total))
    page.get_by_role("button", name="Log out").click()

    # A contract manager of the plan reads the month-ends but has no form to run one.
    login(page, live_server, "plan_contracts")
    page.goto(f"{live_server.url}/payments/month-end/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Month-end")
    expect(month_ends.get_by_role("row").filter(has_text=f"Month-end {key}")).to_have_count(1)
    expect(page.get_by_role("button", name="Run month-end")).to_have_count(0)
    expect(page.get_by_label("Month", exact=True)).to_have_count(0)
