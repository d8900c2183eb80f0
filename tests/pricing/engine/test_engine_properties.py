"""Properties of the quote over generated valid pricing files (hypothesis): a rate never falls when
minutes, wages or loads rise; credibility 0 is the manual rate and 1 the trended experience;
low <= point <= high; no NaN anywhere."""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.engine import parse_pricing_file, quote, rate_cell_buildup

D = Decimal
ROLE_NAMES = ["np", "physician", "rn", "lcsw", "chaplain", "chw", "hha"]
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def dec(low: str, high: str, places: int = 2) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=D(low), max_value=D(high), places=places, allow_nan=False, allow_infinity=False
    )


@st.composite
def pricing_files(draw: st.DrawFn, *, experience: bool | None = None, ranges: bool = True) -> dict[str, Any]:
    tiers = [str(i + 1) for i in range(draw(st.integers(1, 3)))]
    roles = draw(st.lists(st.sampled_from(ROLE_NAMES), min_size=1, max_size=4, unique=True))
    markets = [f"M{i}" for i in range(draw(st.integers(1, 3)))]
    role_items = []
    for role in roles:
        by_tier = {}
        for tier in draw(st.lists(st.sampled_from(tiers), unique=True)):
            by_tier[tier] = {
                "visits_per_mm": str(draw(dec("0", "4"))),
                "coordination_minutes_per_mm": str(draw(dec("0", "120", 0))),
            }
        role_items.append({"role": role, "visit_minutes": str(draw(dec("0", "120", 0))), "by_tier": by_tier})
    assessment_roles = draw(st.lists(st.sampled_from(roles), min_size=1, max_size=2, unique=True))
    salaries = {}
    for role in roles:
        entry: dict[str, Any] = {"default": str(draw(dec("20000", "300000", 0)))}
        overrides = draw(st.lists(st.sampled_from(markets), unique=True))
        if overrides:
            entry["markets"] = {m: str(draw(dec("20000", "300000", 0))) for m in overrides}
        salaries[role] = entry
    base = draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)))
    rating = base + timedelta(days=draw(st.integers(0, 1100)))
    point = {
        "benefits_load": draw(dec("0", "0.5")),
        "productivity": draw(dec("0.3", "1")),
        "admin_load": draw(dec("0", "0.3")),
        "margin": draw(dec("0", "0.1")),
        "annual_trend": draw(dec("-0.05", "0.15", 3)),
        "mileage_rate": draw(dec("0", "1")),
        "supplies_pmpm": draw(dec("0", "50")),
        "on_call_pmpm": draw(dec("0", "60")),
        "technology_pmpm": draw(dec("0", "20")),
        "full_credibility_member_months": draw(dec("100", "50000", 0)),
    }
    assumptions: dict[str, Any] = {
        "salaries": salaries,
        "base_period_midpoint": base.isoformat(),
        "rating_period_midpoint": rating.isoformat(),
        "markets": [
            {
                "code": m,
                "travel_minutes_per_visit": str(draw(dec("0", "90", 0))),
                "miles_per_visit": str(draw(dec("0", "80", 1))),
            }
            for m in markets
        ],
        **{k: str(v) for k, v in point.items()},
    }
    if ranges:
        spread = {  # name -> (distance below, distance above), kept inside each assumption's rule
            "benefits_load": (min(point["benefits_load"], D("0.05")), D("0.05")),
            "productivity": (D("0.1"), min(1 - point["productivity"], D("0.1"))),
            "admin_load": (min(point["admin_load"], D("0.02")), D("0.02")),
            "margin": (min(point["margin"], D("0.02")), D("0.02")),
            "annual_trend": (D("0.02"), D("0.02")),
            "mileage_rate": (min(point["mileage_rate"], D("0.1")), D("0.1")),
            "supplies_pmpm": (point["supplies_pmpm"] / 2, D(5)),
            "full_credibility_member_months": (point["full_credibility_member_months"] / 2, D(5000)),
        }
        chosen = draw(st.lists(st.sampled_from(sorted(spread)), unique=True))
        assumptions["ranges"] = {
            name: [str(point[name] - spread[name][0]), str(point[name] + spread[name][1])] for name in chosen
        }
    data: dict[str, Any] = {
        "format": "carebundle.pricing/1",
        "bundle": {
            "name": "generated",
            "tiers": [{"code": t, "name": f"Tier {t}"} for t in tiers],
            "home_share": str(draw(dec("0", "1"))),
            "roles": role_items,
            "assessment": {
                "roles": [{"role": r, "minutes": str(draw(dec("0", "120", 0)))} for r in assessment_roles],
                "home": draw(st.booleans()),
            },
        },
        "assumptions": assumptions,
    }
    with_experience = draw(st.booleans()) if experience is None else experience
    if with_experience:
        by_tier = {}
        for tier in draw(st.lists(st.sampled_from(tiers), min_size=1, unique=True)):
            member_months = draw(dec("1", "60000", 0))
            by_tier[tier] = {
                "member_months": str(member_months),
                "cost": str(member_months * draw(dec("0", "2000"))),
            }
        data["experience"] = {"by_tier": by_tier}
    return data


def pmpms(data: dict[str, Any]) -> dict[tuple[str, str], Decimal]:
    return {(r["tier"], r["market"]): D(r["pmpm"]) for r in quote(data)["rates"]}


def never_lower(before: dict[tuple[str, str], Decimal], after: dict[tuple[str, str], Decimal]) -> bool:
    return all(after[key] >= value for key, value in before.items())


@PROPERTY_SETTINGS
@given(pricing_files(ranges=False), st.data())
def test_rate_never_falls_when_minutes_rise(data, draw):
    before = pmpms(data)
    bigger = copy.deepcopy(data)
    role = draw.draw(st.sampled_from(bigger["bundle"]["roles"]))
    role["visit_minutes"] = str(D(role["visit_minutes"]) + draw.draw(dec("0", "60", 0)))
    for effort in role["by_tier"].values():
        effort["visits_per_mm"] = str(D(effort["visits_per_mm"]) + draw.draw(dec("0", "2")))
        effort["coordination_minutes_per_mm"] = str(
            D(effort["coordination_minutes_per_mm"]) + draw.draw(dec("0", "60"))
        )
    assert never_lower(before, pmpms(bigger))


@PROPERTY_SETTINGS
@given(pricing_files(ranges=False), st.data())
def test_rate_never_falls_when_wages_rise(data, draw):
    before = pmpms(data)
    richer = copy.deepcopy(data)
    factor = draw.draw(dec("1", "2"))
    for entry in richer["assumptions"]["salaries"].values():
        entry["default"] = str(D(entry["default"]) * factor)
        for market in entry.get("markets", {}):
            entry["markets"][market] = str(D(entry["markets"][market]) * factor)
    assert never_lower(before, pmpms(richer))


@PROPERTY_SETTINGS
@given(
    pricing_files(ranges=False), st.sampled_from(["benefits_load", "admin_load", "margin"]), dec("0", "0.2")
)
def test_rate_never_falls_when_loads_rise(data, load, increase):
    before = pmpms(data)
    heavier = copy.deepcopy(data)
    heavier["assumptions"][load] = str(D(heavier["assumptions"][load]) + increase)
    assert never_lower(before, pmpms(heavier))


@PROPERTY_SETTINGS
@given(pricing_files(experience=False, ranges=False))
def test_credibility_zero_gives_the_manual_rate(data):
    pf = parse_pricing_file(data)
    a = pf.assumptions
    result = quote(data)
    for cell in result["rates"]:
        buildup = rate_cell_buildup(pf, cell["tier"], a.market(cell["market"]))
        assert cell["credibility"] == 0.0
        with localcontext() as ctx:
            ctx.prec = 40
            manual = buildup.direct_pmpm / (1 - a.admin_load - a.margin)
        assert buildup.blended_direct == buildup.direct_pmpm
        assert cell["pmpm"] == str(manual.quantize(D("0.01"), rounding="ROUND_HALF_UP"))


@PROPERTY_SETTINGS
@given(pricing_files(experience=True, ranges=False))
def test_full_credibility_gives_the_trended_experience(data):
    data["assumptions"]["full_credibility_member_months"] = "1"  # every tier with experience: Z = 1
    pf = parse_pricing_file(data)
    a = pf.assumptions
    months = (a.rating_period_midpoint.year - a.base_period_midpoint.year) * 12 + (
        a.rating_period_midpoint.month - a.base_period_midpoint.month
    )
    for cell in quote(data)["rates"]:
        experience = data["experience"]["by_tier"].get(cell["tier"])
        if experience is None:
            continue
        assert cell["credibility"] == 1.0
        with localcontext() as ctx:
            ctx.prec = 40
            f = (1 + a.annual_trend) ** (D(months) / 12)
            trended = D(experience["cost"]) / D(experience["member_months"]) * f
            expected = trended / (1 - a.admin_load - a.margin)
        assert cell["pmpm"] == str(expected.quantize(D("0.01"), rounding="ROUND_HALF_UP"))
        assert cell["experience_pmpm"] == str(trended.quantize(D("0.01"), rounding="ROUND_HALF_UP"))


@PROPERTY_SETTINGS
@given(pricing_files())
def test_low_point_high_are_ordered(data):
    result = quote(data)
    for cell in result["rates"]:
        assert D(cell["low"]) <= D(cell["pmpm"]) <= D(cell["high"])
    for market, fee in result["assessment_fee"].items():
        bounds = result["assessment_fee_range"][market]
        assert D(bounds["low"]) <= D(fee) <= D(bounds["high"])


_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def _assert_no_nan(value: Any, path: str = "$") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_no_nan(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _assert_no_nan(item, f"{path}[{i}]")
    elif isinstance(value, float):
        assert value == value and abs(value) != float("inf"), path
    elif isinstance(value, str):
        assert value.lower().lstrip("+-") not in {"nan", "snan", "inf", "infinity"}, path


@PROPERTY_SETTINGS
@given(pricing_files(), st.lists(st.sampled_from(["medicaid", "ma", "dsnp"]), unique=True, max_size=2))
def test_no_nan_ever_appears_in_a_quote(data, lobs):
    result = quote(data, lobs=lobs or None)
    json.dumps(result, allow_nan=False)
    _assert_no_nan(result)
    for cell in result["rates"]:
        for key in ("pmpm", "low", "high", "direct_pmpm", "pmpm_without_assessment_fee", "cost_per_enrollee"):
            assert _NUMBER.match(cell[key]), (key, cell[key])
            assert D(cell[key]) >= 0
