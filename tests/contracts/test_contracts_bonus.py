"""The contract's quality bonus term: validation (paths), completeness, the fingerprint (unchanged for a
version without a bonus), the diff, plain words, the API and web round trips, the rate sheets, and the
terms in force. The migration adding it keeps the frozen-money triggers."""

import csv
import hashlib
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from openpyxl import load_workbook
from pypdf import PdfReader

from contracts import rules, selectors, services
from contracts.models import RateScheduleEntry
from core.errors import ApplicationError
from tests.contracts.test_contracts_web import logged_in

pytestmark = pytest.mark.django_db

BONUS = {"threshold": "0.9", "percentage": "0.02"}
BONUS_WORDS = (
    "A bonus of 2% of the period's member-month payments is paid when the composite quality score "
    "is at least 90%."
)


def _validate(bonus):
    from tests.contracts.conftest import terms

    return rules.validate_terms(
        terms(quality_bonus=bonus), allowed_markets=["URBAN", "URBAN-E"], allowed_lobs=["medicaid"]
    )


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [None, "", {}])
def test_no_bonus_is_none(empty):
    normalized, problems = _validate(empty)
    assert problems == [] and normalized["quality_bonus"] is None


def test_a_bonus_is_normalised_like_the_other_fractions():
    normalized, problems = _validate({"threshold": Decimal("0.9000"), "percentage": "0.020", "extra": "x"})
    assert problems == []
    assert normalized["quality_bonus"] == {"threshold": "0.9", "percentage": "0.02"}
    assert _validate({"threshold": "1", "percentage": "0.2"})[0]["quality_bonus"] == {
        "threshold": "1",
        "percentage": "0.2",
    }


@pytest.mark.parametrize(
    ("bonus", "expected"),
    [
        ({"threshold": "0", "percentage": "0.02"}, {("quality_bonus.threshold", "not_positive")}),
        ({"threshold": "-0.5", "percentage": "0.02"}, {("quality_bonus.threshold", "not_positive")}),
        ({"threshold": "1.01", "percentage": "0.02"}, {("quality_bonus.threshold", "too_large")}),
        (
            {"threshold": "90", "percentage": "2"},
            {("quality_bonus.threshold", "too_large"), ("quality_bonus.percentage", "too_large")},
        ),
        ({"threshold": "0.9", "percentage": "0"}, {("quality_bonus.percentage", "not_positive")}),
        ({"threshold": "0.9", "percentage": "0.21"}, {("quality_bonus.percentage", "too_large")}),
        ({"threshold": "abc", "percentage": "0.02"}, {("quality_bonus.threshold", "not_a_number")}),
        ({"percentage": "0.02"}, {("quality_bonus.threshold", "required")}),
        ({"threshold": "0.9"}, {("quality_bonus.percentage", "required")}),
        ("0.02", {("quality_bonus", "not_an_object")}),
        ([BONUS], {("quality_bonus", "not_an_object")}),
    ],
)
def test_validation_errors_carry_their_paths(bonus, expected):
    _, problems = _validate(bonus)
    assert {(p.path, p.code) for p in problems} == expected


def test_the_service_refuses_an_invalid_bonus_and_creates_nothing(open_contract):
    from contracts.models import Contract

    with pytest.raises(ApplicationError) as info:
        open_contract(quality_bonus={"threshold": "1.5", "percentage": "0.3"})
    assert info.value.code == "invalid_terms"
    assert {p["path"] for p in info.value.details["problems"]} == {
        "quality_bonus.threshold",
        "quality_bonus.percentage",
    }
    assert not Contract.objects.exists()


# --- completeness ----------------------------------------------------------------------------------


def test_a_bonus_needs_a_quality_measure(open_contract, plan_scope):
    contract = open_contract(
        quality_terms=[], withhold_percentage=Decimal("0"), shared_savings_terms={}, quality_bonus=BONUS
    )
    with pytest.raises(ApplicationError) as info:
        services.contract_propose(scope=plan_scope, contract=contract)
    assert info.value.code == "incomplete_contract"
    assert [(p["path"], p["code"]) for p in info.value.details["problems"]] == [
        ("quality_bonus", "bonus_without_quality")
    ]
    # Without the bonus the same contract is complete.
    services.contract_version_update(
        scope=plan_scope, version=contract.current_version, terms={"quality_bonus": None}
    )
    assert services.contract_propose(scope=plan_scope, contract=contract).status == "proposed"


# --- fingerprint -----------------------------------------------------------------------------------


def pure_document(**changes):
    doc = {
        "contract": "CTR-2026-0001",
        "version": 1,
        "status": "active",
        "payer": {"id": "p", "name": "Plan"},
        "provider": {"id": "q", "name": "Provider", "npi": ""},
        "bundle": {"id": "b", "name": "B", "number": 1, "content_hash": "h", "label": "B v1"},
        "effective_start": "2026-01-01",
        "effective_end": "2027-01-01",
        "lines_of_business": ["medicaid"],
        "markets": ["URBAN"],
        "market_names": {"URBAN": "Urban"},
        "tiers": [{"code": "1", "name": "Stable"}],
        "rates": {"medicaid/1/URBAN": "250.00"},
        "rate_details": {},
        "assessment_fees": {"URBAN": "300.00"},
        "assessment_lookback_months": 12,
        "proration_rule": "any_day",
        "tier_rule": "first_day",
        "retro_window_months": 3,
        "roster_due_day": 10,
        "withhold_percentage": "0.0500",
        "quality_terms": [
            {
                "measure": "ed_visits_per_1000",
                "target": "80",
                "weight": "1",
                "direction": "lower",
                "minimum_denominator": 100,
            }
        ],
        "shared_savings_terms": {},
        "termination_notice_days": 90,
        "pricing_run_id": "",
    }
    doc.update(changes)
    return doc


# The fingerprint of ``pure_document()`` as computed before the bonus term existed.
FINGERPRINT_BEFORE_THE_BONUS = "e2119877c5aa4ae203f76cf592b31f84dbca1dedeae9098938d4ecd2438f5cc8"
KEYS_BEFORE_THE_BONUS = (
    "contract",
    "version",
    "payer",
    "provider",
    "bundle",
    "effective_start",
    "effective_end",
    "lines_of_business",
    "markets",
    "tiers",
    "rates",
    "assessment_fees",
    "assessment_lookback_months",
    "proration_rule",
    "tier_rule",
    "retro_window_months",
    "roster_due_day",
    "withhold_percentage",
    "quality_terms",
    "shared_savings_terms",
    "termination_notice_days",
)


def fingerprint_before_the_bonus(document) -> str:
    """The fingerprint algorithm as it was before the bonus term (a frozen copy, to compare against)."""
    data = {k: document[k] for k in KEYS_BEFORE_THE_BONUS}
    data["payer"], data["provider"] = document["payer"]["id"], document["provider"]["id"]
    data["bundle"] = {k: document["bundle"][k] for k in ("id", "number", "content_hash")}
    data["tiers"] = [t["code"] for t in document["tiers"]]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_version_without_a_bonus_keeps_its_fingerprint():
    assert fingerprint_before_the_bonus(pure_document()) == FINGERPRINT_BEFORE_THE_BONUS
    assert rules.fingerprint(pure_document()) == FINGERPRINT_BEFORE_THE_BONUS
    assert rules.fingerprint(pure_document(quality_bonus=None)) == FINGERPRINT_BEFORE_THE_BONUS
    assert rules.fingerprint(pure_document(quality_bonus={})) == FINGERPRINT_BEFORE_THE_BONUS


def test_the_bonus_enters_the_fingerprint_when_set():
    with_bonus = rules.fingerprint(pure_document(quality_bonus=BONUS))
    assert with_bonus != FINGERPRINT_BEFORE_THE_BONUS
    assert rules.fingerprint(pure_document(quality_bonus={**BONUS, "percentage": "0.03"})) != with_bonus
    assert rules.fingerprint(pure_document(quality_bonus={**BONUS, "threshold": "0.8"})) != with_bonus


def test_a_stored_version_without_a_bonus_has_the_fingerprint_it_had_before(active_contract):
    version = active_contract().current_version
    assert version.quality_bonus is None
    document = selectors.version_document(version)
    assert document["quality_bonus"] is None
    assert version.fingerprint == fingerprint_before_the_bonus(document) == rules.fingerprint(document)


# --- diff and words --------------------------------------------------------------------------------


def test_diff_shows_a_bonus_added_changed_and_removed():
    added = rules.diff(pure_document(), pure_document(version=2, quality_bonus=BONUS))
    assert [
        (c["section"], c["path"], c["label"], c["change"], c["before"], c["after"]) for c in added["changes"]
    ] == [
        ("quality", "quality_bonus.threshold", "Quality bonus · threshold", "added", None, "0.9"),
        ("quality", "quality_bonus.percentage", "Quality bonus · percentage", "added", None, "0.02"),
    ]
    assert added["sections_changed"] == ["quality"] and added["payment_terms_changed"]["quality"] is True
    changed = rules.diff(
        pure_document(quality_bonus=BONUS),
        pure_document(version=2, quality_bonus={**BONUS, "percentage": "0.03"}),
    )
    assert [(c["label"], c["change"], c["before"], c["after"]) for c in changed["changes"]] == [
        ("Quality bonus · percentage", "changed", "0.02", "0.03")
    ]
    removed = rules.diff(pure_document(quality_bonus=BONUS), pure_document(version=2, quality_bonus=None))
    assert {c["change"] for c in removed["changes"]} == {"removed"}
    assert rules.diff(pure_document(), pure_document(version=2, quality_bonus=None))["changes"] == []


def test_plain_words():
    assert rules.describe_quality_bonus(BONUS) == BONUS_WORDS
    assert rules.describe_quality_bonus({"threshold": "0.85", "percentage": "0.015"}) == (
        "A bonus of 1.5% of the period's member-month payments is paid when the composite quality score is at "
        "least 85%."
    )
    assert rules.describe_quality_bonus(None) == rules.describe_quality_bonus({}) == "No quality bonus."


def test_amendment_copies_the_bonus_and_the_diff_shows_its_change(
    active_contract, plan_scope, provider_scope
):
    contract = active_contract(quality_bonus=BONUS)
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    assert v2.quality_bonus == BONUS
    services.contract_version_update(
        scope=plan_scope, version=v2, terms={"quality_bonus": {"threshold": "0.85", "percentage": "0.02"}}
    )
    v2.refresh_from_db()
    diff = selectors.version_diff(before=contract.current_version, after=v2)
    assert [(c["label"], c["before"], c["after"]) for c in diff["changes"] if c["section"] == "quality"] == [
        ("Quality bonus · threshold", "0.9", "0.85")
    ]
    assert diff["payment_terms_changed"]["quality"] is True
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    june = selectors.terms_in_force(contract=contract, on=date(2026, 6, 1))
    july = selectors.terms_in_force(contract=contract, on=date(2026, 7, 1))
    assert june.quality_bonus == BONUS and july.quality_bonus == {"threshold": "0.85", "percentage": "0.02"}


def test_terms_without_a_bonus_say_none(active_contract):
    terms = selectors.terms_in_force(contract=active_contract(), on=date(2026, 3, 1))
    assert terms.quality_bonus is None


# --- the API ---------------------------------------------------------------------------------------


def test_api_create_update_round_trip(plan_cm, api_for, provider, bundle_version):
    from tests.contracts.test_contracts_api import create_body

    api = api_for(plan_cm)
    created = api.post(
        "/api/v1/contracts/",
        create_body(provider, bundle_version, quality_bonus={"threshold": "0.9", "percentage": "0.02"}),
        format="json",
    )
    assert created.status_code == 201, created.json()
    number = created.json()["contract"]["number"]
    url = f"/api/v1/contracts/{number}/versions/1/"
    assert api.get(url).json()["quality_bonus"] == BONUS

    patched = api.patch(url, {"quality_bonus": {"threshold": "0.8500", "percentage": "0.01"}}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["quality_bonus"] == {"threshold": "0.85", "percentage": "0.01"}
    other = api.patch(url, {"roster_due_day": 14}, format="json")  # not named: kept
    assert other.json()["quality_bonus"] == {"threshold": "0.85", "percentage": "0.01"}

    bad = api.patch(url, {"quality_bonus": {"threshold": "1.2", "percentage": "0.5"}}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_terms"
    assert {p["path"] for p in bad.json()["details"]["problems"]} == {
        "quality_bonus.threshold",
        "quality_bonus.percentage",
    }
    assert api.get(url).json()["quality_bonus"] == {"threshold": "0.85", "percentage": "0.01"}

    cleared = api.patch(url, {"quality_bonus": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["quality_bonus"] is None

    plain = api.post(
        "/api/v1/contracts/",
        create_body(provider, bundle_version, markets=["URBAN-E"], rates=[], assessment_fees={}),
        format="json",
    )
    assert plain.status_code == 201, plain.json()
    assert (
        api.get(f"/api/v1/contracts/{plain.json()['contract']['number']}/versions/1/").json()["quality_bonus"]
        is None
    )


def test_the_schema_documents_the_bonus():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    bonus = components["QualityBonus"]
    assert set(bonus["properties"]) == {"threshold", "percentage"}
    assert set(bonus["required"]) == {"threshold", "percentage"}
    version = components["Version"]["properties"]["quality_bonus"]
    assert version["allOf"] == [{"$ref": "#/components/schemas/QualityBonus"}] and version["nullable"] is True
    for request in ("ContractCreateRequest", "PatchedVersionUpdateRequest"):
        field = components[request]["properties"]["quality_bonus"]
        assert (
            field["allOf"] == [{"$ref": "#/components/schemas/QualityBonusRequest"}]
            and field["nullable"] is True
        )
        assert "quality_bonus" not in components[request].get("required", [])


# --- the web page ----------------------------------------------------------------------------------


def _edit_data(version, **changes):
    from contracts.forms import TermsForm

    initial = TermsForm.initial_from(version)
    data = {}
    for key, value in initial.items():
        if value is None or value is False:
            continue
        if value is True:
            data[key] = "on"
        elif isinstance(value, list):
            data[key] = value
        else:
            data[key] = str(value)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_web_form_round_trip(plan_cm, open_contract):
    contract = open_contract()
    version = contract.current_version
    web = logged_in(plan_cm)
    url = f"/contracts/{contract.number}/versions/1/edit/"
    page = web.get(url).content.decode()
    assert (
        "Bonus threshold (minimum composite score, %)" in page
        and "Bonus (% of member-month payments)" in page
    )
    assert '<input type="checkbox" name="quality_bonus" id="id_quality_bonus">' in page  # off by default

    saved = web.post(url, _edit_data(version, quality_bonus="on", qb_threshold="90", qb_percentage="2"))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    version.refresh_from_db()
    assert version.quality_bonus == BONUS
    assert version.shared_savings_terms["sharing_rate"] == "0.5"  # the rest unchanged
    again = web.get(url).content.decode()
    assert '<input type="checkbox" name="quality_bonus" id="id_quality_bonus" checked>' in again
    assert 'name="qb_threshold" value="90"' in again and 'name="qb_percentage" value="2"' in again

    bad = web.post(url, _edit_data(version, quality_bonus="on", qb_threshold="150", qb_percentage=""))
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "must be at most 1" in body and "is required" in body
    version.refresh_from_db()
    assert version.quality_bonus == BONUS

    detail = web.get(f"/contracts/{contract.number}/versions/1/").content.decode()
    assert BONUS_WORDS.replace("'", "&#x27;") in detail

    off = _edit_data(version)
    off.pop("quality_bonus")
    assert web.post(url, off).status_code == 302
    version.refresh_from_db()
    assert version.quality_bonus is None
    assert "No quality bonus." in web.get(f"/contracts/{contract.number}/versions/1/").content.decode()


# --- rate sheets -----------------------------------------------------------------------------------


def _words(text: str) -> str:
    return " ".join(text.split())


def test_rate_sheets_carry_the_bonus(active_contract):
    version = active_contract(quality_bonus=BONUS).current_version
    pdf, _ = services.rate_sheet(version=version, fmt="pdf")
    text = _words(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages))
    assert BONUS_WORDS in text.replace("’", "'")

    workbook = load_workbook(io.BytesIO(services.rate_sheet(version=version, fmt="xlsx")[0]))
    summary = {r[0]: r[1] for r in workbook["Rate sheet"].iter_rows(min_row=2, values_only=True)}
    assert summary["Quality bonus"] == BONUS_WORDS
    assert summary["Quality bonus threshold (fraction)"] == pytest.approx(0.9)
    assert summary["Quality bonus (fraction of member-month payments)"] == pytest.approx(0.02)
    assert summary["Fingerprint (sha256)"] == version.fingerprint

    rows = list(csv.DictReader(io.StringIO(services.rate_sheet(version=version, fmt="csv")[0].decode())))
    items = {r["item"]: r["value"] for r in rows}
    assert items["quality_bonus.threshold"] == "0.9" and items["quality_bonus.percentage"] == "0.02"


def test_rate_sheets_without_a_bonus_say_so(active_contract):
    version = active_contract().current_version
    pdf, _ = services.rate_sheet(version=version, fmt="pdf")
    assert "No quality bonus." in _words(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    workbook = load_workbook(io.BytesIO(services.rate_sheet(version=version, fmt="xlsx")[0]))
    summary = {r[0]: r[1] for r in workbook["Rate sheet"].iter_rows(min_row=2, values_only=True)}
    assert (
        summary["Quality bonus"] == "No quality bonus."
        and "Quality bonus threshold (fraction)" not in summary
    )
    rows = list(csv.DictReader(io.StringIO(services.rate_sheet(version=version, fmt="csv")[0].decode())))
    assert not any(r["item"].startswith("quality_bonus") for r in rows)


# --- the migration keeps the frozen-money triggers -------------------------------------------------


def test_the_triggers_survive_the_migration(active_contract):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        names = {row[0] for row in cursor.fetchall()}
    assert {"contracts_ratescheduleentry_frozen", "contracts_assessmentfee_frozen"} <= {
        name.removesuffix("_insert").removesuffix("_update") for name in names
    }
    version = active_contract(quality_bonus=BONUS).current_version
    assert version.quality_bonus == BONUS
    entry = version.rates.first()
    entry.pmpm = Decimal("1.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        RateScheduleEntry.objects.create(version=version, tier="9", market="URBAN", lob="medicaid", pmpm=1)
    assert RateScheduleEntry.objects.get(pk=entry.pk).pmpm != Decimal("1.00")
