"""X12 999 (005010X231A1) acknowledgement for a parsed 834, and the same verdict as text.

docs/formats.md section 3: every eligibility file gets an acknowledgement, accepted or rejected
with each error's segment position. The plan's system reads the 999; people read
:func:`readable_acknowledgement`. Both come from the same :class:`Parse834Result`, so they
cannot disagree.

Mapping of the reader's issues onto the 999:

- a segment problem becomes an IK3 (segment id, position in the transaction set with
  ST = 1, loop, IK304 syntax code) followed by an IK4 per element problem (position,
  data element number, IK403 code, a copy of the bad value);
- a transaction-set problem (SE01 count, ST02/SE02 mismatch, no SE) is an IK502 code;
- a functional-group problem (GE01 count, GS06/GE02 mismatch, no GE, unsupported GS)
  is an AK905 code; an interchange problem (IEA count, truncated file) rejects the group
  without a code of its own (that is TA1 territory) and is spelled out in the readable list;
- IK5/AK9 say ``A`` (accepted), ``E`` (accepted, warnings noted: e.g. the public sample's
  ``DTP*358``), ``R`` (rejected) or, for AK9, ``P`` (some transaction sets rejected).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from enrollment.ingest import x12_834 as r834
from enrollment.ingest.x12_834 import FunctionalGroup, Parse834Result, TransactionSet, X12Issue

ACK_VERSION = "005010X231A1"
_ELEMENT, _SUB, _SEGMENT, _REPEAT = "*", ":", "~", "^"

# IK403 (implementation data element syntax error) per issue code.
_IK403 = {
    r834.INVALID_MAINTENANCE_TYPE: "7",
    r834.INVALID_CODE: "7",
    r834.UNKNOWN_DATE_QUALIFIER: "7",
    r834.UNSUPPORTED_TRANSACTION: "7",
    r834.INVALID_DATE: "8",
    r834.END_BEFORE_START: "8",
    r834.MISSING_MEMBER_ID: "1",
    r834.MISSING_MEMBER_NAME: "1",
}
# IK304 (segment syntax error) for issues about a whole segment.
_IK304 = {
    r834.INVALID_SEGMENT: "1",
    r834.UNEXPECTED_SEGMENT: "2",
    r834.MISSING_MEMBER_ID: "3",
    r834.MISSING_MEMBER_NAME: "3",
    r834.MISSING_BGN: "3",
}
# IK502 (transaction set syntax error) for issues on the ST/SE pair.
_IK502 = {
    (r834.MISSING_SE, "SE"): "2",
    (r834.CONTROL_NUMBER_MISMATCH, "SE"): "3",
    (r834.SEGMENT_COUNT_MISMATCH, "SE"): "4",
    (r834.UNSUPPORTED_TRANSACTION, "ST"): "6",
    (r834.DUPLICATE_CONTROL_NUMBER, "ST"): "23",
}
# AK905 (functional group syntax error) for issues on the GS/GE pair.
_AK905 = {
    (r834.MISSING_GE, "GE"): "3",
    (r834.CONTROL_NUMBER_MISMATCH, "GE"): "4",
    (r834.TRANSACTION_COUNT_MISMATCH, "GE"): "5",
}
# Data element reference numbers (IK402) for the elements the reader checks.
_ELEMENT_REF = {
    ("INS", 3): "875",
    ("REF", 2): "127",
    ("NM1", 3): "1035",
    ("DMG", 1): "1250",
    ("DMG", 2): "1251",
    ("DMG", 3): "1068",
    ("DTP", 1): "374",
    ("DTP", 2): "1250",
    ("DTP", 3): "1251",
    ("BGN", 3): "373",
    ("BGN", 8): "306",
}
_AK201_CODES = frozenset({"270", "271", "276", "277", "278", "820", "834", "835", "837"})
_AK101_CODES = frozenset({"BE", "HB", "HC", "HI", "HN", "HP", "HR", "HS", "RA"})


class AcknowledgementNotPossible(ValueError):
    """The file has no readable ISA/GS, so there is nobody and nothing to acknowledge."""


def write_999(
    result: Parse834Result,
    *,
    control_number: int,
    created: dt.datetime,
    sender_qualifier: str | None = None,
    sender_id: str | None = None,
    receiver_qualifier: str | None = None,
    receiver_id: str | None = None,
) -> str:
    """Write the 999 for ``result``: one ST*999 per functional group received.

    By default the 999 goes back the way the 834 came (our sender is the 834's receiver).
    ``control_number`` (ISA13 and GS06) must be unique per sender and is the caller's to
    allocate; ``created`` is passed in so the output is reproducible.
    """
    isa = result.interchange
    groups = [g for g in result.groups if g.control_number or g.functional_id]
    if isa is None or not groups:
        raise AcknowledgementNotPossible("the file has no readable ISA and GS segments to acknowledge")
    if not 0 < control_number < 1_000_000_000:
        raise ValueError("control_number must be 1..999999999")
    s_qual = sender_qualifier or isa.receiver_qualifier or "ZZ"
    s_id = sender_id or isa.receiver_id
    r_qual = receiver_qualifier or isa.sender_qualifier or "ZZ"
    r_id = receiver_id or isa.sender_id
    segments: list[list[str]] = []
    segments.append(
        [
            "ISA", "00", " " * 10, "00", " " * 10, s_qual, _pad(s_id, 15), r_qual, _pad(r_id, 15),
            created.strftime("%y%m%d"), created.strftime("%H%M"), _REPEAT, "00501",
            f"{control_number:09d}", "0", isa.usage if isa.usage in ("P", "T") else "P", _SUB,
        ]
    )  # fmt: skip
    segments.append(
        [
            "GS", "FA", _clean(groups[0].receiver) or s_id, _clean(groups[0].sender) or r_id,
            created.strftime("%Y%m%d"), created.strftime("%H%M"), str(control_number), "X", ACK_VERSION,
        ]
    )  # fmt: skip
    interchange_rejected = any(_level(i) == "interchange" for i in result.errors)
    for n, group in enumerate(groups, start=1):
        body = _group_ack(group, result, interchange_rejected)
        st = ["ST", "999", f"{n:04d}", ACK_VERSION]
        segments.append(st)
        segments.extend(body)
        segments.append(["SE", str(len(body) + 2), f"{n:04d}"])
    segments.append(["GE", str(len(groups)), str(control_number)])
    segments.append(["IEA", "1", f"{control_number:09d}"])
    return "".join(_ELEMENT.join(seg) + _SEGMENT + "\n" for seg in segments)


def _group_ack(group: FunctionalGroup, result: Parse834Result, interchange_rejected: bool) -> list[list[str]]:
    out: list[list[str]] = []
    ak101 = group.functional_id if group.functional_id in _AK101_CODES else "BE"
    out.append(
        ["AK1", ak101, _clean(group.control_number) or "0", _clean(group.version) or r834.SUPPORTED_VERSION]
    )
    accepted = 0
    any_warning = False
    for ts in group.transactions:
        errors = [i for i in result.errors if i.st_control == ts.control_number and _in_group(i, group)]
        warnings = [i for i in result.warnings if i.st_control == ts.control_number and _in_group(i, group)]
        status, segs = _transaction_ack(ts, errors, warnings)
        out.extend(segs)
        if status in ("A", "E"):
            accepted += 1
        any_warning = any_warning or status == "E"
    group_errors = [i for i in result.errors if _level(i) == "group" and i.gs_control == group.control_number]
    codes = _unique(_AK905.get((i.code, i.segment_id), _gs_code(i)) for i in group_errors)
    received = len(group.transactions)
    if group_errors or interchange_rejected or (received and accepted == 0):
        status = "R"
    elif accepted < received:
        status = "P"
    elif any_warning:
        status = "E"
    else:
        status = "A"
    declared = group.declared_count if group.declared_count is not None else received
    out.append(
        ["AK9", status, str(declared), str(received), str(accepted if status != "R" else 0), *codes[:5]]
    )
    return out


def _transaction_ack(
    ts: TransactionSet, errors: list[X12Issue], warnings: list[X12Issue]
) -> tuple[str, list[list[str]]]:
    out: list[list[str]] = []
    ak201 = ts.transaction_type if ts.transaction_type in _AK201_CODES else "834"
    ak2 = ["AK2", ak201, _clean(ts.control_number) or "0"]
    if ts.version:
        ak2.append(_clean(ts.version))
    out.append(ak2)
    segment_issues = [i for i in errors + warnings if _level(i) == "segment" and i.position]
    by_segment: dict[tuple[int, str], list[X12Issue]] = {}
    for issue in sorted(segment_issues, key=lambda i: (i.position or 0, i.element or 0)):
        by_segment.setdefault((issue.position or 0, issue.segment_id), []).append(issue)
    for (position, seg_id), issues in by_segment.items():
        seg_code = next((_IK304[i.code] for i in issues if i.element is None and i.code in _IK304), "8")
        loop = issues[0].loop if issues[0].loop not in ("", "HEADER") and len(issues[0].loop) <= 4 else ""
        out.append(_trim(["IK3", _clean(seg_id)[:3] or "UNK", str(position), loop, seg_code]))
        for issue in issues:
            if issue.element is None:
                continue
            ref = _ELEMENT_REF.get((seg_id, issue.element), "")
            ik4 = ["IK4", str(issue.element), ref, _IK403.get(issue.code, "7")]
            bad = _clean(issue.value)[:99]
            if bad:
                ik4.append(bad)
            out.append(ik4)
    ts_codes = _unique(_IK502.get((i.code, i.segment_id), "") for i in errors if _level(i) == "transaction")
    if errors:
        status = "R"
        if any(_level(i) == "segment" for i in errors) or not ts_codes:
            ts_codes = _unique([*ts_codes, "5"])
    elif warnings:
        status = "E"
        if segment_issues:
            ts_codes = ["5"]
    else:
        status = "A"
    out.append(["IK5", status, *ts_codes[:5]])
    return status, out


def _level(issue: X12Issue) -> str:
    """Which 999 level an issue belongs to: segment, transaction, group or interchange."""
    if issue.segment_id in ("SE", "ST") and (issue.code, issue.segment_id) in _IK502:
        return "transaction"
    if issue.segment_id in ("GS", "GE"):
        return "group"
    if issue.st_control is not None:
        return "segment"
    if issue.gs_control is not None:
        return "group"
    return "interchange"


def _gs_code(issue: X12Issue) -> str:
    if issue.code == r834.UNSUPPORTED_TRANSACTION:
        return "2" if issue.element == 8 else "1"
    return ""


def _in_group(issue: X12Issue, group: FunctionalGroup) -> bool:
    return issue.gs_control is None or issue.gs_control == group.control_number


def _unique(codes: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for c in codes:
        if c and c not in seen:
            seen.append(c)
    return seen


def _trim(elements: list[str]) -> list[str]:
    while elements and elements[-1] == "":
        elements.pop()
    return elements


def _clean(text: str) -> str:
    """Keep a copied value from breaking the 999: no separators, printable ASCII only."""
    out = []
    for ch in text:
        if ch in (_ELEMENT, _SUB, _SEGMENT, _REPEAT) or not (" " <= ch <= "~"):
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out).strip()


def _pad(text: str, width: int) -> str:
    return _clean(text)[:width].ljust(width)


# --------------------------------------------------------------------------- readable list
def readable_acknowledgement(result: Parse834Result) -> list[str]:
    """The 999's verdict as sentences for the upload page: one line per issue, errors first."""
    lines = ["Accepted" if result.accepted else "Rejected"]
    if result.accepted and result.warnings:
        lines[0] = "Accepted with warnings"
    for kind, issues in (("error", result.errors), ("warning", result.warnings)):
        for i in issues:
            where = []
            if i.segment_index is not None:
                where.append(f"segment {i.segment_index}")
            if i.segment_id:
                where.append(i.segment_id)
            if i.position is not None and i.st_control is not None:
                where.append(f"position {i.position} of transaction {i.st_control}")
            if i.loop and i.loop != "HEADER":
                where.append(f"loop {i.loop}")
            if i.element is not None:
                where.append(f"element {i.element}")
            lines.append(f"{kind} [{i.code}] {', '.join(where)}: {i.message}")
    return lines
