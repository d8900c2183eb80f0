"""Payment runs: request a month's run, calculate it (the Celery task's body), approve it (which
posts it to the ledger).

Every write is one transaction. A calculation writes all of a run's lines in ONE transaction, so a
worker killed part-way leaves the run ``calculating`` with no line, and the next attempt (a Celery
retry, a redelivered message, the daily sweep) calculates it from the start. Approval locks the
contract's ledger sequence and the run, re-checks that nothing the run was calculated from has
changed since (roster versions, terms, the ledger), then posts one entry per line.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.tenancy import Scope
from contracts.models import Contract
from contracts.terms import ContractTerms
from core.domain.display import money_text, percent_text
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, ConflictError, NotFoundError, month_from_input
from core.tasks import time_limit_text
from enrollment import selectors as enrollment
from payments import calc, recovery
from payments.models import (
    MEMBER_PAYMENT_KINDS,
    OPEN_STATUSES,
    LedgerEntry,
    LineKind,
    PaymentLine,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
)
from payments.services.approval import require_second_person
from payments.services.ledger import _lock_ledger, _post, open_receivable_of
from payments.services.lines import (
    _assessment_lines,
    _episode_lines,
    _member_month_lines,
    _retro_lines,
    _withhold_adjustment_lines,
)
from payments.services.plan import _terms, build_plan
from payments.states import NOT_IN_REVIEW_MESSAGE as NOT_IN_REVIEW_MESSAGE
from payments.states import PAYMENT_RUN

logger = logging.getLogger(__name__)


NO_ROSTER_MESSAGE = "The month has no accepted roster yet; a payment run needs one."
STALE_MESSAGE = (
    "The roster, the terms or the ledger changed since this run was calculated; "
    "calculate it again before approving."
)
CALCULATION_FAILED_MESSAGE = "The calculation stopped: {error}"
TIME_LIMIT_MESSAGE = (
    "The calculation took longer than the limit of {limit} for a payment run; request it again."
)


def _enqueue(run_id: int) -> None:
    from payments.tasks import calculate_run

    transaction.on_commit(lambda: calculate_run.delay(run_id))


def payment_run_start(
    *, scope: Scope, contract: Contract, month, enqueue: bool = True
) -> tuple[PaymentRun, bool]:
    """The plan asks for a month's run (API, page). Returns the run and whether anything was queued."""
    scope.require("payment.run")
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return payment_run_request(
        contract=contract, month=month_from_input(month), requested_by=scope.user, enqueue=enqueue
    )


def payment_run_request(
    *, contract: Contract, month: date, requested_by=None, enqueue: bool = True
) -> tuple[PaymentRun, bool]:
    """Queue the month's run, idempotently.

    - a run of the month being calculated is returned as it is; one in review is calculated again
      when its inputs changed since;
    - a month not paid yet gets its payment run;
    - a paid month gets an adjustment run holding only what changed, or nothing (the latest run is
      returned) when nothing did.
    """
    month = month_from_input(month)
    _terms(contract, month)
    if enrollment.current_submission(contract=contract, month=month) is None:
        raise ConflictError(
            NO_ROSTER_MESSAGE, code="no_accepted_roster", details={"month": [NO_ROSTER_MESSAGE]}
        )
    with transaction.atomic():
        open_run = (
            PaymentRun.objects.select_for_update()
            .filter(contract=contract, month=month, status__in=OPEN_STATUSES)
            .first()
        )
        if open_run is not None:
            if (
                PAYMENT_RUN.can_fire("recalculate", open_run.status)
                and build_plan(contract=contract, month=month, kind=open_run.kind).fingerprint
                != open_run.input_fingerprint
            ):
                open_run.status = PAYMENT_RUN.target("recalculate", open_run.status)
                open_run.progress_message = "Queued again: its inputs changed"
                if open_run.requested_by_id is None and requested_by is not None:
                    open_run.requested_by = requested_by  # the beat's run, now asked for by a person
                open_run.save(update_fields=["status", "progress_message", "requested_by"])
                if enqueue:
                    _enqueue(open_run.pk)
                return open_run, True
            return open_run, False
        plan = build_plan(contract=contract, month=month)
        if plan.kind == PaymentRunKind.ADJUSTMENT and not plan.changed:
            latest = (
                PaymentRun.objects.filter(contract=contract, month=month, status=PaymentRunStatus.APPROVED)
                .order_by("-number")
                .first()
            )
            return latest, False
        number = (
            PaymentRun.objects.filter(contract=contract, month=month).aggregate(n=Max("number"))["n"] or 0
        ) + 1
        try:
            with transaction.atomic():
                run = PaymentRun.objects.create(
                    contract=contract,
                    month=month,
                    number=number,
                    kind=plan.kind,
                    requested_by=requested_by,
                    progress_message="Queued",
                )
        except IntegrityError:  # another request created the month's run a moment ago
            existing = PaymentRun.objects.filter(
                contract=contract, month=month, status__in=OPEN_STATUSES
            ).first()
            if existing is None:
                raise
            return existing, False
        if enqueue:
            _enqueue(run.pk)
    return run, True


def payment_run_calculate(*, run_id: int) -> PaymentRun | None:
    """Calculate a run (the Celery task calls this). Idempotent: a run no longer ``calculating`` is
    left alone; two attempts at once are serialised by the run's row (the second finds it done)."""
    with transaction.atomic():
        started = PaymentRun.objects.filter(pk=run_id, status__in=PAYMENT_RUN.sources("calculate")).update(
            attempts=F("attempts") + 1, started_at=timezone.now(), progress_message="Calculating"
        )
    if not started:
        return PaymentRun.objects.filter(pk=run_id).first()
    try:
        with transaction.atomic():
            # A write first: it takes the run's row lock (PostgreSQL) or the write lock (SQLite) for the
            # whole calculation, so a duplicate delivery waits here and then finds the run done.
            if not PaymentRun.objects.filter(pk=run_id, status__in=PAYMENT_RUN.sources("calculate")).update(
                progress_message="Calculating"
            ):
                return PaymentRun.objects.filter(pk=run_id).first()
            run = PaymentRun.objects.select_for_update().select_related("contract").get(pk=run_id)
            _calculate(run)
            return run
    except OperationalError:
        raise  # the database: the task retries
    except ApplicationError as exc:
        return _fail(run_id, {"code": exc.code, "message": exc.message, "details": exc.details})
    except SoftTimeLimitExceeded:  # the task's soft time limit (payments.tasks); nothing was written
        logger.warning("Payment run %s stopped at its time limit", run_id)
        message = TIME_LIMIT_MESSAGE.format(limit=time_limit_text())
        return _fail(run_id, {"code": "time_limit", "message": message, "details": {}})
    except Exception as exc:
        logger.exception("Payment run %s could not be calculated", run_id)
        return _fail(
            run_id,
            {
                "code": "calculation_failed",
                "details": {},
                "message": CALCULATION_FAILED_MESSAGE.format(error=f"{type(exc).__name__}: {exc}")[:500],
            },
        )


def _fail(run_id: int, error: dict) -> PaymentRun | None:
    with transaction.atomic():
        run = PaymentRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or not PAYMENT_RUN.can_fire("fail", run.status):
            return run  # calculated meanwhile: left as it is
        run.status = PAYMENT_RUN.target("fail", run.status)
        run.error = error
        run.progress_message = f"Failed: {error['message']}"[:200]
        run.save(update_fields=["status", "error", "progress_message"])
        return run


def _calculate(run: PaymentRun) -> None:
    contract, month = run.contract, run.month
    PaymentLine.objects.filter(run=run).delete()  # an unapproved run calculated again
    plan = build_plan(contract=contract, month=month, kind=run.kind)
    terms = plan.terms
    position = [0]
    lines: list[PaymentLine] = []
    run.not_payable_assessments, run.outside_window = [], []
    if run.kind == PaymentRunKind.PAYMENT:
        submission = enrollment.current_submission(contract=contract, month=month)
        if submission is None:
            raise ApplicationError(NO_ROSTER_MESSAGE, code="no_accepted_roster")
        if not terms.pays_episodes:
            lines += _member_month_lines(run, terms, position)
        lines += _assessment_lines(run, terms, submission, position)
    lines += _episode_lines(run, plan, position) if terms.pays_episodes else _retro_lines(run, plan, position)
    member_lines = [line for line in lines if line.kind in MEMBER_PAYMENT_KINDS]
    if run.kind == PaymentRunKind.PAYMENT and terms.withhold_percentage and member_lines:
        withhold = calc.withhold_line(
            [calc.PaymentLine(calc.MEMBER_MONTH, line.amount, month) for line in member_lines],
            Decimal(terms.withhold_percentage),
            month,
        )
        position[0] += 1
        lines.append(
            PaymentLine.objects.create(
                run=run,
                kind=LineKind.WITHHOLD,
                position=position[0],
                service_month=month,
                rate=withhold.rate,
                amount=withhold.amount,
                description=f"{Decimal(terms.withhold_percentage) * 100:.2f}% of the "
                f"{'episode' if terms.pays_episodes else 'member-month'} lines",
            )
        )
    lines += _withhold_adjustment_lines(run, lines, position)
    recovery = _recovery_line(run, lines, terms, position)
    if recovery is not None:
        lines.append(recovery)
    run.total = calc.payment_total(
        calc.PaymentLine(line.kind, line.amount, line.service_month) for line in lines
    )
    run.member_months = sum((line.member_months for line in member_lines), Decimal(0))
    run.member_count = sum(line.count for line in member_lines)
    run.terms_version = terms.version
    run.inputs = {"months": plan.months}
    run.input_fingerprint = plan.fingerprint
    run.ledger_position = plan.ledger_position
    run.status = PAYMENT_RUN.target("calculate", run.status)
    run.calculated_at = timezone.now()
    run.error = None
    run.progress_message = f"Calculated: {len(lines)} lines, total {money_text(run.total)}"
    run.save()


def _recovery_line(
    run: PaymentRun, lines: list[PaymentLine], terms: ContractTerms, position: list[int]
) -> PaymentLine | None:
    """The last line of a run (docs/domain.md section 5, "Negative balances"): a month whose lines net
    below zero is carried to a receivable (the run pays 0.00); a month paying something while the
    provider owes a receivable repays up to the contract's share of it. Computed from the posted ledger
    (the ledger position is in the run's fingerprint, so a posting since makes the run stale)."""
    total = calc.payment_total(calc.PaymentLine(line.kind, line.amount, line.service_month) for line in lines)
    owed = open_receivable_of(run.contract)
    kind, amount = recovery.run_recovery_line(total, owed, terms.recovery_offset_share)
    if not amount:
        return None
    position[0] += 1
    if kind == LineKind.RECEIVABLE:
        description = f"The month nets to {money_text(total)}: carried to a receivable the provider repays"
    else:
        share = Decimal(terms.recovery_offset_share)
        description = f"Recovery of the open receivable of {money_text(owed)}" + (
            "" if share == 1 else f" (at most {percent_text(share, 2)} of the payment)"
        )
    return PaymentLine.objects.create(
        run=run,
        kind=kind,
        position=position[0],
        service_month=run.month,
        amount=amount,
        rate=None if kind == LineKind.RECEIVABLE else terms.recovery_offset_share,
        description=description[:200],
    )


def payment_run_approve(*, scope: Scope, run: PaymentRun) -> PaymentRun:
    """The plan's analyst approves a run in review: its lines are posted to the ledger, once."""
    scope.require(PAYMENT_RUN.person_permission("approve"))
    contract = run.contract
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        sequence = _lock_ledger(contract)
        run = PaymentRun.objects.select_for_update().select_related("contract").get(pk=run.pk)
        PAYMENT_RUN.check("approve", run.status)
        plan = build_plan(contract=contract, month=run.month, kind=run.kind)
        if plan.fingerprint != run.input_fingerprint:
            raise ConflictError(STALE_MESSAGE, code="run_stale")
        require_second_person(
            requested_by=run.requested_by, approved_by=scope.user, amount=run.total, contract=contract
        )
        now = timezone.now()
        entries = [
            LedgerEntry(
                contract=contract,
                run=run,
                line=line,
                sequence=sequence.last + i,
                month=run.month,
                service_month=line.service_month,
                kind=line.kind,
                amount=line.amount,
                member_months=line.member_months,
                description=line.description[:200],
                posted_by=scope.user,
                posted_at=now,
            )
            for i, line in enumerate(run.lines.order_by("position", "pk"), start=1)
        ]
        _post(sequence, entries)
        run.status = PAYMENT_RUN.target("approve", run.status)
        run.approved_by = scope.user
        run.approved_at = now
        run.progress_message = f"Approved and posted ({len(entries)} ledger entries)"
        run._change_reason = "approved"
        run.save(update_fields=["status", "approved_by", "approved_at", "progress_message"])
    return run
