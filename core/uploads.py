"""Where an uploaded file is parsed: in the request when it is small, by a Celery worker otherwise."""

from __future__ import annotations

from django.conf import settings

from core.domain.canonical import sha256_of_chunks

#: The attribute a view (function, or class for a class-based view) names its own size limit's setting
#: with, when its uploads have a limit other than ``MAX_UPLOAD_BYTES`` (see :func:`upload_limit`).
UPLOAD_LIMIT_ATTRIBUTE = "upload_limit_setting"


def upload_limit(setting: str):
    """Let a view's uploads be limited by the setting ``setting`` (bytes) instead of ``MAX_UPLOAD_BYTES``
    (core.middleware.UploadLimitMiddleware reads it): the plan's 834, read as a stream, may be gigabytes.
    Decorates a view function or a class-based view."""

    def mark(view):
        setattr(view, UPLOAD_LIMIT_ATTRIBUTE, setting)
        return view

    return mark


def view_upload_limit(view) -> int:
    """The upload limit a resolved view asks for (0: none of its own)."""
    name = getattr(view, UPLOAD_LIMIT_ATTRIBUTE, None) or getattr(
        getattr(view, "view_class", None), UPLOAD_LIMIT_ATTRIBUTE, None
    )
    return int(getattr(settings, name, 0) or 0) if name else 0


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
