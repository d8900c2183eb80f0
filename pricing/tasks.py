"""Celery tasks of pricing: look the run (or the upload) up by id and call its one service."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from pricing.services.execution import pricing_run_execute
from pricing.services.experience import experience_upload_process
from pricing.services.sensitivity import sensitivity_execute
from pricing.services.stalled import pricing_runs_requeue_stalled

#: A run with a Monte Carlo per market takes minutes (BENCHMARKS.md: 100,000 years in 2 s per market);
#: the limit stops a runaway one, which the run then records as failed (pricing.services.execution).
RUN_SOFT_TIME_LIMIT = 30 * 60
RUN_TIME_LIMIT = RUN_SOFT_TIME_LIMIT + 60


@shared_task(
    name="pricing.run_pricing",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=RUN_SOFT_TIME_LIMIT,
    time_limit=RUN_TIME_LIMIT,
)
def run_pricing(run_id: int) -> str:
    """Compute a pricing run. Idempotent: a finished run is left alone, an interrupted one recomputed.

    Acknowledged only when done: a worker killed mid-run leaves the message to the broker, which
    gives it to the next worker (at once when a pool child dies; after the broker's visibility
    timeout when the whole worker went).

    Only a database hiccup (a lock, a dropped connection) is retried; anything else is recorded on
    the run as its failure, with the reason.
    """
    run = pricing_run_execute(run_id=run_id)
    return run.status if run is not None else "missing"


@shared_task(name="pricing.requeue_stalled_runs")
def requeue_stalled_runs() -> list[str]:
    """Every 10 minutes (CELERY_BEAT_SCHEDULE): runs queued or running with no sign of life for
    ``STALLED_AFTER`` (pricing.services.stalled) (their whole worker died) are queued again."""
    return pricing_runs_requeue_stalled()


@shared_task(
    name="pricing.process_experience_upload",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_experience_upload(dataset_id: int) -> str:
    """Read an experience upload too large to read in the request. A dataset already valid or rejected
    is left alone; one interrupted by a crash (still ``processing``) is read again."""
    dataset = experience_upload_process(dataset_id=dataset_id)
    return dataset.status if dataset is not None else "missing"


@shared_task(
    name="pricing.run_sensitivity",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=RUN_SOFT_TIME_LIMIT,
    time_limit=RUN_TIME_LIMIT,
)
def run_sensitivity(analysis_id: int) -> str:
    """Compute a sensitivity analysis. Idempotent: a finished one is left alone; one interrupted is
    computed again from the run's inputs (the same figures: the run's seed)."""
    analysis = sensitivity_execute(analysis_id=analysis_id)
    return analysis.status if analysis is not None else "missing"
