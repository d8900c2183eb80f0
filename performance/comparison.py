"""Reads of a contract's comparison group: who is compared, measured in SQL, matched in
``performance.matching`` (docs/domain.md "Comparison group").

The treated are the contract's members in the period (``selectors.cohort``), each indexed on its first
enrolled month. The candidates are the plan's members eligible in the period on a line of business
of the contract's bundles (the 834's eligibility spans) who were never on a roster of any of the plan's
contracts. Both are described the same way on each index month:

- age band (834 birth date; a roster's for an enrolled member the 834 does not list), line of business
  (the member-month's; the eligibility span's), market (the member-month's; the 834 county);
- condition group: the first included diagnosis group of the bundle's eligibility with a diagnosis on
  the member's standing claims in the pre window, and the risk score of those diagnoses
  (``performance.risk``);
- cost and use from the plan's current utilisation rows (its file or derived from claims): the pre
  window is the contract's baseline window before the index month; the post window is the period's
  months from the index month on (for the treated, its months with a member-month).

Everything is read for the whole set in a few grouped queries; a candidate is described only on the
index months where a treated member shares its line, market and age band.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Q

from bundles.definition import diagnosis_group
from claims import selectors as claims_selectors
from contracts.models import Contract
from core.domain.months import Period, shift_month
from enrollment.models import EligibilitySpan, Member, MemberMonth, RosterEntry
from performance import matching
from performance.models import UtilizationRow
from performance.risk import risk_score

ZERO = Decimal(0)
CHUNK = 5000


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for k in range(0, len(ids), CHUNK):
        yield ids[k : k + CHUNK]


def _definitions(contract: Contract) -> list[dict[str, Any]]:
    return [v.definition for v in contract.bundle_versions.order_by("pk")]


def _age(birth: date | None, on: date) -> int | None:
    return None if birth is None else on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class _History:
    """A member's utilisation by month: cost and use (ED visits and admissions)."""

    def __init__(self) -> None:
        self.months: dict[date, tuple[Decimal, int]] = {}

    def window(self, start: date, end: date, only: set[date] | None = None) -> tuple[Decimal, int, int]:
        cost, months, events = ZERO, 0, 0
        for month, (amount, n) in self.months.items():
            if start <= month < end and (only is None or month in only):
                cost += amount
                months += 1
                events += n
        return cost, months, events


def _histories(payer_id: int, ids: list[str], start: date, end: date) -> dict[str, _History]:
    out: dict[str, _History] = defaultdict(_History)
    for chunk in _chunks(ids):
        rows = UtilizationRow.objects.filter(
            payer_id=payer_id, superseded=False, member_id__in=chunk, month__gte=start, month__lt=end
        ).values_list("member_id", "month", "tcoc_amount", "ed_visits", "inpatient_admissions")
        for member_id, month, amount, ed, admissions in rows:
            out[member_id].months[month] = (Decimal(str(amount)), ed + admissions)
    return out


def _codes(by_month: dict[date, set[str]], start: date, end: date) -> set[str]:
    return {code for month, codes in by_month.items() if start <= month < end for code in codes}


def comparison_group(
    contract: Contract, period: Period, first: dict[str, date], inside: Iterable[str], *, window_months: int
) -> matching.Estimate | None:
    """The period's difference in differences against the matched comparison group; None when the plan
    has sent no claims (the condition groups come from them)."""
    payer_id = contract.payer_id
    if not claims_selectors.has_claims(payer_id):
        return None
    definitions = _definitions(contract)
    lobs = sorted({lob for d in definitions for lob in d.get("lines_of_business", [])})
    treated_ids = sorted(inside)
    indexes = {member_id: first[member_id] for member_id in treated_ids}
    lo = shift_month(min(indexes.values(), default=period.start), -window_months)

    # The treated: line and market on the index month, their months in the period.
    described: dict[str, tuple[str, str]] = {}
    enrolled: dict[str, set[date]] = defaultdict(set)
    for chunk in _chunks(treated_ids):
        rows = (
            MemberMonth.objects.filter(contract=contract, submission__is_current=True, member_id__in=chunk)
            .order_by("member_id", "month")
            .values_list("member_id", "month", "lob", "market")
        )
        for member_id, month, lob, market in rows:
            if month == indexes[member_id]:
                described[member_id] = (lob, market)
            if period.start <= month < period.end:
                enrolled[member_id].add(month)

    # The candidates: eligible on a bundle's line in the period, never on any of the plan's rosters.
    on_rosters = MemberMonth.objects.filter(contract__payer_id=payer_id).values("member_id")
    spans = (
        EligibilitySpan.objects.filter(payer_id=payer_id, lob__in=lobs, start__lt=period.end)
        .filter(Q(end__isnull=True) | Q(end__gt=period.start))
        .exclude(member_id__in=on_rosters)
        .order_by("member_id", "start")
        .values_list("member_id", "lob")
    )
    candidate_lob: dict[str, str] = {}
    for member_id, lob in spans:
        candidate_lob.setdefault(member_id, lob)
    candidate_ids = sorted(candidate_lob)

    everyone = treated_ids + candidate_ids
    people: dict[str, tuple[date | None, str, str]] = {}
    for chunk in _chunks(everyone):
        for member_id, birth, sex, market in Member.objects.filter(
            payer_id=payer_id, member_id__in=chunk
        ).values_list("member_id", "birth_date", "sex", "market"):
            people[member_id] = (birth, sex, market)
    missing = [member_id for member_id in treated_ids if member_id not in people]
    for chunk in _chunks(missing):
        for member_id, birth in RosterEntry.objects.filter(
            submission__contract=contract, submission__is_current=True, member_id__in=chunk
        ).values_list("member_id", "birth_date"):
            people.setdefault(member_id, (birth, "", ""))
    histories = _histories(payer_id, everyone, lo, period.end)
    diagnoses = claims_selectors.diagnoses_by_month(payer_id, everyone, lo, max(indexes.values(), default=lo))

    def describe(
        member_id: str, index: date, lob: str, market: str, only: set[date] | None
    ) -> matching.Subject:
        birth, sex, _ = people.get(member_id, (None, "", ""))
        pre_start = shift_month(index, -window_months)
        codes = _codes(diagnoses.get(member_id, {}), pre_start, index)
        group = next((g for d in definitions if (g := diagnosis_group(codes, d))), "")
        history = histories.get(member_id) or _History()
        pre_cost, pre_months, pre_events = history.window(pre_start, index)
        post_cost, post_months, _ = history.window(max(index, period.start), period.end, only)
        return matching.Subject(
            member_id=member_id,
            index=index,
            age_band=matching.age_band(birth, index),
            lob=lob,
            market=market,
            condition_group=group,
            risk=risk_score(lob, _age(birth, index), sex, codes) if group else 0.0,
            pre_cost=pre_cost,
            pre_months=pre_months,
            pre_events=pre_events,
            post_cost=post_cost,
            post_months=post_months,
        )

    treated = [
        describe(member_id, indexes[member_id], *described.get(member_id, ("", "")), enrolled[member_id])
        for member_id in treated_ids
    ]
    # Describe a candidate only where a treated member could use it (same index, line, market, band).
    wanted = {(t.index, t.lob, t.market, t.age_band) for t in treated if t.condition_group}
    by_index: dict[date, list[tuple[str, str]]] = defaultdict(list)
    for index, lob, market, _ in wanted:
        by_index[index].append((lob, market))
    candidates: dict[date, list[matching.Subject]] = defaultdict(list)
    for member_id in candidate_ids:
        birth, _, market = people.get(member_id, (None, "", ""))
        lob = candidate_lob[member_id]
        for index, keys in by_index.items():
            if (lob, market) in keys and (index, lob, market, matching.age_band(birth, index)) in wanted:
                candidates[index].append(describe(member_id, index, lob, market, None))
    return matching.estimate(treated, candidates)
