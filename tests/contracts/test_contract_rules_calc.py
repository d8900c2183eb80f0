"""Contract terms as plain data, tested without a database (issue 21): the validators
(``validate_rate``, ``validate_fee``, ``validate_terms`` and the terms they call), every bound at its
edge, ``completeness_problems``, the fingerprint, the amendment diff (an added and a removed rate
cell) and the terms in plain words.

`make mutate` runs contracts/rules.py against this file alone.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from contracts import rules as r
from core.domain.problems import Problem

M = Decimal


def codes(problems: list[Problem]) -> list[tuple[str | None, str]]:
    return [(p.path, p.code) for p in problems]


def check(function, value, *args, **kwargs):
    """(the value a validator returns, the (path, code) of each problem it reports)."""
    problems: list[Problem] = []
    result = function(value, *args, problems, **kwargs) if args else function(value, problems, **kwargs)
    return result, codes(problems)


# --- numbers ------------------------------------------------------------------------------------


def parse(value: Any, **kwargs: Any) -> tuple[Decimal | None, list[tuple[str | None, str]]]:
    problems: list[Problem] = []
    return r.parse_decimal(value, "x", problems, **kwargs), codes(problems)


@pytest.mark.parametrize("value", [None, "", True, False])
def test_a_missing_number_is_required(value):
    assert parse(value) == (None, [("x", "required")])


@pytest.mark.parametrize("value", ["abc", "1.2.3", [], {}])
def test_a_number_that_is_not_one(value):
    assert parse(value) == (None, [("x", "not_a_number")])


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-inf"])
def test_a_number_must_be_finite(value):
    assert parse(value) == (None, [("x", "not_a_number")])


def test_a_number_is_read_with_its_thousands_separators_and_spaces():
    assert parse(" 1,234.50 ") == (M("1234.50"), [])
    assert parse(7) == (M(7), [])
    assert parse(M("0.1")) == (M("0.1"), [])


def test_strictly_positive_refuses_zero_and_accepts_the_smallest_step():
    assert parse("0", strictly_positive=True) == (M(0), [("x", "not_positive")])
    assert parse("-1", strictly_positive=True, minimum=M(-5)) == (M(-1), [("x", "not_positive")])
    assert parse("0.01", strictly_positive=True) == (M("0.01"), [])


def test_the_minimum_is_allowed_and_just_under_it_is_too_small():
    assert parse("0", minimum=M(0)) == (M(0), [])
    assert parse("-0.0001", minimum=M(0)) == (M("-0.0001"), [("x", "too_small")])
    assert parse("-5", minimum=None) == (M(-5), [])


def test_the_maximum_is_allowed_and_just_over_it_is_too_large():
    assert parse("1", maximum=M(1)) == (M(1), [])
    assert parse("1.0001", maximum=M(1)) == (M("1.0001"), [("x", "too_large")])
    # Too small and too large at once cannot be, but too large and too many places can.
    assert parse("1.001", maximum=M(1), places=2) == (
        M("1.001"),
        [("x", "too_large"), ("x", "too_many_places")],
    )


def test_the_places_are_allowed_and_one_more_is_too_many():
    assert parse("1.25", places=2) == (M("1.25"), [])
    assert parse("1.250", places=2) == (M("1.250"), [])  # a trailing zero is no place
    assert parse("1.251", places=2) == (M("1.251"), [("x", "too_many_places")])
    assert parse("12", places=0) == (M(12), [])
    assert parse("0.5", places=0) == (M("0.5"), [("x", "too_many_places")])


def test_the_label_names_the_value_in_the_message():
    problems: list[Problem] = []
    r.parse_decimal(None, "x", problems, label="The PMPM")
    assert problems == [Problem("required", "The PMPM is required.", path="x")]
    problems = []
    r.parse_decimal(None, "x", problems)
    assert problems[0].message == "The value is required."


def test_an_integer_is_whole_and_inside_its_bounds():
    def parse_int(value: Any, lo: int = 0, hi: int = 10) -> tuple[int | None, list]:
        problems: list[Problem] = []
        return r.parse_int(value, "n", problems, minimum=lo, maximum=hi), codes(problems)

    assert parse_int("3") == (3, []) and isinstance(parse_int("3")[0], int)
    assert parse_int("3.0") == (3, [])
    assert parse_int("3.5") == (None, [("n", "not_an_integer")])
    assert parse_int("0") == (0, []) and parse_int("10") == (10, [])
    assert parse_int("-1") == (-1, [("n", "too_small")])
    assert parse_int("11") == (11, [("n", "too_large")])
    assert parse_int(None) == (None, [("n", "required")])
    problems: list[Problem] = []
    r.parse_int("1.5", "n", problems, minimum=0, maximum=9, label="The day")
    assert problems[0].message == "The day must be a whole number."


def test_money_and_plain_numbers():
    assert r.money(M("1.005")) == "1.01"
    assert r.money(M("-0.004")) == "-0.00"  # the sign stays, as cents_str writes it
    assert r.money(M(7)) == "7.00"
    assert r.plain_number(M("1.2500")) == "1.25"
    assert r.plain_number(M("100")) == "100"
    assert r.plain_number("1E+2") == "100"
    assert r.plain_number(0.5) == "0.5"


# --- rates and fees -------------------------------------------------------------------------------


def test_validate_rate_is_a_positive_pmpm_in_cents_up_to_the_maximum():
    assert check(r.validate_rate, "99999.99", "rates.x") == (M("99999.99"), [])
    assert check(r.validate_rate, "100000.00", "rates.x") == (M("100000.00"), [("rates.x", "too_large")])
    assert check(r.validate_rate, "0.01", "rates.x") == (M("0.01"), [])
    assert check(r.validate_rate, "0", "rates.x") == (M(0), [("rates.x", "not_positive")])
    assert check(r.validate_rate, "12.345", "rates.x") == (M("12.345"), [("rates.x", "too_many_places")])
    assert check(r.validate_rate, "", "rates.x") == (None, [("rates.x", "required")])
    problems: list[Problem] = []
    r.validate_rate("0", "rates.x", problems)
    assert problems[0].message == "The PMPM must be more than 0."


def test_validate_fee_may_be_zero_but_not_negative():
    assert check(r.validate_fee, "0", "fees.U") == (M(0), [])
    assert check(r.validate_fee, "-0.01", "fees.U") == (M("-0.01"), [("fees.U", "too_small")])
    assert check(r.validate_fee, "99999.99", "fees.U") == (M("99999.99"), [])
    assert check(r.validate_fee, "99999.991", "fees.U") == (
        M("99999.991"),
        [("fees.U", "too_large"), ("fees.U", "too_many_places")],
    )
    problems: list[Problem] = []
    r.validate_fee("-1", "fees.U", problems)
    assert problems[0].message == "The assessment fee must be at least 0."
    assert r.MAX_PMPM == M("99999.99")


# --- quality terms ----------------------------------------------------------------------------------


def term(measure: str = "ed_visits_per_1000", **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"measure": measure, "target": "85", "weight": "1"}
    base.update(changes)
    return base


def test_no_quality_terms_is_an_empty_list():
    assert check(r.validate_quality_terms, None) == ([], [])
    assert check(r.validate_quality_terms, "") == ([], [])
    assert check(r.validate_quality_terms, []) == ([], [])
    assert check(r.validate_quality_terms, {"measure": "x"}) == ([], [("quality_terms", "not_a_list")])


def test_a_quality_term_is_normalised():
    result, problems = check(
        r.validate_quality_terms,
        [term(target="85.50", weight="0.30", minimum_denominator="100")],
    )
    assert problems == []
    assert result == [
        {
            "measure": "ed_visits_per_1000",
            "target": "85.5",
            "weight": "0.3",
            "direction": "lower",
            "minimum_denominator": 100,
        }
    ]


def test_quality_terms_report_every_bad_entry_and_keep_the_good_ones():
    value = [
        "not an object",
        term(measure="nope"),
        term(measure=["ed_visits_per_1000"]),
        term(),
        term(),
    ]
    result, problems = check(r.validate_quality_terms, value, path="q")
    assert problems == [
        ("q[0]", "not_an_object"),
        ("q[1].measure", "unknown_measure"),
        ("q[2].measure", "unknown_measure"),
        ("q[4].measure", "duplicate"),
    ]
    assert [t["measure"] for t in result] == ["ed_visits_per_1000", "ed_visits_per_1000"]


def test_a_rate_target_is_at_most_1_a_score_at_most_100_a_per_1000_rate_unbounded():
    ok, problems = check(
        r.validate_quality_terms,
        [
            term("readmission_30d_rate", target="1", weight="0.25"),
            term("satisfaction_score", target="100", weight="0.25"),
            term("ed_visits_per_1000", target="5000", weight="0.25"),
            term("median_days_before_hospice", target="0", weight="0.25"),
        ],
    )
    assert problems == []
    assert [t["target"] for t in ok] == ["1", "100", "5000", "0"]
    _, problems = check(
        r.validate_quality_terms,
        [
            term("readmission_30d_rate", target="1.01"),
            term("satisfaction_score", target="100.1"),
            term("death_at_home_rate", target="-0.1"),
        ],
    )
    assert problems == [
        ("quality_terms[0].target", "too_large"),
        ("quality_terms[1].target", "too_large"),
        ("quality_terms[2].target", "too_small"),
    ]


def test_a_weight_is_more_than_0_and_at_most_1():
    _, problems = check(
        r.validate_quality_terms, [term(weight="0"), term("icu_admissions_per_1000", weight="1.01")]
    )
    assert problems == [("quality_terms[0].weight", "not_positive"), ("quality_terms[1].weight", "too_large")]
    result, problems = check(r.validate_quality_terms, [term(weight="x", target=None)])
    assert result[0]["weight"] is None and result[0]["target"] is None
    assert problems == [("quality_terms[0].target", "required"), ("quality_terms[0].weight", "not_a_number")]


def test_a_direction_is_the_measure_own_or_refused():
    result, problems = check(r.validate_quality_terms, [term("hospice_transition_rate", target="0.5")])
    assert result[0]["direction"] == "higher" and problems == []
    _, problems = check(r.validate_quality_terms, [term(direction="sideways")])
    assert problems == [("quality_terms[0].direction", "unknown_direction")]
    _, problems = check(r.validate_quality_terms, [term(direction="higher")])
    assert problems == [("quality_terms[0].direction", "wrong_direction")]
    _, problems = check(r.validate_quality_terms, [term(direction="lower")])
    assert problems == []


def test_a_minimum_denominator_is_0_to_a_million_and_0_when_not_given():
    result, _ = check(r.validate_quality_terms, [term()])
    assert result[0]["minimum_denominator"] == 0
    _, problems = check(r.validate_quality_terms, [term(minimum_denominator=1_000_000)])
    assert problems == []
    _, problems = check(r.validate_quality_terms, [term(minimum_denominator=1_000_001)])
    assert problems == [("quality_terms[0].minimum_denominator", "too_large")]
    _, problems = check(r.validate_quality_terms, [term(minimum_denominator=-1)])
    assert problems == [("quality_terms[0].minimum_denominator", "too_small")]


def test_the_assessment_measure_carries_its_n_days_from_1_to_365():
    measure = "assessment_within_n_days_rate"
    result, problems = check(r.validate_quality_terms, [term(measure, target="0.9")])
    assert result[0]["n_days"] == 14 and problems == []
    assert "n_days" not in check(r.validate_quality_terms, [term()])[0][0]
    for days, expected in ((1, []), (365, []), (0, ["too_small"]), (366, ["too_large"])):
        result, problems = check(r.validate_quality_terms, [term(measure, target="0.9", n_days=days)])
        assert [code for _, code in problems] == expected
        assert result[0]["n_days"] == days
        assert all(path == "quality_terms[0].n_days" for path, _ in problems)


# --- shared savings and the bonus ----------------------------------------------------------------


SAVINGS = {
    "baseline_method": "pre_enrollment",
    "minimum_savings_rate": "0.02",
    "sharing_rate": "0.5",
    "cap": "0.1",
    "quality_gate": "0.6",
}


def test_no_shared_savings_is_an_empty_dict():
    assert check(r.validate_shared_savings, None) == ({}, [])
    assert check(r.validate_shared_savings, {}) == ({}, [])
    assert check(r.validate_shared_savings, ["x"]) == ({}, [("shared_savings_terms", "not_an_object")])


def test_shared_savings_terms_are_normalised():
    result, problems = check(r.validate_shared_savings, {**SAVINGS, "sharing_rate": "0.50"})
    assert problems == []
    assert result == {
        "baseline_method": "pre_enrollment",
        "minimum_savings_rate": "0.02",
        "sharing_rate": "0.5",
        "cap": "0.1",
        "quality_gate": "0.6",
    }


def test_every_shared_savings_bound_at_its_edge():
    at_edges = {
        **SAVINGS,
        "minimum_savings_rate": "0.5",
        "sharing_rate": "1",
        "cap": "1",
        "quality_gate": "1",
    }
    assert check(r.validate_shared_savings, at_edges)[1] == []
    zeros = {**SAVINGS, "minimum_savings_rate": "0", "quality_gate": "0"}
    assert check(r.validate_shared_savings, zeros)[1] == []
    over = {
        **SAVINGS,
        "minimum_savings_rate": "0.51",
        "sharing_rate": "1.01",
        "cap": "1.01",
        "quality_gate": "1.01",
    }
    assert check(r.validate_shared_savings, over, path="s")[1] == [
        ("s.minimum_savings_rate", "too_large"),
        ("s.sharing_rate", "too_large"),
        ("s.cap", "too_large"),
        ("s.quality_gate", "too_large"),
    ]
    under = {
        **SAVINGS,
        "minimum_savings_rate": "-0.01",
        "sharing_rate": "0",
        "cap": "0",
        "quality_gate": "-0.01",
    }
    assert check(r.validate_shared_savings, under, path="s")[1] == [
        ("s.minimum_savings_rate", "too_small"),
        ("s.sharing_rate", "not_positive"),
        ("s.cap", "not_positive"),
        ("s.quality_gate", "too_small"),
    ]


def test_an_unknown_baseline_method_is_reported_and_kept():
    result, problems = check(r.validate_shared_savings, {**SAVINGS, "baseline_method": "guess"})
    assert problems == [("shared_savings_terms.baseline_method", "unknown_baseline_method")]
    assert result["baseline_method"] == "guess"


def test_the_baseline_window_is_stored_only_when_given_and_is_1_to_36_months():
    assert "baseline_months" not in check(r.validate_shared_savings, SAVINGS)[0]
    assert "baseline_months" not in check(r.validate_shared_savings, {**SAVINGS, "baseline_months": ""})[0]
    for months, expected in ((1, []), (36, []), (0, ["too_small"]), (37, ["too_large"])):
        result, problems = check(r.validate_shared_savings, {**SAVINGS, "baseline_months": months})
        assert result["baseline_months"] == months
        assert problems == [("shared_savings_terms.baseline_months", code) for code in expected]
    assert r.baseline_months({"baseline_months": 6}) == 6
    assert r.baseline_months({}) == r.baseline_months(None) == r.DEFAULT_BASELINE_MONTHS == 12


def test_the_run_out_is_stored_only_when_given_and_is_0_to_24_months():
    for empty in (SAVINGS, {**SAVINGS, "runout_months": ""}, {**SAVINGS, "runout_months": None}):
        assert "runout_months" not in check(r.validate_shared_savings, empty)[0]
    for months, expected in ((0, []), (24, []), (-1, ["too_small"]), (25, ["too_large"])):
        result, problems = check(r.validate_shared_savings, {**SAVINGS, "runout_months": months})
        assert result["runout_months"] == months
        assert problems == [("shared_savings_terms.runout_months", code) for code in expected]


def test_the_completion_threshold_is_stored_only_when_given_and_is_a_half_to_one():
    for empty in (SAVINGS, {**SAVINGS, "completion_threshold": ""}):
        assert "completion_threshold" not in check(r.validate_shared_savings, empty)[0]
    for value, stored, expected in (
        ("0.5", "0.5", []),
        ("1", "1", []),
        ("0.9500", "0.95", []),
        ("0.4999", "0.4999", ["too_small"]),
        ("1.0001", "1.0001", ["too_large"]),
        ("0.95001", "0.95001", ["too_many_places"]),
        ("most", None, ["not_a_number"]),
    ):
        result, problems = check(r.validate_shared_savings, {**SAVINGS, "completion_threshold": value})
        assert (result["completion_threshold"], problems) == (
            stored,
            [("shared_savings_terms.completion_threshold", code) for code in expected],
        ), value


def test_the_run_out_in_words():
    assert r.describe_runout(SAVINGS) == ""
    assert r.describe_runout({"runout_months": 0, "completion_threshold": ""}) == ""
    assert (
        r.describe_runout({"runout_months": 1})
        == " A period is settled no earlier than 1 month after the period ends."
    )
    assert r.describe_runout({"runout_months": 3, "completion_threshold": "0.95"}) == (
        " A period is settled no earlier than 3 months after the period ends and once at least 95% of its "
        "claims cost is paid."
    )
    assert r.describe_runout({"completion_threshold": "0.9"}) == (
        " A period is settled once at least 90% of its claims cost is paid."
    )
    assert r.describe_shared_savings({**SAVINGS, "runout_months": 6}).endswith(
        "at least 60%. A period is settled no earlier than 6 months after the period ends."
    )
    assert r.SHARED_SAVINGS_LABELS["runout_months"] == "Shared savings · run-out (months after the period)"


TRENDED = {
    **SAVINGS,
    "baseline_method": "trended_benchmark",
    "benchmark_pmpm": "1,250.5",
    "benchmark_midpoint": "2025-07-01",
    "annual_trend": "0.035",
}


def test_a_trended_benchmark_stores_its_three_figures():
    result, problems = check(r.validate_shared_savings, TRENDED)
    assert problems == []
    assert (result["benchmark_pmpm"], result["benchmark_midpoint"], result["annual_trend"]) == (
        "1250.50",
        "2025-07-01",
        "0.035",
    )
    assert r.has_benchmark(result)
    pre = check(r.validate_shared_savings, {**TRENDED, "baseline_method": "pre_enrollment"})[0]
    assert "benchmark_pmpm" not in pre and not r.has_benchmark(pre)


def test_a_trended_benchmark_at_every_bound():
    edges = {
        **TRENDED,
        "benchmark_pmpm": "99999.99",
        "annual_trend": "-0.2",
        "benchmark_midpoint": date(2025, 1, 1),
    }
    result, problems = check(r.validate_shared_savings, edges)
    assert problems == [] and result["benchmark_midpoint"] == "2025-01-01"
    assert check(r.validate_shared_savings, {**TRENDED, "annual_trend": "0.5"})[1] == []
    bad = {**TRENDED, "benchmark_pmpm": "0", "annual_trend": "0.50001", "benchmark_midpoint": "2025-13-01"}
    result, problems = check(r.validate_shared_savings, bad, path="s")
    assert problems == [
        ("s.benchmark_pmpm", "not_positive"),
        ("s.benchmark_midpoint", "not_a_date"),
        ("s.annual_trend", "too_large"),
        ("s.annual_trend", "too_many_places"),
    ]
    assert result["benchmark_midpoint"] is None
    worse = {**TRENDED, "benchmark_pmpm": "100000.001", "annual_trend": "-0.2001", "benchmark_midpoint": None}
    result, problems = check(r.validate_shared_savings, worse, path="s")
    assert problems == [
        ("s.benchmark_pmpm", "too_large"),
        ("s.benchmark_pmpm", "too_many_places"),
        ("s.benchmark_midpoint", "required"),
        ("s.annual_trend", "too_small"),
    ]
    missing = {k: v for k, v in TRENDED.items() if k not in r.BENCHMARK_KEYS}
    result, problems = check(r.validate_shared_savings, missing, path="s")
    assert [code for _, code in problems] == ["required", "required", "required"]
    assert (result["benchmark_pmpm"], result["annual_trend"]) == (None, None)
    assert not r.has_benchmark({**TRENDED, "annual_trend": ""})


def test_the_quality_bonus_is_a_threshold_and_a_percentage_within_bounds():
    for empty in (None, "", {}):
        assert check(r.validate_quality_bonus, empty) == (None, [])
    assert check(r.validate_quality_bonus, "x") == (None, [("quality_bonus", "not_an_object")])
    assert check(r.validate_quality_bonus, {"threshold": "1", "percentage": "0.20"}) == (
        {"threshold": "1", "percentage": "0.2"},
        [],
    )
    result, problems = check(r.validate_quality_bonus, {"threshold": "0", "percentage": "0.21"}, path="b")
    assert problems == [("b.threshold", "not_positive"), ("b.percentage", "too_large")]
    assert result == {"threshold": "0", "percentage": "0.21"}
    result, problems = check(r.validate_quality_bonus, {"threshold": "1.01"}, path="b")
    assert problems == [("b.threshold", "too_large"), ("b.percentage", "required")]
    assert result == {"threshold": "1.01", "percentage": None}


# --- the editable terms ------------------------------------------------------------------------


TERMS: dict[str, Any] = {
    "effective_start": "2026-01-01",
    "effective_end": "2027-01-01",
    "markets": ["RURAL", "URBAN"],
    "lines_of_business": ["medicaid"],
    "proration_rule": "daily",
    "tier_rule": "first_day",
    "assessment_lookback_months": 12,
    "retro_window_months": 3,
    "roster_due_day": 10,
    "termination_notice_days": 90,
    "withhold_percentage": "0.05",
    "quality_terms": [term()],
}


def validate(**changes: Any) -> tuple[dict[str, Any], list[tuple[str | None, str]]]:
    terms = {**copy.deepcopy(TERMS), **changes}
    out, problems = r.validate_terms(
        terms, allowed_markets=["URBAN", "RURAL"], allowed_lobs=["medicaid", "dsnp"]
    )
    return out, codes(problems)


def test_valid_terms_come_back_normalised():
    out, problems = validate()
    assert problems == []
    assert out == {
        "effective_start": date(2026, 1, 1),
        "effective_end": date(2027, 1, 1),
        "markets": ["URBAN", "RURAL"],  # the bundle's order
        "lines_of_business": ["medicaid"],
        "proration_rule": "daily",
        "tier_rule": "first_day",
        "assessment_lookback_months": 12,
        "retro_window_months": 3,
        "roster_due_day": 10,
        "termination_notice_days": 90,
        "withhold_percentage": M("0.05"),
        "quality_terms": [
            {
                "measure": "ed_visits_per_1000",
                "target": "85",
                "weight": "1",
                "direction": "lower",
                "minimum_denominator": 0,
            }
        ],
        "shared_savings_terms": {},
        "quality_bonus": None,
        "single_approval_limit": None,  # four eyes on every amount unless the plan sets a limit
        "recovery_offset_share": None,  # an open receivable takes back all of each payment
        "episode_installments": None,  # a monthly bundle: no episode terms
        "episode_early_exit": None,
        "episode_renewal": None,
    }


def test_the_effective_dates():
    assert validate(effective_end=None)[0]["effective_end"] is None
    assert validate(effective_end="")[1] == []
    assert validate(effective_start="2026-01-02")[1] == [("effective_start", "not_first_of_month")]
    assert validate(effective_end="2027-01-31")[1] == [("effective_end", "not_first_of_month")]
    assert validate(effective_end="2026-01-01")[1] == [("effective_end", "end_before_start")]
    assert validate(effective_end="2025-12-01")[1] == [("effective_end", "end_before_start")]
    assert validate(effective_end="2026-02-01")[1] == []
    assert validate(effective_start=None)[1] == [("effective_start", "required")]
    assert validate(effective_start="soon")[1] == [("effective_start", "not_a_date")]
    assert validate(effective_start=date(2026, 1, 1))[0]["effective_start"] == date(2026, 1, 1)


def test_markets_and_lines_of_business_are_chosen_from_the_bundle_once_each():
    assert validate(markets=[])[1] == [("markets", "required")]
    assert validate(markets="URBAN")[1] == [("markets", "required")]
    assert validate(markets=("URBAN",))[0]["markets"] == ["URBAN"]
    out, problems = validate(markets=["URBAN", "MARS", "URBAN"])
    assert problems == [("markets[1]", "unknown_market"), ("markets", "duplicate")]
    assert out["markets"] == ["URBAN"]
    out, problems = validate(lines_of_business=["commercial"])
    assert problems == [("lines_of_business[0]", "unknown_lob")] and out["lines_of_business"] == []
    assert validate(lines_of_business=None)[1] == [("lines_of_business", "required")]
    assert validate(lines_of_business=None)[0]["lines_of_business"] == []


def test_the_rules_are_known_codes():
    assert validate(proration_rule="weekly")[1] == [("proration_rule", "unknown_rule")]
    assert validate(tier_rule="lowest")[1] == [("tier_rule", "unknown_rule")]
    out, _ = validate(proration_rule="mid_month", tier_rule="highest")
    assert (out["proration_rule"], out["tier_rule"]) == ("mid_month", "highest")


@pytest.mark.parametrize(
    ("key", "lo", "hi"),
    [
        ("assessment_lookback_months", 1, 60),
        ("retro_window_months", 0, 24),
        ("roster_due_day", 1, 28),
        ("termination_notice_days", 0, 365),
    ],
)
def test_every_whole_number_term_at_its_bounds(key, lo, hi):
    assert validate(**{key: lo}) == (validate()[0] | {key: lo}, [])
    assert validate(**{key: hi})[1] == []
    assert validate(**{key: lo - 1})[1] == [(key, "too_small")]
    assert validate(**{key: hi + 1})[1] == [(key, "too_large")]


def test_the_withhold_is_0_to_25_percent_in_four_places():
    assert validate(withhold_percentage="0")[1] == []
    assert validate(withhold_percentage="0.25")[1] == []
    assert validate(withhold_percentage="0.2501")[1] == [("withhold_percentage", "too_large")]
    assert validate(withhold_percentage="-0.0001")[1] == [("withhold_percentage", "too_small")]
    assert validate(withhold_percentage="0.12345")[1] == [("withhold_percentage", "too_many_places")]
    assert r.MAX_WITHHOLD == M("0.25")


def test_the_terms_validate_their_savings_and_bonus_too():
    out, problems = validate(
        shared_savings_terms=SAVINGS, quality_bonus={"threshold": "0.9", "percentage": "0.02"}
    )
    assert problems == []
    assert out["shared_savings_terms"]["sharing_rate"] == "0.5"
    assert out["quality_bonus"] == {"threshold": "0.9", "percentage": "0.02"}
    assert validate(quality_terms="x")[1] == [("quality_terms", "not_a_list")]


# --- completeness -----------------------------------------------------------------------------


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "contract": "C-1",
        "contract_id": "c-uuid",
        "version": 1,
        "status": "draft",
        "payer": {"id": "payer-1", "name": "Plan"},
        "provider": {"id": "prov-1", "name": "Provider", "npi": "1234567893"},
        "bundle": {"id": "b-1", "name": "Home", "number": 2, "content_hash": "abc", "label": "Home v2"},
        "effective_start": "2026-01-01",
        "effective_end": None,
        "lines_of_business": ["medicaid"],
        "markets": ["URBAN", "RURAL"],
        "market_names": {"URBAN": "Urban", "RURAL": "Rural"},
        "tiers": [{"code": "1", "name": "Stable"}, {"code": "2", "name": "Moderate"}],
        "rates": {
            "medicaid/1/URBAN": "250.00",
            "medicaid/1/RURAL": "300.00",
            "medicaid/2/URBAN": "400.00",
            "medicaid/2/RURAL": "450.00",
        },
        "rate_details": {},
        "assessment_fees": {"URBAN": "340.00", "RURAL": "460.00"},
        "assessment_lookback_months": 12,
        "proration_rule": "daily",
        "tier_rule": "first_day",
        "retro_window_months": 3,
        "roster_due_day": 10,
        "withhold_percentage": "0.0500",
        "quality_terms": [
            {
                "measure": "ed_visits_per_1000",
                "target": "85",
                "weight": "0.6",
                "direction": "lower",
                "minimum_denominator": 0,
            },
            {
                "measure": "hospice_transition_rate",
                "target": "0.4",
                "weight": "0.4",
                "direction": "higher",
                "minimum_denominator": 20,
            },
        ],
        "shared_savings_terms": {},
        "quality_bonus": None,
        "termination_notice_days": 90,
        "pricing_run_id": None,
        "amends": None,
    }
    doc.update(changes)
    return doc


def test_cells_are_every_lob_tier_and_market_in_display_order():
    assert r.cells(document(lines_of_business=["medicaid", "dsnp"], markets=["URBAN"])) == [
        ("medicaid", "1", "URBAN"),
        ("medicaid", "2", "URBAN"),
        ("dsnp", "1", "URBAN"),
        ("dsnp", "2", "URBAN"),
    ]


def test_a_complete_version_has_no_problem():
    assert r.completeness_problems(document()) == []


def test_a_version_missing_a_rate_and_a_fee_names_each():
    doc = document()
    del doc["rates"]["medicaid/2/RURAL"]
    del doc["assessment_fees"]["URBAN"]
    problems = r.completeness_problems(doc)
    assert codes(problems) == [
        ("rates.medicaid.2.RURAL", "missing_rate"),
        ("assessment_fees.URBAN", "missing_fee"),
    ]
    assert problems[0].message == "No PMPM for tier 2 in RURAL (Medicaid)."
    doc["episode_days"] = 90  # an episode bundle's cells hold a case rate
    assert r.completeness_problems(doc)[0].message == "No rate per episode for tier 2 in RURAL (Medicaid)."


def test_quality_weights_must_add_up_to_exactly_one():
    doc = document()
    doc["quality_terms"][1]["weight"] = "0.39"
    problems = r.completeness_problems(doc)
    assert codes(problems) == [("quality_terms", "weights_not_one")]
    assert problems[0].message == "The quality weights add up to 0.99; they must add up to 1."
    doc["quality_terms"][1]["weight"] = "0.41"
    assert codes(r.completeness_problems(doc)) == [("quality_terms", "weights_not_one")]


def test_a_withhold_a_bonus_and_a_quality_gate_each_need_quality_measures():
    bare = document(quality_terms=[])
    assert codes(r.completeness_problems(bare)) == [("quality_terms", "withhold_without_quality")]
    assert r.completeness_problems(document(quality_terms=[], withhold_percentage="0.0000")) == []
    with_all = document(
        quality_terms=[],
        withhold_percentage="0",
        quality_bonus={"threshold": "0.9", "percentage": "0.02"},
        shared_savings_terms={**SAVINGS, "quality_gate": "0.01"},
    )
    assert codes(r.completeness_problems(with_all)) == [
        ("quality_bonus", "bonus_without_quality"),
        ("shared_savings_terms.quality_gate", "gate_without_quality"),
    ]
    no_gate = document(
        quality_terms=[], withhold_percentage="0", shared_savings_terms={**SAVINGS, "quality_gate": "0"}
    )
    assert r.completeness_problems(no_gate) == []
    gate_unset = document(
        quality_terms=[], withhold_percentage="0", shared_savings_terms={"sharing_rate": "0.5"}
    )
    assert r.completeness_problems(gate_unset) == []
    # With measures, none of the three is a problem.
    assert (
        r.completeness_problems(
            document(quality_bonus={"threshold": "0.9", "percentage": "0.02"}, shared_savings_terms=SAVINGS)
        )
        == []
    )


# --- fingerprint ------------------------------------------------------------------------------


def test_the_fingerprint_is_the_hash_of_the_terms_by_the_parties_ids():
    base = r.fingerprint(document())
    assert len(base) == 64 and base == r.fingerprint(document())
    renamed = document(
        payer={"id": "payer-1", "name": "Another name"}, market_names={}, rate_details={"x": 1}
    )
    renamed["bundle"] = {**renamed["bundle"], "name": "Renamed", "label": "Renamed v2"}
    renamed["tiers"] = [{"code": "1", "name": "A"}, {"code": "2", "name": "B"}]
    assert r.fingerprint(renamed) == base  # names, labels and details are not terms
    assert r.fingerprint(document(status="proposed", contract_id="other", amends=3, pricing_run_id=9)) == base


@pytest.mark.parametrize("key", r.FINGERPRINTED_KEYS)
def test_every_fingerprinted_key_changes_the_fingerprint(key):
    doc = document()
    changed = {
        "payer": {"id": "payer-2", "name": "Plan"},
        "provider": {"id": "prov-2", "name": "Provider"},
        "bundle": {**doc["bundle"], "content_hash": "def"},
        "tiers": [{"code": "1", "name": "Stable"}],
    }.get(key, "something else")
    assert r.fingerprint(document(**{key: changed})) != r.fingerprint(doc)


def test_the_bundle_enters_by_id_number_and_content_hash():
    base = r.fingerprint(document())
    for field in ("id", "number", "content_hash"):
        doc = document()
        doc["bundle"] = {**doc["bundle"], field: "changed"}
        assert r.fingerprint(doc) != base


def test_a_quality_bonus_enters_the_fingerprint_only_when_there_is_one():
    base = r.fingerprint(document())
    assert r.fingerprint(document(quality_bonus={})) == base
    with_bonus = r.fingerprint(document(quality_bonus={"threshold": "0.9", "percentage": "0.02"}))
    assert with_bonus != base
    assert with_bonus != r.fingerprint(document(quality_bonus={"threshold": "0.8", "percentage": "0.02"}))


def test_a_recovery_offset_share_enters_the_fingerprint_only_when_set():
    base = r.fingerprint(document())
    assert r.fingerprint(document(recovery_offset_share=None)) == base
    half = r.fingerprint(document(recovery_offset_share="0.5"))
    assert half != base
    assert half != r.fingerprint(document(recovery_offset_share="0.25"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", M("1")),  # the upper edge: all of a payment
        ("0.5", M("0.5")),
        ("0.000001", M("0.000001")),  # the smallest share the column holds
        (M("0.25"), M("0.25")),
    ],
)
def test_a_recovery_offset_share_in_zero_to_one(value, expected):
    out, problems = validate(recovery_offset_share=value)
    assert problems == []
    assert out["recovery_offset_share"] == expected


@pytest.mark.parametrize("value", [None, ""])
def test_no_recovery_offset_share_means_the_default(value):
    out, problems = validate(recovery_offset_share=value)
    assert problems == [] and out["recovery_offset_share"] is None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0", "not_positive"),
        ("-0.5", "not_positive"),
        ("1.000001", "too_large"),
        ("1.5", "too_large"),
        ("0.0000001", "too_many_places"),
        ("half", "not_a_number"),
    ],
)
def test_a_recovery_offset_share_outside_zero_to_one_is_a_problem(value, code):
    assert validate(recovery_offset_share=value)[1] == [("recovery_offset_share", code)]


def test_the_recovery_offset_share_is_a_money_rule():
    term = r.TERMS_BY_FIELD["recovery_offset_share"]
    assert (term.section, term.moves_money, term.kind) == ("rules", True, "scalar")
    assert "recovery_offset_share" in r.MONEY_TERMS
    changes = r.diff(document(), document(recovery_offset_share="0.5"))
    assert changes["money_terms_changed"] == ["recovery_offset_share"]
    assert changes["payment_terms_changed"]["rules"] is True
    assert [(c["path"], c["change"], c["before"], c["after"]) for c in changes["changes"]] == [
        ("recovery_offset_share", "added", None, "0.5")
    ]


def test_the_optional_terms_enter_the_fingerprint_under_their_own_names():
    """Frozen versions store their fingerprint: the bytes hashed for each optional term never change."""
    assert r.fingerprint(document()) == "4e5fbc702e9a36c119faaffdbb50da54c502958bb5cc569ddb6c8638702ff1f5"
    assert (
        r.fingerprint(document(single_approval_limit="500.00"))
        == "d3ac0a1f303b86a10917944cba1519c8e4e775bba73a6ccc8c6c0b918641a8e2"
    )
    assert (
        r.fingerprint(document(recovery_offset_share="0.5"))
        == "f990141d1725ff45b72cc43d21f508c0bd82852571eb600bc811d7d112010a64"
    )
    assert (
        r.fingerprint(document(single_approval_limit="500.00", recovery_offset_share="0.5"))
        == "e8a35c3c6904570f9bc03c2bd2bf2af83e0a15c30c764705c8401780904d7aee"
    )


@pytest.mark.parametrize(
    ("value", "expected", "found"),
    [
        ("500.00", M("500.00"), []),
        (M("0.01"), M("0.01"), []),
        ("999999999999.99", M("999999999999.99"), []),
        ("", None, []),
        ("0", M("0"), [("single_approval_limit", "not_positive")]),
        ("1000000000000.00", M("1000000000000.00"), [("single_approval_limit", "too_large")]),
        ("1.005", M("1.005"), [("single_approval_limit", "too_many_places")]),
        ("lots", None, [("single_approval_limit", "not_a_number")]),
    ],
)
def test_the_single_approval_limit_is_an_amount_in_cents_above_zero(value, expected, found):
    out, problems = validate(single_approval_limit=value)
    assert problems == found
    assert out["single_approval_limit"] == expected


def test_a_fingerprint_is_shown_in_groups_of_four():
    assert r.grouped("abcdefghij") == "abcd efgh ij"
    assert r.grouped("abcdefgh", 2) == "ab cd ef gh"


# --- the amendment diff -----------------------------------------------------------------------


def test_two_equal_documents_have_no_change():
    result = r.diff(document(), document(version=2))
    assert result == {
        "from_version": 1,
        "to_version": 2,
        "changes": [],
        "sections_changed": [],
        "payment_terms_changed": {s: False for s in r.PAYMENT_SECTIONS},
        "money_terms_changed": [],
    }


def test_an_added_and_a_removed_rate_cell_are_in_the_diff():
    before, after = document(), document(version=2)
    del before["rates"]["medicaid/2/RURAL"]  # added by the amendment
    del after["rates"]["medicaid/1/URBAN"]  # removed by it
    after["rates"]["medicaid/1/RURAL"] = "310.50"  # changed
    changes = r.diff(before, after)["changes"]
    assert changes == [
        {
            "section": "rates",
            "path": "rates.medicaid.1.RURAL",
            "label": "Medicaid · Tier 1 Stable · RURAL",
            "change": "changed",
            "before": "300.00",
            "after": "310.50",
            "difference": "10.50",
            "term": "rates",
            "moves_money": True,
        },
        {
            "section": "rates",
            "path": "rates.medicaid.1.URBAN",
            "label": "Medicaid · Tier 1 Stable · URBAN",
            "change": "removed",
            "before": "250.00",
            "after": None,
            "difference": None,
            "term": "rates",
            "moves_money": True,
        },
        {
            "section": "rates",
            "path": "rates.medicaid.2.RURAL",
            "label": "Medicaid · Tier 2 Moderate · RURAL",
            "change": "added",
            "before": None,
            "after": "450.00",
            "difference": None,
            "term": "rates",
            "moves_money": True,
        },
    ]
    result = r.diff(before, after)
    assert result["sections_changed"] == ["rates"]
    assert result["payment_terms_changed"] == {
        "rates": True,
        "assessment_fees": False,
        "withhold": False,
        "quality": False,
        "shared_savings": False,
        "rules": False,
        "episode": False,
        "approval": False,
    }
    assert result["money_terms_changed"] == ["rates"]


def test_a_rate_cell_of_a_tier_without_a_name_and_a_new_tier():
    before = document(tiers=[{"code": "1", "name": ""}])
    after = document(tiers=[{"code": "1", "name": ""}, {"code": "3", "name": "High"}])
    after["rates"]["dsnp/3/URBAN"] = "500.00"
    after["rates"]["dsnp/1/URBAN"] = "100.00"
    labels = [(c["path"], c["label"]) for c in r.diff(before, after)["changes"] if c["section"] == "rates"]
    assert labels == [
        ("rates.dsnp.1.URBAN", "D-SNP · Tier 1 · URBAN"),
        ("rates.dsnp.3.URBAN", "D-SNP · Tier 3 High · URBAN"),
    ]


def test_an_added_and_a_removed_assessment_fee():
    before = document(assessment_fees={"URBAN": "340.00"})
    after = document(assessment_fees={"URBAN": "345.55", "RURAL": "460.00"})
    changes = r.diff(before, after)["changes"]
    assert [(c["path"], c["label"], c["change"], c["difference"]) for c in changes] == [
        ("assessment_fees.RURAL", "Assessment fee · RURAL", "added", None),
        ("assessment_fees.URBAN", "Assessment fee · URBAN", "changed", "5.55"),
    ]
    changes = r.diff(after, before)["changes"]
    assert [(c["path"], c["change"], c["before"], c["after"]) for c in changes] == [
        ("assessment_fees.RURAL", "removed", "460.00", None),
        ("assessment_fees.URBAN", "changed", "345.55", "340.00"),
    ]
    assert r.diff(before, after)["payment_terms_changed"]["assessment_fees"] is True


def test_scalar_terms_lists_and_the_bundle_label_in_the_diff():
    before = document()
    after = document(
        effective_end="2027-01-01",
        markets=["URBAN"],
        lines_of_business=["medicaid", "dsnp"],
        bundle={**before["bundle"], "number": 3, "label": "Home v3"},
        retro_window_months=6,
        withhold_percentage="0.0200",
    )
    changes = r.diff(before, after)["changes"]
    assert [
        (c["section"], c["path"], c["label"], c["change"], c["before"], c["after"]) for c in changes[:6]
    ] == [
        ("period", "effective_end", "Ends (exclusive)", "added", None, "2027-01-01"),
        ("coverage", "bundle", "Bundle version", "changed", "Home v2", "Home v3"),
        ("coverage", "markets", "Markets", "changed", "URBAN, RURAL", "URBAN"),
        ("coverage", "lines_of_business", "Lines of business", "changed", "Medicaid", "Medicaid, D-SNP"),
        ("rules", "retro_window_months", "Retro window (months)", "changed", 3, 6),
        ("withhold", "withhold_percentage", "Withhold", "changed", "0.0500", "0.0200"),
    ]
    result = r.diff(before, after)
    assert result["sections_changed"] == [
        s for s in r.SECTIONS if s in {"period", "coverage", "rules", "withhold"}
    ]
    assert result["payment_terms_changed"]["withhold"] is True


def test_a_scalar_list_or_bundle_that_appears_or_goes_away():
    before = document(markets=[], bundle=None)
    after = document(markets=["URBAN"])
    changes = {c["path"]: c for c in r.diff(before, after)["changes"]}
    assert (changes["markets"]["before"], changes["markets"]["change"]) == (None, "added")
    assert (changes["bundle"]["before"], changes["bundle"]["after"]) == (None, "Home v2")
    back = {c["path"]: c for c in r.diff(after, before)["changes"]}
    assert (back["bundle"]["after"], back["bundle"]["change"]) == (None, "removed")
    assert (back["markets"]["after"], back["markets"]["change"]) == (None, "removed")


def test_quality_terms_added_removed_and_changed_field_by_field():
    before = document()
    after = document()
    after["quality_terms"] = [
        {**before["quality_terms"][0], "target": "80", "minimum_denominator": 50},
        {
            "measure": "assessment_within_n_days_rate",
            "target": "0.9",
            "weight": "0.4",
            "direction": "higher",
            "minimum_denominator": 0,
            "n_days": 7,
        },
    ]
    changes = r.diff(before, after)["changes"]
    assert [(c["path"], c["label"], c["change"], c["before"], c["after"]) for c in changes] == [
        (
            "quality_terms.ed_visits_per_1000.target",
            "ED visits per 1,000 member-months · target",
            "changed",
            "85",
            "80",
        ),
        (
            "quality_terms.ed_visits_per_1000.minimum_denominator",
            "ED visits per 1,000 member-months · minimum denominator",
            "changed",
            "0",
            "50",
        ),
        (
            "quality_terms.hospice_transition_rate",
            "Hospice transition rate",
            "removed",
            "Hospice transition rate: target at least 40%, weight 40%; scored only with at least 20 disenrollments.",
            None,
        ),
        (
            "quality_terms.assessment_within_n_days_rate",
            "Initial assessment within N days of referral",
            "added",
            None,
            "Initial assessment within 7 days of referral: target at least 90%, weight 40%.",
        ),
    ]
    assert r.diff(before, after)["payment_terms_changed"]["quality"] is True


def test_a_quality_field_that_appears_is_added_with_none_before():
    before = document()
    after = document()
    after["quality_terms"] = [dict(before["quality_terms"][0]), {**before["quality_terms"][1], "n_days": 30}]
    (change,) = r.diff(before, after)["changes"]
    assert (change["path"], change["before"], change["after"], change["change"]) == (
        "quality_terms.hospice_transition_rate.n_days",
        None,
        "30",
        "added",
    )


def test_the_quality_bonus_in_the_diff():
    before = document()
    after = document(quality_bonus={"threshold": "0.9", "percentage": "0.02"})
    changes = r.diff(before, after)["changes"]
    assert [(c["section"], c["path"], c["label"], c["change"], c["after"]) for c in changes] == [
        ("quality", "quality_bonus.threshold", "Quality bonus · threshold", "added", "0.9"),
        ("quality", "quality_bonus.percentage", "Quality bonus · percentage", "added", "0.02"),
    ]
    changes = r.diff(after, document(quality_bonus={"threshold": "0.9", "percentage": "0.03"}))["changes"]
    assert [(c["path"], c["before"], c["after"]) for c in changes] == [
        ("quality_bonus.percentage", "0.02", "0.03")
    ]


def test_shared_savings_in_the_diff_with_the_benchmark_difference():
    before = document(shared_savings_terms={**TRENDED, "benchmark_pmpm": "1250.50", "baseline_months": 12})
    after = document(
        shared_savings_terms={
            **TRENDED,
            "benchmark_pmpm": "1300.00",
            "sharing_rate": "0.6",
            "baseline_months": None,
        }
    )
    changes = r.diff(before, after)["changes"]
    assert [
        (c["path"], c["label"], c["change"], c["before"], c["after"], c["difference"]) for c in changes
    ] == [
        (
            "shared_savings_terms.baseline_months",
            "Shared savings · baseline window (months before enrollment)",
            "removed",
            "12",
            None,
            None,
        ),
        (
            "shared_savings_terms.benchmark_pmpm",
            "Shared savings · benchmark PMPM",
            "changed",
            "1250.50",
            "1300.00",
            "49.50",
        ),
        ("shared_savings_terms.sharing_rate", "Shared savings · sharing rate", "changed", "0.5", "0.6", None),
    ]
    result = r.diff(document(shared_savings_terms=None), after)
    assert [c["path"] for c in result["changes"]][0] == "shared_savings_terms.annual_trend"
    assert result["payment_terms_changed"]["shared_savings"] is True
    assert result["sections_changed"] == ["shared_savings"]


def test_a_difference_needs_two_numbers():
    assert r._delta(None, "1") is None and r._delta("1", None) is None
    assert r._delta("abc", "1") is None
    assert r._delta("1.005", "2") == "1.00"  # 0.995 rounds half up to the cent


# --- plain words ----------------------------------------------------------------------------------


def test_percentages_in_words():
    assert r.percent("0.05") == "5%"
    assert r.percent(M("0.125")) == "12.5%"
    assert r.percent(1) == "100%"


def test_a_quality_term_in_words():
    assert r.describe_quality(
        {
            "measure": "ed_visits_per_1000",
            "target": "85",
            "weight": "0.3",
            "direction": "lower",
            "minimum_denominator": 0,
        }
    ) == ("ED visits per 1,000 member-months: target at most 85, weight 30%.")
    assert r.describe_quality(
        {
            "measure": "median_days_before_hospice",
            "target": "30",
            "weight": "1",
            "direction": "higher",
            "minimum_denominator": 5,
        }
    ) == (
        "Median days enrolled before hospice: target at least 30 days, weight 100%; scored only with at least "
        "5 transitions to hospice."
    )
    assert r.describe_quality(
        {"measure": "assessment_within_n_days_rate", "target": "0.9", "weight": "0.5", "direction": "higher"}
    ) == ("Initial assessment within N days of referral: target at least 90%, weight 50%.")


def test_the_baseline_in_words():
    assert r.describe_baseline({"baseline_method": "pre_enrollment"}) == (
        "the same members' total cost of care PMPM in the 12 months before enrollment"
    )
    assert r.describe_baseline({"baseline_method": "pre_enrollment", "baseline_months": 1}) == (
        "the same members' total cost of care PMPM in the 1 month before enrollment"
    )
    assert r.describe_baseline({**TRENDED, "benchmark_pmpm": "1250.5"}) == (
        "a benchmark of $1,250.50 PMPM (measured around 2025-07-01) trended at 3.5% a year "
        "to the middle of the performance period"
    )
    assert r.describe_baseline({"baseline_method": "trended_benchmark"}) == (
        "a trended benchmark total cost of care PMPM"
    )
    assert r.describe_baseline({"baseline_method": "comparison_group", "baseline_months": 1}) == (
        "what the members would have cost had their cost moved like a comparison group's: plan members "
        "eligible for the bundle who did not enroll, matched on age band, line of business, market, "
        "condition group, risk score and their cost and use in the 1 month before (difference in differences)"
    )
    assert r.describe_baseline({"baseline_method": "comparison_group"}).endswith(
        "in the 12 months before (difference in differences)"
    )
    assert r.validate_shared_savings({**SAVINGS, "baseline_method": "comparison_group"}, problems := []) == {
        **SAVINGS,
        "baseline_method": "comparison_group",
    }
    assert problems == []
    assert r.describe_baseline({"baseline_method": "guess"}) == "guess"
    assert r.describe_baseline({"baseline_method": 7}) == "7"
    assert r.describe_baseline({}) == "None"


def test_shared_savings_a_bonus_and_a_withhold_in_words():
    assert r.describe_shared_savings({}) == "No shared savings."
    assert r.describe_shared_savings(SAVINGS) == (
        "Savings against the same members' total cost of care PMPM in the 12 months before enrollment above a "
        "minimum savings rate of 2% are shared at 50%, capped at 10% of the baseline, and only when the "
        "composite quality score is at least 60%."
    )
    assert r.describe_shared_savings({**SAVINGS, "quality_gate": "0"}).endswith(
        "capped at 10% of the baseline."
    )
    assert r.describe_shared_savings({**SAVINGS, "quality_gate": None}).endswith("of the baseline.")
    assert r.describe_quality_bonus(None) == "No quality bonus."
    assert r.describe_quality_bonus({"threshold": "0.9", "percentage": "0.02"}) == (
        "A bonus of 2% of the period's member-month payments is paid when the composite quality score is at "
        "least 90%."
    )
    assert r.describe_withhold("0") == "No withhold."
    assert r.describe_withhold(M("0.0000")) == "No withhold."
    assert r.describe_withhold("0.05") == (
        "5% of each month's member-month payments is withheld and returned according to the composite quality "
        "score."
    )


# --- cases the mutants showed --------------------------------------------------------------------


def test_an_empty_date_is_required_and_a_bad_end_is_reported_at_the_end():
    assert validate(effective_start="")[1] == [("effective_start", "required")]
    out, problems = validate(effective_end="someday")
    assert problems == [("effective_end", "not_a_date")] and out["effective_end"] is None


def test_missing_markets_and_missing_lines_of_business_are_both_reported():
    _, problems = validate(markets=[], lines_of_business=None)
    assert problems == [("markets", "required"), ("lines_of_business", "required")]
    _, found = r.validate_terms({**TERMS, "markets": []}, allowed_markets=["U"], allowed_lobs=["medicaid"])
    messages = [p.message for p in found]
    assert messages[0] == "Choose at least one market."


def test_the_terms_report_the_problems_of_their_savings_and_bonus():
    _, problems = validate(shared_savings_terms={**SAVINGS, "cap": "2"}, quality_bonus={"threshold": "0"})
    assert problems == [
        ("shared_savings_terms.cap", "too_large"),
        ("quality_bonus.threshold", "not_positive"),
        ("quality_bonus.percentage", "required"),
    ]


def test_a_missing_shared_savings_figure_is_stored_as_none():
    result, problems = check(r.validate_shared_savings, {"baseline_method": "pre_enrollment"}, path="s")
    assert [code for _, code in problems] == ["required"] * 4
    assert result == {
        "baseline_method": "pre_enrollment",
        "minimum_savings_rate": None,
        "sharing_rate": None,
        "cap": None,
        "quality_gate": None,
    }


def test_the_fingerprint_hashes_exactly_these_fields():
    from core.domain.canonical import canonical_json_ascii, sha256_hex

    doc = document(quality_bonus={"threshold": "0.9", "percentage": "0.02"})
    data = {k: doc[k] for k in r.FINGERPRINTED_KEYS}
    data["quality_bonus"] = doc["quality_bonus"]
    data["payer"], data["provider"] = "payer-1", "prov-1"
    data["bundle"] = {"id": "b-1", "number": 2, "content_hash": "abc"}
    data["tiers"] = ["1", "2"]
    assert r.fingerprint(doc) == sha256_hex(canonical_json_ascii(data))


def test_a_diff_when_a_list_term_goes_away_and_a_tier_leaves_the_bundle():
    before = document(tiers=[{"code": "1", "name": "Stable"}, {"code": "3", "name": "High"}])
    before["rates"]["medicaid/3/URBAN"] = "500.00"
    before["rates"]["medicaid/9/URBAN"] = "1.00"  # a tier no version names
    after = document(markets=None)
    changes = {c["path"]: c for c in r.diff(before, after)["changes"]}
    assert (changes["markets"]["before"], changes["markets"]["after"]) == ("URBAN, RURAL", None)
    assert changes["rates.medicaid.3.URBAN"]["label"] == "Medicaid · Tier 3 High · URBAN"
    assert changes["rates.medicaid.9.URBAN"]["label"] == "Medicaid · Tier 9 · URBAN"
    no_tiers = {k: v for k, v in document().items() if k != "tiers"}
    assert r.diff(no_tiers, document())["changes"] == []


def test_every_quality_field_change_is_in_the_quality_section():
    before = document()
    after = document()
    after["quality_terms"] = [
        {**before["quality_terms"][0], "weight": "0.5", "direction": "higher"},
        {k: v for k, v in before["quality_terms"][1].items() if k != "minimum_denominator"},
        {"measure": "readmission_30d_rate", "target": "0.1", "weight": "0.1", "direction": "lower"},
    ]
    changes = r.diff(before, after)["changes"]
    assert [(c["section"], c["path"], c["before"], c["after"]) for c in changes] == [
        ("quality", "quality_terms.ed_visits_per_1000.weight", "0.6", "0.5"),
        ("quality", "quality_terms.ed_visits_per_1000.direction", "lower", "higher"),
        (
            "quality",
            "quality_terms.readmission_30d_rate",
            None,
            "30-day readmission rate: target at most 10%, weight 10%.",
        ),
        ("quality", "quality_terms.hospice_transition_rate.minimum_denominator", "20", None),
    ]


def test_an_unhashable_baseline_method_is_written_as_it_is():
    assert r.describe_baseline({"baseline_method": ["pre"]}) == "['pre']"


# --- episode terms (a bundle paid per episode) -----------------------------------------------------


def validate_episode(episode_days: int | None = 90, **changes: Any):
    terms = {**copy.deepcopy(TERMS), **changes}
    out, problems = r.validate_terms(
        terms,
        allowed_markets=["URBAN", "RURAL"],
        allowed_lobs=["medicaid", "dsnp"],
        episode_days=episode_days,
    )
    return {k: out[k] for k in r.EPISODE_TERMS}, codes(problems)


def test_episode_terms_come_back_normalised():
    assert validate_episode() == (dict.fromkeys(r.EPISODE_TERMS), [])  # each empty: its default
    out, problems = validate_episode(
        episode_installments="3", episode_early_exit="prorated", episode_renewal=False
    )
    assert problems == []
    assert out == {"episode_installments": 3, "episode_early_exit": "prorated", "episode_renewal": False}
    assert type(out["episode_installments"]) is int
    out, _ = validate_episode(episode_installments=1, episode_early_exit="full", episode_renewal=True)
    assert out == {"episode_installments": 1, "episode_early_exit": "full", "episode_renewal": True}
    blank = validate_episode(episode_installments="", episode_early_exit="", episode_renewal=None)
    assert blank == (dict.fromkeys(r.EPISODE_TERMS), [])


@pytest.mark.parametrize(
    ("value", "expected", "found"),
    [
        ("1", 1, []),
        ("12", 12, []),  # the upper edge: monthly parts for a year
        ("0", 0, [("episode_installments", "too_small")]),  # shown back as given, with its problem
        ("13", 13, [("episode_installments", "too_large")]),
        ("2.5", None, [("episode_installments", "not_an_integer")]),
        ("two", None, [("episode_installments", "not_a_number")]),
    ],
)
def test_episode_installments_from_one_to_twelve(value, expected, found):
    out, problems = validate_episode(episode_installments=value)
    assert problems == found
    assert out["episode_installments"] == expected


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("episode_early_exit", "half", "unknown_rule"),
        ("episode_early_exit", "FULL", "unknown_rule"),
        ("episode_renewal", "yes", "not_a_boolean"),
        ("episode_renewal", 1, "not_a_boolean"),
    ],
)
def test_an_unknown_early_exit_rule_or_a_renewal_not_true_or_false_is_a_problem(field, value, code):
    out, problems = validate_episode(**{field: value})
    assert problems == [(field, code)]
    assert out[field] is None


def test_an_early_exit_problem_names_the_rules():
    terms = {**copy.deepcopy(TERMS), "episode_early_exit": "half"}
    _, problems = r.validate_terms(
        terms, allowed_markets=["URBAN", "RURAL"], allowed_lobs=["medicaid"], episode_days=90
    )
    assert [p.message for p in problems] == ["One of full, prorated."]


def test_a_monthly_bundle_takes_no_episode_term():
    out, problems = validate_episode(
        None, episode_installments="3", episode_early_exit="full", episode_renewal=False
    )
    assert out == dict.fromkeys(r.EPISODE_TERMS)
    assert problems == [
        ("episode_installments", "not_an_episode_bundle"),
        ("episode_early_exit", "not_an_episode_bundle"),
        ("episode_renewal", "not_an_episode_bundle"),
    ]
    assert validate_episode(None, episode_installments="", episode_renewal=None) == (
        dict.fromkeys(r.EPISODE_TERMS),
        [],
    )


def test_episode_terms_enter_the_fingerprint_only_when_set():
    base = r.fingerprint(document())
    assert r.fingerprint(document(episode_installments=None, episode_renewal=None)) == base
    three = r.fingerprint(document(episode_installments=3))
    assert three != base and three != r.fingerprint(document(episode_installments=2))
    renewal = r.fingerprint(document(episode_renewal=False))  # False is set: it counts
    assert renewal != base and renewal != r.fingerprint(document(episode_renewal=True))
    assert r.fingerprint(document(episode_early_exit="full")) != r.fingerprint(
        document(episode_early_exit="prorated")
    )


def test_episode_terms_are_money_terms_of_their_own_section():
    changes = r.diff(document(), document(episode_installments=3, episode_early_exit="prorated"))
    assert changes["money_terms_changed"] == ["episode_installments", "episode_early_exit"]
    assert changes["payment_terms_changed"]["episode"] is True
    assert [(c["path"], c["change"], c["after"]) for c in changes["changes"]] == [
        ("episode_installments", "added", 3),
        ("episode_early_exit", "added", "prorated"),
    ]


def test_episode_terms_in_plain_words():
    assert r.describe_episode(document()) == ""  # a monthly bundle
    words = r.describe_episode(document(episode_days=90))
    assert words == (
        "The rate is a case rate per episode of 90 days, counted from the enrollment start and paid in one "
        "payment in the episode's first month. On an early exit (death, hospice, disenrollment) the episode "
        "is paid in full; an episode is not renewed: enrollment past its end is refused."
    )
    words = r.describe_episode(
        document(episode_days=60, episode_installments=3, episode_early_exit="prorated", episode_renewal=True)
    )
    assert "of 60 days" in words and "in 3 monthly installments from the episode's first month" in words
    assert (
        "prorated by the days enrolled" in words and "a new episode may start the day after one ends" in words
    )
    assert "in one payment" in r.describe_episode(document(episode_days=30, episode_installments=1))


def test_four_eyes_in_plain_words():
    assert r.describe_approval(None) == r.describe_approval("")
    assert r.describe_approval(None).startswith("Every payment, settlement, ledger correction and refund")
    assert "of $2,500.00 or more; under that, the person who requested it may approve it." in (
        r.describe_approval("2500")
    )


def test_a_measure_no_file_scores_cannot_be_chosen(monkeypatch):
    """Every measure has a source today; one without (a measure added before its data) is refused at its
    path, and the terms after it are still checked."""
    from dataclasses import replace

    unscored = replace(r.QUALITY_MEASURES["satisfaction_score"], source=None)
    monkeypatch.setitem(r.QUALITY_MEASURES, "satisfaction_score", unscored)
    terms = [term("satisfaction_score", weight="0.5"), term("nonsense", weight="0.5")]
    problems: list[Problem] = []
    r.validate_quality_terms(terms, problems)
    assert codes(problems) == [
        ("quality_terms[0].measure", "measure_without_data"),
        ("quality_terms[1].measure", "unknown_measure"),
    ]
    assert problems[0].message == r.NO_DATA_MESSAGE.format(name=unscored.name)


# --- phased rates (issue 17 point 6) ------------------------------------------------------------------

PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]


def phased_document(**changes: Any) -> dict[str, Any]:
    """``document()`` on a phased bundle: each cell's rate per phase, the first months 50.00 dearer."""
    doc = document(phases=copy.deepcopy(PHASES), **changes)
    doc["rates"] = {
        f"{key}/{phase}": r.money(Decimal(value) + (50 if phase == "initial" else 0))
        for key, value in doc["rates"].items()
        for phase in ("initial", "ongoing")
    }
    return doc


def test_rate_keys_and_paths_carry_a_phase_only_when_there_is_one():
    assert r.rate_key("medicaid", "1", "URBAN") == "medicaid/1/URBAN"
    assert r.rate_key("medicaid", "1", "URBAN", "") == "medicaid/1/URBAN"
    assert r.rate_key("medicaid", "1", "URBAN", "initial") == "medicaid/1/URBAN/initial"
    assert r.rate_path("dsnp", "2", "RURAL") == "rates.dsnp.2.RURAL"
    assert r.rate_path("dsnp", "2", "RURAL", "ongoing") == "rates.dsnp.2.RURAL.ongoing"
    assert r.split_rate_key("medicaid/1/URBAN") == ("medicaid", "1", "URBAN", "")
    assert r.split_rate_key("medicaid/1/URBAN/initial") == ("medicaid", "1", "URBAN", "initial")


def test_rate_cells_are_every_cell_of_every_phase_in_display_order():
    assert r.phase_codes(document()) == [""]
    assert r.phase_codes(document(phases=[])) == [""]
    assert r.rate_cells(document(markets=["URBAN"])) == [
        ("medicaid", "1", "URBAN", ""),
        ("medicaid", "2", "URBAN", ""),
    ]
    doc = phased_document(markets=["URBAN"])
    assert r.phase_codes(doc) == ["initial", "ongoing"]
    assert r.rate_cells(doc) == [
        ("medicaid", "1", "URBAN", "initial"),
        ("medicaid", "1", "URBAN", "ongoing"),
        ("medicaid", "2", "URBAN", "initial"),
        ("medicaid", "2", "URBAN", "ongoing"),
    ]
    assert r.cells(doc) == [("medicaid", "1", "URBAN"), ("medicaid", "2", "URBAN")]


def test_a_cell_in_words_names_its_phase():
    doc = phased_document()
    assert r.phase_names(doc) == {"initial": "Months 1-2", "ongoing": "Month 3 on"}
    assert r.phase_names(document()) == {}
    assert r.describe_cell(doc, "medicaid", "2", "RURAL") == "tier 2 in RURAL (Medicaid)"
    assert r.describe_cell(doc, "medicaid", "2", "RURAL", "ongoing") == (
        "tier 2 in RURAL (Medicaid), phase Month 3 on"
    )
    assert (
        r.describe_cell(doc, "medicaid", "2", "RURAL", "later") == "tier 2 in RURAL (Medicaid), phase later"
    )
    unnamed = document(phases=[{"code": "initial", "name": "", "from_month": 1}])
    assert r.phase_names(unnamed) == {"initial": "initial"}


@pytest.mark.parametrize(
    ("value", "phase_codes", "expected", "problem"),
    [
        (None, [], "", None),
        ("", [], "", None),
        ("initial", [], None, "unknown_phase"),
        (" initial ", ["initial", "ongoing"], "initial", None),
        ("ongoing", ["initial", "ongoing"], "ongoing", None),
        ("", ["initial", "ongoing"], None, "phase_required"),
        (None, ["initial", "ongoing"], None, "phase_required"),
        ("later", ["initial", "ongoing"], None, "unknown_phase"),
    ],
)
def test_a_rates_phase_is_checked_against_the_bundles(value, phase_codes, expected, problem):
    problems: list[Problem] = []
    assert r.validate_phase(value, phase_codes, "rates[0].phase", problems) == expected
    assert codes(problems) == ([("rates[0].phase", problem)] if problem else [])


def test_validate_phase_messages_name_the_phases():
    problems: list[Problem] = []
    r.validate_phase("", ["initial", "ongoing"], "p", problems)
    r.validate_phase("later", ["initial", "ongoing"], "p", problems)
    r.validate_phase("initial", [], "p", problems)
    assert [p.message for p in problems] == [
        "The bundle has phases (initial, ongoing): name the rate's phase.",
        "No phase 'later' in this bundle (initial, ongoing).",
        "The bundle has no phases: a rate holds for every month, not 'initial'.",
    ]


def test_a_phased_version_needs_a_rate_per_phase():
    doc = phased_document()
    assert r.completeness_problems(doc) == []
    del doc["rates"]["medicaid/2/RURAL/ongoing"]
    problems = r.completeness_problems(doc)
    assert codes(problems) == [("rates.medicaid.2.RURAL.ongoing", "missing_rate")]
    assert problems[0].message == "No PMPM for tier 2 in RURAL (Medicaid), phase Month 3 on."
    # an unphased cell does not stand for the phases of a phased version
    doc["rates"]["medicaid/2/RURAL"] = "450.00"
    assert codes(r.completeness_problems(doc)) == [("rates.medicaid.2.RURAL.ongoing", "missing_rate")]


def test_phases_leave_the_fingerprint_of_an_unphased_version_alone():
    pinned = r.fingerprint(document())
    assert r.fingerprint(document(phases=[])) == pinned
    phased = phased_document()
    assert r.fingerprint(phased) != pinned
    assert r.fingerprint(phased) == r.fingerprint(copy.deepcopy(phased))
    moved = copy.deepcopy(phased)
    moved["rates"]["medicaid/1/URBAN/initial"] = "301.00"
    assert r.fingerprint(moved) != r.fingerprint(phased)


def test_a_phase_rate_in_the_diff_names_the_cell_and_the_phase():
    before, after = phased_document(), phased_document(version=2)
    after["rates"]["medicaid/2/URBAN/initial"] = "470.00"
    del after["rates"]["medicaid/1/RURAL/ongoing"]
    changes = r.diff(before, after)["changes"]
    assert [
        (c["path"], c["label"], c["change"], c["before"], c["after"], c["difference"]) for c in changes
    ] == [
        (
            "rates.medicaid.1.RURAL.ongoing",
            "Medicaid · Tier 1 Stable · RURAL · Phase Month 3 on",
            "removed",
            "300.00",
            None,
            None,
        ),
        (
            "rates.medicaid.2.URBAN.initial",
            "Medicaid · Tier 2 Moderate · URBAN · Phase Months 1-2",
            "changed",
            "450.00",
            "470.00",
            "20.00",
        ),
    ]
    # a phase only the later version names still reads as its code when neither document names it
    after["rates"]["medicaid/2/URBAN/later"] = "1.00"
    later = next(c for c in r.diff(before, after)["changes"] if c["path"].endswith(".later"))
    assert later["label"] == "Medicaid · Tier 2 Moderate · URBAN · Phase later" and later["change"] == "added"
