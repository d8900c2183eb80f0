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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from core.domain.problems import Problem

SUPPORTED_VERSION = "005010X220A1"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

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
FULL_FILE_ACTIONS = frozenset({"4", "RX"})

#: Loop 2000 DTP qualifiers listed by 005010X220A1 (356/357 are the eligibility dates).
MEMBER_DATE_QUALIFIERS = frozenset(
    {
        "050", "286", "296", "297", "300", "301", "303", "336", "337", "338", "339", "340",
        "341", "350", "351", "356", "357", "383", "385", "386", "393", "394", "473", "474",
    }
)  # fmt: skip
SEX_CODES = frozenset({"F", "M", "U"})

# --------------------------------------------------------------------------- issue codes
NOT_X12 = "not_x12"
INVALID_ISA = "invalid_isa"
FILE_TOO_LARGE = "file_too_large"
INVALID_SEGMENT = "invalid_segment"
UNEXPECTED_SEGMENT = "unexpected_segment"
UNSUPPORTED_TRANSACTION = "unsupported_transaction"
MISSING_BGN = "missing_bgn"
INVALID_MAINTENANCE_TYPE = "invalid_maintenance_type"
MISSING_MEMBER_ID = "missing_member_id"
MISSING_MEMBER_NAME = "missing_member_name"
INVALID_DATE = "invalid_date"
INVALID_CODE = "invalid_code"
END_BEFORE_START = "end_before_start"
SEGMENT_COUNT_MISMATCH = "segment_count_mismatch"
CONTROL_NUMBER_MISMATCH = "control_number_mismatch"
DUPLICATE_CONTROL_NUMBER = "duplicate_control_number"
TRANSACTION_COUNT_MISMATCH = "transaction_count_mismatch"
GROUP_COUNT_MISMATCH = "group_count_mismatch"
MISSING_SE = "missing_se"
MISSING_GE = "missing_ge"
MISSING_IEA = "missing_iea"  # the file is truncated
# Warning codes.
UNKNOWN_DATE_QUALIFIER = "unknown_date_qualifier"
WHITESPACE_BETWEEN_SEGMENTS = "whitespace_between_segments"
EMPTY_SEGMENT = "empty_segment"
NOT_UTF8 = "not_utf8"

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
class Separators:
    element: str
    sub_element: str
    segment: str
    repetition: str | None


#: Where a problem is in an X12 file: the keys of a :class:`~core.domain.problems.Problem`'s
#: ``where``, everything a 999 and a person need to find it. ``segment_index`` counts segments from
#: the start of the file (ISA = 1), as pyx12 and most editors do; ``position`` counts inside the
#: transaction set (ST = 1), which is what the 999's IK302 carries; ``element`` is 1-based;
#: ``value`` is the bad element's text; ``st_control``/``gs_control`` say which transaction set and
#: functional group the segment belongs to (``None`` outside one).
X12_COORDINATES = (
    "segment_index",
    "segment_id",
    "position",
    "element",
    "value",
    "loop",
    "st_control",
    "gs_control",
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
class TransactionSet:
    control_number: str
    version: str
    segment_index: int
    transaction_type: str = "834"  # ST01
    purpose: str = ""  # BGN01
    reference: str = ""  # BGN02
    created: dt.date | None = None  # BGN03
    action: str = ""  # BGN08
    segment_count: int = 0  # counted ST..SE
    declared_count: int | None = None  # SE01
    closed: bool = False

    @property
    def is_full_file(self) -> bool:
        """BGN08 4 (verify) or RX (replace): the file replaces the plan's whole list."""
        return self.action in FULL_FILE_ACTIONS


@dataclass
class FunctionalGroup:
    control_number: str
    functional_id: str
    sender: str
    receiver: str
    version: str
    segment_index: int
    transactions: list[TransactionSet] = field(default_factory=list)
    declared_count: int | None = None
    closed: bool = False


@dataclass(frozen=True, slots=True)
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str
    time: str
    control_number: str
    version: str
    usage: str  # P production, T test


@dataclass
class Parse834Result:
    """Everything read from one 834 file; ``accepted`` when there is no error."""

    interchange: Interchange | None
    separators: Separators | None
    groups: list[FunctionalGroup]
    members: list[Member834]
    errors: list[Problem]
    warnings: list[Problem]
    segment_count: int = 0

    @property
    def accepted(self) -> bool:
        return not self.errors

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
        return bool(self.members) and all(m.maintenance_type == AUDIT for m in self.members)


# --------------------------------------------------------------------------- parsing
def parse_834(data: bytes | str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Parse834Result:
    """Parse an 834 file into members, envelope information and positioned issues.

    Never raises on bad input: every problem is a :class:`~core.domain.problems.Problem` (located by :data:`X12_COORDINATES`) in ``errors`` or
    ``warnings``. Linear in the file size (a 10,000-member file takes well under a second).
    """
    return _Parser(data, max_bytes).run()


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


def _el(elements: list[str], n: int) -> str:
    return elements[n] if len(elements) > n else ""


def _d8(text: str) -> dt.date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


class _Parser:
    def __init__(self, data: bytes | str, max_bytes: int) -> None:
        self.data = data
        self.max_bytes = max_bytes
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.groups: list[FunctionalGroup] = []
        self.members: list[Member834] = []
        self.interchange: Interchange | None = None
        self.separators: Separators | None = None
        # Position state.
        self.index = 0
        self.seg_id = ""
        self.group: FunctionalGroup | None = None
        self.ts: TransactionSet | None = None
        self.loop = ""
        self.member: _MemberBuilder | None = None
        self.coverage: _CoverageBuilder | None = None
        self.bgn_seen = False
        self.iea_seen = False
        self.warned: set[str] = set()

    # -- issue helpers
    def _issue(self, code: str, message: str, *, element: int | None = None, value: str = "",
               seg_id: str | None = None, index: int | None = None, position: int | None = None,
               loop: str | None = None) -> Problem:  # fmt: skip
        ts = self.ts
        in_ts = ts if ts is not None and not ts.closed else None
        group = self.group if self.group is not None and not self.group.closed else None
        return Problem(
            code,
            message,
            where={
                "segment_index": self.index if index is None else index,
                "segment_id": self.seg_id if seg_id is None else seg_id,
                "position": (in_ts.segment_count if in_ts is not None else None)
                if position is None
                else position,
                "element": element,
                "value": value,
                "loop": self.loop if loop is None else loop,
                "st_control": in_ts.control_number if in_ts is not None else None,
                "gs_control": group.control_number if group is not None else None,
            },
        )

    def error(self, code: str, message: str, **kw: object) -> None:
        self.errors.append(self._issue(code, message, **kw))  # type: ignore[arg-type]

    def warn(self, code: str, message: str, *, once: bool = False, **kw: object) -> None:
        if once:
            if code in self.warned:
                return
            self.warned.add(code)
        self.warnings.append(self._issue(code, message, **kw))  # type: ignore[arg-type]

    def _result(self) -> Parse834Result:
        return Parse834Result(
            self.interchange,
            self.separators,
            self.groups,
            self.members,
            self.errors,
            self.warnings,
            self.index,
        )

    # -- top level
    def run(self) -> Parse834Result:
        data = self.data
        if len(data) > self.max_bytes:
            self.error(FILE_TOO_LARGE, f"the file is {len(data):,} bytes; the limit is {self.max_bytes:,}")
            return self._result()
        if isinstance(data, bytes | bytearray):
            try:
                text = bytes(data).decode("utf-8")
            except UnicodeDecodeError:
                text = bytes(data).decode("latin-1")
                self.warn(NOT_UTF8, "the file is not UTF-8; it was read as Latin-1")
        else:
            text = data
        text = text.lstrip("\ufeff \t\r\n")
        if not text.startswith("ISA"):
            self.error(
                NOT_X12,
                "this is not an X12 file: it does not start with an ISA segment",
                seg_id="ISA",
                index=1,
            )
            return self._result()
        seps, isa_end = self._separators(text)
        if seps is None:
            return self._result()
        self.separators = seps
        self._isa(text[: isa_end - 1].split(seps.element))
        if self.interchange is None:
            return self._result()
        self._segments(text, isa_end, seps)
        return self._result()

    def _separators(self, text: str) -> tuple[Separators | None, int]:
        self.index = 1
        self.seg_id = "ISA"
        elem = text[3] if len(text) > 3 else ""
        if not elem or elem.isalnum() or elem.isspace():
            self.error(
                INVALID_ISA, "the ISA segment has no valid element separator in its 4th character", element=1
            )
            return None, 0
        head = text[:512]
        parts = head.split(elem, 16)
        if len(parts) < 17 or len(parts[16]) < 2:
            self.error(INVALID_ISA, "the ISA segment is incomplete: it must have 16 elements", element=16)
            return None, 0
        sub, term = parts[16][0], parts[16][1]
        isa_end = len(head) - len(parts[16]) + 2
        if term.isalnum() or term == elem or term == sub or sub.isalnum():
            self.error(
                INVALID_ISA,
                f"ISA16 must be one sub-element separator followed by the segment terminator, found {parts[16][:2]!r}",
                element=16,
                value=parts[16][:2],
            )
            return None, 0
        repetition = parts[11] if len(parts[11]) == 1 and not parts[11].isalnum() else None
        if isa_end != 106:
            self.warn(
                INVALID_ISA,
                f"the ISA segment is {isa_end} characters long instead of 106 (fixed-width elements are padded)",
            )
        return Separators(elem, sub, term, repetition), isa_end

    def _isa(self, e: list[str]) -> None:
        if len(e) < 17:
            self.error(INVALID_ISA, "the ISA segment must have 16 elements")
            return
        self.interchange = Interchange(
            sender_qualifier=e[5].strip(),
            sender_id=e[6].strip(),
            receiver_qualifier=e[7].strip(),
            receiver_id=e[8].strip(),
            date=e[9],
            time=e[10],
            control_number=e[13].strip(),
            version=e[12],
            usage=e[15],
        )
        if not e[13].strip().isdigit():
            self.error(
                INVALID_ISA, "ISA13 (interchange control number) must be numeric", element=13, value=e[13]
            )

    def _segments(self, text: str, start: int, seps: Separators) -> None:
        elem, term = seps.element, seps.segment
        pieces = text[start:].split(term)
        handlers: dict[str, Callable[[list[str]], None]] = {
            "GS": self._gs, "GE": self._ge, "ST": self._st, "SE": self._se, "IEA": self._iea,
            "ISA": self._second_isa,
        }  # fmt: skip
        body = self._body
        strip_chars = "\r\n"
        for raw in pieces:
            seg = raw.lstrip(strip_chars)
            if seg[:1] in (" ", "\t"):
                stripped = seg.lstrip(" \t\r\n")
                if stripped:
                    self.warn(
                        WHITESPACE_BETWEEN_SEGMENTS,
                        "spaces between segments were ignored (first before segment "
                        f"{self.index + 1}, {stripped.split(elem, 1)[0]})",
                        once=True,
                        index=self.index + 1,
                        seg_id=stripped.split(elem, 1)[0],
                    )
                seg = stripped
            seg = seg.rstrip(strip_chars)
            if not seg:
                continue
            self.index += 1
            e = seg.split(elem)
            sid = e[0]
            self.seg_id = sid
            if self.ts is not None:
                self.ts.segment_count += 1
            if self.iea_seen:
                self.error(UNEXPECTED_SEGMENT, f"segment {sid} comes after the IEA that ends the interchange")
                continue
            if not (2 <= len(sid) <= 3 and sid.isalnum() and sid == sid.upper()):
                self.error(INVALID_SEGMENT, f"{sid[:20]!r} is not a segment identifier")
                continue
            handler = handlers.get(sid)
            if handler is not None:
                handler(e)
            elif self.ts is not None:
                body(sid, e)
            else:
                self.error(UNEXPECTED_SEGMENT, f"segment {sid} is outside a transaction set (ST...SE)")
        self._finish_file()

    # -- envelope
    def _second_isa(self, e: list[str]) -> None:
        self.error(UNEXPECTED_SEGMENT, "only one interchange (ISA...IEA) per file is supported")

    def _gs(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        group = FunctionalGroup(
            control_number=_el(e, 6),
            functional_id=_el(e, 1),
            sender=_el(e, 2),
            receiver=_el(e, 3),
            version=_el(e, 8),
            segment_index=self.index,
        )
        self.groups.append(group)
        self.group = group
        self.loop = ""
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

    def _ge(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        group = self.group
        if group is None or group.closed:
            self.error(UNEXPECTED_SEGMENT, "GE without a matching GS")
            return
        count = _el(e, 1)
        group.declared_count = int(count) if count.isdigit() else None
        if group.declared_count != len(group.transactions):
            self.error(
                TRANSACTION_COUNT_MISMATCH,
                f"GE01 says {count or '(empty)'} transaction sets; the group has {len(group.transactions)}",
                element=1,
                value=count,
            )
        if _el(e, 2) != group.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"GE02 {_el(e, 2)!r} does not match GS06 {group.control_number!r}",
                element=2,
                value=_el(e, 2),
            )
        group.closed = True

    def _st(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        group = self.group
        if group is None or group.closed:
            self.error(UNEXPECTED_SEGMENT, "ST outside a functional group (GS...GE)")
            # Still read the transaction so its own problems are reported.
            group = FunctionalGroup("", "", "", "", "", self.index)
            self.groups.append(group)
            self.group = group
        control = _el(e, 2)
        duplicate = any(t.control_number == control for t in group.transactions)
        ts = TransactionSet(control, _el(e, 3), self.index, transaction_type=_el(e, 1), segment_count=1)
        group.transactions.append(ts)
        self.ts = ts
        if duplicate:
            self.error(
                DUPLICATE_CONTROL_NUMBER,
                f"ST02 {control!r} is used twice in this functional group",
                element=2,
                value=control,
            )
        self.loop = "HEADER"
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

    def _se(self, e: list[str]) -> None:
        ts = self.ts
        if ts is None:
            self.error(UNEXPECTED_SEGMENT, "SE without a matching ST")
            return
        self._finish_member()
        if not self.bgn_seen:
            self.error(MISSING_BGN, "the transaction set has no BGN segment", seg_id="BGN", position=2,
                       index=ts.segment_index + 1, loop="HEADER")  # fmt: skip
        count = _el(e, 1)
        ts.declared_count = int(count) if count.isdigit() else None
        if ts.declared_count != ts.segment_count:
            self.error(
                SEGMENT_COUNT_MISMATCH,
                f"SE01 says {count or '(empty)'} segments; the transaction set has {ts.segment_count}",
                element=1,
                value=count,
            )
        if _el(e, 2) != ts.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"SE02 {_el(e, 2)!r} does not match ST02 {ts.control_number!r}",
                element=2,
                value=_el(e, 2),
            )
        ts.closed = True
        self.ts = None
        self.loop = ""

    def _iea(self, e: list[str]) -> None:
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        count = _el(e, 1)
        real_groups = [g for g in self.groups if g.functional_id or g.control_number]
        if not count.isdigit() or int(count) != len(real_groups):
            self.error(
                GROUP_COUNT_MISMATCH,
                f"IEA01 says {count or '(empty)'} functional groups; the interchange has {len(real_groups)}",
                element=1,
                value=count,
            )
        assert self.interchange is not None
        if _el(e, 2) != self.interchange.control_number:
            self.error(
                CONTROL_NUMBER_MISMATCH,
                f"IEA02 {_el(e, 2)!r} does not match ISA13 {self.interchange.control_number!r}",
                element=2,
                value=_el(e, 2),
            )
        self.iea_seen = True

    def _close_ts_missing_se(self) -> None:
        ts = self.ts
        assert ts is not None
        self._finish_member()
        ts.segment_count -= 0 if self.seg_id == "END" else 1  # the segment being read is not part of it
        self.error(
            MISSING_SE,
            f"transaction set {ts.control_number!r} (ST at segment {ts.segment_index}) has no SE",
            seg_id="SE",
        )
        ts.closed = True
        self.ts = None
        self.loop = ""

    def _close_group_missing_ge(self) -> None:
        group = self.group
        assert group is not None
        self.error(MISSING_GE, f"functional group {group.control_number!r} has no GE", seg_id="GE")
        group.closed = True

    def _finish_file(self) -> None:
        self.seg_id = "END"
        if self.ts is not None:
            self._close_ts_missing_se()
        if self.group is not None and not self.group.closed:
            self._close_group_missing_ge()
        if not self.iea_seen:
            self.error(MISSING_IEA, "the file ends without an IEA segment: it is truncated", seg_id="IEA")

    # -- transaction body
    def _body(self, sid: str, e: list[str]) -> None:
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
                m.end_at = (self.index, self._position())
            return
        value = self._date(e, 3)
        cov = self.coverage
        if loop == "2300" and cov is not None:
            if qualifier == "348":
                cov.start = value
            elif qualifier == "349":
                cov.end = value
                cov.end_at = (self.index, self._position())

    def _position(self) -> int:
        return self.ts.segment_count if self.ts is not None else 0

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
        self.members.append(
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
