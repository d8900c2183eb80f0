"""Monthly payment arithmetic for a bundled-payment contract (docs/domain.md section 5).

Pure functions over plain data, ``Decimal`` throughout (never floats for money):

- member line = member_months x PMPM of the member's rate_cell, rounded half-up to the cent;
- a rate_cell's line is the sum of its member lines (:func:`rate_cell_totals`);
- assessment line = the contract's assessment_fee for the member's market;
- retroactive line = amount recomputed from the latest roster version minus the amount
  already paid, per member and month, for months inside the contract's retro window
  (outside it: not paid, returned as :class:`RetroOutsideWindow` for the statement);
- withhold line = -(withhold fraction x sum of the month's member lines), rounded half-up;
- withhold adjustment = what a service month's withhold must become after retro lines change its net
  member payments, minus what is already withheld for it (the month rounding rule,
  :func:`withhold_adjustment`), so that the withhold always equals the fraction of the net;
- the total is the exact sum of the lines (no rounding after the lines).

Rounding happens in one place, the kernel's :func:`core.domain.money.to_cents`, so that every
line on a statement can be re-derived from the numbers printed next to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.money import to_cents
from core.domain.months import months_between

ZERO = Decimal("0.00")

MEMBER_MONTH = "member_month"
ASSESSMENT_FEE = "assessment_fee"
RETRO_ADJUSTMENT = "retro_adjustment"
WITHHOLD = "withhold"
WITHHOLD_ADJUSTMENT = "withhold_adjustment"
EPISODE = "episode"  # an episode bundle's case rate, or an installment of it (payments.episodes)
LINE_KINDS: tuple[str, ...] = (
    MEMBER_MONTH,
    ASSESSMENT_FEE,
    RETRO_ADJUSTMENT,
    WITHHOLD,
    WITHHOLD_ADJUSTMENT,
    EPISODE,
)

OUTSIDE_RETRO_WINDOW = "outside_retro_window"


@dataclass(frozen=True, slots=True)
class PaymentLine:
    """One line of a monthly payment. ``service_month`` is the month the money is for."""

    kind: str
    amount: Decimal
    service_month: dt.date
    member_id: str | None = None
    rate_cell: str | None = None
    member_months: Decimal | None = None
    rate: Decimal | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RetroOutsideWindow:
    """A difference found for a month the contract no longer lets us correct: shown, not paid."""

    member_id: str
    service_month: dt.date
    difference: Decimal
    reason: str = OUTSIDE_RETRO_WINDOW


@dataclass(frozen=True, slots=True)
class MemberMonthEntry:
    """A member's result for a month, ready to price: which rate_cell and how many member-months."""

    member_id: str
    rate_cell: str
    member_months: Decimal


@dataclass(frozen=True, slots=True)
class AssessmentEntry:
    """A payable initial assessment (already past the look-back rule)."""

    member_id: str
    market: str
    assessment_date: dt.date


@dataclass
class Payment:
    """A month's payment: its lines, their exact total, and what could not be adjusted."""

    month: dt.date
    lines: list[PaymentLine]
    outside_window: list[RetroOutsideWindow] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return payment_total(self.lines)

    @property
    def rate_cells(self) -> dict[str, Decimal]:
        return rate_cell_totals(self.lines)


# --------------------------------------------------------------------------- lines
def member_line(
    member_id: str, month: dt.date, rate_cell: str, member_months: Decimal, pmpm: Decimal
) -> PaymentLine:
    """member_months x PMPM, rounded half-up to the cent (never more than one PMPM)."""
    _check_month(month)
    if not isinstance(member_months, Decimal) or not isinstance(pmpm, Decimal):
        raise TypeError("member_months and pmpm must be Decimal")
    if not (0 <= member_months <= 1):
        raise ValueError(f"member_months must be between 0 and 1, got {member_months}")
    if pmpm < 0:
        raise ValueError("a PMPM cannot be negative")
    return PaymentLine(
        MEMBER_MONTH,
        to_cents(member_months * pmpm),
        month,
        member_id=member_id,
        rate_cell=rate_cell,
        member_months=member_months,
        rate=pmpm,
    )


def member_lines(
    entries: Iterable[MemberMonthEntry], month: dt.date, pmpm: Mapping[str, Decimal]
) -> list[PaymentLine]:
    """Price every member of a month; a rate_cell without a PMPM is a configuration error."""
    lines = []
    for e in entries:
        try:
            rate = pmpm[e.rate_cell]
        except KeyError:
            raise KeyError(f"no PMPM for rate cell {e.rate_cell!r}") from None
        lines.append(member_line(e.member_id, month, e.rate_cell, e.member_months, rate))
    return lines


def member_amounts(lines: Iterable[PaymentLine]) -> dict[tuple[str, dt.date], Decimal]:
    """Member-month amounts per (member, month): what was (or would be) paid for the month.

    The same function feeds "already paid" (from the ledger) and "recomputed" (from the
    latest roster), so a roster resubmitted unchanged yields exactly zero adjustment.
    """
    out: dict[tuple[str, dt.date], Decimal] = {}
    for line in lines:
        if line.kind != MEMBER_MONTH or line.member_id is None:
            continue
        key = (line.member_id, line.service_month)
        out[key] = out.get(key, ZERO) + line.amount
    return out


def rate_cell_totals(lines: Iterable[PaymentLine]) -> dict[str, Decimal]:
    """Each rate_cell's line: the exact sum of its member lines (already in cents)."""
    out: dict[str, Decimal] = {}
    for line in lines:
        if line.kind == MEMBER_MONTH and line.rate_cell is not None:
            out[line.rate_cell] = out.get(line.rate_cell, ZERO) + line.amount
    return out


def assessment_line(
    member_id: str, month: dt.date, market: str, fee: Decimal, *, assessment_date: dt.date
) -> PaymentLine:
    """One payable assessment at the contract's assessment_fee for the member's market."""
    _check_month(month)
    if not isinstance(fee, Decimal):
        raise TypeError("an assessment fee must be a Decimal")
    return PaymentLine(
        ASSESSMENT_FEE,
        to_cents(fee),
        month,
        member_id=member_id,
        rate_cell=None,
        rate=fee,
        detail=f"assessment {assessment_date.isoformat()} market {market}",
    )


def retro_lines(
    recomputed: Mapping[tuple[str, dt.date], Decimal],
    paid: Mapping[tuple[str, dt.date], Decimal],
    *,
    payment_month: dt.date,
    retro_window_months: int,
) -> tuple[list[PaymentLine], list[RetroOutsideWindow]]:
    """Adjustments for earlier months: recomputed minus already paid, per member and month.

    A month is inside the window when it is 1..``retro_window_months`` months before
    ``payment_month``. A member missing from ``recomputed`` (removed from the roster) is
    owed zero, so the adjustment takes back what was paid; a member missing from ``paid``
    (added late) gets the full amount. Zero differences produce no line. Keys for the
    payment month itself or later are refused: those are not retroactive.
    """
    _check_month(payment_month)
    if retro_window_months < 0:
        raise ValueError("retro_window_months must be >= 0")
    lines: list[PaymentLine] = []
    outside: list[RetroOutsideWindow] = []
    for member_id, month in sorted(set(recomputed) | set(paid), key=lambda k: (k[1], k[0])):
        _check_month(month)
        if month >= payment_month:
            raise ValueError(f"{month} is not before the payment month {payment_month}")
        now = recomputed.get((member_id, month), ZERO)
        before = paid.get((member_id, month), ZERO)
        difference = to_cents(now) - to_cents(before)
        if difference == 0:
            continue
        age = months_between(month, payment_month)
        if age <= retro_window_months:
            lines.append(
                PaymentLine(
                    RETRO_ADJUSTMENT,
                    difference,
                    month,
                    member_id=member_id,
                    detail=f"recomputed {now} - paid {before}",
                )
            )
        else:
            outside.append(RetroOutsideWindow(member_id, month, difference))
    return lines, outside


def withhold_line(lines: Iterable[PaymentLine], withhold_fraction: Decimal, month: dt.date) -> PaymentLine:
    """-(withhold fraction x the month's member lines), rounded half-up to the cent.

    ``withhold_fraction`` is a fraction (``Decimal("0.05")`` for 5%). Only the month's own
    member lines are withheld from; assessment fees and retro adjustments are not.
    """
    _check_month(month)
    _check_fraction(withhold_fraction)
    base = sum(
        (line.amount for line in lines if line.kind == MEMBER_MONTH and line.service_month == month),
        ZERO,
    )
    return PaymentLine(
        WITHHOLD,
        -to_cents(withhold_fraction * base),
        month,
        rate=withhold_fraction,
        detail=f"{withhold_fraction} x {base}",
    )


def withhold_adjustment(
    service_month: dt.date,
    net_member_amount: Decimal,
    already_withheld: Decimal,
    withhold_fraction: Decimal,
) -> PaymentLine | None:
    """The withhold line that brings a service month's withhold to -(fraction x its net), or None.

    ``net_member_amount`` is everything paid (and being paid) for the month's members: its member
    lines plus every retro line for it. ``already_withheld`` is the sum of the withhold and withhold
    adjustment lines already posted for it (negative, or zero). The target is rounded once, on the
    whole net (the month rounding rule), never per retro line: so after any sequence of runs the
    month's withhold is exactly -to_cents(fraction x net), not a sum of separately rounded pieces.
    """
    _check_month(service_month)
    _check_fraction(withhold_fraction)
    if not isinstance(net_member_amount, Decimal) or not isinstance(already_withheld, Decimal):
        raise TypeError("net_member_amount and already_withheld must be Decimal")
    target = -to_cents(withhold_fraction * net_member_amount)
    amount = target - already_withheld
    if amount == 0:
        return None
    return PaymentLine(
        WITHHOLD_ADJUSTMENT,
        amount,
        service_month,
        rate=withhold_fraction,
        detail=f"-({withhold_fraction} x {net_member_amount}) - withheld {already_withheld}",
    )


def payment_total(lines: Iterable[PaymentLine]) -> Decimal:
    """The exact sum of the lines; every line is already in cents, so no rounding here."""
    return sum((line.amount for line in lines), ZERO)


def monthly_payment(
    *,
    month: dt.date,
    entries: Iterable[MemberMonthEntry],
    pmpm: Mapping[str, Decimal],
    assessments: Iterable[AssessmentEntry] = (),
    assessment_fees: Mapping[str, Decimal] | None = None,
    recomputed: Mapping[tuple[str, dt.date], Decimal] | None = None,
    paid: Mapping[tuple[str, dt.date], Decimal] | None = None,
    retro_window_months: int = 0,
    withhold_fraction: Decimal = ZERO,
) -> Payment:
    """Build a contract's payment for ``month``: member, assessment, retro and withhold lines.

    ``recomputed``/``paid`` hold member amounts per (member, earlier month), typically from
    :func:`member_amounts` over re-priced and ledger lines. A withhold line is present only
    when the fraction is not zero.
    """
    lines = member_lines(entries, month, pmpm)
    fees = assessment_fees or {}
    for a in assessments:
        try:
            fee = fees[a.market]
        except KeyError:
            raise KeyError(f"no assessment fee for market {a.market!r}") from None
        lines.append(assessment_line(a.member_id, month, a.market, fee, assessment_date=a.assessment_date))
    retro, outside = retro_lines(
        recomputed or {}, paid or {}, payment_month=month, retro_window_months=retro_window_months
    )
    lines.extend(retro)
    if withhold_fraction:
        lines.append(withhold_line(lines, withhold_fraction, month))
    return Payment(month, lines, outside)


def _check_fraction(withhold_fraction: Decimal) -> None:
    if not isinstance(withhold_fraction, Decimal):
        raise TypeError("withhold_fraction must be a Decimal")
    if not (0 <= withhold_fraction < 1):
        raise ValueError("withhold_fraction must be in [0, 1)")


def _check_month(month: dt.date) -> None:
    if month.day != 1:
        raise ValueError(f"a payment month is the first day of a month, got {month}")
