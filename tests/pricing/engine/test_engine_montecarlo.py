"""Monte Carlo of a contract year: reproducible by seed, unbiased against the analytic expectation."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np
import pytest

from pricing.engine import (
    ContractYearModel,
    PricingInputError,
    contract_year_model,
    draw_contract_year_variates,
    run_monte_carlo,
    simulate_contract_years,
)
from pricing.engine.montecarlo import CHUNK_YEARS

MIX = {"1": 0.5, "2": 0.35, "3": 0.15}


@pytest.fixture
def model(example_file) -> ContractYearModel:
    return contract_year_model(example_file, market="RURAL-N", referrals_per_year=60, tier_mix=MIX)


def _arrays(draws) -> list[np.ndarray]:
    return [getattr(draws, f.name) for f in dataclasses.fields(draws)]


def test_same_seed_gives_bit_identical_arrays(model):
    first = simulate_contract_years(model, n_years=5000, seed=42)
    second = simulate_contract_years(model, n_years=5000, seed=42)
    for a, b in zip(_arrays(first), _arrays(second), strict=True):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()


def test_another_seed_gives_other_draws(model):
    first = simulate_contract_years(model, n_years=5000, seed=42)
    other = simulate_contract_years(model, n_years=5000, seed=43)
    assert not np.array_equal(first.margin, other.margin)
    assert not np.array_equal(first.referrals, other.referrals)


def test_years_are_drawn_in_fixed_chunks(model):
    """A run's first chunk of years does not depend on how many years follow it."""
    long = simulate_contract_years(model, n_years=CHUNK_YEARS + 1000, seed=7)
    one_chunk = simulate_contract_years(model, n_years=CHUNK_YEARS, seed=7)
    assert long.margin[:CHUNK_YEARS].tobytes() == one_chunk.margin.tobytes()
    assert long.margin.size == CHUNK_YEARS + 1000


def test_means_match_the_analytic_expectation(model):
    draws = simulate_contract_years(model, n_years=40_000, seed=1)
    expected_months = sum(model.survival[:-1])  # restricted mean: sum of S(0..H-1)
    enrollees = model.referrals_per_year * model.conversion_rate
    assert draws.enrollees.mean() == pytest.approx(enrollees, rel=0.01)
    assert draws.member_months.mean() == pytest.approx(enrollees * expected_months, rel=0.01)
    mean_pmpm = sum(m * p for m, p in zip(model.tier_mix, model.pmpm, strict=True))
    revenue = enrollees * expected_months * mean_pmpm + model.referrals_per_year * model.assessment_fee
    assert draws.revenue.mean() == pytest.approx(revenue, rel=0.01)


def test_at_the_computed_rates_the_expected_margin_is_the_margin_load(model):
    draws = simulate_contract_years(model, n_years=40_000, seed=3)
    assert draws.margin.mean() / draws.revenue.mean() == pytest.approx(0.03, abs=0.003)


def test_a_rate_cut_raises_the_probability_of_loss(example_file):
    fair = contract_year_model(example_file, market="RURAL-N", referrals_per_year=60, tier_mix=MIX)
    cut = contract_year_model(
        example_file,
        market="RURAL-N",
        referrals_per_year=60,
        tier_mix=MIX,
        pmpm_by_tier={"1": "250", "2": "330", "3": "560"},
        assessment_fee="300",
    )
    assert cut.pmpm == (250.0, 330.0, 560.0)
    fair_loss = run_monte_carlo(fair, n_years=20_000, seed=5)["provider_margin"]["probability_of_loss"]
    cut_loss = run_monte_carlo(cut, n_years=20_000, seed=5)["provider_margin"]["probability_of_loss"]
    assert cut_loss > fair_loss


def test_summary_shape_money_as_decimal_and_histogram_counts_every_year(model):
    result = run_monte_carlo(model, n_years=3000, seed=11, bins=25)
    margin = result["provider_margin"]
    assert set(margin) == {"mean", "p5", "p50", "p95", "probability_of_loss"}
    assert all(isinstance(margin[k], Decimal) for k in ("mean", "p5", "p50", "p95"))
    assert margin["p5"] <= margin["p50"] <= margin["p95"]
    assert 0.0 <= margin["probability_of_loss"] <= 1.0
    spend = result["payer_spend"]
    assert set(spend) == {"mean", "p5", "p50", "p95"}
    assert spend["p5"] <= spend["p50"] <= spend["p95"]
    histogram = result["histogram"]["provider_margin"]
    assert len(histogram["edges"]) == 26 and sum(histogram["counts"]) == 3000
    assert result["seed"] == 11 and result["n_years"] == 3000


def test_first_year_cuts_stays_at_year_end(model):
    first_year = dataclasses.replace(model, first_year=True)
    steady = simulate_contract_years(model, n_years=3000, seed=2)
    new_program = simulate_contract_years(first_year, n_years=3000, seed=2)
    assert (new_program.member_months <= new_program.enrollees * 12).all()
    assert new_program.member_months.mean() < steady.member_months.mean()


def test_no_intensity_variation_draws_no_gamma(model):
    flat = dataclasses.replace(model, minutes_cv=0.0)
    varied_count = draw_contract_year_variates(model, n_years=1000, seed=9)
    flat_count = draw_contract_year_variates(flat, n_years=1000, seed=9)
    draws = simulate_contract_years(flat, n_years=1000, seed=9)
    assert flat_count < varied_count
    assert flat_count == 2 * 1000 + 3 * 1000 + int(draws.enrollees.sum())


@pytest.mark.parametrize(
    "change",
    [
        {"tier_mix": (0.5, 0.5, 0.5)},
        {"pmpm": (1.0,)},
        {"conversion_rate": 1.5},
        {"minutes_cv": -0.1},
        {"survival": (1.0, 0.5, 0.7)},
        {"assessment_fee": float("nan")},
    ],
)
def test_model_rejects_impossible_inputs(model, change):
    with pytest.raises(ValueError):
        dataclasses.replace(model, **change)


def test_builder_reports_unknown_market_and_tier(example_file):
    with pytest.raises(PricingInputError) as info:
        contract_year_model(example_file, market="MARS", referrals_per_year=10, tier_mix={"9": 1})
    assert {(e["path"], e["code"]) for e in info.value.errors} == {
        ("market", "unknown_market"),
        ("tier_mix.9", "unknown_tier"),
    }
