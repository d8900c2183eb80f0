"""Claim lines for the claims tests (pure: the mutation runs import it without Django)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from claims.records import ORIGINAL, PROFESSIONAL, ClaimLine

D = dt.date


def line(**fields) -> ClaimLine:
    """A professional office-visit line paid in full, with any field overridden."""
    defaults = dict(
        member_id="M1",
        claim_id="C1",
        line_number=1,
        claim_type=PROFESSIONAL,
        frequency_code=ORIGINAL,
        bill_type="",
        place_of_service="11",
        revenue_code="",
        procedure_code="99214",
        modifiers=(),
        diagnosis_codes=("C3490",),
        admission_date=None,
        discharge_date=None,
        discharge_status="",
        service_from=D(2026, 3, 2),
        service_to=D(2026, 3, 2),
        paid_date=D(2026, 3, 20),
        allowed_amount=Decimal("120.00"),
        paid_amount=Decimal("100.00"),
    )
    return ClaimLine(**{**defaults, **fields})
