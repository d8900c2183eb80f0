"""The sweep that queues again (or gives up on) pricing runs left behind by a dead worker."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from pricing.models import PricingRun
from pricing.selectors import ACTIVE_STATUSES, STALLED_AFTER, last_sign_of_life
from pricing.services.common import RUN_LOCK_NAMESPACE
from pricing.services.execution import _finish

logger = logging.getLogger(__name__)


REQUEUED_MESSAGE = "Queued again: no sign of life for {minutes} minutes"
#: A run whose worker died this many times is failed by the sweep instead of queued again (it would
#: take down every worker that picks it up, e.g. by running out of memory).
MAX_ATTEMPTS = 5
GAVE_UP_MESSAGE = "Stopped after {attempts} attempts: the worker computing it stopped each time."


def _runs_being_computed(run_ids: list[int]) -> set[int]:
    """The runs whose run lock (``_computing``) a live database session holds: a worker computes them.

    Only PostgreSQL has the lock; elsewhere every stalled run is queued again (still computed once:
    a finished run is left alone)."""
    if connection.vendor != "postgresql" or not run_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND classid::bigint = %s",
            [RUN_LOCK_NAMESPACE],
        )
        held = {row[0] for row in cursor.fetchall()}
    return {run_id for run_id in run_ids if run_id % 2_147_483_647 in held}


def pricing_runs_requeue_stalled(*, now: datetime | None = None) -> list[str]:
    """Every few minutes (CELERY_BEAT_SCHEDULE): queue again the runs still queued or running whose last
    sign of life is older than STALLED_AFTER, e.g. their whole worker died (the broker would give their
    message back only after its visibility timeout). Returns one line per run queued again.

    Safe with a worker still computing the run: on PostgreSQL a run whose lock a worker holds is
    skipped, and a new message for it would wait for that worker and then find the run finished
    (``pricing_run_execute``); a finished or cancelled run is never queued again. The log entry
    written when a run is queued again is a sign of life too, so a run is queued again at most once
    per STALLED_AFTER.
    """
    from pricing.tasks import run_pricing

    now = now or timezone.now()
    cutoff = now - STALLED_AFTER
    candidates = (
        PricingRun.objects.filter(status__in=ACTIVE_STATUSES, created_at__lt=cutoff)
        .only("pk", "created_at", "started_at", "progress_log")
        .order_by("pk")
    )
    stalled = [run.pk for run in candidates if last_sign_of_life(run) < cutoff]
    busy = _runs_being_computed(stalled)
    requeued = []
    for run_id in stalled:
        if run_id in busy:
            logger.info(
                "Pricing run %s: no progress for %s but a worker holds its lock; left to it",
                run_id,
                STALLED_AFTER,
            )
            continue
        with transaction.atomic():
            run = PricingRun.objects.select_for_update().filter(pk=run_id, status__in=ACTIVE_STATUSES).first()
            if run is None:
                continue  # finished meanwhile
            last = last_sign_of_life(run)
            if last >= cutoff:
                continue  # moved on meanwhile
            if run.attempts >= MAX_ATTEMPTS:
                message = GAVE_UP_MESSAGE.format(attempts=run.attempts)
                _finish(
                    run_id,
                    "fail",
                    message=message,
                    error={"code": "worker_lost", "message": message, "details": {"attempts": run.attempts}},
                )
                logger.error("Pricing run %s: %s", run_id, message)
                requeued.append(f"run {run.public_id} failed after {run.attempts} attempts")
                continue
            message = REQUEUED_MESSAGE.format(minutes=int((now - last).total_seconds() // 60))
            entry = {"at": now.isoformat(timespec="seconds"), "progress": run.progress, "message": message}
            PricingRun.objects.filter(pk=run_id).update(
                progress_message=message, progress_log=[*run.progress_log, entry]
            )
            transaction.on_commit(lambda run_id=run_id: run_pricing.delay(run_id))
        logger.warning("Pricing run %s: %s", run_id, message)
        requeued.append(f"run {run.public_id} queued again")
    return requeued
