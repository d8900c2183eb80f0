"""The fee-for-service comparison with a plan's own fee schedule, and care management billed under a
supervising clinician (issue 17, point 4), pure."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from pricing.engine import PricingInputError, compare_payment_models, parse_pricing_file
from pricing.engine.ffs import RateSchedule, care_management_units
from tests.pricing.engine.conftest import FORMATS_EXAMPLE


@pytest.mark.parametrize(
    ("program", "minutes", "units"),
    [
        ("ccm", "19.99", []),
        ("ccm", "20", [("99490", 1), ("99439", 0)]),
        ("ccm", "39.99", [("99490", 1), ("99439", 0)]),
        ("ccm", "40", [("99490", 1), ("99439", 1)]),
        ("ccm", "59.99", [("99490", 1), ("99439", 1)]),
        ("ccm", "60", [("99487", 1), ("99489", 0)]),
        ("ccm", "89.99", [("99487", 1), ("99489", 0)]),
        ("ccm", "90", [("99487", 1), ("99489", 1)]),
        ("ccm", "150", [("99487", 1), ("99489", 3)]),
        ("pcm", "29.99", []),
        ("pcm", "30", [("99426", 1), ("99427", 0)]),
        ("pcm", "60", [("99426", 1), ("99427", 1)]),
        ("pcm", "95", [("99426", 1), ("99427", 2)]),
        ("rhc_fqhc", "19", []),
        ("rhc_fqhc", "20", [("G0511", 1)]),
        ("rhc_fqhc", "300", [("G0511", 1)]),
    ],
)
def test_care_management_codes_at_every_threshold(program, minutes, units):
    assert care_management_units(program, Decimal(minutes)) == [(code, Decimal(n)) for code, n in units]


def test_simple_ccm_adds_at_most_two_further_periods():
    # 59 minutes is two further 20s at most; the cap holds even if a rule change let more through
    assert care_management_units("ccm", Decimal("59"))[1] == ("99439", Decimal(1))
    with pytest.raises(ValueError, match="unknown"):
        care_management_units("tcm", Decimal(60))


def _supervised(program: str = "ccm") -> dict:
    document = copy.deepcopy(FORMATS_EXAMPLE)
    document["bundle"]["care_management"] = program
    document["bundle"]["roles"].append(
        {
            "role": "rn",
            "visit_minutes": 45,
            "bills_ffs": False,
            "by_tier": {
                t: {"visits_per_mm": 1, "coordination_minutes_per_mm": m}
                for t, m in (("1", 15), ("2", 30), ("3", 45))
            },
        }
    )
    document["assumptions"]["salaries"]["rn"] = {"default": 90000}
    return document


def _cell(result: dict, tier: str, market: str = "URBAN") -> dict:
    return next(c for c in result["cells"] if c["tier"] == tier and c["market"] == market)


def test_the_nurses_coordination_earns_under_a_supervising_clinician():
    plain = compare_payment_models(
        _supervised() | {"bundle": {**_supervised()["bundle"], "care_management": None}}
    )
    supervised = compare_payment_models(_supervised())
    # tier 3: NP 45 + RN 45 = 90 minutes: complex CCM 99487 + one 99489, shared 50/50 by minutes
    rn = _cell(supervised, "3")["by_role"]["rn"]
    assert [(s["code"], s["units_per_mm"], s.get("supervised")) for s in rn["services"]] == [
        ("99487", "0.5", True),
        ("99489", "0.5", True),
    ]
    assert (
        Decimal(rn["ffs_revenue_pmpm"]) > 0 == Decimal(_cell(plain, "3")["by_role"]["rn"]["ffs_revenue_pmpm"])
    )
    np_services = {s["code"] for s in _cell(supervised, "3")["by_role"]["np"]["services"]}
    assert "99487" in np_services  # its half of the team's claim, not a claim of its own
    assert supervised["fee_schedule"]["care_management"] == "ccm"
    # tier 1: 15 + 15 = 30 minutes: simple CCM 99490, no further period
    assert [s["code"] for s in _cell(supervised, "1")["by_role"]["rn"]["services"]] == ["99490"]


def test_rhc_fqhc_care_management_is_unpriced_under_medicare_and_said_so():
    result = compare_payment_models(_supervised("rhc_fqhc"))
    assert result["fee_schedule"]["unpriced_codes"] == ["G0511"]
    assert Decimal(_cell(result, "3")["by_role"]["rn"]["ffs_revenue_pmpm"]) == 0


def test_a_plan_schedule_prices_every_code_flat_and_names_what_it_lacks():
    schedule = RateSchedule(
        "State Medicaid 2026",
        2,
        {"99349": Decimal("88.10"), "99214": Decimal("61.00"), "99345": Decimal("150.25")},
    )
    result = compare_payment_models(FORMATS_EXAMPLE, rate_schedule=schedule)
    assert result["fee_schedule"] == {
        "kind": "plan",
        "name": "State Medicaid 2026",
        "version": 2,
        "unpriced_codes": [],  # the NP's 15 to 45 coordination minutes bill no CCM of its own
        "care_management": None,
    }
    tier2 = _cell(result, "2", "RURAL-N")["by_role"]["np"]
    home = next(s for s in tier2["services"] if s["code"] == "99349")
    assert home["amount"] == "88.10"  # the same in every market: no locality adjustment
    assert _cell(result, "2")["assessment"]["ffs_revenue_per_assessment"] == "150.25"


def test_a_plan_schedule_ignores_medicare_localities_and_unknown_codes_pay_nothing():
    document = copy.deepcopy(FORMATS_EXAMPLE)
    document["assumptions"]["ffs_locality"] = "XX-99"  # not a Medicare locality
    with pytest.raises(PricingInputError):
        compare_payment_models(document)
    result = compare_payment_models(document, rate_schedule=RateSchedule("Empty", 1, {}))
    assert all(Decimal(c["models"]["ffs"]["revenue_pmpm"]) == 0 for c in result["cells"])
    assert "99349" in result["fee_schedule"]["unpriced_codes"]


def test_care_management_must_be_a_known_program():
    document = copy.deepcopy(FORMATS_EXAMPLE)
    document["bundle"]["care_management"] = "tcm"
    with pytest.raises(PricingInputError) as raised:
        parse_pricing_file(document)
    assert raised.value.problems[0].path == "$.bundle.care_management"
    document["bundle"]["care_management"] = "pcm"
    assert parse_pricing_file(document).to_dict()["bundle"]["care_management"] == "pcm"
