"""Assumption sets through the API: the platform's defaults with their sources, versioning like
bundles (draft, immutable numbered versions, new draft from a version), validation with JSON
paths, export and import in the pricing file's format."""

from __future__ import annotations

import copy

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from accounts.models import Role
from pricing.defaults import SALARIES, SCALARS
from pricing.models import AssumptionSetVersion
from tests.factories import PayerFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/pricing/assumption-sets/"


def create(client, **body):
    response = client.post(BASE, {"name": "Standard 2027", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_new_set_starts_from_the_defaults_each_with_its_source(analyst_api):
    draft = create(analyst_api)
    assert draft["status"] == "draft" and draft["number"] is None
    a, sources = draft["assumptions"], draft["sources"]
    for scalar in SCALARS:
        assert a[scalar.key] == scalar.value
        assert sources[scalar.key] == scalar.source
        if scalar.low is not None:
            assert a["ranges"][scalar.key] == [scalar.low, scalar.high]
    assert a["salaries"]["np"] == {"default": "126260"}
    assert "nurse practitioners" in sources["salaries.np"] and "BLS" in sources["salaries.np"]
    assert "no public wage figure" in sources["salaries.physician"]
    assert {m["code"] for m in a["markets"]} == {"URBAN", "URBAN-E", "RURAL-N", "RURAL-S"}
    rural = next(m for m in a["markets"] if m["code"] == "RURAL-N")
    assert (rural["travel_minutes_per_visit"], rural["miles_per_visit"]) == ("55", "35")
    assert "41 minutes" in sources["markets.RURAL-N"]
    assert "CAPC" in sources["disenrollment"]
    assert set(sources) >= {"base_period_midpoint", "rating_period_midpoint", "lob_factors"}


def test_the_defaults_endpoint_lists_every_default_and_its_source(analyst_api):
    body = analyst_api.get(f"{BASE}defaults/").json()
    assert {s["key"] for s in body["scalars"]} == {s.key for s in SCALARS}
    assert all(s["source"] for s in body["scalars"])
    assert {s["role"] for s in body["salaries"]} == set(SALARIES)
    assert body["plan_assumptions"]["salaries"]["rn"] == {"default": "86070"}


def test_editing_records_who_entered_a_value_unless_a_source_is_given(analyst_api, analyst):
    draft = create(analyst_api)
    set_id = draft["assumption_set_id"]
    a = copy.deepcopy(draft["assumptions"])
    a["productivity"] = "0.72"
    a["salaries"]["rn"] = {"default": "91000"}
    response = analyst_api.put(
        f"{BASE}{set_id}/draft/",
        {
            "assumptions": a,
            "sources": {"salaries.rn": "Plan network wage survey, 2026"},
            "notes": "Local wages",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    sources = response.json()["sources"]
    assert sources["productivity"].startswith(f"Entered by {analyst.get_full_name()} on ")
    assert sources["salaries.rn"] == "Plan network wage survey, 2026"
    assert sources["benefits_load"] == draft["sources"]["benefits_load"]  # unchanged keeps its source
    assert response.json()["notes"] == "Local wages"


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"productivity": "0"}, "$.assumptions.productivity", "out_of_range"),
        ({"productivity": "1.01"}, "$.assumptions.productivity", "out_of_range"),
        ({"admin_load": "0.5", "margin": "0.5"}, "$.assumptions.margin", "loads_too_high"),
        (
            {"base_period_midpoint": "2028-01-01"},
            "$.assumptions.rating_period_midpoint",
            "date_range_reversed",
        ),
        ({"supplies_pmpm": "-5"}, "$.assumptions.supplies_pmpm", "negative"),
        ({"annual_trend": "2"}, "$.assumptions.annual_trend", "implausible"),
    ],
)
def test_absurd_assumptions_are_refused_with_their_path(analyst_api, change, path, code):
    draft = create(analyst_api)
    a = {**draft["assumptions"], **change}
    response = analyst_api.put(
        f"{BASE}{draft['assumption_set_id']}/draft/", {"assumptions": a}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_assumptions"
    assert (path, code) in {(e["path"], e["code"]) for e in response.json()["details"]["errors"]}
    assert AssumptionSetVersion.objects.get(status="draft").assumptions == draft["assumptions"]


def test_every_error_is_reported_at_once(analyst_api):
    draft = create(analyst_api)
    a = {
        **draft["assumptions"],
        "productivity": "0",
        "benefits_load": "x",
        "ranges": {"margin": ["0.05", "0.01"]},
    }
    errors = analyst_api.put(
        f"{BASE}{draft['assumption_set_id']}/draft/", {"assumptions": a}, format="json"
    ).json()["details"]["errors"]
    assert {e["path"] for e in errors} >= {
        "$.assumptions.productivity",
        "$.assumptions.benefits_load",
        "$.assumptions.ranges.margin",
    }


def test_publish_makes_immutable_numbered_versions_and_new_drafts(analyst_api):
    draft = create(analyst_api)
    set_id = draft["assumption_set_id"]
    v1 = analyst_api.post(f"{BASE}{set_id}/draft/publish/")
    assert v1.status_code == 201 and v1.json()["number"] == 1 and len(v1.json()["content_hash"]) == 64
    # no draft any more: nothing can be edited in place
    response = analyst_api.put(f"{BASE}{set_id}/draft/", {"assumptions": draft["assumptions"]}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "no_draft"
    version = AssumptionSetVersion.objects.get(number=1)
    version.assumptions = {**version.assumptions, "margin": "0.2"}
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        version.save()
    if connection.vendor == "postgresql":  # SQLite has no delete trigger (the test flush deletes rows)
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            AssumptionSetVersion.objects.filter(pk=version.pk).delete()
    new = analyst_api.post(f"{BASE}{set_id}/versions/1/new-draft/")
    assert new.status_code == 201 and new.json()["based_on"] == 1
    assert analyst_api.post(f"{BASE}{set_id}/versions/1/new-draft/").json()["code"] == "draft_exists"
    a = {**new.json()["assumptions"], "margin": "0.04"}
    analyst_api.put(f"{BASE}{set_id}/draft/", {"assumptions": a}, format="json")
    v2 = analyst_api.post(f"{BASE}{set_id}/draft/publish/").json()
    assert v2["number"] == 2 and v2["assumptions"]["margin"] == "0.04"
    assert analyst_api.get(f"{BASE}{set_id}/versions/1/").json()["assumptions"]["margin"] == "0.03"
    detail = analyst_api.get(f"{BASE}{set_id}/").json()
    assert [v["number"] for v in detail["versions"]] == [2, 1]
    listing = analyst_api.get(BASE).json()["results"]
    assert listing[0]["latest_version"] == 2 and listing[0]["has_draft"] is False


def test_export_then_import_gives_the_same_assumptions_and_sources(analyst_api, member_of, api_for):
    draft = create(analyst_api)
    set_id = draft["assumption_set_id"]
    analyst_api.post(f"{BASE}{set_id}/draft/publish/")
    exported = analyst_api.get(f"{BASE}{set_id}/versions/1/export/")
    assert exported.status_code == 200 and "attachment" in exported["Content-Disposition"]
    document = exported.json()
    assert document["format"] == "carebundle.pricing/1" and document["assumptions"] == draft["assumptions"]
    other = api_for(member_of(PayerFactory(), Role.ANALYST))
    imported = other.post(f"{BASE}import/?name=From%20Golden%20Coast", document, format="json")
    assert imported.status_code == 201, imported.json()
    assert imported.json()["assumptions"] == draft["assumptions"]
    assert imported.json()["sources"] == draft["sources"]
    assert other.get(BASE).json()["results"][0]["name"] == "From Golden Coast"


def test_import_with_errors_creates_nothing(analyst_api):
    response = analyst_api.post(
        f"{BASE}import/", {"format": "other", "assumptions": {"productivity": 7}}, format="json"
    )
    assert response.status_code == 400
    paths = {e["path"] for e in response.json()["details"]["errors"]}
    assert {"$.format", "$.assumptions.productivity"} <= paths
    assert analyst_api.get(BASE).json()["count"] == 0


def test_duplicate_name_is_a_conflict(analyst_api):
    create(analyst_api)
    response = analyst_api.post(BASE, {"name": "Standard 2027"}, format="json")
    assert response.status_code == 409 and response.json()["details"] == {
        "name": [response.json()["message"]]
    }


def test_auditor_reads_but_cannot_create_or_edit(analyst_api, plan, member_of, api_for):
    draft = create(analyst_api)
    auditor = api_for(member_of(plan, Role.AUDITOR))
    assert auditor.get(f"{BASE}{draft['assumption_set_id']}/draft/").status_code == 200
    assert auditor.post(BASE, {"name": "Mine"}, format="json").status_code == 403
    response = auditor.put(
        f"{BASE}{draft['assumption_set_id']}/draft/", {"assumptions": draft["assumptions"]}, format="json"
    )
    assert response.status_code == 403
    assert auditor.post(f"{BASE}{draft['assumption_set_id']}/draft/publish/").status_code == 403


def test_list_query_count_is_constant(analyst_api, django_assert_max_num_queries):
    for i in range(6):
        create(analyst_api, name=f"Set {i}")
    with django_assert_max_num_queries(6):
        response = analyst_api.get(BASE)
    assert response.json()["count"] == 6
