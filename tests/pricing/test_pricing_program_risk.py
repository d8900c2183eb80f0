"""The risk of the whole program (issue 17, point 5): every market and line of business simulated at its
own rates, the program's fixed annual cost and first-year ramp as run options, and the reserve that keeps
the probability of a loss under a chosen level, on the run page, in the API and in the report."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.test import Client
from pypdf import PdfReader

from pricing import services
from pricing.compute import _tier_mix
from pricing.documents import validate_document
from pricing.engine import contract_year_model, run_monte_carlo
from pricing.models import PricingRun
from tests.factories import PASSWORD
from tests.pricing.test_pricing_runs_api import RUNS, body_for

pytestmark = pytest.mark.django_db

YEARS = 2000


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def _run(start_run, **options):
    started = start_run(
        lobs=["medicaid", "medicare_advantage"],
        options={"simulation_years": YEARS, "lob_mix": {"medicaid": 3, "medicare_advantage": 1}, **options},
    )
    return services.pricing_run_execute(run_id=started.pk)


def test_every_line_is_simulated_and_the_program_adds_markets_up_less_its_fixed_cost(start_run):
    run = _run(start_run, fixed_annual_cost="50000", enrollees_per_year=200)
    risk = run.result["risk"]
    assert risk["lobs"] == ["medicaid", "medicare_advantage"]
    assert risk["lob_shares"] == {"medicaid": "0.750000", "medicare_advantage": "0.250000"}
    for market in ("URBAN", "RURAL-N"):
        lines = risk["by_market"][market]["by_lob"]
        assert set(lines) == {"medicaid", "medicare_advantage"}
        # a line's referrals are its share of the market's enrollees over the conversion rate
        medicaid, advantage = (
            Decimal(lines[lob]["referrals_per_year"]) for lob in ("medicaid", "medicare_advantage")
        )
        assert abs(medicaid - 3 * advantage) <= Decimal("0.03")  # each rounded to the cent
        market_mean = Decimal(risk["by_market"][market]["summary"]["provider_margin"]["mean"])
        parts = sum(Decimal(line["summary"]["provider_margin"]["mean"]) for line in lines.values())
        assert abs(market_mean - parts) <= Decimal("0.02")  # each mean rounded to the cent
    program = risk["program"]
    assert program["fixed_annual_cost"] == "50000.00" and program["first_year"] is False
    markets = sum(
        Decimal(risk["by_market"][m]["summary"]["provider_margin"]["mean"]) for m in ("URBAN", "RURAL-N")
    )
    assert abs(Decimal(program["summary"]["provider_margin"]["mean"]) - (markets - 50000)) <= Decimal("0.02")
    assert len(program["reserve"]) == 100
    reserves = [Decimal(program["reserve"][k]) for k in ("0.01", "0.05", "0.1", "0.5")]
    assert reserves == sorted(reserves, reverse=True)  # a lower tolerated probability needs more
    assert not any("risk simulation uses" in w for w in run.result["warnings"])


def test_a_one_line_run_keeps_the_figures_it_always_had(start_run):
    started = start_run(lobs=["medicaid"], options={"simulation_years": YEARS})
    run = services.pricing_run_execute(run_id=started.pk)
    pf = validate_document(run.inputs["pricing_file"])
    rates = {r["tier"]: r["pmpm"] for r in run.result["quote"]["rates"] if r["market"] == "RURAL-N"}
    enrollees = run.options["enrollees_per_year"]["RURAL-N"]
    model = contract_year_model(
        pf,
        market="RURAL-N",
        referrals_per_year=float(Decimal(enrollees) / pf.assumptions.conversion_rate),
        tier_mix={t: float(s) for t, s in _tier_mix(run.options, pf).items()},
        lob="medicaid",
        pmpm_by_tier=rates,
        assessment_fee=run.result["quote"]["assessment_fee"]["RURAL-N"],
    )
    alone = run_monte_carlo(model, n_years=YEARS, seed=run.seed + 1)  # the second market's seed
    stored = run.result["risk"]["by_market"]["RURAL-N"]["summary"]["provider_margin"]
    assert stored["probability_of_loss"] == alone["provider_margin"]["probability_of_loss"]
    assert Decimal(stored["mean"]) == alone["provider_margin"]["mean"]


def test_a_fixed_cost_makes_a_loss_more_likely_and_a_first_year_earns_less(start_run):
    steady = _run(start_run).result["risk"]["program"]
    costly = _run(start_run, fixed_annual_cost="150000").result["risk"]["program"]
    first = _run(start_run, first_year=True).result["risk"]["program"]
    loss = lambda p: p["summary"]["provider_margin"]["probability_of_loss"]  # noqa: E731
    assert loss(costly) > loss(steady)
    assert Decimal(costly["reserve"]["0.05"]) > Decimal(steady["reserve"]["0.05"])
    assert first["first_year"] is True
    assert Decimal(first["summary"]["provider_margin"]["mean"]) < Decimal(
        steady["summary"]["provider_margin"]["mean"]
    )


@pytest.mark.parametrize(
    ("options", "path"),
    [
        ({"fixed_annual_cost": -1}, "options.fixed_annual_cost"),
        ({"fixed_annual_cost": "lots"}, "options.fixed_annual_cost"),
        ({"fixed_annual_cost": True}, "options.fixed_annual_cost"),
        ({"fixed_annual_cost": "100000000.01"}, "options.fixed_annual_cost"),
        ({"first_year": "yes"}, "options.first_year"),
    ],
)
def test_bad_program_options_are_refused_with_their_path(
    analyst_api, bundle_version, assumption_version, options, path
):
    response = analyst_api.post(
        RUNS,
        body_for(bundle_version, assumption_version, options={"simulation_years": 2000, **options}),
        format="json",
    )
    assert response.status_code == 400
    assert path in [p["path"] for p in response.json()["details"]["problems"]]
    assert not PricingRun.objects.exists()


def test_the_edges_of_the_fixed_cost_are_accepted(analyst_api, bundle_version, assumption_version):
    for amount in ("0", "100000000"):
        body = body_for(
            bundle_version,
            assumption_version,
            options={"simulation_years": 2000, "fixed_annual_cost": amount},
        )
        assert analyst_api.post(RUNS, body, format="json").status_code == 202


def test_the_run_page_shows_the_reserve_for_the_chosen_level(web, start_run):
    run = _run(start_run, fixed_annual_cost="80000")
    reserve = run.result["risk"]["program"]["reserve"]
    page = web.get(f"/pricing/runs/{run.public_id}/")
    html = page.content.decode()
    assert 'data-testid="program-risk"' in html and 'data-testid="reserve-table"' in html
    assert page.context["report"]["risk"]["program"]["reserve"] == f"${Decimal(reserve['0.05']):,}"
    assert "Keep the probability of a loss under (%)" in html and 'value="5"' in html
    chosen = web.get(f"/pricing/runs/{run.public_id}/?loss_level=2.5")
    assert chosen.context["report"]["risk"]["program"]["reserve"] == f"${Decimal(reserve['0.025']):,}"
    assert "under 2.5%" in chosen.content.decode()
    for wrong in ("0.3", "51", "abc", "0"):
        refused = web.get(f"/pricing/runs/{run.public_id}/?loss_level={wrong}")
        assert refused.status_code == 200
        assert "from 0.5 to 50, by half a percent" in refused.content.decode()
        assert refused.context["loss_level_percent"] == "5"
    pdf = web.get(f"/pricing/runs/{run.public_id}/report.pdf")
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    assert "Whole program" in text and "$80,000.00" in text


def test_the_run_form_takes_the_program_options(web, bundle_version, assumption_version):
    response = web.post(
        "/pricing/runs/new/",
        {
            "bundle_version": bundle_version.pk,
            "assumption_version": assumption_version.pk,
            "markets": ["URBAN"],
            "lobs": ["medicaid"],
            "enrollees_per_year": 40,
            "simulation_years": 2000,
            "fixed_annual_cost": "65000",
            "first_year": "on",
        },
    )
    assert response.status_code == 302
    run = PricingRun.objects.get()
    assert run.options["fixed_annual_cost"] == "65000.00" and run.options["first_year"] is True
