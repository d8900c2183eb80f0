"""seed_demo: an active contract with each demo provider, Bayview's amended once from July."""

from datetime import date

import pytest
from django.core.management import call_command
from django.utils import timezone

from contracts.models import Contract
from contracts.selectors import terms_in_force

pytestmark = pytest.mark.django_db


def test_demo_contracts(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # idempotent
    year = timezone.localdate().year
    urban = Contract.objects.get(provider__short_name="Bayview")
    rural = Contract.objects.get(provider__short_name="Sierra Foothills")
    assert urban.status == rural.status == "active"
    assert urban.bundle_versions.get().bundle.name == "Home-based palliative care"
    assert urban.bundle_versions.get().number == 2  # the latest published version

    assert [v.status for v in urban.versions.order_by("number")] == ["superseded", "active"]
    june = terms_in_force(contract=urban, on=date(year, 6, 1))
    july = terms_in_force(contract=urban, on=date(year, 7, 1))
    assert (june.version, july.version) == (1, 2)
    assert june.markets == ("URBAN", "URBAN-E") and june.proration_rule == "any_day"
    assert july.pmpm("3", "URBAN", "medicaid") > june.pmpm("3", "URBAN", "medicaid")
    assert july.pmpm("1", "URBAN", "medicaid") == june.pmpm("1", "URBAN", "medicaid")

    rural_terms = terms_in_force(contract=rural, on=date(year, 3, 1))
    assert rural_terms.markets == ("RURAL-N", "RURAL-S") and rural_terms.proration_rule in (
        "daily",
        "mid_month",
    )
    # Bayview's contract pays a quality bonus (the amendment keeps it); Sierra Foothills' does not.
    assert june.quality_bonus == july.quality_bonus == {"threshold": "0.9", "percentage": "0.01"}
    assert rural_terms.quality_bonus is None
    for terms in (june, july, rural_terms):
        assert len(terms.rates) == len(terms.tiers) * len(terms.markets) * len(terms.lines_of_business)
    for version in list(urban.versions.all()) + list(rural.versions.all()):
        for entry in version.rates.all():
            assert entry.source == "pricing_run" or entry.reason
        if version.status != "draft":  # the rural amendment is still being prepared at the plan
            assert {a.side for a in version.acceptances.all()} == {"payer", "provider"}
    assert [v.status for v in rural.versions.order_by("number")] == ["active", "draft"]
