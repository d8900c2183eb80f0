"""Enrollment benchmarks: a monthly roster validated and stored through the submission service.

Figures (``run()`` returns them as dicts: name, value, unit, target, floor):

- ``enrollment.roster_store_100k_s``: 100,000 rows submitted, read, validated (every rule, incl. the
  database checks), member-months computed and everything stored, target < 15 s;
- ``enrollment.roster_store_1m_s`` (target < 150 s) and ``enrollment.roster_store_1m_peak_mb``
  (target < 500 MB, the process's peak RSS including Django);
- the **floor** beside each time: PostgreSQL's ``COPY`` of the same CSV into a bare table (no
  index, no constraint, no validation), what loading these rows costs at the very least;
- ``enrollment.eligibility_load_10k_s``: a 10,000-member 834 parsed, acknowledged (999) and
  applied through the service (parsing alone is in bench_ingest.py);
- ``enrollment.parse_834_1m_stream_s`` (target < 90 s) and ``enrollment.parse_834_1m_stream_peak_mb``
  (target < 100 MB, the child's peak RSS): a generated 1,000,000-member 834 (~250 MB, written to a
  temporary file first, not timed) read as a stream by the reader alone, its members handed on in
  batches and dropped: the memory must not grow with the file (issue 18).

PostgreSQL is what production runs: point ``DATABASE_URL`` at it (the bench makes and drops its
own ``test_<name>`` database there). Without it the bench says so, times on a throwaway SQLite
database and skips the COPY floor. Each size runs in its own subprocess so its peak memory is its own.

Run ``python bench/bench_enrollment.py`` (one printed line per figure) or ``make bench``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_ingest import MONTH, make_834, write_roster_csv  # noqa: E402

SIZES: tuple[tuple[int, float, float | None], ...] = ((100_000, 15.0, None), (1_000_000, 150.0, 500.0))
ELIGIBILITY_MEMBERS = 10_000
ELIGIBILITY_TARGET_S = 10.0
PARSE_834_STREAM_MEMBERS = 1_000_000
PARSE_834_STREAM_TARGET_S = 90.0
PARSE_834_STREAM_TARGET_MB = 100.0
TODAY = dt.date(2026, 4, 10)  # the March 2026 roster is inside its retro window on this day
NO_POSTGRES = (
    "DATABASE_URL does not point to PostgreSQL: timing on a throwaway SQLite database instead, "
    "and skipping the COPY floor (set DATABASE_URL=postgres://... for the real figures)."
)


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://", "pgsql://"))


# --------------------------------------------------------------------------- child process
def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _contract():
    """A plan, a provider and an active contract (URBAN and RURAL-N, tiers 1-3) through the services."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Organization, OrganizationKind, Role
    from accounts.tenancy import Scope
    from bundles import services as bundle_services
    from bundles.catalogue import ensure_platform_roles
    from bundles.demo import MARKETS, home_based_definition
    from bundles.models import IdtRole, Market
    from contracts import services as contract_services

    stamp = f"{time.time_ns()}"
    User = get_user_model()
    plan = Organization.objects.create(
        kind=OrganizationKind.PAYER, legal_name=f"Bench Plan {stamp}", lines_of_business=["medicaid"]
    )
    provider = Organization.objects.create(
        kind=OrganizationKind.PROVIDER, legal_name=f"Bench Program {stamp}"
    )

    def member(org, role):
        user = User.objects.create(username=f"bench-{role}-{org.pk}")
        return Scope(Membership.objects.create(user=user, organization=org, role=role))

    analyst, manager = member(plan, Role.ANALYST), member(plan, Role.CONTRACT_MANAGER)
    provider_admin = member(provider, Role.ADMIN)
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
    markets = ["URBAN", "RURAL-N"]
    contract = contract_services.contract_create(
        scope=manager,
        provider=provider,
        bundle_version=version,
        terms={
            "effective_start": dt.date(2025, 1, 1),
            "effective_end": None,
            "markets": markets,
            "lines_of_business": ["medicaid"],
            "proration_rule": "daily",
            "tier_rule": "highest",
            "withhold_percentage": Decimal("0"),
            "quality_terms": [],
        },
        rates=[
            {"tier": t, "market": m, "lob": "medicaid", "pmpm": "400.00", "reason": "bench"}
            for t in ("1", "2", "3")
            for m in markets
        ],
        assessment_fees={m: "350.00" for m in markets},
    )
    contract_services.contract_propose(scope=manager, contract=contract)
    contract_services.contract_accept(scope=manager, contract=contract)
    contract_services.contract_accept(scope=provider_admin, contract=contract)
    contract.refresh_from_db()
    return contract, provider_admin, analyst


def _copy_floor(path: str) -> float:
    """PostgreSQL COPY of the CSV into a bare table: the least loading these rows can cost."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_roster_floor")
        cursor.execute(
            "CREATE TABLE bench_roster_floor (member_id text, last_name text, first_name text, "
            "birth_date date, market text, enrollment_start date, enrollment_end date, "
            "disenrollment_reason text, tier text, tier_start date)"
        )
        start = time.perf_counter()
        with (
            cursor.cursor.copy("COPY bench_roster_floor FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            open(path, "rb") as fh,
        ):
            while block := fh.read(1 << 20):
                copy.write(block)
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_roster_floor")
    return elapsed


def _child_roster(rows: int) -> None:
    _setup_django()
    from django.core.files import File
    from django.db import connection

    from enrollment import services

    contract, scope, _ = _contract()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "roster.csv")
        write_roster_csv(path, rows)
        with open(path, "rb") as fh:
            start = time.perf_counter()
            submission = services.roster_submit(
                scope=scope,
                contract=contract,
                month=MONTH,
                file=File(fh, name="roster.csv"),
                today=TODAY,
                run_inline=True,
            )
            elapsed = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        floor = _copy_floor(path) if connection.vendor == "postgresql" else None
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "peak_mb": peak_mb,
                "floor": floor,
                "status": submission.status,
                "rows": submission.row_count,
                "errors": submission.error_count,
                "member_months": str(submission.member_months),
                "vendor": connection.vendor,
            }
        )
    )


def _child_eligibility(members: int) -> None:
    _setup_django()
    from django.core.files.base import ContentFile

    from enrollment import services

    _, _, analyst = _contract()
    data = make_834(members)
    start = time.perf_counter()
    record = services.eligibility_file_load(
        scope=analyst, file=ContentFile(data, name="bench.834"), run_inline=True
    )
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "status": record.status, "members": record.member_count}))


def _child_parse_834(members: int) -> None:
    """Generate an 834 of ``members`` members into a temporary file, then time reading it as a stream."""
    from enrollment.ingest.x12_834 import parse_834
    from enrollment.ingest.x12_generate import write_834

    with tempfile.TemporaryFile() as fh:
        size = write_834(fh, members)
        fh.seek(0)
        before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seen = 0

        def count(batch) -> None:
            nonlocal seen
            seen += len(batch)

        start = time.perf_counter()
        result = parse_834(fh, on_members=count)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "peak_mb": peak_mb,
                "peak_before_parse_mb": before_mb,
                "bytes": size,
                "members": seen,
                "errors": len(result.errors),
            }
        )
    )


def parse_834_stream_figures(members: int = PARSE_834_STREAM_MEMBERS) -> list[dict]:
    """The stream-parse figures, measured in a child process of their own (no database needed)."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-parse-834", str(members)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"] or result["members"] != members:
        raise RuntimeError(f"the generated 834 did not parse cleanly: {result}")
    label = _label(members)
    note = f"{result['bytes'] / 1024**2:,.0f} MB file, read 1 MB at a time"
    return [
        {
            "name": f"enrollment.parse_834_{label}_stream_s",
            "value": round(result["seconds"], 1),
            "unit": "s",
            "target": PARSE_834_STREAM_TARGET_S,
            "note": note,
        },
        {
            "name": f"enrollment.parse_834_{label}_stream_peak_mb",
            "value": round(result["peak_mb"], 1),
            "unit": "MB",
            "target": PARSE_834_STREAM_TARGET_MB,
            "note": note,
        },
    ]


# --------------------------------------------------------------------------- parent
class _Database:
    """A database of the bench's own: PostgreSQL ``test_<name>`` (made and dropped) or a temp SQLite."""

    def __init__(self) -> None:
        self.url = os.environ.get("DATABASE_URL", "")
        self.postgres = _is_postgres(self.url)
        self.tmp = tempfile.TemporaryDirectory(prefix="carebundle-bench-")
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
            [sys.executable, str(Path(__file__).resolve()), *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def _label(rows: int) -> str:
    return f"{rows // 1000}k" if rows < 1_000_000 else f"{rows // 1_000_000}m"


def run() -> list[dict]:
    """Every enrollment figure: name, value, unit, target and (PostgreSQL) the COPY floor."""
    figures: list[dict] = []
    with _Database() as db:
        if not db.postgres:
            print(NO_POSTGRES, flush=True)
        for rows, target_s, target_mb in SIZES:
            result = db.child("--child-roster", str(rows))
            if result["status"] != "accepted" or result["rows"] != rows:
                raise RuntimeError(f"the generated roster was not accepted whole: {result}")
            floor = round(result["floor"], 2) if result["floor"] is not None else None
            figures.append(
                {
                    "name": f"enrollment.roster_store_{_label(rows)}_s",
                    "value": round(result["seconds"], 2),
                    "unit": "s",
                    "target": target_s,
                    "floor": floor,
                    "note": f"{result['vendor']}; floor = COPY into a bare table",
                }
            )
            if target_mb is not None:
                figures.append(
                    {
                        "name": f"enrollment.roster_store_{_label(rows)}_peak_mb",
                        "value": round(result["peak_mb"], 1),
                        "unit": "MB",
                        "target": target_mb,
                    }
                )
        result = db.child("--child-eligibility", str(ELIGIBILITY_MEMBERS))
        if result["status"] != "accepted":
            raise RuntimeError(f"the generated 834 was not accepted: {result}")
        figures.append(
            {
                "name": "enrollment.eligibility_load_10k_s",
                "value": round(result["seconds"], 2),
                "unit": "s",
                "target": ELIGIBILITY_TARGET_S,
            }
        )
    figures += parse_834_stream_figures()
    return figures


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child-roster":
        _child_roster(int(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--child-eligibility":
        _child_eligibility(int(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--child-parse-834":
        _child_parse_834(int(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--parse-834":  # only this figure, e.g. --parse-834 1000000
        for figure in parse_834_stream_figures(int(sys.argv[2])):
            print(f"{figure['name']} {figure['value']} {figure['unit']} (target < {figure['target']:g})")
        return
    for figure in run():
        floor = (
            f"  floor {figure['floor']} s (PostgreSQL COPY, bare table)"
            if figure.get("floor") is not None
            else ""
        )
        print(
            f"{figure['name']} {figure['value']} {figure['unit']} (target < {figure['target']:g}){floor}",
            flush=True,
        )


if __name__ == "__main__":
    main()
