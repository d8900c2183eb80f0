"""The plan's eligibility file (X12 834) through the API: every public sample loaded, the invalid one
rejected with positions and a 999, an audit file replacing the list, updates by maintenance type."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from enrollment.models import EligibilityFile, EligibilitySpan, InsuranceLineMapping, Member
from tests.enrollment.conftest import make_834

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "x12"  # see the README there
VALID = sorted(
    str(p.relative_to(SAMPLES))
    for p in SAMPLES.glob("*/*")
    if p.suffix in (".834", ".txt") and "INVALID" not in p.name
)
D = dt.date


def load(api, content: bytes, name: str = "eligibility.834", **headers):
    return api.post(
        "/api/v1/eligibility-files/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
        **headers,
    )


def test_the_samples_are_all_here():
    assert len(VALID) == 18
    assert (SAMPLES / "synthetic" / "roster_INVALID_ins03.834").exists()


@pytest.mark.parametrize("name", VALID)
def test_every_valid_public_sample_is_accepted_with_a_999(analyst_api, name):
    response = load(analyst_api, (SAMPLES / name).read_bytes(), Path(name).name)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) == {"id", "status", "acknowledgement_url"}
    ack = analyst_api.get(body["acknowledgement_url"]).json()
    assert ack["status"] == "accepted" and ack["accepted"] is True and ack["errors"] == []
    assert ack["lines"][0].startswith("Accepted")
    assert ack["x12_999"].startswith("ISA*") and "ST*999*" in ack["x12_999"]
    assert "IK5*A" in ack["x12_999"] or "IK5*E" in ack["x12_999"]
    detail = analyst_api.get(f"/api/v1/eligibility-files/{body['id']}/").json()
    assert detail["member_count"] >= 1 and detail["status"] == "accepted"


def test_the_invalid_sample_is_rejected_with_segment_positions_and_a_999(analyst_api):
    response = load(analyst_api, (SAMPLES / "synthetic" / "roster_INVALID_ins03.834").read_bytes())
    body = response.json()
    ack = analyst_api.get(body["acknowledgement_url"]).json()
    assert ack["status"] == "rejected" and ack["accepted"] is False
    positions = [
        (e["code"], e["segment_id"], e["segment_index"], e["position"], e["element"]) for e in ack["errors"]
    ]
    assert positions == [
        ("invalid_maintenance_type", "INS", 9, 7, 3),
        ("invalid_maintenance_type", "INS", 19, 17, 3),
        ("invalid_maintenance_type", "INS", 29, 27, 3),
    ]
    assert "IK3*INS*7*2000*8~" in ack["x12_999"] and "IK4*3*875*7*099~" in ack["x12_999"]
    assert "IK5*R*5~" in ack["x12_999"] and "AK9*R*1*1*0~" in ack["x12_999"]
    assert ack["lines"][0] == "Rejected" and "segment 9" in ack["lines"][1]
    download = analyst_api.get(f"/api/v1/eligibility-files/{body['id']}/999/")
    assert download.status_code == 200 and download.content.decode() == ack["x12_999"]
    assert not Member.objects.exists() and not EligibilitySpan.objects.exists()  # nothing applied


def test_an_audit_file_replaces_the_plans_list_and_updates_change_it(analyst_api, plan):
    InsuranceLineMapping.objects.create(payer=plan, code="HLT", lob="medicare_advantage")
    load(
        analyst_api,
        make_834(
            [
                ("A1", "ONE", "ANA", "19400101", D(2025, 1, 1), None),
                ("A2", "TWO", "BEN", "19410101", D(2025, 1, 1), None, "HLT", "06001"),
            ]
        ),
    )
    # The county of the member's address is the market a comparison group matches on.
    assert dict(Member.objects.values_list("member_id", "market")) == {"A1": "", "A2": "06001"}
    assert sorted(EligibilitySpan.objects.values_list("member_id", "lob")) == [
        ("A1", "medicaid"),
        ("A2", "medicare_advantage"),
    ]
    # An addition and a termination update the list.
    load(analyst_api, make_834([("A3", "THREE", "CY", "19420101", D(2025, 6, 1), None)], full=False))
    load(
        analyst_api,
        make_834(
            [("A1", "ONE", "ANA", "19400101", D(2025, 1, 1), D(2025, 8, 31))], full=False, maintenance="024"
        ),
    )
    spans = {s.member_id: (s.start, s.end) for s in EligibilitySpan.objects.all()}
    assert spans == {
        "A1": (D(2025, 1, 1), D(2025, 9, 1)),
        "A2": (D(2025, 1, 1), None),
        "A3": (D(2025, 6, 1), None),
    }
    # A new audit file replaces everything.
    body = load(analyst_api, make_834([("A2", "TWO", "BENJAMIN", "19410101", D(2025, 1, 1), None)])).json()
    assert list(EligibilitySpan.objects.values_list("member_id", flat=True)) == ["A2"]
    assert Member.objects.get(member_id="A2").first_name == "BENJAMIN"
    assert Member.objects.get(member_id="A2").market == ""  # the new file sends no county
    record = analyst_api.get(f"/api/v1/eligibility-files/{body['id']}/").json()
    assert record["full_file"] is True and record["counts"]["replaced_spans"] == 3


def test_only_the_plans_analysts_load_and_only_the_plan_reads(
    api_for, member_of, plan, provider, analyst_api
):
    body = load(analyst_api, make_834([("A1", "ONE", "ANA", "19400101", D(2025, 1, 1), None)])).json()
    for user, code in ((member_of(plan, Role.AUDITOR), 403), (member_of(provider, Role.ADMIN), 403)):
        assert load(api_for(user), b"ISA").status_code == code
    provider_api = api_for(member_of(provider, Role.SUBMITTER))
    assert provider_api.get(body["acknowledgement_url"]).status_code == 404  # not the provider's to know of
    auditor = api_for(member_of(plan, Role.AUDITOR))
    assert auditor.get(body["acknowledgement_url"]).status_code == 200
    other_plan = api_for(
        member_of(type(plan).objects.create(kind="payer", legal_name="Other Plan"), Role.ANALYST)
    )
    assert other_plan.get(body["acknowledgement_url"]).status_code == 404
    assert other_plan.get("/api/v1/eligibility-files/").json()["count"] == 0


def test_eligibility_idempotency_and_list_query_count(analyst_api, django_assert_max_num_queries):
    content = make_834([("A1", "ONE", "ANA", "19400101", D(2025, 1, 1), None)])
    first = load(analyst_api, content, HTTP_IDEMPOTENCY_KEY="elig-1")
    again = load(analyst_api, content, HTTP_IDEMPOTENCY_KEY="elig-1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert EligibilityFile.objects.count() == 1
    for _ in range(3):
        load(analyst_api, content)
    with django_assert_max_num_queries(7):
        assert analyst_api.get("/api/v1/eligibility-files/").json()["count"] == 4
