"""The quote arithmetic of docs/formats.md section 6, checked against the documented worked example and
against a rate cell computed by hand in the test."""

from __future__ import annotations

import json
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from pricing.engine import (
    ENGINE_VERSION,
    PricingInputError,
    assessment_buildup,
    calendar_months_between,
    expected_months_enrolled,
    parse_pricing_file,
    quote,
    rate_cell_buildup,
)
from pricing.engine.schema import DEFAULT_DISENROLLMENT

D = Decimal


def cents(value: Decimal) -> str:
    return str(value.quantize(D("0.01"), rounding=ROUND_HALF_UP))


def rate(result: dict, tier: str, market: str, lob: str | None = None) -> dict:
    (found,) = [r for r in result["rates"] if r["tier"] == tier and r["market"] == market and r["lob"] == lob]
    return found


def test_formats_worked_example_matches_to_the_cent(example_file):
    result = quote(example_file)
    cell = rate(result, "1", "URBAN")
    assert cell["pmpm"] == "262.35"
    assert cell["low"] == "257.43"
    assert cell["high"] == "267.48"
    assert cell["direct_pmpm"] == "166.54"
    assert cell["labor_pmpm"] == {"np": "99.02"}
    assert cell["credibility"] == 0.5
    assert result["assessment_fee"] == {"URBAN": "341.85", "RURAL-N": "468.10"}
    assert result["engine_version"] == ENGINE_VERSION
    assert len(result["rates"]) == 3 * 2


def test_worked_example_by_hand_with_the_documented_formula():
    """The docs/formats.md formula written out, to show which reading reproduces the documented figures."""
    with localcontext() as ctx:
        ctx.prec = 40
        f = D("1.035") ** (D(12) / 12)
        minutes = D("0.5") * (60 + 20 * D("0.8")) + 15
        cpm = D(132000) * (1 + D("0.28")) / (2080 * 60 * D("0.75"))
        labor_untrended = minutes * cpm
        non_labor = D("0.5") * D("0.8") * 8 * D("0.70") + 15 + 40 + 8
        direct = (labor_untrended + non_labor) * f
        z = (D(3000) / D(12000)).sqrt()
        blended = z * (D(810000) / 3000) * f + (1 - z) * direct
        pmpm = blended / (1 - D("0.12") - D("0.03"))
        # assessment: every role travels, mileage once per visit
        urban = (90 + 20) * cpm + (60 + 20) * (D(70000) * D("1.28") / (2080 * 60 * D("0.75"))) + 8 * D("0.70")
        rural = (
            (90 + 55) * (D(126000) * D("1.28") / (2080 * 60 * D("0.75")))
            + (60 + 55) * (D(70000) * D("1.28") / (2080 * 60 * D("0.75")))
            + 35 * D("0.70")
        )
        fee_urban = urban * f / D("0.85")
        fee_rural = rural * f / D("0.85")
    assert cents(labor_untrended * f) == "99.02"  # labor_pmpm shown is trended
    assert cents(direct) == "166.54"
    assert cents(pmpm) == "262.35"
    assert cents(fee_urban) == "341.85"
    assert cents(fee_rural) == "468.10"


def test_one_role_one_tier_one_market_by_hand():
    data = {
        "format": "carebundle.pricing/1",
        "bundle": {
            "name": "Nurse-led",
            "tiers": [{"code": "A", "name": "Only"}],
            "home_share": "0.6",
            "roles": [
                {
                    "role": "rn",
                    "visit_minutes": 50,
                    "by_tier": {"A": {"visits_per_mm": "1.5", "coordination_minutes_per_mm": 20}},
                }
            ],
        },
        "assumptions": {
            "salaries": {"rn": {"default": 90000}},
            "benefits_load": "0.3",
            "productivity": "0.72",
            "admin_load": "0.1",
            "margin": "0.04",
            "annual_trend": "0.04",
            "base_period_midpoint": "2025-03-10",
            "rating_period_midpoint": "2026-09-02",  # 18 calendar months, days ignored
            "markets": [{"code": "M", "travel_minutes_per_visit": 30, "miles_per_visit": 12}],
            "mileage_rate": "0.67",
            "supplies_pmpm": 10,
            "on_call_pmpm": 20,
            "technology_pmpm": 5,
        },
    }
    with localcontext() as ctx:
        ctx.prec = 40
        f = D("1.04") ** (D(18) / D(12))
        minutes = D("1.5") * (D(50) + D(30) * D("0.6")) + D(20)  # 122
        cost_per_minute = D(90000) * (D(1) + D("0.3")) / (D(2080) * D(60) * D("0.72"))
        labor = minutes * cost_per_minute
        non_labor = D("1.5") * D("0.6") * D(12) * D("0.67") + D(10) + D(20) + D(5)
        direct = (labor + non_labor) * f
        pmpm = direct / (D(1) - D("0.1") - D("0.04"))
    assert minutes == 122
    result = quote(data)
    (cell,) = result["rates"]
    assert cell["labor_pmpm"] == {"rn": cents(labor * f)}
    assert cell["direct_pmpm"] == cents(direct)
    assert cell["pmpm"] == cents(pmpm)
    assert cell["low"] == cell["high"] == cell["pmpm"]  # no ranges
    assert cell["credibility"] == 0.0
    assert result["trend_months"] == 18
    buildup = cell["buildup"]
    assert D(buildup["roles"]["rn"]["minutes"]) == 122
    assert D(buildup["trend_factor"]) == f.quantize(D("1E-10"))
    assert D(buildup["pmpm"]) == pmpm.quantize(D("1E-10"))


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2025, 7, 1), date(2027, 1, 15), 18),  # the docs/formats.md example
        (date(2025, 7, 31), date(2025, 8, 1), 1),  # days ignored
        (date(2025, 7, 1), date(2025, 7, 31), 0),
        (date(2025, 12, 15), date(2026, 1, 1), 1),
    ],
)
def test_trend_counts_whole_calendar_months(start, end, months):
    assert calendar_months_between(start, end) == months


def test_buildup_shows_every_step(example_file):
    cell = rate(quote(example_file), "1", "URBAN")["buildup"]
    assert cell["roles"]["np"]["minutes"] == "53"
    assert cell["roles"]["np"]["cost_per_minute"] == "1.8051282051"
    assert cell["non_labor"] == {
        "visits_per_mm": "0.5",
        "mileage": "2.24",
        "supplies": "15",
        "on_call": "40",
        "technology": "8",
        "total_untrended": "65.24",
    }
    assert cell["trend_factor"] == "1.035"
    assert cell["experience_pmpm"] == "270"
    assert cell["experience_pmpm_trended"] == "279.45"
    assert cell["credibility"] == "0.5"
    assert cell["load_divisor"] == "0.85"
    assert D(cell["blended_direct"]) / D(cell["load_divisor"]) == pytest.approx(
        D(cell["pmpm"]), abs=D("1E-9")
    )


def test_numbers_as_strings_price_the_same_as_json_numbers(example_file):
    as_strings = json.loads(json.dumps(example_file), parse_float=str, parse_int=str)
    assert quote(as_strings) == quote(example_file)


def test_lob_factor_multiplies_only_its_rate_cells(example_file):
    example_file["assumptions"]["lob_factors"] = {"dsnp": "1.1"}
    result = quote(example_file, lobs=["medicaid", "dsnp"])
    assert len(result["rates"]) == 3 * 2 * 2
    assert rate(result, "1", "URBAN", "medicaid")["pmpm"] == "262.35"
    pf = parse_pricing_file(example_file)
    unrounded = rate_cell_buildup(pf, "1", pf.assumptions.market("URBAN")).pmpm
    assert rate(result, "1", "URBAN", "dsnp")["pmpm"] == cents(unrounded * D("1.1"))
    assert rate(result, "1", "URBAN", "dsnp")["direct_pmpm"] == "166.54"


def test_markets_filter_and_unknown_market(example_file):
    result = quote(example_file, markets=["RURAL-N"])
    assert {r["market"] for r in result["rates"]} == {"RURAL-N"}
    assert result["assessment_fee"] == {"RURAL-N": "468.10"}
    with pytest.raises(PricingInputError) as info:
        quote(example_file, markets=["RURAL-N", "MARS"])
    assert info.value.errors == [
        {
            "path": "markets[1]",
            "code": "unknown_market",
            "message": "market 'MARS' is not in the pricing file",
        }
    ]


def test_pmpm_without_assessment_fee_spreads_the_fee_over_expected_enrolled_months(example_file):
    result = quote(example_file)
    pf = parse_pricing_file(example_file)
    rural = pf.assumptions.market("RURAL-N")
    expected = expected_months_enrolled(pf.assumptions.disenrollment, 120)
    pmpm = rate_cell_buildup(pf, "2", rural).pmpm
    fee = assessment_buildup(pf, rural).fee
    with localcontext() as ctx:
        ctx.prec = 40
        spread = fee / (D("0.6") * expected)  # assessments per enrollee = 1 / conversion
    cell = rate(result, "2", "RURAL-N")
    assert cell["pmpm_without_assessment_fee"] == cents(pmpm + spread)
    assert cell["cost_per_enrollee"] == cents(pmpm * expected + fee / D("0.6"))
    assert result["conversion_rate"] == "0.6"
    assert D(result["expected_months_enrolled"]) == pytest.approx(D("6.3654"), abs=D("0.0001"))
    assert pf.assumptions.disenrollment == {k: (v,) for k, v in DEFAULT_DISENROLLMENT.items()}


def test_bundle_without_assessment_has_no_fee(example_file):
    del example_file["bundle"]["assessment"]
    result = quote(example_file)
    assert result["assessment_fee"] == {}
    assert all(r["pmpm_without_assessment_fee"] == r["pmpm"] for r in result["rates"])


def test_episode_bundle_is_priced_per_episode(example_file):
    example_file["bundle"]["period"] = {"type": "episode", "days": 90}
    result = quote(example_file)
    cell = rate(result, "3", "URBAN")
    pf = parse_pricing_file(example_file)
    pmpm = rate_cell_buildup(pf, "3", pf.assumptions.market("URBAN")).pmpm
    with localcontext() as ctx:
        ctx.prec = 40
        assert cell["episode_rate"] == cents(pmpm * D(90) / D("30.4375"))
        assert D(result["expected_months_enrolled"]) == (D(90) / D("30.4375")).quantize(D("1E-10"))
    assert result["period"] == {"type": "episode", "days": 90}


def test_ranges_on_every_rangeable_assumption_keep_low_below_high(example_file):
    example_file["assumptions"]["ranges"].update(
        {
            "admin_load": [0.10, 0.14],
            "margin": [0.02, 0.04],
            "annual_trend": [0.02, 0.05],
            "mileage_rate": [0.6, 0.8],
            "supplies_pmpm": [10, 20],
            "on_call_pmpm": [30, 50],
            "technology_pmpm": [5, 10],
            "full_credibility_member_months": [6000, 20000],
        }
    )
    result = quote(example_file)
    for cell in result["rates"]:
        assert D(cell["low"]) <= D(cell["pmpm"]) <= D(cell["high"])
    for market, fee in result["assessment_fee"].items():
        bounds = result["assessment_fee_range"][market]
        assert D(bounds["low"]) <= D(fee) <= D(bounds["high"])


def test_credibility_standard_moves_the_rate_toward_the_cheaper_source(example_file):
    """Tier 1 experience (279.45 trended) is above the manual rate (166.54): a *larger* full
    credibility standard lowers Z and so lowers the rate; the range must pick it for the low end."""
    example_file["assumptions"]["ranges"] = {"full_credibility_member_months": [6000, 24000]}
    cell = rate(quote(example_file), "1", "URBAN")
    example_file["assumptions"]["ranges"] = {}
    example_file["assumptions"]["full_credibility_member_months"] = 24000
    assert cell["low"] == rate(quote(example_file), "1", "URBAN")["pmpm"]
    example_file["assumptions"]["full_credibility_member_months"] = 6000
    assert cell["high"] == rate(quote(example_file), "1", "URBAN")["pmpm"]


def test_result_is_json_and_has_no_nan(example_file):
    text = json.dumps(quote(example_file), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
