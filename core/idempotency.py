"""``Idempotency-Key`` for POSTs that create submissions, runs or settlements.

Decorate a DRF view's ``post`` with ``@idempotent``. The first request with a key runs and its
response is stored; a repeat with the same key and body (uploaded files compared by their bytes) gets
the stored response (and the header ``Idempotent-Replayed: true``); the same key with another body is
refused (422). Two concurrent requests with one key: the unique constraint lets one run; the other
waits for its row lock and then replays, or is told to retry (409) if the first has not finished.
"""

from __future__ import annotations

import hashlib
import json
from functools import wraps

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from core.errors import ApplicationError, ConflictError
from core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
KEY_REUSED_MESSAGE = "This Idempotency-Key was used with a different request."
IN_PROGRESS_MESSAGE = "A request with this Idempotency-Key is still being processed; retry shortly."

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name="Idempotency-Key",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Send the same key again (with the same body) to get the first response instead of a duplicate.",
)


def _request_hash(request) -> str:
    """SHA-256 over the method, the path, the form or JSON fields and every uploaded file's bytes.

    A file is hashed over its content (streamed in chunks, then rewound for the view), not its name and
    size: a corrected file of the same name and size under the same key is another request (422), never
    a replay of the first one.
    """
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    files = getattr(request, "FILES", None) or {}
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart): every value of every field, files apart
        fields = {name: values for name, values in data.lists() if name not in files}
    else:
        fields = data
    digest.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for name in sorted(files):
        for uploaded in files.getlist(name) if hasattr(files, "getlist") else [files[name]]:
            digest.update(f"\n{name} {uploaded.name} {uploaded.size}\n".encode())
            digest.update(_file_digest(uploaded))
    return digest.hexdigest()


def _file_digest(uploaded) -> bytes:
    digest = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.digest()


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(view_method):
    @wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER, "").strip()
        if not key:
            return view_method(self, request, *args, **kwargs)
        if len(key) > 200:
            raise ApplicationError(
                "Idempotency-Key is at most 200 characters.", code="invalid_idempotency_key"
            )
        digest = _request_hash(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path[:300],
                    request_hash=digest,
                )
        except IntegrityError:
            record = IdempotencyRecord.objects.get(user=request.user, key=key)
            if record.request_hash != digest:
                raise ApplicationError(
                    KEY_REUSED_MESSAGE, code="idempotency_key_reused", status=422
                ) from None
            if record.status_code is None:
                raise ConflictError(IN_PROGRESS_MESSAGE, code="idempotency_in_progress") from None
            return _replay(record)
        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception:
            record.delete()  # an error is not a result: the client may retry with the same key
            raise
        if 200 <= response.status_code < 300:
            record.status_code = response.status_code
            record.response_body = response.data
            record.save(update_fields=["status_code", "response_body"])
        else:
            record.delete()
        return response

    return wrapper
