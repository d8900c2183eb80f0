"""Liveness and readiness (core/health.py): /healthz answers without asking anything; /readyz asks
the database, the broker and the workers' heartbeat, and fails (503) with the reason when one is down.
Each check runs against the real database and broker of the run (PostgreSQL and Redis in CI)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone

from core import health
from core.models import WorkerHeartbeat
from core.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_alive_answers_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "alive"})


def test_ready_when_the_database_the_broker_and_a_worker_answer():
    heartbeat.apply()  # what beat sends every minute, run by a worker
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "worker": True,
    }


def test_the_heartbeat_is_one_row_per_worker_and_idempotent():
    heartbeat.apply()
    first = WorkerHeartbeat.objects.get()
    heartbeat.apply()
    assert WorkerHeartbeat.objects.count() == 1 and WorkerHeartbeat.objects.get().seen_at >= first.seen_at
    assert "core-heartbeat" in settings.CELERY_BEAT_SCHEDULE
    assert settings.CELERY_BEAT_SCHEDULE["core-heartbeat"]["schedule"] < settings.READINESS_WORKER_SECONDS


def test_not_ready_without_a_recent_worker(settings):
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"] == {
        "ok": False,
        "detail": "no worker has sent a heartbeat yet",
    }
    WorkerHeartbeat.objects.create(name="celery@old", seen_at=timezone.now() - dt.timedelta(seconds=181))
    check = health.check_worker()
    assert not check.ok and "celery@old" in check.detail and "0:03:01 old" in check.detail
    assert health.check_worker(max_age_seconds=200).ok  # the limit is a setting
    settings.READINESS_WORKER_SECONDS = 200
    assert Client().get("/readyz").json()["checks"]["worker"]["ok"] is True


def test_not_ready_when_the_broker_is_down(settings):
    heartbeat.apply()
    # A broker on a port nothing listens on: what a stopped Redis looks like to the web process.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = Client().get("/readyz")
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False and broker["detail"].startswith("the redis broker refused a connection")
    assert "127.0.0.1" not in broker["detail"]  # no address (nor password) in the answer


def test_not_ready_when_the_database_is_down():
    # A second connection to a database that is not there: the same check the view runs.
    down = connections.create_connection("default")
    if down.vendor == "sqlite":
        down.settings_dict = {**down.settings_dict, "NAME": "/nonexistent/carebundle/db.sqlite3"}
    else:
        down.settings_dict = {**down.settings_dict, "HOST": "127.0.0.1", "PORT": "1"}
    check = health.check_database(connection=down)
    assert not check.ok and "did not answer" in check.detail
    assert health.check_database().ok
