"""Cross-cutting protections: the PHI access log, Idempotency-Key, the upload limit, security headers."""

import pytest
from django.test import Client, override_settings

from accounts.models import Role
from accounts.tenancy import resolve_scope
from bundles.demo import home_based_definition
from bundles.models import Bundle, Market
from core.audit import record_access
from tests.factories import PASSWORD, ProviderFactory

pytestmark = pytest.mark.django_db


def test_access_log_is_readable_by_auditors_of_the_organisation_only(payer, provider, member_of, api_for):
    analyst = member_of(payer, Role.ANALYST)
    record_access(
        scope=resolve_scope(analyst),
        action="roster.view",
        object_type="roster",
        object_id="R-1",
        detail="member M123",
    )
    record_access(
        scope=resolve_scope(member_of(provider)),
        action="statement.download",
        object_type="run",
        object_id="P-9",
    )
    auditor = api_for(member_of(payer, Role.AUDITOR))
    events = auditor.get("/api/v1/audit/access-events/").json()["results"]
    assert [(e["username"], e["action"], e["object_id"]) for e in events] == [
        (analyst.username, "roster.view", "R-1")
    ]
    assert api_for(analyst).get("/api/v1/audit/access-events/").status_code == 403


def test_access_log_page(payer, member_of):
    auditor = member_of(payer, Role.AUDITOR)
    record_access(
        scope=resolve_scope(member_of(payer, Role.ANALYST)),
        action="roster.view",
        object_type="roster",
        object_id="R-7",
    )
    client = Client()
    client.login(username=auditor.username, password=PASSWORD)
    page = client.get("/audit/access-log/").content.decode()
    assert "Viewed roster" in page and "R-7" in page
    submitter = member_of(ProviderFactory(), Role.SUBMITTER)
    client.login(username=submitter.username, password=PASSWORD)
    assert client.get("/audit/access-log/").status_code == 403


@pytest.fixture
def analyst_api(payer, member_of, api_for):
    Market.objects.create(organization=payer, code="URBAN", name="Urban")
    for code in ("URBAN-E", "RURAL-N", "RURAL-S"):
        Market.objects.create(organization=payer, code=code, name=code)
    return api_for(member_of(payer, Role.ANALYST))


def test_idempotency_key_replays_the_first_response(analyst_api):
    body = {"definition": home_based_definition()}
    first = analyst_api.post("/api/v1/bundles/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = analyst_api.post("/api/v1/bundles/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Bundle.objects.count() == 1
    other = dict(body, definition={**home_based_definition(), "name": "Another"})
    reused = analyst_api.post("/api/v1/bundles/", other, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    assert analyst_api.post("/api/v1/bundles/", other, format="json").status_code == 201
    assert Bundle.objects.count() == 2


def test_failed_request_does_not_burn_the_key(analyst_api):
    bad = {"definition": {**home_based_definition(), "name": ""}}
    assert (
        analyst_api.post("/api/v1/bundles/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code == 400
    )
    good = {"definition": home_based_definition()}
    assert (
        analyst_api.post("/api/v1/bundles/", good, format="json", HTTP_IDEMPOTENCY_KEY="k2").status_code
        == 201
    )
    assert Bundle.objects.count() == 1


@override_settings(MAX_UPLOAD_BYTES=1000)
def test_upload_over_the_limit_is_413_with_a_clear_message(analyst_api):
    response = analyst_api.post("/api/v1/bundles/import/", {"format": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"
    assert not Bundle.objects.exists()


def test_pages_carry_a_content_security_policy(client):
    response = client.get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert response["X-Frame-Options"] == "DENY"
