"""Ledger corrections: an analyst of the plan requests the correction of a posted entry with a reason;
another approves it (four eyes, ``payments.services.approval``), which posts the reversing entry and the
new one in one transaction, or rejects it. The request and its decision are kept (with their history)
as the audit trail; the ledger itself only ever gains entries (docs/domain.md section 5, "Four eyes on money").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.tenancy import Scope
from core.domain.money import to_cents
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, ConflictError, NotFoundError
from payments.models import CorrectionStatus, LedgerCorrection, LedgerEntry
from payments.services.approval import require_second_person
from payments.services.ledger import _check_correctable, _lock_ledger, _post_correction
from payments.states import LEDGER_CORRECTION

REASON_REQUIRED_MESSAGE = "Say why the entry is corrected: the reason is kept with the ledger."
INVALID_AMOUNT_MESSAGE = "The corrected amount must be an amount in dollars and cents, e.g. 290.00."
UNCHANGED_MESSAGE = "The corrected amount is the entry's amount: there is nothing to correct."
CORRECTION_OPEN_MESSAGE = (
    "A correction of this entry is already waiting for approval: approve or reject it first."
)
MAX_AMOUNT = Decimal("999999999999.99")


def _amount(value) -> Decimal:
    if isinstance(value, float | bool) or value in (None, ""):
        raise ApplicationError(
            INVALID_AMOUNT_MESSAGE, code="invalid_amount", details={"amount": [INVALID_AMOUNT_MESSAGE]}
        )
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or abs(amount) > MAX_AMOUNT or amount != to_cents(amount):
        raise ApplicationError(
            INVALID_AMOUNT_MESSAGE, code="invalid_amount", details={"amount": [INVALID_AMOUNT_MESSAGE]}
        )
    return to_cents(amount)


def _own(scope: Scope, contract) -> None:
    """Only the plan that pays the contract corrects its ledger (the provider: not found)."""
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)


def ledger_correction_request(*, scope: Scope, entry: LedgerEntry, amount, reason: str) -> LedgerCorrection:
    """Ask for ``entry`` to be corrected to ``amount``, with a reason; nothing is posted yet."""
    scope.require("payment.correct")
    _own(scope, entry.contract)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            REASON_REQUIRED_MESSAGE, code="reason_required", details={"reason": [REASON_REQUIRED_MESSAGE]}
        )
    amount = _amount(amount)
    if amount == entry.amount:
        raise ApplicationError(
            UNCHANGED_MESSAGE, code="correction_unchanged", details={"amount": [UNCHANGED_MESSAGE]}
        )
    with transaction.atomic():
        _lock_ledger(entry.contract)  # serialised with postings: the entry's state cannot change under us
        _check_correctable(entry)
        if LedgerCorrection.objects.filter(entry=entry, status=CorrectionStatus.REQUESTED).exists():
            raise ConflictError(CORRECTION_OPEN_MESSAGE, code="correction_open")
        try:
            with transaction.atomic():
                correction = LedgerCorrection(
                    contract=entry.contract,
                    entry=entry,
                    amount=amount,
                    reason=reason[:300],
                    requested_by=scope.user,
                )
                correction._change_reason = "requested"
                correction.save()
        except IntegrityError:  # the one-open-per-entry constraint, on a race the lock did not cover
            raise ConflictError(CORRECTION_OPEN_MESSAGE, code="correction_open") from None
    return correction


def _locked(correction: LedgerCorrection) -> LedgerCorrection:
    return (
        LedgerCorrection.objects.select_for_update().select_related("entry", "contract").get(pk=correction.pk)
    )


def ledger_correction_approve(*, scope: Scope, correction: LedgerCorrection) -> LedgerCorrection:
    """A second analyst approves: the reversal and the new entry are posted together, once.

    Four eyes weighs the correction's effect on the ledger (the new amount less the entry's), which is
    the money it moves."""
    scope.require(LEDGER_CORRECTION.person_permission("approve"))
    _own(scope, correction.contract)
    with transaction.atomic():
        sequence = _lock_ledger(correction.contract)
        correction = _locked(correction)
        LEDGER_CORRECTION.check("approve", correction.status)
        entry = correction.entry
        require_second_person(
            requested_by=correction.requested_by,
            approved_by=scope.user,
            amount=correction.amount - entry.amount,
            contract=correction.contract,
        )
        _check_correctable(entry)  # posted since by another path: refused, the request stays open
        reversal, replacement = _post_correction(
            sequence, entry, amount=correction.amount, note=correction.reason, posted_by=scope.user
        )
        correction.status = LEDGER_CORRECTION.target("approve", correction.status)
        correction.approved_by, correction.approved_at = scope.user, timezone.now()
        correction.reversal, correction.replacement = reversal, replacement
        correction._change_reason = "approved"
        correction.save(update_fields=["status", "approved_by", "approved_at", "reversal", "replacement"])
    return correction


def ledger_correction_reject(
    *, scope: Scope, correction: LedgerCorrection, reason: str = ""
) -> LedgerCorrection:
    """Reject a requested correction (the requester may withdraw their own): nothing is posted."""
    scope.require(LEDGER_CORRECTION.person_permission("reject"))
    _own(scope, correction.contract)
    with transaction.atomic():
        correction = _locked(correction)
        LEDGER_CORRECTION.check("reject", correction.status)
        correction.status = LEDGER_CORRECTION.target("reject", correction.status)
        correction.rejected_by, correction.rejected_at = scope.user, timezone.now()
        correction.rejection_reason = (reason or "").strip()[:300]
        correction._change_reason = "rejected"
        correction.save(update_fields=["status", "rejected_by", "rejected_at", "rejection_reason"])
    return correction


def ledger_entry_correct(
    *, scope: Scope, entry: LedgerEntry, amount: Decimal, note: str
) -> tuple[LedgerEntry, LedgerEntry]:
    """Request and approve a correction as one person: allowed only under the contract's single-approval
    limit (four eyes); otherwise request it and let a second analyst approve it."""
    with transaction.atomic():
        correction = ledger_correction_request(scope=scope, entry=entry, amount=amount, reason=note)
        correction = ledger_correction_approve(scope=scope, correction=correction)
    return correction.reversal, correction.replacement
