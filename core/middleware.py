"""Security headers, body size limits, the request log and the answers to transient errors, for every
request."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.functional import empty

from core import metrics
from core.api import (
    DATABASE_BUSY_MESSAGE,
    DATABASE_BUSY_RETRY_AFTER,
    database_busy,
    error_body,
    request_too_large_body,
)
from core.net import client_ip
from core.observability import REQUEST_ID, REQUEST_ID_HEADER, request_id_for
from core.uploads import view_upload_limit

request_log = logging.getLogger("carebundle.request")


def content_security_policy(*, inline_styles: bool = False) -> str:
    # Everything is served by the app itself: scripts and styles from our static files, no inline
    # scripts (htmx is configured by a meta tag; Swagger UI by the split view's script URL). The
    # Django admin and Swagger UI set style attributes, so they alone may use inline styles.
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = content_security_policy()
        self.relaxed_policy = content_security_policy(inline_styles=True)

    def __call__(self, request):
        response = self.get_response(request)
        relaxed = request.path.startswith(("/admin/", "/api/docs/"))
        response.setdefault("Content-Security-Policy", self.relaxed_policy if relaxed else self.policy)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # Pages, files and API answers carry member data (PHI) or contract terms: no browser or proxy
        # may keep a copy. Confidential by default, so that a new view cannot forget it; static files
        # come with their own caching header from whitenoise and keep it.
        response.setdefault("Cache-Control", "no-store")
        return response


TOO_LARGE_MESSAGE = "The upload is larger than the limit of {limit}."


def human_size(n: int) -> str:
    """Bytes as a person reads them: 200 MB, 1.5 MB, 10 KB, 900 bytes (a small limit is never "0 MB")."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _too_large_response(request, body: dict) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(body, status=413)
    return render(request, "web/413.html", {"message": body["message"]}, status=413)


def _view_limit(request) -> int:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return 0
    return view_upload_limit(match.func)


class UploadLimitMiddleware:
    """Refuse bodies over their limit before reading them: 413 with a clear message. Files (multipart)
    may reach ``MAX_UPLOAD_BYTES``, or the view's own limit instead when it names one
    (:func:`core.uploads.upload_limit`: the plan's 834, ``X12_MAX_BYTES``); any other body, read into
    memory whole (JSON, a form),
    ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_UPLOAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length and request.content_type == "multipart/form-data":
            limit = _view_limit(request) or limit
        if length > limit:
            message = TOO_LARGE_MESSAGE.format(limit=human_size(limit))
            return _too_large_response(
                request, error_body("upload_too_large", message, {"limit_bytes": limit})
            )
        memory_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if (
            memory_limit is not None
            and length > memory_limit
            and request.content_type != "multipart/form-data"
        ):
            return _too_large_response(request, request_too_large_body())
        return self.get_response(request)


class ExceptionResponseMiddleware:
    """A page's answer to what a view cannot help: a body over the memory limit (read lazily, so it
    surfaces in the view) is a 413, lock contention in the database a 503 with ``Retry-After``; never
    a 500. (The API's exception handler, core.api, gives the same answers as JSON.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RequestDataTooBig):
            return _too_large_response(request, request_too_large_body())
        if database_busy(exception):
            if request.path.startswith("/api/"):
                response = JsonResponse(error_body("database_busy", DATABASE_BUSY_MESSAGE), status=503)
            else:
                # A page that needs no database: the database is what is busy.
                html = render_to_string("web/503.html", {"message": DATABASE_BUSY_MESSAGE})
                response = HttpResponse(html, status=503)
            response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
            return response
        return None


class RequestLogMiddleware:
    """One line per request: method, path (no query string: it may name a member), status, time, the
    client's address by the trusted-proxy rule (core.net), the user's id and the request id (from a
    proxy's X-Request-ID, else new; answered in the same header, and carried into the tasks the
    request starts). The request's figures go to the metrics too, by route (never by path: ids would
    make a series per object)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))
        token = REQUEST_ID.set(request_id)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            elapsed = time.monotonic() - started
            match = getattr(request, "resolver_match", None)
            if match is not None:
                route = match.route
            else:  # static files (served before URL resolution) or a 404 for an unknown path
                route = "static" if request.path.startswith(settings.STATIC_URL) else "unmatched"
            method = (
                request.method if request.method in metrics.METHODS else "other"
            )  # no series per made-up verb
            metrics.REQUESTS.labels(method=method, route=route, status=response.status_code).inc()
            metrics.REQUEST_SECONDS.labels(method=method, route=route).observe(elapsed)
            if request_log.isEnabledFor(logging.INFO):
                self._log(request, response, elapsed, match)
            return response
        finally:
            REQUEST_ID.reset(token)

    @staticmethod
    def _log(request, response, elapsed: float, match) -> None:
        # The user only if something already looked them up: the log adds no query of its own.
        user = getattr(getattr(request, "user", None), "_wrapped", getattr(request, "user", None))
        if user is empty:
            user = None
        # A path that is itself a secret (an invitation's link) is logged as its route.
        secret = match is not None and getattr(match.func, "secret_path", False)
        fields = {
            "method": request.method,
            "path": f"/{match.route}" if secret else request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000),
            "client_ip": client_ip(request),
            "user_id": user.pk if user is not None and user.is_authenticated else None,
        }
        request_log.info(
            "%(method)s %(path)s %(status)s %(duration_ms)sms client=%(client_ip)s user=%(user_id)s",
            fields,
            extra=fields,
        )
