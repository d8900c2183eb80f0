"""Pricing runs through REAL Celery worker processes: queued by the API, computed by a worker, their
progress written to the run row step by step; a worker killed with SIGKILL mid-run is replaced and the
run completes exactly once; a duplicate delivery while a worker computes the run computes nothing; a
cancel is honoured whether the run is still queued or already running.

The fault tests start their workers with ``celery_worker_factory`` (tests/conftest.py) on a queue of
their own. The test-only environment variable ``CAREBUNDLE_PRICING_STEP_DELAY`` (pricing.services)
makes a worker sleep after each progress step, so a kill or a cancel always lands mid-run.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection

from pricing import services
from pricing.compute import compute_run_result
from pricing.models import PricingRun
from pricing.tasks import run_pricing
from tests.pricing.test_pricing_runs_api import start

pytestmark = [pytest.mark.worker]
TERMINAL = ("succeeded", "failed", "cancelled")
ON_REDIS = settings.CELERY_BROKER_URL.startswith("redis://")


@contextmanager
def queued_on(queue: str, sent: list):
    """pricing_run_start's ``run_pricing.delay`` goes to ``queue``; the AsyncResults are kept in ``sent``."""

    def delay(run_id):
        result = run_pricing.apply_async(args=[run_id], queue=queue)
        sent.append(result)
        return result

    with mock.patch.object(run_pricing, "delay", delay):
        yield


def progress_log(run: PricingRun) -> list[tuple[int, str]]:
    return [(entry["progress"], entry["message"]) for entry in run.progress_log]


@pytest.mark.usefixtures("transactional_db")
def test_a_run_started_through_the_api_is_computed_by_the_worker(
    celery_worker, analyst_api, bundle_version, assumption_version, experience, wait_for
):
    response = start(
        analyst_api,
        bundle_version,
        assumption_version,
        experience_id=str(experience.public_id),
        markets=["URBAN", "URBAN-E", "RURAL-N"],
        options={"simulation_years": 20000},
    )
    assert response.status_code == 202, response.json()
    status_url = response.json()["status_url"]

    def finished():
        body = analyst_api.get(status_url).json()
        return body if body["status"] in TERMINAL else None

    body = wait_for(finished, timeout=90)
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == 100 and body["result"]["quote"]["rates"]
    run = PricingRun.objects.get(public_id=body["id"])
    assert run.attempts == 1 and run.started_at and run.finished_at >= run.started_at
    log = progress_log(run)
    assert log[0] == (0, "Queued") and log[-1] == (100, "Done")
    assert [p for p, _ in log] == sorted(p for p, _ in log)
    messages = [m for _, m in log]
    assert "Pricing 18 rate cells" in messages
    assert any(m.startswith("Simulating 20,000 contract years in RURAL-N (3 of 3)") for m in messages)


def test_a_worker_killed_mid_run_is_replaced_and_the_run_completes_exactly_once(
    celery_worker_factory, analyst_api, bundle_version, assumption_version, experience, wait_for
):
    workers, sent = celery_worker_factory, []
    slow = workers("slow", env={services.STEP_DELAY_ENV: "3"})
    with queued_on(workers.queue, sent):
        response = start(
            analyst_api,
            bundle_version,
            assumption_version,
            experience_id=str(experience.public_id),
            markets=["URBAN", "URBAN-E", "RURAL-N"],
            options={"simulation_years": 20000},
        )
    assert response.status_code == 202, response.json()
    run = PricingRun.objects.get(public_id=response.json()["id"])
    assert len(sent) == 1

    # Mid-run: the first market's simulation has started (3 s after each step: 4 more steps to go).
    wait_for(lambda: PricingRun.objects.get(pk=run.pk).progress >= 30, timeout=90)
    workers.kill(slow)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.result, run.finished_at) == ("running", 1, None, None)
    killed_at = run.progress
    assert 30 <= killed_at < 92

    # A new worker: the broker gives it the killed worker's unacknowledged message (Redis: once the
    # visibility timeout has passed; the filesystem broker has no redelivery, so the message is sent again).
    workers("fresh", visibility_timeout=1)
    if not ON_REDIS:
        sent.append(run_pricing.apply_async(args=[run.pk], queue=workers.queue))
    run = wait_for(lambda: (r := PricingRun.objects.get(pk=run.pk)).is_terminal and r, timeout=120)
    assert run.status == "succeeded", run.error
    assert sent[-1].get(timeout=60) == "succeeded"  # the original message itself, acknowledged now
    assert run.attempts == 2 and run.progress == 100 and run.finished_at >= run.started_at
    result, finished_at = run.result, run.finished_at

    # A duplicate delivery on top changes nothing.
    assert run_pricing.apply_async(args=[run.pk], queue=workers.queue).get(timeout=60) == "succeeded"
    run.refresh_from_db()
    assert (run.status, run.attempts, run.result, run.finished_at) == ("succeeded", 2, result, finished_at)

    # Exactly once: one run, finished once, with the result its inputs give (not a mix of two attempts).
    assert PricingRun.objects.filter(bundle_version=bundle_version).count() == 1
    assert run.history.filter(status="succeeded").count() == 1
    assert run.result == json.loads(json.dumps(compute_run_result(run.inputs)))
    log = progress_log(run)
    messages = [m for _, m in log]
    assert [p for p, _ in log] == sorted(p for p, _ in log)  # the bar never goes back
    assert messages.count("Started") == 1 and messages.count("Restarted after an interruption") == 1
    assert log[messages.index("Restarted after an interruption")][0] == killed_at
    assert messages.count("Done") == 1 and log[-1] == (100, "Done")
    assert messages.count("Pricing 18 rate cells") == 2  # computed again from the start


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the run lock is PostgreSQL's advisory lock")
def test_a_duplicate_delivery_while_a_worker_computes_the_run_waits_for_it_and_computes_nothing(
    celery_worker_factory, analyst_api, bundle_version, assumption_version, wait_for
):
    workers, sent = celery_worker_factory, []
    workers("slow", env={services.STEP_DELAY_ENV: "2"})
    with queued_on(workers.queue, sent):
        response = start(
            analyst_api,
            bundle_version,
            assumption_version,
            markets=["URBAN", "URBAN-E"],
            options={"simulation_years": 5000},
        )
    run = PricingRun.objects.get(public_id=response.json()["id"])
    wait_for(lambda: PricingRun.objects.get(pk=run.pk).progress >= 10, timeout=90)

    workers("second")  # idle: it takes the duplicate while the first worker is still computing
    duplicate = run_pricing.apply_async(args=[run.pk], queue=workers.queue)

    def waiting_on_the_run_lock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = %s AND objid = %s",
                [services.RUN_LOCK_NAMESPACE, run.pk],
            )
            return cursor.fetchone()[0] == 1

    wait_for(waiting_on_the_run_lock, timeout=30)
    assert sent[0].get(timeout=90) == "succeeded"
    assert duplicate.get(timeout=30) == "succeeded"
    run.refresh_from_db()
    assert (run.status, run.attempts, run.progress) == ("succeeded", 1, 100)
    messages = [m for _, m in progress_log(run)]
    assert "Restarted after an interruption" not in messages
    assert messages.count("Started") == 1 and messages.count("Done") == 1
    assert run.history.filter(status="succeeded").count() == 1


def test_a_run_cancelled_while_queued_is_never_started_by_the_worker(
    celery_worker_factory, analyst_api, bundle_version, assumption_version, wait_for
):
    workers, sent = celery_worker_factory, []
    with queued_on(workers.queue, sent):  # no worker on the queue yet: the run stays queued
        response = start(analyst_api, bundle_version, assumption_version, markets=["URBAN"])
    assert response.status_code == 202, response.json()
    run_id = response.json()["id"]
    cancel = analyst_api.post(f"/api/v1/pricing/runs/{run_id}/cancel/")
    assert cancel.status_code == 200, cancel.json()
    assert cancel.json()["status"] == "cancelled"

    workers("worker")
    assert sent[0].get(timeout=60) == "cancelled"
    run = PricingRun.objects.get(public_id=run_id)
    assert (run.status, run.result, run.attempts, run.started_at) == ("cancelled", None, 0, None)
    assert progress_log(run) == [(0, "Queued"), (0, "Cancelled before it started")]


def test_a_run_cancelled_while_running_stops_at_its_next_step(
    celery_worker_factory, analyst_api, bundle_version, assumption_version, experience, wait_for
):
    workers, sent = celery_worker_factory, []
    workers("slow", env={services.STEP_DELAY_ENV: "3"})
    with queued_on(workers.queue, sent):
        response = start(
            analyst_api,
            bundle_version,
            assumption_version,
            experience_id=str(experience.public_id),
            markets=["URBAN", "URBAN-E", "RURAL-N"],
            options={"simulation_years": 20000},
        )
    run_id = response.json()["id"]
    wait_for(lambda: PricingRun.objects.get(public_id=run_id).progress >= 10, timeout=90)

    cancel = analyst_api.post(f"/api/v1/pricing/runs/{run_id}/cancel/")
    assert cancel.status_code == 200, cancel.json()
    assert cancel.json()["status"] == "running"  # asked to stop at its next step
    assert sent[0].get(timeout=60) == "cancelled"
    run = PricingRun.objects.get(public_id=run_id)
    assert (run.status, run.result, run.attempts) == ("cancelled", None, 1)
    assert run.progress < 100 and run.finished_at
    messages = [m for _, m in progress_log(run)]
    assert messages[-2:] == ["Cancelling at the next step", "Cancelled"]
    assert "Done" not in messages and not any(
        m.startswith("Simulating") and "(3 of 3)" in m for m in messages
    )
