"""Reads of payments, scoped to the user's organisation.

The plan sees every run of its contracts; a provider sees only approved (posted) runs, their
statements and its ledger (``PaymentRun.tenant_filter``). A run in review answers 404 to a provider.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.urls import reverse

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from contracts.models import Contract
from contracts.selectors import contract_get, contract_list
from core.domain.display import member_months_text, money_text
from core.domain.money import to_cents
from core.domain.months import previous_month
from core.errors import NOT_FOUND_MESSAGE, NotFoundError, uuid_or_404
from core.models import BulkItemStatus, BulkOperation
from core.worklist import WorkItem
from enrollment.models import RosterSubmission
from payments import recovery
from payments.models import (
    MEMBER_PAYMENT_KINDS,
    MONTH_END,
    RECOVERY_KINDS,
    SETTLE_ALL,
    SETTLEMENT_KINDS,
    WITHHOLD_KINDS,
    CorrectionStatus,
    LedgerCorrection,
    LedgerEntry,
    LineKind,
    PaymentDetail,
    PaymentLine,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
    Refund,
    RefundStatus,
    Settlement,
    SettlementStatus,
)
from payments.states import LEDGER_CORRECTION, PAYMENT_RUN, REFUND, SETTLEMENT

HEAVY_FIELDS = ("inputs", "not_payable_assessments", "outside_window")
ZERO = Decimal("0.00")


def contract_for_payments(*, scope: Scope, contract_id) -> Contract:
    """A contract the scope's organisation is party to (its public id or number), else 404."""
    scope.require("payment.view")
    return contract_get(scope=scope, contract_id=contract_id)


def payment_contract_list(*, scope: Scope) -> QuerySet[Contract]:
    """The contracts with their last paid month and runs waiting for review, in one query."""
    scope.require("payment.view")
    review = Count("payment_runs", filter=Q(payment_runs__status=PaymentRunStatus.REVIEW), distinct=True)
    contracts = contract_list(scope=scope).annotate(
        last_paid=Max("payment_runs__month", filter=Q(payment_runs__status=PaymentRunStatus.APPROVED)),
        runs_in_review=review,
    )
    return contracts.filter(current_version__activated_at__isnull=False)


def run_list(*, scope: Scope, contract: Contract | None = None, status: str = "") -> QuerySet[PaymentRun]:
    scope.require("payment.view")
    runs = scoped(
        PaymentRun.objects.select_related(
            "contract__payer", "contract__provider", "approved_by", "requested_by"
        ).defer(*HEAVY_FIELDS),
        scope,
    )
    if contract is not None:
        runs = runs.filter(contract=contract)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-month", "-number")


def run_get(*, scope: Scope, run_id) -> PaymentRun:
    scope.require("payment.view")
    return get_scoped_or_404(
        PaymentRun.objects.select_related(
            "contract__payer", "contract__provider", "approved_by", "requested_by"
        ),
        scope,
        public_id=uuid_or_404(run_id),
    )


def run_actions(*, scope: Scope, run: PaymentRun) -> list[str]:
    """What the scope may do to the run now (the page shows these buttons): the actions payments.states
    declares from its status that the role may fire, on the plan's own contracts only."""
    if run.contract.payer_id != scope.organization.pk:
        return []
    return PAYMENT_RUN.actions_for(run.status, can=scope.can)


def line_list(*, run: PaymentRun) -> QuerySet[PaymentLine]:
    return PaymentLine.objects.filter(run=run).order_by("position", "pk")


def detail_list(*, run: PaymentRun, search: str = "") -> QuerySet[PaymentDetail]:
    """Member rows of a run (PHI: the caller records the access), by member then line."""
    details = PaymentDetail.objects.filter(line__run=run).select_related("line")
    if search:
        details = details.filter(member_id__icontains=search)
    return details.order_by("member_id", "line__position", "month")


def previous_run(*, run: PaymentRun) -> PaymentRun | None:
    """The payment run of the month before (approved), to compare with."""
    month = previous_month(run.month)
    return (
        PaymentRun.objects.filter(
            contract_id=run.contract_id,
            month=month,
            kind=PaymentRunKind.PAYMENT,
            status=PaymentRunStatus.APPROVED,
        )
        .order_by("-number")
        .first()
    )


def changes_since_previous_month(*, run: PaymentRun) -> dict[str, Any]:
    """What changed since the month before, per rate cell (member-months, members, amount) and in members
    (an episode contract's cells are its episode lines)."""
    previous = previous_run(run=run)
    now = {
        (line.tier, line.market, line.lob, line.phase): line
        for line in line_list(run=run).filter(kind__in=MEMBER_PAYMENT_KINDS)
    }
    before = (
        {
            (line.tier, line.market, line.lob, line.phase): line
            for line in line_list(run=previous).filter(kind__in=MEMBER_PAYMENT_KINDS)
        }
        if previous
        else {}
    )
    cells = []
    for key in sorted(set(now) | set(before)):
        a, b = before.get(key), now.get(key)
        row = {
            "tier": key[0],
            "market": key[1],
            "lob": key[2],
            "phase": key[3],
            "previous_members": a.count if a else 0,
            "members": b.count if b else 0,
            "previous_member_months": a.member_months if a else Decimal(0),
            "member_months": b.member_months if b else Decimal(0),
            "previous_amount": a.amount if a else ZERO,
            "amount": b.amount if b else ZERO,
            "rate": (b or a).rate,
            "previous_rate": a.rate if a else None,
        }
        row["difference"] = row["amount"] - row["previous_amount"]
        row["changed"] = previous is not None and (
            row["members"] != row["previous_members"]
            or row["member_months"] != row["previous_member_months"]
            or row["amount"] != row["previous_amount"]
        )
        cells.append(row)
    joined = left = None
    if previous is not None:
        mine = PaymentDetail.objects.filter(line__run=run, line__kind__in=MEMBER_PAYMENT_KINDS)
        theirs = PaymentDetail.objects.filter(line__run=previous, line__kind__in=MEMBER_PAYMENT_KINDS)
        joined = mine.exclude(member_id__in=theirs.values("member_id")).count()
        left = theirs.exclude(member_id__in=mine.values("member_id")).count()
    return {
        "previous": previous,
        "cells": cells,
        "members_joined": joined,
        "members_left": left,
        "previous_total": previous.total if previous else None,
        "total_difference": (run.total - previous.total) if previous else None,
    }


def ledger_list(*, scope: Scope, contract: Contract) -> QuerySet[LedgerEntry]:
    scope.require("payment.view")
    return (
        scoped(LedgerEntry.objects.filter(contract=contract), scope)
        .select_related("run", "settlement", "refund", "reverses")
        .order_by("sequence")
    )


def payment_history(*, scope: Scope, contract: Contract) -> dict[str, Any]:
    """Posted payments per month (from the ledger) with member-months, and the year-to-date totals."""
    scope.require("payment.view")
    entries = scoped(LedgerEntry.objects.filter(contract=contract), scope)
    rows = (
        entries.values("month")
        .order_by("month")
        .annotate(
            total=Sum("amount"),
            member_months=Sum("member_months", filter=Q(kind=LineKind.MEMBER_MONTHS)),
            member_lines=Sum("amount", filter=Q(kind__in=MEMBER_PAYMENT_KINDS)),
            assessments=Sum("amount", filter=Q(kind=LineKind.ASSESSMENT)),
            adjustments=Sum("amount", filter=Q(kind=LineKind.RETRO_ADJUSTMENT)),
            withhold=Sum("amount", filter=Q(kind__in=WITHHOLD_KINDS)),
            settlements=Sum("amount", filter=Q(kind__in=SETTLEMENT_KINDS)),
            entries=Count("pk"),
        )
    )
    months = []
    years: dict[int, dict[str, Any]] = {}
    for row in rows:
        month = {
            key: (row[key] if row[key] is not None else (Decimal(0) if key == "member_months" else ZERO))
            for key in (
                "total",
                "member_months",
                "member_lines",
                "assessments",
                "adjustments",
                "withhold",
                "settlements",
            )
        }
        month["member_months"] = Decimal(month["member_months"]).quantize(Decimal("0.000001"))
        month = {
            k: (Decimal(v).quantize(Decimal("0.01")) if k != "member_months" else v) for k, v in month.items()
        }
        month.update({"month": row["month"], "label": f"{row['month']:%Y-%m}", "entries": row["entries"]})
        year = years.setdefault(
            row["month"].year,
            {
                "year": row["month"].year,
                "total": ZERO,
                "member_months": Decimal(0),
                "months": 0,
                "withhold": ZERO,
            },
        )
        year["total"] += month["total"]
        year["member_months"] += month["member_months"]
        year["withhold"] += month["withhold"]
        year["months"] += 1
        month["ytd"] = year["total"]
        months.append(month)
    return {"months": months, "years": sorted(years.values(), key=lambda y: y["year"], reverse=True)}


def year_to_date(*, contract: Contract, month: date) -> dict[str, Decimal]:
    """Posted totals of the calendar year of ``month`` up to and including it (statements)."""
    entries = LedgerEntry.objects.filter(
        contract=contract, month__gte=date(month.year, 1, 1), month__lte=month
    )
    sums = entries.aggregate(
        total=Sum("amount"),
        member_months=Sum("member_months", filter=Q(kind=LineKind.MEMBER_MONTHS)),
        episodes=Sum("amount", filter=Q(kind=LineKind.EPISODE)),
        withhold=Sum("amount", filter=Q(kind__in=WITHHOLD_KINDS)),
        adjustments=Sum("amount", filter=Q(kind=LineKind.RETRO_ADJUSTMENT)),
        assessments=Sum("amount", filter=Q(kind=LineKind.ASSESSMENT)),
    )
    out = {k: Decimal(v or 0).quantize(Decimal("0.01")) for k, v in sums.items() if k != "member_months"}
    out["member_months"] = Decimal(sums["member_months"] or 0).quantize(Decimal("0.000001"))
    return out


def settlement_list(*, scope: Scope, contract: Contract) -> QuerySet[Settlement]:
    """A contract's settlements, latest period first (a provider sees approved ones only)."""
    scope.require("payment.view")
    return (
        scoped(Settlement.objects.filter(contract=contract), scope)
        .select_related("contract", "approved_by", "requested_by")
        .defer("summary")
        .order_by("-period_start", "-number")
    )


def settlement_get(*, scope: Scope, settlement_id) -> Settlement:
    scope.require("payment.view")
    return get_scoped_or_404(
        Settlement.objects.select_related(
            "contract__payer", "contract__provider", "approved_by", "requested_by"
        ),
        scope,
        public_id=uuid_or_404(settlement_id),
    )


def settlement_actions(*, scope: Scope, settlement: Settlement) -> list[str]:
    """What the scope may do to the settlement now: the actions payments.states declares from its status
    that the role may fire, on the plan's own contracts only."""
    if settlement.contract.payer_id != scope.organization.pk:
        return []
    return SETTLEMENT.actions_for(settlement.status, can=scope.can)


def ledger_entry_get(*, scope: Scope, contract: Contract, sequence) -> LedgerEntry:
    """The contract's entry numbered ``sequence`` (as the ledger lists it), else 404."""
    scope.require("payment.view")
    try:
        number = int(str(sequence))
    except ValueError as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    return get_scoped_or_404(
        LedgerEntry.objects.select_related("contract"), scope, contract=contract, sequence=number
    )


def correction_list(*, scope: Scope, contract: Contract) -> QuerySet[LedgerCorrection]:
    """A contract's ledger corrections, newest first (a provider sees approved ones only)."""
    scope.require("payment.view")
    return (
        scoped(LedgerCorrection.objects.filter(contract=contract), scope)
        .select_related(
            "contract", "entry", "requested_by", "approved_by", "rejected_by", "reversal", "replacement"
        )
        .order_by("-requested_at", "-pk")
    )


def correction_get(*, scope: Scope, correction_id) -> LedgerCorrection:
    scope.require("payment.view")
    return get_scoped_or_404(
        LedgerCorrection.objects.select_related(
            "contract__payer",
            "contract__provider",
            "entry",
            "requested_by",
            "approved_by",
            "rejected_by",
            "reversal",
            "replacement",
        ),
        scope,
        public_id=uuid_or_404(correction_id),
    )


def correction_actions(*, scope: Scope, correction: LedgerCorrection) -> list[str]:
    """What the scope may do to a correction now (payments.states), on the plan's own contracts only."""
    if correction.contract.payer_id != scope.organization.pk:
        return []
    return LEDGER_CORRECTION.actions_for(correction.status, can=scope.can)


def refund_list(*, scope: Scope, contract: Contract) -> QuerySet[Refund]:
    """A contract's refunds, newest first (a provider sees approved ones only)."""
    scope.require("payment.view")
    return (
        scoped(Refund.objects.filter(contract=contract), scope)
        .select_related("contract", "requested_by", "approved_by", "rejected_by")
        .order_by("-requested_at", "-pk")
    )


def refund_get(*, scope: Scope, refund_id) -> Refund:
    scope.require("payment.view")
    return get_scoped_or_404(
        Refund.objects.select_related(
            "contract__payer", "contract__provider", "requested_by", "approved_by", "rejected_by"
        ),
        scope,
        public_id=uuid_or_404(refund_id),
    )


def refund_actions(*, scope: Scope, refund: Refund) -> list[str]:
    """What the scope may do to a refund now (payments.states), on the plan's own contracts only."""
    if refund.contract.payer_id != scope.organization.pk:
        return []
    return REFUND.actions_for(refund.status, can=scope.can)


def ledger_balance(*, scope: Scope, contract: Contract, as_of: date) -> dict[str, Any]:
    """The contract's ledger at the end of ``as_of`` (entries posted up to it): what was paid (every
    entry), and the open receivable with its parts (docs/domain.md section 5, "Negative balances").

    The provider reads its own contract's ledger (LedgerEntry.tenant_filter: both parties)."""
    scope.require("payment.view")
    entries = scoped(LedgerEntry.objects.filter(contract=contract, posted_at__date__lte=as_of), scope)
    sums = entries.aggregate(
        paid=Sum("amount"),
        receivables=Sum("amount", filter=Q(kind=LineKind.RECEIVABLE)),
        offsets=Sum("amount", filter=Q(kind=LineKind.RECOVERY_OFFSET)),
        refunds=Sum("amount", filter=Q(kind=LineKind.REFUND)),
    )
    money = {k: Decimal(v or 0).quantize(Decimal("0.01")) for k, v in sums.items()}
    return {
        "contract": contract.number,
        "as_of": as_of,
        "paid": money["paid"],
        "open_receivable": recovery.open_receivable(
            [money["receivables"], money["offsets"], money["refunds"]]
        ),
        "receivables": money["receivables"],
        "offsets": money["offsets"],
        "refunds": money["refunds"],
    }


def receivable_by_month(*, scope: Scope, contract: Contract) -> list[dict[str, Any]]:
    """Per payment month with a recovery entry: what was carried, offset and refunded that month and the
    open receivable after it (the balance page's table)."""
    scope.require("payment.view")
    rows = (
        scoped(LedgerEntry.objects.filter(contract=contract, kind__in=RECOVERY_KINDS), scope)
        .values("month")
        .order_by("month")
        .annotate(
            receivables=Sum("amount", filter=Q(kind=LineKind.RECEIVABLE)),
            offsets=Sum("amount", filter=Q(kind=LineKind.RECOVERY_OFFSET)),
            refunds=Sum("amount", filter=Q(kind=LineKind.REFUND)),
        )
    )
    out, running = [], []
    for row in rows:
        month = {
            k: Decimal(row[k] or 0).quantize(Decimal("0.01")) for k in ("receivables", "offsets", "refunds")
        }
        running += list(month.values())
        out.append(
            {
                "month": row["month"],
                "label": f"{row['month']:%Y-%m}",
                **month,
                "open_receivable": recovery.open_receivable(running),
            }
        )
    return out


# --- the workspace's worklist ----------------------------------------------------------------------


def _requester(user, scope: Scope) -> str:
    if user is None:
        return "the platform"
    return "you" if user.pk == scope.membership.user_id else (user.get_full_name() or user.username)


def approval_work(*, scope: Scope) -> list[WorkItem]:
    """What waits for the plan's approval: payment runs and settlements in review, ledger corrections
    and refunds requested. One query each; only for a role the state machines let approve."""
    if not scope.is_payer:
        return []
    items: list[WorkItem] = []
    own = {"contract__payer": scope.organization}
    if "approve" in PAYMENT_RUN.actions_for(PaymentRunStatus.REVIEW, can=scope.can):
        runs = scoped(PaymentRun.objects.filter(status=PaymentRunStatus.REVIEW, **own), scope).defer(
            *HEAVY_FIELDS
        )
        for run in runs.select_related("contract__provider", "requested_by").order_by("month", "pk"):
            items.append(
                WorkItem(
                    kind="payment_run_review",
                    title=f"{run.month:%B %Y} payment, {run.contract.number} with "
                    f"{run.contract.provider.display_name}",
                    detail=f"{money_text(run.total)} for {member_months_text(run.member_months)} "
                    f"member-months; requested by {_requester(run.requested_by, scope)}.",
                    url=reverse("payment-run", kwargs={"run_id": run.public_id}),
                )
            )
    if "approve" in SETTLEMENT.actions_for(SettlementStatus.REVIEW, can=scope.can):
        settlements = scoped(Settlement.objects.filter(status=SettlementStatus.REVIEW, **own), scope)
        for settlement in settlements.select_related("contract__provider", "requested_by").order_by(
            "period_start", "pk"
        ):
            items.append(
                WorkItem(
                    kind="settlement_review",
                    title=f"{settlement.period} settlement, {settlement.contract.number} with "
                    f"{settlement.contract.provider.display_name}",
                    detail=f"{money_text(settlement.total)} to post; requested by "
                    f"{_requester(settlement.requested_by, scope)}.",
                    url=reverse("payment-settlement", kwargs={"settlement_id": settlement.public_id}),
                )
            )
    if "approve" in LEDGER_CORRECTION.actions_for(CorrectionStatus.REQUESTED, can=scope.can):
        corrections = scoped(LedgerCorrection.objects.filter(status=CorrectionStatus.REQUESTED, **own), scope)
        for correction in corrections.select_related("contract", "entry", "requested_by").order_by("pk"):
            contract = correction.contract
            items.append(
                WorkItem(
                    kind="correction_review",
                    title=f"Entry #{correction.entry.sequence} of {contract.number}",
                    detail=f"{money_text(correction.entry.amount)} → {money_text(correction.amount)}: "
                    f"{correction.reason} (requested by {_requester(correction.requested_by, scope)}).",
                    url=reverse("payment-contract-ledger", kwargs={"contract_id": contract.number}),
                )
            )
    if "approve" in REFUND.actions_for(RefundStatus.REQUESTED, can=scope.can):
        refunds = scoped(Refund.objects.filter(status=RefundStatus.REQUESTED, **own), scope)
        for refund in refunds.select_related("contract__provider", "requested_by").order_by(
            "received_on", "pk"
        ):
            contract = refund.contract
            items.append(
                WorkItem(
                    kind="refund_review",
                    title=f"Refund of {money_text(refund.amount)} from {contract.provider.display_name}",
                    detail=f"{contract.number}, received {refund.received_on:%Y-%m-%d}; requested by "
                    f"{_requester(refund.requested_by, scope)}.",
                    url=reverse("payment-contract-balance", kwargs={"contract_id": contract.number}),
                )
            )
    return items


# --- the workspace's portfolio ---------------------------------------------------------------------

_PARTY_NAMES = tuple(
    f"contract__{side}__{name}" for side in ("payer", "provider") for name in ("short_name", "legal_name")
)


def _other_party(contract: Contract, scope: Scope):
    return contract.provider if scope.is_payer else contract.payer


def paid_by_month(*, scope: Scope, since: date) -> dict[date, dict[str, Decimal]]:
    """Per payment month from ``since``, across the organisation's contracts: everything posted to the
    ledgers (member-months, assessments, withholds, recoveries, settlements) and the member-months
    billed. One query."""
    scope.require("payment.view")
    rows = (
        scoped(LedgerEntry.objects.filter(month__gte=since), scope)
        .values("month")
        .annotate(
            paid=Sum("amount"), member_months=Sum("member_months", filter=Q(kind__in=MEMBER_PAYMENT_KINDS))
        )
        .order_by("month")
    )
    return {
        row["month"]: {
            "paid": to_cents(row["paid"] or 0),
            "member_months": Decimal(row["member_months"] or 0),
        }
        for row in rows
    }


def open_recoveries(*, scope: Scope) -> list[dict[str, Any]]:
    """Each contract with money still owed back to the plan (docs/domain.md section 5, "Negative
    balances"), largest first. One query."""
    scope.require("payment.view")
    rows = (
        scoped(LedgerEntry.objects.filter(kind__in=RECOVERY_KINDS), scope)
        .values("contract__number", *_PARTY_NAMES)
        .annotate(amount=Sum("amount"))
        .order_by("contract__number")
    )
    out = []
    for row in rows:
        owed = recovery.open_receivable([to_cents(row["amount"] or 0)])
        if owed > 0:
            side = "provider" if scope.is_payer else "payer"
            out.append(
                {
                    "contract": row["contract__number"],
                    "counterparty": row[f"contract__{side}__short_name"]
                    or row[f"contract__{side}__legal_name"],
                    "open_receivable": owed,
                    "url": reverse(
                        "payment-contract-balance", kwargs={"contract_id": row["contract__number"]}
                    ),
                }
            )
    return sorted(out, key=lambda r: (-r["open_receivable"], r["contract"]))


def payments_expected(*, scope: Scope, since: date) -> list[dict[str, Any]]:
    """Months from ``since`` whose roster is accepted and in force but not paid yet (no approved payment
    run): the payments to come, with the member-months they are for. One query."""
    scope.require("payment.view")
    paid = PaymentRun.objects.filter(
        contract=OuterRef("contract"), month=OuterRef("month"), status=PaymentRunStatus.APPROVED
    )
    rosters = (
        scoped(RosterSubmission.objects.filter(is_current=True, month__gte=since), scope)
        .exclude(Exists(paid))
        .select_related("contract__payer", "contract__provider")
        .only("public_id", "month", "member_months", "member_count", "contract__number", *_PARTY_NAMES)
        .order_by("month", "contract__number")
    )
    return [
        {
            "contract": roster.contract.number,
            "counterparty": _other_party(roster.contract, scope).display_name,
            "month": roster.month,
            "member_months": roster.member_months,
            "members": roster.member_count,
            "url": reverse("roster-detail", kwargs={"submission_id": roster.public_id}),
        }
        for roster in rosters
    ]


def measures_by_contract(*, scope: Scope) -> list[dict[str, Any]]:
    """The quality measures of each contract's latest settled period (as its latest settlement recorded
    them): how many were met of those scored, and which were not. One query."""
    scope.require("payment.view")
    settlements = (
        scoped(Settlement.objects.all(), scope)
        .select_related("contract__payer", "contract__provider")
        .order_by("contract__number", "-period_start", "-number")
    )
    out, seen = [], set()
    for settlement in settlements:
        contract = settlement.contract
        if contract.pk in seen:
            continue
        seen.add(contract.pk)
        scored = [m for m in settlement.summary.get("measures", []) if m.get("scored")]
        other = _other_party(contract, scope)
        out.append(
            {
                "contract": contract.number,
                "counterparty": other.display_name,
                "period": settlement.period,
                "met": sum(1 for m in scored if m.get("met")),
                "scored": len(scored),
                "not_met": [m.get("name") or m.get("code") for m in scored if not m.get("met")],
                "url": reverse("performance-contract", kwargs={"contract_id": contract.number}),
            }
        )
    return out


def _with_counts(operations: QuerySet[BulkOperation]) -> QuerySet[BulkOperation]:
    return operations.annotate(
        total=Count("items"),
        **{f"n_{status}": Count("items", filter=Q(items__status=status)) for status in BulkItemStatus.values},
    )


def _bulk_list(scope: Scope, kind: str, newest_first: str) -> QuerySet[BulkOperation]:
    """The plan's operations of a kind, each with its items counted by status (one query)."""
    scope.require("payment.view")
    operations = scoped(BulkOperation.objects.filter(kind=kind).select_related("requested_by"), scope)
    return _with_counts(operations).order_by(newest_first, "-pk")


def _bulk_get(scope: Scope, kind: str, operation_id) -> BulkOperation:
    scope.require("payment.view")
    operations = BulkOperation.objects.filter(kind=kind).select_related("requested_by")
    return get_scoped_or_404(_with_counts(operations), scope, public_id=uuid_or_404(operation_id))


def month_end_list(*, scope: Scope) -> QuerySet[BulkOperation]:
    """The plan's month-ends, newest month first."""
    return _bulk_list(scope, MONTH_END, "-params__month")


def month_end_get(*, scope: Scope, operation_id) -> BulkOperation:
    return _bulk_get(scope, MONTH_END, operation_id)


def month_end_items(*, operation: BulkOperation) -> list[dict[str, Any]]:
    """Each contract of a month-end with its status, message and its payment run (two queries)."""
    items = list(operation.items.order_by("label", "pk"))
    run_ids = [item.result["run"] for item in items if item.result.get("run")]
    runs = {
        str(r.public_id): r
        for r in PaymentRun.objects.filter(public_id__in=run_ids).only("public_id", "status", "total")
    }
    return [{"item": item, "run": runs.get(item.result.get("run", ""))} for item in items]


def settlement_all_list(*, scope: Scope) -> QuerySet[BulkOperation]:
    """The plan's period settlements for every contract, newest period first."""
    return _bulk_list(scope, SETTLE_ALL, "-params__period")


def settlement_all_get(*, scope: Scope, operation_id) -> BulkOperation:
    return _bulk_get(scope, SETTLE_ALL, operation_id)


def settlement_all_items(*, operation: BulkOperation) -> list[dict[str, Any]]:
    """Each contract of a period settlement with its status, message and settlement (two queries)."""
    items = list(operation.items.order_by("label", "pk"))
    ids = [item.result["settlement"] for item in items if item.result.get("settlement")]
    settlements = {
        str(s.public_id): s
        for s in Settlement.objects.filter(public_id__in=ids).only("public_id", "status", "total", "period")
    }
    return [
        {"item": item, "settlement": settlements.get(item.result.get("settlement", ""))} for item in items
    ]


def month_end_progress(operation: BulkOperation) -> dict[str, int]:
    """Counts by status and the share finished, from the annotations of ``month_end_list``/``_get`` (and
    ``settlement_all_list``/``_get``: any bulk operation counted by ``_with_counts``)."""
    counts = {status: getattr(operation, f"n_{status}") for status in BulkItemStatus.values}
    finished = operation.total - counts[BulkItemStatus.PENDING]
    percent = 100 * finished // operation.total if operation.total else 100
    return {"total": operation.total, **counts, "finished": finished, "percent": percent}
