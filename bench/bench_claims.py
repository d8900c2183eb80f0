"""Claims benchmarks: a claims extract read, validated and classified to member-months, in memory.

Figures (``run()`` returns them as dicts: name, value, unit, target, floor):

- ``claims.read_and_classify_s``: a claims CSV of ``LINES`` lines (the issue's size is 10,000,000;
  this run uses ``CLAIMS_BENCH_LINES``, 1,000,000 by default) read and validated row by row
  (``claims.extract.read_claims``) and classified to member-months (``claims.classify``), in a
  child process; its parts are reported too, with the child's peak memory;
- the **floor** beside it: Python's csv module splitting the same bytes into cells, nothing else.

Not measured yet: storing the lines (the upload service's inserts) and PostgreSQL COPY of the same
file, the 837 reader and the comparison group (issue 15 leaves them open). Run
``python bench/bench_claims.py`` or ``make bench BENCH=claims``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LINES = int(os.environ.get("CLAIMS_BENCH_LINES", "1000000"))
# The 10M lines in 60 s, scaled to this run's size.
TARGET_S_PER_MILLION = 6.0
TARGET_PEAK_MB = 500.0
HEADER = (
    "member_id,claim_id,line_number,claim_type,frequency_code,bill_type,place_of_service,revenue_code,"
    "procedure_code,modifiers,diagnosis_codes,admission_date,discharge_date,discharge_status,service_from,"
    "service_to,paid_date,allowed_amount,paid_amount\n"
)


def claims_csv(lines: int, seed: int = 2026) -> bytes:
    """A plan's year: office visits, ED visits and stays, as a warehouse would export them."""
    rnd = random.Random(seed)
    out = io.StringIO()
    out.write(HEADER)
    members = max(1, lines // 24)
    for n in range(lines):
        member = f"M{n % members:07d}"
        month = 1 + (n // members) % 12
        day = 1 + n % 27
        served = f"2026-{month:02d}-{day:02d}"
        paid = f"2026-{min(12, month + 1):02d}-{day:02d}"
        kind = n % 20
        if kind == 0:  # a stay
            out.write(
                f"{member},C{n},1,institutional,1,111,,0120,,,I5022:R0602,{served},{served},01,{served},"
                f"{served},{paid},{rnd.randint(5000, 15000)}.00,{rnd.randint(4000, 12000)}.00\n"
            )
        elif kind < 3:  # an ED visit
            out.write(
                f"{member},C{n},1,professional,1,,23,,99284,25,R0602,,,,{served},{served},{paid},"
                f"{rnd.randint(300, 900)}.00,{rnd.randint(200, 800)}.{rnd.randint(0, 99):02d}\n"
            )
        else:
            out.write(
                f"{member},C{n},1,professional,1,,11,,99214,,C3490,,,,{served},{served},{paid},"
                f"120.00,{rnd.randint(60, 110)}.{rnd.randint(0, 99):02d}\n"
            )
    return out.getvalue().encode()


def _child(lines: int) -> None:
    from claims.classify import member_months
    from claims.extract import read_claims

    data = claims_csv(lines)
    start = time.perf_counter()
    cells = 0
    for row in csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        cells += len(row)
    floor = time.perf_counter() - start
    start = time.perf_counter()
    result = read_claims(data, "claims.csv")
    read = time.perf_counter() - start
    assert not result.errors, result.errors[:3]
    start = time.perf_counter()
    months = member_months(result.records)
    classify = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "floor": floor,
                "read": read,
                "classify": classify,
                "peak_mb": peak_mb,
                "member_months": len(months),
            }
        )
    )


def run() -> list[dict[str, object]]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="")
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(LINES)], capture_output=True, text=True, check=True, env=env
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    millions = LINES / 1_000_000
    total = figures["read"] + figures["classify"]
    return [
        {
            "name": f"claims.read_and_classify_{LINES:,}_lines_s",
            "value": round(total, 2),
            "unit": "s",
            "target": round(TARGET_S_PER_MILLION * millions, 1),
            "floor": round(figures["floor"], 2),
        },
        {"name": "claims.read_and_validate_s", "value": round(figures["read"], 2), "unit": "s"},
        {"name": "claims.classify_to_member_months_s", "value": round(figures["classify"], 2), "unit": "s"},
        {
            "name": "claims.peak_memory_mb",
            "value": round(figures["peak_mb"]),
            "unit": "MB",
            "target": TARGET_PEAK_MB,
        },
    ]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
        return
    for figure in run():
        print(
            f"{figure['name']} {figure['value']} {figure['unit']} (target {figure.get('target', '-')}, floor {figure.get('floor', '-')})"
        )


if __name__ == "__main__":
    main()
