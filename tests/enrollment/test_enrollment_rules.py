"""Every roster rule through the submission service: a failing row and a passing one.

The pure validator has its own tests (test_roster_validation.py); these check that the service
applies each rule with the contract's terms, the plan's eligibility and the other providers'
rosters, and that a rejected roster stores nothing but its errors.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import ApplicationError
from enrollment import calc, services
from enrollment.models import RosterEntry, RosterSubmission
from tests.enrollment.conftest import (
    MONTH,
    PREVIOUS,
    TODAY,
    assessment_row,
    assessments_file,
    day,
    eligibility_upload,
    make_834,
    roster_file,
    roster_row,
)
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(contract, provider_scope):
    def run(rows, month=MONTH, assessments=None, name="roster.csv", scope=None, on=None):
        return services.roster_submit(
            scope=scope or provider_scope,
            contract=on or contract,
            month=month,
            file=roster_file(rows, name),
            assessments_file=assessments_file(assessments) if assessments is not None else None,
        )

    return run


def codes(submission, severity="error"):
    return [(i.row, i.column, i.code) for i in submission.issues.filter(severity=severity)]


def test_a_valid_roster_is_accepted_and_stored(submit):
    submission = submit([roster_row("M001"), roster_row("M002", tier="2")])
    assert submission.status == "accepted" and submission.is_current and submission.version == 1
    assert RosterEntry.objects.filter(submission=submission).count() == 2
    assert submission.member_count == 2 and submission.error_count == 0


def test_required_columns(submit, provider_scope, contract):
    bad = b"member_id,last_name,first_name,birth_date,enrollment_start,tier\nM001,DOE,ANA,1940-01-01,2026-01-01,1\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    submission = services.roster_submit(
        scope=provider_scope, contract=contract, month=MONTH, file=SimpleUploadedFile("r.csv", bad)
    )
    assert submission.status == "rejected"
    assert (1, "market", "missing_column") in codes(submission)
    assert not RosterEntry.objects.exists()


def test_required_values(submit):
    submission = submit([roster_row("M001", first_name=""), roster_row("M002")])
    assert codes(submission) == [(2, "first_name", "required")]
    assert submit([roster_row("M001"), roster_row("M002")]).status == "accepted"


def test_dates_must_be_valid(submit):
    submission = submit([roster_row("M001", enrollment_start="2026-02-30")])
    assert codes(submission) == [(2, "enrollment_start", "invalid_date")]


def test_start_must_not_be_after_end(submit):
    submission = submit(
        [roster_row("M001", enrollment_start=day(20), enrollment_end=day(5), disenrollment_reason="moved")]
    )
    assert (2, "enrollment_end", "end_before_start") in codes(submission)
    ok = submit(
        [roster_row("M001", enrollment_start=day(5), enrollment_end=day(5), disenrollment_reason="moved")]
    )
    assert ok.status == "accepted"


def test_enrollment_not_before_birth_and_birth_not_in_future(submit):
    submission = submit(
        [
            roster_row("M001", birth_date=day(3), enrollment_start=day(1)),
            roster_row("M002", birth_date=(TODAY + dt.timedelta(days=30)).isoformat()),
        ]
    )
    found = codes(submission)
    assert (2, "enrollment_start", "before_birth") in found
    assert (3, "birth_date", "birth_in_future") in found
    assert submit([roster_row("M001", birth_date=day(1), enrollment_start=day(1))]).status == "accepted"


def test_a_row_must_overlap_the_month(submit):
    submission = submit(
        [
            roster_row(
                "M001",
                enrollment_start=day(1, PREVIOUS),
                enrollment_end=day(20, PREVIOUS),
                disenrollment_reason="death",
            )
        ]
    )
    assert codes(submission) == [(2, "enrollment_start", "outside_month")]
    last_day = (calc.next_month(MONTH) - dt.timedelta(days=1)).isoformat()
    assert submit([roster_row("M001", enrollment_start=last_day)]).status == "accepted"


def test_a_row_must_overlap_the_contract_period(active_contract, provider_scope, submit):
    late_start = active_contract(effective_start=MONTH, markets=["RURAL-N"])
    rows = [
        roster_row(
            "M001",
            market="RURAL-N",
            enrollment_start=day(1, calc.add_months(MONTH, -3)),
            enrollment_end=day(28, PREVIOUS),
            disenrollment_reason="moved",
        )
    ]
    submission = submit(rows, on=late_start)
    assert (2, "enrollment_start", "outside_contract") in codes(submission)
    assert submit([roster_row("M001", market="RURAL-N")], on=late_start).status == "accepted"


def test_tier_and_market_codes_exist_in_the_contract(submit):
    submission = submit([roster_row("M001", tier="9"), roster_row("M002", market="RURAL-N")])
    assert codes(submission) == [(2, "tier", "unknown_tier"), (3, "market", "unknown_market")]
    assert submit([roster_row("M001", tier="3"), roster_row("M002", market="URBAN-E")]).status == "accepted"


def test_a_disenrollment_reason_if_and_only_if_an_end_date(submit):
    submission = submit(
        [
            roster_row("M001", disenrollment_reason="death"),
            roster_row("M002", enrollment_end=day(9)),
            roster_row("M003", enrollment_end=day(9), disenrollment_reason="abducted"),
        ]
    )
    assert codes(submission) == [
        (2, "disenrollment_reason", "reason_without_end"),
        (3, "disenrollment_reason", "end_without_reason"),
        (4, "disenrollment_reason", "unknown_reason"),
    ]
    assert (
        submit([roster_row("M002", enrollment_end=day(9), disenrollment_reason="death")]).status == "accepted"
    )


def test_rows_of_one_member_are_consistent_with_non_overlapping_tier_periods(submit):
    submission = submit(
        [
            roster_row("M001", tier="1"),
            roster_row("M001", tier="2", tier_start=day(1, PREVIOUS)),
            roster_row("M002", tier="1"),
            roster_row("M002", tier="2", tier_start=day(12), market="URBAN-E"),
        ]
    )
    found = codes(submission)
    assert (3, "tier_start", "tier_overlap") in found
    assert (5, "market", "inconsistent_member") in found
    changed = submit([roster_row("M001", tier="1"), roster_row("M001", tier="2", tier_start=day(12))])
    assert changed.status == "accepted" and changed.member_count == 1


def test_duplicate_rows_are_reported_once_with_both_row_numbers(submit):
    submission = submit([roster_row("M001"), roster_row("M002"), roster_row("M001")])
    errors = list(submission.issues.filter(severity="error"))
    assert [(e.row, e.code) for e in errors] == [(4, "duplicate_row")]
    assert "row 4 repeats row 2" in errors[0].message


def test_a_member_cannot_be_enrolled_with_two_providers_for_the_bundle_in_a_month(active_contract, submit):
    other = ProviderFactory()
    other_contract = active_contract(provider_org=other)
    from tests.enrollment.conftest import scope_of

    other_scope = scope_of(other.memberships.get().user, other)
    assert (
        submit([roster_row("M001"), roster_row("M777")], scope=other_scope, on=other_contract).status
        == "accepted"
    )
    submission = submit([roster_row("M001"), roster_row("M002")])
    assert codes(submission) == [(2, "member_id", "enrolled_elsewhere")]
    assert "another provider" in submission.issues.get().message
    assert submit([roster_row("M002")]).status == "accepted"
    # Another month is free.
    assert submit([roster_row("M001")], month=PREVIOUS).status == "accepted"


def test_members_must_be_in_the_plans_eligibility_once_it_is_loaded(submit, analyst_scope):
    assert submit([roster_row("M001"), roster_row("M404")]).status == "accepted"  # nothing loaded yet
    eligible_from = calc.add_months(MONTH, -6)
    services.eligibility_file_load(
        scope=analyst_scope,
        file=eligibility_upload(
            make_834(
                [
                    ("M001", "LAST001", "ANA", "19400517", eligible_from, None),
                    ("M002", "LAST002", "ANA", "19400517", eligible_from, PREVIOUS.replace(day=28)),
                    ("M003", "LASTNAME", "ANA", "19400517", eligible_from, None),
                ]
            )
        ),
    )
    submission = submit([roster_row("M001"), roster_row("M002"), roster_row("M404")])
    assert codes(submission) == [(3, "member_id", "not_eligible"), (4, "member_id", "not_eligible")]
    issues = list(submission.issues.filter(severity="error"))
    # The provider reads the same words for a member the plan has and for an id it never had (issue 20);
    # the plan reads which is which in plan_detail.
    assert issues[0].message.replace("M002", "M404") == issues[1].message
    assert "not eligible with the plan on any enrolled day" in issues[0].message
    assert (
        "in the plan's eligibility file; eligible" in issues[0].plan_detail
        and "not in the plan's eligibility file" in issues[1].plan_detail
    )
    accepted = submit([roster_row("M001"), roster_row("M003")])
    assert accepted.status == "accepted"
    assert codes(accepted, "warning") == [(3, "last_name", "eligibility_mismatch")]


def test_a_member_losing_eligibility_mid_month_is_flagged(submit, analyst_scope):
    services.eligibility_file_load(
        scope=analyst_scope,
        file=eligibility_upload(
            make_834(
                [("M001", "LAST001", "ANA", "19400517", calc.add_months(MONTH, -6), MONTH.replace(day=14))]
            )
        ),
    )
    submission = submit([roster_row("M001")])
    assert submission.status == "accepted"
    assert codes(submission, "warning") == [(2, "member_id", "eligibility_partial")]


def test_a_birth_date_mismatch_with_eligibility_is_a_warning(submit, analyst_scope):
    services.eligibility_file_load(
        scope=analyst_scope,
        file=eligibility_upload(
            make_834([("M001", "LAST001", "ANA", "19400518", calc.add_months(MONTH, -6), None)])
        ),
    )
    submission = submit([roster_row("M001")])
    assert submission.status == "accepted"
    assert codes(submission, "warning") == [(2, "birth_date", "eligibility_mismatch")]


def test_a_month_older_than_the_retro_window_is_refused(submit):
    too_old = calc.add_months(TODAY.replace(day=1), -4)
    with pytest.raises(ApplicationError) as refused:
        submit([roster_row("M001", enrollment_start=day(1, calc.add_months(too_old, -1)))], month=too_old)
    assert refused.value.code == "outside_retro_window"
    oldest = calc.add_months(TODAY.replace(day=1), -3)
    # The refusal says which month is the earliest still open.
    assert refused.value.details["earliest_month"] == f"{oldest:%Y-%m}"
    assert refused.value.message.endswith(f"The earliest month a roster can be sent for is {oldest:%Y-%m}.")
    assert "retro window of 3 months" in refused.value.message
    assert (
        submit(
            [roster_row("M001", enrollment_start=day(1, calc.add_months(oldest, -1)))], month=oldest
        ).status
        == "accepted"
    )
    assert not RosterSubmission.objects.filter(month=too_old).exists()


def test_a_future_month_and_a_month_outside_the_contract_are_refused(submit, active_contract):
    with pytest.raises(ApplicationError) as future:
        submit([roster_row("M001")], month=calc.add_months(TODAY.replace(day=1), 1))
    assert future.value.code == "month_in_future"
    ended = active_contract(
        markets=["RURAL-S"], effective_start=calc.add_months(MONTH, -6), effective_end=MONTH
    )
    with pytest.raises(ApplicationError) as outside:
        submit([roster_row("M001", market="RURAL-S")], on=ended)
    assert outside.value.code == "contract_not_in_force"


def test_a_start_date_that_differs_from_last_months_roster_is_a_warning(submit):
    start = day(1, calc.add_months(MONTH, -2))
    assert submit([roster_row("M001", enrollment_start=start)], month=PREVIOUS).status == "accepted"
    submission = submit([roster_row("M001", enrollment_start=day(3, calc.add_months(MONTH, -2)))])
    assert submission.status == "accepted"
    assert codes(submission, "warning") == [(2, "enrollment_start", "start_changed")]
    assert codes(submit([roster_row("M001", enrollment_start=start)]), "warning") == []


def test_a_member_id_longer_than_stored_is_refused(submit):
    submission = submit([roster_row("M" + "9" * 80)])
    assert codes(submission) == [(2, "member_id", "too_long")]


def test_a_second_assessment_in_the_lookback_window_is_not_payable(submit):
    first = submit(
        [roster_row("M001")],
        month=PREVIOUS,
        assessments=[
            assessment_row("M001", assessment_date=day(4, PREVIOUS)),
            assessment_row("M002", assessment_date=day(6, PREVIOUS), outcome="declined"),
        ],
    )
    assert first.status == "accepted" and first.payable_assessment_count == 2
    second = submit(
        [roster_row("M001")],
        assessments=[
            assessment_row("M001", assessment_date=day(2)),
            assessment_row("M003", assessment_date=day(9)),
        ],
    )
    assert second.status == "accepted"
    decisions = {a.member_id: (a.payable, a.reason) for a in second.assessments.all()}
    assert decisions == {"M001": (False, "second_in_lookback"), "M003": (True, "")}
    assert "not_payable" in {i.code for i in second.issues.filter(severity="warning")}


def test_assessment_errors_reject_the_whole_submission(submit):
    submission = submit([roster_row("M001")], assessments=[assessment_row("M001", outcome="maybe")])
    assert submission.status == "rejected"
    assert [(i.source, i.row, i.code) for i in submission.issues.filter(severity="error")] == [
        ("assessments", 2, "unknown_outcome")
    ]
    assert not RosterEntry.objects.exists()
