"""Demo payment runs: every demo contract's months with an accepted roster are calculated (requested by
``plan_analyst``) and approved by ``plan_analyst2`` (four eyes), posted to the ledger in month order,
except the latest month, which is left in review for the second analyst to approve; the last contract has a
ledger correction requested by ``plan_analyst`` waiting for the second analyst, and a negative balance: its
provider corrects the oldest paid month's roster (a member taken off), the adjustment run of that month nets
below zero and carries it to a receivable (approved), the month in review is calculated again with a recovery
offset, and a refund of part of it is recorded, waiting for the second analyst. Last, the latest month's
month-end (each contract's run of that month, found in review). Skips quietly when there is
no accepted roster (no enrollment demo data yet).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from contracts.models import Contract
from core.bulk import bulk_item_run
from core.domain.money import to_cents
from core.errors import ApplicationError
from enrollment import services as enrollment_services
from enrollment.selectors import current_submission, submission_list
from payments import services
from payments.models import (
    CorrectionStatus,
    LedgerCorrection,
    LedgerEntry,
    LineKind,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
    Refund,
)


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
    _carry_and_recover(analyst, approver)
    _month_end(analyst)
    ctx.extra["payments_seeded"] = True


def _month_end(analyst: Scope) -> None:
    """The latest month's month-end, its items done here (each finds its contract's run in review)."""
    latest = PaymentRun.objects.filter(contract__payer=analyst.organization).order_by("-month").first()
    if latest is None:
        return
    _operation, queued = services.month_end_start(scope=analyst, month=latest.month)
    for item in queued:
        bulk_item_run(item_id=item.pk)


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


def _without_last_member(data: bytes) -> bytes:
    """The roster CSV ``data`` without the rows of its last member (a member sent by mistake)."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    if len({row["member_id"] for row in rows}) < 2:
        return data
    dropped = rows[-1]["member_id"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in rows if row["member_id"] != dropped)
    return out.getvalue().encode("utf-8")


def _carry_and_recover(analyst: Scope, approver: Scope) -> None:
    """On the last contract: a negative adjustment carried to a receivable, recovered by the month in review,
    and a refund recorded (once: skipped when the contract has a refund)."""
    contract = Contract.objects.filter(payer=analyst.organization).order_by("-pk").first()
    if contract is None or Refund.objects.filter(contract=contract).exists():
        return
    paid = (
        PaymentRun.objects.filter(
            contract=contract, kind=PaymentRunKind.PAYMENT, status=PaymentRunStatus.APPROVED
        )
        .order_by("month")
        .first()
    )
    in_review = PaymentRun.objects.filter(contract=contract, status=PaymentRunStatus.REVIEW).first()
    admin = Membership.objects.filter(organization=contract.provider, role=Role.ADMIN).first()
    submission = current_submission(contract=contract, month=paid.month) if paid else None
    if paid is None or in_review is None or admin is None or submission is None:
        return
    with submission.file.open("rb") as roster:
        corrected = _without_last_member(roster.read())
    assessments = None
    if submission.assessments_file:
        with submission.assessments_file.open("rb") as f:
            assessments = ContentFile(f.read(), name="assessments.csv")
    try:
        enrollment_services.roster_submit(
            scope=Scope(admin),
            contract=contract,
            month=paid.month,
            file=ContentFile(corrected, name=f"{contract.number}-{paid.month:%Y-%m}-roster-corrected.csv"),
            assessments_file=assessments,
            run_inline=True,
        )
        adjustment, _ = services.payment_run_start(
            scope=analyst, contract=contract, month=paid.month, enqueue=False
        )
        if adjustment.status == PaymentRunStatus.CALCULATING:
            adjustment = services.payment_run_calculate(run_id=adjustment.pk)
        if not adjustment.lines.filter(kind=LineKind.RECEIVABLE).exists():
            return  # nothing carried: no receivable to show
        services.payment_run_approve(scope=approver, run=adjustment)
        run, _ = services.payment_run_start(
            scope=analyst, contract=contract, month=in_review.month, enqueue=False
        )
        if run.status == PaymentRunStatus.CALCULATING:
            services.payment_run_calculate(run_id=run.pk)
        owed = services.open_receivable_of(contract)
        if owed > 0:
            services.refund_request(
                scope=analyst,
                contract=contract,
                amount=max(to_cents(owed / 2), Decimal("0.01")),
                received_on=timezone.localdate(),
                reference="CHK 40125",
                reason="The provider's cheque for part of the member taken off the roster",
            )
    except ApplicationError:
        return
