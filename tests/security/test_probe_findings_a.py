"""Regression tests for the outside probe's findings 1, 2, 3 and 6 (issue 20), each through the path the
probe used, and each written to fail on the code the probe found.

1. Roster validation told any provider what the plan holds about a member (name, birth date) and
   whether a member id exists at all.
2. A 17 KB XLSX of one row of 4,000,000 empty cells was parsed for 20 s and 1.5 GB inside the request.
3. An ``Idempotency-Key`` reused with another file of the same name and size replayed the first upload.
6. Member-level experience downloads were missing from the PHI access log; every route is now
   classified, and each one that returns member data is walked and must write an access event
   (tests/security/test_member_access_log.py).
"""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from enrollment import calc
from enrollment.ingest.roster import FILE_TOO_LARGE, ROSTER_COLUMNS
from enrollment.ingest.tabular import ROSTER, read_table
from enrollment.models import EligibilityFile, RosterSubmission
from performance.ingest import COLUMNS as UTILIZATION_COLUMNS
from performance.models import UtilizationRow, UtilizationUpload
from tests.enrollment.conftest import MONTH, eligibility_upload, make_834, make_active_contract, roster_row
from tests.fixtures.contracts import csv_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def contract(plan_scope, provider, provider_admin, bundle_version):
    return make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=bundle_version
    )


def post_roster(api, contract, content: bytes, name: str = "roster.csv", **headers):
    return api.post(
        f"/api/v1/contracts/{contract.public_id}/rosters/",
        {"month": f"{MONTH:%Y-%m}", "file": SimpleUploadedFile(name, content)},
        format="multipart",
        **headers,
    )


# --------------------------------------------------------------------------- 1. PHI through validation
PLAN_SECRETS = ("GARCIA", "MARIA", "1960-02-19", "19600219", "LOPEZ", "1950-03-04")


def test_1_roster_issues_never_tell_a_provider_what_the_plan_holds_about_a_member(
    contract, provider_api, analyst_api, provider_admin, plan_analyst
):
    eligible_from = calc.add_months(MONTH, -6)
    analyst_api.post(
        "/api/v1/eligibility-files/",
        {
            "file": eligibility_upload(
                make_834(
                    [
                        ("GC200001", "GARCIA", "MARIA", "19600219", eligible_from, None),
                        # in the plan's file, but its eligibility ended before the roster month
                        ("GC200003", "LOPEZ", "ROSA", "19500304", eligible_from, calc.add_months(MONTH, -2)),
                    ]
                )
            )
        },
        format="multipart",
    )
    probe = {"last_name": "PROBE", "first_name": "PROBE", "birth_date": "1999-01-01"}
    rows = [
        roster_row("GC200001", **probe),
        roster_row("GC200003", **probe),
        roster_row("GC200004", **probe),  # not a member of the plan at all
        roster_row("GC200009", tier="9"),  # a bad tier: the roster is rejected
    ]
    body = post_roster(provider_api, contract, csv_bytes(rows)).json()
    submission_url = body["status_url"]
    detail = provider_api.get(submission_url)
    issues = provider_api.get(submission_url + "issues/")
    assert detail.json()["status"] == "rejected"
    for response in (detail, issues):
        text = response.content.decode()
        leaked = [secret for secret in PLAN_SECRETS if secret in text]
        assert not leaked, f"the plan's data about its members reached the provider: {leaked}\n{text}"
        assert "plan_detail" not in text
    by_member: dict[str, list[tuple[str, str, str]]] = {}
    for issue in issues.json()["results"]:
        member = next((m for m in ("GC200001", "GC200003", "GC200004") if m in issue["message"]), None)
        if member:
            by_member.setdefault(member, []).append(
                (issue["column"], issue["code"], issue["message"].replace(member, "<id>"))
            )
    # A mismatch says which fields differ, not what the plan holds.
    [mismatch] = by_member["GC200001"]
    assert mismatch[1] == "eligibility_mismatch"
    assert all(name in mismatch[2] for name in ("last_name", "first_name", "birth_date")), mismatch
    # A member the plan has but who is not eligible reads exactly as a member id the plan never had.
    assert by_member["GC200003"] == by_member["GC200004"]
    assert [code for _, code, _ in by_member["GC200004"]] == ["not_eligible"]

    # The plan's own view still shows both sides, and tells its two cases apart.
    plan_issues = analyst_api.get(submission_url + "issues/").json()["results"]
    plan_detail = {
        member: issue["plan_detail"]
        for issue in plan_issues
        for member in ("GC200001", "GC200003", "GC200004")
        if member in issue["message"]
    }
    assert "'GARCIA'" in plan_detail["GC200001"] and "'PROBE'" in plan_detail["GC200001"]
    assert "1960-02-19" in plan_detail["GC200001"] and "1999-01-01" in plan_detail["GC200001"]
    assert "not in the plan's eligibility file" in plan_detail["GC200004"]
    assert "'LOPEZ'" in plan_detail["GC200003"] and "eligibility file" in plan_detail["GC200003"]

    # The pages and the error report alike.
    page = f"/rosters/{body['id']}/"
    for user, sees in ((provider_admin, False), (plan_analyst, True)):
        client = Client()
        client.force_login(user)
        for path in (page, page + "errors.csv"):
            response = client.get(path)
            text = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
            assert response.status_code == 200
            shown = [secret for secret in PLAN_SECRETS if secret in text]
            assert shown == ([] if not sees else ["GARCIA", "MARIA", "1960-02-19", "LOPEZ", "1950-03-04"]), (
                path,
                shown,
            )


# --------------------------------------------------------------------------- 3. idempotency over files
def test_3_an_idempotency_key_reused_with_another_file_of_the_same_name_and_size_is_refused(
    contract, provider_api
):
    first = csv_bytes([roster_row("M001", tier="1")])
    corrected = csv_bytes([roster_row("M001", tier="2")])
    assert len(first) == len(corrected) and first != corrected
    key = {"HTTP_IDEMPOTENCY_KEY": "roster-march"}
    accepted = post_roster(provider_api, contract, first, **key)
    assert accepted.status_code == 202, accepted.json()
    again = post_roster(provider_api, contract, corrected, **key)
    assert again.status_code == 422, (again.status_code, again.get("Idempotent-Replayed"), again.json())
    assert again.json()["code"] == "idempotency_key_reused"
    assert RosterSubmission.objects.count() == 1
    # The same file again is still a replay.
    replay = post_roster(provider_api, contract, first, **key)
    assert replay.status_code == 202 and replay["Idempotent-Replayed"] == "true"
    assert json.loads(replay.content) == accepted.json()


# --------------------------------------------------------------------------- 2. the cell bomb
SHEET = "xl/worksheets/sheet1.xml"
BOMB_CELLS = 4_000_000


def one_row_bomb(columns=ROSTER_COLUMNS, cells: int = BOMB_CELLS) -> bytes:
    """The probe's file: a header, then one row of ``cells`` empty ``<c/>`` (16 MB of XML, ~20 KB zipped)."""
    plain = io.BytesIO()
    openpyxl.Workbook().save(plain)
    header = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{c}</t></is></c>' for i, c in enumerate(columns)
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as target,
    ):
        for info in source.infolist():
            if info.filename != SHEET:
                target.writestr(info.filename, source.read(info.filename))
                continue
            with target.open(SHEET, "w", force_zip64=True) as sheet:
                sheet.write(
                    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                    + f'<row r="1">{header}</row><row r="2">'.encode()
                )
                block = b"<c/>" * 100_000
                for _ in range(cells // 100_000):
                    sheet.write(block)
                sheet.write(b"</row></sheetData></worksheet>")
    return out.getvalue()


@pytest.fixture
def inflated(monkeypatch):
    """Bytes of the sheet XML handed to the reader, counted; reading stops (an error) past 2 MB, so a
    reader that would walk the whole 16 MB row fails here at once instead of churning for 20 s."""
    counted = {SHEET: 0}
    limit = 2 * 1024 * 1024
    original_read, original_read1 = zipfile.ZipExtFile.read, zipfile.ZipExtFile.read1

    def counting(read):
        def wrapper(self, n=-1):
            data = read(self, n)
            if self.name == SHEET:
                counted[SHEET] += len(data)
                if counted[SHEET] > limit:
                    raise RuntimeError("the reader went on reading the bomb's row")
            return data

        return wrapper

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting(original_read))
    monkeypatch.setattr(zipfile.ZipExtFile, "read1", counting(original_read1))
    return counted


def test_2_a_row_of_four_million_empty_cells_is_refused_after_reading_a_spreadsheet_row_of_them(inflated):
    data = one_row_bomb()
    assert len(data) < 32 * 1024
    table = read_table(data, ROSTER, filename="roster.xlsx")
    assert list(table) == []
    assert [(i.row, i.code) for i in table.errors] == [(1, FILE_TOO_LARGE)], table.errors
    assert "more than 16,384 cells" in table.errors[0].message
    # It stopped once the row passed the limit: 16,384 cells are 64 KB of XML, the row is 16 MB.
    assert inflated[SHEET] <= 256 * 1024

    from enrollment.ingest.xlsx import Workbook, XlsxError

    with Workbook(data) as book:
        rows = book.rows()
        with pytest.raises(XlsxError) as refused:
            list(rows)
    assert refused.value.code == "file_too_large" and rows.cells == 16_384 + 1 + len(ROSTER_COLUMNS)


def test_2_the_bomb_through_the_roster_and_utilisation_uploads(contract, provider_api, analyst_api, inflated):
    body = post_roster(provider_api, contract, one_row_bomb(), name="roster.xlsx").json()
    detail = provider_api.get(body["status_url"]).json()
    assert detail["status"] == "rejected"
    assert [(e["code"], "16,384 cells" in e["message"]) for e in detail["errors"]] == [(FILE_TOO_LARGE, True)]
    response = analyst_api.post(
        "/api/v1/performance/uploads/",
        {"file": SimpleUploadedFile("utilization.xlsx", one_row_bomb(UTILIZATION_COLUMNS))},
        format="multipart",
    )
    assert response.status_code == 400, response.json()
    [error] = response.json()["details"]["errors"]
    assert error["code"] == FILE_TOO_LARGE and "16,384 cells" in error["message"]
    assert not UtilizationRow.objects.exists()


def _utilisation_csv(rows: int) -> bytes:
    lines = [",".join(UTILIZATION_COLUMNS[:8])]
    lines += [f"M{i:06d},{MONTH.isoformat()},0,0,0,0,0,10.00" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_2_every_upload_over_the_small_size_is_parsed_by_a_worker_never_in_the_request(
    settings,
    monkeypatch,
    contract,
    provider_api,
    analyst_api,
    django_capture_on_commit_callbacks,
):
    """A file over UPLOAD_SYNC_MAX_BYTES (64 KB by default) is kept and queued: the request answers 202
    with the object in its ``processing`` state without having parsed a byte; the worker's task, run here
    by hand, then reads it."""
    from enrollment import processing
    from enrollment import services as enrollment_services
    from enrollment import tasks as enrollment_tasks
    from performance import services as performance_services
    from performance import tasks as performance_tasks
    from pricing import tasks as pricing_tasks
    from pricing.services import experience as experience_services

    assert settings.UPLOAD_SYNC_MAX_BYTES == 64 * 1024
    parsed: list[str] = []

    def spy(name, real):
        def wrapper(*args, **kwargs):
            parsed.append(name)
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(processing, "read_table", spy("roster", processing.read_table))
    monkeypatch.setattr(enrollment_services, "parse_834", spy("834", enrollment_services.parse_834))
    monkeypatch.setattr(
        performance_services, "read_utilization", spy("utilisation", performance_services.read_utilization)
    )
    monkeypatch.setattr(
        experience_services,
        "summarise_experience",
        spy("experience", experience_services.summarise_experience),
    )
    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(enrollment_tasks.process_roster, "delay", lambda pk: queued.append(("roster", pk)))
    monkeypatch.setattr(
        enrollment_tasks.process_eligibility_file, "delay", lambda pk: queued.append(("834", pk))
    )
    monkeypatch.setattr(
        performance_tasks.process_utilization_upload, "delay", lambda pk: queued.append(("utilisation", pk))
    )
    monkeypatch.setattr(
        pricing_tasks.process_experience_upload, "delay", lambda pk: queued.append(("experience", pk))
    )

    roster = csv_bytes([roster_row(f"M{i:04d}") for i in range(1400)])
    members = [
        (f"M{i:04d}", "LAST", "ANA", "19400517", calc.add_months(MONTH, -6), None) for i in range(1400)
    ]
    eligibility = make_834(members)
    utilisation = _utilisation_csv(2000)
    experience = b"month,tier,member_months,cost\n" + b"2025-01,1,12,4321.00\n" * 4000
    assert min(len(roster), len(eligibility), len(utilisation), len(experience)) > 64 * 1024
    with django_capture_on_commit_callbacks(execute=True):
        answers = {
            "834": analyst_api.post(
                "/api/v1/eligibility-files/", {"file": eligibility_upload(eligibility)}, format="multipart"
            ),
            "roster": post_roster(provider_api, contract, roster),
            "utilisation": analyst_api.post(
                "/api/v1/performance/uploads/",
                {"file": SimpleUploadedFile("utilization.csv", utilisation)},
                format="multipart",
            ),
            "experience": analyst_api.post(
                "/api/v1/pricing/experience/",
                {"name": "Bayview", "file": SimpleUploadedFile("experience.csv", experience)},
                format="multipart",
            ),
        }
    assert parsed == [], f"parsed in the request: {parsed}"
    assert {name: response.status_code for name, response in answers.items()} == dict.fromkeys(answers, 202)
    assert analyst_api.get(answers["834"].json()["acknowledgement_url"]).json()["status"] == "processing"
    assert provider_api.get(answers["roster"].json()["status_url"]).json()["status"] == "processing"
    upload_url = answers["utilisation"]["Location"]
    assert analyst_api.get(upload_url).json()["status"] == "processing"
    dataset_url = answers["experience"]["Location"]
    assert (
        answers["experience"].json()["status"]
        == analyst_api.get(dataset_url).json()["status"]
        == "processing"
    )
    assert sorted(name for name, _ in queued) == ["834", "experience", "roster", "utilisation"]

    # The worker's half.
    by_name = dict(queued)
    assert enrollment_tasks.process_eligibility_file(by_name["834"]) == "accepted"
    assert enrollment_tasks.process_roster(by_name["roster"]) == "accepted"
    assert performance_tasks.process_utilization_upload(by_name["utilisation"]) == "accepted"
    assert pricing_tasks.process_experience_upload(by_name["experience"]) == "valid"
    assert sorted(parsed) == ["834", "experience", "roster", "utilisation"]
    assert analyst_api.get(dataset_url).json()["row_count"] == 4000
    assert analyst_api.get(upload_url).json()["row_count"] == 2000
    assert EligibilityFile.objects.get().member_count == 1400
    assert UtilizationUpload.objects.get().status == "accepted"


# --------------------------------------------------------------------------- 6. the access log
def test_6_member_level_experience_downloads_are_in_the_access_log(analyst_api, plan_analyst):
    """The probe's two reads; every other member-data route is walked in test_member_access_log.py."""
    from core.models import AccessEvent

    response = analyst_api.post(
        "/api/v1/pricing/experience/",
        {
            "name": "Bayview 2025",
            "file": SimpleUploadedFile(
                "experience.csv", b"month,tier,member_months,cost\n2025-01,1,12,4321.00\n"
            ),
            "spans_file": SimpleUploadedFile(
                "spans.csv",
                b"member_id,enrollment_start,enrollment_end,disenrollment_reason\nGC100001,2025-01-06,,\n",
            ),
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    dataset = response.json()["id"]
    page = Client()
    page.force_login(plan_analyst)
    reads = [
        (analyst_api, f"/api/v1/pricing/experience/{dataset}/file/?which=spans"),
        (page, f"/pricing/experience/{dataset}/file/?which=spans"),
    ]
    for client, path in reads:
        response = client.get(path)
        assert response.status_code == 200
        assert b"GC100001" in b"".join(response.streaming_content)
    events = list(AccessEvent.objects.order_by("pk").values_list("user", "action", "object_id", "path"))
    assert events == [(plan_analyst.pk, "experience.download", dataset, path) for _, path in reads]
