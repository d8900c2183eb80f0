"""Pricing pages: start a run from the form, watch its progress (htmx), read it, edit assumptions with
errors next to their fields, upload experience and read every row error; query counts stay flat."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Role
from pricing import services
from pricing.models import AssumptionSetVersion, ExperienceDataset, PricingRun
from tests.factories import PASSWORD
from tests.pricing.conftest import EXPERIENCE_CSV

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def test_the_nav_and_the_pricing_home(web, start_run):
    start_run()
    page = web.get("/").content.decode()
    assert 'href="/pricing/"' in page
    home = web.get("/pricing/")
    assert home.status_code == 200 and "Start a pricing run" in home.content.decode()
    assert "Queued" in home.content.decode()


def test_start_a_run_from_the_form(
    web, bundle_version, assumption_version, experience, django_capture_on_commit_callbacks
):
    form = web.get("/pricing/runs/new/").content.decode()
    assert "Home-based palliative care v1" in form and "Plan defaults 2027 v1" in form
    with django_capture_on_commit_callbacks() as callbacks:
        response = web.post(
            "/pricing/runs/new/",
            {
                "bundle_version": bundle_version.pk,
                "assumption_version": assumption_version.pk,
                "experience": experience.pk,
                "markets": ["URBAN"],
                "lobs": ["medicaid"],
                "enrollees_per_year": 120,
                "simulation_years": 5000,
            },
        )
    run = PricingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/pricing/runs/{run.public_id}/"
    assert len(callbacks) == 1
    assert run.markets == ["URBAN"] and run.lobs == ["medicaid"] and run.experience == experience
    assert run.options["enrollees_per_year"] == {"URBAN": 120} and run.options["simulation_years"] == 5000
    page = web.get(response["Location"]).content.decode()
    assert '<progress value="0" max="100"' in page and 'hx-trigger="every 1s"' in page
    assert "Cancel the run" in page


def test_the_form_shows_every_error_of_a_run_that_cannot_start(web, scope, bundle_version):
    assumption_set = services.assumption_set_create(scope=scope, name="Zero productivity")
    draft = assumption_set.versions.get()
    assumptions = {**draft.assumptions, "salaries": {}}
    services.assumption_draft_update(scope=scope, assumption_set=assumption_set, assumptions=assumptions)
    version = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    response = web.post(
        "/pricing/runs/new/",
        {
            "bundle_version": bundle_version.pk,
            "assumption_version": version.pk,
            "markets": ["URBAN"],
            "enrollees_per_year": 100,
            "simulation_years": 5000,
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "The run cannot start." in page
    assert (
        "$.assumptions.salaries.np.markets.URBAN" in page
        and "$.assumptions.salaries.chw.markets.URBAN" in page
    )
    assert not PricingRun.objects.exists()


def test_progress_polls_until_the_run_finishes_then_reloads(web, start_run):
    run = start_run()
    partial = web.get(f"/pricing/runs/{run.public_id}/progress/", HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "HX-Refresh" not in partial
    assert 'hx-get="/pricing/runs/' in partial.content.decode()
    services.pricing_run_execute(run_id=run.pk)
    done = web.get(f"/pricing/runs/{run.public_id}/progress/", HTTP_HX_REQUEST="true")
    assert done["HX-Refresh"] == "true" and 'value="100"' in done.content.decode()
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert 'data-testid="rates-table"' in page and "Download the PDF report" in page


def test_the_page_heads_status_follows_the_progress_panel(web, start_run):
    """The head's badge is swapped out of band with each poll, so it never says Queued while the
    panel says Running; a full page render does not repeat the badge."""
    run = start_run()
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert page.count('id="run-status-badge"') == 1 and "hx-swap-oob" not in page
    PricingRun.objects.filter(pk=run.pk).update(status="running")
    partial = web.get(f"/pricing/runs/{run.public_id}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert re.search(
        r'<span id="run-status-badge" class="badge running" hx-swap-oob="true">Running</span>', partial
    )


def test_cancel_from_the_page(web, start_run):
    run = start_run()
    response = web.post(f"/pricing/runs/{run.public_id}/cancel/")
    assert response.status_code == 302
    assert PricingRun.objects.get(pk=run.pk).status == "cancelled"
    assert "cancelled before it started" in web.get(f"/pricing/runs/{run.public_id}/").content.decode()


def test_a_failed_run_page_shows_why(web, start_run, monkeypatch):
    from pricing import compute

    monkeypatch.setattr(compute, "compare_payment_models", lambda *a, **k: 1 / 0)
    run = start_run()
    services.pricing_run_execute(run_id=run.pk)
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert "The run failed." in page and "ZeroDivisionError: division by zero" in page


def test_create_edit_and_publish_assumptions_in_the_browser(web, analyst):
    response = web.post("/pricing/assumptions/", {"create-name": "Web set", "create-description": ""})
    assert response.status_code == 302
    draft_url = response["Location"]
    form = web.get(draft_url).content.decode()
    assert 'name="productivity" value="0.75"' in form and "BLS" in form
    draft = AssumptionSetVersion.objects.get(status="draft")
    post = _form_values(form)
    post.update({"productivity": "0", "salary__rn__RURAL-N": "-3", "market__URBAN__travel": ""})
    response = web.post(draft_url, post)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_productivity" name="productivity" value="0" aria-invalid="true"' in page
    assert "must be more than 0 and at most 1, not 0" in page
    assert "must be zero or more, not -3" in page
    assert "travel_minutes_per_visit is required" in page
    assert AssumptionSetVersion.objects.get(pk=draft.pk).assumptions["productivity"] == "0.75"
    post.update(
        {
            "productivity": "0.72",
            "salary__rn__RURAL-N": "82000",
            "market__URBAN__travel": "25",
            "salary__rn__source": "Network wage survey 2026",
            "publish": "1",
        }
    )
    response = web.post(draft_url, post)
    assert response.status_code == 302 and response["Location"].endswith("?version=1")
    version = AssumptionSetVersion.objects.get(pk=draft.pk)
    assert version.number == 1 and version.assumptions["productivity"] == "0.72"
    assert version.assumptions["salaries"]["rn"] == {"default": "86070", "markets": {"RURAL-N": "82000"}}
    assert version.sources["salaries.rn"] == "Network wage survey 2026"
    assert version.sources["productivity"].startswith("Entered by")
    detail = web.get(response["Location"]).content.decode()
    assert "Network wage survey 2026" in detail and "v1 · Published" in detail


def _form_values(html: str) -> dict[str, str]:
    import re

    values = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)" value="([^"]*)"', html):
        values[name] = value.replace("&#x27;", "'").replace("&amp;", "&").replace("&quot;", '"')
    values.pop("csrfmiddlewaretoken", None)
    return values


def test_upload_experience_and_read_every_row_error(web):
    bad = b"month,tier,member_months,cost\n2025-01,1,x,100\n2025-02,2,3,-1\n"
    response = web.post(
        "/pricing/experience/",
        {"name": "Bad file", "program_name": "", "file": SimpleUploadedFile("bad.csv", bad)},
    )
    dataset = ExperienceDataset.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/pricing/experience/{dataset.public_id}/"
    page = web.get(response["Location"]).content.decode()
    assert "2 errors: nothing was loaded." in page
    assert '<td class="num">2</td><td>member_months</td>' in page
    assert '<td class="num">3</td><td>cost</td>' in page
    good = web.post(
        "/pricing/experience/",
        {"name": "Good", "file": SimpleUploadedFile("ok.csv", EXPERIENCE_CSV.encode())},
    )
    page = web.get(good["Location"]).content.decode()
    assert "Valid" in page and "$56,000.50" in page
    template = web.get("/pricing/experience/templates/experience.csv")
    assert template.content.startswith(b"month,tier,member_months,cost")


def test_read_only_roles_see_no_edit_controls(plan, member_of, start_run):
    start_run()
    client = Client()
    assert client.login(username=member_of(plan, Role.AUDITOR).username, password=PASSWORD)
    home = client.get("/pricing/").content.decode()
    assert "Start a pricing run" not in home
    assert client.get("/pricing/runs/new/").status_code == 403
    assert client.post("/pricing/assumptions/", {"create-name": "x"}).status_code == 403


def test_page_query_counts_do_not_grow_with_the_data(
    web, start_run, scope, experience, django_assert_max_num_queries
):
    def counts():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        out = {}
        for url in ("/pricing/", "/pricing/assumptions/", "/pricing/experience/"):
            with CaptureQueriesContext(connection) as ctx:
                assert web.get(url).status_code == 200
            out[url] = len(ctx.captured_queries)
        return out

    start_run()
    before = counts()
    for i in range(4):
        start_run()
        services.assumption_set_create(scope=scope, name=f"Set {i}")
        services.experience_upload(
            scope=scope, name=f"E{i}", file=SimpleUploadedFile("e.csv", EXPERIENCE_CSV.encode())
        )
    assert counts() == before
    with django_assert_max_num_queries(12):
        web.get("/pricing/")
