"""Security headers and the upload size limit, for every response."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from core.api import error_body


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
        return response


TOO_LARGE_MESSAGE = "The upload is larger than the limit of {limit}."


def human_size(n: int) -> str:
    """Bytes as a person reads them: 200 MB, 1.5 MB, 10 KB, 900 bytes (a small limit is never "0 MB")."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


class UploadLimitMiddleware:
    """Refuse bodies over ``MAX_UPLOAD_BYTES`` before reading them: 413 with a clear message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_UPLOAD_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            message = TOO_LARGE_MESSAGE.format(limit=human_size(limit))
            if request.path.startswith("/api/"):
                return JsonResponse(
                    error_body("upload_too_large", message, {"limit_bytes": limit}), status=413
                )
            return render(request, "web/413.html", {"message": message}, status=413)
        return self.get_response(request)
