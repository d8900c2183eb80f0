"""The daily job that starts payment runs after the roster due day and re-queues stalled ones."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contracts.models import Contract, ContractStatus
from contracts.selectors import terms_in_force
from core.domain.months import day_of_month, month_key, next_month, shift_month
from core.errors import NotFoundError
from enrollment import selectors as enrollment
from payments.models import PaymentRun, PaymentRunStatus
from payments.services.month_end import month_end_for
from payments.services.runs import _enqueue

#: A run still ``calculating`` this long after its last attempt started is queued again by the daily job.
STALLED_AFTER = timedelta(minutes=15)


def due_date_for(month: date, due_day: int) -> date:
    return day_of_month(next_month(month), due_day)


def payment_runs_start_due(*, today: date | None = None, months_back: int = 2) -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): every active contract's months past their roster due day that have an
    accepted roster and no run yet go to their plan's month-end (one bulk operation per plan and month,
    its runs spread over the workers); runs stuck ``calculating`` are queued again."""
    today = today or timezone.localdate()
    due: dict[tuple[int, date], list[Contract]] = defaultdict(list)
    for contract in (
        Contract.objects.filter(status=ContractStatus.ACTIVE).select_related("payer").order_by("pk")
    ):
        for back in range(1, months_back + 1):
            month = shift_month(today, -back)
            try:
                terms = terms_in_force(contract=contract, on=month)
            except NotFoundError:
                continue
            if today <= due_date_for(month, terms.roster_due_day):
                continue
            if (
                PaymentRun.objects.filter(contract=contract, month=month)
                .exclude(status=PaymentRunStatus.FAILED)
                .exists()
            ):
                continue
            if enrollment.current_submission(contract=contract, month=month) is None:
                continue
            due[(contract.payer_id, month)].append(contract)
    started = []
    for (_, month), contracts in sorted(due.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        _, queued = month_end_for(organization=contracts[0].payer, month=month, contracts=contracts)
        queued_ids = {item.subject_id for item in queued}
        started += [f"{c.number} {month_key(month)}" for c in contracts if c.pk in queued_ids]
    cutoff = timezone.now() - STALLED_AFTER
    stalled = PaymentRun.objects.filter(status=PaymentRunStatus.CALCULATING).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, requested_at__lt=cutoff)
    )
    for run_id in stalled.values_list("pk", flat=True):
        with transaction.atomic():
            _enqueue(run_id)
        started.append(f"run {run_id} queued again")
    return started
