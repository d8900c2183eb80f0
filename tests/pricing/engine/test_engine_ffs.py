"""Payment model comparison against the shipped CY2025 fee schedule files."""

from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from pricing.engine import PricingInputError, compare_payment_models, load_fee_schedule, parse_pricing_file
from pricing.engine.ffs import GPCI_FILE, RVU_FILE

D = Decimal


def csv_row(code: str) -> dict[str, str]:
    with Path(RVU_FILE).open(newline="") as fh:
        return next(row for row in csv.DictReader(fh) if row["hcpcs"] == code)


def national(code: str) -> Decimal:
    return D(csv_row(code)["nonfac_national_usd"])


def one_np_file(**np_role) -> dict:
    """One NP, one tier, one market: the visit pattern under test and nothing else."""
    role = {
        "role": "np",
        "visit_minutes": 60,
        "by_tier": {"1": {"visits_per_mm": 2, "coordination_minutes_per_mm": 0}},
    }
    role.update(np_role)
    return {
        "format": "carebundle.pricing/1",
        "bundle": {
            "name": "NP visits",
            "tiers": [{"code": "1", "name": "Only"}],
            "home_share": 1,
            "roles": [role],
        },
        "assumptions": {
            "salaries": {"np": {"default": 126260}, "rn": {"default": 86070}},
            "benefits_load": 0.28,
            "productivity": 0.75,
            "admin_load": 0.12,
            "margin": 0.03,
            "annual_trend": 0.035,
            "base_period_midpoint": "2025-07-01",
            "rating_period_midpoint": "2026-07-01",
            "markets": [{"code": "M", "travel_minutes_per_visit": 20, "miles_per_visit": 8}],
        },
    }


def only_cell(result: dict) -> dict:
    (cell,) = result["cells"]
    return cell


def test_two_np_home_visits_earn_twice_99349_national_non_facility():
    cell = only_cell(compare_payment_models(one_np_file()))
    np_line = cell["by_role"]["np"]
    assert national("99349") == D("122.59")
    assert np_line["ffs_revenue_pmpm"] == str(2 * national("99349"))
    assert np_line["services"] == [
        {
            "code": "99349",
            "label": csv_row("99349")["label_plain"],
            "units_per_mm": "2",
            "amount": "122.59",
            "revenue_pmpm": "245.18",
        }
    ]
    assert D(np_line["ffs_gap_pmpm"]) == D(np_line["ffs_revenue_pmpm"]) - D(np_line["cost_pmpm"])
    assert cell["models"]["ffs"]["revenue_pmpm"] == "245.18"  # no assessment in this bundle


def test_office_share_bills_99214_and_ccm_needs_sixty_minutes():
    data = one_np_file(by_tier={"1": {"visits_per_mm": 2, "coordination_minutes_per_mm": 100}})
    data["bundle"]["home_share"] = "0.5"
    np_line = only_cell(compare_payment_models(data))["by_role"]["np"]
    units = {s["code"]: D(s["units_per_mm"]) for s in np_line["services"]}
    # 100 minutes: 99487 for the first 60, one 99489 for the next full 30, the last 10 unbilled
    assert units == {"99349": 1, "99214": 1, "99487": 1, "99489": 1}
    revenue = national("99349") + national("99214") + national("99487") + national("99489")
    assert np_line["ffs_revenue_pmpm"] == str(revenue)

    data["bundle"]["roles"][0]["by_tier"]["1"]["coordination_minutes_per_mm"] = 59
    units = {s["code"] for s in only_cell(compare_payment_models(data))["by_role"]["np"]["services"]}
    assert units == {"99349", "99214"}


def test_non_billable_roles_earn_nothing_and_show_their_whole_cost_as_the_gap():
    data = one_np_file()
    data["bundle"]["roles"].append(
        {
            "role": "rn",
            "visit_minutes": 45,
            "by_tier": {"1": {"visits_per_mm": 1, "coordination_minutes_per_mm": 90}},
        }
    )
    rn = only_cell(compare_payment_models(data))["by_role"]["rn"]
    assert rn["billable"] is False and rn["services"] == []
    assert rn["ffs_revenue_pmpm"] == "0.00"
    assert rn["ffs_gap_pmpm"] == f"-{rn['cost_pmpm']}"


def test_explicit_service_codes_replace_the_defaults():
    data = one_np_file(service_codes={"home_visit": "99350", "units_per_mm": {"99497": "0.5"}})
    np_line = only_cell(compare_payment_models(data))["by_role"]["np"]
    assert {s["code"]: s["units_per_mm"] for s in np_line["services"]} == {"99350": "2", "99497": "0.5"}
    expected = (2 * national("99350") + D("0.5") * national("99497")).quantize(
        D("0.01"), rounding=ROUND_HALF_UP
    )
    assert np_line["ffs_revenue_pmpm"] == str(expected)


def test_locality_prices_from_rvus_and_gpcis():
    with Path(GPCI_FILE).open(newline="") as fh:
        gpci = next(r for r in csv.reader(fh) if len(r) > 2 and r[1] == "CA" and r[2] == "18")
    row = csv_row("99349")
    amount = (
        (
            D(row["work_rvu"]) * D(gpci[4])
            + D(row["nonfac_pe_rvu"]) * D(gpci[5])
            + D(row["mp_rvu"]) * D(gpci[6])
        )
        * D(row["conv_factor"])
    ).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    assert load_fee_schedule().amount("99349", locality="CA-18") == amount
    data = one_np_file()
    data["assumptions"]["markets"][0]["ffs_locality"] = "CA-18"
    cell = only_cell(compare_payment_models(data))
    assert cell["ffs_locality"] == "CA-18"
    assert cell["by_role"]["np"]["ffs_revenue_pmpm"] == str(2 * amount)


def test_conversion_factor_override_reprices_nationally():
    row = csv_row("99349")
    cf = D("33.4009")  # CY2026, non-qualifying APM clinicians
    total = D(row["work_rvu"]) + D(row["nonfac_pe_rvu"]) + D(row["mp_rvu"])
    assert load_fee_schedule().amount("99349", conversion_factor=cf) == (total * cf).quantize(
        D("0.01"), rounding=ROUND_HALF_UP
    )


def test_codes_medicare_does_not_pay_earn_nothing():
    fee_schedule = load_fee_schedule()
    assert csv_row("99358")["status"] == "I"
    assert fee_schedule.amount("99358") == 0


def test_models_compare_ffs_bundle_value_based_and_capitation(example_file):
    result = compare_payment_models(example_file)
    assert len(result["cells"]) == 3 * 2
    (cell,) = [c for c in result["cells"] if c["tier"] == "1" and c["market"] == "URBAN"]
    models = cell["models"]
    ffs = D(models["ffs"]["revenue_pmpm"])
    bundle = D(models["bundle"]["revenue_pmpm"])
    assert D(models["value_based"]["revenue_pmpm"]) == pytest.approx(ffs * D("1.05"), abs=D("0.01"))
    # capitation: the bundle plus 50% shared of 10% savings on a 2,310 PMPM baseline
    assert models["capitation_tcoc"]["savings_share_pmpm"] == "115.50"
    assert D(models["capitation_tcoc"]["revenue_pmpm"]) == pytest.approx(bundle + D("115.50"), abs=D("0.01"))
    # the bundle pays the PMPM plus the assessment fee spread over an enrollee's expected months
    assert D(cell["assessment"]["fee_pmpm"]) == pytest.approx(bundle - D("262.35"), abs=D("0.01"))
    assert cell["assessment"]["fee"] == "341.85"
    # the assessment bills a new-patient home visit for the NP; the LCSW is not billable
    assert cell["assessment"]["ffs_services"] == [
        {"role": "np", "code": "99345", "amount": str(national("99345"))}
    ]
    for model in models.values():
        assert D(model["surplus_pmpm"]) == D(model["revenue_pmpm"]) - D(cell["cost_pmpm"])
    assert D(models["ffs"]["surplus_pmpm"]) < 0 < D(models["bundle"]["surplus_pmpm"])


def test_unknown_codes_and_localities_are_input_errors():
    data = one_np_file(service_codes={"home_visit": "99999"})
    data["assumptions"]["ffs_locality"] = "ZZ-99"
    with pytest.raises(PricingInputError) as info:
        compare_payment_models(data)
    assert {(e["path"], e["code"]) for e in info.value.errors} == {
        ("$.bundle.roles[0].service_codes.home_visit", "unknown_service_code"),
        ("$.assumptions.ffs_locality", "unknown_locality"),
    }


def test_shipped_fee_schedule_files_keep_their_source():
    fee_schedule = load_fee_schedule()
    assert len(fee_schedule.codes) == 81
    assert len(fee_schedule.localities) == 109
    assert all("CMS PPRRVU2025_Oct.csv" in c.source for c in fee_schedule.codes.values())
    assert parse_pricing_file(one_np_file()).assumptions.ffs_conversion_factor == D(
        csv_row("99349")["conv_factor"]
    )
