"""Every roster and assessment rule, each with a row that breaks it and one that passes."""

from __future__ import annotations

import datetime as dt

import pytest

from enrollment.calc import Span
from enrollment.ingest import roster as R
from enrollment.ingest.roster import (
    ASSESSMENT_COLUMNS,
    ROSTER_COLUMNS,
    RowSource,
    ValidationContext,
    tier_spans,
    validate_assessments,
    validate_roster,
)

D = dt.date
CTX = ValidationContext(
    month=D(2026, 3, 1),
    contract_start=D(2026, 1, 1),
    contract_end=D(2027, 1, 1),
    tier_codes={"1", "2", "3"},
    market_codes={"URBAN", "RURAL-N"},
    today=D(2026, 4, 10),
)

BASE = {
    "member_id": "M001",
    "last_name": "Garcia",
    "first_name": "David",
    "birth_date": "1948-02-09",
    "market": "URBAN",
    "enrollment_start": "2026-02-01",
    "enrollment_end": "",
    "disenrollment_reason": "",
    "tier": "2",
    "tier_start": "",
}


def roster(*rows: dict[str, str]) -> RowSource:
    return RowSource(
        ROSTER_COLUMNS,
        [(k + 2, tuple({**BASE, **r}[c] for c in ROSTER_COLUMNS)) for k, r in enumerate(rows)],
    )


def codes(result: R.Validation) -> list[str]:
    return [e.code for e in result.errors]


def check(**overrides: str) -> R.Validation:
    return validate_roster(roster(overrides), CTX)


def test_a_clean_row_passes_and_is_typed():
    result = check()
    assert result.ok and result.warnings == []
    (row,) = result.rows
    assert row == R.RosterRow(
        "M001", "Garcia", "David", D(1948, 2, 9), "URBAN", D(2026, 2, 1), None, None, "2", D(2026, 2, 1)
    )
    assert row.row == 2


@pytest.mark.parametrize("column", sorted(R.ROSTER_REQUIRED))
def test_required_values(column):
    result = check(**{column: ""})
    assert [(e.row, e.column, e.code) for e in result.errors] == [(2, column, R.REQUIRED)]
    assert result.rows == []


@pytest.mark.parametrize("column", ["birth_date", "enrollment_start", "enrollment_end", "tier_start"])
@pytest.mark.parametrize("bad", ["2026-02-30", "20260201", "02/01/2026", "2026-2-1", "yesterday"])
def test_dates_must_be_valid_iso(column, bad):
    extra = {"disenrollment_reason": "death"} if column == "enrollment_end" else {}
    result = check(**{column: bad}, **extra)
    assert (column, R.INVALID_DATE) in [(e.column, e.code) for e in result.errors]
    assert bad in next(e.message for e in result.errors if e.code == R.INVALID_DATE)


def test_end_before_start_fails_and_a_one_day_enrollment_passes():
    bad = check(enrollment_start="2026-03-10", enrollment_end="2026-03-09", disenrollment_reason="death")
    assert codes(bad) == [R.END_BEFORE_START]
    good = check(enrollment_start="2026-03-10", enrollment_end="2026-03-10", disenrollment_reason="death")
    assert good.ok


def test_enrollment_before_birth_fails_and_from_birth_passes():
    assert codes(check(birth_date="2026-02-15")) == [R.BEFORE_BIRTH]
    assert check(birth_date="2026-02-01").ok


def test_birth_in_the_future_fails_and_today_passes():
    bad = check(birth_date="2026-04-11", enrollment_start="2026-04-11")
    assert R.BIRTH_IN_FUTURE in codes(bad)
    assert check(birth_date="2026-03-01", enrollment_start="2026-03-01").ok


def test_reason_requires_an_end_and_an_end_requires_a_reason():
    assert codes(check(disenrollment_reason="death")) == [R.REASON_WITHOUT_END]
    assert codes(check(enrollment_end="2026-03-20")) == [R.END_WITHOUT_REASON]
    assert check(enrollment_end="2026-03-20", disenrollment_reason="death").ok


@pytest.mark.parametrize("reason", sorted(R.DISENROLLMENT_REASONS))
def test_every_pinned_reason_passes(reason):
    assert check(enrollment_end="2026-03-20", disenrollment_reason=reason).ok


def test_unknown_reason_fails_and_case_is_normalised():
    bad = check(enrollment_end="2026-03-20", disenrollment_reason="deceased")
    assert codes(bad) == [R.UNKNOWN_REASON]
    good = check(enrollment_end="2026-03-20", disenrollment_reason="Hospice")
    assert good.ok and good.rows[0].disenrollment_reason == "hospice"


def test_unknown_tier_and_market_fail_known_ones_pass():
    assert codes(check(tier="4")) == [R.UNKNOWN_TIER]
    assert codes(check(market="URBAN-X")) == [R.UNKNOWN_MARKET]
    assert check(tier="3", market="RURAL-N").ok


def test_row_must_overlap_the_month():
    ended_before = check(enrollment_end="2026-02-28", disenrollment_reason="moved")
    assert codes(ended_before) == [R.OUTSIDE_MONTH]
    starts_after = check(enrollment_start="2026-04-01")
    assert codes(starts_after) == [R.OUTSIDE_MONTH]
    assert check(enrollment_end="2026-03-01", disenrollment_reason="moved").ok
    assert check(enrollment_start="2026-03-31").ok


def test_row_must_overlap_the_contract_period():
    ctx = ValidationContext(
        month=D(2026, 3, 1),
        contract_start=D(2026, 3, 15),
        contract_end=D(2026, 3, 20),
        tier_codes={"2"},
        market_codes={"URBAN"},
        today=D(2026, 4, 10),
    )
    bad = validate_roster(roster({"enrollment_end": "2026-03-14", "disenrollment_reason": "moved"}), ctx)
    assert codes(bad) == [R.OUTSIDE_CONTRACT]
    late = validate_roster(roster({"enrollment_start": "2026-03-20"}), ctx)
    assert codes(late) == [R.OUTSIDE_CONTRACT]  # the end is exclusive: 03-20 is outside
    assert validate_roster(roster({"enrollment_start": "2026-03-19"}), ctx).ok


def test_tier_start_must_lie_inside_the_enrollment():
    assert codes(check(tier_start="2026-01-31")) == [R.TIER_START_OUTSIDE_ENROLLMENT]
    bad_after_end = check(enrollment_end="2026-03-10", disenrollment_reason="death", tier_start="2026-03-11")
    assert R.TIER_START_OUTSIDE_ENROLLMENT in codes(bad_after_end)
    assert check(tier_start="2026-02-01").ok


def test_rows_of_one_member_must_agree():
    bad = validate_roster(
        roster({}, {"tier": "3", "tier_start": "2026-03-10", "birth_date": "1948-02-10"}), CTX
    )
    assert [(e.row, e.column, e.code) for e in bad.errors] == [(3, "birth_date", R.INCONSISTENT_MEMBER)]
    assert "row 2" in bad.errors[0].message
    good = validate_roster(roster({}, {"tier": "3", "tier_start": "2026-03-10"}), CTX)
    assert good.ok and len(good.rows) == 2


def test_two_tiers_starting_the_same_day_overlap():
    bad = validate_roster(
        roster({"tier_start": "2026-02-01"}, {"tier": "3", "tier_start": "2026-02-01"}), CTX
    )
    assert [(e.row, e.code) for e in bad.errors] == [(3, R.TIER_OVERLAP)]
    assert "row 2" in bad.errors[0].message
    # tier_start defaults to enrollment_start, so a blank and an explicit start collide too
    implicit = validate_roster(roster({}, {"tier": "3", "tier_start": "2026-02-01"}), CTX)
    assert codes(implicit) == [R.TIER_OVERLAP]


def test_duplicate_rows_are_reported_once_naming_both_rows():
    result = validate_roster(roster({}, {"member_id": "M002"}, {}), CTX)
    assert [(e.row, e.code) for e in result.errors] == [(4, R.DUPLICATE_ROW)]
    assert "row 4" in result.errors[0].message and "row 2" in result.errors[0].message
    three = validate_roster(roster({}, {}, {}), CTX)
    assert [(e.row, e.code) for e in three.errors] == [(3, R.DUPLICATE_ROW), (4, R.DUPLICATE_ROW)]


def test_a_tier_gap_inside_the_month_fails():
    bad = check(enrollment_start="2026-03-01", tier_start="2026-03-05")
    assert codes(bad) == [R.TIER_GAP]
    # an earlier tier row missing before the month is fine: the gap is not in this month
    assert check(enrollment_start="2025-06-01", tier_start="2026-02-20").ok


def test_a_tier_period_wholly_outside_the_month_is_a_warning():
    result = validate_roster(
        roster(
            {"enrollment_start": "2025-06-01"},
            {"enrollment_start": "2025-06-01", "tier": "3", "tier_start": "2026-01-10"},
        ),
        CTX,
    )
    assert result.ok
    assert [(w.row, w.code) for w in result.warnings] == [(2, R.TIER_PERIOD_OUTSIDE_MONTH)]


def test_every_error_is_collected_not_only_the_first():
    result = validate_roster(
        roster(
            {"member_id": "", "birth_date": "1948-13-01", "market": "X", "tier": "9"},
            {"member_id": "M009", "enrollment_end": "2026-01-01", "enrollment_start": "2026-02-01"},
        ),
        CTX,
    )
    assert [(e.row, e.code) for e in result.errors] == [
        (2, R.REQUIRED),
        (2, R.INVALID_DATE),
        (2, R.UNKNOWN_MARKET),
        (2, R.UNKNOWN_TIER),
        (3, R.END_BEFORE_START),
        (3, R.END_WITHOUT_REASON),
    ]


def test_issue_codes_are_a_stable_public_contract():
    assert (R.REQUIRED, R.INVALID_DATE, R.END_BEFORE_START, R.BEFORE_BIRTH, R.BIRTH_IN_FUTURE) == (
        "required",
        "invalid_date",
        "end_before_start",
        "before_birth",
        "birth_in_future",
    )
    assert (R.REASON_WITHOUT_END, R.END_WITHOUT_REASON, R.UNKNOWN_REASON, R.UNKNOWN_TIER) == (
        "reason_without_end",
        "end_without_reason",
        "unknown_reason",
        "unknown_tier",
    )
    assert (R.UNKNOWN_MARKET, R.OUTSIDE_MONTH, R.OUTSIDE_CONTRACT, R.INCONSISTENT_MEMBER) == (
        "unknown_market",
        "outside_month",
        "outside_contract",
        "inconsistent_member",
    )
    assert (R.TIER_OVERLAP, R.DUPLICATE_ROW, R.UNKNOWN_OUTCOME) == (
        "tier_overlap",
        "duplicate_row",
        "unknown_outcome",
    )


def test_context_refuses_a_month_that_is_not_a_first_day():
    with pytest.raises(ValueError):
        ValidationContext(D(2026, 3, 2), D(2026, 1, 1), None, {"1"}, {"U"}, D(2026, 4, 1))


def test_tier_spans_turn_inclusive_ends_into_half_open_periods():
    result = validate_roster(
        roster(
            {"enrollment_end": "2026-03-20", "disenrollment_reason": "death", "tier": "1"},
            {
                "enrollment_end": "2026-03-20",
                "disenrollment_reason": "death",
                "tier": "3",
                "tier_start": "2026-03-15",
            },
            {"member_id": "M002"},
        ),
        CTX,
    )
    assert result.ok
    assert tier_spans(result.rows) == {
        "M001": [Span(D(2026, 2, 1), D(2026, 3, 15), "1"), Span(D(2026, 3, 15), D(2026, 3, 21), "3")],
        "M002": [Span(D(2026, 2, 1), None, "2")],
    }


# --------------------------------------------------------------------------- assessments
ABASE = {
    "member_id": "M001",
    "last_name": "Garcia",
    "first_name": "David",
    "birth_date": "1948-02-09",
    "market": "URBAN",
    "assessment_date": "2026-03-04",
    "outcome": "enrolled",
    "assessor_role": "np",
    "referral_date": "",  # the optional extension column, absent from older files
}


def assessments(*rows: dict[str, str]) -> RowSource:
    return RowSource(
        ASSESSMENT_COLUMNS,
        [(k + 2, tuple({**ABASE, **r}[c] for c in ASSESSMENT_COLUMNS)) for k, r in enumerate(rows)],
    )


def acheck(ctx: ValidationContext = CTX, **overrides: str) -> R.Validation:
    return validate_assessments(assessments(overrides), ctx)


def test_a_clean_assessment_passes():
    result = acheck()
    assert result.ok
    assert result.rows[0] == R.AssessmentRow(
        "M001", "Garcia", "David", D(1948, 2, 9), "URBAN", D(2026, 3, 4), "enrolled", "np"
    )


@pytest.mark.parametrize("column", sorted(R.ASSESSMENT_REQUIRED))
def test_assessment_required_values(column):
    assert codes(acheck(**{column: ""})) == [R.REQUIRED]


@pytest.mark.parametrize("outcome", sorted(R.ASSESSMENT_OUTCOMES))
def test_every_pinned_outcome_passes(outcome):
    assert acheck(outcome=outcome).ok


def test_unknown_outcome_fails():
    assert codes(acheck(outcome="referred")) == [R.UNKNOWN_OUTCOME]


def test_referral_date_is_optional_and_not_after_the_assessment():
    assert acheck().rows[0].referral_date is None
    assert acheck(referral_date="2026-02-20").rows[0].referral_date == D(2026, 2, 20)
    assert acheck(referral_date="2026-03-04").ok  # the same day as the assessment
    late = acheck(referral_date="2026-03-05")
    assert [(p.row, p.column, p.code) for p in late.errors] == [
        (2, "referral_date", R.REFERRAL_AFTER_ASSESSMENT)
    ]
    assert late.errors[0].message == "referral_date 2026-03-05 is after assessment_date 2026-03-04"
    assert [(p.column, p.code) for p in acheck(referral_date="2026-02-30").errors] == [
        ("referral_date", R.INVALID_DATE)
    ]


def test_assessment_date_rules():
    assert codes(acheck(assessment_date="2026-04-11")) == [R.DATE_IN_FUTURE]
    assert acheck(assessment_date="2026-04-10").ok
    assert codes(acheck(assessment_date="2026-03-32")) == [R.INVALID_DATE]
    assert codes(acheck(birth_date="2026-03-05")) == [R.BEFORE_BIRTH]
    assert codes(acheck(assessment_date="2025-12-31")) == [R.OUTSIDE_CONTRACT]
    assert codes(acheck(birth_date="2026-04-11", assessment_date="2026-04-10")) == [
        R.BIRTH_IN_FUTURE,
        R.BEFORE_BIRTH,
    ]


def test_assessment_market_and_role():
    assert codes(acheck(market="NOPE")) == [R.UNKNOWN_MARKET]
    strict = ValidationContext(
        CTX.month,
        CTX.contract_start,
        CTX.contract_end,
        CTX.tier_codes,
        CTX.market_codes,
        CTX.today,
        {"np", "md"},
    )
    assert codes(acheck(strict, assessor_role="chaplain")) == [R.UNKNOWN_ROLE]
    assert acheck(strict, assessor_role="md").ok


def test_assessment_duplicates_and_inconsistent_members():
    dup = validate_assessments(assessments({}, {}), CTX)
    assert [(e.row, e.code) for e in dup.errors] == [(3, R.DUPLICATE_ROW)]
    bad = validate_assessments(assessments({}, {"assessment_date": "2026-03-20", "first_name": "Dave"}), CTX)
    assert [(e.row, e.column, e.code) for e in bad.errors] == [(3, "first_name", R.INCONSISTENT_MEMBER)]
    two = validate_assessments(assessments({}, {"assessment_date": "2026-03-20"}), CTX)
    assert two.ok and len(two.rows) == 2
