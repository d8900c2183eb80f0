"""Payment arithmetic at its edges (issue 21): each test names the case a mutant showed was unpinned.

Pure: plain data in, lines out; `make mutate` runs payments/calc.py against these and
test_payment_calc.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payments.calc import (
    ASSESSMENT_FEE,
    LINE_KINDS,
    MEMBER_MONTH,
    OUTSIDE_RETRO_WINDOW,
    RETRO_ADJUSTMENT,
    WITHHOLD,
    WITHHOLD_ADJUSTMENT,
    AssessmentEntry,
    MemberMonthEntry,
    Payment,
    PaymentLine,
    RetroOutsideWindow,
    assessment_line,
    member_amounts,
    member_line,
    member_lines,
    monthly_payment,
    payment_total,
    rate_cell_totals,
    retro_lines,
    withhold_adjustment,
    withhold_line,
)

D = dt.date
M = Decimal
MARCH = D(2026, 3, 1)
FEB, JAN, DEC = D(2026, 2, 1), D(2026, 1, 1), D(2025, 12, 1)


# --- retroactive adjustments ------------------------------------------------------------------


def test_a_retro_month_exactly_at_the_window_edge_is_paid_and_one_month_past_it_is_not():
    # Window 2 before March: January (2 months back) is the last month inside; December is out.
    recomputed = {("M1", JAN): M("100.00"), ("M1", DEC): M("100.00")}
    lines, outside = retro_lines(recomputed, {}, payment_month=MARCH, retro_window_months=2)
    assert [(x.member_id, x.service_month, x.amount) for x in lines] == [("M1", JAN, M("100.00"))]
    assert outside == [RetroOutsideWindow("M1", DEC, M("100.00"), OUTSIDE_RETRO_WINDOW)]


def test_a_window_of_zero_months_pays_no_retro_and_reports_every_difference():
    recomputed = {("M1", FEB): M("10.00"), ("M2", JAN): M("-5.00")}
    lines, outside = retro_lines(recomputed, {}, payment_month=MARCH, retro_window_months=0)
    assert lines == []
    assert outside == [RetroOutsideWindow("M2", JAN, M("-5.00")), RetroOutsideWindow("M1", FEB, M("10.00"))]


def test_a_zero_difference_member_sorted_first_does_not_stop_the_others():
    # "A1" sorts before "B2" in the same month: its zero difference is skipped, not the end of the list.
    recomputed = {("A1", FEB): M("50.00"), ("B2", FEB): M("80.00"), ("C3", JAN): M("1.00")}
    paid = {("A1", FEB): M("50.00"), ("B2", FEB): M("30.00")}
    lines, outside = retro_lines(recomputed, paid, payment_month=MARCH, retro_window_months=3)
    assert [(x.member_id, x.service_month, x.amount) for x in lines] == [
        ("C3", JAN, M("1.00")),
        ("B2", FEB, M("50.00")),
    ]
    assert outside == []


def test_the_differences_outside_the_window_are_listed_in_month_then_member_order():
    recomputed = {("M2", D(2025, 9, 1)): M("30.00"), ("M1", D(2025, 10, 1)): M("20.00")}
    paid = {("M1", D(2025, 9, 1)): M("12.50"), ("M1", D(2025, 10, 1)): M("20.00")}
    lines, outside = retro_lines(recomputed, paid, payment_month=MARCH, retro_window_months=4)
    assert lines == []
    assert outside == [
        RetroOutsideWindow("M1", D(2025, 9, 1), M("-12.50"), "outside_retro_window"),
        RetroOutsideWindow("M2", D(2025, 9, 1), M("30.00"), "outside_retro_window"),
    ]


def test_a_retro_line_names_what_was_recomputed_and_what_was_paid():
    lines, _ = retro_lines(
        {("M1", FEB): M("450.00")}, {("M1", FEB): M("612.35")}, payment_month=MARCH, retro_window_months=1
    )
    (line,) = lines
    assert line == PaymentLine(
        RETRO_ADJUSTMENT, M("-162.35"), FEB, member_id="M1", detail="recomputed 450.00 - paid 612.35"
    )
    assert (line.rate_cell, line.member_months, line.rate) == (None, None, None)


def test_retro_differences_are_taken_in_cents_each_side():
    # 10.004 recomputed vs 10.00 paid: both round to 10.00, so there is nothing to adjust.
    lines, outside = retro_lines(
        {("M1", FEB): M("10.004")}, {("M1", FEB): M("10.00")}, payment_month=MARCH, retro_window_months=1
    )
    assert (lines, outside) == ([], [])
    lines, _ = retro_lines(
        {("M1", FEB): M("10.005")}, {("M1", FEB): M("10.004")}, payment_month=MARCH, retro_window_months=1
    )
    assert [x.amount for x in lines] == [M("0.01")]


def test_retro_refuses_a_negative_window_a_mid_month_key_and_a_key_for_the_payment_month():
    with pytest.raises(ValueError, match="retro_window_months"):
        retro_lines({}, {}, payment_month=MARCH, retro_window_months=-1)
    assert retro_lines({}, {}, payment_month=MARCH, retro_window_months=0) == ([], [])
    with pytest.raises(ValueError, match="first day"):
        retro_lines({("M1", D(2026, 2, 15)): M("1")}, {}, payment_month=MARCH, retro_window_months=3)
    with pytest.raises(ValueError, match="not before"):
        retro_lines({}, {("M1", MARCH): M("1")}, payment_month=MARCH, retro_window_months=3)
    with pytest.raises(ValueError, match="not before"):
        retro_lines({("M1", D(2026, 4, 1)): M("1")}, {}, payment_month=MARCH, retro_window_months=3)
    with pytest.raises(ValueError, match="first day"):
        retro_lines({}, {}, payment_month=D(2026, 3, 2), retro_window_months=3)


# --- withhold ---------------------------------------------------------------------------------


def test_a_100_percent_withhold_is_refused_and_just_under_it_is_accepted():
    lines = [member_line("M1", MARCH, "T", M("1"), M("200.00"))]
    with pytest.raises(ValueError, match="withhold_fraction"):
        withhold_line(lines, M("1"), MARCH)
    with pytest.raises(ValueError, match="withhold_fraction"):
        withhold_line(lines, M("-0.01"), MARCH)
    assert withhold_line(lines, M("0.9999"), MARCH).amount == M("-199.98")
    zero = withhold_line(lines, M("0"), MARCH)
    assert zero.amount == 0 and zero.kind == WITHHOLD


def test_a_withhold_applies_only_to_the_month_own_member_lines():
    lines = [
        member_line("M1", MARCH, "T", M("1"), M("100.00")),
        member_line("M1", FEB, "T", M("1"), M("1000.00")),  # another month's member line
        PaymentLine(ASSESSMENT_FEE, M("300.00"), MARCH, member_id="M2"),
    ]
    w = withhold_line(lines, M("0.1"), MARCH)
    assert w == PaymentLine(WITHHOLD, M("-10.00"), MARCH, rate=M("0.1"), detail="0.1 x 100.00")


def test_a_withhold_rounds_half_up_to_the_cent_and_refuses_a_float():
    lines = [member_line("M1", MARCH, "T", M("1"), M("0.10"))]
    assert withhold_line(lines, M("0.05"), MARCH).amount == M("-0.01")  # 0.005 -> 0.01
    assert withhold_line(lines, M("0.04"), MARCH).amount == M("0.00")  # 0.004 -> 0.00
    with pytest.raises(TypeError):
        withhold_line(lines, 0.05, MARCH)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first day"):
        withhold_line(lines, M("0.05"), D(2026, 3, 31))


# --- member and assessment lines --------------------------------------------------------------


def test_a_member_line_at_exactly_zero_and_one_member_month_and_a_zero_pmpm():
    assert member_line("M1", MARCH, "T", M("0"), M("99.99")).amount == M("0.00")
    whole = member_line("M1", MARCH, "T", M("1"), M("99.99"))
    assert whole == PaymentLine(
        MEMBER_MONTH, M("99.99"), MARCH, member_id="M1", rate_cell="T", member_months=M("1"), rate=M("99.99")
    )
    assert member_line("M1", MARCH, "T", M("0.5"), M("0")).amount == M("0.00")
    with pytest.raises(ValueError, match="negative"):
        member_line("M1", MARCH, "T", M("0.5"), M("-0.01"))
    with pytest.raises(ValueError, match="between 0 and 1"):
        member_line("M1", MARCH, "T", M("-0.000001"), M("10"))
    with pytest.raises(TypeError):
        member_line("M1", MARCH, "T", M("1"), 10.0)  # type: ignore[arg-type]


def test_member_lines_price_each_entry_with_its_rate_cell_pmpm():
    lines = member_lines(
        [MemberMonthEntry("M1", "A", M("1")), MemberMonthEntry("M2", "B", M("0.5"))],
        MARCH,
        {"A": M("10.00"), "B": M("30.00")},
    )
    assert [(x.member_id, x.rate_cell, x.amount, x.rate) for x in lines] == [
        ("M1", "A", M("10.00"), M("10.00")),
        ("M2", "B", M("15.00"), M("30.00")),
    ]
    with pytest.raises(KeyError, match="'Z'"):
        member_lines([MemberMonthEntry("M1", "Z", M("1"))], MARCH, {"A": M("1")})


def test_an_assessment_line_is_the_fee_in_cents_with_its_date_and_market():
    line = assessment_line("M7", MARCH, "URBAN", M("341.845"), assessment_date=D(2026, 3, 4))
    assert line == PaymentLine(
        ASSESSMENT_FEE,
        M("341.85"),
        MARCH,
        member_id="M7",
        rate_cell=None,
        rate=M("341.845"),
        detail="assessment 2026-03-04 market URBAN",
    )
    with pytest.raises(TypeError):
        assessment_line("M7", MARCH, "URBAN", 341.85, assessment_date=MARCH)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first day"):
        assessment_line("M7", D(2026, 3, 4), "URBAN", M("1"), assessment_date=MARCH)


def test_member_amounts_add_a_member_month_twice_and_ignore_other_kinds():
    lines = [
        member_line("M1", FEB, "T1", M("0.5"), M("100.00")),
        member_line("M1", FEB, "T2", M("0.5"), M("60.00")),  # a mid-month tier change: two lines
        member_line("M2", FEB, "T1", M("1"), M("100.00")),
        PaymentLine(ASSESSMENT_FEE, M("300.00"), FEB, member_id="M1"),
        PaymentLine(MEMBER_MONTH, M("7.00"), FEB, member_id=None, rate_cell="T1"),
    ]
    assert member_amounts(lines) == {("M1", FEB): M("80.00"), ("M2", FEB): M("100.00")}


def test_rate_cell_totals_add_member_lines_only():
    lines = [
        member_line("M1", MARCH, "T1", M("1"), M("100.00")),
        member_line("M2", MARCH, "T1", M("1"), M("0.01")),
        PaymentLine(RETRO_ADJUSTMENT, M("5.00"), FEB, member_id="M1", rate_cell="T1"),
        PaymentLine(MEMBER_MONTH, M("3.00"), MARCH, member_id="M3", rate_cell=None),
    ]
    assert rate_cell_totals(lines) == {"T1": M("100.01")}
    assert payment_total(lines) == M("108.01")
    assert payment_total([]) == M("0.00")


# --- the whole payment --------------------------------------------------------------------------


def test_a_payment_without_a_withhold_has_no_withhold_line():
    payment = monthly_payment(
        month=MARCH, entries=[MemberMonthEntry("M1", "T", M("1"))], pmpm={"T": M("100.00")}
    )
    assert [line.kind for line in payment.lines] == [MEMBER_MONTH]
    assert payment.total == M("100.00") and payment.rate_cells == {"T": M("100.00")}
    assert payment.outside_window == []


def test_a_whole_payment_with_every_kind_of_line_in_order():
    payment = monthly_payment(
        month=MARCH,
        entries=[MemberMonthEntry("M1", "T", M("1"))],
        pmpm={"T": M("200.00")},
        assessments=[AssessmentEntry("M2", "RURAL", D(2026, 3, 9))],
        assessment_fees={"RURAL": M("400.00"), "URBAN": M("300.00")},
        recomputed={("M1", FEB): M("200.00"), ("M1", D(2025, 6, 1)): M("200.00")},
        paid={("M1", FEB): M("150.00")},
        retro_window_months=2,
        withhold_fraction=M("0.05"),
    )
    assert [(line.kind, line.amount) for line in payment.lines] == [
        (MEMBER_MONTH, M("200.00")),
        (ASSESSMENT_FEE, M("400.00")),
        (RETRO_ADJUSTMENT, M("50.00")),
        (WITHHOLD, M("-10.00")),  # 5% of the month's member lines only
    ]
    assert payment.total == M("640.00")
    assert payment.outside_window == [RetroOutsideWindow("M1", D(2025, 6, 1), M("200.00"))]
    assert isinstance(payment, Payment) and payment.month == MARCH
    with pytest.raises(KeyError, match="'URBAN'"):
        monthly_payment(
            month=MARCH,
            entries=[],
            pmpm={},
            assessments=[AssessmentEntry("M2", "URBAN", MARCH)],
        )


def test_the_line_kinds_are_the_six_public_codes():
    assert LINE_KINDS == (
        "member_month",
        "assessment_fee",
        "retro_adjustment",
        "withhold",
        "withhold_adjustment",
        "episode",
    )
    assert OUTSIDE_RETRO_WINDOW == "outside_retro_window"


def test_member_amounts_skip_a_non_member_line_that_comes_first():
    lines = [
        PaymentLine(ASSESSMENT_FEE, M("300.00"), FEB, member_id="M1"),
        member_line("M1", FEB, "T1", M("1"), M("100.00")),
    ]
    assert member_amounts(lines) == {("M1", FEB): M("100.00")}


def test_a_member_line_refuses_an_integer_member_month_as_well_as_a_float():
    with pytest.raises(TypeError):
        member_line("M1", MARCH, "T", 1, M("10.00"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        member_line("M1", MARCH, "T", M("1"), 10)  # type: ignore[arg-type]


def test_a_payment_has_no_retro_window_unless_the_contract_gives_one():
    payment = monthly_payment(
        month=MARCH,
        entries=[],
        pmpm={},
        recomputed={("M1", FEB): M("10.00")},
        assessments=[AssessmentEntry("M2", "URBAN", D(2026, 3, 9))],
        assessment_fees={"URBAN": M("300.00")},
    )
    (fee,) = payment.lines
    assert (fee.member_id, fee.detail) == ("M2", "assessment 2026-03-09 market URBAN")
    assert payment.outside_window == [RetroOutsideWindow("M1", FEB, M("10.00"))]


def test_sums_of_nothing_are_zero_in_cents():
    assert str(payment_total([])) == "0.00"
    assert withhold_line([], M("0.05"), MARCH).detail == "0.05 x 0.00"
    assert str(Payment(MARCH, []).total) == "0.00"


def test_retro_lines_of_one_month_come_in_member_order():
    # Twenty members in one month: the lines are sorted by member, whatever order a set gives them.
    members = [f"M{n:02d}" for n in range(20, 0, -1)]
    recomputed = {(m, FEB): M("1.00") for m in members}
    lines, _ = retro_lines(recomputed, {}, payment_month=MARCH, retro_window_months=1)
    assert [x.member_id for x in lines] == sorted(members)


# --- withhold adjustments (the month rounding rule) ---------------------------------------------


def test_the_ctr_2026_0004_december_retro_reduction_returns_the_withhold_above_five_percent_of_the_net():
    # December paid 45,953.06 of member lines and withheld 2,297.65; a retro line took back 43,939.60.
    dec = D(2026, 12, 1)
    net = M("45953.06") + M("-43939.60")  # 2,013.46
    line = withhold_adjustment(dec, net, M("-2297.65"), M("0.05"))
    assert line == PaymentLine(
        WITHHOLD_ADJUSTMENT,
        M("2196.98"),
        dec,
        rate=M("0.05"),
        detail="-(0.05 x 2013.46) - withheld -2297.65",
    )
    assert M("-2297.65") + line.amount == M("-100.67")  # 5% of 2,013.46 = 100.673 -> 100.67


def test_a_withhold_adjustment_rounds_the_whole_net_half_up_at_the_half_cent():
    # 5% of 0.10 = 0.005 -> 0.01 withheld; 5% of 0.09 = 0.0045 -> 0.00.
    assert withhold_adjustment(FEB, M("0.10"), M("0.00"), M("0.05")).amount == M("-0.01")
    assert withhold_adjustment(FEB, M("0.09"), M("0.00"), M("0.05")) is None
    # Already withheld 0.01 on 0.10; the net grows by 0.10 to 0.20: 0.010 -> 0.01, no change.
    assert withhold_adjustment(FEB, M("0.20"), M("-0.01"), M("0.05")) is None
    # ... and to 0.30: 0.015 -> 0.02, one more cent.
    assert withhold_adjustment(FEB, M("0.30"), M("-0.01"), M("0.05")).amount == M("-0.01")


def test_a_net_fallen_to_zero_returns_the_whole_withhold():
    line = withhold_adjustment(JAN, M("0.00"), M("-50.00"), M("0.05"))
    assert (line.kind, line.amount, line.service_month, line.rate) == (
        WITHHOLD_ADJUSTMENT,
        M("50.00"),
        JAN,
        M("0.05"),
    )


def test_a_net_increase_withholds_more_and_an_unchanged_net_adjusts_nothing():
    assert withhold_adjustment(JAN, M("1100.00"), M("-50.00"), M("0.05")).amount == M("-5.00")
    assert withhold_adjustment(JAN, M("1000.00"), M("-50.00"), M("0.05")) is None


def test_a_negative_net_change_below_zero_net_gives_back_more_than_was_held():
    # A net taken below zero (more taken back than paid) withholds a negative amount: -5% of -100.
    line = withhold_adjustment(JAN, M("-100.00"), M("0.00"), M("0.05"))
    assert line.amount == M("5.00")


def test_a_fraction_of_zero_returns_whatever_is_held_and_otherwise_adjusts_nothing():
    assert withhold_adjustment(JAN, M("1000.00"), M("0.00"), M("0")) is None
    assert withhold_adjustment(JAN, M("1000.00"), M("-12.34"), M("0")).amount == M("12.34")


def test_a_withhold_adjustment_validates_like_the_withhold_line():
    with pytest.raises(ValueError, match="withhold_fraction"):
        withhold_adjustment(JAN, M("10.00"), M("0.00"), M("1"))
    with pytest.raises(ValueError, match="withhold_fraction"):
        withhold_adjustment(JAN, M("10.00"), M("0.00"), M("-0.01"))
    assert withhold_adjustment(JAN, M("100.00"), M("0.00"), M("0.9999")).amount == M("-99.99")
    with pytest.raises(TypeError, match="withhold_fraction"):
        withhold_adjustment(JAN, M("10.00"), M("0.00"), 0.05)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="net_member_amount"):
        withhold_adjustment(JAN, 10, M("0.00"), M("0.05"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="already_withheld"):
        withhold_adjustment(JAN, M("10.00"), 0, M("0.05"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="first day"):
        withhold_adjustment(D(2026, 1, 31), M("10.00"), M("0.00"), M("0.05"))
