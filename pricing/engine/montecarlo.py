"""Risk: Monte Carlo of a contract year (docs/domain.md 4.6).

A rate that covers the *average* member can still sink a small rural program: 40 enrollees a
year is few enough that a run of long stays or heavy users wipes out the margin. This simulates
many contract years of a proposed rate schedule and reports the provider's margin distribution
(mean, 5th/50th/95th percentiles, probability of loss) and the payer's spend distribution.

One contract year:
- referrals ~ Poisson(referrals_per_year); every referral gets an initial assessment (paid at
  the assessment fee whatever the outcome, costing the assessment's direct cost);
- enrollees ~ Binomial(referrals, conversion_rate);
- tier mix ~ Multinomial(enrollees, tier_mix);
- months enrolled per enrollee: a discrete draw from the survival curve (survival.py) by inverse
  CDF, capped at the curve's horizon. Each enrollee's whole stay is counted in the year they
  enroll: in steady state the months carried in from last year's enrollees equal those carried
  out into next year, so the year's expected member-months are enrollees x E[months]
  (docs/domain.md 4.5's annual budget). `first_year=True` models a new program instead: enrollment
  months spread uniformly over the year and stays cut at the year's end, with no carry-in;
- intensity per enrollee: a gamma multiplier on minutes (mean 1, coefficient of variation
  `minutes_cv`), scaling that enrollee's labor cost.

    revenue (= payer spend) = sum over enrollees of pmpm[tier] x months + referrals x assessment_fee
    cost = sum over enrollees of months x (labor_pmpm[tier] x gamma + other_cost_pmpm[tier])
           + referrals x assessment_cost + fixed_annual_cost
    margin = revenue - cost

Reproducible: numpy.random.Generator(PCG64(seed)) drawn in a fixed order in fixed-size chunks,
so the same model, number of years and seed give bit-identical arrays. Vectorised: all enrollees
of a chunk of contract years are drawn at once and summed per year with `np.bincount`.
Floats are used here only; the summary returns money as Decimal cents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from core.domain.money import CALCULATION_CONTEXT, to_cents, up_to_cents
from core.domain.problems import Problem
from pricing.engine.buildup import (
    Scenario,
    as_pricing_file,
    assessment_buildup,
    rate_cell_buildup,
)
from pricing.engine.schema import PricingFile, PricingInputError
from pricing.engine.survival import disenrollment_hazards, survival_curve
from pricing.engine.version import ENGINE_VERSION

#: Contract years drawn together: big enough to amortise numpy's per-call cost, small enough
#: that a chunk's enrollee arrays (~300 enrollees a year) stay a few MB. Fixed, so results do
#: not depend on anything but the model, n_years and seed.
CHUNK_YEARS = 4096
MONTHS_IN_YEAR = 12


@dataclass(frozen=True)
class ContractYearModel:
    """Everything one simulated contract year needs, per tier, as plain floats."""

    tiers: tuple[str, ...]
    tier_mix: tuple[float, ...]  # probability an enrollee is in each tier; sums to 1
    pmpm: tuple[float, ...]  # the rate paid per member-month, by tier
    labor_cost_pmpm: tuple[float, ...]  # scaled by the enrollee's intensity multiplier
    other_cost_pmpm: tuple[float, ...]  # non-labor and admin: per member-month, not scaled
    referrals_per_year: float
    conversion_rate: float
    assessment_fee: float
    assessment_cost: float
    survival: tuple[float, ...]  # S(0..H): probability of staying more than k months
    minutes_cv: float = 0.3
    fixed_annual_cost: float = 0.0
    first_year: bool = False

    def __post_init__(self) -> None:
        n = len(self.tiers)
        if n == 0 or any(
            len(v) != n for v in (self.tier_mix, self.pmpm, self.labor_cost_pmpm, self.other_cost_pmpm)
        ):
            raise ValueError("tier_mix, pmpm, labor_cost_pmpm and other_cost_pmpm need one value per tier")
        if min(self.tier_mix) < 0 or not np.isclose(sum(self.tier_mix), 1.0):
            raise ValueError("tier_mix must be probabilities adding up to 1")
        if self.referrals_per_year < 0 or not 0 <= self.conversion_rate <= 1 or self.minutes_cv < 0:
            raise ValueError("referrals_per_year >= 0, conversion_rate in [0, 1] and minutes_cv >= 0")
        curve = np.asarray(self.survival)
        if len(curve) < 2 or curve[0] != 1 or (np.diff(curve) > 0).any() or curve[-1] < 0:
            raise ValueError("survival must start at 1 and never rise")
        values = (
            *self.pmpm,
            *self.labor_cost_pmpm,
            *self.other_cost_pmpm,
            self.assessment_fee,
            self.assessment_cost,
            self.fixed_annual_cost,
            self.referrals_per_year,
        )
        if not np.isfinite(values).all():
            raise ValueError("every amount must be finite")

    @property
    def months_cdf(self) -> npt.NDArray[np.float64]:
        """P(months <= k) for k = 1..H, the last forced to 1 (longer stays are capped at H)."""
        cdf = 1.0 - np.asarray(self.survival[1:], dtype=np.float64)
        cdf[-1] = 1.0
        return cdf


@dataclass(frozen=True)
class ContractYearDraws:
    """The simulated contract years, one element per year."""

    referrals: npt.NDArray[np.int64]
    enrollees: npt.NDArray[np.int64]
    member_months: npt.NDArray[np.float64]
    revenue: npt.NDArray[np.float64]  # the payer's spend
    cost: npt.NDArray[np.float64]
    margin: npt.NDArray[np.float64]


@dataclass(frozen=True)
class _ChunkVariates:
    referrals: npt.NDArray[np.int64]
    tier_counts: npt.NDArray[np.int64]  # (years, tiers); enrollees are ordered year-major, tier-minor
    months: npt.NDArray[np.int64]  # per enrollee
    intensity: npt.NDArray[np.float64] | None  # per enrollee; None when minutes_cv == 0


def _draw_chunk(rng: np.random.Generator, model: ContractYearModel, n_years: int) -> _ChunkVariates:
    """Draw every random variate of `n_years` contract years, in a fixed order."""
    referrals = rng.poisson(model.referrals_per_year, n_years)
    enrollees = rng.binomial(referrals, model.conversion_rate)
    tier_counts = rng.multinomial(enrollees, model.tier_mix)
    total = int(enrollees.sum())
    months = np.searchsorted(model.months_cdf, rng.random(total), side="right") + 1
    if model.first_year:
        # months left in the year for an enrollee who starts in month 0..11
        months = np.minimum(months, MONTHS_IN_YEAR - rng.integers(0, MONTHS_IN_YEAR, total))
    intensity = None
    if model.minutes_cv > 0:
        shape = 1.0 / model.minutes_cv**2  # gamma(k, theta): mean k*theta = 1, cv = 1/sqrt(k)
        intensity = rng.gamma(shape, model.minutes_cv**2, total)
    return _ChunkVariates(referrals, tier_counts, months, intensity)


def _chunks(n_years: int) -> list[int]:
    return [min(CHUNK_YEARS, n_years - start) for start in range(0, n_years, CHUNK_YEARS)]


def draw_contract_year_variates(model: ContractYearModel, *, n_years: int, seed: int) -> int:
    """Only draw the random variates `simulate_contract_years` uses, and return how many.

    This is the benchmark's floor: the time numpy needs to produce the randomness alone, against
    which the simulation's own arithmetic is measured.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    drawn = 0
    for n in _chunks(n_years):
        v = _draw_chunk(rng, model, n)
        per_enrollee = 1 + (v.intensity is not None) + model.first_year  # months, intensity, start month
        drawn += 2 * n + v.tier_counts.size + v.months.size * per_enrollee
    return drawn


def simulate_contract_years(model: ContractYearModel, *, n_years: int, seed: int) -> ContractYearDraws:
    """Simulate `n_years` contract years; same model, n_years and seed give identical arrays."""
    if n_years < 1:
        raise ValueError("n_years must be at least 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    n_tiers = len(model.tiers)
    pmpm = np.asarray(model.pmpm, dtype=np.float64)
    labor = np.asarray(model.labor_cost_pmpm, dtype=np.float64)
    other = np.asarray(model.other_cost_pmpm, dtype=np.float64)
    parts: list[tuple[npt.NDArray[Any], ...]] = []
    for n in _chunks(n_years):
        v = _draw_chunk(rng, model, n)
        cell = np.repeat(np.arange(n * n_tiers), v.tier_counts.ravel())  # (year, tier) of each enrollee
        months = v.months.astype(np.float64)
        member_months = np.bincount(cell, weights=months, minlength=n * n_tiers).reshape(n, n_tiers)
        if v.intensity is None:
            weighted_months = member_months
        else:
            weighted_months = np.bincount(cell, weights=months * v.intensity, minlength=n * n_tiers).reshape(
                n, n_tiers
            )
        revenue = member_months @ pmpm + v.referrals * model.assessment_fee
        cost = (
            weighted_months @ labor
            + member_months @ other
            + v.referrals * model.assessment_cost
            + model.fixed_annual_cost
        )
        parts.append((v.referrals, v.tier_counts.sum(axis=1), member_months.sum(axis=1), revenue, cost))
    referrals, enrollees, year_months, revenue, cost = (np.concatenate(p) for p in zip(*parts, strict=True))
    return ContractYearDraws(referrals, enrollees, year_months, revenue, cost, revenue - cost)


def combine_draws(draws: list[ContractYearDraws], *, fixed_annual_cost: float = 0.0) -> ContractYearDraws:
    """Simulated years of several parts of one program added year by year (each part drawn with its
    own seed, so the parts are independent), with the program's fixed annual cost once a year."""
    if not draws:
        raise ValueError("no draws to combine")
    if len({d.margin.size for d in draws}) != 1:
        raise ValueError("every part needs the same number of simulated years")

    def total(field: str) -> npt.NDArray[Any]:
        return np.sum([getattr(d, field) for d in draws], axis=0)

    revenue = total("revenue")
    cost = total("cost") + fixed_annual_cost
    return ContractYearDraws(
        total("referrals"), total("enrollees"), total("member_months"), revenue, cost, revenue - cost
    )


#: The loss probabilities a reserve is computed for: 0.5% to 50% by half a percent.
RESERVE_LEVELS = tuple(Decimal(i) / 200 for i in range(1, 101))


def reserve_needed(margin: npt.NDArray[np.float64]) -> dict[str, Decimal]:
    """Per loss probability p (RESERVE_LEVELS, keyed "0.05"): the smallest reserve R, among the simulated
    years, with P(margin + R < 0) <= p: at most floor(p x n) of the n years may still lose. Zero when
    that year's margin is not a loss."""
    ordered = np.sort(margin)
    n = ordered.size
    out = {}
    for p in RESERVE_LEVELS:
        k = min(n - 1, int(p * n))  # the year whose margin the reserve must cover
        # rounded up: a reserve a cent short would leave that year a loss
        # (from the float's shortest repr: -1.1 is a loss of 1.10, not of 1.1000000000000000888)
        out[format(p.normalize(), "f")] = up_to_cents(Decimal(repr(max(0.0, -float(ordered[k])))))
    return out


def _money(value: float) -> Decimal:
    return to_cents(Decimal(float(value)))


def _distribution(values: npt.NDArray[np.float64]) -> dict[str, Decimal]:
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return {"mean": _money(values.mean()), "p5": _money(p5), "p50": _money(p50), "p95": _money(p95)}


def _histogram(values: npt.NDArray[np.float64], bins: int) -> dict[str, list[float] | list[int]]:
    counts, edges = np.histogram(values, bins=bins)
    return {"edges": [round(float(e), 2) for e in edges], "counts": [int(c) for c in counts]}


def summarize_contract_years(draws: ContractYearDraws, *, bins: int = 40) -> dict[str, Any]:
    """Margin and payer-spend distributions (money as Decimal cents) plus histograms for charts."""
    margin = _distribution(draws.margin)
    margin_out: dict[str, Any] = {**margin, "probability_of_loss": float((draws.margin < 0).mean())}
    return {
        "n_years": int(draws.margin.size),
        "provider_margin": margin_out,
        "payer_spend": _distribution(draws.revenue),
        "provider_cost": _distribution(draws.cost),
        "enrollees_mean": float(draws.enrollees.mean()),
        "member_months_mean": float(draws.member_months.mean()),
        "histogram": {
            "provider_margin": _histogram(draws.margin, bins),
            "payer_spend": _histogram(draws.revenue, bins),
        },
    }


def run_monte_carlo(
    model: ContractYearModel, *, n_years: int = 100_000, seed: int, bins: int = 40
) -> dict[str, Any]:
    """Simulate and summarise: the dict a pricing run stores beside its quote."""
    summary = summarize_contract_years(simulate_contract_years(model, n_years=n_years, seed=seed), bins=bins)
    return {"engine_version": ENGINE_VERSION, "seed": seed, **summary}


def contract_year_model(
    pricing_file: Mapping[str, Any] | PricingFile,
    *,
    market: str,
    referrals_per_year: float,
    tier_mix: Mapping[str, float],
    pmpm_by_tier: Mapping[str, Decimal | str | float] | None = None,
    assessment_fee: Decimal | str | float | None = None,
    lob: str | None = None,
    minutes_cv: float = 0.3,
    fixed_annual_cost: float = 0.0,
    first_year: bool = False,
) -> ContractYearModel:
    """The contract-year model of one market from a pricing file's build-up.

    Costs come from the build-up at the point assumptions: the expected direct cost per
    member-month is the credibility-blended one, its labor part (in the manual build-up's
    proportion) scaled by intensity, the rest plus admin (admin_load x the computed PMPM) not;
    so at the computed rates the expected margin is the margin load. The rates default to
    the quote's PMPM and assessment fee; pass `pmpm_by_tier` / `assessment_fee` to test a proposed
    or negotiated schedule instead. Episode bundles are paid per episode, not per month enrolled,
    and are not modelled here.
    """
    pf = as_pricing_file(pricing_file)
    if pf.bundle.period.type != "monthly":
        raise ValueError(
            "the contract-year Monte Carlo models monthly bundles; an episode is paid per episode"
        )
    known = {m.code: m for m in pf.assumptions.markets}
    errors = []
    if market not in known:
        errors.append(Problem.at_path("market", "unknown_market", f"market {market!r} is not in the file"))
    errors += [
        Problem.at_path(f"tier_mix.{t}", "unknown_tier", f"tier {t!r} is not in the bundle")
        for t in tier_mix
        if t not in pf.bundle.tier_codes
    ]
    weights = list(tier_mix.values())
    if not all(np.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0:
        errors.append(
            Problem.at_path(
                "tier_mix", "invalid_tier_mix", "tier shares must be zero or more and not all zero"
            )
        )
    if errors:
        raise PricingInputError(errors)
    a = pf.assumptions
    point = Scenario.point(pf)
    tiers = pf.bundle.tier_codes
    factor = a.lob_factors.get(lob, Decimal(1)) if lob is not None else Decimal(1)
    pmpm, labor, other = [], [], []
    with localcontext(CALCULATION_CONTEXT):
        for tier in tiers:
            cell = rate_cell_buildup(pf, tier, known[market], point)
            computed = cell.pmpm * factor
            # the expected direct cost is the credibility-blended one (experience is the program's
            # actual cost of care), split between labor and the rest as in the manual build-up
            labor_share = (
                cell.labor_untrended / (cell.labor_untrended + cell.non_labor.total)
                if cell.direct_pmpm > 0
                else Decimal(0)
            )
            direct = cell.blended_direct * factor
            labor.append(float(direct * labor_share))
            other.append(float(direct * (1 - labor_share) + computed * a.admin_load))
            chosen = pmpm_by_tier.get(tier) if pmpm_by_tier is not None else None
            pmpm.append(float(computed if chosen is None else Decimal(str(chosen))))
        detail = assessment_buildup(pf, known[market], point)
        fee = Decimal(0) if detail is None else detail.fee
        if assessment_fee is not None:
            fee = Decimal(str(assessment_fee))
        assessment_cost = Decimal(0) if detail is None else detail.cost + detail.fee * a.admin_load
        survival = survival_curve(disenrollment_hazards(a.disenrollment, a.enrollment_horizon_months))
    total_mix = sum(tier_mix.values())
    return ContractYearModel(
        tiers=tiers,
        tier_mix=tuple(float(tier_mix.get(t, 0)) / total_mix for t in tiers),
        pmpm=tuple(pmpm),
        labor_cost_pmpm=tuple(labor),
        other_cost_pmpm=tuple(other),
        referrals_per_year=float(referrals_per_year),
        conversion_rate=float(a.conversion_rate),
        assessment_fee=float(fee),
        assessment_cost=float(assessment_cost),
        survival=tuple(float(s) for s in survival),
        minutes_cv=minutes_cv,
        fixed_annual_cost=fixed_annual_cost,
        first_year=first_year,
    )
