"""Sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request, and SESSION_COOKIE_AGE seconds
after their login whatever the activity (Django alone would keep an active session for ever: each save
extends it)."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

#: Session keys: when the login happened and when the last request came (epoch seconds).
STARTED_KEY = "carebundle_started_at"
LAST_SEEN_KEY = "carebundle_last_seen_at"


def _start_clocks(session) -> None:
    now = time.time()
    session[STARTED_KEY] = now
    session[LAST_SEEN_KEY] = now


@receiver(user_logged_in, dispatch_uid="accounts.session_clocks")
def start_session_clocks(sender, request, user, **kwargs) -> None:
    """A login (again, too) starts both clocks afresh."""
    session = getattr(request, "session", None)
    if session is not None:
        _start_clocks(session)


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            now = time.time()
            idle = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
            started = session.get(STARTED_KEY)
            last_seen = session.get(LAST_SEEN_KEY)
            if started is None or last_seen is None:  # a session from before these clocks
                _start_clocks(session)
            elif now - last_seen > idle or now - started > settings.SESSION_COOKIE_AGE:
                logout(request)  # flushes the session; the view sees an anonymous request
            elif now - last_seen > min(60.0, idle / 10):
                # Saving the session on every request would be a write per request: a minute's
                # precision (or a tenth of a short timeout) is enough.
                session[LAST_SEEN_KEY] = now
        return self.get_response(request)
