"""Claims benchmarks: a claims extract read, validated and classified to member-months, in memory.

Figures (``run()`` returns them as dicts: name, value, unit, target, floor):

- ``claims.read_and_classify_s``: a claims CSV of ``LINES`` lines (the issue's size is 10,000,000;
  this run uses ``CLAIMS_BENCH_LINES``, 1,000,000 by default) read and validated row by row
  (``claims.extract.read_claims``) and classified to member-months (``claims.classify``), in a
  child process; its parts are reported too, with the child's peak memory;
- the **floor** beside it: Python's csv module splitting the same bytes into cells, nothing else;
- ``claims.parse_837_{N}_claims_s``: an X12 837 professional encounter file of ``N`` claims (two
  service lines each; the issue's "100,000-claim 837 file parsed in under 20 s", so ``N`` is
  ``CLAIMS_BENCH_837_CLAIMS``, 100,000 by default, and the target is 20 s per 100,000 claims) read
  and checked into claim lines (``claims.x12_837.read_837``) in a second child process, with that
  child's peak memory (``claims.parse_837_peak_memory_mb``);
- the **floor** beside it: the same bytes split into segments (``~``) and elements (``*``), nothing else.

Not measured yet: storing the lines (the upload service's inserts) and PostgreSQL COPY of the same
file (issue 15 leaves them open; the comparison group is bench_comparison.py). Run ``python bench/bench_claims.py``
or ``make bench BENCH=claims``.
"""

from __future__ import annotations

import csv
import datetime as dt
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
CLAIMS_837 = int(os.environ.get("CLAIMS_BENCH_837_CLAIMS", "100000"))
# The "a 100,000-claim 837 file parsed in under 20 s", scaled to this run's size.
TARGET_837_S_PER_100K = 20.0
# The 837 implementation guide recommends at most 5,000 claims (CLM) per transaction set (ST/SE).
CLAIMS_PER_TRANSACTION = 5000
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


_837_VERSION = "005010X222A1"
# (procedure code, modifier, charge): a visit (E/M), then what came with it.
_VISITS = (("99213", "", 110), ("99214", "", 150), ("99215", "", 210), ("99284", "25", 480))
_SECOND = (("99497", "", 160), ("93000", "", 45), ("36415", "", 12), ("G0506", "", 65), ("99498", "", 140))
_DIAGNOSES = ("C3490", "I5022", "J449", "N184", "G309", "C509", "E1122", "I480")
_OTHER_DIAGNOSES = ("R52", "R0602", "Z515", "R634", "E43")


def encounters_837_bytes(claims: int, seed: int = 2026) -> bytes:
    """An X12 837 professional encounter file of ``claims`` claims, shaped like
    ``claims.demo.encounters_837`` (written again here: that module imports Django).

    Four claims per member, each a visit of two service lines (SV1, DTP*472) with the plan's
    adjudication (SVD, DTP*573), served in 2025 and paid 14 to 60 days later; transaction sets of
    :data:`CLAIMS_PER_TRANSACTION` claims, each with its BHT, submitter, receiver and billing provider.
    """
    rnd = random.Random(seed)
    first = dt.date(2025, 1, 1)
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'GCHP':15}*ZZ*{'CAREBUNDLE':15}*260401*1200*^*00501*000000837*0*P*:",
        f"GS*HC*GCHP*CAREBUNDLE*20260401*1200*837*X*{_837_VERSION}",
    ]
    transactions = 0
    for start in range(0, claims, CLAIMS_PER_TRANSACTION):
        transactions += 1
        control = f"{transactions:04d}"
        transaction = [
            f"ST*837*{control}*{_837_VERSION}",
            f"BHT*0019*00*GCENC{transactions}*20260401*1200*RP",
            "NM1*41*2*GOLDEN COAST HEALTH PLAN*****46*GCHP",
            "PER*IC*EDI DESK*TE*5555550100",
            "NM1*40*2*CAREBUNDLE*****46*CB1",
            "HL*1**20*1",
            "NM1*85*2*BAYVIEW PALLIATIVE*****XX*1234567893",
            "N3*1 BAY ST",
            "N4*OAKLAND*CA*94607",
            "REF*EI*123456789",
        ]
        for hl, n in enumerate(range(start, min(claims, start + CLAIMS_PER_TRANSACTION)), start=2):
            member = f"M{n // 4:07d}"
            served = first + dt.timedelta(days=rnd.randrange(365))
            paid = served + dt.timedelta(days=rnd.randint(14, 60))
            d8, paid8 = f"{served:%Y%m%d}", f"{paid:%Y%m%d}"
            place = "12" if n % 10 == 0 else ("23" if n % 10 == 1 else "11")
            code1, modifier1, charge1 = _VISITS[3] if place == "23" else _VISITS[n % 3]
            code2, modifier2, charge2 = _SECOND[n % len(_SECOND)]
            paid1 = f"{charge1 * rnd.randint(55, 90) / 100:.2f}"
            paid2 = f"{charge2 * rnd.randint(55, 90) / 100:.2f}"
            sv1 = f"HC:{code1}:{modifier1}" if modifier1 else f"HC:{code1}"
            transaction += [
                f"HL*{hl}*1*22*0",
                "SBR*P*18*******MC",
                f"NM1*IL*1*MEMBER*BENCH****MI*{member}",
                "NM1*PR*2*GOLDEN COAST*****PI*GCHP",
                f"CLM*E{n:09d}*{charge1 + charge2}***{place}:B:1*Y*A*Y*Y",
                f"HI*ABK:{_DIAGNOSES[n // 4 % len(_DIAGNOSES)]}*ABF:{_OTHER_DIAGNOSES[n % len(_OTHER_DIAGNOSES)]}",
                "LX*1",
                f"SV1*{sv1}*{charge1}*UN*1***1",
                f"DTP*472*D8*{d8}",
                f"SVD*GCHP*{paid1}*{sv1}**1",
                f"DTP*573*D8*{paid8}",
                "LX*2",
                f"SV1*HC:{code2}*{charge2}*UN*1***1",
                f"DTP*472*D8*{d8}",
                f"SVD*GCHP*{paid2}*HC:{code2}**1",
                f"DTP*573*D8*{paid8}",
            ]
        segments += transaction
        segments.append(f"SE*{len(transaction) + 1}*{control}")
    segments += [f"GE*{transactions}*837", "IEA*1*000000837"]
    return "".join(segment + "~\n" for segment in segments).encode()


def _read_837(data: bytes):
    from claims.x12_837 import DEFAULT_MAX_BYTES, read_837

    # The reader refuses a file over DEFAULT_MAX_BYTES (256 MiB; 100,000 claims are about 37 MB):
    # the bench measures parsing, not the limit, so a larger CLAIMS_BENCH_837_CLAIMS is let through.
    return read_837(data, "encounters.837", max_bytes=max(DEFAULT_MAX_BYTES, len(data)))


def _check_837(result, claims: int) -> None:
    assert result.accepted, result.errors[:3]
    assert len(result.records) == 2 * claims, (len(result.records), 2 * claims)


def _child_837(claims: int) -> None:
    # A smaller file of two transaction sets first: the generator writes what the reader accepts.
    small = min(claims, CLAIMS_PER_TRANSACTION + 7)
    _check_837(_read_837(encounters_837_bytes(small)), small)
    data = encounters_837_bytes(claims)
    start = time.perf_counter()
    elements = 0
    for segment in data.split(b"~"):
        elements += len(segment.split(b"*"))
    floor = time.perf_counter() - start
    start = time.perf_counter()
    result = _read_837(data)
    parse = time.perf_counter() - start
    _check_837(result, claims)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "floor": floor,
                "parse": parse,
                "peak_mb": peak_mb,
                "bytes": len(data),
                "elements": elements,
                "lines": len(result.records),
            }
        )
    )


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
    out = subprocess.run(
        [sys.executable, __file__, "--child-837", str(CLAIMS_837)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    x12 = json.loads(out.stdout.strip().splitlines()[-1])
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
        {
            "name": f"claims.parse_837_{CLAIMS_837:,}_claims_s",
            "value": round(x12["parse"], 2),
            "unit": "s",
            "target": round(TARGET_837_S_PER_100K * CLAIMS_837 / 100_000, 1),
            "floor": round(x12["floor"], 2),
        },
        {"name": "claims.parse_837_peak_memory_mb", "value": round(x12["peak_mb"]), "unit": "MB"},
    ]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--child-837":
        _child_837(int(sys.argv[2]))
        return
    for figure in run():
        print(
            f"{figure['name']} {figure['value']} {figure['unit']} (target {figure.get('target', '-')}, floor {figure.get('floor', '-')})"
        )


if __name__ == "__main__":
    main()
