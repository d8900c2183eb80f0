"""{% problem_table %}: one way to show a list of problems on every page."""

from __future__ import annotations

from types import SimpleNamespace

from django.template import Context, Template

from core.domain.problems import Problem
from web.templatetags.problems import problem_dict, problem_table


def render(problems, **options) -> str:
    args = " ".join(f'{k}="{v}"' for k, v in options.items())
    return Template("{% load problems %}{% problem_table problems " + args + " %}").render(
        Context({"problems": problems})
    )


def test_columns_are_the_coordinates_the_problems_have():
    table = problem_table([Problem.at_cell(3, "tier", "unknown_tier", "No tier 9.")])
    assert [c["header"] for c in table["columns"]] == ["Row", "Column"]
    table = problem_table([{"path": "$.tiers", "code": "no_tiers", "message": "Add a tier."}])
    assert [c["header"] for c in table["columns"]] == ["Where"]
    table = problem_table(
        [
            {"file": "spans", "row": 2, "column": "", "code": "x", "message": "m"},
            {"path": "$", "message": "m"},
        ]
    )
    assert [c["header"] for c in table["columns"]] == ["File", "Row", "Column", "Where"]


def test_a_table_shows_every_problem_with_its_code_and_message():
    html = render(
        [
            Problem.at_cell(3, "tier", "unknown_tier", "No tier 9."),
            Problem.at_cell(1, "", "empty_file", "The file is empty."),
        ],
        testid="roster-errors",
    )
    assert 'data-testid="roster-errors"' in html
    assert html.count("<tr>") == 3  # the header and two problems
    assert "<code>unknown_tier</code>" in html and "No tier 9." in html
    assert "<td>—</td>" in html  # a problem about the whole row has no column


def test_a_warning_is_marked_and_a_missing_code_is_a_dash():
    html = render(
        [Problem.at_path("$.roles", "unusual", "Unusual effort.", "warning"), {"path": "$", "message": "Bad"}]
    )
    assert '<tr class="warning">' in html and "Unusual effort." in html
    assert "<code>$.roles</code>" in html and "<td>—</td><td>Bad</td>" in html


def test_a_formats_own_coordinates_are_extra_columns():
    problems = [{"code": "bad", "message": "m", "segment_index": 9, "segment_id": "INS", "element": None}]
    table = problem_table(problems, extra="segment_index:Segment:num,segment_id:Id,element:Element:num")
    assert [(c["header"], c["num"]) for c in table["columns"]] == [("Segment", True), ("Id", False)]


def test_stored_issue_rows_name_their_file_source():
    row = SimpleNamespace(
        source="roster", row=4, column="birth_date", code="invalid_date", message="m", severity="error"
    )
    assert problem_dict(row) == {
        "file": "roster",
        "row": 4,
        "column": "birth_date",
        "code": "invalid_date",
        "message": "m",
        "severity": "error",
    }
