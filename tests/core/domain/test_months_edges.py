"""Month and period parsing at its edges (issue 21): the first and last month of a year and the
earliest year a period may name are accepted, and a period keeps the code it was named by."""

from __future__ import annotations

from datetime import date

import pytest

from core.domain.months import MIN_YEAR, Period, parse_month, parse_period


@pytest.mark.parametrize(
    ("code", "period"),
    [
        ("2026-01", Period("2026-01", "month", date(2026, 1, 1), date(2026, 2, 1))),
        ("2026-12", Period("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1))),
        ("1900-01", Period("1900-01", "month", date(1900, 1, 1), date(1900, 2, 1))),
        ("2026-q1", Period("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 4, 1))),
        ("1900", Period("1900", "year", date(1900, 1, 1), date(1901, 1, 1))),
        (" cy3 ", Period("CY3", "contract_year", date(2027, 7, 1), date(2028, 7, 1))),
    ],
)
def test_a_period_at_the_edge_of_a_year_or_of_the_calendar_keeps_its_code(code, period):
    assert parse_period(code, contract_start=date(2025, 7, 15)) == period


@pytest.mark.parametrize("code", ["2026-00", "1899-12", "1899-Q4"])
def test_a_month_before_january_or_before_the_earliest_year_names_no_period(code):
    with pytest.raises(ValueError):
        parse_period(code)


def test_the_earliest_year_is_a_month_too():
    assert MIN_YEAR == 1900
    assert parse_month("1900-01") == date(1900, 1, 1)
    assert parse_month("2026-12-01") == date(2026, 12, 1)
