"""Each user's time zone: pages show times in it; the API keeps the site's zone with offsets."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client

from accounts.models import Role, UserPreference
from accounts.time_zone import SESSION_KEY
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_the_chosen_zone_is_remembered_at_login_and_used_by_pages(provider, member_of, settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    user = member_of(provider, Role.ADMIN)
    client = logged_in(user)
    assert client.session[SESSION_KEY] == "America/Los_Angeles"
    response = client.post("/account/", {"time_zone": "America/New_York"})
    assert response.status_code == 302 and response["Location"] == "/account/"  # post/redirect/get
    assert client.session[SESSION_KEY] == "America/New_York"
    page = client.get("/account/").content.decode()
    assert '<option value="America/New_York" selected>' in page
    assert "Times are now shown in America/New_York" in page

    # A moment on a page: the membership's "Since" date, at 03:30 UTC (the evening before in the west).
    user.memberships.update(created_at=datetime(2026, 3, 2, 3, 30, tzinfo=UTC))
    people = f"/organizations/{provider.public_id}/members/"
    assert "2026-03-01" in client.get(people).content.decode()  # New York: 22:30 the day before
    client.post("/account/", {"time_zone": "Europe/Paris"})
    assert "2026-03-02" in client.get(people).content.decode()  # Paris: 04:30
    # A new session reads the choice at login.
    assert logged_in(user).session[SESSION_KEY] == "Europe/Paris"


def test_blank_returns_to_the_site_zone_and_an_unknown_zone_is_refused_keeping_the_choice(
    provider, member_of, settings
):
    user = member_of(provider, Role.SUBMITTER)
    client = logged_in(user)
    client.post("/account/", {"time_zone": "America/Denver"})
    response = client.post("/account/", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 400
    assert "Unknown time zone" in response.content.decode()
    assert UserPreference.objects.get(user=user).time_zone == "America/Denver"  # unchanged
    client.post("/account/", {"time_zone": ""})
    assert UserPreference.objects.get(user=user).time_zone == ""
    assert client.session[SESSION_KEY] == settings.TIME_ZONE


def test_api_reads_and_changes_the_preference(provider, member_of, api_for, settings):
    user = member_of(provider, Role.ANALYST)
    api = api_for(user)
    assert api.get("/api/v1/me/preferences/").json() == {
        "time_zone": "",
        "site_time_zone": settings.TIME_ZONE,
    }
    response = api.patch("/api/v1/me/preferences/", {"time_zone": "America/Chicago"}, format="json")
    assert response.status_code == 200 and response.json()["time_zone"] == "America/Chicago"
    response = api.patch("/api/v1/me/preferences/", {"time_zone": "Nowhere/Else"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_time_zone")
    assert UserPreference.objects.get(user=user).time_zone == "America/Chicago"
