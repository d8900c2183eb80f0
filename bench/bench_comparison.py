"""Comparison-group benchmarks: the plan's completion factors fitted and a comparison group matched and
estimated for each of 50 contracts (issue 15: under 30 s).

Figures (``run()`` returns them as dicts: name, value, unit, target, floor):

- ``comparison.completion_and_50_contracts_s``: the plan's completion factors fitted on its claims
  (``claims.services.completion_compute``) plus, for each of the 50 contracts, its cohort for the
  year and its comparison group described, matched and estimated in one plan-wide pass
  (``performance.comparison.comparison_groups``), target < 30 s; its parts are reported too;
- the **floor** beside the comparison: the reads alone (each contract's member-months, and the
  plan's utilisation rows, members and diagnoses of everyone compared), the same queries without
  the matching;
- ``comparison.one_contract_s``: one contract's comparison alone, what its performance page computes
  the first time for a version of the data (the whole pool is read for it; then it is cached).

Setup (not timed), on bench_performance's world (50 contracts, staggered enrollment over 36 months):
``MEMBERS`` enrolled members per contract and ``POOL`` times as many eligible members who never
enrolled; everyone in the 834 tables (birth date, sex, market, an open Medicaid span), four claim
lines each (a diagnosis of the bundle's groups, paid a month to a quarter later) through the claims
upload, then a utilisation file of 36 months for everyone through the utilisation upload.

Run ``python bench/bench_comparison.py`` or ``make bench BENCH=comparison``; ``--members N`` for a
smaller run. ``DATABASE_URL`` (PostgreSQL) as for bench_performance.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import bench_performance as world  # noqa: E402

MEMBERS = 100  # enrolled members per contract
POOL = 4  # eligible members who never enrolled, per enrolled member
TARGET_S = 30.0
DIAGNOSES = ("C3490", "I5022", "J441")


def _people(contracts, members: int) -> list[tuple[str, bool]]:
    """(member id, enrolled) of everyone: bench_performance's enrolled ids, and the pool's."""
    out = []
    for n in range(len(contracts)):
        out += [(f"B{n:02d}{i:05d}", True) for i in range(members)]
        out += [(f"X{n:02d}{i:06d}", False) for i in range(members * POOL)]
    return out


def _eligibility(plan, people) -> None:
    from enrollment.models import EligibilityFile, EligibilitySpan, Member

    source = EligibilityFile.objects.create(
        payer=plan,
        file="bench/eligibility.834",
        original_filename="eligibility.834",
        file_sha256="0" * 64,
        status="accepted",
    )
    rnd = random.Random(3)
    Member.objects.bulk_create(
        [
            Member(
                payer=plan,
                member_id=member_id,
                birth_date=dt.date(1936, 1, 1) + dt.timedelta(days=rnd.randrange(365 * 25)),
                sex="FM"[k % 2],
                market="URBAN",
                source_file=source,
            )
            for k, (member_id, _) in enumerate(people)
        ],
        batch_size=10000,
    )
    EligibilitySpan.objects.bulk_create(
        [
            EligibilitySpan(
                payer=plan, member_id=member_id, start=world.FIRST_MONTH, lob="medicaid", source_file=source
            )
            for member_id, _ in people
        ],
        batch_size=10000,
    )


def _claims(analyst, people) -> int:
    from claims import services as claims_services
    from claims.extract import write_claims_csv
    from claims.records import ORIGINAL, PROFESSIONAL, ClaimLine

    rnd = random.Random(5)
    lines = []
    for k, (member_id, _) in enumerate(people):
        for q in range(4):
            served = world._month(3 * q + k % 3) + dt.timedelta(days=k % 25)
            paid = served + dt.timedelta(days=rnd.randrange(20, 100))
            amount = f"{rnd.randint(60, 160)}.00"
            lines.append(
                ClaimLine(
                    member_id,
                    f"{member_id}-{q}",
                    1,
                    PROFESSIONAL,
                    ORIGINAL,
                    "",
                    "11",
                    "",
                    "99214",
                    (),
                    (DIAGNOSES[k % 3],),
                    None,
                    None,
                    "",
                    served,
                    served,
                    paid,
                    None,
                    amount,
                )  # fmt: skip
            )
    upload = claims_services.claims_upload(
        scope=analyst, data=write_claims_csv(lines).encode(), filename="claims.csv", run_inline=True
    )
    assert upload.status == "accepted", upload.errors[:3]
    return upload.pk


def _utilisation(analyst, people) -> None:
    from performance import services
    from performance.ingest import COLUMNS

    rnd = random.Random(7)
    rows = [",".join(COLUMNS)]
    for k, (member_id, enrolled) in enumerate(people):
        start = (k % world.MONTHS) % 12  # as bench_performance staggers them
        for m in range(world.MONTHS):
            after = m >= start if enrolled else m >= start + 1
            tcoc = rnd.randint(2700, 3500) if after and enrolled else rnd.randint(3500, 4900)
            ed = 1 if rnd.random() < (0.12 if after and enrolled else 0.4) else 0
            rows.append(f"{member_id},{world._month(m)},{ed},0,0,0,0,{tcoc}.00,,,,")
    upload = services.utilization_upload(
        scope=analyst, data=("\n".join(rows) + "\n").encode(), filename="utilization.csv", run_inline=True
    )
    assert upload.status == "accepted", upload.errors[:3]


def _child(members: int) -> None:
    world._setup_django()
    from django.db import connection

    from claims import selectors as claims_selectors
    from claims import services as claims_services
    from core.domain.months import parse_period, shift_month
    from performance import comparison, selectors
    from performance.models import UtilizationRow

    plan, analyst, contracts = world._world(members)
    people = _people(contracts, members)
    _eligibility(plan, people)
    upload_id = _claims(analyst, people)
    _utilisation(analyst, people)

    start = time.perf_counter()
    run = claims_services.completion_compute(payer_id=plan.pk, upload_id=upload_id)
    completion = time.perf_counter() - start
    assert run is not None and run.status == "done"

    period = parse_period("2026", contract_start=world.FIRST_MONTH)
    start = time.perf_counter()
    cohorts = []
    for contract in contracts:
        members_of = selectors.cohort(contract, period.start, period.end)
        cohorts.append(comparison.ContractCohort(contract, members_of.first, members_of.inside, 12))
    estimates = list(comparison.comparison_groups(period, cohorts).values())
    compare = time.perf_counter() - start
    start = time.perf_counter()
    comparison.comparison_group(cohorts[0], period)  # what one contract's page computes
    one = time.perf_counter() - start
    # The floor: the cohorts and the rows the comparison reads, without describing or matching.
    start = time.perf_counter()
    for contract in contracts:
        selectors.cohort(contract, period.start, period.end)
    ids = sorted(member_id for member_id, _ in people)
    lo = shift_month(world.FIRST_MONTH, 0)
    for k in range(0, len(ids), comparison.CHUNK):
        chunk = ids[k : k + comparison.CHUNK]
        list(
            UtilizationRow.objects.filter(
                payer=plan, superseded=False, member_id__in=chunk, month__gte=lo, month__lt=period.end
            ).values_list("member_id", "month", "tcoc_amount", "ed_visits", "inpatient_admissions")
        )
    claims_selectors.diagnoses_by_month(plan.pk, ids, lo, period.end)
    floor = time.perf_counter() - start
    matched = sum(e.matched for e in estimates if e is not None)
    treated = sum(e.treated for e in estimates if e is not None)
    print(
        json.dumps(
            {
                "completion": completion,
                "compare": compare,
                "one": one,
                "floor": floor,
                "matched": matched,
                "treated": treated,
                "people": len(people),
                "vendor": connection.vendor,
            }
        )
    )


def run(members: int = MEMBERS) -> list[dict]:
    with world._Database(__file__) as db:
        result = db.child("--child", str(members))
    note = (
        f"{result['vendor']}; {result['people']} members ({members} enrolled per contract, {POOL}x never "
        f"enrolled); {result['matched']} of {result['treated']} enrolled matched"
    )
    return [
        {
            "name": f"comparison.completion_and_{world.CONTRACTS}_contracts_s",
            "value": round(result["completion"] + result["compare"], 2),
            "unit": "s",
            "target": TARGET_S,
            "note": note,
        },
        {"name": "comparison.completion_fit_s", "value": round(result["completion"], 2), "unit": "s"},
        {
            "name": f"comparison.match_and_estimate_{world.CONTRACTS}_contracts_s",
            "value": round(result["compare"], 2),
            "unit": "s",
            "floor": round(result["floor"], 2),
            "note": "floor = the reads alone, without the matching",
        },
        {"name": "comparison.one_contract_s", "value": round(result["one"], 2), "unit": "s"},
    ]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
        return
    members = int(sys.argv[2]) if len(sys.argv) == 3 and sys.argv[1] == "--members" else MEMBERS
    for figure in run(members):
        target = f" (target < {figure['target']:g})" if figure.get("target") else ""
        floor = f"  floor {figure['floor']} s" if figure.get("floor") is not None else ""
        note = f"  [{figure['note']}]" if figure.get("note") else ""
        print(f"{figure['name']} {figure['value']} {figure['unit']}{target}{floor}{note}", flush=True)


if __name__ == "__main__":
    main()
