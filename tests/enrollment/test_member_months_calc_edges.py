"""Member-months and the assessment look-back at their edges (issue 21).

Each test names the case a mutant of enrollment/calc.py showed was unpinned; each one is checked
on both the one-member function and the vectorised bulk one, which must agree.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from enrollment.calc import (
    ANY_DAY,
    DAILY,
    FIRST_DAY,
    FIRST_OF_MONTH,
    HIGHEST,
    MID_MONTH,
    MM_QUANTUM,
    ONE_MM,
    PRORATION_RULES,
    SECOND_IN_LOOKBACK,
    ZERO_MM,
    Assessment,
    AssessmentDecision,
    MemberMonth,
    Span,
    assessment_payable,
    daily_fraction,
    member_months,
    member_months_bulk,
)

D = dt.date
M = Decimal
MARCH = D(2026, 3, 1)  # 31 days
APRIL = D(2026, 4, 1)
TIERS = ("1", "2", "3")


def both(
    spans: list[Span], rule: str, tier_rule: str = FIRST_DAY, month: dt.date = MARCH
) -> MemberMonth | None:
    """The one-member result, after checking the bulk function gives the same."""
    one = member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    bulk = member_months_bulk({"m": spans}, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    assert bulk.get("m") == one
    return one


# --- mid_month and first_of_month: the day itself, half-open spans --------------------------


def test_a_span_ending_on_the_15th_is_not_enrolled_on_the_15th_under_mid_month():
    # [Mar 1, Mar 15) ends before the 15th: 14 days enrolled, no member-month.
    assert both([Span(MARCH, D(2026, 3, 15), "1")], MID_MONTH) == MemberMonth("1", ZERO_MM, 14)
    # One day more and the 15th is covered.
    assert both([Span(MARCH, D(2026, 3, 16), "1")], MID_MONTH) == MemberMonth("1", ONE_MM, 15)


def test_a_span_starting_on_the_15th_is_enrolled_on_the_15th_under_mid_month():
    assert both([Span(D(2026, 3, 15), None, "2")], MID_MONTH) == MemberMonth("2", ONE_MM, 17)
    assert both([Span(D(2026, 3, 16), None, "2")], MID_MONTH) == MemberMonth("2", ZERO_MM, 16)


def test_first_of_month_needs_the_first_and_a_span_ending_on_the_second_has_it():
    assert both([Span(MARCH, D(2026, 3, 2), "1")], FIRST_OF_MONTH) == MemberMonth("1", ONE_MM, 1)
    assert both([Span(D(2026, 3, 2), None, "1")], FIRST_OF_MONTH) == MemberMonth("1", ZERO_MM, 30)
    # Ending on the first of the month is not being enrolled in it at all.
    assert both([Span(D(2026, 2, 1), MARCH, "1")], FIRST_OF_MONTH) is None


def test_a_span_from_an_earlier_month_into_this_one_is_clipped_to_the_month():
    spans = [Span(D(2026, 1, 20), D(2026, 3, 11), "3")]
    assert both(spans, DAILY) == MemberMonth("3", daily_fraction(10, MARCH), 10)
    assert both(spans, MID_MONTH) == MemberMonth("3", ZERO_MM, 10)
    assert both(spans, FIRST_OF_MONTH) == MemberMonth("3", ONE_MM, 10)
    # A span running past the month counts only the month's days.
    assert both([Span(D(2026, 3, 30), D(2026, 5, 1), "1")], DAILY) == MemberMonth("1", M("0.064516"), 2)


# --- back-to-back spans -------------------------------------------------------------------------


@pytest.mark.parametrize("rule", PRORATION_RULES)
def test_back_to_back_spans_are_not_an_overlap_and_count_every_day_once(rule):
    # A tier change on the 10th: [Mar 1, Mar 10) in tier 1 then [Mar 10, ...) in tier 2.
    spans = [Span(D(2026, 3, 10), None, "2"), Span(MARCH, D(2026, 3, 10), "1")]
    result = both(spans, rule)
    assert result == MemberMonth("1", ONE_MM, 31)  # first day's tier, the whole month
    assert both(spans, rule, HIGHEST) == MemberMonth("2", ONE_MM, 31)


def test_spans_overlapping_by_one_day_are_refused_by_both_functions():
    spans = [Span(MARCH, D(2026, 3, 11), "1"), Span(D(2026, 3, 10), None, "2")]
    with pytest.raises(ValueError, match="overlapping"):
        member_months(spans, MARCH, DAILY)
    with pytest.raises(ValueError, match="overlapping"):
        member_months_bulk({"m": spans}, MARCH, DAILY)


def test_back_to_back_spans_of_two_members_in_bulk_do_not_mix():
    spans = {
        "a": [Span(MARCH, D(2026, 3, 20), "1"), Span(D(2026, 3, 20), None, "3")],
        "b": [Span(D(2026, 3, 5), D(2026, 3, 6), "2")],
        "c": [Span(D(2026, 1, 1), D(2026, 2, 1), "2")],  # not in March: left out
    }
    out = member_months_bulk(spans, MARCH, DAILY, tier_rule=HIGHEST, tier_order=TIERS)
    assert out == {
        "a": MemberMonth("3", ONE_MM, 31),
        "b": MemberMonth("2", daily_fraction(1, MARCH), 1),
    }
    out = member_months_bulk(spans, MARCH, MID_MONTH)
    assert out == {"a": MemberMonth("1", ONE_MM, 31), "b": MemberMonth("2", ZERO_MM, 1)}
    assert member_months_bulk(spans, MARCH, ANY_DAY)["b"] == MemberMonth("2", ONE_MM, 1)


def test_bulk_leaves_out_members_with_no_day_and_answers_empty_input():
    assert member_months_bulk({}, MARCH, DAILY) == {}
    assert member_months_bulk({"a": []}, MARCH, DAILY) == {}
    assert member_months_bulk({"a": [Span(APRIL, None, "1")]}, MARCH, DAILY) == {}


def test_the_highest_tier_needs_an_order_that_names_every_tier():
    spans = [Span(MARCH, None, "9")]
    with pytest.raises(ValueError, match="'9'"):
        member_months(spans, MARCH, DAILY, tier_rule=HIGHEST, tier_order=TIERS)
    with pytest.raises(ValueError, match="'9'"):
        member_months_bulk({"m": spans}, MARCH, DAILY, tier_rule=HIGHEST, tier_order=TIERS)
    with pytest.raises(ValueError, match="tier_order"):
        member_months(spans, MARCH, DAILY, tier_rule=HIGHEST)
    with pytest.raises(ValueError, match="proration rule"):
        member_months_bulk({"m": spans}, MARCH, "weekly")
    with pytest.raises(ValueError, match="tier rule"):
        member_months(spans, MARCH, DAILY, tier_rule="lowest")
    with pytest.raises(ValueError, match="first day"):
        member_months_bulk({"m": spans}, D(2026, 3, 2), DAILY)


def test_highest_picks_by_the_given_order_in_bulk_too():
    spans = [Span(MARCH, D(2026, 3, 5), "3"), Span(D(2026, 3, 5), None, "1")]
    order = ("3", "2", "1")  # "1" ranks highest here
    one = member_months(spans, MARCH, DAILY, tier_rule=HIGHEST, tier_order=order)
    bulk = member_months_bulk({"m": spans}, MARCH, DAILY, tier_rule=HIGHEST, tier_order=order)
    assert one == bulk["m"] == MemberMonth("1", ONE_MM, 31)


def test_daily_fraction_is_six_places_half_up():
    assert daily_fraction(1, MARCH) == M("0.032258")  # 0.0322580645...
    assert daily_fraction(2, D(2026, 2, 1)) == M("0.071429")  # 0.0714285714... rounds up
    assert daily_fraction(0, MARCH) == ZERO_MM and daily_fraction(31, MARCH) == ONE_MM
    assert MM_QUANTUM == M("0.000001")


# --- the assessment look-back -------------------------------------------------------------------


def a(date: dt.date, member: str = "m1", provider: str = "p1", key: object = None) -> Assessment:
    return Assessment(member, provider, date, key)


def test_a_look_back_of_exactly_one_month():
    # Paid on Jan 15: Feb 14 is within one month, Feb 15 is one month later and payable again.
    decisions = assessment_payable([a(D(2026, 1, 15)), a(D(2026, 2, 14)), a(D(2026, 2, 15))], 1)
    assert [d.payable for d in decisions] == [True, False, True]
    assert decisions[1] == AssessmentDecision(
        a(D(2026, 2, 14)),
        False,
        SECOND_IN_LOOKBACK,
        D(2026, 1, 15),
        "member m1 already had a paid assessment on 2026-01-15 with this provider; "
        "only one is paid per 1 months",
    )


def test_an_assessment_exactly_l_months_after_a_paid_one_is_payable_one_day_earlier_is_not():
    history = [a(D(2025, 3, 10))]
    assert assessment_payable([a(D(2026, 3, 10))], 12, paid_history=history)[0].payable is True
    flagged = assessment_payable([a(D(2026, 3, 9))], 12, paid_history=history)[0]
    assert (flagged.payable, flagged.reason, flagged.first_date) == (
        False,
        SECOND_IN_LOOKBACK,
        D(2025, 3, 10),
    )


def test_a_late_older_assessment_exactly_l_months_before_a_paid_one_is_payable():
    history = [a(D(2026, 3, 10))]
    assert assessment_payable([a(D(2025, 3, 10))], 12, paid_history=history)[0].payable is True
    flagged = assessment_payable([a(D(2025, 3, 11))], 12, paid_history=history)[0]
    assert (flagged.payable, flagged.first_date) == (False, D(2026, 3, 10))


def test_the_same_day_as_a_paid_assessment_is_flagged():
    decision = assessment_payable([a(D(2026, 3, 10))], 6, paid_history=[a(D(2026, 3, 10))])[0]
    assert (decision.payable, decision.first_date) == (False, D(2026, 3, 10))


def test_the_earliest_clashing_paid_assessment_is_named():
    history = [a(D(2026, 1, 5)), a(D(2025, 12, 20))]
    decision = assessment_payable([a(D(2026, 2, 1))], 3, paid_history=history)[0]
    assert decision.first_date == D(2025, 12, 20)


def test_a_payable_assessment_becomes_the_anchor_for_later_ones_in_date_order():
    batch = [a(D(2026, 6, 1), key="late"), a(D(2026, 1, 1), key="early"), a(D(2026, 3, 1), key="mid")]
    decisions = assessment_payable(batch, 3)
    assert [(d.assessment.key, d.payable, d.first_date) for d in decisions] == [
        ("late", True, None),  # Jan + 3 months = Apr 1; June is outside the window again
        ("early", True, None),
        ("mid", False, D(2026, 1, 1)),
    ]
    assert decisions[0] == AssessmentDecision(batch[0], True)
    assert decisions[0].message == "" and decisions[0].reason is None


def test_other_members_and_providers_do_not_share_a_window():
    batch = [a(D(2026, 1, 1)), a(D(2026, 1, 2), member="m2"), a(D(2026, 1, 3), provider="p2")]
    assert [d.payable for d in assessment_payable(batch, 12)] == [True, True, True]


def test_a_zero_look_back_pays_every_assessment_and_a_negative_one_is_refused():
    batch = [a(D(2026, 1, 1)), a(D(2026, 1, 1))]
    assert [d.payable for d in assessment_payable(batch, 0, paid_history=[a(D(2026, 1, 1))])] == [True, True]
    with pytest.raises(ValueError, match="lookback_months"):
        assessment_payable(batch, -1)


def test_bulk_names_the_member_whose_spans_overlap_not_a_neighbour():
    spans = {
        "a": [Span(MARCH, D(2026, 3, 10), "1"), Span(D(2026, 3, 10), None, "2")],  # back to back: fine
        "b": [Span(MARCH, D(2026, 3, 12), "1"), Span(D(2026, 3, 11), None, "2")],  # one day of overlap
        "c": [Span(MARCH, None, "1")],
    }
    with pytest.raises(ValueError, match="member 'b'"):
        member_months_bulk(spans, MARCH, DAILY)
