"""The pricing report: a PDF whose text carries every rate and fee, the same figures as the page,
charts as inline SVG built in Python."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from pricing import charts, services
from pricing.models import PricingRun
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(start_run, experience):
    run = start_run(experience=experience, markets=["URBAN", "RURAL-N", "RURAL-S"])
    services.pricing_run_execute(run_id=run.pk)
    return PricingRun.objects.get(pk=run.pk)


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_the_pdf_contains_every_rate_and_fee_to_the_cent(analyst_api, finished_run):
    response = analyst_api.get(f"/api/v1/pricing/runs/{finished_run.public_id}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    rates = finished_run.result["quote"]["rates"]
    assert len(rates) == 3 * 3 * 2
    for rate in rates:
        for key in ("pmpm", "low", "high", "pmpm_without_assessment_fee"):
            assert charts.money(rate[key]) in text, (key, rate[key])
    for fee in finished_run.result["quote"]["assessment_fee"].values():
        assert charts.money(fee) in text
    for budget in finished_run.result["budgets"]:
        assert charts.money(budget["annual_budget"]) in text
    assert "Rate development summary" in text and finished_run.inputs_hash in text
    assert "$275.00" in text and "Tier 1 $450.00" in text and "$325.00" in text  # published payment levels
    assert "BLS" in text  # inputs with their sources


def test_the_page_shows_the_same_figures_as_the_pdf(client, analyst, finished_run):
    assert client.login(username=analyst.username, password=PASSWORD)
    page = client.get(f"/pricing/runs/{finished_run.public_id}/").content.decode()
    pdf = pdf_text(client.get(f"/pricing/runs/{finished_run.public_id}/report.pdf").content)
    shown = set(re.findall(r"−?\$[\d,]+\.\d\d", page))
    assert shown  # every amount on the page...
    missing = {amount for amount in shown if amount not in pdf}
    assert not missing  # ...is in the report, to the cent


def test_the_page_has_three_charts_as_inline_svg(client, analyst, finished_run):
    assert client.login(username=analyst.username, password=PASSWORD)
    page = client.get(f"/pricing/runs/{finished_run.public_id}/").content.decode()
    for chart in ("cost-by-role", "margin-distribution", "ffs-vs-bundle"):
        assert f'data-chart="{chart}"' in page
    assert "<script" not in page.split("<main", 1)[1]  # no chart library


def test_a_report_only_exists_for_a_succeeded_run(analyst_api, start_run):
    run = start_run()
    assert analyst_api.get(f"/api/v1/pricing/runs/{run.public_id}/report.pdf").status_code == 404


def test_chart_text_is_escaped():
    svg = charts.cost_by_role(
        [
            {
                "label": "<script>alert(1)</script>",
                "parts": [("a&b", "10.00")],
                "non_labor": "5",
                "total": "15",
            }
        ],
        market="M<1>",
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg


def test_money_formatting_is_exact():
    assert charts.money("1234.5") == "$1,234.50"
    assert charts.money("-0.01") == "−$0.01"
    assert charts.money("262.345") == "$262.35"  # half-up, like every amount
    assert charts.money(None) == "—"
