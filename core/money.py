"""Money helpers. Amounts are Decimals; rounding happens once, half-up to the cent."""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """Round half-up to the cent: the only rounding the platform applies to money."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
