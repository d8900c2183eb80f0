"""Roster and eligibility pages: templates, upload, errors (paginated and as CSV), member-months,
members, the plan's view with lateness, tenancy, the access log and query counts."""

from __future__ import annotations

import csv
import io
import re

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from accounts.models import Role
from core.models import AccessEvent
from enrollment import calc
from enrollment.ingest.roster import ROSTER_COLUMNS
from enrollment.ingest.tabular import read_table
from enrollment.models import RosterMonth, RosterSubmission
from tests.enrollment.conftest import MONTH, csv_bytes, eligibility_upload, make_834, roster_row
from tests.factories import PASSWORD, ProviderFactory

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def upload(client, contract, rows, month=MONTH):
    return client.post(
        "/rosters/",
        {
            "contract": str(contract.public_id),
            "month": f"{month:%Y-%m}",
            "file": SimpleUploadedFile("roster.csv", csv_bytes(rows)),
        },
    )


def test_the_contract_picker_tells_contracts_apart(provider_admin, contract, django_assert_max_num_queries):
    client = login(provider_admin)
    with django_assert_max_num_queries(30) as few:
        page = client.get("/rosters/").content.decode()
    version = contract.current_version
    label = (
        f"{contract.number} · {contract.payer} · {version.bundle_version.bundle.name} · "
        f"{', '.join(version.markets)} · from {version.effective_start:%Y-%m-%d}"
    )
    assert f'<option value="{contract.public_id}">{escape(label)}</option>' in page
    assert page.count(f'value="{contract.public_id}"') == 1
    assert len(few.captured_queries) < 30


def test_templates_have_the_pinned_columns_and_instructions(provider_admin, contract):
    client = login(provider_admin)
    page = client.get("/rosters/").content.decode()
    assert "/rosters/templates/roster.xlsx" in page and "/rosters/templates/assessments.csv" in page
    header = client.get("/rosters/templates/roster.csv").content.decode().strip()
    assert tuple(header.split(",")) == ROSTER_COLUMNS
    xlsx = client.get("/rosters/templates/roster.xlsx")
    assert xlsx["Content-Disposition"] == 'attachment; filename="roster-template.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert workbook.sheetnames == ["roster", "instructions"]
    assert tuple(c.value for c in workbook["roster"][1]) == ROSTER_COLUMNS
    notes = " ".join(str(c.value) for row in workbook["instructions"].iter_rows() for c in row if c.value)
    assert "disenrollment_reason" in notes and "inclusive" in notes
    table = read_table(xlsx.content, "roster", filename="roster.xlsx")
    assert list(table) == [] and [i.code for i in table.errors] == ["no_data_rows"]
    assessments = openpyxl.load_workbook(
        io.BytesIO(client.get("/rosters/templates/assessments.xlsx").content)
    )
    assert assessments.sheetnames == ["assessments", "instructions"]
    assert client.get("/rosters/templates/payments.csv").status_code == 404


def test_upload_with_errors_then_the_corrected_roster(provider_admin, contract):
    client = login(provider_admin)
    rows = [roster_row(f"M{k:03d}", tier="5" if k < 60 else "1") for k in range(70)]
    response = upload(client, contract, rows)
    assert response.status_code == 302
    detail_url = response["Location"]
    page = client.get(detail_url).content.decode()
    assert "Rejected" in page and "60 errors: the roster was rejected" in page
    assert "unknown_tier" in page and "Page 1 of 2" in page
    assert "Page 2 of 2" in client.get(detail_url + "?errors_page=2").content.decode()
    # "Submit a corrected file" opens the form on the same contract and month
    corrected = (
        re.search(r'data-testid="submit-corrected" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    )
    form = client.get(corrected).content.decode()
    assert re.search(rf'<option value="{contract.public_id}"[^>]*selected', form)
    assert f'value="{MONTH:%Y-%m}"' in form
    report = client.get(detail_url + "errors.csv")
    lines = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert lines[0] == ["severity", "file", "row", "column", "code", "message"]
    assert len(lines) == 61 and lines[1][:5] == ["error", "roster", "2", "tier", "unknown_tier"]
    fixed = upload(client, contract, [roster_row(f"M{k:03d}") for k in range(70)])
    page = client.get(fixed["Location"]).content.decode()
    assert "version 2" in page and "Member-months per rate cell" in page and "70.00" in page
    assert RosterSubmission.objects.get(version=2).is_current


def test_a_refused_month_is_shown_next_to_the_field(provider_admin, contract):
    response = upload(login(provider_admin), contract, [roster_row("M001")], month=calc.add_months(MONTH, -5))
    assert response.status_code == 400
    assert "older than the contract&#x27;s retro window" in response.content.decode()
    assert not RosterSubmission.objects.exists()


def test_pages_of_member_data_are_recorded_and_other_providers_get_404(provider_admin, contract, member_of):
    client = login(provider_admin)
    detail_url = upload(client, contract, [roster_row("M001")])["Location"]
    client.get(detail_url)
    members = client.get(detail_url + "members/?search=M001").content.decode()
    assert "M001" in members
    assert client.get(detail_url + "file/").status_code == 200
    actions = list(AccessEvent.objects.order_by("pk").values_list("action", "object_type"))
    assert actions == [("roster.view", "roster_submission")] * 2 + [("roster.download", "roster_submission")]
    stranger = login(member_of(ProviderFactory(), Role.ADMIN))
    for suffix in ("", "members/", "errors.csv", "file/", "progress/"):
        assert stranger.get(detail_url + suffix).status_code == 404


def test_progress_partial_asks_htmx_to_reload_once_finished(provider_admin, contract):
    client = login(provider_admin)
    detail_url = upload(client, contract, [roster_row("M001")])["Location"]
    partial = client.get(detail_url + "progress/", HTTP_HX_REQUEST="true")
    assert partial["HX-Refresh"] == "true" and "Accepted" in partial.content.decode()


def test_the_plan_sees_every_provider_with_lateness(
    provider_admin, contract, plan, member_of, django_assert_max_num_queries
):
    client = login(provider_admin)
    for k in range(3):
        upload(client, contract, [roster_row(f"M00{k}")])
    RosterSubmission.objects.filter(version=1).update(late=True)
    RosterMonth.objects.update(late=True)
    auditor = login(member_of(plan, Role.AUDITOR))
    with django_assert_max_num_queries(12):
        page = auditor.get("/rosters/").content.decode()
    assert contract.provider.legal_name in page and "late" in page and 'data-testid="late-months"' in page
    assert "Submit a month" not in page
    for k in range(3):
        upload(client, contract, [roster_row(f"M10{k}")])
    with django_assert_max_num_queries(12):
        assert auditor.get("/rosters/?late=1").status_code == 200


def test_eligibility_pages(plan_analyst, plan, provider_admin, member_of):
    client = login(plan_analyst)
    assert "Eligibility" in client.get("/").content.decode()
    response = client.post(
        "/eligibility/",
        {"file": eligibility_upload(make_834([("A1", "ONE", "ANA", "19400101", MONTH, None)]))},
    )
    detail = client.get(response["Location"]).content.decode()
    assert "Accepted" in detail and "Download the 999" in detail
    rejected = client.post("/eligibility/", {"file": eligibility_upload(b"ISA*00*broken")})
    page = client.get(rejected["Location"]).content.decode()
    assert "Rejected" in page
    assert login(provider_admin).get("/eligibility/").status_code == 403
    auditor = login(member_of(plan, Role.AUDITOR))
    assert auditor.get("/eligibility/").status_code == 200
    assert auditor.post("/eligibility/", {"file": eligibility_upload(b"x")}).status_code == 403
    assert "Eligibility</a>" not in auditor.get("/").content.decode()  # the nav item needs eligibility.load
