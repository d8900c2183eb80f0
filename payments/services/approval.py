"""Four eyes on money (docs/domain.md section 5, "Four eyes on money"): the person who requested a payment run, a settlement,
a ledger correction or a refund does not approve it, unless the contract lets one person approve
amounts under a limit it sets.

Every approving service calls :func:`require_second_person` inside its transaction, after locking
the row, with the amount the approval would post. The limit is the contract's term in force today
(``single_approval_limit`` of the version in force; after the contract ended, its last version):
the rule is about who may approve now, not about the month the money is for.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from contracts import selectors as contracts
from contracts.models import Contract
from core.errors import ApplicationError

FOUR_EYES_MESSAGE = (
    "The person who requested this cannot also approve it: another analyst of the plan approves it."
)
FOUR_EYES_LIMIT_MESSAGE = (
    "The person who requested this cannot also approve it: one person may approve alone only "
    "amounts under the contract's single-approval limit of {limit}."
)


def single_approval_limit(contract: Contract) -> Decimal | None:
    """The contract's single-approval limit in force today; None: every approval needs two people."""
    version = (
        contracts.version_in_force(contract=contract, on=timezone.localdate()) or contract.current_version
    )
    return None if version is None else version.single_approval_limit


def require_second_person(*, requested_by, approved_by, amount: Decimal, contract: Contract) -> None:
    """Refuse (``four_eyes_required``) when the requester approves, unless ``abs(amount)`` is strictly
    under the contract's single-approval limit.

    A request nobody made in person (``requested_by`` None: the daily beat started the run) has no
    first person to repeat, so any analyst may approve it.
    """
    if requested_by is None or approved_by is None:
        return
    if getattr(requested_by, "pk", requested_by) != getattr(approved_by, "pk", approved_by):
        return
    limit = single_approval_limit(contract)
    if limit is not None and abs(Decimal(amount)) < limit:
        return
    message = FOUR_EYES_MESSAGE if limit is None else FOUR_EYES_LIMIT_MESSAGE.format(limit=f"{limit:,.2f}")
    raise ApplicationError(
        message,
        code="four_eyes_required",
        details={
            "requested_by": requested_by.get_username(),
            "amount": str(Decimal(amount)),
            "single_approval_limit": None if limit is None else str(limit),
        },
    )
