"""Claims through the API and pages: a file loads whole or not at all, replacements and voids across
files, duplicates, utilisation derived from the standing lines, a large file read by the worker,
the kept lines guarded by the database, query counts and tenancy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from claims.extract import write_claims_csv
from claims.models import ClaimLineRow, ClaimsUpload
from claims.records import INSTITUTIONAL, REPLACEMENT, VOID
from performance.models import UtilizationRow, UtilizationUpload
from tests.factories import PayerFactory, ProviderFactory

from .lines import D, line

pytestmark = pytest.mark.django_db

FEB, MAR, APR = D(2026, 2, 1), D(2026, 3, 1), D(2026, 4, 1)


def stay(claim_id, line_number, admit, discharge, *, revenue, paid, status="01", frm=None, to=None, **fields):
    return line(
        claim_id=claim_id,
        line_number=line_number,
        claim_type=INSTITUTIONAL,
        bill_type="111",
        place_of_service="",
        revenue_code=revenue,
        procedure_code="",
        admission_date=admit,
        discharge_date=discharge,
        discharge_status=status,
        service_from=frm or admit,
        service_to=to or discharge,
        paid_date=D(2026, 5, 2),
        paid_amount=Decimal(paid),
        **fields,
    )


# M1: an ED visit in February; a stay in March (its ED line is part of the stay), readmitted 23 days
# after discharge into a stay with an ICU day in April; an advance care planning visit in March.
FIRST_FILE = [
    line(
        claim_id="P1",
        place_of_service="23",
        procedure_code="99284",
        service_from=D(2026, 2, 2),
        service_to=D(2026, 2, 2),
        paid_date=D(2026, 2, 20),
        paid_amount=Decimal("300.00"),
    ),
    stay("IP1", 1, D(2026, 3, 10), D(2026, 3, 13), revenue="0450", paid="1000.00", to=D(2026, 3, 10)),
    stay("IP1", 2, D(2026, 3, 10), D(2026, 3, 13), revenue="0120", paid="9000.00"),
    stay("IP2", 1, D(2026, 4, 5), D(2026, 4, 8), revenue="0200", paid="5000.00", to=D(2026, 4, 5)),
    line(
        claim_id="P2",
        procedure_code="99497",
        service_from=D(2026, 3, 20),
        service_to=D(2026, 3, 20),
        paid_date=D(2026, 4, 1),
        paid_amount=Decimal("86.12"),
    ),
]


def post(client, lines_or_bytes, name="claims.csv", **headers):
    data = lines_or_bytes if isinstance(lines_or_bytes, bytes) else write_claims_csv(lines_or_bytes).encode()
    return client.post(
        "/api/v1/claims/uploads/", {"file": SimpleUploadedFile(name, data)}, format="multipart", **headers
    )


def utilization(member="M1") -> dict:
    return {
        row.month: row
        for row in UtilizationRow.objects.filter(member_id=member, superseded=False).order_by("month")
    }


def test_a_file_loads_and_the_members_utilisation_is_derived(analyst_api):
    response = post(analyst_api, FIRST_FILE)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["line_count"], body["claim_count"], body["member_count"]) == (
        "accepted",
        5,
        4,
        1,
    )
    assert (body["standing_count"], body["paid_amount"], body["warnings"]) == (5, "15386.12", [])
    assert (body["first_service"], body["last_service"], body["last_paid"]) == (
        "2026-02-02",
        "2026-04-05",
        "2026-05-02",
    )
    assert ClaimLineRow.objects.filter(standing=True).count() == 5
    rows = utilization()
    assert list(rows) == [FEB, MAR, APR]
    feb, mar, apr = rows[FEB], rows[MAR], rows[APR]
    assert (feb.ed_visits, feb.inpatient_admissions, feb.tcoc_amount) == (1, 0, Decimal("300.00"))
    assert (mar.ed_visits, mar.inpatient_admissions, mar.discharges, mar.readmissions_30d) == (0, 1, 1, 1)
    assert (mar.tcoc_amount, mar.acp_documented_date) == (Decimal("10086.12"), D(2026, 3, 20))
    assert (apr.inpatient_admissions, apr.icu_admissions, apr.discharges, apr.readmissions_30d) == (
        1,
        1,
        1,
        0,
    )
    assert apr.tcoc_amount == Decimal("5000.00")
    derived = UtilizationUpload.objects.get()
    assert derived.claims_upload.public_id.hex == body["id"].replace("-", "")
    assert derived.file.read().decode().startswith("member_id,month,")


def test_replacements_and_voids_in_a_later_file_change_what_stands_and_the_utilisation(analyst_api):
    assert post(analyst_api, FIRST_FILE).status_code == 201
    later = [
        line(
            claim_id="P2",
            frequency_code=REPLACEMENT,
            procedure_code="99497",
            service_from=D(2026, 3, 20),
            service_to=D(2026, 3, 20),
            paid_date=D(2026, 5, 1),
            paid_amount=Decimal("80.00"),
        ),
        line(
            claim_id="P1",
            frequency_code=VOID,
            place_of_service="23",
            procedure_code="99284",
            service_from=D(2026, 2, 2),
            service_to=D(2026, 2, 2),
            paid_date=D(2026, 5, 1),
            paid_amount=Decimal("300.00"),
        ),
    ]
    body = post(analyst_api, later, "later.csv").json()
    assert (body["replaced_count"], body["voided_count"], body["standing_count"]) == (1, 1, 1)
    assert ClaimLineRow.objects.count() == 7  # nothing deleted
    assert set(ClaimLineRow.objects.filter(standing=True).values_list("claim_id", "paid_amount")) == {
        ("IP1", Decimal("1000.00")),
        ("IP1", Decimal("9000.00")),
        ("IP2", Decimal("5000.00")),
        ("P2", Decimal("80.00")),
    }
    rows = utilization()
    assert (rows[FEB].ed_visits, rows[FEB].tcoc_amount) == (0, Decimal("0.00"))  # the void leaves nothing
    assert rows[MAR].tcoc_amount == Decimal("10080.00")
    assert UtilizationRow.objects.filter(member_id="M1", month=MAR).count() == 2  # the earlier row is kept

    # The first file again: every claim was received before, so nothing comes back.
    again = post(analyst_api, FIRST_FILE, "first-again.csv").json()
    assert again["status"] == "accepted" and again["duplicate_count"] == 4 and again["standing_count"] == 0
    assert {w["code"] for w in again["warnings"]} == {"duplicate_claim"}
    assert utilization()[FEB].tcoc_amount == Decimal("0.00")


def test_a_second_original_of_a_standing_claim_rejects_the_file_and_changes_nothing(analyst_api):
    assert post(analyst_api, FIRST_FILE).status_code == 201
    before = list(UtilizationRow.objects.values_list("pk", "superseded"))
    changed = [
        FIRST_FILE[4]._replace(paid_amount=Decimal("99.00"), paid_date=D(2026, 5, 1)),
        line(claim_id="NEW", member_id="M2"),
    ]
    response = post(analyst_api, changed, "changed.csv")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_file"
    assert [(p["row"], p["column"], p["code"]) for p in body["details"]["problems"]] == [
        (2, "frequency_code", "claim_already_loaded")
    ]
    assert not ClaimLineRow.objects.filter(member_id="M2").exists()
    assert list(UtilizationRow.objects.values_list("pk", "superseded")) == before
    rejected = ClaimsUpload.objects.get(original_filename="changed.csv")
    assert rejected.status == "rejected" and rejected.file.read()  # the file is kept


def test_a_file_with_errors_loads_nothing_and_names_every_row(analyst_api, client, plan_analyst):
    data = (
        write_claims_csv([line(), line(claim_id="C2", paid_amount=Decimal("5.00"))])
        .replace("5.00", "5.001")
        .replace(
            "2026-03-02,2026-03-02,2026-03-20,120.00,100.00", "2026-03-02,2026-03-01,2026-03-20,120.00,100.00"
        )
    )
    response = post(analyst_api, data.encode(), "bad.csv")
    assert response.status_code == 400
    problems = {(p["row"], p["column"], p["code"]) for p in response.json()["details"]["problems"]}
    assert problems == {(2, "service_to", "service_to_before_from"), (3, "paid_amount", "not_an_amount")}
    assert not ClaimLineRow.objects.exists() and not UtilizationRow.objects.exists()
    client.force_login(plan_analyst)
    page = client.get(f"/claims/uploads/{response.json()['details']['upload']}/").content.decode()
    assert "Nothing was loaded" in page and "not_an_amount" in page


def test_the_pages_upload_and_show_a_file_and_serve_the_template(client, plan_analyst):
    client.force_login(plan_analyst)
    assert client.get("/claims/").status_code == 200
    response = client.post(
        "/claims/uploads/", {"file": SimpleUploadedFile("c.csv", write_claims_csv(FIRST_FILE).encode())}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "5 lines of 4 claims for 1 member" in page and "$15,386.12 paid" in page
    assert "c.csv" in client.get("/claims/").content.decode()
    template = client.get("/claims/templates/claims.csv")
    assert template.status_code == 200 and template.content.decode().startswith("member_id,claim_id,")
    assert client.post("/claims/uploads/").status_code == 302  # no file: back to the page with a message


def test_a_large_file_is_read_by_the_worker_with_progress_once(analyst_api, settings, monkeypatch):
    from claims import tasks

    settings.UPLOAD_SYNC_MAX_BYTES = 10
    monkeypatch.setattr(tasks.process_claims_upload, "delay", lambda pk: None)
    response = post(analyst_api, FIRST_FILE)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["progress_message"]) == ("processing", "Queued")
    upload = ClaimsUpload.objects.get()
    assert not ClaimLineRow.objects.exists()
    assert tasks.process_claims_upload(upload.pk) == "accepted"
    assert tasks.process_claims_upload(upload.pk) == "accepted"  # a second delivery changes nothing
    body = analyst_api.get(response["Location"]).json()
    assert (body["progress"], body["line_count"]) == (100, 5)
    assert ClaimLineRow.objects.count() == 5 and UtilizationUpload.objects.count() == 1


def test_the_database_keeps_lines_as_received(analyst_api):
    assert post(analyst_api, FIRST_FILE).status_code == 201
    row = ClaimLineRow.objects.filter(standing=True).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimLineRow.objects.filter(pk=row.pk).update(paid_amount=Decimal("1.00"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimLineRow.objects.filter(pk=row.pk).update(standing=False, paid_amount=Decimal("1.00"))
    ClaimLineRow.objects.filter(pk=row.pk).update(standing=False)  # ceasing to stand is the one change
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimLineRow.objects.filter(pk=row.pk).update(standing=True)


def queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert call().status_code == 200
    return len(captured.captured_queries)


def test_the_upload_list_reads_in_constant_queries(analyst_api, client, plan_analyst):
    client.force_login(plan_analyst)
    post(analyst_api, [line(claim_id="C0")], "c0.csv")
    api_one = queries(lambda: analyst_api.get("/api/v1/claims/uploads/"))
    page_one = queries(lambda: client.get("/claims/"))
    for i in range(1, 8):
        post(analyst_api, [line(claim_id=f"C{i}")], f"c{i}.csv")
    assert queries(lambda: analyst_api.get("/api/v1/claims/uploads/")) == api_one <= 12
    assert queries(lambda: client.get("/claims/")) == page_one <= 14


def test_claims_belong_to_the_plan_alone(analyst_api, api_for, member_of, client):
    upload_id = post(analyst_api, FIRST_FILE, "plan-a.csv").json()["id"]
    other_plan = member_of(PayerFactory(), Role.ADMIN)
    api = api_for(other_plan)
    assert api.get(f"/api/v1/claims/uploads/{upload_id}/").status_code == 404
    assert api.get("/api/v1/claims/uploads/").json()["count"] == 0
    client.force_login(other_plan)
    assert client.get(f"/claims/uploads/{upload_id}/").status_code == 404
    assert "plan-a.csv" not in client.get("/claims/").content.decode()
    provider_user = member_of(ProviderFactory(), Role.ADMIN)
    api = api_for(provider_user)
    assert api.get(f"/api/v1/claims/uploads/{upload_id}/").status_code == 404
    assert api.get("/api/v1/claims/uploads/").status_code == 403
    assert post(api, FIRST_FILE).status_code == 403
    client.force_login(provider_user)
    assert client.get(f"/claims/uploads/{upload_id}/").status_code == 404
    assert client.get("/claims/").status_code == 403
    assert client.get("/claims/templates/claims.csv").status_code == 403
    assert ClaimsUpload.objects.count() == 1


def test_a_satisfaction_score_sent_by_file_is_carried_into_the_derived_month(analyst_api):
    from tests.performance.conftest import urow, utilization_csv

    csv = utilization_csv(
        [urow("M1", MAR, tcoc="1.00", satisfaction_score="91", death_date="", death_place="")]
    )
    assert (
        analyst_api.post(
            "/api/v1/performance/uploads/", {"file": SimpleUploadedFile("u.csv", csv)}, format="multipart"
        ).status_code
        == 201
    )
    assert post(analyst_api, FIRST_FILE).status_code == 201
    march = utilization()[MAR]
    assert (march.satisfaction_score, march.tcoc_amount) == (Decimal("91.00"), Decimal("10086.12"))


def test_an_837_encounter_file_loads_like_an_extract_and_gets_its_999(analyst_api, client, plan_analyst):
    from tests.claims.test_x12_837 import PROFESSIONAL_LINES, professional, x12

    response = post(analyst_api, x12(professional()), "encounters.837")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["line_count"], body["has_999"]) == (len(PROFESSIONAL_LINES), True)
    assert ClaimLineRow.objects.filter(standing=True).count() == len(PROFESSIONAL_LINES)
    ack = analyst_api.get(f"/api/v1/claims/uploads/{body['id']}/999/")
    assert ack.status_code == 200 and "IK5*A" in ack.content.decode() and "AK9*A" in ack.content.decode()
    client.force_login(plan_analyst)
    page = client.get(f"/claims/uploads/{body['id']}/").content.decode()
    assert 'data-testid="upload-999"' in page
    download = client.get(f"/claims/uploads/{body['id']}/999/")
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.999"')

    missing_svd = [s for s in professional() if not s.startswith("SVD")][: -0 or None]
    rejected = post(analyst_api, x12([s for s in missing_svd if not s.startswith("DTP*573")]), "bad.837")
    assert rejected.status_code == 400
    problems = rejected.json()["details"]["problems"]
    assert {p["code"] for p in problems} == {"missing_adjudication"}
    assert all(p["row"] > 1 and "segment_id" in str(p) for p in problems)
    upload_id = rejected.json()["details"]["upload"]
    assert "IK5*R" in analyst_api.get(f"/api/v1/claims/uploads/{upload_id}/999/").content.decode()
    csv_upload = post(analyst_api, [line(claim_id="CSV1", member_id="M9")], "plain.csv").json()
    assert analyst_api.get(f"/api/v1/claims/uploads/{csv_upload['id']}/999/").status_code == 404
