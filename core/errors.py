"""The one family of domain errors.

A service raises an ``ApplicationError`` with a stable ``code`` and a sentence for a person; the
API turns it into ``{"code", "message", "details"}`` with ``status``; a page shows the message
next to the field or row. Messages are constants so tests can import them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from core.domain.months import INVALID_MONTH_MESSAGE, parse_month
from core.domain.problems import Problem


class ApplicationError(Exception):
    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, status: int | None = None
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details if details is not None else {}


class NotFoundError(ApplicationError):
    """Missing and forbidden look the same: never confirm another organisation's object exists."""

    status = 404
    code = "not_found"


class PermissionDeniedError(ApplicationError):
    """The object is the user's organisation's own, but their role may not do this."""

    status = 403
    code = "permission_denied"


class ConflictError(ApplicationError):
    status = 409
    code = "conflict"


def uuid_or_404(value: Any) -> uuid.UUID:
    """An object's id from a URL or a body; a malformed one is "no such object" (404), not a 400."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def problems_details(
    problems: Iterable[Problem | Mapping[str, Any]], *, errors_alias: bool = False, **details: Any
) -> dict[str, Any]:
    """An error's ``details`` for input with validation problems: every one under ``problems``.

    Problems are :meth:`Problem.as_dict` dicts (a dict already in that shape, as stored with an
    upload, is taken as it is). ``errors_alias`` repeats the same list under ``errors``, the name
    the pricing and utilization endpoints used before ``problems`` was the one key: deprecated,
    kept so their clients keep working. Other ``details`` (an upload's id, a count) go alongside.
    """
    listed = [p.as_dict() if isinstance(p, Problem) else dict(p) for p in problems]
    body: dict[str, Any] = {**details, "problems": listed}
    if errors_alias:
        body["errors"] = listed
    return body


def problems_error(
    message: str,
    problems: Iterable[Problem | Mapping[str, Any]],
    *,
    code: str = "invalid",
    status: int | None = None,
    errors_alias: bool = False,
    **details: Any,
) -> ApplicationError:
    """The error a service raises for input with validation problems (see :func:`problems_details`)."""
    return ApplicationError(
        message,
        code=code,
        details=problems_details(problems, errors_alias=errors_alias, **details),
        status=status,
    )


def month_from_input(value: str | date | None) -> date:
    """A month from a request or a form (``YYYY-MM``, or a date) as its first day; anything else
    is the ``invalid_month`` error every service answers, with the message under ``details.month``."""
    try:
        return parse_month(value or "")
    except ValueError:
        raise ApplicationError(
            INVALID_MONTH_MESSAGE, code="invalid_month", details={"month": [INVALID_MONTH_MESSAGE]}
        ) from None


NOT_FOUND_MESSAGE = "Not found."
PERMISSION_DENIED_MESSAGE = "Your role does not allow this action."
