"""What the people who run the platform read: JSON log lines that carry a request id, which follows a
request into the Celery tasks it starts, and Prometheus metrics of requests, tasks and queues.

No Django import at module level: the logging configuration loads this before Django is set up.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

#: The id of the request (or of the request that started the task) this code runs for.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
#: A proxy's or a client's id is kept only if it looks like one (it is written into every log line).
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
#: The attributes every LogRecord has: anything else on a record is an ``extra`` field worth keeping.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


def request_id_for(incoming: str | None) -> str:
    """The id a request is logged under: the proxy's ``X-Request-ID`` when it is sane, else a new one."""
    if incoming and _ACCEPTABLE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``-`` outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, the record's extra
    fields, and the exception's traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# --- Celery: the request id travels in the task message's headers ---------------------------------

TASK_HEADER = "request_id"
_task_started: dict[str, float] = {}


def carry_request_id(headers: dict | None = None, **_: Any) -> None:
    """before_task_publish: a task sent while handling a request carries the request's id."""
    request_id = REQUEST_ID.get()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


def _task_request_id(task: Any) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # Message protocol 2 puts custom headers on the request itself; older paths keep them in .headers.
    return getattr(request, TASK_HEADER, None) or (getattr(request, "headers", None) or {}).get(TASK_HEADER)


def task_started(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """task_prerun: log under the request id the task was sent with (a new one for beat's tasks)."""
    REQUEST_ID.set(request_id_for(_task_request_id(task)))
    if task_id:
        _task_started[task_id] = time.monotonic()


def task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    """task_postrun: the task's duration and outcome (success, failure, retry) into the metrics, then
    forget the request id."""
    from core import metrics

    started = _task_started.pop(task_id, None) if task_id else None
    name = getattr(task, "name", "unknown")
    metrics.TASK_RUNS.labels(task=name, state=(state or "unknown").lower()).inc()
    if started is not None:
        metrics.TASK_SECONDS.labels(task=name).observe(time.monotonic() - started)
    REQUEST_ID.set(None)
