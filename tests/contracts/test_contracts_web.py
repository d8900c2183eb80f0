"""Contract pages: list, open, edit with the htmx rate grid, actions by role, diff, downloads, the zip page."""

import io
import zipfile
from datetime import date

import pytest
from django.test import Client

from accounts.models import Role
from contracts import services
from contracts.models import Contract
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def plan_web(plan_cm):
    return logged_in(plan_cm)


@pytest.fixture
def provider_web(provider_admin):
    return logged_in(provider_admin)


def test_navigation_and_list(plan_web, provider_web, active_contract, open_contract):
    active = active_contract(markets=["URBAN"])
    draft = open_contract(markets=["URBAN-E"])
    home = plan_web.get("/").content.decode()
    assert 'href="/contracts/"' in home
    page = plan_web.get("/contracts/").content.decode()
    assert active.number in page and draft.number in page and "New contract" in page
    assert "Download all rate sheets" in page
    rows = plan_web.get("/contracts/?status=draft", HTTP_HX_REQUEST="true").content.decode()
    assert draft.number in rows and active.number not in rows and "<h1>" not in rows
    provider_page = provider_web.get("/contracts/").content.decode()
    assert active.number in provider_page and draft.number not in provider_page
    assert "New contract" not in provider_page


def test_create_form_then_fill_rates_with_htmx_and_propose(plan_web, provider, bundle_version):
    form = plan_web.get("/contracts/new/").content.decode()
    assert provider.legal_name in form and "Home-based palliative care v1" in form
    data = {
        "create": "1",
        "provider": str(provider.public_id),
        "bundle_version": str(bundle_version.pk),
        "effective_start": "2026-03-01",
        "effective_end": "2027-03-01",
        "markets": ["URBAN"],
        "lines_of_business": ["medicaid"],
        "proration_rule": "mid_month",
        "tier_rule": "highest",
        "assessment_lookback_months": "12",
        "retro_window_months": "3",
        "roster_due_day": "10",
        "withhold_percent": "5",
        "termination_notice_days": "60",
        "q_ed_visits_per_1000_on": "on",
        "q_ed_visits_per_1000_target": "90",
        "q_ed_visits_per_1000_weight": "50",
        "q_ed_visits_per_1000_minimum": "100",
        "q_death_at_home_rate_on": "on",
        "q_death_at_home_rate_target": "60",
        "q_death_at_home_rate_weight": "50",
        "q_death_at_home_rate_minimum": "10",
    }
    bad = plan_web.post("/contracts/new/", {**data, "effective_start": "2026-03-15"})
    assert bad.status_code == 400
    assert "A contract version takes effect on the first of a month." in bad.content.decode()
    assert not Contract.objects.exists()
    response = plan_web.post("/contracts/new/", data)
    assert response.status_code == 302
    contract = Contract.objects.get()
    assert response["Location"] == f"/contracts/{contract.number}/versions/1/edit/"
    version = contract.versions.get()
    assert version.proration_rule == "mid_month" and str(version.withhold_percentage) == "0.0500"
    assert version.quality_terms[1] == {
        "measure": "death_at_home_rate",
        "target": "0.6",
        "weight": "0.5",
        "direction": "higher",
        "minimum_denominator": 10,
    }

    edit = plan_web.get(response["Location"]).content.decode()
    assert 'aria-label="PMPM tier 1 URBAN medicaid"' in edit and "No PMPM for tier 1 in URBAN" in edit
    url = f"/contracts/{contract.number}/versions/1/rates/"
    cell = plan_web.post(
        url, {"tier": "1", "market": "URBAN", "lob": "medicaid", "pmpm": "250"}, HTTP_HX_REQUEST="true"
    )
    assert cell.status_code == 200
    assert "record the reason" in cell.content.decode() and 'role="alert"' in cell.content.decode()
    for tier, pmpm in (("1", "250"), ("2", "410"), ("3", "655")):
        cell = plan_web.post(
            url,
            {
                "tier": tier,
                "market": "URBAN",
                "lob": "medicaid",
                "pmpm": pmpm,
                "reason": "Agreed in the March meeting",
            },
            HTTP_HX_REQUEST="true",
        )
        assert "Saved" in cell.content.decode()
    terms = {key: value for key, value in data.items() if key not in ("create", "provider", "bundle_version")}
    saved = plan_web.post(f"/contracts/{contract.number}/versions/1/edit/", {**terms, "fee_URBAN": "340.00"})
    assert saved.status_code == 302
    proposed = plan_web.post(f"/contracts/{contract.number}/propose/", HTTP_HX_REQUEST="true")
    assert proposed.status_code == 204 and proposed["HX-Redirect"] == f"/contracts/{contract.number}/"
    contract.refresh_from_db()
    assert contract.status == "proposed"


def test_detail_shows_the_actions_of_each_role(
    plan_web, provider_web, open_contract, plan_scope, plan, member_of
):
    contract = open_contract()
    page = plan_web.get(f"/contracts/{contract.number}/").content.decode()
    assert "Propose to" in page and "Edit draft" in page and "Accept version" not in page
    services.contract_propose(scope=plan_scope, contract=contract)
    provider_page = provider_web.get(f"/contracts/{contract.number}/").content.decode()
    assert "Accept version 1" in provider_page and "Return to the plan" in provider_page
    assert "Propose to" not in provider_page
    auditor = logged_in(member_of(plan, Role.AUDITOR))
    auditor_page = auditor.get(f"/contracts/{contract.number}/").content.decode()
    assert "Accept version" not in auditor_page and "Propose to" not in auditor_page
    assert auditor.post(f"/contracts/{contract.number}/accept/").status_code == 403
    assert auditor.get("/contracts/new/").status_code == 403
    contract.refresh_from_db()
    assert contract.status == "proposed"


def test_accept_return_amend_terminate_from_the_pages(plan_web, provider_web, open_contract, plan_scope):
    contract = open_contract()
    services.contract_propose(scope=plan_scope, contract=contract)
    response = provider_web.post(
        f"/contracts/{contract.number}/return/", {"comments": "Tier 2 is too low"}, follow=True
    )
    assert "Sent back to the plan" in response.content.decode()
    assert "Tier 2 is too low" in response.content.decode()
    services.contract_propose(scope=plan_scope, contract=contract)
    assert (
        "waiting for the other side"
        in plan_web.post(f"/contracts/{contract.number}/accept/", follow=True).content.decode()
    )
    done = provider_web.post(f"/contracts/{contract.number}/accept/", follow=True).content.decode()
    assert "the contract version is active" in done
    again = plan_web.post(f"/contracts/{contract.number}/accept/", follow=True).content.decode()
    assert services.NOT_ACCEPTABLE_MESSAGE in again.replace("&#x27;", "'")
    amended = plan_web.post(f"/contracts/{contract.number}/amend/", {"effective_start": "2026-08-01"})
    assert amended["Location"] == f"/contracts/{contract.number}/versions/2/edit/"
    bad = plan_web.post(
        f"/contracts/{contract.number}/terminate/", {"end_date": "2026-09-01", "reason": "x"}, follow=True
    )
    assert "does not give the notice" in bad.content.decode()
    plan_web.post(
        f"/contracts/{contract.number}/terminate/",
        {"end_date": "2026-09-01", "reason": "Closing", "for_cause": "on"},
    )
    contract.refresh_from_db()
    assert contract.status == "terminated"
    assert contract.versions.get(number=2).status == "withdrawn"


def test_a_refused_amendment_or_termination_keeps_what_was_typed(plan_web, active_contract):
    contract = active_contract()
    page = f"/contracts/{contract.number}/"
    amend = plan_web.post(f"{page}amend/", {"effective_start": "2026-08-15"})  # not the first of a month
    assert amend.status_code == 400
    body = amend.content.decode()
    assert 'value="2026-08-15"' in body and 'id="amend-error"' in body
    assert '<details class="panel" open>' in body  # the form is shown, not folded away
    terminate = plan_web.post(f"{page}terminate/", {"end_date": "2026-09-01", "reason": "Budget cut"})
    assert terminate.status_code == 400
    body = terminate.content.decode()
    assert "does not give the notice" in body
    assert 'value="2026-09-01"' in body and ">Budget cut</textarea>" in body
    missing = plan_web.post(f"{page}terminate/", {"end_date": "", "reason": "Budget cut", "for_cause": "on"})
    assert missing.status_code == 400
    assert "Give the date" in missing.content.decode()
    assert 'name="for_cause" value="on" checked' in missing.content.decode()
    contract.refresh_from_db()
    assert contract.status == "active"


def test_a_refused_return_keeps_the_form(provider_web, open_contract, plan_scope):
    proposed = open_contract()
    services.contract_propose(scope=plan_scope, contract=proposed)
    back = provider_web.post(f"/contracts/{proposed.number}/return/", {"comments": "   "})
    assert back.status_code == 400
    assert 'id="return-error"' in back.content.decode()
    proposed.refresh_from_db()
    assert proposed.status == "proposed"


def test_editing_an_active_version_redirects_with_the_reason(plan_web, active_contract):
    contract = active_contract()
    response = plan_web.get(f"/contracts/{contract.number}/versions/1/edit/", follow=True)
    assert services.NOT_EDITABLE_MESSAGE in response.content.decode()


def test_diff_page_and_downloads(plan_web, provider_web, active_contract, plan_scope, provider_scope):
    contract = active_contract()
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    services.contract_rate_set(
        scope=plan_scope,
        version=v2,
        tier="1",
        market="URBAN",
        lob="medicaid",
        pmpm="262.00",
        reason="Staffing",
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    page = provider_web.get(f"/contracts/{contract.number}/versions/2/diff/").content.decode()
    assert "Changes from version 1 to version 2" in page
    assert "Rates (PMPM): <strong>changed</strong>" in page and "Withhold: <strong>unchanged</strong>" in page
    assert "250.00" in page and "262.00" in page and "12.00" in page
    pdf = provider_web.get(f"/contracts/{contract.number}/versions/2/rate-sheet.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    api = provider_web.get(f"/api/v1/contracts/{contract.number}/rate-sheet.pdf?version=2")
    assert api.content == pdf.content  # the web and the API give the same stored file
    assert plan_web.get(f"/contracts/{contract.number}/versions/2/rate-sheet.doc").status_code == 404


def test_zip_page_progress_and_download(
    plan_web, active_contract, plan_scope, django_capture_on_commit_callbacks, provider_web
):
    first = active_contract(markets=["URBAN"])
    second = active_contract(markets=["URBAN-E"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = plan_web.post("/contracts/rate-sheet-exports/")
    assert len(callbacks) == 1  # the task is queued once the transaction commits
    export_url = response["Location"]
    waiting = plan_web.get(export_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="load delay:1s"' in waiting and "<progress" in waiting
    export_id = export_url.rstrip("/").rsplit("/", 1)[1]
    from contracts.models import RateSheetExport

    export = services.rate_sheet_export_build(export_id=RateSheetExport.objects.get(public_id=export_id).pk)
    assert (export.status, export.done, export.total) == ("done", 2, 2)
    done = plan_web.get(export_url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in done and "Download the zip" in done and 'value="100"' in done
    archive = zipfile.ZipFile(io.BytesIO(plan_web.get(f"{export_url}download/").content))
    names = set(archive.namelist())
    for contract in (first, second):
        for fmt in ("pdf", "xlsx", "csv"):
            assert f"{contract.number}-v1-rate-sheet.{fmt}" in names
    assert "manifest.csv" in names
    assert provider_web.get("/contracts/rate-sheet-exports/").status_code == 403


def test_a_provider_cannot_edit_a_rate_cell(provider_web, open_contract, plan_scope):
    contract = open_contract()
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_return(scope=scope_of_provider(contract), contract=contract, comments="Tier 1 please")
    response = provider_web.post(
        f"/contracts/{contract.number}/versions/1/rates/",
        {"tier": "1", "market": "URBAN", "lob": "medicaid", "pmpm": "999", "reason": "x"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 403
    assert contract.versions.get().rates.get(tier="1", market="URBAN").pmpm != 999


def scope_of_provider(contract):
    from accounts.models import Membership
    from accounts.tenancy import Scope

    return Scope(Membership.objects.filter(organization=contract.provider, role=Role.ADMIN).first())
