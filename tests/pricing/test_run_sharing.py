"""Sharing a succeeded pricing run on purpose (issue 19, point 3): the recipient reads the run and its
report (detail, page, PDF, inputs) and nothing that hangs off it beyond that (what-if, sensitivity,
cancel: 404), changes nothing, shares nothing on; a revoke makes it 404 again. Both ways: a plan
with a provider, a provider with a plan."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from core.models import AccessEvent
from pricing import services
from pricing.models import PricingRun, PricingRunShare, PricingRunStatus
from tests.factories import PASSWORD, PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(start_run):
    queued = start_run(markets=["URBAN"])
    services.pricing_run_execute(run_id=queued.pk)
    queued.refresh_from_db()
    assert queued.succeeded
    return queued


def shares_url(run) -> str:
    return f"/api/v1/pricing/runs/{run.public_id}/shares/"


def share(client, run, organization, note="Our rates for 2027"):
    return client.post(
        shares_url(run), {"organization_id": str(organization.public_id), "note": note}, format="json"
    )


def read_urls(run) -> list[str]:
    r = run.public_id
    return [
        f"/api/v1/pricing/runs/{r}/",
        f"/api/v1/pricing/runs/{r}/report.pdf",
        f"/api/v1/pricing/runs/{r}/inputs/",
    ]


def web_read_urls(run) -> list[str]:
    r = run.public_id
    return [
        f"/pricing/runs/{r}/",
        f"/pricing/runs/{r}/progress/",
        f"/pricing/runs/{r}/report.pdf",
        f"/pricing/runs/{r}/inputs.json",
    ]


def owner_only(run) -> list[tuple[str, str]]:
    """What hangs off a run beyond its report: 404 for a recipient, as for a stranger."""
    r = run.public_id
    return [
        ("post", f"/api/v1/pricing/runs/{r}/cancel/"),
        ("get", f"/api/v1/pricing/runs/{r}/sensitivity/"),
        ("post", f"/api/v1/pricing/runs/{r}/sensitivity/"),
        ("post", f"/api/v1/pricing/runs/{r}/what-if/"),
        ("get", f"/api/v1/pricing/runs/{r}/shares/"),
    ]


def web_owner_only(run) -> list[tuple[str, str]]:
    r = run.public_id
    return [
        ("get", f"/pricing/runs/{r}/what-if/"),
        ("get", f"/pricing/runs/{r}/what-if/quote/"),
        ("post", f"/pricing/runs/{r}/sensitivity/"),
        ("post", f"/pricing/runs/{r}/cancel/"),
    ]


def web_client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def provider_owned_run(run, provider) -> PricingRun:
    """A succeeded run a provider owns (what the parallel change lets providers do), made directly."""
    fields = ["bundle_version", "assumption_set_version", "markets", "lobs", "seed", "options"]
    fields += ["engine_version", "inputs", "inputs_hash", "result", "progress", "finished_at"]
    return PricingRun.objects.create(
        payer=provider, status=PricingRunStatus.SUCCEEDED, **{f: getattr(run, f) for f in fields}
    )


def test_a_provider_reads_a_shared_run_and_its_report_only(run, analyst_api, provider, member_of, api_for):
    response = share(analyst_api, run, provider)
    assert response.status_code == 201, response.json()
    assert response.json()["links"]["revoke"].endswith(f"/shares/{response.json()['id']}/revoke/")
    for role in Role.values:  # receiving needs no action: every role of the recipient reads
        user = member_of(provider, role)
        client = api_for(user)
        for url in read_urls(run):
            assert client.get(url).status_code == 200, (role, url)
        for method, url in owner_only(run):
            assert getattr(client, method)(url, {}, format="json").status_code == 404, (role, method, url)
        web = web_client(user)
        for url in web_read_urls(run):
            assert web.get(url).status_code == 200, (role, url)
        for method, url in web_owner_only(run):
            assert getattr(web, method)(url).status_code == 404, (role, method, url)
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert "(read-only)" in page and "Shared by" in page
    assert 'data-testid="what-if-link"' not in page and 'data-testid="sharing"' not in page
    assert 'data-testid="sensitivity-form"' not in page
    shared = web.get("/shared/").content.decode()
    assert f"/pricing/runs/{run.public_id}/" in shared


def test_a_recipient_cannot_share_on_and_lists_stay_its_own(run, analyst_api, plan, member_of, api_for):
    other_plan = PayerFactory()
    provider_run = provider_owned_run(run, ProviderFactory())
    provider_api = api_for(member_of(provider_run.payer, Role.ADMIN))
    assert share(provider_api, provider_run, other_plan).status_code == 201
    recipient = api_for(member_of(other_plan, Role.ANALYST))
    assert recipient.get(f"/api/v1/pricing/runs/{provider_run.public_id}/").status_code == 200
    onward = share(recipient, provider_run, ProviderFactory())
    assert onward.status_code == 403 and onward.json()["code"] == "permission_denied"
    assert recipient.get("/api/v1/pricing/runs/").json()["count"] == 0
    assert PricingRunShare.objects.count() == 1
    # a shared run is never a contract's rates (the rate pickers read the organisation's own runs)
    from pricing.selectors import pricing_run_rate_table
    from tests.pricing.conftest import scope_of

    recipient_user = other_plan.memberships.get().user
    with pytest.raises(Exception, match="Not found"):
        pricing_run_rate_table(scope=scope_of(recipient_user), run_id=provider_run.public_id)


def test_a_plan_recipient_compares_a_shared_run_with_its_own(run, start_run, analyst_api, member_of, api_for):
    provider_run = provider_owned_run(run, ProviderFactory())
    share(api_for(member_of(provider_run.payer, Role.ANALYST)), provider_run, run.payer)
    ids = f"{run.public_id},{provider_run.public_id}"
    response = analyst_api.get(f"/api/v1/pricing/comparison/?runs={ids}")
    assert response.status_code == 200, response.json()


def test_outsiders_get_404_and_a_revoke_brings_it_back(run, analyst_api, provider, member_of, api_for):
    body = share(analyst_api, run, provider).json()
    for outsider in (
        member_of(ProviderFactory(), Role.ADMIN),
        member_of(PayerFactory(), Role.ANALYST),
        member_of(PayerFactory(), Role.ADMIN),
    ):
        client = api_for(outsider)
        for url in read_urls(run):
            assert client.get(url).status_code == 404, url
        assert share(client, run, ProviderFactory()).status_code == 404
        assert client.post(body["links"]["revoke"]).status_code == 404
        assert client.get("/api/v1/shared-with-us/").json()["pricing_runs"] == []
        for url in web_read_urls(run):
            assert web_client(outsider).get(url).status_code == 404, url

    recipient = member_of(provider, Role.ADMIN)
    client = api_for(recipient)
    assert client.get("/api/v1/shared-with-us/").json()["pricing_runs"][0]["run_id"] == str(run.public_id)
    revoked = analyst_api.post(body["links"]["revoke"])
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    for url in read_urls(run):
        assert client.get(url).status_code == 404, url
    assert web_client(recipient).get(f"/pricing/runs/{run.public_id}/").status_code == 404
    assert client.get("/api/v1/shared-with-us/").json()["pricing_runs"] == []
    again = analyst_api.post(body["links"]["revoke"])
    assert again.status_code == 409 and again.json()["code"] == "share_revoked"
    renewed = share(analyst_api, run, provider)
    assert renewed.status_code == 201 and renewed.json()["id"] != body["id"]
    assert [s["active"] for s in analyst_api.get(shares_url(run)).json()] == [True, False]
    assert client.get(f"/api/v1/pricing/runs/{run.public_id}/").status_code == 200


def test_what_cannot_be_shared_is_refused_with_its_code(run, start_run, analyst_api, plan, provider):
    queued = start_run(markets=["URBAN"])
    unfinished = share(analyst_api, queued, provider)
    assert unfinished.status_code == 409 and unfinished.json()["code"] == "run_not_succeeded"
    own = share(analyst_api, run, plan)
    assert own.status_code == 400 and own.json()["code"] == "share_with_own_organization"
    another_plan = share(analyst_api, run, PayerFactory())
    assert another_plan.status_code == 400 and another_plan.json()["code"] == "unknown_recipient"
    assert share(analyst_api, run, provider).status_code == 201
    twice = share(analyst_api, run, provider)
    assert twice.status_code == 409 and twice.json()["code"] == "already_shared"


@pytest.mark.parametrize("role", Role.values)
def test_only_admins_and_analysts_of_the_owner_share(run, plan, provider, member_of, api_for, role):
    response = share(api_for(member_of(plan, role)), run, provider)
    assert response.status_code == (201 if role in {Role.ADMIN, Role.ANALYST} else 403), response.json()


@pytest.mark.parametrize("role", Role.values)
def test_a_providers_admins_and_analysts_share_its_run_with_a_plan(run, provider, member_of, api_for, role):
    provider_run = provider_owned_run(run, provider)
    response = share(api_for(member_of(provider, role)), provider_run, PayerFactory())
    assert response.status_code == (201 if role in {Role.ADMIN, Role.ANALYST} else 403), response.json()


def test_share_and_revoke_are_in_both_organisations_access_log(run, analyst_api, analyst, plan, provider):
    body = share(analyst_api, run, provider).json()
    analyst_api.post(body["links"]["revoke"])
    for organization in (plan, provider):
        events = AccessEvent.objects.filter(organization=organization, object_id=str(run.public_id))
        assert list(events.order_by("pk").values_list("action", flat=True)) == [
            "pricing_run.share",
            "pricing_run.unshare",
        ]
        assert all(e.user == analyst for e in events)


def test_the_owner_page_has_the_sharing_panel(run, analyst, provider, analyst_api):
    share(analyst_api, run, provider, note="For the program")
    page = web_client(analyst).get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert 'data-testid="sharing"' in page and provider.display_name in page and "Revoke" in page
    # the htmx form answers with the panel; an error stays in it (422)
    response = web_client(analyst).post(
        f"/pricing/runs/{run.public_id}/shares/",
        {"organization_id": str(provider.public_id)},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and "already shared" in response.content.decode()


def test_share_lists_query_counts(run, analyst_api, member_of, api_for, django_assert_max_num_queries):
    providers = [ProviderFactory() for _ in range(6)]
    for organization in providers[:3]:
        share(analyst_api, run, organization)
    with django_assert_max_num_queries(8):
        assert len(analyst_api.get(shares_url(run)).json()) == 3
    for organization in providers[3:]:
        share(analyst_api, run, organization)
    with django_assert_max_num_queries(8):
        assert len(analyst_api.get(shares_url(run)).json()) == 6
    recipient = api_for(member_of(providers[0], Role.SUBMITTER))
    with django_assert_max_num_queries(8):
        assert len(recipient.get("/api/v1/shared-with-us/").json()["pricing_runs"]) == 1
