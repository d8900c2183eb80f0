"""A workspace per role (issue 16): the worklist (what needs this user now, gathered from each app's
worklist selector) and the portfolio across the organisation's contracts (members, money by month,
open recoveries, payments to come, measures). Every read goes through the apps' scoped selectors;
the number of queries does not grow with the number of contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.tenancy import Scope
from contracts.selectors import contract_work
from core.domain.money import to_cents
from core.domain.months import shift_month
from core.worklist import WorkItem, ordered
from enrollment.selectors import enrolled_by_month, roster_work
from payments.selectors import (
    approval_work,
    measures_by_contract,
    open_recoveries,
    paid_by_month,
    payments_expected,
)
from pricing.selectors import stalled_run_work

#: The portfolio's months: this one and the eleven before it.
PORTFOLIO_MONTHS = 12


@dataclass
class Workspace:
    worklist: list[WorkItem]
    months: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    expected: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)


def worklist(*, scope: Scope, today: date | None = None) -> list[WorkItem]:
    """Everything the user's role can act on now, urgent first (core.worklist.ordered)."""
    today = today or timezone.localdate()
    return ordered(
        [
            *roster_work(scope=scope, today=today),
            *contract_work(scope=scope),
            *approval_work(scope=scope),
            *stalled_run_work(scope=scope),
        ]
    )


def _months(scope: Scope, since: date) -> list[dict[str, Any]]:
    """Members and money per month, newest first; PMPM is what was posted over the member-months billed."""
    enrolled = enrolled_by_month(scope=scope, since=since)
    paid = paid_by_month(scope=scope, since=since)
    rows = []
    for month in sorted(set(enrolled) | set(paid), reverse=True):
        people = enrolled.get(month, {})
        money = paid.get(month, {})
        billed = money.get("member_months") or Decimal(0)
        rows.append(
            {
                "month": month,
                "members": people.get("members", 0),
                "member_months": people.get("member_months") or Decimal(0),
                "paid": money.get("paid", Decimal("0.00")),
                "billed_member_months": billed,
                "pmpm": to_cents(money["paid"] / billed) if billed else None,
            }
        )
    return rows


def workspace_for(*, scope: Scope, today: date | None = None) -> Workspace:
    today = today or timezone.localdate()
    since = shift_month(today.replace(day=1), -(PORTFOLIO_MONTHS - 1))
    return Workspace(
        worklist=worklist(scope=scope, today=today),
        months=_months(scope, since),
        recoveries=open_recoveries(scope=scope),
        expected=payments_expected(scope=scope, since=since),
        measures=measures_by_contract(scope=scope),
    )
