"""Contract benchmarks: the rate sheet PDF and the zip of 200 rate sheets.

Run ``python bench/bench_contracts.py``; prints one line per figure, e.g.
``contracts.rate_sheet_pdf_3x20x2_s 0.52 (target < 1) [floor 0.50 s]``. :func:`run` returns the
same figures as dicts (name, value, unit, target, floor) for ``make bench``.

- ``contracts.rate_sheet_pdf_3x20x2_s``: the whole download path of a never-rendered rate sheet
  (3 tiers x 20 markets x 2 LOBs = 120 rates): read the version, build the HTML, WeasyPrint,
  store it. Median of 7 after a warm-up. Its floor, ``contracts.weasyprint_same_html_s``, is
  WeasyPrint rendering the same HTML alone (runs interleaved with the full path's); the
  ratio's target is <= 1.3x.
- ``contracts.zip_200_rate_sheets_one_worker_s``: from asking for the zip to the zip being ready,
  built by one real Celery worker process (``--pool=solo --concurrency=1``): 200 active contracts
  (3 tiers x 4 markets x 2 LOBs each), a PDF, an XLSX and a CSV each, none rendered before.

Everything runs in child processes on a throwaway, migrated SQLite database and the embedded
filesystem broker, so nothing of the developer's data is touched.
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
PDF_RUNS = 7
ZIP_CONTRACTS = 200
ZIP_MARKETS = 4


def _setup() -> dict[str, Any]:
    """A plan with 20 markets, a published 3-tier bundle on them, a contract manager and providers."""
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from bundles import services as bundle_services
    from bundles.catalogue import ensure_platform_roles
    from bundles.demo import home_based_definition
    from bundles.models import IdtRole, Market

    ensure_platform_roles(IdtRole)
    plan, _ = Organization.objects.get_or_create(legal_name="Bench Health Plan", defaults={"kind": "payer"})
    users = {}
    for role in (Role.ANALYST, Role.CONTRACT_MANAGER):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-{role}")
        Membership.objects.get_or_create(user=user, organization=plan, defaults={"role": role})
        users[role] = Scope(Membership.objects.select_related("organization", "user").get(user=user))
    codes = [f"C{i:02d}" for i in range(20)]
    for i, code in enumerate(codes):
        Market.objects.get_or_create(
            organization=plan, code=code, defaults={"name": f"County {code}", "rural": i % 3 == 0}
        )
    definition = home_based_definition()
    definition["name"] = "Bench home-based palliative care"
    definition["markets"] = codes
    bundle = bundle_services.bundle_create(scope=users[Role.ANALYST], definition=definition)
    version = bundle_services.draft_publish(scope=users[Role.ANALYST], bundle=bundle)
    return {"plan_scope": users[Role.CONTRACT_MANAGER], "bundle_version": version, "markets": codes}


def _active_contract(ctx: dict, provider_name: str, markets: list[str]):
    from accounts.models import Membership, Organization, Role
    from accounts.tenancy import Scope
    from contracts import services

    provider = Organization.objects.create(legal_name=provider_name, kind="provider")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create(username=f"admin-{provider.pk}")
    provider_scope = Scope(Membership.objects.create(user=user, organization=provider, role=Role.ADMIN))
    lobs = ["medicaid", "medicare_advantage"]
    rates = [
        {
            "tier": tier,
            "market": market,
            "lob": lob,
            "reason": "Bench rate",
            "pmpm": str(
                Decimal(300 + 250 * int(tier))
                + Decimal(i) * Decimal("7.31")
                + (15 if lob != "medicaid" else 0)
            ),
        }
        for lob in lobs
        for tier in ("1", "2", "3")
        for i, market in enumerate(markets)
    ]
    contract = services.contract_create(
        scope=ctx["plan_scope"],
        provider=provider,
        bundle_version=ctx["bundle_version"],
        terms={
            "effective_start": date(2026, 1, 1),
            "effective_end": date(2027, 1, 1),
            "markets": markets,
            "lines_of_business": lobs,
            "proration_rule": "any_day",
            "tier_rule": "first_day",
            "withhold_percentage": Decimal("0.05"),
            "quality_terms": [
                {
                    "measure": "ed_visits_per_1000",
                    "target": "85",
                    "weight": "0.5",
                    "minimum_denominator": 100,
                },
                {
                    "measure": "hospice_transition_rate",
                    "target": "0.45",
                    "weight": "0.5",
                    "minimum_denominator": 20,
                },
            ],
        },
        rates=rates,
        assessment_fees={m: "350.00" for m in markets},
    )
    services.contract_propose(scope=ctx["plan_scope"], contract=contract)
    services.contract_accept(scope=ctx["plan_scope"], contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    return contract


def _child_pdf() -> list[dict[str, Any]]:
    ctx = _setup()
    from contracts import ratesheets, selectors, services
    from contracts.models import ContractVersion, StoredRateSheet

    contract = _active_contract(ctx, "Bench Provider PDF", ctx["markets"])
    version = ContractVersion.objects.select_related(
        "contract__payer", "contract__provider", "bundle_version__bundle"
    ).get(pk=contract.current_version_id)
    assert version.rates.count() == 3 * 20 * 2
    services.rate_sheet(version=version, fmt="pdf")  # warm-up: fonts, imports, template loading
    document = selectors.version_document(version)
    document["fingerprint"] = version.fingerprint
    html = ratesheets.render_html(document)
    times, floors = [], []
    for _ in range(PDF_RUNS):  # interleaved, so that a busy machine weighs on both alike
        StoredRateSheet.objects.filter(version=version).delete()
        version = ContractVersion.objects.select_related(
            "contract__payer", "contract__provider", "bundle_version__bundle"
        ).get(pk=version.pk)
        start = time.perf_counter()
        content, _ = services.rate_sheet(version=version, fmt="pdf")
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        ratesheets.html_to_pdf(html)
        floors.append(time.perf_counter() - start)
    assert content.startswith(b"%PDF")
    total, floor = statistics.median(times), statistics.median(floors)
    return [
        {
            "name": "contracts.rate_sheet_pdf_3x20x2_s",
            "value": total,
            "unit": "s",
            "target": "< 1",
            "floor": floor,
        },
        {
            "name": "contracts.weasyprint_same_html_s",
            "value": floor,
            "unit": "s",
            "target": None,
            "floor": None,
        },
        {
            "name": "contracts.rate_sheet_pdf_vs_weasyprint_ratio",
            "value": total / floor,
            "unit": "x",
            "target": "<= 1.3",
            "floor": None,
        },
    ]


def _child_zip() -> list[dict[str, Any]]:
    ctx = _setup()
    from contracts import services
    from contracts.models import ExportStatus, RateSheetExport, StoredRateSheet

    markets = ctx["markets"]
    for i in range(ZIP_CONTRACTS):
        chosen = [markets[(i + k * 5) % len(markets)] for k in range(ZIP_MARKETS)]
        _active_contract(ctx, f"Bench Provider {i:03d}", chosen)
    assert not StoredRateSheet.objects.exists()
    env = {**os.environ, "DB_CONN_MAX_AGE": "0"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from core.tasks import echo

        echo.delay("ready").get(timeout=60)  # the worker is up before the clock starts
        start = time.perf_counter()
        export = services.rate_sheet_export_start(scope=ctx["plan_scope"])
        while True:
            export.refresh_from_db(fields=["status", "done", "total"])
            if export.status in (ExportStatus.DONE, ExportStatus.FAILED):
                break
            if time.perf_counter() - start > 900:
                raise TimeoutError("the zip took more than 15 minutes")
            time.sleep(0.2)
        elapsed = time.perf_counter() - start
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    export = RateSheetExport.objects.get(pk=export.pk)
    assert export.status == ExportStatus.DONE and export.total == ZIP_CONTRACTS, (export.status, export.error)
    return [
        {
            "name": "contracts.zip_200_rate_sheets_one_worker_s",
            "value": elapsed,
            "unit": "s",
            "target": "< 180",
            "floor": None,
        },
        {
            "name": "contracts.zip_200_rate_sheets_mb",
            "value": export.size / 1024 / 1024,
            "unit": "MB",
            "target": None,
            "floor": None,
        },
    ]


CHILDREN = {"pdf": _child_pdf, "zip": _child_zip}


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
        places = 1 if figure["unit"] == "s" and figure["value"] >= 10 else 2
        target = f" (target {figure['target']})" if figure["target"] else ""
        floor = f" [floor {figure['floor']:.2f} {figure['unit']}]" if figure["floor"] is not None else ""
        print(f"{figure['name']} {figure['value']:.{places}f}{target}{floor}")


if __name__ == "__main__":
    main()
