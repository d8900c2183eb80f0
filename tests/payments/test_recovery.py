"""Negative balances are carried and recovered (issue 14, point 3), through the API and the pages.

A month whose lines net below zero posts a receivable line (the run pays 0.00); later runs offset it
up to the contract's share of each payment until it is cleared; the plan can record a refund received
(four eyes); the ledger shows the open balance at any date; the statements and the 820 show it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from payments import services, statements
from payments.models import LedgerEntry, Refund
from tests.factories import PayerFactory, ProviderFactory
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import FEB, JAN, MAR, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


def negative_february(contract, provider_scope, analyst_scope):
    """January paid for three members (900.00); then January's roster keeps one of them (-600.00 retro)
    and February pays one member (300.00): February nets to -300.00."""
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[member("N1"), member("N2"), member("N3")],
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 20), rows=[member("N1")]
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("N1")])
    return calculate(scope=analyst_scope, contract=contract, month=FEB)


def at(day: dt.date):
    """Post as if on ``day`` (the ledger's posting time is what the balance's as_of reads)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
    return mock.patch("django.utils.timezone.now", return_value=moment)


def kinds(run):
    return [(line.kind, line.amount) for line in run.lines.order_by("position", "pk")]


def balance(api, contract, as_of=None):
    url = f"/api/v1/contracts/{contract.public_id}/ledger/balance/"
    response = api.get(url, {"as_of": as_of.isoformat()} if as_of else {})
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.fixture
def carried(contract_factory, provider_scope, analyst_scope):
    """make(**terms): a contract whose February (approved) carried 300.00 to a receivable."""

    def make(**terms):
        contract = contract_factory(**terms)
        run = negative_february(contract, provider_scope, analyst_scope)
        services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
        return contract

    return make


# --- the receivable -------------------------------------------------------------------------------


def test_a_negative_month_posts_a_receivable_and_pays_zero(
    contract_factory, provider_scope, analyst_scope, analyst_api, analyst2_api
):
    contract = contract_factory()
    run = negative_february(contract, provider_scope, analyst_scope)
    assert run.status == "review", run.error
    assert kinds(run) == [
        ("member_months", M("300.00")),
        ("retro_adjustment", M("-600.00")),
        ("receivable", M("300.00")),
    ]
    assert run.total == M("0.00")
    receivable = run.lines.get(kind="receivable")
    assert "\u2212$300.00" in receivable.description and "receivable" in receivable.description
    body = analyst_api.get(f"/api/v1/payment-runs/{run.public_id}/").json()
    assert body["total"] == "0.00"
    assert analyst2_api.post(f"/api/v1/payment-runs/{run.public_id}/approve/").status_code == 200
    entry = LedgerEntry.objects.get(run=run, kind="receivable")
    assert entry.amount == M("300.00")
    now = balance(analyst_api, contract)
    assert (now["open_receivable"], now["receivables"], now["offsets"], now["refunds"]) == (
        "300.00",
        "300.00",
        "0.00",
        "0.00",
    )
    assert now["paid"] == "900.00"  # 900.00 in January, nothing in February


def test_a_month_of_exactly_zero_posts_no_recovery_line(contract_factory, provider_scope, analyst_scope):
    contract = contract_factory()
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("Z1"), member("Z2")]
    )
    pay(scope=analyst_scope, contract=contract, month=JAN)
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=JAN, today=D(2026, 2, 20), rows=[member("Z1")]
    )
    submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("Z1")])
    run = calculate(scope=analyst_scope, contract=contract, month=FEB)
    assert kinds(run) == [("member_months", M("300.00")), ("retro_adjustment", M("-300.00"))]
    assert run.total == M("0.00")


# --- the offset -----------------------------------------------------------------------------------


def test_the_next_month_offsets_all_of_it_with_the_default_share(
    carried, provider_scope, analyst_scope, analyst_api
):
    contract = carried()
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1"), member("N4")]
    )
    march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    assert kinds(march) == [("member_months", M("600.00")), ("recovery_offset", M("-300.00"))]
    assert march.total == M("300.00")
    offset = march.lines.get(kind="recovery_offset")
    assert offset.rate == M("1") and "300.00" in offset.description
    services.payment_run_approve(scope=second_scope(analyst_scope), run=march)
    assert balance(analyst_api, contract)["open_receivable"] == "0.00"  # cleared
    assert balance(analyst_api, contract)["offsets"] == "-300.00"
    # cleared: April offsets nothing
    submit_roster(provider_scope=provider_scope, contract=contract, month=D(2026, 4, 1), rows=[member("N1")])
    april = calculate(scope=analyst_scope, contract=contract, month=D(2026, 4, 1))
    assert kinds(april) == [("member_months", M("300.00"))]


def test_a_payment_smaller_than_the_receivable_is_taken_whole_and_the_rest_stays_open(
    carried, provider_scope, analyst_scope, analyst_api
):
    contract = carried(proration_rule="daily")
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=MAR,
        rows=[member("N1", end=D(2026, 3, 10))],
    )
    march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    paid = march.lines.get(kind="member_months").amount
    assert paid == M("96.77")  # 10/31 x 300.00
    assert march.lines.get(kind="recovery_offset").amount == -paid
    assert march.total == M("0.00")
    services.payment_run_approve(scope=second_scope(analyst_scope), run=march)
    assert M(balance(analyst_api, contract)["open_receivable"]) == M("300.00") - paid


def test_a_half_share_offsets_half_of_each_payment_until_cleared(
    carried, provider_scope, analyst_scope, analyst_api
):
    contract = carried(recovery_offset_share=M("0.5"))
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1"), member("N4")]
    )
    march = pay(scope=analyst_scope, contract=contract, month=MAR)
    assert kinds(march)[-1] == ("recovery_offset", M("-300.00"))  # half of 600.00 = all that is owed
    assert march.total == M("300.00")
    assert balance(analyst_api, contract)["open_receivable"] == "0.00"


def test_a_half_share_leaves_the_rest_for_the_next_month(carried, provider_scope, analyst_scope, analyst_api):
    contract = carried(recovery_offset_share=M("0.5"))
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1")])
    march = pay(scope=analyst_scope, contract=contract, month=MAR)
    assert kinds(march) == [("member_months", M("300.00")), ("recovery_offset", M("-150.00"))]
    assert march.total == M("150.00")
    assert "at most 50.00% of the payment" in march.lines.get(kind="recovery_offset").description
    assert balance(analyst_api, contract)["open_receivable"] == "150.00"
    april_month = D(2026, 4, 1)
    submit_roster(provider_scope=provider_scope, contract=contract, month=april_month, rows=[member("N1")])
    april = pay(scope=analyst_scope, contract=contract, month=april_month)
    assert kinds(april)[-1] == ("recovery_offset", M("-150.00"))
    assert balance(analyst_api, contract)["open_receivable"] == "0.00"


def test_the_balance_as_of_a_date_before_and_after_each_posting(
    contract_factory, provider_scope, analyst_scope, analyst_api, provider_api
):
    contract = contract_factory()
    with at(D(2026, 1, 5)):
        submit_roster(
            provider_scope=provider_scope,
            contract=contract,
            month=JAN,
            rows=[member("N1"), member("N2"), member("N3")],
        )
        pay(scope=analyst_scope, contract=contract, month=JAN)
    with at(D(2026, 2, 20)):
        submit_roster(
            provider_scope=provider_scope,
            contract=contract,
            month=JAN,
            today=D(2026, 2, 20),
            rows=[member("N1")],
        )
        submit_roster(provider_scope=provider_scope, contract=contract, month=FEB, rows=[member("N1")])
        pay(scope=analyst_scope, contract=contract, month=FEB)
    with at(D(2026, 3, 20)):
        submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1")])
        pay(scope=analyst_scope, contract=contract, month=MAR)
    before = balance(analyst_api, contract, D(2026, 2, 19))
    assert (before["paid"], before["open_receivable"]) == ("900.00", "0.00")
    carried_day = balance(analyst_api, contract, D(2026, 2, 20))  # the day it was posted counts
    assert (carried_day["paid"], carried_day["open_receivable"], carried_day["receivables"]) == (
        "900.00",
        "300.00",
        "300.00",
    )
    after = balance(analyst_api, contract, D(2026, 3, 20))
    assert (after["paid"], after["open_receivable"], after["offsets"]) == ("900.00", "0.00", "-300.00")
    assert after["as_of"] == "2026-03-20" and after["contract"] == contract.number
    # the provider reads its own contract's balance
    assert balance(provider_api, contract, D(2026, 2, 20))["open_receivable"] == "300.00"
    url = f"/api/v1/contracts/{contract.public_id}/ledger/balance/"
    bad = analyst_api.get(url, {"as_of": "2026-13-01"})
    assert bad.status_code == 400 and "as_of" in bad.json()["details"]


# --- refunds --------------------------------------------------------------------------------------


def refunds_url(contract) -> str:
    return f"/api/v1/contracts/{contract.public_id}/refunds/"


def refund_data(amount="100.00", **extra):
    return {
        "amount": amount,
        "received_on": "2026-03-02",
        "reference": "CHK 1001",
        "reason": "Cheque",
        **extra,
    }


def test_a_refund_is_recorded_by_one_analyst_and_approved_by_another(
    carried, analyst_api, analyst2_api, provider_api
):
    contract = carried()
    created = analyst_api.post(refunds_url(contract), refund_data(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["amount"], body["status"], body["received_on"], body["reference"]) == (
        "100.00",
        "requested",
        "2026-03-02",
        "CHK 1001",
    )
    assert provider_api.get(refunds_url(contract)).json()["results"] == []  # not posted yet
    assert balance(analyst_api, contract)["open_receivable"] == "300.00"
    own = analyst_api.post(f"{body['url']}approve/")
    assert own.status_code == 400 and own.json()["code"] == "four_eyes_required"
    approved = analyst2_api.post(f"{body['url']}approve/")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "approved" and approved.json()["approved_by"]
    again = analyst2_api.post(f"{body['url']}approve/")
    assert again.status_code == 409 and again.json()["code"] == "refund_decided"
    entry = LedgerEntry.objects.get(kind="refund")
    assert (entry.amount, entry.month, entry.refund.public_id.hex) == (
        M("-100.00"),
        D(2026, 3, 1),
        body["id"].replace("-", ""),
    )
    now = balance(analyst_api, contract)
    assert (now["open_receivable"], now["refunds"], now["paid"]) == ("200.00", "-100.00", "800.00")
    ledger = analyst_api.get(f"/api/v1/contracts/{contract.public_id}/ledger/").json()["results"]
    assert ledger[-1]["kind"] == "refund" and ledger[-1]["refund"] == body["url"]
    assert [r["id"] for r in provider_api.get(refunds_url(contract)).json()["results"]] == [body["id"]]
    assert Refund.history.filter(id=entry.refund_id).count() == 2  # requested, approved


def test_a_refund_of_the_whole_receivable_clears_it_and_more_is_refused(carried, analyst_api, analyst2_api):
    contract = carried()
    above = analyst_api.post(refunds_url(contract), refund_data("300.01"), format="json")
    assert above.status_code == 400 and above.json()["code"] == "refund_above_receivable"
    assert above.json()["details"]["open_receivable"] == "300.00"
    whole = analyst_api.post(refunds_url(contract), refund_data("300.00"), format="json").json()
    assert analyst2_api.post(f"{whole['url']}approve/").status_code == 200
    assert balance(analyst_api, contract)["open_receivable"] == "0.00"
    nothing_owed = analyst_api.post(refunds_url(contract), refund_data("0.01"), format="json")
    assert nothing_owed.status_code == 400 and nothing_owed.json()["code"] == "refund_above_receivable"


def test_a_refund_approved_after_the_receivable_shrank_is_refused_and_stays_open(
    carried, analyst_api, analyst2_api, provider_scope, analyst_scope
):
    contract = carried()
    refund = analyst_api.post(refunds_url(contract), refund_data("200.00"), format="json").json()
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1")])
    pay(scope=analyst_scope, contract=contract, month=MAR)  # offsets all 300.00
    late = analyst2_api.post(f"{refund['url']}approve/")
    assert late.status_code == 400 and late.json()["code"] == "refund_above_receivable"
    assert analyst_api.get(refund["url"]).json()["status"] == "requested"
    rejected = analyst_api.post(f"{refund['url']}reject/", {"reason": "Cleared by March"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "Cleared by March"


def test_a_refund_approved_makes_a_run_in_review_stale(
    carried, analyst_api, analyst2_api, provider_scope, analyst_scope
):
    contract = carried()
    submit_roster(provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1")])
    march = calculate(scope=analyst_scope, contract=contract, month=MAR)
    assert march.lines.get(kind="recovery_offset").amount == M("-300.00")
    refund = analyst_api.post(refunds_url(contract), refund_data("100.00"), format="json").json()
    assert analyst2_api.post(f"{refund['url']}approve/").status_code == 200
    stale = analyst2_api.post(f"/api/v1/payment-runs/{march.public_id}/approve/")
    assert stale.status_code == 409 and stale.json()["code"] == "run_stale"
    again = calculate(scope=analyst_scope, contract=contract, month=MAR)
    assert again.lines.get(kind="recovery_offset").amount == M("-200.00")


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"reason": " "}, "validation_error", "reason"),  # blank: the serializer refuses it
        ({"amount": "-5.00"}, "invalid_amount", "amount"),
        ({"amount": "0.00"}, "invalid_amount", "amount"),
        ({"amount": "lots"}, "validation_error", "amount"),
        ({"received_on": "2099-01-01"}, "invalid_date", "received_on"),
        ({"received_on": "yesterday"}, "validation_error", "received_on"),
    ],
)
def test_refund_errors_are_400_with_a_code(carried, analyst_api, data, code, field):
    contract = carried()
    response = analyst_api.post(refunds_url(contract), refund_data(**data), format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["details"]
    assert response.json()["code"] == code
    assert not Refund.objects.exists()


def test_the_provider_cannot_record_a_refund(carried, provider_api):
    contract = carried()
    assert provider_api.post(refunds_url(contract), refund_data(), format="json").status_code == 403


def test_another_organisation_gets_404_on_every_new_endpoint(carried, analyst_api, api_for, member_of):
    contract = carried()
    body = analyst_api.post(refunds_url(contract), refund_data(), format="json").json()
    balance_url = f"/api/v1/contracts/{contract.public_id}/ledger/balance/"
    for organization in (PayerFactory(), ProviderFactory()):
        for role in (Role.ADMIN, Role.ANALYST, Role.AUDITOR):
            client = api_for(member_of(organization, role))
            for path in (refunds_url(contract), body["url"], balance_url):
                response = client.get(path)
                assert response.status_code == 404 and response.json()["code"] == "not_found", path
            for path, data in (
                (refunds_url(contract), refund_data()),
                (f"{body['url']}approve/", {}),
                (f"{body['url']}reject/", {}),
            ):
                response = client.post(path, data, format="json")
                assert response.status_code == 404 and response.json()["code"] == "not_found", path
    assert Refund.objects.get().status == "requested"


def test_the_refund_list_takes_a_constant_number_of_queries(carried, analyst_api, analyst2_api):
    contract = carried()

    def record(amount: str, approve: bool) -> None:
        body = analyst_api.post(refunds_url(contract), refund_data(amount), format="json").json()
        if approve:
            assert analyst2_api.post(f"{body['url']}approve/").status_code == 200

    record("10.00", True)
    with CaptureQueriesContext(connection) as one:
        assert len(analyst_api.get(refunds_url(contract)).json()["results"]) == 1
    record("20.00", True)
    record("30.00", False)
    record("40.00", True)
    with CaptureQueriesContext(connection) as four:
        assert len(analyst_api.get(refunds_url(contract)).json()["results"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


# --- statements and the 820 -----------------------------------------------------------------------


def test_the_820_of_a_carried_month_pays_zero_and_names_the_receivable(carried, analyst_api):
    contract = carried()
    february = contract.payment_runs.get(month=FEB)
    response = analyst_api.get(f"/api/v1/payment-runs/{february.public_id}/statement.820")
    assert response.status_code == 200, response.content
    text = response.content.decode()
    assert "BPR*I*0.00*C*NON" in text
    assert "RMR*CT*" in text and "**300.00~" in text and "REF*ZZ*RECEIVABLE~" in text
    csv_text = analyst_api.get(f"/api/v1/payment-runs/{february.public_id}/statement.csv").content.decode()
    assert "receivable,2026-02" in csv_text and "carried to a receivable" in csv_text


def test_the_820_of_a_run_with_an_offset_carries_an_adx(
    carried, provider_scope, analyst_scope, analyst_api, tmp_path
):
    from tests.fixtures.x12 import pyx12_check

    contract = carried()
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=MAR, rows=[member("N1"), member("N4")]
    )
    march = pay(scope=analyst_scope, contract=contract, month=MAR)
    text = analyst_api.get(f"/api/v1/payment-runs/{march.public_id}/statement.820").content.decode()
    assert "BPR*I*300.00*C*NON" in text
    assert "ENT*1*2L*FI*" in text and "ADX*-300.00*52~" in text and "REF*ZZ*RECOVERY~" in text
    ok, messages = pyx12_check(text, tmp_path)
    assert ok, messages
    html = statements.render_html(march)
    assert "Recovery offset" in html and "Recovery of the open receivable of $300.00" in html
    csv_text = statements.render_csv(march).decode()
    assert "recovery_offset,2026-03" in csv_text and ",-300.00," in csv_text


def test_a_legacy_negative_run_answers_a_precise_409(carried, analyst_api):
    contract = carried()
    february = contract.payment_runs.get(month=FEB)
    type(february).objects.filter(pk=february.pk).update(total=M("-300.00"))  # approved before this change
    response = analyst_api.get(f"/api/v1/payment-runs/{february.public_id}/statement.820")
    assert response.status_code == 409 and response.json()["code"] == "negative_total"
    message = response.json()["message"]
    assert "-300.00" in message and "carried to the next payment" not in message


# --- the page -------------------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_balance_page_records_and_approves_a_refund_with_htmx(
    carried, plan_analyst, plan_analyst2, provider_admin
):
    contract = carried()
    url = f"/payments/contracts/{contract.public_id}/balance/"
    first = client_for(plan_analyst)
    page = first.get(url).content.decode()
    assert 'data-testid="balance-2026-02"' in page and "Record refund" in page and "hx-post" in page
    assert "300.00" in page
    payments_page = first.get(f"/payments/contracts/{contract.number}/").content.decode()
    assert 'data-testid="balance-link"' in payments_page
    htmx = {"HTTP_HX_REQUEST": "true"}
    form = {"amount": "400.00", "received_on": "2026-03-02", "reference": "", "reason": "Cheque"}
    error = first.post(f"{url}refunds/", form, **htmx).content.decode()
    assert 'data-testid="refund-problem-list"' in error and "refund_above_receivable" in error
    assert "<html" not in error
    recorded = first.post(f"{url}refunds/", {**form, "amount": "100.00"}, **htmx).content.decode()
    assert "Approve and post" in recorded
    refund = Refund.objects.get()
    approve = f"/payments/refunds/{refund.public_id}/approve/"
    refused = first.post(approve, **htmx).content.decode()
    assert "cannot also approve it" in refused and "four_eyes_required" in refused
    done = client_for(plan_analyst2).post(approve, **htmx).content.decode()
    refund.refresh_from_db()
    assert refund.status == "approved" and "200.00" in done
    again = client_for(plan_analyst2).post(approve, follow=True).content.decode()
    assert "already approved or rejected" in again
    provider_page = client_for(provider_admin).get(url).content.decode()
    assert "Cheque" in provider_page and "Record refund" not in provider_page
    assert "Approve and post" not in provider_page
    from tests.factories import MembershipFactory

    stranger = MembershipFactory(organization=PayerFactory(), role=Role.ANALYST).user
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(stranger).post(approve).status_code == 404


def test_the_run_page_shows_the_receivable_with_its_reason(carried, plan_analyst):
    contract = carried()
    february = contract.payment_runs.get(month=FEB)
    page = client_for(plan_analyst).get(f"/payments/runs/{february.public_id}/").content.decode()
    assert 'data-testid="line-receivable"' in page and "Carried to a receivable" in page


def test_the_demo_shows_a_receivable_an_offset_and_a_refund_waiting(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    receivable = LedgerEntry.objects.get(kind="receivable")
    contract = receivable.contract
    assert receivable.run.kind == "adjustment" and receivable.amount > 0
    in_review = contract.payment_runs.get(status="review")
    offset = in_review.lines.get(kind="recovery_offset")
    assert offset.amount == -receivable.amount  # all of it: the demo contract sets no share
    refund = Refund.objects.get(contract=contract)
    assert refund.status == "requested" and 0 < refund.amount <= receivable.amount
    counts = (LedgerEntry.objects.count(), Refund.objects.count())
    call_command("seed_demo", verbosity=0)
    assert (LedgerEntry.objects.count(), Refund.objects.count()) == counts


def test_the_refund_service_refuses_what_a_form_can_send(carried, analyst_scope):
    from core.errors import ApplicationError

    contract = carried()
    for data, code, field in (
        ({"reason": "  "}, "reason_required", "reason"),
        ({"amount": "lots"}, "invalid_amount", "amount"),
        ({"amount": "1.001"}, "invalid_amount", "amount"),
        ({"received_on": ""}, "invalid_date", "received_on"),
    ):
        arguments = {"amount": "10.00", "received_on": "2026-03-02", "reason": "Cheque", **data}
        with pytest.raises(ApplicationError) as caught:
            services.refund_request(scope=analyst_scope, contract=contract, **arguments)
        assert (caught.value.status, caught.value.code) == (400, code)
        assert field in caught.value.details
    assert not Refund.objects.exists()


def test_every_declared_refund_transition_is_reachable_and_nothing_else(carried, analyst_scope):
    from core.errors import ConflictError
    from payments.states import REFUND

    contract = carried()
    assert set(REFUND.states) == {"requested", "approved", "rejected"}
    assert REFUND.final_states() == {"approved", "rejected"}
    for status, action, target in REFUND.moves():
        refund = services.refund_request(
            scope=analyst_scope, contract=contract, amount="10.00", received_on="2026-03-02", reason="x"
        )
        if action == "approve":
            refund = services.refund_approve(scope=second_scope(analyst_scope), refund=refund)
        else:
            refund = services.refund_reject(scope=analyst_scope, refund=refund)
        assert (status, refund.status) == ("requested", target)
        for undeclared in REFUND.actions:
            with pytest.raises(ConflictError):
                if undeclared == "approve":
                    services.refund_approve(scope=second_scope(analyst_scope), refund=refund)
                else:
                    services.refund_reject(scope=analyst_scope, refund=refund)
