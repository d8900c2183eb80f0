"""The shared-savings baseline terms (``baseline_months``; a trended benchmark's ``benchmark_pmpm``,
``benchmark_midpoint`` and ``annual_trend``): fingerprints of versions without them are unchanged, the
diff and plain words, the API and web round trips, the schema and the rate sheets.
(Validation paths and the performance math: tests/performance/test_performance_baseline.py.)"""

import csv
import io

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from contracts import rules, selectors, services
from tests.contracts.test_contracts_bonus import (
    FINGERPRINT_BEFORE_THE_BONUS,
    _edit_data,
    fingerprint_before_the_bonus,
    pure_document,
)
from tests.contracts.test_contracts_web import logged_in

pytestmark = pytest.mark.django_db

SAVINGS = {
    "baseline_method": "pre_enrollment",
    "minimum_savings_rate": "0.02",
    "sharing_rate": "0.5",
    "cap": "0.1",
    "quality_gate": "0.5",
}
BENCHMARK = {
    **SAVINGS,
    "baseline_method": "trended_benchmark",
    "benchmark_pmpm": "4200.00",
    "benchmark_midpoint": "2025-07-01",
    "annual_trend": "0.035",
}
BENCHMARK_WORDS = (
    "Savings against a benchmark of $4,200.00 PMPM (measured around 2025-07-01) trended at 3.5% a "
    "year to the middle of the performance period above a minimum savings rate of 2% are shared at "
    "50%, capped at 10% of the baseline, and only when the composite quality score is at least 50%."
)

# The fingerprint of ``pure_document(shared_savings_terms=SAVINGS)`` computed before the baseline terms
# existed (the same algorithm as FINGERPRINT_BEFORE_THE_BONUS, with pre-enrollment savings terms).
FINGERPRINT_BEFORE_THE_BASELINE_TERMS = "0c9ac3fdf049469d6a42f3244cc4e541e87f5c9496ed49e19bf06e4071c4f4f0"


# --- fingerprint ---------------------------------------------------------------------------------------


def test_terms_without_the_new_keys_keep_their_fingerprint():
    assert rules.fingerprint(pure_document()) == FINGERPRINT_BEFORE_THE_BONUS
    document = pure_document(shared_savings_terms=SAVINGS)
    assert fingerprint_before_the_bonus(document) == FINGERPRINT_BEFORE_THE_BASELINE_TERMS
    assert rules.fingerprint(document) == FINGERPRINT_BEFORE_THE_BASELINE_TERMS
    # validating stored terms again adds nothing to them (so re-proposing an old draft changes nothing)
    problems = []
    assert rules.validate_shared_savings(SAVINGS, problems) == SAVINGS and problems == []
    trended = {**SAVINGS, "baseline_method": "trended_benchmark"}
    old_trended = pure_document(shared_savings_terms=trended)
    assert rules.fingerprint(old_trended) == fingerprint_before_the_bonus(old_trended)


def test_the_new_keys_enter_the_fingerprint_when_set():
    base = rules.fingerprint(pure_document(shared_savings_terms=SAVINGS))
    six = rules.fingerprint(pure_document(shared_savings_terms={**SAVINGS, "baseline_months": 6}))
    assert six != base
    benchmark = rules.fingerprint(pure_document(shared_savings_terms=BENCHMARK))
    for key, value in (
        ("benchmark_pmpm", "4200.01"),
        ("benchmark_midpoint", "2025-07-02"),
        ("annual_trend", "0.04"),
    ):
        assert rules.fingerprint(pure_document(shared_savings_terms={**BENCHMARK, key: value})) != benchmark


def test_a_stored_version_without_the_new_keys_has_the_fingerprint_it_had_before(active_contract):
    version = active_contract().current_version  # pre_enrollment, no baseline_months
    assert not set(version.shared_savings_terms) & {"baseline_months", *rules.BENCHMARK_KEYS}
    document = selectors.version_document(version)
    assert version.fingerprint == fingerprint_before_the_bonus(document) == rules.fingerprint(document)


# --- diff and words ----------------------------------------------------------------------------------


def test_diff_labels_the_new_terms():
    before = pure_document(shared_savings_terms=SAVINGS)
    after = pure_document(version=2, shared_savings_terms={**SAVINGS, "baseline_months": 6})
    assert [
        (c["path"], c["label"], c["change"], c["before"], c["after"])
        for c in rules.diff(before, after)["changes"]
    ] == [
        (
            "shared_savings_terms.baseline_months",
            "Shared savings · baseline window (months before enrollment)",
            "added",
            None,
            "6",
        )
    ]
    changed = rules.diff(
        pure_document(shared_savings_terms=BENCHMARK),
        pure_document(
            version=2, shared_savings_terms={**BENCHMARK, "benchmark_pmpm": "4350.00", "annual_trend": "0.03"}
        ),
    )
    assert [(c["label"], c["before"], c["after"], c["difference"]) for c in changed["changes"]] == [
        ("Shared savings · annual trend", "0.035", "0.03", None),
        ("Shared savings · benchmark PMPM", "4200.00", "4350.00", "150.00"),
    ]
    assert changed["payment_terms_changed"]["shared_savings"] is True


def test_plain_words():
    assert rules.describe_shared_savings({**SAVINGS, "baseline_months": 6}).startswith(
        "Savings against the same members' total cost of care PMPM in the 6 months before enrollment above"
    )
    assert "in the 12 months before enrollment" in rules.describe_shared_savings(SAVINGS)
    assert "in the 1 month before enrollment" in rules.describe_shared_savings(
        {**SAVINGS, "baseline_months": 1}
    )
    assert rules.describe_shared_savings(BENCHMARK) == BENCHMARK_WORDS
    assert "trended at -2% a year" in rules.describe_shared_savings({**BENCHMARK, "annual_trend": "-0.02"})
    legacy = rules.describe_shared_savings({**SAVINGS, "baseline_method": "trended_benchmark"})
    assert legacy.startswith("Savings against a trended benchmark total cost of care PMPM above")


# --- the API -----------------------------------------------------------------------------------------------


def test_api_create_update_round_trip(plan_cm, api_for, provider, bundle_version):
    from tests.contracts.test_contracts_api import create_body

    api = api_for(plan_cm)
    missing = api.post(
        "/api/v1/contracts/",
        create_body(
            provider, bundle_version, shared_savings_terms={**SAVINGS, "baseline_method": "trended_benchmark"}
        ),
        format="json",
    )
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_terms"
    assert {(p["path"], p["code"]) for p in missing.json()["details"]["problems"]} == {
        (f"shared_savings_terms.{key}", "required") for key in rules.BENCHMARK_KEYS
    }

    created = api.post(
        "/api/v1/contracts/",
        create_body(
            provider,
            bundle_version,
            shared_savings_terms={
                **BENCHMARK,
                "benchmark_pmpm": "4200",
                "annual_trend": "0.0350",
                "baseline_months": 6,
            },
        ),
        format="json",
    )
    assert created.status_code == 201, created.json()
    url = f"/api/v1/contracts/{created.json()['contract']['number']}/versions/1/"
    assert api.get(url).json()["shared_savings_terms"] == {**BENCHMARK, "baseline_months": 6}

    pre = api.patch(
        url,
        {"shared_savings_terms": {**SAVINGS, "baseline_months": 9, "benchmark_pmpm": "1.00"}},
        format="json",
    )
    assert pre.status_code == 200, pre.json()
    assert pre.json()["shared_savings_terms"] == {**SAVINGS, "baseline_months": 9}  # no benchmark stored

    bad = api.patch(
        url,
        {"shared_savings_terms": {**BENCHMARK, "annual_trend": "0.6", "baseline_months": 40}},
        format="json",
    )
    assert bad.status_code == 400
    assert {(p["path"], p["code"]) for p in bad.json()["details"]["problems"]} == {
        ("shared_savings_terms.annual_trend", "too_large"),
        ("shared_savings_terms.baseline_months", "too_large"),
    }
    assert api.get(url).json()["shared_savings_terms"] == {**SAVINGS, "baseline_months": 9}


def test_the_schema_documents_the_baseline_terms_and_results():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    terms = components["SharedSavingsRequest"]
    assert {"baseline_months", *rules.BENCHMARK_KEYS} <= set(terms["properties"])
    assert not {"baseline_months", *rules.BENCHMARK_KEYS} & set(terms["required"])
    assert terms["properties"]["benchmark_midpoint"]["format"] == "date"
    baseline = components["Baseline"]["properties"]
    assert {
        "months",
        "tcoc_pmpm",
        "events",
        "method",
        "window_months",
        "benchmark",
        "savings_pmpm",
        "actual_pmpm",
    } == set(baseline)
    assert {"trended_pmpm", "period_midpoint", "days"} <= set(components["Benchmark"]["properties"])
    group = components["ComparisonGroup"]["properties"]
    assert {"effect_pmpm", "ci_low", "ci_high", "matched", "controls", "baseline_pmpm"} <= set(group)
    assert "baseline_method" in components["SharedSavingsResult"]["properties"]


# --- the web page ----------------------------------------------------------------------------------------


def test_web_form_round_trip(plan_cm, open_contract):
    contract = open_contract()
    version = contract.current_version
    web = logged_in(plan_cm)
    url = f"/contracts/{contract.number}/versions/1/edit/"
    page = web.get(url).content.decode()
    assert "Baseline window (months before enrollment)" in page and "Benchmark TCOC PMPM (US$)" in page

    unchanged = web.post(url, _edit_data(version))  # the empty new fields store nothing
    assert unchanged.status_code == 302
    version.refresh_from_db()
    assert not set(version.shared_savings_terms) & {"baseline_months", *rules.BENCHMARK_KEYS}

    missing = web.post(url, _edit_data(version, ss_baseline_method="trended_benchmark"))
    assert missing.status_code == 400
    body = missing.content.decode()
    assert "The benchmark PMPM (needed for a trended benchmark) is required." in body
    assert (
        "The annual trend (a fraction, 0.035 for 3.5% a year, needed for a trended benchmark) is required."
        in body
    )

    saved = web.post(
        url,
        _edit_data(
            version,
            ss_baseline_method="trended_benchmark",
            ss_benchmark_pmpm="4200.00",
            ss_benchmark_midpoint="2025-07-01",
            ss_annual_trend="3.5",
            ss_baseline_months="6",
        ),
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    version.refresh_from_db()
    assert version.shared_savings_terms == {**BENCHMARK, "quality_gate": "0.7", "baseline_months": 6}
    again = web.get(url).content.decode()
    assert (
        'name="ss_benchmark_pmpm" value="4200.00"' in again and 'name="ss_annual_trend" value="3.5"' in again
    )
    assert (
        'name="ss_benchmark_midpoint" value="2025-07-01"' in again
        and 'name="ss_baseline_months" value="6"' in again
    )

    detail = web.get(f"/contracts/{contract.number}/versions/1/").content.decode().replace("&#x27;", "'")
    assert (
        "against a benchmark of $4,200.00 PMPM (measured around 2025-07-01) trended at 3.5% a year" in detail
    )


# --- rate sheets -----------------------------------------------------------------------------------------


def test_rate_sheets_carry_the_baseline_terms(active_contract):
    version = active_contract(shared_savings_terms={**BENCHMARK, "quality_gate": "0.7"}).current_version
    words = rules.describe_shared_savings(version.shared_savings_terms)
    assert "a benchmark of $4,200.00 PMPM (measured around 2025-07-01) trended at 3.5% a year" in words
    pdf, _ = services.rate_sheet(version=version, fmt="pdf")
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "a benchmark of $4,200.00 PMPM (measured around 2025-07-01) trended at 3.5% a year" in text
    workbook = load_workbook(io.BytesIO(services.rate_sheet(version=version, fmt="xlsx")[0]))
    summary = {r[0]: r[1] for r in workbook["Rate sheet"].iter_rows(min_row=2, values_only=True)}
    assert summary["Shared savings"] == words
    rows = list(csv.DictReader(io.StringIO(services.rate_sheet(version=version, fmt="csv")[0].decode())))
    items = {r["item"]: r["value"] for r in rows}
    assert (
        items["shared_savings.benchmark_pmpm"],
        items["shared_savings.benchmark_midpoint"],
        items["shared_savings.annual_trend"],
    ) == ("4200.00", "2025-07-01", "0.035")


def test_the_run_out_through_the_web_form_and_the_api(plan_cm, open_contract, api_for):
    contract = open_contract()
    version = contract.current_version
    web = logged_in(plan_cm)
    url = f"/contracts/{contract.number}/versions/1/edit/"
    assert "Run-out (months after the period)" in web.get(url).content.decode()
    bad = web.post(url, _edit_data(version, ss_runout_months="25", ss_completion_threshold="40"))
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "run-out" in body.lower() and "completion threshold" in body.lower()
    saved = web.post(url, _edit_data(version, ss_runout_months="3", ss_completion_threshold="95"))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    version.refresh_from_db()
    assert (
        version.shared_savings_terms["runout_months"],
        version.shared_savings_terms["completion_threshold"],
    ) == (
        3,
        "0.95",
    )
    again = web.get(url).content.decode()
    assert (
        'name="ss_runout_months" value="3"' in again and 'name="ss_completion_threshold" value="95"' in again
    )
    detail = web.get(f"/contracts/{contract.number}/versions/1/").content.decode()
    assert (
        "A period is settled no earlier than 3 months after the period ends and once at least 95% of its "
        "claims cost is paid." in detail
    )
    api = api_for(plan_cm)
    terms = api.get(f"/api/v1/contracts/{contract.number}/versions/1/").json()["shared_savings_terms"]
    assert (terms["runout_months"], terms["completion_threshold"]) == (3, "0.95")
