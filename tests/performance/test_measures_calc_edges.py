"""Performance math at its edges (issue 21): equality at every target, threshold, minimum and gate,
half-cent figures, the defaults of missing terms, and the intervals against closed forms.

Pure; `make mutate` runs performance/measures.py against this file and test_performance_measures.py.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from performance import measures as m

M = Decimal


def rel(a: float, b: float, tolerance: float = 1e-12) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b), 1e-300)


# --- the incomplete gamma function and its quantile -----------------------------------------------


@pytest.mark.parametrize("x", [1e-3, 0.3, 1.0, 1.9999, 2.0, 2.5, 7.0, 40.0])
def test_gamma_p_of_shape_1_and_2_has_a_closed_form(x):
    # P(1, x) = 1 - e^-x; P(2, x) = 1 - e^-x (1 + x); both sides of the series / fraction switch.
    assert rel(m._gamma_p(1.0, x), -math.expm1(-x), 1e-12)
    assert rel(m._gamma_p(2.0, x), 1 - math.exp(-x) * (1 + x), 1e-9)


@pytest.mark.parametrize("x", [0.01, 0.5, 1.5, 1.6, 3.0, 12.0])
def test_gamma_p_of_shape_one_half_is_the_error_function(x):
    assert rel(m._gamma_p(0.5, x), math.erf(math.sqrt(x)), 1e-12)


def test_gamma_p_is_zero_at_and_below_zero_and_never_above_one():
    assert m._gamma_p(3.0, 0.0) == 0.0 and m._gamma_p(3.0, -1.0) == 0.0
    assert m._gamma_p(2.0, 800.0) == 1.0
    assert m._gamma_p(200.0, 1.0) == pytest.approx(0.0, abs=1e-300)
    # Exactly at the switch x = a + 1 the continued fraction answers.
    assert rel(m._gamma_p(3.0, 4.0), 1 - math.exp(-4.0) * (1 + 4.0 + 8.0), 1e-12)


@pytest.mark.parametrize(
    ("shape", "p"),
    [
        (1.0, 0.025),
        (5.0, 0.975),
        (0.5, 0.3),
        (40.0, 0.5),
        (250.0, 0.001),
        (2.0, 0.999999),
        (0.2, 0.1),
        (0.5, 0.001),
    ],
)
def test_gamma_quantile_inverts_the_cdf_to_twelve_digits(shape, p):
    q = m.gamma_quantile(shape, p)
    assert rel(m._gamma_p(shape, q), p, 1e-10)


def test_gamma_quantile_of_shape_1_is_minus_log_of_the_complement():
    assert rel(m.gamma_quantile(1.0, 0.5), math.log(2), 1e-12)
    assert rel(m.gamma_quantile(1.0, 0.975), -math.log(0.025), 1e-12)


@pytest.mark.parametrize(("shape", "p"), [(50.0, 1e-300), (1000.0, 1e-300)])
def test_gamma_quantile_deep_in_the_tail_falls_back_to_bisection(shape, p):
    # Far in the lower tail Newton's density underflows; bisection stops at an absolute 1e-12, so
    # the CDF of its answer is p to about five digits (never reached by a 95% interval).
    q = m.gamma_quantile(shape, p)
    assert rel(m._gamma_p(shape, q), p, 1e-4)


def test_gamma_quantile_deep_in_the_tail_is_the_power_law_of_the_first_term():
    # P(a, x) ~ x^a / Gamma(a + 1) for x far below a.
    expected = math.exp((math.log(1e-300) + math.lgamma(51.0)) / 50.0)
    assert rel(m.gamma_quantile(50.0, 1e-300), expected, 1e-5)


def test_gamma_quantile_of_a_huge_shape_is_near_its_median():
    # Median of Gamma(a) ~ a - 1/3 for large a (the bisection path too).
    assert abs(m.gamma_quantile(1e7, 0.5) - (1e7 - 1 / 3)) < 1e-3


def test_newton_from_the_wilson_hilferty_guess_settles_in_a_few_steps(monkeypatch):
    calls = []
    real = m._gamma_p

    def counted(a: float, x: float) -> float:
        calls.append(x)
        return real(a, x)

    monkeypatch.setattr(m, "_gamma_p", counted)
    for shape, p in ((1.0, 0.025), (6.0, 0.975), (30.0, 0.025), (120.0, 0.975), (0.5, 0.5)):
        calls.clear()
        q = m.gamma_quantile(shape, p)
        assert rel(real(shape, q), p, 1e-10)
        assert len(calls) <= 6, (shape, p, len(calls))


def test_gamma_quantile_refuses_a_shape_of_zero_and_p_outside_the_open_interval():
    with pytest.raises(ValueError, match="shape"):
        m.gamma_quantile(0.0, 0.5)
    for p in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"p must be in \(0, 1\)"):
            m.gamma_quantile(2.0, p)
    assert m.gamma_quantile(1e-3, 0.5) > 0


def test_poisson_interval_of_one_event():
    low, high = m.poisson_interval(1)
    assert rel(low, -math.log(1 - 0.025), 1e-12)  # P(1, x) = 0.025
    assert rel(real_p2(high), 0.975, 1e-10)
    with pytest.raises(ValueError):
        m.poisson_interval(-1)


def real_p2(x: float) -> float:
    return 1 - math.exp(-x) * (1 + x)


def test_a_rate_per_1000_over_less_than_one_member_month():
    low, high = m.rate_interval_per_1000(0, M("0.5"))
    assert low == 0.0 and rel(high, -math.log(0.025) * 2000, 1e-12)
    assert m.rate_interval_per_1000(3, 0) is None


# --- Wilson, the mean and the median ------------------------------------------------------------------


def test_wilson_with_one_success_has_a_positive_lower_bound():
    low, high = m.wilson_interval(1, 10)
    assert low == pytest.approx(0.017876, abs=1e-6) and high == pytest.approx(0.404150, abs=1e-6)
    low, high = m.wilson_interval(10, 10)
    assert high == 1.0 and low == pytest.approx(0.722467, abs=1e-6)
    with pytest.raises(ValueError):
        m.wilson_interval(11, 10)
    with pytest.raises(ValueError):
        m.wilson_interval(-1, 10)


def test_the_mean_interval_by_hand():
    # Two responses 4 and 6: mean 5, sample variance 2, half-width 1.96 x sqrt(2 / 2).
    low, high = m.mean_interval(10.0, 52.0, 2)
    assert low == pytest.approx(5 - m.Z95) and high == pytest.approx(5 + m.Z95)
    # Three responses 1, 2, 6: mean 3, variance (41 - 27) / 2 = 7.
    low, high = m.mean_interval(9.0, 41.0, 3)
    half = m.Z95 * math.sqrt(7 / 3)
    assert low == pytest.approx(3 - half, abs=1e-12) and high == pytest.approx(3 + half, abs=1e-12)
    assert m.mean_interval(1.0, 1.0, 0) is None


def test_the_mean_interval_is_clipped_to_0_100_by_default():
    assert m.mean_interval(-5.0, 25.0, 1) == (0.0, -5.0)
    assert m.mean_interval(150.0, 150.0**2, 1) == (150.0, 100.0)
    assert m.mean_interval(0.5, 0.25, 1) == (0.5, 0.5)
    low, high = m.mean_interval(2.0, 4.0, 2)  # 0 and 2: mean 1, variance 2, low clipped to 0
    assert low == 0.0 and high == pytest.approx(1 + m.Z95)
    # Rounding can make the variance a hair negative: it is taken as 0.
    assert m.mean_interval(0.3, 0.03, 3) == (pytest.approx(0.1), pytest.approx(0.1))


def test_the_median_of_an_odd_and_an_even_count():
    assert m.median([5, 1, 3]) == 3.0 and isinstance(m.median([5, 1, 3]), float)
    assert m.median([4, 1, 3, 2]) == 2.5
    assert m.median([]) is None


# --- measures --------------------------------------------------------------------------------------


def term(measure: str, target: str | None = "0.5", **extra) -> dict:
    return {"measure": measure, "target": target, "weight": "1", **extra}


def test_a_rate_measure_with_one_case_is_scored_and_its_interval_has_six_places():
    result = m.evaluate_measure(term("readmission_30d_rate", "0.5"), m.MeasureData(M(1), M(1)))
    assert (result.rate, result.scored, result.met, result.direction) == (M("1.000000"), True, False, "lower")
    assert result.ci_low is not None and result.ci_low.as_tuple().exponent == -6
    assert result.ci_high == M("1.000000")


def test_a_measure_exactly_at_its_minimum_denominator_is_scored_one_below_is_not():
    data_at = m.MeasureData(M(5), M(100))
    at = m.evaluate_measure(term("hospice_transition_rate", "0.05", minimum_denominator=100), data_at)
    assert (at.scored, at.met, at.minimum_denominator) == (True, True, 100)
    below = m.evaluate_measure(term("hospice_transition_rate", "0.05", minimum_denominator=101), data_at)
    assert (below.scored, below.met) == (False, None)


def test_a_measure_exactly_at_its_target_is_met_either_way():
    lower = m.evaluate_measure(term("ed_visits_per_1000", "50"), m.MeasureData(M(5), M(100)))
    assert (lower.rate, lower.met) == (M("50.000000"), True)
    assert m.evaluate_measure(term("ed_visits_per_1000", "49.99"), m.MeasureData(M(5), M(100))).met is False
    higher = m.evaluate_measure(term("death_at_home_rate", "0.25"), m.MeasureData(M(1), M(4)))
    assert (higher.rate, higher.met) == (M("0.250000"), True)
    assert m.evaluate_measure(term("death_at_home_rate", "0.2501"), m.MeasureData(M(1), M(4))).met is False


def test_a_per_1000_rate_over_half_a_member_month_is_scored_with_no_minimum():
    result = m.evaluate_measure(term("icu_admissions_per_1000", "5000"), m.MeasureData(M(1), M("0.5")))
    assert (result.rate, result.scored, result.met, result.minimum_denominator) == (
        M("2000.000000"),
        True,
        True,
        0,
    )
    assert result.ci_low == 0 or result.ci_low > 0


def test_a_measure_without_a_target_or_data_is_not_scored_and_its_weight_defaults_to_zero():
    no_target = m.evaluate_measure(term("readmission_30d_rate", ""), m.MeasureData(M(1), M(10)))
    assert (no_target.target, no_target.scored, no_target.met) == (None, False, None)
    none_target = m.evaluate_measure(term("readmission_30d_rate", None), m.MeasureData(M(1), M(10)))
    assert none_target.scored is False
    no_data = m.evaluate_measure(term("readmission_30d_rate"), m.MeasureData(M(0), M(0)))
    assert (no_data.rate, no_data.ci_low, no_data.scored) == (None, None, False)
    weightless = m.evaluate_measure(
        {"measure": "readmission_30d_rate", "target": "1"}, m.MeasureData(M(1), M(2))
    )
    assert weightless.weight == 0


def test_an_explicit_direction_wins_and_the_result_carries_its_inputs():
    data = m.MeasureData(M(3), M(10))
    result = m.evaluate_measure(term("readmission_30d_rate", "0.4", direction="higher"), data)
    assert result == m.MeasureResult(
        code="readmission_30d_rate",
        unit="rate",
        direction="higher",
        numerator=M(3),
        denominator=M(10),
        rate=M("0.300000"),
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        target=M("0.4"),
        weight=M(1),
        minimum_denominator=0,
        scored=True,
        met=False,
    )
    assert result.as_dict()["rate"] == "0.300000" and result.as_dict()["met"] is False
    assert result.as_dict()["minimum_denominator"] == 0 and result.as_dict()["target"] == "0.4"


def test_a_score_measure_has_an_interval_and_days_have_none():
    score = m.evaluate_measure(
        term("satisfaction_score", "80"), m.MeasureData(M(170), M(2), sum_squares=M(14450 + 0))
    )
    assert score.rate == M("85.000000") and score.ci_low is not None and score.ci_high is not None
    days = m.evaluate_measure(term("median_days_before_hospice", "30"), m.MeasureData(M(41), M(7)))
    assert (days.rate, days.ci_low, days.ci_high, days.met) == (M(41), None, None, True)


# --- composite and money -------------------------------------------------------------------------------


def scored(weight: str, met: bool, is_scored: bool = True) -> m.MeasureResult:
    return m.MeasureResult(
        "x",
        "rate",
        "lower",
        M(1),
        M(1),
        M(1),
        None,
        None,
        M(1),
        M(weight),
        0,
        is_scored,
        met if is_scored else None,
    )


def test_the_composite_rounds_a_half_millionth_up():
    # 1 / 2,000,000 = 0.0000005 exactly: half-up gives 0.000001 (half-even would give 0).
    assert m.composite_score([scored("1", True), scored("1999999", False)]) == M("0.000001")
    assert m.composite_score([scored("0.3", True), scored("0.7", False)]) == M("0.300000")


def test_a_composite_of_weightless_measures_is_none():
    assert m.composite_score([scored("0", True), scored("0", False)]) is None
    assert m.composite_score([scored("1", True, is_scored=False)]) is None
    assert m.composite_score([]) is None
    assert m.composite_score([scored("1", False)]) == M("0.000000")


def test_a_bonus_at_exactly_the_threshold_is_paid_and_half_a_cent_rounds_up():
    money = m.quality_money(
        M("0.9"),
        withheld=M("100"),
        base_payments=M("0.25"),
        bonus_terms={"threshold": "0.9", "percentage": "0.02"},
    )
    assert money == m.QualityMoney(
        withheld=M("100.00"),
        return_share=M("0.9"),
        withhold_returned=M("90.00"),
        withhold_kept=M("10.00"),
        bonus=M("0.01"),  # 0.02 x 0.25 = 0.005 -> 0.01
        base_payments=M("0.25"),
    )
    below = m.quality_money(
        M("0.899999"),
        withheld=M("100"),
        base_payments=M("1000"),
        bonus_terms={"threshold": "0.9", "percentage": "0.02"},
    )
    assert below.bonus == 0


def test_the_bonus_terms_default_to_a_threshold_of_1_and_no_percentage():
    full = m.quality_money(M(1), withheld=M(0), base_payments=M(1000), bonus_terms={"percentage": "0.1"})
    assert full.bonus == M("100.00")
    assert (
        m.quality_money(
            M("0.99"), withheld=M(0), base_payments=M(1000), bonus_terms={"percentage": "0.1"}
        ).bonus
        == 0
    )
    assert (
        m.quality_money(M(1), withheld=M(0), base_payments=M(1000), bonus_terms={"threshold": "0.5"}).bonus
        == 0
    )
    assert (
        m.quality_money(None, withheld=M(0), base_payments=M(1000), bonus_terms={"percentage": "0.1"}).bonus
        == 0
    )


def test_a_withhold_returns_half_a_cent_up_and_a_share_never_above_one():
    half = m.quality_money(M("0.5"), withheld=M("0.01"))
    assert (half.withhold_returned, half.withhold_kept) == (M("0.01"), M("0.00"))
    over = m.quality_money(M("1.5"), withheld=M("10"))
    assert (over.return_share, over.withhold_returned) == (M(1), M("10.00"))
    none = m.quality_money(None, withheld=M("10.005"))
    assert (none.withheld, none.return_share, none.withhold_returned, none.base_payments) == (
        M("10.01"),
        M(1),
        M("10.01"),
        M(0),
    )


HALF = M("0.5")
SAVINGS = {"minimum_savings_rate": "0.1", "sharing_rate": "0.5", "cap": "0.2", "quality_gate": "0.5"}


def savings(terms=SAVINGS, baseline="100", actual="90", mm="10", composite=HALF) -> m.SharedSavings | None:
    return m.shared_savings(
        terms,
        baseline_pmpm=None if baseline is None else M(baseline),
        actual_pmpm=None if actual is None else M(actual),
        member_months=M(mm),
        composite=composite,
    )


def test_savings_exactly_at_the_minimum_rate_and_the_gate_are_shared():
    result = savings()
    assert result == m.SharedSavings(
        baseline_pmpm=M(100),
        actual_pmpm=M(90),
        member_months=M(10),
        gross_savings=M("100.00"),
        savings_rate=M("0.100000"),
        minimum_savings_rate=M("0.1"),
        msr_met=True,
        quality_gate=M("0.5"),
        gate_met=True,
        sharing_rate=M("0.5"),
        cap_amount=M("200.00"),
        shared=M("50.00"),
        reason="Shared.",
    )
    assert savings(actual="90.01").msr_met is False  # type: ignore[union-attr]
    assert savings(composite=M("0.499999")).gate_met is False  # type: ignore[union-attr]


def test_a_cent_of_savings_with_no_minimum_rate_is_shared_and_none_is_not():
    terms = {"sharing_rate": "1", "cap": "1"}
    cent = savings(terms, baseline="100", actual="99.999", mm="10", composite=None)
    assert cent is not None and (cent.gross_savings, cent.msr_met, cent.gate_met, cent.shared) == (
        M("0.01"),
        True,
        True,
        M("0.01"),
    )
    zero = savings(terms, baseline="100", actual="100", mm="10", composite=None)
    assert zero is not None and (zero.msr_met, zero.shared) == (False, 0)
    loss = savings(terms, baseline="100", actual="101", mm="10", composite=None)
    assert loss is not None and (loss.gross_savings, loss.msr_met, loss.shared) == (M("-10.00"), False, 0)


def test_half_a_cent_of_gross_savings_rounds_up():
    result = savings({"sharing_rate": "1", "cap": "1"}, baseline="1", actual="0.995", mm="1", composite=None)
    assert result is not None and result.gross_savings == M("0.01")


def test_the_terms_default_to_zero_when_missing():
    result = savings({"sharing_rate": "0.5"}, composite=None)
    assert result is not None
    assert (result.minimum_savings_rate, result.quality_gate, result.cap_amount) == (0, 0, M("0.00"))
    assert (result.gate_met, result.msr_met, result.shared, result.reason) == (
        True,
        True,
        M("0.00"),
        "Capped.",
    )
    nothing = savings({"cap": "1"}, composite=None)
    assert nothing is not None and (nothing.sharing_rate, nothing.shared, nothing.reason) == (
        0,
        M("0.00"),
        "Shared.",
    )
    assert (
        m.shared_savings(None, baseline_pmpm=M(1), actual_pmpm=M(1), member_months=M(1), composite=None)
        is None
    )
    assert (
        m.shared_savings({}, baseline_pmpm=M(1), actual_pmpm=M(1), member_months=M(1), composite=None) is None
    )


def test_a_quality_gate_above_zero_with_no_composite_is_not_met():
    result = savings(composite=None)
    assert result is not None and (result.gate_met, result.shared) == (False, 0)
    open_gate = savings({**SAVINGS, "quality_gate": "0"}, composite=None)
    assert open_gate is not None and (open_gate.gate_met, open_gate.shared) == (True, M("50.00"))
    scored_zero = savings({**SAVINGS, "quality_gate": "0"}, composite=M(0))
    assert scored_zero is not None and scored_zero.gate_met is True


def test_a_share_exactly_at_the_cap_is_shared_above_it_is_capped():
    at_cap = savings({**SAVINGS, "cap": "0.05"})
    assert at_cap is not None and (at_cap.cap_amount, at_cap.shared, at_cap.reason) == (
        M("50.00"),
        M("50.00"),
        "Shared.",
    )
    over = savings({**SAVINGS, "cap": "0.04"})
    assert over is not None and (over.cap_amount, over.shared, over.reason) == (
        M("40.00"),
        M("40.00"),
        "Capped.",
    )


def test_without_a_baseline_or_member_months_nothing_is_compared():
    for baseline, actual, mm in (
        (None, "90", "10"),
        ("100", None, "10"),
        ("0", "90", "10"),
        ("100", "90", "0"),
    ):
        result = savings(baseline=baseline, actual=actual, mm=mm, composite=None)
        assert result is not None
        assert (
            result.gross_savings,
            result.savings_rate,
            result.msr_met,
            result.shared,
            result.cap_amount,
        ) == (
            0,
            None,
            False,
            0,
            0,
        )
        assert (result.minimum_savings_rate, result.quality_gate, result.sharing_rate) == (
            M("0.1"),
            M("0.5"),
            M("0.5"),
        )
        assert result.gate_met is False
        assert result.member_months == M(mm)
        assert (result.baseline_pmpm, result.actual_pmpm) == (
            None if baseline is None else M(baseline),
            None if actual is None else M(actual),
        )
    small = savings(baseline="0.5", actual="0.4", mm="0.5", composite=M(1))
    assert small is not None and small.savings_rate == M("0.200000") and small.gross_savings == M("0.05")


# --- time and avoided events ------------------------------------------------------------------------------


def test_period_midpoints():
    assert m.period_midpoint(date(2026, 1, 1), date(2026, 4, 1)) == date(2026, 2, 15)
    assert m.period_midpoint(date(2026, 1, 1), date(2027, 1, 1)) == date(2026, 7, 2)
    assert m.period_midpoint(date(2026, 3, 1), date(2026, 4, 1)) == date(2026, 3, 16)


def test_a_benchmark_trended_a_year_forward_and_back():
    forward = m.trended_benchmark_pmpm(M("1000"), date(2025, 1, 1), M("0.1"), date(2026, 1, 1))
    assert forward == M("1099.93")  # 1000 x 1.1 ** (365 / 365.25)
    back = m.trended_benchmark_pmpm("1000", date(2026, 1, 1), "0.1", date(2025, 1, 1))
    assert back == M("909.15")
    assert m.trended_benchmark_pmpm("1000.005", date(2026, 1, 1), "0.1", date(2026, 1, 1)) == M("1000.01")


def test_avoided_events_round_expected_and_rate_to_two_places():
    events = m.avoided_events(
        baseline_counts={"ed_visit": 1},
        baseline_mm=M(3),
        actual_counts={"inpatient_admission": 2},
        actual_mm=M(10),
        unit_costs={"ed_visit": M("1000"), "inpatient_admission": M("9000")},
    )
    ed, inpatient, icu, readmission = events.events
    assert ed == m.AvoidedEvent("ed_visit", M("333.33"), M("3.33"), 0, M("3.33"), M("1000"), M("3330.00"))
    assert inpatient == m.AvoidedEvent(
        "inpatient_admission", M("0.00"), M("0.00"), 2, M(0), M("9000"), M("0.00")
    )
    assert icu.unit_cost == 0 and readmission.actual == 0
    assert events.total == M("3330.00")


def test_avoided_events_over_less_than_one_baseline_month_and_over_none():
    half = m.avoided_events(
        baseline_counts={"readmission": 1},
        baseline_mm=M("0.5"),
        actual_counts={},
        actual_mm=M(1),
        unit_costs={},
    )
    assert half.events[3].expected == M("2.00") and half.events[3].baseline_rate_per_1000 == M("2000.00")
    none = m.avoided_events(
        baseline_counts={"readmission": 1}, baseline_mm=M(0), actual_counts={}, actual_mm=M(1), unit_costs={}
    )
    assert [(e.baseline_rate_per_1000, e.expected, e.avoided) for e in none.events] == [(None, 0, 0)] * 4


def test_gamma_quantile_of_a_huge_shape_doubles_its_bracket_upwards():
    # Shape 1e9, p 0.975: the bracket [0, 1e9] misses the quantile and must grow; Wilson-Hilferty is
    # exact to about 1e-11 at this shape.
    a, z = 1e9, 1.959963984540054
    assert rel(m.gamma_quantile(a, 0.975), a * (1 - 1 / (9 * a) + z / (3 * math.sqrt(a))) ** 3, 1e-9)


def test_wilson_with_no_success_starts_at_exactly_zero():
    # centre - half is 0 only up to float rounding (2.8e-17 for some n): the bound is pinned to 0.
    assert all(m.wilson_interval(0, n)[0] == 0.0 for n in range(1, 400))


def test_why_nothing_was_shared_is_said():
    assert savings(actual="100").reason == "No savings against the baseline."  # type: ignore[union-attr]
    assert savings(actual="120").reason == "No savings against the baseline."  # type: ignore[union-attr]
    assert savings(actual="99.99").reason == "Savings below the minimum savings rate."  # type: ignore[union-attr]
    cent = savings({"minimum_savings_rate": "0.5"}, baseline="100", actual="99.99", mm="1")
    assert cent is not None and cent.gross_savings == M("0.01")
    assert cent.reason == "Savings below the minimum savings rate."
    gate = savings(composite=M("0.1"))
    assert gate is not None and gate.reason == "The quality gate was not met."
    unscored = savings(composite=None)
    assert (
        unscored is not None
        and unscored.reason == "No measure could be scored, so the quality gate was not met."
    )
    nothing = savings(baseline=None, composite=None)
    assert nothing is not None and nothing.reason == "No baseline or no member-months: nothing to compare."


def test_a_measure_result_is_written_without_exponents():
    result = m.evaluate_measure(
        {"measure": "ed_visits_per_1000", "target": "1E+2", "weight": "1E-1"}, m.MeasureData(M(1), M(1000))
    )
    shown = result.as_dict()
    assert (shown["target"], shown["weight"], shown["rate"], shown["numerator"]) == (
        "100",
        "0.1",
        "1.000000",
        "1",
    )


def test_assessment_within_n_days_counts_the_day_itself_and_not_the_day_after():
    # 7 days: 0, 6 and exactly 7 are within; 8 is not; the denominator is every assessment with a referral
    data = m.assessment_within_n_days(iter([0, 6, 7, 8]), 7)
    assert (data.numerator, data.denominator) == (Decimal(3), Decimal(4))
    assert isinstance(data.numerator, Decimal) and isinstance(data.denominator, Decimal)
    assert m.assessment_within_n_days([], 7) == m.MeasureData(Decimal(0), Decimal(0))
