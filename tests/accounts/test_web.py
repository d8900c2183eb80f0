"""Web pages: login/logout, the home page by role, tenancy through the web."""

import pytest
from django.test import Client

from accounts.models import Membership, Role
from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_login_page_and_wrong_password(provider, member_of):
    user = member_of(provider)
    client = Client()
    assert client.get("/login/").status_code == 200
    response = client.post("/login/", {"username": user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_home_shows_organisation_and_role(payer, member_of):
    user = member_of(payer, Role.ANALYST)
    response = logged_in(user).get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert payer.legal_name in body
    assert "Analyst / actuary" in body


def test_anonymous_home_redirects_to_login():
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_logout_is_post_only_and_ends_the_session(provider, member_of):
    client = logged_in(member_of(provider))
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_other_providers_pages_are_404(provider, member_of):
    provider_b = ProviderFactory()
    member_of(provider_b)
    client = logged_in(member_of(provider))
    assert client.get(f"/organizations/{provider_b.public_id}/").status_code == 404
    assert client.get(f"/organizations/{provider_b.public_id}/members/").status_code == 404
    assert (
        client.post(
            f"/organizations/{provider_b.public_id}/members/", {"username": "x", "role": "admin"}
        ).status_code
        == 404
    )


def test_submitter_sees_members_but_cannot_add(provider, member_of):
    client = logged_in(member_of(provider, Role.SUBMITTER))
    newcomer = UserFactory()
    page = client.get(f"/organizations/{provider.public_id}/members/")
    assert page.status_code == 200
    assert "Add a person" not in page.content.decode()
    response = client.post(
        f"/organizations/{provider.public_id}/members/", {"username": newcomer.username, "role": "admin"}
    )
    assert response.status_code == 403
    assert not Membership.objects.filter(user=newcomer).exists()


def test_admin_adds_member_and_sees_inline_error(provider, member_of):
    client = logged_in(member_of(provider))
    url = f"/organizations/{provider.public_id}/members/"
    bad = client.post(url, {"username": "ghost", "role": "submitter"})
    assert bad.status_code == 400
    assert "No active user with this username." in bad.content.decode()
    newcomer = UserFactory()
    assert client.post(url, {"username": newcomer.username, "role": "submitter"}).status_code == 302
    assert Membership.objects.get(user=newcomer).role == Role.SUBMITTER


def test_switching_organisation(payer, provider):
    user = UserFactory()
    Membership.objects.create(user=user, organization=payer, role=Role.ANALYST)
    Membership.objects.create(user=user, organization=provider, role=Role.SUBMITTER)
    client = logged_in(user)
    client.post("/switch-organization/", {"organization": str(provider.public_id), "next": "/"})
    assert provider.legal_name in client.get("/").content.decode()
    stranger = ProviderFactory()
    client.post(
        "/switch-organization/", {"organization": str(stranger.public_id), "next": "https://evil.example/"}
    )
    assert provider.legal_name in client.get("/").content.decode()


def test_organization_list_page_query_count(payer, member_of, django_assert_max_num_queries):
    for _ in range(12):
        ContractFactory(payer=payer, provider=ProviderFactory())
    client = logged_in(member_of(payer, Role.ANALYST))
    with django_assert_max_num_queries(8):
        response = client.get("/organizations/")
    assert response.content.decode().count("/organizations/") >= 13


def test_htmx_search_returns_rows_only(payer, member_of):
    ContractFactory(payer=payer, provider=ProviderFactory(legal_name="Findable Hospice"))
    client = logged_in(member_of(payer, Role.ANALYST))
    response = client.get("/organizations/?q=Findable", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Findable Hospice" in body
    assert "<html" not in body


def test_unknown_page_is_friendly_404(provider, member_of):
    response = logged_in(member_of(provider)).get("/no/such/page/")
    assert response.status_code == 404


def test_web_login_locks_after_repeated_failures(provider, member_of):
    user = member_of(provider)
    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert client.get("/").status_code == 302  # still not logged in
