"""The one family of domain errors.

A service raises an ``ApplicationError`` with a stable ``code`` and a sentence for a person; the
API turns it into ``{"code", "message", "details"}`` with ``status``; a page shows the message
next to the field or row. Messages are constants so tests can import them.
"""

from __future__ import annotations

from typing import Any


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


NOT_FOUND_MESSAGE = "Not found."
PERMISSION_DENIED_MESSAGE = "Your role does not allow this action."
