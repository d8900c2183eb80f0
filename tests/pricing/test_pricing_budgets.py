"""A run's budgets: each market's enrollees are budgeted once, split between the lines of business by
the run's lob_mix (alike without one); the shares are validated with their paths; the page and the
report show the split and the total."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing.models import PricingRun
from pricing.tasks import run_pricing

pytestmark = pytest.mark.django_db

D = Decimal
RUNS = "/api/v1/pricing/runs/"


def computed(start_run, **options) -> PricingRun:
    run = start_run(
        options={"simulation_years": 2000, "enrollees_per_year": {"URBAN": 120, "RURAL-N": 40}, **options}
    )
    run_pricing.apply(args=[run.pk])
    return PricingRun.objects.get(pk=run.pk)


def by_cell(run: PricingRun) -> dict[tuple[str, str], dict]:
    return {(b["market"], b["lob"]): b for b in run.result["budgets"]}


def test_a_markets_enrollees_are_counted_once_across_the_lines(start_run):
    run = computed(start_run)
    assert run.options["lob_mix"] == {"medicaid": "0.500000", "medicare_advantage": "0.500000"}
    budgets = by_cell(run)
    for market, enrollees in (("URBAN", 120), ("RURAL-N", 40)):
        lines = [budgets[(market, lob)] for lob in ("medicaid", "medicare_advantage")]
        assert sum(D(b["enrollees"]) for b in lines) == enrollees  # not 2 x enrollees
        assert [b["enrollees"] for b in lines] == [f"{enrollees / 2:.1f}"] * 2
        expected = D(run.result["quote"]["expected_months_enrolled"])
        for b in lines:
            # member-months, care and assessments follow the line's own enrollees
            assert D(b["member_months"]) == (D(enrollees) / 2 * expected).quantize(D("0.1"))
            assert D(b["annual_budget"]) == D(b["care_payments"]) + D(b["assessment_payments"])


def test_the_lines_shares_split_the_enrollees(start_run):
    run = computed(start_run, lob_mix={"medicaid": 3, "medicare_advantage": 1})
    assert run.options["lob_mix"] == {"medicaid": "0.750000", "medicare_advantage": "0.250000"}
    budgets = by_cell(run)
    assert (
        budgets[("URBAN", "medicaid")]["enrollees"],
        budgets[("URBAN", "medicare_advantage")]["enrollees"],
    ) == (
        "90.0",
        "30.0",
    )
    # A line left out of the mix gets no enrollees.
    only = computed(start_run, lob_mix={"medicaid": 1})
    assert by_cell(only)[("RURAL-N", "medicare_advantage")]["enrollees"] == "0.0"
    assert by_cell(only)[("RURAL-N", "medicare_advantage")]["annual_budget"] == "0.00"
    assert by_cell(only)[("RURAL-N", "medicaid")]["enrollees"] == "40.0"


def test_a_bad_mix_is_refused_with_its_paths(analyst_api, bundle_version, assumption_version):
    body = {
        "bundle_id": str(bundle_version.bundle.public_id),
        "bundle_version": bundle_version.number,
        "assumption_set_id": str(assumption_version.assumption_set.public_id),
        "assumption_set_version": assumption_version.number,
        "lobs": ["medicaid"],
    }
    for mix, path, code in (
        ({"medicare_advantage": 1}, "options.lob_mix.medicare_advantage", "unknown_line_of_business"),
        ({"medicaid": "a lot"}, "options.lob_mix.medicaid", "not_a_number"),
        ({"medicaid": -1}, "options.lob_mix.medicaid", "out_of_range"),
        ({"medicaid": 0}, "options.lob_mix", "invalid_lob_mix"),
        ([0.5], "options.lob_mix", "wrong_type"),
    ):
        response = analyst_api.post(RUNS, {**body, "options": {"lob_mix": mix}}, format="json")
        assert response.status_code == 400, mix
        assert (path, code) in {(e["path"], e["code"]) for e in response.json()["details"]["errors"]}, mix
    assert not PricingRun.objects.exists()


def test_the_page_takes_the_shares_and_shows_the_split_and_the_total(
    client, analyst, bundle_version, assumption_version, django_capture_on_commit_callbacks
):
    client.force_login(analyst)
    form = client.get("/pricing/runs/new/").content.decode()
    assert "Share of enrollees: Medicaid (%)" in form
    with django_capture_on_commit_callbacks():
        response = client.post(
            "/pricing/runs/new/",
            {
                "bundle_version": str(bundle_version.pk),
                "assumption_version": str(assumption_version.pk),
                "markets": ["URBAN"],
                "enrollees_per_year": 100,
                "simulation_years": 1000,
                "lob_share_medicaid": "80",
                "lob_share_medicare_advantage": "20",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = PricingRun.objects.get()
    assert run.options["lob_mix"] == {"medicaid": "0.800000", "medicare_advantage": "0.200000"}
    run_pricing.apply(args=[run.pk])
    run.refresh_from_db()
    page = client.get(f"/pricing/runs/{run.public_id}/").content.decode()
    total = sum(D(b["annual_budget"]) for b in run.result["budgets"])
    assert "Medicaid 80.0%, Medicare Advantage 20.0%" in page
    assert f'data-testid="budget-total">${total:,}' in page
