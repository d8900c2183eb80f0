"""Performance fixtures: an active contract on performance's terms (quality and shared-savings terms,
a withhold) between the plan and the provider of tests/fixtures/contracts.py, three months of rosters
(through the enrollment services), and helpers to write utilisation files.

The cohort (a contract from 2025-01; rosters for January to March 2026):

- P1, P2, P3 enrolled all quarter; P4 enrolled all quarter and transferred to hospice on 2026-03-20
  (enrolled since 2026-01-01, so 79 days);
- pre-enrollment utilisation for October to December 2025 (3 baseline months per member).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from performance.ingest import COLUMNS
from tests.fixtures.contracts import TIERS, activate_contract, csv_bytes, media_in_tmp, submit_roster
from tests.fixtures.contracts import scope_of as scope_of  # performance's tests import it from here

D = dt.date
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
QUALITY = [
    {"measure": "ed_visits_per_1000", "target": "500", "weight": "0.4", "minimum_denominator": 10},
    {"measure": "readmission_30d_rate", "target": "0.25", "weight": "0.3", "minimum_denominator": 2},
    {"measure": "hospice_transition_rate", "target": "0.45", "weight": "0.3", "minimum_denominator": 20},
]
SAVINGS = {
    "baseline_method": "pre_enrollment",
    "minimum_savings_rate": "0.02",
    "sharing_rate": "0.5",
    "cap": "0.1",
    "quality_gate": "0.5",
}

_media = media_in_tmp()


def utilization_csv(rows: list[dict]) -> bytes:
    return csv_bytes([{c: r.get(c, "") for c in COLUMNS} for r in rows], COLUMNS)


def urow(member_id, month, *, ed=0, ip=0, icu=0, dis=0, readm=0, tcoc="1000.00", **extra) -> dict:
    return {
        "member_id": member_id,
        "month": month.isoformat(),
        "ed_visits": ed,
        "inpatient_admissions": ip,
        "icu_admissions": icu,
        "discharges": dis,
        "readmissions_30d": readm,
        "tcoc_amount": tcoc,
        **extra,
    }


def roster_member(member_id: str, *, start=JAN, end=None, reason="") -> dict:
    return {
        "member_id": member_id,
        "last_name": f"LAST{member_id}",
        "first_name": "ANA",
        "birth_date": "1940-05-17",
        "market": "URBAN",
        "enrollment_start": start.isoformat(),
        "enrollment_end": end.isoformat() if end else "",
        "disenrollment_reason": reason,
        "tier": "1",
        "tier_start": "",
    }


def make_contract(*, plan_scope, provider, provider_scope, bundle_version, quality=None, savings=None):
    """An active contract from 2025-01 in URBAN at 300.00 PMPM, with a 5% withhold, quality and savings terms."""
    return activate_contract(
        plan_scope=plan_scope,
        provider=provider,
        provider_scope=provider_scope,
        bundle_version=bundle_version,
        pmpm={tier: "300.00" for tier in TIERS},
        effective_start=D(2025, 1, 1),
        withhold_percentage=Decimal("0.05"),
        quality_terms=quality if quality is not None else QUALITY,
        shared_savings_terms=savings if savings is not None else SAVINGS,
    )


@pytest.fixture
def identified_parties():
    return True  # as the payments fixtures these came from had them (nothing here reads them)


@pytest.fixture
def contract(plan_scope, provider, provider_scope, bundle_version):
    return make_contract(
        plan_scope=plan_scope, provider=provider, provider_scope=provider_scope, bundle_version=bundle_version
    )


@pytest.fixture
def cohort(contract, provider_scope):
    """Rosters for January to March 2026: P1-P4 (P4 to hospice on 2026-03-20)."""
    for month in (JAN, FEB, MAR):
        rows = [roster_member(m) for m in ("P1", "P2", "P3")]
        rows.append(
            roster_member("P4", end=D(2026, 3, 20), reason="hospice") if month == MAR else roster_member("P4")
        )
        submit_roster(provider_scope=provider_scope, contract=contract, month=month, rows=rows)
    return contract


def cohort_utilization() -> list[dict]:
    """Baseline Oct-Dec 2025: 1 ED visit per member-month, TCOC 4,000; enrolled Q1 2026: 3 ED visits in
    12 MM, 4 discharges with 1 readmission, TCOC 3,000 (P4 dies at home in March, ACP for P1)."""
    rows = []
    for member_id in ("P1", "P2", "P3", "P4"):
        for month in (D(2025, 10, 1), D(2025, 11, 1), D(2025, 12, 1)):
            rows.append(urow(member_id, month, ed=1, ip=1 if member_id == "P1" else 0, tcoc="4000.00"))
        for month in (JAN, FEB, MAR):
            extra = {}
            if member_id == "P1" and month == JAN:
                extra["acp_documented_date"] = "2026-01-20"
            if member_id == "P4" and month == MAR:
                extra.update(death_date="2026-03-25", death_place="home")
            rows.append(
                urow(
                    member_id,
                    month,
                    ed=1 if (member_id, month) in {("P1", JAN), ("P2", FEB), ("P3", MAR)} else 0,
                    dis=2 if member_id == "P2" and month in (JAN, FEB) else 0,
                    readm=1 if member_id == "P2" and month == FEB else 0,
                    tcoc="3000.00",
                    satisfaction_score="90" if month == MAR else "",
                    **extra,
                )
            )
    return rows
