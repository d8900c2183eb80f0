"""Payment tasks: each takes an id (or nothing) and calls one service; all idempotent and retry-safe."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from payments.services.runs import payment_run_calculate
from payments.services.schedule import payment_runs_start_due


@shared_task(
    name="payments.calculate_run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def calculate_run(run_id: int) -> str:
    """Calculate a payment run. A run already calculated (by an earlier delivery) is left alone; one whose
    worker died mid-way is still ``calculating`` with no line and is calculated from the start."""
    run = payment_run_calculate(run_id=run_id)
    return run.status if run is not None else "missing"


@shared_task(name="payments.start_due_runs")
def start_due_runs() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): payment runs for months past their roster due day; stalled runs again."""
    return payment_runs_start_due()
