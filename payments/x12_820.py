"""Write a monthly capitation remittance as X12 820 005010X218 (docs/formats.md section 5).

Modelled on ``tests/fixtures/x12/synthetic/capitation_pmpm_3members.820`` and checked against
pyx12's 820 map in the tests. Layout:

- header: BPR (total and payment method), TRN (trace number), REF*38 (contract), DTM*582
  (coverage month), N1*PE (the provider, who receives) and N1*PR (the plan, who pays);
- the lines computed on the month's total, not per member, in the one organisation-level
  remittance (loop 2000A: ENT*..*2L): a recovery offset first as an adjustment for a previous
  payment (loop 2200A: ADX with the negative amount and reason 52, "credit for overpayment":
  the plan takes back what an earlier month overpaid), then the remittance details (loop 2300A:
  RMR*CT, REF*ZZ naming the line, DTM*582): the quality withhold (negative, WITHHOLD), each
  withhold adjustment (a service month's withhold brought to its percentage of the net after
  retro lines: WITHHOLD ADJUSTMENT, with the DTM*582 of its own service month), a
  receivable (positive, RECEIVABLE: a month netting below zero pays 0.00 and the provider owes
  the difference) and, for an offset, a zero RMR with REF*ZZ*RECOVERY (2300A is required and is
  where a line is named; the ADX has no reference of its own);
- per member (loop 2000B): ENT, NM1*IL, one ADX per retroactive adjustment (loop 2200B,
  adjustment for a previous payment: code 52 credit for overpayment when negative, 53
  remittance for previous underpayment when positive; the 820 has no date on an ADX, so the
  month of each adjustment is on the PDF/CSV statement), then one RMR per current line
  (member-month or assessment fee) with REF*ZZ naming it and DTM*582. A member with only
  adjustments gets a zero RMR, as in the sample, because loop 2300B is required.

The file balances: BPR02 = sum of RMR04 + sum of ADX01 = the payment's exact total (0.00 for a
month carried to a receivable: a remittance advice with nothing paid). SE01,
GE01 and IEA01 are counted, never typed.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.domain.money import to_cents
from core.domain.months import last_of_month
from payments.calc import (
    ASSESSMENT_FEE,
    EPISODE,
    MEMBER_MONTH,
    RETRO_ADJUSTMENT,
    WITHHOLD,
    WITHHOLD_ADJUSTMENT,
    PaymentLine,
    payment_total,
)
from payments.recovery import RECEIVABLE, RECOVERY_OFFSET

VERSION = "005010X218"
#: Lines computed on the month's total: remitted at the organisation level, not per member.
ORGANISATION_KINDS = (WITHHOLD, WITHHOLD_ADJUSTMENT, RECEIVABLE, RECOVERY_OFFSET)
#: ADX02 of a recovery offset (loop 2200A): 52, credit for (previous) overpayment.
RECOVERY_ADX_REASON = "52"
PAYMENT_METHODS = ("ACH", "CHK", "NON")
_E, _S, _T, _R = "*", ":", "~", "^"


@dataclass(frozen=True)
class Party:
    """A payer or payee as the 820 names it: a name and a federal tax id (N103 = FI)."""

    name: str
    tax_id: str


@dataclass(frozen=True)
class BankAccount:
    """An ACH account: ABA routing number (DFI qualifier 01) and a demand deposit account."""

    routing_number: str
    account_number: str
    account_type: str = "DA"


@dataclass(frozen=True)
class MemberName:
    last_name: str
    first_name: str


@dataclass(frozen=True)
class Remittance:
    """Everything an 820 needs besides the payment lines.

    ``originator_id`` is BPR10/TRN03 (by convention ``1`` followed by the payer's EIN).
    ``control_number`` is ISA13/GS06 and must be unique per sender; ``created`` is passed
    in so that the same payment always writes the same file.
    """

    payer: Party
    payee: Party
    coverage_month: dt.date
    contract_ref: str
    trace_number: str
    originator_id: str
    payment_date: dt.date
    sender_id: str
    receiver_id: str
    control_number: int
    created: dt.datetime
    payment_method: str = "ACH"
    payer_bank: BankAccount | None = None
    payee_bank: BankAccount | None = None
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    usage: str = "P"


def write_820(remittance: Remittance, lines: Sequence[PaymentLine], members: Mapping[str, MemberName]) -> str:
    """The 820 for one approved monthly payment; raises ``ValueError`` on data it cannot carry.

    A negative total cannot be remitted and is refused: a month whose lines net below zero
    carries the difference to a receivable line, so that its total is 0.00.
    """
    r = remittance
    if r.coverage_month.day != 1:
        raise ValueError("coverage_month must be the first day of a month")
    if r.payment_method not in PAYMENT_METHODS:
        raise ValueError(f"payment_method must be one of {PAYMENT_METHODS}")
    if r.payment_method == "ACH" and (r.payer_bank is None or r.payee_bank is None):
        raise ValueError("an ACH payment needs payer_bank and payee_bank")
    if not 0 < r.control_number < 1_000_000_000:
        raise ValueError("control_number must be 1..999999999")
    for line in lines:
        if line.amount != to_cents(line.amount):
            raise ValueError(f"line amount {line.amount} is not in cents")
        if line.kind == RECEIVABLE and line.amount <= 0:
            raise ValueError(f"a receivable line is positive, not {line.amount}")
        if line.kind == RECOVERY_OFFSET and line.amount >= 0:
            raise ValueError(f"a recovery offset line is negative, not {line.amount}")
    total = payment_total(lines)
    if total < 0:
        raise ValueError(f"the payment total {total} is negative; carry it to a receivable instead")

    month_range = f"{r.coverage_month:%Y%m%d}-{last_of_month(r.coverage_month):%Y%m%d}"
    body: list[list[str]] = [
        _bpr(r, total),
        ["TRN", "1", _text(r.trace_number, 50), _text(r.originator_id, 10)],
    ]
    if r.contract_ref:
        body.append(["REF", "38", _text(r.contract_ref, 50)])
    body.append(["DTM", "582", "", "", "", "RD8", month_range])
    body.append(["N1", "PE", _text(r.payee.name, 60), "FI", _text(r.payee.tax_id, 80)])
    body.append(["N1", "PR", _text(r.payer.name, 60), "FI", _text(r.payer.tax_id, 80)])

    ent = 0
    organisation = {kind: [line for line in lines if line.kind == kind] for kind in ORGANISATION_KINDS}
    if any(organisation.values()):
        ent += 1
        contract_id = _text(r.contract_ref or "CONTRACT", 50)
        body.append(["ENT", str(ent), "2L", "FI", _text(r.payee.tax_id, 80)])
        for offset in organisation[RECOVERY_OFFSET]:
            body.append(["ADX", _money(offset.amount), RECOVERY_ADX_REASON])
        for kind, label in (
            (WITHHOLD, "WITHHOLD"),
            (RECEIVABLE, "RECEIVABLE"),
            (RECOVERY_OFFSET, "RECOVERY"),
        ):
            if organisation[kind]:
                # the offset's amount is on its ADX; its RMR names it and adds nothing
                amount = Decimal("0.00") if kind == RECOVERY_OFFSET else payment_total(organisation[kind])
                body.append(["RMR", "CT", contract_id, "", _money(amount)])
                body.append(["REF", "ZZ", label])
                body.append(["DTM", "582", "", "", "", "RD8", month_range])
            if kind == WITHHOLD:  # each adjustment with the service month it brings to its percentage
                for adj in sorted(organisation[WITHHOLD_ADJUSTMENT], key=lambda x: x.service_month):
                    service = adj.service_month
                    body.append(["RMR", "CT", contract_id, "", _money(adj.amount)])
                    body.append(["REF", "ZZ", "WITHHOLD ADJUSTMENT"])
                    body.append(
                        ["DTM", "582", "", "", "", "RD8", f"{service:%Y%m%d}-{last_of_month(service):%Y%m%d}"]
                    )

    by_member: dict[str, list[PaymentLine]] = {}
    for line in lines:
        if line.kind in ORGANISATION_KINDS:
            continue
        if line.member_id is None:
            raise ValueError(f"a {line.kind} line needs a member_id to be remitted")
        by_member.setdefault(line.member_id, []).append(line)
    for member_id in sorted(by_member):
        member_lines = by_member[member_id]
        try:
            name = members[member_id]
        except KeyError:
            raise KeyError(f"no name for member {member_id!r}") from None
        ent += 1
        mid = _text(member_id, 80)
        body.append(["ENT", str(ent), "2J", "II", mid])
        body.append(
            ["NM1", "IL", "1", _text(name.last_name, 60), _text(name.first_name, 35), "", "", "", "N", mid]
        )
        for adj in (line for line in member_lines if line.kind == RETRO_ADJUSTMENT):
            body.append(["ADX", _money(adj.amount), "52" if adj.amount < 0 else "53"])
        current = [line for line in member_lines if line.kind in (MEMBER_MONTH, EPISODE, ASSESSMENT_FEE)]
        unknown = [
            line.kind
            for line in member_lines
            if line.kind not in (MEMBER_MONTH, EPISODE, ASSESSMENT_FEE, RETRO_ADJUSTMENT)
        ]
        if unknown:
            raise ValueError(f"unknown line kind {unknown[0]!r}")
        ref_id = _text(r.contract_ref or "CONTRACT", 50)
        if not current:
            body.append(["RMR", "IK", ref_id, "", _money(Decimal("0.00"))])
            body.append(["DTM", "582", "", "", "", "RD8", month_range])
        for line in current:
            body.append(["RMR", "IK", ref_id, "", _money(line.amount)])
            if line.kind in (MEMBER_MONTH, EPISODE):
                unit = "PMPM" if line.kind == MEMBER_MONTH else "EPISODE"
                label = f"{unit} {line.rate_cell}" if line.rate_cell else unit
            else:
                label = "ASSESSMENT"
            body.append(["REF", "ZZ", _text(label, 50)])
            service = line.service_month
            body.append(
                ["DTM", "582", "", "", "", "RD8", f"{service:%Y%m%d}-{last_of_month(service):%Y%m%d}"]
            )

    ctrl = r.control_number
    segments: list[list[str]] = [
        [
            "ISA", "00", " " * 10, "00", " " * 10, r.sender_qualifier, _pad(r.sender_id, 15),
            r.receiver_qualifier, _pad(r.receiver_id, 15), r.created.strftime("%y%m%d"),
            r.created.strftime("%H%M"), _R, "00501", f"{ctrl:09d}", "0", r.usage, _S,
        ],
        [
            "GS", "RA", _text(r.sender_id, 15), _text(r.receiver_id, 15), r.created.strftime("%Y%m%d"),
            r.created.strftime("%H%M"), str(ctrl), "X", VERSION,
        ],
        ["ST", "820", "0001", VERSION],
        *body,
    ]  # fmt: skip
    segments.append(["SE", str(len(body) + 2), "0001"])
    segments.append(["GE", "1", str(ctrl)])
    segments.append(["IEA", "1", f"{ctrl:09d}"])
    return "".join(_E.join(_trim(seg)) + _T + "\n" for seg in segments)


def _bpr(r: Remittance, total: Decimal) -> list[str]:
    date = f"{r.payment_date:%Y%m%d}"
    origin = _text(r.originator_id, 10)
    if r.payment_method == "ACH":
        assert r.payer_bank is not None and r.payee_bank is not None
        return [
            "BPR", "C", _money(total), "C", "ACH", "CCP",
            "01", _text(r.payer_bank.routing_number, 12), r.payer_bank.account_type,
            _text(r.payer_bank.account_number, 35), origin, "",
            "01", _text(r.payee_bank.routing_number, 12), r.payee_bank.account_type,
            _text(r.payee_bank.account_number, 35), date,
        ]  # fmt: skip
    handling = "C" if r.payment_method == "CHK" else "I"
    return [
        "BPR",
        handling,
        _money(total),
        "C",
        r.payment_method,
        "",
        "",
        "",
        "",
        "",
        origin,
        "",
        "",
        "",
        "",
        "",
        date,
    ]


def _money(amount: Decimal) -> str:
    return f"{to_cents(amount):.2f}"


def _text(value: str, max_len: int) -> str:
    """An element value safe for X12: ASCII, upper case, no separators, trimmed to length."""
    ascii_text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    out = "".join(" " if ch in (_E, _S, _T, _R) or not (" " <= ch <= "~") else ch for ch in ascii_text)
    return " ".join(out.upper().split())[:max_len].strip()


def _pad(value: str, width: int) -> str:
    return _text(value, width).ljust(width)


def _trim(elements: list[str]) -> list[str]:
    while elements and elements[-1] == "":
        elements.pop()
    return elements
