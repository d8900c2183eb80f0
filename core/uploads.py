"""Where an uploaded file is parsed: in the request when it is small, by a Celery worker otherwise."""

from __future__ import annotations

from django.conf import settings


def parsed_in_request(size: int) -> bool:
    """Whether an upload of ``size`` bytes is parsed before the request answers.

    Only files up to ``UPLOAD_SYNC_MAX_BYTES`` are: any larger one is kept, queued for a worker, and
    answered at once (202, status ``processing``), so a slow or hostile file never holds a web worker.
    """
    return size <= settings.UPLOAD_SYNC_MAX_BYTES
