"""The whole program's risk: parts added year by year, a fixed annual cost, and the reserve (pure)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pricing.engine import contract_year_model, simulate_contract_years
from pricing.engine.montecarlo import RESERVE_LEVELS, ContractYearDraws, combine_draws, reserve_needed
from tests.pricing.engine.conftest import FORMATS_EXAMPLE

MIX = {"1": 0.5, "2": 0.3, "3": 0.2}


def _draws(market: str, seed: int, **kwargs) -> ContractYearDraws:
    model = contract_year_model(FORMATS_EXAMPLE, market=market, referrals_per_year=60, tier_mix=MIX, **kwargs)
    return simulate_contract_years(model, n_years=500, seed=seed)


def test_parts_add_up_year_by_year_and_the_fixed_cost_is_paid_once():
    urban, rural = _draws("URBAN", 1), _draws("RURAL-N", 2)
    whole = combine_draws([urban, rural], fixed_annual_cost=25_000.0)
    assert np.array_equal(whole.referrals, urban.referrals + rural.referrals)
    assert np.array_equal(whole.enrollees, urban.enrollees + rural.enrollees)
    assert np.allclose(whole.revenue, urban.revenue + rural.revenue)
    assert np.allclose(whole.cost, urban.cost + rural.cost + 25_000)
    assert np.allclose(whole.margin, urban.margin + rural.margin - 25_000)
    assert np.array_equal(combine_draws([urban]).margin, urban.margin)


def test_parts_of_different_lengths_or_none_are_refused():
    short = simulate_contract_years(
        contract_year_model(FORMATS_EXAMPLE, market="URBAN", referrals_per_year=60, tier_mix=MIX),
        n_years=10,
        seed=1,
    )
    with pytest.raises(ValueError, match="same number"):
        combine_draws([_draws("URBAN", 1), short])
    with pytest.raises(ValueError, match="no draws"):
        combine_draws([])


def test_a_first_year_has_fewer_member_months_than_a_steady_one():
    steady, first = _draws("URBAN", 3), _draws("URBAN", 3, first_year=True)
    assert first.member_months.mean() < steady.member_months.mean()
    assert np.array_equal(first.referrals, steady.referrals)  # the same referrals, stays cut at year end


def _loss_share(margin: np.ndarray, reserve: Decimal) -> float:
    return float((margin + float(reserve) < 0).mean())


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 300), elements=st.floats(-1e6, 1e6, allow_nan=False)))
def test_the_reserve_is_the_least_that_keeps_a_loss_that_unlikely(margin):
    reserves = reserve_needed(margin)
    assert len(reserves) == len(RESERVE_LEVELS) == 100
    for key, reserve in reserves.items():
        level = float(key)
        assert reserve >= 0 and reserve == reserve.quantize(Decimal("0.01"))
        assert _loss_share(margin, reserve) <= level  # it keeps the probability under the level
        if reserve > 0:  # and a cent less would not
            assert _loss_share(margin, reserve - Decimal("0.01")) > level


def test_reserve_examples_at_the_edges():
    margin = np.array([-300.0, -200.0, -100.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0])
    reserves = reserve_needed(margin)
    # 10 years: at 10% one year may still lose, so the reserve covers the second worst
    assert reserves["0.1"] == Decimal("200.00")
    assert reserves["0.05"] == Decimal("300.00")  # none may lose
    assert reserves["0.2"] == Decimal("100.00")
    assert reserves["0.3"] == Decimal("0.00")  # the fourth worst year is no loss
    assert reserve_needed(np.array([-10.001]))["0.5"] == Decimal("10.01")  # rounded up, covering it
