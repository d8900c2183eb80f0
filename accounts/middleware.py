"""Sessions end after SESSION_IDLE_TIMEOUT_MINUTES without a request, and SESSION_COOKIE_AGE seconds
after their login whatever the activity (Django alone would keep an active session for ever: each save
extends it). A user with two-factor sign-in gives a code before anything else, and one whose
organisation requires it sets it up first (``TwoFactorMiddleware``)."""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from accounts import two_factor
from core.api import error_body

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


# --- two-factor sign-in --------------------------------------------------------------------------------

#: Session key: whether the user has two-factor sign-in, whether an organisation of theirs requires it,
#: and when that was read (epoch seconds). Read at login and again at most once a minute, so that a
#: request of the many users with neither costs no query; the two-factor pages refresh it at once.
TWO_FACTOR_STATE_KEY = "carebundle_two_factor"
TWO_FACTOR_RECHECK_SECONDS = 60.0

OTP_REQUIRED_MESSAGE = "Enter the code from your authenticator app on the sign-in page first."
SETUP_REQUIRED_MESSAGE = "Your organisation requires two-factor sign-in: set it up on its page first."


def two_factor_state_refresh(request, user=None) -> dict:
    """Reads the state again (the two-factor pages call it after each change they make)."""
    user = user if user is not None else request.user
    state = {
        "has": two_factor.has_two_factor(user),
        "required": two_factor.requires_two_factor(user),
        "at": time.time(),
    }
    request.session[TWO_FACTOR_STATE_KEY] = state
    return state


def two_factor_state(request) -> dict:
    state = request.session.get(TWO_FACTOR_STATE_KEY)
    if not isinstance(state, dict) or time.time() - state.get("at", 0) > TWO_FACTOR_RECHECK_SECONDS:
        state = two_factor_state_refresh(request)
    return state


@receiver(user_logged_in, dispatch_uid="accounts.two_factor_state")
def remember_two_factor_state(sender, request, user, **kwargs) -> None:
    if getattr(request, "session", None) is not None:
        two_factor_state_refresh(request, user)


class TwoFactorMiddleware:
    """Unverified sessions of users with two-factor sign-in reach the code page only; users whose
    organisation requires it and who have none reach its setup only. The API authenticates by token
    (the token endpoint asks for the code); an API request on such a session is refused in the API's
    own terms, never redirected."""

    def __init__(self, get_response):
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        always = (
            reverse("two-factor-verify"),
            reverse("login"),
            reverse("logout"),
            settings.STATIC_URL,
            reverse("api-token"),
            "/healthz",
            "/readyz",
            "/health/",
            "/favicon.ico",
        )
        return path.startswith(always)

    def __call__(self, request):
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is None or session is None or not user.is_authenticated or self._exempt(request.path_info):
            return self.get_response(request)
        api = request.path_info.startswith("/api/v1/")
        if api and request.META.get("HTTP_AUTHORIZATION"):
            return self.get_response(request)  # a token, not this session, authenticates the request
        state = two_factor_state(request)
        if state["has"]:
            if user.is_verified():
                return self.get_response(request)
            if api:
                return JsonResponse(error_body("otp_required", OTP_REQUIRED_MESSAGE), status=401)
            target = reverse("two-factor-verify")
        elif state["required"]:
            setup = reverse("two-factor-setup")
            if request.path_info.startswith(setup):
                return self.get_response(request)
            if api:
                return JsonResponse(
                    error_body("two_factor_setup_required", SETUP_REQUIRED_MESSAGE), status=403
                )
            target = setup
        else:
            return self.get_response(request)
        if request.method == "GET" and not request.headers.get("HX-Request"):
            target += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):
            # htmx would swap the page into a fragment: it follows HX-Redirect with a full page load,
            # except from the page it would load (the bell of the code page itself), where it would loop.
            response = HttpResponse(status=204)
            if urlsplit(request.headers.get("HX-Current-URL", "")).path != target:
                response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
