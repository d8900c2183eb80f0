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
from typing import Any

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


@dataclass(frozen=True)
class RoleLine:
    """One role's step of a rate cell's build-up."""

    role: str
    visits_per_mm: Decimal
    coordination_minutes_per_mm: Decimal
    minutes: Decimal
    salary: Decimal
    cost_per_minute: Decimal
    labor_untrended: Decimal
    labor_pmpm: Decimal  # trended


@dataclass(frozen=True)
class NonLabor:
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

    def as_dict(self) -> dict[str, Any]:
        """The build-up as JSON-ready strings, each step to 10 decimal places."""
        exp = self.experience_pmpm
        return {
            "roles": {
                line.role: {
                    "visits_per_mm": _shown(line.visits_per_mm),
                    "coordination_minutes_per_mm": _shown(line.coordination_minutes_per_mm),
                    "minutes": _shown(line.minutes),
                    "salary": _shown(line.salary),
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
                "supplies": _shown(self.non_labor.supplies),
                "on_call": _shown(self.non_labor.on_call),
                "technology": _shown(self.non_labor.technology),
                "total_untrended": _shown(self.non_labor.total),
            },
            "trend_factor": _shown(self.trend_factor),
            "direct_pmpm": _shown(self.direct_pmpm),
            "experience_member_months": None
            if self.experience_member_months is None
            else _shown(self.experience_member_months),
            "experience_pmpm": None if exp is None else _shown(exp),
            "experience_pmpm_trended": None if exp is None else _shown(exp * self.trend_factor),
            "credibility": _shown(self.credibility),
            "blended_direct": _shown(self.blended_direct),
            "admin_load": _shown(self.admin_load),
            "margin": _shown(self.margin),
            "load_divisor": _shown(self.load_divisor),
            "pmpm": _shown(self.pmpm),
        }


@dataclass(frozen=True)
class AssessmentLine:
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


def _shown(value: Decimal) -> str:
    """A build-up step as shown: 10 decimal places, trailing zeros dropped ("132000", "1.8051282051")."""
    text = format(value, ".10f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


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
    range's scenarios price a cell without going through its roles again.
    """

    tier: str
    market: Market
    roles: tuple[tuple[str, RoleEffort, Decimal, Decimal], ...]
    visits: Decimal
    experience: ExperienceCell | None
    salary_minutes: Decimal


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
        return _Staffing(tier, market, tuple(roles), visits, experience, salary_minutes)


def credibility(member_months: Decimal, full_credibility_member_months: Decimal) -> Decimal:
    """z = min(1, sqrt(n / full))."""
    with localcontext(CALCULATION_CONTEXT):
        return min(Decimal(1), (member_months / full_credibility_member_months).sqrt())


_credibility = lru_cache(maxsize=1024)(credibility)


def _price_cell(pf: PricingFile, st: _Staffing, s: Scenario, *, detail: bool = True) -> RateCellBuildup:
    """The build-up of one cell under scenario `s`; `detail=False` skips the per-role lines (ranges)."""
    with localcontext(CALCULATION_CONTEXT):
        f = _trend(pf, s)
        # cost_per_minute = salary * (1 + benefits_load) / (2080 * 60 * productivity)
        per_salary_dollar = (1 + s.benefits_load) / (MINUTES_PER_FTE_YEAR * s.productivity)
        lines = []
        labor = Decimal(0)
        for role, effort, minutes, salary in st.roles if detail else ():
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
        if not detail:  # the same sum, factored: the ranges' scenarios need only the cell's PMPM
            labor = st.salary_minutes * per_salary_dollar
        mileage = st.visits * pf.bundle.home_share * st.market.miles_per_visit * s.mileage_rate
        non_labor_total = mileage + s.supplies_pmpm + s.on_call_pmpm + s.technology_pmpm
        non_labor = NonLabor(
            st.visits, mileage, s.supplies_pmpm, s.on_call_pmpm, s.technology_pmpm, non_labor_total
        )
        direct = (labor + non_labor_total) * f
        if st.experience is None:
            z, experience_pmpm, member_months, blended = Decimal(0), None, None, direct
        else:
            assert s.full_credibility_member_months is not None  # required with experience
            member_months = st.experience.member_months
            experience_pmpm = st.experience.cost / member_months
            z = _credibility(member_months, s.full_credibility_member_months)
            blended = z * experience_pmpm * f + (1 - z) * direct
        pmpm = blended / (1 - s.admin_load - s.margin)
        return RateCellBuildup(
            st.tier,
            st.market.code,
            tuple(lines),
            labor,
            non_labor,
            f,
            direct,
            member_months,
            experience_pmpm,
            z,
            blended,
            s.admin_load,
            s.margin,
            pmpm,
        )


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
        per_salary_dollar = (1 + s.benefits_load) / (MINUTES_PER_FTE_YEAR * s.productivity)
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


class RangeProbe:
    """Low and high of any figure with every ranged assumption at the end that lowers (raises) it.

    Built once per quote: the one-assumption-moved scenarios and the combined low/high scenarios
    are the same for every rate cell; only which end lowers the figure is found per cell, by
    evaluating both ends with everything else at its point value.
    """

    def __init__(self, pf: PricingFile) -> None:
        self.point = Scenario.point(pf)
        self._ends = [
            (name, lo, hi, replace(self.point, **{name: lo}), replace(self.point, **{name: hi}))
            for name, (lo, hi) in pf.assumptions.ranges.items()
        ]
        self._combined: dict[tuple[bool, ...], tuple[Scenario, Scenario]] = {}

    def low_high(self, evaluate: Callable[[Scenario], Decimal]) -> tuple[Decimal, Decimal]:
        if not self._ends:
            value = evaluate(self.point)
            return value, value
        high_end_raises = tuple(evaluate(s_lo) <= evaluate(s_hi) for _, _, _, s_lo, s_hi in self._ends)
        scenarios = self._combined.get(high_end_raises)
        if scenarios is None:
            lowering = {
                name: lo if up else hi
                for (name, lo, hi, _, _), up in zip(self._ends, high_end_raises, strict=True)
            }
            raising = {
                name: hi if up else lo
                for (name, lo, hi, _, _), up in zip(self._ends, high_end_raises, strict=True)
            }
            scenarios = replace(self.point, **lowering), replace(self.point, **raising)
            self._combined[high_end_raises] = scenarios
        return evaluate(scenarios[0]), evaluate(scenarios[1])


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
        months = months_between(a.base_period_midpoint, a.rating_period_midpoint)
        f = trend_factor(point.annual_trend, months)
        expected = enrolled_months(pf)
        episode = episode_months(pf)

        assessment_fee: dict[str, str] = {}
        assessment_range: dict[str, dict[str, str]] = {}
        assessment_detail: dict[str, Any] = {}
        spread: dict[str, Decimal] = {}  # assessment fee per expected member-month of an enrollee
        fee_per_enrollee: dict[str, Decimal] = {}
        for market in selected:
            detail = assessment_buildup(pf, market, point)
            if detail is None:
                spread[market.code] = fee_per_enrollee[market.code] = Decimal(0)
                continue

            def scenario_fee(s: Scenario, m: Market = market) -> Decimal:
                scenario_detail = assessment_buildup(pf, m, s)
                assert scenario_detail is not None  # the bundle has an assessment (detail above)
                return scenario_detail.fee

            low, high = probe.low_high(scenario_fee)
            assessment_fee[market.code] = cents_str(detail.fee)
            assessment_range[market.code] = {"low": cents_str(low), "high": cents_str(high)}
            assessment_detail[market.code] = detail.as_dict()
            fee_per_enrollee[market.code] = detail.fee / a.conversion_rate  # assessments per enrollee
            spread[market.code] = fee_per_enrollee[market.code] / expected

        rates = []
        for tier in pf.bundle.tier_codes:
            for market in selected:
                staffing = _staffing(pf, tier, market)
                cell = _price_cell(pf, staffing, point)

                def scenario_pmpm(s: Scenario, st: _Staffing = staffing) -> Decimal:
                    return _price_cell(pf, st, s, detail=False).pmpm

                low, high = probe.low_high(scenario_pmpm)
                shown = cell.as_dict()
                labor = {line.role: cents_str(line.labor_pmpm) for line in cell.roles}
                for lob in lob_list:
                    factor = a.lob_factors.get(lob, Decimal(1)) if lob is not None else Decimal(1)
                    pmpm = cell.pmpm * factor
                    rate: dict[str, Any] = {
                        "tier": tier,
                        "market": market.code,
                        "lob": lob,
                        "pmpm": cents_str(pmpm),
                        "low": cents_str(low * factor),
                        "high": cents_str(high * factor),
                        "direct_pmpm": cents_str(cell.direct_pmpm),
                        "labor_pmpm": labor,
                        "non_labor_pmpm": cents_str(cell.non_labor.total * f),
                        "credibility": float(cell.credibility),
                        "experience_pmpm": None
                        if cell.experience_pmpm is None
                        else cents_str(cell.experience_pmpm * f),
                        "lob_factor": format(factor, "f"),
                        "pmpm_without_assessment_fee": cents_str(pmpm + spread[market.code]),
                        "cost_per_enrollee": cents_str(pmpm * expected + fee_per_enrollee[market.code]),
                        "buildup": {
                            **shown,
                            "lob_factor": format(factor, "f"),
                            "pmpm_with_lob_factor": _shown(pmpm),
                        },
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
