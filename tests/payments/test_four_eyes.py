"""Four eyes on money (issue 14, point 5): whoever requested a payment run, a settlement or a ledger
correction does not approve it, unless the contract's single-approval limit lets one person approve an
amount strictly under it; ledger corrections are requested with a reason and approved by a second
analyst through the API and the page (the reversal and the new entry posted together), with their
history as the audit trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Role
from core.errors import ApplicationError, ConflictError
from payments import services
from payments.models import LedgerCorrection, LedgerEntry
from payments.services.approval import require_second_person
from payments.states import LEDGER_CORRECTION
from tests.factories import PayerFactory, ProviderFactory
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import JAN, calculate, member, pay, submit_roster

pytestmark = pytest.mark.django_db
M = Decimal
D = dt.date


@pytest.fixture
def paid(contract_factory, provider_scope, analyst_scope):
    """January paid: one member at 300.00 (ledger entry #1)."""

    def make(**terms):
        contract = contract_factory(**terms)
        submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("K1")])
        pay(scope=analyst_scope, contract=contract, month=JAN)
        return contract

    return make


def in_review(contract_factory, provider_scope, analyst_scope, **terms):
    contract = contract_factory(**terms)
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("K1")])
    run = calculate(scope=analyst_scope, contract=contract, month=JAN)
    assert run.status == "review" and run.total == M("300.00")
    return run


# --- the rule -----------------------------------------------------------------------------------


def test_the_requester_cannot_approve_a_run_without_a_limit(contract_factory, provider_scope, analyst_scope):
    run = in_review(contract_factory, provider_scope, analyst_scope)
    with pytest.raises(ApplicationError) as caught:
        services.payment_run_approve(scope=analyst_scope, run=run)
    assert (caught.value.status, caught.value.code) == (400, "four_eyes_required")
    assert caught.value.message == services.FOUR_EYES_MESSAGE
    assert not LedgerEntry.objects.exists()
    approved = services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    assert approved.requested_by == analyst_scope.user and approved.approved_by != analyst_scope.user


@pytest.mark.parametrize(
    ("limit", "alone"),
    [("300.01", True), ("1000.00", True), ("300.00", False), ("299.99", False)],
    ids=["just-over-the-amount", "well-over", "equal-to-the-amount", "under-the-amount"],
)
def test_one_person_approves_only_an_amount_strictly_under_the_limit(
    contract_factory, provider_scope, analyst_scope, limit, alone
):
    run = in_review(contract_factory, provider_scope, analyst_scope, single_approval_limit=M(limit))
    if alone:
        assert services.payment_run_approve(scope=analyst_scope, run=run).status == "approved"
    else:
        with pytest.raises(ApplicationError) as caught:
            services.payment_run_approve(scope=analyst_scope, run=run)
        assert caught.value.code == "four_eyes_required"
        assert caught.value.details["single_approval_limit"] == limit
        assert "single-approval limit of" in caught.value.message


def test_a_run_the_schedule_requested_is_approved_by_any_analyst(
    contract_factory, provider_scope, analyst_scope
):
    contract = contract_factory()
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN, rows=[member("K1")])
    run, _ = services.payment_run_request(contract=contract, month=JAN, enqueue=False)  # the daily beat
    services.payment_run_calculate(run_id=run.pk)
    run.refresh_from_db()
    assert run.requested_by is None
    assert services.payment_run_approve(scope=analyst_scope, run=run).status == "approved"


@settings(max_examples=60, deadline=None)
@given(
    amount=st.decimals(min_value=-10_000, max_value=10_000, places=2),
    limit=st.one_of(st.none(), st.decimals(min_value="0.01", max_value=5_000, places=2)),
    same=st.booleans(),
)
def test_the_rule_for_any_amount_and_limit(amount, limit, same):
    """Property: refused exactly when the same person approves and |amount| is not under the limit."""

    class Person:
        def __init__(self, pk):
            self.pk = pk

        def get_username(self):
            return f"u{self.pk}"

    class Contract:
        pass

    from payments.services import approval

    original = approval.single_approval_limit
    approval.single_approval_limit = lambda contract: limit
    try:
        refused = False
        try:
            require_second_person(
                requested_by=Person(1),
                approved_by=Person(1 if same else 2),
                amount=amount,
                contract=Contract(),
            )
        except ApplicationError as exc:
            refused = exc.code == "four_eyes_required"
    finally:
        approval.single_approval_limit = original
    assert refused == (same and (limit is None or abs(amount) >= limit))


# --- ledger corrections: services ------------------------------------------------------------------


def test_a_correction_round_trip_posts_reversal_and_new_entry_once(paid, analyst_scope):
    contract = paid()
    entry = LedgerEntry.objects.get(contract=contract)
    correction = services.ledger_correction_request(
        scope=analyst_scope, entry=entry, amount="290.00", reason="Rate keyed wrongly"
    )
    assert correction.status == "requested" and LedgerEntry.objects.count() == 1
    with pytest.raises(ApplicationError) as caught:
        services.ledger_correction_approve(scope=analyst_scope, correction=correction)
    assert caught.value.code == "four_eyes_required"
    correction = services.ledger_correction_approve(scope=second_scope(analyst_scope), correction=correction)
    assert (correction.reversal.amount, correction.replacement.amount) == (M("-300.00"), M("290.00"))
    assert correction.reversal.note == correction.replacement.note == "Rate keyed wrongly"
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == M("290.00")
    # the audit trail: requested, then approved, by whom
    history = list(correction.history.order_by("history_date").values_list("history_change_reason", "status"))
    assert history == [("requested", "requested"), ("approved", "approved")]
    with pytest.raises(ConflictError) as again:
        services.ledger_correction_approve(scope=second_scope(analyst_scope), correction=correction)
    assert again.value.code == "correction_decided"


@pytest.mark.parametrize(
    ("amount", "reason", "code"),
    [
        ("290.00", "  ", "reason_required"),
        ("300.00", "same", "correction_unchanged"),
        ("290.001", "cents", "invalid_amount"),
        ("abc", "text", "invalid_amount"),
        (290.0, "float", "invalid_amount"),
    ],
)
def test_a_request_is_refused_with_a_code(paid, analyst_scope, amount, reason, code):
    entry = LedgerEntry.objects.get(contract=paid())
    with pytest.raises(ApplicationError) as caught:
        services.ledger_correction_request(scope=analyst_scope, entry=entry, amount=amount, reason=reason)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert not LedgerCorrection.objects.exists()


def test_one_open_request_per_entry_and_a_rejection_posts_nothing(paid, analyst_scope):
    entry = LedgerEntry.objects.get(contract=paid())
    first = services.ledger_correction_request(scope=analyst_scope, entry=entry, amount="290.00", reason="a")
    with pytest.raises(ConflictError) as caught:
        services.ledger_correction_request(scope=analyst_scope, entry=entry, amount="280.00", reason="b")
    assert caught.value.code == "correction_open"
    rejected = services.ledger_correction_reject(scope=analyst_scope, correction=first, reason="Withdrawn")
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "Withdrawn")
    assert LedgerEntry.objects.count() == 1
    services.ledger_correction_request(scope=analyst_scope, entry=entry, amount="280.00", reason="b")


@pytest.mark.parametrize(("limit", "alone"), [("10.01", True), ("10.00", False)])
def test_a_correction_under_the_limit_may_be_approved_alone(paid, analyst_scope, limit, alone):
    """Four eyes weighs what the correction moves: 300.00 -> 290.00 is 10.00."""
    entry = LedgerEntry.objects.get(contract=paid(single_approval_limit=M(limit)))
    if alone:
        reversal, replacement = services.ledger_entry_correct(
            scope=analyst_scope, entry=entry, amount=M("290.00"), note="Small fix"
        )
        assert replacement.amount == M("290.00")
    else:
        with pytest.raises(ApplicationError) as caught:
            services.ledger_entry_correct(
                scope=analyst_scope, entry=entry, amount=M("290.00"), note="Small fix"
            )
        assert caught.value.code == "four_eyes_required"
        assert not LedgerCorrection.objects.exists()  # the request rolled back with the refusal


def test_every_declared_correction_transition_is_reachable_and_nothing_else(paid, analyst_scope):
    assert set(LEDGER_CORRECTION.states) == {"requested", "approved", "rejected"}
    assert LEDGER_CORRECTION.final_states() == {"approved", "rejected"}
    entry = LedgerEntry.objects.get(contract=paid())
    for i, (status, action, target) in enumerate(LEDGER_CORRECTION.moves()):
        amount = M("299.00") - i
        correction = services.ledger_correction_request(
            scope=analyst_scope, entry=entry, amount=amount, reason="x"
        )
        if action == "approve":
            correction = services.ledger_correction_approve(
                scope=second_scope(analyst_scope), correction=correction
            )
            entry = correction.replacement
        else:
            correction = services.ledger_correction_reject(scope=analyst_scope, correction=correction)
        assert (status, correction.status) == ("requested", target)
        for undeclared in LEDGER_CORRECTION.actions:
            with pytest.raises(ConflictError):
                if undeclared == "approve":
                    services.ledger_correction_approve(
                        scope=second_scope(analyst_scope), correction=correction
                    )
                else:
                    services.ledger_correction_reject(scope=analyst_scope, correction=correction)


# --- ledger corrections: API ---------------------------------------------------------------------


def test_the_correction_api_round_trip(paid, analyst_api, analyst2_api, provider_api):
    contract = paid()
    url = f"/api/v1/contracts/{contract.public_id}/ledger-corrections/"
    created = analyst_api.post(
        url, {"entry": 1, "amount": "290.00", "reason": "Rate keyed wrongly"}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["entry"], body["entry_amount"], body["amount"], body["difference"], body["status"]) == (
        1,
        "300.00",
        "290.00",
        "-10.00",
        "requested",
    )
    assert provider_api.get(url).json()["results"] == []  # the plan's request: not the provider's yet
    own = analyst_api.post(f"{body['url']}approve/")
    assert own.status_code == 400 and own.json()["code"] == "four_eyes_required"
    approved = analyst2_api.post(f"{body['url']}approve/")
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["status"], approved.json()["reversal"], approved.json()["replacement"]) == (
        "approved",
        2,
        3,
    )
    again = analyst2_api.post(f"{body['url']}approve/")
    assert again.status_code == 409 and again.json()["code"] == "correction_decided"
    ledger = analyst_api.get(f"/api/v1/contracts/{contract.public_id}/ledger/").json()["results"]
    assert [(e["sequence"], e["amount"], e["reverses"]) for e in ledger] == [
        (1, "300.00", None),
        (2, "-300.00", 1),
        (3, "290.00", None),
    ]
    assert [c["id"] for c in provider_api.get(url).json()["results"]] == [body["id"]]  # approved: shown
    reversal = analyst_api.post(url, {"entry": 2, "amount": "1.00", "reason": "x"}, format="json")
    assert reversal.status_code == 409 and reversal.json()["code"] == "reversal_not_correctable"


def test_the_correction_api_errors_are_400_with_a_code(paid, analyst_api, provider_api):
    contract = paid()
    url = f"/api/v1/contracts/{contract.public_id}/ledger-corrections/"
    missing = analyst_api.post(url, {"entry": 1, "amount": "290.00"}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["details"]
    blank = analyst_api.post(url, {"entry": 1, "amount": "290.00", "reason": " "}, format="json")
    assert blank.status_code == 400
    same = analyst_api.post(url, {"entry": 1, "amount": "300.00", "reason": "x"}, format="json")
    assert same.status_code == 400 and same.json()["code"] == "correction_unchanged"
    bad = analyst_api.post(url, {"entry": 1, "amount": "lots", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "amount" in bad.json()["details"]
    nowhere = analyst_api.post(url, {"entry": 99, "amount": "1.00", "reason": "x"}, format="json")
    assert nowhere.status_code == 404
    assert (
        provider_api.post(url, {"entry": 1, "amount": "1.00", "reason": "x"}, format="json").status_code
        == 403
    )
    body = analyst_api.post(url, {"entry": 1, "amount": "290.00", "reason": "x"}, format="json").json()
    rejected = analyst_api.post(f"{body['url']}reject/", {"reason": "Withdrawn"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "Withdrawn"


def test_another_organisation_gets_404_on_every_correction_endpoint(paid, analyst_api, api_for, member_of):
    contract = paid()
    url = f"/api/v1/contracts/{contract.public_id}/ledger-corrections/"
    body = analyst_api.post(url, {"entry": 1, "amount": "290.00", "reason": "x"}, format="json").json()
    for organization in (PayerFactory(), ProviderFactory()):
        for role in (Role.ADMIN, Role.ANALYST, Role.AUDITOR):
            client = api_for(member_of(organization, role))
            for path in (url, body["url"]):
                assert client.get(path).status_code == 404, (organization.kind, role, path)
            for path, data in (
                (url, {"entry": 1, "amount": "1.00", "reason": "x"}),
                (f"{body['url']}approve/", {}),
                (f"{body['url']}reject/", {}),
            ):
                response = client.post(path, data, format="json")
                assert response.status_code == 404 and response.json()["code"] == "not_found", path
    assert LedgerCorrection.objects.get().status == "requested"


def test_the_correction_list_takes_a_constant_number_of_queries(paid, analyst_api, analyst2_api):
    contract = paid()
    url = f"/api/v1/contracts/{contract.public_id}/ledger-corrections/"

    def request_and_approve(entry: int, amount: str) -> None:
        body = analyst_api.post(url, {"entry": entry, "amount": amount, "reason": "x"}, format="json").json()
        assert analyst2_api.post(f"{body['url']}approve/").status_code == 200

    request_and_approve(1, "290.00")
    with CaptureQueriesContext(connection) as one:
        assert len(analyst_api.get(url).json()["results"]) == 1
    request_and_approve(3, "280.00")
    request_and_approve(5, "270.00")
    analyst_api.post(url, {"entry": 7, "amount": "260.00", "reason": "open"}, format="json")
    with CaptureQueriesContext(connection) as four:
        assert len(analyst_api.get(url).json()["results"]) == 4
    assert len(four.captured_queries) == len(one.captured_queries)


# --- ledger corrections: the page ----------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_ledger_page_requests_and_approves_a_correction_with_htmx(
    paid, plan_analyst, plan_analyst2, provider_admin
):
    contract = paid()
    url = f"/payments/contracts/{contract.public_id}/ledger/"
    first = client_for(plan_analyst)
    page = first.get(url).content.decode()
    assert 'data-testid="ledger-entry-1"' in page and "Request correction" in page and "hx-post" in page
    htmx = {"HTTP_HX_REQUEST": "true"}
    error = first.post(f"{url}corrections/", {"entry": "1", "amount": "290.00", "reason": ""}, **htmx)
    assert error.status_code == 200 and "the reason is kept with the ledger" in error.content.decode()
    requested = first.post(
        f"{url}corrections/", {"entry": "1", "amount": "290.00", "reason": "Keyed wrongly"}, **htmx
    )
    assert requested.status_code == 200 and "<html" not in requested.content.decode()
    correction = LedgerCorrection.objects.get()
    approve = f"/payments/ledger-corrections/{correction.public_id}/approve/"
    refused = first.post(approve, **htmx).content.decode()
    assert "cannot also approve it" in refused
    correction.refresh_from_db()
    assert correction.status == "requested"
    done = client_for(plan_analyst2).post(approve, **htmx).content.decode()
    assert "Approved" in done and 'data-testid="ledger-entry-3"' in done
    correction.refresh_from_db()
    assert correction.status == "approved"
    # without htmx: a redirect and the message on the page
    again = client_for(plan_analyst2).post(approve, follow=True).content.decode()
    assert "already approved or rejected" in again
    provider_page = client_for(provider_admin).get(url).content.decode()
    assert "Keyed wrongly" in provider_page and "Request correction" not in provider_page
    assert "Approve and post" not in provider_page
    stranger = member_of_other_plan()
    assert client_for(stranger).get(url).status_code == 404
    assert client_for(stranger).post(approve).status_code == 404


def member_of_other_plan():
    from tests.factories import MembershipFactory

    return MembershipFactory(organization=PayerFactory(), role=Role.ANALYST).user
