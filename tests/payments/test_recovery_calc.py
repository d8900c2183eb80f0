"""Receivables and recovery offsets at every edge (payments/recovery.py; pure, no database).

`make mutate MODULES=payments/recovery.py` runs the module against these tests only.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.recovery import (
    DEFAULT_SHARE,
    RECEIVABLE,
    RECOVERY_KINDS,
    RECOVERY_OFFSET,
    REFUND,
    ZERO,
    RecoveryError,
    check_share,
    open_receivable,
    receivable_line,
    recovery_offset,
    refund_amount,
    run_recovery_line,
)

M = Decimal

cents = st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: M(n).scaleb(-2))
positive_cents = st.integers(min_value=1, max_value=10**9).map(lambda n: M(n).scaleb(-2))
shares = st.integers(min_value=1, max_value=10**6).map(lambda n: M(n).scaleb(-6))


def test_kinds_are_the_ledger_kinds():
    assert (RECEIVABLE, RECOVERY_OFFSET, REFUND) == ("receivable", "recovery_offset", "refund")
    assert RECOVERY_KINDS == (RECEIVABLE, RECOVERY_OFFSET, REFUND)
    assert DEFAULT_SHARE == 1 and str(ZERO) == "0.00"


# receivable_line ---------------------------------------------------------------------------------


def test_a_negative_month_is_carried_whole():
    assert receivable_line(M("-120.35")) == M("120.35")


def test_a_month_of_exactly_zero_carries_nothing():
    assert str(receivable_line(M("0.00"))) == "0.00"


def test_a_positive_month_carries_nothing():
    assert str(receivable_line(M("0.01"))) == "0.00"


def test_the_smallest_negative_month_carries_one_cent():
    assert receivable_line(M("-0.01")) == M("0.01")


def test_a_receivable_is_in_cents():
    assert str(receivable_line(M("-5"))) == "5.00"


# recovery_offset ---------------------------------------------------------------------------------


def test_share_one_takes_the_whole_payment_when_less_is_owed_than_paid():
    assert recovery_offset(M("500.00"), M("120.00"), M(1)) == M("-120.00")


def test_share_one_takes_the_whole_payment_when_more_is_owed():
    assert recovery_offset(M("100.00"), M("120.00"), M(1)) == M("-100.00")


def test_default_share_is_all_of_it():
    assert recovery_offset(M("100.00"), M("120.00")) == M("-100.00")
    assert recovery_offset(M("100.00"), M("120.00"), None) == M("-100.00")


def test_offset_exactly_equal_to_the_receivable():
    assert recovery_offset(M("200.00"), M("100.00"), M("0.5")) == M("-100.00")


def test_half_share_takes_half():
    assert recovery_offset(M("200.00"), M("500.00"), M("0.5")) == M("-100.00")


def test_half_a_cent_rounds_up():
    # 0.5 x 0.01 = 0.005 -> 0.01 (half-up)
    assert recovery_offset(M("0.01"), M("10.00"), M("0.5")) == M("-0.01")
    # 0.5 x 100.01 = 50.005 -> 50.01
    assert recovery_offset(M("100.01"), M("80.00"), M("0.5")) == M("-50.01")


def test_just_under_half_a_cent_rounds_down():
    assert recovery_offset(M("100.01"), M("80.00"), M("0.4999")) == M("-49.99")


def test_nothing_owed_offsets_nothing():
    assert str(recovery_offset(M("500.00"), M("0.00"), M(1))) == "0.00"


def test_a_negative_balance_offsets_nothing():
    assert str(recovery_offset(M("500.00"), M("-1.00"), M(1))) == "0.00"


def test_a_zero_payment_offsets_nothing():
    assert str(recovery_offset(M("0.00"), M("100.00"), M(1))) == "0.00"


def test_a_negative_payment_offsets_nothing():
    assert str(recovery_offset(M("-5.00"), M("100.00"), M(1))) == "0.00"


def test_one_cent_owed_one_cent_paid():
    assert recovery_offset(M("0.01"), M("0.01"), M(1)) == M("-0.01")


def test_the_offset_is_in_cents():
    assert str(recovery_offset(M("3"), M("10"), M(1))) == "-3.00"
    assert str(recovery_offset(M("30"), M("10"), M(1))) == "-10.00"


@pytest.mark.parametrize("share", [M(0), M("-0.1"), M("1.000001"), M(2), M("NaN"), M("Infinity")])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(RecoveryError) as exc:
        recovery_offset(M("100.00"), M("10.00"), share)
    assert exc.value.code == "invalid_share"
    assert exc.value.message == str(exc.value)


def test_a_float_share_is_refused():
    with pytest.raises(RecoveryError):
        check_share(0.5)  # type: ignore[arg-type]


def test_share_bounds():
    assert check_share(M(1)) == M(1)
    assert check_share(M("0.000001")) == M("0.000001")
    assert check_share(None) == M(1)


# refund_amount -----------------------------------------------------------------------------------


def test_a_refund_equal_to_the_receivable():
    assert refund_amount(M("120.00"), M("120.00")) == M("-120.00")


def test_a_refund_under_the_receivable():
    assert refund_amount(M("0.01"), M("120.00")) == M("-0.01")


def test_a_refund_above_the_receivable_is_refused():
    with pytest.raises(RecoveryError) as exc:
        refund_amount(M("120.01"), M("120.00"))
    assert exc.value.code == "refund_above_receivable"


def test_a_refund_when_nothing_is_owed_is_refused():
    with pytest.raises(RecoveryError) as exc:
        refund_amount(M("1.00"), M("0.00"))
    assert exc.value.code == "refund_above_receivable"


@pytest.mark.parametrize("amount", [M("0.00"), M("-1.00"), M("1.001"), M("NaN"), M("Infinity")])
def test_a_refund_that_is_not_a_positive_amount_in_cents_is_refused(amount):
    with pytest.raises(RecoveryError) as exc:
        refund_amount(amount, M("100.00"))
    assert exc.value.code == "invalid_amount"


# open_receivable ---------------------------------------------------------------------------------


def test_open_receivable_sums_the_entries():
    assert open_receivable([M("120.00"), M("-100.00"), M("-5.00")]) == M("15.00")


def test_open_receivable_of_nothing_is_zero():
    assert str(open_receivable([])) == "0.00"


def test_open_receivable_cleared_exactly_is_zero():
    assert open_receivable([M("120.00"), M("-120.00")]) == 0


def test_open_receivable_is_never_below_zero():
    assert str(open_receivable([M("10.00"), M("-12.00")])) == "0.00"


# run_recovery_line -------------------------------------------------------------------------------


def test_a_negative_run_is_carried():
    assert run_recovery_line(M("-50.00"), M("10.00"), M("0.5")) == (RECEIVABLE, M("50.00"))


def test_a_zero_run_has_no_line():
    kind, amount = run_recovery_line(M("0.00"), M("10.00"))
    assert (kind, str(amount)) == (RECOVERY_OFFSET, "0.00")


def test_a_positive_run_offsets():
    assert run_recovery_line(M("50.00"), M("10.00")) == (RECOVERY_OFFSET, M("-10.00"))
    assert run_recovery_line(M("50.00"), M("100.00"), M("0.5")) == (RECOVERY_OFFSET, M("-25.00"))


# properties --------------------------------------------------------------------------------------


@given(total=cents)
def test_a_run_never_pays_below_zero(total):
    kind, amount = run_recovery_line(total, ZERO)
    assert total + amount >= 0
    assert (amount > 0) == (total < 0)
    if total < 0:
        assert kind == RECEIVABLE and total + amount == 0


@given(total=positive_cents, owed=positive_cents, share=shares)
def test_an_offset_never_takes_more_than_owed_nor_more_than_the_share(total, owed, share):
    offset = recovery_offset(total, owed, share)
    assert offset <= 0
    assert -offset <= owed
    assert -offset <= share * total + M("0.005")
    assert total + offset >= 0
    assert offset == offset.quantize(M("0.01"))
    # something is always recovered from a payment while something is owed (half-up: at least a cent
    # once share x total reaches half a cent)
    if share * total >= M("0.005"):
        assert offset < 0


@given(owed=positive_cents, payments=st.lists(positive_cents, min_size=1, max_size=30))
def test_share_one_clears_the_receivable_with_the_first_payments(owed, payments):
    balance = owed
    for paid in payments:
        offset = recovery_offset(paid, balance, M(1))
        assert offset == -min(paid, balance)
        balance = open_receivable([balance, offset])
    assert balance == max(owed - sum(payments), 0)


@given(owed=positive_cents, refund=positive_cents)
def test_a_refund_never_leaves_a_negative_balance(owed, refund):
    if refund > owed:
        with pytest.raises(RecoveryError):
            refund_amount(refund, owed)
    else:
        assert open_receivable([owed, refund_amount(refund, owed)]) == owed - refund
