"""Rate sheets: the PDF holds every rate and the fingerprint on every page; the XLSX reads back as the
database (typed cells, frozen headers); the CSV carries the fingerprint; a frozen version's sheet is
rendered once and re-downloads are the same bytes; a draft's is marked and never stored."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bundles import services as bundle_services
from bundles.demo import home_based_definition
from bundles.models import Market
from contracts import selectors, services
from contracts.models import RateScheduleEntry, StoredRateSheet
from tests.contracts.conftest import scope_of

pytestmark = pytest.mark.django_db


def pdf_pages(content: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]


def test_pdf_has_every_rate_fee_and_term_and_the_fingerprint_on_every_page(active_contract):
    contract = active_contract(lines_of_business=["medicaid", "medicare_advantage"])
    version = contract.current_version
    content, filename = services.rate_sheet(version=version, fmt="pdf")
    assert content.startswith(b"%PDF") and filename == f"{contract.number}-v1-rate-sheet.pdf"
    pages = pdf_pages(content)
    text = "\n".join(pages)
    for entry in version.rates.all():
        assert f"{entry.pmpm:,.2f}" in text
    assert version.rates.count() == 12
    for phrase in (
        contract.number,
        "Version 1",
        contract.payer.legal_name,
        contract.provider.legal_name,
        "Home-based palliative care",
        "Effective from",
        "1 January 2026",
        "through 31 December 2026",
        "Medicaid",
        "Medicare Advantage",
        "341.85",
        "12 months",
        "Any day of the month",
        "Withhold 5%",
        "ED visits per 1,000 member-months",
        "Page 1 of",
    ):
        assert phrase.lower() in text.lower(), phrase
    for page in pages:
        assert version.fingerprint in page.replace("\n", "")
    box = PdfReader(io.BytesIO(content)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # US Letter


def test_a_large_rate_table_3_tiers_20_markets_2_lobs(plan, member_of, provider, plan_scope, provider_scope):
    codes = [f"C{i:02d}" for i in range(20)]
    for code in codes:
        Market.objects.create(organization=plan, code=code, name=f"County {code}")
    definition = home_based_definition()
    definition["markets"] = codes
    from accounts.models import Role

    analyst_scope = scope_of(member_of(plan, Role.ANALYST), plan)
    bundle = bundle_services.bundle_create(scope=analyst_scope, definition=definition)
    bundle_version = bundle_services.draft_publish(scope=analyst_scope, bundle=bundle)
    from tests.contracts.conftest import full_rates, terms

    lobs = ["medicaid", "medicare_advantage"]
    rates = full_rates(codes, lobs, bump=Decimal("500"))
    contract = services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        terms=terms(markets=codes, lines_of_business=lobs),
        rates=rates,
        assessment_fees={c: "400.00" for c in codes},
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    version = contract.versions.get()
    text = "\n".join(pdf_pages(services.rate_sheet(version=version, fmt="pdf")[0]))
    assert len(rates) == 120
    for rate in rates:
        assert f"{Decimal(rate['pmpm']):,.2f}" in text, rate
    for code in codes:
        assert code in text


def test_xlsx_reads_back_as_the_database(active_contract):
    contract = active_contract(lines_of_business=["medicaid", "medicare_advantage"])
    version = contract.current_version
    content, filename = services.rate_sheet(version=version, fmt="xlsx")
    assert filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Rate sheet", "Rates", "Assessment fees", "Quality"]
    rates = workbook["Rates"]
    assert rates.freeze_panes == "A2"
    header = [c.value for c in rates[1]]
    assert header == [
        "contract",
        "version",
        "line_of_business",
        "tier",
        "tier_name",
        "market",
        "market_name",
        "pmpm",
    ]
    rows = list(rates.iter_rows(min_row=2, values_only=True))
    from_db = {(e.lob, e.tier, e.market): e.pmpm for e in RateScheduleEntry.objects.filter(version=version)}
    read = {}
    for row in rows:
        assert isinstance(row[7], int | float) and not isinstance(row[7], bool)  # a number, not text
        assert isinstance(row[1], int)
        read[(row[2], row[3], row[5])] = Decimal(str(row[7])).quantize(Decimal("0.01"))
    assert read == from_db
    for cell in rates["H"][1:]:
        assert cell.data_type == "n" and cell.number_format == "#,##0.00"
    fees = workbook["Assessment fees"]
    assert fees.freeze_panes == "A2"
    assert {r[2]: Decimal(str(r[4])) for r in fees.iter_rows(min_row=2, values_only=True)} == {
        f.market: f.fee for f in version.assessment_fees.all()
    }
    summary = {r[0]: r[1] for r in workbook["Rate sheet"].iter_rows(min_row=2, values_only=True)}
    assert summary["Fingerprint (sha256)"] == version.fingerprint
    assert summary["Contract"] == contract.number and summary["Version"] == 1
    assert summary["Effective from"].date() == date(2026, 1, 1)
    assert summary["Effective through"].date() == date(2026, 12, 31)
    assert summary["Withhold (fraction)"] == pytest.approx(0.05)
    assert workbook.properties.identifier == version.fingerprint


def test_csv_has_every_rate_fee_and_term_with_the_fingerprint(active_contract):
    contract = active_contract()
    version = contract.current_version
    content, _ = services.rate_sheet(version=version, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert {r["fingerprint"] for r in rows} == {version.fingerprint}
    pmpm = {
        (r["line_of_business"], r["tier"], r["market"]): Decimal(r["value"])
        for r in rows
        if r["item"] == "pmpm"
    }
    assert pmpm == {(e.lob, e.tier, e.market): e.pmpm for e in version.rates.all()}
    fees = {r["market"]: r["value"] for r in rows if r["item"] == "assessment_fee"}
    assert fees == {"URBAN": "341.85", "URBAN-E": "341.85"}
    items = {r["item"]: r["value"] for r in rows}
    assert items["proration_rule"] == "any_day" and items["withhold_percentage"] == "0.0500"
    assert items["quality.ed_visits_per_1000.target"] == "85"
    assert (
        rows[0]["effective_start"] == "2026-01-01" and rows[0]["effective_end"] == "2026-12-31"
    )  # inclusive


def test_a_frozen_versions_sheet_is_rendered_once(active_contract):
    version = active_contract().current_version
    first, _ = services.rate_sheet(version=version, fmt="pdf")
    second, _ = services.rate_sheet(version=version, fmt="pdf")
    assert first == second
    stored = StoredRateSheet.objects.get(version=version, format="pdf")
    assert bytes(stored.content) == first and stored.fingerprint == version.fingerprint
    import hashlib

    assert stored.sha256 == hashlib.sha256(first).hexdigest()


def test_a_drafts_sheet_is_marked_and_not_stored(open_contract, plan_scope):
    contract = open_contract()
    version = contract.versions.get()
    content, filename = services.rate_sheet(version=version, fmt="pdf")
    assert filename.endswith("-DRAFT.pdf")
    assert "DRAFT" in "\n".join(pdf_pages(content))
    assert not StoredRateSheet.objects.exists()
    live = selectors.version_fingerprint(version)
    services.contract_rate_set(
        scope=plan_scope,
        version=version,
        tier="1",
        market="URBAN",
        lob="medicaid",
        pmpm="251.00",
        reason="Counter-offer",
    )
    assert selectors.version_fingerprint(version) != live
    services.contract_propose(scope=plan_scope, contract=contract)
    version.refresh_from_db()
    assert version.fingerprint == selectors.version_fingerprint(version)


def test_fingerprint_changes_when_a_rate_changes_and_is_stable_otherwise(
    active_contract, plan_scope, provider_scope
):
    contract = active_contract()
    v1 = contract.current_version
    assert selectors.version_fingerprint(v1) == v1.fingerprint
    from contracts import rules

    assert rules.fingerprint(selectors.version_document(v1)) == v1.fingerprint  # recomputes to the same
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    services.contract_version_update(
        scope=plan_scope, version=v2, terms={"effective_start": date(2026, 7, 1)}
    )
    same_terms = rules.fingerprint(selectors.version_document(v2))
    services.contract_rate_set(
        scope=plan_scope, version=v2, tier="2", market="URBAN-E", lob="medicaid", pmpm="422.01", reason="x"
    )
    assert rules.fingerprint(selectors.version_document(v2)) != same_terms
    services.contract_propose(scope=plan_scope, contract=contract)
    v2.refresh_from_db()
    assert v2.fingerprint not in ("", v1.fingerprint)
    # the old version's sheet still shows its own rates
    text = "\n".join(pdf_pages(services.rate_sheet(version=v1, fmt="pdf")[0]))
    assert "422.00" in text and "422.01" not in text
