"""Phased rates (issue 17 point 6): a phased bundle's run prices every phase of enrollment on that
phase's effort, with the same engine and assumptions, and its rate table has a row per phase."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from bundles import services as bundle_services
from bundles.demo import home_based_definition
from bundles.phases import phase_definition
from pricing import selectors
from pricing.charts import money
from pricing.compute import compute_run_result
from pricing.documents import inputs_hash
from pricing.engine import PricingInputError, parse_pricing_file, quote
from tests.factories import PASSWORD
from tests.pricing.test_pricing_report import pdf_text
from tests.pricing.test_pricing_runs_api import execute

pytestmark = pytest.mark.django_db

PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]


def phased_definition() -> dict:
    """The home-based bundle with two phases: the RN visits twice as often in the first two months."""
    d = home_based_definition()
    d["phases"] = copy.deepcopy(PHASES)
    rn = next(r for r in d["roles"] if r["role"] == "rn")
    rn["by_phase"] = {
        "initial": {
            tier: {
                "visits_per_mm": str(Decimal(effort["visits_per_mm"]) * 2),
                "coordination_minutes_per_mm": str(Decimal(effort["coordination_minutes_per_mm"]) + 30),
            }
            for tier, effort in rn["by_tier"].items()
        }
    }
    return d


@pytest.fixture
def phased_version(scope):
    bundle = bundle_services.bundle_create(scope=scope, definition=phased_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def phased_run(start_run, phased_version):
    run = execute(start_run(bundle_version=phased_version).public_id)
    assert run.status == "succeeded", run.error
    return run


def cell(rate: dict) -> tuple[str, str, str]:
    return rate["tier"], rate["market"], rate["lob"]


def test_a_phased_run_prices_every_phase(phased_run):
    quoted = phased_run.result["quote"]
    phases = quoted["phases"]
    assert [(p["code"], p["name"], p["from_month"]) for p in phases] == [
        ("initial", "Months 1-2", 1),
        ("ongoing", "Month 3 on", 3),
    ]
    initial = {cell(r): Decimal(r["pmpm"]) for r in phases[0]["rates"]}
    ongoing = {cell(r): Decimal(r["pmpm"]) for r in phases[1]["rates"]}
    assert len(initial) == len(ongoing) == 3 * 2 * 2
    # more RN visits in the first months cost more, in every cell
    assert all(initial[c] > ongoing[c] for c in ongoing)
    # the main quote is the last phase's (the effort a member settles into)
    assert quoted["rates"] == phases[-1]["rates"]
    assert set(phases[0]["rates"][0]) == set(quoted["rates"][0])


def test_each_phase_is_priced_like_an_unphased_bundle_with_that_phase_effort(phased_run):
    inputs = phased_run.inputs
    document = inputs["pricing_file"]
    assert document["bundle"]["phases"] == PHASES  # the file (and so the run's hash) covers the phases
    for phase in phased_run.result["quote"]["phases"]:
        unphased = {**document, "bundle": phase_definition(document["bundle"], phase["code"])}
        expected = quote(unphased, markets=inputs["markets"], lobs=inputs["lobs"])["rates"]
        assert [(cell(r), r["pmpm"], r["low"], r["high"]) for r in phase["rates"]] == [
            (cell(r), r["pmpm"], r["low"], r["high"]) for r in expected
        ]


def test_the_hash_covers_the_phases(phased_run):
    inputs = copy.deepcopy(phased_run.inputs)
    assert inputs_hash(inputs) == phased_run.inputs_hash
    inputs["pricing_file"]["bundle"]["phases"][1]["from_month"] = 4
    assert inputs_hash(inputs) != phased_run.inputs_hash


def test_an_unphased_run_has_no_phases(start_run):
    run = execute(start_run().public_id)
    assert "phases" not in run.result["quote"]
    assert "phases" not in run.inputs["pricing_file"]["bundle"]
    assert all("by_phase" not in r for r in run.inputs["pricing_file"]["bundle"]["roles"])


def test_the_computation_is_reproducible(phased_run):
    inputs = copy.deepcopy(phased_run.inputs)
    inputs["options"]["simulation_years"] = 200
    again = compute_run_result(inputs)
    assert again["quote"]["phases"] == phased_run.result["quote"]["phases"]


def test_the_rate_table_has_a_row_per_phase(phased_run, scope, start_run):
    table = selectors.pricing_run_rate_table(scope=scope, run_id=phased_run.public_id)
    assert table["phases"] == PHASES
    assert len(table["rates"]) == 3 * 2 * 2 * 2
    keys = {(r["tier"], r["market"], r["lob"], r["phase"]) for r in table["rates"]}
    assert len(keys) == len(table["rates"]) and {k[3] for k in keys} == {"initial", "ongoing"}
    for phase in phased_run.result["quote"]["phases"]:
        for rate in phase["rates"]:
            row = next(
                r
                for r in table["rates"]
                if (r["tier"], r["market"], r["lob"], r["phase"]) == (*cell(rate), phase["code"])
            )
            assert row["pmpm"] == Decimal(rate["pmpm"]) and isinstance(row["pmpm"], Decimal)
    # the assessment fee is not phased: one per market
    assert table["assessment_fees"] == {
        m: Decimal(f) for m, f in phased_run.result["quote"]["assessment_fee"].items()
    }
    unphased = selectors.pricing_run_rate_table(scope=scope, run_id=execute(start_run().public_id).public_id)
    assert "phases" not in unphased and all("phase" not in r for r in unphased["rates"])


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def test_the_run_page_shows_the_rates_by_phase(web, phased_run, start_run):
    unphased = execute(start_run().public_id)
    with CaptureQueriesContext(connection) as plain:
        assert web.get(f"/pricing/runs/{unphased.public_id}/").status_code == 200
    with CaptureQueriesContext(connection) as phased:
        page = web.get(f"/pricing/runs/{phased_run.public_id}/")
    assert page.status_code == 200
    # the phase table costs no query: it is read from the run's result
    assert len(phased.captured_queries) == len(plain.captured_queries)
    html = page.content.decode()
    table = html[html.index('data-testid="phase-rates"') :]
    table = table[: table.index("</table>")]
    assert (
        "Months 1-2" in table
        and "from month 1" in table
        and "Month 3 on" in table
        and "from month 3" in table
    )
    for phase in phased_run.result["quote"]["phases"]:
        for rate in phase["rates"]:
            assert money(rate["pmpm"]) in table
    assert table.count("<tr>") == 1 + 3 * 2 * 2  # the head, then a row per tier, market and LOB
    assert 'data-testid="phase-rates"' not in web.get(f"/pricing/runs/{unphased.public_id}/").content.decode()


def test_the_report_shows_the_rates_by_phase(analyst_api, phased_run):
    response = analyst_api.get(f"/api/v1/pricing/runs/{phased_run.public_id}/report.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert "PMPM by phase of enrollment" in text and "from month 3" in text
    for phase in phased_run.result["quote"]["phases"]:
        for rate in phase["rates"]:
            assert money(rate["pmpm"]) in text


def test_the_api_run_detail_has_the_phases(analyst_api, phased_run, start_run):
    body = analyst_api.get(f"/api/v1/pricing/runs/{phased_run.public_id}/").json()
    assert [(p["code"], p["name"], p["from_month"]) for p in body["phases"]] == [
        (p["code"], p["name"], p["from_month"]) for p in PHASES
    ]
    initial = body["phases"][0]["rates"][0]
    assert set(initial) == {"tier", "market", "lob", "pmpm", "low", "high"}
    assert initial["pmpm"] == phased_run.result["quote"]["phases"][0]["rates"][0]["pmpm"]
    assert body["result"]["quote"]["phases"][1]["code"] == "ongoing"
    unphased = execute(start_run().public_id)
    assert analyst_api.get(f"/api/v1/pricing/runs/{unphased.public_id}/").json()["phases"] == []


def phased_file(formats_example: dict) -> dict:
    document = copy.deepcopy(formats_example)
    bundle = document["bundle"]
    bundle["phases"] = copy.deepcopy(PHASES)
    tier = bundle["tiers"][0]["code"]
    bundle["roles"][0]["by_phase"] = {
        "initial": {tier: {"visits_per_mm": 3, "coordination_minutes_per_mm": "15"}}
    }
    return document


def test_the_pricing_file_carries_the_phases_and_checks_them(formats_example):
    document = phased_file(formats_example)
    exported = parse_pricing_file(document).to_dict()
    assert exported["bundle"]["phases"] == PHASES
    tier = document["bundle"]["tiers"][0]["code"]
    assert exported["bundle"]["roles"][0]["by_phase"] == {
        "initial": {tier: {"visits_per_mm": "3", "coordination_minutes_per_mm": "15"}}
    }
    assert parse_pricing_file(exported).to_dict() == exported  # a lossless round trip
    # the engine's own rates are the role's by_tier; a run prices each phase on its own file
    assert quote(document)["rates"] == quote(formats_example)["rates"]

    document["bundle"]["phases"][1]["from_month"] = 1
    document["bundle"]["roles"][0]["by_phase"]["later"] = {}
    with pytest.raises(PricingInputError) as error:
        parse_pricing_file(document)
    assert {(p.path, p.code) for p in error.value.problems} == {
        ("$.bundle.phases[1].from_month", "phase_order"),
        ("$.bundle.roles[0].by_phase.later", "unknown_phase"),
    }


def test_the_stateless_quote_prices_every_phase_like_a_run(formats_example, payer, member_of, api_for):
    """POST /api/v1/pricing/quote/ with a phased file: the main rates are the last phase's, and every
    phase's rates come under ``phases``, each the quote of that phase's file to the cent."""
    api = api_for(member_of(payer, Role.AUDITOR))
    document = phased_file(formats_example)
    body = api.post("/api/v1/pricing/quote/", document, format="json").json()
    assert [p["code"] for p in body["phases"]] == ["initial", "ongoing"]
    for phase in body["phases"]:
        alone = copy.deepcopy(formats_example)
        alone["bundle"] = phase_definition(document["bundle"], phase["code"])
        expected = api.post("/api/v1/pricing/quote/", alone, format="json").json()["rates"]
        assert phase["rates"] == expected
    assert body["rates"] == body["phases"][-1]["rates"]
    initial, ongoing = (p["rates"][0] for p in body["phases"])
    assert Decimal(initial["pmpm"]) > Decimal(
        ongoing["pmpm"]
    )  # three visits in the first months, not half of one
    assert "phases" not in api.post("/api/v1/pricing/quote/", formats_example, format="json").json()
