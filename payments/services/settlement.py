"""Settlement of a closed performance period: what it earns (performance app, through the port
``payments.settlement_source``: payments never imports it, ADR 0006), what is already posted for it,
and approval posting the difference to the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.tenancy import Scope
from contracts.models import Contract
from contracts.rules import percent
from core.domain.canonical import canonical_json_spaced, sha256_hex
from core.domain.money import round_half_up, to_cents
from core.domain.months import month_key, shift_month
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, ConflictError, NotFoundError
from payments.models import (
    LedgerEntry,
    LineKind,
    PaymentRun,
    PaymentRunStatus,
    Settlement,
    SettlementKind,
)
from payments.services.approval import require_second_person
from payments.services.ledger import _lock_ledger, _post
from payments.settlement_source import SettlementPeriod, performance
from payments.states import SETTLEMENT
from payments.states import SETTLEMENT_NOT_IN_REVIEW_MESSAGE as SETTLEMENT_NOT_IN_REVIEW_MESSAGE

PERIOD_OPEN_MESSAGE = "The period is not over yet: settle it from {closes} on."
RUN_OUT_MESSAGE = (
    "The period's claims are still coming in: the contract's {months}-month run-out ends on {until}; "
    "settle it from then on."
)
NO_CLAIMS_MESSAGE = (
    "The contract settles a period only once {threshold} of its claims cost is paid, and the plan has sent "
    "no claims to measure that by (or their completion is still being computed)."
)
CLAIMS_INCOMPLETE_MESSAGE = (
    "Only {completion} of the period's completed claims cost is paid (valued at {valued_at}); the contract "
    "settles at {threshold}. Settle it once more claims are in."
)
PERIOD_OVERLAP_MESSAGE = (
    "The contract's {other} settlement covers part of this period; settle {other} instead."
)
SETTLEMENT_STALE_MESSAGE = (
    "The performance data, the terms or the ledger changed since this settlement was "
    "calculated; settle the period again before approving."
)


@dataclass(frozen=True)
class SettlementPlan:
    """What a period earns now, what is already posted for it, and so what a settlement would post."""

    period: SettlementPeriod
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
        # stored on the settlement and compared on approval: the spelling it was first hashed with
        return sha256_hex(canonical_json_spaced(document))


def _settlement_period(contract: Contract, code: str):
    if not str(code or "").strip():
        raise ApplicationError(
            "Name the period to settle (2026-Q1, 2026, CY1, ...).",
            code="invalid_period",
            details={"period": ["Required."]},
        )
    return performance().period_of(contract, code)


def build_settlement_plan(*, contract: Contract, period) -> SettlementPlan:
    """The period's performance (performance app) and the settlement entries already on the ledger."""
    result = performance().compute_performance(contract, period, series=False)
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
        performance()
        .member_month_rows(contract)
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


def _require_run_out_over(result: dict[str, Any], today: date) -> None:
    """The contract's run-out (docs/domain.md "Run-out and completion"): a period is settled only after
    its run-out months, and once the share of its completed claims cost it names is paid. A later
    settlement of the same period (an adjustment) is the true-up, when more claims are in."""
    run_out = result.get("run_out") or {}
    period = result["period"]["code"]
    settles_from = date.fromisoformat(run_out["settles_from"]) if run_out.get("settles_from") else None
    if settles_from is not None and settles_from > today:
        raise ConflictError(
            RUN_OUT_MESSAGE.format(months=run_out["months"], until=settles_from.isoformat()),
            code="run_out_not_over",
            details={"period": period, "settles_from": settles_from.isoformat()},
        )
    threshold = run_out.get("completion_threshold")
    if not threshold:
        return
    completion = result.get("claims_completion")
    if completion is None:
        raise ConflictError(
            NO_CLAIMS_MESSAGE.format(threshold=percent(threshold)),
            code="claims_incomplete",
            details={"period": period, "completion_threshold": threshold, "completion": None},
        )
    share = completion["total"]["completion"]
    if Decimal(share) < Decimal(threshold):
        raise ConflictError(
            CLAIMS_INCOMPLETE_MESSAGE.format(
                completion=f"{round_half_up(Decimal(share) * 100, 1)}%",
                threshold=percent(threshold),
                valued_at=completion["valued_at"],
            ),
            code="claims_incomplete",
            details={"period": period, "completion_threshold": threshold, "completion": share},
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
        # What the claims were at settlement: a later adjustment (the true-up) shows what more came in.
        "claims_completion": p.get("claims_completion"),
        "run_out": p.get("run_out"),
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
        _require_run_out_over(plan.performance, today)
        settlements = Settlement.objects.filter(contract=contract, period=period.code)
        # The one still open to recalculation (in review), recalculated in place.
        open_one = (
            settlements.filter(status__in=SETTLEMENT.sources("recalculate")).select_for_update().first()
        )
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
    scope.require(SETTLEMENT.person_permission("approve"))
    contract = settlement.contract
    if contract.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        sequence = _lock_ledger(contract)
        settlement = Settlement.objects.select_for_update().select_related("contract").get(pk=settlement.pk)
        SETTLEMENT.check("approve", settlement.status)
        period = _settlement_period(contract, settlement.period)
        if (
            build_settlement_plan(contract=contract, period=period).fingerprint
            != settlement.input_fingerprint
        ):
            raise ConflictError(SETTLEMENT_STALE_MESSAGE, code="settlement_stale")
        require_second_person(
            requested_by=settlement.requested_by,
            approved_by=scope.user,
            amount=settlement.total,
            contract=contract,
        )
        now = timezone.now()
        service_month = shift_month(settlement.period_end, -1)
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
        settlement.status = SETTLEMENT.target("approve", settlement.status)
        settlement.approved_by = scope.user
        settlement.approved_at = now
        settlement._change_reason = "approved"
        settlement.save(update_fields=["status", "approved_by", "approved_at"])
    return settlement
