"""Pages show times in the user's own time zone (their preference, else the site's TIME_ZONE).

The zone is read once at login into the session, so a request costs no query for it; changing the
preference updates the session too. The API keeps the site's zone: its times carry their offset.
"""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import UserPreference

SESSION_KEY = "carebundle_time_zone"
#: Offered first: the zones of the states a plan here is likely in.
US_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)


@cache
def all_time_zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")))


def is_time_zone(name: str) -> bool:
    return name in all_time_zones() or name == settings.TIME_ZONE


def chosen_time_zone(user) -> str:
    """The zone ``user`` chose ("" when none: the site's applies)."""
    return UserPreference.objects.filter(user=user).values_list("time_zone", flat=True).first() or ""


def time_zone_of(user) -> str:
    """The zone ``user`` chose, or the site's."""
    return chosen_time_zone(user) or settings.TIME_ZONE


def remember(session, name: str) -> None:
    session[SESSION_KEY] = name


@receiver(user_logged_in, dispatch_uid="accounts.time_zone")
def remember_on_login(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        remember(session, time_zone_of(user))


class TimeZoneMiddleware:
    """Activate the session's zone for the request (templates' date filters follow it), then reset."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        name = session.get(SESSION_KEY) if session is not None else None
        if name and is_time_zone(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
