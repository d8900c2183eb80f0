"""Ingest benchmarks: roster CSV read+validate (100k and 1M rows) and a 10,000-member 834.

Run ``python bench/bench_ingest.py``; prints one line per figure, e.g.
``enrollment.parse_834_10k_s 0.21 (target < 2)``. :func:`run` returns the same figures as
dicts (name, value, unit, target) for the project's bench aggregator.

Each roster size runs in its own subprocess so that its peak memory (``ru_maxrss``) is the
reader's and validator's alone, not left over from a previous size. The CSV is generated
to a temporary file first and only reading + validating is timed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (rows, seconds target, peak MB target)
ROSTER_SIZES: tuple[tuple[int, float, float], ...] = ((100_000, 6.0, 400.0), (1_000_000, 60.0, 1024.0))
PARSE_834_MEMBERS = 10_000
PARSE_834_TARGET_S = 2.0

HEADER = (
    "member_id,last_name,first_name,birth_date,market,enrollment_start,"
    "enrollment_end,disenrollment_reason,tier,tier_start\n"
)
MONTH = dt.date(2026, 3, 1)


def write_roster_csv(path: str, rows: int, seed: int = 20260301) -> int:
    """A realistic March 2026 roster: ~10% leave in the month, ~5% change tier mid-month."""
    rnd = random.Random(seed)
    reasons = ("death", "hospice", "moved", "declined", "discharged")
    written = 0
    member = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        while written < rows:
            member += 1
            birth = dt.date(1925, 1, 1) + dt.timedelta(days=rnd.randrange(25_000))
            start = dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randrange(450))
            end, reason = "", ""
            if rnd.random() < 0.10:
                end_day = max(start, MONTH + dt.timedelta(days=rnd.randrange(31)))
                end, reason = end_day.isoformat(), rnd.choice(reasons)
            market = "URBAN" if member % 3 else "RURAL-N"
            tier = str(1 + member % 3)
            common = f"M{member:09d},LAST{member % 5003},FIRST{member % 701},{birth},{market},{start},{end},{reason}"
            change = MONTH + dt.timedelta(days=14)
            if (
                rnd.random() < 0.05
                and start < change
                and (not end or end >= change.isoformat())
                and written + 2 <= rows
            ):
                fh.write(f"{common},{tier},\n")
                fh.write(f"{common},{min(3, int(tier) + 1)},{change}\n")
                written += 2
            else:
                fh.write(f"{common},{tier},\n")
                written += 1
    return written


def _child_roster(rows: int) -> None:
    """Subprocess body: generate, then time read+validate and report peak memory as JSON."""
    sys.path.insert(0, str(ROOT))
    from enrollment.ingest.roster import ValidationContext
    from enrollment.ingest.tabular import read_roster

    ctx = ValidationContext(
        month=MONTH,
        contract_start=dt.date(2025, 1, 1),
        contract_end=None,
        tier_codes={"1", "2", "3"},
        market_codes={"URBAN", "RURAL-N"},
        today=dt.date(2026, 4, 10),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "roster.csv")
        write_roster_csv(path, rows)
        size = os.path.getsize(path)
        start = time.perf_counter()
        result = read_roster(path, ctx)
        elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "peak_mb": peak_mb,
                "rows": len(result.rows),
                "errors": len(result.errors),
                "bytes": size,
            }
        )
    )


def make_834(members: int) -> bytes:
    """A full-file (audit) 834 with ``members`` subscribers, each with one HMO coverage."""
    segs = [
        "ISA*00*          *00*          *ZZ*MCOPLAN        *ZZ*PALLCAREORG    *260301*1200*^*00501*000000001*0*P*:",
        "GS*BE*MCOPLAN*PALLCAREORG*20260301*1200*1*X*005010X220A1",
        "ST*834*0001*005010X220A1",
        "BGN*00*ROSTER202603*20260301*1200****4",
        "REF*38*PALLCARE-BUNDLE-01",
        "DTP*007*D8*20260301",
        "N1*P5*STATE MEDICAID MCO*FI*123456789",
        "N1*IN*COMMUNITY PALLIATIVE CARE ORG*FI*987654321",
    ]
    for i in range(members):
        segs += [
            "INS*Y*18*030*XN*A", f"REF*0F*M{i:09d}", "REF*1L*PALLCARE-BUNDLE-01", "DTP*356*D8*20260101",
            f"NM1*IL*1*LAST{i}*FIRST{i}****ZZ*M{i:09d}", f"N3*{i} MAIN ST", "N4*SACRAMENTO*CA*95814",
            f"DMG*D8*19{30 + i % 60:02d}0{1 + i % 9}1{i % 9}*{'FM'[i % 2]}", "HD*030**HMO*PALLIATIVE CARE BUNDLE*IND",
            "DTP*348*D8*20260101",
        ]  # fmt: skip
    segs.append(f"SE*{len(segs) - 1}*0001")
    segs += ["GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segs) + "~\n").encode()


def bench_834(members: int = PARSE_834_MEMBERS) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from enrollment.ingest.x12_834 import parse_834

    data = make_834(members)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = parse_834(data)
        best = min(best, time.perf_counter() - start)
        if result.errors or len(result.members) != members:
            raise RuntimeError(f"generated 834 did not parse cleanly: {result.errors[:3]}")
    return {
        "name": "enrollment.parse_834_10k_s",
        "value": round(best, 3),
        "unit": "s",
        "target": PARSE_834_TARGET_S,
    }


def bench_roster(rows: int, target_s: float, target_mb: float) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child-roster", str(rows)],
        check=True,
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if figures["errors"] or figures["rows"] != rows:
        raise RuntimeError(f"generated roster did not validate cleanly: {figures}")
    label = f"{rows // 1000}k" if rows < 1_000_000 else f"{rows // 1_000_000}m"
    return [
        {
            "name": f"enrollment.roster_csv_{label}_s",
            "value": round(figures["seconds"], 2),
            "unit": "s",
            "target": target_s,
        },
        {
            "name": f"enrollment.roster_csv_{label}_peak_mb",
            "value": round(figures["peak_mb"], 1),
            "unit": "MB",
            "target": target_mb,
        },
    ]


def run() -> list[dict[str, object]]:
    """All ingest figures: name, value, unit and target (an upper bound)."""
    results: list[dict[str, object]] = []
    for rows, target_s, target_mb in ROSTER_SIZES:
        results.extend(bench_roster(rows, target_s, target_mb))
    results.append(bench_834())
    return results


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child-roster":
        _child_roster(int(sys.argv[2]))
        return
    for figure in run():
        print(f"{figure['name']} {figure['value']} (target < {figure['target']:g})")


if __name__ == "__main__":
    main()
