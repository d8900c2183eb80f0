"""The settlement lifecycle (payments.states.SETTLEMENT): every declared transition is reachable through the
services; every undeclared one is refused with today's error (or, for settling again, leaves the settlement
as it is) and never offered on its page, which offers exactly the declared actions the role may fire."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from core.errors import ConflictError
from payments import services as payment_services
from payments.models import Settlement, SettlementStatus
from payments.states import SETTLEMENT
from performance import services as performance_services
from tests.fixtures.contracts import second_scope

from .conftest import FEB, JAN, MAR, cohort_utilization, urow, utilization_csv

pytestmark = pytest.mark.django_db
PERIOD = "2026-Q1"
UNDECLARED = [
    (status, action)
    for status in SettlementStatus.values
    for action in SETTLEMENT.actions
    if not SETTLEMENT.can_fire(action, status)
]


def load(scope, rows) -> None:
    upload = performance_services.utilization_upload(
        scope=scope, data=utilization_csv(rows), filename="u.csv"
    )
    assert upload.status == "accepted", upload.errors


@pytest.fixture
def paid(cohort, analyst_scope):
    """The quarter's utilisation loaded and its three months paid."""
    load(analyst_scope, cohort_utilization())
    for month in (JAN, FEB, MAR):
        run, _ = payment_services.payment_run_start(
            scope=analyst_scope, contract=cohort, month=month, enqueue=False
        )
        payment_services.payment_run_calculate(run_id=run.pk)
        run.refresh_from_db()
        payment_services.payment_run_approve(scope=second_scope(analyst_scope), run=run)
    return cohort


def settle(scope, contract) -> tuple[Settlement, bool]:
    return payment_services.settlement_request(scope=scope, contract=contract, period=PERIOD)


def in_state(scope, contract, status: str) -> Settlement:
    settlement, created = settle(scope, contract)
    assert created
    if status == SettlementStatus.APPROVED:
        payment_services.settlement_approve(scope=second_scope(scope), settlement=settlement)
    settlement.refresh_from_db()
    assert settlement.status == status
    return settlement


def offered(settlement: Settlement, user) -> set[str]:
    client = Client()
    client.force_login(user)
    page = client.get(f"/payments/settlements/{settlement.public_id}/")
    if page.status_code == 404:  # a provider sees a settlement once it is approved
        return set()
    html = page.content.decode()
    markers = {
        "approve": f'action="/payments/settlements/{settlement.public_id}/approve/"',
        "recalculate": f'action="/payments/contracts/{settlement.contract.number}/settle/"',
    }
    return {action for action, marker in markers.items() if marker in html}


def test_the_declaration_covers_every_status():
    assert set(SETTLEMENT.states) == set(SettlementStatus.values)
    assert SETTLEMENT.final_states() == {SettlementStatus.APPROVED}


@pytest.mark.parametrize("status, action, target", SETTLEMENT.moves(), ids=lambda v: str(v))
def test_every_declared_transition_is_reachable_through_the_services(
    paid, analyst_scope, status, action, target
):
    settlement = in_state(analyst_scope, paid, status)
    if action == "recalculate":
        fingerprint = settlement.input_fingerprint
        load(analyst_scope, [urow("P1", MAR, tcoc="9000.00")])  # its inputs changed
        again, created = settle(analyst_scope, paid)
        assert (again.pk, created) == (settlement.pk, False)
        settlement.refresh_from_db()
        assert settlement.input_fingerprint != fingerprint  # recalculated in place
    else:
        payment_services.settlement_approve(scope=second_scope(analyst_scope), settlement=settlement)
        settlement.refresh_from_db()
    assert settlement.status == target


@pytest.mark.parametrize("status, action", UNDECLARED, ids=[f"{s}-{a}" for s, a in UNDECLARED])
def test_every_undeclared_transition_is_refused_and_not_offered(
    paid, analyst_scope, plan_analyst, status, action
):
    settlement = in_state(analyst_scope, paid, status)
    fields = ("status", "total", "input_fingerprint", "approved_at")
    before = Settlement.objects.values(*fields).get(pk=settlement.pk)
    if action == "approve":
        with pytest.raises(ConflictError) as caught:
            payment_services.settlement_approve(scope=second_scope(analyst_scope), settlement=settlement)
        error = caught.value
        assert (error.status, error.code, error.message) == (
            409,
            "settlement_not_in_review",
            payment_services.SETTLEMENT_NOT_IN_REVIEW_MESSAGE,
        )
        assert error.details == {"status": status}
    else:  # settling again with nothing changed answers with the settlement as it is
        assert settle(analyst_scope, paid) == (settlement, False)
    assert Settlement.objects.values(*fields).get(pk=settlement.pk) == before
    assert action not in offered(settlement, plan_analyst)


@pytest.mark.parametrize("status", SettlementStatus.values)
def test_the_page_offers_exactly_the_declared_actions_the_role_may_fire(
    paid, analyst_scope, plan_analyst, provider_admin, plan, member_of, status
):
    settlement = in_state(analyst_scope, paid, status)
    expected = set(SETTLEMENT.actions_for(status, can=analyst_scope.can))
    assert expected == ({"approve", "recalculate"} if status == SettlementStatus.REVIEW else set())
    assert offered(settlement, plan_analyst) == expected
    assert offered(settlement, member_of(plan, Role.AUDITOR)) == set()
    assert offered(settlement, provider_admin) == set()
