"""The manual rate build-up and the quote (docs/domain.md 4.1-4.4, docs/formats.md section 6).

This module is *exactly* the arithmetic of docs/formats.md "What a quote computes, exactly", so that
any two implementations (ours, an actuary's spreadsheet, a plan's own model) agree to the cent:

    f               = (1 + annual_trend) ** (months / 12)     months: whole calendar months from
                                                              the base to the rating period
                                                              midpoint, days ignored
    minutes[r]      = visits_per_mm * (visit_minutes + travel_minutes_per_visit * home_share)
                      + coordination_minutes_per_mm
    cost_per_minute = salary * (1 + benefits_load) / (2080 * 60 * productivity)
    labor_pmpm[r]   = minutes[r] * cost_per_minute[r] * f
    non_labor       = (sum over roles of visits_per_mm) * home_share * miles_per_visit * mileage_rate
                      + supplies_pmpm + on_call_pmpm + technology_pmpm
    direct_pmpm     = (sum of untrended labor + non_labor) * f
    Z               = min(1, sqrt(member_months / full_credibility_member_months))
    blended         = Z * (cost / member_months) * f + (1 - Z) * direct_pmpm   (direct_pmpm if no
                                                                               experience)
    pmpm            = blended / (1 - admin_load - margin)
    assessment_fee  = (sum over assessment roles of (minutes + travel if home) * cost_per_minute
                       + (miles_per_visit * mileage_rate if home)) * f / (1 - admin_load - margin)

Reading of the text where it could be read two ways, each confirmed by the worked example
(tier 1 URBAN: pmpm 262.35, low 257.43, high 267.48, direct 166.54, labor np 99.02, Z 0.5;
assessment fee URBAN 341.85, RURAL-N 468.10), which is reproduced to the cent only this way:

- `labor_pmpm` shown per role is *trended* (np: 95.67 untrended, 99.02 trended).
- The experience PMPM is trended by f once; `direct_pmpm` already carries f (not applied twice).
- In the assessment, *every* assessment role travels (its minutes + the market's travel minutes
  each, no home_share: the visit is either at home or not), but the mileage is charged once per
  assessment, not per role (per role would give URBAN 348.67).
- `non_labor` mileage uses the tier's visits of all roles (each visit is a trip).

Everything is computed in a 40-digit Decimal context and rounded half-up to the cent only when
written into the result. Two extensions the text leaves open:

- `lob_factors` (per line of business, default 1) multiplies the blended direct cost before the
  loads, i.e. the PMPM, of that LOB's rate cells; without it a LOB does not change the arithmetic.
- Ranges (docs/domain.md 4.3): each ranged assumption is set to the end of its range that lowers
  (raises) the rate; the direction is found per rate cell by evaluating both ends with the other
  assumptions at their point values (the rate is monotone in each assumption, but e.g. the
  credibility standard moves it up or down depending on whether experience is above the manual
  rate).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import Any, NamedTuple

from core.domain.money import CALCULATION_CONTEXT, cents_str
from core.domain.months import months_between
from core.domain.problems import Problem
from pricing.engine.schema import (
    ExperienceCell,
    Market,
    PricingFile,
    PricingInputError,
    RoleEffort,
    parse_pricing_file,
)
from pricing.engine.survival import expected_months_enrolled
from pricing.engine.version import ENGINE_VERSION

#: Paid hours of one full-time employee a year (52 x 40), in minutes.
MINUTES_PER_FTE_YEAR = Decimal(2080 * 60)
#: The average calendar month (365.25 / 12 days), to turn an episode's days into member-months.
DAYS_PER_MONTH = Decimal("30.4375")


@lru_cache(maxsize=256)
def trend_factor(annual_trend: Decimal, months: int) -> Decimal:
    """f = (1 + annual_trend) ** (months / 12), correctly rounded at the engine's precision."""
    with localcontext(CALCULATION_CONTEXT):
        return (1 + annual_trend) ** (Decimal(months) / 12)


def _shown(value: Decimal) -> str:
    """A build-up step as shown: 10 decimal places, trailing zeros dropped ("132000", "1.8051282051")."""
    text = format(value, ".10f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _shown_by_object() -> Callable[[Decimal], str]:
    """`_shown` remembering the text of each Decimal object it was given, for one quote: the build-up
    of every cell shows the same objects again (a role's visits in every market of a tier, its salary
    in every tier of a market, the loads and the trend). Keyed by identity, as hashing a 40-digit
    Decimal costs more than formatting it; keeping the object keeps its id from being reused."""
    texts: dict[int, tuple[Decimal, str]] = {}

    def shown(value: Decimal) -> str:
        known = texts.get(id(value))
        if known is None:
            known = texts[id(value)] = (value, _shown(value))
        return known[1]

    return shown


@dataclass(frozen=True)
class Scenario:
    """The assumption values a range can move (docs/domain.md 4.3); the point scenario is the file's."""

    benefits_load: Decimal
    productivity: Decimal
    admin_load: Decimal
    margin: Decimal
    annual_trend: Decimal
    mileage_rate: Decimal
    supplies_pmpm: Decimal
    on_call_pmpm: Decimal
    technology_pmpm: Decimal
    full_credibility_member_months: Decimal | None

    @classmethod
    def point(cls, pf: PricingFile) -> Scenario:
        a = pf.assumptions
        return cls(**{f.name: getattr(a, f.name) for f in fields(cls)})


class RoleLine(NamedTuple):
    """One role's step of a rate cell's build-up."""

    role: str
    visits_per_mm: Decimal
    coordination_minutes_per_mm: Decimal
    minutes: Decimal
    salary: Decimal
    cost_per_minute: Decimal
    labor_untrended: Decimal
    labor_pmpm: Decimal  # trended


class NonLabor(NamedTuple):
    visits_per_mm: Decimal  # all roles' visits in the tier: each one a trip
    mileage: Decimal
    supplies: Decimal
    on_call: Decimal
    technology: Decimal
    total: Decimal  # untrended


@dataclass(frozen=True)
class RateCellBuildup:
    """Every step from minutes to PMPM for one tier x market, at full precision."""

    tier: str
    market: str
    roles: tuple[RoleLine, ...]
    labor_untrended: Decimal
    non_labor: NonLabor
    trend_factor: Decimal
    direct_pmpm: Decimal
    experience_member_months: Decimal | None
    experience_pmpm: Decimal | None  # untrended: cost / member_months
    credibility: Decimal
    blended_direct: Decimal
    admin_load: Decimal
    margin: Decimal
    pmpm: Decimal  # before any LOB factor

    @property
    def load_divisor(self) -> Decimal:
        return 1 - self.admin_load - self.margin

    def as_dict(self, shown_input: Callable[[Decimal], str] = _shown) -> dict[str, Any]:
        """The build-up as JSON-ready strings, each step to 10 decimal places. `shown_input` writes the
        steps that are the pricing file's own figures (a quote passes its `_shown_by_object`)."""
        exp = self.experience_pmpm
        return {
            "roles": {
                line.role: {
                    "visits_per_mm": shown_input(line.visits_per_mm),
                    "coordination_minutes_per_mm": shown_input(line.coordination_minutes_per_mm),
                    "minutes": _shown(line.minutes),
                    "salary": shown_input(line.salary),
                    "cost_per_minute": _shown(line.cost_per_minute),
                    "labor_untrended": _shown(line.labor_untrended),
                    "labor_pmpm": _shown(line.labor_pmpm),
                }
                for line in self.roles
            },
            "labor_untrended": _shown(self.labor_untrended),
            "non_labor": {
                "visits_per_mm": _shown(self.non_labor.visits_per_mm),
                "mileage": _shown(self.non_labor.mileage),
                "supplies": shown_input(self.non_labor.supplies),
                "on_call": shown_input(self.non_labor.on_call),
                "technology": shown_input(self.non_labor.technology),
                "total_untrended": _shown(self.non_labor.total),
            },
            "trend_factor": shown_input(self.trend_factor),
            "direct_pmpm": _shown(self.direct_pmpm),
            "experience_member_months": None
            if self.experience_member_months is None
            else shown_input(self.experience_member_months),
            "experience_pmpm": None if exp is None else _shown(exp),
            "experience_pmpm_trended": None if exp is None else _shown(exp * self.trend_factor),
            "credibility": _shown(self.credibility),
            "blended_direct": _shown(self.blended_direct),
            "admin_load": shown_input(self.admin_load),
            "margin": shown_input(self.margin),
            "load_divisor": _shown(self.load_divisor),
            "pmpm": _shown(self.pmpm),
        }


class AssessmentLine(NamedTuple):
    role: str
    minutes: Decimal
    travel_minutes: Decimal
    cost_per_minute: Decimal
    cost: Decimal  # untrended


@dataclass(frozen=True)
class AssessmentBuildup:
    """Every step of one market's initial assessment fee (docs/domain.md 4.4)."""

    market: str
    roles: tuple[AssessmentLine, ...]
    mileage: Decimal
    cost_untrended: Decimal
    trend_factor: Decimal
    cost: Decimal  # trended direct cost of one assessment
    admin_load: Decimal
    margin: Decimal
    fee: Decimal

    def as_dict(self) -> dict[str, Any]:
        return {
            "roles": {
                line.role: {
                    "minutes": _shown(line.minutes),
                    "travel_minutes": _shown(line.travel_minutes),
                    "cost_per_minute": _shown(line.cost_per_minute),
                    "cost_untrended": _shown(line.cost),
                }
                for line in self.roles
            },
            "mileage": _shown(self.mileage),
            "cost_untrended": _shown(self.cost_untrended),
            "trend_factor": _shown(self.trend_factor),
            "cost": _shown(self.cost),
            "load_divisor": _shown(1 - self.admin_load - self.margin),
            "fee": _shown(self.fee),
        }


def _trend(pf: PricingFile, s: Scenario) -> Decimal:
    a = pf.assumptions
    return _trend_factor(s.annual_trend, _months_between(a.base_period_midpoint, a.rating_period_midpoint))


# A quote asks for the same two midpoints and the same few trends and credibilities (the point's and
# the ranges' ends) hundreds of times; the Decimal power and square root are the costly part.
_months_between = lru_cache(maxsize=64)(months_between)
_trend_factor = lru_cache(maxsize=1024)(trend_factor)


@dataclass(frozen=True)
class _Staffing:
    """What a rate cell's price depends on besides the scenario, looked up once, priced many times.

    `roles` holds (role, effort, minutes, salary): minutes depend on the market's travel and the
    bundle's home share, neither of which a range moves. `salary_minutes` is the sum of minutes x
    salary over the roles: labour is that times the scenario's cost of a salary dollar's minute, so a
    range's scenarios price a cell without going through its roles again. `trip_miles` is the miles
    driven a member-month (visits x home share x miles per visit), which the mileage rate multiplies.
    """

    tier: str
    market: Market
    roles: tuple[tuple[str, RoleEffort, Decimal, Decimal], ...]
    visits: Decimal
    experience: ExperienceCell | None
    salary_minutes: Decimal
    trip_miles: Decimal


def _staffing(pf: PricingFile, tier: str, market: Market) -> _Staffing:
    with localcontext(CALCULATION_CONTEXT):
        travel = market.travel_minutes_per_visit * pf.bundle.home_share
        roles = []
        visits = Decimal(0)
        for role in pf.bundle.roles:
            effort = role.effort(tier)
            minutes = (
                effort.visits_per_mm * (role.visit_minutes + travel) + effort.coordination_minutes_per_mm
            )
            roles.append((role.role, effort, minutes, pf.salary(role.role, market.code)))
            visits += effort.visits_per_mm
        experience = pf.experience.by_tier.get(tier) if pf.experience is not None else None
        salary_minutes = sum((minutes * salary for _, _, minutes, salary in roles), Decimal(0))
        trip_miles = visits * pf.bundle.home_share * market.miles_per_visit
        return _Staffing(tier, market, tuple(roles), visits, experience, salary_minutes, trip_miles)


def credibility(member_months: Decimal, full_credibility_member_months: Decimal) -> Decimal:
    """z = min(1, sqrt(n / full))."""
    with localcontext(CALCULATION_CONTEXT):
        return min(Decimal(1), (member_months / full_credibility_member_months).sqrt())


_credibility = lru_cache(maxsize=1024)(credibility)


def _per_salary_dollar(s: Scenario) -> Decimal:
    """cost_per_minute / salary = (1 + benefits_load) / (2080 * 60 * productivity)."""
    return (1 + s.benefits_load) / (MINUTES_PER_FTE_YEAR * s.productivity)


def _non_labor_total(st: _Staffing, s: Scenario) -> Decimal:
    return st.trip_miles * s.mileage_rate + s.supplies_pmpm + s.on_call_pmpm + s.technology_pmpm


def _price_cell(pf: PricingFile, st: _Staffing, s: Scenario) -> RateCellBuildup:
    """The build-up of one cell under scenario `s`, role by role."""
    with localcontext(CALCULATION_CONTEXT):
        f = _trend(pf, s)
        per_salary_dollar = _per_salary_dollar(s)
        lines = []
        labor = Decimal(0)
        for role, effort, minutes, salary in st.roles:
            cpm = salary * per_salary_dollar
            untrended = minutes * cpm
            labor += untrended
            lines.append(
                RoleLine(
                    role,
                    effort.visits_per_mm,
                    effort.coordination_minutes_per_mm,
                    minutes,
                    salary,
                    cpm,
                    untrended,
                    untrended * f,
                )
            )
        non_labor_total = _non_labor_total(st, s)
        non_labor = NonLabor(
            st.visits,
            st.trip_miles * s.mileage_rate,
            s.supplies_pmpm,
            s.on_call_pmpm,
            s.technology_pmpm,
            non_labor_total,
        )
        direct = (labor + non_labor_total) * f
        z, blended = _blend(st, s, direct, f)
        experience = st.experience
        return RateCellBuildup(
            st.tier,
            st.market.code,
            tuple(lines),
            labor,
            non_labor,
            f,
            direct,
            None if experience is None else experience.member_months,
            None if experience is None else experience.cost / experience.member_months,
            z,
            blended,
            s.admin_load,
            s.margin,
            blended / (1 - s.admin_load - s.margin),
        )


def _blend(st: _Staffing, s: Scenario, direct: Decimal, f: Decimal) -> tuple[Decimal, Decimal]:
    """(Z, Z x trended experience PMPM + (1 - Z) x direct), or (0, direct) without experience."""
    if st.experience is None:
        return Decimal(0), direct
    assert s.full_credibility_member_months is not None  # required with experience
    member_months = st.experience.member_months
    z = _credibility(member_months, s.full_credibility_member_months)
    return z, z * (st.experience.cost / member_months) * f + (1 - z) * direct


def _range_pmpms(pf: PricingFile, staffings: Sequence[_Staffing], s: Scenario) -> list[Decimal]:
    """`_price_cell(pf, st, s).pmpm` of every cell, without the build-up's lines: a quote prices every
    cell under ten or so range scenarios, and only the PMPM counts there. The scenario's trend, cost of a
    salary dollar's minute and loads are worked out once for all the cells, and labour is each cell's
    `salary_minutes` x that cost (the roles' sum, factored), so no scenario goes through the roles."""
    with localcontext(CALCULATION_CONTEXT):
        f = _trend(pf, s)
        per_salary_dollar = _per_salary_dollar(s)
        divisor = 1 - s.admin_load - s.margin
        return [
            _blend(st, s, (st.salary_minutes * per_salary_dollar + _non_labor_total(st, s)) * f, f)[1]
            / divisor
            for st in staffings
        ]


def rate_cell_buildup(
    pf: PricingFile, tier: str, market: Market, scenario: Scenario | None = None
) -> RateCellBuildup:
    """The manual rate build-up and credibility blend of one tier x market (before any LOB factor)."""
    return _price_cell(pf, _staffing(pf, tier, market), scenario or Scenario.point(pf))


def assessment_buildup(
    pf: PricingFile, market: Market, scenario: Scenario | None = None
) -> AssessmentBuildup | None:
    """The initial assessment's cost and fee in one market, or None if the bundle has none."""
    assessment = pf.bundle.assessment
    if assessment is None:
        return None
    s = scenario or Scenario.point(pf)
    with localcontext(CALCULATION_CONTEXT):
        f = _trend(pf, s)
        per_salary_dollar = _per_salary_dollar(s)
        travel = market.travel_minutes_per_visit if assessment.home else Decimal(0)
        lines = []
        total = Decimal(0)
        for r in assessment.roles:
            cpm = pf.salary(r.role, market.code) * per_salary_dollar
            cost = (r.minutes + travel) * cpm
            lines.append(AssessmentLine(r.role, r.minutes, travel, cpm, cost))
            total += cost
        mileage = market.miles_per_visit * s.mileage_rate if assessment.home else Decimal(0)
        untrended = total + mileage
        cost = untrended * f
        fee = cost / (1 - s.admin_load - s.margin)
        return AssessmentBuildup(
            market.code, tuple(lines), mileage, untrended, f, cost, s.admin_load, s.margin, fee
        )


def _assessment_salary_minutes(pf: PricingFile, market: Market) -> tuple[Decimal, Decimal]:
    """(sum over the assessment's roles of (minutes + travel) x salary, miles driven) in one market:
    what a range scenario's assessment fee depends on besides the scenario."""
    assessment = pf.bundle.assessment
    assert assessment is not None  # asked only for a bundle with an assessment
    travel = market.travel_minutes_per_visit if assessment.home else Decimal(0)
    with localcontext(CALCULATION_CONTEXT):
        salary_minutes = sum(
            ((r.minutes + travel) * pf.salary(r.role, market.code) for r in assessment.roles), Decimal(0)
        )
    return salary_minutes, market.miles_per_visit if assessment.home else Decimal(0)


def _range_fees(pf: PricingFile, staffings: Sequence[tuple[Decimal, Decimal]], s: Scenario) -> list[Decimal]:
    """`assessment_buildup(pf, market, s).fee` of every market, without the lines, from each market's
    `_assessment_salary_minutes` (the roles' sum, factored, as `_range_pmpms` does for the cells)."""
    with localcontext(CALCULATION_CONTEXT):
        per_salary_dollar = _per_salary_dollar(s)
        f = _trend(pf, s)
        divisor = 1 - s.admin_load - s.margin
        return [
            (salary_minutes * per_salary_dollar + miles * s.mileage_rate) * f / divisor
            for salary_minutes, miles in staffings
        ]


class RangeProbe:
    """Low and high of figures with every ranged assumption at the end that lowers (raises) each one.

    Built once per quote: the one-assumption-moved scenarios and the combined low/high scenarios
    are the same for every rate cell; only which end lowers a figure is found per figure, by
    evaluating both ends with everything else at its point value.
    """

    def __init__(self, pf: PricingFile) -> None:
        self.point = Scenario.point(pf)
        self._ends = [
            (name, lo, hi, replace(self.point, **{name: lo}), replace(self.point, **{name: hi}))
            for name, (lo, hi) in pf.assumptions.ranges.items()
        ]

    def low_high(self, evaluate: Callable[[Scenario], Decimal]) -> tuple[Decimal, Decimal]:
        return self.low_high_all(lambda s: [evaluate(s)])[0]

    def low_high_all(
        self, evaluate: Callable[[Scenario], Sequence[Decimal]]
    ) -> list[tuple[Decimal, Decimal]]:
        """(low, high) of every figure `evaluate(s)` lists, in its order. Asking for all the figures at
        once lets `evaluate` work out what a scenario costs once for all of them."""
        if not self._ends:
            return [(value, value) for value in evaluate(self.point)]
        ends = [(evaluate(s_lo), evaluate(s_hi)) for _, _, _, s_lo, s_hi in self._ends]
        # Figures whose ranged assumptions lower them at the same ends share their low and high scenarios.
        figures_by_direction: dict[tuple[bool, ...], list[int]] = {}
        for i in range(len(ends[0][0])):
            high_end_raises = tuple(lows[i] <= highs[i] for lows, highs in ends)
            figures_by_direction.setdefault(high_end_raises, []).append(i)
        low_high: dict[int, tuple[Decimal, Decimal]] = {}
        for high_end_raises, figures in figures_by_direction.items():
            lowering = {
                name: lo if up else hi
                for (name, lo, hi, _, _), up in zip(self._ends, high_end_raises, strict=True)
            }
            raising = {
                name: hi if up else lo
                for (name, lo, hi, _, _), up in zip(self._ends, high_end_raises, strict=True)
            }
            lows = evaluate(replace(self.point, **lowering))
            highs = evaluate(replace(self.point, **raising))
            for i in figures:
                low_high[i] = lows[i], highs[i]
        return [low_high[i] for i in range(len(low_high))]


def episode_months(pf: PricingFile) -> Decimal | None:
    """An episode bundle's length in member-months (days / 30.4375), None for a monthly bundle."""
    days = pf.bundle.period.days
    if pf.bundle.period.type != "episode" or days is None:
        return None
    with localcontext(CALCULATION_CONTEXT):
        return Decimal(days) / DAYS_PER_MONTH


def enrolled_months(pf: PricingFile) -> Decimal:
    """Expected member-months per enrollee: the episode's length, or the survival curve's sum.

    An episode is paid in full whatever happens within it, so its months are the episode's.
    """
    episode = episode_months(pf)
    if episode is not None:
        return episode
    a = pf.assumptions
    with localcontext(CALCULATION_CONTEXT):
        return expected_months_enrolled(a.disenrollment, a.enrollment_horizon_months)


def select_markets(pf: PricingFile, markets: Sequence[str] | None) -> list[Market]:
    """The file's markets, or those asked for (in the order asked); unknown codes are an error."""
    if markets is None:
        return list(pf.assumptions.markets)
    known = {m.code: m for m in pf.assumptions.markets}
    errors = [
        Problem.at_path(f"markets[{i}]", "unknown_market", f"market {code!r} is not in the pricing file")
        for i, code in enumerate(markets)
        if code not in known
    ]
    if errors:
        raise PricingInputError(errors)
    return [known[code] for code in dict.fromkeys(markets)]


def select_lobs(lobs: Sequence[str] | None) -> list[str | None]:
    """The lines of business asked for, or [None]: one set of rate cells without a LOB."""
    if lobs is None:
        return [None]
    errors = [
        Problem.at_path(f"lobs[{i}]", "wrong_type", "a line of business is a non-empty string")
        for i, lob in enumerate(lobs)
        if not isinstance(lob, str) or not lob.strip()
    ]
    if errors:
        raise PricingInputError(errors)
    return list(dict.fromkeys(lobs))


def as_pricing_file(pricing_file: Mapping[str, Any] | PricingFile) -> PricingFile:
    """Accept either a raw pricing-file dict (validated here) or an already parsed file."""
    return pricing_file if isinstance(pricing_file, PricingFile) else parse_pricing_file(pricing_file)


def quote(
    pricing_file: Mapping[str, Any] | PricingFile,
    *,
    markets: Sequence[str] | None = None,
    lobs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Price every rate cell (tier x market, x LOB when `lobs` is given) of a pricing file.

    Returns the quote result of docs/formats.md section 6 (money as "x.xx" strings, rounded half-up
    only here) with, per rate cell, the low/high of the range, the PMPM the plan would need if
    assessments were not paid separately, the cost per enrollee, and the full build-up.
    Raises `PricingInputError` for an invalid file or an unknown market.
    """
    pf = as_pricing_file(pricing_file)
    selected = select_markets(pf, markets)
    lob_list = select_lobs(lobs)
    a = pf.assumptions
    with localcontext(CALCULATION_CONTEXT):
        probe = RangeProbe(pf)
        point = probe.point
        shown_input = _shown_by_object()
        months = months_between(a.base_period_midpoint, a.rating_period_midpoint)
        f = trend_factor(point.annual_trend, months)
        expected = enrolled_months(pf)
        episode = episode_months(pf)

        assessment_fee: dict[str, str] = {}
        assessment_range: dict[str, dict[str, str]] = {}
        assessment_detail: dict[str, Any] = {}
        # the assessment fee per expected member-month of an enrollee, and per enrollee (none: 0)
        spread = dict.fromkeys((m.code for m in selected), Decimal(0))
        fee_per_enrollee = dict(spread)
        fee_markets = [] if pf.bundle.assessment is None else selected
        fee_staffings = [_assessment_salary_minutes(pf, m) for m in fee_markets]
        fee_ranges = probe.low_high_all(lambda s: _range_fees(pf, fee_staffings, s))
        for market, (low, high) in zip(fee_markets, fee_ranges, strict=True):
            detail = assessment_buildup(pf, market, point)
            assert detail is not None  # the bundle has an assessment
            assessment_fee[market.code] = cents_str(detail.fee)
            assessment_range[market.code] = {"low": cents_str(low), "high": cents_str(high)}
            assessment_detail[market.code] = detail.as_dict()
            fee_per_enrollee[market.code] = detail.fee / a.conversion_rate  # assessments per enrollee
            spread[market.code] = fee_per_enrollee[market.code] / expected

        cells = [
            (tier, market, _staffing(pf, tier, market))
            for tier in pf.bundle.tier_codes
            for market in selected
        ]
        staffings = [st for _, _, st in cells]
        cell_ranges = probe.low_high_all(lambda s: _range_pmpms(pf, staffings, s))
        rates = []
        for (tier, market, staffing), (low, high) in zip(cells, cell_ranges, strict=True):
            cell = _price_cell(pf, staffing, point)
            shown = cell.as_dict(shown_input)
            labor = {line.role: cents_str(line.labor_pmpm) for line in cell.roles}
            direct_pmpm = cents_str(cell.direct_pmpm)
            non_labor_pmpm = cents_str(cell.non_labor.total * f)
            z = float(cell.credibility)
            experience_pmpm = None if cell.experience_pmpm is None else cents_str(cell.experience_pmpm * f)
            for lob in lob_list:
                factor = a.lob_factors.get(lob, Decimal(1)) if lob is not None else Decimal(1)
                factor_text = format(factor, "f")
                pmpm = cell.pmpm * factor
                rate: dict[str, Any] = {
                    "tier": tier,
                    "market": market.code,
                    "lob": lob,
                    "pmpm": cents_str(pmpm),
                    "low": cents_str(low * factor),
                    "high": cents_str(high * factor),
                    "direct_pmpm": direct_pmpm,
                    "labor_pmpm": labor,
                    "non_labor_pmpm": non_labor_pmpm,
                    "credibility": z,
                    "experience_pmpm": experience_pmpm,
                    "lob_factor": factor_text,
                    "pmpm_without_assessment_fee": cents_str(pmpm + spread[market.code]),
                    "cost_per_enrollee": cents_str(pmpm * expected + fee_per_enrollee[market.code]),
                    "buildup": {**shown, "lob_factor": factor_text, "pmpm_with_lob_factor": _shown(pmpm)},
                }
                if episode is not None:
                    rate["episode_rate"] = cents_str(pmpm * episode)
                rates.append(rate)

        return {
            "engine_version": ENGINE_VERSION,
            "bundle": pf.bundle.name,
            "period": {"type": pf.bundle.period.type, "days": pf.bundle.period.days},
            "rates": rates,
            "assessment_fee": assessment_fee,
            "assessment_fee_range": assessment_range,
            "assessment_buildup": assessment_detail,
            "trend_months": months,
            "trend_factor": _shown(f),
            "expected_months_enrolled": _shown(expected),
            "conversion_rate": format(a.conversion_rate, "f"),
        }
