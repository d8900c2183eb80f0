"""API conventions shared by every app: one error body, pagination, the tenant-aware base view."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import OperationalError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from core.domain.months import month_key
from core.errors import NOT_FOUND_MESSAGE, ApplicationError

logger = logging.getLogger(__name__)

VALIDATION_MESSAGE = "Some fields are invalid; see details."
NESTED_TOO_DEEPLY_MESSAGE = "The JSON is nested too deeply to be read."
MALFORMED_MESSAGE = "The request could not be read."
REQUEST_TOO_LARGE_MESSAGE = (
    "The request body is larger than the limit of {limit}; files go in a multipart upload."
)
DATABASE_BUSY_MESSAGE = "The database is busy with other changes; try again in a moment."
#: Seconds a client should wait before retrying a request the database was too busy for.
DATABASE_BUSY_RETRY_AFTER = 2
# Lock contention on PostgreSQL: lock_not_available (a lock timeout), deadlock_detected, serialization_failure.
_BUSY_SQLSTATES = {"55P03", "40P01", "40001"}


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2026-11"})
class MonthField(serializers.Field):
    """A month in an API body: ``YYYY-MM`` (core.domain.months.month_key), read-only."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: date) -> str:
        return month_key(value)


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(help_text="Stable machine-readable error code, e.g. `not_found`.")
    message = serializers.CharField(help_text="A sentence for a person.")
    details = serializers.JSONField(help_text="Field, row or path errors; `{}` when there are none.")


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details if details is not None else {}}


def database_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is lock contention (worth a retry), not a broken query or a lost database."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    message = str(exc).lower()
    return "database is locked" in message or "database table is locked" in message


def request_too_large_body() -> dict[str, Any]:
    from core.middleware import human_size

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body(
        "request_too_large", REQUEST_TOO_LARGE_MESSAGE.format(limit=human_size(limit)), {"limit_bytes": limit}
    )


_DRF_CODES: dict[type, str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def exception_handler(exc: Exception, context: dict) -> Response:
    """Every API error, expected or not, leaves with the same body and never a stack trace."""
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        return Response(request_too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, SuspiciousOperation):  # too many fields or files, a malformed multipart body
        return Response(
            error_body("malformed_request", MALFORMED_MESSAGE), status=status.HTTP_400_BAD_REQUEST
        )
    if database_busy(exc):
        return Response(
            error_body("database_busy", DATABASE_BUSY_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_BUSY_RETRY_AFTER)},
        )
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        return Response(error_body("not_found", NOT_FOUND_MESSAGE), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(error_body("validation_error", VALIDATION_MESSAGE, details), status=400)
    if isinstance(exc, RecursionError) and "JSON" in str(exc):
        # json.loads gives up on a body nested thousands of levels deep (DRF's parser only turns
        # ValueError into a ParseError): a malformed request, not a server error.
        return Response(
            error_body("malformed_request", NESTED_TOO_DEEPLY_MESSAGE), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, exceptions.APIException):
        code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), "error")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
    logger.exception("Unhandled API error", exc_info=exc)
    return Response(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def not_found_view(request, rest: str = "") -> JsonResponse:
    """Unknown URLs under /api/ answer with the API's error body."""
    return JsonResponse(error_body("not_found", "No API endpoint at this URL."), status=404)
