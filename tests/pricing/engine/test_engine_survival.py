"""Expected months enrolled from disenrollment probabilities, and Kaplan-Meier on enrollment spans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

import numpy as np
import pytest

from pricing.engine import expected_months_enrolled, kaplan_meier, kaplan_meier_spans, month_index
from pricing.engine.schema import DEFAULT_DISENROLLMENT
from pricing.engine.survival import disenrollment_hazards, survival_curve

D = Decimal


def test_constant_probability_gives_the_geometric_restricted_mean():
    q = D("0.1")
    with localcontext() as ctx:
        ctx.prec = 40
        closed_form = (1 - (1 - q) ** 120) / q
    assert expected_months_enrolled({"all": (q,)}, 120) == pytest.approx(closed_form, abs=D("1E-30"))


def test_causes_add_up_and_a_monthly_list_repeats_its_last_value():
    hazards = disenrollment_hazards({"death": (D("0.05"), D("0.02")), "other": (D("0.1"),)}, 4)
    assert hazards == [D("0.15"), D("0.12"), D("0.12"), D("0.12")]
    assert survival_curve(hazards[:2]) == [1, D("0.85"), D("0.85") * D("0.88")]
    assert expected_months_enrolled({"death": (D("0.05"), D("0.02")), "other": (D("0.1"),)}, 2) == 1 + D(
        "0.85"
    )


def test_zero_hazard_enrolls_to_the_horizon():
    assert expected_months_enrolled({"none": (D(0),)}, 36) == 36


def test_the_expected_months_are_kept_by_value_not_by_call():
    """The result is remembered by the probabilities' values and the horizon: a list or a tuple of the same
    values gives the same figure, and any other cause, value or horizon its own."""
    base = {"death": (D("0.05"), D("0.02")), "other": (D("0.1"),)}
    first = expected_months_enrolled(base, 24)
    assert expected_months_enrolled({"death": [D("0.05"), D("0.02")], "other": [D("0.1")]}, 24) == first
    assert expected_months_enrolled(base, 25) > first
    assert expected_months_enrolled({**base, "other": (D("0.2"),)}, 24) < first
    assert expected_months_enrolled({**base, "hospice": (D("0.01"),)}, 24) < first
    assert expected_months_enrolled({"death": (D("0.05"),), "other": (D("0.1"),)}, 24) < first


def test_default_probabilities_reproduce_capc_median_length_of_stay():
    """CAPC: median length of stay 123.5 days; the defaults' survival crosses 1/2 there."""
    q = float(sum(v for v in DEFAULT_DISENROLLMENT.values()))
    median_days = np.log(0.5) / np.log(1 - q) * 30.4375
    assert median_days == pytest.approx(123.5, abs=0.5)
    assert float(DEFAULT_DISENROLLMENT["hospice"] / (D(q).quantize(D("0.0001")))) == pytest.approx(
        0.31, abs=0.001
    )
    assert float(
        expected_months_enrolled({k: (v,) for k, v in DEFAULT_DISENROLLMENT.items()})
    ) == pytest.approx(6.365, abs=0.001)


def test_kaplan_meier_on_a_tiny_hand_computed_data_set():
    # spans of 1, 2, 2, 3, 4 months; the second 2 and the 4 still enrolled (censored)
    result = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    # month 1: 5 at risk, 1 leaves -> 0.8; month 2: 4 at risk, 1 leaves -> 0.8 * 3/4 = 0.6
    # month 3: 2 at risk (3 and 4), 1 leaves -> 0.3; month 4: 1 at risk, none leaves -> 0.3
    assert result.survival.tolist() == pytest.approx([1.0, 0.8, 0.6, 0.3, 0.3])
    assert result.at_risk[1:].tolist() == [5, 4, 2, 1]
    assert result.events[1:].tolist() == [1, 1, 1, 0]
    assert result.hazards[1:].tolist() == pytest.approx([0.2, 0.25, 0.5, 0.0])
    assert result.expected_months == pytest.approx(1 + 0.8 + 0.6 + 0.3)
    assert result.restricted_to == 4


def test_kaplan_meier_without_censoring_is_the_empirical_survival():
    months = np.array([1, 1, 2, 3, 3, 3, 5, 6])
    result = kaplan_meier(months, np.ones(8, dtype=bool))
    assert result.survival.tolist() == pytest.approx([(months > k).mean() for k in range(7)])
    assert result.expected_months == pytest.approx(months.mean())


def test_spans_running_past_the_data_end_are_censored_there():
    data_end = month_index(date(2025, 6, 1))
    start = [month_index(date(2025, 1, 1)), month_index(date(2025, 5, 1)), month_index(date(2025, 3, 1))]
    # the second span was recorded as 4 months ending in death, but the data stop after 2 of them
    result = kaplan_meier_spans(start, [3, 4, 4], [True, True, False], data_end_month=data_end)
    assert result.events[1:].tolist() == [0, 0, 1, 0]
    assert result.at_risk[1:].tolist() == [3, 3, 2, 1]
    assert result.survival.tolist() == pytest.approx([1, 1, 1, 0.5, 0.5])


def test_horizon_caps_the_restricted_mean():
    result = kaplan_meier([200, 10], [False, True], horizon=120)
    assert result.restricted_to == 120
    assert result.expected_months == pytest.approx(10 + 0.5 * 110)


@pytest.mark.parametrize(("months", "events"), [([], []), ([0, 2], [True, True]), ([1, 2], [True])])
def test_kaplan_meier_rejects_malformed_spans(months, events):
    with pytest.raises(ValueError):
        kaplan_meier(months, events)
