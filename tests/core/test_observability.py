"""Operable (issue 18, point 5): JSON logs with a request id that follows a request into its tasks, and
Prometheus metrics of requests, tasks and queue depth."""

from __future__ import annotations

import json
import logging
import re
import uuid
import weakref
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.test import Client
from prometheus_client import REGISTRY

from core import metrics, observability
from core.observability import REQUEST_ID, JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def _formatted(record: logging.LogRecord) -> dict:
    RequestIdFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_json_line_has_the_time_level_request_id_extras_and_traceback():
    token = REQUEST_ID.set("req-12345678")
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record = logging.LogRecord(
                "carebundle.test", logging.ERROR, __file__, 1, "run %s failed", ("r1",), None
            )
            record.exc_info = sys.exc_info()
        record.contract = "CTR-2026-0001"  # an ``extra`` field
        line = _formatted(record)
    finally:
        REQUEST_ID.reset(token)
    assert line["level"] == "ERROR" and line["logger"] == "carebundle.test"
    assert line["message"] == "run r1 failed"
    assert line["request_id"] == "req-12345678"
    assert line["contract"] == "CTR-2026-0001"
    assert "ValueError: boom" in line["exception"]
    assert line["time"].endswith("+00:00")


def test_outside_a_request_the_request_id_is_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert _formatted(record)["request_id"] == "-"


def test_a_request_is_answered_and_logged_under_its_request_id(caplog):
    caplog.set_level(logging.INFO, logger="carebundle.request")
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="proxy-abc-123")
    assert response["X-Request-ID"] == "proxy-abc-123"
    (record,) = [r for r in caplog.records if r.name == "carebundle.request"]
    RequestIdFilter().filter(record)  # the handler's filter runs while the id is set: check it was
    assert REQUEST_ID.get() is None  # reset once the request is over
    # A header that is not a sane id (it would go into every log line) is replaced by a new one.
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id\nforged: line")
    assert HEX_ID.match(response["X-Request-ID"])


def test_the_log_line_has_the_request_id_while_the_request_runs(caplog):
    seen: list[str | None] = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = lambda record: seen.append(record.request_id)
    logger = logging.getLogger("carebundle.request")
    logger.addHandler(handler)
    caplog.set_level(logging.INFO, logger="carebundle.request")
    try:
        Client().get("/healthz", HTTP_X_REQUEST_ID="trace-0000-1111")
    finally:
        logger.removeHandler(handler)
    assert seen == ["trace-0000-1111"]


def test_an_invitation_link_is_logged_as_its_route_not_its_key(caplog):
    caplog.set_level(logging.INFO, logger="carebundle.request")
    Client().get("/invitations/a-secret-key-that-must-not-be-logged-000000000/")
    (record,) = [r for r in caplog.records if r.name == "carebundle.request"]
    assert record.path == "/invitations/<str:key>/"
    assert "a-secret-key" not in record.getMessage()


def test_the_request_id_travels_with_a_task_and_is_logged_by_it():
    # The id of the request that sends a task goes into the message's headers ...
    headers: dict = {}
    token = REQUEST_ID.set("req-to-task-42")
    try:
        observability.carry_request_id(headers=headers)
    finally:
        REQUEST_ID.reset(token)
    assert headers == {"request_id": "req-to-task-42"}
    # ... and the worker runs the task under it, then forgets it.
    task = SimpleNamespace(name="payments.run", request=SimpleNamespace(request_id="req-to-task-42"))
    observability.task_started(task_id="t1", task=task)
    assert REQUEST_ID.get() == "req-to-task-42"
    observability.task_finished(task_id="t1", task=task, state="SUCCESS")
    assert REQUEST_ID.get() is None
    # A task nobody's request sent (beat's) gets an id of its own.
    observability.task_started(task_id="t2", task=SimpleNamespace(name="x", request=SimpleNamespace()))
    assert HEX_ID.match(REQUEST_ID.get())
    observability.task_finished(task_id="t2", task=SimpleNamespace(name="x"), state="SUCCESS")


def test_a_worker_logs_a_task_under_the_id_of_the_request_that_sent_it(celery_worker, settings):
    from core.tasks import echo

    token = REQUEST_ID.set("trace-request-7777")
    try:
        assert echo.delay("traced").get(timeout=60) == "traced"
    finally:
        REQUEST_ID.reset(token)
    lines = (Path(settings.VAR_DIR) / "test-worker.log").read_text().splitlines()
    assert any("trace-request-7777" in line and "echo traced" in line for line in lines), lines[-10:]


def test_the_signal_handlers_are_connected():
    import config.celery  # noqa: F401 - connects them

    def names(signal) -> set[str]:
        found = set()
        for _, receiver in signal.receivers:
            if isinstance(receiver, weakref.ReferenceType):  # a weak receiver; ours are strong
                receiver = receiver()
            found.add(getattr(receiver, "__name__", ""))
        return found

    assert "carry_request_id" in names(before_task_publish)
    assert "task_started" in names(task_prerun)
    assert "task_finished" in names(task_postrun)


# --- metrics ---------------------------------------------------------------------------------------


def _sample(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_not_by_path():
    labels = {"method": "GET", "route": "healthz", "status": "200"}
    before = _sample("carebundle_http_requests_total", labels)
    Client().get("/healthz")
    Client().get("/healthz")
    assert _sample("carebundle_http_requests_total", labels) == before + 2
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = _sample("carebundle_http_requests_total", unmatched)
    Client().get(f"/no-such-page-{uuid.uuid4()}/")
    assert _sample("carebundle_http_requests_total", unmatched) == before + 1  # no series per path


def test_task_outcomes_and_durations_are_counted():
    task = SimpleNamespace(name="pricing.run_pricing", request=SimpleNamespace())
    failed = {"task": "pricing.run_pricing", "state": "failure"}
    runs = _sample("carebundle_task_duration_seconds_count", {"task": "pricing.run_pricing"})
    before = _sample("carebundle_task_runs_total", failed)
    observability.task_started(task_id="f1", task=task)
    observability.task_finished(task_id="f1", task=task, state="FAILURE")
    assert _sample("carebundle_task_runs_total", failed) == before + 1
    assert _sample("carebundle_task_duration_seconds_count", {"task": "pricing.run_pricing"}) == runs + 1


def test_queue_depth_is_read_from_redis(settings):
    url = settings.REDIS_URL if settings.REDIS_URL.startswith("redis://") else "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url)
    queue = f"carebundle-test-{uuid.uuid4().hex}"
    client.rpush(queue, "a", "b", "c")
    try:
        (family,) = metrics.QueueDepthCollector(url, [queue]).collect()
    finally:
        client.delete(queue)
    assert [(s.labels, s.value) for s in family.samples] == [({"queue": queue}, 3)]
    # A broker that does not answer: the scrape still answers, without the figure.
    (family,) = metrics.QueueDepthCollector("redis://127.0.0.1:1/0", [queue]).collect()
    assert family.samples == []


def test_metrics_need_the_token_outside_development(settings):
    settings.DEVELOPMENT = False
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404  # not served without a token
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")
    assert response.status_code == 200
    body = response.content.decode()
    assert "carebundle_http_requests_total" in body
    assert "carebundle_queue_depth" in body


def test_metrics_are_open_in_development(settings):
    settings.DEVELOPMENT = True
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 200
