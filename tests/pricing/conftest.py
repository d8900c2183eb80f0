"""Fixtures for pricing through the platform: a plan with markets, a published bundle version,
a published assumption set with the platform's defaults, an experience upload."""

from __future__ import annotations

import copy

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from bundles import services as bundle_services
from bundles.catalogue import ensure_platform_roles
from bundles.demo import MARKETS, episode_definition, home_based_definition, seed_markets
from bundles.models import IdtRole
from pricing import services
from tests.pricing.engine.conftest import FORMATS_EXAMPLE

EXPERIENCE_CSV = (
    "month,tier,member_months,cost\n"
    "2025-01,1,100,27000\n2025-01,2,60,24000\n2025-01,3,20,13000\n"
    "2025-02,1,110,29000.50\n2025-02,2,55,22500\n2025-02,3,25,16000\n"
)
SPANS_CSV = (
    "member_id,enrollment_start,enrollment_end,disenrollment_reason\n"
    "A1,2025-01-03,2025-01-30,death\nA2,2025-01-10,,\nA3,2025-01-15,2025-02-20,hospice\nA4,2025-02-01,,\n"
)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def formats_example():
    return copy.deepcopy(FORMATS_EXAMPLE)


@pytest.fixture
def plan(payer):
    ensure_platform_roles(IdtRole)  # a transactional test's flush removes the migration's catalogue
    seed_markets(payer, MARKETS)
    return payer


@pytest.fixture
def analyst(plan, member_of):
    return member_of(plan, Role.ANALYST)


@pytest.fixture
def analyst_api(analyst, api_for):
    return api_for(analyst)


def scope_of(user, organization=None) -> Scope:
    memberships = Membership.objects.select_related("organization", "user").filter(user=user)
    if organization is not None:
        memberships = memberships.filter(organization=organization)
    return Scope(memberships.get())


@pytest.fixture
def scope(analyst):
    return scope_of(analyst)


@pytest.fixture
def bundle_version(scope):
    bundle = bundle_services.bundle_create(scope=scope, definition=home_based_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def episode_version(scope):
    bundle = bundle_services.bundle_create(scope=scope, definition=episode_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def assumption_version(scope):
    assumption_set = services.assumption_set_create(scope=scope, name="Plan defaults 2027")
    return services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)


@pytest.fixture
def experience(scope):
    return services.experience_upload(
        scope=scope,
        name="Bayview 2025",
        program_name="Bayview Home Palliative Care",
        file=SimpleUploadedFile("experience.csv", EXPERIENCE_CSV.encode()),
        spans_file=SimpleUploadedFile("spans.csv", SPANS_CSV.encode()),
    )


@pytest.fixture
def start_run(scope, bundle_version, assumption_version):
    """start_run(**kwargs) -> a queued run (not enqueued) of the home-based bundle."""

    def start(**kwargs):
        params = {
            "bundle_version": bundle_version,
            "assumption_set_version": assumption_version,
            "markets": ["URBAN", "RURAL-N"],
            "options": {"simulation_years": 2000},
            "enqueue": False,
        }
        params.update(kwargs)
        return services.pricing_run_start(scope=kwargs.pop("scope", scope), **params)

    return start
