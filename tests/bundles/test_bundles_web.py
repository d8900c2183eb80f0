"""Bundle pages: list, create, grid editing with validation in place, publish, diff, import/export, tenancy."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role
from bundles import services
from bundles.models import Bundle, BundleVersion
from tests.factories import PASSWORD, PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def client(analyst):
    return logged_in(analyst)


@pytest.fixture
def draft_bundle(analyst, complete_definition):
    from accounts.tenancy import resolve_scope

    return services.bundle_create(scope=resolve_scope(analyst), definition=complete_definition)


def test_create_bundle_from_the_form(client):
    response = client.post(
        "/bundles/new/",
        {
            "name": "Rural home program",
            "lines_of_business": ["medicaid"],
            "markets": ["RURAL-N"],
            "period": "monthly",
            "tiers": "2",
        },
    )
    bundle = Bundle.objects.get(name="Rural home program")
    assert response.status_code == 302 and response["Location"] == f"/bundles/{bundle.public_id}/draft/"
    draft = bundle.versions.get()
    assert [t["code"] for t in draft.definition["tiers"]] == ["1", "2"]
    assert {r["role"] for r in draft.definition["roles"]} >= {"np", "rn", "lcsw", "chaplain"}


def test_create_with_errors_shows_them_and_creates_nothing(client):
    response = client.post("/bundles/new/", {"name": "", "period": "episode", "days": "0"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "The bundle needs a name." in body and "Must be at least 1." in body
    assert not Bundle.objects.exists()


def test_grid_cell_edit_saves_and_updates_totals(client, draft_bundle):
    url = f"/bundles/{draft_bundle.public_id}/draft/cell/"
    response = client.post(
        url, {"role": "np", "tier": "1", "field": "visits_per_mm", "value": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="td-v-np-1"' in body and 'hx-swap-oob="true"' in body and "<html" not in body
    draft = BundleVersion.objects.get(bundle=draft_bundle, status="draft")
    assert draft.definition["roles"][1]["by_tier"]["1"]["visits_per_mm"] == "1"


def test_grid_cell_with_bad_value_shows_error_in_place_and_saves_nothing(client, draft_bundle):
    url = f"/bundles/{draft_bundle.public_id}/draft/cell/"
    response = client.post(
        url,
        {"role": "rn", "tier": "2", "field": "coordination_minutes_per_mm", "value": "-5"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert 'id="c-rn-2"' in body and 'aria-invalid="true"' in body and "Must be at least 0." in body
    draft = BundleVersion.objects.get(bundle=draft_bundle, status="draft")
    assert draft.definition["roles"][2]["by_tier"]["2"]["coordination_minutes_per_mm"] == "45"


def test_publish_incomplete_lists_problems_then_complete_publishes(client, analyst, draft_bundle):
    url = f"/bundles/{draft_bundle.public_id}/draft/"
    client.post(url + "assessment/", {"assessment_role": ["np"], "minutes_np": ""})
    response = client.post(url + "publish/", HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "Define the initial assessment" in response.content.decode()
    client.post(url + "assessment/", {"assessment_role": ["np"], "minutes_np": "90", "home": "on"})
    response = client.post(url + "publish/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/bundles/{draft_bundle.public_id}/v/1/"
    page = client.get(response["HX-Redirect"]).content.decode()
    assert "v1 · Published" in page and "Minutes per member-month" in page


def test_new_draft_and_diff_page(client, analyst, draft_bundle):
    from accounts.tenancy import resolve_scope

    services.draft_publish(scope=resolve_scope(analyst), bundle=draft_bundle)
    assert client.post(f"/bundles/{draft_bundle.public_id}/v/1/new-draft/").status_code == 302
    client.post(
        f"/bundles/{draft_bundle.public_id}/draft/cell/",
        {"role": "chaplain", "tier": "3", "field": "visits_per_mm", "value": "2"},
    )
    page = client.get(f"/bundles/{draft_bundle.public_id}/v/draft/diff/").content.decode()
    # the change reads in words; its path is only the cell's tooltip
    assert (
        '<td title="$.roles[chaplain].by_tier.3.visits_per_mm">Chaplain visits per member-month, Tier 3</td>'
        in page
    )


def test_export_then_import_through_the_pages(client, analyst, draft_bundle):
    from accounts.tenancy import resolve_scope

    services.draft_publish(scope=resolve_scope(analyst), bundle=draft_bundle)
    exported = client.get(f"/bundles/{draft_bundle.public_id}/v/1/export.json")
    assert exported["Content-Disposition"].startswith("attachment;")
    document = json.loads(exported.content)
    document["bundle"]["name"] = "Imported copy"
    upload = SimpleUploadedFile("b.json", json.dumps(document).encode(), content_type="application/json")
    response = client.post("/bundles/import/", {"file": upload})
    assert response.status_code == 302
    assert Bundle.objects.filter(name="Imported copy").exists()
    bad = SimpleUploadedFile("b.json", b"\xff\xfe not json", content_type="application/json")
    response = client.post("/bundles/import/", {"file": bad})
    assert response.status_code == 400 and "not valid UTF-8 JSON" in response.content.decode()


def test_pages_are_404_for_other_organisations(draft_bundle, member_of):
    for outsider in (member_of(ProviderFactory()), member_of(PayerFactory(), Role.ANALYST)):
        client = logged_in(outsider)
        for url in ("", "draft/", "v/draft/", "v/draft/diff/"):
            assert client.get(f"/bundles/{draft_bundle.public_id}/{url}").status_code == 404, url
        assert client.post(f"/bundles/{draft_bundle.public_id}/draft/publish/").status_code in (403, 404)
        assert draft_bundle.name not in client.get("/bundles/").content.decode()


def test_bundle_list_page_query_count(client, analyst, complete_definition, django_assert_max_num_queries):
    from accounts.tenancy import resolve_scope

    scope = resolve_scope(analyst)
    for i in range(12):
        services.bundle_create(scope=scope, definition={**complete_definition, "name": f"B{i}"})
    with django_assert_max_num_queries(8):
        response = client.get("/bundles/")
    assert response.content.decode().count("/bundles/") >= 12


def test_care_management_under_a_supervising_clinician_is_set_in_the_editor(client, draft_bundle):
    from bundles.definition import validate

    page = client.get(f"/bundles/{draft_bundle.public_id}/draft/").content.decode()
    assert "Care management billed under a supervising clinician" in page
    data = {
        "name": draft_bundle.name,
        "home_share": "0.8",
        "period": "monthly",
        "care_management": "pcm",
        "lines_of_business": ["medicaid"],
        "markets": ["URBAN"],
    }
    assert client.post(f"/bundles/{draft_bundle.public_id}/draft/general/", data).status_code in (200, 302)
    draft = BundleVersion.objects.get(bundle=draft_bundle, status="draft")
    assert draft.definition["care_management"] == "pcm"
    client.post(f"/bundles/{draft_bundle.public_id}/draft/general/", {**data, "care_management": ""})
    draft.refresh_from_db()
    assert "care_management" not in draft.definition
    _, problems = validate({**draft.definition, "care_management": "tcm"})
    assert [p.path for p in problems if p.code == "invalid_choice"] == ["$.care_management"]
