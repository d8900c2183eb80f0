"""The one rounding rule (half-up to the cent) and the Decimal policy."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.money import (
    CALCULATION_CONTEXT,
    CENT,
    cents_str,
    quantum,
    round_half_up,
    to_cents,
    up_to_cents,
)

amounts = st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=6)
places = st.integers(min_value=0, max_value=8)


@given(amounts)
def test_to_cents_is_idempotent_and_in_cents(amount):
    cents = to_cents(amount)
    assert to_cents(cents) == cents
    assert cents == cents.quantize(CENT)
    assert cents.as_tuple().exponent == -2


@given(amounts)
def test_to_cents_is_within_half_a_cent(amount):
    assert abs(to_cents(amount) - amount) <= Decimal("0.005")


@given(amounts)
def test_to_cents_is_symmetric_around_zero(amount):
    assert to_cents(-amount) == -to_cents(amount)


@given(amounts, amounts)
def test_to_cents_is_monotone(a, b):
    if a <= b:
        assert to_cents(a) <= to_cents(b)


@given(st.integers(min_value=0, max_value=10**8))
def test_exactly_half_a_cent_rounds_away_from_zero(k):
    half = Decimal(k) * CENT + Decimal("0.005")
    assert to_cents(half) == Decimal(k + 1) * CENT
    assert to_cents(-half) == -Decimal(k + 1) * CENT


@given(amounts, places)
def test_round_half_up_is_within_half_a_unit_and_idempotent(value, n):
    rounded = round_half_up(value, n)
    assert abs(rounded - value) <= quantum(n) / 2
    assert round_half_up(rounded, n) == rounded
    assert round_half_up(value, 2) == to_cents(value)


@given(amounts)
def test_cents_str_is_plain_digits_that_read_back(amount):
    text = cents_str(amount)
    assert "E" not in text and text.split(".")[1].__len__() == 2
    assert Decimal(text) == to_cents(amount)


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("262.345", "262.35"),
        ("262.344999", "262.34"),
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("-2.675", "-2.68"),
        ("2.675", "2.68"),  # exact decimal: no binary-float surprise
        ("468.1", "468.10"),
        ("1E+3", "1000.00"),
    ],
)
def test_to_cents_examples(amount, cents):
    assert to_cents(Decimal(amount)) == Decimal(cents)
    assert cents_str(Decimal(amount)) == cents


def test_a_negative_amount_under_half_a_cent_is_zero_and_keeps_its_sign_in_text():
    assert to_cents(Decimal("-0.004999")) == 0
    assert cents_str(Decimal("-0.004999")) == "-0.00"  # as the pricing engine always wrote it


def test_integers_are_money_but_floats_and_booleans_are_not():
    assert to_cents(7) == Decimal("7.00")
    assert round_half_up(3, 1) == Decimal("3.0")
    for bad in (2.675, True, "2.675", None):
        with pytest.raises(TypeError):
            to_cents(bad)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            round_half_up(bad, 2)  # type: ignore[arg-type]


def test_other_precisions_round_half_up_too():
    assert round_half_up(Decimal("0.0000005"), 6) == Decimal("0.000001")
    assert round_half_up(Decimal("12.25"), 1) == Decimal("12.3")
    assert round_half_up(Decimal("-0.5"), 0) == Decimal("-1")
    assert quantum(0) == Decimal(1) and quantum(6) == Decimal("0.000001") and quantum(20) == Decimal("1E-20")


def test_the_calculation_context_refuses_nan_and_division_by_zero():
    with localcontext(CALCULATION_CONTEXT):
        assert Decimal(1) / Decimal(3) == Decimal("0." + "3" * 40)
        with pytest.raises(ArithmeticError):
            Decimal(1) / Decimal(0)
        with pytest.raises(ArithmeticError):
            Decimal("Infinity") - Decimal("Infinity")


@pytest.mark.parametrize(
    ("amount", "covered"),
    [
        ("10.001", "10.01"),
        ("10.00", "10.00"),
        ("10.005", "10.01"),
        ("10.009", "10.01"),
        ("0", "0.00"),
        ("-0.009", "0.00"),
        ("-10.015", "-10.01"),
        ("7", "7.00"),
    ],
)
def test_up_to_cents_covers_the_amount(amount, covered):
    assert up_to_cents(Decimal(amount)) == Decimal(covered)
    assert str(up_to_cents(Decimal(amount))) == str(Decimal(covered))


@given(amounts)
def test_up_to_cents_is_the_least_cent_not_below(amount):
    covered = up_to_cents(amount)
    assert covered >= amount > covered - Decimal("0.01")
    assert covered == covered.quantize(Decimal("0.01"))


def test_up_to_cents_takes_money_only():
    assert up_to_cents(3) == Decimal("3.00")
    with pytest.raises(TypeError):
        up_to_cents(1.5)
    with pytest.raises(TypeError):
        up_to_cents(True)
