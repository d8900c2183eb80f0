"""seed_demo's pricing step: the default assumption set, the urban program's experience and a finished
run of each demo bundle, made once however often the seed runs."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import F

from pricing import demo
from pricing.engine.breakeven import run_economics
from pricing.experience import summarise_experience, summarise_spans
from pricing.models import AssumptionSet, ExperienceDataset, PricingRun

pytestmark = pytest.mark.django_db


def test_the_generated_experience_is_deterministic_and_valid():
    first, second = demo.experience_files(), demo.experience_files()
    assert first == second
    experience = summarise_experience(io.BytesIO(first[0].encode()), today=date(2026, 1, 1))
    assert experience.valid and experience.summary["first_month"] == "2025-01"
    assert set(experience.summary["by_tier"]) == {"1", "2", "3"}
    spans = summarise_spans(
        io.BytesIO(first[1].encode()), today=date(2026, 1, 1), data_end_month=2025 * 12 + 11
    )
    assert (
        spans.valid and 3 <= spans.summary["median_months"] <= 9
    )  # CAPC: a median stay of about four months


def test_seed_demo_prices_every_demo_bundle_once(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    versions = AssumptionSet.objects.get(name=demo.ASSUMPTION_SET).versions.order_by(
        F("number").asc(nulls_last=True)
    )  # the draft has none
    assert [(v.number, v.status) for v in versions] == [(1, "published"), (None, "draft")]
    experience = ExperienceDataset.objects.get()
    assert experience.status == "valid" and experience.provider.short_name == "Bayview"
    runs = PricingRun.objects.select_related("bundle_version__bundle", "payer")
    assert sorted((r.payer.short_name, r.bundle_version.bundle.name) for r in runs) == [
        ("Golden Coast", "Home-based palliative care"),
        ("Golden Coast", "Home-based palliative care, phased"),
        ("Golden Coast", "Post-discharge palliative transition (90 days)"),
        ("Sierra Foothills", "Sierra home palliative care (our service model)"),
    ]
    assert all(r.status == "succeeded" for r in runs)
    phased = next(r for r in runs if r.bundle_version.bundle.name.endswith("phased"))
    initial, ongoing = phased.result["quote"]["phases"]
    # the first two months' richer team costs more in every cell; the main quote is the ongoing phase's
    assert all(
        Decimal(a["pmpm"]) > Decimal(b["pmpm"])
        for a, b in zip(initial["rates"], ongoing["rates"], strict=True)
    )
    assert phased.result["quote"]["rates"] == ongoing["rates"]
    home = next(r for r in runs if r.bundle_version.bundle.name == "Home-based palliative care")
    assert home.experience == experience and home.result["enrollment"]["source"] == "experience"
    assert len(home.result["quote"]["rates"]) == 3 * 4 * 2
    # the rural provider's own run: its first year of 25 enrollees does not yet cover its fixed cost
    rural = next(r for r in runs if r.payer.short_name == "Sierra Foothills")
    assert rural.assumption_set_version.assumption_set.name == demo.RURAL_ASSUMPTION_SET
    economics = run_economics(rural.inputs, rural.result)
    assert economics is not None and economics.fixed_annual_cost == Decimal(60000)
    assert economics.expected_result < 0 and economics.breakeven_enrollees > 25
