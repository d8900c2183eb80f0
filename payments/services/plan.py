"""What a payment run is calculated from: the month's roster and terms, and every paid month whose
roster or terms changed since it was paid. The plan's fingerprint is what approval re-checks.

What was already paid for a member and month is the sum of the member's detail rows under the
member-month and adjustment lines of the contract's approved runs for that service month.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts.models import Contract
from contracts.selectors import terms_in_force
from contracts.terms import ContractTerms
from core.errors import ApplicationError, NotFoundError
from enrollment import selectors as enrollment
from payments.models import PaymentRun, PaymentRunKind, PaymentRunStatus
from payments.services.ledger import ledger_position
from payments.services.months import month_key, months_between, parse_month

NOT_IN_FORCE_MESSAGE = "The contract was not in force in that month."


def _terms(contract: Contract, month: date) -> ContractTerms:
    try:
        return terms_in_force(contract=contract, on=month)
    except NotFoundError as exc:
        raise ApplicationError(
            NOT_IN_FORCE_MESSAGE, code="contract_not_in_force", details={"month": [NOT_IN_FORCE_MESSAGE]}
        ) from exc


@dataclass(frozen=True)
class MonthInput:
    month: date
    submission_id: int | None
    version: int | None
    terms: str
    role: str = "current"  # current | retro | outside

    def as_dict(self) -> dict[str, Any]:
        return {
            "submission": self.submission_id,
            "version": self.version,
            "terms": self.terms,
            "role": self.role,
        }


@dataclass
class Plan:
    contract: Contract
    month: date
    kind: str
    terms: ContractTerms
    current: MonthInput | None
    changed: list[MonthInput] = field(default_factory=list)
    ledger_position: int = 0

    @property
    def months(self) -> dict[str, dict]:
        months = {month_key(m.month): m.as_dict() for m in self.changed}
        if self.current is not None:
            months[month_key(self.current.month)] = self.current.as_dict()
        return dict(sorted(months.items()))

    @property
    def fingerprint(self) -> str:
        document = {
            "kind": self.kind,
            "month": month_key(self.month),
            "months": self.months,
            "ledger": self.ledger_position,
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _month_input(contract: Contract, month: date, role: str = "current") -> MonthInput:
    submission = enrollment.current_submission(contract=contract, month=month)
    try:
        terms = terms_in_force(contract=contract, on=month)
        terms_id = f"v{terms.version}:{terms.fingerprint}"
    except NotFoundError:
        terms_id = ""
    return MonthInput(
        month,
        submission.pk if submission else None,
        submission.version if submission else None,
        terms_id,
        role,
    )


def paid_state(contract: Contract) -> dict[str, dict]:
    """Per service month, the roster version and terms the contract's approved runs last paid it from."""
    state: dict[str, dict] = {}
    runs = PaymentRun.objects.filter(contract=contract, status=PaymentRunStatus.APPROVED).order_by(
        "approved_at", "pk"
    )
    for inputs in runs.values_list("inputs", flat=True):
        state.update((inputs or {}).get("months", {}))
    return state


def build_plan(*, contract: Contract, month: date, kind: str | None = None) -> Plan:
    """The inputs of a run for ``month``: its own roster (a payment) and every paid month whose roster or
    terms changed since it was paid (inside the retro window: adjusted; older: reported, not paid)."""
    terms = _terms(contract, month)
    if kind is None:
        paid = PaymentRun.objects.filter(
            contract=contract, month=month, status=PaymentRunStatus.APPROVED
        ).exists()
        kind = PaymentRunKind.ADJUSTMENT if paid else PaymentRunKind.PAYMENT
    current = _month_input(contract, month) if kind == PaymentRunKind.PAYMENT else None
    changed = []
    for key, before in paid_state(contract).items():
        m = parse_month(key)
        if m > month or (m == month and kind == PaymentRunKind.PAYMENT):
            continue
        now = _month_input(contract, m)
        if (now.submission_id, now.terms) == (before.get("submission"), before.get("terms")):
            continue
        role = "retro" if months_between(m, month) <= terms.retro_window_months else "outside"
        changed.append(MonthInput(m, now.submission_id, now.version, now.terms, role))
    changed.sort(key=lambda mi: mi.month)
    return Plan(contract, month, kind, terms, current, changed, ledger_position(contract))
