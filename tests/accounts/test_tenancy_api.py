"""Tenancy and roles through the API: another organisation's objects are 404, roles are enforced."""

import pytest

from accounts.models import Membership, Role
from tests.factories import ContractFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_organization_list_shows_own_and_counterparties_only(payer, provider, member_of, api_for):
    stranger = ContractFactory().provider  # a provider with a contract with another plan
    ContractFactory(payer=payer, provider=provider)
    client = api_for(member_of(provider))
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {str(provider.public_id), str(payer.public_id)}
    assert str(stranger.public_id) not in ids


def test_other_providers_organization_and_memberships_are_404(provider, member_of, api_for):
    from tests.factories import ProviderFactory

    provider_b = ProviderFactory()
    member_of(provider_b)
    client = api_for(member_of(provider))
    for url in (
        f"/api/v1/organizations/{provider_b.public_id}/",
        f"/api/v1/organizations/{provider_b.public_id}/memberships/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    membership_b = Membership.objects.get(organization=provider_b)
    response = client.patch(
        f"/api/v1/organizations/{provider_b.public_id}/memberships/{membership_b.public_id}/",
        {"role": "auditor"},
    )
    assert response.status_code == 404
    membership_b.refresh_from_db()
    assert membership_b.role == Role.ADMIN


def test_counterparty_is_visible_but_its_memberships_are_not(payer, provider, member_of, api_for):
    ContractFactory(payer=payer, provider=provider)
    member_of(provider)
    client = api_for(member_of(payer, Role.ANALYST))
    assert client.get(f"/api/v1/organizations/{provider.public_id}/").status_code == 200
    assert client.get(f"/api/v1/organizations/{provider.public_id}/memberships/").status_code == 404


def test_malformed_organization_id_is_404_not_500(provider, member_of, api_for):
    client = api_for(member_of(provider))
    assert client.get("/api/v1/organizations/not-a-uuid/").status_code == 404


def test_submitter_cannot_manage_memberships(provider, member_of, api_for):
    submitter = member_of(provider, Role.SUBMITTER)
    newcomer = UserFactory()
    client = api_for(submitter)
    response = client.post(
        f"/api/v1/organizations/{provider.public_id}/memberships/",
        {"username": newcomer.username, "role": "admin"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Membership.objects.filter(user=newcomer).exists()


def test_admin_adds_changes_and_removes_a_member(provider, member_of, api_for):
    admin = member_of(provider, Role.ADMIN)
    newcomer = UserFactory()
    client = api_for(admin)
    base = f"/api/v1/organizations/{provider.public_id}/memberships/"
    created = client.post(base, {"username": newcomer.username, "role": "submitter"})
    assert created.status_code == 201, created.json()
    membership_id = created.json()["id"]
    assert client.post(base, {"username": newcomer.username, "role": "submitter"}).status_code == 409
    changed = client.patch(f"{base}{membership_id}/", {"role": "auditor"})
    assert changed.json()["role"] == "auditor"
    assert client.delete(f"{base}{membership_id}/").status_code == 204
    assert not Membership.objects.filter(user=newcomer).exists()


def test_last_admin_cannot_be_removed_or_demoted(provider, member_of, api_for):
    admin = member_of(provider, Role.ADMIN)
    client = api_for(admin)
    membership = Membership.objects.get(user=admin)
    url = f"/api/v1/organizations/{provider.public_id}/memberships/{membership.public_id}/"
    assert client.patch(url, {"role": "analyst"}).json()["code"] == "last_admin"
    assert client.delete(url).status_code == 409
    assert Membership.objects.get(pk=membership.pk).role == Role.ADMIN


def test_unknown_username_is_a_field_error(provider, member_of, api_for):
    client = api_for(member_of(provider))
    response = client.post(
        f"/api/v1/organizations/{provider.public_id}/memberships/", {"username": "nobody", "role": "admin"}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {"username": ["No active user with this username."]}


def test_user_in_two_organisations_switches_with_header(payer, provider, api_for):
    user = UserFactory()
    Membership.objects.create(user=user, organization=payer, role=Role.ANALYST)
    Membership.objects.create(user=user, organization=provider, role=Role.SUBMITTER)
    as_payer = api_for(user, payer).get("/api/v1/me/").json()
    as_provider = api_for(user, provider).get("/api/v1/me/").json()
    assert as_payer["active_membership"]["organization"]["id"] == str(payer.public_id)
    assert as_provider["active_membership"]["role"] == "submitter"
    assert len(as_payer["memberships"]) == 2


def test_header_naming_a_foreign_organisation_is_404(payer, provider, member_of, api_for):
    client = api_for(member_of(provider), organization=payer)
    response = client.get("/api/v1/organizations/")
    assert response.status_code == 404
    assert response.json()["code"] == "organization_not_found"


def test_user_without_membership_gets_a_clear_403(api_for):
    response = api_for(UserFactory()).get("/api/v1/organizations/")
    assert response.status_code == 403
    assert response.json()["code"] == "no_membership"


def test_organization_list_query_count_does_not_grow(
    payer, member_of, api_for, django_assert_max_num_queries
):
    from tests.factories import ProviderFactory

    for _ in range(3):
        ContractFactory(payer=payer, provider=ProviderFactory())
    client = api_for(member_of(payer, Role.ANALYST))
    client.get("/api/v1/organizations/")  # warm-up
    with django_assert_max_num_queries(6):
        small = client.get("/api/v1/organizations/")
    for _ in range(20):
        ContractFactory(payer=payer, provider=ProviderFactory())
    with django_assert_max_num_queries(6):
        large = client.get("/api/v1/organizations/")
    assert large.json()["count"] == small.json()["count"] + 20


def test_membership_list_query_count(provider, member_of, api_for, django_assert_max_num_queries):
    admin = member_of(provider)
    for _ in range(15):
        member_of(provider, Role.SUBMITTER)
    client = api_for(admin)
    with django_assert_max_num_queries(7):
        response = client.get(f"/api/v1/organizations/{provider.public_id}/memberships/")
    assert response.json()["count"] == 16
