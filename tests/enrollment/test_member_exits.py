"""Deaths and hospice transfers (issue 14, point 1) on the enrollment side, through the API: a death
reported on a roster or in the plan's 834 is recorded once per member; any later enrollment row is
refused with a row error naming the date and its source; a death recorded after a month was accepted
ends that month in a new version made by the platform; a hospice transfer does the same for one bundle.

Months are relative to today (the services refuse months older than the retro window): the issue's
example (GC100005 dies on 2026-11-20 on the November roster; the December roster lists the member) is
played with ``PREVIOUS`` as November and ``MONTH`` as December.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from enrollment.exits import AFTER_HOSPICE_TRANSFER, DEATH_DATE_CONFLICT, ENROLLMENT_ENDED, MEMBER_DECEASED
from enrollment.models import MemberExit, MemberMonth, RosterSubmission
from enrollment.processing import NOT_ELIGIBLE, NOT_ELIGIBLE_MESSAGE
from tests.enrollment.conftest import MONTH, PREVIOUS, day, make_834, roster_row
from tests.fixtures.contracts import csv_bytes

pytestmark = pytest.mark.django_db

DIED = dt.date.fromisoformat(day(20, PREVIOUS))


@pytest.fixture
def plan_api(api_for, plan, member_of):
    return api_for(member_of(plan, Role.ANALYST))


def post_roster(api, contract, rows, month=MONTH):
    data = {"month": f"{month:%Y-%m}", "file": SimpleUploadedFile("roster.csv", csv_bytes(rows))}
    response = api.post(f"/api/v1/contracts/{contract.public_id}/rosters/", data, format="multipart")
    assert response.status_code == 202, response.json()
    return api.get(response.json()["status_url"]).json()


def died(member_id: str = "GC100005", on: dt.date = DIED, **values) -> dict:
    return roster_row(member_id, enrollment_end=on.isoformat(), disenrollment_reason="death", **values)


def codes_of(body, severity="errors"):
    return [(i["row"], i["column"], i["code"]) for i in body[severity]]


def test_a_death_on_a_roster_refuses_the_next_months_roster_naming_the_date_and_source(
    provider_api, plan_api, contract
):
    november = post_roster(provider_api, contract, [died(), roster_row("GC100006")], month=PREVIOUS)
    assert november["status"] == "accepted", november["errors"]
    recorded = MemberExit.objects.get()
    assert (recorded.member_id, recorded.reason, recorded.exit_date, recorded.status, recorded.source) == (
        "GC100005",
        "death",
        DIED,
        "recorded",
        "roster",
    )

    december = post_roster(
        provider_api, contract, [roster_row("GC100005", enrollment_start=day(1)), roster_row("GC100006")]
    )
    assert december["status"] == "rejected"
    assert codes_of(december) == [(2, "enrollment_start", MEMBER_DECEASED)]
    message = december["errors"][0]["message"]
    assert f"died on {DIED}" in message and f"roster {contract.number} {PREVIOUS:%Y-%m} v1" in message
    assert "plan_detail" not in december["errors"][0]
    # the plan reads where it was recorded from, with the provider's name
    body = plan_api.get(f"/api/v1/rosters/{december['id']}/").json()
    assert f"recorded from roster {contract.number}" in body["errors"][0]["plan_detail"]


def test_a_span_running_past_the_death_is_refused_and_an_earlier_date_is_a_warning(provider_api, contract):
    assert post_roster(provider_api, contract, [died()], month=PREVIOUS)["status"] == "accepted"
    # the same month again, the member still enrolled: the span runs past the recorded death
    again = post_roster(provider_api, contract, [roster_row("GC100005")], month=PREVIOUS)
    assert codes_of(again) == [(2, "enrollment_end", MEMBER_DECEASED)]
    # a later date of death is a span past it; an earlier one is a warning, and the recorded date holds
    later = post_roster(provider_api, contract, [died(on=DIED + dt.timedelta(days=2))], month=PREVIOUS)
    assert codes_of(later) == [(2, "enrollment_end", MEMBER_DECEASED)]
    earlier = post_roster(provider_api, contract, [died(on=DIED - dt.timedelta(days=2))], month=PREVIOUS)
    assert earlier["status"] == "accepted"
    assert codes_of(earlier, "warnings") == [(2, "enrollment_end", DEATH_DATE_CONFLICT)]
    reports = list(MemberExit.objects.order_by("pk").values_list("exit_date", "status"))
    assert reports == [(DIED, "recorded"), (DIED - dt.timedelta(days=2), "conflicting")]


def test_a_death_holds_across_providers_and_another_provider_reads_no_source(
    provider_api, active_contract, api_for, member_of, contract, other_provider
):
    post_roster(provider_api, contract, [died()], month=PREVIOUS)
    other_admin = member_of(other_provider, Role.ADMIN)
    other_contract = active_contract(provider_org=other_provider)
    other_api = api_for(other_admin)
    body = post_roster(other_api, other_contract, [roster_row("GC100005", enrollment_start=day(1))])
    # a member this provider never rostered: the same words as for a member who is not eligible
    assert codes_of(body) == [(2, "member_id", NOT_ELIGIBLE)]
    assert body["errors"][0]["message"] == NOT_ELIGIBLE_MESSAGE.format(
        member_id="GC100005", month=f"{MONTH:%Y-%m}"
    )
    assert "died" not in str(body)


def test_a_death_recorded_after_a_month_was_accepted_ends_it_in_a_platform_version(
    provider_api, plan_api, contract
):
    december = post_roster(provider_api, contract, [roster_row("GC100005"), roster_row("GC100006")])
    assert december["status"] == "accepted"
    # November resubmitted afterwards, reporting the death: December's accepted roster is ended by it
    post_roster(provider_api, contract, [died(), roster_row("GC100006")], month=PREVIOUS)
    current = RosterSubmission.objects.get(contract=contract, month=MONTH, is_current=True)
    assert (current.version, current.origin, current.previous.public_id.hex) == (
        2,
        "member_exit",
        december["id"].replace("-", ""),
    )
    assert list(MemberMonth.objects.filter(submission=current).values_list("member_id", flat=True)) == [
        "GC100006"
    ]
    body = provider_api.get(f"/api/v1/rosters/{current.public_id}/").json()
    assert body["origin"] == "member_exit"
    assert codes_of(body, "warnings") == [(2, "enrollment_end", ENROLLMENT_ENDED)]
    assert body["diff"]["removed"] == 1 and body["diff"]["items"][0]["member_id"] == "GC100005"


def test_a_death_from_the_834_is_recorded_and_reported(plan_api, provider_api, contract):
    data = make_834([("GC100005", "DOE", "JANE", "19400517", dt.date(2020, 1, 1), None)], full=False)
    data = data.replace(b"INS*Y*18*021*XN*A", f"INS*Y*18*021*XN*A***N***D8*{DIED:%Y%m%d}".encode())
    response = plan_api.post(
        "/api/v1/eligibility-files/",
        {"file": SimpleUploadedFile("nov.834", data)},
        format="multipart",
    )
    assert response.status_code == 202, response.json()
    ack = plan_api.get(response.json()["acknowledgement_url"]).json()
    assert ack["accepted"], ack
    recorded = MemberExit.objects.get()
    assert (recorded.source, recorded.exit_date, recorded.eligibility_file.original_filename) == (
        "834",
        DIED,
        "nov.834",
    )
    detail = plan_api.get(f"/api/v1/eligibility-files/{response.json()['id']}/").json()
    assert detail["deaths"] == [{"member_id": "GC100005", "date_of_death": str(DIED), "status": "recorded"}]
    body = post_roster(provider_api, contract, [roster_row("GC100005", enrollment_start=day(1))])
    # the provider never rostered GC100005 and the plan's eligibility (an open span) says nothing else
    assert codes_of(body) == [(2, "member_id", NOT_ELIGIBLE)]


def test_a_hospice_transfer_ends_the_bundle_but_not_another(
    provider_api, contract, plan_scope, provider, provider_admin, plan_analyst, plan
):
    from bundles import services as bundle_services
    from bundles.demo import home_based_definition
    from tests.enrollment.conftest import make_active_contract
    from tests.fixtures.contracts import scope_of

    definition = home_based_definition()
    definition["name"] = "Another palliative program"
    analyst = scope_of(plan_analyst, plan)
    other_bundle = bundle_services.draft_publish(
        scope=analyst, bundle=bundle_services.bundle_create(scope=analyst, definition=definition)
    )
    other_contract = make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=other_bundle
    )
    post_roster(
        provider_api,
        contract,
        [roster_row("GC100007", enrollment_end=day(20, PREVIOUS), disenrollment_reason="hospice")],
        month=PREVIOUS,
    )
    assert MemberExit.objects.get().reason == "hospice"
    body = post_roster(provider_api, contract, [roster_row("GC100007", enrollment_start=day(1))])
    assert codes_of(body) == [(2, "enrollment_start", AFTER_HOSPICE_TRANSFER)]
    assert "transferred to hospice on" in body["errors"][0]["message"]
    # another program (bundle) may enroll the member after the transfer
    elsewhere = post_roster(provider_api, other_contract, [roster_row("GC100007", enrollment_start=day(1))])
    assert elsewhere["status"] == "accepted", elsewhere["errors"]
    # and a death still holds across bundles
    post_roster(
        provider_api,
        other_contract,
        [
            roster_row(
                "GC100007", enrollment_start=day(1), enrollment_end=day(25), disenrollment_reason="death"
            )
        ],
    )
    assert MemberExit.objects.filter(reason="death", status="recorded").count() == 1


def login(user):
    from django.test import Client

    from tests.factories import PASSWORD

    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_show_the_death_to_the_provider_and_the_plan(
    provider_api, contract, provider_admin, plan_analyst, django_assert_max_num_queries
):
    december = post_roster(provider_api, contract, [roster_row("GC100005"), roster_row("GC100006")])
    november = post_roster(provider_api, contract, [died(), roster_row("GC100006")], month=PREVIOUS)
    made = RosterSubmission.objects.get(contract=contract, month=MONTH, is_current=True)
    for user in (provider_admin, plan_analyst):
        client = login(user)
        page = client.get(f"/rosters/{november['id']}/").content.decode()
        assert 'data-testid="member-exits"' in page and str(DIED) in page and "Death" in page
        page = client.get(f"/rosters/{made.public_id}/").content.decode()
        assert 'data-testid="platform-version"' in page and ENROLLMENT_ENDED in page
        with django_assert_max_num_queries(25):
            members = client.get(f"/rosters/{november['id']}/members/").content.decode()
        assert f"died {DIED}" in members
        # the December version the death replaced: the member's row shows the death too
        assert f"died {DIED}" in client.get(f"/rosters/{december['id']}/members/").content.decode()
    # another organisation: 404
    from tests.factories import MembershipFactory, ProviderFactory

    other = MembershipFactory(organization=ProviderFactory(), role=Role.ADMIN).user
    assert login(other).get(f"/rosters/{november['id']}/").status_code == 404


def test_the_834_page_lists_the_deaths_it_reported(plan_analyst):
    from enrollment.models import EligibilityFile

    client = login(plan_analyst)
    data = make_834([("GC100005", "DOE", "JANE", "19400517", dt.date(2020, 1, 1), None)], full=False)
    data = data.replace(b"INS*Y*18*021*XN*A", f"INS*Y*18*021*XN*A***N***D8*{DIED:%Y%m%d}".encode())
    response = client.post("/eligibility/", {"file": SimpleUploadedFile("nov.834", data)})
    assert response.status_code in (200, 302)
    record = EligibilityFile.objects.get()
    page = client.get(f"/eligibility/{record.public_id}/").content.decode()
    assert 'data-testid="eligibility-deaths"' in page and "GC100005" in page and str(DIED) in page


def test_a_death_recorded_while_the_roster_is_checked_still_refuses_it(provider_api, contract, monkeypatch):
    from enrollment import exits, processing

    post_roster(provider_api, contract, [roster_row("GC100005")], month=PREVIOUS)
    first = RosterSubmission.objects.get()
    original = processing.read_and_check

    def checked_then_recorded(plan, submission, progress):
        findings = original(plan, submission, progress)
        # another transaction (the plan's 834, another roster) records the death now
        exits.record_exits(
            payer_id=plan.payer_id,
            reports=[exits.Report("GC100005", "death", DIED, "roster", submission_id=first.pk, row=2)],
        )
        return findings

    monkeypatch.setattr(processing, "read_and_check", checked_then_recorded)
    body = post_roster(provider_api, contract, [roster_row("GC100005", enrollment_start=day(1))])
    assert body["status"] == "rejected"
    assert codes_of(body) == [(2, "enrollment_start", MEMBER_DECEASED)]
