"""Reader for the plan's eligibility file, X12 834 005010X220A1 (docs/formats.md section 3).

What it does, and why it is not a full implementation-guide validator (pyx12 is one):
the platform needs the plan's membership (member id, name, birth date, sex, maintenance
type, line of business, eligibility dates) and a trustworthy acknowledgement. So the reader

- takes the separators from the ISA segment (element separator = 4th character, sub-element
  separator = ISA16, segment terminator = the character after ISA16) and tolerates line
  breaks after terminators;
- checks the envelope exactly (ST/SE, GS/GE, ISA/IEA control numbers and counts, a file
  truncated before IEA), because a miscounted or cut file cannot be trusted at all;
- checks the segments the platform reads (INS03 maintenance type, REF*0F member id, the
  NM1*IL name, DMG birth date and sex, DTP dates) and reports each problem with its
  position: the segment index in the file (ISA = 1), the position inside the transaction
  set (ST = 1, what a 999's IK302 carries), the element and the loop;
- tolerates what it does not read. Defects in elements the platform never uses are not
  checked, and a few real-world defects are warnings, not errors:
  whitespace (spaces, tabs) between a terminator and the next segment, and a loop-2000 DTP
  with a qualifier the guide does not list (the public ``enroll-employee-managed-care.834``
  has ``DTP*358``): both leave every field we load intact, so the file is accepted and the
  999 says ``IK5*E`` (accepted, errors noted) with the position, instead of blocking a
  plan's whole membership update for a cosmetic defect.

A file with any error is rejected as a whole (an 834 is not partially applied); the
members are still returned so that a person can see what the file contained.

The envelope (separators, ISA/IEA, GS/GE, ST/SE, reading a stream chunk by chunk) is the shared
:mod:`enrollment.ingest.x12`; this module reads the 834's transaction body. A file can be read as a
stream with its members handed on in batches (:func:`parse_834` ``on_members``), so a plan's file
of millions of members is read in bounded memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from core.domain.problems import Problem
from enrollment.ingest.x12 import (  # noqa: F401  (the envelope's names, re-exported for the 999 writer and tests)
    CONTROL_NUMBER_MISMATCH,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_BYTES,
    DUPLICATE_CONTROL_NUMBER,
    EMPTY_SEGMENT,
    FILE_TOO_LARGE,
    FULL_FILE_ACTIONS,
    GROUP_COUNT_MISMATCH,
    INVALID_CODE,
    INVALID_DATE,
    INVALID_ISA,
    INVALID_SEGMENT,
    MISSING_GE,
    MISSING_IEA,
    MISSING_SE,
    NOT_UTF8,
    NOT_X12,
    SEGMENT_COUNT_MISMATCH,
    TRANSACTION_COUNT_MISMATCH,
    UNEXPECTED_SEGMENT,
    UNSUPPORTED_TRANSACTION,
    WHITESPACE_BETWEEN_SEGMENTS,
    X12_COORDINATES,
    FunctionalGroup,
    Interchange,
    Separators,
    TransactionSet,
    X12Reader,
)
from enrollment.ingest.x12 import d8 as _d8
from enrollment.ingest.x12 import el as _el

SUPPORTED_VERSION = "005010X220A1"
#: Members handed to an ``on_members`` consumer at a time.
DEFAULT_BATCH_SIZE = 10_000


#: INS03 maintenance type codes the platform accepts (docs/formats.md section 3).
MAINTENANCE_TYPES: dict[str, str] = {
    "001": "change",
    "021": "addition",
    "024": "cancellation or termination",
    "025": "reinstatement",
    "030": "audit or compare",
}
AUDIT = "030"
#: BGN08 action codes: 2 = change (update), 4 = verify (full file), RX = replace (full file).
BGN08_ACTIONS: dict[str, str] = {"2": "change", "4": "verify", "RX": "replace"}

#: Loop 2000 DTP qualifiers listed by 005010X220A1 (356/357 are the eligibility dates).
MEMBER_DATE_QUALIFIERS = frozenset(
    {
        "050", "286", "296", "297", "300", "301", "303", "336", "337", "338", "339", "340",
        "341", "350", "351", "356", "357", "383", "385", "386", "393", "394", "473", "474",
    }
)  # fmt: skip
SEX_CODES = frozenset({"F", "M", "U"})

# --------------------------------------------------------------------------- issue codes
# The envelope's (NOT_X12, MISSING_SE, ...) are enrollment.ingest.x12's, imported above.
MISSING_BGN = "missing_bgn"
INVALID_MAINTENANCE_TYPE = "invalid_maintenance_type"
MISSING_MEMBER_ID = "missing_member_id"
MISSING_MEMBER_NAME = "missing_member_name"
END_BEFORE_START = "end_before_start"
# Warning codes.
UNKNOWN_DATE_QUALIFIER = "unknown_date_qualifier"

# Member-level NM1 entity codes and the 2100 loop each opens.
_NM1_2100 = {
    "IL": "2100A",
    "74": "2100A",
    "70": "2100B",
    "31": "2100C",
    "36": "2100D",
    "M8": "2100E",
    "S3": "2100F",
    "45": "2100H",
}
_MEMBER_LOOPS = frozenset(
    {"2000", "2100A", "2100B", "2100C", "2100D", "2100E", "2100F", "2100G", "2100H", "2200"}
)


@dataclass(frozen=True, slots=True)
class Coverage:
    """A loop 2300 health coverage (HD) with its benefit dates (inclusive, as in the file)."""

    maintenance_type: str
    insurance_line: str  # HD03, e.g. HMO; mapped per plan to the platform's LOB codes
    plan_description: str
    coverage_level: str
    start: dt.date | None  # DTP*348
    end: dt.date | None  # DTP*349, inclusive


@dataclass(frozen=True, slots=True)
class Member834:
    """One INS loop: a member as the plan reports it.

    ``eligibility_start``/``eligibility_end`` prefer the member-level DTP*356/357 (loop
    2000) and fall back to the coverages' DTP*348 (earliest) / DTP*349 (latest, open when
    any coverage is open). End dates are inclusive as in X12.
    """

    member_id: str | None
    last_name: str
    first_name: str
    birth_date: dt.date | None
    sex: str | None
    maintenance_type: str
    subscriber: bool
    relationship: str
    member_start: dt.date | None  # DTP*356
    member_end: dt.date | None  # DTP*357
    coverages: tuple[Coverage, ...]
    segment_index: int
    position: int
    st_control: str
    #: INS12 (with INS11 ``D8``): the member's date of death, recorded once per member by the platform.
    death_date: dt.date | None = None
    #: N406 of the member's address (N4, loop 2100A) when N405 is ``CY``: the county the plan's
    #: markets are coded by ('' when not sent).
    county: str = ""

    @property
    def lob(self) -> str | None:
        """HD03 of the first coverage (the plan's line-of-business code), if any."""
        return self.coverages[0].insurance_line if self.coverages else None

    @property
    def eligibility_start(self) -> dt.date | None:
        if self.member_start is not None:
            return self.member_start
        starts = [c.start for c in self.coverages if c.start is not None]
        return min(starts) if starts else None

    @property
    def eligibility_end(self) -> dt.date | None:
        if self.member_end is not None:
            return self.member_end
        if not self.coverages or any(c.end is None for c in self.coverages):
            return None
        return max(c.end for c in self.coverages if c.end is not None)


@dataclass
class Parse834Result:
    """Everything read from one 834 file; ``accepted`` when there is no error.

    ``members`` holds the members unless they were handed to an ``on_members`` consumer as they were
    read (a big file); ``member_count`` and :attr:`is_full_file` are right either way.
    """

    interchange: Interchange | None
    separators: Separators | None
    groups: list[FunctionalGroup]
    members: list[Member834]
    errors: list[Problem]
    warnings: list[Problem]
    segment_count: int = 0
    #: Members read and members sent with INS03 030, when they were counted as they were handed on
    #: (``None``: count ``members``).
    streamed_members: int | None = None
    streamed_audit_members: int | None = None

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def member_count(self) -> int:
        return len(self.members) if self.streamed_members is None else self.streamed_members

    @property
    def transactions(self) -> list[TransactionSet]:
        return [t for g in self.groups for t in g.transactions]

    @property
    def action(self) -> str | None:
        """BGN08 of the first transaction set."""
        ts = self.transactions
        return ts[0].action if ts else None

    @property
    def is_full_file(self) -> bool:
        """A full file (audit): BGN08 4/RX, or every member sent with INS03 030."""
        ts = self.transactions
        if ts and all(t.is_full_file for t in ts):
            return True
        if self.streamed_members is not None:
            return self.streamed_members > 0 and self.streamed_audit_members == self.streamed_members
        return bool(self.members) and all(m.maintenance_type == AUDIT for m in self.members)


#: What :func:`parse_834` reads: the file's bytes or text, or a binary stream (an open file).
X12Input = bytes | bytearray | str | IO[bytes]
MembersConsumer = Callable[[list[Member834]], None]


# --------------------------------------------------------------------------- parsing
def parse_834(
    data: X12Input,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    on_members: MembersConsumer | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Parse834Result:
    """Parse an 834 file into members, envelope information and positioned issues.

    ``data`` is the file's bytes or text, or a binary stream read ``chunk_size`` bytes at a time
    (:func:`enrollment.ingest.x12.open_source`): the same file gives the same result either way.
    With ``on_members``, members are not kept: they are handed to it in lists of up to ``batch_size``
    in file order as they are read (the last, shorter list at the end), so memory does not grow with
    the file; the consumer sees the members of a file that turns out rejected too (the errors are
    known only at the end). Never raises on bad input: every problem is a
    :class:`~core.domain.problems.Problem` (located by :data:`X12_COORDINATES`) in ``errors`` or
    ``warnings``. Linear in the file size (a 10,000-member file takes well under a second).
    """
    parser = _Parser(data, max_bytes, chunk_size=chunk_size, on_members=on_members, batch_size=batch_size)
    parser.run()
    return parser.result()


class _MemberBuilder:
    __slots__ = (
        "member_id", "ref_seen", "last_name", "first_name", "name_seen", "birth_date", "sex",
        "maintenance_type", "subscriber", "relationship", "member_start", "member_end",
        "end_at", "coverages", "segment_index", "position", "st_control", "death_date", "county",
    )  # fmt: skip

    def __init__(self, ins: list[str], segment_index: int, position: int, st_control: str) -> None:
        self.member_id: str | None = None
        self.ref_seen = False
        self.last_name = ""
        self.first_name = ""
        self.name_seen = False
        self.birth_date: dt.date | None = None
        self.sex: str | None = None
        self.maintenance_type = _el(ins, 3)
        self.subscriber = _el(ins, 1) == "Y"
        self.relationship = _el(ins, 2)
        self.member_start: dt.date | None = None
        self.member_end: dt.date | None = None
        self.end_at: tuple[int, int] | None = None
        self.coverages: list[Coverage] = []
        self.segment_index = segment_index
        self.position = position
        self.st_control = st_control
        self.death_date: dt.date | None = None
        self.county = ""


class _CoverageBuilder:
    __slots__ = ("hd", "start", "end", "end_at")

    def __init__(self, hd: list[str]) -> None:
        self.hd = hd
        self.start: dt.date | None = None
        self.end: dt.date | None = None
        self.end_at: tuple[int, int] | None = None

    def build(self) -> Coverage:
        hd = self.hd
        return Coverage(_el(hd, 1), _el(hd, 3), _el(hd, 4), _el(hd, 5), self.start, self.end)


class _Parser(X12Reader):
    """The 834's transaction body on the shared envelope reader."""

    def __init__(
        self,
        data: X12Input,
        max_bytes: int,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_members: MembersConsumer | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(data, max_bytes, chunk_size=chunk_size)
        self.members: list[Member834] = []
        self.on_members = on_members
        self.batch_size = max(1, batch_size)
        self.member_total = 0
        self.audit_total = 0
        self.member: _MemberBuilder | None = None
        self.coverage: _CoverageBuilder | None = None
        self.bgn_seen = False

    def result(self) -> Parse834Result:
        if self.on_members is not None and self.members:
            self.on_members(self.members)
            self.members = []
        streamed = self.on_members is not None
        return Parse834Result(
            self.interchange,
            self.separators,
            self.groups,
            self.members,
            self.errors,
            self.warnings,
            self.index,
            streamed_members=self.member_total if streamed else None,
            streamed_audit_members=self.audit_total if streamed else None,
        )

    def reset_for_refusal(self) -> None:
        super().reset_for_refusal()
        self.members, self.member_total, self.audit_total = [], 0, 0
        self.member = self.coverage = None

    # -- the envelope's hooks
    def check_group(self, group: FunctionalGroup) -> None:
        if group.functional_id != "BE":
            self.error(
                UNSUPPORTED_TRANSACTION,
                f"GS01 is {group.functional_id!r}; an 834 group is BE (benefit enrollment)",
                element=1,
                value=group.functional_id,
            )
        if group.version != SUPPORTED_VERSION:
            self.error(
                UNSUPPORTED_TRANSACTION,
                f"GS08 is {group.version!r}; only {SUPPORTED_VERSION} is supported",
                element=8,
                value=group.version,
            )

    def start_transaction(self, e: list[str], ts: TransactionSet) -> None:
        self.member = None
        self.coverage = None
        self.bgn_seen = False
        if _el(e, 1) != "834":
            self.error(
                UNSUPPORTED_TRANSACTION, f"ST01 is {_el(e, 1)!r}; expected 834", element=1, value=_el(e, 1)
            )
        version = _el(e, 3)
        if version and version != SUPPORTED_VERSION:
            self.error(
                UNSUPPORTED_TRANSACTION,
                f"ST03 is {version!r}; only {SUPPORTED_VERSION} is supported",
                element=3,
                value=version,
            )

    def close_body(self) -> None:
        self._finish_member()

    def end_transaction(self, ts: TransactionSet) -> None:
        if not self.bgn_seen:
            self.error(MISSING_BGN, "the transaction set has no BGN segment", seg_id="BGN", position=2,
                       index=ts.segment_index + 1, loop="HEADER")  # fmt: skip

    # -- transaction body
    def body(self, sid: str, e: list[str]) -> None:
        loop = self.loop
        m: _MemberBuilder | None
        if sid == "INS":
            self._finish_member()
            assert self.ts is not None
            self.loop = "2000"
            m = _MemberBuilder(e, self.index, self.ts.segment_count, self.ts.control_number)
            self.member = m
            if m.maintenance_type not in MAINTENANCE_TYPES:
                self.error(
                    INVALID_MAINTENANCE_TYPE,
                    f"INS03 maintenance type {m.maintenance_type!r} is not one of "
                    f"{', '.join(sorted(MAINTENANCE_TYPES))}",
                    element=3,
                    value=m.maintenance_type,
                )
            if _el(e, 12) or _el(e, 11):
                m.death_date = self._date(e, 12)  # INS11 is the format (D8), INS12 the date of death
            return
        if sid == "BGN":
            if loop != "HEADER":
                self.error(UNEXPECTED_SEGMENT, "BGN must follow ST")
                return
            self._bgn(e)
            return
        m = self.member
        if m is None:
            if sid == "DTP":
                self._date(e, 3)
            return  # header segments (REF*38, DTP*007, QTY, N1 loops): nothing to load
        if sid == "REF":
            if loop == "2000" and _el(e, 1) == "0F":
                m.ref_seen = True
                m.member_id = _el(e, 2) or None
                if m.member_id is None:
                    self.error(MISSING_MEMBER_ID, "REF*0F has no subscriber identifier", element=2)
            return
        if sid == "DTP":
            self._member_dtp(m, e, loop)
            return
        if sid == "NM1":
            code = _el(e, 1)
            if loop in _MEMBER_LOOPS:
                new_loop = _NM1_2100.get(code, "2100G")
                self.loop = new_loop
                if new_loop == "2100A":
                    m.name_seen = True
                    m.last_name = _el(e, 3)
                    m.first_name = _el(e, 4)
                    if not m.last_name:
                        self.error(MISSING_MEMBER_NAME, "NM103 (member last name) is empty", element=3)
            elif loop in ("2300", "2310"):
                self.loop = "2310"
            elif loop in ("2320", "2330"):
                self.loop = "2330"
            return
        if sid == "DMG":
            if loop == "2100A":
                self._dmg(m, e)
            return
        if sid == "N4":
            if loop == "2100A" and _el(e, 5) == "CY":
                m.county = _el(e, 6)
            return
        if sid == "HD":
            self._finish_coverage()
            self.coverage = _CoverageBuilder(e)
            self.loop = "2300"
            return
        if sid == "DSB":
            self.loop = "2200"
        elif sid == "LX":
            self.loop = "2710" if loop in ("2700", "2710", "2750") else "2310"
        elif sid == "COB":
            self.loop = "2320"
        elif sid == "LS":
            self.loop = "2700"
        elif sid == "N1" and loop in ("2700", "2710"):
            self.loop = "2750"
        elif sid == "LE":
            self.loop = "2000END"

    def _bgn(self, e: list[str]) -> None:
        ts = self.ts
        assert ts is not None
        self.bgn_seen = True
        ts.purpose = _el(e, 1)
        ts.reference = _el(e, 2)
        ts.created = _d8(_el(e, 3))
        if _el(e, 3) and ts.created is None:
            self.error(
                INVALID_DATE, f"BGN03 {_el(e, 3)!r} is not a date (CCYYMMDD)", element=3, value=_el(e, 3)
            )
        ts.action = _el(e, 8)
        if ts.action not in BGN08_ACTIONS:
            self.error(
                INVALID_CODE,
                f"BGN08 action code {ts.action or '(empty)'!r} is not 2 (change), 4 (verify) or RX (replace)",
                element=8,
                value=ts.action,
            )

    def _date(self, e: list[str], element: int) -> dt.date | None:
        fmt = _el(e, element - 1)
        text = _el(e, element)
        if fmt != "D8":
            self.error(
                INVALID_CODE,
                f"{self.seg_id}{element - 1:02d} date format is {fmt or '(empty)'!r}; expected D8",
                element=element - 1,
                value=fmt,
            )
            return None
        value = _d8(text)
        if value is None:
            self.error(
                INVALID_DATE,
                f"{self.seg_id}{element:02d} {text or '(empty)'!r} is not a valid date (CCYYMMDD)",
                element=element,
                value=text,
            )
        return value

    def _member_dtp(self, m: _MemberBuilder, e: list[str], loop: str) -> None:
        qualifier = _el(e, 1)
        if loop == "2000":
            if qualifier not in MEMBER_DATE_QUALIFIERS:
                self.warn(
                    UNKNOWN_DATE_QUALIFIER,
                    f"DTP*{qualifier} is not a member-level date in {SUPPORTED_VERSION}; it was ignored",
                    element=1,
                    value=qualifier,
                )
                return
            value = self._date(e, 3)
            if qualifier == "356":
                m.member_start = value
            elif qualifier == "357":
                m.member_end = value
                m.end_at = (self.index, self.position())
            return
        value = self._date(e, 3)
        cov = self.coverage
        if loop == "2300" and cov is not None:
            if qualifier == "348":
                cov.start = value
            elif qualifier == "349":
                cov.end = value
                cov.end_at = (self.index, self.position())

    def _dmg(self, m: _MemberBuilder, e: list[str]) -> None:
        if _el(e, 1) != "D8":
            self.error(
                INVALID_CODE, f"DMG01 is {_el(e, 1) or '(empty)'!r}; expected D8", element=1, value=_el(e, 1)
            )
        else:
            text = _el(e, 2)
            m.birth_date = _d8(text)
            if m.birth_date is None:
                self.error(INVALID_DATE, f"DMG02 birth date {text or '(empty)'!r} is not a valid date (CCYYMMDD)",
                           element=2, value=text)  # fmt: skip
        sex = _el(e, 3)
        if sex:
            if sex in SEX_CODES:
                m.sex = sex
            else:
                self.error(INVALID_CODE, f"DMG03 sex {sex!r} is not F, M or U", element=3, value=sex)

    def _finish_coverage(self) -> None:
        cov = self.coverage
        m = self.member
        if cov is None or m is None:
            return
        self.coverage = None
        if cov.start is not None and cov.end is not None and cov.end < cov.start and cov.end_at:
            index, position = cov.end_at
            self.error(
                END_BEFORE_START,
                f"coverage end {cov.end} (DTP*349) is before its start {cov.start} (DTP*348)",
                element=3, seg_id="DTP", index=index, position=position, loop="2300",
            )  # fmt: skip
        m.coverages.append(cov.build())

    def _finish_member(self) -> None:
        m = self.member
        if m is None:
            return
        self._finish_coverage()
        self.member = None
        where = {"index": m.segment_index + 1, "position": m.position + 1, "loop": "2000"}
        if not m.ref_seen:
            self.error(
                MISSING_MEMBER_ID,
                f"the member at INS segment {m.segment_index} has no REF*0F (subscriber identifier)",
                seg_id="REF",
                **where,
            )
        if not m.name_seen:
            self.error(
                MISSING_MEMBER_NAME,
                f"the member at INS segment {m.segment_index} has no NM1*IL (member name)",
                seg_id="NM1",
                **where,
            )
        if (
            m.member_start is not None
            and m.member_end is not None
            and m.member_end < m.member_start
            and m.end_at
        ):
            index, position = m.end_at
            self.error(
                END_BEFORE_START,
                f"eligibility end {m.member_end} (DTP*357) is before its start {m.member_start} (DTP*356)",
                element=3, seg_id="DTP", index=index, position=position, loop="2000",
            )  # fmt: skip
        if m.maintenance_type == AUDIT:
            self.audit_total += 1
        self.member_total += 1
        members = self.members
        members.append(
            Member834(
                member_id=m.member_id,
                last_name=m.last_name,
                first_name=m.first_name,
                birth_date=m.birth_date,
                sex=m.sex,
                maintenance_type=m.maintenance_type,
                subscriber=m.subscriber,
                relationship=m.relationship,
                member_start=m.member_start,
                member_end=m.member_end,
                coverages=tuple(m.coverages),
                segment_index=m.segment_index,
                position=m.position,
                st_control=m.st_control,
                death_date=m.death_date,
                county=m.county,
            )
        )
        if self.on_members is not None and len(members) >= self.batch_size:
            self.on_members(members)
            self.members = []
