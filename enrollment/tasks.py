"""Enrollment tasks: each takes an id (or nothing) and calls one service; all idempotent."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from enrollment import services


@shared_task(
    name="enrollment.process_roster",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_roster(submission_id: int) -> str:
    """Validate and store a roster submission. A submission already accepted or rejected is left alone;
    one interrupted by a crash (still ``processing``) is processed again from the start."""
    submission = services.roster_process(submission_id=submission_id)
    return submission.status if submission is not None else "missing"


@shared_task(
    name="enrollment.process_eligibility_file",
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def process_eligibility_file(file_id: int) -> str:
    record = services.eligibility_file_process(file_id=file_id)
    return record.status if record is not None else "missing"


@shared_task(name="enrollment.send_roster_reminders")
def send_roster_reminders() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): e-mail providers a few days before a missing roster is due."""
    return services.roster_reminders_send()


@shared_task(name="enrollment.mark_late_rosters")
def mark_late_rosters() -> list[str]:
    """Daily (CELERY_BEAT_SCHEDULE): months past their due day without an accepted roster become late."""
    return services.roster_months_mark_late()
