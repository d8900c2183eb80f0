"""The lines of a payment run: member-months per rate cell, assessments per market, the
adjustments of paid months whose roster or terms changed (retro lines, assessment adjustments) and
the withhold adjustment of each month they change.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Q, Sum

from contracts.selectors import terms_in_force
from contracts.terms import ContractTerms, RateCell
from core.domain.display import code_label
from core.domain.money import to_cents
from core.domain.months import month_key, next_month, shift_month
from core.errors import ApplicationError, NotFoundError
from enrollment import selectors as enrollment
from payments import calc, episodes, sql
from payments.models import (
    MEMBER_PAYMENT_KINDS,
    LedgerEntry,
    LineKind,
    PaymentDetail,
    PaymentLine,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
)
from payments.services.plan import Plan

MISSING_RATE_MESSAGE = "The roster has members in rate cells the contract has no PMPM for."
MISSING_FEE_MESSAGE = "The roster has assessments in markets the contract has no assessment fee for."


def _next(position: list[int]) -> int:
    position[0] += 1
    return position[0]


def _member_month_lines(run: PaymentRun, terms: ContractTerms, position: list[int]) -> list[PaymentLine]:
    """One line per rate cell (member-months x PMPM), a detail row per member under it; priced in SQL."""
    order = {phase.code: i for i, phase in enumerate(terms.phases)}
    names = {phase.code: phase.name for phase in terms.phases}
    cells = sorted(
        terms.rates.items(),
        key=lambda item: (item[0].lob, item[0].tier, item[0].market, order.get(item[0].phase, -1)),
    )
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
                phase=cell.phase,
                rate=rate,
                description=f"Tier {cell.tier}, {cell.market}, {code_label(cell.lob)}"
                + (f", {names.get(cell.phase, cell.phase)}" if cell.phase else ""),
            )
            for cell, rate in cells
        ]
    )
    source = enrollment.payable_member_months(contract=run.contract, month=run.month, phases=terms.phases)
    sql.insert_member_details(run_id=run.pk, month=run.month, source=source, unpriced_line_id=unpriced.pk)
    totals = sql.member_line_totals(run_id=run.pk)
    if unpriced.pk in totals:
        missing = (
            PaymentDetail.objects.filter(line=unpriced)
            .order_by("tier", "market", "lob", "phase")
            .values("tier", "market", "lob", "phase")
            .distinct()
        )
        cells = [{k: v for k, v in cell.items() if k != "phase" or v} for cell in missing]
        raise ApplicationError(MISSING_RATE_MESSAGE, code="missing_rate", details={"cells": cells})
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
                "",
            )
            for (row, _sign), amount in zip(items, amounts, strict=True)
        ]
    sql.insert_details(details)
    return lines


def _retro_window(run: PaymentRun, plan: Plan) -> tuple[date, int]:
    """(payment month, retro window) the run corrects earlier months from."""
    if run.kind == PaymentRunKind.PAYMENT:
        return run.month, plan.terms.retro_window_months
    # an adjustment of the month itself: shift by one so that the month counts as "earlier"
    return next_month(run.month), plan.terms.retro_window_months + 1


def _adjustments_by_month(
    run: PaymentRun,
    recomputed: dict[tuple[str, date], Decimal],
    paid: dict[tuple[str, date], Decimal],
    payment_month: date,
    window: int,
) -> dict[date, list[calc.PaymentLine]]:
    """The retro adjustments per service month; the differences outside the window go on the run."""
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
    return by_month


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
        rates = (
            {(c.tier, c.market, c.lob, c.phase): rate for c, rate in terms_m.rates.items()} if terms_m else {}
        )
        source = enrollment.payable_member_months(
            contract=run.contract, month=m, phases=terms_m.phases if terms_m else ()
        )
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
                                **({"phase": diff.cell[3]} if diff.cell[3] else {}),
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
    payment_month, window = _retro_window(run, plan)
    by_month = _adjustments_by_month(run, recomputed, paid, payment_month, window)
    details: list[tuple] = []
    for m in sorted(by_month):
        items = by_month[m]
        rows = []
        for adj in items:
            diff = info[(adj.member_id, m)]
            tier, market, lob, phase = diff.cell
            rows.append(
                (
                    adj.member_id,
                    m,
                    tier,
                    market,
                    lob,
                    diff.now_member_months - diff.paid_member_months,
                    adj.amount,
                    "",
                    phase,
                )
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
        details += [(line.pk, *row) for row in rows]
        lines.append(line)
    sql.insert_details(details)
    return lines


def _withhold_adjustment_lines(
    run: PaymentRun, lines: list[PaymentLine], position: list[int]
) -> list[PaymentLine]:
    """One withhold adjustment per service month this run's retro lines change: what brings the month's
    withhold to its percentage of the net paid for it (the ledger's member and retro entries plus this
    run's retro lines), less what is already withheld for it (:func:`payments.calc.withhold_adjustment`).

    The fraction is the withhold percentage of the terms in force in the service month, not the run's.
    """
    change: dict[date, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for line in lines:
        if line.kind == LineKind.RETRO_ADJUSTMENT:
            change[line.service_month] += line.amount
    if not change:
        return []
    posted = {
        row["service_month"]: row
        for row in LedgerEntry.objects.filter(contract=run.contract, service_month__in=list(change))
        .values("service_month")
        .order_by("service_month")
        .annotate(
            net=Sum("amount", filter=Q(kind__in=[*MEMBER_PAYMENT_KINDS, LineKind.RETRO_ADJUSTMENT])),
            held=Sum("amount", filter=Q(kind__in=[LineKind.WITHHOLD, LineKind.WITHHOLD_ADJUSTMENT])),
        )
    }
    out: list[PaymentLine] = []
    for m in sorted(change):
        row = posted.get(m, {})
        net = to_cents(Decimal(row.get("net") or 0)) + change[m]
        held = to_cents(Decimal(row.get("held") or 0))
        try:
            fraction = Decimal(terms_in_force(contract=run.contract, on=m).withhold_percentage or 0)
        except NotFoundError:  # not in force that month: nothing is owed, so nothing stays withheld
            fraction = Decimal(0)
        adjustment = calc.withhold_adjustment(m, net, held, fraction)
        if adjustment is None:
            continue
        out.append(
            PaymentLine.objects.create(
                run=run,
                kind=LineKind.WITHHOLD_ADJUSTMENT,
                position=_next(position),
                service_month=m,
                rate=fraction,
                amount=adjustment.amount,
                description=f"{fraction * 100:.2f}% of the net change for {m:%Y-%m}",
            )
        )
    return out


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


# --- episode bundles ------------------------------------------------------------------------------


def _episode_lines(run: PaymentRun, plan: Plan, position: list[int]) -> list[PaymentLine]:
    """An episode contract's lines (docs/domain.md section 5, "Episodes"): the run month's installments
    and early-exit settlements per rate cell (a payment), then, for every earlier month inside the retro
    window (and each changed month outside it, to report), what the episodes' schedules make due now
    minus what was paid for it. Each episode follows the terms in force in the first month a roster
    listed it; its schedule is recomputed from the current rosters every run, so a late exit, start or
    tier correction moves money in the month it belongs to."""
    contract = run.contract
    payment_month, window = _retro_window(run, plan)
    terms_of: dict[date, ContractTerms | None] = {}

    def terms_on(month: date) -> ContractTerms | None:
        if month not in terms_of:
            try:
                terms_of[month] = terms_in_force(contract=contract, on=month)
            except NotFoundError:
                terms_of[month] = None
        return terms_of[month]

    items: list[tuple[episodes.Episode, int, str]] = []
    cell_of: dict[str, tuple[str, str, str]] = {}
    rate_of: dict[tuple[str, str, str], Decimal] = {}
    missing: list[dict] = []
    days = plan.terms.episode_days
    if days is None:  # not an episode contract
        return []
    for row in enrollment.episode_list(contract=contract, through=run.month, days=days):
        month = row["first_month"]
        terms = terms_on(month)
        if terms is None or terms.episode_days is None:
            continue  # not an episode month of the contract: nothing is due for it here
        cell = (row["tier"], row["market"], row["lob"])
        rate = terms.rates.get(RateCell(*cell))
        if rate is None:
            missing.append({"tier": cell[0], "market": cell[1], "lob": cell[2], "month": month_key(month)})
            continue
        episode = episodes.Episode(row["member_id"], row["start"], terms.episode_days, rate, row["last_day"])
        items.append((episode, terms.episode_installments, terms.episode_early_exit))
        cell_of[row["member_id"]], rate_of[cell] = cell, rate
    if missing:
        raise ApplicationError(MISSING_RATE_MESSAGE, code="missing_rate", details={"cells": missing})
    due = episodes.amounts_due(items, run.month)
    lines: list[PaymentLine] = []
    details: list[tuple] = []
    if run.kind == PaymentRunKind.PAYMENT:
        by_cell: dict[tuple[str, str, str], list[tuple[str, Decimal]]] = defaultdict(list)
        for (member_id, month), amount in sorted(due.items()):
            if month == run.month:
                by_cell[cell_of[member_id]].append((member_id, amount))
        for cell in sorted(by_cell, key=lambda c: (c[2], c[0], c[1])):
            members = by_cell[cell]
            line = PaymentLine.objects.create(
                run=run,
                kind=LineKind.EPISODE,
                position=_next(position),
                service_month=run.month,
                tier=cell[0],
                market=cell[1],
                lob=cell[2],
                rate=rate_of[cell],
                count=len(members),
                amount=sum((amount for _m, amount in members), Decimal("0.00")),
                description=f"Tier {cell[0]}, {cell[1]}, {code_label(cell[2])}: per episode",
            )
            lines.append(line)
            details += [(line.pk, m, run.month, *cell, Decimal(0), amount, "", "") for m, amount in members]
    first_in_window = shift_month(payment_month, -window)
    months = {m for _member, m in due if first_in_window <= m < payment_month}
    changed = {mi.month for mi in plan.changed}
    months |= changed
    paid: dict[tuple[str, date], Decimal] = {}
    for row in (
        PaymentDetail.objects.filter(
            Q(line__service_month__gte=first_in_window, line__service_month__lt=payment_month)
            | Q(line__service_month__in=changed),
            line__run__contract=contract,
            line__run__status=PaymentRunStatus.APPROVED,
            line__kind__in=[LineKind.EPISODE, LineKind.RETRO_ADJUSTMENT],
        )
        .values("member_id", "line__service_month", "tier", "market", "lob")
        .annotate(amount=Sum("amount"))
        .order_by()
    ):
        key = (row["member_id"], row["line__service_month"])
        # to the cent: SQLite sums decimals as floats
        paid[key] = paid.get(key, Decimal("0.00")) + to_cents(Decimal(row["amount"]))
        cell_of.setdefault(row["member_id"], (row["tier"], row["market"], row["lob"]))
        months.add(key[1])
    by_month = _adjustments_by_month(
        run,
        {key: amount for key, amount in due.items() if key[1] in months},
        {key: amount for key, amount in paid.items() if key[1] in months},
        payment_month,
        window,
    )
    for m in sorted(by_month):
        items_m = by_month[m]
        line = PaymentLine.objects.create(
            run=run,
            kind=LineKind.RETRO_ADJUSTMENT,
            position=_next(position),
            service_month=m,
            count=len(items_m),
            member_months=Decimal(0),
            amount=calc.payment_total(items_m),
            description=f"Episodes of {m:%Y-%m} changed after they were paid",
        )
        lines.append(line)
        details += [
            (line.pk, a.member_id, m, *cell_of.get(a.member_id, ("", "", "")), Decimal(0), a.amount, "", "")
            for a in items_m
        ]
    sql.insert_details(details)
    for mi in plan.changed:  # assessments are paid as on any contract
        terms_m = terms_on(mi.month)
        if mi.role == "retro" and terms_m is not None:
            lines += _assessment_adjustments(run, mi.month, terms_m, position)
    return lines
