"""The one problem type: its JSON shape and its helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.problems import (
    ERROR,
    WARNING,
    Problem,
    ProblemLog,
    errors_only,
    problem_dicts,
    warnings_only,
)

texts = st.text(min_size=1, max_size=12)
optional_ints = st.none() | st.integers(min_value=1, max_value=10**6)
optional_texts = st.none() | st.text(max_size=12)
severities = st.none() | st.sampled_from([ERROR, WARNING])

problems = st.builds(
    Problem,
    code=texts,
    message=texts,
    row=optional_ints,
    column=optional_texts,
    path=optional_texts,
    file=optional_texts,
    severity=severities,
)


@given(problems)
def test_as_dict_has_exactly_the_coordinates_that_are_set(p):
    d = p.as_dict()
    assert d["code"] == p.code and d["message"] == p.message
    for key in ("file", "row", "column", "path", "severity"):
        assert (key in d) == (getattr(p, key) is not None)
        if key in d:
            assert d[key] == getattr(p, key)
    assert list(d) == [k for k in ("file", "row", "column", "path", "code", "message", "severity") if k in d]


@given(problems)
def test_a_problem_is_an_error_unless_it_says_warning(p):
    assert p.is_error != p.is_warning
    assert p.is_warning == (p.severity == WARNING)


@given(st.lists(problems, max_size=10))
def test_errors_and_warnings_split_the_list(ps):
    assert len(errors_only(ps)) + len(warnings_only(ps)) == len(ps)
    assert problem_dicts(ps) == [p.as_dict() for p in ps]


@given(st.lists(problems, max_size=30), st.integers(min_value=0, max_value=10))
def test_the_log_keeps_the_first_ones_and_counts_all(ps, limit):
    log = ProblemLog(limit)
    log.extend(ps)
    assert len(log) == len(ps) and bool(log) == bool(ps)
    assert list(log) == ps[:limit]


def test_the_shapes_the_api_already_uses():
    assert Problem.at_path("$.tiers", "no_tiers", "Add at least one tier.", ERROR).as_dict() == {
        "path": "$.tiers",
        "code": "no_tiers",
        "message": "Add at least one tier.",
        "severity": "error",
    }
    assert Problem.at_path("markets[0]", "unknown_market", "no").as_dict() == {
        "path": "markets[0]",
        "code": "unknown_market",
        "message": "no",
    }
    assert Problem.at_cell(3, "tier", "required", "Required.").as_dict() == {
        "row": 3,
        "column": "tier",
        "code": "required",
        "message": "Required.",
    }
    assert list(Problem.at_cell(1, "", "empty", "Empty.", file="spans").as_dict()) == [
        "file",
        "row",
        "column",
        "code",
        "message",
    ]


def test_where_holds_a_formats_own_coordinates():
    where = {"segment_index": 9, "segment_id": "INS", "element": 3}
    p = Problem("invalid", "bad INS03", where=where)
    where["element"] = 4  # the caller's dict changing later does not move the problem
    assert p.as_dict() == {
        "code": "invalid",
        "message": "bad INS03",
        "segment_index": 9,
        "segment_id": "INS",
        "element": 3,
    }
    assert p == Problem("invalid", "bad INS03", where={"segment_index": 9, "segment_id": "INS", "element": 3})
    assert hash(p) == hash(Problem("invalid", "bad INS03"))  # where is not hashed, so problems go in sets


def test_problems_are_frozen_and_evolve_into_copies():
    p = Problem.at_path("$.name", "required", "Required.")
    with pytest.raises(AttributeError):
        p.code = "x"  # type: ignore[misc]
    moved = p.evolve(path="$.bundle.name")
    assert (moved.path, p.path) == ("$.bundle.name", "$.name")


def test_an_unknown_severity_is_refused():
    with pytest.raises(ValueError):
        Problem("x", "y", severity="fatal")  # type: ignore[arg-type]
