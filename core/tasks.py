from __future__ import annotations

import logging

from celery import Task, current_app, current_task, shared_task
from django.db import OperationalError

log = logging.getLogger("carebundle.tasks")


@shared_task(name="core.echo")
def echo(value: str) -> str:
    """A round trip through the broker and a worker: health checks and the CI test use it."""
    log.info("echo %s", value)  # under the sender's request id (core.observability)
    return value


@shared_task(name="core.heartbeat", bind=True, ignore_result=True)
def heartbeat(self) -> None:
    """Beat sends it every minute; the worker that runs it is recorded as alive (readiness reads it)."""
    from core.health import record_heartbeat

    record_heartbeat(self.request.hostname or "worker")


@shared_task(name="core.ensure_partitions", ignore_result=True)
def ensure_partitions() -> None:
    """Beat sends it daily: the partitioned tables get their coming months and detach expired ones."""
    from core.partitions import ensure_partitions_now

    ensure_partitions_now()


def soft_time_limit(task: Task) -> int:
    """The soft time limit (seconds) of the running task: the call's, else the task's, else the default."""
    limits = task.request.timelimit or (None, None)
    return int(limits[1] or task.soft_time_limit or task.app.conf.task_soft_time_limit)


def duration_text(seconds: int) -> str:
    """A limit as people read it: 30 minutes, 1 minute, 90 seconds."""
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def time_limit_text() -> str:
    """The running task's soft time limit as people read it, for the message when it was exceeded."""
    if not current_task:  # not in a task: the default limit
        return duration_text(current_app.conf.task_soft_time_limit)
    return duration_text(soft_time_limit(current_task))


#: A bulk item does one contract's share (a payment run of a month takes seconds, BENCHMARKS.md); the
#: limits match a payment run's, below the broker's visibility timeout, so a live item is never redelivered.
BULK_ITEM_SOFT_TIME_LIMIT = 10 * 60


@shared_task(
    name="core.run_bulk_item",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=BULK_ITEM_SOFT_TIME_LIMIT,
    time_limit=BULK_ITEM_SOFT_TIME_LIMIT + 60,
    ignore_result=True,
)
def run_bulk_item(item_id: int) -> str:
    """One contract's share of a bulk operation (core.bulk). Idempotent: an item already finished is left alone."""
    from core.bulk import bulk_item_run

    item = bulk_item_run(item_id=item_id)
    return item.status if item is not None else "missing"
