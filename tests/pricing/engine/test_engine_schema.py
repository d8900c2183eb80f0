"""Validation of the pricing file: every rule names its JSON path and a stable code, all errors are
reported at once, and a parsed file exports back to the same shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from pricing.engine import PricingInputError, parse_pricing_file, quote
from pricing.engine import schema as s

Mutation = Callable[[dict[str, Any]], None]


def setter(path: str, value: Any) -> Mutation:
    """A mutation that sets (or, with value DELETE, removes) a dotted path like "bundle.roles.0.role"."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value

    return mutate


DELETE = object()
TIER2 = "bundle.roles.0.by_tier.2"

# (mutation, expected path, expected code): one per validation rule
RULES: list[tuple[str, Mutation, str, str]] = [
    ("format missing", setter("format", DELETE), "$.format", s.REQUIRED),
    ("format unknown", setter("format", "carebundle.pricing/2"), "$.format", s.FORMAT_UNSUPPORTED),
    ("bundle missing", setter("bundle", DELETE), "$.bundle", s.REQUIRED),
    ("assumptions not an object", setter("assumptions", []), "$.assumptions", s.WRONG_TYPE),
    ("bundle name missing", setter("bundle.name", DELETE), "$.bundle.name", s.REQUIRED),
    (
        "productivity zero",
        setter("assumptions.productivity", 0),
        "$.assumptions.productivity",
        s.OUT_OF_RANGE,
    ),
    (
        "productivity above one",
        setter("assumptions.productivity", "1.2"),
        "$.assumptions.productivity",
        s.OUT_OF_RANGE,
    ),
    (
        "productivity missing",
        setter("assumptions.productivity", DELETE),
        "$.assumptions.productivity",
        s.REQUIRED,
    ),
    (
        "benefits negative",
        setter("assumptions.benefits_load", -0.1),
        "$.assumptions.benefits_load",
        s.NEGATIVE,
    ),
    ("admin negative", setter("assumptions.admin_load", -0.01), "$.assumptions.admin_load", s.OUT_OF_RANGE),
    ("loads reach one", setter("assumptions.admin_load", "0.97"), "$.assumptions.margin", s.LOADS_TOO_HIGH),
    ("trend at -100%", setter("assumptions.annual_trend", -1), "$.assumptions.annual_trend", s.OUT_OF_RANGE),
    (
        "salary negative",
        setter("assumptions.salaries.np.default", -1),
        "$.assumptions.salaries.np.default",
        s.NEGATIVE,
    ),
    (
        "salary NaN string",
        setter("assumptions.salaries.np.default", "NaN"),
        "$.assumptions.salaries.np.default",
        s.NOT_FINITE,
    ),
    (
        "salary Infinity string",
        setter("assumptions.salaries.lcsw.default", "Infinity"),
        "$.assumptions.salaries.lcsw.default",
        s.NOT_FINITE,
    ),
    (
        "salary float nan",
        setter("assumptions.salaries.np.markets.RURAL-N", float("nan")),
        "$.assumptions.salaries.np.markets.RURAL-N",
        s.NOT_FINITE,
    ),
    (
        "salary not a number",
        setter("assumptions.salaries.np.default", "lots"),
        "$.assumptions.salaries.np.default",
        s.NOT_A_NUMBER,
    ),
    (
        "salary boolean",
        setter("assumptions.salaries.np.default", True),
        "$.assumptions.salaries.np.default",
        s.WRONG_TYPE,
    ),
    (
        "salary for unknown market",
        setter("assumptions.salaries.np.markets", {"MARS": 1}),
        "$.assumptions.salaries.np.markets.MARS",
        s.UNKNOWN_MARKET,
    ),
    (
        "visit minutes negative",
        setter("bundle.roles.0.visit_minutes", -5),
        "$.bundle.roles[0].visit_minutes",
        s.NEGATIVE,
    ),
    (
        "visits negative",
        setter(f"{TIER2}.visits_per_mm", "-1"),
        "$.bundle.roles[0].by_tier.2.visits_per_mm",
        s.NEGATIVE,
    ),
    (
        "coordination infinite",
        setter(f"{TIER2}.coordination_minutes_per_mm", "-inf"),
        "$.bundle.roles[0].by_tier.2.coordination_minutes_per_mm",
        s.NOT_FINITE,
    ),
    (
        "by_tier key not a tier",
        setter("bundle.roles.0.by_tier.9", {"visits_per_mm": 1}),
        "$.bundle.roles[0].by_tier.9",
        s.UNKNOWN_TIER,
    ),
    (
        "duplicate role",
        setter("bundle.roles", [{"role": "np", "visit_minutes": 60}, {"role": "np", "visit_minutes": 30}]),
        "$.bundle.roles[1].role",
        s.DUPLICATE_ROLE,
    ),
    ("roles empty", setter("bundle.roles", []), "$.bundle.roles", s.EMPTY),
    (
        "duplicate tier",
        setter("bundle.tiers.1", {"code": "1", "name": "Again"}),
        "$.bundle.tiers[1].code",
        s.DUPLICATE_TIER,
    ),
    ("home share above one", setter("bundle.home_share", 1.5), "$.bundle.home_share", s.OUT_OF_RANGE),
    (
        "period type unknown",
        setter("bundle.period", {"type": "weekly"}),
        "$.bundle.period.type",
        s.INVALID_CHOICE,
    ),
    (
        "episode without days",
        setter("bundle.period", {"type": "episode"}),
        "$.bundle.period.days",
        s.REQUIRED,
    ),
    (
        "episode of zero days",
        setter("bundle.period", {"type": "episode", "days": 0}),
        "$.bundle.period.days",
        s.NOT_POSITIVE,
    ),
    (
        "episode of fractional days",
        setter("bundle.period", {"type": "episode", "days": 30.5}),
        "$.bundle.period.days",
        s.NOT_INTEGER,
    ),
    (
        "assessment minutes negative",
        setter("bundle.assessment.roles.1.minutes", -60),
        "$.bundle.assessment.roles[1].minutes",
        s.NEGATIVE,
    ),
    (
        "service code malformed",
        setter("bundle.roles.0.service_codes", {"home_visit": "9934"}),
        "$.bundle.roles[0].service_codes.home_visit",
        s.INVALID_SERVICE_CODE,
    ),
    (
        "travel negative",
        setter("assumptions.markets.0.travel_minutes_per_visit", -20),
        "$.assumptions.markets[0].travel_minutes_per_visit",
        s.NEGATIVE,
    ),
    (
        "miles negative",
        setter("assumptions.markets.1.miles_per_visit", -35),
        "$.assumptions.markets[1].miles_per_visit",
        s.NEGATIVE,
    ),
    (
        "mileage rate negative",
        setter("assumptions.mileage_rate", "-0.7"),
        "$.assumptions.mileage_rate",
        s.NEGATIVE,
    ),
    (
        "supplies negative",
        setter("assumptions.supplies_pmpm", -15),
        "$.assumptions.supplies_pmpm",
        s.NEGATIVE,
    ),
    (
        "duplicate market",
        setter("assumptions.markets.1.code", "URBAN"),
        "$.assumptions.markets[1].code",
        s.DUPLICATE_MARKET,
    ),
    ("markets empty", setter("assumptions.markets", []), "$.assumptions.markets", s.EMPTY),
    (
        "dates reversed",
        setter("assumptions.rating_period_midpoint", "2025-06-30"),
        "$.assumptions.rating_period_midpoint",
        s.DATE_RANGE_REVERSED,
    ),
    (
        "date invalid",
        setter("assumptions.base_period_midpoint", "2025-13-01"),
        "$.assumptions.base_period_midpoint",
        s.INVALID_DATE,
    ),
    (
        "date not ISO",
        setter("assumptions.base_period_midpoint", "07/01/2025"),
        "$.assumptions.base_period_midpoint",
        s.INVALID_DATE,
    ),
    (
        "range reversed",
        setter("assumptions.ranges.productivity", [0.8, 0.7]),
        "$.assumptions.ranges.productivity",
        s.RANGE_REVERSED,
    ),
    (
        "range for unknown assumption",
        setter("assumptions.ranges.salary", [1, 2]),
        "$.assumptions.ranges.salary",
        s.UNKNOWN_RANGE_ASSUMPTION,
    ),
    (
        "range not a pair",
        setter("assumptions.ranges.productivity", [0.7]),
        "$.assumptions.ranges.productivity",
        s.WRONG_TYPE,
    ),
    (
        "range end breaks the rule",
        setter("assumptions.ranges.productivity", [0, 0.8]),
        "$.assumptions.ranges.productivity[0]",
        s.OUT_OF_RANGE,
    ),
    (
        "range misses the point",
        setter("assumptions.ranges.benefits_load", [0.30, 0.35]),
        "$.assumptions.ranges.benefits_load",
        s.RANGE_EXCLUDES_POINT,
    ),
    (
        "ranged loads reach one",
        setter("assumptions.ranges.admin_load", ["0.12", "0.97"]),
        "$.assumptions.ranges",
        s.LOADS_TOO_HIGH,
    ),
    (
        "full credibility zero",
        setter("assumptions.full_credibility_member_months", 0),
        "$.assumptions.full_credibility_member_months",
        s.NOT_POSITIVE,
    ),
    (
        "full credibility missing with experience",
        setter("assumptions.full_credibility_member_months", DELETE),
        "$.assumptions.full_credibility_member_months",
        s.REQUIRED,
    ),
    (
        "conversion zero",
        setter("assumptions.conversion_rate", 0),
        "$.assumptions.conversion_rate",
        s.OUT_OF_RANGE,
    ),
    (
        "disenrollment above one",
        setter("assumptions.disenrollment", {"death": 0.6, "other": [0.1, 0.5]}),
        "$.assumptions.disenrollment",
        s.DISENROLLMENT_EXCEEDS_ONE,
    ),
    (
        "disenrollment probability above one",
        setter("assumptions.disenrollment", {"death": 1.5}),
        "$.assumptions.disenrollment.death",
        s.OUT_OF_RANGE,
    ),
    (
        "horizon zero",
        setter("assumptions.enrollment_horizon_months", 0),
        "$.assumptions.enrollment_horizon_months",
        s.NOT_POSITIVE,
    ),
    (
        "lob factor zero",
        setter("assumptions.lob_factors", {"dsnp": 0}),
        "$.assumptions.lob_factors.dsnp",
        s.NOT_POSITIVE,
    ),
    (
        "experience member months zero",
        setter("experience.by_tier.1.member_months", 0),
        "$.experience.by_tier.1.member_months",
        s.NOT_POSITIVE,
    ),
    (
        "experience cost negative",
        setter("experience.by_tier.1.cost", -1),
        "$.experience.by_tier.1.cost",
        s.NEGATIVE,
    ),
    (
        "experience for unknown tier",
        setter("experience.by_tier.7", {"member_months": 1, "cost": 1}),
        "$.experience.by_tier.7",
        s.UNKNOWN_TIER,
    ),
    ("experience without by_tier", setter("experience", {}), "$.experience.by_tier", s.REQUIRED),
]


@pytest.mark.parametrize(("mutation", "path", "code"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_reports_its_path_and_code(example_file, mutation, path, code):
    mutation(example_file)
    with pytest.raises(PricingInputError) as info:
        parse_pricing_file(example_file)
    found = [(e["path"], e["code"]) for e in info.value.errors]
    assert (path, code) in found
    assert all(e["message"] and isinstance(e["message"], str) for e in info.value.errors)


def test_role_without_any_wage_is_reported_per_market(example_file):
    del example_file["assumptions"]["salaries"]["lcsw"]  # used only by the assessment
    with pytest.raises(PricingInputError) as info:
        parse_pricing_file(example_file)
    assert [(e["path"], e["code"]) for e in info.value.errors] == [
        ("$.assumptions.salaries.lcsw.markets.URBAN", s.MARKET_WITHOUT_WAGE),
        ("$.assumptions.salaries.lcsw.markets.RURAL-N", s.MARKET_WITHOUT_WAGE),
    ]


def test_market_override_without_default_leaves_the_other_markets_without_a_wage(example_file):
    del example_file["assumptions"]["salaries"]["np"]["default"]
    with pytest.raises(PricingInputError) as info:
        parse_pricing_file(example_file)
    assert [(e["path"], e["code"]) for e in info.value.errors] == [
        ("$.assumptions.salaries.np.markets.URBAN", s.MARKET_WITHOUT_WAGE),
    ]


def test_every_error_is_reported_at_once(example_file):
    example_file["assumptions"]["productivity"] = 0
    example_file["assumptions"]["salaries"]["np"]["default"] = "NaN"
    example_file["bundle"]["roles"][0]["by_tier"]["2"]["visits_per_mm"] = -1
    example_file["assumptions"]["rating_period_midpoint"] = "2024-01-01"
    example_file["experience"]["by_tier"]["1"]["member_months"] = 0
    example_file["assumptions"]["ranges"]["benefits_load"] = [0.3, 0.25]
    with pytest.raises(PricingInputError) as info:
        parse_pricing_file(example_file)
    assert {(e["path"], e["code"]) for e in info.value.errors} == {
        ("$.assumptions.productivity", s.OUT_OF_RANGE),
        ("$.assumptions.salaries.np.default", s.NOT_FINITE),
        ("$.bundle.roles[0].by_tier.2.visits_per_mm", s.NEGATIVE),
        ("$.assumptions.rating_period_midpoint", s.DATE_RANGE_REVERSED),
        ("$.experience.by_tier.1.member_months", s.NOT_POSITIVE),
        ("$.assumptions.ranges.benefits_load", s.RANGE_REVERSED),
    }
    assert "6 error(s)" in str(info.value)


def test_a_non_object_file_is_one_error():
    with pytest.raises(PricingInputError) as info:
        parse_pricing_file([])  # type: ignore[arg-type]
    assert info.value.errors == [
        {"path": "$", "code": s.WRONG_TYPE, "message": "a pricing file must be an object, not a list"}
    ]


def test_numbers_become_exact_decimals(example_file):
    pf = parse_pricing_file(example_file)
    assert pf.assumptions.mileage_rate == Decimal("0.7")  # from the JSON float 0.70, no binary noise
    assert str(pf.bundle.home_share) == "0.8"
    assert pf.salary("np", "RURAL-N") == 126000
    assert pf.salary("np", "URBAN") == 132000
    assert pf.bundle.roles[0].effort("missing tier").visits_per_mm == 0


def test_defaults_are_filled_in_and_billable_roles_recognised(example_file):
    del example_file["bundle"]["period"]
    pf = parse_pricing_file(example_file)
    a = pf.assumptions
    assert pf.bundle.period == s.Period("monthly")
    assert a.conversion_rate == Decimal("0.6")
    assert a.disenrollment == {
        "death": (Decimal("0.0110"),),
        "hospice": (Decimal("0.0487"),),
        "other": (Decimal("0.0974"),),
    }
    assert a.enrollment_horizon_months == 120
    assert a.ffs_conversion_factor == Decimal("32.3465")
    assert pf.bundle.roles[0].bills_ffs is True


def test_export_round_trip_is_lossless(example_file):
    example_file["assumptions"]["disenrollment"] = {"death": [0.02, 0.015, "0.01"], "other": 0.1}
    example_file["assumptions"]["lob_factors"] = {"dsnp": 1.05}
    example_file["bundle"]["roles"][0]["service_codes"] = {
        "home_visit": "99350",
        "units_per_mm": {"99497": 0.2},
    }
    example_file["assumptions"]["markets"][0]["ffs_locality"] = "CA-18"
    pf = parse_pricing_file(example_file)
    exported = pf.to_dict()
    text = json.dumps(exported)  # plain JSON: decimals are strings
    again = parse_pricing_file(json.loads(text))
    assert again == pf
    assert again.to_dict() == exported
    assert quote(json.loads(text)) == quote(example_file)
    assert exported["assumptions"]["productivity"] == "0.75"
    assert exported["assumptions"]["disenrollment"]["death"] == ["0.02", "0.015", "0.01"]
    assert exported["bundle"]["tiers"] == example_file["bundle"]["tiers"]


def test_unknown_extra_fields_are_ignored(example_file):
    example_file["assumptions"]["notes"] = "from the 2025 filing"
    assert parse_pricing_file(example_file).assumptions.productivity == Decimal("0.75")
