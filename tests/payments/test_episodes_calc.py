"""payments.episodes and enrollment.episodes (pure): the case rate per episode, its installments, the
early-exit settlement and the roster rules, at every edge (docs/domain.md section 5, "Episodes")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enrollment import episodes as roster
from payments import episodes as ep

JAN15 = dt.date(2026, 1, 15)


def E(start=JAN15, days=90, rate="2976.78", last_day=None, member="M1"):  # noqa: N802
    return ep.Episode(member, start, days, D(rate), last_day)


# --- the episode's days ----------------------------------------------------------------------------


def test_the_episode_ends_after_its_days_counting_the_start():
    assert ep.episode_end(JAN15, 90) == dt.date(2026, 4, 15)
    assert ep.episode_end(JAN15, 1) == dt.date(2026, 1, 16)
    assert roster.last_day(JAN15, 90) == dt.date(2026, 4, 14)
    assert roster.last_day(JAN15, 1) == JAN15
    with pytest.raises(ValueError, match="at least one day"):
        ep.episode_end(JAN15, 0)


def test_an_exit_on_the_last_day_is_not_early():
    assert E(last_day=dt.date(2026, 4, 14)).exit_day is None
    assert E(last_day=dt.date(2026, 4, 14)).days_enrolled == 90
    assert E(last_day=dt.date(2026, 4, 13)).exit_day == dt.date(2026, 4, 13)
    assert E(last_day=dt.date(2026, 4, 13)).days_enrolled == 89
    assert E(last_day=JAN15).days_enrolled == 1
    assert E().exit_day is None and E().days_enrolled == 90


# --- amounts ---------------------------------------------------------------------------------------


def test_episode_amount_full_or_prorated():
    assert ep.episode_amount(D("2976.78"), 90, 90, "prorated") == D("2976.78")
    assert ep.episode_amount(D("2976.78"), 90, 89, "full") == D("2976.78")
    assert ep.episode_amount(D("2976.78"), 90, 89, "prorated") == D("2943.70")  # 2943.704...
    assert ep.episode_amount(D("2976.78"), 90, 1, "prorated") == D("33.08")  # 33.0753...
    # half a cent rounds up: 0.03 x 1 / 2 = 0.015
    assert ep.episode_amount(D("0.03"), 2, 1, "prorated") == D("0.02")
    assert ep.episode_amount(D("100.005"), 30, 30, "full") == D("100.01")


@pytest.mark.parametrize("days_enrolled", [0, 91])
def test_episode_amount_refuses_days_outside_the_episode(days_enrolled):
    with pytest.raises(ValueError, match="days enrolled"):
        ep.episode_amount(D("100"), 90, days_enrolled, "full")


def test_episode_amount_refuses_an_unknown_rule():
    with pytest.raises(ValueError, match="early exit"):
        ep.episode_amount(D("100"), 90, 90, "half")


def test_installments_cut_down_and_the_last_takes_the_rest():
    assert ep.installments(D("2976.78"), 1) == [D("2976.78")]
    assert ep.installments(D("2976.78"), 3) == [D("992.26")] * 3
    assert ep.installments(D("100.00"), 3) == [D("33.33"), D("33.33"), D("33.34")]
    assert ep.installments(D("0.10"), 12) == [D("0.00")] * 11 + [D("0.10")]
    assert ep.installments(D("0.02"), 3) == [D("0.00"), D("0.00"), D("0.02")]  # 0.0066 cut down, not up
    assert ep.installments(D("0"), 2) == [D("0.00"), D("0")]


def test_installments_refuse_nonsense():
    with pytest.raises(ValueError, match="at least one"):
        ep.installments(D("10"), 0)
    with pytest.raises(ValueError, match="negative"):
        ep.installments(D("-0.01"), 1)


@given(
    st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False, allow_infinity=False),
    st.integers(1, 12),
)
def test_installments_add_up_to_the_cent_and_none_is_negative(amount, count):
    parts = ep.installments(amount, count)
    assert len(parts) == count and sum(parts) == amount
    assert all(p >= 0 and p == p.quantize(D("0.01")) for p in parts)
    assert max(parts) - min(parts) < D("0.01") * count


# --- schedules -------------------------------------------------------------------------------------


def test_one_payment_in_the_first_month():
    assert ep.schedule(E(), 1, "full") == {dt.date(2026, 1, 1): D("2976.78")}


def test_installments_from_the_first_month():
    assert ep.schedule(E(rate="100"), 3, "full") == {
        dt.date(2026, 1, 1): D("33.33"),
        dt.date(2026, 2, 1): D("33.33"),
        dt.date(2026, 3, 1): D("33.34"),
    }
    # across a year's end
    assert list(ep.schedule(E(start=dt.date(2026, 12, 31), rate="100"), 2, "full")) == [
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 1),
    ]


def test_a_zero_installment_is_left_out():
    assert ep.schedule(E(rate="0.02"), 3, "full") == {dt.date(2026, 3, 1): D("0.02")}


def test_early_exit_prorated_settles_in_the_exit_month():
    # enrolled 2026-01-15..2026-02-09: 26 of 90 days -> 2976.78 x 26 / 90 = 859.958 -> 859.96
    episode = E(last_day=dt.date(2026, 2, 9))
    assert ep.schedule(episode, 3, "prorated") == {
        dt.date(2026, 1, 1): D("992.26"),
        dt.date(2026, 2, 1): D("-132.30"),
    }
    assert ep.schedule(episode, 1, "prorated") == {
        dt.date(2026, 1, 1): D("2976.78"),
        dt.date(2026, 2, 1): D("-2116.82"),
    }


def test_early_exit_full_pays_the_rest_in_the_exit_month():
    episode = E(last_day=dt.date(2026, 2, 9))
    assert ep.schedule(episode, 3, "full") == {
        dt.date(2026, 1, 1): D("992.26"),
        dt.date(2026, 2, 1): D("1984.52"),
    }
    # exit after the last installment: nothing more under full
    assert ep.schedule(E(last_day=dt.date(2026, 3, 2)), 1, "full") == {dt.date(2026, 1, 1): D("2976.78")}


def test_exit_in_the_first_month():
    episode = E(last_day=dt.date(2026, 1, 24))  # 10 days
    assert ep.schedule(episode, 3, "prorated") == {dt.date(2026, 1, 1): D("330.75")}  # 330.753...
    assert ep.schedule(episode, 3, "full") == {dt.date(2026, 1, 1): D("2976.78")}


def test_an_episode_ended_on_its_last_day_keeps_its_schedule():
    episode = E(rate="100", last_day=dt.date(2026, 4, 14))
    assert ep.schedule(episode, 3, "prorated") == ep.schedule(E(rate="100"), 3, "prorated")


@given(
    st.integers(1, 120),
    st.integers(0, 150),
    st.integers(1, 12),
    st.sampled_from(ep.EARLY_EXIT_RULES),
    st.decimals(min_value=0, max_value=9999, places=2, allow_nan=False, allow_infinity=False),
)
def test_a_schedule_adds_up_to_the_episode_amount(days, stay, count, rule, rate):
    last = JAN15 + dt.timedelta(days=min(stay, days - 1))
    episode = E(days=days, rate=str(rate), last_day=last)
    due = ep.schedule(episode, count, rule)
    assert sum(due.values(), D("0.00")) == ep.episode_amount(rate, days, episode.days_enrolled, rule)
    assert all(v != 0 for v in due.values())
    if episode.exit_day is not None:  # nothing after the exit month
        assert max(due, default=dt.date(2026, 1, 1)) <= episode.exit_day.replace(day=1)


def test_amounts_due_through_a_month_add_up_per_member():
    a = E(rate="90")
    b = E(start=dt.date(2026, 2, 1), rate="60", member="M2")
    c = E(start=dt.date(2026, 4, 20), rate="30")  # M1's second episode
    due = ep.amounts_due([(a, 3, "full"), (b, 2, "full"), (c, 1, "full")], dt.date(2026, 3, 1))
    assert due == {
        ("M1", dt.date(2026, 1, 1)): D("30.00"),
        ("M1", dt.date(2026, 2, 1)): D("30.00"),
        ("M1", dt.date(2026, 3, 1)): D("30.00"),
        ("M2", dt.date(2026, 2, 1)): D("30.00"),
        ("M2", dt.date(2026, 3, 1)): D("30.00"),
    }
    same_month = ep.amounts_due([(a, 1, "full"), (E(start=dt.date(2026, 1, 2), rate="10"), 1, "full")], JAN15)
    assert same_month == {("M1", dt.date(2026, 1, 1)): D("100.00")}
    assert ep.amounts_due([(a, 1, "full")], dt.date(2025, 12, 1)) == {}


def test_amounts_due_follow_each_episode_own_early_exit_rule():
    left = E(rate="90", last_day=dt.date(2026, 2, 12))  # 29 of 90 days, in February
    due = ep.amounts_due([(left, 3, "prorated")], dt.date(2026, 3, 1))
    # 29.00 due: February takes back 1.00 of January's 30.00
    assert due == {("M1", dt.date(2026, 1, 1)): D("30.00"), ("M1", dt.date(2026, 2, 1)): D("-1.00")}
    assert ep.amounts_due([(left, 3, "full")], dt.date(2026, 3, 1))[("M1", dt.date(2026, 2, 1))] == D("60.00")


# --- the roster rules ------------------------------------------------------------------------------


class R:
    def __init__(self, row, start, end=None, member="M1"):
        self.row, self.member_id, self.enrollment_start, self.enrollment_end = row, member, start, end


JAN31, FEB28, MAR31, APR30 = (
    dt.date(2026, 1, 31),
    dt.date(2026, 2, 28),
    dt.date(2026, 3, 31),
    dt.date(2026, 4, 30),
)


def problems(rows, month_last_day, days=90, renewal=False, earlier=()):
    return [
        (p.row, p.column, p.code)
        for p in roster.roster_problems(
            rows, month_last_day=month_last_day, days=days, renewal=renewal, earlier_starts=earlier
        )
    ]


def test_an_open_row_inside_the_episode_is_fine():
    assert problems([R(2, JAN15)], JAN31) == []
    assert problems([R(2, JAN15)], MAR31) == []


def test_a_row_open_past_the_episode_end_is_refused():
    assert problems([R(2, JAN15)], APR30) == [(2, "enrollment_end", "past_episode_end")]
    message = roster.roster_problems([R(2, JAN15)], month_last_day=APR30, days=90, renewal=False)[0].message
    assert "ends on 2026-04-14 (90 days)" in message and "is open through 2026-04-30" in message
    assert "does not renew" in message
    renew = roster.roster_problems([R(2, JAN15)], month_last_day=APR30, days=90, renewal=True)[0].message
    assert "or list the new episode from 2026-04-15 in its place" in renew


def test_an_end_on_the_last_day_is_fine_and_a_day_later_is_not():
    assert problems([R(2, JAN15, dt.date(2026, 4, 14))], APR30) == []
    assert problems([R(2, JAN15, dt.date(2026, 4, 15))], APR30) == [(2, "enrollment_end", "past_episode_end")]
    late = roster.roster_problems(
        [R(2, JAN15, dt.date(2026, 4, 15))], month_last_day=APR30, days=90, renewal=False
    )
    assert "but the row ends on 2026-04-15;" in late[0].message
    assert problems([R(3, JAN15, JAN15)], JAN31, days=1) == []
    assert problems([R(3, JAN15)], JAN31, days=1) == [(3, "enrollment_end", "past_episode_end")]


def test_every_row_of_the_episode_is_checked():
    rows = [R(5, JAN15), R(4, JAN15, dt.date(2026, 4, 20))]
    assert problems(rows, APR30) == [
        (4, "enrollment_end", "past_episode_end"),
        (5, "enrollment_end", "past_episode_end"),
    ]


def test_a_second_episode_needs_renewal():
    may = dt.date(2026, 4, 15)
    assert problems([R(2, may)], dt.date(2026, 5, 31), earlier=[JAN15]) == [
        (2, "enrollment_start", "episode_renewal_not_allowed")
    ]
    assert problems([R(2, may)], dt.date(2026, 5, 31), renewal=True, earlier=[JAN15]) == []


def test_a_start_inside_an_earlier_episode_is_a_correction_not_a_renewal():
    assert problems([R(2, dt.date(2026, 1, 20))], JAN31, earlier=[JAN15]) == []
    assert problems([R(2, dt.date(2026, 4, 14))], APR30, earlier=[JAN15]) == []
