"""Two-factor sign-in (issue 16, point 3): TOTP codes from an authenticator app with single-use backup
codes (django-otp), which an organisation can require of its members; the services, the pages after
the password, and the API's token endpoint and endpoints."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp import models as totp_models
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import two_factor
from accounts.middleware import TWO_FACTOR_STATE_KEY
from accounts.models import ApiToken, Membership, Role
from accounts.services import token_create
from accounts.tenancy import resolve_scope
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from tests.factories import PASSWORD, ContractFactory, ProviderFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


class Clock:
    """The time django-otp's TOTP device reads, moved by the test one 30-second step at a time, so that
    no test depends on where in a step it runs (a code is accepted once per step)."""

    def __init__(self):
        self.now = float(int(time.time()) // 30 * 30 + 1)

    def time(self) -> float:
        return self.now

    def tick(self, steps: int = 1) -> None:
        self.now += 30 * steps


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(totp_models, "time", clock)
    return clock


def code(device: TOTPDevice, clock: Clock) -> str:
    """What the user's authenticator app shows now (django_otp.oath.totp at the test's clock)."""
    totp = TOTP(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    totp.time = clock.now
    return f"{totp.token():0{device.digits}d}"


def enable(user, clock: Clock) -> tuple[TOTPDevice, list[str]]:
    """Two-factor sign-in on for ``user`` through the services; the clock moves on past the code used."""
    pending = two_factor.setup_start(user=user)
    device, backup_codes = two_factor.setup_confirm(user=user, code=code(pending.device, clock))
    clock.tick()
    return device, backup_codes


def wait_out_throttle(user) -> None:
    """As if the user waited after a wrong code: django-otp's throttle (1 s, then 2, 4...) has passed."""
    earlier = timezone.now() - timezone.timedelta(minutes=5)
    TOTPDevice.objects.filter(user=user).update(throttling_failure_timestamp=earlier)
    StaticDevice.objects.filter(user=user).update(throttling_failure_timestamp=earlier)


def logged_in(user) -> Client:
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


# --- services -----------------------------------------------------------------------------------------


def test_setup_start_replaces_an_earlier_unconfirmed_key(provider, member_of):
    user = member_of(provider)
    first = two_factor.setup_start(user=user)
    second = two_factor.setup_start(user=user)
    assert list(TOTPDevice.objects.filter(user=user).values_list("pk", "confirmed")) == [
        (second.device.pk, False)
    ]
    assert first.secret != second.secret
    assert second.otpauth_uri.startswith("otpauth://totp/carebundle%3A")
    assert f"secret={second.secret}" in second.otpauth_uri and "issuer=carebundle" in second.otpauth_uri
    svg = second.qr_svg()
    assert svg.startswith("<svg") and "<path" in svg and "style=" not in svg
    assert not two_factor.has_two_factor(user)


def test_confirm_with_a_right_code_turns_it_on_with_ten_backup_codes(provider, member_of, clock):
    user = member_of(provider)
    pending = two_factor.setup_start(user=user)
    with pytest.raises(ApplicationError) as wrong:
        two_factor.setup_confirm(
            user=user, code="000000" if code(pending.device, clock) != "000000" else "111111"
        )
    assert wrong.value.code == "invalid_otp" and not two_factor.has_two_factor(user)
    wait_out_throttle(user)

    device, backup_codes = two_factor.setup_confirm(user=user, code=code(pending.device, clock))

    assert device.confirmed and two_factor.has_two_factor(user)
    assert len(backup_codes) == len(set(backup_codes)) == 10
    assert two_factor.backup_codes_left(user) == 10
    with pytest.raises(ApplicationError) as again:
        two_factor.setup_start(user=user)
    assert again.value.code == "two_factor_already_enabled" and again.value.status == 409


def test_a_code_signs_in_once_and_a_backup_code_once(provider, member_of, clock):
    user = member_of(provider)
    device, backup_codes = enable(user, clock)

    current = code(device, clock)
    assert two_factor.verify(user=user, code=current).pk == device.pk
    wait_out_throttle(user)
    with pytest.raises(ApplicationError) as replayed:  # the same code again, in the same 30 seconds
        two_factor.verify(user=user, code=current)
    assert replayed.value.code == "invalid_otp"

    wait_out_throttle(user)
    spaced = f"{backup_codes[0][:4]} {backup_codes[0][4:].upper()}"  # as people copy it
    assert isinstance(two_factor.verify(user=user, code=spaced), StaticDevice)
    assert two_factor.backup_codes_left(user) == 9
    with pytest.raises(ApplicationError) as used:
        two_factor.verify(user=user, code=backup_codes[0])
    assert used.value.code == "invalid_otp"


def test_wrong_codes_are_throttled_by_django_otp(provider, member_of, clock):
    user = member_of(provider)
    device, _ = enable(user, clock)
    right = code(device, clock)
    wrong = "000000" if right != "000000" else "111111"
    with pytest.raises(ApplicationError) as first:
        two_factor.verify(user=user, code=wrong)
    assert first.value.code == "invalid_otp"
    with pytest.raises(ApplicationError) as throttled:  # the right code, too soon after a wrong one
        two_factor.verify(user=user, code=right)
    assert throttled.value.code == "otp_throttled" and throttled.value.status == 429
    assert throttled.value.details["retry_after"] >= 1
    wait_out_throttle(user)
    assert two_factor.verify(user=user, code=right)


def test_disable_needs_a_current_code_and_is_refused_while_an_organisation_requires_it(
    provider, member_of, clock
):
    user = member_of(provider, Role.ANALYST)
    device, _ = enable(user, clock)
    with pytest.raises(ApplicationError) as no_code:
        two_factor.disable(user=user, code="")
    assert no_code.value.code == "otp_required"

    provider.requires_two_factor = True
    provider.save()
    with pytest.raises(ApplicationError) as refused:
        two_factor.disable(user=user, code=code(device, clock))
    assert refused.value.code == "two_factor_required" and provider.legal_name in refused.value.message
    assert two_factor.has_two_factor(user)

    provider.requires_two_factor = False
    provider.save()
    two_factor.disable(user=user, code=code(device, clock))
    assert not two_factor.has_two_factor(user)
    assert not StaticDevice.objects.filter(user=user).exists()


def test_only_active_memberships_make_two_factor_required(provider, member_of):
    user = member_of(provider)
    other = ProviderFactory(requires_two_factor=True)
    membership = Membership.objects.create(user=user, organization=other, role=Role.ANALYST)
    assert two_factor.requires_two_factor(user)
    membership.deactivated_at = timezone.now()
    membership.save()
    assert not two_factor.requires_two_factor(user)


def test_only_an_administrator_of_the_organisation_sets_the_requirement(payer, provider, member_of):
    ContractFactory(payer=payer, provider=provider)  # the provider can see the plan
    admin = resolve_scope(member_of(provider, Role.ADMIN))
    submitter = resolve_scope(member_of(provider, Role.SUBMITTER))

    with pytest.raises(PermissionDeniedError):
        two_factor.requirement_set(scope=submitter, organization=provider, required=True)
    with pytest.raises(NotFoundError):  # a counterparty, visible, but not ours to change
        two_factor.requirement_set(scope=admin, organization=payer, required=True)
    with pytest.raises(NotFoundError):
        two_factor.requirement_set(scope=admin, organization=ProviderFactory(), required=True)

    two_factor.requirement_set(scope=admin, organization=provider, required=True)
    provider.refresh_from_db()
    assert provider.requires_two_factor
    assert provider.history.first().requires_two_factor  # the change is in the history
    two_factor.requirement_set(scope=admin, organization=provider, required=False)
    provider.refresh_from_db()
    assert not provider.requires_two_factor


def test_requiring_it_revokes_the_api_tokens_of_members_without_it(provider, member_of, clock):
    admin = member_of(provider, Role.ADMIN)
    with_app = member_of(provider, Role.ANALYST)
    enable(with_app, clock)
    elsewhere = member_of(ProviderFactory())
    tokens = {user.pk: token_create(user=user)[1] for user in (admin, with_app, elsewhere)}

    two_factor.requirement_set(scope=resolve_scope(admin), organization=provider, required=True)

    revoked = {pk for pk, token in tokens.items() if ApiToken.objects.get(pk=token.pk).revoked_at}
    assert revoked == {admin.pk}


# --- pages: two-factor sign-in after the password -------------------------------------------------------


def test_two_factor_sign_in_asks_for_the_code_after_the_password(provider, member_of, clock):
    user = member_of(provider)
    device, _ = enable(user, clock)
    client = logged_in(user)

    response = client.get("/contracts/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/two-factor/verify/?next=%2Fcontracts%2F"
    assert client.get("/accounts/two-factor/").status_code == 302  # nothing else either
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200 and '<label for="id_otp_token">Code</label>' in body

    right = code(device, clock)
    wrong = "000000" if right != "000000" else "111111"
    response = client.post("/accounts/two-factor/verify/", {"otp_token": wrong, "next": "/contracts/"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'role="alert"' in body and "That code is not right" in body
    assert f'value="{wrong}"' in body and 'aria-describedby="id_otp_token-error"' in body
    assert 'name="next" value="/contracts/"' in body
    assert client.get("/").status_code == 302  # still not signed in

    wait_out_throttle(user)
    response = client.post("/accounts/two-factor/verify/", {"otp_token": right, "next": "/contracts/"})
    assert (response.status_code, response["Location"]) == (302, "/contracts/")
    home = client.get("/")
    assert home.status_code == 200 and provider.legal_name in home.content.decode()


def test_the_code_page_refuses_to_send_anyone_to_another_site(provider, member_of, clock):
    user = member_of(provider)
    device, _ = enable(user, clock)
    client = logged_in(user)
    response = client.post(
        "/accounts/two-factor/verify/?next=https://evil.example/", {"otp_token": code(device, clock)}
    )
    assert (response.status_code, response["Location"]) == (302, "/")
    client.post("/logout/")
    client = logged_in(user)
    clock.tick()
    response = client.post(
        "/accounts/two-factor/verify/", {"otp_token": code(device, clock), "next": "//evil.example/x"}
    )
    assert (response.status_code, response["Location"]) == (302, "/")


def test_a_backup_code_signs_in_and_says_how_many_are_left(provider, member_of, clock):
    user = member_of(provider)
    _, backup_codes = enable(user, clock)
    client = logged_in(user)
    response = client.post("/accounts/two-factor/verify/", {"otp_token": backup_codes[3]}, follow=True)
    assert response.status_code == 200
    assert "You used a backup code; 9 left." in response.content.decode()


def test_users_without_two_factor_pass_without_a_query_about_it(provider, member_of):
    client = logged_in(member_of(provider))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "otp_totp" not in sql and "otp_static" not in sql and 'requires_two_factor" =' not in sql


def test_an_organisation_that_requires_it_sends_members_to_the_setup(provider, member_of, clock):
    user = member_of(provider, Role.SUBMITTER)
    provider.requires_two_factor = True
    provider.save()
    client = logged_in(user)

    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/setup/")
    page = client.get("/accounts/two-factor/setup/").content.decode()
    assert f"{provider.display_name} requires two-factor sign-in of its members" in page

    assert client.post("/accounts/two-factor/setup/", {"action": "start"}).status_code == 302
    page = client.get("/accounts/two-factor/setup/").content.decode()
    pending = two_factor.pending_setup(user)
    assert pending.secret in page and "<svg" in page and 'role="img"' in page

    response = client.post("/accounts/two-factor/setup/", {"action": "confirm", "otp_token": "12 34"})
    assert response.status_code == 400 and 'value="12 34"' in response.content.decode()
    wait_out_throttle(user)

    response = client.post(
        "/accounts/two-factor/setup/", {"action": "confirm", "otp_token": code(pending.device, clock)}
    )
    assert response["Location"] == "/accounts/two-factor/backup-codes/"
    codes_page = client.get("/accounts/two-factor/backup-codes/").content.decode()
    assert all(
        c in codes_page for c in StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    )
    assert client.get("/accounts/two-factor/backup-codes/").status_code == 302  # shown once
    assert client.get("/").status_code == 200  # the code just given signed this session in

    status_page = client.get("/accounts/two-factor/").content.decode()
    assert "cannot be turned off" in status_page and "Turn off two-factor sign-in</button>" not in status_page


def test_turning_it_off_on_the_status_page(provider, member_of, clock):
    user = member_of(provider)
    device, _ = enable(user, clock)
    client = logged_in(user)
    client.post("/accounts/two-factor/verify/", {"otp_token": code(device, clock)})
    clock.tick()

    response = client.post("/accounts/two-factor/disable/", {"disable-otp_token": "99"})
    body = response.content.decode()
    assert response.status_code == 400 and 'id="id_disable-otp_token-error"' in body and 'value="99"' in body
    wait_out_throttle(user)
    response = client.post("/accounts/two-factor/disable/", {"disable-otp_token": code(device, clock)})
    assert response.status_code == 302
    assert not two_factor.has_two_factor(user)
    assert "Off: your password alone signs you in" in client.get("/accounts/two-factor/").content.decode()


def test_new_backup_codes_replace_the_old_ones(provider, member_of, clock):
    user = member_of(provider)
    device, old_codes = enable(user, clock)
    client = logged_in(user)
    client.post("/accounts/two-factor/verify/", {"otp_token": code(device, clock)})
    clock.tick()
    response = client.post(
        "/accounts/two-factor/backup-codes/regenerate/", {"regenerate-otp_token": code(device, clock)}
    )
    assert response["Location"] == "/accounts/two-factor/backup-codes/"
    new_codes = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(new_codes) == 10 and not new_codes & set(old_codes)


def test_an_unverified_session_gets_no_fragment_and_no_api_answer(provider, member_of, clock):
    user = member_of(provider)
    enable(user, clock)
    client = logged_in(user)
    fragment = client.get("/notifications/bell/", headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment["HX-Redirect"] == "/accounts/two-factor/verify/"
    on_the_code_page = client.get(
        "/notifications/bell/",
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://testserver/accounts/two-factor/verify/?next=/",
        },
    )
    assert on_the_code_page.status_code == 204 and "HX-Redirect" not in on_the_code_page  # no reload loop
    api = client.get("/api/v1/me/")
    assert api.status_code == 401 and api.json()["code"] == "otp_required"


def test_an_administrator_requires_it_on_the_organisation_page(provider, member_of):
    admin = member_of(provider, Role.ADMIN)
    analyst_client = logged_in(member_of(provider, Role.SUBMITTER))
    client = logged_in(admin)
    page = client.get(f"/organizations/{provider.public_id}/").content.decode()
    assert "every member will have to set up an authenticator app at their next request" in page
    assert (
        "Require two-factor sign-in"
        not in analyst_client.get(f"/organizations/{provider.public_id}/").content.decode()
    )

    url = f"/accounts/two-factor/organizations/{provider.public_id}/requirement/"
    assert analyst_client.post(url, {"required": "on"}).status_code == 403
    assert (
        client.post(
            f"/accounts/two-factor/organizations/{ProviderFactory().public_id}/requirement/",
            {"required": "on"},
        ).status_code
        == 404
    )
    assert client.get(url).status_code == 405
    response = client.post(url, {"required": "on"})
    assert response["Location"] == f"/organizations/{provider.public_id}/"
    provider.refresh_from_db()
    assert provider.requires_two_factor
    # The administrator is a member too: set it up first, like everyone, from the next request.
    assert client.get("/")["Location"].startswith("/accounts/two-factor/setup/")
    # Others signed in now: their session read the rule at login and reads it again within a minute.
    session = analyst_client.session
    session[TWO_FACTOR_STATE_KEY] = {**session[TWO_FACTOR_STATE_KEY], "at": time.time() - 61}
    session.save()
    assert analyst_client.get("/")["Location"].startswith("/accounts/two-factor/setup/")


# --- API --------------------------------------------------------------------------------------------------


def test_token_endpoint_asks_for_the_code_of_a_user_with_two_factor(provider, member_of, clock):
    user = member_of(provider)
    device, backup_codes = enable(user, clock)
    credentials = {"username": user.username, "password": PASSWORD}

    missing = APIClient().post(TOKEN_URL, credentials, format="json")
    assert missing.status_code == 401 and missing.json()["code"] == "otp_required"
    right = code(device, clock)
    wrong = "000000" if right != "000000" else "111111"
    bad = APIClient().post(TOKEN_URL, {**credentials, "otp_token": wrong}, format="json")
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_otp"
    wait_out_throttle(user)
    good = APIClient().post(TOKEN_URL, {**credentials, "otp_token": right}, format="json")
    assert good.status_code == 201 and good.json()["token"]
    backup = APIClient().post(TOKEN_URL, {**credentials, "otp_token": backup_codes[0]}, format="json")
    assert backup.status_code == 201


def test_token_endpoint_refuses_a_member_who_must_set_it_up(provider, member_of):
    user = member_of(provider)
    provider.requires_two_factor = True
    provider.save()
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "two_factor_setup_required"


def test_token_endpoint_is_unchanged_for_users_without_two_factor(provider, member_of):
    user = member_of(provider)
    response = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 201


def test_api_setup_confirm_status_and_disable(provider, member_of, api_for, clock):
    user = member_of(provider)
    api = api_for(user)
    me = api.get("/api/v1/me/").json()
    assert (me["two_factor_enabled"], me["two_factor_required"]) == (False, False)
    assert api.get("/api/v1/me/two-factor/").json() == {
        "enabled": False,
        "required": False,
        "backup_codes_left": 0,
        "pending_setup": False,
    }
    confirm_early = api.post("/api/v1/me/two-factor/confirm/", {"otp_token": "123456"}, format="json")
    assert confirm_early.status_code == 400 and confirm_early.json()["code"] == "two_factor_not_started"

    setup = api.post("/api/v1/me/two-factor/setup/")
    assert setup.status_code == 201
    body = setup.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and body["secret"] in body["otpauth_uri"]
    device = TOTPDevice.objects.get(user=user)
    confirmed = api.post("/api/v1/me/two-factor/confirm/", {"otp_token": code(device, clock)}, format="json")
    assert confirmed.status_code == 200 and len(confirmed.json()["backup_codes"]) == 10
    clock.tick()
    assert api.get("/api/v1/me/two-factor/").json()["enabled"] is True
    assert api.get("/api/v1/me/").json()["two_factor_enabled"] is True
    assert api.post("/api/v1/me/two-factor/setup/").status_code == 409

    regenerated = api.post(
        "/api/v1/me/two-factor/backup-codes/", {"otp_token": code(device, clock)}, format="json"
    )
    assert regenerated.status_code == 200 and set(regenerated.json()["backup_codes"]).isdisjoint(
        confirmed.json()["backup_codes"]
    )
    clock.tick()
    no_code = api.post("/api/v1/me/two-factor/disable/", {}, format="json")
    assert no_code.status_code == 400 and no_code.json()["code"] == "validation_error"
    disabled = api.post("/api/v1/me/two-factor/disable/", {"otp_token": code(device, clock)}, format="json")
    assert disabled.status_code == 204
    assert not two_factor.has_two_factor(user)


def test_api_disable_is_refused_while_required(provider, member_of, api_for, clock):
    user = member_of(provider)
    device, _ = enable(user, clock)
    provider.requires_two_factor = True
    provider.save()
    response = api_for(user).post(
        "/api/v1/me/two-factor/disable/", {"otp_token": code(device, clock)}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "two_factor_required"
    assert api_for(user).get("/api/v1/me/").json()["two_factor_required"] is True


def test_api_organisation_requirement_permission_and_tenancy(payer, provider, member_of, api_for):
    ContractFactory(payer=payer, provider=provider)
    admin = api_for(member_of(provider, Role.ADMIN))
    submitter = api_for(member_of(provider, Role.SUBMITTER))
    url = f"/api/v1/organizations/{provider.public_id}/two-factor-requirement/"

    assert submitter.get(url).json() == {"required": False}
    assert submitter.post(url, {"required": True}, format="json").status_code == 403
    for foreign in (payer, ProviderFactory()):  # a counterparty and a stranger alike
        foreign_url = f"/api/v1/organizations/{foreign.public_id}/two-factor-requirement/"
        assert admin.get(foreign_url).status_code == 404
        assert admin.post(foreign_url, {"required": True}, format="json").status_code == 404
    assert admin.post(url, {}, format="json").status_code == 400
    response = admin.post(url, {"required": True}, format="json")
    assert response.status_code == 200 and response.json() == {"required": True}
    provider.refresh_from_db()
    assert provider.requires_two_factor


def test_schema_documents_the_two_factor_answers_of_the_token_endpoint():
    schema = Client().get("/api/schema/?format=json").json()
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {"201", "401", "403"} <= set(token["responses"])
    assert "otp_required" in token["responses"]["401"]["description"]
    assert "two_factor_setup_required" in token["responses"]["403"]["description"]
    request = schema["components"]["schemas"]["TokenRequestRequest"]["properties"]
    assert "otp_token" in request
    for path in ("/api/v1/me/two-factor/confirm/", "/api/v1/me/two-factor/disable/"):
        assert {"400", "401", "409", "429"} <= set(schema["paths"][path]["post"]["responses"])
