"""Computing a pricing run (the Celery task's body): progress written between steps, a cancel
honoured at the next step, the outcome written once, a duplicate delivery serialised by the run lock.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from core.errors import problems_details
from core.tasks import time_limit_text
from pricing.compute import compute_run_result
from pricing.engine import PricingInputError
from pricing.models import PricingRun, PricingRunStatus
from pricing.services.common import INVALID_PRICING_FILE_MESSAGE, RUN_LOCK_NAMESPACE, _log_entry
from pricing.states import PRICING_RUN

logger = logging.getLogger(__name__)


TIME_LIMIT_MESSAGE = (
    "The computation took longer than the limit of {limit} for a pricing run; "
    "price fewer markets or simulate fewer years."
)

#: Test-only: seconds to sleep after each progress step of a run (the killed-worker tests use it).
STEP_DELAY_ENV = "CAREBUNDLE_PRICING_STEP_DELAY"


class RunCancelled(Exception):
    """Raised by the progress callback when a cancel was requested between two steps."""


def _pause() -> None:
    delay = float(os.environ.get(STEP_DELAY_ENV, "0") or 0)
    if delay > 0:
        time.sleep(delay)


class _Progress:
    """Writes progress to the run row between steps (each in its own short transaction) and stops
    the computation when a cancel was requested."""

    def __init__(self, run: PricingRun):
        self.run_id = run.pk
        self.log = list(run.progress_log)
        self.last = run.progress

    def __call__(self, progress: int, message: str) -> None:
        progress = max(self.last, min(99, progress))
        log = [*self.log, _log_entry(progress, message)]
        # Only while no cancel was requested: the cancel takes the row lock, so a cancel that lands
        # between a check and this write cannot be overwritten (and its log entry lost).
        written = PricingRun.objects.filter(
            pk=self.run_id, status=PricingRunStatus.RUNNING, cancel_requested=False
        ).update(progress=progress, progress_message=message[:200], progress_log=log)
        if not written:
            raise RunCancelled  # a cancel was requested (or the run is no longer running)
        self.last, self.log = progress, log
        _pause()


@contextmanager
def _computing(run_id: int) -> Iterator[None]:
    """Held while a worker computes a run (PostgreSQL: a session advisory lock on its connection).

    A second delivery of the same run (a broker redelivering a message whose worker is still alive)
    waits here for the first to finish, then finds the run finished; if the first worker died, its
    connection and so its lock went with it, and the second computes the run again from its inputs.
    """
    if connection.vendor != "postgresql":
        yield
        return
    key = [RUN_LOCK_NAMESPACE, run_id % 2_147_483_647]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:  # the connection is gone, and the lock with it
            logger.warning("Pricing run %s: the run lock could not be released", run_id, exc_info=True)


def _finish(
    run_id: int, action: str, *, result: dict | None = None, error: dict | None = None, message: str
) -> PricingRun | None:
    """Write a run's outcome once (``action``: succeed, fail or stop, pricing.states.PRICING_RUN); a run
    already finished (by another attempt) is left as it is."""
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_terminal:
            return run
        if action == "succeed" and run.cancel_requested:
            action, result, message = "stop", None, "Cancelled"
        status = run.status = PRICING_RUN.target(action, run.status)
        run.result = result
        run.error = error
        run.finished_at = timezone.now()
        if status == PricingRunStatus.SUCCEEDED:
            run.progress = 100
        run.progress_message = message
        run.progress_log = [*run.progress_log, _log_entry(run.progress, message)]
        run.save(
            update_fields=[
                "status",
                "result",
                "error",
                "finished_at",
                "progress",
                "progress_message",
                "progress_log",
            ]
        )
        return run


def pricing_run_execute(*, run_id: int) -> PricingRun | None:
    """Compute a run from its stored inputs (the Celery task calls this).

    Idempotent and retry-safe: a finished run is left alone (never computed twice, its result written
    once); a run found `running` with no worker on it (a worker died mid-way and the message came
    back) is computed again from its inputs, its progress carrying on from where it was; a duplicate
    delivery while a worker is computing the run waits for it (see ``_computing``).
    """
    with _computing(run_id):
        return _execute(run_id)


def _execute(run_id: int) -> PricingRun | None:
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_terminal:
            return run
        if run.cancel_requested:
            run = None
    if run is None:
        return _finish(run_id, "stop", message="Cancelled")
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().get(pk=run_id)
        if run.is_terminal:
            return run
        retry = run.status == PricingRunStatus.RUNNING  # its worker died mid-way
        run.status = PRICING_RUN.target("restart" if retry else "start", run.status)
        run.started_at = run.started_at or timezone.now()
        run.attempts += 1
        run.progress = max(run.progress, 1)  # a restart recomputes, but the bar never goes back
        run.progress_message = "Restarted after an interruption" if retry else "Started"
        run.progress_log = [*run.progress_log, _log_entry(run.progress, run.progress_message)]
        run.save(
            update_fields=["status", "started_at", "attempts", "progress", "progress_message", "progress_log"]
        )
    try:
        result = compute_run_result(run.inputs, on_progress=_Progress(run))
    except RunCancelled:
        return _finish(run_id, "stop", message="Cancelled")
    except PricingInputError as exc:
        return _finish(
            run_id,
            "fail",
            message="Failed: the inputs cannot be priced",
            error={
                "code": "invalid_inputs",
                "message": INVALID_PRICING_FILE_MESSAGE,
                "details": problems_details(exc.problems, errors_alias=True),
            },
        )
    except SoftTimeLimitExceeded:  # the task's soft time limit (pricing.tasks): this attempt stops here
        logger.warning("Pricing run %s stopped at its time limit", run_id)
        return _finish(
            run_id,
            "fail",
            message="Failed: over the time limit",
            error={
                "code": "time_limit",
                "message": TIME_LIMIT_MESSAGE.format(limit=time_limit_text()),
                "details": {},
            },
        )
    except Exception as exc:
        logger.exception("Pricing run %s failed", run_id)
        return _finish(
            run_id,
            "fail",
            message="Failed",
            error={
                "code": "computation_failed",
                "message": f"The computation stopped: {exc.__class__.__name__}: {exc}"[:1000],
                "details": {},
            },
        )
    return _finish(run_id, "succeed", result=result, message="Done")
