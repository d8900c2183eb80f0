"""Bundles through the API: create, edit, publish rules, immutability, versions, export/import, tenancy."""

import copy

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from accounts.models import Role
from bundles.models import Bundle, BundleVersion, Market
from tests.factories import ContractFactory, PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def create(client, definition):
    response = client.post("/api/v1/bundles/", {"definition": definition}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["bundle_id"]


def test_create_edit_publish_and_read_the_version(analyst_api, complete_definition):
    bundle_id = create(analyst_api, complete_definition)
    published = analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    assert published.status_code == 201, published.json()
    body = published.json()
    assert body["number"] == 1 and body["status"] == "published"
    assert len(body["content_hash"]) == 64
    # np tier 1: 0.5 visits x 60 min + 15 coordination = 45 minutes per member-month
    np_row = next(r for r in body["grid"]["rows"] if r["role"] == "np")
    assert np_row["minutes"]["1"] == "45.0"
    version = analyst_api.get(f"/api/v1/bundles/{bundle_id}/versions/1/").json()
    assert version["definition"]["name"] == complete_definition["name"]
    listing = analyst_api.get("/api/v1/bundles/").json()
    assert listing["results"][0]["latest_version"] == 1
    assert listing["results"][0]["has_draft"] is False


def test_publish_reports_every_missing_item_at_once(analyst_api):
    definition = {
        "name": "Empty",
        "tiers": [{"code": "1", "name": "One"}, {"code": "2", "name": "Two"}],
        "period": {"type": "monthly"},
        "home_share": "0.5",
        "roles": [],
        "lines_of_business": [],
        "markets": [],
        "assessment": {"roles": [], "home": True},
    }
    bundle_id = create(analyst_api, definition)
    response = analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "incomplete_bundle"
    problems = {(p["path"], p["code"]) for p in body["details"]["problems"]}
    assert ("$.lines_of_business", "required") in problems
    assert ("$.markets", "required") in problems
    assert ("$.assessment.roles", "no_assessment") in problems
    # 4 required role groups x 2 tiers
    missing = [p["message"] for p in body["details"]["problems"] if p["code"] == "missing_required_role"]
    assert len(missing) == 8
    assert "Tier 2 has no effort from a Physician or Nurse practitioner or Physician assistant." in missing
    assert Bundle.objects.get(public_id=bundle_id).versions.get().status == "draft"


def test_publish_without_tiers_says_so(analyst_api, complete_definition):
    definition = copy.deepcopy(complete_definition)
    definition["tiers"] = []
    for role in definition["roles"]:
        role["by_tier"] = {}
    bundle_id = create(analyst_api, definition)
    problems = analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/").json()["details"]["problems"]
    assert {
        "path": "$.tiers",
        "code": "no_tiers",
        "message": "Add at least one tier.",
        "severity": "error",
    } in problems


def test_negative_effort_is_refused_with_its_path(analyst_api, complete_definition):
    definition = copy.deepcopy(complete_definition)
    definition["roles"][1]["by_tier"]["2"]["visits_per_mm"] = "-1"
    response = analyst_api.post("/api/v1/bundles/", {"definition": definition}, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["problems"][0]["path"] == "$.roles[1].by_tier.2.visits_per_mm"
    assert response.json()["details"]["problems"][0]["code"] == "negative"
    assert not Bundle.objects.exists()


def test_lower_effort_in_higher_tier_is_a_warning_with_numbers(analyst_api, complete_definition):
    definition = copy.deepcopy(complete_definition)
    for role in definition["roles"]:
        role["by_tier"]["3"] = {"visits_per_mm": "0.1", "coordination_minutes_per_mm": "1"}
    bundle_id = create(analyst_api, definition)
    draft = analyst_api.get(f"/api/v1/bundles/{bundle_id}/draft/").json()
    warning = next(w for w in draft["warnings"] if w["code"] == "tier_order")
    assert "Tier 3 needs" in warning["message"] and "less than tier 2" in warning["message"]
    assert analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/").status_code == 201


def test_published_version_is_immutable_in_the_database(analyst_api, complete_definition):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    version = BundleVersion.objects.get(bundle__public_id=bundle_id, number=1)
    version.definition = {**version.definition, "name": "Changed behind the service's back"}
    with pytest.raises(IntegrityError), transaction.atomic():
        version.save()
    if connection.vendor == "postgresql":  # the delete trigger is PostgreSQL's (see migration 0002)
        with pytest.raises(IntegrityError), transaction.atomic():
            BundleVersion.objects.filter(pk=version.pk).delete()
    assert BundleVersion.objects.get(pk=version.pk).definition["name"] == complete_definition["name"]
    # and the API has no way to edit it: a draft is needed
    response = analyst_api.put(
        f"/api/v1/bundles/{bundle_id}/draft/", {"definition": complete_definition}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "no_draft"


def test_new_draft_from_version_shows_diff_and_publishes_as_v2(analyst_api, complete_definition):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    draft = analyst_api.post(f"/api/v1/bundles/{bundle_id}/versions/1/new-draft/")
    assert draft.status_code == 201 and draft.json()["based_on"] == 1
    assert (
        analyst_api.post(f"/api/v1/bundles/{bundle_id}/versions/1/new-draft/").json()["code"]
        == "draft_exists"
    )
    changed = copy.deepcopy(complete_definition)
    changed["roles"][2]["by_tier"]["3"]["visits_per_mm"] = "4"
    assert (
        analyst_api.put(
            f"/api/v1/bundles/{bundle_id}/draft/", {"definition": changed}, format="json"
        ).status_code
        == 200
    )
    diff = analyst_api.get(f"/api/v1/bundles/{bundle_id}/versions/draft/diff/").json()
    assert diff == [
        {
            "path": "$.roles[rn].by_tier.3.visits_per_mm",
            "label": "Registered nurse visits per member-month, Tier 3",
            "change": "changed",
            "before": "3",
            "after": "4",
        }
    ]
    v2 = analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/").json()
    assert v2["number"] == 2 and v2["based_on"] == 1
    v1 = analyst_api.get(f"/api/v1/bundles/{bundle_id}/versions/1/").json()
    assert v1["definition"]["roles"][2]["by_tier"]["3"]["visits_per_mm"] == "3"


def test_retired_version_stays_readable_and_referenced_version_cannot_be_deleted(
    analyst_api, complete_definition, payer
):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    retired = analyst_api.post(f"/api/v1/bundles/{bundle_id}/versions/1/retire/")
    assert retired.json()["status"] == "retired"
    assert analyst_api.post(f"/api/v1/bundles/{bundle_id}/versions/1/retire/").status_code == 409
    version = BundleVersion.objects.get(bundle__public_id=bundle_id)
    contract = ContractFactory(payer=payer)
    contract.bundle_links.create(bundle_version=version)
    with pytest.raises((ProtectedError, IntegrityError)), transaction.atomic():
        version.delete()
    assert BundleVersion.objects.filter(pk=version.pk).exists()


def test_export_import_export_is_identical(analyst_api, complete_definition, member_of, api_for):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    exported = analyst_api.get(f"/api/v1/bundles/{bundle_id}/versions/1/export/").json()
    assert exported["format"] == "carebundle.pricing/1"
    assert {m["code"] for m in exported["bundle"]["market_definitions"]} == set(
        complete_definition["markets"]
    )

    other_plan = PayerFactory()  # a plan that has none of these markets yet
    other = api_for(member_of(other_plan, Role.ANALYST))
    imported = other.post("/api/v1/bundles/import/", exported, format="json")
    assert imported.status_code == 201, imported.json()
    new_id = imported.json()["bundle_id"]
    assert other.post(f"/api/v1/bundles/{new_id}/draft/publish/").status_code == 201
    again = other.get(f"/api/v1/bundles/{new_id}/versions/1/export/").json()
    assert again == exported


def test_import_with_errors_reports_paths_and_creates_nothing(analyst_api, complete_definition):
    document = {"format": "carebundle.pricing/1", "bundle": copy.deepcopy(complete_definition)}
    document["bundle"]["roles"][0]["role"] = "wizard"
    document["bundle"]["tiers"][1]["code"] = "1"
    document["bundle"]["home_share"] = "1.5"
    response = analyst_api.post("/api/v1/bundles/import/", document, format="json")
    assert response.status_code == 400
    paths = {p["path"] for p in response.json()["details"]["problems"]}
    assert {"$.bundle.roles[0].role", "$.bundle.tiers[1].code", "$.bundle.home_share"} <= paths
    assert not Bundle.objects.exists()
    wrong_format = analyst_api.post("/api/v1/bundles/import/", {"format": "x"}, format="json")
    assert {p["path"] for p in wrong_format.json()["details"]["problems"]} == {"$.format", "$.bundle"}


def test_tenancy_provider_without_contract_and_other_plan_get_404(
    analyst_api, complete_definition, payer, member_of, api_for
):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    urls = [
        f"/api/v1/bundles/{bundle_id}/",
        f"/api/v1/bundles/{bundle_id}/versions/1/",
        f"/api/v1/bundles/{bundle_id}/versions/1/export/",
        f"/api/v1/bundles/{bundle_id}/draft/",
    ]
    outsiders = [api_for(member_of(ProviderFactory())), api_for(member_of(PayerFactory(), Role.ANALYST))]
    for client in outsiders:
        assert client.get("/api/v1/bundles/").json()["count"] == 0
        for url in urls:
            assert client.get(url).status_code == 404, url
        assert client.post(f"/api/v1/bundles/{bundle_id}/versions/1/new-draft/").status_code == 404
        assert client.post(f"/api/v1/bundles/{bundle_id}/versions/1/retire/").status_code == 404


def test_provider_with_contract_reads_the_contracted_version_only(
    analyst_api, complete_definition, payer, member_of, api_for
):
    bundle_id = create(analyst_api, complete_definition)
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/draft/publish/")
    analyst_api.post(f"/api/v1/bundles/{bundle_id}/versions/1/new-draft/")
    provider = ProviderFactory()
    contract = ContractFactory(payer=payer, provider=provider)
    contract.bundle_links.create(
        bundle_version=BundleVersion.objects.get(bundle__public_id=bundle_id, number=1)
    )
    client = api_for(member_of(provider))
    assert client.get(f"/api/v1/bundles/{bundle_id}/versions/1/").status_code == 200
    assert client.get(f"/api/v1/bundles/{bundle_id}/draft/").status_code == 404
    assert [v["status"] for v in client.get(f"/api/v1/bundles/{bundle_id}/").json()["versions"]] == [
        "published"
    ]
    # reading is not editing
    response = client.post(f"/api/v1/bundles/{bundle_id}/versions/1/new-draft/")
    assert response.status_code == 403


def test_bundle_list_query_count_is_constant(analyst_api, complete_definition, django_assert_max_num_queries):
    for i in range(3):
        create(analyst_api, {**complete_definition, "name": f"Bundle {i}"})
    with django_assert_max_num_queries(6):
        few = analyst_api.get("/api/v1/bundles/")
    for i in range(3, 15):
        create(analyst_api, {**complete_definition, "name": f"Bundle {i}"})
    with django_assert_max_num_queries(6):
        many = analyst_api.get("/api/v1/bundles/")
    assert many.json()["count"] == few.json()["count"] + 12


def test_markets_and_roles_catalogue(analyst_api, member_of, api_for):
    roles = analyst_api.get("/api/v1/idt-roles/?page_size=100").json()["results"]
    assert {"physician", "np", "rn", "lcsw", "chaplain", "chw"} <= {r["code"] for r in roles}
    added = analyst_api.post(
        "/api/v1/idt-roles/",
        {"code": "music", "name": "Music therapist", "bills_ffs": False, "service_codes": []},
        format="json",
    )
    assert added.status_code == 201
    assert (
        analyst_api.post(
            "/api/v1/idt-roles/",
            {"code": "rn", "name": "Again", "bills_ffs": False, "service_codes": []},
            format="json",
        ).status_code
        == 409
    )
    market = analyst_api.post(
        "/api/v1/markets/",
        {
            "code": "FRONTIER",
            "name": "Frontier",
            "rural": True,
            "travel_minutes_per_visit": "90",
            "miles_per_visit": "60",
        },
        format="json",
    )
    assert market.status_code == 201
    other = api_for(member_of(PayerFactory(), Role.ANALYST))
    assert "music" not in {r["code"] for r in other.get("/api/v1/idt-roles/?page_size=100").json()["results"]}
    assert other.get("/api/v1/markets/").json()["count"] == 0


def test_a_market_with_negative_travel_is_a_400_not_a_500(analyst_api):
    for field in ("travel_minutes_per_visit", "miles_per_visit"):
        response = analyst_api.post(
            "/api/v1/markets/", {"code": "NEG", "name": "Negative", field: "-1"}, format="json"
        )
        assert response.status_code == 400 and field in response.json()["details"], response.json()


def test_auditor_reads_but_cannot_edit(
    payer, plan_markets, member_of, api_for, analyst_api, complete_definition
):
    bundle_id = create(analyst_api, complete_definition)
    auditor = api_for(member_of(payer, Role.AUDITOR))
    assert auditor.get(f"/api/v1/bundles/{bundle_id}/draft/").status_code == 200
    assert auditor.post(f"/api/v1/bundles/{bundle_id}/draft/publish/").status_code == 403
    assert (
        auditor.post("/api/v1/bundles/", {"definition": complete_definition}, format="json").status_code
        == 403
    )


def test_negative_travel_in_a_new_market_is_a_field_error_not_a_500(analyst_api):
    # Found by tests/api/test_schema_fuzz.py: the check constraint answered with a 500.
    response = analyst_api.post(
        "/api/v1/markets/",
        {"code": "NEG", "name": "Negative", "travel_minutes_per_visit": "27", "miles_per_visit": "-3.1"},
    )
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"miles_per_visit"}
    assert not Market.objects.filter(code="NEG").exists()
