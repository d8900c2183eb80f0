"""Payment arithmetic: lines, rounding, retroactive adjustments, withhold, totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.money import to_cents as round_cents
from enrollment.calc import DAILY, FIRST_DAY, PRORATION_RULES, Span, member_months_bulk
from payments.calc import (
    ASSESSMENT_FEE,
    MEMBER_MONTH,
    RETRO_ADJUSTMENT,
    WITHHOLD,
    AssessmentEntry,
    MemberMonthEntry,
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


def test_round_cents_is_half_up_and_decimal_only():
    assert round_cents(M("0.005")) == M("0.01")
    assert round_cents(M("2.675")) == M("2.68")  # exact decimal: no binary-float surprise
    assert round_cents(M("2.674999")) == M("2.67")
    assert round_cents(M("-0.005")) == M("-0.01")  # half away from zero, symmetric
    with pytest.raises(TypeError):
        round_cents(2.675)  # type: ignore[arg-type]


def test_member_line_is_member_months_times_pmpm_rounded_half_up():
    line = member_line("M1", MARCH, "T2-URBAN", M("0.548387"), M("612.35"))
    assert line.amount == M("335.80")  # 335.7997...
    assert (line.kind, line.rate_cell, line.member_months, line.rate) == (
        MEMBER_MONTH,
        "T2-URBAN",
        M("0.548387"),
        M("612.35"),
    )
    assert member_line("M1", MARCH, "T", M("0.500000"), M("0.01")).amount == M("0.01")  # 0.005 -> 0.01
    with pytest.raises(ValueError):
        member_line("M1", MARCH, "T", M("1.000001"), M("10"))
    with pytest.raises(ValueError):
        member_line("M1", D(2026, 3, 2), "T", M("1"), M("10"))
    with pytest.raises(TypeError):
        member_line("M1", MARCH, "T", 1.0, M("10"))  # type: ignore[arg-type]


def test_rate_cell_line_is_the_sum_of_its_member_lines():
    lines = member_lines(
        [
            MemberMonthEntry("M1", "T1", M("1.000000")),
            MemberMonthEntry("M2", "T1", M("0.333333")),
            MemberMonthEntry("M3", "T2", M("0.666667")),
        ],
        MARCH,
        {"T1": M("100.00"), "T2": M("250.00")},
    )
    assert [line.amount for line in lines] == [M("100.00"), M("33.33"), M("166.67")]
    assert rate_cell_totals(lines) == {"T1": M("133.33"), "T2": M("166.67")}
    with pytest.raises(KeyError):
        member_lines([MemberMonthEntry("M1", "T9", M("1"))], MARCH, {})


def test_assessment_line_is_the_market_fee():
    line = assessment_line("M7", MARCH, "RURAL-N", M("468.10"), assessment_date=D(2026, 3, 4))
    assert (line.kind, line.amount, line.member_id) == (ASSESSMENT_FEE, M("468.10"), "M7")


def test_retro_lines_within_and_outside_the_window():
    feb, jan, oct_ = D(2026, 2, 1), D(2026, 1, 1), D(2025, 10, 1)
    recomputed = {
        ("M1", feb): M("450.00"),
        ("M2", jan): M("200.00"),
        ("M3", oct_): M("10.00"),
        ("M5", feb): M("9.99"),
    }
    paid = {
        ("M1", feb): M("612.35"),
        ("M4", jan): M("100.00"),
        ("M3", oct_): M("0.00"),
        ("M5", feb): M("9.99"),
    }
    lines, outside = retro_lines(recomputed, paid, payment_month=MARCH, retro_window_months=3)
    assert [(x.member_id, x.service_month, x.amount) for x in lines] == [
        ("M2", jan, M("200.00")),  # added late: paid in full
        ("M4", jan, M("-100.00")),  # removed: taken back
        ("M1", feb, M("-162.35")),  # tier went down
    ]
    assert all(x.kind == RETRO_ADJUSTMENT for x in lines)
    assert outside == [RetroOutsideWindow("M3", oct_, M("10.00"))]  # 5 months back: reported, not paid
    with pytest.raises(ValueError):
        retro_lines({("M1", MARCH): M("1")}, {}, payment_month=MARCH, retro_window_months=3)


def test_withhold_is_minus_the_fraction_of_the_month_member_lines_rounded_half_up():
    lines = [
        member_line("M1", MARCH, "T", M("1"), M("5.05")),
        member_line("M2", MARCH, "T", M("1"), M("5.05")),
        assessment_line("M3", MARCH, "U", M("300.00"), assessment_date=MARCH),
        PaymentLine(RETRO_ADJUSTMENT, M("50.00"), D(2026, 2, 1), member_id="M1"),
    ]
    w = withhold_line(lines, M("0.05"), MARCH)
    assert (w.kind, w.amount) == (
        WITHHOLD,
        M("-0.51"),
    )  # 0.05 x 10.10 = 0.505 -> 0.51; fees and retro excluded
    assert withhold_line(lines, M("0"), MARCH).amount == 0
    with pytest.raises(ValueError):
        withhold_line(lines, M("1.5"), MARCH)


def test_monthly_payment_puts_it_together():
    payment = monthly_payment(
        month=MARCH,
        entries=[MemberMonthEntry("M1", "T1", M("1.000000")), MemberMonthEntry("M2", "T2", M("0.548387"))],
        pmpm={"T1": M("450.00"), "T2": M("612.35")},
        assessments=[AssessmentEntry("M3", "URBAN", D(2026, 3, 4))],
        assessment_fees={"URBAN": M("341.85")},
        recomputed={("M1", D(2026, 2, 1)): M("450.00")},
        paid={("M1", D(2026, 2, 1)): M("612.35")},
        retro_window_months=3,
        withhold_fraction=M("0.05"),
    )
    assert [(line.kind, line.amount) for line in payment.lines] == [
        (MEMBER_MONTH, M("450.00")),
        (MEMBER_MONTH, M("335.80")),
        (ASSESSMENT_FEE, M("341.85")),
        (RETRO_ADJUSTMENT, M("-162.35")),
        (WITHHOLD, M("-39.29")),  # 0.05 x 785.80 = 39.29
    ]
    assert payment.total == M("926.01")
    assert payment.rate_cells == {"T1": M("450.00"), "T2": M("335.80")}
    with pytest.raises(KeyError):
        monthly_payment(month=MARCH, entries=[], pmpm={}, assessments=[AssessmentEntry("M", "X", MARCH)])


# --------------------------------------------------------------------------- properties
money = st.decimals(min_value=0, max_value=20000, places=2, allow_nan=False, allow_infinity=False)
fractions = st.integers(0, 1_000_000).map(lambda n: (Decimal(n) / 1_000_000).quantize(Decimal("0.000001")))


@given(
    st.lists(st.tuples(fractions, st.sampled_from(["T1", "T2", "T3"])), max_size=40),
    st.dictionaries(st.sampled_from(["T1", "T2", "T3"]), money, min_size=3, max_size=3),
    st.lists(money, max_size=5),
    st.lists(
        st.decimals(min_value=-5000, max_value=5000, places=2, allow_nan=False, allow_infinity=False),
        max_size=5,
    ),
    st.decimals(min_value=0, max_value="0.5", places=4, allow_nan=False, allow_infinity=False),
)
def test_payment_lines_sum_to_the_total(members, pmpm, fees, retro, fraction):
    entries = [MemberMonthEntry(f"M{k}", cell, mm) for k, (mm, cell) in enumerate(members)]
    paid = {(f"R{k}", D(2026, 2, 1)): amount for k, amount in enumerate(retro)}
    payment = monthly_payment(
        month=MARCH,
        entries=entries,
        pmpm=pmpm,
        assessments=[AssessmentEntry(f"A{k}", f"MK{k}", MARCH) for k in range(len(fees))],
        assessment_fees={f"MK{k}": fee for k, fee in enumerate(fees)},
        recomputed={},
        paid=paid,
        retro_window_months=1,
        withhold_fraction=fraction,
    )
    assert payment.total == sum((line.amount for line in payment.lines), Decimal(0))
    assert payment.total == payment_total(payment.lines)
    assert all(
        isinstance(line.amount, Decimal) and line.amount == round_cents(line.amount) for line in payment.lines
    )
    assert sum(payment.rate_cells.values(), Decimal(0)) == sum(
        (line.amount for line in payment.lines if line.kind == MEMBER_MONTH), Decimal(0)
    )


@given(fractions, st.lists(money, min_size=1, max_size=5))
def test_a_member_month_never_pays_more_than_one_pmpm_at_the_highest_tier(mm, rates):
    pmpm = {f"T{k}": rate for k, rate in enumerate(rates)}
    highest = max(rates)
    for cell in pmpm:
        assert member_line("M1", MARCH, cell, mm, pmpm[cell]).amount <= highest


@st.composite
def rosters(draw):
    n = draw(st.integers(0, 15))
    spans = {}
    for k in range(n):
        start = D(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 70)))
        end = draw(st.one_of(st.none(), st.integers(1, 60).map(lambda d, s=start: s + dt.timedelta(days=d))))
        spans[f"M{k}"] = [Span(start, end, draw(st.sampled_from(["1", "2", "3"])))]
    return spans


@given(rosters(), st.sampled_from(PRORATION_RULES))
def test_a_roster_resubmitted_unchanged_gives_zero_adjustment(spans, rule):
    pmpm = {"1": M("262.35"), "2": M("401.10"), "3": M("612.99")}
    feb = D(2026, 2, 1)

    def price(month: dt.date) -> list[PaymentLine]:
        result = member_months_bulk(spans, month, rule, tier_rule=FIRST_DAY)
        entries = [MemberMonthEntry(m, r.tier, r.member_months) for m, r in result.items()]
        return member_lines(entries, month, pmpm)

    paid = member_amounts(price(feb))  # what February's run paid
    recomputed = member_amounts(price(feb))  # the same roster, resubmitted and re-priced
    lines, outside = retro_lines(recomputed, paid, payment_month=MARCH, retro_window_months=3)
    assert lines == [] and outside == []


def test_a_changed_roster_adjusts_only_the_difference():
    feb = D(2026, 2, 1)
    pmpm = {"1": M("300.00")}
    before = {"M1": [Span(D(2026, 1, 1), None, "1")], "M2": [Span(D(2026, 2, 1), None, "1")]}
    after = {"M1": [Span(D(2026, 1, 1), D(2026, 2, 15), "1")], "M2": [Span(D(2026, 2, 1), None, "1")]}

    def amounts(spans):
        result = member_months_bulk(spans, feb, DAILY)
        return member_amounts(
            member_lines([MemberMonthEntry(m, r.tier, r.member_months) for m, r in result.items()], feb, pmpm)
        )

    lines, _ = retro_lines(amounts(after), amounts(before), payment_month=MARCH, retro_window_months=2)
    # M1 died on 14 Feb: 14/28 = 0.500000 x 300 = 150.00 instead of 300.00
    assert [(x.member_id, x.amount) for x in lines] == [("M1", M("-150.00"))]


@given(
    fraction=st.decimals(min_value=0, max_value=M("0.25"), places=4),
    changes=st.lists(st.decimals(min_value=-100_000, max_value=100_000, places=2), min_size=1, max_size=12),
)
def test_the_withhold_follows_the_net_exactly_after_any_sequence_of_changes(fraction, changes):
    # Each change is a run (the month's member lines, then retro lines); after each, the month's
    # withheld total is exactly -(fraction x net) rounded once, whatever came before.
    month = D(2026, 12, 1)
    net, withheld = M("0.00"), M("0.00")
    for change in changes:
        net += change
        line = withhold_adjustment(month, net, withheld, fraction)
        if line is not None:
            assert line.amount != 0 and line.service_month == month and line.rate == fraction
            withheld += line.amount
        assert withheld == -round_cents(fraction * net)
