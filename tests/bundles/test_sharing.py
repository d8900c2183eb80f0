"""Sharing a published bundle version on purpose (issue 19, point 3), both ways (a plan with a
provider, a provider with a plan), read-only for the recipient, revocable; and adopting a shared
version as a bundle of one's own (point 4)."""

from __future__ import annotations

import copy

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import OrganizationKind, Role
from accounts.permissions import allows
from bundles import services
from bundles.demo import home_based_definition
from bundles.models import Bundle, BundleVersion, BundleVersionShare, BundleVersionStatus
from core.models import AccessEvent
from tests.factories import PASSWORD, PayerFactory, ProviderFactory
from tests.pricing.conftest import scope_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(analyst):
    """The plan's bundle with v1, v2 (published) and an open draft."""
    scope = scope_of(analyst)
    bundle = services.bundle_create(scope=scope, definition=home_based_definition())
    v1 = services.draft_publish(scope=scope, bundle=bundle)
    services.version_new_draft(scope=scope, version=v1)
    v2 = services.draft_publish(scope=scope, bundle=bundle)
    services.version_new_draft(scope=scope, version=v2)
    return bundle, v1, v2


@pytest.fixture
def recipient(provider, member_of):
    return member_of(provider, Role.ADMIN)


def share_url(bundle, number) -> str:
    return f"/api/v1/bundles/{bundle.public_id}/versions/{number}/shares/"


def share(analyst_api, bundle, number, organization, note="For your review"):
    return analyst_api.post(
        share_url(bundle, number),
        {"organization_id": str(organization.public_id), "note": note},
        format="json",
    )


def provider_owned_version(provider) -> BundleVersion:
    """A bundle a provider owns (what the parallel change lets providers do), made directly."""
    definition = home_based_definition()
    bundle = Bundle.objects.create(
        payer=provider, name="Provider's home program", lines_of_business=definition["lines_of_business"]
    )
    return BundleVersion.objects.create(
        bundle=bundle,
        definition={**definition, "name": "Provider's home program"},
        status=BundleVersionStatus.PUBLISHED,
        number=1,
        published_at=timezone.now(),
    )


def test_recipient_sees_only_the_shared_version_read_only(
    versions, analyst_api, provider, recipient, api_for
):
    bundle, v1, v2 = versions
    response = share(analyst_api, bundle, 2, provider)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["organization"]["id"] == str(provider.public_id) and body["active"] is True
    assert body["links"]["revoke"].endswith(f"/shares/{body['id']}/revoke/")

    client = api_for(recipient)
    detail = client.get(f"/api/v1/bundles/{bundle.public_id}/")
    assert detail.status_code == 200
    assert [v["number"] for v in detail.json()["versions"]] == [2]  # neither v1 nor the draft
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/2/").status_code == 200
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/1/").status_code == 404
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/draft/").status_code == 404
    # the changes from v1 would show v1: not shared, not shown
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/2/diff/").status_code == 404
    # the recipient's bundle list is its own: the shared one is on "Shared with us"
    assert client.get("/api/v1/bundles/").json()["count"] == 0
    shared = client.get("/api/v1/shared-with-us/").json()
    assert [(s["bundle_id"], s["number"], s["owner"]["id"]) for s in shared["bundle_versions"]] == [
        (str(bundle.public_id), 2, str(bundle.payer.public_id))
    ]

    web = Client()
    assert web.login(username=recipient.username, password=PASSWORD)
    page = web.get(f"/bundles/{bundle.public_id}/v/2/").content.decode()
    assert "(read-only)" in page and "Shared by" in page and "Changes from v1" not in page
    assert "New draft from" not in page and "Retire" not in page and 'data-testid="sharing"' not in page
    assert web.get(f"/bundles/{bundle.public_id}/").status_code == 200
    assert web.get(f"/bundles/{bundle.public_id}/v/1/").status_code == 404
    assert web.get(f"/bundles/{bundle.public_id}/v/draft/").status_code == 404
    # the owner's draft is not shared (a provider admin edits bundles, but only its own)
    assert web.get(f"/bundles/{bundle.public_id}/draft/").status_code == 404
    shared_page = web.get("/shared/").content.decode()
    assert f"/bundles/{bundle.public_id}/v/2/" in shared_page


def test_recipient_cannot_change_or_share_on(versions, analyst_api, payer, provider, api_for, member_of):
    bundle, v1, v2 = versions
    assert share(analyst_api, bundle, 2, provider).status_code == 201
    # a recipient plan (every write role) and a recipient provider
    other_plan = PayerFactory()
    assert share(analyst_api, bundle, 2, other_plan).status_code == 400  # a plan shares with providers
    base = f"/api/v1/bundles/{bundle.public_id}"
    for role in (Role.ADMIN, Role.ANALYST):
        client = api_for(member_of(provider, role))
        writes = [
            client.put(f"{base}/draft/", {"definition": home_based_definition()}, format="json"),
            client.delete(f"{base}/draft/"),
            client.post(f"{base}/draft/publish/"),
            client.post(f"{base}/versions/2/new-draft/"),
            client.post(f"{base}/versions/2/retire/"),
            client.post(
                f"{base}/versions/2/shares/",
                {"organization_id": str(PayerFactory().public_id)},
                format="json",
            ),
            client.get(f"{base}/versions/2/shares/"),
        ]
        assert [r.status_code for r in writes] == [403, 403, 403, 403, 403, 403, 404], [
            r.json() for r in writes
        ]
    v2.refresh_from_db()
    assert v2.status == BundleVersionStatus.PUBLISHED
    assert BundleVersion.objects.filter(bundle=bundle).count() == 3
    assert BundleVersionShare.objects.count() == 1


def test_outsiders_get_404_and_revoke_brings_404_back(
    versions, analyst_api, provider, recipient, api_for, member_of
):
    bundle, v1, v2 = versions
    body = share(analyst_api, bundle, 2, provider).json()
    for outsider in (member_of(ProviderFactory(), Role.ADMIN), member_of(PayerFactory(), Role.ANALYST)):
        client = api_for(outsider)
        assert client.get(f"/api/v1/bundles/{bundle.public_id}/").status_code == 404
        assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/2/").status_code == 404
        assert client.post(f"/api/v1/bundles/{bundle.public_id}/versions/2/adopt/").status_code == 404
        assert client.get("/api/v1/shared-with-us/").json()["bundle_versions"] == []
        web = Client()
        assert web.login(username=outsider.username, password=PASSWORD)
        assert web.get(f"/bundles/{bundle.public_id}/v/2/").status_code == 404

    revoked = analyst_api.post(body["links"]["revoke"])
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["revoked_by"]
    client = api_for(recipient)
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/").status_code == 404
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/2/").status_code == 404
    assert client.get("/api/v1/shared-with-us/").json()["bundle_versions"] == []
    again = analyst_api.post(body["links"]["revoke"])
    assert again.status_code == 409 and again.json()["code"] == "share_revoked"

    # sharing again makes a new share; the revoked one stays as it was
    renewed = share(analyst_api, bundle, 2, provider)
    assert renewed.status_code == 201 and renewed.json()["id"] != body["id"]
    listed = analyst_api.get(share_url(bundle, 2)).json()
    assert [s["active"] for s in listed] == [True, False]
    assert client.get(f"/api/v1/bundles/{bundle.public_id}/versions/2/").status_code == 200


def test_what_cannot_be_shared_is_refused_with_its_code(versions, analyst_api, analyst, provider):
    bundle, v1, v2 = versions
    draft = analyst_api.post(
        share_url(bundle, "draft"), {"organization_id": str(provider.public_id)}, format="json"
    )
    assert draft.status_code == 409 and draft.json()["code"] == "version_not_published"
    services.version_retire(scope=scope_of(analyst), version=v1)
    retired = share(analyst_api, bundle, 1, provider)
    assert retired.status_code == 409 and retired.json()["code"] == "version_not_published"
    own = share(analyst_api, bundle, 2, bundle.payer)
    assert own.status_code == 400 and own.json()["code"] == "share_with_own_organization"
    unknown = analyst_api.post(
        share_url(bundle, 2), {"organization_id": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_recipient"
    assert share(analyst_api, bundle, 2, provider).status_code == 201
    twice = share(analyst_api, bundle, 2, provider)
    assert twice.status_code == 409 and twice.json()["code"] == "already_shared"


def test_share_and_revoke_are_in_both_organisations_access_log(versions, analyst_api, analyst, provider):
    bundle, v1, v2 = versions
    body = share(analyst_api, bundle, 2, provider).json()
    analyst_api.post(body["links"]["revoke"])
    for organization in (bundle.payer, provider):
        actions = list(
            AccessEvent.objects.filter(organization=organization, user=analyst)
            .order_by("pk")
            .values_list("action", flat=True)
        )
        assert actions == ["bundle_version.share", "bundle_version.unshare"]
    event = AccessEvent.objects.filter(organization=provider).first()
    assert event.action_label == "Stopped sharing bundle version"


def test_a_provider_shares_with_a_plan_and_the_plan_adopts(
    provider, member_of, api_for, analyst, analyst_api
):
    version = provider_owned_version(provider)
    plan = analyst.memberships.get().organization
    provider_api = api_for(member_of(provider, Role.ANALYST))
    response = share(provider_api, version.bundle, 1, plan, note="Our program, priced for you")
    assert response.status_code == 201, response.json()

    adopted = analyst_api.post(f"/api/v1/bundles/{version.bundle.public_id}/versions/1/adopt/")
    assert adopted.status_code == 201, adopted.json()
    body = adopted.json()
    assert body["adopted_from"] == {
        "bundle_id": str(version.bundle.public_id),
        "bundle_name": version.bundle.name,
        "number": 1,
        "owner": provider.display_name,
    }
    assert [v["status"] for v in body["versions"]] == ["draft"]
    copy_ = Bundle.objects.get(public_id=body["id"])
    assert copy_.payer == plan and copy_.adopted_from == version
    assert copy_.versions.get().definition == version.definition
    original = copy.deepcopy(version.definition)
    # the adopter works on its copy; the original is unchanged and still the provider's
    scope = scope_of(analyst)
    services.draft_update(
        scope=scope, bundle=copy_, definition={**copy_.versions.get().definition, "name": "Ours"}
    )
    version.refresh_from_db()
    assert version.definition == original and version.bundle.payer == provider
    web = Client()
    assert web.login(username=analyst.username, password=PASSWORD)
    page = web.get(f"/bundles/{copy_.public_id}/").content.decode()
    assert f"Adopted from {provider.display_name}" in page and "v1" in page
    own = analyst_api.post(f"/api/v1/bundles/{copy_.public_id}/versions/draft/adopt/")
    assert own.status_code == 400 and own.json()["code"] == "adopt_own_bundle"


def test_an_adopted_draft_saves_without_the_markets_and_publishing_lists_them(
    provider, member_of, api_for, analyst_api, analyst
):
    version = provider_owned_version(provider)
    bare_plan = PayerFactory()  # no markets at all
    share(api_for(member_of(provider, Role.ADMIN)), version.bundle, 1, bare_plan)
    plan_api = api_for(member_of(bare_plan, Role.ANALYST))
    adopted = plan_api.post(f"/api/v1/bundles/{version.bundle.public_id}/versions/1/adopt/")
    assert adopted.status_code == 201
    published = plan_api.post(f"/api/v1/bundles/{adopted.json()['id']}/draft/publish/")
    assert published.status_code == 400 and published.json()["code"] == "incomplete_bundle"
    assert any("market" in p["path"] for p in published.json()["details"]["problems"])


def test_adopting_needs_bundle_edit(versions, analyst_api, provider, member_of, api_for):
    bundle, v1, v2 = versions
    provider_version = provider_owned_version(provider)
    plan = bundle.payer
    share(api_for(member_of(provider, Role.ADMIN)), provider_version.bundle, 1, plan)
    auditor = api_for(member_of(plan, Role.AUDITOR))
    response = auditor.post(f"/api/v1/bundles/{provider_version.bundle.public_id}/versions/1/adopt/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("kind", OrganizationKind.values)
@pytest.mark.parametrize("role", Role.values)
def test_share_permission_matrix(kind, role):
    expected = role in {Role.ADMIN, Role.ANALYST}
    assert allows(role, kind, "bundle.share") is expected
    assert allows(role, kind, "pricing.share") is expected


@pytest.mark.parametrize("role", Role.values)
def test_only_admins_and_analysts_of_the_owner_share(versions, provider, member_of, api_for, role):
    bundle, v1, v2 = versions
    client = api_for(member_of(bundle.payer, role))
    response = share(client, bundle, 2, provider)
    assert response.status_code == (201 if role in {Role.ADMIN, Role.ANALYST} else 403)


def test_share_lists_query_counts(versions, analyst_api, member_of, api_for, django_assert_max_num_queries):
    bundle, v1, v2 = versions
    providers = [ProviderFactory() for _ in range(6)]
    for number in (1, 2):
        for organization in providers[:3]:
            assert share(analyst_api, bundle, number, organization).status_code == 201
    with django_assert_max_num_queries(10):
        assert len(analyst_api.get(share_url(bundle, 2)).json()) == 3
    for organization in providers[3:]:
        share(analyst_api, bundle, 2, organization)
    with django_assert_max_num_queries(10):
        assert len(analyst_api.get(share_url(bundle, 2)).json()) == 6
    recipient = api_for(member_of(providers[0], Role.AUDITOR))
    with django_assert_max_num_queries(8):
        assert len(recipient.get("/api/v1/shared-with-us/").json()["bundle_versions"]) == 2
