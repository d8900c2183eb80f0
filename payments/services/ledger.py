"""The append-only ledger: its per-contract sequence (locked while posting), posting entries, and
posting the correction of an entry (a reversing entry plus a new one; requested and approved by two
people in ``payments.services.corrections``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Max, Q
from django.utils import timezone

from contracts.models import Contract
from core.domain.money import to_cents
from core.errors import ConflictError
from payments import recovery
from payments.models import RECOVERY_KINDS, LedgerEntry, LedgerSequence

ALREADY_REVERSED_MESSAGE = "This entry has already been reversed."
REVERSAL_NOT_CORRECTABLE_MESSAGE = (
    "A reversing entry cannot itself be corrected; correct the new entry instead."
)


def ledger_position(contract: Contract) -> int:
    """The last ledger sequence posted by a payment run or a refund: what a run's amounts depend on.

    Settlement entries (withhold returned, bonus, shared savings) change no member's paid amount, so
    settling a period leaves the runs in review valid. A refund changes the open receivable a run's
    recovery offset is computed from.
    """
    last = LedgerEntry.objects.filter(
        Q(run__isnull=False) | Q(refund__isnull=False), contract=contract
    ).aggregate(last=Max("sequence"))["last"]
    return last or 0


def open_receivable_of(contract: Contract, *, as_of: date | None = None) -> Decimal:
    """What the provider owes the plan on the ledger (posted up to the end of ``as_of``, when given):
    receivables less offsets and refunds, never below 0 (payments.recovery)."""
    entries = LedgerEntry.objects.filter(contract=contract, kind__in=RECOVERY_KINDS)
    if as_of is not None:
        entries = entries.filter(posted_at__date__lte=as_of)
    return recovery.open_receivable(entries.values_list("amount", flat=True))


def _lock_ledger(contract: Contract) -> LedgerSequence:
    LedgerSequence.objects.get_or_create(contract=contract)
    return LedgerSequence.objects.select_for_update().get(contract=contract)


def _post(sequence: LedgerSequence, entries: list[LedgerEntry]) -> None:
    """Append ``entries`` (numbered from ``sequence.last + 1``) under the locked sequence."""
    LedgerEntry.objects.bulk_create(entries)
    LedgerSequence.objects.filter(pk=sequence.pk).update(last=sequence.last + len(entries))


def _post_correction(
    sequence: LedgerSequence, entry: LedgerEntry, *, amount: Decimal, note: str, posted_by
) -> tuple[LedgerEntry, LedgerEntry]:
    """Post a reversing entry of ``entry`` and a new entry of ``amount`` under the locked sequence.

    The caller holds the ledger lock (``_lock_ledger``) and has checked that ``entry`` may be corrected
    (:func:`_check_correctable`)."""
    now = timezone.now()
    common = {
        "contract": entry.contract,
        "run": entry.run,
        "settlement": entry.settlement,
        "line": entry.line,
        "month": entry.month,
        "service_month": entry.service_month,
        "kind": entry.kind,
        "posted_by": posted_by,
        "posted_at": now,
    }
    reversal = LedgerEntry.objects.create(
        **common,
        sequence=sequence.last + 1,
        amount=-entry.amount,
        member_months=-entry.member_months,
        reverses=entry,
        description=f"Reverses #{entry.sequence}",
        note=note[:300],
    )
    replacement = LedgerEntry.objects.create(
        **common,
        sequence=sequence.last + 2,
        amount=to_cents(Decimal(amount)),
        member_months=entry.member_months,
        description=f"Corrects #{entry.sequence}",
        note=note[:300],
    )
    LedgerSequence.objects.filter(pk=sequence.pk).update(last=sequence.last + 2)
    return reversal, replacement


def _check_correctable(entry: LedgerEntry) -> None:
    """A reversing entry is never corrected (correct the new entry), and an entry is reversed once."""
    if entry.reverses_id is not None:
        raise ConflictError(REVERSAL_NOT_CORRECTABLE_MESSAGE, code="reversal_not_correctable")
    if LedgerEntry.objects.filter(reverses=entry).exists():
        raise ConflictError(ALREADY_REVERSED_MESSAGE, code="already_reversed")
