"""Deaths and hospice transfers end payment (issue 14, point 1), through the payments API:

- GC100005 dies on 2026-11-20 (the November roster says so); the December roster listing the member is
  rejected, member-months stop on the 20th, and the December run pays nothing for the member;
- a death the plan's 834 reports after months were paid: the next run takes back what was paid for the
  days after it (retro lines, negative) inside the retro window, and lists the months outside it;
- a hospice transfer ends the member in the bundle the same way.

Rosters are submitted through the services with ``today`` pinned (fixed months in 2026 must be inside
the retro window); the 834, the runs and their results go through the API.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from enrollment.exits import MEMBER_DECEASED
from enrollment.models import MemberMonth, RosterSubmission
from enrollment.services import roster_submit
from payments.services import payment_run_calculate
from tests.enrollment.conftest import make_834
from tests.fixtures.contracts import csv_bytes
from tests.payments.conftest import member, pay, submit_roster

pytestmark = pytest.mark.django_db
D = dt.date
M = Decimal
SEP, OCT, NOV, DEC = D(2026, 9, 1), D(2026, 10, 1), D(2026, 11, 1), D(2026, 12, 1)
JAN27 = D(2027, 1, 1)


@pytest.fixture
def analyst_api(api_for, plan_analyst):
    return api_for(plan_analyst)


def run_through_api(api, contract, month: dt.date, monkeypatch, capture) -> dict:
    monkeypatch.setattr("payments.tasks.calculate_run.delay", lambda run_id: None)
    with capture(execute=True):
        response = api.post(
            f"/api/v1/contracts/{contract.public_id}/payment-runs/",
            {"month": f"{month:%Y-%m}"},
            format="json",
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    from payments.models import PaymentRun

    payment_run_calculate(run_id=PaymentRun.objects.get(public_id=body["id"]).pk)
    detail = api.get(body["url"]).json()
    assert detail["status"] == "review", detail
    return detail


def member_lines(detail: dict) -> list[tuple]:
    return [(x["kind"], x["service_month"], x["amount"]) for x in detail["lines"]]


def test_gc100005_paid_through_the_death_day_and_never_after(
    contract_factory,
    provider_scope,
    analyst_scope,
    analyst_api,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    contract = contract_factory(proration_rule="daily")
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=NOV,
        rows=[member("GC100005", end=D(2026, 11, 20), reason="death"), member("GC100006")],
    )
    # member-months stop on the 20th: 20 of November's 30 days
    mm = MemberMonth.objects.get(member_id="GC100005", month=NOV)
    assert (mm.member_months, mm.days_enrolled) == (M("0.666667"), 20)
    pay(scope=analyst_scope, contract=contract, month=NOV)

    december = roster_submit(
        scope=provider_scope,
        contract=contract,
        month=DEC,
        today=D(2026, 12, 5),
        run_inline=True,
        file=SimpleUploadedFile("roster.csv", csv_bytes([member("GC100005", start=DEC), member("GC100006")])),
    )
    assert december.status == "rejected"
    issue = december.issues.get(severity="error")
    assert (issue.row, issue.column, issue.code) == (2, "enrollment_start", MEMBER_DECEASED)
    assert "died on 2026-11-20" in issue.message and f"roster {contract.number} 2026-11 v1" in issue.message

    submit_roster(provider_scope=provider_scope, contract=contract, month=DEC, rows=[member("GC100006")])
    detail = run_through_api(analyst_api, contract, DEC, monkeypatch, django_capture_on_commit_callbacks)
    members = analyst_api.get(detail["members_url"]).json()["results"]
    assert {m["member_id"] for m in members} == {"GC100006"}
    assert [line for line in member_lines(detail) if line[0] == "retro_adjustment"] == []


def load_834(api, members, name="deaths.834") -> dict:
    """An 834 update (INS03 001 change) whose members carry a date of death (INS11 D8, INS12)."""
    data = make_834(
        [(m, "DOE", "JANE", "19400517", D(2020, 1, 1), None) for m, _ in members],
        full=False,
        maintenance="001",
    )
    for member_id, died in members:
        data = data.replace(
            f"INS*Y*18*001*XN*A~\nREF*0F*{member_id}~".encode(),
            f"INS*Y*18*001*XN*A***N***D8*{died:%Y%m%d}~\nREF*0F*{member_id}~".encode(),
        )
    response = api.post(
        "/api/v1/eligibility-files/", {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    ack = api.get(response.json()["acknowledgement_url"]).json()
    assert ack["accepted"], ack["lines"]
    return ack


def test_a_death_from_the_834_after_payment_is_recovered_inside_the_window_and_listed_outside(
    contract_factory,
    provider_scope,
    analyst_scope,
    analyst_api,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    contract = contract_factory(proration_rule="daily", retro_window_months=2)
    for month in (SEP, OCT, NOV, DEC):
        submit_roster(
            provider_scope=provider_scope,
            contract=contract,
            month=month,
            rows=[member("GC100005", start=D(2026, 6, 1)), member("GC100006")],
        )
        pay(scope=analyst_scope, contract=contract, month=month)
    submit_roster(provider_scope=provider_scope, contract=contract, month=JAN27, rows=[member("GC100006")])

    # the plan's 834 says GC100005 died on 2026-10-10: October is paid for 10 of 31 days, nothing after
    ack = load_834(analyst_api, [("GC100005", D(2026, 10, 10))])
    assert ack["deaths"] == [{"member_id": "GC100005", "date_of_death": "2026-10-10", "status": "recorded"}]
    for month in (OCT, NOV, DEC):
        current = RosterSubmission.objects.get(contract=contract, month=month, is_current=True)
        assert current.origin == "member_exit" and current.version == 2
    assert RosterSubmission.objects.get(contract=contract, month=SEP, is_current=True).version == 1

    detail = run_through_api(analyst_api, contract, JAN27, monkeypatch, django_capture_on_commit_callbacks)
    # Inside the window (November and December: 1..2 months before January): take back the whole month.
    retro = sorted(line for line in member_lines(detail) if line[0] == "retro_adjustment")
    assert retro == [
        ("retro_adjustment", "2026-11", "-300.00"),
        ("retro_adjustment", "2026-12", "-300.00"),
    ]
    # October is outside: listed, not paid (300.00 paid, 10/31 of it owed: 96.77)
    assert detail["outside_window"] == [
        {
            "member_id": "GC100005",
            "month": "2026-10",
            "difference": "-203.23",
            "reason": "outside_retro_window",
        }
    ]


def test_a_hospice_transfer_ends_the_member_in_the_bundle_and_is_recovered(
    contract_factory,
    provider_scope,
    analyst_scope,
    analyst_api,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    contract = contract_factory(proration_rule="mid_month")
    submit_roster(
        provider_scope=provider_scope, contract=contract, month=DEC, rows=[member("H1"), member("H2")]
    )
    pay(scope=analyst_scope, contract=contract, month=DEC)
    # November resubmitted late: H1 went to hospice on 2026-11-12; December (paid) is ended by it
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=NOV,
        today=D(2027, 1, 3),
        rows=[member("H1", end=D(2026, 11, 12), reason="hospice"), member("H2")],
    )
    submit_roster(
        provider_scope=provider_scope,
        contract=contract,
        month=JAN27,
        today=D(2027, 1, 3),
        rows=[member("H2")],
    )
    detail = run_through_api(analyst_api, contract, JAN27, monkeypatch, django_capture_on_commit_callbacks)
    retro = sorted(line for line in member_lines(detail) if line[0] == "retro_adjustment")
    assert retro == [("retro_adjustment", "2026-12", "-300.00")]
