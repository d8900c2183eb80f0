"""Payment benchmarks: monthly runs on large contracts and the statement PDF.

Run ``python bench/bench_payments.py``; prints one line per figure. :func:`run` returns the same
figures as dicts (name, value, unit, target, floor) for ``make bench``.

- ``payments.run_100k_mm_10k_assessments_5k_retro_s``: calculating a month (request + calculation,
  lines and details written) for a contract with 100,000 member-months, 10,000 initial assessments and
  5,000 members whose previous month's roster changed after it was paid (retroactive lines).
- ``payments.run_1m_mm_s``: a month of 1,000,000 member-months (median of three runs); its floor
  ``payments.sql_aggregate_1m_mm_s`` is one SQL aggregate (member-months per rate cell) over the same
  rows, and ``payments.run_1m_mm_vs_aggregate_x`` the ratio (target <= 3x).
- ``payments.statement_pdf_10k_members_s``: the statement PDF of a 10,000-member run (summary pages
  only); its floor is WeasyPrint rendering the same HTML alone.

Member-month and assessment rows are bulk-inserted straight into enrollment's tables (their services
would take minutes to set up a million rows); contracts go through the contracts services. Everything
runs in a child process on a throwaway, migrated SQLite database, so no developer data is touched.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ["URBAN", "URBAN-E", "RURAL-N", "RURAL-S"]
RATES = {"1": "285.00", "2": "465.00", "3": "720.00"}
JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


def _setup() -> dict[str, Any]:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from bundles import services as bundle_services
    from bundles.catalogue import ensure_platform_roles
    from bundles.demo import MARKETS as DEMO_MARKETS
    from bundles.demo import home_based_definition
    from bundles.models import IdtRole, Market

    ensure_platform_roles(IdtRole)
    plan, _ = Organization.objects.get_or_create(
        legal_name="Bench Health Plan", defaults={"kind": "payer", "tax_id": "941234567"}
    )
    for code, name, rural, minutes, miles in DEMO_MARKETS:
        Market.objects.get_or_create(
            organization=plan,
            code=code,
            defaults={
                "name": name,
                "rural": rural,
                "travel_minutes_per_visit": minutes,
                "miles_per_visit": miles,
            },
        )
    scopes = {}
    for role in (Role.ANALYST, Role.CONTRACT_MANAGER):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-pay-{role}")
        membership, _ = Membership.objects.get_or_create(
            user=user, organization=plan, defaults={"role": role}
        )
        scopes[role] = Scope(membership)
    bundle = bundle_services.bundle_create(scope=scopes[Role.ANALYST], definition=home_based_definition())
    version = bundle_services.draft_publish(scope=scopes[Role.ANALYST], bundle=bundle)
    return {
        "plan": plan,
        "analyst": scopes[Role.ANALYST],
        "cm": scopes[Role.CONTRACT_MANAGER],
        "version": version,
    }


def _contract(ctx: dict, name: str):
    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from contracts import services as contract_services

    provider, _ = Organization.objects.get_or_create(
        legal_name=name, defaults={"kind": "provider", "tax_id": "987654321"}
    )
    user, _ = (
        __import__("django.contrib.auth", fromlist=["get_user_model"])
        .get_user_model()
        .objects.get_or_create(username=f"bench-{provider.pk}")
    )
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=provider, defaults={"role": Role.ADMIN}
    )
    terms = {
        "effective_start": date(2025, 1, 1),
        "effective_end": None,
        "markets": MARKETS,
        "lines_of_business": ["medicaid"],
        "proration_rule": "daily",
        "tier_rule": "first_day",
        "assessment_lookback_months": 12,
        "retro_window_months": 3,
        "roster_due_day": 10,
        "withhold_percentage": Decimal("0.05"),
        "termination_notice_days": 90,
        "quality_terms": [
            {"measure": "hospice_transition_rate", "target": "0.45", "weight": "1", "minimum_denominator": 20}
        ],
    }
    contract = contract_services.contract_create(
        scope=ctx["cm"],
        provider=provider,
        bundle_version=ctx["version"],
        terms=terms,
        rates=[
            {"tier": t, "market": m, "lob": "medicaid", "pmpm": p, "reason": "Bench"}
            for t, p in RATES.items()
            for m in MARKETS
        ],
        assessment_fees={m: "342.00" for m in MARKETS},
    )
    contract_services.contract_propose(scope=ctx["cm"], contract=contract)
    contract_services.contract_accept(scope=ctx["cm"], contract=contract)
    contract_services.contract_accept(scope=Scope(membership), contract=contract)
    contract.refresh_from_db()
    return contract


def _roster(contract, month: date, members: int, *, version: int = 1, changed: int = 0, assessments: int = 0):
    """A current accepted roster version with ``members`` member-month rows (the first ``changed`` of them
    differ from version 1: a higher tier) and ``assessments`` initial assessments, inserted in bulk."""
    from django.db import connection, transaction

    from enrollment.models import Assessment, MemberMonth, RosterSubmission

    with transaction.atomic():
        RosterSubmission.objects.filter(contract=contract, month=month, is_current=True).update(
            is_current=False
        )
        submission = RosterSubmission.objects.create(
            contract=contract,
            month=month,
            version=version,
            status="accepted",
            is_current=True,
            file="",
            original_filename="bench.csv",
            file_sha256="0" * 64,
            member_count=members,
        )
        table = MemberMonth._meta.db_table
        statement = (
            f"INSERT INTO {table} (submission_id, contract_id, month, member_id, tier, market, lob, "  # noqa: S608
            "member_months, days_enrolled) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        days = 31 if month.month == 1 else 28
        batch = []
        with connection.cursor() as cursor:
            for i in range(members):
                tier = str(i % 3 + 1)
                if i < changed:
                    tier = "3" if tier != "3" else "2"
                enrolled = days if i % 7 else (i % days) + 1
                mm = (Decimal(enrolled) / days).quantize(Decimal("0.000001"))
                batch.append(
                    (
                        submission.pk,
                        contract.pk,
                        month.isoformat(),
                        f"M{i:07d}",
                        tier,
                        MARKETS[i % 4],
                        "medicaid",
                        str(mm),
                        enrolled,
                    )
                )
                if len(batch) == 20000:
                    cursor.executemany(statement, batch)
                    batch = []
            if batch:
                cursor.executemany(statement, batch)
        Assessment.objects.bulk_create(
            [
                Assessment(
                    submission=submission,
                    contract=contract,
                    row=i + 2,
                    member_id=f"A{i:07d}",
                    last_name="BENCH",
                    first_name="ANA",
                    birth_date=date(1940, 1, 1),
                    market=MARKETS[i % 4],
                    assessment_date=month.replace(day=i % 28 + 1),
                    outcome="enrolled",
                    assessor_role="np",
                    payable=i % 20 != 0,
                    reason="" if i % 20 else "second_in_lookback",
                )
                for i in range(assessments)
            ],
            batch_size=5000,
        )
    return submission


def _calculate(ctx, contract, month):
    from payments import services

    run, _ = services.payment_run_request(contract=contract, month=month, enqueue=False)
    return services.payment_run_calculate(run_id=run.pk)


def _child_runs() -> list[dict[str, Any]]:
    ctx = _setup()
    from django.db.models import Count, Sum

    from enrollment.selectors import payable_member_months
    from payments import services

    figures = []
    # 100,000 member-months, 10,000 assessments, 5,000 retroactive changes --------------------------
    contract = _contract(ctx, "Bench Program 100k")
    _roster(contract, JAN, 100_000)
    january = _calculate(ctx, contract, JAN)
    services.payment_run_approve(scope=ctx["analyst"], run=january)
    _roster(contract, JAN, 100_000, version=2, changed=5_000)
    _roster(contract, FEB, 100_000, assessments=10_000)
    started = time.perf_counter()
    run = _calculate(ctx, contract, FEB)
    elapsed = time.perf_counter() - started
    assert run.status == "review", run.error
    retro = run.lines.filter(kind="retro_adjustment").get()
    assert retro.count == 5_000, retro.count
    figures.append(
        {
            "name": "payments.run_100k_mm_10k_assessments_5k_retro_s",
            "value": round(elapsed, 2),
            "unit": "s",
            "target": "< 5",
            "floor": None,
        }
    )

    # 1,000,000 member-months, and one SQL aggregate over the same rows -------------------------------
    # Three runs of the month (each earlier one set aside as failed so that the next is a new run writing
    # its own million detail rows), each next to the aggregate; the medians are reported.
    from payments.models import PaymentRun

    big = _contract(ctx, "Bench Program 1M")
    _roster(big, JAN, 1_000_000)
    source = payable_member_months(contract=big, month=JAN)

    def aggregate() -> float:
        started = time.perf_counter()
        cells = list(
            source.order_by()
            .values("tier", "market", "lob")
            .annotate(n=Count("member_id"), mm=Sum("member_months"))
        )
        assert sum(c["n"] for c in cells) == 1_000_000
        return time.perf_counter() - started

    aggregate()  # warm the page cache for both
    runs, aggregates = [], []
    for _ in range(3):
        aggregates.append(aggregate())
        started = time.perf_counter()
        run = _calculate(ctx, big, JAN)
        runs.append(time.perf_counter() - started)
        assert run.status == "review" and run.member_count == 1_000_000, run.error
        PaymentRun.objects.filter(pk=run.pk).update(status="failed")
    elapsed, floor = statistics.median(runs), statistics.median(aggregates)
    figures += [
        {
            "name": "payments.run_1m_mm_s",
            "value": round(elapsed, 2),
            "unit": "s",
            "target": "< 30",
            "floor": round(floor, 2),
        },
        {
            "name": "payments.sql_aggregate_1m_mm_s",
            "value": round(floor, 2),
            "unit": "s",
            "target": None,
            "floor": None,
        },
        {
            "name": "payments.run_1m_mm_vs_aggregate_x",
            "value": round(elapsed / floor, 2),
            "unit": "x",
            "target": "<= 3",
            "floor": None,
        },
    ]
    return figures


def _child_pdf() -> list[dict[str, Any]]:
    ctx = _setup()
    from weasyprint import HTML

    from payments import services, statements

    contract = _contract(ctx, "Bench Program 10k")
    _roster(contract, JAN, 10_000, assessments=300)
    run = services.payment_run_approve(scope=ctx["analyst"], run=_calculate(ctx, contract, JAN))
    run.refresh_from_db()
    statements.render_pdf(run)  # warm-up: fonts, templates
    times, floors = [], []
    for _ in range(3):
        started = time.perf_counter()
        pdf = statements.render_pdf(run)
        times.append(time.perf_counter() - started)
        html = statements.render_html(run)
        started = time.perf_counter()
        HTML(string=html).write_pdf()
        floors.append(time.perf_counter() - started)
    assert pdf.startswith(b"%PDF")
    return [
        {
            "name": "payments.statement_pdf_10k_members_s",
            "value": round(statistics.median(times), 2),
            "unit": "s",
            "target": "< 3",
            "floor": round(statistics.median(floors), 2),
        }
    ]


CHILDREN = {"runs": _child_runs, "pdf": _child_pdf}


def run() -> list[dict[str, Any]]:
    """Every figure as {name, value, unit, target, floor} for the bench aggregator."""
    figures: list[dict[str, Any]] = []
    for child in CHILDREN:
        with tempfile.TemporaryDirectory() as var:
            env = {
                **os.environ,
                "CAREBUNDLE_VAR_DIR": var,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DEBUG": "1",
                "LOG_LEVEL": "WARNING",
            }
            for key in ("DATABASE_URL", "REDIS_URL"):
                env.pop(key, None)
            subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
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


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]]()))
        return
    for figure in run():
        target = f" (target {figure['target']})" if figure["target"] else ""
        floor = f" [floor {figure['floor']:.2f} s]" if figure["floor"] is not None else ""
        print(f"{figure['name']} {figure['value']:.2f} {figure['unit']}{target}{floor}", flush=True)


if __name__ == "__main__":
    main()
