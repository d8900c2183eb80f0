"""Refunds received: the provider pays back (part of) what it owes the plan on the ledger (an open
receivable, docs/domain.md section 5, "Negative balances"). An analyst of the plan records the refund;
another approves it (four eyes, ``payments.services.approval``), which posts one ``refund`` entry of
-amount, or rejects it. Like ledger corrections, the record and its decision are kept with their history.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.tenancy import Scope
from contracts.models import Contract
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError
from payments import recovery
from payments.models import LedgerEntry, LineKind, Refund
from payments.services.approval import require_second_person
from payments.services.corrections import _amount
from payments.services.ledger import _lock_ledger, _post, open_receivable_of
from payments.states import REFUND

REFUND_REASON_REQUIRED_MESSAGE = "Say what the refund is for: the reason is kept with the ledger."
REFUND_DATE_MESSAGE = "The date the refund was received, e.g. 2026-03-15 (not in the future)."
REFUND_ABOVE_RECEIVABLE_MESSAGE = (
    "A refund cannot be more than the provider owes on the ledger: the open receivable is {owed}."
)
REFUND_AMOUNT_MESSAGE = "A refund is an amount in dollars and cents, more than 0, e.g. 120.00."


def _own(scope: Scope, contract: Contract) -> None:
    """Only the plan that pays the contract records refunds (the provider: not found)."""
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)


def _received_on(value) -> date:
    if isinstance(value, date):
        received = value
    else:
        try:
            received = date.fromisoformat(str(value or "").strip())
        except ValueError:
            received = None
    if received is None or received > timezone.localdate():
        raise ApplicationError(
            REFUND_DATE_MESSAGE, code="invalid_date", details={"received_on": [REFUND_DATE_MESSAGE]}
        )
    return received


def _check_amount(amount, owed) -> None:
    """The pure rule (payments.recovery): 0 < amount <= the open receivable, as a 400 with its code."""
    try:
        recovery.refund_amount(amount, owed)
    except recovery.RecoveryError as exc:
        if exc.code == "refund_above_receivable":
            message = REFUND_ABOVE_RECEIVABLE_MESSAGE.format(owed=owed)
            details = {"amount": [message], "open_receivable": str(owed)}
        else:
            message, details = REFUND_AMOUNT_MESSAGE, {"amount": [REFUND_AMOUNT_MESSAGE]}
        raise ApplicationError(message, code=exc.code, details=details) from None


def refund_request(
    *, scope: Scope, contract: Contract, amount, received_on, reason: str, reference: str = ""
) -> Refund:
    """Record a refund received; nothing is posted until a second analyst approves it."""
    scope.require("payment.correct")
    _own(scope, contract)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            REFUND_REASON_REQUIRED_MESSAGE,
            code="reason_required",
            details={"reason": [REFUND_REASON_REQUIRED_MESSAGE]},
        )
    try:
        amount = _amount(amount)
    except ApplicationError:
        raise ApplicationError(
            REFUND_AMOUNT_MESSAGE, code="invalid_amount", details={"amount": [REFUND_AMOUNT_MESSAGE]}
        ) from None
    received = _received_on(received_on)
    with transaction.atomic():
        _lock_ledger(contract)  # serialised with postings: the open receivable cannot change under us
        _check_amount(amount, open_receivable_of(contract))
        refund = Refund(
            contract=contract,
            amount=amount,
            received_on=received,
            reference=(reference or "").strip()[:80],
            reason=reason[:300],
            requested_by=scope.user,
        )
        refund._change_reason = "requested"
        refund.save()
    return refund


def _locked(refund: Refund) -> Refund:
    return Refund.objects.select_for_update().select_related("contract").get(pk=refund.pk)


def refund_approve(*, scope: Scope, refund: Refund) -> Refund:
    """A second analyst approves: the refund is posted to the ledger (-amount), once.

    The open receivable is checked again under the ledger lock: a payment run's offset approved since
    the request may have cleared part of it (then: 400, the request stays open to be rejected)."""
    scope.require(REFUND.person_permission("approve"))
    _own(scope, refund.contract)
    with transaction.atomic():
        sequence = _lock_ledger(refund.contract)
        refund = _locked(refund)
        REFUND.check("approve", refund.status)
        require_second_person(
            requested_by=refund.requested_by,
            approved_by=scope.user,
            amount=refund.amount,
            contract=refund.contract,
        )
        _check_amount(refund.amount, open_receivable_of(refund.contract))
        now = timezone.now()
        month = refund.received_on.replace(day=1)
        _post(
            sequence,
            [
                LedgerEntry(
                    contract=refund.contract,
                    refund=refund,
                    sequence=sequence.last + 1,
                    month=month,
                    service_month=month,
                    kind=LineKind.REFUND,
                    amount=-refund.amount,
                    description=f"Refund received {refund.received_on:%Y-%m-%d}"
                    + (f", {refund.reference}" if refund.reference else ""),
                    note=refund.reason,
                    posted_by=scope.user,
                    posted_at=now,
                )
            ],
        )
        refund.status = REFUND.target("approve", refund.status)
        refund.approved_by, refund.approved_at = scope.user, now
        refund._change_reason = "approved"
        refund.save(update_fields=["status", "approved_by", "approved_at"])
    return refund


def refund_reject(*, scope: Scope, refund: Refund, reason: str = "") -> Refund:
    """Reject a recorded refund (the requester may withdraw their own): nothing is posted."""
    scope.require(REFUND.person_permission("reject"))
    _own(scope, refund.contract)
    with transaction.atomic():
        refund = _locked(refund)
        REFUND.check("reject", refund.status)
        refund.status = REFUND.target("reject", refund.status)
        refund.rejected_by, refund.rejected_at = scope.user, timezone.now()
        refund.rejection_reason = (reason or "").strip()[:300]
        refund._change_reason = "rejected"
        refund.save(update_fields=["status", "rejected_by", "rejected_at", "rejection_reason"])
    return refund
