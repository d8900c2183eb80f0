"""The one place money is rounded.

Every figure inside the engine is carried at full precision; only a result shown to a person or
paid out is rounded, half-up to the cent, as Medicaid rate sheets and payment lines are.
Keeping the rule in one helper means the build-up, the payment model comparison and the Monte
Carlo summary can never round differently.
"""

from __future__ import annotations

from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

CENT = Decimal("0.01")

#: The engine's arithmetic: 40 significant digits, banker's rounding inside (only results are
#: rounded, half-up to the cent); a NaN or a division by zero raises instead of leaking into a rate.
ENGINE_CONTEXT = Context(
    prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)


def to_cents(amount: Decimal) -> Decimal:
    """Round `amount` half-up to the cent (262.345 -> 262.35, -0.005 -> -0.01)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def cents_str(amount: Decimal) -> str:
    """The result-file spelling of an amount: rounded to the cent, plain decimal, no exponent."""
    return format(to_cents(amount), "f")
