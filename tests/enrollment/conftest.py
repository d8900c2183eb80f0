"""Enrollment fixtures: active contracts on enrollment's terms (ONE helper, :func:`make_active_contract`,
on top of tests/fixtures/contracts.py, which has the plan, its bundle and the users of each side), and
builders for roster/assessment files and 834s.

Months are relative to today (the previous month by default) because the services refuse months
older than the contract's retro window.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Role
from accounts.tenancy import Scope
from enrollment import calc
from enrollment.ingest.roster import ASSESSMENT_COLUMNS
from tests.fixtures.contracts import (
    TIERS,
    activate_contract,
    csv_bytes,
    flushable_after_contracts,
    media_in_tmp,
    scope_of,
)

TODAY = timezone.localdate()
MONTH = calc.add_months(TODAY.replace(day=1), -1)  # last month: always inside the retro window
PREVIOUS = calc.add_months(MONTH, -1)
CONTRACT_START = calc.add_months(MONTH, -12)

_flushable = flushable_after_contracts()
_media = media_in_tmp(unless=("celery_worker",))


def day(n: int, month: dt.date = MONTH) -> str:
    return month.replace(day=n).isoformat()


def make_active_contract(
    *,
    plan_scope: Scope,
    provider,
    provider_admin,
    bundle_version,
    markets=("URBAN", "URBAN-E"),
    lobs=("medicaid",),
    **terms,
) -> object:
    """A contract opened, proposed and accepted by both sides, from a year before :data:`MONTH`."""
    terms.setdefault("effective_start", CONTRACT_START)
    return activate_contract(
        plan_scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        provider_scope=scope_of(provider_admin, provider),
        markets=markets,
        lobs=lobs,
        pmpm={tier: 200 + 100 * int(tier) for tier in TIERS},
        **terms,
    )


@pytest.fixture
def active_contract(plan_scope, provider, provider_admin, bundle_version, member_of):
    """active_contract(provider_org=None, **terms) -> an active contract with the plan."""

    def make(provider_org=None, **terms):
        org = provider_org or provider
        admin = provider_admin if org == provider else member_of(org, Role.ADMIN)
        return make_active_contract(
            plan_scope=plan_scope, provider=org, provider_admin=admin, bundle_version=bundle_version, **terms
        )

    return make


@pytest.fixture
def contract(active_contract):
    return active_contract()


# --- files ---------------------------------------------------------------------------------------


def roster_row(member_id: str, **values) -> dict:
    row = {
        "member_id": member_id,
        "last_name": f"LAST{member_id[-3:]}",
        "first_name": "ANA",
        "birth_date": "1940-05-17",
        "market": "URBAN",
        "enrollment_start": day(1, PREVIOUS),
        "enrollment_end": "",
        "disenrollment_reason": "",
        "tier": "1",
        "tier_start": "",
    }
    row.update(values)
    return row


def assessment_row(member_id: str, **values) -> dict:
    row = {
        "member_id": member_id,
        "last_name": f"LAST{member_id[-3:]}",
        "first_name": "ANA",
        "birth_date": "1940-05-17",
        "market": "URBAN",
        "assessment_date": day(3),
        "outcome": "enrolled",
        "assessor_role": "np",
    }
    row.update(values)
    return row


def roster_file(rows: list[dict], name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows), content_type="text/csv")


def assessments_file(rows: list[dict], name: str = "assessments.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows, ASSESSMENT_COLUMNS), content_type="text/csv")


def make_834(members, *, full: bool = True, maintenance: str | None = None) -> bytes:
    """members: (member_id, last, first, birth 'YYYYMMDD', start date, end date|None[, hd03[, county]])."""
    action = "4" if full else "2"
    segs = [
        "ISA*00*          *00*          *ZZ*MCOPLAN        *ZZ*CAREBUNDLE     *260101*1200*^*00501*000000001*0*T*:",
        "GS*BE*MCOPLAN*CAREBUNDLE*20260101*1200*1*X*005010X220A1",
        "ST*834*0001*005010X220A1",
        f"BGN*00*ELIG*20260101*1200****{action}",
        "N1*P5*HEALTH PLAN*FI*123456789",
        "N1*IN*CAREBUNDLE*FI*987654321",
    ]
    for member in members:
        member_id, last, first, birth, start, end = member[:6]
        hd03 = member[6] if len(member) > 6 else "HMO"
        ins03 = maintenance or ("030" if full else "021")
        segs += [
            f"INS*Y*18*{ins03}*XN*A",
            f"REF*0F*{member_id}",
            f"NM1*IL*1*{last}*{first}****ZZ*{member_id}",
            *([f"N4*OAKLAND*CA*94607**CY*{member[7]}"] if len(member) > 7 else []),
            f"DMG*D8*{birth}*F",
            f"HD*{ins03}**{hd03}*PALLIATIVE*IND",
            f"DTP*348*D8*{start:%Y%m%d}",
        ]
        if end is not None:
            segs.append(f"DTP*349*D8*{end:%Y%m%d}")
    segs.append(f"SE*{len(segs) - 1}*0001")
    segs += ["GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segs) + "~\n").encode()


def eligibility_upload(data: bytes, name: str = "eligibility.834") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/edi-x12")
