"""Member-month proration, tier choice and the assessment look-back: worked examples and properties."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.domain import months as month_math
from enrollment import calc
from enrollment.calc import (
    ANY_DAY,
    DAILY,
    FIRST_DAY,
    FIRST_OF_MONTH,
    HIGHEST,
    MID_MONTH,
    PRORATION_RULES,
    SECOND_IN_LOOKBACK,
    TIER_RULES,
    Assessment,
    MemberMonth,
    Span,
    assessment_payable,
    member_months,
    member_months_bulk,
)

D = dt.date
MARCH = D(2026, 3, 1)  # 31 days
TIERS = ("1", "2", "3")


def mm(
    spans: list[Span], rule: str, tier_rule: str = FIRST_DAY, month: dt.date = MARCH
) -> MemberMonth | None:
    return member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS)


# --------------------------------------------------------------------------- worked examples
# Enrolled mid-month: from 10 March, still enrolled (22 of 31 days).
MID = [Span(D(2026, 3, 10), None, "2")]
# Died on 20 March (the file's inclusive end), enrolled since January: [Jan 1, Mar 21), 20 days.
DEATH = [Span(D(2026, 1, 1), D(2026, 3, 21), "1")]
# Tier change on 15 March: tier 1 until the 14th, tier 2 from the 15th.
CHANGE = [Span(D(2025, 11, 1), D(2026, 3, 15), "1"), Span(D(2026, 3, 15), None, "2")]
# Enrolled late in the month, after the 15th: 16 to 31 March.
LATE = [Span(D(2026, 3, 16), None, "3")]


@pytest.mark.parametrize(
    ("spans", "rule", "expected"),
    [
        (MID, ANY_DAY, ("2", "1.000000", 22)),
        (MID, FIRST_OF_MONTH, ("2", "0.000000", 22)),
        (MID, MID_MONTH, ("2", "1.000000", 22)),
        (MID, DAILY, ("2", "0.709677", 22)),  # 22/31 = 0.7096774...
        (DEATH, ANY_DAY, ("1", "1.000000", 20)),
        (DEATH, FIRST_OF_MONTH, ("1", "1.000000", 20)),
        (DEATH, MID_MONTH, ("1", "1.000000", 20)),
        (DEATH, DAILY, ("1", "0.645161", 20)),  # 20/31 = 0.6451612...
        (CHANGE, ANY_DAY, ("1", "1.000000", 31)),
        (CHANGE, FIRST_OF_MONTH, ("1", "1.000000", 31)),
        (CHANGE, MID_MONTH, ("1", "1.000000", 31)),
        (CHANGE, DAILY, ("1", "1.000000", 31)),
        (LATE, ANY_DAY, ("3", "1.000000", 16)),
        (LATE, FIRST_OF_MONTH, ("3", "0.000000", 16)),
        (LATE, MID_MONTH, ("3", "0.000000", 16)),
        (LATE, DAILY, ("3", "0.516129", 16)),  # 16/31 = 0.5161290...
    ],
)
def test_worked_examples_first_day_tier(spans, rule, expected):
    tier, amount, days = expected
    assert mm(spans, rule) == MemberMonth(tier, Decimal(amount), days)


@pytest.mark.parametrize("rule", PRORATION_RULES)
def test_tier_change_goes_wholly_to_one_tier(rule):
    assert mm(CHANGE, rule, FIRST_DAY).tier == "1"  # the tier on the first enrolled day
    assert mm(CHANGE, rule, HIGHEST).tier == "2"  # the highest tier on any enrolled day
    down = [Span(D(2026, 1, 1), D(2026, 3, 10), "3"), Span(D(2026, 3, 10), None, "1")]
    assert mm(down, rule, HIGHEST).tier == "3"


def test_highest_uses_the_given_order_not_the_codes():
    order = ("high", "low")  # deliberately not alphabetical
    spans = [Span(D(2026, 3, 1), D(2026, 3, 5), "low"), Span(D(2026, 3, 5), None, "high")]
    assert member_months(spans, MARCH, ANY_DAY, tier_rule=HIGHEST, tier_order=("low", "high")).tier == "high"
    assert member_months(spans, MARCH, ANY_DAY, tier_rule=HIGHEST, tier_order=order).tier == "low"


def test_death_on_the_first_still_counts_the_first_of_month():
    died_on_first = [Span(D(2025, 12, 1), D(2026, 3, 2), "1")]
    assert mm(died_on_first, FIRST_OF_MONTH).member_months == 1
    assert mm(died_on_first, MID_MONTH).member_months == 0
    assert mm(died_on_first, DAILY).member_months == Decimal("0.032258")


def test_february_of_a_leap_year():
    feb = D(2028, 2, 1)
    assert member_months([Span(D(2028, 2, 15), None, "1")], feb, DAILY).member_months == Decimal(
        "0.517241"
    )  # 15/29
    assert member_months([Span(D(2028, 1, 1), None, "1")], feb, DAILY).member_months == 1


def test_not_enrolled_in_the_month_is_none():
    assert mm([Span(D(2026, 1, 1), D(2026, 3, 1), "1")], ANY_DAY) is None
    assert mm([Span(D(2026, 4, 1), None, "1")], DAILY) is None
    assert mm([], DAILY) is None


def test_a_gap_within_the_month_counts_only_enrolled_days():
    spans = [Span(D(2026, 3, 1), D(2026, 3, 5), "1"), Span(D(2026, 3, 20), None, "2")]
    result = mm(spans, DAILY, HIGHEST)
    assert (result.tier, result.days_enrolled, result.member_months) == ("2", 16, Decimal("0.516129"))
    assert mm(spans, MID_MONTH).member_months == 0  # not enrolled on the 15th


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="overlapping"):
        mm([Span(D(2026, 3, 1), D(2026, 3, 10), "1"), Span(D(2026, 3, 9), None, "2")], DAILY)
    with pytest.raises(ValueError):
        member_months(MID, D(2026, 3, 2), DAILY)
    with pytest.raises(ValueError):
        member_months(MID, MARCH, "weekly")
    with pytest.raises(ValueError):
        member_months(MID, MARCH, DAILY, tier_rule=HIGHEST)  # no tier order
    with pytest.raises(ValueError):
        member_months(MID, MARCH, DAILY, tier_rule=HIGHEST, tier_order=("1",))  # tier 2 unknown


def test_month_helpers():
    assert month_math.add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert month_math.add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert month_math.add_months(D(2026, 11, 15), 14) == D(2028, 1, 15)
    assert month_math.add_months(D(2026, 1, 15), -1) == D(2025, 12, 15)
    assert month_math.months_between(D(2025, 11, 30), D(2026, 2, 1)) == 3
    assert month_math.next_month(D(2026, 12, 1)) == D(2027, 1, 1)


# --------------------------------------------------------------------------- properties
months = st.builds(D, st.integers(2020, 2030), st.integers(1, 12), st.just(1))
rules = st.sampled_from(PRORATION_RULES)
tier_rules = st.sampled_from(TIER_RULES)
tiers = st.sampled_from(TIERS)


@st.composite
def member_spans(draw, month: dt.date) -> list[Span]:
    """Non-overlapping spans around ``month``: sorted cut days taken in pairs, an odd last one open."""
    cuts = sorted(draw(st.lists(st.integers(-40, 40), max_size=6, unique=True)))
    spans = [
        Span(month + dt.timedelta(days=cuts[k]), month + dt.timedelta(days=cuts[k + 1]), draw(tiers))
        for k in range(0, len(cuts) - 1, 2)
    ]
    if len(cuts) % 2 == 1:
        spans.append(Span(month + dt.timedelta(days=cuts[-1]), None, draw(tiers)))
    return spans


@st.composite
def month_and_spans(draw) -> tuple[dt.date, list[Span]]:
    month = draw(months)
    return month, draw(member_spans(month))


@given(months, rules, tier_rules, st.lists(tiers, min_size=1, max_size=4), st.integers(0, 60), st.booleans())
def test_a_full_month_is_exactly_one_member_month_under_every_rule(
    month, rule, tier_rule, tier_seq, before, open_end
):
    # Enrolled for the whole month, possibly split into tier periods at arbitrary days.
    start = month - dt.timedelta(days=before)
    end = None if open_end else calc.next_month(month) + dt.timedelta(days=before)
    dim = calc.days_in_month(month)
    cut_days = sorted({month + dt.timedelta(days=(k * 7) % dim) for k in range(1, len(tier_seq))} - {month})
    bounds = [start, *cut_days, end]
    spans = [Span(bounds[k], bounds[k + 1], tier_seq[k]) for k in range(len(bounds) - 1)]
    result = member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    assert result is not None
    assert result.member_months == Decimal(1)
    assert result.days_enrolled == dim


@given(month_and_spans())
def test_daily_is_days_enrolled_over_days_in_month(case):
    month, spans = case
    result = member_months(spans, month, DAILY)
    m0, m1 = month, calc.next_month(month)
    naive_days = sum(
        1
        for k in range((m1 - m0).days)
        if any(
            s.start <= m0 + dt.timedelta(days=k) and (s.end is None or m0 + dt.timedelta(days=k) < s.end)
            for s in spans
        )
    )
    if naive_days == 0:
        assert result is None
        return
    dim = calc.days_in_month(month)
    assert result.days_enrolled == naive_days
    assert result.member_months == (Decimal(naive_days) / Decimal(dim)).quantize(calc.MM_QUANTUM)
    assert abs(Fraction(result.member_months) - Fraction(naive_days, dim)) <= Fraction(1, 2_000_000)


@given(month_and_spans(), rules, tier_rules)
def test_a_member_never_yields_more_than_one_per_month(case, rule, tier_rule):
    month, spans = case
    result = member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    if result is not None:
        assert Decimal(0) <= result.member_months <= Decimal(1)
        assert result.member_months.as_tuple().exponent == -6
        assert result.tier in {s.tier for s in spans}
        any_day = member_months(spans, month, ANY_DAY)
        assert any_day is not None and result.member_months <= any_day.member_months


@settings(max_examples=60)
@given(
    months,
    st.lists(st.lists(st.integers(-40, 40), max_size=6, unique=True), max_size=25),
    rules,
    tier_rules,
    st.randoms(),
)
def test_bulk_matches_one_member_at_a_time(month, cut_lists, rule, tier_rule, rnd):
    spans_by_member: dict[str, list[Span]] = {}
    for k, cuts in enumerate(cut_lists):
        cuts = sorted(cuts)
        spans = [
            Span(
                month + dt.timedelta(days=cuts[i]), month + dt.timedelta(days=cuts[i + 1]), rnd.choice(TIERS)
            )
            for i in range(0, len(cuts) - 1, 2)
        ]
        if len(cuts) % 2 == 1:
            spans.append(Span(month + dt.timedelta(days=cuts[-1]), None, rnd.choice(TIERS)))
        rnd.shuffle(spans)
        spans_by_member[f"M{k}"] = spans
    bulk = member_months_bulk(spans_by_member, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    one_by_one = {
        m: r
        for m, s in spans_by_member.items()
        if (r := member_months(s, month, rule, tier_rule=tier_rule, tier_order=TIERS)) is not None
    }
    assert bulk == one_by_one


def test_bulk_refuses_overlaps_and_handles_empty_input():
    assert member_months_bulk({}, MARCH, DAILY) == {}
    assert member_months_bulk({"M1": []}, MARCH, DAILY) == {}
    with pytest.raises(ValueError, match="M2"):
        member_months_bulk(
            {"M1": MID, "M2": [Span(D(2026, 3, 1), D(2026, 3, 10), "1"), Span(D(2026, 3, 5), None, "1")]},
            MARCH,
            DAILY,
        )


def test_bulk_on_a_large_contract():
    spans = {
        f"M{i}": [Span(D(2026, 1, 1) + dt.timedelta(days=i % 120), None, TIERS[i % 3])] for i in range(50_000)
    }
    result = member_months_bulk(spans, MARCH, DAILY, tier_rule=HIGHEST, tier_order=TIERS)
    assert len(result) == 50_000 - sum(1 for i in range(50_000) if i % 120 >= 90)
    assert result["M0"] == MemberMonth("1", Decimal("1.000000"), 31)
    assert result["M68"] == MemberMonth("3", Decimal("0.709677"), 22)  # from 10 March


# --------------------------------------------------------------------------- assessments
def a(member: str, day: dt.date, provider: str = "P1", key: object = None) -> Assessment:
    return Assessment(member, provider, day, key)


def test_first_assessment_in_the_window_is_payable_and_the_second_is_flagged():
    decisions = assessment_payable(
        [a("M1", D(2026, 1, 10)), a("M1", D(2026, 6, 1)), a("M1", D(2027, 1, 10))], 12
    )
    assert [d.payable for d in decisions] == [True, False, True]  # 12 months later is a new window
    second = decisions[1]
    assert (second.reason, second.first_date) == (SECOND_IN_LOOKBACK, D(2026, 1, 10))
    assert "2026-01-10" in second.message


def test_the_window_is_per_member_and_per_provider_and_order_is_kept():
    decisions = assessment_payable(
        [
            a("M1", D(2026, 3, 1), key="b"),
            a("M1", D(2026, 2, 1), key="a"),
            a("M1", D(2026, 3, 1), "P2"),
            a("M2", D(2026, 3, 1)),
        ],
        12,
    )
    assert [(d.assessment.key, d.payable) for d in decisions] == [
        ("b", False),
        ("a", True),
        (None, True),
        (None, True),
    ]
    assert decisions[0].first_date == D(2026, 2, 1)


def test_paid_history_counts_in_both_directions():
    history = [a("M1", D(2026, 3, 1))]
    later, earlier = assessment_payable(
        [a("M1", D(2026, 9, 1)), a("M1", D(2025, 12, 1))], 12, paid_history=history
    )
    assert (later.payable, later.first_date) == (False, D(2026, 3, 1))
    assert (earlier.payable, earlier.first_date) == (False, D(2026, 3, 1))  # a late, older one
    (old,) = assessment_payable([a("M1", D(2025, 2, 1))], 12, paid_history=history)
    assert old.payable  # more than 12 months before the paid one


def test_same_day_duplicates_and_a_zero_window():
    d1, d2 = assessment_payable([a("M1", D(2026, 3, 1)), a("M1", D(2026, 3, 1))], 12)
    assert (d1.payable, d2.payable) == (True, False)
    assert all(d.payable for d in assessment_payable([a("M1", D(2026, 3, 1))] * 3, 0))
    with pytest.raises(ValueError):
        assessment_payable([], -1)


# --------------------------------------------------------------------------- deaths and hospice
def test_member_months_stop_on_the_death_day_under_every_rule():
    # GC100005 enrolled all of November, died on 2026-11-20 (30 days: 20 counted), and December nothing.
    nov, dec = D(2026, 11, 1), D(2026, 12, 1)
    spans = [Span(D(2026, 6, 1), None, "1")]
    expected = {ANY_DAY: "1.000000", FIRST_OF_MONTH: "1.000000", MID_MONTH: "1.000000", DAILY: "0.666667"}
    for rule, figure in expected.items():
        result = member_months(spans, nov, rule, ended_on=D(2026, 11, 20))
        assert result == MemberMonth("1", Decimal(figure), 20)
        assert member_months(spans, dec, rule, ended_on=D(2026, 11, 20)) is None
    # died on the 14th: the 15th is after it; died on the 15th: the 15th counts (the death day is enrolled)
    assert mm_on(spans, nov, MID_MONTH, D(2026, 11, 14)).member_months == Decimal("0.000000")
    assert mm_on(spans, nov, MID_MONTH, D(2026, 11, 15)).member_months == Decimal("1.000000")
    # died on the last day of the month before: nothing this month, even under first_of_month
    assert member_months(spans, nov, FIRST_OF_MONTH, ended_on=D(2026, 10, 31)) is None
    assert mm_on(spans, nov, FIRST_OF_MONTH, D(2026, 11, 1)) == MemberMonth("1", Decimal("1.000000"), 1)


def mm_on(spans, month, rule, died):
    result = member_months(spans, month, rule, ended_on=died)
    assert result is not None
    return result


def test_end_spans_keeps_what_ends_before_and_drops_what_starts_after():
    died = D(2026, 3, 10)
    spans = [
        Span(D(2026, 1, 1), D(2026, 2, 1), "1"),  # ended before: kept as it is
        Span(D(2026, 2, 1), D(2026, 3, 15), "2"),  # runs past: ends on the 11th (half-open)
        Span(D(2026, 3, 15), None, "3"),  # starts after: gone
    ]
    assert calc.end_spans(spans, died) == [
        Span(D(2026, 1, 1), D(2026, 2, 1), "1"),
        Span(D(2026, 2, 1), D(2026, 3, 11), "2"),
    ]
    assert calc.end_spans([Span(D(2026, 3, 11), None, "1")], died) == []
    assert calc.end_spans([Span(D(2026, 3, 10), None, "1")], died) == [
        Span(D(2026, 3, 10), D(2026, 3, 11), "1")
    ]


@settings(max_examples=300)
@given(month_and_spans(), rules, tier_rules, st.integers(-45, 45))
def test_no_member_month_counts_a_day_after_death(case, rule, tier_rule, offset):
    """Under every proration and tier rule: nothing for a month after the death; never more days than
    those up to it; the 1st and the 15th count only when on or before it; and the result is the one of
    spans that really ended on that day (the roster of a member who died says so)."""
    month, spans = case
    died = month + dt.timedelta(days=offset)
    result = member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS, ended_on=died)
    if died < month:
        assert result is None
        return
    same = member_months(calc.end_spans(spans, died), month, rule, tier_rule=tier_rule, tier_order=TIERS)
    assert result == same
    if result is None:
        return
    last = min(died, month_math.next_month(month) - dt.timedelta(days=1))
    assert result.days_enrolled <= (last - month).days + 1
    without = member_months(spans, month, rule, tier_rule=tier_rule, tier_order=TIERS)
    assert without is not None and result.member_months <= without.member_months
    if rule == FIRST_OF_MONTH and result.member_months:
        assert died >= month
    if rule == MID_MONTH and result.member_months:
        assert died >= month.replace(day=15)
    if rule == DAILY:
        assert result.member_months == calc.daily_fraction(result.days_enrolled, month)
