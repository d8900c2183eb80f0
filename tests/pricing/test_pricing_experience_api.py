"""Experience uploads: every row error with its row and column, all-or-nothing, the file kept."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from pricing.models import ExperienceDataset
from tests.pricing.conftest import EXPERIENCE_CSV, SPANS_CSV

pytestmark = pytest.mark.django_db

URL = "/api/v1/pricing/experience/"


def upload(client, content: bytes, spans: bytes | None = None, headers: dict | None = None, **fields):
    data = {
        "name": "Bayview 2025",
        "program_name": "Bayview",
        "file": SimpleUploadedFile("exp.csv", content),
        **fields,
    }
    if spans is not None:
        data["spans_file"] = SimpleUploadedFile("spans.csv", spans)
    return client.post(URL, data, format="multipart", **(headers or {}))


def test_an_idempotency_key_replays_the_first_upload(analyst_api):
    key = {"HTTP_IDEMPOTENCY_KEY": "exp-1"}
    first = upload(analyst_api, EXPERIENCE_CSV.encode(), headers=key)
    again = upload(analyst_api, EXPERIENCE_CSV.encode(), headers=key)
    assert first.status_code == again.status_code == 201, first.json()
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert ExperienceDataset.objects.count() == 1
    other = upload(analyst_api, EXPERIENCE_CSV.encode(), headers=key, name="Another name")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert ExperienceDataset.objects.count() == 1


def test_a_valid_upload_is_summarised_by_tier_and_kept(analyst_api):
    response = upload(analyst_api, EXPERIENCE_CSV.encode(), SPANS_CSV.encode())
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "valid" and body["row_count"] == 6 and body["spans_count"] == 4
    assert body["summary"]["by_tier"] == {
        "1": {"member_months": "210", "cost": "56000.5", "pmpm": "266.67"},
        "2": {"member_months": "115", "cost": "46500", "pmpm": "404.35"},
        "3": {"member_months": "45", "cost": "29000", "pmpm": "644.44"},
    }
    assert (body["summary"]["first_month"], body["summary"]["last_month"]) == ("2025-01", "2025-02")
    spans = body["spans_summary"]
    assert (spans["spans"], spans["disenrolled"], spans["censored"]) == (4, 2, 2)
    assert spans["data_end_month"] == "2025-02"
    dataset = ExperienceDataset.objects.get()
    with dataset.file.open("rb") as fh:
        assert fh.read() == EXPERIENCE_CSV.encode()
    downloaded = analyst_api.get(f"{URL}{body['id']}/file/")
    assert b"".join(downloaded.streaming_content) == EXPERIENCE_CSV.encode()
    spans_file = analyst_api.get(f"{URL}{body['id']}/file/?which=spans")
    assert b"".join(spans_file.streaming_content) == SPANS_CSV.encode()


def test_header_names_are_matched_loosely_and_a_bom_is_accepted(analyst_api):
    content = "\ufeff Month ,TIER,Member_Months,Cost,member_id\n2025-03-01,1,1,250.00,X1\n".encode()
    body = upload(analyst_api, content).json()
    assert body["status"] == "valid" and body["summary"]["by_tier"]["1"]["cost"] == "250"


def test_every_row_error_has_its_row_and_column_and_nothing_is_loaded(analyst_api):
    content = (
        b"month,tier,member_months,cost\n"
        b"2025-01,1,10,2700\n"  # row 2: fine
        b"2025-13,1,10,2700\n"  # row 3: no such month
        b",2,0,-5\n"  # row 4: month missing, member-months 0, negative cost
        b"2025-02,,ten,1,2\n"  # row 5: tier missing, not a number, an extra cell
        b"2099-01,3,5,12.5\n"  # row 6: in the future
        b"2025-03,3,1,9999999\n"  # row 7: implausible cost per member-month
    )
    response = upload(analyst_api, content)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_experience"
    found = [(e["file"], e["row"], e["column"], e["code"]) for e in body["details"]["errors"]]
    assert found == [
        ("experience", 3, "month", "invalid_month"),
        ("experience", 4, "month", "required"),
        ("experience", 4, "member_months", "not_positive"),
        ("experience", 4, "cost", "negative"),
        ("experience", 5, "", "extra_cells"),
        ("experience", 5, "tier", "required"),
        ("experience", 5, "member_months", "invalid_number"),
        ("experience", 6, "month", "month_in_future"),
        ("experience", 7, "cost", "implausible"),
    ]
    assert body["details"]["error_count"] == 9
    dataset = ExperienceDataset.objects.get(public_id=body["details"]["dataset_id"])
    assert dataset.status == "rejected" and dataset.summary == {} and dataset.row_count == 6
    with dataset.file.open("rb") as fh:
        assert fh.read() == content  # the upload is kept as it was received
    assert analyst_api.get(f"{URL}?status=rejected").json()["count"] == 1
    assert analyst_api.get(f"{URL}?status=valid").json()["count"] == 0


def test_missing_columns_are_reported_on_the_header_row(analyst_api):
    errors = upload(analyst_api, b"month;tier;cost\n2025-01;1;5\n").json()["details"]["errors"]
    assert [(e["row"], e["column"], e["code"]) for e in errors] == [
        (1, "month", "missing_column"),
        (1, "tier", "missing_column"),
        (1, "member_months", "missing_column"),
        (1, "cost", "missing_column"),
    ]


def test_an_empty_file_is_refused_on_its_field(analyst_api):
    response = upload(analyst_api, b"")
    assert response.status_code == 400 and "file" in response.json()["details"]


@pytest.mark.parametrize(
    ("content", "row", "code"),
    [
        (b"\xef\xbb\xbf\n", 1, "missing_column"),
        (b"month,tier,member_months,cost\n", 2, "no_data_rows"),
        (b"month,tier,member_months,cost\n2025-01,1,1,5\n2025-02,\xff\xfe,1,5\n", 3, "not_utf8"),
    ],
)
def test_unreadable_files_say_where(analyst_api, content, row, code):
    errors = upload(analyst_api, content).json()["details"]["errors"]
    assert (errors[0]["row"], errors[0]["code"]) == (row, code)


def test_span_errors_reject_the_whole_upload(analyst_api):
    spans = (
        b"enrollment_start,enrollment_end,disenrollment_reason\n"
        b"2025-01-03,2024-12-30,death\n"  # row 2: ends before it starts
        b"2025-02-30,,\n"  # row 3: not a date
        b"2025-01-10,2025-01-20,abducted\n"  # row 4: unknown reason
        b"2025-05-01,,\n"  # row 5: starts after the experience data (2025-02)
    )
    response = upload(analyst_api, EXPERIENCE_CSV.encode(), spans)
    assert response.status_code == 400
    found = [(e["file"], e["row"], e["column"], e["code"]) for e in response.json()["details"]["errors"]]
    assert found == [
        ("spans", 2, "enrollment_end", "end_before_start"),
        ("spans", 3, "enrollment_start", "invalid_date"),
        ("spans", 4, "disenrollment_reason", "unknown_reason"),
        ("spans", 5, "enrollment_start", "after_data_end"),
    ]
    assert ExperienceDataset.objects.get().summary == {}


def test_a_rejected_upload_cannot_be_priced(analyst_api, scope, start_run):
    upload(analyst_api, b"month,tier,member_months,cost\nnope,1,1,1\n")
    dataset = ExperienceDataset.objects.get()
    from core.errors import ConflictError

    with pytest.raises(ConflictError):
        start_run(experience=dataset)


def test_auditor_cannot_upload(plan, member_of, api_for):
    response = upload(api_for(member_of(plan, Role.AUDITOR)), EXPERIENCE_CSV.encode())
    assert response.status_code == 403
    assert not ExperienceDataset.objects.exists()


def test_list_query_count_is_constant(analyst_api, django_assert_max_num_queries):
    for _ in range(5):
        upload(analyst_api, EXPERIENCE_CSV.encode())
    with django_assert_max_num_queries(6):
        response = analyst_api.get(URL)
    assert response.json()["count"] == 5


def test_a_large_upload_is_read_by_the_worker_with_the_same_verdict(analyst_api, settings, monkeypatch):
    from pricing import tasks

    settings.UPLOAD_SYNC_MAX_BYTES = 10
    monkeypatch.setattr(tasks.process_experience_upload, "delay", lambda pk: None)
    good = upload(analyst_api, EXPERIENCE_CSV.encode(), SPANS_CSV.encode())
    bad = upload(analyst_api, b"month,tier,member_months,cost\n2025-13,1,12,100\n")
    assert good.status_code == bad.status_code == 202
    assert good.json()["status"] == bad.json()["status"] == "processing"
    by_id = {str(d.public_id): d.pk for d in ExperienceDataset.objects.all()}
    assert tasks.process_experience_upload(by_id[good.json()["id"]]) == "valid"
    assert tasks.process_experience_upload(by_id[good.json()["id"]]) == "valid"  # done once only
    assert tasks.process_experience_upload(by_id[bad.json()["id"]]) == "rejected"
    detail = analyst_api.get(bad["Location"]).json()
    assert [(e["row"], e["column"], e["code"]) for e in detail["errors"]] == [(2, "month", "invalid_month")]
    assert analyst_api.get(good["Location"]).json()["spans_count"] > 0


def test_a_file_the_worker_cannot_read_is_rejected_not_left_processing(analyst_api, settings, monkeypatch):
    from pricing import tasks
    from pricing.services import experience

    settings.UPLOAD_SYNC_MAX_BYTES = 10
    monkeypatch.setattr(tasks.process_experience_upload, "delay", lambda pk: None)
    upload(analyst_api, EXPERIENCE_CSV.encode())

    def crash(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(experience, "summarise_experience", crash)
    dataset = ExperienceDataset.objects.get()
    assert tasks.process_experience_upload(dataset.pk) == "rejected"
    dataset.refresh_from_db()
    assert [e["code"] for e in dataset.errors] == ["processing_failed"] and "MemoryError" in dataset.errors[
        0
    ]["message"]
