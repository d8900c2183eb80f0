"""Month arithmetic: one function per meaning, pinned by properties and by the edges."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.months import (
    INVALID_MONTH_MESSAGE,
    INVALID_PERIOD_MESSAGE,
    Period,
    add_months,
    day_of_month,
    days_in_month,
    first_of_month,
    is_first_of_month,
    last_of_month,
    month_from_index,
    month_index,
    month_key,
    months_between,
    months_in,
    months_text,
    next_month,
    parse_month,
    parse_period,
    previous_month,
    shift_month,
)

D = date
days = st.dates(min_value=D(1900, 1, 1), max_value=D(2200, 12, 31))
firsts = days.map(lambda d: d.replace(day=1))
steps = st.integers(min_value=-600, max_value=600)


# --- properties ----------------------------------------------------------------------------------


@given(days)
def test_first_of_month_is_the_first_day_of_the_same_month(day):
    first = first_of_month(day)
    assert (first.year, first.month, first.day) == (day.year, day.month, 1)
    assert is_first_of_month(first) and first_of_month(first) == first


@given(days)
def test_days_in_month_and_last_of_month_agree_with_the_calendar(day):
    assert days_in_month(day) == calendar.monthrange(day.year, day.month)[1]
    assert last_of_month(day) + timedelta(days=1) == next_month(day)


@given(days, st.integers(min_value=-5, max_value=40))
def test_day_of_month_stays_in_the_month(day, n):
    moved = day_of_month(day, n)
    assert first_of_month(moved) == first_of_month(day)
    assert moved.day == max(1, min(n, days_in_month(day)))


def test_day_of_month_clamps_a_due_day():
    assert day_of_month(D(2026, 2, 1), 31) == D(2026, 2, 28)
    assert day_of_month(D(2024, 2, 1), 30) == D(2024, 2, 29)
    assert day_of_month(D(2026, 4, 9), 10) == D(2026, 4, 10)
    assert day_of_month(D(2026, 4, 9), 0) == D(2026, 4, 1)


@given(days)
def test_next_month_is_the_day_after_the_last_of_month(day):
    assert next_month(day) == last_of_month(day) + timedelta(days=1)
    assert previous_month(next_month(day)) == first_of_month(day)


@given(days, steps)
def test_add_months_keeps_the_day_clamped_to_the_month_end(day, k):
    moved = add_months(day, k)
    assert months_between(day, moved) == k
    assert moved.day == min(day.day, days_in_month(moved))


@given(days, steps)
def test_add_months_is_undone_when_the_day_exists_in_both_months(day, k):
    moved = add_months(day, k)
    if moved.day == day.day:
        assert add_months(moved, -k) == day


@given(days, steps, steps)
def test_add_months_is_monotone(day, a, b):
    if a <= b:
        assert add_months(day, a) <= add_months(day, b)


@given(days, steps)
def test_shift_month_lands_on_a_first_day_and_is_invertible(day, k):
    moved = shift_month(day, k)
    assert is_first_of_month(moved)
    assert months_between(day, moved) == k
    assert shift_month(moved, -k) == first_of_month(day)


@given(days, steps, steps)
def test_shift_month_composes(day, a, b):
    assert shift_month(shift_month(day, a), b) == shift_month(day, a + b)


@given(firsts, steps)
def test_on_first_days_the_two_meanings_agree(first, k):
    assert add_months(first, k) == shift_month(first, k)


@given(days, days)
def test_months_between_is_antisymmetric_and_ignores_days(a, b):
    assert months_between(a, b) == -months_between(b, a)
    assert months_between(first_of_month(a), last_of_month(b)) == months_between(a, b)


@given(days)
def test_month_index_round_trips(day):
    assert month_from_index(month_index(day)) == first_of_month(day)
    assert month_index(next_month(day)) == month_index(day) + 1


@given(days)
def test_month_key_and_parse_month_round_trip(day):
    key = month_key(day)
    assert len(key) == 7 and key[4] == "-"
    assert parse_month(key) == first_of_month(day)
    assert parse_month(day) == first_of_month(day)


@given(firsts, st.integers(min_value=0, max_value=40))
def test_months_in_lists_each_month_once(start, n):
    months = list(months_in(start, shift_month(start, n)))
    assert len(months) == n
    assert all(months_between(a, b) == 1 for a, b in zip(months, months[1:], strict=False))


# --- edges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "k", "expected"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 28)),
        (D(2024, 1, 31), 1, D(2024, 2, 29)),  # leap year
        (D(2024, 2, 29), 12, D(2025, 2, 28)),  # Feb 29 into a common year
        (D(2024, 2, 29), 48, D(2028, 2, 29)),
        (D(2026, 3, 31), -1, D(2026, 2, 28)),
        (D(2026, 11, 15), 14, D(2028, 1, 15)),
        (D(2026, 1, 15), -1, D(2025, 12, 15)),
        (D(2026, 12, 31), 1, D(2027, 1, 31)),
    ],
)
def test_add_months_at_month_ends(day, k, expected):
    assert add_months(day, k) == expected


def test_shift_month_ignores_the_day():
    assert shift_month(D(2026, 1, 31), 1) == D(2026, 2, 1)
    assert shift_month(D(2026, 1, 1), -1) == D(2025, 12, 1)
    assert shift_month(D(2026, 12, 15), 1) == D(2027, 1, 1)


def test_days_in_february():
    assert days_in_month(D(2024, 2, 10)) == 29
    assert days_in_month(D(2026, 2, 10)) == 28
    assert days_in_month(D(1900, 2, 1)) == 28  # not a leap year: divisible by 100
    assert days_in_month(D(2000, 2, 1)) == 29  # but 2000 is: divisible by 400


def test_months_between_counts_calendar_months():
    assert months_between(D(2025, 11, 30), D(2026, 2, 1)) == 3
    assert months_between(D(2025, 7, 1), D(2027, 1, 15)) == 18
    assert next_month(D(2026, 12, 1)) == D(2027, 1, 1)


@pytest.mark.parametrize("text", ["2026-03", " 2026-03 ", "2026-03-01"])
def test_parse_month_accepts_year_month(text):
    assert parse_month(text) == D(2026, 3, 1)


@pytest.mark.parametrize("text", ["", "2026-13", "2026-00", "2026-3", "1899-12", "2026-03-02", "March", None])
def test_parse_month_refuses_anything_else(text):
    with pytest.raises(ValueError, match=re.escape(INVALID_MONTH_MESSAGE)):
        parse_month(text)


# --- periods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "start", "end", "label"),
    [
        ("2026-03", "month", D(2026, 3, 1), D(2026, 4, 1), "March 2026"),
        ("2026-q4", "quarter", D(2026, 10, 1), D(2027, 1, 1), "Q4 2026"),
        ("2026", "year", D(2026, 1, 1), D(2027, 1, 1), "2026"),
        ("CY2", "contract_year", D(2026, 7, 1), D(2027, 7, 1), "Contract year 2 (Jul 2026 - Jun 2027)"),
    ],
)
def test_periods_are_half_open_month_ranges(code, kind, start, end, label):
    period = parse_period(code, contract_start=D(2025, 7, 15))
    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, label)
    assert period.months[0] == start and next_month(period.months[-1]) == end


@pytest.mark.parametrize("code", ["", "2026-13", "2026-Q5", "1899", "CY0", "CY1x", "Q1"])
def test_an_unknown_period_names_nothing(code):
    with pytest.raises(ValueError, match=re.escape(INVALID_PERIOD_MESSAGE)):
        parse_period(code, contract_start=D(2025, 1, 1))


def test_a_contract_year_needs_the_contract_start():
    with pytest.raises(ValueError, match=re.escape(INVALID_PERIOD_MESSAGE)):
        parse_period("CY1")


@given(st.integers(min_value=1900, max_value=2200), st.integers(min_value=1, max_value=4))
def test_four_quarters_tile_the_year(year, q):
    quarter = parse_period(f"{year}-Q{q}")
    assert len(quarter.months) == 3
    assert isinstance(quarter, Period) and quarter.start.month == 3 * q - 2


def test_months_in_words():
    assert [months_text(n) for n in (0, 1, 2, 12)] == ["0 months", "1 month", "2 months", "12 months"]
