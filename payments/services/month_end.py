"""Month-end: every active contract's payment run of a month, one bulk item per contract (core.bulk),
so the workers share the month and a contract that fails is reported and retried alone.

A plan starts it from the payments page or the API; the daily job starts it for the contracts whose
roster due day has passed. Both use the same operation (one per plan and month), so the progress page
shows the month whoever started it.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q

from accounts.tenancy import Scope
from contracts.models import ACTIVATED_STATUSES, Contract, ContractStatus, ContractVersion
from core.bulk import Outcome, bulk_operation_retry_failed, bulk_operation_start
from core.domain.display import money_text
from core.domain.months import month_key
from core.errors import ConflictError, month_from_input
from core.models import BulkItem, BulkItemStatus, BulkOperation
from payments.models import MONTH_END, PaymentRunStatus
from payments.services.runs import payment_run_calculate, payment_run_request

NO_CONTRACTS_MESSAGE = "No active contract of yours is in force in {month}: there is nothing to pay."
NOTHING_CHANGED_MESSAGE = "Paid; nothing changed since"


def month_end_title(month: date) -> str:
    return f"Month-end {month_key(month)}"


def month_end_contracts(*, organization, month: date) -> list[Contract]:
    """The plan's active contracts with terms in force in the month, by number."""
    in_force = ContractVersion.objects.filter(
        contract__payer=organization, status__in=ACTIVATED_STATUSES, effective_start__lte=month
    ).filter(Q(in_force_end__isnull=True) | Q(in_force_end__gt=month))
    return list(
        Contract.objects.filter(status=ContractStatus.ACTIVE, pk__in=in_force.values("contract_id")).order_by(
            "number"
        )
    )


def month_end_start(*, scope: Scope, month) -> tuple[BulkOperation, list[BulkItem]]:
    """The plan starts (or starts again) a month's payment runs for all its contracts in force. Again:
    contracts not finished yet (no roster then, a failure) are tried again; finished ones stay."""
    scope.require("payment.run")
    month = month_from_input(month)
    contracts = month_end_contracts(organization=scope.organization, month=month)
    if not contracts:
        message = NO_CONTRACTS_MESSAGE.format(month=month_key(month))
        raise ConflictError(message, code="no_contracts_in_force", details={"month": [message]})
    return month_end_for(
        organization=scope.organization, month=month, contracts=contracts, requested_by=scope.user
    )


def month_end_for(
    *, organization, month: date, contracts: list[Contract], requested_by=None
) -> tuple[BulkOperation, list[BulkItem]]:
    return bulk_operation_start(
        organization=organization,
        kind=MONTH_END,
        title=month_end_title(month),
        params={"month": month_key(month)},
        subjects=[(c.pk, c.number) for c in contracts],
        requested_by=requested_by,
    )


def month_end_retry_failed(*, scope: Scope, operation: BulkOperation) -> list[BulkItem]:
    scope.require("payment.run")
    return bulk_operation_retry_failed(operation=operation, requested_by=scope.user)


def month_end_item(operation: BulkOperation, item: BulkItem) -> Outcome:
    """One contract's run of the month: requested (idempotent: the month's open run if there is one) and
    calculated here, in this item's task, so the item is done when its run is."""
    contract = Contract.objects.get(pk=item.subject_id, payer_id=operation.organization_id)
    month = month_from_input(operation.params["month"])
    try:
        run, _ = payment_run_request(
            contract=contract, month=month, requested_by=operation.requested_by, enqueue=False
        )
    except ConflictError as exc:  # no accepted roster yet: tried again when month-end is started again
        return Outcome(BulkItemStatus.SKIPPED, exc.message)
    if run is None:
        return Outcome(BulkItemStatus.DONE, "Nothing to pay")
    if run.status == PaymentRunStatus.CALCULATING:
        run = payment_run_calculate(run_id=run.pk)
    result = {"run": str(run.public_id), "run_status": run.status, "total": str(run.total)}
    if run.status == PaymentRunStatus.FAILED:
        return Outcome(BulkItemStatus.FAILED, (run.error or {}).get("message", "The run failed"), result)
    if run.status == PaymentRunStatus.APPROVED:
        return Outcome(BulkItemStatus.DONE, NOTHING_CHANGED_MESSAGE, result)
    return Outcome(BulkItemStatus.DONE, f"{money_text(run.total)} to review", result)
