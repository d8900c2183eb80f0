"""The rate build-up where the worked example cannot see (issue 21): two care roles, a market's own
salary, an assessment away from home, a line-of-business factor on the range.

Every figure is written out by hand with the formula of docs/formats.md section 6 and compared to
the cent (and, for the build-up steps, at full precision).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest

from core.domain.money import CALCULATION_CONTEXT
from pricing.engine import assessment_buildup, parse_pricing_file, quote, rate_cell_buildup
from pricing.engine.buildup import (
    DAYS_PER_MONTH,
    MINUTES_PER_FTE_YEAR,
    RangeProbe,
    Scenario,
    _assessment_salary_minutes,
    _price_cell,
    _range_fees,
    _range_pmpms,
    _staffing,
    credibility,
    enrolled_months,
    episode_months,
    select_lobs,
    select_markets,
    trend_factor,
)
from pricing.engine.schema import PricingInputError

D = Decimal


def cents(value: Decimal) -> str:
    return str(value.quantize(D("0.01"), rounding=ROUND_HALF_UP))


def rate(result: dict, tier: str, market: str, lob: str | None = None) -> dict:
    (found,) = [r for r in result["rates"] if r["tier"] == tier and r["market"] == market and r["lob"] == lob]
    return found


def close(a: Decimal, b: Decimal) -> bool:
    """Equal at the engine's precision, give or take the last digits (the test computes at 28 digits)."""
    return abs(a - b) < D("1E-20")


def cpm(salary: int | Decimal, benefits: str = "0.28", productivity: str = "0.75") -> Decimal:
    with localcontext(CALCULATION_CONTEXT):
        return D(salary) * (1 + D(benefits)) / (2080 * 60 * D(productivity))


@pytest.fixture
def two_roles(example_file):
    """The docs/formats.md example with a second care role (a social worker) visiting in every tier."""
    example_file["bundle"]["roles"].append(
        {
            "role": "lcsw",
            "visit_minutes": 45,
            "by_tier": {
                "1": {"visits_per_mm": 0.25, "coordination_minutes_per_mm": 10},
                "2": {"visits_per_mm": 0.5, "coordination_minutes_per_mm": 20},
                "3": {"visits_per_mm": 1.0, "coordination_minutes_per_mm": 30},
            },
        }
    )
    return example_file


def test_a_second_care_role_adds_its_labor_and_its_visits_to_the_rate(two_roles):
    """Tier 2 URBAN (no experience): labor is the sum of both roles, mileage counts both roles' trips."""
    with localcontext(CALCULATION_CONTEXT):
        f = D("1.035")
        np_minutes = D("1.0") * (60 + 20 * D("0.8")) + 30  # 106
        lcsw_minutes = D("0.5") * (45 + 20 * D("0.8")) + 20  # 50.5
        np_labor = np_minutes * cpm(132000)
        lcsw_labor = lcsw_minutes * cpm(70000)
        mileage = (D("1.0") + D("0.5")) * D("0.8") * 8 * D("0.70")  # 1.5 visits a month, each a trip
        non_labor = mileage + 15 + 40 + 8
        direct = (np_labor + lcsw_labor + non_labor) * f
        pmpm = direct / D("0.85")
    cell = rate(quote(two_roles), "2", "URBAN")
    assert cell["labor_pmpm"] == {"np": cents(np_labor * f), "lcsw": cents(lcsw_labor * f)}
    assert cell["direct_pmpm"] == cents(direct)
    assert cell["non_labor_pmpm"] == cents(non_labor * f)
    assert cell["pmpm"] == cents(pmpm)
    shown = cell["buildup"]
    assert shown["non_labor"]["visits_per_mm"] == "1.5"
    assert D(shown["non_labor"]["mileage"]) == mileage
    assert D(shown["labor_untrended"]) == (np_labor + lcsw_labor).quantize(D("1E-10"))
    assert shown["roles"]["lcsw"]["minutes"] == "50.5"

    pf = parse_pricing_file(two_roles)
    buildup = rate_cell_buildup(pf, "2", pf.assumptions.market("URBAN"))
    assert [line.role for line in buildup.roles] == ["np", "lcsw"]
    assert close(buildup.labor_untrended, sum(line.labor_untrended for line in buildup.roles))
    assert buildup.non_labor.visits_per_mm == D("1.5")


def test_a_market_with_its_own_salary_is_priced_with_it_to_the_cent(example_file):
    """RURAL-N pays the NP 126,000 (not the default 132,000) and travels 55 minutes a visit."""
    with localcontext(CALCULATION_CONTEXT):
        f = D("1.035")
        minutes = D("1.0") * (60 + 55 * D("0.8")) + 30  # tier 2: 134
        labor = minutes * cpm(126000)
        non_labor = D("1.0") * D("0.8") * 35 * D("0.70") + 15 + 40 + 8
        direct = (labor + non_labor) * f
    cell = rate(quote(example_file), "2", "RURAL-N")
    assert cell["labor_pmpm"] == {"np": cents(labor * f)}
    assert cell["labor_pmpm"] != {"np": cents(minutes * cpm(132000) * f)}
    assert cell["direct_pmpm"] == cents(direct)
    assert cell["pmpm"] == cents(direct / D("0.85"))
    assert cell["buildup"]["roles"]["np"]["salary"] == "126000"
    assert cell["buildup"]["roles"]["np"]["minutes"] == "134"


def test_an_assessment_done_away_from_home_has_no_travel_and_no_mileage(example_file):
    example_file["bundle"]["assessment"]["home"] = False
    with localcontext(CALCULATION_CONTEXT):
        urban = 90 * cpm(132000) + 60 * cpm(70000)
        rural = 90 * cpm(126000) + 60 * cpm(70000)
        f = D("1.035")
    result = quote(example_file)
    assert result["assessment_fee"] == {
        "URBAN": cents(urban * f / D("0.85")),
        "RURAL-N": cents(rural * f / D("0.85")),
    }
    shown = result["assessment_buildup"]["RURAL-N"]
    assert shown["mileage"] == "0"
    assert shown["roles"]["np"]["travel_minutes"] == "0"
    pf = parse_pricing_file(example_file)
    detail = assessment_buildup(pf, pf.assumptions.market("URBAN"))
    assert detail is not None
    assert [(line.role, line.minutes, line.travel_minutes) for line in detail.roles] == [
        ("np", D(90), D(0)),
        ("lcsw", D(60), D(0)),
    ]
    assert close(detail.cost_untrended, sum(line.cost for line in detail.roles))


def test_an_assessment_at_home_adds_travel_to_every_role_and_mileage_once(example_file):
    with localcontext(CALCULATION_CONTEXT):
        rural = (90 + 55) * cpm(126000) + (60 + 55) * cpm(70000) + 35 * D("0.70")
        f = D("1.035")
    pf = parse_pricing_file(example_file)
    detail = assessment_buildup(pf, pf.assumptions.market("RURAL-N"))
    assert detail is not None
    assert detail.mileage == 35 * D("0.70")
    assert close(detail.cost_untrended, rural)
    assert close(detail.cost, rural * f)
    assert cents(detail.fee) == "468.10"
    shown = detail.as_dict()
    assert shown["load_divisor"] == "0.85"
    assert shown["roles"]["lcsw"] == {
        "minutes": "60",
        "travel_minutes": "55",
        "cost_per_minute": str((cpm(70000)).quantize(D("1E-10"))),
        "cost_untrended": str((115 * cpm(70000)).quantize(D("1E-10"))),
    }
    assert shown["fee"] == str(detail.fee.quantize(D("1E-10")))


def test_the_line_of_business_factor_scales_the_rate_range_too(example_file):
    example_file["assumptions"]["lob_factors"] = {"dsnp": "1.1", "ma": "0.9"}
    plain = rate(quote(example_file), "1", "URBAN")
    result = quote(example_file, lobs=["dsnp", "ma", "medicaid"])
    pf = parse_pricing_file(example_file)
    probe = RangeProbe(pf)
    market = pf.assumptions.market("URBAN")
    low, high = probe.low_high(lambda s: rate_cell_buildup(pf, "1", market, s).pmpm)
    for lob, factor in (("dsnp", D("1.1")), ("ma", D("0.9")), ("medicaid", D(1))):
        cell = rate(result, "1", "URBAN", lob)
        assert cell["low"] == cents(low * factor)
        assert cell["high"] == cents(high * factor)
        assert cell["lob_factor"] == format(factor, "f")
        assert cell["buildup"]["lob_factor"] == format(factor, "f")
    assert rate(result, "1", "URBAN", "medicaid")["low"] == plain["low"] == "257.43"
    assert rate(result, "1", "URBAN", "dsnp")["low"] != plain["low"]


def test_the_pmpm_with_a_lob_factor_carries_the_fee_spread_and_the_cost_per_enrollee(example_file):
    example_file["assumptions"]["lob_factors"] = {"dsnp": "1.2"}
    result = quote(example_file, lobs=["dsnp"])
    pf = parse_pricing_file(example_file)
    market = pf.assumptions.market("URBAN")
    pmpm = rate_cell_buildup(pf, "3", market).pmpm * D("1.2")
    fee = assessment_buildup(pf, market).fee  # type: ignore[union-attr]
    expected = enrolled_months(pf)
    with localcontext(CALCULATION_CONTEXT):
        per_enrollee = fee / D("0.6")
    cell = rate(result, "3", "URBAN", "dsnp")
    assert cell["pmpm"] == cents(pmpm)
    assert cell["pmpm_without_assessment_fee"] == cents(pmpm + per_enrollee / expected)
    assert cell["cost_per_enrollee"] == cents(pmpm * expected + per_enrollee)
    assert D(cell["buildup"]["pmpm_with_lob_factor"]) == pmpm.quantize(D("1E-10"))
    assert "episode_rate" not in cell


def test_an_episode_rate_uses_the_lob_factor_and_the_days_per_month(example_file):
    example_file["bundle"]["period"] = {"type": "episode", "days": 60}
    example_file["assumptions"]["lob_factors"] = {"dsnp": "1.1"}
    pf = parse_pricing_file(example_file)
    assert close(episode_months(pf), D(60) / D("30.4375")) and DAYS_PER_MONTH == D("30.4375")
    cell = rate(quote(example_file, lobs=["dsnp"]), "2", "URBAN", "dsnp")
    pmpm = rate_cell_buildup(pf, "2", pf.assumptions.market("URBAN")).pmpm * D("1.1")
    with localcontext(CALCULATION_CONTEXT):
        assert cell["episode_rate"] == cents(pmpm * D(60) / D("30.4375"))


def test_experience_blends_with_the_manual_rate_by_credibility(example_file):
    """Tier 1 URBAN: Z = sqrt(3000 / 12000) = 0.5; the experience PMPM 270 is trended once."""
    pf = parse_pricing_file(example_file)
    cell = rate_cell_buildup(pf, "1", pf.assumptions.market("URBAN"))
    assert cell.credibility == D("0.5")
    assert cell.experience_pmpm == D(270) and cell.experience_member_months == D(3000)
    assert close(cell.blended_direct, D("0.5") * 270 * D("1.035") + D("0.5") * cell.direct_pmpm)
    assert close(cell.pmpm, cell.blended_direct / D("0.85"))
    assert cell.load_divisor == D("0.85")
    # Full credibility is capped at 1: ten times the standard weighs experience only.
    example_file["experience"]["by_tier"]["1"]["member_months"] = 120000
    example_file["experience"]["by_tier"]["1"]["cost"] = 120000 * 270
    pf = parse_pricing_file(example_file)
    full = rate_cell_buildup(pf, "1", pf.assumptions.market("URBAN"))
    assert full.credibility == 1
    assert close(full.blended_direct, 270 * D("1.035"))


def test_a_tier_without_experience_has_no_credibility(example_file):
    pf = parse_pricing_file(example_file)
    cell = rate_cell_buildup(pf, "3", pf.assumptions.market("URBAN"))
    assert (cell.credibility, cell.experience_pmpm, cell.experience_member_months) == (0, None, None)
    assert cell.blended_direct == cell.direct_pmpm
    shown = cell.as_dict()
    assert shown["experience_pmpm"] is None and shown["experience_pmpm_trended"] is None
    assert shown["experience_member_months"] is None


def test_the_build_up_as_shown_has_every_role_and_step(two_roles):
    pf = parse_pricing_file(two_roles)
    cell = rate_cell_buildup(pf, "1", pf.assumptions.market("URBAN"))
    shown = cell.as_dict()
    np_line = cell.roles[0]
    assert shown["roles"]["np"] == {
        "visits_per_mm": "0.5",
        "coordination_minutes_per_mm": "15",
        "minutes": "53",
        "salary": "132000",
        "cost_per_minute": "1.8051282051",
        "labor_untrended": str(np_line.labor_untrended.quantize(D("1E-10"))).rstrip("0").rstrip("."),
        "labor_pmpm": str(np_line.labor_pmpm.quantize(D("1E-10"))).rstrip("0").rstrip("."),
    }
    assert close(np_line.labor_pmpm, np_line.labor_untrended * D("1.035"))
    assert shown["experience_member_months"] == "3000"
    assert shown["experience_pmpm"] == "270" and shown["experience_pmpm_trended"] == "279.45"
    assert shown["admin_load"] == "0.12" and shown["margin"] == "0.03"
    assert shown["trend_factor"] == "1.035"
    assert shown["non_labor"]["total_untrended"] == "66.36"  # 0.75 visits x 0.8 x 8 miles x 0.70 + 63


def test_the_point_scenario_is_the_file_assumptions_and_a_scenario_moves_the_rate(example_file):
    pf = parse_pricing_file(example_file)
    point = Scenario.point(pf)
    assert (point.productivity, point.benefits_load, point.admin_load, point.margin) == (
        D("0.75"),
        D("0.28"),
        D("0.12"),
        D("0.03"),
    )
    market = pf.assumptions.market("URBAN")
    assert rate_cell_buildup(pf, "2", market, point) == rate_cell_buildup(pf, "2", market)
    from dataclasses import replace

    cheaper = replace(point, margin=D("0.05"), supplies_pmpm=D(0))
    moved = rate_cell_buildup(pf, "2", market, cheaper)
    assert moved.non_labor.supplies == 0
    assert close(moved.pmpm, moved.blended_direct / (1 - D("0.12") - D("0.05")))


def test_the_trend_factor_and_the_minutes_of_a_year():
    assert trend_factor(D("0.035"), 12) == D("1.035")
    assert trend_factor(D("0.21"), 24) == D("1.4641")
    assert trend_factor(D("0.44"), 6) == D("1.2")
    assert trend_factor(D("0.035"), 0) == 1
    assert MINUTES_PER_FTE_YEAR == 124800


def test_selected_markets_keep_the_asked_order_once_and_name_every_unknown_one(example_file):
    pf = parse_pricing_file(example_file)
    assert [m.code for m in select_markets(pf, None)] == ["URBAN", "RURAL-N"]
    assert [m.code for m in select_markets(pf, ["RURAL-N", "URBAN", "RURAL-N"])] == ["RURAL-N", "URBAN"]
    with pytest.raises(PricingInputError) as info:
        select_markets(pf, ["MARS", "URBAN", "VENUS"])
    assert [(e["path"], e["code"]) for e in info.value.errors] == [
        ("markets[0]", "unknown_market"),
        ("markets[2]", "unknown_market"),
    ]


def test_selected_lines_of_business_are_strings_kept_once_in_order():
    assert select_lobs(None) == [None]
    assert select_lobs(["ma", "dsnp", "ma"]) == ["ma", "dsnp"]
    with pytest.raises(PricingInputError) as info:
        select_lobs(["ma", " ", 7])  # type: ignore[list-item]
    assert [(e["path"], e["code"]) for e in info.value.errors] == [
        ("lobs[1]", "wrong_type"),
        ("lobs[2]", "wrong_type"),
    ]


def test_a_monthly_bundle_has_no_episode_and_enrols_for_the_survival_curve(example_file):
    pf = parse_pricing_file(example_file)
    assert episode_months(pf) is None
    assert enrolled_months(pf) == pytest.approx(D("6.3654"), abs=D("0.0001"))
    result = quote(example_file)
    assert result["period"] == {"type": "monthly", "days": None}
    assert result["bundle"] == "Home-based palliative care"
    assert result["trend_months"] == 12 and result["trend_factor"] == "1.035"


def test_a_build_up_names_its_tier_and_market(example_file):
    pf = parse_pricing_file(example_file)
    rural = pf.assumptions.market("RURAL-N")
    cell = rate_cell_buildup(pf, "3", rural)
    assert (cell.tier, cell.market) == ("3", "RURAL-N")
    detail = assessment_buildup(pf, rural)
    assert detail is not None and detail.market == "RURAL-N"


def test_a_build_up_is_computed_at_forty_digits(example_file):
    pf = parse_pricing_file(example_file)
    cell = rate_cell_buildup(pf, "2", pf.assumptions.market("URBAN"))
    with localcontext(CALCULATION_CONTEXT):
        minutes = D("1.0") * (60 + 20 * D("0.8")) + 30
        direct = (minutes * cpm(132000) + D("1.0") * D("0.8") * 8 * D("0.70") + 63) * D("1.035")
        pmpm = direct / D("0.85")
    assert abs(cell.pmpm - pmpm) < D("1E-35")
    assert abs(cell.roles[0].minutes - minutes) == 0
    detail = assessment_buildup(pf, pf.assumptions.market("URBAN"))
    with localcontext(CALCULATION_CONTEXT):
        fee = ((90 + 20) * cpm(132000) + (60 + 20) * cpm(70000) + 8 * D("0.70")) * D("1.035") / D("0.85")
    assert detail is not None and abs(detail.fee - fee) < D("1E-35")


def test_the_episode_length_and_the_expected_months_are_computed_at_forty_digits(example_file):
    example_file["bundle"]["period"] = {"type": "episode", "days": 90}
    pf = parse_pricing_file(example_file)
    with localcontext(CALCULATION_CONTEXT):
        assert episode_months(pf) == D(90) / D("30.4375")
    assert len(episode_months(pf).as_tuple().digits) == 40  # type: ignore[union-attr]


def test_the_expected_months_follow_the_enrollment_horizon(example_file):
    from pricing.engine import expected_months_enrolled

    example_file["assumptions"]["enrollment_horizon_months"] = 6
    pf = parse_pricing_file(example_file)
    with localcontext(CALCULATION_CONTEXT):
        assert enrolled_months(pf) == expected_months_enrolled(pf.assumptions.disenrollment, 6)
    assert enrolled_months(pf) < 6


def test_an_episode_bundle_without_days_has_no_episode_length(example_file):
    from dataclasses import replace

    pf = parse_pricing_file(example_file)
    no_days = replace(
        pf, bundle=replace(pf.bundle, period=replace(pf.bundle.period, type="episode", days=None))
    )
    assert episode_months(no_days) is None


def test_a_parsed_pricing_file_quotes_the_same_as_its_dict(example_file):
    assert quote(parse_pricing_file(example_file)) == quote(example_file)


def test_build_up_figures_are_shown_to_ten_places_without_trailing_zeros():
    from pricing.engine.buildup import _shown

    assert _shown(D("-0.00000000001")) == "0"  # a rounding residue is not shown as -0
    assert _shown(D("-1.25")) == "-1.25"
    assert _shown(D("1.5000000000")) == "1.5"
    assert _shown(D("2.0")) == "2"
    assert _shown(D("100")) == "100"
    assert _shown(D("0.12345678915")) == "0.1234567892"


def test_factors_and_the_conversion_rate_are_written_without_an_exponent(example_file):
    example_file["assumptions"]["lob_factors"] = {"big": "1E+1"}
    example_file["assumptions"]["conversion_rate"] = "1E-7"
    result = quote(example_file, lobs=["big"])
    cell = rate(result, "1", "URBAN", "big")
    assert cell["lob_factor"] == "10" and cell["buildup"]["lob_factor"] == "10"
    assert result["conversion_rate"] == "0.0000001"


def test_the_assessment_build_up_as_shown_has_every_step(example_file):
    shown = quote(example_file)["assessment_buildup"]["URBAN"]
    assert set(shown) == {"roles", "mileage", "cost_untrended", "trend_factor", "cost", "load_divisor", "fee"}
    assert shown["trend_factor"] == "1.035" and shown["mileage"] == "5.6"
    assert D(shown["cost"]) == (D(shown["cost_untrended"]) * D("1.035")).quantize(D("1E-10"))
    shown_cell = rate(quote(example_file), "2", "URBAN")["buildup"]
    pf = parse_pricing_file(example_file)
    cell = rate_cell_buildup(pf, "2", pf.assumptions.market("URBAN"))
    assert D(shown_cell["direct_pmpm"]) == cell.direct_pmpm.quantize(D("1E-10"))


@pytest.mark.parametrize(("low", "high"), [("0.70", "0.75"), ("0.75", "0.80")])
def test_a_range_with_the_point_value_at_one_end(example_file, low, high):
    # Productivity 0.75 sits at one end of the range: the lower productivity still gives the high rate.
    example_file["assumptions"]["ranges"] = {"productivity": [low, high]}
    cell = rate(quote(example_file), "2", "URBAN")
    example_file["assumptions"]["ranges"] = {}
    at = {}
    for value in (low, high):
        example_file["assumptions"]["productivity"] = value
        at[value] = rate(quote(example_file), "2", "URBAN")["pmpm"]
    assert (cell["low"], cell["high"]) == (at[high], at[low])
    assert D(cell["low"]) < D(cell["high"])


def test_a_range_scenario_prices_a_cell_as_its_full_build_up_does(two_roles):
    """The ranges' scenarios price a cell from the roles' minutes x salary summed once (``salary_minutes``)
    rather than role by role: the same PMPM at the engine's precision, in every cell, at the point and
    with every assumption a range moves at an end. The assessment fee likewise."""
    pf = parse_pricing_file(two_roles)
    point = Scenario.point(pf)
    scenarios = [
        point,
        replace(
            point,
            productivity=D("0.6"),
            benefits_load=D("0.31"),
            annual_trend=D("0.05"),
            mileage_rate=D("0.9"),
            admin_load=D("0.2"),
            margin=D("0.05"),
            full_credibility_member_months=D(20000),
        ),
    ]
    staffings = [_staffing(pf, t, m) for t in pf.bundle.tier_codes for m in pf.assumptions.markets]
    for staffing in staffings:
        with localcontext(CALCULATION_CONTEXT):
            by_role = sum((minutes * salary for _, _, minutes, salary in staffing.roles), D(0))
        assert staffing.salary_minutes == by_role
    fee_staffings = [_assessment_salary_minutes(pf, m) for m in pf.assumptions.markets]
    for s in scenarios:
        fast = _range_pmpms(pf, staffings, s)
        assert len(fast) == len(staffings) == 6
        for staffing, pmpm in zip(staffings, fast, strict=True):
            full = _price_cell(pf, staffing, s)
            assert len(full.roles) == 2
            assert abs(pmpm - full.pmpm) < D("1E-30")
        fees = _range_fees(pf, fee_staffings, s)
        for market, fee in zip(pf.assumptions.markets, fees, strict=True):
            assert abs(fee - assessment_buildup(pf, market, s).fee) < D("1E-30")  # type: ignore[union-attr]
    assert _range_pmpms(pf, staffings, scenarios[0]) != _range_pmpms(pf, staffings, scenarios[1])


def test_cells_a_range_moves_the_opposite_way_each_get_their_own_low_and_high(example_file):
    """Tier 1's experience is above its manual rate and tier 2's far below: a larger credibility standard
    lowers tier 1 and raises tier 2, and productivity lowers both; tier 3 has no experience, so the
    standard does not move it. Every cell's low and high are its cheapest and dearest corner of the
    ranges, priced one quote per corner."""
    example_file["experience"]["by_tier"]["2"] = {"member_months": 3000, "cost": 150000}
    ranges = {"full_credibility_member_months": [6000, 24000], "productivity": ["0.65", "0.85"]}
    example_file["assumptions"]["ranges"] = ranges
    result = quote(example_file)
    example_file["assumptions"]["ranges"] = {}
    corners = []
    for full in ranges["full_credibility_member_months"]:
        for productivity in ranges["productivity"]:
            example_file["assumptions"]["full_credibility_member_months"] = full
            example_file["assumptions"]["productivity"] = productivity
            corners.append({(c["tier"], c["market"]): D(c["pmpm"]) for c in quote(example_file)["rates"]})
    lows = set()
    for cell in result["rates"]:
        at_corners = [corner[cell["tier"], cell["market"]] for corner in corners]
        assert (D(cell["low"]), D(cell["high"])) == (min(at_corners), max(at_corners))
        lows.add((cell["tier"], at_corners.index(min(at_corners))))
    # the cheapest corner differs by tier: (6000 or 24000 standard) x high productivity
    assert {corner for tier, corner in lows if tier == "1"} == {3}
    assert {corner for tier, corner in lows if tier == "2"} == {1}


def test_low_high_of_several_figures_matches_each_figure_alone(example_file):
    example_file["assumptions"]["ranges"] = {"productivity": ["0.6", "0.9"], "annual_trend": ["0.02", "0.06"]}
    pf = parse_pricing_file(example_file)
    probe = RangeProbe(pf)

    def figures(s: Scenario) -> list[D]:
        # one figure falls with productivity, one rises with it, one moves with neither
        return [1 / s.productivity + s.annual_trend, s.productivity - s.annual_trend, D(7)]

    together = probe.low_high_all(figures)
    alone = [probe.low_high(lambda s, i=i: figures(s)[i]) for i in range(3)]
    assert together == alone
    assert together[0] == (1 / D("0.9") + D("0.02"), 1 / D("0.6") + D("0.06"))
    assert together[1] == (D("0.6") - D("0.06"), D("0.9") - D("0.02"))
    assert together[2] == (D(7), D(7))
    no_ranges = RangeProbe(
        parse_pricing_file({**example_file, "assumptions": {**example_file["assumptions"], "ranges": {}}})
    )
    assert no_ranges.low_high_all(figures) == [(v, v) for v in figures(no_ranges.point)]


@pytest.mark.parametrize(
    ("member_months", "full", "z"),
    [("3000", "12000", "0.5"), ("12000", "12000", "1"), ("15000", "12000", "1"), ("0", "12000", "0")],
)
def test_credibility_is_the_square_root_of_the_share_of_full_credibility_capped_at_one(
    member_months, full, z
):
    assert credibility(D(member_months), D(full)) == D(z)


def test_credibility_is_computed_at_forty_digits():
    with localcontext(CALCULATION_CONTEXT):
        z = (D(1000) / D(12001)).sqrt()
    assert credibility(D(1000), D(12001)) == z
    assert z != (D(1000) / D(12001)).sqrt()  # 28 digits would round it differently
