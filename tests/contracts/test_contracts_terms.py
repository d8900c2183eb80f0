"""terms_in_force: which version's terms applied on a day, across amendments, termination and expiry;
and the pure rules (validation, fingerprint, diff, plain words)."""

from datetime import date
from decimal import Decimal

import pytest

from contracts import rules, selectors, services
from contracts.terms import ContractTerms, RateCell
from core.errors import NotFoundError

pytestmark = pytest.mark.django_db


@pytest.fixture
def amended(active_contract, plan_scope, provider_scope):
    """Version 1 from January 2026; version 2 from July (tier 3 URBAN up); version 3 from October (withhold 3%)."""
    contract = active_contract()
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    services.contract_rate_set(
        scope=plan_scope, version=v2, tier="3", market="URBAN", lob="medicaid", pmpm="700.00", reason="Acuity"
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    v3 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 10, 1))
    services.contract_version_update(
        scope=plan_scope, version=v3, terms={"withhold_percentage": Decimal("0.03")}
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    return contract


@pytest.mark.parametrize(
    ("on", "version", "tier3_urban", "withhold"),
    [
        (date(2026, 1, 1), 1, "655.00", "0.05"),
        (date(2026, 6, 1), 1, "655.00", "0.05"),
        (date(2026, 6, 30), 1, "655.00", "0.05"),
        (date(2026, 7, 1), 2, "700.00", "0.05"),
        (date(2026, 9, 1), 2, "700.00", "0.05"),
        (date(2026, 10, 1), 3, "700.00", "0.03"),
        (date(2026, 12, 31), 3, "700.00", "0.03"),
    ],
)
def test_terms_in_force_answer_for_each_month(amended, on, version, tier3_urban, withhold):
    terms = selectors.terms_in_force(contract=amended, on=on)
    assert isinstance(terms, ContractTerms)
    assert terms.version == version and terms.covers(on)
    assert terms.pmpm("3", "URBAN") == Decimal(tier3_urban)
    assert terms.rates[RateCell("3", "URBAN", "medicaid")] == Decimal(tier3_urban)
    assert terms.withhold_percentage == Decimal(withhold)


def test_superseded_versions_keep_their_own_period(amended):
    v1 = selectors.terms_in_force(contract=amended, on=date(2026, 2, 1))
    v2 = selectors.terms_in_force(contract=amended, on=date(2026, 8, 1))
    assert (v1.effective_start, v1.effective_end) == (date(2026, 1, 1), date(2026, 7, 1))
    assert (v2.effective_start, v2.effective_end) == (date(2026, 7, 1), date(2026, 10, 1))
    assert v1.contract_number == amended.number
    assert (
        v1.tiers == ("1", "2", "3")
        and v1.markets == ("URBAN", "URBAN-E")
        and v1.lines_of_business == ("medicaid",)
    )
    assert v1.assessment_fees == {"URBAN": Decimal("341.85"), "URBAN-E": Decimal("341.85")}
    assert (v1.proration_rule, v1.tier_rule, v1.retro_window_months, v1.roster_due_day) == (
        "any_day",
        "first_day",
        3,
        10,
    )
    assert v1.assessment_lookback_months == 12
    assert [q["measure"] for q in v1.quality_terms] == ["ed_visits_per_1000", "hospice_transition_rate"]
    assert v1.shared_savings_terms["sharing_rate"] == "0.5"
    assert len(v1.fingerprint) == 64


@pytest.mark.parametrize("on", [date(2025, 12, 31), date(2027, 1, 1), date(2030, 1, 1)])
def test_no_terms_outside_the_contract(amended, on):
    with pytest.raises(NotFoundError) as info:
        selectors.terms_in_force(contract=amended, on=on)
    assert info.value.code == "no_terms_in_force"


def test_a_draft_or_proposed_version_is_never_in_force(open_contract, active_contract, plan_scope):
    draft = open_contract(markets=["RURAL-N"])
    with pytest.raises(NotFoundError):
        selectors.terms_in_force(contract=draft, on=date(2026, 3, 1))
    contract = active_contract()
    services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    services.contract_propose(scope=plan_scope, contract=contract)
    assert selectors.terms_in_force(contract=contract, on=date(2026, 8, 1)).version == 1


def test_termination_ends_the_terms(active_contract, plan_scope):
    contract = active_contract()
    services.contract_terminate(
        scope=plan_scope, contract=contract, end_date=date(2026, 9, 15), reason="x", for_cause=True
    )
    assert selectors.terms_in_force(contract=contract, on=date(2026, 9, 14)).effective_end == date(
        2026, 9, 15
    )
    with pytest.raises(NotFoundError):
        selectors.terms_in_force(contract=contract, on=date(2026, 10, 1))


# --- pure rules ------------------------------------------------------------------------------


def document(**changes):
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


def test_fingerprint_is_stable_and_ignores_names_and_status():
    base = rules.fingerprint(document())
    assert base == rules.fingerprint(document()) and len(base) == 64
    renamed = document(
        payer={"id": "p", "name": "Renamed plan"},
        status="superseded",
        rate_details={"x": 1},
        market_names={"URBAN": "Other"},
    )
    assert rules.fingerprint(renamed) == base


@pytest.mark.parametrize(
    "change",
    [
        {"rates": {"medicaid/1/URBAN": "250.01"}},
        {"assessment_fees": {"URBAN": "300.01"}},
        {"withhold_percentage": "0.0400"},
        {"effective_start": "2026-02-01"},
        {"proration_rule": "daily"},
        {"quality_terms": []},
        {"shared_savings_terms": {"baseline_method": "trended_benchmark"}},
        {"version": 2},
        {"provider": {"id": "other", "name": "Provider", "npi": ""}},
    ],
)
def test_fingerprint_changes_with_any_rate_or_term(change):
    assert rules.fingerprint(document(**change)) != rules.fingerprint(document())


def test_diff_names_the_payment_terms_that_changed():
    before = document()
    after = document(
        version=2,
        effective_start="2026-07-01",
        rates={"medicaid/1/URBAN": "262.50"},
        withhold_percentage="0.0300",
    )
    diff = rules.diff(before, after)
    assert diff["payment_terms_changed"] == {
        "rates": True,
        "assessment_fees": False,
        "rules": False,
        "withhold": True,
        "quality": False,
        "shared_savings": False,
        "episode": False,
        "approval": False,
    }
    rate = next(c for c in diff["changes"] if c["section"] == "rates")
    assert (rate["before"], rate["after"], rate["difference"]) == ("250.00", "262.50", "12.50")
    assert rate["label"] == "Medicaid · Tier 1 Stable · URBAN"
    assert diff["sections_changed"] == ["period", "rates", "withhold"]
    quality = rules.diff(before, document(quality_terms=[{**before["quality_terms"][0], "target": "75"}]))
    assert quality["payment_terms_changed"]["quality"] is True
    assert quality["changes"][0]["path"] == "quality_terms.ed_visits_per_1000.target"


def test_plain_words():
    assert rules.describe_withhold("0.05").startswith("5% of each month's member-month payments is withheld")
    assert rules.describe_quality(
        {
            "measure": "readmission_30d_rate",
            "target": "0.12",
            "weight": "0.25",
            "direction": "lower",
            "minimum_denominator": 30,
        }
    ) == ("30-day readmission rate: target at most 12%, weight 25%; scored only with at least 30 discharges.")
    assert "capped at 10% of the baseline" in rules.describe_shared_savings(
        {
            "baseline_method": "trended_benchmark",
            "minimum_savings_rate": "0.02",
            "sharing_rate": "0.5",
            "cap": "0.1",
            "quality_gate": "0",
        }
    )
    assert rules.describe_shared_savings({}) == "No shared savings."


@pytest.mark.parametrize("measure", [["readmission_30d_rate"], {"code": "readmission_30d_rate"}, None, 7])
def test_a_quality_term_whose_measure_is_not_a_code_is_an_unknown_measure(measure):
    problems = []
    assert rules.validate_quality_terms([{"measure": measure, "target": "0.12"}], problems) == []
    assert [(p.path, p.code) for p in problems] == [("quality_terms[0].measure", "unknown_measure")]
