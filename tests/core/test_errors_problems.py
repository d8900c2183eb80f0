"""The API's side of problems: one key, details.problems, and the invalid_month error."""

from __future__ import annotations

from datetime import date

import pytest

from core.domain.months import INVALID_MONTH_MESSAGE
from core.domain.problems import Problem
from core.errors import ApplicationError, month_from_input, problems_details, problems_error


def test_problems_go_under_details_problems_in_their_own_shape():
    error = problems_error(
        "Bad.", [Problem.at_path("$.a", "x", "one"), {"row": 2, "column": "c", "code": "y", "message": "two"}]
    )
    assert (error.code, error.status, error.message) == ("invalid", 400, "Bad.")
    assert error.details == {
        "problems": [
            {"path": "$.a", "code": "x", "message": "one"},
            {"row": 2, "column": "c", "code": "y", "message": "two"},
        ]
    }


def test_the_deprecated_errors_key_carries_the_same_list_next_to_other_details():
    details = problems_details(
        [Problem.at_cell(3, "tier", "required", "Required.")], errors_alias=True, upload="u1"
    )
    assert (
        details["errors"]
        == details["problems"]
        == [{"row": 3, "column": "tier", "code": "required", "message": "Required."}]
    )
    assert details["upload"] == "u1"
    assert "errors" not in problems_details([])


@pytest.mark.parametrize(
    ("value", "month"), [("2026-03", date(2026, 3, 1)), (date(2026, 3, 17), date(2026, 3, 1))]
)
def test_a_month_from_input_is_its_first_day(value, month):
    assert month_from_input(value) == month


@pytest.mark.parametrize("value", ["", None, "2026-13", "March"])
def test_anything_else_is_the_invalid_month_error(value):
    with pytest.raises(ApplicationError) as info:
        month_from_input(value)
    assert info.value.code == "invalid_month"
    assert info.value.details == {"month": [INVALID_MONTH_MESSAGE]}
