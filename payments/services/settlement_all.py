"""Settle a period for every contract: one bulk item per contract (core.bulk), like month-end, so the
workers share the contracts and a contract that cannot be settled yet is reported and tried again alone.

Each item asks ``settlement_request`` for its contract, which is idempotent: a settlement in review is
returned (recalculated if its inputs changed), an approved one with nothing due since is returned as is.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q
from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from contracts.models import ACTIVATED_STATUSES, Contract, ContractStatus, ContractVersion
from core.bulk import Outcome, bulk_operation_retry_failed, bulk_operation_start
from core.domain.display import money_text
from core.domain.months import INVALID_PERIOD_MESSAGE, parse_period
from core.errors import ApplicationError, ConflictError
from core.models import BulkItem, BulkItemStatus, BulkOperation
from payments.models import SETTLE_ALL, SettlementStatus
from payments.services.settlement import settlement_request
from payments.settlement_source import performance

NO_CONTRACTS_TO_SETTLE_MESSAGE = (
    "No active contract of yours was in force in {period}: there is nothing to settle."
)
PERIOD_NOT_OVER_MESSAGE = "{period} is not over yet for any of your contracts: settle it once it is."
REQUESTER_GONE_MESSAGE = "Whoever started the settlement is no longer a member of the plan: start it again."
SETTLED_UNCHANGED_MESSAGE = "Settled; nothing changed since"
IN_REVIEW_MESSAGE = "{total} in review"
#: ConflictErrors of ``settlement_request`` that mean "not yet" (the item is skipped and tried again when
#: the operation is started again), not "something is wrong".
NOT_YET_CODES = frozenset({"period_open", "run_out_not_over", "claims_incomplete", "period_overlap"})
#: Any date: only to tell a well-formed contract-year code (CY1) from a malformed one.
_ANY_START = date(2000, 1, 1)


def settlement_all_title(period: str) -> str:
    return f"Settlement {period}"


def _period_code(value: str) -> str:
    """The period code, normalised (``2026-q1`` is ``2026-Q1``), or the ``invalid_period`` error."""
    if not str(value or "").strip():
        raise ApplicationError(
            "Name the period to settle (2026-Q1, 2026, CY1, ...).",
            code="invalid_period",
            details={"period": ["Required."]},
        )
    try:
        return parse_period(str(value), contract_start=_ANY_START).code
    except ValueError:
        raise ApplicationError(
            INVALID_PERIOD_MESSAGE, code="invalid_period", details={"period": [INVALID_PERIOD_MESSAGE]}
        ) from None


def settlement_all_contracts(*, organization, period: str, today: date) -> tuple[list[Contract], bool]:
    """The plan's active contracts whose terms were in force during the period (each contract's own
    period: a contract year depends on its start), by number, keeping those whose period is over.
    Also returns whether any contract was in force at all (to tell "nothing" from "not yet")."""
    contracts = list(
        Contract.objects.filter(payer=organization, status=ContractStatus.ACTIVE).order_by("number")
    )
    versions = ContractVersion.objects.filter(contract__in=contracts, status__in=ACTIVATED_STATUSES)
    in_force, over = [], []
    for contract in contracts:
        span = performance().period_of(contract, period)
        if (
            versions.filter(contract=contract, effective_start__lt=span.end)
            .filter(Q(in_force_end__isnull=True) | Q(in_force_end__gt=span.start))
            .exists()
        ):
            in_force.append(contract)
            if span.end <= today:
                over.append(contract)
    return over, bool(in_force)


def settlement_all_start(*, scope: Scope, period: str) -> tuple[BulkOperation, list[BulkItem]]:
    """The plan settles (or settles again) a period for all its contracts in force then. Again: contracts
    not finished (run-out not over, claims incomplete, a failure) are tried again; finished ones stay."""
    scope.require("performance.settle")
    code = _period_code(period)
    contracts, any_in_force = settlement_all_contracts(
        organization=scope.organization, period=code, today=timezone.localdate()
    )
    if not contracts:
        template = PERIOD_NOT_OVER_MESSAGE if any_in_force else NO_CONTRACTS_TO_SETTLE_MESSAGE
        message = template.format(period=code)
        raise ConflictError(
            message,
            code="period_open" if any_in_force else "no_contracts_to_settle",
            details={"period": [message]},
        )
    return bulk_operation_start(
        organization=scope.organization,
        kind=SETTLE_ALL,
        title=settlement_all_title(code),
        params={"period": code},
        subjects=[(c.pk, c.number) for c in contracts],
        requested_by=scope.user,
    )


def settlement_all_retry_failed(*, scope: Scope, operation: BulkOperation) -> list[BulkItem]:
    scope.require("performance.settle")
    return bulk_operation_retry_failed(operation=operation, requested_by=scope.user)


def settlement_all_item(operation: BulkOperation, item: BulkItem) -> Outcome:
    """One contract's settlement of the period, as whoever started the operation last (their permission
    is checked again: a settlement is requested by a person, and another approves it)."""
    contract = Contract.objects.get(pk=item.subject_id, payer_id=operation.organization_id)
    membership = (
        Membership.objects.active()
        .select_related("organization", "user")
        .filter(user_id=operation.requested_by_id, organization_id=operation.organization_id)
        .first()
    )
    if membership is None:
        return Outcome(BulkItemStatus.FAILED, REQUESTER_GONE_MESSAGE)
    try:
        settlement, created = settlement_request(
            scope=Scope(membership), contract=contract, period=operation.params["period"]
        )
    except ConflictError as exc:
        if exc.code in NOT_YET_CODES:
            return Outcome(BulkItemStatus.SKIPPED, exc.message)
        raise
    result = {
        "settlement": str(settlement.public_id),
        "settlement_status": settlement.status,
        "total": str(settlement.total),
        "created": created,
    }
    if settlement.status == SettlementStatus.APPROVED:
        return Outcome(BulkItemStatus.DONE, SETTLED_UNCHANGED_MESSAGE, result)
    return Outcome(BulkItemStatus.DONE, IN_REVIEW_MESSAGE.format(total=money_text(settlement.total)), result)
