"""The daily job that starts payment runs after the roster due day and re-queues stalled ones."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contracts.models import Contract, ContractStatus
from contracts.selectors import terms_in_force
from core.errors import ApplicationError, NotFoundError
from enrollment import selectors as enrollment
from payments.models import PaymentRun, PaymentRunStatus
from payments.services.months import add_months, month_key, next_month
from payments.services.runs import _enqueue, payment_run_request

logger = logging.getLogger(__name__)


#: A run still ``calculating`` this long after its last attempt started is queued again by the daily job.
STALLED_AFTER = timedelta(minutes=15)


def due_date_for(month: date, due_day: int) -> date:
    following = next_month(month)
    last = (next_month(following) - timedelta(days=1)).day
    return following.replace(day=max(1, min(due_day, last)))


def payment_runs_start_due(*, today: date | None = None, months_back: int = 2) -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): every active contract's months past their roster due day that have an
    accepted roster and no run yet get their payment run; runs stuck ``calculating`` are queued again."""
    today = today or timezone.localdate()
    started = []
    for contract in Contract.objects.filter(status=ContractStatus.ACTIVE).order_by("pk"):
        for back in range(1, months_back + 1):
            month = add_months(today.replace(day=1), -back)
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
            try:
                run, created = payment_run_request(contract=contract, month=month)
            except ApplicationError:
                logger.exception("Could not start the payment run of %s %s", contract, month)
                continue
            if created:
                started.append(f"{contract.number} {month_key(month)}")
    cutoff = timezone.now() - STALLED_AFTER
    stalled = PaymentRun.objects.filter(status=PaymentRunStatus.CALCULATING).filter(
        Q(started_at__lt=cutoff) | Q(started_at__isnull=True, requested_at__lt=cutoff)
    )
    for run_id in stalled.values_list("pk", flat=True):
        with transaction.atomic():
            _enqueue(run_id)
        started.append(f"run {run_id} queued again")
    return started
