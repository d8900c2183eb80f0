"""Completion factors (pure, through chainladder): the published RAA triangle gives Mack's (1993)
published reserves and standard errors; a group of members is completed with the book's factors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from claims.completion import Completed, MonthCompletion, completed, month_completions
from core.domain.months import shift_month

# The Reinsurance Association of America triangle, cumulative paid by accident year (Mack 1993, Table 1).
RAA = [
    [5012, 8269, 10907, 11805, 13539, 16181, 18009, 18608, 18662, 18834],
    [106, 4285, 5396, 10666, 13782, 15599, 15496, 16169, 16704],
    [3410, 8992, 13873, 16141, 18735, 22214, 22863, 23466],
    [5655, 11555, 15766, 21266, 23425, 26083, 27067],
    [1092, 9565, 15836, 22169, 25955, 26180],
    [1513, 6445, 11702, 12935, 15852],
    [557, 4020, 10946, 12314],
    [1351, 6947, 13112],
    [3133, 5395],
    [2063],
]
# Mack's chain-ladder reserves and standard errors for accident years 1982-1990 (the same paper).
PUBLISHED_RESERVES = [154, 617, 1636, 2747, 3649, 5435, 10907, 10650, 16339]
PUBLISHED_STD_ERRORS = [206, 623, 747, 1469, 2002, 2209, 5358, 6333, 24566]
START = dt.date(2020, 1, 1)


def raa_cells(category="inpatient") -> dict:
    """The triangle's years as incurred months and its development years as months after (the chain
    ladder does not care what one step of development is)."""
    cells = {}
    for i, row in enumerate(RAA):
        origin, before = shift_month(START, i), 0
        for k, cumulative in enumerate(row):
            cells[(category, origin, shift_month(origin, k))] = Decimal(cumulative - before)
            before = cumulative
    return cells


@pytest.fixture
def raa():
    return month_completions(raa_cells())


def test_the_raa_triangle_gives_macks_published_reserves_and_errors(raa):
    months = [raa[("inpatient", shift_month(START, i))] for i in range(10)]
    assert months[0].completion == Decimal(1) and months[0].ultimate == Decimal("18834.00")
    reserves = [round(m.ultimate - m.paid) for m in months[1:]]
    assert reserves == PUBLISHED_RESERVES
    assert round(sum(m.ultimate - m.paid for m in months)) == 52135
    assert [round(m.std_error) for m in months[1:]] == PUBLISHED_STD_ERRORS
    assert all(m.fitted for m in months)
    # completion is paid over the ultimate, rounded once to 6 places
    latest = months[-1]
    assert latest.paid == Decimal("2063.00")
    assert latest.completion == (latest.paid / latest.ultimate).quantize(Decimal("0.000001"))


def test_the_oldest_month_is_complete_with_no_error_and_every_month_keeps_its_category(raa):
    oldest = raa[("inpatient", START)]
    assert (oldest.completion, oldest.std_error, oldest.fitted) == (Decimal(1), Decimal("0.00"), True)
    assert {(key[0], key[1]) for key in raa} == {(m.category, m.month) for m in raa.values()}
    assert {m.category for m in raa.values()} == {"inpatient"}


def test_three_months_of_history_are_enough_to_fit_and_two_are_not():
    three = {k: v for k, v in raa_cells().items() if k[1] >= shift_month(START, 7)}
    assert all(m.fitted for m in month_completions(three).values())
    two = {k: v for k, v in three.items() if k[1] >= shift_month(START, 8)}
    assert not any(m.fitted for m in month_completions(two).values())


def test_a_month_with_nothing_paid_net_is_taken_as_complete_among_fitted_ones():
    cells = raa_cells()
    cells[("inpatient", shift_month(START, 3), shift_month(START, 3))] = Decimal("0")
    cells[("inpatient", shift_month(START, 3), shift_month(START, 4))] = Decimal("0")
    for k in range(2, 7):
        cells.pop(("inpatient", shift_month(START, 3), shift_month(START, 3 + k)))
    result = month_completions(cells)
    empty = result[("inpatient", shift_month(START, 3))]
    assert empty == MonthCompletion(
        "inpatient",
        shift_month(START, 3),
        Decimal("0.00"),
        Decimal(1),
        Decimal("0.00"),
        Decimal("0.00"),
        False,
    )
    later = result[("inpatient", shift_month(START, 9))]
    assert later.fitted and later.completion < 1


def test_a_month_with_less_than_nothing_paid_is_not_projected_and_a_small_one_is():
    cells = raa_cells()
    refund = shift_month(START, 5)
    for k in range(1, 5):
        cells.pop(("inpatient", refund, shift_month(refund, k)))
    cells[("inpatient", refund, refund)] = Decimal("-5.00")  # more refunded than paid
    small = shift_month(START, 8)
    cells[("inpatient", small, small)] = Decimal("0.25")
    cells[("inpatient", small, shift_month(small, 1))] = Decimal("0.25")
    result = month_completions(cells)
    assert (result[("inpatient", refund)].paid, result[("inpatient", refund)].fitted) == (
        Decimal("-5.00"),
        False,
    )
    assert result[("inpatient", refund)].completion == Decimal(1)
    assert result[("inpatient", small)].fitted and result[("inpatient", small)].completion < 1


def test_completion_falls_as_months_are_younger(raa):
    completions = [raa[("inpatient", shift_month(START, i))].completion for i in range(10)]
    assert completions == sorted(completions, reverse=True)
    assert all(Decimal(0) < c <= 1 for c in completions)


def test_categories_are_fitted_apart():
    cells = raa_cells("inpatient") | {(c, o, p): v * 2 for (c, o, p), v in raa_cells("professional").items()}
    result = month_completions(cells)
    for i in range(10):
        month = shift_month(START, i)
        assert result[("professional", month)].completion == result[("inpatient", month)].completion


def test_too_little_history_is_taken_as_complete_and_said_so():
    cells = {
        ("hospice", START, START): Decimal("10.00"),
        ("hospice", shift_month(START, 1), shift_month(START, 2)): Decimal("5.00"),
    }
    result = month_completions(cells)
    assert {(m.category, m.month, m.completion, m.ultimate, m.fitted) for m in result.values()} == {
        ("hospice", START, Decimal(1), Decimal("10.00"), False),
        ("hospice", shift_month(START, 1), Decimal(1), Decimal("5.00"), False),
    }


def test_a_group_is_completed_with_the_books_factors(raa):
    # A group holding half of the book's 1990 and all of its 1981 (complete): only 1990 grows.
    latest = raa[("inpatient", shift_month(START, 9))]
    group = {
        ("snf", START): Decimal("3.00"),  # cells the book has no factor for: complete
        ("inpatient", START): Decimal("100.00"),
        ("inpatient", shift_month(START, 9)): latest.paid / 2,
        ("snf", shift_month(START, 1)): Decimal("4.00"),
    }
    result = completed(group, raa)
    expected = (latest.paid / 2 / latest.completion).quantize(Decimal("0.01"))
    assert result.paid == Decimal("100.00") + latest.paid / 2 + Decimal("7.00")
    assert result.completed == Decimal("107.00") + expected
    margin = (Decimal("1.959964") * latest.std_error / 2).quantize(Decimal("0.01"))
    assert (result.low, result.high) == (
        max(result.paid, result.completed - margin),
        result.completed + margin,
    )
    assert result.fitted
    assert result.completion == (result.paid / result.completed).quantize(Decimal("0.000001"))


def test_a_groups_range_adds_its_months_errors_scaled_to_its_share(raa):
    march, april = raa[("inpatient", shift_month(START, 2))], raa[("inpatient", shift_month(START, 3))]
    group = {("inpatient", march.month): march.paid, ("inpatient", april.month): april.paid / 4}
    result = completed(group, raa)
    spread = march.std_error + april.std_error / 4
    assert result.high - result.completed == (Decimal("1.959964") * spread).quantize(Decimal("0.01"))
    # a book month with nothing paid net carries no error, and divides nothing
    empty = MonthCompletion(
        "inpatient", START, Decimal("0.00"), Decimal(1), Decimal("0.00"), Decimal("0.00"), False
    )
    nothing = completed({("inpatient", START): Decimal("0.00")}, {("inpatient", START): empty})
    assert (nothing.completed, nothing.high, nothing.fitted) == (Decimal("0.00"), Decimal("0.00"), False)


def test_the_low_end_of_the_range_is_never_below_what_was_paid():
    month = MonthCompletion(
        "inpatient", START, Decimal("100.00"), Decimal("0.5"), Decimal("200.00"), Decimal("500.00"), True
    )
    result = completed({("inpatient", START): Decimal("100.00")}, {("inpatient", START): month})
    assert (result.paid, result.completed, result.low) == (
        Decimal("100.00"),
        Decimal("200.00"),
        Decimal("100.00"),
    )


def test_nothing_paid_is_complete():
    assert completed({}, {}) == Completed(
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), False
    )
    assert completed({}, {}).completion == Decimal(1)
