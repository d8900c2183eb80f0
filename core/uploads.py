"""Where an uploaded file is parsed: in the request when it is small, by a Celery worker otherwise."""

from __future__ import annotations

from django.conf import settings

from core.domain.canonical import sha256_of_chunks


def parsed_in_request(size: int) -> bool:
    """Whether an upload of ``size`` bytes is parsed before the request answers.

    Only files up to ``UPLOAD_SYNC_MAX_BYTES`` are: any larger one is kept, queued for a worker, and
    answered at once (202, status ``processing``), so a slow or hostile file never holds a web worker.
    """
    return size <= settings.UPLOAD_SYNC_MAX_BYTES


def uploaded_sha256(uploaded) -> str:
    """The sha256 of an uploaded file, read chunk by chunk from its start; the file is left at its start
    again, ready to be stored."""
    uploaded.seek(0)
    digest = sha256_of_chunks(uploaded.chunks())
    uploaded.seek(0)
    return digest
