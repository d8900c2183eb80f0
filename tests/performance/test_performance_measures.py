"""The pure performance math: intervals against known values, scoring, money, hypothesis properties."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.rules import QUALITY_MEASURES
from core.domain.months import INVALID_PERIOD_MESSAGE, parse_period
from performance import measures as m


def test_measure_codes_are_the_contracts_codes():
    assert set(m.MEASURE_UNITS) == set(QUALITY_MEASURES)
    for code, (unit, better) in m.MEASURE_UNITS.items():
        assert (QUALITY_MEASURES[code].unit, QUALITY_MEASURES[code].better) == (unit, better)


def test_wilson_known_values():
    low, high = m.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    low, high = m.wilson_interval(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    assert m.wilson_interval(0, 0) is None


def test_garwood_known_values():
    # chi2.ppf(0.025, 10)/2 = 1.6235, chi2.ppf(0.975, 12)/2 = 11.6683
    low, high = m.poisson_interval(5)
    assert low == pytest.approx(1.6235, abs=1e-4) and high == pytest.approx(11.6683, abs=1e-4)
    assert m.poisson_interval(0) == (0.0, pytest.approx(3.6889, abs=1e-4))
    low, high = m.poisson_interval(100)
    assert low == pytest.approx(81.3634, abs=1e-3) and high == pytest.approx(
        121.6268, abs=1e-3
    )  # Poisson CDF(100; U) = 0.025
    # 5 events per 1,000 exposures
    low, high = m.rate_interval_per_1000(5, 1000)
    assert low == pytest.approx(1.6235, abs=1e-4) and high == pytest.approx(11.6683, abs=1e-4)
    assert m.rate_interval_per_1000(5, 0) is None


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=400), st.data())
def test_wilson_contains_the_estimate_and_stays_in_0_1(trials, data):
    successes = data.draw(st.integers(min_value=0, max_value=trials))
    low, high = m.wilson_interval(successes, trials)
    assert 0 <= low <= successes / trials <= high <= 1


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=5000))
def test_garwood_contains_the_count_and_is_monotone(count):
    low, high = m.poisson_interval(count)
    assert low <= count <= high
    low2, high2 = m.poisson_interval(count + 1)
    assert low2 > low and high2 > high


@settings(max_examples=40, deadline=None)
@given(st.floats(min_value=0.5, max_value=500), st.floats(min_value=0.01, max_value=0.99))
def test_gamma_quantile_inverts_the_cdf(shape, p):
    x = m.gamma_quantile(shape, p)
    assert m._gamma_p(shape, x) == pytest.approx(p, abs=1e-9)


def _term(code, target, weight, minimum=0):
    return {"measure": code, "target": target, "weight": weight, "minimum_denominator": minimum}


def test_hand_computed_cohort():
    # 12 ED visits over 150 MM = 80 per 1,000 (target 85, lower is better): met
    ed = m.evaluate_measure(
        _term("ed_visits_per_1000", "85", "0.3", 100), m.MeasureData(Decimal(12), Decimal(150))
    )
    assert ed.rate == Decimal("80.000000") and ed.scored and ed.met
    assert ed.ci_low < ed.rate < ed.ci_high
    # 9 of 20 to hospice = 0.45 (target 0.45, higher): met exactly at target
    hospice = m.evaluate_measure(
        _term("hospice_transition_rate", "0.45", "0.3", 20), m.MeasureData(Decimal(9), Decimal(20))
    )
    assert hospice.rate == Decimal("0.450000") and hospice.met
    # 10 of 15 new enrollees with an ACP: below the minimum of 20 -> reported, not scored
    acp = m.evaluate_measure(
        _term("acp_within_60d_rate", "0.8", "0.2", 20), m.MeasureData(Decimal(10), Decimal(15))
    )
    assert not acp.scored and acp.met is None and acp.ci_low is not None
    # satisfaction: 40 responses, mean 82 (target 85): scored, not met
    sat = m.evaluate_measure(
        _term("satisfaction_score", "85", "0.2", 30),
        m.MeasureData(Decimal(3280), Decimal(40), Decimal(3280 * 82 + 40 * 25 - 25)),
    )
    assert sat.rate == Decimal("82.000000") and sat.scored and sat.met is False
    composite = m.composite_score([ed, hospice, acp, sat])
    # scored weights 0.3 + 0.3 + 0.2 = 0.8; met 0.6 -> 0.75
    assert composite == Decimal("0.750000")
    money = m.quality_money(composite, withheld=Decimal("1000.00"))
    assert money.withhold_returned == Decimal("750.00") and money.withhold_kept == Decimal("250.00")
    assert money.bonus == 0
    bonus = m.quality_money(
        composite,
        withheld=Decimal("1000.00"),
        base_payments=Decimal("20000"),
        bonus_terms={"threshold": "0.7", "percentage": "0.02"},
    )
    assert bonus.bonus == Decimal("400.00")


def test_nothing_scored_returns_the_withhold_in_full():
    result = m.evaluate_measure(
        _term("death_at_home_rate", "0.6", "1", 15), m.MeasureData(Decimal(3), Decimal(4))
    )
    assert m.composite_score([result]) is None
    assert m.quality_money(None, withheld=Decimal("99.99")).withhold_returned == Decimal("99.99")


def test_median_days_and_missing_data():
    result = m.evaluate_measure(
        _term("median_days_before_hospice", "60", "1"), m.MeasureData(Decimal(72), Decimal(5))
    )
    assert result.rate == 72 and result.met and result.ci_low is None
    empty = m.evaluate_measure(
        _term("readmission_30d_rate", "0.1", "1"), m.MeasureData(Decimal(0), Decimal(0))
    )
    assert empty.rate is None and not empty.scored
    assert m.median([3, 1, 2, 10]) == 2.5 and m.median([]) is None


SAVINGS = {
    "baseline_method": "pre_enrollment",
    "minimum_savings_rate": "0.02",
    "sharing_rate": "0.5",
    "cap": "0.1",
    "quality_gate": "0.7",
}


def test_shared_savings_by_hand():
    # baseline 4,000 PMPM, actual 3,800: 5% saving over 100 MM = 20,000 gross; half = 10,000; cap 40,000
    s = m.shared_savings(
        SAVINGS,
        baseline_pmpm=Decimal(4000),
        actual_pmpm=Decimal(3800),
        member_months=Decimal(100),
        composite=Decimal("0.75"),
    )
    assert s.gross_savings == Decimal("20000.00") and s.savings_rate == Decimal("0.050000")
    assert s.shared == Decimal("10000.00") and s.reason == "Shared."
    # quality gate not met
    assert (
        m.shared_savings(
            SAVINGS,
            baseline_pmpm=Decimal(4000),
            actual_pmpm=Decimal(3800),
            member_months=Decimal(100),
            composite=Decimal("0.6"),
        ).shared
        == 0
    )
    # below the minimum savings rate (1%)
    low = m.shared_savings(
        SAVINGS,
        baseline_pmpm=Decimal(4000),
        actual_pmpm=Decimal(3960),
        member_months=Decimal(100),
        composite=Decimal(1),
    )
    assert low.shared == 0 and not low.msr_met
    # capped: 50% saving, half is 100,000 > cap 0.1 x 4,000 x 100 = 40,000
    capped = m.shared_savings(
        SAVINGS,
        baseline_pmpm=Decimal(4000),
        actual_pmpm=Decimal(2000),
        member_months=Decimal(100),
        composite=Decimal(1),
    )
    assert capped.shared == Decimal("40000.00") and capped.reason == "Capped."
    assert m.shared_savings({}, baseline_pmpm=None, actual_pmpm=None, member_months=0, composite=None) is None


@settings(max_examples=80, deadline=None)
@given(
    st.decimals(min_value=1, max_value=20000, places=2),
    st.decimals(min_value=0, max_value=20000, places=2),
    st.decimals(min_value=0, max_value=5000, places=2),
    st.decimals(min_value=0, max_value=1, places=2),
)
def test_shared_savings_never_exceeds_cap_or_share(baseline, actual, mm, composite):
    s = m.shared_savings(
        SAVINGS, baseline_pmpm=baseline, actual_pmpm=actual, member_months=mm, composite=composite
    )
    assert 0 <= s.shared <= s.cap_amount
    assert s.shared <= max(Decimal(0), s.gross_savings)
    if composite < Decimal("0.7"):
        assert s.shared == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.booleans(), st.decimals(min_value="0.01", max_value=1, places=2)),
        min_size=1,
        max_size=8,
    )
)
def test_composite_is_a_share_between_0_and_1(flags):
    results = [
        m.MeasureResult(
            "ed_visits_per_1000",
            "per_1000",
            "lower",
            Decimal(1),
            Decimal(1),
            Decimal(1),
            None,
            None,
            Decimal(1),
            w,
            0,
            scored,
            met if scored else None,
        )
        for scored, met, w in flags
    ]
    composite = m.composite_score(results)
    if not any(scored for scored, _, _ in flags):
        assert composite is None
    else:
        assert 0 <= composite <= 1
        if all(met for scored, met, _ in flags if scored):
            assert composite == 1


def test_avoided_events_valued_per_event():
    result = m.avoided_events(
        baseline_counts={"ed_visit": 24, "inpatient_admission": 6},
        baseline_mm=Decimal(60),
        actual_counts={"ed_visit": 10, "inpatient_admission": 8},
        actual_mm=Decimal(60),
        unit_costs={"ed_visit": Decimal("1500"), "inpatient_admission": Decimal("14000")},
    )
    by_kind = {e.kind: e for e in result.events}
    assert by_kind["ed_visit"].avoided == Decimal("14.00") and by_kind["ed_visit"].value == Decimal(
        "21000.00"
    )
    assert by_kind["inpatient_admission"].avoided == 0  # more than expected: nothing avoided
    assert result.total == Decimal("21000.00")


def test_periods():
    assert parse_period("2026-03").months == [date(2026, 3, 1)]
    q = parse_period("2026-q4")
    assert (q.start, q.end, q.label) == (date(2026, 10, 1), date(2027, 1, 1), "Q4 2026")
    assert len(parse_period("2026").months) == 12
    cy = parse_period("CY2", contract_start=date(2026, 4, 1))
    assert (cy.start, cy.end) == (date(2027, 4, 1), date(2028, 4, 1))
    for bad in ("2026-13", "CY1", "26", "2026-Q5", ""):
        with pytest.raises(ValueError, match=INVALID_PERIOD_MESSAGE[:20]):
            parse_period(bad)
