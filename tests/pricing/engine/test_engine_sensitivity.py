"""Sensitivity of a rate cell and of the probability of a loss to each ranged assumption (pure)."""

from __future__ import annotations

import copy
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.engine import contract_year_model, quote, run_monte_carlo
from pricing.engine.sensitivity import range_points, sensitivity
from tests.pricing.engine.conftest import FORMATS_EXAMPLE

MIX = {"1": 0.5, "2": 0.3, "3": 0.2}

#: The direction the arithmetic gives each ranged assumption: +1 raises the cost (and the rate).
COST_DIRECTION = {
    "benefits_load": 1,
    "productivity": -1,
    "admin_load": 1,
    "mileage_rate": 1,
    "supplies_pmpm": 1,
    "on_call_pmpm": 1,
    "technology_pmpm": 1,
}


def _document(**ranges) -> dict:
    document = copy.deepcopy(FORMATS_EXAMPLE)
    document["assumptions"]["ranges"] = {
        "productivity": [0.70, 0.80],
        "benefits_load": [0.25, 0.30],
        "admin_load": ["0.10", "0.14"],
        "margin": ["0.02", "0.04"],
        "mileage_rate": ["0.60", "0.80"],
        "supplies_pmpm": ["10", "20"],
        **ranges,
    }
    return document


def _run(document, *, tier="2", market="RURAL-N", lob="medicaid", n_years=2000, points=5, **kwargs):
    return sensitivity(
        document,
        tier=tier,
        market=market,
        lob=lob,
        referrals_per_year=100,
        tier_mix=MIX,
        n_years=n_years,
        seed=7,
        points=points,
        **kwargs,
    )


def test_range_points_include_both_ends_exactly():
    assert range_points(Decimal("0.70"), Decimal("0.80"), 5) == [
        Decimal("0.70"),
        Decimal("0.725"),
        Decimal("0.75"),
        Decimal("0.775"),
        Decimal("0.80"),
    ]
    assert range_points(Decimal(1), Decimal(1), 5) == [Decimal(1)]
    assert range_points(Decimal(0), Decimal(1), 2) == [Decimal(0), Decimal(1)]
    thirds = range_points(Decimal(0), Decimal(1), 4)
    assert thirds[0] == 0 and thirds[-1] == 1 and len(thirds) == 4


def test_every_ranged_assumption_is_moved_and_the_point_is_the_runs_rate():
    document = _document()
    result = _run(document)
    assert {r["assumption"] for r in result["assumptions"]} == set(document["assumptions"]["ranges"])
    rates = quote(document, markets=["RURAL-N"], lobs=["medicaid"])["rates"]
    assert result["pmpm"] == next(r["pmpm"] for r in rates if r["tier"] == "2")
    productivity = next(r for r in result["assumptions"] if r["assumption"] == "productivity")
    assert productivity["values"] == ["0.7", "0.725", "0.75", "0.775", "0.8"]
    # at the run's own productivity (the middle point) the rate is the run's
    assert productivity["pmpm"][2] == result["pmpm"]
    assert Decimal(productivity["pmpm_swing"]) == Decimal(productivity["pmpm"][0]) - Decimal(
        productivity["pmpm"][-1]
    )
    # the tornado: largest swing first
    swings = [Decimal(r["pmpm_swing"]) for r in result["assumptions"]]
    assert swings == sorted(swings, reverse=True)


def test_the_point_probability_of_loss_is_the_simulation_at_the_runs_rates():
    document = _document()
    result = _run(document)
    rates = {r["tier"]: r["pmpm"] for r in quote(document, markets=["RURAL-N"], lobs=["medicaid"])["rates"]}
    model = contract_year_model(
        document, market="RURAL-N", referrals_per_year=100, tier_mix=MIX, pmpm_by_tier=rates, lob="medicaid"
    )
    expected = run_monte_carlo(model, n_years=2000, seed=7)["provider_margin"]["probability_of_loss"]
    assert result["probability_of_loss"] == round(expected, 6)
    # where a point is the run's own value, the probability is the run's
    at_point = 0
    for row in result["assumptions"]:
        for value, probability in zip(row["values"], row["probability_of_loss"], strict=True):
            if Decimal(value) == Decimal(row["point"]):
                assert probability == result["probability_of_loss"], row["assumption"]
                at_point += 1
    assert at_point >= 2  # productivity 0.75 and margin 0.03 are points of their ranges
    assert result["by_loss"][0] in {"productivity", "benefits_load"}


def test_an_episode_bundle_has_no_probability_of_loss():
    document = _document()
    document["bundle"]["period"] = {"type": "episode", "days": 90}
    result = _run(document)
    assert result["probability_of_loss"] is None and result["n_years"] == 0
    assert all(p is None for r in result["assumptions"] for p in r["probability_of_loss"])


def test_progress_counts_every_point():
    seen = []
    _run(
        _document(),
        points=3,
        n_years=200,
        on_progress=lambda done, total, message: seen.append((done, total)),
    )
    assert seen[-1] == (6 * 3 + 1, 6 * 3 + 1) and [d for d, _ in seen] == list(range(1, 6 * 3 + 2))


@settings(max_examples=15, deadline=None)
@given(
    tier=st.sampled_from(["1", "2", "3"]),
    market=st.sampled_from(["URBAN", "RURAL-N"]),
    spread=st.decimals("0.01", "0.2", places=2),
    with_experience=st.booleans(),
)
def test_rate_and_risk_are_monotone_where_the_arithmetic_says(tier, market, spread, with_experience):
    """A cost assumption raised never lowers the rate, and (same random years, same rates) never
    makes a loss less likely; productivity the other way round."""
    document = _document(
        benefits_load=["0.25", str(Decimal("0.25") + spread)],
        admin_load=["0.10", str(Decimal("0.10") + spread)],
        mileage_rate=["0.60", str(Decimal("0.60") + spread)],
    )
    document["assumptions"]["benefits_load"] = "0.25"
    document["assumptions"]["admin_load"] = "0.10"
    document["assumptions"]["mileage_rate"] = "0.60"
    if not with_experience:
        document.pop("experience")
    result = _run(document, tier=tier, market=market, n_years=400, points=4)
    for row in result["assumptions"]:
        direction = COST_DIRECTION.get(row["assumption"])
        if direction is None:
            continue
        pmpm = [Decimal(p) for p in row["pmpm"]]
        losses = row["probability_of_loss"]
        pairs = list(zip(pmpm, pmpm[1:], strict=False))
        loss_pairs = list(zip(losses, losses[1:], strict=False))
        if direction > 0:
            assert all(a <= b for a, b in pairs), row
            assert all(a <= b for a, b in loss_pairs), row
        else:
            assert all(a >= b for a, b in pairs), row
            assert all(a >= b for a, b in loss_pairs), row
