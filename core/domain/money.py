"""Money and the Decimal policy: one rounding helper, one way to carry precision.

- Money is ``Decimal``, never ``float``: every helper here refuses a float with ``TypeError``,
  so a binary fraction can never reach a payment line.
- An amount is rounded once, half-up (away from zero at exactly half a cent) to the cent, where
  the domain says a figure becomes money: a payment line, a rate shown on a rate sheet, a
  settlement. :func:`to_cents` is the only helper that does it; sums of rounded lines are exact
  and are not rounded again. An amount that must *cover* a figure (a reserve) is rounded up
  instead, by :func:`up_to_cents`.
- Other precisions (rates and shares at 6 places, member-month fractions at 6 places, a chart
  label at 1 place) use :func:`round_half_up` with the number of places, so the rule is the same
  (half-up) and only the precision differs.
- Long calculations (the pricing engine) run inside :data:`CALCULATION_CONTEXT`: 40 significant
  digits, banker's rounding for the intermediate steps (no bias over thousands of operations),
  and a NaN, an overflow or a division by zero raises instead of leaking into a rate.
"""

from __future__ import annotations

from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

CENT = Decimal("0.01")

#: Places of a member-month fraction, a share or a rate before it becomes money: at 6 places
#: 1/31 of a month is within 5e-7 of exact, so a $10,000 PMPM moves by under half a cent.
FRACTION_PLACES = 6

CALCULATION_CONTEXT = Context(
    prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(13)}
# Rounding to the cent through a context's own method is faster than quantize(rounding=...), which builds
# a context on every call; a pricing quote rounds over a thousand amounts.
_CENTS_CONTEXT = Context(prec=40, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def _decimal(value: Decimal | int) -> Decimal:
    # bool is an int: True must not become one cent.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"money must be a Decimal, got {type(value).__name__}")


def quantum(places: int) -> Decimal:
    """``Decimal("0.01")`` for 2 places, ``Decimal("1")`` for 0."""
    return _QUANTA.get(places) or Decimal(1).scaleb(-places)


def round_half_up(value: Decimal | int, places: int) -> Decimal:
    """``value`` rounded half-up to ``places`` decimal places (2.675, 2 -> 2.68; -0.5, 0 -> -1)."""
    return _decimal(value).quantize(quantum(places), rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal | int) -> Decimal:
    """Round money half-up to the cent: 262.345 -> 262.35, -0.005 -> -0.01, 7 -> 7.00."""
    return _CENTS_CONTEXT.quantize(_decimal(amount), CENT)


def up_to_cents(amount: Decimal | int) -> Decimal:
    """An amount that must cover a figure (a reserve) is rounded up to the next cent, never half-up:
    10.001 -> 10.01, 10.00 -> 10.00, -0.009 -> 0.00."""
    return _decimal(amount).quantize(CENT, rounding=ROUND_CEILING) + 0  # + 0: no "-0.00"


def cents_str(amount: Decimal | int) -> str:
    """How files and API bodies spell an amount: rounded to the cent, plain digits, no exponent."""
    # str() of a Decimal with exponent -2 never uses an exponent (and is faster than format "f").
    return str(to_cents(amount))
