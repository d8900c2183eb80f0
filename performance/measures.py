"""Contract performance math, as pure functions (no Django): measures, intervals, score, money.

Inputs are the aggregates a selector computes in SQL (counts, member-months, sums); outputs are
plain dataclasses the page, the API and the PDF show. Measure codes, units and directions are the
contracts' own (``contracts.rules.QUALITY_MEASURES``); a contract's quality terms are the
normalised dicts ``contracts.rules.validate_quality_terms`` returns::

    {"measure": "ed_visits_per_1000", "target": "85", "weight": "0.3", "direction": "lower",
     "minimum_denominator": 100}

Intervals (95%):

- proportions (``rate`` unit): Wilson score interval;
- rates per 1,000 member-months (``per_1000``): exact Poisson (Garwood) interval on the count,
  from the chi-square / gamma quantiles, divided by the member-months and times 1,000;
- scores (``score``): mean +/- 1.96 standard errors (normal approximation), clipped to 0..100;
- medians (``days``): no interval is reported.

Scoring: a measure is *scored* iff its denominator is at least the term's minimum denominator
(and more than 0); it is *met* when its rate is at or below (``lower``) / at or above
(``higher``) the target. The **composite score** is the weighted share of the scored measures
that are met: ``sum(weight of met) / sum(weight of scored)``, a fraction 0..1. Weights of
measures that are not scored drop out (they are neither won nor lost), so a small rural
program's thin month cannot trigger a penalty. With nothing scored the composite is ``None``.

Money (all rounded once, half-up to the cent):

- **withhold return**: the share of the withheld amount returned equals the composite score;
  with nothing scored the whole withhold comes back (hold harmless);
- **bonus**: paid only when the contract carries a quality bonus term (``ContractVersion.quality_bonus``,
  ``{"threshold": "0.9", "percentage": "0.02"}``): ``percentage x base payments`` (the period's
  member-month payments on the ledger) when the composite is at least the threshold;
- **shared savings**: ``gross = (baseline PMPM - actual PMPM) x member-months``; nothing is
  shared unless the savings rate ``(baseline - actual) / baseline`` reaches the minimum savings
  rate and the composite reaches the quality gate (a gate of 0 passes with nothing scored);
  then ``gross x sharing rate`` (first dollar), capped at ``cap x baseline PMPM x member-months``.
  The baseline PMPM is the same members' own TCOC PMPM in the months before enrollment or, for a
  trended benchmark, :func:`trended_benchmark_pmpm`;
- **avoided events**: for each event kind, ``max(0, baseline events per MM x MM after - events
  after)`` valued at the plan's unit cost for that kind.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from statistics import NormalDist

from core.domain.money import FRACTION_PLACES, round_half_up, to_cents

Z95 = 1.959963984540054
_NORMAL = NormalDist()
ALPHA = 0.05
ZERO = Decimal(0)
THOUSAND = Decimal(1000)

# code -> (unit, better): the same codes and meanings as contracts.rules.QUALITY_MEASURES
MEASURE_UNITS: dict[str, tuple[str, str]] = {
    "ed_visits_per_1000": ("per_1000", "lower"),
    "inpatient_admissions_per_1000": ("per_1000", "lower"),
    "icu_admissions_per_1000": ("per_1000", "lower"),
    "readmission_30d_rate": ("rate", "lower"),
    "hospice_transition_rate": ("rate", "higher"),
    "median_days_before_hospice": ("days", "higher"),
    "death_at_home_rate": ("rate", "higher"),
    "acp_within_60d_rate": ("rate", "higher"),
    "assessment_within_n_days_rate": ("rate", "higher"),
    "satisfaction_score": ("score", "higher"),
}

#: Event kinds that can be avoided and priced per event (the plan's unit-cost table keys).
EVENT_KINDS = ("ed_visit", "inpatient_admission", "icu_admission", "readmission")


# --- intervals ----------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for ``successes / trials``; ``None`` without trials."""
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError("successes must be within 0..trials")
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _gamma_p(a: float, x: float) -> float:
    """Regularised lower incomplete gamma P(a, x) (series below a+1, continued fraction above)."""
    if x <= 0:
        return 0.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(100000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return min(1.0, total * math.exp(log_prefix))
    # Lentz's continued fraction for Q(a, x)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 100000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return max(0.0, 1.0 - math.exp(log_prefix) * h)


def gamma_quantile(shape: float, p: float) -> float:
    """The x with P(shape, x) = p (unit scale); chi2.ppf(p, 2k) / 2 == gamma_quantile(k, p).

    Newton's method from the Wilson-Hilferty approximation (a few steps), with bisection as the
    fallback when Newton does not settle.
    """
    if shape <= 0:
        raise ValueError("shape must be positive")
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    z = _NORMAL.inv_cdf(p)
    x = shape * (1 - 1 / (9 * shape) + z / (3 * math.sqrt(shape))) ** 3
    x = x if x > 0 else max(1e-8, shape * 0.01)
    log_gamma = math.lgamma(shape)
    for _ in range(60):
        error = _gamma_p(shape, x) - p
        density = math.exp((shape - 1) * math.log(x) - x - log_gamma)
        if density <= 0:
            break
        step = error / density
        new = x - step
        if new <= 0:
            new = x / 2
        if abs(new - x) <= 1e-12 * max(1.0, x):
            return new
        x = new
    low, high = 0.0, max(1.0, shape)
    while _gamma_p(shape, high) < p:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if _gamma_p(shape, mid) < p:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * max(1.0, high):
            break
    return (low + high) / 2


@lru_cache(maxsize=8192)
def poisson_interval(count: int, alpha: float = ALPHA) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count: chi2(a/2, 2k)/2 .. chi2(1-a/2, 2k+2)/2."""
    if count < 0:
        raise ValueError("count must be at least 0")
    lower = 0.0 if count == 0 else gamma_quantile(count, alpha / 2)
    upper = gamma_quantile(count + 1, 1 - alpha / 2)
    return lower, upper


def rate_interval_per_1000(count: int, exposure: Decimal | float) -> tuple[float, float] | None:
    """Garwood interval of ``count`` events over ``exposure`` member-months, per 1,000 MM."""
    exposure = float(exposure)
    if exposure <= 0:
        return None
    lower, upper = poisson_interval(count)
    return lower * 1000 / exposure, upper * 1000 / exposure


def mean_interval(
    total: float, sum_squares: float, n: int, *, low: float = 0.0, high: float = 100.0
) -> tuple[float, float] | None:
    """Normal-approximation interval of a mean from its sum and sum of squares (sample variance)."""
    if n <= 0:
        return None
    mean = total / n
    if n == 1:
        return max(low, mean), min(high, mean)
    variance = max(0.0, (sum_squares - n * mean * mean) / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    return max(low, mean - half), min(high, mean + half)


def median(values: Iterable[float | int]) -> float | None:
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --- measures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureData:
    """What the data says for one measure over a period (before terms are applied).

    ``numerator`` is a count for rates/proportions, the sum of scores for ``score``, the median for
    ``days``; ``denominator`` is member-months, the eligible count, or the number of responses.
    """

    numerator: Decimal
    denominator: Decimal
    sum_squares: Decimal = ZERO  # scores only


@dataclass(frozen=True)
class MeasureResult:
    code: str
    unit: str
    direction: str
    numerator: Decimal
    denominator: Decimal
    rate: Decimal | None
    ci_low: Decimal | None
    ci_high: Decimal | None
    target: Decimal | None
    weight: Decimal
    minimum_denominator: int
    scored: bool
    met: bool | None  # None when not scored

    def as_dict(self) -> dict:
        return {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in self.__dict__.items()}


def _dec(value: float | None, places: int = 6) -> Decimal | None:
    if value is None:
        return None
    return round_half_up(Decimal(repr(value)), places)


def _bounds(interval: tuple[float, float] | None) -> tuple[Decimal | None, Decimal | None]:
    # None without trials or exposure: then the rate has no interval.
    if interval is None:
        return None, None
    return _dec(interval[0]), _dec(interval[1])


def measure_rate(code: str, data: MeasureData) -> tuple[Decimal | None, Decimal | None, Decimal | None]:
    """(rate, ci_low, ci_high) for one measure; rates of ``rate`` unit are fractions 0..1."""
    unit = MEASURE_UNITS[code][0]
    num, den = Decimal(data.numerator), Decimal(data.denominator)
    if den <= 0:
        return None, None, None
    if unit == "per_1000":
        low, high = _bounds(rate_interval_per_1000(int(num), den))
        return round_half_up(num * THOUSAND / den, FRACTION_PLACES), low, high
    if unit == "rate":
        low, high = _bounds(wilson_interval(int(num), int(den)))
        return round_half_up(num / den, FRACTION_PLACES), low, high
    if unit == "score":
        low, high = _bounds(mean_interval(float(num), float(data.sum_squares), int(den)))
        return round_half_up(num / den, FRACTION_PLACES), low, high
    # days: the numerator is the median itself
    return num, None, None


#: N of ``assessment_within_n_days_rate`` when a term names none (contracts.rules' default too).
DEFAULT_REFERRAL_DAYS = 14


def assessment_within_n_days(days_from_referral: Iterable[int], n_days: int) -> MeasureData:
    """Assessments made at most ``n_days`` after their referral, over the assessments with a referral
    date (docs/domain.md 6.1): an assessment exactly N days after its referral counts as within."""
    gaps = list(days_from_referral)
    return MeasureData(Decimal(sum(1 for days in gaps if days <= n_days)), Decimal(len(gaps)))


def evaluate_measure(term: Mapping, data: MeasureData) -> MeasureResult:
    """Apply one quality term to the period's data: rate, interval, scored, met."""
    code = term["measure"]
    unit, better = MEASURE_UNITS[code]
    direction = term.get("direction") or better
    minimum = int(term.get("minimum_denominator") or 0)
    target = None if term.get("target") in (None, "") else Decimal(str(term["target"]))
    rate, low, high = measure_rate(code, data)
    scored = rate is not None and Decimal(data.denominator) > 0 and Decimal(data.denominator) >= minimum
    met = None
    if scored and rate is not None and target is not None:  # scored implies a rate
        met = rate <= target if direction == "lower" else rate >= target
    elif scored:
        scored = False
    return MeasureResult(
        code=code,
        unit=unit,
        direction=direction,
        numerator=Decimal(data.numerator),
        denominator=Decimal(data.denominator),
        rate=rate,
        ci_low=low,
        ci_high=high,
        target=target,
        weight=Decimal(str(term.get("weight") or 0)),
        minimum_denominator=minimum,
        scored=scored,
        met=met,
    )


def composite_score(results: Iterable[MeasureResult]) -> Decimal | None:
    """Weighted share of the scored measures that are met (0..1); ``None`` when nothing is scored."""
    scored = [r for r in results if r.scored]
    total = sum((r.weight for r in scored), ZERO)
    if not scored or total <= 0:
        return None
    won = sum((r.weight for r in scored if r.met), ZERO)
    return round_half_up(won / total, FRACTION_PLACES)


# --- money ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityMoney:
    withheld: Decimal
    return_share: Decimal
    withhold_returned: Decimal
    withhold_kept: Decimal
    bonus: Decimal
    base_payments: Decimal = ZERO  # the member-month payments a bonus percentage applies to


def quality_money(
    composite: Decimal | None,
    *,
    withheld: Decimal,
    base_payments: Decimal = ZERO,
    bonus_terms: Mapping | None = None,
) -> QualityMoney:
    """What the composite score earns: the share of the withhold returned, and any bonus."""
    withheld = to_cents(Decimal(withheld))
    share = Decimal(1) if composite is None else max(ZERO, min(Decimal(1), Decimal(composite)))
    returned = to_cents(withheld * share)
    bonus = ZERO
    if bonus_terms and composite is not None:
        threshold = Decimal(str(bonus_terms.get("threshold", "1")))
        if composite >= threshold:
            bonus = to_cents(Decimal(base_payments) * Decimal(str(bonus_terms.get("percentage", "0"))))
    return QualityMoney(
        withheld=withheld,
        return_share=share,
        withhold_returned=returned,
        withhold_kept=withheld - returned,
        bonus=to_cents(bonus),
        base_payments=Decimal(base_payments),
    )


@dataclass(frozen=True)
class SharedSavings:
    baseline_pmpm: Decimal | None
    actual_pmpm: Decimal | None
    member_months: Decimal
    gross_savings: Decimal
    savings_rate: Decimal | None
    minimum_savings_rate: Decimal
    msr_met: bool
    quality_gate: Decimal
    gate_met: bool
    sharing_rate: Decimal
    cap_amount: Decimal
    shared: Decimal
    reason: str


def shared_savings(
    terms: Mapping | None,
    *,
    baseline_pmpm: Decimal | None,
    actual_pmpm: Decimal | None,
    member_months: Decimal,
    composite: Decimal | None,
) -> SharedSavings | None:
    """The provider's share of the reduction in TCOC PMPM (see the module doc); ``None`` without terms."""
    if not terms:
        return None
    msr = Decimal(str(terms.get("minimum_savings_rate") or 0))
    gate = Decimal(str(terms.get("quality_gate") or 0))
    sharing = Decimal(str(terms.get("sharing_rate") or 0))
    cap = Decimal(str(terms.get("cap") or 0))
    mm = Decimal(member_months)
    gate_met = (composite is None and gate == 0) or (composite is not None and composite >= gate)
    if baseline_pmpm is None or actual_pmpm is None or baseline_pmpm <= 0 or mm <= 0:
        return SharedSavings(
            baseline_pmpm,
            actual_pmpm,
            mm,
            ZERO,
            None,
            msr,
            False,
            gate,
            gate_met,
            sharing,
            ZERO,
            ZERO,
            "No baseline or no member-months: nothing to compare.",
        )
    baseline_pmpm, actual_pmpm = Decimal(baseline_pmpm), Decimal(actual_pmpm)
    gross = to_cents((baseline_pmpm - actual_pmpm) * mm)
    rate = round_half_up((baseline_pmpm - actual_pmpm) / baseline_pmpm, FRACTION_PLACES)
    cap_amount = to_cents(cap * baseline_pmpm * mm)
    msr_met = rate >= msr and gross > 0
    if not msr_met:
        reason = (
            "Savings below the minimum savings rate." if gross > 0 else "No savings against the baseline."
        )
        shared = ZERO
    elif not gate_met:
        reason = (
            "No measure could be scored, so the quality gate was not met."
            if composite is None
            else "The quality gate was not met."
        )
        shared = ZERO
    else:
        shared = min(to_cents(gross * sharing), cap_amount)
        reason = "Capped." if shared == cap_amount and to_cents(gross * sharing) > cap_amount else "Shared."
    return SharedSavings(
        baseline_pmpm,
        actual_pmpm,
        mm,
        gross,
        rate,
        msr,
        msr_met,
        gate,
        gate_met,
        sharing,
        cap_amount,
        shared,
        reason,
    )


DAYS_PER_YEAR = 365.25


def period_midpoint(start: date, end: date) -> date:
    """The midpoint of ``[start, end)``: its first day plus half its days, rounded down.

    2026-Q1 (90 days) -> 2026-02-15; 2026 (365 days) -> 2026-07-02; March 2026 -> 2026-03-16."""
    return start + timedelta(days=(end - start).days // 2)


def trended_benchmark_pmpm(
    benchmark_pmpm: Decimal | str, midpoint: date, annual_trend: Decimal | str, period_midpoint: date
) -> Decimal:
    """A benchmark PMPM trended from the midpoint of the period it was measured on to ``period_midpoint``.

    ``benchmark_pmpm x (1 + annual_trend) ** (days between the midpoints / 365.25)``: the power is
    computed in float (a fractional exponent), taken back as ``Decimal(str(factor))``, multiplied by the
    benchmark in Decimal and rounded once, half-up, to the cent. A period before the benchmark's
    midpoint trends it backwards (a negative exponent); the same day is the benchmark itself.
    """
    days = (period_midpoint - midpoint).days
    factor = (1.0 + float(annual_trend)) ** (days / DAYS_PER_YEAR)
    return to_cents(Decimal(str(benchmark_pmpm)) * Decimal(str(factor)))


@dataclass(frozen=True)
class AvoidedEvent:
    kind: str
    baseline_rate_per_1000: Decimal | None
    expected: Decimal
    actual: int
    avoided: Decimal
    unit_cost: Decimal
    value: Decimal


@dataclass(frozen=True)
class AvoidedEvents:
    events: list[AvoidedEvent] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((e.value for e in self.events), ZERO)


def avoided_events(
    *,
    baseline_counts: Mapping[str, int],
    baseline_mm: Decimal,
    actual_counts: Mapping[str, int],
    actual_mm: Decimal,
    unit_costs: Mapping[str, Decimal],
) -> AvoidedEvents:
    """Events expected at the pre-enrollment rate minus events seen, valued per event."""
    baseline_mm, actual_mm = Decimal(baseline_mm), Decimal(actual_mm)
    events = []
    for kind in EVENT_KINDS:
        actual = int(actual_counts.get(kind, 0))
        cost = Decimal(unit_costs.get(kind, ZERO))
        if baseline_mm > 0:
            per_mm = Decimal(int(baseline_counts.get(kind, 0))) / baseline_mm
            expected = round_half_up(per_mm * actual_mm, 2)
            rate = round_half_up(per_mm * THOUSAND, 2)
        else:
            expected, rate = ZERO, None
        avoided = max(ZERO, expected - actual)
        events.append(AvoidedEvent(kind, rate, expected, actual, avoided, cost, to_cents(avoided * cost)))
    return AvoidedEvents(events)
