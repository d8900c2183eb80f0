"""Pricing is its owner's: another plan and any provider get 404 on every pricing object, through
the API and the web; a provider prices only its own bundles; read-only roles read but change nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from pricing import services
from tests.factories import PASSWORD, ContractFactory, PayerFactory, ProviderFactory
from tests.pricing.test_pricing_runs_api import body_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(scope, start_run, experience, assumption_version):
    run = start_run(experience=experience, markets=["URBAN"])
    services.pricing_run_execute(run_id=run.pk)
    queued = start_run(markets=["URBAN"])
    assumption_set = assumption_version.assumption_set
    services.assumption_version_new_draft(scope=scope, version=assumption_version)
    return {"run": run, "queued": queued, "set": assumption_set, "experience": experience}


def api_urls(o) -> list[tuple[str, str]]:
    s, e, r, q = o["set"].public_id, o["experience"].public_id, o["run"].public_id, o["queued"].public_id
    base = "/api/v1/pricing"
    return [
        ("get", f"{base}/assumption-sets/{s}/"),
        ("get", f"{base}/assumption-sets/{s}/draft/"),
        ("put", f"{base}/assumption-sets/{s}/draft/"),
        ("post", f"{base}/assumption-sets/{s}/draft/publish/"),
        ("get", f"{base}/assumption-sets/{s}/versions/1/"),
        ("post", f"{base}/assumption-sets/{s}/versions/1/new-draft/"),
        ("get", f"{base}/assumption-sets/{s}/versions/1/export/"),
        ("get", f"{base}/experience/{e}/"),
        ("get", f"{base}/experience/{e}/file/"),
        ("get", f"{base}/runs/{r}/"),
        ("get", f"{base}/runs/{r}/inputs/"),
        ("get", f"{base}/runs/{r}/report.pdf"),
        ("post", f"{base}/runs/{q}/cancel/"),
    ]


def web_urls(o) -> list[tuple[str, str]]:
    s, e, r, q = o["set"].public_id, o["experience"].public_id, o["run"].public_id, o["queued"].public_id
    return [
        ("get", f"/pricing/assumptions/{s}/"),
        ("get", f"/pricing/assumptions/{s}/draft/"),
        ("post", f"/pricing/assumptions/{s}/draft/"),
        ("post", f"/pricing/assumptions/{s}/versions/1/new-draft/"),
        ("get", f"/pricing/assumptions/{s}/versions/1/export.json"),
        ("get", f"/pricing/experience/{e}/"),
        ("get", f"/pricing/experience/{e}/file/"),
        ("get", f"/pricing/runs/{r}/"),
        ("get", f"/pricing/runs/{r}/progress/"),
        ("get", f"/pricing/runs/{r}/inputs.json"),
        ("get", f"/pricing/runs/{r}/report.pdf"),
        ("post", f"/pricing/runs/{q}/cancel/"),
    ]


def outsiders(plan, member_of):
    contracted = ProviderFactory()
    ContractFactory(payer=plan, provider=contracted)
    return {
        "other plan analyst": member_of(PayerFactory(), Role.ANALYST),
        "other plan admin": member_of(PayerFactory(), Role.ADMIN),
        "provider admin": member_of(ProviderFactory(), Role.ADMIN),
        "contracted provider admin": member_of(contracted, Role.ADMIN),
    }


def test_every_pricing_object_endpoint_is_404_for_other_organisations(objects, plan, member_of, api_for):
    for who, user in outsiders(plan, member_of).items():
        client = api_for(user)
        for method, url in api_urls(objects):
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == 404, (who, method, url, response.status_code)
            assert response.json()["code"] == "not_found"


def test_every_pricing_page_is_404_for_other_organisations(objects, plan, member_of):
    for who, user in outsiders(plan, member_of).items():
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        for method, url in web_urls(objects):
            assert getattr(client, method)(url).status_code == 404, (who, method, url)


def test_a_provider_prices_only_what_it_owns(objects, member_of, api_for, bundle_version, assumption_version):
    """Providers price their own bundles (tests/pricing/test_provider_pricing.py); a plan's stay 404."""
    client = api_for(member_of(ProviderFactory(), Role.ADMIN))
    response = client.post(
        "/api/v1/pricing/runs/", body_for(bundle_version, assumption_version), format="json"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    for url in ("/api/v1/pricing/runs/", "/api/v1/pricing/assumption-sets/", "/api/v1/pricing/experience/"):
        listing = client.get(url)
        assert listing.status_code == 200 and listing.json()["count"] == 0, url
    web = Client()
    user = member_of(ProviderFactory(), Role.ADMIN)
    assert web.login(username=user.username, password=PASSWORD)
    assert web.get("/pricing/").status_code == 200
    assert web.get("/pricing/runs/new/").status_code == 200
    assert "Pricing" in web.get("/").content.decode().split('aria-label="Main"')[1].split("</nav>")[0]


def test_another_plan_cannot_price_this_plans_bundle(
    objects, member_of, api_for, bundle_version, assumption_version
):
    client = api_for(member_of(PayerFactory(), Role.ANALYST))
    response = client.post(
        "/api/v1/pricing/runs/", body_for(bundle_version, assumption_version), format="json"
    )
    assert response.status_code == 404


def test_an_auditor_reads_everything_and_changes_nothing(objects, plan, member_of, api_for):
    client = api_for(member_of(plan, Role.AUDITOR))
    for method, url in api_urls(objects):
        response = getattr(client, method)(url, {}, format="json")
        expected = 200 if method == "get" else 403
        assert response.status_code == expected, (method, url, response.status_code)
    assert client.get("/api/v1/pricing/runs/").json()["count"] == 2


def test_lists_show_only_the_plans_own(objects, member_of, api_for):
    client = api_for(member_of(PayerFactory(), Role.ANALYST))
    for url in ("/api/v1/pricing/runs/", "/api/v1/pricing/assumption-sets/", "/api/v1/pricing/experience/"):
        assert client.get(url).json()["count"] == 0
