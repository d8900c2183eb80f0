"""Performance benchmarks: utilisation loaded and every measure computed, and one performance page.

Figures (``run()`` returns them as dicts: name, value, unit, target, floor):

- ``performance.load_and_measure_1m_s``: a 1,000,000-row utilisation CSV validated and stored
  through the upload service, then every measure, the composite, shared savings and avoided
  events computed for 50 contracts (SQL aggregation), target < 60 s; its parts are reported too
  (``performance.load_1m_s``, ``performance.measure_50_contracts_s``);
- ``performance.page_3y_ms``: a contract's performance page with 3 years of monthly data (year
  period, charts, drill-down links) rendered by the view, median server time of 5, target < 300 ms;
- the **floor** beside the load: reading and validating the CSV alone (no database).

Setup (not timed): 50 contracts through the contracts services, and their enrollment
(``RosterSubmission`` / ``MemberMonth`` rows, bulk-inserted: 556 members per contract over 36
months, enrolling at staggered months so that every member has a pre-enrollment baseline).
PostgreSQL is what production runs: point ``DATABASE_URL`` at it (the bench makes and drops its own
``test_<name>`` database). Without it the bench times on a throwaway SQLite database.

Run ``python bench/bench_performance.py`` or ``make bench``; ``--rows N`` for a smaller run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROWS = 1_000_000
CONTRACTS = 50
MONTHS = 36
FIRST_MONTH = dt.date(2025, 1, 1)
LOAD_AND_MEASURE_TARGET_S = 60.0
PAGE_TARGET_MS = 300.0


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _month(k: int) -> dt.date:
    from core.domain.months import shift_month

    return shift_month(FIRST_MONTH, k)


def _world(members_per_contract: int):
    """A plan, its analyst, 50 providers with an active contract each, and their member-months."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Organization, OrganizationKind, Role
    from accounts.tenancy import Scope
    from bundles import services as bundle_services
    from bundles.catalogue import ensure_platform_roles
    from bundles.demo import MARKETS, home_based_definition
    from bundles.models import IdtRole, Market
    from contracts import services as contract_services
    from enrollment.models import MemberMonth, RosterSubmission

    stamp = f"{time.time_ns()}"
    User = get_user_model()
    plan = Organization.objects.create(
        kind=OrganizationKind.PAYER, legal_name=f"Bench Plan {stamp}", lines_of_business=["medicaid"]
    )

    def member(org, role):
        user = User.objects.create(username=f"bench-{role}-{org.pk}-{stamp}")
        return Scope(Membership.objects.create(user=user, organization=org, role=role))

    analyst, manager = member(plan, Role.ANALYST), member(plan, Role.CONTRACT_MANAGER)
    for code, name, rural, minutes, miles in MARKETS:
        Market.objects.create(
            organization=plan,
            code=code,
            name=name,
            rural=rural,
            travel_minutes_per_visit=minutes,
            miles_per_visit=miles,
        )
    ensure_platform_roles(IdtRole)
    bundle = bundle_services.bundle_create(scope=analyst, definition=home_based_definition())
    version = bundle_services.draft_publish(scope=analyst, bundle=bundle)
    quality = [
        {"measure": "ed_visits_per_1000", "target": "150", "weight": "0.25", "minimum_denominator": 100},
        {
            "measure": "inpatient_admissions_per_1000",
            "target": "80",
            "weight": "0.15",
            "minimum_denominator": 100,
        },
        {"measure": "readmission_30d_rate", "target": "0.15", "weight": "0.15", "minimum_denominator": 30},
        {"measure": "death_at_home_rate", "target": "0.6", "weight": "0.15", "minimum_denominator": 15},
        {"measure": "acp_within_60d_rate", "target": "0.8", "weight": "0.15", "minimum_denominator": 20},
        {"measure": "satisfaction_score", "target": "85", "weight": "0.15", "minimum_denominator": 30},
    ]
    contracts = []
    for n in range(CONTRACTS):
        provider = Organization.objects.create(
            kind=OrganizationKind.PROVIDER, legal_name=f"Bench Program {n} {stamp}"
        )
        provider_admin = member(provider, Role.ADMIN)
        contract = contract_services.contract_create(
            scope=manager,
            provider=provider,
            bundle_version=version,
            terms={
                "effective_start": FIRST_MONTH,
                "effective_end": None,
                "markets": ["URBAN"],
                "lines_of_business": ["medicaid"],
                "proration_rule": "any_day",
                "tier_rule": "first_day",
                "withhold_percentage": Decimal("0.05"),
                "quality_terms": quality,
                "shared_savings_terms": {
                    "baseline_method": "pre_enrollment",
                    "minimum_savings_rate": "0.02",
                    "sharing_rate": "0.5",
                    "cap": "0.1",
                    "quality_gate": "0.5",
                },
            },
            rates=[
                {"tier": t, "market": "URBAN", "lob": "medicaid", "pmpm": "400.00", "reason": "bench"}
                for t in ("1", "2", "3")
            ],
            assessment_fees={"URBAN": "350.00"},
        )
        contract_services.contract_propose(scope=manager, contract=contract)
        contract_services.contract_accept(scope=manager, contract=contract)
        contract_services.contract_accept(scope=provider_admin, contract=contract)
        contract.refresh_from_db()
        contracts.append(contract)
        submissions = RosterSubmission.objects.bulk_create(
            [
                RosterSubmission(
                    contract=contract,
                    month=_month(k),
                    version=1,
                    status="accepted",
                    is_current=True,
                    file="bench/roster.csv",
                    original_filename="roster.csv",
                    file_sha256="0" * 64,
                )
                for k in range(MONTHS)
            ]
        )
        rows = []
        for i in range(members_per_contract):
            start = i % 12  # staggered enrollment: months before it are the member's baseline
            for k in range(start, MONTHS):
                rows.append(
                    MemberMonth(
                        submission=submissions[k],
                        contract=contract,
                        month=_month(k),
                        member_id=f"B{n:02d}{i:05d}",
                        tier="1",
                        market="URBAN",
                        lob="medicaid",
                        member_months=Decimal(1),
                        days_enrolled=28,
                    )
                )
        MemberMonth.objects.bulk_create(rows, batch_size=10000)
    return plan, analyst, contracts


def _write_csv(path: str, members_per_contract: int, rows: int) -> int:
    from performance.ingest import COLUMNS

    rnd = random.Random(7)
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        for n in range(CONTRACTS):
            for i in range(members_per_contract):
                start = i % 12
                for k in range(MONTHS):
                    if written >= rows:
                        return written
                    enrolled = k >= start
                    inpatient = 1 if rnd.random() < (0.05 if enrolled else 0.15) else 0
                    acp = _month(start) + dt.timedelta(days=20) if k == start and rnd.random() < 0.85 else ""
                    death = ""
                    if k == MONTHS - 1 and i % 40 == 0:
                        death = f"{_month(k) + dt.timedelta(days=9)},{'home' if i % 80 == 0 else 'hospital'}"
                    fh.write(
                        f"B{n:02d}{i:05d},{_month(k)},{1 if rnd.random() < (0.1 if enrolled else 0.4) else 0},"
                        f"{inpatient},0,{inpatient},{1 if inpatient and rnd.random() < 0.2 else 0},"
                        f"{rnd.randint(2500, 5000)}.{rnd.randint(0, 99):02d},{acp},"
                        f"{rnd.randint(70, 100) if enrolled and rnd.random() < 0.3 else ''},"
                        f"{death if death else ','}\n"
                    )
                    written += 1
    return written


def _child(rows: int) -> None:
    _setup_django()
    from django.db import connection
    from django.test import Client

    from core.domain.months import parse_period
    from performance import selectors, services
    from performance.ingest import read_utilization

    members = -(-rows // (CONTRACTS * MONTHS))
    _plan, analyst, contracts = _world(members)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "utilization.csv")
        written = _write_csv(path, members, rows)
        data = Path(path).read_bytes()
    start = time.perf_counter()
    floor_result = read_utilization(data, "utilization.csv")
    floor = time.perf_counter() - start
    assert not floor_result.errors, floor_result.errors[:3]
    del floor_result
    start = time.perf_counter()
    upload = services.utilization_upload(
        scope=analyst, data=data, filename="utilization.csv", run_inline=True
    )
    load = time.perf_counter() - start
    assert upload.status == "accepted" and upload.row_count == written, (upload.status, upload.errors[:3])
    start = time.perf_counter()
    composites = []
    for contract in contracts:
        period = parse_period("2026", contract_start=FIRST_MONTH)
        result = selectors.compute_performance(contract, period, series=False)
        composites.append(result["composite_score"])
    measure = time.perf_counter() - start
    # The page: a contract with 3 years of monthly data, year period, rendered by the view.
    client = Client()
    client.force_login(analyst.user)
    url = f"/performance/contracts/{contracts[0].number}/?period=2027"
    assert client.get(url).status_code == 200  # warm-up (templates, imports)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    print(
        json.dumps(
            {
                "load": load,
                "floor": floor,
                "measure": measure,
                "page_ms": statistics.median(times),
                "rows": written,
                "vendor": connection.vendor,
                "scored": sum(c is not None for c in composites),
            }
        )
    )


class _Database:
    """A database of the bench's own: PostgreSQL ``test_<name>`` (made and dropped) or a temp SQLite."""

    def __init__(self, script: str = __file__) -> None:
        self.script = script  # the module whose ``--child`` runs in it
        self.url = os.environ.get("DATABASE_URL", "")
        self.postgres = _is_postgres(self.url)
        self.tmp = tempfile.TemporaryDirectory(prefix="carebundle-bench-perf-")
        self.env = dict(
            os.environ,
            CAREBUNDLE_VAR_DIR=self.tmp.name,
            MEDIA_ROOT=os.path.join(self.tmp.name, "media"),
            DJANGO_SETTINGS_MODULE="config.settings",
            DB_CONN_MAX_AGE="0",
        )
        if not self.postgres:
            self.env.pop("DATABASE_URL", None)

    def __enter__(self) -> _Database:
        if self.postgres:
            os.environ["CAREBUNDLE_VAR_DIR"] = self.tmp.name
            _setup_django()
            from django.db import connection

            self.creation = connection.creation
            self.old_name = connection.settings_dict["NAME"]
            name = self.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            self.env["DATABASE_URL"] = self.url.rsplit("/", 1)[0] + "/" + name
        else:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env, check=True
            )
        return self

    def __exit__(self, *exc) -> None:
        if self.postgres:
            self.creation.destroy_test_db(self.old_name, verbosity=0)
        self.tmp.cleanup()

    def child(self, *args: str) -> dict:
        out = subprocess.run(
            [sys.executable, str(Path(self.script).resolve()), *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def run(rows: int = ROWS) -> list[dict]:
    with _Database() as db:
        result = db.child("--child", str(rows))
    label = f"{rows // 1_000_000}m" if rows >= 1_000_000 else f"{rows // 1000}k"
    note = f"{result['vendor']}; {result['rows']} rows; {result['scored']}/{CONTRACTS} contracts scored"
    return [
        {
            "name": f"performance.load_and_measure_{label}_s",
            "value": round(result["load"] + result["measure"], 2),
            "unit": "s",
            "target": LOAD_AND_MEASURE_TARGET_S,
            "note": note,
        },
        {
            "name": f"performance.load_{label}_s",
            "value": round(result["load"], 2),
            "unit": "s",
            "target": None,
            "floor": round(result["floor"], 2),
            "note": "floor = reading and validating the CSV alone",
        },
        {
            "name": "performance.measure_50_contracts_s",
            "value": round(result["measure"], 2),
            "unit": "s",
            "target": None,
        },
        {
            "name": "performance.page_3y_ms",
            "value": round(result["page_ms"], 1),
            "unit": "ms",
            "target": PAGE_TARGET_MS,
        },
    ]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
        return
    rows = int(sys.argv[2]) if len(sys.argv) == 3 and sys.argv[1] == "--rows" else ROWS
    for figure in run(rows):
        target = f" (target < {figure['target']:g})" if figure.get("target") else ""
        floor = f"  floor {figure['floor']} s" if figure.get("floor") is not None else ""
        print(f"{figure['name']} {figure['value']} {figure['unit']}{target}{floor}", flush=True)


if __name__ == "__main__":
    main()
