"""What-if on a run (issue 17, point 3): levers that re-quote without storing, and Save that keeps them."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from pricing import services
from pricing.engine.scenarios import WhatIf, what_if_assumptions
from pricing.models import AssumptionSet, PricingRun
from tests.factories import PASSWORD, PayerFactory
from tests.pricing.engine.conftest import FORMATS_EXAMPLE

# --- the levers on an assumptions document (pure) ---------------------------------------------------


def test_wages_move_every_salary_to_the_cent_half_up():
    assumptions = copy.deepcopy(FORMATS_EXAMPLE["assumptions"])
    assumptions["salaries"]["lcsw"]["default"] = "2000.03"
    out = what_if_assumptions(assumptions, WhatIf(wage_change=Decimal("0.5")))
    assert out["salaries"]["lcsw"]["default"] == "3000.05"  # 3000.045: half-up, not half-even
    assert out["salaries"]["np"] == {"default": "198000.00", "markets": {"RURAL-N": "189000.00"}}
    assert assumptions["salaries"]["np"]["default"] == 132000  # the input is not changed


def test_a_productivity_outside_its_range_widens_the_range_and_inside_keeps_it():
    assumptions = FORMATS_EXAMPLE["assumptions"]
    low = what_if_assumptions(assumptions, WhatIf(productivity=Decimal("0.60")))
    assert low["productivity"] == "0.60" and low["ranges"]["productivity"] == ["0.60", 0.80]
    high = what_if_assumptions(assumptions, WhatIf(productivity=Decimal("0.90")))
    assert high["ranges"]["productivity"] == [0.70, "0.90"]
    # equal to an end of the range is inside it
    for point in ("0.80", "0.70"):
        inside = what_if_assumptions(assumptions, WhatIf(productivity=Decimal(point)))
        assert inside["ranges"]["productivity"] == [0.70, 0.80]


def test_no_lever_moved_changes_nothing():
    assumptions = FORMATS_EXAMPLE["assumptions"]
    assert not WhatIf().changes()
    assert what_if_assumptions(assumptions, WhatIf()) == assumptions
    assert WhatIf(wage_change=Decimal("0.01")).changes()
    moved = what_if_assumptions(assumptions, WhatIf(conversion_rate=Decimal("0.45")))
    assert moved["conversion_rate"] == "0.45"


# --- through the platform ------------------------------------------------------------------------------


@pytest.fixture
def run(start_run):
    # markets of different sizes: a lever must move each market's own enrollment, never copy one
    started = start_run(
        lobs=["medicaid", "medicare_advantage"], options={"enrollees_per_year": {"URBAN": 150, "RURAL-N": 40}}
    )
    return services.pricing_run_execute(run_id=started.pk)


@pytest.fixture
def web(analyst) -> Client:
    client = Client()
    assert client.login(username=analyst.username, password=PASSWORD)
    return client


def _url(run) -> str:
    return f"/api/v1/pricing/runs/{run.public_id}/what-if/"


@pytest.mark.django_db
def test_the_runs_own_levers_reproduce_its_rates_to_the_cent(analyst_api, run):
    response = analyst_api.post(_url(run), {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["levers"]["productivity"] == run.inputs["pricing_file"]["assumptions"]["productivity"]
    assert all(change == "0.00" for row in body["side_by_side"]["rates"] for change in row["changes"])
    assert [b["annual_budget"] for b in body["budgets"]] == [
        b["annual_budget"] for b in run.result["budgets"]
    ]
    assert PricingRun.objects.count() == 1  # nothing stored


@pytest.mark.django_db
def test_each_lever_moves_what_it_should(analyst_api, run):
    def rates(**levers):
        body = analyst_api.post(_url(run), levers, format="json").json()
        return {
            (r["tier"], r["market"], r["lob"]): Decimal(r["values"][1]) for r in body["side_by_side"]["rates"]
        }, body

    base, _ = rates()
    slower, _ = rates(productivity="0.60")
    dearer, _ = rates(wage_change="0.10")
    assert all(slower[c] > base[c] for c in base) and all(dearer[c] > base[c] for c in base)
    _, bigger = rates(enrollment_change="0.5")
    assert bigger["enrollees_per_year"] == {"URBAN": 225, "RURAL-N": 60}
    _, fewer_conversions = rates(conversion_rate="0.30")
    for budget, more in zip(run.result["budgets"], bigger["budgets"], strict=True):
        assert Decimal(more["annual_budget"]) > Decimal(budget["annual_budget"])
    # fewer referrals convert: more assessments are paid per enrollee, so the budget grows
    for budget, more in zip(run.result["budgets"], fewer_conversions["budgets"], strict=True):
        assert Decimal(more["assessment_payments"]) > Decimal(budget["assessment_payments"])


@pytest.mark.django_db
def test_bad_levers_and_unfinished_runs_are_refused(analyst_api, run, start_run):
    response = analyst_api.post(
        _url(run), {"productivity": "1.5", "wage_change": "-2", "enrollment_change": "-0.95"}, format="json"
    )
    assert response.status_code == 400
    assert {"productivity", "wage_change", "enrollment_change"} <= set(response.json()["details"])
    queued = start_run()
    response = analyst_api.post(_url(queued), {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "run_not_succeeded"
    response = analyst_api.post(_url(queued), {"save": True}, format="json")
    assert response.status_code == 409


@pytest.mark.django_db
def test_save_keeps_the_levers_as_a_new_assumption_set_and_run(analyst_api, run):
    response = analyst_api.post(
        _url(run), {"productivity": "0.65", "wage_change": "0.05", "save": True}, format="json"
    )
    assert response.status_code == 202, response.content
    new = PricingRun.objects.get(public_id=response.json()["id"])
    assert response["Location"] == f"/api/v1/pricing/runs/{new.public_id}/"
    assert new.bundle_version == run.bundle_version and new.seed == run.seed and new.markets == run.markets
    version = new.assumption_set_version
    assert version.number == 1 and "what-if" in version.assumption_set.name
    assert "productivity 0.75 to 0.65" in version.notes and "every salary +5.0%" in version.notes
    assert new.inputs["pricing_file"]["assumptions"]["productivity"] == "0.65"
    assert new.options["enrollees_per_year"] == run.options["enrollees_per_year"]  # enrollment not moved
    original = run.assumption_set_version.assumptions
    assert Decimal(version.assumptions["salaries"]["rn"]["default"]) == (
        Decimal(str(original["salaries"]["rn"]["default"])) * Decimal("1.05")
    ).quantize(Decimal("0.01"))
    # saving twice in the same second makes a second set, never a clash
    again = analyst_api.post(_url(run), {"save": True}, format="json")
    assert again.status_code == 202
    assert AssumptionSet.objects.filter(name__contains="what-if").count() == 2


@pytest.mark.django_db
def test_who_may_look_and_who_may_save(run, plan, member_of, api_for):
    auditor = api_for(member_of(plan, Role.AUDITOR))
    assert auditor.post(_url(run), {}, format="json").status_code == 200
    response = auditor.post(_url(run), {"save": True}, format="json")
    assert response.status_code == 403
    assert (
        PricingRun.objects.count() == 1
        and not AssumptionSet.objects.filter(name__contains="what-if").exists()
    )
    stranger = api_for(member_of(PayerFactory(), Role.ANALYST))
    assert stranger.post(_url(run), {}, format="json").status_code == 404
    assert stranger.post(_url(run), {"save": True}, format="json").status_code == 404
    web = Client()
    user = member_of(PayerFactory(), Role.ADMIN)
    assert web.login(username=user.username, password=PASSWORD)
    assert web.get(f"/pricing/runs/{run.public_id}/what-if/").status_code == 404
    assert web.get(f"/pricing/runs/{run.public_id}/what-if/quote/").status_code == 404
    assert web.post(f"/pricing/runs/{run.public_id}/what-if/", {"conversion_rate": "0.5"}).status_code == 404


@pytest.mark.django_db
def test_the_page_re_quotes_and_saves(web, run):
    detail = web.get(f"/pricing/runs/{run.public_id}/").content.decode()
    assert f"/pricing/runs/{run.public_id}/what-if/" in detail
    page = web.get(f"/pricing/runs/{run.public_id}/what-if/")
    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Conversion rate", "Productivity", "Wages (% change)", "Enrollment (% change)"):
        assert label in html
    assert 'data-testid="what-if-rates"' in html and html.count('type="range"') == 4

    levers = {
        "conversion_rate": "0.55",
        "productivity": "0.70",
        "wage_change": "10",
        "enrollment_change": "-25",
    }
    with CaptureQueriesContext(connection) as queries:
        partial = web.get(f"/pricing/runs/{run.public_id}/what-if/quote/", levers)
    assert partial.status_code == 200 and len(queries) <= 8
    fragment = partial.content.decode()
    assert (
        "<html" not in fragment
        and "productivity 0.70" in fragment
        and "wages 10.0%" in fragment
        and "enrollment −25.0%" in fragment
    )
    first = partial.context["result"]["side_by_side"]["rates"][0]
    assert Decimal(first["changes"][1]) > 0

    wrong = web.get(f"/pricing/runs/{run.public_id}/what-if/quote/", {**levers, "productivity": "2"})
    assert wrong.status_code == 200 and "Productivity:" in wrong.content.decode()

    refused = web.post(f"/pricing/runs/{run.public_id}/what-if/", {**levers, "wage_change": "90"})
    assert refused.status_code == 400 and PricingRun.objects.count() == 1
    saved = web.post(f"/pricing/runs/{run.public_id}/what-if/", levers)
    new = PricingRun.objects.exclude(pk=run.pk).get()
    assert saved.status_code == 302 and saved["Location"] == f"/pricing/runs/{new.public_id}/"
    assert new.options["enrollees_per_year"] == {
        "URBAN": 113,
        "RURAL-N": 30,
    }  # each market's, 25% fewer (half up)


@pytest.mark.django_db
def test_a_read_only_role_sees_no_save_button_and_cannot_post(run, plan, member_of):
    client = Client()
    assert client.login(username=member_of(plan, Role.AUDITOR).username, password=PASSWORD)
    page = client.get(f"/pricing/runs/{run.public_id}/what-if/")
    assert page.status_code == 200 and 'data-testid="what-if-save"' not in page.content.decode()
    response = client.post(
        f"/pricing/runs/{run.public_id}/what-if/",
        {"conversion_rate": "0.5", "productivity": "0.7", "wage_change": "0", "enrollment_change": "0"},
    )
    assert response.status_code == 403 and PricingRun.objects.count() == 1


def test_enrollment_moves_each_market_by_the_same_share_to_whole_people():
    from pricing.engine.scenarios import what_if_enrollees

    enrollees = {"URBAN": 150, "RURAL-N": 40, "TINY": 1}
    assert what_if_enrollees(enrollees, WhatIf()) == enrollees
    assert what_if_enrollees(enrollees, WhatIf(enrollment_change=Decimal("0.5"))) == {
        "URBAN": 225,
        "RURAL-N": 60,
        "TINY": 2,
    }
    # half a person rounds up; never fewer than one
    assert what_if_enrollees({"A": 5}, WhatIf(enrollment_change=Decimal("-0.9"))) == {"A": 1}
    assert what_if_enrollees({"A": 15}, WhatIf(enrollment_change=Decimal("-0.9"))) == {"A": 2}  # 1.5
    assert what_if_enrollees({"A": 25}, WhatIf(enrollment_change=Decimal("-0.9"))) == {"A": 3}  # 2.5
    assert WhatIf(enrollment_change=Decimal("0.1")).changes()
