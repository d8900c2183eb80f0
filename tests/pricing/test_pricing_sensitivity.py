"""Sensitivity analyses of a run (issue 17, point 2): asked for on the page or the API, computed by a
worker (idempotently), shown as tornado charts on the run page and in the report."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from accounts.models import Role
from pricing import services
from pricing.models import SensitivityAnalysis, SensitivityStatus
from tests.factories import PASSWORD, PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db

YEARS = 1000


@pytest.fixture
def run(start_run):
    started = start_run(lobs=["medicaid", "medicare_advantage"], options={"simulation_years": YEARS})
    return services.pricing_run_execute(run_id=started.pk)


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def _url(run) -> str:
    return f"/api/v1/pricing/runs/{run.public_id}/sensitivity/"


def test_ask_compute_and_read_an_analysis(analyst_api, run):
    response = analyst_api.post(
        _url(run), {"tier": "2", "market": "RURAL-N", "lob": "medicaid"}, format="json"
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["simulation_years"] == YEARS and body["points"] == 5
    assert response["Location"] == f"/api/v1/pricing/sensitivity/{body['id']}/"
    # asking again is the same analysis
    again = analyst_api.post(_url(run), {"tier": "2", "market": "RURAL-N", "lob": "medicaid"}, format="json")
    assert again.json()["id"] == body["id"] and SensitivityAnalysis.objects.count() == 1

    analysis = services.sensitivity_execute(analysis_id=SensitivityAnalysis.objects.get().pk)
    assert analysis.status == SensitivityStatus.SUCCEEDED and analysis.progress == 100
    detail = analyst_api.get(body["status_url"]).json()
    result = detail["result"]
    assert detail["status"] == "succeeded"
    stored = next(
        r
        for r in run.result["quote"]["rates"]
        if (r["tier"], r["market"], r["lob"]) == ("2", "RURAL-N", "medicaid")
    )
    assert result["pmpm"] == stored["pmpm"]
    # at the run's own assumptions the probability of a loss is the run's (same seed, same years)
    line = run.result["risk"]["by_market"]["RURAL-N"]["by_lob"]["medicaid"]
    risk = line["summary"]["provider_margin"]["probability_of_loss"]
    assert result["probability_of_loss"] == round(risk, 6)
    ranged = set(run.inputs["pricing_file"]["assumptions"]["ranges"])
    assert {r["assumption"] for r in result["assumptions"]} == ranged
    assert [a["id"] for a in analyst_api.get(_url(run)).json()] == [body["id"]]


def test_computing_twice_or_after_a_crash_gives_the_same_figures(run):
    scope_user = run.created_by
    from tests.pricing.conftest import scope_of

    analysis = services.sensitivity_start(
        scope=scope_of(scope_user), run=run, tier="1", market="URBAN", lob="medicaid", enqueue=False
    )
    first = services.sensitivity_execute(analysis_id=analysis.pk).result
    assert services.sensitivity_execute(analysis_id=analysis.pk).result == first  # finished: left alone
    # a worker died mid-way: the row says running, with some progress; the next delivery recomputes
    SensitivityAnalysis.objects.filter(pk=analysis.pk).update(
        status=SensitivityStatus.RUNNING, progress=40, result=None, finished_at=None
    )
    again = services.sensitivity_execute(analysis_id=analysis.pk)
    assert again.status == SensitivityStatus.SUCCEEDED and again.result == first


def test_a_failed_analysis_is_queued_again_when_asked(analyst_api, run):
    body = analyst_api.post(
        _url(run), {"tier": "1", "market": "URBAN", "lob": "medicaid"}, format="json"
    ).json()
    SensitivityAnalysis.objects.filter(public_id=body["id"]).update(
        status=SensitivityStatus.FAILED, error={"code": "computation_failed", "message": "boom"}
    )
    again = analyst_api.post(_url(run), {"tier": "1", "market": "URBAN", "lob": "medicaid"}, format="json")
    assert again.status_code == 202 and again.json()["id"] == body["id"]
    assert again.json()["status"] == "queued" and again.json()["error"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tier": "9", "market": "URBAN", "lob": "medicaid"}, "cell"),
        ({"tier": "1", "market": "NOWHERE", "lob": "medicaid"}, "cell"),
        ({"tier": "1", "market": "URBAN", "lob": "dsnp"}, "cell"),
        ({"tier": "1", "market": "URBAN", "lob": "medicaid", "simulation_years": 999}, "simulation_years"),
        (
            {"tier": "1", "market": "URBAN", "lob": "medicaid", "simulation_years": 100_001},
            "simulation_years",
        ),
    ],
)
def test_what_cannot_be_analysed_says_why(analyst_api, run, body, field):
    response = analyst_api.post(_url(run), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_sensitivity"
    assert [p["path"] for p in response.json()["details"]["problems"]] == [field]
    assert not SensitivityAnalysis.objects.exists()


def test_the_edges_of_the_simulated_years_are_accepted(analyst_api, run):
    for years in (1000, 100_000):
        body = {"tier": "1", "market": "URBAN", "lob": "medicaid", "simulation_years": years}
        assert analyst_api.post(_url(run), body, format="json").status_code == 202


def test_an_unfinished_run_has_no_sensitivity(analyst_api, start_run):
    queued = start_run()
    response = analyst_api.post(
        _url(queued), {"tier": "1", "market": "URBAN", "lob": "medicaid"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "run_not_succeeded"


def test_who_may_ask_and_who_may_read(run, plan, member_of, api_for, analyst_api):
    body = analyst_api.post(
        _url(run), {"tier": "1", "market": "URBAN", "lob": "medicaid"}, format="json"
    ).json()
    auditor = api_for(member_of(plan, Role.AUDITOR))
    assert auditor.get(_url(run)).status_code == 200
    assert auditor.get(body["status_url"]).status_code == 200
    assert (
        auditor.post(
            _url(run), {"tier": "2", "market": "URBAN", "lob": "medicaid"}, format="json"
        ).status_code
        == 403
    )
    for outsider in (member_of(PayerFactory(), Role.ANALYST), member_of(ProviderFactory(), Role.ADMIN)):
        client = api_for(outsider)
        assert client.get(_url(run)).status_code == 404
        assert client.get(body["status_url"]).status_code == 404
        assert (
            client.post(
                _url(run), {"tier": "1", "market": "URBAN", "lob": "medicaid"}, format="json"
            ).status_code
            == 404
        )
        web = Client()
        assert web.login(username=outsider.username, password=PASSWORD)
        assert web.get(f"/pricing/sensitivity/{body['id']}/").status_code == 404
        assert (
            web.post(f"/pricing/runs/{run.public_id}/sensitivity/", {"cell": "1/URBAN/medicaid"}).status_code
            == 404
        )
    assert SensitivityAnalysis.objects.count() == 1


def test_the_run_page_asks_shows_progress_then_the_tornado_and_the_report_has_it(web, run):
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert 'data-testid="sensitivity-form"' in page and "No analysis yet." in page
    response = web.post(f"/pricing/runs/{run.public_id}/sensitivity/", {"cell": "3/URBAN/medicare_advantage"})
    assert response.status_code == 302 and response["Location"].endswith("#sensitivity")
    analysis = SensitivityAnalysis.objects.get()
    assert (analysis.tier, analysis.market, analysis.lob) == ("3", "URBAN", "medicare_advantage")
    progress = web.get(f"/pricing/sensitivity/{analysis.public_id}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-label="Sensitivity progress"' in progress and "hx-trigger" in progress

    services.sensitivity_execute(analysis_id=analysis.pk)
    done = web.get(f"/pricing/sensitivity/{analysis.public_id}/", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in done
    standalone = web.get(f"/pricing/sensitivity/{analysis.public_id}/").content.decode()
    assert "<html" in standalone and 'data-chart="tornado-rate-' in standalone
    assert (
        "hx-trigger" not in done
        and 'data-chart="tornado-rate-' in done
        and 'data-chart="tornado-loss-' in done
    )
    page = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert "Tier 3 · URBAN · Medicare Advantage" in page and 'data-testid="sensitivity-table"' in page

    pdf = web.get(f"/pricing/runs/{run.public_id}/report.pdf")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "10. Sensitivity" in text and "Tier 3" in text


def test_an_unknown_cell_on_the_page_is_a_message_not_an_error(web, run):
    response = web.post(f"/pricing/runs/{run.public_id}/sensitivity/", {"cell": "nonsense"}, follow=True)
    assert response.status_code == 200
    assert "the run prices no rate cell" in response.content.decode().lower()
    assert not SensitivityAnalysis.objects.exists()


def test_the_run_page_query_count_does_not_grow_with_analyses(web, run, analyst):
    from tests.pricing.conftest import scope_of

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(f"/pricing/runs/{run.public_id}/").status_code == 200
        return len(ctx.captured_queries)

    scope = scope_of(analyst)
    services.sensitivity_start(scope=scope, run=run, tier="1", market="URBAN", lob="medicaid", enqueue=False)
    before = count()
    for tier in ("2", "3"):
        services.sensitivity_start(
            scope=scope, run=run, tier=tier, market="URBAN", lob="medicaid", enqueue=False
        )
    assert count() == before
