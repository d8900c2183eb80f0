"""A comparison group for a contract's members, and the difference in differences against it.

No Django here (docs/domain.md "Comparison group"). The enrolled members are the *treated*; the
plan's members who were eligible for the bundle but not enrolled are the *candidates*. Each treated
member has an *index* month, the first month enrolled: the pre window is the months before it, the
post window the period's months from the index month on (for the treated, its enrolled months). A
candidate is measured over the same two windows as the treated member it is compared with, so the
selector hands over candidates per index month.

Matching, per treated member:

1. exactly on the stratum: age band, line of business, market and condition group;
2. then the nearest candidates on risk score, prior cost PMPM and prior use (ED visits and
   admissions per month), each feature scaled by its standard deviation over everyone measured,
   up to ``MATCHES`` candidates within ``CALIPER`` (with replacement: a candidate may serve two
   treated members; ties go to the smaller member id, so the match is reproducible).

A treated member with no pre-window history, or with no candidate in its stratum within the
caliper, is left out and counted by reason. The estimate, per matched treated member ``i`` with
weight ``w_i`` (its member-months in the period, so the treated post PMPM is the cohort's own):

    d_i = (post_i - pre_i) - (mean post of its matches - mean pre of its matches)
    effect = sum(w_i d_i) / sum(w_i)          (negative: the program costs less than the comparison)

with a 95% interval ``effect +- z * SE``, ``SE = sqrt(n / (n - 1) * sum(w_i^2 (d_i - effect)^2)) / sum(w_i)``.
The point estimate is exact Decimal arithmetic rounded half up to the cent; the interval is a float
computation shown to the cent (it moves no money).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from operator import attrgetter

import numpy as np

from core.domain.money import to_cents

Z95 = 1.959963984540054
#: Candidates matched to each treated member (at most), and the largest scaled distance accepted.
MATCHES = 3
CALIPER = 2.0
#: Age bands (lower bound inclusive) by age on the index month.
AGE_BANDS = ((0, "0-17"), (18, "18-44"), (45, "45-64"), (65, "65-74"), (75, "75-84"), (85, "85+"))
UNKNOWN = ""
#: Why a treated member has no comparison.
NO_HISTORY = "no_history"  # no pre-window months with data
NO_CONDITION = "no_condition_group"  # no claim diagnosis in a group of the bundle's eligibility
NO_MATCH = "no_match"  # no candidate in its stratum within the caliper
ZERO = Decimal(0)
NO_POOL: tuple[list[Subject], np.ndarray] = ([], np.empty((0, 3)))  # a stratum with no candidate


def age_band(birth: date | None, on: date) -> str:
    """The age band of someone born on ``birth`` on the day ``on`` ('' when the birth date is unknown)."""
    if birth is None:
        return UNKNOWN
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    label = AGE_BANDS[0][1]
    for lower, name in AGE_BANDS:
        if age >= lower:
            label = name
    return label


@dataclass(frozen=True)
class Subject:
    """One member measured around an index month."""

    member_id: str
    index: date
    age_band: str
    lob: str
    market: str
    condition_group: str
    risk: float
    pre_cost: Decimal
    pre_months: int
    pre_events: int  # ED visits and inpatient admissions in the pre window
    post_cost: Decimal
    post_months: int

    @property
    def stratum(self) -> tuple[str, str, str, str]:
        return (self.age_band, self.lob, self.market, self.condition_group)

    @property
    def pre_pmpm(self) -> Decimal:
        return self.pre_cost / self.pre_months

    @property
    def post_pmpm(self) -> Decimal:
        return self.post_cost / self.post_months

    @cached_property  # a candidate is compared with many treated members
    def features(self) -> tuple[float, float, float]:
        return (self.risk, float(self.pre_pmpm), self.pre_events / self.pre_months)


@dataclass(frozen=True)
class Match:
    treated: Subject
    controls: tuple[Subject, ...]

    @property
    def difference(self) -> Decimal:
        """``d_i``: the treated member's change less its comparison's mean change (PMPM)."""
        n = len(self.controls)
        control_pre = sum((c.pre_pmpm for c in self.controls), ZERO) / n
        control_post = sum((c.post_pmpm for c in self.controls), ZERO) / n
        return (self.treated.post_pmpm - self.treated.pre_pmpm) - (control_post - control_pre)


@dataclass(frozen=True)
class Estimate:
    """The difference in differences of a period, with what it rests on."""

    treated: int  # treated members in the period
    matched: int  # treated members with a comparison
    controls: int  # distinct candidates used
    unmatched: dict[str, int]  # treated members left out, by reason
    member_months: int  # enrolled months of the matched treated members (the weights)
    treated_pre_pmpm: Decimal | None
    treated_post_pmpm: Decimal | None
    control_pre_pmpm: Decimal | None
    control_post_pmpm: Decimal | None
    effect_pmpm: Decimal | None  # negative: lower cost than the comparison group's trend
    ci_low: Decimal | None
    ci_high: Decimal | None

    @property
    def savings_pmpm(self) -> Decimal | None:
        return None if self.effect_pmpm is None else -self.effect_pmpm


def _scales(rows: np.ndarray) -> np.ndarray:
    """The sample standard deviation of each matching feature over ``rows`` (one row per member), 1
    where there are fewer than two rows or the feature does not vary."""
    if len(rows) < 2:
        return np.ones(3)
    sd = rows.std(axis=0, ddof=1)
    return np.where(sd > 0, sd, 1.0)


_member_id = attrgetter("member_id")


def _measured(s: Subject) -> bool:
    return s.pre_months > 0 and s.post_months > 0


def match(
    treated: Sequence[Subject],
    candidates: Mapping[date, Sequence[Subject]],
    *,
    matches: int = MATCHES,
    caliper: float = CALIPER,
) -> tuple[list[Match], dict[str, int]]:
    """Each treated member's nearest candidates (see the module docstring), and the left-out counts.

    Distances to a stratum's candidates are one numpy computation per treated member: a state's
    pool holds thousands of candidates per stratum."""
    grouped: dict[tuple[date, tuple[str, str, str, str]], list[Subject]] = defaultdict(list)
    for index, group in candidates.items():
        for c in group:
            if _measured(c) and c.condition_group != UNKNOWN:
                grouped[(index, c.stratum)].append(c)
    pools: dict[tuple[date, tuple[str, str, str, str]], tuple[list[Subject], np.ndarray]] = {}
    for key, pool in grouped.items():
        pool.sort(key=_member_id)  # a stable sort of the distances then breaks ties by id
        pools[key] = (pool, np.array([c.features for c in pool]))
    measured = np.array([t.features for t in treated if _measured(t)]).reshape(-1, 3)
    scales = _scales(np.vstack([measured, *(features for _, features in pools.values())]))
    found: list[Match] = []
    unmatched: Counter[str] = Counter()
    for t in sorted(treated, key=lambda s: s.member_id):
        if not _measured(t):
            unmatched[NO_HISTORY] += 1
            continue
        if t.condition_group == UNKNOWN:
            unmatched[NO_CONDITION] += 1
            continue
        pool, features = pools.get((t.index, t.stratum), NO_POOL)
        distance = np.sqrt((((features - np.array(t.features)) / scales) ** 2).sum(axis=1))
        nearest = [pool[k] for k in np.argsort(distance, kind="stable")[:matches] if distance[k] <= caliper]
        if not nearest:
            unmatched[NO_MATCH] += 1
            continue
        found.append(Match(t, tuple(nearest)))
    return found, dict(unmatched)


def _weighted(values: Iterable[tuple[Decimal, int]]) -> Decimal:
    pairs = list(values)
    return sum((v * w for v, w in pairs), ZERO) / sum(w for _, w in pairs)


def difference_in_differences(
    matched: Sequence[Match], *, treated: int, unmatched: Mapping[str, int]
) -> Estimate:
    """The weighted difference in differences of matched pairs, with its 95% interval."""
    controls = len({c.member_id for m in matched for c in m.controls})
    weight = sum(m.treated.post_months for m in matched)
    if not matched:
        return Estimate(treated, 0, 0, dict(unmatched), 0, None, None, None, None, None, None, None)

    def mean_of(side) -> Decimal:
        return to_cents(_weighted((side(m), m.treated.post_months) for m in matched))

    differences = [(m.difference, m.treated.post_months) for m in matched]
    effect = _weighted(differences)
    low = high = None
    n = len(matched)
    if n > 1:
        spread = sum(float(w) ** 2 * float(d - effect) ** 2 for d, w in differences)
        se = math.sqrt(n / (n - 1) * spread) / weight
        low = to_cents(effect - Decimal(repr(Z95 * se)))
        high = to_cents(effect + Decimal(repr(Z95 * se)))
    return Estimate(
        treated=treated,
        matched=n,
        controls=controls,
        unmatched=dict(unmatched),
        member_months=weight,
        treated_pre_pmpm=mean_of(lambda m: m.treated.pre_pmpm),
        treated_post_pmpm=mean_of(lambda m: m.treated.post_pmpm),
        control_pre_pmpm=mean_of(lambda m: sum((c.pre_pmpm for c in m.controls), ZERO) / len(m.controls)),
        control_post_pmpm=mean_of(lambda m: sum((c.post_pmpm for c in m.controls), ZERO) / len(m.controls)),
        effect_pmpm=to_cents(effect),
        ci_low=low,
        ci_high=high,
    )


def estimate(treated: Sequence[Subject], candidates: Mapping[date, Sequence[Subject]]) -> Estimate:
    """Match, then estimate: the comparison-group figures of a period."""
    matched, unmatched = match(treated, candidates)
    return difference_in_differences(matched, treated=len(treated), unmatched=unmatched)


def comparison_baseline_pmpm(actual_pmpm: Decimal | None, result: Estimate) -> Decimal | None:
    """The baseline PMPM shared savings compare with under a comparison group: what the cohort would
    have cost without the program, its actual PMPM less the estimated effect."""
    if actual_pmpm is None or result.effect_pmpm is None:
        return None
    return to_cents(actual_pmpm - result.effect_pmpm)
