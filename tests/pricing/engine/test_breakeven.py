"""The provider's break-even figures (pricing/engine/breakeven.py, docs/domain.md 4.6.2) worked out by
hand, and at every edge: a half cent, no member-months, rates under cost, break-even exactly met."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing.engine.breakeven import breakeven_enrollees, provider_economics, run_economics

# One market, one line, two tiers half and half: every figure below is worked out by hand.
RATES = [
    {
        "tier": "1",
        "market": "URBAN",
        "lob": "medicaid",
        "pmpm": "100.00",
        "buildup": {"blended_direct": "80"},
    },
    {
        "tier": "2",
        "market": "URBAN",
        "lob": "medicaid",
        "pmpm": "200.00",
        "buildup": {"blended_direct": "170"},
    },
]
BUDGET = [
    {"market": "URBAN", "lob": "medicaid", "enrollees": "10", "member_months": "60", "assessments": "20"}
]


def economics(**overrides):
    params = {
        "rates": RATES,
        "assessment_fee": {"URBAN": "300.00"},
        "assessment_direct_cost": {"URBAN": "243"},
        "budgets": BUDGET,
        "tier_mix": {"1": "0.5", "2": "0.5"},
        "admin_load": Decimal("0.10"),
        "fixed_annual_cost": Decimal(5000),
    }
    params.update(overrides)
    return provider_economics(**params)


def test_break_even_figures_against_a_hand_computed_case():
    e = economics()
    # cost = blended / (1 - 0.10): 80 / 0.9 = 88.888..., 170 / 0.9 = 188.888...
    assert [(c.tier, c.market, c.lob, c.rate_pmpm, c.cost_pmpm) for c in e.cells] == [
        ("1", "URBAN", "medicaid", Decimal("100.00"), Decimal("88.89")),
        ("2", "URBAN", "medicaid", Decimal("200.00"), Decimal("188.89")),
    ]
    # fixed 5,000 over 60 member-months = 83.333... on top of the cost
    assert [c.breakeven_pmpm for c in e.cells] == [Decimal("172.22"), Decimal("272.22")]
    assert e.assessment_cost == {"URBAN": Decimal("270.00")}  # 243 / 0.9
    # 60 x (0.5 x 11.111... + 0.5 x 11.111...) + 20 x (300 - 270) = 666.67 + 600
    assert e.contribution == Decimal("1266.67")
    assert e.expected_result == Decimal("-3733.33")
    # 5,000 / (1,266.666... / 10 enrollees) = 39.47: 40 enrollees a year
    assert e.breakeven_enrollees == 40
    assert (e.member_months, e.enrollees, e.fixed_annual_cost) == (
        Decimal(60),
        Decimal(10),
        Decimal("5000.00"),
    )


def test_a_cost_on_the_half_cent_rounds_up():
    rates = [{**RATES[0], "buildup": {"blended_direct": "9.0045"}}]  # / 0.9 = 10.005 exactly
    e = economics(rates=rates, tier_mix={"1": "1"}, fixed_annual_cost=Decimal(0))
    assert e.cells[0].cost_pmpm == Decimal("10.01")
    assert e.cells[0].breakeven_pmpm == Decimal("10.01")  # no fixed cost: break-even is the cost
    assert e.breakeven_enrollees == 0


def test_no_member_months_leaves_no_break_even_rate():
    e = economics(budgets=[{**BUDGET[0], "enrollees": "0", "member_months": "0", "assessments": "0"}])
    assert [c.breakeven_pmpm for c in e.cells] == [None, None]
    assert e.breakeven_enrollees is None
    assert e.contribution == Decimal("0.00")


def test_less_than_one_member_month_still_spreads_the_fixed_cost():
    budget = [{**BUDGET[0], "enrollees": "0.5", "member_months": "0.5", "assessments": "0"}]
    e = economics(budgets=budget, fixed_annual_cost=Decimal(1))
    assert [c.breakeven_pmpm for c in e.cells] == [Decimal("90.89"), Decimal("190.89")]  # + 1 / 0.5


def test_rates_under_cost_never_break_even():
    rates = [{**r, "pmpm": "50.00"} for r in RATES]
    e = economics(rates=rates, assessment_fee={"URBAN": "270.00"})
    assert e.contribution < 0
    assert e.breakeven_enrollees is None


@pytest.mark.parametrize(
    ("fixed", "contribution", "enrollees", "expected"),
    [
        (Decimal(100), Decimal(50), Decimal(2), 4),  # exactly 4: not rounded up to 5
        (Decimal(101), Decimal(50), Decimal(2), 5),  # a cent more needs a whole enrollee more
        (Decimal("100.01"), Decimal(50), Decimal(2), 5),
        (Decimal(1), Decimal(50), Decimal(2), 1),  # a dollar of fixed cost still needs one enrollee
        (Decimal("0.50"), Decimal(50), Decimal(2), 1),
        (Decimal(100), Decimal(50), Decimal(1), 2),  # one enrollee is enough to learn from
        (Decimal(1), Decimal("0.5"), Decimal(1), 2),  # half a dollar each
        (Decimal(0), Decimal(-5), Decimal(2), 0),  # no fixed cost: nothing to cover
        (Decimal(100), Decimal(0), Decimal(2), None),  # each enrollee adds nothing
        (Decimal(100), Decimal(50), Decimal(0), None),  # no enrollees to learn a contribution from
    ],
)
def test_break_even_enrollment_edges(fixed, contribution, enrollees, expected):
    assert breakeven_enrollees(fixed, contribution, enrollees) == expected


def test_each_line_of_business_earns_its_own_rate_on_the_same_cost():
    medicare = [{**r, "lob": "medicare_advantage", "pmpm": str(Decimal(r["pmpm"]) + 10)} for r in RATES]
    budgets = [*BUDGET, {**BUDGET[0], "lob": "medicare_advantage", "assessments": "0"}]
    e = economics(rates=RATES + medicare, budgets=budgets)
    # the Medicare line adds 60 x (11.111... + 10) and no assessments: 1,266.67 + 1,266.67 + 600
    assert e.contribution == Decimal("2533.33")
    assert [c.cost_pmpm for c in e.cells] == [Decimal("88.89"), Decimal("188.89")] * 2
    assert [c.rate_pmpm for c in e.cells][2:] == [Decimal("110.00"), Decimal("210.00")]
    assert (e.member_months, e.enrollees) == (Decimal(120), Decimal(20))
    assert [c.breakeven_pmpm for c in e.cells][:2] == [Decimal("130.56"), Decimal("230.56")]  # + 5000 / 120
    assert e.breakeven_enrollees == 40  # 5,000 / (2,533.33 / 20) = 39.47


def test_a_market_without_an_assessment_counts_none():
    e = economics(assessment_fee={}, assessment_direct_cost={})
    assert e.assessment_cost == {}
    assert e.contribution == Decimal("666.67")  # 60 x 11.111...


def test_the_tier_mix_weighs_each_tier():
    e = economics(tier_mix={"1": "0.25", "2": "0.75"}, assessment_fee={}, assessment_direct_cost={})
    # 60 x (0.25 x 11.111... + 0.75 x 11.111...) is the same 666.67; move tier 2's rate to tell them apart
    rates = [RATES[0], {**RATES[1], "pmpm": "220.00"}]
    moved = economics(
        rates=rates, tier_mix={"1": "0.25", "2": "0.75"}, assessment_fee={}, assessment_direct_cost={}
    )
    assert e.contribution == Decimal("666.67")
    assert moved.contribution == Decimal("1566.67")  # + 60 x 0.75 x 20


def stored_result(**risk) -> tuple[dict, dict]:
    inputs = {"pricing_file": {"assumptions": {"admin_load": "0.10"}}}
    result = {
        "quote": {
            "rates": RATES,
            "assessment_fee": {"URBAN": "300.00"},
            "assessment_buildup": {"URBAN": {"cost": "243"}},
        },
        "budgets": BUDGET,
        "risk": {
            "modelled": True,
            "tier_mix": {"1": "0.5", "2": "0.5"},
            "program": {"fixed_annual_cost": "5000.00"},
            **risk,
        },
    }
    return inputs, result


def test_a_stored_run_gives_the_same_figures():
    assert run_economics(*stored_result()) == economics()


def test_a_run_without_a_fixed_cost_spreads_none():
    inputs, result = stored_result()
    del result["risk"]["program"]
    assert run_economics(inputs, result) == economics(fixed_annual_cost=Decimal(0))


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["risk"].update(modelled=False),  # an episode bundle: no simulated year
        lambda r: r["risk"].pop("tier_mix"),
        lambda r: r.update(budgets=[]),
        lambda r: r.pop("risk"),
    ],
)
def test_a_run_without_a_simulated_year_or_budget_has_no_figures(change):
    inputs, result = stored_result()
    change(result)
    assert run_economics(inputs, result) is None
