"""The example lines of the claims template (docs/formats.md section 11): one of each kind a plan sends."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from claims.records import INSTITUTIONAL, ORIGINAL, PROFESSIONAL, REPLACEMENT, ClaimLine


def _line(**fields) -> ClaimLine:
    defaults = dict(
        line_number=1,
        frequency_code=ORIGINAL,
        bill_type="",
        place_of_service="",
        revenue_code="",
        procedure_code="",
        modifiers=(),
        diagnosis_codes=(),
        admission_date=None,
        discharge_date=None,
        discharge_status="",
        allowed_amount=None,
    )
    return ClaimLine(**{**defaults, **fields})


EXAMPLE_LINES = (
    # An office visit for advance care planning.
    _line(
        member_id="MBR00001",
        claim_id="P-1001",
        claim_type=PROFESSIONAL,
        place_of_service="11",
        procedure_code="99497",
        diagnosis_codes=("C3490", "R52"),
        service_from=date(2026, 3, 2),
        service_to=date(2026, 3, 2),
        paid_date=date(2026, 3, 20),
        allowed_amount=Decimal("86.12"),
        paid_amount=Decimal("86.12"),
    ),
    # An emergency visit that ended in a three-day stay: the ED line and the room and board.
    _line(
        member_id="MBR00002",
        claim_id="I-2001",
        claim_type=INSTITUTIONAL,
        bill_type="111",
        revenue_code="0450",
        procedure_code="99285",
        diagnosis_codes=("J189",),
        admission_date=date(2026, 3, 10),
        discharge_date=date(2026, 3, 13),
        discharge_status="01",
        service_from=date(2026, 3, 10),
        service_to=date(2026, 3, 10),
        paid_date=date(2026, 4, 15),
        allowed_amount=Decimal("1210.00"),
        paid_amount=Decimal("1210.00"),
    ),
    _line(
        member_id="MBR00002",
        claim_id="I-2001",
        line_number=2,
        claim_type=INSTITUTIONAL,
        bill_type="111",
        revenue_code="0120",
        diagnosis_codes=("J189",),
        admission_date=date(2026, 3, 10),
        discharge_date=date(2026, 3, 13),
        discharge_status="01",
        service_from=date(2026, 3, 10),
        service_to=date(2026, 3, 13),
        paid_date=date(2026, 4, 15),
        allowed_amount=Decimal("9800.00"),
        paid_amount=Decimal("9800.00"),
    ),
    # The office visit, corrected: a replacement of the whole claim.
    _line(
        member_id="MBR00001",
        claim_id="P-1001",
        frequency_code=REPLACEMENT,
        claim_type=PROFESSIONAL,
        place_of_service="11",
        procedure_code="99497",
        modifiers=("25",),
        diagnosis_codes=("C3490", "R52"),
        service_from=date(2026, 3, 2),
        service_to=date(2026, 3, 2),
        paid_date=date(2026, 4, 3),
        allowed_amount=Decimal("86.12"),
        paid_amount=Decimal("80.00"),
    ),
)
