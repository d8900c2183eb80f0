"""The workspace (issue 16): home is a worklist of what needs this user now (each item one click from
its action) and the portfolio across the organisation's contracts; the API says the same. Scoped to
the organisation and the role, in a number of queries that does not grow with the contracts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from contracts import services as contract_services
from core.domain.months import shift_month
from enrollment import schedule
from enrollment import services as enrollment_services
from payments import services as payment_services
from tests.enrollment.conftest import MONTH, make_active_contract, roster_row
from tests.factories import PASSWORD, ProviderFactory
from tests.fixtures.contracts import (
    contract_terms,
    csv_bytes,
    flushable_after_contracts,
    media_in_tmp,
    scope_of,
    second_scope,
    submit_roster,
)
from tests.payments.conftest import calculate
from web.workspace import worklist, workspace_for

pytestmark = pytest.mark.django_db
_flushable = flushable_after_contracts()
_media = media_in_tmp()

#: The 5th of this month: last month's roster is due on the 10th (not late yet), older ones are late.
FIFTH = timezone.localdate().replace(day=5)


def kinds(items) -> list[tuple[str, str]]:
    return [(item.kind, f"{item.due:%Y-%m-%d}" if item.due else "") for item in items]


@pytest.fixture
def contract(plan_scope, provider, provider_admin, bundle_version):
    return make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=bundle_version
    )


def rejected_roster(provider_scope, contract, month):
    return enrollment_services.roster_submit(
        scope=provider_scope,
        contract=contract,
        month=month,
        run_inline=True,
        file=SimpleUploadedFile("roster.csv", csv_bytes([roster_row("")]), content_type="text/csv"),
    )


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


# --- the provider's rosters ----------------------------------------------------------------------


def test_each_missing_month_in_the_retro_window_is_due_or_late_with_its_due_date(provider_scope, contract):
    months = [shift_month(FIFTH.replace(day=1), -back) for back in (1, 2, 3)]  # a 3-month retro window
    items = worklist(scope=provider_scope, today=FIFTH)
    assert kinds(items) == [
        ("roster_late", f"{schedule.due_date_for(months[2], 10):%Y-%m-%d}"),
        ("roster_late", f"{schedule.due_date_for(months[1], 10):%Y-%m-%d}"),
        ("roster_due", f"{FIFTH.replace(day=10):%Y-%m-%d}"),
    ]
    assert [item.urgent for item in items] == [True, True, False]
    due = items[-1]
    assert due.url == f"/rosters/?contract={contract.public_id}&month={months[0]:%Y-%m}#submit-h"
    assert contract.number in due.title and "Due" in due.detail
    # the day after the due date it is late; a month older than the retro window is not listed
    assert worklist(scope=provider_scope, today=FIFTH.replace(day=11))[0].kind == "roster_late"
    assert len(worklist(scope=provider_scope, today=FIFTH.replace(day=10))) == 3


def test_an_accepted_roster_clears_its_month_and_a_rejected_one_asks_for_a_correction(
    provider_scope, contract
):
    submit_roster(provider_scope=provider_scope, contract=contract, month=MONTH, rows=[roster_row("M001")])
    previous = shift_month(MONTH, -1)
    rejected = rejected_roster(provider_scope, contract, previous)
    assert rejected.status == "rejected"
    items = worklist(scope=provider_scope, today=FIFTH)
    assert [item.kind for item in items] == ["roster_late", "roster_rejected"]  # the older due date first
    assert items[1].url == f"/rosters/{rejected.public_id}/" and "rejected with 1 error" in items[1].detail
    # a rejected correction of an accepted month asks for a correction, but is no longer urgent
    rejected_roster(provider_scope, contract, MONTH)
    again = [
        item for item in worklist(scope=provider_scope, today=FIFTH) if item.title.startswith(f"{MONTH:%B}")
    ]
    assert [(i.kind, i.urgent) for i in again] == [("roster_rejected", False)]
    assert "accepted version still holds" in again[0].detail


def test_rosters_are_the_providers_work_only(analyst_scope, plan_scope, provider, member_of, contract):
    assert worklist(scope=analyst_scope, today=FIFTH) == []
    assert worklist(scope=plan_scope, today=FIFTH) == []
    other = ProviderFactory()
    assert worklist(scope=scope_of(member_of(other, Role.ADMIN), other), today=FIFTH) == []
    auditor = scope_of(member_of(provider, Role.AUDITOR), provider)
    assert worklist(scope=auditor, today=FIFTH) == []


# --- contracts -----------------------------------------------------------------------------------


def test_a_proposal_waits_on_each_side_until_that_side_accepts(
    plan_scope, provider_scope, provider, bundle_version, member_of
):
    contract = contract_services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        terms=contract_terms(effective_start=FIFTH.replace(day=1), markets=("URBAN",)),
        rates=[
            {"tier": t, "market": "URBAN", "lob": "medicaid", "pmpm": "300", "reason": "x"} for t in "123"
        ],
        assessment_fees={"URBAN": "341.85"},
    )
    assert [i.kind for i in worklist(scope=provider_scope)] == []  # the plan's unsent draft
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    assert [i.kind for i in worklist(scope=plan_scope)] == ["proposal_awaiting"]
    assert [i.kind for i in worklist(scope=provider_scope)] == ["proposal_awaiting"]
    assert worklist(scope=provider_scope)[0].url == f"/contracts/{contract.number}/"
    contract_services.contract_accept(scope=plan_scope, contract=contract)
    assert worklist(scope=plan_scope) == []
    assert [i.kind for i in worklist(scope=provider_scope)] == ["proposal_awaiting"]
    contract_services.contract_return(scope=provider_scope, contract=contract, comments="Rates too low")
    assert [i.kind for i in worklist(scope=plan_scope)] == ["proposal_returned"]
    assert worklist(scope=provider_scope) == []
    other = ProviderFactory()
    assert worklist(scope=scope_of(member_of(other, Role.ADMIN), other)) == []


# --- payments ------------------------------------------------------------------------------------


def test_a_run_in_review_is_the_analysts_to_approve_and_the_portfolio_shows_what_was_paid(
    analyst_scope, plan_scope, provider_scope, provider_api, contract
):
    submit_roster(provider_scope=provider_scope, contract=contract, month=MONTH, rows=[roster_row("M001")])
    run = calculate(scope=analyst_scope, contract=contract, month=MONTH)
    assert run.status == "review"
    items = [i for i in worklist(scope=analyst_scope, today=FIFTH) if i.kind == "payment_run_review"]
    assert [i.url for i in items] == [f"/payments/runs/{run.public_id}/"]
    assert "requested by you" in items[0].detail and "$" in items[0].detail
    assert not [i for i in worklist(scope=plan_scope, today=FIFTH) if i.kind == "payment_run_review"]
    # the provider does not see the run before it is approved: the roster is a payment to come
    before = workspace_for(scope=provider_scope, today=FIFTH)
    assert [(r["contract"], r["month"]) for r in before.expected] == [(contract.number, MONTH)]
    payment_services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    run.refresh_from_db()
    assert worklist(scope=analyst_scope, today=FIFTH) == []
    for scope in (analyst_scope, provider_scope):
        space = workspace_for(scope=scope, today=FIFTH)
        assert space.expected == []
        [row] = [r for r in space.months if r["month"] == MONTH]
        assert (row["members"], row["paid"]) == (1, run.total)
        assert row["pmpm"] == (run.total / Decimal(row["billed_member_months"])).quantize(Decimal("0.01"))
    [month] = [
        m for m in provider_api.get("/api/v1/workspace/").json()["portfolio"]["months"] if m["paid"] != "0.00"
    ]
    assert (month["month"], month["paid"], month["members"]) == (f"{MONTH:%Y-%m}", str(run.total), 1)


# --- the page and the API ------------------------------------------------------------------------


def test_the_home_page_lists_the_work_with_links_and_the_api_says_the_same(
    provider_admin, provider_api, contract
):
    html = login(provider_admin).get("/").content.decode()
    assert html.count('data-testid="work-item"') == 3
    assert f'href="/rosters/?contract={contract.public_id}&amp;month=' in html
    body = provider_api.get("/api/v1/workspace/").json()
    assert {item["kind"] for item in body["worklist"]} <= {"roster_due", "roster_late"}
    assert len(body["worklist"]) == 3
    assert set(body["worklist"][0]) == {"kind", "label", "title", "detail", "url", "due", "urgent"}
    assert set(body["portfolio"]) == {"months", "recoveries", "expected", "measures"}


def test_another_organisation_sees_none_of_it(api_for, member_of, contract, provider_api):
    other = ProviderFactory()
    body = api_for(member_of(other, Role.ADMIN)).get("/api/v1/workspace/").json()
    assert body["worklist"] == [] and body["portfolio"]["months"] == []
    assert provider_api.get("/api/v1/workspace/", HTTP_X_ORGANIZATION=str(other.public_id)).status_code == 404
    assert Client().get("/api/v1/workspace/").status_code in (401, 403)


def test_the_number_of_queries_does_not_grow_with_the_contracts(
    plan_scope, provider, provider_admin, provider_scope, bundle_version, analyst_scope, contract
):
    def count(scope) -> int:
        with CaptureQueriesContext(connection) as queries:
            workspace_for(scope=scope, today=FIFTH)
        return len(queries)

    submit_roster(provider_scope=provider_scope, contract=contract, month=MONTH, rows=[roster_row("M001")])
    before = {scope: count(scope) for scope in (provider_scope, analyst_scope)}
    second = make_active_contract(
        plan_scope=plan_scope,
        provider=provider,
        provider_admin=provider_admin,
        bundle_version=bundle_version,
        markets=("RURAL-N",),
        effective_start=dt.date(MONTH.year - 1, MONTH.month, 1),
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=second,
        month=MONTH,
        rows=[roster_row("M002", market="RURAL-N")],
    )
    calculate(scope=analyst_scope, contract=second, month=MONTH)
    assert {scope: count(scope) for scope in (provider_scope, analyst_scope)} == before
