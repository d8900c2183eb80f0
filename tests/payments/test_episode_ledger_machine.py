"""Episode payments over random sequences of events (issue 14 point 4; the stateful test of the
episode rules, beside ``test_payment_ledger_machine.py`` for member-months).

A hypothesis ``RuleBasedStateMachine`` plays months of a contract on a 90-day bundle with random
terms (one to three installments, an early exit paid in full or prorated, a withhold): members start
episodes, leave early (death or discharge, reported on time or late in the roster of the month they
left), rosters move on month by month, and payment runs (and adjustment runs of the last paid month)
are calculated by one analyst and approved by another. A plain model of the episodes, independent of
``payments.episodes``, says what each member is owed for each month.

After every step the ledger must hold:
- paid episode amounts per member and month equal what the model says, for every paid month inside
  the retro window of the last run (outside it a change is listed, not paid);
- nothing is paid for a month after the month a member left (net, inside the window), and no member
  is paid more than the case rate;
- withheld per service month equals the withhold percentage of that month's net episode payments;
- the ledger's balance is the exact sum of its entries, and every approved run's total is the sum
  of its lines.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.domain.money import CENT, to_cents
from core.domain.months import add_months, months_between
from payments import services
from payments.models import LedgerEntry, LineKind, PaymentDetail, PaymentRun, PaymentRunStatus
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import CASE_RATES, calculate, member, submit_roster

pytestmark = pytest.mark.django_db

D = dt.date
FIRST = D(2026, 1, 1)
LAST = D(2026, 6, 1)
DAYS = 90
WINDOW = 2
WITHHOLD = Decimal("0.05")
QUALITY = [{"measure": "hospice_transition_rate", "target": "0.45", "weight": "1", "minimum_denominator": 20}]
ZERO = Decimal("0.00")


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


@dataclass
class Episode:
    start: dt.date
    tier: str
    exit: dt.date | None = None  # the last day enrolled, when the member left before the episode's end
    reason: str = ""

    @property
    def natural_last(self) -> dt.date:
        return self.start + dt.timedelta(days=DAYS - 1)

    @property
    def last(self) -> dt.date:
        return self.exit or self.natural_last

    def row(self, member_id: str, month: dt.date) -> dict:
        """The member's row in ``month``'s roster: open until the month of its last day. Once the member
        has left early, every roster sent after states the span as it is known: it ends on the exit day
        (a row left open past a recorded death is refused, docs/domain.md 5)."""
        ends_here = self.exit is not None or month_of(self.last) == month
        return member(
            member_id,
            start=self.start,
            end=self.last if ends_here else None,
            reason=(self.reason or "discharged") if ends_here else "",
            tier=self.tier,
        )


@dataclass
class Model:
    installments: int
    early_exit: str
    episodes: dict[str, Episode] = field(default_factory=dict)

    def listed(self, month: dt.date) -> list[str]:
        return sorted(m for m, e in self.episodes.items() if month_of(e.start) <= month <= month_of(e.last))

    def rows(self, month: dt.date) -> list[dict]:
        return [self.episodes[m].row(m, month) for m in self.listed(month)]

    def owed(self, member_id: str, month: dt.date) -> Decimal:
        """The case rate in equal parts cut down to the cent (the last part the rest) from the first
        month; on an early exit, the exit month gets what remains of the full or prorated rate."""
        e = self.episodes.get(member_id)
        if e is None:
            return ZERO
        rate = CASE_RATES[e.tier]
        part = (rate / self.installments).quantize(CENT, rounding=ROUND_DOWN)
        first = month_of(e.start)
        planned = {add_months(first, k): part for k in range(self.installments - 1)}
        planned[add_months(first, self.installments - 1)] = rate - part * (self.installments - 1)
        if e.exit is None or e.exit >= e.natural_last:
            return planned.get(month, ZERO)
        exit_month = month_of(e.exit)
        if month != exit_month:
            return planned.get(month, ZERO) if month < exit_month else ZERO
        days = (e.exit - e.start).days + 1
        total = to_cents(rate * days / DAYS) if self.early_exit == "prorated" else rate
        return total - sum((v for m, v in planned.items() if m < exit_month), ZERO)


def paid_by_member(contract) -> dict[tuple[str, dt.date], Decimal]:
    rows = (
        PaymentDetail.objects.filter(
            line__run__contract=contract,
            line__run__status=PaymentRunStatus.APPROVED,
            line__kind__in=[LineKind.EPISODE, LineKind.RETRO_ADJUSTMENT],
        )
        .values("member_id", "month")
        .annotate(amount=Sum("amount"))
    )
    # to the cent: SQLite sums decimals as floats
    return {(r["member_id"], r["month"]): to_cents(Decimal(r["amount"])) for r in rows}


class EpisodeLedgerMachine(RuleBasedStateMachine):
    """Fixtures (``contract_factory``, scopes) are set on a subclass by the test below."""

    contract_factory = None
    provider_scope = None
    analyst_scope = None

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint rolled back at its end: examples never see each other's data.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.current = FIRST  # the latest month with a roster
        self.paid_through: dt.date | None = None
        self.last_run_month: dt.date | None = None
        self.serial = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- setup ---------------------------------------------------------------------------------
    @initialize(
        installments=st.integers(1, 3),
        early_exit=st.sampled_from(["full", "prorated"]),
        tiers=st.lists(st.sampled_from(sorted(CASE_RATES)), min_size=1, max_size=3),
        days=st.lists(st.integers(0, 30), min_size=3, max_size=3),
    )
    def open_contract(self, installments, early_exit, tiers, days):
        self.contract = type(self).contract_factory(
            retro_window_months=WINDOW,
            withhold_percentage=WITHHOLD,
            quality_terms=QUALITY,
            episode_installments=installments,
            episode_early_exit=early_exit,
        )
        self.model = Model(installments, early_exit)
        for tier, day in zip(tiers, days, strict=False):
            self.start_episode(FIRST + dt.timedelta(days=day), tier)
        self.submit(FIRST)

    def start_episode(self, start: dt.date, tier: str) -> None:
        self.serial += 1
        self.model.episodes[f"EP{self.serial:03d}"] = Episode(start=start, tier=tier)

    def today(self) -> dt.date:
        return add_months(self.current, 1).replace(day=5)

    def submit(self, month: dt.date) -> None:
        if not self.model.listed(month):  # a roster has at least one row: someone starts that month
            self.start_episode(month, "1")
        submit_roster(
            provider_scope=self.provider_scope,
            contract=self.contract,
            month=month,
            rows=self.model.rows(month),
            today=self.today(),
        )

    def months(self) -> list[dt.date]:
        return [add_months(FIRST, i) for i in range(months_between(FIRST, self.current) + 1)]

    def editable(self) -> list[dt.date]:
        """The months whose roster the provider may still resubmit (the retro window, from today)."""
        return [m for m in self.months() if months_between(m, self.today()) <= WINDOW]

    # --- roster events -------------------------------------------------------------------------
    @precondition(lambda self: self.current < LAST)
    @rule()
    def next_month(self):
        self.current = add_months(self.current, 1)
        self.submit(self.current)

    @rule(day=st.integers(0, 27), tier=st.sampled_from(sorted(CASE_RATES)))
    def start(self, day, tier):
        self.start_episode(self.current + dt.timedelta(days=day), tier)
        self.submit(self.current)

    @rule(data=st.data(), reason=st.sampled_from(["death", "discharged"]))
    def leave_early(self, data, reason):
        """An early exit reported in the roster of its month (late, if that month is past); the rosters
        of the later months no longer list the member."""
        staying = [m for m, e in self.model.episodes.items() if e.exit is None]
        if not staying:
            return
        member_id = data.draw(st.sampled_from(staying))
        e = self.model.episodes[member_id]
        months = [m for m in self.editable() if month_of(e.start) <= m <= month_of(e.natural_last)]
        if not months:
            return
        month = data.draw(st.sampled_from(months))
        last_of_month = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        first_day = max(e.start, month)
        last_day = min(last_of_month, e.natural_last - dt.timedelta(days=1))
        if last_day < first_day:
            return
        e.exit = first_day + dt.timedelta(days=data.draw(st.integers(0, (last_day - first_day).days)))
        e.reason = reason
        for m in self.months():
            if m >= month:
                self.submit(m)

    # --- payments ------------------------------------------------------------------------------
    def approve(self, month: dt.date) -> None:
        run = calculate(scope=self.analyst_scope, contract=self.contract, month=month)
        if run.status != PaymentRunStatus.APPROVED:  # approved: nothing changed, the latest run came back
            assert run.status == PaymentRunStatus.REVIEW, run.error
            services.payment_run_approve(scope=second_scope(self.analyst_scope), run=run)
        self.last_run_month = month
        self.paid_model = copy.deepcopy(self.model)  # what the rosters said when the run was calculated

    @precondition(lambda self: self.paid_through is None or self.paid_through < self.current)
    @rule()
    def pay_next_month(self):
        month = FIRST if self.paid_through is None else add_months(self.paid_through, 1)
        self.approve(month)
        self.paid_through = month

    @precondition(lambda self: self.paid_through is not None)
    @rule()
    def adjust_last_paid_month(self):
        self.approve(self.paid_through)

    # --- invariants ----------------------------------------------------------------------------
    def window(self) -> list[dt.date]:
        """The paid months the last run could still correct."""
        if self.last_run_month is None:
            return []
        return [
            m
            for m in self.months()
            if m <= self.paid_through and 0 <= months_between(m, self.last_run_month) <= WINDOW
        ]

    @invariant()
    def paid_equals_the_model_inside_the_window(self):
        if self.last_run_month is None:
            return
        paid = paid_by_member(self.contract)
        for month in self.window():
            for member_id in self.paid_model.episodes:
                owed = self.paid_model.owed(member_id, month)
                assert paid.get((member_id, month), ZERO) == owed, (member_id, month, owed, paid)

    @invariant()
    def nothing_after_the_exit_and_never_more_than_the_case_rate(self):
        if self.last_run_month is None:
            return
        paid = paid_by_member(self.contract)
        by_member: dict[str, Decimal] = defaultdict(Decimal)
        for (member_id, _month), amount in paid.items():
            by_member[member_id] += amount
        for member_id, e in self.paid_model.episodes.items():
            assert ZERO <= by_member[member_id] <= CASE_RATES[e.tier], (member_id, by_member[member_id])
            if e.exit is not None:
                for month in self.window():
                    if month > month_of(e.exit):
                        assert paid.get((member_id, month), ZERO) == 0, (member_id, month, e.exit)

    @invariant()
    def ledger_is_the_sum_of_its_runs(self):
        if not hasattr(self, "contract"):
            return
        entries = LedgerEntry.objects.filter(contract=self.contract)
        runs = PaymentRun.objects.filter(contract=self.contract, status=PaymentRunStatus.APPROVED)
        ledger = entries.aggregate(total=Sum("amount"))["total"] or ZERO
        assert ledger == sum((r.total for r in runs), ZERO)
        for run in runs:
            assert run.total == sum((line.amount for line in run.lines.all()), ZERO)

    @invariant()
    def withheld_is_the_percentage_of_the_net_per_service_month(self):
        if self.last_run_month is None:
            return
        sums: dict[dt.date, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        rows = (
            LedgerEntry.objects.filter(contract=self.contract)
            .values("service_month", "kind")
            .annotate(amount=Sum("amount"))
        )
        for r in rows:
            sums[r["service_month"]][r["kind"]] += r["amount"]
        for month in self.window():
            s = sums[month]
            net = s[LineKind.EPISODE] + s[LineKind.RETRO_ADJUSTMENT]
            withheld = s[LineKind.WITHHOLD] + s[LineKind.WITHHOLD_ADJUSTMENT]
            assert withheld == -to_cents(WITHHOLD * net), (month, net, withheld)


def test_episode_ledger_invariants_over_random_sequences(episode_contract, provider_scope, analyst_scope):
    machine = type(
        "Machine",
        (EpisodeLedgerMachine,),
        {
            "contract_factory": staticmethod(episode_contract),
            "provider_scope": provider_scope,
            "analyst_scope": analyst_scope,
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
