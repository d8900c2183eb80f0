"""The payment ledger over random sequences of events (issue 14's stateful test).

A hypothesis ``RuleBasedStateMachine`` plays a contract's months: members enrol (on the 1st or
mid-month), change tier, die or transfer to hospice (recorded in the roster of that month, late or
on time), rosters are resubmitted as late corrections, and payment runs (and adjustment runs of the
last paid month) are calculated by one analyst and approved by another. A plain model of the
rosters, independent of the platform, says what each member is owed for each month (``daily``
proration: days enrolled / days in the month, to six places, times the tier's PMPM, to the cent).

After every step the ledger must hold:
- paid member amounts per member and month equal what the latest roster says, for every paid month
  inside the retro window of the last run (the months outside it are listed, not paid);
- nothing is paid for a month after a member's death or hospice transfer (inside the window);
- withheld per service month equals the withhold percentage of that month's net member payments;
- the ledger's balance is the exact sum of its entries, and every approved run's total is the sum
  of its lines.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

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

from core.domain.money import to_cents
from core.domain.months import add_months, months_between
from payments import services
from payments.models import LedgerEntry, LineKind, PaymentDetail, PaymentRun, PaymentRunStatus
from tests.fixtures.contracts import second_scope
from tests.payments.conftest import calculate, member, submit_roster

pytestmark = pytest.mark.django_db

D = dt.date
FIRST = D(2026, 7, 1)
LAST = D(2026, 12, 1)
WINDOW = 3
PMPM = {"1": Decimal("300.00"), "2": Decimal("450.00"), "3": Decimal("612.35")}
WITHHOLD = Decimal("0.05")
MEMBERS = tuple(f"SM{n:04d}" for n in range(1, 6))
SIX = Decimal("0.000001")


@dataclass
class Member:
    start: dt.date
    tiers: list[tuple[dt.date, str]]  # (from month, tier), in month order
    end: dt.date | None = None
    reason: str = ""

    def tier_on(self, month: dt.date) -> str:
        return [tier for since, tier in self.tiers if since <= month][-1]

    def days(self, month: dt.date) -> int:
        last = month.replace(day=calendar.monthrange(month.year, month.month)[1])
        first_day, last_day = max(self.start, month), min(self.end or last, last)
        return max(0, (last_day - first_day).days + 1)

    def row(self, member_id: str, month: dt.date) -> dict:
        tier_from = max(since for since, _ in self.tiers if since <= month)
        # Once recorded, the end goes on every row of the member (a row running past it is refused).
        return member(
            member_id,
            start=self.start,
            end=self.end,
            reason=self.reason,
            tier=self.tier_on(month),
            tier_start=tier_from if tier_from > self.start else None,
        )


@dataclass
class Model:
    members: dict[str, Member] = field(default_factory=dict)

    def listed(self, month: dt.date) -> list[str]:
        return sorted(
            m for m, x in self.members.items() if x.start < add_months(month, 1) and x.days(month) > 0
        )

    def rows(self, month: dt.date) -> list[dict]:
        return [self.members[m].row(m, month) for m in self.listed(month)]

    def owed(self, member_id: str, month: dt.date) -> Decimal:
        x = self.members.get(member_id)
        if x is None or not x.days(month):
            return Decimal("0.00")
        days_in_month = calendar.monthrange(month.year, month.month)[1]
        member_months = (Decimal(x.days(month)) / days_in_month).quantize(SIX, rounding=ROUND_HALF_UP)
        return to_cents(member_months * PMPM[x.tier_on(month)])


def paid_by_member(contract) -> dict[tuple[str, dt.date], Decimal]:
    rows = (
        PaymentDetail.objects.filter(
            line__run__contract=contract,
            line__run__status=PaymentRunStatus.APPROVED,
            line__kind__in=[LineKind.MEMBER_MONTHS, LineKind.RETRO_ADJUSTMENT],
        )
        .values("member_id", "month")
        .annotate(amount=Sum("amount"))
    )
    # to the cent: SQLite sums decimals as floats (300.00 - 290.32 reads 9.68000000000001)
    return {(r["member_id"], r["month"]): Decimal(r["amount"]).quantize(Decimal("0.01")) for r in rows}


class LedgerMachine(RuleBasedStateMachine):
    """Fixtures (``contract_factory``, scopes) are set on a subclass by the test below."""

    contract_factory = None
    provider_scope = None
    analyst_scope = None

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint rolled back at its end: examples never see each other's data.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.model = Model()
        self.current = FIRST  # the latest month with a roster
        self.paid_through: dt.date | None = None  # the latest paid month
        self.last_run_month: dt.date | None = None
        self.ended: set[str] = set()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- setup ---------------------------------------------------------------------------------
    @initialize(tiers=st.lists(st.sampled_from(sorted(PMPM)), min_size=2, max_size=3))
    def open_contract(self, tiers):
        self.contract = type(self).contract_factory(
            proration_rule="daily", retro_window_months=WINDOW, withhold_percentage=WITHHOLD
        )
        for member_id, tier in zip(MEMBERS, tiers, strict=False):
            self.model.members[member_id] = Member(start=D(2025, 6, 1), tiers=[(D(2025, 6, 1), tier)])
        self.submit(FIRST)

    def today(self) -> dt.date:
        return add_months(self.current, 1).replace(day=5)

    def submit(self, month: dt.date) -> None:
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

    @rule(member_id=st.sampled_from(MEMBERS), day=st.integers(0, 27), tier=st.sampled_from(sorted(PMPM)))
    def enrol(self, member_id, day, tier):
        if member_id in self.model.members:
            return
        start = self.current + dt.timedelta(days=day)
        self.model.members[member_id] = Member(start=start, tiers=[(start.replace(day=1), tier)])
        self.submit(self.current)

    @rule(data=st.data(), tier=st.sampled_from(sorted(PMPM)))
    def change_tier(self, data, tier):
        """A tier change from the first of a month, late or not: every roster from then on is resubmitted."""
        alive = [m for m, x in self.model.members.items() if m not in self.ended]
        if not alive:
            return
        member_id = data.draw(st.sampled_from(sorted(alive)))
        x = self.model.members[member_id]
        months = [m for m in self.editable() if m >= x.start.replace(day=1)]
        if not months:
            return
        since = data.draw(st.sampled_from(months))
        x.tiers = [(s, t) for s, t in x.tiers if s < since] + [(since, tier)]
        for month in self.months():
            if month >= since:
                self.submit(month)

    @rule(data=st.data(), day=st.integers(0, 30), reason=st.sampled_from(["death", "hospice"]))
    def end_for_good(self, data, day, reason):
        """A death or a hospice transfer, recorded in the roster of its month (late, if that month is past):
        the platform ends the member in the later months' rosters itself."""
        # The first member stays: a roster always has a row.
        alive = [m for m, x in self.model.members.items() if m not in self.ended and m != MEMBERS[0]]
        if not alive:
            return
        member_id = data.draw(st.sampled_from(sorted(alive)))
        x = self.model.members[member_id]
        months = [m for m in self.editable() if m >= x.start.replace(day=1)]
        if not months:
            return
        month = data.draw(st.sampled_from(months))
        last_day = calendar.monthrange(month.year, month.month)[1]
        end = max(x.start, month.replace(day=min(1 + day, last_day)))
        if end >= add_months(month, 1):
            return
        x.end, x.reason = end, reason
        self.ended.add(member_id)
        self.submit(month)

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
    def paid_equals_the_latest_roster_inside_the_window(self):
        if not hasattr(self, "contract") or self.last_run_month is None:
            return
        paid = paid_by_member(self.contract)
        for month in self.window():
            for member_id in MEMBERS:
                owed = self.paid_model.owed(member_id, month)
                assert paid.get((member_id, month), Decimal("0.00")) == owed, (member_id, month, owed, paid)

    @invariant()
    def nothing_paid_after_the_end(self):
        if not hasattr(self, "contract") or self.last_run_month is None:
            return
        paid = paid_by_member(self.contract)
        for member_id, x in self.paid_model.members.items():
            if x.end is None:
                continue
            end = x.end
            for month in self.window():
                if month > end:
                    assert paid.get((member_id, month), Decimal("0.00")) == 0, (member_id, month, end)

    @invariant()
    def ledger_is_the_sum_of_its_runs(self):
        if not hasattr(self, "contract"):
            return
        entries = LedgerEntry.objects.filter(contract=self.contract)
        runs = PaymentRun.objects.filter(contract=self.contract, status=PaymentRunStatus.APPROVED)
        ledger = entries.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
        assert ledger == sum((r.total for r in runs), Decimal("0.00"))
        for run in runs:
            assert run.total == sum((line.amount for line in run.lines.all()), Decimal("0.00"))

    @invariant()
    def withheld_is_the_percentage_of_the_net_per_service_month(self):
        if not hasattr(self, "contract") or self.last_run_month is None:
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
            net = s[LineKind.MEMBER_MONTHS] + s[LineKind.RETRO_ADJUSTMENT]
            withheld = sum(
                (v for k, v in s.items() if k in ("withhold", "withhold_adjustment")), Decimal("0")
            )
            assert withheld == -to_cents(WITHHOLD * net), (month, net, withheld)


def test_ledger_invariants_over_random_sequences(contract_factory, provider_scope, analyst_scope):
    machine = type(
        "Machine",
        (LedgerMachine,),
        {
            "contract_factory": staticmethod(contract_factory),
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
