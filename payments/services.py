"""Writes of payments: request a month's run, calculate it (the Celery task's body), approve it (which
posts it to the ledger), correct a posted entry, and the daily job that starts runs after the roster
due day.

Every write is one transaction. A calculation writes all of a run's lines in ONE transaction, so a
worker killed part-way leaves the run ``calculating`` with no line, and the next attempt (a Celery
retry, a redelivered message, the daily sweep) calculates it from the start. Approval locks the
contract's ledger sequence and the run, re-checks that nothing the run was calculated from has
changed since (roster versions, terms, the ledger), then posts one entry per line.

What was already paid for a member and month is the sum of the member's detail rows under the
member-month and adjustment lines of the contract's approved runs for that service month.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone

from accounts.tenancy import Scope
from contracts.models import Contract, ContractStatus
from contracts.selectors import terms_in_force
from contracts.terms import ContractTerms
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, ConflictError, NotFoundError
from core.money import to_cents
from enrollment import selectors as enrollment
from payments import calc, sql
from payments.models import (
    OPEN_STATUSES,
    LedgerEntry,
    LedgerSequence,
    LineKind,
    PaymentDetail,
    PaymentLine,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
    Settlement,
    SettlementKind,
    SettlementStatus,
)
from performance import selectors as performance
from performance.periods import Period

logger = logging.getLogger(__name__)

INVALID_MONTH_MESSAGE = "Give the month as YYYY-MM."
NOT_IN_FORCE_MESSAGE = "The contract was not in force in that month."
NO_ROSTER_MESSAGE = "The month has no accepted roster yet; a payment run needs one."
NOT_IN_REVIEW_MESSAGE = "Only a run in review can be approved."
STALE_MESSAGE = (
    "The roster, the terms or the ledger changed since this run was calculated; "
    "calculate it again before approving."
)
MISSING_RATE_MESSAGE = "The roster has members in rate cells the contract has no PMPM for."
MISSING_FEE_MESSAGE = "The roster has assessments in markets the contract has no assessment fee for."
ALREADY_REVERSED_MESSAGE = "This entry has already been reversed."
REVERSAL_NOT_CORRECTABLE_MESSAGE = (
    "A reversing entry cannot itself be corrected; correct the new entry instead."
)
CALCULATION_FAILED_MESSAGE = "The calculation stopped: {error}"

#: A run still ``calculating`` this long after its last attempt started is queued again by the daily job.
STALLED_AFTER = timedelta(minutes=15)
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


# --- small helpers -------------------------------------------------------------------------------


def parse_month(value) -> date:
    if isinstance(value, date):
        return value.replace(day=1)
    match = _MONTH.match(str(value or "").strip())
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900:
        return date(int(match.group(1)), int(match.group(2)), 1)
    raise ApplicationError(
        INVALID_MONTH_MESSAGE, code="invalid_month", details={"month": [INVALID_MONTH_MESSAGE]}
    )


def month_key(month: date) -> str:
    return f"{month:%Y-%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def cell_key(tier: str, market: str, lob: str) -> str:
    return f"{tier}/{market}/{lob}"


def _terms(contract: Contract, month: date) -> ContractTerms:
    try:
        return terms_in_force(contract=contract, on=month)
    except NotFoundError as exc:
        raise ApplicationError(
            NOT_IN_FORCE_MESSAGE, code="contract_not_in_force", details={"month": [NOT_IN_FORCE_MESSAGE]}
        ) from exc


def _enqueue(run_id: int) -> None:
    from payments.tasks import calculate_run

    transaction.on_commit(lambda: calculate_run.delay(run_id))


def ledger_position(contract: Contract) -> int:
    """The last ledger sequence posted by a payment run: what a run's amounts depend on.

    Settlement entries (withhold returned, bonus, shared savings) change no member's paid amount, so
    settling a period leaves the runs in review valid.
    """
    last = LedgerEntry.objects.filter(contract=contract, run__isnull=False).aggregate(last=Max("sequence"))[
        "last"
    ]
    return last or 0


def _lock_ledger(contract: Contract) -> LedgerSequence:
    LedgerSequence.objects.get_or_create(contract=contract)
    return LedgerSequence.objects.select_for_update().get(contract=contract)


def _post(sequence: LedgerSequence, entries: list[LedgerEntry]) -> None:
    """Append ``entries`` (numbered from ``sequence.last + 1``) under the locked sequence."""
    LedgerEntry.objects.bulk_create(entries)
    LedgerSequence.objects.filter(pk=sequence.pk).update(last=sequence.last + len(entries))


# --- what a run is calculated from ---------------------------------------------------------------


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


# --- requesting a run ----------------------------------------------------------------------------


def payment_run_start(
    *, scope: Scope, contract: Contract, month, enqueue: bool = True
) -> tuple[PaymentRun, bool]:
    """The plan asks for a month's run (API, page). Returns the run and whether anything was queued."""
    scope.require("payment.run")
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return payment_run_request(
        contract=contract, month=parse_month(month), requested_by=scope.user, enqueue=enqueue
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
    month = parse_month(month)
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
                open_run.status == PaymentRunStatus.REVIEW
                and build_plan(contract=contract, month=month, kind=open_run.kind).fingerprint
                != open_run.input_fingerprint
            ):
                open_run.status = PaymentRunStatus.CALCULATING
                open_run.progress_message = "Queued again: its inputs changed"
                open_run.save(update_fields=["status", "progress_message"])
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


# --- calculating a run ---------------------------------------------------------------------------


def payment_run_calculate(*, run_id: int) -> PaymentRun | None:
    """Calculate a run (the Celery task calls this). Idempotent: a run no longer ``calculating`` is
    left alone; two attempts at once are serialised by the run's row (the second finds it done)."""
    with transaction.atomic():
        started = PaymentRun.objects.filter(pk=run_id, status=PaymentRunStatus.CALCULATING).update(
            attempts=F("attempts") + 1, started_at=timezone.now(), progress_message="Calculating"
        )
    if not started:
        return PaymentRun.objects.filter(pk=run_id).first()
    try:
        with transaction.atomic():
            # A write first: it takes the run's row lock (PostgreSQL) or the write lock (SQLite) for the
            # whole calculation, so a duplicate delivery waits here and then finds the run done.
            if not PaymentRun.objects.filter(pk=run_id, status=PaymentRunStatus.CALCULATING).update(
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
        if run is None or run.status != PaymentRunStatus.CALCULATING:
            return run
        run.status = PaymentRunStatus.FAILED
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
        lines += _member_month_lines(run, terms, position)
        lines += _assessment_lines(run, terms, submission, position)
    lines += _retro_lines(run, plan, position)
    member_lines = [line for line in lines if line.kind == LineKind.MEMBER_MONTHS]
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
                description=f"{Decimal(terms.withhold_percentage) * 100:.2f}% of the member-month lines",
            )
        )
    run.total = calc.payment_total(
        calc.PaymentLine(line.kind, line.amount, line.service_month) for line in lines
    )
    run.member_months = sum((line.member_months for line in member_lines), Decimal(0))
    run.member_count = sum(line.count for line in member_lines)
    run.terms_version = terms.version
    run.inputs = {"months": plan.months}
    run.input_fingerprint = plan.fingerprint
    run.ledger_position = plan.ledger_position
    run.status = PaymentRunStatus.REVIEW
    run.calculated_at = timezone.now()
    run.error = None
    run.progress_message = f"Calculated: {len(lines)} lines, total {run.total}"
    run.save()


def _next(position: list[int]) -> int:
    position[0] += 1
    return position[0]


def _member_month_lines(run: PaymentRun, terms: ContractTerms, position: list[int]) -> list[PaymentLine]:
    """One line per rate cell (member-months x PMPM), a detail row per member under it; priced in SQL."""
    cells = sorted(terms.rates.items(), key=lambda item: (item[0].lob, item[0].tier, item[0].market))
    unpriced = PaymentLine.objects.create(
        run=run,
        kind=LineKind.MEMBER_MONTHS,
        service_month=run.month,
        description="Members in a rate cell without a PMPM",
    )
    lines = PaymentLine.objects.bulk_create(
        [
            PaymentLine(
                run=run,
                kind=LineKind.MEMBER_MONTHS,
                position=_next(position),
                service_month=run.month,
                tier=cell.tier,
                market=cell.market,
                lob=cell.lob,
                rate=rate,
                description=f"Tier {cell.tier}, {cell.market}, {cell.lob}",
            )
            for cell, rate in cells
        ]
    )
    source = enrollment.payable_member_months(contract=run.contract, month=run.month)
    sql.insert_member_details(run_id=run.pk, month=run.month, source=source, unpriced_line_id=unpriced.pk)
    totals = sql.member_line_totals(run_id=run.pk)
    if unpriced.pk in totals:
        missing = (
            PaymentDetail.objects.filter(line=unpriced)
            .order_by("tier", "market", "lob")
            .values("tier", "market", "lob")
            .distinct()
        )
        raise ApplicationError(MISSING_RATE_MESSAGE, code="missing_rate", details={"cells": list(missing)})
    kept, empty = [], [unpriced.pk]
    for line in lines:
        if line.pk not in totals:
            empty.append(line.pk)
            continue
        line.count, mm, amount = totals[line.pk]
        line.member_months, line.amount = mm.quantize(Decimal("0.000001")), to_cents(amount)
        kept.append(line)
    PaymentLine.objects.filter(pk__in=empty).delete()
    PaymentLine.objects.bulk_update(kept, ["count", "member_months", "amount"])
    return kept


def _assessment_lines(
    run: PaymentRun, terms: ContractTerms, submission, position: list[int]
) -> list[PaymentLine]:
    """One line per market of the month's payable assessments, one detail per assessment; the ones not
    payable are kept on the run with their reason."""
    by_market: dict[str, list[dict]] = defaultdict(list)
    for row in enrollment.payable_assessments(contract=run.contract, month=run.month):
        by_market[row["market"]].append(row)
    run.not_payable_assessments = [
        {
            "member_id": a.member_id,
            "assessment_date": a.assessment_date.isoformat(),
            "market": a.market,
            "outcome": a.outcome,
            "reason": a.reason,
            "message": a.message,
        }
        for a in enrollment.assessment_list(submission=submission, payable=False)
    ]
    return _assessment_lines_for(
        run, run.month, {m: [(r, 1) for r in rows] for m, rows in by_market.items()}, terms, position
    )


def _assessment_lines_for(
    run: PaymentRun,
    service_month: date,
    by_market: dict[str, list[tuple[dict, int]]],
    terms: ContractTerms,
    position: list[int],
) -> list[PaymentLine]:
    """``by_market``: market -> [(assessment row, +1 to pay | -1 to take back)]."""
    missing = sorted(set(by_market) - set(terms.assessment_fees))
    if missing:
        raise ApplicationError(
            MISSING_FEE_MESSAGE, code="missing_assessment_fee", details={"markets": missing}
        )
    lines: list[PaymentLine] = []
    details: list[tuple] = []
    for market in sorted(by_market):
        fee = Decimal(terms.assessment_fees[market])
        items = by_market[market]
        amounts = [
            sign
            * calc.assessment_line(
                row["member_id"], service_month, market, fee, assessment_date=row["assessment_date"]
            ).amount
            for row, sign in items
        ]
        adjustment = service_month != run.month or run.kind == PaymentRunKind.ADJUSTMENT
        line = PaymentLine.objects.create(
            run=run,
            kind=LineKind.ASSESSMENT,
            position=_next(position),
            service_month=service_month,
            market=market,
            count=len(items),
            rate=fee,
            amount=sum(amounts, Decimal("0.00")),
            description=(
                f"Assessments of {service_month:%Y-%m} changed since paid, {market}"
                if adjustment
                else f"Initial assessments, {market}"
            ),
        )
        lines.append(line)
        details += [
            (
                line.pk,
                row["member_id"],
                service_month,
                "",
                market,
                "",
                Decimal(0),
                amount,
                row["assessment_date"].isoformat(),
            )
            for (row, _sign), amount in zip(items, amounts, strict=True)
        ]
    sql.insert_details(details)
    return lines


def _retro_lines(run: PaymentRun, plan: Plan, position: list[int]) -> list[PaymentLine]:
    """Recomputed minus already paid, per member and month, for every paid month whose roster or terms
    changed; months older than the retro window are reported on the run, not paid. The comparison runs in
    the database (:func:`payments.sql.retro_differences`); only the members that differ come back."""
    recomputed: dict[tuple[str, date], Decimal] = {}
    paid: dict[tuple[str, date], Decimal] = {}
    info: dict[tuple[str, date], sql.Difference] = {}
    lines: list[PaymentLine] = []
    for mi in plan.changed:
        m = mi.month
        try:
            terms_m = terms_in_force(contract=run.contract, on=m)
        except NotFoundError:
            terms_m = None
        rates = {(c.tier, c.market, c.lob): rate for c, rate in terms_m.rates.items()} if terms_m else {}
        source = enrollment.payable_member_months(contract=run.contract, month=m)
        for diff in sql.retro_differences(contract_id=run.contract_id, month=m, source=source, rates=rates):
            if diff.unpriced:
                raise ApplicationError(
                    MISSING_RATE_MESSAGE,
                    code="missing_rate",
                    details={
                        "cells": [
                            {
                                "tier": diff.cell[0],
                                "market": diff.cell[1],
                                "lob": diff.cell[2],
                                "month": month_key(m),
                            }
                        ]
                    },
                )
            key = (diff.member_id, m)
            info[key] = diff
            if diff.now is not None:
                recomputed[key] = diff.now
            if diff.paid is not None:
                paid[key] = diff.paid
        if mi.role == "retro" and terms_m is not None:
            lines += _assessment_adjustments(run, m, terms_m, position)
    if run.kind == PaymentRunKind.PAYMENT:
        payment_month, window = run.month, plan.terms.retro_window_months
    else:  # an adjustment of the month itself: shift by one so that the month counts as "earlier"
        payment_month, window = next_month(run.month), plan.terms.retro_window_months + 1
    adjustments, outside = calc.retro_lines(
        recomputed, paid, payment_month=payment_month, retro_window_months=window
    )
    run.outside_window = [
        {
            "member_id": o.member_id,
            "month": month_key(o.service_month),
            "difference": str(o.difference),
            "reason": o.reason,
        }
        for o in outside
    ]
    by_month: dict[date, list[calc.PaymentLine]] = defaultdict(list)
    for adj in adjustments:
        by_month[adj.service_month].append(adj)
    details: list[tuple] = []
    for m in sorted(by_month):
        items = by_month[m]
        rows = []
        for adj in items:
            diff = info[(adj.member_id, m)]
            rows.append(
                (adj.member_id, m, *diff.cell, diff.now_member_months - diff.paid_member_months, adj.amount)
            )
        line = PaymentLine.objects.create(
            run=run,
            kind=LineKind.RETRO_ADJUSTMENT,
            position=_next(position),
            service_month=m,
            count=len(items),
            member_months=sum((r[5] for r in rows), Decimal(0)),
            amount=calc.payment_total(items),
            description=f"Roster of {m:%Y-%m} changed after it was paid",
        )
        details += [(line.pk, *row, "") for row in rows]
        lines.append(line)
    sql.insert_details(details)
    return lines


def _assessment_adjustments(
    run: PaymentRun, month: date, terms: ContractTerms, position: list[int]
) -> list[PaymentLine]:
    """Assessments of a paid month added (paid now) or removed (taken back) by a later roster version."""
    paid: dict[tuple[str, str], tuple[dict, Decimal]] = {}
    rows = (
        PaymentDetail.objects.filter(
            line__run__contract=run.contract,
            line__run__status=PaymentRunStatus.APPROVED,
            line__kind=LineKind.ASSESSMENT,
            month=month,
        )
        .values("member_id", "reference", "market")
        .annotate(amount=Sum("amount"))
    )
    for r in rows:
        if r["amount"]:
            paid[(r["member_id"], r["reference"])] = (r, Decimal(r["amount"]))
    current = {
        (r["member_id"], r["assessment_date"].isoformat()): r
        for r in enrollment.payable_assessments(contract=run.contract, month=month)
    }
    by_market: dict[str, list[tuple[dict, int]]] = defaultdict(list)
    for key, row in current.items():
        if key not in paid:
            by_market[row["market"]].append((row, 1))
    for key, (row, _amount) in paid.items():
        if key not in current:
            by_market[row["market"]].append(
                (
                    {
                        "member_id": row["member_id"],
                        "market": row["market"],
                        "assessment_date": date.fromisoformat(row["reference"]),
                    },
                    -1,
                )
            )
    return _assessment_lines_for(run, month, dict(by_market), terms, position) if by_market else []


# --- approval and the ledger ---------------------------------------------------------------------


def payment_run_approve(*, scope: Scope, run: PaymentRun) -> PaymentRun:
    """The plan's analyst approves a run in review: its lines are posted to the ledger, once."""
    scope.require("payment.approve")
    contract = run.contract
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        sequence = _lock_ledger(contract)
        run = PaymentRun.objects.select_for_update().select_related("contract").get(pk=run.pk)
        if run.status != PaymentRunStatus.REVIEW:
            raise ConflictError(
                NOT_IN_REVIEW_MESSAGE, code="run_not_in_review", details={"status": run.status}
            )
        plan = build_plan(contract=contract, month=run.month, kind=run.kind)
        if plan.fingerprint != run.input_fingerprint:
            raise ConflictError(STALE_MESSAGE, code="run_stale")
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
        run.status = PaymentRunStatus.APPROVED
        run.approved_by = scope.user
        run.approved_at = now
        run.progress_message = f"Approved and posted ({len(entries)} ledger entries)"
        run._change_reason = "approved"
        run.save(update_fields=["status", "approved_by", "approved_at", "progress_message"])
    return run


def ledger_entry_correct(
    *, scope: Scope, entry: LedgerEntry, amount: Decimal, note: str
) -> tuple[LedgerEntry, LedgerEntry]:
    """Correct a posted entry the only way the ledger allows: a reversing entry plus a new one."""
    scope.require("payment.approve")
    if entry.contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        sequence = _lock_ledger(entry.contract)
        if entry.reverses_id is not None:
            raise ConflictError(REVERSAL_NOT_CORRECTABLE_MESSAGE, code="reversal_not_correctable")
        if LedgerEntry.objects.filter(reverses=entry).exists():
            raise ConflictError(ALREADY_REVERSED_MESSAGE, code="already_reversed")
        now = timezone.now()
        common = {
            "contract": entry.contract,
            "run": entry.run,
            "settlement": entry.settlement,
            "line": entry.line,
            "month": entry.month,
            "service_month": entry.service_month,
            "kind": entry.kind,
            "posted_by": scope.user,
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


# --- the daily job -------------------------------------------------------------------------------


def due_date_for(month: date, due_day: int) -> date:
    following = next_month(month)
    last = (next_month(following) - timedelta(days=1)).day
    return following.replace(day=max(1, min(due_day, last)))


def payment_runs_start_due(*, today: date | None = None, months_back: int = 2) -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): every active contract's months past their roster due day that have an
    accepted roster and no run yet get their payment run; runs stuck ``calculating`` are queued again."""
    today = today or timezone.localdate()
    started = []
    for contract in Contract.objects.filter(status=ContractStatus.ACTIVE).order_by("pk"):
        for back in range(1, months_back + 1):
            month = add_months(today.replace(day=1), -back)
            try:
                terms = terms_in_force(contract=contract, on=month)
            except NotFoundError:
                continue
            if today <= due_date_for(month, terms.roster_due_day):
                continue
            if (
                PaymentRun.objects.filter(contract=contract, month=month)
                .exclude(status=PaymentRunStatus.FAILED)
                .exists()
            ):
                continue
            if enrollment.current_submission(contract=contract, month=month) is None:
                continue
            try:
                run, created = payment_run_request(contract=contract, month=month)
            except ApplicationError:
                logger.exception("Could not start the payment run of %s %s", contract, month)
                continue
            if created:
                started.append(f"{contract.number} {month_key(month)}")
    cutoff = timezone.now() - STALLED_AFTER
    stalled = PaymentRun.objects.filter(status=PaymentRunStatus.CALCULATING).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, requested_at__lt=cutoff)
    )
    for run_id in stalled.values_list("pk", flat=True):
        with transaction.atomic():
            _enqueue(run_id)
        started.append(f"run {run_id} queued again")
    return started


# --- settlement of a closed performance period ---------------------------------------------------

PERIOD_OPEN_MESSAGE = "The period is not over yet: settle it from {closes} on."
PERIOD_OVERLAP_MESSAGE = (
    "The contract's {other} settlement covers part of this period; settle {other} instead."
)
SETTLEMENT_NOT_IN_REVIEW_MESSAGE = "Only a settlement in review can be approved."
SETTLEMENT_STALE_MESSAGE = (
    "The performance data, the terms or the ledger changed since this settlement was "
    "calculated; settle the period again before approving."
)


@dataclass(frozen=True)
class SettlementPlan:
    """What a period earns now, what is already posted for it, and so what a settlement would post."""

    period: Period
    performance: dict[str, Any]
    earned: dict[str, Decimal]
    posted: dict[str, Decimal]
    warnings: list[dict]
    base_payments: Decimal

    @property
    def due(self) -> dict[str, Decimal]:
        return {kind: self.earned[kind] - self.posted[kind] for kind in self.earned}

    @property
    def fingerprint(self) -> str:
        p = self.performance
        document = {
            "period": self.period.code,
            "earned": {k: str(v) for k, v in self.earned.items()},
            "posted": {k: str(v) for k, v in self.posted.items()},
            "composite": p["composite_score"],
            "withheld": p["withhold"]["withheld"],
            "terms": p["contract"]["terms_version"],
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _settlement_period(contract: Contract, code: str):
    if not str(code or "").strip():
        raise ApplicationError(
            "Name the period to settle (2026-Q1, 2026, CY1, ...).",
            code="invalid_period",
            details={"period": ["Required."]},
        )
    return performance.period_of(contract, code)


def build_settlement_plan(*, contract: Contract, period) -> SettlementPlan:
    """The period's performance (performance app) and the settlement entries already on the ledger."""
    result = performance.compute_performance(contract, period, series=False)
    savings = result["shared_savings"] or {}
    earned = {
        LineKind.WITHHOLD_RETURN: Decimal(result["withhold"]["withhold_returned"]),
        LineKind.QUALITY_BONUS: Decimal(result["withhold"]["bonus"]),
        LineKind.SHARED_SAVINGS: Decimal(savings.get("shared") or 0),
    }
    sums = dict(
        LedgerEntry.objects.filter(settlement__contract=contract, settlement__period=period.code)
        .values("kind")
        .annotate(total=Sum("amount"))
        .values_list("kind", "total")
    )
    posted = {kind: to_cents(Decimal(sums.get(kind) or 0)) for kind in earned}
    warnings = []
    paid = set(
        PaymentRun.objects.filter(
            contract=contract, status=PaymentRunStatus.APPROVED, month__gte=period.start, month__lt=period.end
        ).values_list("month", flat=True)
    )
    rostered = set(
        performance.member_month_rows(contract)
        .filter(month__gte=period.start, month__lt=period.end)
        .values_list("month", flat=True)
        .distinct()
    )
    unpaid = sorted(month_key(m) for m in rostered - paid)
    if unpaid:
        warnings.append(
            {
                "code": "months_not_paid",
                "months": unpaid,
                "message": "No approved payment run yet for "
                + ", ".join(unpaid)
                + ": their withhold is not on the ledger, so it cannot be returned yet.",
            }
        )
    if result["composite_score"] is None and result["measures"]:
        warnings.append(
            {
                "code": "nothing_scored",
                "months": [],
                "message": "No measure reached its minimum denominator: the whole withhold comes back.",
            }
        )
    return SettlementPlan(
        period, result, earned, posted, warnings, to_cents(Decimal(result["withhold"]["base_payments"]))
    )


def _settlement_summary(plan: SettlementPlan) -> dict[str, Any]:
    p = plan.performance
    return {
        "period": p["period"],
        "measures": [
            {
                k: row.get(k)
                for k in (
                    "code",
                    "name",
                    "numerator",
                    "denominator",
                    "rate",
                    "target",
                    "weight",
                    "scored",
                    "met",
                )
            }
            for row in p["measures"]
        ],
        "composite_score": p["composite_score"],
        "withhold": p["withhold"],
        "shared_savings": p["shared_savings"],
        "earned": {k: str(v) for k, v in plan.earned.items()},
        "posted_before": {k: str(v) for k, v in plan.posted.items()},
    }


def _fill_settlement(settlement, plan: SettlementPlan) -> None:
    p, due = plan.performance, plan.due
    settlement.terms_version = p["contract"]["terms_version"]
    settlement.composite_score = None if p["composite_score"] is None else Decimal(p["composite_score"])
    settlement.withheld = Decimal(p["withhold"]["withheld"])
    settlement.base_payments = plan.base_payments
    settlement.earned_withhold_return = plan.earned[LineKind.WITHHOLD_RETURN]
    settlement.earned_bonus = plan.earned[LineKind.QUALITY_BONUS]
    settlement.earned_shared_savings = plan.earned[LineKind.SHARED_SAVINGS]
    settlement.withhold_return = due[LineKind.WITHHOLD_RETURN]
    settlement.bonus = due[LineKind.QUALITY_BONUS]
    settlement.shared_savings = due[LineKind.SHARED_SAVINGS]
    settlement.summary = _settlement_summary(plan)
    settlement.warnings = plan.warnings
    settlement.input_fingerprint = plan.fingerprint
    settlement.calculated_at = timezone.now()


def settlement_request(*, scope: Scope, contract: Contract, period: str, today: date | None = None):
    """The plan settles a closed period, idempotently. Returns ``(settlement, created)``.

    - a settlement in review is returned, recalculated in place when its inputs changed;
    - with nothing due since the last approved settlement, that one is returned and nothing is created;
    - otherwise a new settlement holds what is due: the first of the period, or an adjustment.
    """
    scope.require("performance.settle")
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    period = _settlement_period(contract, period)
    today = today or timezone.localdate()
    if period.end > today:
        raise ConflictError(
            PERIOD_OPEN_MESSAGE.format(closes=period.end.isoformat()),
            code="period_open",
            details={"period": period.code, "closes": period.end.isoformat()},
        )
    with transaction.atomic():
        _lock_ledger(contract)  # serialises settlements (and postings) of the contract
        overlapping = (
            Settlement.objects.filter(
                contract=contract, period_start__lt=period.end, period_end__gt=period.start
            )
            .exclude(period=period.code)
            .values_list("period", flat=True)
            .first()
        )
        if overlapping:
            raise ConflictError(
                PERIOD_OVERLAP_MESSAGE.format(other=overlapping),
                code="period_overlap",
                details={"period": period.code, "settled": overlapping},
            )
        plan = build_settlement_plan(contract=contract, period=period)
        settlements = Settlement.objects.filter(contract=contract, period=period.code)
        open_one = settlements.filter(status=SettlementStatus.REVIEW).select_for_update().first()
        if open_one is not None:
            if open_one.input_fingerprint != plan.fingerprint:
                _fill_settlement(open_one, plan)
                open_one._change_reason = "recalculated"
                open_one.save()
            return open_one, False
        latest = settlements.order_by("-number").first()
        if latest is not None and not any(plan.due.values()):
            return latest, False
        settlement = Settlement(
            contract=contract,
            period=period.code,
            period_kind=period.kind,
            period_start=period.start,
            period_end=period.end,
            number=(latest.number + 1) if latest else 1,
            kind=SettlementKind.ADJUSTMENT if latest else SettlementKind.SETTLEMENT,
            requested_by=scope.user,
        )
        _fill_settlement(settlement, plan)
        settlement.save()
    return settlement, True


def settlement_approve(*, scope: Scope, settlement):
    """The plan's analyst approves a settlement in review: each non-zero line is posted to the ledger, once."""
    scope.require("performance.settle")
    contract = settlement.contract
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        sequence = _lock_ledger(contract)
        settlement = Settlement.objects.select_for_update().select_related("contract").get(pk=settlement.pk)
        if settlement.status != SettlementStatus.REVIEW:
            raise ConflictError(
                SETTLEMENT_NOT_IN_REVIEW_MESSAGE,
                code="settlement_not_in_review",
                details={"status": settlement.status},
            )
        period = _settlement_period(contract, settlement.period)
        if (
            build_settlement_plan(contract=contract, period=period).fingerprint
            != settlement.input_fingerprint
        ):
            raise ConflictError(SETTLEMENT_STALE_MESSAGE, code="settlement_stale")
        now = timezone.now()
        service_month = add_months(settlement.period_end, -1)
        lines = [(kind, label, amount) for kind, label, amount in settlement.lines if amount]
        entries = [
            LedgerEntry(
                contract=contract,
                settlement=settlement,
                sequence=sequence.last + i,
                month=timezone.localdate().replace(day=1),
                service_month=service_month,
                kind=kind,
                amount=amount,
                description=f"{label}, {settlement.period}"[:200],
                posted_by=scope.user,
                posted_at=now,
            )
            for i, (kind, label, amount) in enumerate(lines, start=1)
        ]
        _post(sequence, entries)
        settlement.status = SettlementStatus.APPROVED
        settlement.approved_by = scope.user
        settlement.approved_at = now
        settlement._change_reason = "approved"
        settlement.save(update_fields=["status", "approved_by", "approved_at"])
    return settlement
