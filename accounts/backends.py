"""Login throttling: django-axes, tolerant of callers that pass no request.

Every login path a person can reach (the login page, the admin's, POST /api/v1/auth/token/) passes
the request, so lockouts apply there. Calls without a request (the test client's login(), management
commands) are not throttled rather than refused.

Each of those paths refuses a username longer than the user model holds before it authenticates
(axes records every failed attempt with its username); ``lockout_username`` bounds what axes keeps
should another path ever authenticate one.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model


def username_max_length() -> int:
    model = get_user_model()
    return model._meta.get_field(model.USERNAME_FIELD).max_length


def lockout_username(request, credentials: dict | None = None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the username axes counts failures for and stores, at most as long
    as a username can be (axes' default takes the submitted value whole)."""
    if credentials:
        username = credentials.get("username")
    else:
        username = getattr(request, "data", request.POST).get("username")
    return None if username is None else str(username)[: username_max_length()]


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
