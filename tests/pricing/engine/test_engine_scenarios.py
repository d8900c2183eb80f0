"""The walk from one pricing file's rates to another's, and runs side by side (pure, no database)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pricing.engine import quote
from pricing.engine.scenarios import (
    NothingInCommon,
    input_differences,
    part_label,
    rate_walk,
    side_by_side,
)
from tests.pricing.engine.conftest import FORMATS_EXAMPLE

MARKETS = ["URBAN", "RURAL-N"]
LOBS = ["medicaid", "dual"]


def _rates(document: dict[str, Any]) -> dict[tuple, Decimal]:
    q = quote(document, markets=MARKETS, lobs=LOBS)
    return {(r["tier"], r["market"], r["lob"]): Decimal(r["pmpm"]) for r in q["rates"]}


def _changed(example_file: dict[str, Any]) -> dict[str, Any]:
    other = copy.deepcopy(example_file)
    other["assumptions"]["salaries"]["np"]["default"] = 140000
    other["assumptions"]["productivity"] = 0.7
    other["assumptions"]["margin"] = 0.05
    other["assumptions"]["vbp_bonus_share"] = 0.2  # moves no rate
    other["bundle"]["roles"][0]["by_tier"]["3"]["visits_per_mm"] = 2.5
    return other


def test_each_changed_assumption_is_one_step_in_walk_order(example_file):
    walk = rate_walk(example_file, _changed(example_file), markets=MARKETS, lobs=LOBS)
    assert [s.parts for s in walk.steps] == [
        ("bundle.roles",),
        ("assumptions.salaries",),
        ("assumptions.productivity",),
        ("assumptions.margin",),
        ("assumptions.vbp_bonus_share",),
    ]
    assert walk.steps[1].label == "Salaries"


def test_steps_add_up_to_the_total_difference_to_the_cent(example_file):
    end = _changed(example_file)
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    start_rates, end_rates = _rates(example_file), _rates(end)
    assert len(walk.cells) == 3 * 2 * 2
    for cell in walk.cells:
        changes = walk.rate_changes(cell)
        assert sum(changes, Decimal(0)) == end_rates[cell] - start_rates[cell]
        assert walk.start.rates[cell] == start_rates[cell]
        assert walk.end.rates[cell] == end_rates[cell]
    # a margin-only swap moves every rate; the value-based share moves none
    margin, vbp = walk.steps[3], walk.steps[4]
    assert all(c != 0 for cell in walk.cells for c in [walk.rate_changes(cell)[3]])
    assert all(walk.rate_changes(cell)[4] == 0 for cell in walk.cells)
    assert margin.parts == ("assumptions.margin",) and vbp.parts == ("assumptions.vbp_bonus_share",)


def test_only_tier_3_moves_when_only_its_visits_change(example_file):
    end = copy.deepcopy(example_file)
    end["bundle"]["roles"][0]["by_tier"]["3"]["visits_per_mm"] = 2.5
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    assert [s.parts for s in walk.steps] == [("bundle.roles",)]
    moved = {cell for cell in walk.cells if walk.rate_changes(cell)[0] != 0}
    assert moved == {c for c in walk.cells if c[0] == "3"}
    assert all(change == 0 for m in MARKETS for change in walk.fee_changes(m))


def test_the_assessment_fee_walks_too(example_file):
    end = copy.deepcopy(example_file)
    end["bundle"]["assessment"]["roles"][0]["minutes"] = 120
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    data = walk.as_dict()
    fees = {f["market"]: f for f in data["assessment_fees"]}
    for market in MARKETS:
        assert Decimal(fees[market]["change"]) > 0
        assert sum(Decimal(s) for s in fees[market]["steps"]) == Decimal(fees[market]["change"])


def test_a_removed_assessment_walks_the_fee_to_zero(example_file):
    end = copy.deepcopy(example_file)
    del end["bundle"]["assessment"]
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    assert [s.parts for s in walk.steps] == [("bundle.assessment",)]
    assert walk.end.fees == {}
    assert walk.fee_changes("URBAN") == [-walk.start.fees["URBAN"]]


def test_a_swap_that_cannot_price_alone_is_taken_with_the_next(example_file):
    # B adds a role to the bundle and its salary: the roles alone have no salary for "rn"
    end = copy.deepcopy(example_file)
    end["bundle"]["roles"].append(
        {
            "role": "rn",
            "visit_minutes": 45,
            "by_tier": {t: {"visits_per_mm": 1, "coordination_minutes_per_mm": 20} for t in ("1", "2", "3")},
        }
    )
    end["assumptions"]["salaries"]["rn"] = {"default": 90000}
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    assert [s.parts for s in walk.steps] == [("bundle.roles", "assumptions.salaries")]
    assert walk.steps[0].label == f"{part_label('bundle.roles')} + Salaries"
    assert all(walk.rate_changes(cell)[0] > 0 for cell in walk.cells)


def test_the_same_file_walks_in_no_step(example_file):
    walk = rate_walk(example_file, copy.deepcopy(example_file), markets=MARKETS, lobs=LOBS)
    assert walk.steps == ()
    assert walk.end == walk.start
    assert walk.as_dict()["rates"][0]["change"] == "0.00"


def test_only_cells_both_runs_price_are_walked(example_file):
    end = copy.deepcopy(example_file)
    end["bundle"]["tiers"] = end["bundle"]["tiers"][:2]
    for role in end["bundle"]["roles"]:
        del role["by_tier"]["3"]
    walk = rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)
    assert {cell[0] for cell in walk.cells} == {"1", "2"}
    assert [s.parts for s in walk.steps] == [("bundle.tiers", "bundle.roles")]


def test_no_common_cell_is_an_error(example_file):
    end = copy.deepcopy(example_file)
    end["bundle"]["tiers"] = [{"code": "9", "name": "Other"}]
    for role in end["bundle"]["roles"]:
        role["by_tier"] = {"9": role["by_tier"]["1"]}
    end.pop("experience")
    with pytest.raises(NothingInCommon):
        rate_walk(example_file, end, markets=MARKETS, lobs=LOBS)


# The sum holds whatever changes, in any combination (each swap re-rounds to the cent).
_changes = st.fixed_dictionaries(
    {},
    optional={
        "np_salary": st.integers(90_000, 200_000),
        "lcsw_salary": st.integers(50_000, 120_000),
        "productivity": st.decimals("0.5", "0.95", places=3),
        "benefits_load": st.decimals("0.25", "0.30", places=3),
        "margin": st.decimals("0", "0.2", places=3),
        "admin_load": st.decimals("0", "0.3", places=3),
        "trend": st.decimals("-0.05", "0.1", places=4),
        "mileage": st.decimals("0", "1.5", places=3),
        "travel": st.integers(0, 120),
        "visits": st.decimals("0", "4", places=2),
        "conversion": st.decimals("0.2", "1", places=2),
        "dual_factor": st.decimals("0.8", "1.4", places=2),
        "drop_experience": st.just(True),
    },
)


def _apply(document: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    a = out["assumptions"]
    for key, value in change.items():
        if key == "np_salary":
            a["salaries"]["np"]["default"] = value
        elif key == "lcsw_salary":
            a["salaries"]["lcsw"]["default"] = value
        elif key == "trend":
            a["annual_trend"] = str(value)
        elif key == "mileage":
            a["mileage_rate"] = str(value)
        elif key == "travel":
            a["markets"][1]["travel_minutes_per_visit"] = value
        elif key == "visits":
            out["bundle"]["roles"][0]["by_tier"]["2"]["visits_per_mm"] = str(value)
        elif key == "conversion":
            a["conversion_rate"] = str(value)
        elif key == "dual_factor":
            a["lob_factors"] = {"dual": str(value)}
        elif key == "productivity":
            # outside the example's range [0.70, 0.80]: the range widens with it, so a walk to or
            # from it swaps the productivity and the ranges in one step
            a["productivity"] = str(value)
            a["ranges"]["productivity"] = ["0.5", "0.95"]
        elif key == "drop_experience":
            out.pop("experience", None)
        else:
            a[key] = str(value)
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_changes, _changes)
def test_any_walk_adds_up_exactly(first, second):
    start = _apply(FORMATS_EXAMPLE, first)
    end = _apply(FORMATS_EXAMPLE, second)
    walk = rate_walk(start, end, markets=MARKETS, lobs=LOBS)
    start_rates, end_rates = _rates(start), _rates(end)
    for cell in walk.cells:
        assert sum(walk.rate_changes(cell), Decimal(0)) == end_rates[cell] - start_rates[cell]
    for market in MARKETS:
        assert sum(walk.fee_changes(market), Decimal(0)) == walk.end.fees[market] - walk.start.fees[market]
    # one step per changed part at most, never an empty step
    assert all(step.parts for step in walk.steps)
    assert len({p for s in walk.steps for p in s.parts}) == sum(len(s.parts) for s in walk.steps)


def _result(rate_rows: list[tuple], fee: dict[str, str], loss: float | None = None) -> dict[str, Any]:
    return {
        "quote": {
            "rates": [
                {"tier": t, "market": m, "lob": lob, "pmpm": p, "labor_pmpm": {"np": labour}}
                for t, m, lob, p, labour in rate_rows
            ],
            "assessment_fee": fee,
            "expected_months_enrolled": "6.123456",
        },
        "risk": {}
        if loss is None
        else {
            "by_market": {
                "URBAN": {
                    "summary": {
                        "provider_margin": {"probability_of_loss": loss, "mean": "1200.5", "p5": "-300"}
                    }
                }
            }
        },
    }


def test_side_by_side_puts_runs_in_columns_with_changes_from_the_first():
    a = _result(
        [("1", "URBAN", "medicaid", "400.00", "250.00"), ("2", "URBAN", "medicaid", "600.00", "400.00")],
        {"URBAN": "300.00"},
        0.125,
    )
    b = _result([("1", "URBAN", "medicaid", "410.55", "251.00")], {"URBAN": "290.00"})
    table = side_by_side([a, b])
    assert table["rates"][0] == {
        "tier": "1",
        "market": "URBAN",
        "lob": "medicaid",
        "values": ["400.00", "410.55"],
        "changes": ["0.00", "10.55"],
    }
    # a cell only the first run prices has no value and no change in the second
    assert table["rates"][1]["values"] == ["600.00", None] and table["rates"][1]["changes"] == ["0.00", None]
    assert table["labour"][0]["role"] == "np" and table["labour"][0]["changes"] == ["0.00", "1.00"]
    assert table["assessment_fees"] == [
        {"market": "URBAN", "values": ["300.00", "290.00"], "changes": ["0.00", "-10.00"]}
    ]
    assert table["expected_months_enrolled"] == ["6.12", "6.12"]
    assert table["risk"] == [
        {
            "market": "URBAN",
            "probability_of_loss": ["0.1250", None],
            "margin_mean": ["1200.50", None],
            "margin_p5": ["-300.00", None],
        }
    ]


def test_input_differences_name_roles_and_markets_by_code(example_file):
    other = _changed(example_file)
    other["assumptions"]["markets"][1]["miles_per_visit"] = 40
    rows = {row["path"]: row["values"] for row in input_differences([example_file, other, example_file])}
    assert rows["assumptions.salaries.np.default"] == ["132000", "140000", "132000"]
    assert rows["assumptions.markets[RURAL-N].miles_per_visit"] == ["35", "40", "35"]
    assert rows["bundle.roles[np].by_tier.3.visits_per_mm"] == ["2.0", "2.5", "2.0"]
    assert rows["assumptions.vbp_bonus_share"] == [None, "0.2", None]
    assert "assumptions.benefits_load" not in rows
