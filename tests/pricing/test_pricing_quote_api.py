"""The stateless quote endpoint: the docs/formats.md worked example to the cent, nothing stored, every
error of a bad file with its JSON path, never a 500 or a NaN."""

from __future__ import annotations

import copy
import json

import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role

pytestmark = pytest.mark.django_db

URL = "/api/v1/pricing/quote/"


@pytest.fixture
def quote_api(payer, member_of, api_for):
    return api_for(member_of(payer, Role.AUDITOR))


def post(client, body):
    return client.post(URL, body, format="json")


def pricing_row_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in apps.get_app_config("pricing").get_models()}


def test_worked_example_through_the_endpoint_to_the_cent(quote_api, formats_example):
    before = pricing_row_counts()
    response = post(quote_api, formats_example)
    assert response.status_code == 200, response.json()
    body = response.json()
    cell = next(r for r in body["rates"] if r["tier"] == "1" and r["market"] == "URBAN")
    assert (cell["pmpm"], cell["low"], cell["high"]) == ("262.35", "257.43", "267.48")
    assert cell["direct_pmpm"] == "166.54"
    assert cell["labor_pmpm"] == {"np": "99.02"}
    assert cell["credibility"] == 0.5
    assert body["assessment_fee"] == {"URBAN": "341.85", "RURAL-N": "468.10"}
    assert len(body["rates"]) == 3 * 2
    assert pricing_row_counts() == before  # the what-if calculator stores nothing


def test_every_role_of_any_organisation_may_quote(provider, member_of, api_for, formats_example):
    client = api_for(member_of(provider, Role.SUBMITTER))
    assert post(client, formats_example).status_code == 200


def test_anonymous_quote_is_401(formats_example):
    from rest_framework.test import APIClient

    assert APIClient().post(URL, formats_example, format="json").status_code == 401


def test_markets_and_lobs_narrow_and_split_the_rate_cells(quote_api, formats_example):
    formats_example["assumptions"]["lob_factors"] = {"dsnp": "1.1"}
    body = post(quote_api, {**formats_example, "markets": ["URBAN"], "lobs": ["medicaid", "dsnp"]}).json()
    assert {(r["market"], r["lob"]) for r in body["rates"]} == {("URBAN", "medicaid"), ("URBAN", "dsnp")}
    medicaid = next(r for r in body["rates"] if r["tier"] == "1" and r["lob"] == "medicaid")
    dsnp = next(r for r in body["rates"] if r["tier"] == "1" and r["lob"] == "dsnp")
    assert medicaid["pmpm"] == "262.35" and dsnp["pmpm"] == "288.58"  # 262.3507... x 1.1, rounded once


def test_absurd_assumptions_are_refused_with_every_error_and_its_path(quote_api, formats_example):
    a = formats_example["assumptions"]
    a["productivity"] = 0
    a["margin"] = 0.9  # with admin 0.12: loads of 1.02
    a["salaries"] = {
        "np": {"markets": {"RURAL-N": 126000}},
        "lcsw": {"default": 70000},
    }  # URBAN has no np wage
    a["rating_period_midpoint"] = "2024-07-01"  # before the base period
    a["benefits_load"] = -0.1
    response = post(quote_api, formats_example)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_pricing_file"
    errors = {(e["path"], e["code"]) for e in body["details"]["errors"]}
    assert ("$.assumptions.productivity", "out_of_range") in errors
    assert ("$.assumptions.margin", "loads_too_high") in errors
    assert ("$.assumptions.salaries.np.markets.URBAN", "market_without_wage") in errors
    assert ("$.assumptions.rating_period_midpoint", "date_range_reversed") in errors
    assert ("$.assumptions.benefits_load", "negative") in errors
    assert all(e["message"] for e in body["details"]["errors"])


def test_productivity_above_one_is_refused(quote_api, formats_example):
    formats_example["assumptions"]["productivity"] = "1.2"
    errors = post(quote_api, formats_example).json()["details"]["errors"]
    assert errors == [
        {
            "path": "$.assumptions.productivity",
            "code": "out_of_range",
            "message": "must be more than 0 and at most 1, not 1.2",
        }
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("assumptions", "salaries", "np", "default"), "1e400000"),
        (("assumptions", "annual_trend"), 3),
        (("assumptions", "lob_factors"), {"medicaid": "1e999999"}),
        (("bundle", "roles", 0, "visit_minutes"), 10**12),
        (("experience", "by_tier", "1", "member_months"), "1e-999999"),
    ],
)
def test_implausible_numbers_are_refused_not_overflowed(quote_api, formats_example, path, value):
    target = formats_example
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    response = post(quote_api, formats_example)
    assert response.status_code == 400, response.content
    assert response.json()["details"]["errors"]


def test_nan_and_infinity_are_refused(quote_api, formats_example):
    formats_example["assumptions"]["admin_load"] = "NaN"
    formats_example["assumptions"]["supplies_pmpm"] = "Infinity"
    errors = {(e["path"], e["code"]) for e in post(quote_api, formats_example).json()["details"]["errors"]}
    assert errors == {
        ("$.assumptions.admin_load", "not_finite"),
        ("$.assumptions.supplies_pmpm", "not_finite"),
    }
    raw = json.dumps(formats_example).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")
    response = quote_api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"


@pytest.mark.parametrize(
    "body", [[], "text", {"format": "carebundle.pricing/1"}, {"bundle": 1, "assumptions": []}]
)
def test_malformed_files_are_400_with_paths(quote_api, body):
    response = quote_api.post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert all("path" in e for e in response.json()["details"]["errors"])


def test_unknown_market_and_bad_lobs_name_their_field(quote_api, formats_example):
    response = post(quote_api, {**formats_example, "markets": ["NOWHERE"]})
    assert response.json()["details"]["errors"] == [
        {
            "path": "markets[0]",
            "code": "unknown_market",
            "message": "market 'NOWHERE' is not in the pricing file",
        }
    ]
    response = post(quote_api, {**formats_example, "lobs": "medicaid"})
    assert response.status_code == 400 and response.json()["details"]["errors"][0]["path"] == "lobs"


def _no_constant(name):
    raise AssertionError(f"{name} in a response")


_weird = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["NaN", "-inf", "1e999999", "-0", "0", "1e-999999", "", "  3 "]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
_PATHS = [
    ("assumptions", "productivity"),
    ("assumptions", "benefits_load"),
    ("assumptions", "admin_load"),
    ("assumptions", "margin"),
    ("assumptions", "annual_trend"),
    ("assumptions", "base_period_midpoint"),
    ("assumptions", "markets", 0, "travel_minutes_per_visit"),
    ("assumptions", "salaries", "np", "default"),
    ("assumptions", "ranges", "productivity"),
    ("assumptions", "full_credibility_member_months"),
    ("bundle", "home_share"),
    ("bundle", "roles", 0, "by_tier", "1", "visits_per_mm"),
    ("bundle", "tiers"),
    ("experience", "by_tier", "1", "cost"),
    ("assumptions", "disenrollment"),
    ("bundle", "period"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.sampled_from(_PATHS), _weird), min_size=1, max_size=4))
def test_any_mangled_file_gives_200_or_400_never_500_or_nan(quote_api, formats_example, changes):
    document = copy.deepcopy(formats_example)
    for path, value in changes:
        target = document
        for key in path[:-1]:
            target = (
                target[key]
                if isinstance(target, dict) or (isinstance(target, list) and key < len(target))
                else {}
            )
            if not isinstance(target, dict | list):
                break
        else:
            if isinstance(target, dict):
                target[path[-1]] = value
    response = quote_api.post(URL, json.dumps(document), content_type="application/json")
    assert response.status_code in (200, 400), response.content[:500]
    json.loads(response.content, parse_constant=_no_constant)  # no NaN or Infinity literal anywhere
    if response.status_code == 200:
        assert all(r["pmpm"].replace(".", "").isdigit() for r in response.json()["rates"])
