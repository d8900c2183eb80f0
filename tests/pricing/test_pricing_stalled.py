"""Pricing runs left behind by a dead worker: the sweep (pricing.services.pricing_runs_requeue_stalled,
every 10 minutes from beat) queues again a run still queued or running whose last sign of life (its
creation, its start, its last progress step) is older than STALLED_AFTER; a fresh or finished run is
left alone; a run queued again and then delivered twice is computed once.

Every sweep is given ``now=`` (an hour after the runs were made), never the wall clock.
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from pricing import services, tasks
from pricing.models import PricingRun
from pricing.tasks import run_pricing

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now() + timedelta(hours=1)


def ago(now, minutes: float):
    return now - timedelta(minutes=minutes)


def entry(moment, progress: int, message: str) -> dict:
    return {"at": moment.isoformat(timespec="seconds"), "progress": progress, "message": message}


def stuck_running(run: PricingRun, now, *, started: float, last_step: float, **fields) -> PricingRun:
    """The row a worker leaves behind: running since ``started`` minutes ago, its last step ``last_step`` ago."""
    fields = {"attempts": 1, **fields}
    PricingRun.objects.filter(pk=run.pk).update(
        status="running",
        progress=40,
        progress_message="Simulating",
        created_at=ago(now, started + 1),
        started_at=ago(now, started),
        progress_log=[
            entry(ago(now, started + 1), 0, "Queued"),
            entry(ago(now, started), 1, "Started"),
            entry(ago(now, last_step), 40, "Simulating"),
        ],
        **fields,
    )
    return PricingRun.objects.get(pk=run.pk)


def queued_since(run: PricingRun, now, minutes: float) -> PricingRun:
    PricingRun.objects.filter(pk=run.pk).update(
        created_at=ago(now, minutes), progress_log=[entry(ago(now, minutes), 0, "Queued")]
    )
    return PricingRun.objects.get(pk=run.pk)


def sweep(capture, now) -> tuple[list[str], list[int]]:
    """Run the sweep, commit, and return its report and the run ids it sent to ``run_pricing.delay``."""
    with mock.patch.object(run_pricing, "delay") as delay, capture(execute=True):
        report = services.pricing_runs_requeue_stalled(now=now)
    return report, [call.args[0] for call in delay.call_args_list]


def test_a_run_stuck_running_is_queued_again_once_per_threshold(
    start_run, now, django_capture_on_commit_callbacks
):
    run = stuck_running(start_run(), now, started=40, last_step=20)
    with mock.patch.object(run_pricing, "delay") as delay:
        with django_capture_on_commit_callbacks() as callbacks:
            report = services.pricing_runs_requeue_stalled(now=now)
        delay.assert_not_called()  # only once the sweep's transaction commits
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(run.pk)
    assert report == [f"run {run.public_id} queued again"]
    after = PricingRun.objects.get(pk=run.pk)
    assert (after.status, after.progress, after.attempts) == ("running", 40, 1)
    assert after.progress_message == "Queued again: no sign of life for 20 minutes"
    assert after.progress_log[-1] == entry(now, 40, after.progress_message)
    # being queued again is a sign of life: the next sweeps leave it until STALLED_AFTER has passed again
    assert sweep(django_capture_on_commit_callbacks, now + timedelta(minutes=10)) == ([], [])
    assert sweep(django_capture_on_commit_callbacks, now + services.STALLED_AFTER + timedelta(seconds=1))[
        1
    ] == [run.pk]


def test_a_run_queued_whose_message_was_lost_is_queued_again(
    start_run, now, django_capture_on_commit_callbacks
):
    lost = queued_since(start_run(), now, 16)
    waiting = queued_since(start_run(), now, 5)
    report, sent = sweep(django_capture_on_commit_callbacks, now)
    assert sent == [lost.pk] and report == [f"run {lost.public_id} queued again"]
    assert PricingRun.objects.get(pk=waiting.pk).progress_log == waiting.progress_log


def test_a_fresh_run_is_left_alone(start_run, now, django_capture_on_commit_callbacks):
    stuck_running(start_run(), now, started=40, last_step=5)  # started long ago, but it made progress lately
    stuck_running(start_run(), now, started=10, last_step=10)  # started lately
    queued_since(start_run(), now, 14)
    just_under = services.STALLED_AFTER - timedelta(seconds=30)
    stuck_running(start_run(), now, started=40, last_step=just_under.total_seconds() / 60)
    assert sweep(django_capture_on_commit_callbacks, now) == ([], [])


def test_finished_runs_are_never_queued_again(
    start_run, scope, now, django_capture_on_commit_callbacks, monkeypatch
):
    succeeded = start_run()
    run_pricing.apply(args=[succeeded.pk])
    cancelled = start_run()
    services.pricing_run_cancel(scope=scope, run=cancelled)
    failed = start_run()
    from pricing import compute

    monkeypatch.setattr(compute, "quote", mock.Mock(side_effect=RuntimeError("boom")))
    run_pricing.apply(args=[failed.pk])
    statuses = dict(
        PricingRun.objects.filter(pk__in=[succeeded.pk, cancelled.pk, failed.pk]).values_list("pk", "status")
    )
    assert statuses == {succeeded.pk: "succeeded", cancelled.pk: "cancelled", failed.pk: "failed"}
    # all made an hour before ``now``: old enough, but finished
    assert sweep(django_capture_on_commit_callbacks, now) == ([], [])
    assert sweep(django_capture_on_commit_callbacks, now + timedelta(days=30)) == ([], [])


def test_a_run_queued_again_and_then_delivered_twice_is_computed_once(
    start_run, now, django_capture_on_commit_callbacks
):
    reference = start_run()
    run_pricing.apply(args=[reference.pk])
    reference.refresh_from_db()
    run = stuck_running(start_run(), now, started=60, last_step=30)
    # the sweep's message is computed at once (eagerly, in this process) ...
    with (
        mock.patch.object(run_pricing, "delay", side_effect=lambda run_id: run_pricing.apply(args=[run_id])),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert services.pricing_runs_requeue_stalled(now=now) == [f"run {run.public_id} queued again"]
    done = PricingRun.objects.get(pk=run.pk)
    assert (done.status, done.attempts, done.progress) == ("succeeded", 2, 100)
    assert done.result == reference.result
    # ... then the dead worker's own message comes back after the visibility timeout: nothing to do
    again = services.pricing_run_execute(run_id=run.pk)
    assert (again.status, again.attempts, again.finished_at, again.result) == (
        "succeeded",
        2,
        done.finished_at,
        done.result,
    )
    messages = [e["message"] for e in again.progress_log]
    assert messages.count("Done") == 1 and messages.count("Restarted after an interruption") == 1
    assert sweep(django_capture_on_commit_callbacks, now + timedelta(days=1)) == ([], [])


def test_a_stalled_run_whose_cancel_was_requested_ends_cancelled(
    start_run, now, django_capture_on_commit_callbacks
):
    run = stuck_running(start_run(), now, started=60, last_step=30, cancel_requested=True)
    assert sweep(django_capture_on_commit_callbacks, now)[1] == [run.pk]
    after = services.pricing_run_execute(run_id=run.pk)
    assert (after.status, after.result) == ("cancelled", None)


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the run lock is PostgreSQL's")
def test_a_slow_run_a_live_worker_computes_is_left_to_it(start_run, now, django_capture_on_commit_callbacks):
    assert connection.vendor == "postgresql"
    run = stuck_running(start_run(), now, started=60, last_step=30)
    with services._computing(run.pk):  # a live worker holds the run lock (a long step, no progress written)
        assert sweep(django_capture_on_commit_callbacks, now) == ([], [])
    assert sweep(django_capture_on_commit_callbacks, now)[1] == [run.pk]  # its worker went: the lock with it


def test_beat_runs_the_sweep_every_ten_minutes(now):
    entry_ = settings.CELERY_BEAT_SCHEDULE["pricing-requeue-stalled-runs"]
    assert entry_["task"] == tasks.requeue_stalled_runs.name == "pricing.requeue_stalled_runs"
    assert entry_["schedule"] == 60 * 10 < services.STALLED_AFTER.total_seconds()
    with mock.patch.object(  # the task's module: where the task looks the service up
        tasks, "pricing_runs_requeue_stalled", return_value=["run x queued again"]
    ) as body:
        assert tasks.requeue_stalled_runs.apply().get() == ["run x queued again"]
    body.assert_called_once_with()


def test_a_run_that_took_down_every_worker_is_failed_instead_of_queued_again(
    start_run, now, django_capture_on_commit_callbacks
):
    run = stuck_running(start_run(), now, started=40, last_step=20, attempts=services.MAX_ATTEMPTS)
    report, sent = sweep(django_capture_on_commit_callbacks, now)
    assert sent == [] and report == [f"run {run.public_id} failed after {services.MAX_ATTEMPTS} attempts"]
    failed = PricingRun.objects.get(pk=run.pk)
    assert failed.status == "failed" and failed.error["code"] == "worker_lost" and failed.result is None
    assert sweep(django_capture_on_commit_callbacks, now + timedelta(hours=1)) == ([], [])
