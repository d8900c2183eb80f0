"""Member-month proration and assessment-fee eligibility: pure functions over plain data.

docs/domain.md section 5 in code. A member's enrollment is a list of half-open ``[start, end)``
tier spans (``end=None`` while enrolled); for one calendar month the contract's proration
rule turns them into a number of member-months, and its tier rule picks the one tier the
whole member-month goes to:

- ``any_day``: 1 if enrolled on any day of the month;
- ``first_of_month``: 1 if enrolled on the 1st;
- ``mid_month``: 1 if enrolled on the 15th;
- ``daily``: days enrolled / days in the month;
- tier ``first_day``: the tier on the member's first enrolled day of the month;
- tier ``highest``: the highest tier on any enrolled day (order given by the caller).

Precision: every member-month figure is a ``Decimal`` quantized to 6 places
(:data:`MM_QUANTUM`), rounded half-up. Six places because the smallest daily step is 1/31
(0.032258...): at 6 places a member-month is within 5e-7 of the exact fraction, so even a
$10,000 PMPM moves by at most half a cent, and the stored figure is the billed unit: a
member line is ``member_months x PMPM`` of exactly the number shown on the statement, so
anyone can re-derive every cent from the statement. Whole-month results are ``1.000000``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from core.domain.codes import (
    ANY_DAY,
    DAILY,
    FIRST_DAY,
    FIRST_OF_MONTH,
    HIGHEST,
    MID_MONTH,
    MID_MONTH_DAY,
    PRORATION_RULES,
    TIER_RULES,
)
from core.domain.money import FRACTION_PLACES, quantum, round_half_up
from core.domain.months import add_months, days_in_month, next_month

MM_QUANTUM = quantum(FRACTION_PLACES)
ONE_MM = Decimal(1).quantize(MM_QUANTUM)
ZERO_MM = Decimal(0).quantize(MM_QUANTUM)

SECOND_IN_LOOKBACK = "second_in_lookback"
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Span:
    """One enrollment period in one tier, half-open ``[start, end)``; ``end=None`` is open."""

    start: dt.date
    end: dt.date | None
    tier: str


@dataclass(frozen=True, slots=True)
class MemberMonth:
    """A member's result for one month: the tier the member-month goes to, and how much."""

    tier: str
    member_months: Decimal
    days_enrolled: int


# --------------------------------------------------------------------------- month helpers
def daily_fraction(days: int, month: dt.date) -> Decimal:
    """``days / days_in_month`` as the stored 6-place member-month figure (half-up)."""
    return _DAILY[days_in_month(month)][days]


_DAILY: dict[int, tuple[Decimal, ...]] = {
    dim: tuple(round_half_up(Decimal(d) / Decimal(dim), FRACTION_PLACES) for d in range(dim + 1))
    for dim in (28, 29, 30, 31)
}


def _check_rules(rule: str, tier_rule: str, tier_order: Sequence[str]) -> dict[str, int]:
    if rule not in PRORATION_RULES:
        raise ValueError(f"unknown proration rule {rule!r}; expected one of {PRORATION_RULES}")
    if tier_rule not in TIER_RULES:
        raise ValueError(f"unknown tier rule {tier_rule!r}; expected one of {TIER_RULES}")
    if tier_rule == HIGHEST and not tier_order:
        raise ValueError("tier rule 'highest' needs tier_order (lowest to highest)")
    return {code: rank for rank, code in enumerate(tier_order)}


def _check_month(month: dt.date) -> None:
    if month.day != 1:
        raise ValueError(f"month must be the first day of a month, got {month}")


# --------------------------------------------------------------------------- deaths and hospice
def end_spans(spans: Iterable[Span], last_day: dt.date) -> list[Span]:
    """The spans as they are once the member's enrollment ends on ``last_day`` (a date of death, or
    the last day in the bundle before a transfer to hospice): the day itself is enrolled, nothing
    after it. Each span ends at most on the next day (half-open); a span starting after it is gone."""
    stop = last_day + ONE_DAY
    out: list[Span] = []
    for sp in spans:
        if sp.start >= stop:
            continue
        out.append(sp if sp.end is not None and sp.end <= stop else Span(sp.start, stop, sp.tier))
    return out


# --------------------------------------------------------------------------- one member
def member_months(
    spans: Iterable[Span],
    month: dt.date,
    rule: str,
    *,
    tier_rule: str = FIRST_DAY,
    tier_order: Sequence[str] = (),
    ended_on: dt.date | None = None,
) -> MemberMonth | None:
    """A member's member-months and tier for ``month`` (its first day), or ``None``.

    ``ended_on`` (a recorded date of death or hospice transfer) ends the spans on that day first
    (:func:`end_spans`), so that no rule counts a day after it: ``None`` for a month after it, the
    days up to it under ``daily``, the 1st or the 15th only when on or before it.

    ``None`` means not enrolled on any day of the month. A result with ``0.000000``
    member-months (e.g. enrolled from the 5th under ``first_of_month``) still names the tier,
    because a retroactive recomputation must be able to say "nothing is owed". The result
    never exceeds one member-month. Overlapping spans are a data error and raise
    ``ValueError`` (the roster validator rejects them before this point).
    """
    _check_month(month)
    ranks = _check_rules(rule, tier_rule, tier_order)
    if ended_on is not None:
        spans = end_spans(spans, ended_on)
    m0, m1 = month, next_month(month)
    clipped: list[tuple[dt.date, dt.date, str]] = []
    for sp in spans:
        s = sp.start if sp.start > m0 else m0
        e = m1 if sp.end is None or sp.end > m1 else sp.end
        if s < e:
            clipped.append((s, e, sp.tier))
    if not clipped:
        return None
    clipped.sort(key=lambda t: t[0])
    days = 0
    prev_end: dt.date | None = None
    for s, e, _tier in clipped:
        if prev_end is not None and s < prev_end:
            raise ValueError(f"overlapping enrollment spans around {s}")
        prev_end = e
        days += (e - s).days

    if tier_rule == FIRST_DAY:
        tier = clipped[0][2]
    else:
        try:
            tier = max((t for _s, _e, t in clipped), key=lambda t: ranks[t])
        except KeyError as exc:
            raise ValueError(f"tier {exc.args[0]!r} is not in tier_order") from None

    if rule == ANY_DAY:
        mm = ONE_MM
    elif rule == DAILY:
        mm = _DAILY[days_in_month(month)][days]
    else:
        day = m0 if rule == FIRST_OF_MONTH else m0.replace(day=MID_MONTH_DAY)
        mm = ONE_MM if any(s <= day < e for s, e, _t in clipped) else ZERO_MM
    return MemberMonth(tier, mm, days)


# --------------------------------------------------------------------------- many members
def member_months_bulk(
    spans_by_member: Mapping[str, Sequence[Span]],
    month: dt.date,
    rule: str,
    *,
    tier_rule: str = FIRST_DAY,
    tier_order: Sequence[str] = (),
) -> dict[str, MemberMonth]:
    """:func:`member_months` for every member at once, vectorised with numpy.

    Same results as calling :func:`member_months` per member (a property test holds it to
    that); members with no enrolled day in the month are left out. This is what a payment
    run over a large contract calls: the per-day arithmetic runs on arrays of day numbers.
    """
    _check_month(month)
    ranks = _check_rules(rule, tier_rule, tier_order)
    members = list(spans_by_member)
    m0 = month.toordinal()
    m1 = next_month(month).toordinal()

    counts = np.fromiter((len(spans_by_member[m]) for m in members), dtype=np.int64, count=len(members))
    total = int(counts.sum())
    if total == 0:
        return {}
    owner = np.repeat(np.arange(len(members), dtype=np.int64), counts)
    flat = [sp for m in members for sp in spans_by_member[m]]
    starts = np.fromiter((sp.start.toordinal() for sp in flat), dtype=np.int64, count=total)
    ends = np.fromiter(
        (m1 if sp.end is None else sp.end.toordinal() for sp in flat), dtype=np.int64, count=total
    )
    tier_codes = sorted({sp.tier for sp in flat})
    tier_index = {t: k for k, t in enumerate(tier_codes)}
    tiers = np.fromiter((tier_index[sp.tier] for sp in flat), dtype=np.int64, count=total)

    cs = np.maximum(starts, m0)
    ce = np.minimum(ends, m1)
    live = ce > cs
    if not live.any():
        return {}
    owner, cs, ce, tiers = owner[live], cs[live], ce[live], tiers[live]

    # Sort by (member, clipped start): overlap check and first-day tier in one pass.
    order = np.lexsort((cs, owner))
    owner, cs, ce, tiers = owner[order], cs[order], ce[order], tiers[order]
    same = owner[1:] == owner[:-1]
    if np.any(same & (cs[1:] < ce[:-1])):
        bad = int(owner[1:][same & (cs[1:] < ce[:-1])][0])
        raise ValueError(f"overlapping enrollment spans for member {members[bad]!r}")

    n = len(members)
    days = np.bincount(owner, weights=(ce - cs), minlength=n).astype(np.int64)
    present = np.bincount(owner, minlength=n) > 0

    if tier_rule == FIRST_DAY:
        first_idx = np.flatnonzero(np.concatenate(([True], ~same)))
        chosen = np.full(n, -1, dtype=np.int64)
        chosen[owner[first_idx]] = tiers[first_idx]
        code_of: Sequence[str] = tier_codes
    else:
        try:
            code_rank = np.array([ranks[t] for t in tier_codes], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"tier {exc.args[0]!r} is not in tier_order") from None
        best = np.full(n, -1, dtype=np.int64)
        np.maximum.at(best, owner, code_rank[tiers])
        chosen = best
        code_of = list(tier_order)

    if rule == ANY_DAY:
        whole = present
    elif rule in (FIRST_OF_MONTH, MID_MONTH):
        day = m0 if rule == FIRST_OF_MONTH else m0 + MID_MONTH_DAY - 1
        covers = (cs <= day) & (day < ce)
        whole = np.bincount(owner[covers], minlength=n) > 0
    else:
        whole = None

    daily = _DAILY[days_in_month(month)]
    out: dict[str, MemberMonth] = {}
    for k in np.flatnonzero(present).tolist():
        d = int(days[k])
        if whole is None:
            mm = daily[d]
        else:
            mm = ONE_MM if whole[k] else ZERO_MM
        out[members[k]] = MemberMonth(code_of[int(chosen[k])], mm, d)
    return out


# --------------------------------------------------------------------------- assessments
@dataclass(frozen=True, slots=True)
class Assessment:
    """An initial assessment as the fee rule sees it; ``key`` is the caller's own id."""

    member_id: str
    provider_id: str
    assessment_date: dt.date
    key: object = None


@dataclass(frozen=True, slots=True)
class AssessmentDecision:
    """Whether one assessment is payable; a flagged one names the paid one it collides with."""

    assessment: Assessment
    payable: bool
    reason: str | None = None
    first_date: dt.date | None = None
    message: str = ""


def assessment_payable(
    assessments: Sequence[Assessment],
    lookback_months: int,
    *,
    paid_history: Iterable[Assessment] = (),
) -> list[AssessmentDecision]:
    """Decide which assessments earn the assessment_fee: once per member per provider per window.

    Within each (member, provider), assessments are taken in date order (input order on a
    tie); one is payable unless a paid one lies less than ``lookback_months`` before it,
    in which case it is flagged ``second_in_lookback`` naming the paid one's date.
    ``paid_history`` holds assessments already paid in earlier runs; because they were
    paid, a late-submitted older assessment that falls less than ``lookback_months`` before
    one of them is flagged too. Decisions come back in input order.
    """
    if lookback_months < 0:
        raise ValueError("lookback_months must be >= 0")
    anchors: dict[tuple[str, str], list[dt.date]] = {}
    for h in paid_history:
        anchors.setdefault((h.member_id, h.provider_id), []).append(h.assessment_date)
    for dates in anchors.values():
        dates.sort()

    order = sorted(range(len(assessments)), key=lambda i: (assessments[i].assessment_date, i))
    decisions: list[AssessmentDecision | None] = [None] * len(assessments)
    for i in order:
        a = assessments[i]
        paid = anchors.setdefault((a.member_id, a.provider_id), [])
        d = a.assessment_date
        clash = None
        if lookback_months > 0:
            for p in paid:
                if (p <= d < add_months(p, lookback_months)) or (d < p < add_months(d, lookback_months)):
                    clash = p
                    break
        if clash is None:
            decisions[i] = AssessmentDecision(a, True)
            paid.append(d)
            paid.sort()
        else:
            decisions[i] = AssessmentDecision(
                a,
                False,
                SECOND_IN_LOOKBACK,
                clash,
                f"member {a.member_id} already had a paid assessment on {clash} with this provider; "
                f"only one is paid per {lookback_months} months",
            )
    return [d for d in decisions if d is not None]
