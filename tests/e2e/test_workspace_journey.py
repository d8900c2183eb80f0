"""Journeys: the home page's worklist (issue 16), each persona from a work item to the page where the work is
done. A provider's late roster opens the upload form with its contract and month chosen; the analyst's
payment run in review opens the run, and the second analyst's approval takes it off the worklist; a
proposal waiting for the provider opens the contract, and accepting it empties the worklist; the auditor
has nothing to do but reads the portfolio."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.demo import URBAN_NAME
from accounts.models import Membership
from accounts.tenancy import Scope
from bundles.demo import EPISODE
from bundles.models import BundleVersion, BundleVersionStatus
from contracts import services as contract_services
from core.domain.months import shift_month
from enrollment import schedule
from payments.models import PaymentRun
from tests.e2e.conftest import login
from tests.fixtures.contracts import accept_by_both, contract_terms, unfreeze_contracts_for_flush


@pytest.fixture
def seeded(demo):
    yield
    unfreeze_contracts_for_flush()  # contracts' SQLite triggers otherwise refuse the flush after the test


def scope(username: str) -> Scope:
    return Scope(Membership.objects.select_related("user", "organization").get(user__username=username))


def episode_contract(provider_admin: str, market: str, start):
    """A draft of the demo's episode bundle (no other contract of the provider has it) for ``market``."""
    provider = scope(provider_admin).organization
    return contract_services.contract_create(
        scope=scope("plan_contracts"),
        provider=provider,
        bundle_version=BundleVersion.objects.get(bundle__name=EPISODE, status=BundleVersionStatus.PUBLISHED),
        terms=contract_terms(effective_start=start, markets=(market,)),
        rates=[
            {"tier": tier, "market": market, "lob": "medicaid", "pmpm": "780", "reason": "Episode rate"}
            for tier in "12"
        ],
        assessment_fees={market: "355.00"},
    )


def work_item(page, kind: str, href: str):
    return page.locator(f'[data-testid="work-item"][data-kind="{kind}"]').filter(
        has=page.locator(f'a[href="{href}"]')
    )


def test_a_late_roster_opens_the_upload_form_with_its_contract_and_month(page, live_server, seeded):
    # The demo's rosters are all in; a second contract from two months ago has none yet.
    this_month = timezone.localdate().replace(day=1)
    month = shift_month(this_month, -2)
    contract = episode_contract("rural_admin", "RURAL-N", month)
    accept_by_both(contract, plan_scope=scope("plan_contracts"), provider_scope=scope("rural_admin"))
    href = f"/rosters/?contract={contract.public_id}&month={month:%Y-%m}#submit-h"

    login(page, live_server, "rural_admin")
    item = work_item(page, "roster_late", href)
    expect(item).to_have_count(1)
    expect(item.locator(".badge")).to_have_text("Roster late")
    expect(item.get_by_role("link")).to_have_text(
        f"{month:%B %Y} roster, {contract.number} with Golden Coast"
    )
    expect(item.locator("time")).to_have_attribute("datetime", f"{schedule.due_date_for(month, 10):%Y-%m-%d}")
    expect(page.get_by_test_id("work-item").first).to_have_attribute(
        "data-kind", "roster_late"
    )  # urgent first

    item.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}{href}")
    form = page.get_by_role("region", name="Submit a month's roster")
    # not the defaults (the first contract, last month): the ones the item is about
    expect(form.get_by_label("Contract")).to_have_value(str(contract.public_id))
    expect(form.get_by_label("Contract").locator("option:checked")).to_contain_text(contract.number)
    expect(form.get_by_label("Month", exact=True)).to_have_value(f"{month:%Y-%m}")


def test_a_run_in_review_opens_the_run_and_leaves_the_worklist_once_approved(page, live_server, seeded):
    run = PaymentRun.objects.get(status="review", contract__provider__legal_name=URBAN_NAME)
    href = f"/payments/runs/{run.public_id}/"

    login(page, live_server, "plan_analyst")
    item = work_item(page, "payment_run_review", href)
    expect(item.locator(".badge")).to_have_text("Payment run to approve")
    expect(item).to_contain_text("requested by you")
    item.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}{href}")
    expect(page.get_by_test_id("run-status")).to_have_text("In review")
    expect(page.get_by_role("button", name="Approve and post")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    # Four eyes: the second analyst approves it from the same item.
    login(page, live_server, "plan_analyst2")
    item = work_item(page, "payment_run_review", href)
    expect(item).to_contain_text("requested by Priya Natarajan")
    count = int(page.get_by_test_id("worklist-count").inner_text())
    item.get_by_role("link").click()
    page.get_by_role("button", name="Approve and post").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Approved")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("worklist-count")).to_have_text(str(count - 1))
    expect(work_item(page, "payment_run_review", href)).to_have_count(0)
    expect(page.locator('[data-kind="payment_run_review"]')).to_have_count(1)  # the other provider's run


def test_a_proposal_waiting_for_the_provider_opens_the_contract_to_accept(page, live_server, seeded):
    # The plan proposes and accepts an episode contract from next month: Bayview's side is left.
    start = shift_month(timezone.localdate().replace(day=1), 1)
    contract = episode_contract("urban_admin", "URBAN", start)
    contract_services.contract_propose(scope=scope("plan_contracts"), contract=contract)
    contract_services.contract_accept(scope=scope("plan_contracts"), contract=contract)
    href = f"/contracts/{contract.number}/"

    login(page, live_server, "urban_admin")
    expect(page.get_by_test_id("work-item")).to_have_count(1)
    item = work_item(page, "proposal_awaiting", href)
    expect(item.locator(".badge")).to_have_text("Proposal to accept")
    item.get_by_role("link").click()
    expect(page).to_have_url(f"{live_server.url}{href}")
    expect(page.get_by_test_id("contract-status")).to_have_text("Proposed")
    page.get_by_role("button", name="Accept version 1").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Active")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_test_id("worklist-empty")).to_be_visible()
    expect(page.get_by_test_id("worklist-count")).to_have_text("0")


def test_the_auditor_has_nothing_to_do_and_reads_the_portfolio(page, live_server, seeded):
    last_month = shift_month(timezone.localdate().replace(day=1), -1)
    login(page, live_server, "plan_auditor")
    expect(page.get_by_test_id("worklist-empty")).to_contain_text("an auditor reads")
    expect(page.get_by_test_id("worklist")).to_have_count(0)
    expect(page.get_by_test_id("worklist-count")).to_have_text("0")
    months = page.get_by_test_id("portfolio-months")
    expect(months.get_by_role("columnheader", name="PMPM spend")).to_be_visible()
    expect(months.get_by_role("rowheader", name=f"{last_month:%B %Y}")).to_be_visible()
    for card in ("portfolio-expected", "portfolio-recoveries", "portfolio-measures"):
        expect(page.get_by_test_id(card)).to_be_visible()
    expect(page.get_by_test_id("portfolio-measures").get_by_role("link").first).to_have_text(
        re.compile(r"CTR-")
    )
