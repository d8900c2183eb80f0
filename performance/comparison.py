"""Reads of a contract's comparison group: who is compared, measured in SQL, matched in
``performance.matching`` (docs/domain.md 6.7).

The treated are a contract's members in the period (``selectors.cohort``), each indexed on its first
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

The candidates are the same for every contract of a plan in a period, so :func:`comparison_groups`
reads them once (a ``_Pool``) and describes each one once per index month, however many contracts
it serves: the page asks for one contract, a plan-wide run for all of them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Max, Q

from bundles.definition import diagnosis_group
from claims import selectors as claims_selectors
from claims.models import ClaimsUpload
from contracts.models import Contract
from core.domain.canonical import canonical_json, sha256_hex
from core.domain.months import Period, shift_month
from enrollment.models import (
    EligibilityFile,
    EligibilitySpan,
    Member,
    MemberMonth,
    RosterEntry,
    RosterSubmission,
)
from performance import matching
from performance.models import UtilizationRow, UtilizationUpload
from performance.risk import risk_score

ZERO = Decimal(0)
CHUNK = 5000
CACHE_SECONDS = 24 * 3600
MISSING = object()


@dataclass(frozen=True)
class ContractCohort:
    """What the comparison needs of a contract's cohort: its members' first enrolled months, who is in
    the period, and the contract's baseline window."""

    contract: Contract
    first: dict[str, date]
    inside: frozenset[str]
    window_months: int


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for k in range(0, len(ids), CHUNK):
        yield ids[k : k + CHUNK]


def _age(birth: date | None, on: date) -> int | None:
    return None if birth is None else on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


class _History:
    """A member's utilisation by month, cost and use (ED visits and admissions), summed by window."""

    def __init__(self) -> None:
        self.months: dict[date, tuple[Decimal, int]] = {}
        self.keys: list[date] = []
        self.costs: list[Decimal] = [ZERO]
        self.events: list[int] = [0]

    def freeze(self) -> None:
        """Prefix sums, so that any window is two lookups."""
        self.keys = sorted(self.months)
        for month in self.keys:
            amount, n = self.months[month]
            self.costs.append(self.costs[-1] + amount)
            self.events.append(self.events[-1] + n)

    def window(self, start: date, end: date, only: set[date] | None = None) -> tuple[Decimal, int, int]:
        """Cost, months with data and events in ``[start, end)`` (within ``only`` when given)."""
        if only is not None:
            picked = [self.months[m] for m in self.months if start <= m < end and m in only]
            return sum((a for a, _ in picked), ZERO), len(picked), sum(n for _, n in picked)
        i, j = bisect_left(self.keys, start), bisect_left(self.keys, end)
        return self.costs[j] - self.costs[i], j - i, self.events[j] - self.events[i]


EMPTY = _History()


def _histories(payer_id: int, ids: list[str], start: date, end: date) -> dict[str, _History]:
    out: dict[str, _History] = defaultdict(_History)
    for chunk in _chunks(ids):
        rows = UtilizationRow.objects.filter(
            payer_id=payer_id, superseded=False, member_id__in=chunk, month__gte=start, month__lt=end
        ).values_list("member_id", "month", "tcoc_amount", "ed_visits", "inpatient_admissions")
        for member_id, month, amount, ed, admissions in rows:
            out[member_id].months[month] = (Decimal(str(amount)), ed + admissions)
    for history in out.values():
        history.freeze()
    return out


def _people(payer_id: int, ids: list[str]) -> dict[str, tuple[date | None, str, str]]:
    """Birth date, sex and market (834 county) of the plan's members."""
    out = {}
    for chunk in _chunks(ids):
        for member_id, birth, sex, market in Member.objects.filter(
            payer_id=payer_id, member_id__in=chunk
        ).values_list("member_id", "birth_date", "sex", "market"):
            out[member_id] = (birth, sex, market)
    return out


@dataclass
class _Described:
    """Members' utilisation, diagnoses and 834 details over ``[lo, end)``, and their descriptions on
    index months, made once each."""

    period: Period
    people: dict[str, tuple[date | None, str, str]]
    histories: dict[str, _History]
    diagnoses: dict[str, dict[date, set[str]]]
    made: dict[tuple[Any, ...], matching.Subject] = field(default_factory=dict)
    groups: dict[tuple[Any, ...], tuple[str, float]] = field(default_factory=dict)

    def describe(
        self,
        member_id: str,
        index: date,
        lob: str,
        market: str,
        window_months: int,
        definitions: Sequence[dict[str, Any]],
        only: set[date] | None = None,
    ) -> matching.Subject:
        key = (member_id, index, lob, market, window_months, id(definitions))
        if only is None and key in self.made:
            return self.made[key]
        birth, sex, _ = self.people.get(member_id, (None, "", ""))
        pre_start = shift_month(index, -window_months)
        by_month = self.diagnoses.get(member_id, {})
        codes = frozenset(code for month, c in by_month.items() if pre_start <= month < index for code in c)
        age = _age(birth, index)
        scored = (codes, lob, age, sex, id(definitions))
        if scored not in self.groups:
            group = next((g for d in definitions if (g := diagnosis_group(codes, d))), "")
            self.groups[scored] = (group, risk_score(lob, age, sex, codes) if group else 0.0)
        group, risk = self.groups[scored]
        history = self.histories.get(member_id, EMPTY)
        pre_cost, pre_months, pre_events = history.window(pre_start, index)
        post_cost, post_months, _ = history.window(max(index, self.period.start), self.period.end, only)
        subject = matching.Subject(
            member_id=member_id,
            index=index,
            age_band=matching.age_band(birth, index),
            lob=lob,
            market=market,
            condition_group=group,
            risk=risk,
            pre_cost=pre_cost,
            pre_months=pre_months,
            pre_events=pre_events,
            post_cost=post_cost,
            post_months=post_months,
        )
        if only is None:
            self.made[key] = subject
        return subject


def _read(payer_id: int, ids: list[str], period: Period, lo: date, diagnoses_end: date) -> _Described:
    return _Described(
        period=period,
        people=_people(payer_id, ids),
        histories=_histories(payer_id, ids, lo, period.end),
        diagnoses=claims_selectors.diagnoses_by_month(payer_id, ids, lo, diagnoses_end),
    )


def _candidates(payer_id: int, lobs: list[str], period: Period) -> dict[str, str]:
    """The plan's members eligible in the period on these lines, never on any of its rosters: their line."""
    on_rosters = MemberMonth.objects.filter(contract__payer_id=payer_id).values("member_id")
    spans = (
        EligibilitySpan.objects.filter(payer_id=payer_id, lob__in=lobs, start__lt=period.end)
        .filter(Q(end__isnull=True) | Q(end__gt=period.start))
        .exclude(member_id__in=on_rosters)
        .order_by("member_id", "start")
        .values_list("member_id", "lob")
    )
    out: dict[str, str] = {}
    for member_id, lob in spans:
        out.setdefault(member_id, lob)
    return out


def comparison_groups(
    period: Period, cohorts: Sequence[ContractCohort]
) -> dict[int, matching.Estimate | None]:
    """Each contract's difference in differences against its matched comparison group (by contract
    pk), for contracts of one plan; None for every one when the plan has sent no claims (the condition
    groups come from them)."""
    if not cohorts:
        return {}
    payer_id = cohorts[0].contract.payer_id
    if any(c.contract.payer_id != payer_id for c in cohorts):
        raise ValueError("comparison_groups compares the contracts of one plan at a time")
    if not claims_selectors.has_claims(payer_id):
        return {c.contract.pk: None for c in cohorts}
    # Contracts on the same bundle versions share one list, so their candidates are described once.
    shared: dict[tuple[int, ...], list[dict[str, Any]]] = {}
    definitions = {}
    for c in cohorts:
        versions = list(c.contract.bundle_versions.order_by("pk"))
        key = tuple(v.pk for v in versions)
        definitions[c.contract.pk] = shared.setdefault(key, [v.definition for v in versions])
    lobs = sorted({lob for ds in shared.values() for d in ds for lob in d.get("lines_of_business", [])})
    lo = min(
        (shift_month(c.first[m], -c.window_months) for c in cohorts for m in c.inside), default=period.start
    )
    last_index = max((c.first[m] for c in cohorts for m in c.inside), default=lo)

    candidate_lob = _candidates(payer_id, lobs, period)
    treated_ids = sorted({m for c in cohorts for m in c.inside})
    data = _read(
        payer_id, treated_ids + sorted(set(candidate_lob) - set(treated_ids)), period, lo, last_index
    )
    # The candidates by index month, line, market and age band (made once per index month).
    ordered = sorted(candidate_lob.items())
    by_stratum: dict[date, dict[tuple[str, str, str], list[str]]] = {}

    def candidates_at(index: date) -> dict[tuple[str, str, str], list[str]]:
        if index not in by_stratum:
            keyed: dict[tuple[str, str, str], list[str]] = defaultdict(list)
            for member_id, lob in ordered:
                birth, _, market = data.people.get(member_id, (None, "", ""))
                keyed[(lob, market, matching.age_band(birth, index))].append(member_id)
            by_stratum[index] = keyed
        return by_stratum[index]

    described: dict[tuple[Any, ...], list[matching.Subject]] = {}
    out: dict[int, matching.Estimate | None] = {}
    for cohort in cohorts:
        contract, ds = cohort.contract, definitions[cohort.contract.pk]
        treated = _treated(cohort, period, data, ds)
        wanted = {(t.index, t.lob, t.market, t.age_band) for t in treated if t.condition_group}
        candidates: dict[date, list[matching.Subject]] = defaultdict(list)
        for index, lob, market, band in sorted(wanted):
            key = (index, lob, market, band, cohort.window_months, id(ds))
            if key not in described:  # contracts on the same bundles share their candidates' descriptions
                described[key] = [
                    data.describe(member_id, index, lob, market, cohort.window_months, ds)
                    for member_id in candidates_at(index).get((lob, market, band), ())
                ]
            candidates[index] += described[key]
        out[contract.pk] = matching.estimate(treated, candidates)
    return out


def _treated(
    cohort: ContractCohort, period: Period, data: _Described, definitions: Sequence[dict]
) -> list[matching.Subject]:
    """The contract's members in the period, described on their index months over their enrolled months."""
    contract, ids = cohort.contract, sorted(cohort.inside)
    described: dict[str, tuple[str, str]] = {}
    enrolled: dict[str, set[date]] = defaultdict(set)
    births: dict[str, date] = {}
    for chunk in _chunks(ids):
        rows = (
            MemberMonth.objects.filter(contract=contract, submission__is_current=True, member_id__in=chunk)
            .order_by("member_id", "month")
            .values_list("member_id", "month", "lob", "market")
        )
        for member_id, month, lob, market in rows:
            if month == cohort.first[member_id]:
                described[member_id] = (lob, market)
            if period.start <= month < period.end:
                enrolled[member_id].add(month)
        missing = [m for m in chunk if m not in data.people]
        if missing:
            births.update(
                RosterEntry.objects.filter(
                    submission__contract=contract, submission__is_current=True, member_id__in=missing
                ).values_list("member_id", "birth_date")
            )
    for member_id, birth in births.items():
        data.people.setdefault(member_id, (birth, "", ""))
    return [
        data.describe(
            member_id,
            cohort.first[member_id],
            *described.get(member_id, ("", "")),
            cohort.window_months,
            definitions,
            enrolled[member_id],
        )
        for member_id in ids
    ]


def _data_version(contract: Contract) -> tuple[Any, ...]:
    """What the comparison of a contract is computed from, as the newest record of each kind: every
    file the plan or its providers send is a new row (utilisation, claims, eligibility, rosters), and
    bundle versions are immutable."""
    payer_id = contract.payer_id
    return (
        UtilizationUpload.objects.filter(payer_id=payer_id).aggregate(n=Max("pk"))["n"],
        ClaimsUpload.objects.filter(payer_id=payer_id).aggregate(n=Max("pk"))["n"],
        EligibilityFile.objects.filter(payer_id=payer_id).aggregate(n=Max("pk"))["n"],
        RosterSubmission.objects.filter(contract__payer_id=payer_id).aggregate(n=Max("pk"))["n"],
        tuple(contract.bundle_versions.order_by("pk").values_list("pk", flat=True)),
    )


def comparison_group(cohort: ContractCohort, period: Period) -> matching.Estimate | None:
    """One contract's comparison (the page's and the API's). On a state's data it takes seconds (the
    whole pool is described), so it is kept in the cache under the version of its data: any new file
    makes a new key, and the same page read again costs five small queries."""
    key = "comparison:" + sha256_hex(
        canonical_json(
            [cohort.contract.pk, period.code, cohort.window_months, *map(str, _data_version(cohort.contract))]
        )
    )
    found = cache.get(key, MISSING)
    if found is not MISSING:
        return found
    estimate = comparison_groups(period, [cohort])[cohort.contract.pk]
    cache.set(key, estimate, CACHE_SECONDS)
    return estimate
