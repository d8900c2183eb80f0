"""Enrollment tasks: each takes an id (or nothing) and calls one service; all idempotent."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError

from core.tasks import duration_text, soft_time_limit
from enrollment import services

#: A million-row roster is read and stored in well under a minute (BENCHMARKS.md); the limits stop a
#: stuck one, and the file is then rejected with the reason instead of staying ``processing``.
INGEST_SOFT_TIME_LIMIT = 30 * 60
INGEST_TIME_LIMIT = INGEST_SOFT_TIME_LIMIT + 60


def _time_limit_error(task) -> str:
    return services.TIME_LIMIT_ERROR.format(limit=duration_text(soft_time_limit(task)))


@shared_task(
    bind=True,
    name="enrollment.process_roster",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=INGEST_SOFT_TIME_LIMIT,
    time_limit=INGEST_TIME_LIMIT,
)
def process_roster(self, submission_id: int) -> str:
    """Validate and store a roster submission. A submission already accepted or rejected is left alone;
    one interrupted by a crash (still ``processing``) is processed again from the start."""
    try:
        submission = services.roster_process(submission_id=submission_id)
    except SoftTimeLimitExceeded:
        submission = services.roster_fail(submission_id=submission_id, error=_time_limit_error(self))
    return submission.status if submission is not None else "missing"


@shared_task(
    bind=True,
    name="enrollment.process_eligibility_file",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
    soft_time_limit=INGEST_SOFT_TIME_LIMIT,
    time_limit=INGEST_TIME_LIMIT,
)
def process_eligibility_file(self, file_id: int) -> str:
    try:
        record = services.eligibility_file_process(file_id=file_id)
    except SoftTimeLimitExceeded:
        record = services.eligibility_file_fail(file_id=file_id, error=_time_limit_error(self))
    return record.status if record is not None else "missing"


@shared_task(name="enrollment.send_roster_reminders")
def send_roster_reminders() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): e-mail providers a few days before a missing roster is due."""
    return services.roster_reminders_send()


@shared_task(name="enrollment.mark_late_rosters")
def mark_late_rosters() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): months past their due day without an accepted roster become late."""
    return services.roster_months_mark_late()
