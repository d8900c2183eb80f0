"""A round trip through the configured broker (Redis in CI) and a real worker process; every task's
time limits."""

import pytest

from config.celery import app
from core.tasks import duration_text, echo


@pytest.mark.worker
def test_round_trip_through_a_real_worker(celery_worker):
    result = echo.delay("hello palliative care")
    assert result.get(timeout=30) == "hello palliative care"


#: Tasks that may take long: they set longer limits than the defaults on their decorator.
LONG_TASKS = {
    "pricing.run_pricing",
    "pricing.run_sensitivity",
    "enrollment.process_roster",
    "enrollment.process_eligibility_file",
    "payments.calculate_run",
    "core.run_bulk_item",  # a contract's share of month-end: its payment run
}


def test_every_task_has_a_soft_and_a_hard_time_limit_below_the_visibility_timeout(settings):
    """A hard limit above Redis' visibility timeout would let a second worker start a task still running."""
    app.loader.import_default_modules()
    tasks = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert LONG_TASKS <= set(tasks)
    default_soft, default_hard = app.conf.task_soft_time_limit, app.conf.task_time_limit
    assert (default_soft, default_hard) == (
        settings.CELERY_TASK_SOFT_TIME_LIMIT,
        settings.CELERY_TASK_TIME_LIMIT,
    )
    for name, task in tasks.items():
        soft, hard = task.soft_time_limit or default_soft, task.time_limit or default_hard
        assert 0 < soft < hard < settings.CELERY_REDIS_VISIBILITY_TIMEOUT, name
        assert (soft > default_soft) == (name in LONG_TASKS), name


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1800, "30 minutes"), (60, "1 minute"), (90, "90 seconds"), (1, "1 second"), (2, "2 seconds")],
)
def test_a_time_limit_reads_as_people_say_it(seconds, text):
    assert duration_text(seconds) == text
