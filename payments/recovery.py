"""Negative balances: carried to a receivable, recovered from later payments (docs/domain.md section 5).

Pure functions over ``Decimal`` amounts (no Django):

- a run whose lines sum to N < 0 gets a ``receivable`` line of -N: the run pays 0.00 and the
  provider owes the plan -N (the open receivable grows by -N) — :func:`receivable_line`;
- a later run whose lines sum to N > 0 while the open receivable R > 0 gets a ``recovery_offset``
  line of -min(R, to_cents(share x N)), share in (0, 1] set by the contract (1 by default) —
  :func:`recovery_offset`;
- a refund received of A (0 < A <= R) is posted as -A — :func:`refund_amount`;
- the open receivable as of a date is the sum of the receivable, offset and refund entries posted up
  to it (offsets and refunds are negative), never below 0 — :func:`open_receivable`.

Every amount is in cents already or rounded once with :func:`core.domain.money.to_cents` (half-up).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from core.domain.money import to_cents

ZERO = Decimal("0.00")
DEFAULT_SHARE = Decimal(1)

RECEIVABLE = "receivable"
RECOVERY_OFFSET = "recovery_offset"
REFUND = "refund"
#: The ledger kinds that move the open receivable.
RECOVERY_KINDS: tuple[str, ...] = (RECEIVABLE, RECOVERY_OFFSET, REFUND)


class RecoveryError(ValueError):
    """An input the rules refuse; ``code`` is the error code the API answers with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_share(share: Decimal | None) -> Decimal:
    """The share of a payment an offset may take: None means the default (all of it, 1)."""
    if share is None:
        return DEFAULT_SHARE
    if not isinstance(share, Decimal) or not share.is_finite() or share <= 0 or share > 1:
        raise RecoveryError("invalid_share", "The recovery offset share must be more than 0 and at most 1.")
    return share


def receivable_line(total: Decimal) -> Decimal:
    """The receivable line of a run whose other lines sum to ``total``: -total when negative, else 0.00."""
    return to_cents(max(ZERO - total, ZERO))


def recovery_offset(
    payable_total: Decimal, open_receivable: Decimal, share: Decimal | None = None
) -> Decimal:
    """The (negative) offset line of a run paying ``payable_total`` while ``open_receivable`` is owed.

    At most ``share`` of the payment (rounded half-up to the cent) and never more than is owed; 0.00
    when nothing is paid or nothing is owed."""
    share = check_share(share)
    owed = max(to_cents(open_receivable), ZERO)
    allowed = max(to_cents(share * payable_total), ZERO)
    return ZERO - min(owed, allowed)


def refund_amount(amount: Decimal, open_receivable: Decimal) -> Decimal:
    """The ledger amount (negative) of a refund of ``amount`` received: 0 < amount <= the open receivable."""
    if not amount.is_finite() or amount <= 0 or amount != to_cents(amount):
        raise RecoveryError("invalid_amount", "A refund is an amount in dollars and cents, more than 0.")
    if amount > open_receivable:
        raise RecoveryError(
            "refund_above_receivable", "A refund cannot be more than the open receivable of the contract."
        )
    return -amount


def open_receivable(amounts: Iterable[Decimal]) -> Decimal:
    """The open receivable from the amounts of the receivable, offset and refund entries; never below 0."""
    return max(sum(amounts, ZERO), ZERO)


def run_recovery_line(
    total: Decimal, open_balance: Decimal, share: Decimal | None = None
) -> tuple[str, Decimal]:
    """The recovery line of a run whose other lines sum to ``total``: (kind, amount), amount 0.00 when none.

    A negative month is carried to a receivable; a positive one repays what is owed."""
    if total < 0:
        return RECEIVABLE, receivable_line(total)
    return RECOVERY_OFFSET, recovery_offset(total, open_balance, share)
