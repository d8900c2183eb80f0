"""Invitations (invite, resend, revoke, accept, sign up) and member deactivation: services, pages, API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, Role
from accounts.tenancy import Scope, resolve_scope
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

KEY_IN_LINK = re.compile(r"/invitations/([A-Za-z0-9_-]{40,})/")  # a key, not an id (36)
NEW_PASSWORD = "a long and unusual passphrase 42"  # noqa: S105 - a test credential


@pytest.fixture
def admin(provider, member_of):
    user = member_of(provider, Role.ADMIN)
    user.email = "admin@bayview.example.org"
    user.save()
    return user


@pytest.fixture
def admin_scope(admin, provider) -> Scope:
    return Scope(Membership.objects.select_related("organization", "user").get(user=admin))


def invite(scope, email="nurse@bayview.example.org", role=Role.SUBMITTER, *, capture):
    with capture(execute=True):
        return services.invitation_create(
            scope=scope, organization=scope.organization, email=email, role=role
        )


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


# --- services -----------------------------------------------------------------------------------------


def test_invitation_is_emailed_with_a_link_whose_key_is_not_stored(
    admin_scope, django_capture_on_commit_callbacks
):
    invitation, key = invite(
        admin_scope, "Nurse@Bayview.Example.org", capture=django_capture_on_commit_callbacks
    )
    assert invitation.email == "nurse@bayview.example.org"  # one address, whatever its case
    assert invitation.status == "pending"
    assert key not in invitation.key_hash
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["nurse@bayview.example.org"]
    assert admin_scope.organization.display_name in message.subject
    assert KEY_IN_LINK.search(message.body).group(1) == key
    assert "Submitter" in message.body


def test_a_rolled_back_invitation_sends_nothing(admin_scope, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            services.invitation_create(
                scope=admin_scope, organization=admin_scope.organization, email="x@y.org", role=Role.ANALYST
            )
            raise RuntimeError("after the invitation, before the commit")
    assert mail.outbox == []
    assert not Invitation.objects.exists()


def test_second_open_invitation_to_one_address_is_refused(admin_scope, django_capture_on_commit_callbacks):
    invite(admin_scope, capture=django_capture_on_commit_callbacks)
    with pytest.raises(ConflictError) as exc:
        invite(admin_scope, "NURSE@bayview.example.org", capture=django_capture_on_commit_callbacks)
    assert exc.value.code == "already_invited"


def test_inviting_a_current_member_is_refused(admin_scope, admin, django_capture_on_commit_callbacks):
    with pytest.raises(ConflictError) as exc:
        invite(admin_scope, admin.email.upper(), capture=django_capture_on_commit_callbacks)
    assert exc.value.code == "already_member"


def test_only_an_administrator_of_the_organisation_invites(
    provider, payer, member_of, admin_scope, django_capture_on_commit_callbacks
):
    submitter = Scope(Membership.objects.get(user=member_of(provider, Role.SUBMITTER)))
    with pytest.raises(PermissionDeniedError):
        invite(submitter, capture=django_capture_on_commit_callbacks)
    with pytest.raises(NotFoundError):
        services.invitation_create(scope=admin_scope, organization=payer, email="a@b.org", role=Role.ADMIN)


def test_resend_replaces_the_link_and_extends_the_expiry(admin_scope, django_capture_on_commit_callbacks):
    invitation, old_key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    invitation.refresh_from_db()
    assert invitation.status == "expired"
    with django_capture_on_commit_callbacks(execute=True):
        resent, new_key = services.invitation_resend(scope=admin_scope, invitation=invitation)
    assert new_key != old_key
    assert resent.send_count == 2
    assert resent.status == "pending"
    assert resent.expires_at > timezone.now() + timedelta(days=13)
    assert len(mail.outbox) == 2 and new_key in mail.outbox[1].body
    user = UserFactory(email="nurse@bayview.example.org")
    with pytest.raises(NotFoundError):
        services.invitation_accept(key=old_key, user=user)  # the first link stopped working
    assert services.invitation_accept(key=new_key, user=user).role == Role.SUBMITTER


def test_revoked_link_no_longer_works_and_revoking_again_changes_nothing(
    admin_scope, django_capture_on_commit_callbacks
):
    invitation, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    revoked = services.invitation_revoke(scope=admin_scope, invitation=invitation)
    at = revoked.revoked_at
    assert services.invitation_revoke(scope=admin_scope, invitation=invitation).revoked_at == at
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(key=key, user=UserFactory(email=invitation.email))
    assert (exc.value.code, exc.value.status) == ("invitation_closed", 410)
    with pytest.raises(ConflictError):
        services.invitation_resend(scope=admin_scope, invitation=invitation)
    # A new invitation to the same address is allowed once the old one is closed.
    assert invite(admin_scope, capture=django_capture_on_commit_callbacks)[0].pk != invitation.pk


def test_expired_invitation_says_when_it_expired(admin_scope, django_capture_on_commit_callbacks):
    invitation, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    expiry = timezone.now()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=expiry)  # expiry itself is expired
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(key=key, user=UserFactory(email=invitation.email))
    assert exc.value.code == "invitation_expired"
    assert timezone.localdate(expiry).isoformat() in exc.value.message


def test_accepting_needs_the_invited_address_and_happens_once(
    admin_scope, django_capture_on_commit_callbacks
):
    invitation, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(key=key, user=UserFactory(email="someone.else@example.org"))
    assert exc.value.code == "wrong_account"
    user = UserFactory(email="NURSE@bayview.example.org")
    membership = services.invitation_accept(key=key, user=user)
    assert (membership.organization, membership.role, membership.is_active) == (
        admin_scope.organization,
        Role.SUBMITTER,
        True,
    )
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.accepted_by == user
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept(key=key, user=user)
    assert exc.value.code == "invitation_closed"
    with pytest.raises(ConflictError):
        services.invitation_revoke(scope=admin_scope, invitation=invitation)


def test_a_deactivated_member_who_accepts_comes_back_in_the_new_role(
    admin_scope, provider, member_of, django_capture_on_commit_callbacks
):
    user = member_of(provider, Role.SUBMITTER)
    user.email = "back@bayview.example.org"
    user.save()
    membership = Membership.objects.get(user=user)
    services.membership_deactivate(scope=admin_scope, membership=membership)
    _, key = invite(admin_scope, user.email, Role.ANALYST, capture=django_capture_on_commit_callbacks)
    back = services.invitation_accept(key=key, user=user)
    assert back.pk == membership.pk  # the same membership: its history continues
    assert (back.role, back.is_active) == (Role.ANALYST, True)


def test_sign_up_creates_the_account_with_the_invited_address(
    admin_scope, django_capture_on_commit_callbacks
):
    invitation, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept_new_user(key=key, username="nurse", password="short")
    assert exc.value.code == "weak_password" and "password" in exc.value.details
    UserFactory(username="taken")
    with pytest.raises(ApplicationError) as exc:
        services.invitation_accept_new_user(key=key, username="Taken", password=NEW_PASSWORD)
    assert exc.value.code == "username_taken"
    membership = services.invitation_accept_new_user(
        key=key, username="nurse", password=NEW_PASSWORD, first_name="Nia", last_name="Ray"
    )
    assert membership.user.email == invitation.email
    assert membership.user.check_password(NEW_PASSWORD)
    assert membership.user.get_full_name() == "Nia Ray"


def test_sign_up_with_an_address_that_has_an_account_asks_to_sign_in(
    admin_scope, django_capture_on_commit_callbacks
):
    _, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    UserFactory(username="existing", email="nurse@bayview.example.org")
    with pytest.raises(ConflictError) as exc:
        services.invitation_accept_new_user(key=key, username="nurse2", password=NEW_PASSWORD)
    assert exc.value.code == "email_taken"


# --- deactivation ---------------------------------------------------------------------------------------


def test_deactivated_member_can_no_longer_act_and_is_reactivated(admin_scope, provider, member_of):
    user = member_of(provider, Role.ANALYST)
    membership = Membership.objects.get(user=user)
    done = services.membership_deactivate(scope=admin_scope, membership=membership)
    assert done.deactivated_by == admin_scope.user and not done.is_active
    assert services.membership_deactivate(scope=admin_scope, membership=membership).deactivated_at == (
        done.deactivated_at
    )  # again: the same
    assert resolve_scope(user) is None
    assert logged_in(user).get("/").status_code == 403  # no organisation to act for
    services.membership_reactivate(scope=admin_scope, membership=membership)
    assert resolve_scope(user).organization == provider


def test_last_active_administrator_and_oneself_cannot_be_deactivated(admin_scope, provider, member_of):
    with pytest.raises(ConflictError) as exc:
        services.membership_deactivate(scope=admin_scope, membership=admin_scope.membership)
    assert exc.value.code == "self_deactivation"
    other = Membership.objects.get(user=member_of(provider, Role.ADMIN))
    other_scope = Scope(Membership.objects.select_related("organization", "user").get(pk=other.pk))
    services.membership_deactivate(scope=admin_scope, membership=other)
    with pytest.raises(ConflictError):  # the deactivated one cannot act anyway; a third admin:
        services.membership_deactivate(scope=other_scope, membership=admin_scope.membership)
    third = Membership.objects.get(user=member_of(provider, Role.ADMIN))
    third_scope = Scope(Membership.objects.select_related("organization", "user").get(pk=third.pk))
    services.membership_deactivate(scope=third_scope, membership=admin_scope.membership)
    with pytest.raises(ConflictError) as exc:  # a deactivated admin is not one of the admins left
        services.membership_change_role(scope=third_scope, membership=third, role=Role.ANALYST)
    assert exc.value.code == "last_admin"


# --- pages ----------------------------------------------------------------------------------------------


def test_people_page_invites_with_post_redirect_get_and_shows_the_link(admin, provider):
    client = logged_in(admin)
    url = f"/organizations/{provider.public_id}/members/"
    response = client.post(
        f"/organizations/{provider.public_id}/invitations/",
        {"email": "nurse@bayview.example.org", "role": "submitter"},
    )
    assert response.status_code == 302 and response["Location"] == url
    page = client.get(url).content.decode()
    assert "nurse@bayview.example.org" in page
    assert "Pending until" in page
    assert KEY_IN_LINK.search(page)  # the link, shown once to the administrator
    assert "Resend" in page and "Revoke" in page
    assert not KEY_IN_LINK.search(client.get(url).content.decode())  # and not again


def test_people_page_keeps_what_was_typed_on_error(admin, provider):
    response = logged_in(admin).post(
        f"/organizations/{provider.public_id}/invitations/", {"email": "not-an-address", "role": "analyst"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="not-an-address"' in body
    assert 'aria-invalid="true"' in body
    assert '<option value="analyst" selected>' in body
    assert not Invitation.objects.exists()


def test_people_page_resend_revoke_deactivate_reactivate(admin, provider, member_of, settings):
    client = logged_in(admin)
    base = f"/organizations/{provider.public_id}"
    client.post(f"{base}/invitations/", {"email": "n@bayview.example.org", "role": "submitter"})
    invitation = Invitation.objects.get()
    assert client.post(f"{base}/invitations/{invitation.public_id}/resend/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.send_count == 2
    client.post(f"{base}/invitations/{invitation.public_id}/revoke/")
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    response = client.post(f"{base}/invitations/{invitation.public_id}/resend/", follow=True)
    assert "already Revoked" in response.content.decode()  # a refusal is a message, not a 500
    member = Membership.objects.get(user=member_of(provider, Role.SUBMITTER))
    client.post(f"{base}/members/{member.public_id}/deactivate/")
    member.refresh_from_db()
    assert not member.is_active
    assert "Deactivated" in client.get(f"{base}/members/").content.decode()
    client.post(f"{base}/members/{member.public_id}/reactivate/")
    member.refresh_from_db()
    assert member.is_active


def test_non_administrators_see_no_invitations_and_cannot_invite(provider, member_of):
    client = logged_in(member_of(provider, Role.SUBMITTER))
    other = Membership.objects.get(user=member_of(provider, Role.ANALYST))
    refused = client.post(f"/organizations/{provider.public_id}/members/{other.public_id}/deactivate/")
    assert refused.status_code == 403  # not a message after a redirect: the page says why
    other.refresh_from_db()
    assert other.is_active
    page = client.get(f"/organizations/{provider.public_id}/members/").content.decode()
    assert "Invite a person" not in page
    response = client.post(
        f"/organizations/{provider.public_id}/invitations/", {"email": "a@b.org", "role": "admin"}
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_invitee_signs_up_from_the_link_and_lands_in_the_organisation(
    admin_scope, provider, django_capture_on_commit_callbacks
):
    _, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    client = Client()
    page = client.get(f"/invitations/{key}/")
    assert page.status_code == 200
    assert "Join " in page.content.decode() and "Submitter" in page.content.decode()
    typed = {"username": "nurse", "first_name": "Nia", "last_name": "Ray", "password1": "x", "password2": "y"}
    response = client.post(f"/invitations/{key}/", typed)
    assert response.status_code == 400
    assert 'value="nurse"' in response.content.decode()  # kept; the passwords are not echoed
    assert "The two passwords differ." in response.content.decode()
    response = client.post(
        f"/invitations/{key}/", {**typed, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/"
    home = client.get("/").content.decode()
    assert provider.legal_name in home
    # The link is spent.
    assert "no longer valid" in Client().get(f"/invitations/{key}/").content.decode()


def test_signed_in_invitee_accepts_with_one_click(
    admin_scope, provider, payer, member_of, django_capture_on_commit_callbacks
):
    user = member_of(payer, Role.ANALYST)  # already in another organisation: a second membership
    user.email = "nurse@bayview.example.org"
    user.save()
    _, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    client = logged_in(user)
    assert "Accept and join" in client.get(f"/invitations/{key}/").content.decode()
    response = client.post(f"/invitations/{key}/")
    assert response.status_code == 302
    assert set(Membership.objects.filter(user=user).values_list("organization", flat=True)) == {
        payer.pk,
        provider.pk,
    }
    assert provider.legal_name in client.get("/").content.decode()  # now acting for the new one


def test_unknown_link_is_a_clear_404():
    response = Client().get("/invitations/not-a-real-key/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


# --- API ----------------------------------------------------------------------------------------------


def test_api_invite_resend_revoke(admin, provider, api_for, django_capture_on_commit_callbacks):
    api = api_for(admin)
    base = f"/api/v1/organizations/{provider.public_id}/invitations/"
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(base, {"email": "nurse@bayview.example.org", "role": "submitter"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "pending" and body["invited_by"] == admin.username
    assert KEY_IN_LINK.search(body["accept_url"]).group(1) in mail.outbox[0].body
    again = api.post(base, {"email": "nurse@bayview.example.org", "role": "submitter"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_invited")
    bad = api.post(base, {"email": "nope", "role": "boss"}, format="json")
    assert bad.status_code == 400 and {"email", "role"} <= set(bad.json()["details"])
    assert [i["email"] for i in api.get(base).json()["results"]] == ["nurse@bayview.example.org"]
    detail = f"{base}{body['id']}/"
    assert api.get(detail).json()["send_count"] == 1
    resent = api.post(f"{detail}resend/")
    assert resent.status_code == 200 and resent.json()["accept_url"] != body["accept_url"]
    assert api.post(f"{detail}revoke/").json()["status"] == "revoked"
    assert api.post(f"{detail}resend/").status_code == 409


def test_api_accept_by_token_and_by_sign_up(
    admin_scope, payer, member_of, api_for, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    _, key = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    anonymous = APIClient()
    assert anonymous.post("/api/v1/invitations/accept/", {"key": key}, format="json").json()["code"] == (
        "sign_up_needed"
    )
    assert anonymous.post("/api/v1/invitations/accept/", {"key": "nope"}, format="json").status_code == 404
    response = anonymous.post(
        "/api/v1/invitations/accept/",
        {"key": key, "username": "nurse", "password": NEW_PASSWORD},
        format="json",
    )
    assert response.status_code == 201 and response.json()["role"] == "submitter"
    assert anonymous.post("/api/v1/invitations/accept/", {"key": key}, format="json").status_code == 410

    user = member_of(payer, Role.ANALYST)
    user.email = "analyst@bayview.example.org"
    user.save()
    _, key = invite(admin_scope, user.email, Role.ANALYST, capture=django_capture_on_commit_callbacks)
    response = api_for(user).post("/api/v1/invitations/accept/", {"key": key}, format="json")
    assert response.status_code == 201
    assert response.json()["organization"]["id"] == str(admin_scope.organization.public_id)


def test_api_deactivate_and_reactivate(admin, provider, member_of, api_for):
    user = member_of(provider, Role.SUBMITTER)
    membership = Membership.objects.get(user=user)
    api = api_for(admin)
    url = f"/api/v1/organizations/{provider.public_id}/memberships/{membership.public_id}/"
    response = api.post(f"{url}deactivate/")
    assert response.status_code == 200 and response.json()["active"] is False
    refused = api_for(user).get("/api/v1/organizations/")  # no organisation left to act for
    assert (refused.status_code, refused.json()["code"]) == (403, "no_membership")
    assert api.get(url).json()["deactivated_at"] is not None
    assert api.post(f"{url}reactivate/").json()["active"] is True
    own = Membership.objects.get(user=admin)
    response = api.post(f"/api/v1/organizations/{provider.public_id}/memberships/{own.public_id}/deactivate/")
    assert (response.status_code, response.json()["code"]) == (409, "self_deactivation")


def test_api_people_endpoints_are_for_administrators_of_their_own_organisation(
    admin, provider, payer, member_of, api_for, admin_scope, django_capture_on_commit_callbacks
):
    invitation, _ = invite(admin_scope, capture=django_capture_on_commit_callbacks)
    member = Membership.objects.get(user=member_of(provider, Role.SUBMITTER))
    own = f"/api/v1/organizations/{provider.public_id}"
    submitter = api_for(member.user)
    assert submitter.get(f"{own}/invitations/").status_code == 403
    assert (
        submitter.post(
            f"{own}/invitations/", {"email": "a@b.org", "role": "admin"}, format="json"
        ).status_code
        == 403
    )
    foreign = api_for(member_of(payer, Role.ADMIN))
    for path in (
        f"{own}/invitations/",
        f"{own}/invitations/{invitation.public_id}/",
        f"{own}/invitations/{invitation.public_id}/resend/",
        f"{own}/invitations/{invitation.public_id}/revoke/",
        f"{own}/memberships/{member.public_id}/deactivate/",
    ):
        method = foreign.get if path.endswith(("invitations/", f"{invitation.public_id}/")) else foreign.post
        assert method(path).status_code == 404, path
    invitation.refresh_from_db()
    member.refresh_from_db()
    assert (invitation.status, invitation.send_count, member.is_active) == ("pending", 1, True)


def test_invitation_list_queries_do_not_grow_with_invitations(admin, provider, api_for, admin_scope):
    api = api_for(admin)
    client = logged_in(admin)

    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as api_queries:
            assert api.get(f"/api/v1/organizations/{provider.public_id}/invitations/").status_code == 200
        with CaptureQueriesContext(connection) as page_queries:
            assert client.get(f"/organizations/{provider.public_id}/members/").status_code == 200
        return len(api_queries), len(page_queries)

    services.invitation_create(scope=admin_scope, organization=provider, email="a0@x.org", role=Role.ANALYST)
    counts()  # the first request also notes the token's and the session's use
    few = counts()
    for n in range(1, 8):
        services.invitation_create(
            scope=admin_scope, organization=provider, email=f"a{n}@x.org", role=Role.ANALYST
        )
    assert counts() == few
