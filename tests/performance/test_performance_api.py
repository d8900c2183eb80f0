"""Performance through the API and pages: upload (all or nothing), a hand-computed quarter, drill-down
with the access log, the provider's story, unit costs, the PDF report, and tenancy (404 everywhere)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from core.models import AccessEvent
from performance.models import UtilizationRow, UtilizationUpload
from tests.factories import PayerFactory, ProviderFactory

from .conftest import FEB, JAN, MAR, cohort_utilization, urow, utilization_csv

pytestmark = pytest.mark.django_db


def upload(client, content: bytes, name="utilization.csv", **headers):
    return client.post(
        "/api/v1/performance/uploads/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
        **headers,
    )


@pytest.fixture
def loaded(cohort, analyst_api):
    response = upload(analyst_api, utilization_csv(cohort_utilization()))
    assert response.status_code == 201, response.json()
    costs = analyst_api.put(
        "/api/v1/performance/unit-costs/",
        {"costs": {"ed_visit": "1500.00", "inpatient_admission": "12000.00"}},
        format="json",
    )
    assert costs.status_code == 200, costs.json()
    return cohort


def test_upload_rejects_the_whole_file_with_every_error(analyst_api):
    rows = [
        urow("A1", JAN),
        urow("A2", JAN.replace(day=2), ed="x"),
        urow("A3", FEB, dis=1, readm=2, tcoc="12.345"),
        {**urow("A4", MAR), "death_place": "moon", "death_date": "2026-03-02"},
        urow("A1", JAN),
    ]
    response = upload(analyst_api, utilization_csv(rows))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_file"
    found = {(e["row"], e["column"], e["code"]) for e in body["details"]["errors"]}
    assert {
        (3, "month", "not_first_of_month"),
        (3, "ed_visits", "not_a_count"),
        (4, "readmissions_30d", "readmissions_over_discharges"),
        (4, "tcoc_amount", "not_an_amount"),
        (5, "death_place", "unknown_death_place"),
        (6, "month", "duplicate_row"),
    } <= found
    assert UtilizationRow.objects.count() == 0
    record = UtilizationUpload.objects.get()
    assert record.status == "rejected" and record.file.read().startswith(b"member_id")
    missing = upload(analyst_api, b"member_id,month\nA1,2026-01-01\n")
    assert {e["column"] for e in missing.json()["details"]["errors"]} >= {"ed_visits", "tcoc_amount"}


def test_an_idempotency_key_replays_the_first_upload(analyst_api):
    content = utilization_csv([urow("A1", JAN, ed=2), urow("A2", JAN)])
    first = upload(analyst_api, content, HTTP_IDEMPOTENCY_KEY="util-1")
    again = upload(analyst_api, content, HTTP_IDEMPOTENCY_KEY="util-1")
    assert first.status_code == again.status_code == 201, first.json()
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert UtilizationUpload.objects.count() == 1 and UtilizationRow.objects.count() == 2
    other = upload(
        analyst_api, utilization_csv([urow("A3", JAN)]), "other.csv", HTTP_IDEMPOTENCY_KEY="util-1"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert UtilizationUpload.objects.count() == 1


def test_upload_xlsx_and_a_later_upload_supersedes(analyst_api):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(
        [
            "Member_ID ",
            "MONTH",
            "ed_visits",
            "inpatient_admissions",
            "icu_admissions",
            "discharges",
            "readmissions_30d",
            "tcoc_amount",
        ]
    )
    sheet.append(["A1", "2026-01-01", 2, 0, 0, 1, 0, 1234.5])
    sheet.append(["A2", "2026-01-01", 0, 0, 0, 0, 0, 10])
    buffer = io.BytesIO()
    book.save(buffer)
    first = upload(analyst_api, buffer.getvalue(), "utilization.xlsx")
    assert first.status_code == 201, first.json()
    assert first.json()["row_count"] == 2
    second = upload(analyst_api, utilization_csv([urow("A1", JAN, ed=5)]))
    assert second.status_code == 201 and second.json()["superseded_count"] == 1
    current = UtilizationRow.objects.get(member_id="A1", superseded=False)
    assert current.ed_visits == 5
    assert UtilizationRow.objects.filter(member_id="A1").count() == 2  # nothing deleted


def test_quarter_by_hand(loaded, analyst_api):
    response = analyst_api.get(f"/api/v1/performance/contracts/{loaded.number}/", {"period": "2026-Q1"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["member_months"] == "12.00" and body["members"] == 4
    measures = {m["code"]: m for m in body["measures"]}
    ed = measures["ed_visits_per_1000"]
    assert Decimal(ed["rate"]) == 250 and ed["scored"] and ed["met"]
    # Garwood for 3 events: 0.6187..8.7673, per 12 MM x 1000
    assert Decimal(ed["ci_low"]) == pytest.approx(Decimal("51.56"), abs=Decimal("0.01"))
    assert Decimal(ed["ci_high"]) == pytest.approx(Decimal("730.61"), abs=Decimal("0.01"))
    readmission = measures["readmission_30d_rate"]
    assert Decimal(readmission["rate"]) == Decimal("0.25") and readmission["met"]
    hospice = measures["hospice_transition_rate"]
    assert Decimal(hospice["rate"]) == 1 and not hospice["scored"] and hospice["met"] is None
    assert Decimal(body["composite_score"]) == 1
    savings = body["shared_savings"]
    assert Decimal(savings["baseline_pmpm"]) == 4000 and Decimal(savings["actual_pmpm"]) == 3000
    assert Decimal(savings["gross_savings"]) == 12000 and Decimal(savings["shared"]) == 4800  # capped at 10%
    avoided = {e["kind"]: e for e in body["avoided_events"]["events"]}
    assert Decimal(avoided["ed_visit"]["avoided"]) == 9 and Decimal(avoided["ed_visit"]["value"]) == 13500
    assert Decimal(avoided["inpatient_admission"]["value"]) == 36000
    assert Decimal(body["avoided_events"]["total"]) == 49500
    before_after = {g["label"]: g for g in body["series"]["before_after"]}
    assert before_after["ED visits"] == {"label": "ED visits", "before": "1000.0", "after": "250.0"}
    assert len(body["series"]["enrollment"]) == 3


def test_measures_from_rosters_and_deaths(cohort, analyst_api, contract):
    from contracts.models import ContractVersion

    quality = [
        {"measure": code, "target": target, "weight": "0.2", "direction": direction, "minimum_denominator": 0}
        for code, target, direction in (
            ("median_days_before_hospice", "60", "higher"),
            ("death_at_home_rate", "0.6", "higher"),
            ("acp_within_60d_rate", "0.8", "higher"),
            ("satisfaction_score", "85", "higher"),
            ("assessment_within_n_days_rate", "0.85", "higher"),
        )
    ]
    ContractVersion.objects.filter(contract=contract).update(quality_terms=quality)
    assert upload(analyst_api, utilization_csv(cohort_utilization())).status_code == 201
    body = analyst_api.get(f"/api/v1/performance/contracts/{contract.number}/", {"period": "2026-Q1"}).json()
    measures = {m["code"]: m for m in body["measures"]}
    assert Decimal(measures["median_days_before_hospice"]["rate"]) == 79  # 1 Jan to 20 Mar
    assert Decimal(measures["death_at_home_rate"]["rate"]) == 1
    assert Decimal(measures["acp_within_60d_rate"]["rate"]) == Decimal("0.25")  # P1 of 4 new enrollees
    assert Decimal(measures["satisfaction_score"]["rate"]) == 90
    assert measures["assessment_within_n_days_rate"]["denominator"] == "0"
    assert not measures["assessment_within_n_days_rate"]["scored"]
    # 4 of 5 equal weights scored (nothing on referrals), 3 met (ACP 25% < 80%) -> 0.75
    assert Decimal(body["composite_score"]) == Decimal("0.75")


def test_provider_reads_its_own_and_writes_the_story(loaded, provider_api, analyst_api):
    url = f"/api/v1/performance/contracts/{loaded.number}/"
    assert provider_api.get(url, {"period": "2026-Q1"}).status_code == 200
    story = {"title": "Mrs. K at home", "text": "Three ED visits in the autumn; none since the team came."}
    assert analyst_api.put(url + "story/?period=2026-Q1", story, format="json").status_code == 403
    saved = provider_api.put(url + "story/?period=2026-Q1", story, format="json")
    assert saved.status_code == 200, saved.json()
    body = analyst_api.get(url, {"period": "2026-Q1"}).json()
    assert body["story"]["title"] == "Mrs. K at home"
    assert provider_api.put(url + "story/?period=2026-Q1", {"text": " "}, format="json").status_code == 400


def test_drill_down_lists_members_and_is_logged(loaded, analyst_api, provider_api):
    url = f"/api/v1/performance/contracts/{loaded.number}/members/"
    rows = analyst_api.get(url, {"period": "2026-Q1"}).json()
    assert [r["member_id"] for r in rows] == ["P1", "P2", "P3", "P4"]
    ed = analyst_api.get(url, {"period": "2026-Q1", "measure": "ed_visits_per_1000"}).json()
    assert [r["member_id"] for r in ed] == ["P1", "P2", "P3"]
    assert provider_api.get(url, {"period": "2026-Q1"}).status_code == 200
    assert AccessEvent.objects.filter(action="performance.members", object_id=loaded.number).count() == 3


def test_bad_period_is_a_400(loaded, analyst_api):
    response = analyst_api.get(f"/api/v1/performance/contracts/{loaded.number}/", {"period": "2026-Q9"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_period"


def test_pages_and_pdf(loaded, client, plan_analyst, provider_admin):
    client.force_login(plan_analyst)
    home = client.get("/performance/")
    assert home.status_code == 200 and loaded.number in home.content.decode()
    page = client.get(f"/performance/contracts/{loaded.number}/?period=2026-Q1")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and 'style="' not in html.split("<main", 1)[1] and "<script>" not in html
    assert 'data-testid="composite-score">100.0%' in html
    pdf = client.get(f"/performance/contracts/{loaded.number}/report.pdf?period=2026-Q1")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    members = client.get(f"/performance/contracts/{loaded.number}/members/?period=2026-Q1")
    assert members.status_code == 200 and "P4" in members.content.decode()
    client.force_login(provider_admin)
    story = client.post(
        f"/performance/contracts/{loaded.number}/story/",
        {"period": "2026-Q1", "text": "A story.", "title": "T"},
    )
    assert story.status_code == 302
    assert (
        "A story." in client.get(f"/performance/contracts/{loaded.number}/?period=2026-Q1").content.decode()
    )


def test_upload_page_shows_errors(client, plan_analyst, plan):
    client.force_login(plan_analyst)
    response = client.post("/performance/uploads/", {"file": SimpleUploadedFile("u.csv", b"member_id\nA\n")})
    assert response.status_code == 302
    detail = client.get(response["Location"])
    assert detail.status_code == 200 and "ed_visits" in detail.content.decode()


def test_tenancy_other_plan_and_provider_get_404(loaded, api_for, member_of, client, analyst_api):
    upload_id = UtilizationUpload.objects.get().public_id
    for org in (PayerFactory(), ProviderFactory()):
        user = member_of(org, Role.ADMIN)
        api = api_for(user)
        base = f"/api/v1/performance/contracts/{loaded.number}/"
        for path in (base, base + "members/", base + "story/", f"/api/v1/performance/uploads/{upload_id}/"):
            assert api.get(path, {"period": "2026-Q1"}).status_code == 404, (org.kind, path)
        assert api.put(base + "story/?period=2026-Q1", {"text": "x"}, format="json").status_code == 404
        client.force_login(user)
        page = f"/performance/contracts/{loaded.number}/"
        for path in (page, page + "members/", page + "report.pdf", f"/performance/uploads/{upload_id}/"):
            assert client.get(path, {"period": "2026-Q1"}).status_code == 404, (org.kind, path)
        assert client.post(page + "story/", {"period": "2026-Q1", "text": "x"}).status_code == 404
        if org.kind == "payer":
            assert api.get("/api/v1/performance/uploads/").json()["count"] == 0
    assert not AccessEvent.objects.filter(action="performance.members").exists()


def test_a_large_upload_is_read_by_the_worker_and_its_page_polls_until_then(
    analyst_api, settings, monkeypatch
):
    from django.test import Client

    from performance import tasks

    settings.UPLOAD_SYNC_MAX_BYTES = 10
    monkeypatch.setattr(tasks.process_utilization_upload, "delay", lambda pk: None)
    response = upload(analyst_api, utilization_csv([urow("A1", JAN), urow("A2", JAN)]))
    assert response.status_code == 202 and response.json()["status"] == "processing"
    upload_row = UtilizationUpload.objects.get()
    page = Client()
    page.force_login(upload_row.uploaded_by)
    assert (
        'data-testid="upload-processing"'
        in page.get(f"/performance/uploads/{upload_row.public_id}/").content.decode()
    )
    assert not UtilizationRow.objects.exists()
    assert tasks.process_utilization_upload(upload_row.pk) == "accepted"
    assert tasks.process_utilization_upload(upload_row.pk) == "accepted"  # done once only
    assert analyst_api.get(response["Location"]).json()["row_count"] == 2 == UtilizationRow.objects.count()
    assert (
        'data-testid="upload-processing"'
        not in page.get(f"/performance/uploads/{upload_row.public_id}/").content.decode()
    )
