"""Referral dates (issue 14, point 7): assessments carry an optional referral date, so
``assessment_within_n_days_rate`` is scored (assessment date - referral date <= N days, over the
assessments with a referral date); a contract cannot choose a measure no file carries data for."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import rules
from performance import measures as m
from performance import selectors
from tests.fixtures.contracts import submit_roster

from .conftest import JAN, D, make_contract, roster_member

pytestmark = pytest.mark.django_db


def referral_term(n_days: int = 14, minimum: int = 0) -> dict:
    return {
        "measure": "assessment_within_n_days_rate",
        "target": "0.6",
        "weight": "1",
        "minimum_denominator": minimum,
        "n_days": n_days,
    }


def assessment(member_id: str, on, referral=None) -> dict:
    return {
        "member_id": member_id,
        "last_name": f"LAST{member_id}",
        "first_name": "ANA",
        "birth_date": "1940-05-17",
        "market": "URBAN",
        "assessment_date": on.isoformat(),
        "outcome": "declined",
        "assessor_role": "np",
        "referral_date": referral.isoformat() if referral else "",
    }


@pytest.mark.parametrize(
    ("gaps", "n_days", "numerator", "denominator"),
    [
        ([14], 14, 1, 1),  # exactly N days: within
        ([15], 14, 0, 1),  # one day more: not
        ([0, 14, 15, 30], 14, 2, 4),
        ([], 14, 0, 0),  # no referral dates: nothing to score
        ([7, 8], 7, 1, 2),
    ],
)
def test_within_n_days_counts_exactly_n_as_within(gaps, n_days, numerator, denominator):
    data = m.assessment_within_n_days(gaps, n_days)
    assert (data.numerator, data.denominator) == (Decimal(numerator), Decimal(denominator))


@given(gaps=st.lists(st.integers(min_value=0, max_value=400)), n_days=st.integers(min_value=1, max_value=365))
def test_within_n_days_is_a_share_of_the_referred(gaps, n_days):
    data = m.assessment_within_n_days(gaps, n_days)
    assert data.denominator == len(gaps)
    assert data.numerator == len([g for g in gaps if g <= n_days]) <= data.denominator


@pytest.fixture
def referred(plan_scope, provider, provider_scope, bundle_version):
    """January 2026: four assessments, referred 14 days before, 15 days before, the same day, and one without
    a referral date (not counted)."""
    contract = make_contract(
        plan_scope=plan_scope,
        provider=provider,
        provider_scope=provider_scope,
        bundle_version=bundle_version,
        quality=[referral_term()],
        savings={},
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN,
        rows=[roster_member("P1")],
        assessments=[
            assessment("A1", D(2026, 1, 20), D(2026, 1, 6)),  # 14 days
            assessment("A2", D(2026, 1, 20), D(2026, 1, 5)),  # 15 days
            assessment("A3", D(2026, 1, 12), D(2026, 1, 12)),  # the same day
            assessment("A4", D(2026, 1, 15)),  # no referral date
        ],
    )
    return contract


def test_the_measure_is_scored_from_the_assessments_referral_dates(referred, analyst_api):
    body = analyst_api.get(f"/api/v1/performance/contracts/{referred.number}/", {"period": "2026-01"}).json()
    measure = {row["code"]: row for row in body["measures"]}["assessment_within_n_days_rate"]
    assert (Decimal(measure["numerator"]), Decimal(measure["denominator"])) == (2, 3)
    assert Decimal(measure["rate"]) == Decimal("0.666667")
    assert measure["scored"] and measure["met"]  # 2/3 >= 60%
    assert Decimal(body["composite_score"]) == 1


def test_the_terms_n_decides_what_is_within(referred):
    months = list(selectors.month_data(referred, JAN, D(2026, 2, 1)).values())
    assert sorted(months[0].referral_days) == [0, 14, 15]
    assert selectors.term_data(referral_term(n_days=15), months).numerator == 3
    assert selectors.term_data(referral_term(n_days=13), months).numerator == 1


def test_every_measure_a_contract_may_choose_has_a_data_source_the_platform_reads():
    scorable = {code for code, measure in rules.QUALITY_MEASURES.items() if measure.source}
    assert scorable == set(rules.QUALITY_MEASURES)  # the referral-based measure included, now
    assert set(selectors.measure_data([selectors.MonthData()])) == set(m.MEASURE_UNITS) == scorable


def test_a_measure_without_data_is_refused_with_a_clear_error(monkeypatch):
    code = "satisfaction_score"
    monkeypatch.setitem(
        rules.QUALITY_MEASURES, code, dataclasses.replace(rules.QUALITY_MEASURES[code], source=None)
    )
    problems: list = []
    rules.validate_quality_terms([{"measure": code, "target": "85", "weight": "1"}], problems)
    assert [(p.path, p.code) for p in problems] == [("quality_terms[0].measure", "measure_without_data")]
    assert problems[0].message.startswith("Patient and family satisfaction score cannot be scored")
