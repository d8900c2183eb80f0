"""The shared-savings baseline per the contract: the members' own N months before enrollment
(``baseline_months``) or a benchmark trended from its midpoint to the period's midpoint
(``trended_benchmark``), hand-computed; validation of the terms with their paths; the page and the
PDF say which baseline was used.

The cohort (conftest): P1-P4 enrolled all of 2026-Q1 (12 enrolled months, TCOC 3,000 each), with
utilisation for October to December 2025 before enrollment (TCOC 4,000 each unless changed here);
quality terms met (composite 1 >= gate 0.5); savings terms MSR 2%, sharing 50%, cap 10%.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contracts import rules
from contracts import services as contract_services
from contracts.models import ContractVersion
from core.domain.money import to_cents
from core.domain.months import parse_period
from core.errors import ApplicationError
from performance import measures as m
from performance import selectors

from .conftest import SAVINGS, D, cohort_utilization, make_contract, utilization_csv

pytestmark = pytest.mark.django_db

DEC = D(2025, 12, 1)
BENCHMARK = {
    **SAVINGS,
    "baseline_method": "trended_benchmark",
    "benchmark_pmpm": "3800.00",
    "benchmark_midpoint": "2025-02-15",
    "annual_trend": "0.05",
}


def load(analyst_api, rows):
    response = analyst_api.post(
        "/api/v1/performance/uploads/",
        {"file": SimpleUploadedFile("utilization.csv", utilization_csv(rows))},
        format="multipart",
    )
    assert response.status_code == 201, response.json()


def set_savings(contract, savings):
    ContractVersion.objects.filter(contract=contract).update(shared_savings_terms=savings)


def quarter(analyst_api, contract):
    response = analyst_api.get(f"/api/v1/performance/contracts/{contract.number}/", {"period": "2026-Q1"})
    assert response.status_code == 200, response.json()
    return response.json()


def december_at_5000():
    """The cohort's utilisation with December 2025 (in every window) at 5,000 instead of 4,000."""
    return [
        {**r, "tcoc_amount": "5000.00"} if r["month"] == DEC.isoformat() else r for r in cohort_utilization()
    ]


# --- pure helpers ------------------------------------------------------------------------------------


def test_period_midpoints():
    assert m.period_midpoint(D(2026, 1, 1), D(2026, 4, 1)) == D(2026, 2, 15)  # 90 days // 2 = 45
    assert m.period_midpoint(D(2026, 1, 1), D(2027, 1, 1)) == D(2026, 7, 2)  # 365 // 2 = 182
    assert m.period_midpoint(D(2026, 3, 1), D(2026, 4, 1)) == D(2026, 3, 16)  # 31 // 2 = 15


def test_trended_benchmark_by_hand():
    # 365 days / 365.25 = 0.99931554 years; ln(1.05) x 0.99931554 = 0.04875677; e^0.04875677 = 1.04996494;
    # 3,800.00 x 1.04996494 = 3,989.8668 -> 3,989.87
    assert m.trended_benchmark_pmpm("3800.00", D(2025, 2, 15), "0.05", D(2026, 2, 15)) == Decimal("3989.87")
    # the same day: the benchmark itself; backwards in time the trend discounts (3,800 / 1.04996494 = 3,619.17)
    assert m.trended_benchmark_pmpm(
        Decimal("3800.00"), D(2025, 2, 15), Decimal("0.05"), D(2025, 2, 15)
    ) == Decimal("3800.00")
    assert m.trended_benchmark_pmpm("3800.00", D(2026, 2, 15), "0.05", D(2025, 2, 15)) == Decimal("3619.17")
    # a negative trend: 4,200 x 0.98 ^ (365/365.25) = 4,200 x 0.98001355 = 4,116.06
    assert m.trended_benchmark_pmpm("4200.00", D(2025, 2, 15), "-0.02", D(2026, 2, 15)) == Decimal("4116.06")


# --- (a) the pre-enrollment window --------------------------------------------------------------------


def test_baseline_months_sets_the_pre_enrollment_window(cohort, analyst_api):
    load(analyst_api, december_at_5000())
    # Default (12 months, capped by the data to Oct-Dec): (4,000 + 4,000 + 5,000) / 3 = 4,333.33
    body = quarter(analyst_api, cohort)
    assert body["baseline"]["window_months"] == 12 and body["baseline"]["months"] == 12
    assert body["baseline"]["tcoc_pmpm"] == "4333.33" and body["shared_savings"]["baseline_pmpm"] == "4333.33"
    assert body["baseline"]["method"] == "pre_enrollment" and body["baseline"]["benchmark"] is None

    # 2 months: November and December only, 8 member-months: (4,000 + 5,000) / 2 = 4,500.00
    set_savings(cohort, {**SAVINGS, "baseline_months": 2})
    body = quarter(analyst_api, cohort)
    baseline, savings = body["baseline"], body["shared_savings"]
    assert baseline["window_months"] == 2 and baseline["months"] == 8
    assert baseline["tcoc_pmpm"] == baseline["savings_pmpm"] == savings["baseline_pmpm"] == "4500.00"
    assert (
        baseline["events"]["ed_visit"] == 8 and baseline["events"]["inpatient_admission"] == 2
    )  # P1: Nov, Dec
    assert savings["baseline_method"] == "pre_enrollment"
    # gross (4,500 - 3,000) x 12 = 18,000; 50% = 9,000, capped at 10% x 4,500 x 12 = 5,400
    assert (savings["gross_savings"], savings["cap_amount"], savings["shared"]) == (
        "18000.00",
        "5400.00",
        "5400.00",
    )
    # avoided events use the same window: 8 ED visits in 8 months -> 12 expected in 12, 3 seen, 9 avoided
    ed = {e["kind"]: e for e in body["avoided_events"]["events"]}["ed_visit"]
    assert Decimal(ed["avoided"]) == 9

    # 1 month: December only
    set_savings(cohort, {**SAVINGS, "baseline_months": 1})
    assert quarter(analyst_api, cohort)["shared_savings"]["baseline_pmpm"] == "5000.00"


# --- (b) a trended benchmark ------------------------------------------------------------------------------


def test_trended_benchmark_by_hand_and_deciding_differently(cohort, analyst_api):
    load(analyst_api, cohort_utilization())
    pre = quarter(analyst_api, cohort)["shared_savings"]
    assert (pre["baseline_pmpm"], pre["shared"], pre["reason"]) == ("4000.00", "4800.00", "Capped.")

    # Benchmark 3,800.00 measured around 2025-02-15, 5% a year; 2026-Q1's midpoint is 2026-02-15 (365 days
    # later): 3,800 x 1.05 ^ (365 / 365.25) = 3,989.87 (test_trended_benchmark_by_hand).
    set_savings(cohort, BENCHMARK)
    body = quarter(analyst_api, cohort)
    baseline, savings = body["baseline"], body["shared_savings"]
    assert baseline["method"] == savings["baseline_method"] == "trended_benchmark"
    assert baseline["benchmark"] == {
        "pmpm": "3800.00",
        "midpoint": "2025-02-15",
        "annual_trend": "0.05",
        "period_midpoint": "2026-02-15",
        "days": 365,
        "trended_pmpm": "3989.87",
    }
    assert baseline["savings_pmpm"] == savings["baseline_pmpm"] == "3989.87"
    assert baseline["tcoc_pmpm"] == "4000.00" and baseline["months"] == 12  # the members' own, not compared
    # gross (3,989.87 - 3,000) x 12 = 989.87 x 12 = 11,878.44; rate 989.87 / 3,989.87 = 0.248096;
    # 50% = 5,939.22, capped at 10% x 3,989.87 x 12 = 4,787.844 -> 4,787.84
    assert savings["gross_savings"] == "11878.44" and savings["savings_rate"] == "0.248096"
    assert (savings["cap_amount"], savings["shared"], savings["reason"]) == ("4787.84", "4787.84", "Capped.")
    # avoided events keep the members' own pre-enrollment event rates (a benchmark has no events)
    avoided = {e["kind"]: e for e in body["avoided_events"]["events"]}
    assert (
        Decimal(avoided["ed_visit"]["baseline_rate_per_1000"]) == 1000
        and Decimal(avoided["ed_visit"]["avoided"]) == 9
    )

    # Benchmark 2,900.00: 2,900 x 1.04996494 = 3,044.8983 -> 3,044.90; rate 44.90 / 3,044.90 = 0.014746, under
    # the 2% minimum savings rate: nothing is shared, where the members' own baseline (4,000) shares 4,800.
    set_savings(cohort, {**BENCHMARK, "benchmark_pmpm": "2900.00"})
    savings = quarter(analyst_api, cohort)["shared_savings"]
    assert (savings["baseline_pmpm"], savings["gross_savings"], savings["savings_rate"]) == (
        "3044.90",
        "538.80",
        "0.014746",
    )
    assert savings["msr_met"] is False and Decimal(savings["shared"]) == 0
    assert savings["reason"] == "Savings below the minimum savings rate."


def test_a_year_trends_to_its_own_midpoint(cohort, analyst_api):
    load(analyst_api, cohort_utilization())
    set_savings(cohort, BENCHMARK)
    result = selectors.compute_performance(cohort, parse_period("2026"), series=False)
    # 2025-02-15 -> 2026-07-02: 502 days; 3,800 x 1.05 ^ (502 / 365.25) = 3,800 x 1.06935670 = 4,063.56
    benchmark = result["baseline"]["benchmark"]
    assert benchmark["period_midpoint"] == "2026-07-02" and benchmark["days"] == 502
    expected = to_cents(Decimal("3800") * Decimal(str(1.05 ** (502 / 365.25))))
    assert benchmark["trended_pmpm"] == str(expected) == "4063.56"


def test_a_trended_benchmark_without_its_figures_compares_nothing(cohort, analyst_api):
    """Terms stored before the figures were required: no baseline, no money, and the reason says why."""
    load(analyst_api, cohort_utilization())
    set_savings(cohort, {**SAVINGS, "baseline_method": "trended_benchmark"})
    savings = quarter(analyst_api, cohort)["shared_savings"]
    assert savings["baseline_pmpm"] is None and Decimal(savings["shared"]) == 0
    assert savings["reason"] == selectors.NO_BENCHMARK_REASON


# --- (c) validation ---------------------------------------------------------------------------------------


def _problems(savings):
    _, problems = rules.validate_terms(
        {
            "effective_start": date(2026, 1, 1),
            "markets": ["URBAN"],
            "lines_of_business": ["medicaid"],
            "proration_rule": "any_day",
            "tier_rule": "first_day",
            "assessment_lookback_months": 12,
            "retro_window_months": 3,
            "roster_due_day": 10,
            "termination_notice_days": 90,
            "withhold_percentage": "0.05",
            "shared_savings_terms": savings,
        },
        allowed_markets=["URBAN"],
        allowed_lobs=["medicaid"],
    )
    return {(p.path, p.code) for p in problems}


@pytest.mark.parametrize(
    ("savings", "expected"),
    [
        (
            {**SAVINGS, "baseline_method": "trended_benchmark"},
            {
                ("shared_savings_terms.benchmark_pmpm", "required"),
                ("shared_savings_terms.benchmark_midpoint", "required"),
                ("shared_savings_terms.annual_trend", "required"),
            },
        ),
        ({**BENCHMARK, "benchmark_pmpm": ""}, {("shared_savings_terms.benchmark_pmpm", "required")}),
        ({**BENCHMARK, "benchmark_pmpm": "0"}, {("shared_savings_terms.benchmark_pmpm", "not_positive")}),
        (
            {**BENCHMARK, "benchmark_pmpm": "3800.001"},
            {("shared_savings_terms.benchmark_pmpm", "too_many_places")},
        ),
        (
            {**BENCHMARK, "benchmark_midpoint": "2025-02-30"},
            {("shared_savings_terms.benchmark_midpoint", "not_a_date")},
        ),
        ({**BENCHMARK, "annual_trend": "0.51"}, {("shared_savings_terms.annual_trend", "too_large")}),
        ({**BENCHMARK, "annual_trend": "-0.21"}, {("shared_savings_terms.annual_trend", "too_small")}),
        ({**BENCHMARK, "annual_trend": "3.5"}, {("shared_savings_terms.annual_trend", "too_large")}),
        ({**SAVINGS, "baseline_months": 0}, {("shared_savings_terms.baseline_months", "too_small")}),
        ({**SAVINGS, "baseline_months": 37}, {("shared_savings_terms.baseline_months", "too_large")}),
        ({**SAVINGS, "baseline_months": "6.5"}, {("shared_savings_terms.baseline_months", "not_an_integer")}),
    ],
)
def test_validation_problems_carry_their_paths(savings, expected):
    assert _problems(savings) == expected


def test_the_terms_store_only_what_their_method_needs():
    def normalised(savings):
        out, problems = rules.validate_terms(
            {
                "effective_start": date(2026, 1, 1),
                "markets": ["URBAN"],
                "lines_of_business": ["medicaid"],
                "proration_rule": "any_day",
                "tier_rule": "first_day",
                "assessment_lookback_months": 12,
                "retro_window_months": 3,
                "roster_due_day": 10,
                "termination_notice_days": 90,
                "withhold_percentage": "0.05",
                "shared_savings_terms": savings,
            },
            allowed_markets=["URBAN"],
            allowed_lobs=["medicaid"],
        )
        assert problems == []
        return out["shared_savings_terms"]

    assert normalised(SAVINGS) == SAVINGS  # nothing added to terms without the new keys
    assert normalised({**SAVINGS, "baseline_months": "6"}) == {**SAVINGS, "baseline_months": 6}
    # benchmark figures given for pre_enrollment are not stored
    assert normalised({**SAVINGS, "benchmark_pmpm": "3800", "annual_trend": "x"}) == SAVINGS
    assert (
        normalised(
            {
                **BENCHMARK,
                "benchmark_pmpm": "3800",
                "benchmark_midpoint": date(2025, 2, 15),
                "annual_trend": Decimal("0.0500"),
            }
        )
        == BENCHMARK
    )


def test_the_service_refuses_a_benchmark_without_its_figures(
    plan_scope, provider, provider_scope, bundle_version
):
    with pytest.raises(ApplicationError) as info:
        make_contract(
            plan_scope=plan_scope,
            provider=provider,
            provider_scope=provider_scope,
            bundle_version=bundle_version,
            savings={**SAVINGS, "baseline_method": "trended_benchmark", "benchmark_pmpm": "3800.00"},
        )
    assert info.value.code == "invalid_terms"
    problems = {p["path"]: p["message"] for p in info.value.details["problems"]}
    assert set(problems) == {"shared_savings_terms.benchmark_midpoint", "shared_savings_terms.annual_trend"}
    assert "needed for a trended benchmark" in problems["shared_savings_terms.annual_trend"]
    contract = make_contract(
        plan_scope=plan_scope,
        provider=provider,
        provider_scope=provider_scope,
        bundle_version=bundle_version,
        savings=BENCHMARK,
    )
    assert contract.current_version.shared_savings_terms == BENCHMARK
    assert contract.current_version.status == "active"


def test_a_draft_with_a_benchmark_missing_its_figures_cannot_be_proposed(
    plan_scope, provider, bundle_version
):
    draft = contract_services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        terms={
            "effective_start": D(2025, 1, 1),
            "effective_end": None,
            "markets": ["URBAN"],
            "lines_of_business": ["medicaid"],
            "proration_rule": "any_day",
            "tier_rule": "first_day",
            "assessment_lookback_months": 12,
            "retro_window_months": 3,
            "roster_due_day": 10,
            "withhold_percentage": Decimal("0"),
            "termination_notice_days": 90,
            "quality_terms": [],
            "shared_savings_terms": {**SAVINGS, "quality_gate": "0"},
        },
        rates=[
            {"tier": t, "market": "URBAN", "lob": "medicaid", "pmpm": "300.00", "reason": "Negotiated"}
            for t in ("1", "2", "3")
        ],
        assessment_fees={"URBAN": "341.85"},
    )
    # written before the figures were required (the services would refuse it now)
    ContractVersion.objects.filter(contract=draft).update(
        shared_savings_terms={**SAVINGS, "quality_gate": "0", "baseline_method": "trended_benchmark"}
    )
    draft.refresh_from_db()
    with pytest.raises(ApplicationError) as info:
        contract_services.contract_propose(scope=plan_scope, contract=draft)
    assert info.value.code == "invalid_terms"  # proposing validates the terms again
    assert {(p["path"], p["code"]) for p in info.value.details["problems"]} == {
        (f"shared_savings_terms.{key}", "required") for key in rules.BENCHMARK_KEYS
    }


# --- (d) the page and the report ------------------------------------------------------------------------


def _text(html: str) -> str:
    return " ".join(html.replace("&#x27;", "'").split())


def test_the_page_and_the_report_say_which_baseline(cohort, analyst_api, client, plan_analyst):
    import io

    from pypdf import PdfReader

    load(analyst_api, december_at_5000())
    client.force_login(plan_analyst)
    url = f"/performance/contracts/{cohort.number}/"

    set_savings(cohort, {**SAVINGS, "baseline_months": 2})
    page = _text(client.get(url, {"period": "2026-Q1"}).content.decode())
    assert 'data-testid="baseline-method">The same members\' 2 months before enrollment</dd>' in page
    assert "(8 pre-enrollment member-months)" in page
    assert "pre-enrollment rate (their 2 months before enrollment)" in page

    set_savings(
        cohort,
        {
            **BENCHMARK,
            "benchmark_pmpm": "4200.00",
            "benchmark_midpoint": "2025-07-01",
            "annual_trend": "0.035",
        },
    )
    # 2025-07-01 -> 2026-02-15: 229 days; 4,200 x 1.035 ^ (229 / 365.25) = 4,200 x 1.02180287 = 4,291.57
    page = _text(client.get(url, {"period": "2026-Q1"}).content.decode())
    assert (
        "Trended benchmark 4,200.00 PMPM from 2025-07-01 at 3.5%/year → 4,291.57 (at the period's midpoint, "
        "2026-02-15)"
    ) in page
    assert "$4,291.57" in page
    assert (
        "the members' own 12 months before enrollment: $4,333.33 over 12 member-months, not compared" in page
    )
    assert "avoided events still use the members' own pre-enrollment event rates" in page

    pdf = client.get(f"{url}report.pdf", {"period": "2026-Q1"})
    assert pdf.status_code == 200
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages).split())
    assert "Trended benchmark 4,200.00 PMPM from 2025-07-01 at 3.5%/year" in text
