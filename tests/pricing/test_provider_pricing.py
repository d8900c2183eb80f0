"""A provider defines its own service model as a bundle and prices it on its own costs (issue 19,
points 1, 2 and 6): the whole flow through the API and the page, and tenancy both ways (a plan
never sees a provider's bundles or runs, nor another provider). The break-even arithmetic by hand:
tests/pricing/engine/test_breakeven.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import Role
from accounts.permissions import allows
from bundles.demo import MARKETS, home_based_definition, seed_markets
from bundles.models import Bundle
from tests.factories import PASSWORD, PayerFactory, ProviderFactory
from tests.pricing.test_pricing_runs_api import execute

pytestmark = pytest.mark.django_db


@pytest.fixture
def rural_provider():
    provider = ProviderFactory()
    seed_markets(provider, MARKETS)
    return provider


@pytest.fixture
def provider_admin(rural_provider, member_of):
    return member_of(rural_provider, Role.ADMIN)


def price_own_bundle(client) -> tuple[dict, dict]:
    """Bundle, assumption set and a run, all the provider's own, through the API; the run executed."""
    bundle = client.post("/api/v1/bundles/", {"definition": home_based_definition()}, format="json")
    assert bundle.status_code == 201, bundle.json()
    bundle_id = bundle.json()["bundle_id"]
    published = client.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    assert published.status_code == 201, published.json()
    assumptions = client.post("/api/v1/pricing/assumption-sets/", {"name": "Our costs 2027"}, format="json")
    assert assumptions.status_code == 201, assumptions.json()
    set_id = assumptions.json()["assumption_set_id"]
    assert client.post(f"/api/v1/pricing/assumption-sets/{set_id}/draft/publish/").status_code == 201
    started = client.post(
        "/api/v1/pricing/runs/",
        {
            "bundle_id": bundle_id,
            "bundle_version": 1,
            "assumption_set_id": set_id,
            "assumption_set_version": 1,
            "markets": ["RURAL-N"],
            "options": {
                "simulation_years": 2000,
                "enrollees_per_year": {"RURAL-N": 25},
                "fixed_annual_cost": "60000",
                "first_year": True,
            },
        },
        format="json",
    )
    assert started.status_code == 202, started.json()
    run = execute(started.json()["id"])
    assert run.succeeded, run.error
    return bundle.json(), client.get(f"/api/v1/pricing/runs/{run.public_id}/").json()


def test_a_provider_prices_its_own_bundle_and_sees_break_even(provider_admin, rural_provider, api_for):
    client = api_for(provider_admin)
    bundle, run = price_own_bundle(client)
    assert Bundle.objects.get(public_id=bundle["bundle_id"]).payer == rural_provider  # owned by the provider
    economics = run["provider_economics"]
    assert economics["fixed_annual_cost"] == "60000.00"
    assert economics["enrollees"] == "25.0"
    cells = economics["cells"]
    assert {c["market"] for c in cells} == {"RURAL-N"} and len(cells) == 6  # 3 tiers x 2 lines
    for cell in cells:  # the quoted rate carries a margin over cost; fixed cost adds on top of cost
        assert Decimal(cell["cost_pmpm"]) < Decimal(cell["rate_pmpm"]) < Decimal(cell["breakeven_pmpm"])
    # 25 enrollees a year do not cover 60,000 of fixed cost at a 3% margin
    assert Decimal(economics["expected_result"]) < 0
    assert economics["breakeven_enrollees"] > 25

    web = Client()
    assert web.login(username=provider_admin.username, password=PASSWORD)
    page = web.get(f"/pricing/runs/{run['id']}/").content.decode()
    assert "What this bundle costs you, and what breaks even" in page
    # the provider's figures lead the page, before the rates
    assert page.index('data-testid="economics"') < page.index('id="rates-h"')
    assert f'data-testid="breakeven-enrollees">{economics["breakeven_enrollees"]}<' in page
    assert "(first year)" in page


def test_a_plans_run_shows_the_providers_side_after_its_own_figures(analyst, start_run):
    from pricing import services

    run = start_run(markets=["URBAN"])
    services.pricing_run_execute(run_id=run.pk)
    web = Client()
    assert web.login(username=analyst.username, password=PASSWORD)
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert "The provider's side: cost and break-even" in page
    assert page.index('id="rates-h"') < page.index('data-testid="economics"')


def test_provider_bundles_and_runs_are_private(provider_admin, member_of, api_for, bundle_version):
    bundle, run = price_own_bundle(api_for(provider_admin))
    outsiders = {
        "plan analyst": member_of(PayerFactory(), Role.ANALYST),
        "other provider admin": member_of(ProviderFactory(), Role.ADMIN),
    }
    urls = [
        f"/api/v1/bundles/{bundle['bundle_id']}/",
        f"/api/v1/bundles/{bundle['bundle_id']}/versions/1/",
        f"/api/v1/pricing/runs/{run['id']}/",
        f"/api/v1/pricing/runs/{run['id']}/inputs/",
        f"/api/v1/pricing/assumption-sets/{run['assumption_set']['id']}/",
    ]
    for who, user in outsiders.items():
        client = api_for(user)
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
        assert client.get("/api/v1/pricing/runs/").json()["count"] == 0, who
        assert bundle["bundle_id"] not in {
            b["id"] for b in client.get("/api/v1/bundles/").json()["results"]
        }, who
        web = Client()
        assert web.login(username=user.username, password=PASSWORD)
        assert web.get(f"/pricing/runs/{run['id']}/").status_code == 404, who
        assert web.get(f"/bundles/{bundle['bundle_id']}/").status_code == 404, who
    # nor does the provider see, or price, a plan's bundle it holds no contract on
    own = api_for(provider_admin)
    plan_bundle = bundle_version.bundle.public_id
    assert own.get(f"/api/v1/bundles/{plan_bundle}/").status_code == 404
    started = own.post(
        "/api/v1/pricing/runs/",
        {
            "bundle_id": str(plan_bundle),
            "bundle_version": 1,
            "assumption_set_id": run["assumption_set"]["id"],
            "assumption_set_version": 1,
        },
        format="json",
    )
    assert started.status_code == 404


@pytest.mark.parametrize("role", [Role.SUBMITTER, Role.AUDITOR, Role.CONTRACT_MANAGER])
def test_provider_readers_see_pricing_but_change_nothing(
    role, provider_admin, rural_provider, member_of, api_for
):
    bundle, run = price_own_bundle(api_for(provider_admin))
    client = api_for(member_of(rural_provider, role))
    assert client.get(f"/api/v1/pricing/runs/{run['id']}/").status_code == 200
    assert client.get("/api/v1/pricing/runs/").json()["count"] == 1
    refused = client.post("/api/v1/bundles/", {"definition": home_based_definition()}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    refused = client.post("/api/v1/pricing/assumption-sets/", {"name": "x"}, format="json")
    assert refused.status_code == 403


@pytest.mark.parametrize("kind", ["payer", "provider"])
@pytest.mark.parametrize("role", list(Role))
def test_bundle_and_pricing_actions_for_every_role_of_both_kinds(kind, role):
    """One map: admins and analysts of either kind edit and price what they own; everyone reads."""
    writers = role in (Role.ADMIN, Role.ANALYST)
    for action in ("bundle.edit", "bundle.publish", "pricing.run", "pricing.edit"):
        assert allows(role, kind, action) is writers, (action, role, kind)
    for action in ("bundle.view", "pricing.view", "pricing.quote"):
        assert allows(role, kind, action), (action, role, kind)
