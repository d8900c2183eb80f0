"""The bundle version lifecycle (bundles.states.BUNDLE_VERSION): every declared transition is reachable
through the services; every undeclared one is refused with today's error and never offered on the pages,
which offer exactly the declared actions the role may fire."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from accounts.tenancy import resolve_scope
from bundles import services
from bundles.demo import home_based_definition
from bundles.models import BundleVersion, BundleVersionStatus
from bundles.states import BUNDLE_VERSION
from core.errors import ConflictError
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

# The refusals as the API answered them before the declaration existed.
TODAY_REFUSALS = {
    "edit": ("no_draft", services.NO_DRAFT_MESSAGE),
    "publish": ("no_draft", services.NO_DRAFT_MESSAGE),
    "discard": ("no_draft", services.NO_DRAFT_MESSAGE),
    "new_draft": ("not_published", "Start a new draft from a published version."),
    "retire": ("not_published", services.NOT_PUBLISHED_MESSAGE),
}
UNDECLARED = [
    (status, action)
    for status in BundleVersionStatus.values
    for action in BUNDLE_VERSION.actions
    if not BUNDLE_VERSION.can_fire(action, status)
]


def in_state(scope, status: str) -> BundleVersion:
    """A version in ``status`` through the services; a draft has a published version before it."""
    bundle = services.bundle_create(scope=scope, definition=home_based_definition())
    first = services.draft_publish(scope=scope, bundle=bundle)
    if status == BundleVersionStatus.PUBLISHED:
        return first
    if status == BundleVersionStatus.RETIRED:
        return services.version_retire(scope=scope, version=first)
    return services.version_new_draft(scope=scope, version=first)


def fire(scope, action: str, version: BundleVersion):
    bundle = version.bundle
    return {
        "edit": lambda: services.draft_update(scope=scope, bundle=bundle, definition=version.definition),
        "publish": lambda: services.draft_publish(scope=scope, bundle=bundle),
        "discard": lambda: services.draft_discard(scope=scope, bundle=bundle),
        "new_draft": lambda: services.version_new_draft(scope=scope, version=version),
        "retire": lambda: services.version_retire(scope=scope, version=version),
    }[action]()


def offered(client: Client, version: BundleVersion) -> set[str]:
    """The actions the version's pages offer (its page, and the editor for a draft)."""
    base = f"/bundles/{version.bundle.public_id}/"
    label = version.number or "draft"
    markers = {
        "edit": f'href="{base}draft/"',
        "publish": f'action="{base}draft/publish/"',
        "discard": f'action="{base}draft/discard/"',
        "new_draft": f'action="{base}v/{label}/new-draft/"',
        "retire": f'action="{base}v/{label}/retire/"',
    }
    page = client.get(f"{base}v/{label}/")
    assert page.status_code == 200
    html = page.content.decode()
    if version.is_draft:
        editor = client.get(f"{base}draft/")
        html += editor.content.decode() if editor.status_code == 200 else ""
    return {action for action, marker in markers.items() if marker in html}


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def scope(analyst):
    return resolve_scope(analyst)


def test_the_declaration_covers_every_status():
    assert set(BUNDLE_VERSION.states) == set(BundleVersionStatus.values)
    assert BUNDLE_VERSION.final_states() == frozenset()  # a retired version can still start a draft


@pytest.mark.parametrize(
    "status, action, target", BUNDLE_VERSION.moves(), ids=lambda v: str(v) if isinstance(v, str) else None
)
def test_every_declared_transition_is_reachable_through_the_services(scope, status, action, target):
    version = in_state(scope, status)
    assert version.status == status
    fire(scope, action, version)
    if action == "discard":
        assert not BundleVersion.objects.filter(pk=version.pk).exists()
        return
    version.refresh_from_db()
    assert version.status == target
    if action == "new_draft":
        assert BundleVersion.objects.get(bundle=version.bundle, status="draft").based_on_id == version.pk


@pytest.mark.parametrize("status, action", UNDECLARED, ids=[f"{s}-{a}" for s, a in UNDECLARED])
def test_every_undeclared_transition_is_refused_and_not_offered(scope, analyst, status, action):
    version = in_state(scope, status)
    with pytest.raises(ConflictError) as caught:
        fire(scope, action, version)
    assert (caught.value.code, caught.value.message) == TODAY_REFUSALS[action]
    assert caught.value.status == 409
    version.refresh_from_db()
    assert version.status == status
    assert action not in offered(logged_in(analyst), version)


@pytest.mark.parametrize("status", BundleVersionStatus.values)
def test_the_pages_offer_exactly_the_declared_actions_the_role_may_fire(
    scope, analyst, payer, member_of, status
):
    version = in_state(scope, status)
    expected = set(BUNDLE_VERSION.actions_for(status, can=scope.can))
    assert expected  # the analyst may do something in every status
    assert offered(logged_in(analyst), version) == expected
    auditor = member_of(payer, Role.AUDITOR)
    assert BUNDLE_VERSION.actions_for(status, can=resolve_scope(auditor).can) == []
    assert offered(logged_in(auditor), version) == set()
