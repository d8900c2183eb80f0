"""Pricing engine benchmark: quote latency and Monte Carlo throughput.

Run it on its own (`python bench/bench_pricing.py`) or import `run()` from the `make bench`
aggregator. Figures:

- pricing.quote_20x2_median_ms / _p95_ms: `quote()` of a 3-tier bundle with 7 roles in 20
  markets x 2 LOBs, with ranges on 4 assumptions and experience on 2 tiers (the stateless quote
  endpoint's worst realistic case); target < 50 ms, 50 runs after a warm-up.
- pricing.montecarlo_100k_s: 100,000 contract years of ~300 enrollees (500 referrals, 60%
  conversion); target < 5 s. Its floor, pricing.montecarlo_100k_draws_only_s, is the time numpy
  takes to draw the same random variates and nothing else; the ratio's target is <= 3x.
- pricing.quote_api_20x2_median_ms / _p95_ms: the same quote through `POST /api/v1/pricing/quote/`
  with the Django test client (token authentication, tenancy scope, JSON parsing and rendering
  included): the server time an API client waits for; target < 50 ms.
- pricing.experience_upload_1m_s / _peak_mb: an experience CSV of 1,000,000 member-month rows
  stored, validated row by row and summarised by the upload service; targets < 20 s and < 500 MB
  peak resident memory (of the whole process: Django, numpy and all).

The Django figures run in subprocesses (`--child quote-api`, `--child experience-1m`) on a
throwaway SQLite database, so that each peak memory is that figure's alone.
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


CHILDREN = {"quote-api": _child_quote_api, "experience-1m": _child_experience_1m}


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
