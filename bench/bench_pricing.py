"""Pricing engine benchmark: quote latency and Monte Carlo throughput.

Run it on its own (`python bench/bench_pricing.py`) or import `run()` from the `make bench`
aggregator. Figures:

- pricing.quote_20x2_median_ms / _p95_ms: `quote()` of a 3-tier bundle with 7 roles in 20
  markets x 2 LOBs, with ranges on 4 assumptions and experience on 2 tiers (the stateless quote
  endpoint's worst realistic case); target < 50 ms, 50 runs after a warm-up.
- pricing.quote_3x20x2_median_ms: the same median held to issue 17's bound (pricing an actuary can
  negotiate with: a quote of 3 tiers x 20 markets x 2 LOBs in the engine); target < 10 ms.
- pricing.montecarlo_100k_s: 100,000 contract years of ~300 enrollees (500 referrals, 60%
  conversion); target < 5 s. Its floor, pricing.montecarlo_100k_draws_only_s, is the time numpy
  takes to draw the same random variates and nothing else; the ratio's target is <= 3x.
- pricing.quote_api_20x2_median_ms / _p95_ms: the same quote through `POST /api/v1/pricing/quote/`
  with the Django test client (token authentication, tenancy scope, JSON parsing and rendering
  included): the server time an API client waits for; target < 50 ms.
- pricing.experience_upload_1m_s / _peak_mb: an experience CSV of 1,000,000 member-month rows
  stored, validated row by row and summarised by the upload service; targets < 20 s and < 500 MB
  peak resident memory (of the whole process: Django, numpy and all).
- pricing.what_if_requote_server_ms (issue 17): the what-if re-quote through the page,
  `GET /pricing/runs/<id>/what-if/quote/` with four levers moved (conversion rate, productivity,
  wages, enrollment) for a succeeded run of a 3-tier bundle in 20 markets x 2 LOBs priced with
  the platform's default assumption set, with the Django test client logged in as an analyst of the
  plan (sessions, tenancy scope, the form, the engine's quote and budgets, the side-by-side and the
  template included): the median server time of 30 after a warm-up; target < 100 ms. Its p95 and
  median CPU time are reported beside it.
- pricing.sensitivity_12x5_20k_s (issue 17): the tornado of one rate cell of that run
  (`pricing.compute.sensitivity_result`, pure): every ranged assumption at 5 points across its range,
  the cell priced again and 20,000 contract years simulated at each; target < 60 s. The issue asks for
  12 assumptions; the engine's schema lets only the 10 of `RANGEABLE` carry a range, so every one of
  them is ranged and pricing.sensitivity_assumptions says how many there were;
  pricing.sensitivity_points is the number of points computed (each assumption's 5, and the run's own
  assumptions once).

The Django figures run in subprocesses (`--child quote-api`, `--child experience-1m`,
`--child what-if`, `--child sensitivity`) on a throwaway SQLite database, so that each peak memory is
that figure's alone.
"""

from __future__ import annotations

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from pricing.engine import (  # noqa: E402
    contract_year_model,
    draw_contract_year_variates,
    parse_pricing_file,
    quote,
    simulate_contract_years,
)

ROLES = {  # role: (visit minutes, salary, {tier: (visits_per_mm, coordination_minutes_per_mm)})
    "physician": (45, 260000, {"1": (0.1, 5), "2": (0.25, 10), "3": (0.5, 20)}),
    "np": (60, 126260, {"1": (0.5, 15), "2": (1.0, 30), "3": (2.0, 60)}),
    "rn": (50, 86070, {"1": (0.5, 30), "2": (1.0, 45), "3": (2.0, 90)}),
    "lcsw": (60, 67880, {"1": (0.25, 15), "2": (0.5, 30), "3": (1.0, 45)}),
    "chaplain": (45, 60820, {"2": (0.25, 10), "3": (0.5, 20)}),
    "chw": (40, 51850, {"1": (0.5, 30), "2": (1.0, 45), "3": (1.5, 60)}),
    "hha": (60, 36000, {"3": (2.0, 0)}),
}


def bench_pricing_file(n_markets: int = 20) -> dict[str, Any]:
    """A realistic worst case for the quote endpoint: 3 tiers, 7 roles, n markets, 4 ranges."""
    markets = [
        {"code": f"M{i:02d}", "travel_minutes_per_visit": 15 + 3 * i, "miles_per_visit": 5 + 2 * i}
        for i in range(n_markets)
    ]
    return {
        "format": "carebundle.pricing/1",
        "bundle": {
            "name": "Bench bundle",
            "period": {"type": "monthly"},
            "tiers": [
                {"code": "1", "name": "Stable"},
                {"code": "2", "name": "Moderate"},
                {"code": "3", "name": "High"},
            ],
            "home_share": "0.8",
            "roles": [
                {
                    "role": role,
                    "visit_minutes": minutes,
                    "by_tier": {
                        t: {"visits_per_mm": v, "coordination_minutes_per_mm": c}
                        for t, (v, c) in tiers.items()
                    },
                }
                for role, (minutes, _, tiers) in ROLES.items()
            ],
            "assessment": {
                "roles": [{"role": "np", "minutes": 90}, {"role": "lcsw", "minutes": 60}],
                "home": True,
            },
        },
        "assumptions": {
            "salaries": {
                role: {
                    "default": salary,
                    "markets": {m["code"]: salary * 0.95 for m in markets[n_markets // 2 :]},
                }
                for role, (_, salary, _) in ROLES.items()
            },
            "benefits_load": "0.28",
            "productivity": "0.75",
            "admin_load": "0.12",
            "margin": "0.03",
            "annual_trend": "0.035",
            "base_period_midpoint": "2025-07-01",
            "rating_period_midpoint": "2027-01-15",
            "markets": markets,
            "mileage_rate": "0.70",
            "supplies_pmpm": 15,
            "on_call_pmpm": 40,
            "technology_pmpm": 8,
            "full_credibility_member_months": 12000,
            "ranges": {
                "productivity": ["0.70", "0.80"],
                "benefits_load": ["0.25", "0.30"],
                "annual_trend": ["0.03", "0.045"],
                "full_credibility_member_months": [10000, 15000],
            },
            "lob_factors": {"medicaid": 1, "dsnp": "1.08"},
        },
        "experience": {
            "by_tier": {
                "1": {"member_months": 3000, "cost": 810000},
                "2": {"member_months": 1500, "cost": 600000},
            }
        },
    }


def _quote_figures(runs: int = 50) -> list[dict[str, Any]]:
    data = bench_pricing_file()
    quote(data, lobs=["medicaid", "dsnp"])  # warm-up: imports, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = quote(data, lobs=["medicaid", "dsnp"])
        times.append((time.perf_counter() - start) * 1000)
    assert len(result["rates"]) == 3 * 20 * 2
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return [
        {
            "name": "pricing.quote_20x2_median_ms",
            "value": statistics.median(times),
            "unit": "ms",
            "target": "< 50",
            "floor": None,
        },
        {"name": "pricing.quote_20x2_p95_ms", "value": p95, "unit": "ms", "target": "< 50", "floor": None},
        # issue 17's bound on the same measurement: a quote an actuary can negotiate with, slider by slider
        {
            "name": "pricing.quote_3x20x2_median_ms",
            "value": statistics.median(times),
            "unit": "ms",
            "target": "< 10",
            "floor": None,
        },
    ]


def _montecarlo_figures(n_years: int = 100_000, seed: int = 20260101) -> list[dict[str, Any]]:
    model = contract_year_model(
        parse_pricing_file(bench_pricing_file(n_markets=1)),
        market="M00",
        referrals_per_year=500,  # x 0.6 conversion = ~300 enrollees a year
        tier_mix={"1": 0.5, "2": 0.35, "3": 0.15},
    )
    start = time.perf_counter()
    draw_contract_year_variates(model, n_years=n_years, seed=seed)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    simulate_contract_years(model, n_years=n_years, seed=seed)
    elapsed = time.perf_counter() - start
    return [
        {"name": "pricing.montecarlo_100k_s", "value": elapsed, "unit": "s", "target": "< 5", "floor": floor},
        {
            "name": "pricing.montecarlo_100k_draws_only_s",
            "value": floor,
            "unit": "s",
            "target": None,
            "floor": None,
        },
        {
            "name": "pricing.montecarlo_100k_vs_draws_ratio",
            "value": elapsed / floor,
            "unit": "x",
            "target": "<= 3",
            "floor": None,
        },
    ]


def _percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _bench_analyst(Organization, Membership, Role, User):  # noqa: N803 - model classes
    plan, _ = Organization.objects.get_or_create(legal_name="Bench Health Plan", defaults={"kind": "payer"})
    user, _ = User.objects.get_or_create(username="bench-analyst")
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=plan, defaults={"role": Role.ANALYST}
    )
    return membership


def _child_quote_api(runs: int = 50) -> list[dict[str, Any]]:
    """In a subprocess with Django set up on a migrated throwaway database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from accounts.models import Membership, Organization, Role
    from accounts.services import token_create

    user = _bench_analyst(Organization, Membership, Role, get_user_model()).user
    key, _ = token_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    body = {**bench_pricing_file(), "lobs": ["medicaid", "dsnp"]}
    for _ in range(3):  # warm-up: imports, caches, the first connection
        assert client.post("/api/v1/pricing/quote/", body, format="json").status_code == 200
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.post("/api/v1/pricing/quote/", body, format="json")
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    assert response.status_code == 200 and len(response.json()["rates"]) == 3 * 20 * 2
    median, p95 = _percentiles(times)
    return [
        {
            "name": "pricing.quote_api_20x2_median_ms",
            "value": median,
            "unit": "ms",
            "target": "< 50",
            "floor": None,
        },
        {"name": "pricing.quote_api_20x2_p95_ms", "value": p95, "unit": "ms", "target": None, "floor": None},
        # the process's own CPU time per request: what the wall time is on an otherwise idle machine
        {
            "name": "pricing.quote_api_20x2_median_cpu_ms",
            "value": statistics.median(cpu),
            "unit": "ms",
            "target": None,
            "floor": None,
        },
    ]


def write_experience_csv(path: str, rows: int, seed: int = 20250101) -> None:
    """Member-month rows over 24 months and 3 tiers, like a program's claims extract."""
    rnd = random.Random(seed)
    tier_cost = {"1": 470.0, "2": 820.0, "3": 1380.0}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("member_id,month,tier,member_months,cost\n")
        for i in range(rows):
            tier = "1" if i % 10 < 5 else "2" if i % 10 < 8 else "3"
            month = 2024 * 12 + (i % 24)
            cost = tier_cost[tier] * (0.5 + rnd.random())
            fh.write(f"M{i // 12:07d},{month // 12}-{month % 12 + 1:02d},{tier},1,{cost:.2f}\n")


def _child_experience_1m(rows: int = 1_000_000) -> list[dict[str, Any]]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from pricing.services import experience_upload

    scope = Scope(_bench_analyst(Organization, Membership, Role, get_user_model()))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "experience.csv")
        write_experience_csv(path, rows)
        with open(path, "rb") as fh:
            start = time.perf_counter()
            dataset = experience_upload(
                scope=scope, name="bench", file=File(fh, name="experience.csv"), run_inline=True
            )
            elapsed = time.perf_counter() - start
    assert dataset.is_valid and dataset.row_count == rows, dataset.errors[:3]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return [
        {
            "name": "pricing.experience_upload_1m_s",
            "value": elapsed,
            "unit": "s",
            "target": "< 20",
            "floor": None,
        },
        {
            "name": "pricing.experience_upload_1m_peak_mb",
            "value": peak_mb,
            "unit": "MB",
            "target": "< 500",
            "floor": None,
        },
    ]


WHAT_IF_LEVERS = {
    "conversion_rate": "0.55",
    "productivity": "0.72",
    "wage_change": "5",
    "enrollment_change": "50",
}
RUN_LOBS = ["medicaid", "medicare_advantage"]
SENSITIVITY_YEARS = 20_000


def _bench_succeeded_run(label: str, n_markets: int = 20):
    """A succeeded pricing run of the plan's home-based 3-tier bundle in n markets x 2 LOBs, priced with
    the platform's default assumption set (its ranges included), computed inline: (the analyst's
    membership, the run). ``label`` and a stamp tell each child's bundle and assumption set apart, so that
    a child run again by hand on the same database makes its own."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from bundles import services as bundle_services
    from bundles.catalogue import ensure_platform_roles
    from bundles.demo import home_based_definition
    from bundles.models import IdtRole, Market
    from pricing import services

    label = f"{label} {time.time_ns()}"
    ensure_platform_roles(IdtRole)
    membership = _bench_analyst(Organization, Membership, Role, get_user_model())
    scope = Scope(Membership.objects.select_related("organization", "user").get(pk=membership.pk))
    codes = [f"M{i:02d}" for i in range(n_markets)]
    for i, code in enumerate(codes):  # as bench_pricing_file's markets
        Market.objects.get_or_create(
            organization=membership.organization,
            code=code,
            defaults={
                "name": f"Bench market {code}",
                "rural": i % 3 == 0,
                "travel_minutes_per_visit": 15 + 3 * i,
                "miles_per_visit": 5 + 2 * i,
            },
        )
    definition = home_based_definition()
    definition["name"] = f"Bench home-based palliative care ({label})"
    definition["markets"] = codes
    bundle = bundle_services.bundle_create(scope=scope, definition=definition)
    bundle_version = bundle_services.draft_publish(scope=scope, bundle=bundle)
    assumption_set = services.assumption_set_create(scope=scope, name=f"Bench defaults ({label})")
    assumption_version = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    started = services.pricing_run_start(
        scope=scope,
        bundle_version=bundle_version,
        assumption_set_version=assumption_version,
        markets=codes,
        lobs=RUN_LOBS,
        enqueue=False,
    )
    run = services.pricing_run_execute(run_id=started.pk)
    assert run is not None and run.succeeded, (run and run.status, run and run.error)
    return membership, run


def _child_what_if(runs: int = 30) -> list[dict[str, Any]]:
    """The page's what-if re-quote (htmx partial) of a succeeded 3 x 20 x 2 run, as its analyst."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.test import Client

    membership, run = _bench_succeeded_run("what-if")
    client = Client()
    client.force_login(membership.user)
    url = f"/pricing/runs/{run.public_id}/what-if/quote/"
    for _ in range(3):  # warm-up: imports, template loading, the first connection
        assert client.get(url, WHAT_IF_LEVERS).status_code == 200
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, WHAT_IF_LEVERS)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="what-if-result"' in page, page[:500]
    assert page.count('<th scope="row" class="nowrap">Tier ') == 3 * 20 * 2  # every rate cell re-quoted
    median, p95 = _percentiles(times)
    return [
        {
            "name": "pricing.what_if_requote_server_ms",
            "value": median,
            "unit": "ms",
            "target": "< 100",
            "floor": None,
        },
        {
            "name": "pricing.what_if_requote_server_p95_ms",
            "value": p95,
            "unit": "ms",
            "target": None,
            "floor": None,
        },
        # the process's own CPU time per request: what the wall time is on an otherwise idle machine
        {
            "name": "pricing.what_if_requote_server_median_cpu_ms",
            "value": statistics.median(cpu),
            "unit": "ms",
            "target": None,
            "floor": None,
        },
    ]


def _child_sensitivity(n_years: int = SENSITIVITY_YEARS) -> list[dict[str, Any]]:
    """One rate cell's sensitivity over every assumption the schema lets carry a range, 5 points each."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from pricing.compute import sensitivity_result
    from pricing.defaults import SCALARS
    from pricing.engine.schema import RANGEABLE

    _, run = _bench_succeeded_run("sensitivity")
    inputs = json.loads(json.dumps(run.inputs))  # a copy: the run's own stays as stored
    assumptions = inputs["pricing_file"]["assumptions"]
    ranges = assumptions.setdefault("ranges", {})
    defaults = {d.key: d for d in SCALARS}
    for key in RANGEABLE:  # whatever the default set leaves unranged, ranged as its default says
        if key not in ranges and key in defaults and defaults[key].low is not None:
            ranges[key] = [defaults[key].low, defaults[key].high]
    computed = []

    def on_progress(done: int, total: int, message: str) -> None:
        computed.append(done)

    cell = {"tier": "3", "market": inputs["markets"][-1], "lob": inputs["lobs"][-1]}
    start = time.perf_counter()
    result = sensitivity_result(inputs, **cell, n_years=n_years, on_progress=on_progress)
    elapsed = time.perf_counter() - start
    assert result["n_years"] == n_years and len(result["assumptions"]) == len(ranges)
    return [
        {
            "name": "pricing.sensitivity_12x5_20k_s",
            "value": elapsed,
            "unit": "s",
            "target": "< 60",
            "floor": None,
        },
        {
            "name": "pricing.sensitivity_assumptions",
            "value": len(result["assumptions"]),
            "unit": "assumptions",
            "target": None,
            "floor": None,
        },
        {
            "name": "pricing.sensitivity_points",
            "value": len(computed),
            "unit": "points",
            "target": None,
            "floor": None,
        },
    ]


CHILDREN = {
    "quote-api": _child_quote_api,
    "experience-1m": _child_experience_1m,
    "what-if": _child_what_if,
    "sensitivity": _child_sensitivity,
}


def _django_figures() -> list[dict[str, Any]]:
    """The Django figures, each in its own process on a throwaway, migrated SQLite database."""
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as var:
        env = {**os.environ, "CAREBUNDLE_VAR_DIR": var, "DJANGO_SETTINGS_MODULE": "config.settings"}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        for child in CHILDREN:
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child", child],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            figures += json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def run() -> list[dict[str, Any]]:
    """Every figure as {name, value, unit, target, floor} for the bench aggregator."""
    return _quote_figures() + _montecarlo_figures() + _django_figures()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]]()))
        return
    for figure in run():
        places = 1 if figure["unit"] in ("ms", "MB") else 2
        target = f" (target {figure['target']})" if figure["target"] else ""
        floor = (
            f" [floor {figure['floor']:.{places}f} {figure['unit']}]" if figure["floor"] is not None else ""
        )
        print(f"{figure['name']} {figure['value']:.{places}f}{target}{floor}")


if __name__ == "__main__":
    main()
