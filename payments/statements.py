"""A run's statement: PDF for people (summary pages only), CSV for systems (one row per member and rate
cell), and the X12 820 remittance (docs/formats.md section 5) written by :mod:`payments.x12_820`. A
settlement's statement: PDF (its lines, the measures scored and shared savings) and CSV (one row a line).

The PDF never lists members, so it stays a few pages for any contract size; the CSV and the 820 carry
the member detail. Every figure comes from the run's stored lines and details.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from core.errors import ConflictError
from core.exports import safe_row
from payments import calc, selectors
from payments.models import (
    WITHHOLD_KINDS,
    LineKind,
    PaymentDetail,
    PaymentRun,
    PaymentRunStatus,
    Settlement,
    SettlementStatus,
)
from payments.x12_820 import MemberName, Party, Remittance, write_820

NOT_APPROVED_820_MESSAGE = "An 820 is written for an approved payment only."
# Only a run approved before negative months were carried to a receivable can have a negative total
# (every run calculated since pays at least 0.00): say so, instead of promising a carry that never came.
NEGATIVE_820_MESSAGE = (
    "This payment's total is {total}: an 820 cannot remit a negative amount. The run was approved "
    "before negative months were carried to a receivable, so its balance is not on the ledger as one; "
    "the PDF and CSV statements show it."
)
#: The lines a run computes on its total (statements show them with their reason, the 820 at the
#: organisation level).
RECOVERY_LINE_KINDS = (LineKind.RECEIVABLE, LineKind.RECOVERY_OFFSET)
CSV_COLUMNS = [
    "contract",
    "payment_month",
    "run",
    "line",
    "service_month",
    "member_id",
    "last_name",
    "first_name",
    "tier",
    "market",
    "lob",
    "member_months",
    "rate",
    "amount",
    "reference",
    "phase",  # a phased contract's phase of enrollment (added last: the columns before it are pinned)
]
CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "820": "application/edi-x12"}
CENT = Decimal("0.01")


def filename(run: PaymentRun, fmt: str) -> str:
    suffix = "" if run.number == 1 else f"-{run.number}"
    ext = {"pdf": "pdf", "csv": "csv", "820": "820"}[fmt]
    return f"{run.contract.number}-{run.month:%Y-%m}{suffix}-statement.{ext}"


def _names(run: PaymentRun, member_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Members' names from the roster versions the run was calculated from (then any of the contract's)."""
    from enrollment.models import Assessment, RosterEntry

    names: dict[str, tuple[str, str]] = {}
    submissions = [
        m["submission"] for m in (run.inputs or {}).get("months", {}).values() if m.get("submission")
    ]
    for model, lookup in ((RosterEntry, "submission_id__in"), (Assessment, "submission_id__in")):
        rows = (
            model.objects.filter(**{lookup: submissions})
            .order_by("-submission_id")
            .values_list("member_id", "last_name", "first_name")
        )
        for member_id, last, first in rows.iterator(chunk_size=5000):
            names.setdefault(member_id, (last, first))
    missing = sorted(member_ids - set(names))
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        for model, field in ((RosterEntry, "submission__contract"), (Assessment, "contract")):
            rows = (
                model.objects.filter(**{field: run.contract_id}, member_id__in=chunk)
                .order_by("-pk")
                .values_list("member_id", "last_name", "first_name")
            )
            for member_id, last, first in rows:
                names.setdefault(member_id, (last, first))
    return names


def _details(run: PaymentRun):
    return (
        PaymentDetail.objects.filter(line__run=run)
        .order_by("member_id", "line__position", "month")
        .values_list(
            "member_id",
            "month",
            "tier",
            "market",
            "lob",
            "member_months",
            "amount",
            "reference",
            "line__kind",
            "line__rate",
            "phase",
        )
    )


# --- CSV -----------------------------------------------------------------------------------------


def render_csv(run: PaymentRun) -> bytes:
    details = list(_details(run))
    names = _names(run, {d[0] for d in details})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(safe_row(CSV_COLUMNS))
    common = [run.contract.number, f"{run.month:%Y-%m}", run.number]
    for member_id, month, tier, market, lob, mm, amount, reference, kind, rate, phase in details:
        last, first = names.get(member_id, ("", ""))
        rate_text = "" if rate is None or kind == LineKind.RETRO_ADJUSTMENT else f"{Decimal(rate):.2f}"
        writer.writerow(
            safe_row(
                [
                    *common,
                    kind,
                    f"{month:%Y-%m}",
                    member_id,
                    last,
                    first,
                    tier,
                    market,
                    lob,
                    f"{Decimal(mm):.6f}",
                    rate_text,
                    f"{Decimal(amount):.2f}",
                    reference,
                    phase,
                ]
            )
        )
    for line in selectors.line_list(run=run).filter(kind__in=(*WITHHOLD_KINDS, *RECOVERY_LINE_KINDS)):
        # the withhold's rate is its fraction; an offset's rate is the contract's share and its
        # reference says why the line is there (the receivable carried or recovered)
        rate = "" if line.rate is None else f"{line.rate:.4f}"
        writer.writerow(
            safe_row(
                [
                    *common,
                    line.kind,
                    f"{line.service_month:%Y-%m}",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    rate,
                    f"{line.amount:.2f}",
                    "" if line.kind in WITHHOLD_KINDS else line.description,
                    "",
                ]
            )
        )
    return out.getvalue().encode("utf-8")


# --- PDF -----------------------------------------------------------------------------------------


def statement_context(run: PaymentRun) -> dict[str, Any]:
    lines = list(selectors.line_list(run=run))
    by_kind: dict[str, list] = defaultdict(list)
    for line in lines:
        by_kind[line.kind].append(line)
    reasons = Counter(a.get("reason") or "not payable" for a in run.not_payable_assessments or [])
    outside = run.outside_window or []
    contract = run.contract
    ytd = selectors.year_to_date(contract=contract, month=run.month)
    return {
        "run": run,
        "contract": contract,
        "payer": contract.payer,
        "provider": contract.provider,
        "member_lines": by_kind[LineKind.MEMBER_MONTHS],
        "phased": any(line.phase for line in by_kind[LineKind.MEMBER_MONTHS]),
        # an episode bundle's contract pays a case rate per episode, not member-months x PMPM
        "episode_lines": by_kind[LineKind.EPISODE],
        "episode_total": sum((line.amount for line in by_kind[LineKind.EPISODE]), Decimal("0.00")),
        "episodes_total": sum(line.count for line in by_kind[LineKind.EPISODE]),
        "per_episode": bool(by_kind[LineKind.EPISODE]) or ytd["episodes"] != 0,
        "assessment_lines": by_kind[LineKind.ASSESSMENT],
        "adjustment_lines": by_kind[LineKind.RETRO_ADJUSTMENT],
        "withhold_lines": by_kind[LineKind.WITHHOLD],
        "withhold_adjustment_lines": by_kind[LineKind.WITHHOLD_ADJUSTMENT],
        "withhold_adjustment_total": sum(
            (line.amount for line in by_kind[LineKind.WITHHOLD_ADJUSTMENT]), Decimal("0.00")
        ),
        "recovery_lines": by_kind[LineKind.RECEIVABLE] + by_kind[LineKind.RECOVERY_OFFSET],
        "member_total": sum((line.amount for line in by_kind[LineKind.MEMBER_MONTHS]), Decimal("0.00")),
        "member_months_total": sum(
            (line.member_months for line in by_kind[LineKind.MEMBER_MONTHS]), Decimal(0)
        ),
        "members_total": sum(line.count for line in by_kind[LineKind.MEMBER_MONTHS]),
        "assessment_total": sum((line.amount for line in by_kind[LineKind.ASSESSMENT]), Decimal("0.00")),
        "adjustment_total": sum(
            (line.amount for line in by_kind[LineKind.RETRO_ADJUSTMENT]), Decimal("0.00")
        ),
        "not_payable_count": len(run.not_payable_assessments or []),
        "not_payable_reasons": sorted(reasons.items()),
        "outside_count": len(outside),
        "outside_total": sum((Decimal(o["difference"]) for o in outside), Decimal("0.00")),
        "ytd": ytd,
        "approved": run.status == PaymentRunStatus.APPROVED,
        "generated_at": timezone.now(),
        "footer": f"{contract.number} · {run.month:%B %Y} · run {run.number}",
    }


def render_html(run: PaymentRun) -> str:
    return render_to_string("payments/statement_pdf.html", statement_context(run))


def render_pdf(run: PaymentRun) -> bytes:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    return HTML(string=render_html(run), base_url=None).write_pdf()


# --- X12 820 -------------------------------------------------------------------------------------


def _party(organization) -> Party:
    return Party(
        organization.legal_name, organization.tax_id or organization.npi or organization.public_id.hex[:9]
    )


def remittance_lines(run: PaymentRun) -> list[calc.PaymentLine]:
    """The run as the pure payment lines the 820 writer takes: one per member and line, plus the withhold
    and the withhold adjustments (organisation-level, one per service month)."""
    out: list[calc.PaymentLine] = []
    for member_id, month, tier, market, lob, mm, amount, _ref, kind, rate, phase in _details(run).iterator(
        chunk_size=5000
    ):
        amount = Decimal(amount).quantize(Decimal("0.01"))
        if kind == LineKind.MEMBER_MONTHS or (kind == LineKind.EPISODE and amount >= 0):
            per_month = kind == LineKind.MEMBER_MONTHS
            out.append(
                calc.PaymentLine(
                    calc.MEMBER_MONTH if per_month else calc.EPISODE,
                    amount,
                    month,
                    member_id=member_id,
                    rate_cell=f"T{tier} {market} {lob}" + (f" {phase}" if phase else ""),
                    member_months=Decimal(mm) if per_month else None,
                    rate=Decimal(rate),
                )
            )
        elif kind == LineKind.ASSESSMENT and amount >= 0:
            out.append(calc.PaymentLine(calc.ASSESSMENT_FEE, amount, month, member_id=member_id))
        else:  # adjustments, and assessments taken back, go out as ADX
            out.append(calc.PaymentLine(calc.RETRO_ADJUSTMENT, amount, month, member_id=member_id))
    for line in selectors.line_list(run=run).filter(kind__in=(*WITHHOLD_KINDS, *RECOVERY_LINE_KINDS)):
        kind = {LineKind.WITHHOLD: calc.WITHHOLD, LineKind.WITHHOLD_ADJUSTMENT: calc.WITHHOLD_ADJUSTMENT}.get(
            line.kind, str(line.kind)
        )
        out.append(calc.PaymentLine(kind, line.amount, line.service_month, rate=line.rate))
    return out


def render_820(run: PaymentRun) -> bytes:
    if run.status != PaymentRunStatus.APPROVED:
        raise ConflictError(NOT_APPROVED_820_MESSAGE, code="run_not_approved")
    if run.total < 0:
        raise ConflictError(
            NEGATIVE_820_MESSAGE.format(total=run.total),
            code="negative_total",
            details={"total": str(run.total)},
        )
    lines = remittance_lines(run)
    assert calc.payment_total(lines) == run.total, "the 820 must balance to the run's total"
    names = {
        member_id: MemberName(last or "UNKNOWN", first or "UNKNOWN")
        for member_id, (last, first) in _names(
            run, {line.member_id for line in lines if line.member_id}
        ).items()
    }
    for line in lines:
        if line.member_id and line.member_id not in names:
            names[line.member_id] = MemberName("UNKNOWN", "UNKNOWN")
    contract = run.contract
    payer, payee = _party(contract.payer), _party(contract.provider)
    approved = timezone.localtime(run.approved_at)
    remittance = Remittance(
        payer=payer,
        payee=payee,
        coverage_month=run.month,
        contract_ref=contract.number,
        trace_number=f"{contract.number}-{run.month:%Y%m}-{run.number}",
        originator_id=f"1{payer.tax_id}"[:10],
        payment_date=approved.date(),
        sender_id=payer.tax_id,
        receiver_id=payee.tax_id,
        control_number=run.pk % 999_999_999 or 1,
        created=approved,
        payment_method="NON",
        usage="P",
    )
    return write_820(remittance, lines, names).encode("ascii")


# --- a settlement's statement ---------------------------------------------------------------------

SETTLEMENT_CSV_COLUMNS = [
    "contract",
    "period",
    "settlement",
    "kind",
    "status",
    "line",
    "earned_for_period",
    "posted_before",
    "amount",
    "composite_score",
    "terms_version",
]
#: The settlement's lines: (line code, label, earned field, this settlement's field).
SETTLEMENT_LINES = [
    (LineKind.WITHHOLD_RETURN, "Withhold returned", "earned_withhold_return", "withhold_return"),
    (LineKind.QUALITY_BONUS, "Quality bonus", "earned_bonus", "bonus"),
    (LineKind.SHARED_SAVINGS, "Shared savings", "earned_shared_savings", "shared_savings"),
]


def settlement_filename(settlement: Settlement, fmt: str) -> str:
    suffix = "" if settlement.number == 1 else f"-{settlement.number}"
    return f"{settlement.contract.number}-{settlement.period}{suffix}-settlement.{fmt}"


def settlement_lines(settlement: Settlement) -> list[dict[str, Any]]:
    """Each line: what the period earns, what earlier settlements of it posted, and this settlement's amount."""
    posted_before = (settlement.summary or {}).get("posted_before", {})
    return [
        {
            "line": code,
            "label": label,
            "earned": getattr(settlement, earned),
            "posted_before": Decimal(str(posted_before.get(code, "0"))).quantize(CENT),
            "amount": getattr(settlement, field),
        }
        for code, label, earned, field in SETTLEMENT_LINES
    ]


def render_settlement_csv(settlement: Settlement) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(safe_row(SETTLEMENT_CSV_COLUMNS))
    score = "" if settlement.composite_score is None else f"{settlement.composite_score:.6f}"
    common = [
        settlement.contract.number,
        settlement.period,
        settlement.number,
        settlement.kind,
        settlement.status,
    ]
    for line in settlement_lines(settlement):
        writer.writerow(
            safe_row(
                [
                    *common,
                    line["line"],
                    f"{line['earned']:.2f}",
                    f"{line['posted_before']:.2f}",
                    f"{line['amount']:.2f}",
                    score,
                    settlement.terms_version or "",
                ]
            )
        )
    return out.getvalue().encode("utf-8")


def render_settlement_html(settlement: Settlement) -> str:
    contract = settlement.contract
    summary = settlement.summary or {}
    return render_to_string(
        "payments/settlement_pdf.html",
        {
            "settlement": settlement,
            "contract": contract,
            "payer": contract.payer,
            "provider": contract.provider,
            "lines": settlement_lines(settlement),
            "summary": summary,
            "last_day": settlement.period_end - timedelta(days=1),
            "entries": list(settlement.ledger_entries.order_by("sequence")),
            "approved": settlement.status == SettlementStatus.APPROVED,
            "generated_at": timezone.now(),
            "footer": f"{contract.number} · settlement of {settlement.period} · number {settlement.number}",
        },
    )


def render_settlement_pdf(settlement: Settlement) -> bytes:
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    from weasyprint import HTML

    return HTML(string=render_settlement_html(settlement), base_url=None).write_pdf()
