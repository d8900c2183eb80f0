"""Small numbers on the provider's side: the pure rule at its edges, and the provider's API, page and
report against the plan's, which shows every count."""

from __future__ import annotations

from decimal import Decimal

import pytest

from performance.suppression import is_small, suppress_small_counts

from .conftest import cohort_utilization, scope_of, utilization_csv


def performance(numerator="4", denominator="12", actual=3, baseline_events=None) -> dict:
    return {
        "measures": [
            {
                "code": "ed",
                "numerator": numerator,
                "denominator": denominator,
                "rate": "250",
                "ci_low": "1",
                "ci_high": "2",
                "met": True,
            },
            {
                "code": "big",
                "numerator": "0",
                "denominator": "120",
                "rate": "0",
                "ci_low": "0",
                "ci_high": "1",
                "met": True,
            },
        ],
        "avoided_events": {
            "events": [
                {"kind": "ed_visit", "actual": actual, "avoided": "2.5", "value": "3625.00"},
                {"kind": "readmission", "actual": 0, "avoided": "0.5", "value": "7600.00"},
            ],
            "total": "11225.00",
        },
        "baseline": {
            "events": baseline_events if baseline_events is not None else {"ed_visit": 12, "icu_admission": 0}
        },
    }


@pytest.mark.parametrize(
    ("value", "small"),
    [
        (0, False),
        (1, True),
        (10, True),
        (11, False),
        ("10.000000", True),
        ("10.5", False),
        (None, False),
        ("n/a", False),
    ],
)
def test_a_small_count_is_1_to_the_limit(value, small):
    assert is_small(value, 10) is small


def test_small_counts_and_what_gives_them_back_are_hidden():
    out = suppress_small_counts(performance(baseline_events={"ed_visit": 10, "icu_admission": 0}), 10)
    ed, big = out["measures"]
    assert (
        ed["suppressed"]
        and [ed[k] for k in ("numerator", "denominator", "rate", "ci_low", "ci_high")] == [None] * 5
    )
    assert ed["met"] is True  # whether it was met decides money: kept
    assert not big["suppressed"] and big["numerator"] == "0"
    seen, readmission = out["avoided_events"]["events"]
    assert seen["suppressed"] and (seen["actual"], seen["avoided"], seen["value"]) == (None, None, None)
    assert not readmission["suppressed"] and readmission["value"] == "7600.00"
    assert out["avoided_events"]["total"] is None  # it would give the hidden value back
    assert out["baseline"]["events"] == {"ed_visit": None, "icu_admission": 0}
    assert out["suppression"] == {"limit": 10, "applied": True}


def test_a_large_denominator_with_a_small_numerator_still_hides_the_rate():
    assert (
        suppress_small_counts(performance(numerator="1", denominator="400"), 10)["measures"][0]["rate"]
        is None
    )
    assert suppress_small_counts(performance(numerator="11", denominator="11", actual=11), 10)[
        "suppression"
    ] == {
        "limit": 10,
        "applied": False,
    }


def test_the_limit_is_a_setting_and_zero_shows_everything():
    source = performance(numerator="4")
    assert suppress_small_counts(source, 3)["measures"][0]["numerator"] == "4"
    assert suppress_small_counts(source, 4)["measures"][0]["numerator"] is None
    shown = suppress_small_counts(source, 0)
    assert shown["measures"][0]["numerator"] == "4" and shown["suppression"] is None
    assert source["measures"][0]["numerator"] == "4"  # the input is left as it was


@pytest.mark.django_db
def test_the_provider_reads_hidden_counts_where_the_plan_reads_them_all(
    cohort, plan, plan_analyst, analyst_api, provider_api, provider_admin, client, settings
):
    from performance import services

    services.utilization_upload(
        scope=scope_of(plan_analyst, plan),
        data=utilization_csv(cohort_utilization()),
        filename="u.csv",
        run_inline=True,
    )
    path = f"/api/v1/performance/contracts/{cohort.number}/?period=2026-Q1"
    plan_view = analyst_api.get(path).json()
    assert plan_view["suppression"] is None
    ed = next(m for m in plan_view["measures"] if m["code"] == "ed_visits_per_1000")
    assert Decimal(ed["numerator"]) == 3  # 3 ED visits in 12 member-months: a small count
    provider_view = provider_api.get(path).json()
    hidden = next(m for m in provider_view["measures"] if m["code"] == "ed_visits_per_1000")
    assert hidden["suppressed"] and hidden["numerator"] is None and hidden["rate"] is None
    assert hidden["met"] == ed["met"]
    assert provider_view["suppression"] == {"limit": 10, "applied": True}
    assert provider_view["withhold"] == plan_view["withhold"]  # money is never hidden
    client.force_login(provider_admin)
    page = client.get(f"/performance/contracts/{cohort.number}/?period=2026-Q1").content.decode()
    assert 'data-testid="suppression"' in page and "shown as “1–10”" in page
    settings.SMALL_COUNT_SUPPRESSION = 0
    assert provider_api.get(path).json()["measures"] == plan_view["measures"]
