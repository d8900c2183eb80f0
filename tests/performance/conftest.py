"""Performance fixtures: a plan with an active contract with a provider, three months of rosters
(through the contracts and enrollment services), and helpers to write utilisation files.

The cohort (a contract from 2025-01; rosters for January to March 2026):

- P1, P2, P3 enrolled all quarter; P4 enrolled all quarter and transferred to hospice on 2026-03-20
  (enrolled since 2026-01-01, so 79 days);
- pre-enrollment utilisation for October to December 2025 (3 baseline months per member).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from bundles import services as bundle_services
from bundles.catalogue import ensure_platform_roles
from bundles.demo import MARKETS, home_based_definition
from bundles.models import IdtRole, Market
from contracts import services as contract_services
from enrollment import services as enrollment_services
from enrollment.ingest.roster import ROSTER_COLUMNS
from performance.ingest import COLUMNS

D = dt.date
JAN, FEB, MAR = D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)
QUALITY = [
    {"measure": "ed_visits_per_1000", "target": "500", "weight": "0.4", "minimum_denominator": 10},
    {"measure": "readmission_30d_rate", "target": "0.25", "weight": "0.3", "minimum_denominator": 2},
    {"measure": "hospice_transition_rate", "target": "0.45", "weight": "0.3", "minimum_denominator": 20},
]
SAVINGS = {"baseline_method": "pre_enrollment", "minimum_savings_rate": "0.02", "sharing_rate": "0.5", "cap": "0.1",
           "quality_gate": "0.5"}


def scope_of(user, organization) -> Scope:
    return Scope(Membership.objects.select_related("organization", "user").get(user=user, organization=organization))


def _csv(rows: list[dict], columns) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def utilization_csv(rows: list[dict]) -> bytes:
    return _csv([{c: r.get(c, "") for c in COLUMNS} for r in rows], COLUMNS)


def urow(member_id, month, *, ed=0, ip=0, icu=0, dis=0, readm=0, tcoc="1000.00", **extra) -> dict:
    return {"member_id": member_id, "month": month.isoformat(), "ed_visits": ed, "inpatient_admissions": ip,
            "icu_admissions": icu, "discharges": dis, "readmissions_30d": readm, "tcoc_amount": tcoc, **extra}


def roster_member(member_id: str, *, start=JAN, end=None, reason="") -> dict:
    return {"member_id": member_id, "last_name": f"LAST{member_id}", "first_name": "ANA", "birth_date": "1940-05-17",
            "market": "URBAN", "enrollment_start": start.isoformat(), "enrollment_end": end.isoformat() if end else "",
            "disenrollment_reason": reason, "tier": "1", "tier_start": ""}


def submit_roster(*, provider_scope, contract, month, rows):
    today = D(month.year + month.month // 12, month.month % 12 + 1, 5)
    submission = enrollment_services.roster_submit(
        scope=provider_scope, contract=contract, month=month, today=today, run_inline=True,
        file=SimpleUploadedFile("roster.csv", _csv(rows, ROSTER_COLUMNS), content_type="text/csv"))
    assert submission.status == "accepted", list(submission.issues.values_list("row", "code", "message"))
    return submission


def make_contract(*, plan_scope, provider, provider_scope, bundle_version, quality=None, savings=None):
    terms = {
        "effective_start": D(2025, 1, 1), "effective_end": None, "markets": ["URBAN"],
        "lines_of_business": ["medicaid"], "proration_rule": "any_day", "tier_rule": "first_day",
        "assessment_lookback_months": 12, "retro_window_months": 3, "roster_due_day": 10,
        "withhold_percentage": Decimal("0.05"), "termination_notice_days": 90,
        "quality_terms": quality if quality is not None else QUALITY,
        "shared_savings_terms": savings if savings is not None else SAVINGS,
    }
    contract = contract_services.contract_create(
        scope=plan_scope, provider=provider, bundle_version=bundle_version, terms=terms,
        rates=[{"tier": t, "market": "URBAN", "lob": "medicaid", "pmpm": "300.00", "reason": "Negotiated"}
               for t in ("1", "2", "3")],
        assessment_fees={"URBAN": "341.85"})
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    return contract


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def plan(payer):
    payer.tax_id = "941234567"
    payer.save()
    for code, name, rural, minutes, miles in MARKETS:
        Market.objects.create(organization=payer, code=code, name=name, rural=rural,
                              travel_minutes_per_visit=minutes, miles_per_visit=miles)
    return payer


@pytest.fixture
def plan_analyst(plan, member_of):
    return member_of(plan, Role.ANALYST)


@pytest.fixture
def analyst_scope(plan, plan_analyst):
    return scope_of(plan_analyst, plan)


@pytest.fixture
def plan_scope(plan, member_of):
    return scope_of(member_of(plan, Role.CONTRACT_MANAGER), plan)


@pytest.fixture
def bundle_version(plan, plan_analyst):
    ensure_platform_roles(IdtRole)
    scope = scope_of(plan_analyst, plan)
    bundle = bundle_services.bundle_create(scope=scope, definition=home_based_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def provider_admin(provider, member_of):
    provider.tax_id = "987654321"
    provider.npi = "1234567893"
    provider.save()
    return member_of(provider, Role.ADMIN)


@pytest.fixture
def provider_scope(provider, provider_admin):
    return scope_of(provider_admin, provider)


@pytest.fixture
def contract(plan_scope, provider, provider_scope, bundle_version):
    return make_contract(plan_scope=plan_scope, provider=provider, provider_scope=provider_scope,
                         bundle_version=bundle_version)


@pytest.fixture
def cohort(contract, provider_scope):
    """Rosters for January to March 2026: P1-P4 (P4 to hospice on 2026-03-20)."""
    for month in (JAN, FEB, MAR):
        rows = [roster_member(m) for m in ("P1", "P2", "P3")]
        rows.append(roster_member("P4", end=D(2026, 3, 20), reason="hospice") if month == MAR else
                    roster_member("P4"))
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
            rows.append(urow(member_id, month, ed=1 if (member_id, month) in {("P1", JAN), ("P2", FEB), ("P3", MAR)}
                             else 0, dis=2 if member_id == "P2" and month in (JAN, FEB) else 0,
                             readm=1 if member_id == "P2" and month == FEB else 0, tcoc="3000.00",
                             satisfaction_score="90" if month == MAR else "", **extra))
    return rows
