"""The comparison group's match and its difference in differences (performance/matching.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bundles.definition import diagnosis_group, empty_definition, in_icd10_range
from performance import matching as mt
from performance.risk import risk_score

D = Decimal
INDEX = date(2026, 1, 1)


def subject(
    member_id: str,
    *,
    pre: str = "5000",
    post: str = "3000",
    pre_months: int = 12,
    post_months: int = 3,
    events: int = 6,
    risk: float = 2.0,
    index: date = INDEX,
    band: str = "75-84",
    lob: str = "medicaid",
    market: str = "URBAN",
    group: str = "Advanced cancer",
) -> mt.Subject:
    """A member whose pre and post PMPMs are ``pre`` and ``post``."""
    return mt.Subject(
        member_id=member_id,
        index=index,
        age_band=band,
        lob=lob,
        market=market,
        condition_group=group,
        risk=risk,
        pre_cost=D(pre) * pre_months,
        pre_months=pre_months,
        pre_events=events,
        post_cost=D(post) * post_months,
        post_months=post_months,
    )


def rows(subjects: list[mt.Subject]) -> np.ndarray:
    return np.array([s.features for s in subjects]).reshape(-1, 3)


# --- age bands ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        (date(1951, 1, 1), "75-84"),  # 75 on the index day itself
        (date(1951, 1, 2), "65-74"),  # 75 the day after
        (date(1941, 1, 1), "85+"),
        (date(1941, 1, 2), "75-84"),
        (date(1961, 1, 1), "65-74"),
        (date(1961, 1, 2), "45-64"),
        (date(1981, 1, 1), "45-64"),
        (date(1981, 1, 2), "18-44"),
        (date(2008, 1, 1), "18-44"),
        (date(2008, 1, 2), "0-17"),
        (date(2025, 6, 1), "0-17"),
        (None, ""),
    ],
)
def test_age_band_on_the_index_month(birth, band):
    assert mt.age_band(birth, INDEX) == band


def test_a_birth_after_the_index_is_the_youngest_band():
    assert mt.age_band(date(2026, 1, 2), INDEX) == "0-17"


# --- matching -----------------------------------------------------------------------------------


def test_the_features_and_their_scales():
    assert subject("A", pre="4000", events=6, pre_months=3, risk=1.5).features == (1.5, 4000.0, 2.0)
    assert list(mt._scales(rows([]))) == list(mt._scales(rows([subject("A")]))) == [1.0, 1.0, 1.0]
    two = [
        subject("A", risk=1.0, pre="100", events=3, pre_months=10),
        subject("B", risk=3.0, pre="300", events=1, pre_months=10),
    ]
    # Sample standard deviations (n - 1): risk sqrt(2), cost sqrt(20000), use 0.2 / sqrt(2) = 0.1414...
    assert list(mt._scales(rows(two))) == pytest.approx((2**0.5, 20000**0.5, 0.02**0.5))
    three = [*two, subject("C", risk=2.0, pre="200", events=2, pre_months=10)]
    assert list(mt._scales(rows(three))) == pytest.approx((1.0, 100.0, 0.1))
    # A feature that does not vary scales by 1 (a distance on it is 0 anyway).
    assert list(mt._scales(rows([subject("A"), subject("B", risk=4.0)])))[1:] == [1.0, 1.0]


def test_one_month_of_history_is_enough():
    matched, unmatched = mt.match(
        [subject("T1", pre_months=1, events=2)], {INDEX: [subject("C1", pre_months=1, events=2)]}
    )
    assert unmatched == {} and [c.member_id for c in matched[0].controls] == ["C1"]


def test_a_candidate_matches_only_in_the_same_stratum_and_index_month():
    treated = [subject("T1")]
    others = [
        subject("C-band", band="65-74"),
        subject("C-lob", lob="medicare_advantage"),
        subject("C-market", market="RURAL-N"),
        subject("C-group", group="Liver disease"),
        subject("C-later", index=date(2026, 2, 1)),
    ]
    matched, unmatched = mt.match(treated, {INDEX: others[:4], date(2026, 2, 1): others[4:]})
    assert matched == [] and unmatched == {mt.NO_MATCH: 1}
    matched, _ = mt.match(treated, {INDEX: [*others[:4], subject("C-same")]})
    assert [c.member_id for c in matched[0].controls] == ["C-same"]


def test_the_nearest_candidates_within_the_caliper_smaller_id_first_on_a_tie():
    treated = [subject("T1", risk=2.0)]
    pool = [
        subject("C4", risk=2.0),
        subject("C2", risk=2.5),
        subject("C3", risk=2.5),
        subject("C1", risk=2.0),
        subject("C5", risk=9.0),  # the spread of risk makes this one far
    ]
    matched, unmatched = mt.match(treated, {INDEX: pool}, matches=3)
    assert unmatched == {}
    assert [c.member_id for c in matched[0].controls] == ["C1", "C4", "C2"]
    # A caliper of zero keeps only the identical ones.
    matched, _ = mt.match(treated, {INDEX: pool}, matches=3, caliper=0.0)
    assert [c.member_id for c in matched[0].controls] == ["C1", "C4"]
    # The caliper itself is inside.
    scales = mt._scales(rows([treated[0], *pool]))
    exact = abs(2.5 - 2.0) / scales[0]
    matched, _ = mt.match(treated, {INDEX: pool}, matches=5, caliper=exact)
    assert [c.member_id for c in matched[0].controls] == ["C1", "C4", "C2", "C3"]


def test_ties_go_to_the_smaller_member_id_in_a_large_stratum():
    # Twenty farther candidates, then twenty at distance 0: the nearest three are the first ids of those.
    pool = [subject(f"C{i:02d}", risk=2.5) for i in range(20)] + [subject(f"C{i:02d}") for i in range(20, 40)]
    matched, _ = mt.match([subject("T1")], {INDEX: pool[::-1]})
    assert [c.member_id for c in matched[0].controls] == ["C20", "C21", "C22"]


def test_every_member_outside_the_caliper_is_counted():
    treated = [subject("T1", risk=3.0), subject("T2", risk=3.0), subject("T3")]
    matched, unmatched = mt.match(treated, {INDEX: [subject("C1")]}, caliper=0.0)
    assert unmatched == {mt.NO_MATCH: 2} and [m.treated.member_id for m in matched] == ["T3"]


def test_a_candidate_may_serve_two_treated_members():
    matched, _ = mt.match([subject("T1"), subject("T2")], {INDEX: [subject("C1")]})
    assert [m.treated.member_id for m in matched] == ["T1", "T2"]
    assert mt.difference_in_differences(matched, treated=2, unmatched={}).controls == 1


def test_treated_members_left_out_are_counted_by_reason():
    treated = [
        subject("T-new", pre_months=0, pre="0"),  # enrolled with no history before
        subject("T-nodx", group=""),  # no diagnosis of the bundle's groups
        subject("T-alone", market="RURAL-S"),  # no candidate in its stratum
        subject("T-ok"),
    ]
    candidates = {
        INDEX: [subject("C1"), subject("C-unmeasured", post_months=0, post="0"), subject("C-nodx", group="")]
    }
    result = mt.estimate(
        treated
        + [
            subject("U-new", pre_months=0, pre="0"),
            subject("U-nodx", group=""),
            subject("U-alone", market="X"),
        ],
        candidates,
    )
    assert (result.treated, result.matched, result.controls) == (7, 1, 1)
    assert result.unmatched == {mt.NO_HISTORY: 2, mt.NO_CONDITION: 2, mt.NO_MATCH: 2}
    # A treated member without post months (e.g. died before the period) has no history to weigh.
    assert mt.match([subject("T", post_months=0, post="0")], candidates)[1] == {mt.NO_HISTORY: 1}


# --- difference in differences ------------------------------------------------------------------


def test_a_constructed_cohort_with_a_known_effect():
    """Enrolled members fall from 5,000 to 3,000 PMPM; comparable members who did not enroll fall from
    5,000 to 4,000 (regression to the mean): the program's effect is -1,000 PMPM, not -2,000."""
    treated = [subject(f"T{i}", pre="5000", post="3000") for i in range(20)]
    controls = [subject(f"C{i}", pre="5000", post="4000") for i in range(40)]
    result = mt.estimate(treated, {INDEX: controls})
    assert result.effect_pmpm == D("-1000.00") and result.savings_pmpm == D("1000.00")
    assert (result.treated_pre_pmpm, result.treated_post_pmpm) == (D("5000.00"), D("3000.00"))
    assert (result.control_pre_pmpm, result.control_post_pmpm) == (D("5000.00"), D("4000.00"))
    assert (result.ci_low, result.ci_high) == (D("-1000.00"), D("-1000.00"))  # no noise: no width
    assert result.member_months == 60 and result.matched == 20
    # The pre-period baseline would credit 2,000; the comparison group's baseline is 4,000.
    assert mt.comparison_baseline_pmpm(D("3000.00"), result) == D("4000.00")


def test_the_interval_with_noise():
    # d_i = -1000 + e_i with e = +-300: mean -1000, SE = sqrt(n/(n-1) * sum(w^2 e^2)) / sum(w).
    treated = [subject(f"T{i}", post=str(3000 + (300 if i % 2 else -300))) for i in range(10)]
    result = mt.estimate(treated, {INDEX: [subject("C1", post="4000")]})
    assert result.effect_pmpm == D("-1000.00")
    se = (10 / 9 * 10 * 9 * 300**2) ** 0.5 / 30
    assert result.ci_low == (D("-1000") - D(repr(mt.Z95 * se))).quantize(D("0.01"))
    assert result.ci_high == (D("-1000") + D(repr(mt.Z95 * se))).quantize(D("0.01"))
    assert result.ci_low < result.effect_pmpm < result.ci_high


def test_weights_are_the_members_months_in_the_period():
    # T1 (1 month) changes by -2000, T2 (3 months) by 0: effect (-2000 * 1 + 0 * 3) / 4 = -500.
    treated = [subject("T1", post="3000", post_months=1), subject("T2", post="5000", post_months=3)]
    result = mt.estimate(treated, {INDEX: [subject("C1", post="5000")]})
    assert result.effect_pmpm == D("-500.00")
    assert result.treated_post_pmpm == D("4500.00")  # (3000 + 3 x 5000) / 4: the cohort's own PMPM


def test_one_matched_member_has_no_interval_and_none_has_no_estimate():
    one = mt.estimate([subject("T1")], {INDEX: [subject("C1", post="4000")]})
    assert one.effect_pmpm == D("-1000.00") and (one.ci_low, one.ci_high) == (None, None)
    none = mt.estimate([subject("T1")], {})
    assert none == mt.Estimate(1, 0, 0, {mt.NO_MATCH: 1}, 0, None, None, None, None, None, None, None)
    assert none.savings_pmpm is None
    assert mt.comparison_baseline_pmpm(D("3000.00"), none) is None
    assert mt.comparison_baseline_pmpm(None, one) is None


def test_the_estimate_rounds_half_up_to_the_cent():
    # d = -(1/3 of a cent) ... rounds to 0.00; -0.005 rounds to -0.01.
    treated = [subject("T1", post="4999.995")]
    assert mt.estimate(treated, {INDEX: [subject("C1", post="5000")]}).effect_pmpm == D("-0.01")
    treated = [subject("T1", post="4999.996")]
    assert mt.estimate(treated, {INDEX: [subject("C1", post="5000")]}).effect_pmpm == D("0.00")


money = st.decimals(min_value=100, max_value=20000, places=2)


@settings(max_examples=60, deadline=None)
@given(
    pres=st.lists(money, min_size=2, max_size=8),
    effect=st.decimals(min_value=-3000, max_value=3000, places=2),
    trend=st.decimals(min_value=-2000, max_value=2000, places=2),
    level=st.decimals(min_value=-50, max_value=5000, places=2),
    months=st.lists(st.integers(1, 12), min_size=2, max_size=8),
)
def test_a_known_effect_is_recovered_whatever_the_levels_and_trends(pres, effect, trend, level, months):
    """Each treated member's post is its pre + trend + effect; its comparison, at another level, moves by
    the trend alone. The estimate is the effect, whatever the members' levels, weights and the trend."""
    treated, candidates = [], []
    for i, pre in enumerate(pres):
        weight = months[i % len(months)]
        group = f"G{i}"  # one stratum per member: each is compared with its own control
        treated.append(
            subject(f"T{i}", pre=str(pre), post=str(pre + trend + effect), post_months=weight, group=group)
        )
        control_pre = pre + level
        candidates.append(subject(f"C{i}", pre=str(control_pre), post=str(control_pre + trend), group=group))
    matched, _ = mt.match(treated, {INDEX: candidates}, caliper=float("inf"))  # levels differ on purpose
    result = mt.difference_in_differences(matched, treated=len(treated), unmatched={})
    assert result.matched == len(pres)
    assert result.effect_pmpm == effect.quantize(D("0.01"))
    assert result.ci_low == result.ci_high == result.effect_pmpm


# --- diagnosis groups and risk ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "code_range", "inside"),
    [
        ("C3490", "C00-C96", True),
        ("C96.9", "C00-C96", True),  # the upper bound covers its subcodes
        ("C97", "C00-C96", False),
        ("B99", "C00-C96", False),
        ("I50.22", "I50.0-I50.9", True),
        ("I5110", "I50.0-I50.9", False),
        ("K77", "K70.0-K77", True),
        ("K69", "K70.0-K77", False),
        ("G309", "G30.0-G30.9", True),
        ("F03", "F01-F03", True),
        ("N18.4", "N18.4", True),  # a single code
        ("N18.5", "N18.4", False),
    ],
)
def test_icd10_ranges(code, code_range, inside):
    assert in_icd10_range(code, code_range) is inside


def test_the_first_included_group_in_the_bundles_order():
    definition = empty_definition()
    assert diagnosis_group(["R52", "I5022", "C3490"], definition) == "Advanced cancer"  # cancer comes first
    assert diagnosis_group(["G3100", "F0390"], definition) == ""  # dementia is not included by default
    assert diagnosis_group([], definition) == ""


def test_risk_scores_medicare_with_demographics_medicaid_from_conditions_only():
    medicare = risk_score("medicare_advantage", 80, "F", ["I50.22"])
    assert medicare > risk_score("medicare_advantage", 80, "F", [])  # heart failure adds
    assert risk_score("medicare_advantage", 90, "M", []) != risk_score("medicare_advantage", 70, "M", [])
    assert risk_score("medicaid", 80, "F", []) == 1.0  # no condition, no Medicare demographics
    # The same weights at any age and sex: the age band matches on age.
    assert risk_score("medicaid", 40, "M", ["C34.90"]) == risk_score("medicaid", 80, "F", ["C3490"]) > 1.0
    assert risk_score("dsnp", None, "U", ["C3490"]) == risk_score("dsnp", 65, "F", ["C3490"])
