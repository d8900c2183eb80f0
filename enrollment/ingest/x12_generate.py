"""Synthetic X12 834 files of any size, written as a stream (pure: no Django).

For the bounded-memory tests of the reader and for the benchmarks: a full file (``BGN08`` 4, every
member ``INS03`` 030) of subscribers with one HMO coverage each, about 250 bytes a member, that
:func:`enrollment.ingest.x12_834.parse_834` reads without a problem.
"""

from __future__ import annotations

import io
from typing import IO

HEADER = (
    "ISA*00*          *00*          *ZZ*MCOPLAN        *ZZ*PALLCAREORG    *260301*1200*^*00501*000000001*0*P*:",
    "GS*BE*MCOPLAN*PALLCAREORG*20260301*1200*1*X*005010X220A1",
    "ST*834*0001*005010X220A1",
    "BGN*00*ROSTER202603*20260301*1200****4",
    "REF*38*PALLCARE-BUNDLE-01",
    "DTP*007*D8*20260301",
    "N1*P5*STATE MEDICAID MCO*FI*123456789",
    "N1*IN*COMMUNITY PALLIATIVE CARE ORG*FI*987654321",
)
SEGMENTS_PER_MEMBER = 10
_BLOCK = 2000  # members written at a time


def member_segments(i: int) -> list[str]:
    """The ten segments of member ``i`` (member id ``M`` + ``i`` on nine digits)."""
    return [
        "INS*Y*18*030*XN*A", f"REF*0F*M{i:09d}", "REF*1L*PALLCARE-BUNDLE-01", "DTP*356*D8*20260101",
        f"NM1*IL*1*LAST{i}*FIRST{i}****ZZ*M{i:09d}", f"N3*{i} MAIN ST", "N4*SACRAMENTO*CA*95814",
        f"DMG*D8*19{30 + i % 60:02d}0{1 + i % 9}1{i % 9}*{'FM'[i % 2]}", "HD*030**HMO*PALLIATIVE CARE BUNDLE*IND",
        "DTP*348*D8*20260101",
    ]  # fmt: skip


def write_834(fh: IO[bytes], members: int, *, terminator: str = "~\n") -> int:
    """Write an 834 with ``members`` members to the binary stream ``fh``; returns the bytes written.

    Memory does not depend on ``members``: the file is written a block of members at a time.
    """
    written = 0

    def put(segments: list[str] | tuple[str, ...]) -> None:
        nonlocal written
        data = (terminator.join(segments) + terminator).encode()
        fh.write(data)
        written += len(data)

    put(HEADER)
    for start in range(0, members, _BLOCK):
        block: list[str] = []
        for i in range(start, min(start + _BLOCK, members)):
            block += member_segments(i)
        put(block)
    in_transaction = len(HEADER) - 2 + SEGMENTS_PER_MEMBER * members + 1  # ST..SE
    put([f"SE*{in_transaction}*0001", "GE*1*1", "IEA*1*000000001"])
    return written


def make_834(members: int, *, terminator: str = "~\n") -> bytes:
    """The same file as bytes."""
    out = io.BytesIO()
    write_834(out, members, terminator=terminator)
    return out.getvalue()
