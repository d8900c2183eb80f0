"""Read a plan's encounters sent as X12 837 into claim lines (pure: no Django).

Professional encounters are 837P (005010X222A1), institutional ones 837I (005010X223A2). One
:class:`~claims.records.ClaimLine` per service line (loop 2400), with the plan's adjudication of
the line (loop 2430: ``SVD02`` paid amount, ``DTP*573`` paid date).

The envelope is read by the X12 machinery the 834 reader uses too (:mod:`enrollment.ingest.x12`):
separators from the ISA, ISA/IEA, GS/GE and ST/SE control numbers and counts, a truncated file,
whitespace between segments, the file size limit, a file read as a stream chunk by chunk.
:class:`_Parser837` fills in its hooks: GS01/GS08 and ST01/ST03 (``HC`` and the two 837 versions),
the BHT header, and the transaction body. Every problem therefore carries the 834's
coordinates in ``where`` (``segment_index`` from ISA = 1, ``position`` in the transaction set from
ST = 1, ``segment_id``, ``element``, ``value``, ``loop``, ``st_control``, ``gs_control``) and, so
that the upload pages and API that show a row still point somewhere, ``row`` = ``segment_index``.

Each line is checked with the claims extract's rules (:mod:`claims.extract`) and its codes where
the rule is the same (``required``, ``not_a_date``, ``not_an_amount``, ``not_a_procedure_code``,
``paid_before_service``, ``duplicate_line``, ``claim_member_mismatch``, ...), plus the codes only
an 837 has (:data:`MISSING_ADJUDICATION`, :data:`MISSING_SERVICE_LINE`, :data:`MISSING_BHT`,
:data:`MULTIPLE_ADJUDICATIONS`). A file with any error is refused as a whole; ``records`` holds
the lines that were complete, so a person can see what the file contained.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any, NamedTuple

from claims.extract import (
    _BILL_TYPE,
    _DIAGNOSIS,
    _DIGITS2,
    _MODIFIER,
    _PROCEDURE,
    _REVENUE,
    DISCHARGE_BEFORE_ADMISSION,
    MAX_DIAGNOSES,
    MAX_ID,
    MAX_LINE_NUMBER,
    MAX_MODIFIERS,
    PAID_BEFORE_SERVICE,
    Result,
)
from claims.extract import _amount as extract_amount
from claims.records import FREQUENCY_CODES, INSTITUTIONAL, PROFESSIONAL, ClaimLine
from core.domain.problems import Problem
from enrollment.ingest import x12
from enrollment.ingest import x12_834 as r834
from enrollment.ingest.ack_999 import write_999
from enrollment.ingest.x12 import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_BYTES,
    FunctionalGroup,
    Interchange,
    Separators,
    TransactionSet,
    X12Reader,
)
from enrollment.ingest.x12 import d8 as _d8
from enrollment.ingest.x12 import el as _el
from enrollment.ingest.x12_834 import Parse834Result

PROFESSIONAL_VERSION = "005010X222A1"
INSTITUTIONAL_VERSION = "005010X223A2"
#: The implementation guide (GS08 / ST03) -> the claim type of its lines.
VERSIONS: Mapping[str, str] = {PROFESSIONAL_VERSION: PROFESSIONAL, INSTITUTIONAL_VERSION: INSTITUTIONAL}
FUNCTIONAL_ID = "HC"  # GS01 of a health care claim group

#: HI qualifiers read as diagnoses: principal (ICD-10 ABK, ICD-9 BK) and other (ABF, BF). Admitting
#: (ABJ), reason for visit (APR), external cause (ABN), procedures, value and occurrence codes are not.
PRINCIPAL_DIAGNOSIS = frozenset({"ABK", "BK"})
OTHER_DIAGNOSIS = frozenset({"ABF", "BF"})

# --------------------------------------------------------------------------- issue codes
# The envelope's codes are the 834's (x12.NOT_X12, SEGMENT_COUNT_MISMATCH, CONTROL_NUMBER_MISMATCH,
# UNSUPPORTED_TRANSACTION, MISSING_SE, ...; x12.INVALID_CODE for a DTP format qualifier); a line's
# are the claims extract's. Only these are the 837's own.
MISSING_BHT = "missing_bht"
MISSING_SERVICE_LINE = "missing_service_line"  # a CLM without LX, or an LX without SV1/SV2
MISSING_ADJUDICATION = "missing_adjudication"  # a line without SVD: an encounter says what was paid
MULTIPLE_ADJUDICATIONS = "multiple_adjudications"  # a line with two SVDs: which one the plan paid is unknown
# The claims extract's codes used here (same rule, same code).
REQUIRED = "required"
TOO_LONG = "too_long"
NOT_A_DATE = "not_a_date"
NOT_AN_AMOUNT = "not_an_amount"
NOT_A_LINE_NUMBER = "not_a_line_number"
UNKNOWN_FREQUENCY_CODE = "unknown_frequency_code"
NOT_A_BILL_TYPE = "not_a_bill_type"
NOT_A_PLACE_OF_SERVICE = "not_a_place_of_service"
NOT_A_REVENUE_CODE = "not_a_revenue_code"
NOT_A_PROCEDURE_CODE = "not_a_procedure_code"
NOT_A_MODIFIER = "not_a_modifier"
NOT_A_DIAGNOSIS_CODE = "not_a_diagnosis_code"
NOT_A_DISCHARGE_STATUS = "not_a_discharge_status"
SERVICE_TO_BEFORE_FROM = "service_to_before_from"
DISCHARGE_BEFORE_ADMISSION_CODE = "discharge_before_admission"
PAID_BEFORE_SERVICE_CODE = "paid_before_service"
DUPLICATE_LINE = "duplicate_line"
CLAIM_MEMBER_MISMATCH = "claim_member_mismatch"
CLAIM_TYPE_MISMATCH = "claim_type_mismatch"
NO_DATA_ROWS = "no_data_rows"

#: For the 999 only: the 834 code whose IK304/IK403 syntax code says what an 837 code means
#: (ack_999 maps codes to 999 codes by the 834's names). A missing segment or element is IK304 3 /
#: IK403 1 (as the 834's missing member id), a wrong date IK403 8 (as its invalid date); any other
#: code keeps its name and gets the 999's defaults (IK304 8, IK403 7 "invalid code value").
_ACK_AS = {
    MISSING_BHT: r834.MISSING_MEMBER_ID,
    MISSING_SERVICE_LINE: r834.MISSING_MEMBER_ID,
    MISSING_ADJUDICATION: r834.MISSING_MEMBER_ID,
    REQUIRED: r834.MISSING_MEMBER_ID,
    NO_DATA_ROWS: r834.MISSING_MEMBER_ID,
    NOT_A_DATE: x12.INVALID_DATE,
    SERVICE_TO_BEFORE_FROM: x12.INVALID_DATE,
    DISCHARGE_BEFORE_ADMISSION_CODE: x12.INVALID_DATE,
    PAID_BEFORE_SERVICE_CODE: x12.INVALID_DATE,
}

#: Where a CLM may come: after the subscriber (2000B) or patient (2000C) loop, or after another claim.
_CLAIM_LOOPS = frozenset(
    {
        "2000B",
        "2010BA",
        "2010BB",
        "2000C",
        "2010CA",
        "2300",
        "2310",
        "2320",
        "2330",
        "2400",
        "2410",
        "2420",
        "2430",
    }
)
_DATE_FORMATS = {"D8": 8, "DT": 12, "RD8": 17}
_BOM = b"\xef\xbb\xbf"


def is_x12(data: bytes) -> bool:
    """Whether ``data`` looks like an X12 interchange: ``ISA`` after an optional BOM and whitespace."""
    head = data[:1024]
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    return head.lstrip(b" \t\r\n").startswith(b"ISA")


@dataclass
class Result837(Result):
    """The claims extract's :class:`~claims.extract.Result` (``rows`` = each record's segment
    index: its LX), with what a 999 needs: the envelope as the 834 reader keeps it."""

    interchange: Interchange | None = None
    separators: Separators | None = None
    groups: list[FunctionalGroup] = field(default_factory=list)
    segment_count: int = 0

    @property
    def accepted(self) -> bool:
        return not self.errors

    @property
    def transactions(self) -> list[TransactionSet]:
        return [t for g in self.groups for t in g.transactions]


def read_837(
    data: bytes | IO[bytes],
    filename: str = "",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Result837:
    """Read and check a whole 837 file; ``records`` is only meaningful when ``errors`` is empty.

    Never raises on bad input. ``filename`` is accepted for symmetry with
    :func:`claims.extract.read_claims` (an 837 is recognised by its content, see :func:`is_x12`).
    """
    del filename
    return _Parser837(data, max_bytes, chunk_size=chunk_size).read()


def write_999_for_837(
    result: Result837,
    *,
    control_number: int,
    created: dt.datetime,
    sender_qualifier: str | None = None,
    sender_id: str | None = None,
    receiver_qualifier: str | None = None,
    receiver_id: str | None = None,
) -> str:
    """The 999 acknowledgement of an 837, written by the 834's :func:`~enrollment.ingest.ack_999.write_999`.

    ``write_999`` reads only the envelope and the problems of a ``Parse834Result``; the adapter
    (:func:`as_834_result`) gives it this file's with no members. Raises
    :class:`~enrollment.ingest.ack_999.AcknowledgementNotPossible` for a file without ISA and GS.
    """
    return write_999(
        as_834_result(result),
        control_number=control_number,
        created=created,
        sender_qualifier=sender_qualifier,
        sender_id=sender_id,
        receiver_qualifier=receiver_qualifier,
        receiver_id=receiver_id,
    )


def as_834_result(result: Result837) -> Parse834Result:
    """The shape :func:`~enrollment.ingest.ack_999.write_999` reads: envelope and problems, no members.

    Each 837-only code is renamed to the 834 code with the same 999 syntax code (:data:`_ACK_AS`);
    the copy is only for the 999, ``result`` is not changed.
    """

    def for_ack(problems: list[Problem]) -> list[Problem]:
        return [p.evolve(code=_ACK_AS[p.code]) if p.code in _ACK_AS else p for p in problems]

    return Parse834Result(
        result.interchange,
        result.separators,
        result.groups,
        [],
        for_ack(result.errors),
        for_ack(result.warnings),
        result.segment_count,
    )


# --------------------------------------------------------------------------- the reader
class _At(NamedTuple):
    """Where a segment is: what a deferred problem is reported at."""

    segment: int
    position: int
    loop: str
    seg_id: str


class _Line:
    def __init__(self, at: _At, number: int | None) -> None:
        self.at = at
        self.last = at  # the line's last segment: a missing segment is reported after it
        self.number = number
        self.bad = False
        self.service_seen = False
        self.revenue = ""
        self.procedure = ""
        self.modifiers: tuple[str, ...] = ()
        self.place = ""
        self.service: tuple[dt.date, dt.date] | None = None
        self.service_at: _At | None = None
        self.svd_at: _At | None = None
        self.paid_amount: Decimal | None = None
        self.paid_date: dt.date | None = None
        self.paid_at: _At | None = None


class _Claim:
    def __init__(self, at: _At, claim_type: str, member: str | None, member_at: _At) -> None:
        self.at = at
        self.last = at
        self.claim_type = claim_type
        self.member = member
        self.member_at = member_at
        self.bad = False
        self.claim_id = ""
        self.frequency = ""
        self.bill_type = ""
        self.place = ""
        self.principal: list[str] = []
        self.other: list[str] = []
        self.admission: dt.date | None = None
        self.discharge: dt.date | None = None
        self.discharge_at: _At | None = None
        self.discharge_hour_at: _At | None = None  # DTP*096 TM: discharged on the statement period's end
        self.admission_seen = False
        self.status = ""
        self.statement: tuple[dt.date, dt.date] | None = None
        self.lines: list[_Line] = []


class _Parser837(X12Reader):
    """The shared envelope reader with the 837's envelope checks and transaction body."""

    def __init__(
        self, data: bytes | IO[bytes], max_bytes: int, *, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        super().__init__(data, max_bytes, chunk_size=chunk_size)
        self.records: list[ClaimLine] = []
        self.rows: list[int] = []
        self.claim_type = ""  # of the open transaction set; "" when it is not an 837 we read
        self.bht_seen = False
        self.clm_seen = False
        self.subscriber: tuple[str | None, _At] | None = None
        self.patient: tuple[str | None, _At] | None = None
        self.in_patient = False
        self.claim: _Claim | None = None
        self.line: _Line | None = None
        self.seen_lines: dict[tuple[str, str, int], int] = {}
        self.claims_seen: dict[str, tuple[str, str, int]] = {}  # claim id -> (member, type, segment)

    def read(self) -> Result837:
        self.run()
        if not self.records and not self.errors:
            # A file without a transaction set (each transaction set without a claim is reported at its SE).
            self.error(NO_DATA_ROWS, "the file has no claim lines (CLM with LX)", index=self.index, seg_id="")
        return Result837(
            records=self.records,
            errors=self.errors,
            error_count=len(self.errors),
            warnings=self.warnings,
            rows=self.rows,
            interchange=self.interchange,
            separators=self.separators,
            groups=self.groups,
            segment_count=self.index,
        )

    # -- problems: the 834's, with ``row`` = segment index; an error marks the open line or claim
    def _issue(self, code: str, message: str, **kw: Any) -> Problem:
        problem = super()._issue(code, message, **kw)
        return problem.evolve(row=problem.where["segment_index"])

    def error(self, code: str, message: str, **kw: object) -> None:
        super().error(code, message, **kw)
        if self.line is not None:
            self.line.bad = True
        elif self.claim is not None:
            self.claim.bad = True

    def _at(self) -> _At:
        return _At(self.index, self.position(), self.loop, self.seg_id)

    def error_at(
        self,
        at: _At,
        code: str,
        message: str,
        *,
        element: int | None = None,
        value: str = "",
        seg_id: str | None = None,
    ) -> None:
        self.error(
            code,
            message,
            index=at.segment,
            position=at.position,
            loop=at.loop,
            seg_id=at.seg_id if seg_id is None else seg_id,
            element=element,
            value=value,
        )

    # -- the envelope's hooks: the 837's identifiers
    def check_group(self, group: FunctionalGroup) -> None:
        if group.functional_id != FUNCTIONAL_ID:
            self.error(
                x12.UNSUPPORTED_TRANSACTION,
                f"GS01 is {group.functional_id!r}; an 837 group is HC (health care claim)",
                element=1,
                value=group.functional_id,
            )
        if group.version not in VERSIONS:
            self.error(
                x12.UNSUPPORTED_TRANSACTION,
                f"GS08 is {group.version!r}; only {' and '.join(VERSIONS)} are supported",
                element=8,
                value=group.version,
            )

    def start_transaction(self, e: list[str], ts: TransactionSet) -> None:
        assert self.group is not None
        version = _el(e, 3) or self.group.version
        self.bht_seen = self.clm_seen = False
        self.subscriber = self.patient = None
        self.in_patient = False
        self.claim_type = VERSIONS.get(version, "")
        if _el(e, 1) != "837":
            self.claim_type = ""
            self.error(
                x12.UNSUPPORTED_TRANSACTION,
                f"ST01 is {_el(e, 1)!r}; expected 837",
                element=1,
                value=_el(e, 1),
            )
        if version not in VERSIONS:
            self.error(
                x12.UNSUPPORTED_TRANSACTION,
                f"ST03 is {version!r}; only {' and '.join(VERSIONS)} are supported",
                element=3,
                value=_el(e, 3),
            )

    def close_body(self) -> None:
        """The transaction set ends (SE, or a missing SE): its last claim is finished first."""
        self._finish_claim()

    def end_transaction(self, ts: TransactionSet) -> None:
        if not self.bht_seen and self.claim_type:
            self.error(
                MISSING_BHT,
                "the transaction set has no BHT segment",
                seg_id="BHT",
                position=2,
                index=ts.segment_index + 1,
                loop="HEADER",
            )
        if self.claim_type and not self.clm_seen:
            self.error(
                NO_DATA_ROWS,
                "the transaction set has no claim (CLM): an 837 sends at least one",
                seg_id="CLM",
                position=ts.segment_count,
                loop="2300",
            )

    # -- transaction body
    def body(self, sid: str, e: list[str]) -> None:
        if not self.claim_type:
            return  # an unsupported transaction set: reported at ST, its body is not read
        claim, line = self.claim, self.line
        self._dispatch(sid, e, self.loop)
        # The last segment of the open claim and line: a segment missing from them is reported after it.
        at = self._at()
        if claim is not None and self.claim is claim:
            claim.last = at
        if line is not None and self.line is line:
            line.last = at

    def _dispatch(self, sid: str, e: list[str], loop: str) -> None:
        if sid == "BHT":
            if loop != "HEADER":
                self.error(x12.UNEXPECTED_SEGMENT, "BHT must follow ST")
            self.bht_seen = True
        elif sid == "HL":
            self._hl(e)
        elif sid == "NM1":
            self._nm1(e, loop)
        elif sid == "SBR":
            self.loop = "2000B" if loop in ("2000B", "2010BA", "2010BB") else "2320"
        elif sid == "CLM":
            self._clm(e)
        elif sid == "LX":
            self._lx(e)
        elif sid == "SVD":
            self._svd(e)
        elif self.claim is None:
            return  # header, provider, subscriber and patient segments: nothing to load
        elif sid == "DTP":
            self._dtp(e, loop)
        elif sid == "HI" and loop == "2300":
            self._hi(e)
        elif sid == "CL1" and loop == "2300":
            self._cl1(e)
        elif sid in ("SV1", "SV2") and loop == "2400":
            self._service(sid, e)
        elif sid in ("LIN", "CTP") and loop in ("2400", "2410"):
            self.loop = "2410"

    def _hl(self, e: list[str]) -> None:
        self._finish_claim()
        level = _el(e, 3)
        if level == "22":
            self.loop = "2000B"
            self.subscriber = self.patient = None
            self.in_patient = False
        elif level == "23":
            self.loop = "2000C"
            self.patient = None
            self.in_patient = True
        else:
            self.loop = "2000A" if level == "20" else "2000"
            self.subscriber = self.patient = None
            self.in_patient = False

    def _nm1(self, e: list[str], loop: str) -> None:
        code = _el(e, 1)
        if loop in ("2000B", "2010BA", "2010BB"):
            if code == "IL":
                self.loop = "2010BA"
                self.subscriber = (_el(e, 9) or None, self._at())
            else:
                self.loop = "2010BB"
        elif loop in ("2000C", "2010CA"):
            if code == "QC":
                self.loop = "2010CA"
                self.patient = (_el(e, 9) or None, self._at())
        elif loop in ("2000A", "2010AA", "2010AB", "2010AC"):
            self.loop = "2010AA" if code == "85" else "2010AB"
        elif loop in ("2300", "2310"):
            self.loop = "2310"
        elif loop in ("2320", "2330"):
            self.loop = "2330"
        elif loop in ("2400", "2410", "2420"):
            self.loop = "2420"

    def _clm(self, e: list[str]) -> None:
        self._finish_claim()
        if self.loop not in _CLAIM_LOOPS:
            self.error(x12.UNEXPECTED_SEGMENT, "CLM outside a subscriber or patient loop (HL*22 or HL*23)")
            return
        self.loop = "2300"
        at = self._at()
        person = self.patient if self.in_patient else self.subscriber
        member, member_at = person if person is not None else (None, at)
        claim = _Claim(at, self.claim_type, member, member_at)
        self.claim = claim
        self.clm_seen = True
        if member is None:
            where = (
                "the patient (loop 2010CA NM1*QC)"
                if self.in_patient
                else "the subscriber (loop 2010BA NM1*IL)"
            )
            self.error_at(
                member_at,
                REQUIRED,
                f"{where} has no member id (NM109)",
                element=9 if person is not None else None,
                seg_id="NM1" if person is not None else "CLM",
            )
        elif len(member) > MAX_ID:
            self.error_at(
                member_at,
                TOO_LONG,
                f"NM109 member id has more than {MAX_ID} characters",
                element=9,
                value=member[:MAX_ID],
            )
        claim.claim_id = _el(e, 1)
        if not claim.claim_id:
            self.error(REQUIRED, "CLM01 (the claim id) is empty", element=1)
        elif len(claim.claim_id) > MAX_ID:
            self.error(TOO_LONG, f"CLM01 has more than {MAX_ID} characters", element=1, value=claim.claim_id)
        parts = _el(e, 5).split(self.separators.sub_element) if self.separators else []
        facility = parts[0] if parts else ""
        frequency = parts[2] if len(parts) > 2 else ""
        claim.frequency = frequency
        if frequency not in FREQUENCY_CODES:
            self.error(
                UNKNOWN_FREQUENCY_CODE,
                f"CLM05-3 claim frequency {frequency or '(empty)'!r} is not 1 (original), 7 (replacement) or 8 (void)",
                element=5,
                value=_el(e, 5),
            )
        if claim.claim_type == INSTITUTIONAL:
            match = (
                _BILL_TYPE.match(facility + frequency) if facility.isdigit() and len(facility) == 2 else None
            )
            if match:
                claim.bill_type = match.group(1)
            elif frequency in FREQUENCY_CODES:
                self.error(
                    NOT_A_BILL_TYPE if facility else REQUIRED,
                    f"CLM05-1 facility type {facility or '(empty)'!r} is not 2 digits (the bill type's first two, e.g. 11)",
                    element=5,
                    value=_el(e, 5),
                )
        elif facility and _DIGITS2.match(facility):
            claim.place = facility
        elif facility:
            self.error(
                NOT_A_PLACE_OF_SERVICE,
                f"CLM05-1 place of service {facility!r} is not 2 digits",
                element=5,
                value=_el(e, 5),
            )

    def _lx(self, e: list[str]) -> None:
        claim = self.claim
        if claim is None:
            self.error(x12.UNEXPECTED_SEGMENT, "LX (a service line) outside a claim (CLM)")
            return
        self.loop = "2400"
        text = _el(e, 1)
        number = int(text) if text.isdigit() and 1 <= int(text) <= MAX_LINE_NUMBER else None
        self.line = _Line(self._at(), number)
        claim.lines.append(self.line)
        if number is None:
            self.error(
                NOT_A_LINE_NUMBER,
                f"LX01 {text or '(empty)'!r} is not a line number from 1 to {MAX_LINE_NUMBER}",
                element=1,
                value=text,
            )

    def _service(self, sid: str, e: list[str]) -> None:
        line = self.line
        assert line is not None
        line.service_seen = True
        sub = self.separators.sub_element if self.separators else ":"
        composite = 1 if sid == "SV1" else 2
        if sid == "SV2":
            revenue = _el(e, 1)
            if not revenue:
                self.error(REQUIRED, "SV201 (the revenue code) is empty", element=1)
            elif _REVENUE.match(revenue):
                line.revenue = revenue.zfill(4)
            else:
                self.error(
                    NOT_A_REVENUE_CODE,
                    f"SV201 revenue code {revenue!r} is not 4 digits, e.g. 0450",
                    element=1,
                    value=revenue,
                )
        parts = _el(e, composite).split(sub)
        procedure = (parts[1] if len(parts) > 1 else "").upper()
        if procedure and not _PROCEDURE.match(procedure):
            self.error(
                NOT_A_PROCEDURE_CODE,
                f"{sid}{composite:02d}-2 procedure code {procedure!r} is not a CPT "
                "or HCPCS code of 5 letters and digits",
                element=composite,
                value=_el(e, composite),
            )
        elif not procedure and sid == "SV1":
            self.error(REQUIRED, "SV101-2 (the procedure code) is empty", element=1)
        line.procedure = procedure
        modifiers = tuple(m.upper() for m in parts[2:6] if m)
        if (len(parts) > 6 and any(parts[6:])) or not all(_MODIFIER.match(m) for m in modifiers):
            self.error(
                NOT_A_MODIFIER,
                f"{sid}{composite:02d}-3..6 modifiers are up to {MAX_MODIFIERS} codes of 2 letters or digits",
                element=composite,
                value=_el(e, composite),
            )
        line.modifiers = modifiers
        if sid == "SV1":
            place = _el(e, 5)
            if place and not _DIGITS2.match(place):
                self.error(
                    NOT_A_PLACE_OF_SERVICE,
                    f"SV105 place of service {place!r} is not 2 digits",
                    element=5,
                    value=place,
                )
            line.place = place

    def _svd(self, e: list[str]) -> None:
        line = self.line
        if line is None or self.loop not in ("2400", "2410", "2420", "2430"):
            self.error(x12.UNEXPECTED_SEGMENT, "SVD (a line's adjudication) outside a service line (LX)")
            return
        self.loop = "2430"
        at = self._at()
        if line.svd_at is not None:
            self.error(
                MULTIPLE_ADJUDICATIONS,
                f"the line already has an SVD at segment {line.svd_at.segment}: "
                "which payer's paid amount is the plan's cannot be told",
            )
            return
        line.svd_at = at
        text = _el(e, 2)
        amount = _amount(text)
        if not text:
            self.error(REQUIRED, "SVD02 (the paid amount) is empty", element=2)
        elif amount is None:
            self.error(
                NOT_AN_AMOUNT,
                f"SVD02 {text!r} is not an amount (0 or more, at most 2 decimal places)",
                element=2,
                value=text,
            )
        line.paid_amount = amount

    def _dtp(self, e: list[str], loop: str) -> None:
        claim, line, qualifier = self.claim, self.line, _el(e, 1)
        assert claim is not None
        if loop == "2300" and qualifier == "434":
            claim.statement = self._dtp_date(e, ("RD8",))
        elif loop == "2300" and qualifier == "435":
            span = self._dtp_date(e, ("D8", "DT"))
            claim.admission = span[0] if span else None
            claim.admission_seen = True
        elif loop == "2300" and qualifier == "096":
            # 005010X223A2 sends the discharge hour (TM): the date is the statement period's end.
            if _el(e, 2) == "TM":
                if not (len(_el(e, 3)) == 4 and _el(e, 3).isdigit()):
                    self.error(
                        NOT_A_DATE,
                        f"DTP03 {_el(e, 3) or '(empty)'!r} is not an hour (HHMM)",
                        element=3,
                        value=_el(e, 3),
                    )
                claim.discharge_hour_at = self._at()
                return
            span = self._dtp_date(e, ("D8", "DT"))
            claim.discharge, claim.discharge_at = (span[0] if span else None), self._at()
        elif loop == "2400" and qualifier == "472" and line is not None:
            line.service = self._dtp_date(e, ("D8", "RD8"))
            line.service_at = self._at()
        elif loop == "2430" and qualifier == "573" and line is not None:
            span = self._dtp_date(e, ("D8",))
            line.paid_date = span[0] if span else None
            line.paid_at = self._at()

    def _dtp_date(self, e: list[str], allowed: tuple[str, ...]) -> tuple[dt.date, dt.date] | None:
        """DTP02/DTP03 as (from, to): D8, DT (its date part) or RD8, those ``allowed``."""
        fmt, text = _el(e, 2), _el(e, 3)
        if fmt not in allowed:
            self.error(
                x12.INVALID_CODE,
                f"DTP02 date format is {fmt or '(empty)'!r}; expected {' or '.join(allowed)}",
                element=2,
                value=fmt,
            )
            return None
        if len(text) == _DATE_FORMATS[fmt]:
            if fmt == "RD8" and text[8] == "-":
                start, end = _d8(text[:8]), _d8(text[9:])
            else:
                start = end = _d8(text[:8]) if text[8:].isdigit() or fmt == "D8" else None
            if start is not None and end is not None:
                if end < start:
                    self.error(
                        SERVICE_TO_BEFORE_FROM,
                        f"DTP03 {text!r}: the period ends before it starts",
                        element=3,
                        value=text,
                    )
                    return None
                return start, end
        shape = {"D8": "CCYYMMDD", "DT": "CCYYMMDDHHMM", "RD8": "CCYYMMDD-CCYYMMDD"}[fmt]
        self.error(
            NOT_A_DATE, f"DTP03 {text or '(empty)'!r} is not a valid date ({shape})", element=3, value=text
        )
        return None

    def _hi(self, e: list[str]) -> None:
        claim = self.claim
        assert claim is not None
        sub = self.separators.sub_element if self.separators else ":"
        for n in range(1, len(e)):
            parts = e[n].split(sub)
            qualifier = parts[0]
            if qualifier not in PRINCIPAL_DIAGNOSIS and qualifier not in OTHER_DIAGNOSIS:
                continue
            code = (parts[1] if len(parts) > 1 else "").upper().replace(".", "")
            if not _DIAGNOSIS.match(code):
                self.error(
                    NOT_A_DIAGNOSIS_CODE,
                    f"HI{n:02d}-2 {code or '(empty)'!r} is not an ICD-10-CM code",
                    element=n,
                    value=e[n],
                )
                continue
            (claim.principal if qualifier in PRINCIPAL_DIAGNOSIS else claim.other).append(code)
            if len(claim.principal) + len(claim.other) > MAX_DIAGNOSES:
                self.error(
                    NOT_A_DIAGNOSIS_CODE,
                    f"a claim has at most {MAX_DIAGNOSES} diagnoses",
                    element=n,
                    value=e[n],
                )
                return

    def _cl1(self, e: list[str]) -> None:
        claim = self.claim
        assert claim is not None
        status = _el(e, 3)
        if status and not _DIGITS2.match(status):
            self.error(
                NOT_A_DISCHARGE_STATUS,
                f"CL103 patient status {status!r} is not 2 digits, e.g. 01",
                element=3,
                value=status,
            )
        else:
            claim.status = status

    # -- a claim's lines, checked and loaded when the claim ends
    def _finish_claim(self) -> None:
        claim, self.claim, self.line = self.claim, None, None
        if claim is None:
            return
        if not claim.lines:
            after = claim.last
            self._defer(
                claim,
                None,
                _At(after.segment + 1, after.position + 1, "2400", "LX"),
                MISSING_SERVICE_LINE,
                f"claim {claim.claim_id!r} (CLM at segment {claim.at.segment}) has no service line (LX)",
            )
        if claim.discharge is None and claim.discharge_hour_at is not None and claim.statement is not None:
            claim.discharge, claim.discharge_at = claim.statement[1], claim.discharge_hour_at
        if claim.bill_type.startswith("11") and not claim.admission_seen:
            self._defer(
                claim,
                None,
                claim.at,
                REQUIRED,
                f"an inpatient claim (bill type {claim.bill_type}) needs its admission date (DTP*435)",
                element=5,
            )
        if claim.admission and claim.discharge and claim.discharge_at and claim.discharge < claim.admission:
            self._defer(
                claim,
                None,
                claim.discharge_at,
                DISCHARGE_BEFORE_ADMISSION_CODE,
                f"{DISCHARGE_BEFORE_ADMISSION} (DTP*096 {claim.discharge}, DTP*435 {claim.admission})",
                element=3,
            )
        self._claim_identity(claim)
        for line in claim.lines:
            self._finish_line(claim, line)

    def _defer(
        self,
        claim: _Claim,
        line: _Line | None,
        at: _At,
        code: str,
        message: str,
        element: int | None = None,
        value: str = "",
    ) -> None:
        self.error_at(at, code, message, element=element, value=value)
        (line or claim).bad = True

    def _claim_identity(self, claim: _Claim) -> None:
        """A claim id is one member's and one claim type's, across the whole file."""
        if not claim.claim_id or claim.member is None:
            return
        first = self.claims_seen.setdefault(
            claim.claim_id, (claim.member, claim.claim_type, claim.at.segment)
        )
        if first[0] != claim.member:
            self._defer(
                claim,
                None,
                claim.at,
                CLAIM_MEMBER_MISMATCH,
                f"claim {claim.claim_id!r} is for member {first[0]!r} at segment {first[2]}",
                element=1,
                value=claim.claim_id,
            )
        elif first[1] != claim.claim_type:
            self._defer(
                claim,
                None,
                claim.at,
                CLAIM_TYPE_MISMATCH,
                f"claim {claim.claim_id!r} is {first[1]} at segment {first[2]}",
                element=1,
                value=claim.claim_id,
            )

    def _finish_line(self, claim: _Claim, line: _Line) -> None:
        after = _At(line.last.segment + 1, line.last.position + 1, line.last.loop, "")
        label = f"line {line.number if line.number is not None else '?'} (LX at segment {line.at.segment})"
        if not line.service_seen:
            code = "SV2" if claim.claim_type == INSTITUTIONAL else "SV1"
            self._defer(
                claim,
                line,
                after._replace(loop="2400", seg_id=code),
                MISSING_SERVICE_LINE,
                f"{label} has no {code} (the service)",
            )
        service = line.service
        if service is None and claim.claim_type == INSTITUTIONAL and line.service_at is None:
            service = claim.statement
        if service is None and line.service_at is None:
            where = "nor the claim a statement period (DTP*434)" if claim.claim_type == INSTITUTIONAL else ""
            self._defer(
                claim,
                line,
                after._replace(loop="2400", seg_id="DTP"),
                REQUIRED,
                f"{label} has no service date (DTP*472) {where}".strip(),
            )
        place = line.place or claim.place
        if claim.claim_type == PROFESSIONAL and not place:
            self._defer(
                claim, line, claim.at, REQUIRED, f"{label}: no place of service (CLM05-1 or SV105)", element=5
            )
        if line.svd_at is None:
            self._defer(
                claim,
                line,
                after._replace(loop="2430", seg_id="SVD"),
                MISSING_ADJUDICATION,
                f"{label} has no SVD (loop 2430): an encounter says what the plan paid for each line",
            )
        elif line.paid_at is None:
            self._defer(
                claim,
                line,
                _At(line.svd_at.segment + 1, line.svd_at.position + 1, "2430", "DTP"),
                REQUIRED,
                f"{label}: its SVD has no DTP*573 (the date the plan paid it)",
            )
        if (
            service is not None
            and line.paid_date is not None
            and line.paid_at
            and line.paid_date < service[0]
        ):
            self._defer(
                claim,
                line,
                line.paid_at,
                PAID_BEFORE_SERVICE_CODE,
                f"{PAID_BEFORE_SERVICE} (DTP*573 {line.paid_date}, service {service[0]})",
                element=3,
            )
        if claim.claim_id and line.number is not None:
            key = (claim.claim_id, claim.frequency, line.number)
            first = self.seen_lines.setdefault(key, line.at.segment)
            if first != line.at.segment:
                self._defer(
                    claim,
                    line,
                    line.at,
                    DUPLICATE_LINE,
                    f"claim {claim.claim_id!r} line {line.number} (frequency {claim.frequency}) is already at "
                    f"segment {first}: a file holds one version of a claim per frequency code",
                    element=1,
                    value=str(line.number),
                )
        if claim.bad or line.bad:
            return
        assert service is not None and line.number is not None and claim.member is not None
        assert line.paid_date is not None and line.paid_amount is not None
        self.records.append(
            ClaimLine(
                member_id=claim.member,
                claim_id=claim.claim_id,
                line_number=line.number,
                claim_type=claim.claim_type,
                frequency_code=claim.frequency,
                bill_type=claim.bill_type,
                place_of_service=place if claim.claim_type == PROFESSIONAL else "",
                revenue_code=line.revenue,
                procedure_code=line.procedure,
                modifiers=line.modifiers,
                diagnosis_codes=tuple(claim.principal + claim.other),
                admission_date=claim.admission,
                discharge_date=claim.discharge,
                discharge_status=claim.status,
                service_from=service[0],
                service_to=service[1],
                paid_date=line.paid_date,
                allowed_amount=None,  # an 837 states the paid amount (SVD02), not the allowed
                paid_amount=line.paid_amount,
            )
        )
        self.rows.append(line.at.segment)


def _amount(text: str) -> Decimal | None:
    """An X12 amount (``R``: ``80``, ``80.5``, ``.5``) as the claims extract reads amounts, or None."""
    return extract_amount("0" + text if text.startswith(".") else text)
