"""Liveness and readiness (docs/operations.md): what a load balancer and an orchestrator ask.

*Alive* (``/healthz``): the process answers; nothing else is asked, so a slow database never gets a
healthy web process restarted. *Ready* (``/readyz``): the database answers, the broker takes a
connection, and a worker has run the heartbeat task lately (beat sends it every minute;
``READINESS_WORKER_SECONDS``, 180 by default, is how late is too late). Each check says why it
failed, without secrets (no URL with its password).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils import timezone
from kombu import Connection

from core.models import WorkerHeartbeat

BROKER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail}


def check_database(using: str = "default", connection: Any = None) -> Check:
    """The database answers ``SELECT 1``."""
    connection = connection if connection is not None else connections[using]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return Check("database", False, f"{connection.vendor} did not answer: {type(exc).__name__}")
    return Check("database", True, f"{connection.vendor} answers")


def check_broker(url: str | None = None, options: dict | None = None) -> Check:
    """The Celery broker takes a connection within ``BROKER_TIMEOUT_SECONDS``."""
    url = url or settings.CELERY_BROKER_URL
    transport = url.split("://", 1)[0]
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS if options is None else options
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS, transport_options=options) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - every transport raises its own errors; all mean "down"
        return Check("broker", False, f"the {transport} broker refused a connection: {type(exc).__name__}")
    return Check("broker", True, f"the {transport} broker takes connections")


def record_heartbeat(name: str) -> WorkerHeartbeat:
    """A worker is alive now (the heartbeat task's body; idempotent: one row per worker)."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(name=name[:200], defaults={"seen_at": timezone.now()})
    return beat


def check_worker(max_age_seconds: int | None = None) -> Check:
    """Some worker ran the heartbeat task within ``max_age_seconds``."""
    max_age = max_age_seconds if max_age_seconds is not None else settings.READINESS_WORKER_SECONDS
    try:
        latest = WorkerHeartbeat.objects.order_by("-seen_at").first()
    except DatabaseError as exc:
        return Check("worker", False, f"the heartbeats could not be read: {type(exc).__name__}")
    if latest is None:
        return Check("worker", False, "no worker has sent a heartbeat yet")
    age = (timezone.now() - latest.seen_at).total_seconds()
    if age > max_age:
        return Check(
            "worker", False, f"the latest heartbeat ({latest.name}) is {dt.timedelta(seconds=int(age))} old"
        )
    return Check("worker", True, f"{latest.name} sent a heartbeat {int(age)} s ago")


def readiness() -> tuple[bool, dict[str, Any]]:
    """Every readiness check, and whether all passed."""
    checks = [check_database(), check_broker(), check_worker()]
    ready = all(c.ok for c in checks)
    return ready, {
        "status": "ready" if ready else "not_ready",
        "checks": {c.name: c.as_dict() for c in checks},
    }
