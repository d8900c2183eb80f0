"""Amendment flags (issue 14, point 6): the contract terms are one declarative table
(``contracts.rules.TERMS``) and every term that moves money is flagged in an amendment's diff; the
single-approval limit of four eyes is one of them."""

from __future__ import annotations

import pytest
from django.db import models

from contracts import rules
from contracts.models import AssessmentFee, ContractVersion, RateScheduleEntry
from tests.contracts.test_contracts_terms import document

# The version model's fields that are not terms: identity and the workflow of a version.
NOT_TERMS = {
    "id",
    "contract",
    "number",
    "status",
    "pricing_run_id",
    "in_force_end",
    "fingerprint",
    "proposal_round",
    "offer_side",  # whose offer is on the table while negotiated (counter-offers)
    "offer_kind",
    "sent_at",
    "proposed_at",
    "activated_at",
    "created_by",
    "created_at",
    "updated_at",
}


def test_every_term_field_of_the_version_model_is_in_the_terms_table():
    """A new term on the model must be declared in TERMS (moving money or not), so the amendment diff
    cannot forget it."""
    declared = {term.model_name for term in rules.TERMS}
    fields = {
        f.name
        for f in ContractVersion._meta.get_fields()
        if f.concrete and not f.auto_created or f.name == "id"
    }
    assert fields - NOT_TERMS - declared == set()
    assert declared - fields == {"rates", "assessment_fees"}  # the two related tables
    # the related tables' money is declared through them
    assert RateScheduleEntry._meta.get_field("version").remote_field.related_name == "rates"
    assert AssessmentFee._meta.get_field("version").remote_field.related_name == "assessment_fees"


def test_every_money_field_of_the_version_model_moves_money():
    money_fields = {
        f.name
        for f in ContractVersion._meta.get_fields()
        if isinstance(f, models.DecimalField | models.JSONField) and f.name not in NOT_TERMS
    }
    money_fields -= {"markets", "lines_of_business"}  # coverage lists, not amounts
    by_model = {term.model_name: term for term in rules.TERMS}
    assert money_fields and all(by_model[name].moves_money for name in money_fields)
    for name in ("proration_rule", "tier_rule", "retro_window_months", "single_approval_limit"):
        assert by_model[name].moves_money, name
    assert not by_model["roster_due_day"].moves_money


@pytest.mark.parametrize(
    ("change", "section", "term"),
    [
        ({"proration_rule": "daily"}, "rules", "proration_rule"),
        ({"tier_rule": "highest"}, "rules", "tier_rule"),
        ({"retro_window_months": 6}, "rules", "retro_window_months"),
        ({"withhold_percentage": "0.0300"}, "withhold", "withhold_percentage"),
        ({"rates": {"medicaid/1/URBAN": "251.00"}}, "rates", "rates"),
        ({"assessment_fees": {"URBAN": "301.00"}}, "assessment_fees", "assessment_fees"),
        ({"assessment_lookback_months": 6}, "assessment_fees", "assessment_lookback_months"),
        ({"quality_terms": []}, "quality", "quality_terms"),
        ({"quality_bonus": {"threshold": "0.9", "percentage": "0.02"}}, "quality", "quality_bonus"),
        ({"shared_savings_terms": {"sharing_rate": "0.5"}}, "shared_savings", "shared_savings_terms"),
        ({"single_approval_limit": "500.00"}, "approval", "single_approval_limit"),
    ],
)
def test_a_change_of_a_money_term_is_flagged(change, section, term):
    diff = rules.diff(document(), document(version=2, **change))
    assert diff["payment_terms_changed"][section] is True
    assert diff["money_terms_changed"] == [term]
    assert diff["changes"] and all(c["moves_money"] and c["term"] == term for c in diff["changes"])


def test_a_change_that_moves_no_money_is_not_a_payment_term_change():
    diff = rules.diff(document(), document(version=2, roster_due_day=15, termination_notice_days=60))
    assert diff["sections_changed"] == ["rules", "termination"]
    assert not any(diff["payment_terms_changed"].values())
    assert diff["money_terms_changed"] == []
    assert [c["moves_money"] for c in diff["changes"]] == [False, False]


def test_the_limit_enters_the_fingerprint_only_when_set():
    assert rules.fingerprint(document(single_approval_limit=None)) == rules.fingerprint(document())
    assert rules.fingerprint(document(single_approval_limit="500.00")) != rules.fingerprint(document())


@pytest.mark.parametrize(
    ("value", "code"),
    [("0", "not_positive"), ("-1", "not_positive"), ("12.345", "too_many_places"), ("abc", "not_a_number")],
)
def test_the_limit_is_validated(value, code):
    _, problems = rules.validate_terms(
        {**document(), "single_approval_limit": value}, allowed_markets=["URBAN"], allowed_lobs=["medicaid"]
    )
    assert [(p.path, p.code) for p in problems] == [("single_approval_limit", code)]


@pytest.fixture
def plan_api(plan_cm, api_for):
    return api_for(plan_cm)


def test_proration_and_tier_rule_amendment_is_flagged_through_the_api(plan_api, active_contract):
    contract = active_contract()
    plan_api.post(
        f"/api/v1/contracts/{contract.number}/amend/", {"effective_start": "2026-07-01"}, format="json"
    )
    patched = plan_api.patch(
        f"/api/v1/contracts/{contract.number}/versions/2/",
        {"proration_rule": "daily", "tier_rule": "highest", "single_approval_limit": "2500.00"},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["single_approval_limit"] == "2500.00"
    diff = plan_api.get(f"/api/v1/contracts/{contract.number}/versions/2/diff/").json()
    assert diff["payment_terms_changed"]["rules"] is True
    assert diff["payment_terms_changed"]["approval"] is True
    assert diff["money_terms_changed"] == ["proration_rule", "tier_rule", "single_approval_limit"]
    flagged = {c["path"]: c["moves_money"] for c in diff["changes"]}
    assert flagged == {
        "effective_start": False,
        "proration_rule": True,
        "tier_rule": True,
        "single_approval_limit": True,
    }
    bad = plan_api.patch(
        f"/api/v1/contracts/{contract.number}/versions/2/", {"single_approval_limit": "-5"}, format="json"
    )
    assert bad.status_code == 400


def test_the_diff_page_marks_the_terms_that_change_payments(plan_api, client, active_contract, plan_cm):
    contract = active_contract()
    plan_api.post(
        f"/api/v1/contracts/{contract.number}/amend/", {"effective_start": "2026-07-01"}, format="json"
    )
    plan_api.patch(
        f"/api/v1/contracts/{contract.number}/versions/2/", {"proration_rule": "daily"}, format="json"
    )
    client.force_login(plan_cm)
    html = client.get(f"/contracts/{contract.number}/versions/2/diff/").content.decode()
    assert "Proration rule" in html and "changes payments" in html


def test_the_approval_rule_in_plain_words():
    assert rules.describe_approval(None).startswith("Every payment, settlement, ledger correction and refund")
    assert "$2,500.00 or more" in rules.describe_approval("2500.00")


def test_the_recovery_offset_share_through_the_api_and_the_edit_page(
    plan_api, client, active_contract, plan_cm
):
    """Issue 14, point 3: the share of each payment an open receivable takes back is a money rule."""
    contract = active_contract()
    plan_api.post(
        f"/api/v1/contracts/{contract.number}/amend/", {"effective_start": "2026-07-01"}, format="json"
    )
    url = f"/api/v1/contracts/{contract.number}/versions/2/"
    assert plan_api.get(url).json()["recovery_offset_share"] is None  # not set: all of each payment
    patched = plan_api.patch(url, {"recovery_offset_share": "0.5"}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["recovery_offset_share"] == "0.500000"
    diff = plan_api.get(f"{url}diff/").json()
    assert diff["money_terms_changed"] == ["recovery_offset_share"]
    assert diff["payment_terms_changed"]["rules"] is True
    for value, code in (("0", "not_positive"), ("1.000001", "too_large")):
        bad = plan_api.patch(url, {"recovery_offset_share": value}, format="json")
        assert bad.status_code == 400, value
        assert [(p["path"], p["code"]) for p in bad.json()["details"]["problems"]] == [
            ("recovery_offset_share", code)
        ]
    assert (
        plan_api.patch(url, {"recovery_offset_share": None}, format="json").json()["recovery_offset_share"]
        is None
    )
    client.force_login(plan_cm)
    edit = client.get(f"/contracts/{contract.number}/versions/2/edit/").content.decode()
    assert 'name="recovery_offset_percent"' in edit and "Recovery offset (% of each payment)" in edit
    version = ContractVersion.objects.get(contract=contract, number=2)
    assert version.recovery_offset_share is None
