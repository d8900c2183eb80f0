"""The roster API: submit (202), read the verdict, resubmit (versions and the difference), formats,
tenancy, the PHI access log, Idempotency-Key and query counts."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from core.models import AccessEvent
from enrollment import calc, selectors
from enrollment.models import RosterSubmission
from tests.enrollment.conftest import (
    MONTH,
    PREVIOUS,
    assessment_row,
    csv_bytes,
    day,
    roster_row,
)
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan_api(api_for, plan, member_of):
    return api_for(member_of(plan, Role.AUDITOR))


def post_roster(
    api, contract, rows, month=MONTH, assessments=None, name="roster.csv", content=None, **headers
):
    data = {"month": f"{month:%Y-%m}", "file": SimpleUploadedFile(name, content or csv_bytes(rows))}
    if assessments is not None:
        from enrollment.ingest.roster import ASSESSMENT_COLUMNS

        data["assessments"] = SimpleUploadedFile(
            "assessments.csv", csv_bytes(assessments, ASSESSMENT_COLUMNS)
        )
    return api.post(f"/api/v1/contracts/{contract.public_id}/rosters/", data, format="multipart", **headers)


def test_submit_answers_202_with_id_status_and_status_url(provider_api, contract):
    response = post_roster(
        provider_api,
        contract,
        [roster_row("M001"), roster_row("M002", tier="3")],
        assessments=[assessment_row("M001")],
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) == {"id", "status", "version", "month", "progress", "status_url"}
    assert body["version"] == 1 and body["month"] == f"{MONTH:%Y-%m}"
    assert body["status_url"] == f"/api/v1/rosters/{body['id']}/" == response["Location"]
    detail = provider_api.get(body["status_url"]).json()
    assert detail["status"] == "accepted" and detail["is_current"] is True
    assert detail["counts"] == {
        "rows": 2,
        "members": 2,
        "errors": 0,
        "warnings": 0,
        "assessments": 1,
        "payable_assessments": 1,
    }
    assert detail["member_months"] == [
        {"tier": "1", "market": "URBAN", "lob": "medicaid", "member_months": "1.000000", "members": 1},
        {"tier": "3", "market": "URBAN", "lob": "medicaid", "member_months": "1.000000", "members": 1},
    ]
    assert detail["errors"] == [] and detail["warnings"] == []
    assert detail["terms"] == {"version": 1, "proration_rule": "any_day", "tier_rule": "first_day"}


def test_a_rejected_roster_lists_every_error_with_row_column_code_and_message(provider_api, contract):
    response = post_roster(
        provider_api,
        contract,
        [roster_row("M001", tier="7"), roster_row("M002"), roster_row("M003", birth_date="19400101")],
    )
    body = provider_api.get(response.json()["status_url"]).json()
    assert body["status"] == "rejected"
    assert body["counts"]["errors"] == 2
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "tier", "unknown_tier"),
        (4, "birth_date", "invalid_date"),
    ]
    assert all(e["message"] and e["file"] == "roster" for e in body["errors"])
    assert body["member_months"] == []
    issues = provider_api.get(body["issues_url"] + "?severity=error&page_size=1").json()
    assert issues["count"] == 2 and len(issues["results"]) == 1


def test_xlsx_and_json_rosters(provider_api, contract):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "roster"
    sheet.append(["Member_ID", "last_name", "first_name", "birth_date", "market", "enrollment_start", "tier"])
    sheet.append(["M001", "DOE", "ANA", "1940-05-17", "URBAN", day(1, PREVIOUS), 2])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = post_roster(provider_api, contract, [], name="roster.xlsx", content=buffer.getvalue())
    assert provider_api.get(xlsx.json()["status_url"]).json()["status"] == "accepted"
    rows = [
        {
            "member_id": "M001",
            "last_name": "DOE",
            "first_name": "ANA",
            "birth_date": "1940-05-17",
            "market": "URBAN",
            "enrollment_start": day(1, PREVIOUS),
            "tier": "1",
        }
    ]
    as_json = post_roster(
        provider_api, contract, [], name="roster.json", content=json.dumps({"rows": rows}).encode()
    )
    body = provider_api.get(as_json.json()["status_url"]).json()
    assert body["status"] == "accepted" and body["version"] == 2


def test_resubmission_replaces_the_previous_version_and_shows_the_difference(provider_api, contract):
    first = post_roster(
        provider_api, contract, [roster_row("M001"), roster_row("M002"), roster_row("M003")]
    ).json()
    second = post_roster(
        provider_api,
        contract,
        [
            roster_row("M001"),
            roster_row("M002", tier="2", enrollment_end=day(20), disenrollment_reason="death"),
            roster_row("M004"),
        ],
    ).json()
    assert second["version"] == 2
    old = provider_api.get(first["status_url"]).json()
    new = provider_api.get(second["status_url"]).json()
    assert old["status"] == "accepted" and old["is_current"] is False  # still readable
    assert new["is_current"] is True and new["previous_version"] == 1
    diff = new["diff"]
    assert (diff["against_version"], diff["added"], diff["removed"], diff["changed"]) == (1, 1, 1, 1)
    by_member = {item["member_id"]: item for item in diff["items"]}
    assert by_member["M004"]["change"] == "added" and by_member["M003"]["change"] == "removed"
    changes = {c["field"]: (c["before"], c["after"]) for c in by_member["M002"]["changes"]}
    assert changes["enrollment_end"] == ("", day(20))
    assert changes["disenrollment_reason"] == ("", "death")
    assert changes["tier"][1].startswith("2 from")
    current = selectors.current_submission(contract=contract, month=MONTH)
    assert str(current.public_id) == second["id"]
    # The old version's files and rows stay readable.
    assert provider_api.get(old["members_url"]).json()["count"] == 3


def test_member_months_follow_the_contracts_proration_and_tier_rules(provider_api, active_contract, provider):
    contract = active_contract(proration_rule="daily", tier_rule="highest", markets=["RURAL-N"])
    dim = calc.days_in_month(MONTH)
    rows = [
        roster_row("M001", market="RURAL-N", enrollment_start=day(11)),
        roster_row("M002", market="RURAL-N", tier="1"),
        roster_row("M002", market="RURAL-N", tier="3", tier_start=day(20)),
    ]
    body = provider_api.get(post_roster(provider_api, contract, rows).json()["status_url"]).json()
    assert body["status"] == "accepted"
    cells = {(c["tier"], c["market"]): Decimal(c["member_months"]) for c in body["member_months"]}
    assert cells == {
        ("1", "RURAL-N"): calc.daily_fraction(dim - 10, MONTH),
        ("3", "RURAL-N"): Decimal("1.000000"),
    }
    lines = list(selectors.payable_member_months(contract=contract, month=MONTH))
    assert [
        (line["member_id"], line["tier"], line["member_months"], line["days_enrolled"]) for line in lines
    ] == [
        ("M001", "1", calc.daily_fraction(dim - 10, MONTH), dim - 10),
        ("M002", "3", Decimal("1.000000"), dim),
    ]
    assert set(lines[0]) == {
        "member_id",
        "tier",
        "market",
        "lob",
        "member_months",
        "days_enrolled",
        "submission_id",
        "version",
        "phase",  # '' for an unphased contract
    }
    assert {line["phase"] for line in lines} == {""}


def test_payable_assessments_for_payments(provider_api, contract):
    post_roster(
        provider_api,
        contract,
        [roster_row("M001")],
        month=PREVIOUS,
        assessments=[assessment_row("M001", assessment_date=day(5, PREVIOUS))],
    )
    post_roster(
        provider_api,
        contract,
        [roster_row("M001")],
        assessments=[assessment_row("M001", assessment_date=day(2)), assessment_row("M002")],
    )
    payable = list(selectors.payable_assessments(contract=contract, month=MONTH))
    assert [(a["member_id"], a["outcome"], a["market"]) for a in payable] == [("M002", "enrolled", "URBAN")]
    body = provider_api.get(
        f"/api/v1/rosters/{RosterSubmission.objects.get(month=MONTH).public_id}/assessments/?payable=false"
    ).json()
    assert [(a["member_id"], a["payable"], a["reason"]) for a in body["results"]] == [
        ("M001", False, "second_in_lookback")
    ]


def test_the_submitted_file_can_be_downloaded_byte_for_byte(provider_api, plan_api, contract):
    content = csv_bytes([roster_row("M001", tier="8")])
    body = post_roster(provider_api, contract, [], content=content).json()
    detail = provider_api.get(body["status_url"]).json()
    assert detail["status"] == "rejected"
    for api in (provider_api, plan_api):
        response = api.get(detail["files"]["roster"]["url"])
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == content


def test_the_plan_sees_every_providers_submissions_and_lateness(
    provider_api, plan_api, contract, active_contract
):
    other = ProviderFactory()
    active_contract(provider_org=other, markets=["RURAL-N"])
    post_roster(provider_api, contract, [roster_row("M001")])
    listed = plan_api.get("/api/v1/rosters/").json()["results"]
    assert [(r["contract"]["number"], r["provider"]["name"], r["status"]) for r in listed] == [
        (contract.number, contract.provider.legal_name, "accepted")
    ]
    assert {"late", "due_date"} <= set(listed[0])
    assert plan_api.get(f"/api/v1/rosters/?month={MONTH:%Y-%m}&status=accepted").json()["count"] == 1
    assert plan_api.get("/api/v1/rosters/?status=rejected").json()["count"] == 0


def test_tenancy_another_provider_can_neither_submit_nor_read(api_for, member_of, contract, provider_api):
    body = post_roster(provider_api, contract, [roster_row("M001")]).json()
    stranger = api_for(member_of(ProviderFactory(), Role.ADMIN))
    refused = post_roster(stranger, contract, [roster_row("M001")])
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
    for url in (
        body["status_url"],
        body["status_url"] + "members/",
        body["status_url"] + "issues/",
        body["status_url"] + "file/",
        f"/api/v1/contracts/{contract.public_id}/rosters/",
    ):
        assert stranger.get(url).status_code == 404, url
    assert stranger.get("/api/v1/rosters/").json()["count"] == 0
    assert RosterSubmission.objects.count() == 1


def test_the_plan_and_read_only_roles_cannot_submit(api_for, member_of, plan, provider, contract):
    for user in (member_of(plan, Role.ADMIN), member_of(provider, Role.AUDITOR)):
        response = post_roster(api_for(user), contract, [roster_row("M001")])
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    submitter = member_of(provider, Role.SUBMITTER)
    assert post_roster(api_for(submitter), contract, [roster_row("M001")]).status_code == 202


def test_refused_months_and_bad_input_are_400(provider_api, contract):
    response = post_roster(provider_api, contract, [roster_row("M001")], month=calc.add_months(MONTH, -6))
    assert response.status_code == 400 and response.json()["code"] == "outside_retro_window"
    no_file = provider_api.post(
        f"/api/v1/contracts/{contract.public_id}/rosters/", {"month": "2026-01"}, format="multipart"
    )
    assert no_file.status_code == 400 and "file" in no_file.json()["details"]
    assert (
        provider_api.post(
            f"/api/v1/contracts/{contract.public_id}/rosters/",
            {"month": "2026-13", "file": SimpleUploadedFile("r.csv", b"x")},
            format="multipart",
        ).json()["code"]
        == "invalid_month"
    )


def test_idempotency_key_replays_the_submission(provider_api, contract):
    rows = [roster_row("M001")]
    first = post_roster(provider_api, contract, rows, HTTP_IDEMPOTENCY_KEY="roster-2026-1")
    again = post_roster(provider_api, contract, rows, HTTP_IDEMPOTENCY_KEY="roster-2026-1")
    assert first.status_code == again.status_code == 202
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert RosterSubmission.objects.count() == 1
    assert post_roster(provider_api, contract, rows).json()["version"] == 2


def test_every_view_of_member_data_is_recorded_in_the_access_log(
    provider_api, plan_api, contract, provider_admin
):
    body = post_roster(
        provider_api, contract, [roster_row("M001")], assessments=[assessment_row("M001")]
    ).json()
    assert not AccessEvent.objects.exists()
    url = body["status_url"]
    for path in ("", "members/", "issues/", "assessments/", "file/"):
        assert provider_api.get(url + path).status_code == 200
    events = list(AccessEvent.objects.order_by("pk"))
    assert len(events) == 5
    assert {e.object_id for e in events} == {body["id"]}
    assert all(e.user == provider_admin for e in events)
    assert [e.action for e in events] == ["roster.view"] * 4 + ["roster.download"]
    plan_api.get(url)
    assert AccessEvent.objects.filter(organization=contract.payer, action="roster.view").count() == 1


def test_list_endpoints_take_a_constant_number_of_queries(
    provider_api, plan_api, contract, django_assert_max_num_queries
):
    post_roster(provider_api, contract, [roster_row("M001")])
    with django_assert_max_num_queries(8):
        assert plan_api.get("/api/v1/rosters/").json()["count"] == 1
    for k in range(4):
        post_roster(provider_api, contract, [roster_row(f"M00{k}")], month=PREVIOUS if k % 2 else MONTH)
    with django_assert_max_num_queries(8):
        assert plan_api.get("/api/v1/rosters/").json()["count"] == 5
    with django_assert_max_num_queries(10):
        assert provider_api.get(f"/api/v1/contracts/{contract.public_id}/rosters/").json()["count"] == 5
    submission = RosterSubmission.objects.filter(status="accepted").first()
    with django_assert_max_num_queries(10):
        assert provider_api.get(f"/api/v1/rosters/{submission.public_id}/members/").status_code == 200
