"""Demo payment runs: every demo contract's months with an accepted roster are calculated (requested by
``plan_analyst``) and approved by ``plan_analyst2`` (four eyes), posted to the ledger in month order,
except the latest month, which is left in review for the second analyst to approve; the last contract has a
ledger correction requested by ``plan_analyst`` waiting for the second analyst. Skips quietly when there is
no accepted roster (no enrollment demo data yet).
"""

from __future__ import annotations

from accounts.models import Membership
from accounts.tenancy import Scope
from contracts.models import Contract
from core.errors import ApplicationError
from enrollment.selectors import submission_list
from payments import services
from payments.models import CorrectionStatus, LedgerCorrection, LedgerEntry, LineKind, PaymentRunStatus


def _scope(user, organization) -> Scope:
    return Scope(
        Membership.objects.select_related("organization", "user").get(user=user, organization=organization)
    )


def seed(ctx) -> None:
    analyst = _scope(ctx.users["plan_analyst"], ctx.plan)
    approver = _scope(ctx.users["plan_analyst2"], ctx.plan)
    for contract in Contract.objects.filter(payer=ctx.plan).order_by("pk"):
        months = sorted(
            set(
                submission_list(scope=analyst, contract=contract, current_only=True).values_list(
                    "month", flat=True
                )
            )
        )
        for i, month in enumerate(months):
            try:
                run, _created = services.payment_run_start(
                    scope=analyst, contract=contract, month=month, enqueue=False
                )
                if run.status == PaymentRunStatus.CALCULATING:
                    run = services.payment_run_calculate(run_id=run.pk)
                if run.status == PaymentRunStatus.REVIEW and i < len(months) - 1:
                    services.payment_run_approve(scope=approver, run=run)
            except ApplicationError:
                continue  # e.g. a month outside the contract: nothing to pay
    _request_a_correction(analyst)
    ctx.extra["payments_seeded"] = True


def _request_a_correction(analyst: Scope) -> None:
    """One correction waiting for the second analyst, on the last contract's first member-month entry."""
    contract = Contract.objects.filter(payer=analyst.organization).order_by("-pk").first()
    if contract is None or LedgerCorrection.objects.filter(contract=contract).exists():
        return
    entry = (
        LedgerEntry.objects.filter(contract=contract, kind=LineKind.MEMBER_MONTHS, reverses__isnull=True)
        .order_by("sequence")
        .first()
    )
    if entry is None:
        return
    try:
        services.ledger_correction_request(
            scope=analyst,
            entry=entry,
            amount=entry.amount - 10,
            reason="A member's tier was keyed one level too high for part of the month",
        )
    except ApplicationError:
        return
    assert LedgerCorrection.objects.filter(contract=contract, status=CorrectionStatus.REQUESTED).exists()
