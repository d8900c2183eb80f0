"""Pricing runs side by side with the walk (issue 17, point 1): API, page, XLSX and PDF, errors, tenancy."""

from __future__ import annotations

import copy
import io
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from pricing import services
from tests.factories import PASSWORD, ContractFactory, PayerFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def _published(scope, name: str, assumptions: dict):
    assumption_set = services.assumption_set_create(scope=scope, name=name, assumptions=assumptions)
    return services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)


@pytest.fixture
def runs(scope, start_run, assumption_version):
    """Three succeeded runs: the defaults (A), a higher margin and RN salary (B), and B with a lower
    productivity (C), each over two markets and two lines of business."""
    b_assumptions = copy.deepcopy(assumption_version.assumptions)
    b_assumptions["margin"] = "0.04"
    b_assumptions["salaries"]["rn"]["default"] = "98000"
    c_assumptions = copy.deepcopy(b_assumptions)
    c_assumptions["productivity"] = "0.72"
    versions = [
        assumption_version,
        _published(scope, "Higher margin", b_assumptions),
        _published(scope, "Lower productivity", c_assumptions),
    ]
    out = []
    for version in versions:
        run = start_run(assumption_set_version=version, lobs=["medicaid", "medicare_advantage"])
        out.append(services.pricing_run_execute(run_id=run.pk))
    return out


def _ids(runs) -> str:
    return ",".join(str(r.public_id) for r in runs)


def _stored(run) -> dict:
    return {(r["tier"], r["market"], r["lob"]): Decimal(r["pmpm"]) for r in run.result["quote"]["rates"]}


def test_the_api_puts_runs_side_by_side_and_the_walk_adds_up_to_the_stored_rates(analyst_api, runs):
    a, b, c = runs
    response = analyst_api.get(f"/api/v1/pricing/comparison/?runs={_ids(runs)}")
    assert response.status_code == 200, response.content
    doc = response.json()
    assert [r["column"] for r in doc["runs"]] == ["A", "B", "C"]
    assert doc["runs"][1]["assumption_set"] == "Higher margin v1"
    stored_a, stored_b = _stored(a), _stored(b)
    for row in doc["side_by_side"]["rates"]:
        cell = (row["tier"], row["market"], row["lob"])
        assert Decimal(row["changes"][1]) == stored_b[cell] - stored_a[cell] > 0
    paths = {row["path"] for row in doc["input_differences"]}
    assert {"assumptions.margin", "assumptions.salaries.rn.default", "assumptions.productivity"} <= paths

    walk = doc["walk"]
    assert (walk["from_column"], walk["to_column"]) == ("A", "B")
    assert [s["parts"] for s in walk["steps"]] == [["assumptions.salaries"], ["assumptions.margin"]]
    assert len(walk["rates"]) == 3 * 2 * 2
    for row in walk["rates"]:
        cell = (row["tier"], row["market"], row["lob"])
        # the walk starts and ends at the rates the runs stored, and its steps add up to the cent
        assert Decimal(row["start"]) == stored_a[cell] and Decimal(row["end"]) == stored_b[cell]
        assert (
            sum(Decimal(s) for s in row["steps"]) == Decimal(row["change"]) == stored_b[cell] - stored_a[cell]
        )
    for fee in walk["assessment_fees"]:
        assert sum(Decimal(s) for s in fee["steps"]) == Decimal(fee["change"])

    to_c = analyst_api.get(f"/api/v1/pricing/comparison/?runs={_ids(runs)}&to={c.public_id}").json()["walk"]
    assert [s["parts"] for s in to_c["steps"]] == [
        ["assumptions.salaries"],
        ["assumptions.productivity"],
        ["assumptions.margin"],
    ]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("runs={a}", 400, "comparison_run_count"),
        ("runs={a},{a}", 400, "comparison_run_count"),
        ("runs=", 400, "comparison_run_count"),
        ("runs={a},{b},{a},{b},{a},{b},{seven}", 404, "not_found"),
        ("runs={a},not-a-uuid", 404, "not_found"),
        ("runs={a},{b}&to={a}", 404, "walk_to"),
        ("runs={a},{b}&file=docx", 400, "unknown_file_kind"),
        ("runs={a},{b}&file=pdf&cell=9/NOWHERE", 400, "unknown_cell"),
        ("runs={a},{queued}", 400, "run_not_succeeded"),
    ],
)
def test_the_api_says_what_is_wrong(analyst_api, runs, start_run, query, status, code):
    a, b, _ = runs
    queued = start_run()
    url = "/api/v1/pricing/comparison/?" + query.format(
        a=a.public_id, b=b.public_id, queued=queued.public_id, seven="8d0c4a3e-7a55-4a2e-9d6a-3f1c0e3b2a11"
    )
    response = analyst_api.get(url)
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


def test_more_than_six_runs_is_refused(analyst_api, runs, start_run):
    extra = [services.pricing_run_execute(run_id=start_run(markets=["URBAN"]).pk) for _ in range(4)]
    response = analyst_api.get(f"/api/v1/pricing/comparison/?runs={_ids([*runs, *extra])}")
    assert response.status_code == 400
    assert "2 to 6" in response.json()["message"] and "(7 chosen)" in response.json()["message"]


def test_the_xlsx_has_every_table_and_the_walk_of_every_cell(analyst_api, runs):
    response = analyst_api.get(f"/api/v1/pricing/comparison/?runs={_ids(runs[:2])}&file=xlsx")
    assert response.status_code == 200
    assert "pricing-comparison-" in response["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Runs",
        "Rates",
        "Assessment fees",
        "Labour by role",
        "Risk",
        "Inputs that differ",
        "Walk A to B",
    ]
    walk = list(book["Walk A to B"].iter_rows(values_only=True))
    assert walk[0][0] == "Step" and walk[1][0] == "Run A" and walk[-1][0] == "Run B"
    for column in range(1, len(walk[0])):
        start, *steps, end = (row[column] for row in walk[1:])
        assert isinstance(start, int | float)  # numbers, not text
        assert round(start + sum(steps), 2) == round(end, 2)
    rates = list(book["Rates"].iter_rows(values_only=True))
    assert rates[0][:3] == ("Tier", "Market", "Line of business") and rates[0][-1] == "B - A"


def test_the_pdf_shows_the_chosen_cell(analyst_api, web, runs):
    ids = _ids(runs[:2])
    response = analyst_api.get(f"/api/v1/pricing/comparison/?runs={ids}&file=pdf&cell=3/RURAL-N/medicaid")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    query = "&".join(f"run={r.public_id}" for r in runs[:2])
    page = web.get(f"/pricing/compare/export.pdf?{query}")
    assert page.status_code == 200 and page.content.startswith(b"%PDF")
    assert web.get(f"/pricing/compare/export.xlsx?{query}").status_code == 200
    assert web.get(f"/pricing/compare/export.xlsx?run={runs[0].public_id}").status_code == 400


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def test_the_page_chooses_runs_and_shows_them_with_the_walk(web, runs):
    home = web.get("/pricing/").content.decode()
    assert 'href="/pricing/compare/"' in home
    chooser = web.get("/pricing/compare/")
    assert chooser.status_code == 200
    html = chooser.content.decode()
    assert html.count('name="run"') == 3 and 'data-testid="compare-rates"' not in html

    query = "&".join(f"run={r.public_id}" for r in runs)
    page = web.get(f"/pricing/compare/?{query}&cell=2/URBAN/medicare_advantage")
    assert page.status_code == 200
    html = page.content.decode()
    for testid in (
        "compare-runs",
        "compare-rates",
        "compare-fees",
        "compare-risk",
        "walk",
        "compare-labour",
        "compare-inputs",
    ):
        assert f'data-testid="{testid}"' in html, testid
    assert "Tier 2 · URBAN · Medicare Advantage" in html
    assert "Salaries" in html and "Margin" in html
    walk = page.context["cell_walk"]
    assert walk["key"] == "2/URBAN/medicare_advantage"
    assert sum(Decimal(s["change"]) for s in walk["steps"]) == Decimal(walk["row"]["change"])
    assert f"/pricing/compare/export.xlsx?{query}" in html.replace("&amp;", "&")


def test_the_page_says_what_is_wrong_with_a_choice(web, runs, start_run):
    one = web.get(f"/pricing/compare/?run={runs[0].public_id}")
    assert one.status_code == 400
    assert "Choose 2 to 6 different pricing runs" in one.content.decode()
    queued = start_run()
    unfinished = web.get(f"/pricing/compare/?run={runs[0].public_id}&run={queued.public_id}")
    assert unfinished.status_code == 400 and "is queued" in unfinished.content.decode()
    cell = web.get(f"/pricing/compare/?run={runs[0].public_id}&run={runs[1].public_id}&cell=nowhere")
    assert cell.status_code == 400 and "no such rate cell" in cell.content.decode()


def test_the_page_query_count_does_not_grow_with_the_runs(web, runs):
    def count(chosen) -> int:
        query = "&".join(f"run={r.public_id}" for r in chosen)
        with CaptureQueriesContext(connection) as ctx:
            assert web.get(f"/pricing/compare/?{query}").status_code == 200
        return len(ctx.captured_queries)

    assert count(runs) == count(runs[:2])


def test_another_organisation_gets_404_and_an_auditor_may_compare(runs, plan, member_of, api_for):
    contracted = ProviderFactory()
    ContractFactory(payer=plan, provider=contracted)
    ids = _ids(runs[:2])
    query = "&".join(f"run={r.public_id}" for r in runs[:2])
    for user in (
        member_of(PayerFactory(), Role.ANALYST),
        member_of(ProviderFactory(), Role.ADMIN),
        member_of(contracted, Role.ADMIN),
    ):
        response = api_for(user).get(f"/api/v1/pricing/comparison/?runs={ids}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        for url in (
            f"/pricing/compare/?{query}",
            f"/pricing/compare/export.xlsx?{query}",
            f"/pricing/compare/export.pdf?{query}",
        ):
            assert client.get(url).status_code == 404, (user, url)
    auditor = member_of(plan, Role.AUDITOR)
    assert api_for(auditor).get(f"/api/v1/pricing/comparison/?runs={ids}").status_code == 200


def test_one_of_another_plans_runs_among_ours_is_404(analyst_api, runs, member_of, api_for):
    other = PayerFactory()
    other_api = api_for(member_of(other, Role.ANALYST))
    # the other plan's analyst cannot mix our run into theirs either: ours is unknown to them
    response = other_api.get(f"/api/v1/pricing/comparison/?runs={_ids(runs[:2])}")
    assert response.status_code == 404
    response = analyst_api.get(
        f"/api/v1/pricing/comparison/?runs={runs[0].public_id},8d0c4a3e-7a55-4a2e-9d6a-3f1c0e3b2a11"
    )
    assert response.status_code == 404


def test_the_chosen_baseline_comes_first_whatever_the_order_ticked(web, runs):
    a, b, c = runs
    # a browser sends the ticked boxes in the page's order (newest first): the radio names the baseline
    page = web.get(
        f"/pricing/compare/?run={c.public_id}&run={b.public_id}&run={a.public_id}&baseline={b.public_id}"
    )
    assert page.status_code == 200
    assert [r["id"] for r in page.context["doc"]["runs"]] == [
        str(b.public_id),
        str(c.public_id),
        str(a.public_id),
    ]
    html = page.content.decode()
    assert f'name="baseline" value="{b.public_id}" checked' in html
    # the walk form keeps that order, so choosing a cell does not change the baseline
    walk_form = html.split('data-testid="walk-form"')[1].split("</form>")[0]
    assert (
        walk_form.index(str(b.public_id))
        < walk_form.index(str(c.public_id))
        < walk_form.index(str(a.public_id))
    )
    # a baseline that is not ticked is ignored
    page = web.get(f"/pricing/compare/?run={c.public_id}&run={a.public_id}&baseline={b.public_id}")
    assert [r["id"] for r in page.context["doc"]["runs"]] == [str(c.public_id), str(a.public_id)]
