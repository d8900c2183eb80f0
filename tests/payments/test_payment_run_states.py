"""The payment run lifecycle (payments.states.PAYMENT_RUN): every declared transition is reachable through
the services; every undeclared one is refused with today's error (or, for asking again, leaves the run as
it is) and never offered on the run's page, which offers exactly the declared actions the role may fire."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from core.errors import ConflictError
from enrollment.models import RosterSubmission
from payments import services
from payments.models import PaymentRun, PaymentRunStatus
from payments.states import PAYMENT_RUN
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import JAN, member, submit_roster

pytestmark = pytest.mark.django_db

UNDECLARED = [
    (status, action)
    for status in PaymentRunStatus.values
    for action in PAYMENT_RUN.actions
    if not PAYMENT_RUN.can_fire(action, status)
]


class Month:
    """January of an active contract, its roster submitted, driven through the payments services."""

    def __init__(self, contract, analyst_scope, provider_scope):
        self.contract, self.scope, self.provider_scope = contract, analyst_scope, provider_scope
        self.submit([member("P1"), member("P2", tier="2")])

    def submit(self, rows):
        submit_roster(provider_scope=self.provider_scope, contract=self.contract, month=JAN, rows=rows)

    def request(self) -> tuple[PaymentRun, bool]:
        return services.payment_run_start(scope=self.scope, contract=self.contract, month=JAN, enqueue=False)

    def run_in(self, status: str) -> PaymentRun:
        run, _ = self.request()
        if status == PaymentRunStatus.FAILED:
            self.fail(run)
        elif status != PaymentRunStatus.CALCULATING:
            services.payment_run_calculate(run_id=run.pk)
        if status == PaymentRunStatus.APPROVED:
            services.payment_run_approve(scope=second_scope(self.scope), run=run)
        run.refresh_from_db()
        assert run.status == status, run.error
        return run

    def fail(self, run: PaymentRun) -> None:
        """Calculate it when the month has lost its roster (no current version): the run fails with the reason."""
        current = RosterSubmission.objects.filter(contract=self.contract, month=JAN, is_current=True)
        submission_id = current.get().pk
        current.update(is_current=False)
        services.payment_run_calculate(run_id=run.pk)
        RosterSubmission.objects.filter(pk=submission_id).update(is_current=True)


@pytest.fixture
def month(contract, analyst_scope, provider_scope):
    return Month(contract, analyst_scope, provider_scope)


def test_the_declaration_covers_every_status():
    assert set(PAYMENT_RUN.states) == set(PaymentRunStatus.values)
    assert PAYMENT_RUN.final_states() == {PaymentRunStatus.APPROVED}


@pytest.mark.parametrize("status, action, target", PAYMENT_RUN.moves(), ids=lambda v: str(v))
def test_every_declared_transition_is_reachable_through_the_services(month, status, action, target):
    run = month.run_in(status)
    if action == "calculate":
        services.payment_run_calculate(run_id=run.pk)
    elif action == "fail":
        month.fail(run)
    elif action == "approve":
        services.payment_run_approve(scope=second_scope(month.scope), run=run)
    elif action == "recalculate":
        if status == PaymentRunStatus.REVIEW:
            month.submit([member("P1"), member("P2", tier="2"), member("P3")])  # its inputs changed
        again, created = month.request()
        assert created
        if status == PaymentRunStatus.FAILED:  # the month gets a new run; the failed one stays as it is
            assert again.pk != run.pk and again.status == PaymentRunStatus.CALCULATING
        else:
            assert again.pk == run.pk
    run.refresh_from_db()
    assert run.status == target


@pytest.mark.parametrize("status, action", UNDECLARED, ids=[f"{s}-{a}" for s, a in UNDECLARED])
def test_every_undeclared_transition_is_refused_and_not_offered(month, plan_analyst, status, action):
    run = month.run_in(status)
    before = PaymentRun.objects.values("status", "total", "calculated_at", "approved_at").get(pk=run.pk)
    if action == "approve":
        with pytest.raises(ConflictError) as caught:
            services.payment_run_approve(scope=second_scope(month.scope), run=run)
        error = caught.value
        assert (error.status, error.code, error.message) == (
            409,
            "run_not_in_review",
            services.NOT_IN_REVIEW_MESSAGE,
        )
        assert error.details == {"status": status}
    elif action == "recalculate":  # asking again answers with the month's run as it is
        again, created = month.request()
        assert (again.pk, created) == (run.pk, False)
    else:  # the worker leaves a run that is not calculating alone
        services.payment_run_calculate(run_id=run.pk)
    assert (
        PaymentRun.objects.values("status", "total", "calculated_at", "approved_at").get(pk=run.pk) == before
    )
    assert action not in offered(run, plan_analyst)


def offered(run: PaymentRun, user) -> set[str]:
    client = Client()
    client.force_login(user)
    page = client.get(f"/payments/runs/{run.public_id}/")
    if page.status_code == 404:  # a provider sees a run once it is approved
        return set()
    html = page.content.decode()
    markers = {
        "approve": f'action="/payments/runs/{run.public_id}/approve/"',
        "recalculate": f'action="/payments/contracts/{run.contract.number}/calculate/"',
    }
    return {action for action, marker in markers.items() if marker in html}


@pytest.mark.parametrize("status", PaymentRunStatus.values)
def test_the_page_offers_exactly_the_declared_actions_the_role_may_fire(
    month, plan_analyst, provider_admin, plan, member_of, status
):
    run = month.run_in(status)
    expected = set(PAYMENT_RUN.actions_for(status, can=month.scope.can))
    assert (
        expected
        == {
            PaymentRunStatus.CALCULATING: set(),
            PaymentRunStatus.REVIEW: {"approve", "recalculate"},
            PaymentRunStatus.APPROVED: set(),
            PaymentRunStatus.FAILED: {"recalculate"},
        }[status]
    )
    assert offered(run, plan_analyst) == expected
    assert offered(run, member_of(plan, Role.AUDITOR)) == set()
    assert offered(run, provider_admin) == set()
