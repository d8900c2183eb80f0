"""A claim line as the platform reads it, whatever file it came in (claims extract or 837).

Pure: no Django. Codes are kept as the plan sent them, normalised only where a code has one
written form (revenue codes to 4 digits, bill types to 3, diagnoses without the dot).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal, NamedTuple

PROFESSIONAL = "professional"
INSTITUTIONAL = "institutional"
ClaimType = Literal["professional", "institutional"]

# The claim frequency code (X12 CLM05-3, the last digit of a bill type): which version of a claim a line is.
ORIGINAL = "1"
REPLACEMENT = "7"
VOID = "8"
FREQUENCY_CODES = (ORIGINAL, REPLACEMENT, VOID)


class ClaimLine(NamedTuple):
    member_id: str
    claim_id: str
    line_number: int
    claim_type: str  # PROFESSIONAL or INSTITUTIONAL
    frequency_code: str  # ORIGINAL, REPLACEMENT or VOID
    bill_type: (
        str  # institutional: 3 digits, e.g. "111" (inpatient hospital, admit through discharge); else ""
    )
    place_of_service: str  # professional: 2 digits, e.g. "23" (emergency room); else ""
    revenue_code: str  # institutional line: 4 digits, e.g. "0450"; else ""
    procedure_code: str  # CPT or HCPCS, e.g. "99285"; "" when none
    modifiers: tuple[str, ...]
    diagnosis_codes: tuple[str, ...]  # ICD-10-CM without the dot, principal first
    admission_date: dt.date | None
    discharge_date: dt.date | None
    discharge_status: str  # patient status code, 2 digits, e.g. "01" home, "20" expired; "" when none
    service_from: dt.date
    service_to: dt.date
    paid_date: dt.date
    allowed_amount: Decimal | None
    paid_amount: Decimal
