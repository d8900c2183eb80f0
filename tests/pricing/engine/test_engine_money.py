"""The one rounding rule: half-up to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.domain.money import cents_str
from pricing.engine import to_cents


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        ("262.345", "262.35"),
        ("262.344999", "262.34"),
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("468.1", "468.10"),
        ("1E+3", "1000.00"),
    ],
)
def test_to_cents_rounds_half_up(amount, cents):
    assert to_cents(Decimal(amount)) == Decimal(cents)
    assert cents_str(Decimal(amount)) == cents
