"""Phased rates (issue 17 point 6): a contract on a bundle with phases of enrollment has a rate cell per
tier x market x LOB x phase, through completeness, a pricing run's rate table, negotiated rates, the API,
amendments and their diff, the pages, the rate sheets and the terms in force; an unphased contract keeps
its document, fingerprint and rate sheet columns."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from bundles import services as bundle_services
from bundles.demo import home_based_definition
from bundles.phases import Phase
from contracts import ratesheets, rules, selectors, services
from contracts.terms import RateCell
from core.errors import ApplicationError
from tests.contracts.conftest import full_rates, scope_of, terms
from tests.contracts.test_contract_rules_calc import document as pure_document
from tests.contracts.test_contracts_ratesheets import pdf_pages
from tests.contracts.test_contracts_web import logged_in
from tests.fixtures.contracts import accept_by_both

pytestmark = pytest.mark.django_db

PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]
#: The pure document of test_contract_rules_calc, pinned there before phases existed.
PINNED_FINGERPRINT = "4e5fbc702e9a36c119faaffdbb50da54c502958bb5cc569ddb6c8638702ff1f5"


def phased_definition() -> dict:
    """The demo home-based bundle, paid more in a member's first two months: the RN visits more then
    (the other roles give no effort of their own per phase, so they keep their ``by_tier``)."""
    d = home_based_definition()
    d["name"] = "Home-based, phased"
    d["phases"] = [dict(p) for p in PHASES]
    rn = next(r for r in d["roles"] if r["role"] == "rn")
    rn["by_phase"] = {
        "initial": {
            code: {**effort, "visits_per_mm": str(Decimal(str(effort["visits_per_mm"])) + 1)}
            for code, effort in rn["by_tier"].items()
        }
    }
    return d


@pytest.fixture
def phased_bundle_version(plan, plan_analyst):
    scope = scope_of(plan_analyst, plan)
    bundle = bundle_services.bundle_create(scope=scope, definition=phased_definition())
    published = bundle_services.draft_publish(scope=scope, bundle=bundle)  # it passes publish_problems
    assert published.definition["phases"] == PHASES
    return published


def phased_rates(markets=("URBAN", "URBAN-E"), lobs=("medicaid",), reason="Negotiated") -> list[dict]:
    """full_rates for each phase: the first months 50.00 dearer."""
    return [
        {**rate, "phase": phase, "pmpm": str(Decimal(rate["pmpm"]) + (50 if phase == "initial" else 0))}
        for rate in full_rates(markets, lobs, reason=reason)
        for phase in ("initial", "ongoing")
    ]


@pytest.fixture
def open_phased(plan_scope, provider, phased_bundle_version):
    def make(rates=None, fees=None, **overrides):
        t = terms(**overrides)
        return services.contract_create(
            scope=plan_scope,
            provider=provider,
            bundle_version=phased_bundle_version,
            terms=t,
            rates=phased_rates(t["markets"], t["lines_of_business"]) if rates is None else rates,
            assessment_fees={m: "341.85" for m in t["markets"]} if fees is None else fees,
        )

    return make


@pytest.fixture
def active_phased(open_phased, plan_scope, provider_scope):
    def make(**overrides):
        return accept_by_both(open_phased(**overrides), plan_scope=plan_scope, provider_scope=provider_scope)

    return make


def test_a_phased_contract_needs_a_rate_per_phase_and_completeness_names_the_missing_one(
    open_phased, plan_scope
):
    rates = [r for r in phased_rates() if (r["tier"], r["market"], r["phase"]) != ("2", "URBAN-E", "ongoing")]
    contract = open_phased(rates=rates)
    version = contract.versions.get()
    problems = rules.completeness_problems(selectors.version_document(version))
    assert [(p.path, p.code, p.message) for p in problems] == [
        (
            "rates.medicaid.2.URBAN-E.ongoing",
            "missing_rate",
            "No PMPM for tier 2 in URBAN-E (Medicaid), phase Month 3 on.",
        )
    ]
    with pytest.raises(ApplicationError) as info:
        services.contract_propose(scope=plan_scope, contract=contract)
    assert "No PMPM for tier 2 in URBAN-E (Medicaid), phase Month 3 on." in [
        p["message"] for p in info.value.details["problems"]
    ]


def test_a_rate_without_a_phase_or_with_an_unknown_one_is_a_row_problem(open_phased, plan_scope):
    contract = open_phased(rates=[])
    version = contract.versions.get()
    with pytest.raises(ApplicationError) as info:
        services.contract_version_update(
            scope=plan_scope,
            version=version,
            rates=[
                {"tier": "1", "market": "URBAN", "lob": "medicaid", "pmpm": "300.00", "reason": "x"},
                {"tier": "1", "market": "URBAN", "lob": "medicaid", "phase": "later", "pmpm": "300.00"},
                {"tier": "1", "market": "URBAN", "lob": "medicaid", "phase": "initial", "pmpm": "300.00"},
            ],
        )
    problems = {(p["path"], p["code"]) for p in info.value.details["problems"]}
    assert problems == {
        ("rates[0].phase", "phase_required"),
        ("rates[1].phase", "unknown_phase"),
        ("rates[2].reason", "reason_required"),
    }
    assert version.rates.count() == 0  # all or nothing


def test_an_unphased_contract_refuses_a_phase(open_contract, plan_scope):
    version = open_contract().versions.get()
    with pytest.raises(ApplicationError) as info:
        services.contract_rate_set(
            scope=plan_scope,
            version=version,
            tier="1",
            market="URBAN",
            lob="medicaid",
            phase="initial",
            pmpm="260.00",
            reason="x",
        )
    assert [(p["path"], p["code"]) for p in info.value.details["problems"]] == [
        ("rates[0].phase", "unknown_phase")
    ]


def rate_table(bundle_version, *, skip=None) -> dict:
    return {
        "run_id": "run-phased",
        "bundle_version_id": bundle_version.pk,
        "rates": [
            {
                "tier": t,
                "market": m,
                "lob": "medicaid",
                "phase": phase,
                "pmpm": Decimal("300.004") + int(t) * 100 + (Decimal(60) if phase == "initial" else 0),
                "low": Decimal(0),
                "high": Decimal(0),
            }
            for t in ("1", "2", "3")
            for m in ("URBAN", "URBAN-E")
            for phase in ("initial", "ongoing")
            if (t, m, phase) != skip
        ],
        "assessment_fees": {"URBAN": Decimal("341.85"), "URBAN-E": Decimal("372.10")},
    }


def test_rates_from_a_pricing_run_with_phase_rows(open_phased, plan_scope, phased_bundle_version):
    contract = open_phased(
        rates=[
            {
                "tier": "2",
                "market": "URBAN",
                "lob": "medicaid",
                "phase": "initial",
                "pmpm": "520.00",
                "reason": "Intensive first months",
            }
        ],
        fees={},
    )
    version = contract.versions.get()
    with pytest.raises(ApplicationError) as info:
        services.rate_schedule_from_pricing(
            scope=plan_scope,
            contract_version=version,
            rate_table=rate_table(phased_bundle_version, skip=("3", "URBAN", "ongoing")),
        )
    assert info.value.code == "pricing_run_incomplete"
    assert [(p["path"], p["message"]) for p in info.value.details["problems"]] == [
        (
            "rates.medicaid.3.URBAN.ongoing",
            "The run has no rate for tier 3 in URBAN (medicaid), phase ongoing.",
        )
    ]
    # a run of the bundle priced before phases (rows without a phase) is incomplete for every phase
    unphased_rows = [
        {k: v for k, v in row.items() if k != "phase"} for row in rate_table(phased_bundle_version)["rates"]
    ]
    with pytest.raises(ApplicationError) as info:
        services.rate_schedule_from_pricing(
            scope=plan_scope,
            contract_version=version,
            rate_table=dict(rate_table(phased_bundle_version), rates=unphased_rows),
        )
    assert len(info.value.details["problems"]) == 12
    assert version.rates.count() == 1

    services.rate_schedule_from_pricing(
        scope=plan_scope, contract_version=version, rate_table=rate_table(phased_bundle_version)
    )
    cells = {(e.tier, e.market, e.phase): e for e in version.rates.all()}
    assert len(cells) == 12
    assert (cells[("1", "URBAN", "initial")].pmpm, cells[("1", "URBAN", "ongoing")].pmpm) == (
        Decimal("460.00"),
        Decimal("400.00"),
    )
    negotiated = cells[("2", "URBAN", "initial")]
    assert (negotiated.pmpm, negotiated.priced_pmpm, negotiated.source, negotiated.reason) == (
        Decimal("520.00"),
        Decimal("560.00"),
        "negotiated",
        "Intensive first months",
    )
    assert negotiated.difference == Decimal("-40.00")
    assert cells[("2", "URBAN", "ongoing")].source == "pricing_run"
    assert rules.completeness_problems(selectors.version_document(version)) == []


def test_api_round_trip_of_a_phase_rate(api_for, plan_cm, provider, phased_bundle_version):
    plan_api = api_for(plan_cm)
    body = {
        "provider": str(provider.public_id),
        "bundle": str(phased_bundle_version.bundle.public_id),
        "bundle_version": phased_bundle_version.number,
        "effective_start": "2026-01-01",
        "effective_end": "2027-01-01",
        "markets": ["URBAN"],
        "lines_of_business": ["medicaid"],
        "rates": [
            {
                "tier": "1",
                "market": "URBAN",
                "lob": "medicaid",
                "phase": "initial",
                "pmpm": "310.00",
                "reason": "A",
            },
            {
                "tier": "1",
                "market": "URBAN",
                "lob": "medicaid",
                "phase": "ongoing",
                "pmpm": "250.00",
                "reason": "B",
            },
        ],
        "assessment_fees": {"URBAN": "350.00"},
    }
    created = plan_api.post("/api/v1/contracts/", body, format="json")
    assert created.status_code == 201, created.json()
    number = created.json()["contract"]["number"]
    url = f"/api/v1/contracts/{number}/versions/1/"
    rates = {(r["tier"], r["phase"]): r["pmpm"] for r in plan_api.get(url).json()["rates"]}
    assert rates == {("1", "initial"): "310.00", ("1", "ongoing"): "250.00"}
    patched = plan_api.patch(
        url,
        {
            "rates": [
                {
                    "tier": "1",
                    "market": "URBAN",
                    "lob": "medicaid",
                    "phase": "ongoing",
                    "pmpm": "260.00",
                    "reason": "C",
                }
            ]
        },
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    rates = {(r["tier"], r["phase"]): (r["pmpm"], r["reason"]) for r in plan_api.get(url).json()["rates"]}
    assert rates == {("1", "initial"): ("310.00", "A"), ("1", "ongoing"): ("260.00", "C")}
    refused = plan_api.patch(
        url,
        {"rates": [{"tier": "1", "market": "URBAN", "lob": "medicaid", "pmpm": "260.00", "reason": "C"}]},
        format="json",
    )
    assert refused.status_code == 400
    assert [(p["path"], p["code"]) for p in refused.json()["details"]["problems"]] == [
        ("rates[0].phase", "phase_required")
    ]


def test_an_amendment_copies_the_phases_and_its_diff_names_the_phase(
    active_phased, plan_scope, provider_scope
):
    contract = active_phased()
    v1 = contract.current_version
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    copied = {(e.lob, e.tier, e.market, e.phase): e.pmpm for e in v2.rates.all()}
    assert copied == {(e.lob, e.tier, e.market, e.phase): e.pmpm for e in v1.rates.all()}
    assert {phase for *_, phase in copied} == {"initial", "ongoing"}
    services.contract_rate_set(
        scope=plan_scope,
        version=v2,
        tier="3",
        market="URBAN",
        lob="medicaid",
        phase="initial",
        pmpm="725.00",
        reason="Rapid decline needs more visits",
    )
    diff = selectors.version_diff(before=v1, after=v2)
    rate_changes = [c for c in diff["changes"] if c["section"] == "rates"]
    assert [(c["path"], c["label"], c["before"], c["after"], c["difference"]) for c in rate_changes] == [
        (
            "rates.medicaid.3.URBAN.initial",
            "Medicaid · Tier 3 High need · URBAN · Phase Months 1-2",
            "705.00",
            "725.00",
            "20.00",
        )
    ]
    assert diff["payment_terms_changed"]["rates"] is True


def test_rate_sheets_show_the_phase(active_phased):
    contract = active_phased()
    version = contract.current_version
    content, _ = services.rate_sheet(version=version, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    header = content.decode("utf-8").splitlines()[0].split(",")
    assert header == ratesheets.CSV_COLUMNS + ["phase"]  # the pinned columns, then the phase
    pmpm = {(r["tier"], r["market"], r["phase"]): r["value"] for r in rows if r["item"] == "pmpm"}
    assert pmpm == {(e.tier, e.market, e.phase): str(e.pmpm) for e in version.rates.all()}
    assert pmpm[("1", "URBAN", "initial")] == "300.00" and pmpm[("1", "URBAN", "ongoing")] == "250.00"
    assert {r["phase"] for r in rows if r["item"] != "pmpm"} == {""}

    workbook = load_workbook(io.BytesIO(services.rate_sheet(version=version, fmt="xlsx")[0]))
    sheet = workbook["Rates"]
    assert [c.value for c in sheet[1]] == ratesheets.RATE_COLUMNS + ["phase"]
    read = {(r[3], r[5], r[8]): r[7] for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert read[("3", "URBAN-E", "initial")] == Decimal("717.00")  # 655 + 12 + 50
    facts = {r[0]: r[1] for r in workbook["Rate sheet"].iter_rows(min_row=2, values_only=True)}
    assert (
        facts["Phases of enrollment"]
        == "Months 1-2 (initial) from month 1; Month 3 on (ongoing) from month 3"
    )

    text = "\n".join(pdf_pages(services.rate_sheet(version=version, fmt="pdf")[0]))
    assert "Phase: Months 1-2 300.00 312.00" in text and "Phase: Month 3 on 250.00 262.00" in text
    assert "Months 1-2 (from month 1); Month 3 on (from month 3)" in text


def test_an_unphased_rate_sheet_keeps_its_columns(active_contract):
    version = active_contract().current_version
    content, _ = services.rate_sheet(version=version, fmt="csv")
    lines = content.decode("utf-8").splitlines()
    assert lines[0].split(",") == ratesheets.CSV_COLUMNS
    assert all(len(next(csv.reader([line]))) == len(ratesheets.CSV_COLUMNS) for line in lines)
    sheet = load_workbook(io.BytesIO(services.rate_sheet(version=version, fmt="xlsx")[0]))["Rates"]
    assert [c.value for c in sheet[1]] == ratesheets.RATE_COLUMNS


def test_terms_in_force_are_keyed_by_phase(active_phased):
    contract = active_phased()
    terms_ = selectors.version_terms(contract.current_version)
    assert terms_.phases == (Phase("initial", "Months 1-2", 1), Phase("ongoing", "Month 3 on", 3))
    assert len(terms_.rates) == 12 and {cell.phase for cell in terms_.rates} == {"initial", "ongoing"}
    assert terms_.rates[RateCell("1", "URBAN", "medicaid", "initial")] == Decimal("300.00")
    assert terms_.pmpm("1", "URBAN", phase="ongoing") == Decimal("250.00")
    with pytest.raises(KeyError):
        terms_.pmpm("1", "URBAN")  # a phased contract has no rate for every month


def test_the_document_keys_a_phase_cell_with_its_phase(active_phased):
    document = selectors.version_document(active_phased().current_version)
    assert document["phases"] == PHASES
    assert document["rates"]["medicaid/1/URBAN/initial"] == "300.00"
    assert "medicaid/1/URBAN" not in document["rates"]
    assert document["rate_details"]["medicaid/1/URBAN/initial"]["source"] == "negotiated"


def test_unphased_fingerprints_are_unchanged(active_contract):
    # the pinned pure document, with or without the (empty) phases of today's documents
    assert rules.fingerprint(pure_document()) == PINNED_FINGERPRINT
    assert rules.fingerprint(pure_document(phases=[])) == PINNED_FINGERPRINT
    version = active_contract().current_version
    document = selectors.version_document(version)
    assert document["phases"] == [] and all(key.count("/") == 2 for key in document["rates"])
    assert rules.fingerprint(document) == version.fingerprint
    assert selectors.version_terms(version).phases == ()
    assert all(cell.phase == "" for cell in selectors.version_terms(version).rates)


def test_the_draft_rate_grid_has_a_row_per_phase(plan_cm, open_phased):
    web = logged_in(plan_cm)
    draft = open_phased(rates=[])
    edit = web.get(f"/contracts/{draft.number}/versions/1/edit/").content.decode()
    assert 'name="phase" value="initial"' in edit and 'name="phase" value="ongoing"' in edit
    assert 'aria-label="PMPM tier 1 URBAN medicaid Months 1-2"' in edit
    assert "No PMPM for tier 1 in URBAN (Medicaid), phase Months 1-2." in edit
    cell = web.post(
        f"/contracts/{draft.number}/versions/1/rates/",
        {
            "tier": "1",
            "market": "URBAN",
            "lob": "medicaid",
            "phase": "ongoing",
            "pmpm": "250",
            "reason": "Agreed",
        },
        HTTP_HX_REQUEST="true",
    )
    assert "Saved" in cell.content.decode()
    assert draft.versions.get().rates.get().phase == "ongoing"


def test_the_version_page_shows_each_phase_by_name(plan_cm, active_phased):
    contract = active_phased()
    page = logged_in(plan_cm).get(f"/contracts/{contract.number}/").content.decode()
    assert 'data-testid="phase-initial">Months 1-2<' in page
    assert 'data-testid="phase-ongoing">Month 3 on<' in page
    assert "tier 1 · URBAN · Months 1-2" in page  # the negotiated rates' list names the phase


def test_an_amendment_moving_to_a_phased_bundle_version_drops_the_unphased_cells(
    active_contract, plan_scope, plan_analyst, plan, bundle_version
):
    contract = active_contract()
    analyst = scope_of(plan_analyst, plan)
    bundle_services.version_new_draft(scope=analyst, version=bundle_version)
    bundle_services.draft_update(scope=analyst, bundle=bundle_version.bundle, definition=phased_definition())
    phased = bundle_services.draft_publish(scope=analyst, bundle=bundle_version.bundle)
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    assert {e.phase for e in v2.rates.all()} == {""}
    services.contract_version_update(scope=plan_scope, version=v2, bundle_version=phased)
    v2.refresh_from_db()
    assert (
        v2.bundle_version == phased and not v2.rates.exists()
    )  # a rate for every month is no rate of a phase
    missing = rules.completeness_problems(selectors.version_document(v2))
    assert {p.path for p in missing if p.code == "missing_rate"} == {
        rules.rate_path(lob, tier, market, phase)
        for lob, tier, market, phase in rules.rate_cells(selectors.version_document(v2))
    }
    assert len([p for p in missing if p.code == "missing_rate"]) == 12
    services.contract_version_update(scope=plan_scope, version=v2, rates=phased_rates())
    assert rules.completeness_problems(selectors.version_document(v2)) == []
