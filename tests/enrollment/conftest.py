"""Enrollment fixtures: a plan with markets and a published home-based bundle, active contracts made
through the contracts services (ONE helper, :func:`make_active_contract`, so a change in their API
is fixed here), users of each side, and builders for roster/assessment files and 834s.

Months are relative to today (the previous month by default) because the services refuse months
older than the contract's retro window.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from bundles import services as bundle_services
from bundles.catalogue import ensure_platform_roles
from bundles.demo import MARKETS, home_based_definition
from bundles.models import IdtRole, Market
from contracts import services as contract_services
from enrollment import calc
from enrollment.ingest.roster import ASSESSMENT_COLUMNS, ROSTER_COLUMNS

TODAY = timezone.localdate()
MONTH = calc.add_months(TODAY.replace(day=1), -1)  # last month: always inside the retro window
PREVIOUS = calc.add_months(MONTH, -1)
CONTRACT_START = calc.add_months(MONTH, -12)


def scope_of(user, organization) -> Scope:
    return Scope(Membership.objects.select_related("organization", "user").get(user=user, organization=organization))


def day(n: int, month: dt.date = MONTH) -> str:
    return month.replace(day=n).isoformat()


# --- the one place that makes contracts ---------------------------------------------------------


def make_active_contract(*, plan_scope: Scope, provider, provider_admin, bundle_version, markets=("URBAN", "URBAN-E"),
                         lobs=("medicaid",), **terms) -> object:
    """A contract opened, proposed and accepted by both sides through the contracts services."""
    base = {
        "effective_start": CONTRACT_START, "effective_end": None, "markets": list(markets),
        "lines_of_business": list(lobs), "proration_rule": "any_day", "tier_rule": "first_day",
        "assessment_lookback_months": 12, "retro_window_months": 3, "roster_due_day": 10,
        "withhold_percentage": Decimal("0"), "termination_notice_days": 90,
    }
    base.update(terms)
    rates = [{"tier": tier, "market": market, "lob": lob, "pmpm": str(200 + 100 * int(tier)), "reason": "Negotiated"}
             for lob in lobs for tier in ("1", "2", "3") for market in markets]
    contract = contract_services.contract_create(
        scope=plan_scope, provider=provider, bundle_version=bundle_version, terms=base, rates=rates,
        assessment_fees={m: "341.85" for m in markets})
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=scope_of(provider_admin, provider), contract=contract)
    contract.refresh_from_db()
    return contract


def unfreeze_contracts_for_flush() -> None:
    """contracts/migrations/0004 adds SQLite triggers that refuse to DELETE the rates of an agreed version,
    so flushing the database after a transactional test fails. Delete them first, one version at a time
    as a draft (test teardown only; PostgreSQL's TRUNCATE does not fire them; reported to contracts)."""
    from django.db import connection

    from contracts.models import AssessmentFee, ContractVersion, RateScheduleEntry

    if connection.vendor != "sqlite":
        return
    for version in ContractVersion.objects.order_by("pk"):
        ContractVersion.objects.filter(contract_id=version.contract_id, status__in=["draft", "proposed"]).exclude(
            pk=version.pk).update(status="withdrawn")
        ContractVersion.objects.filter(pk=version.pk).update(status="draft")
        RateScheduleEntry.objects.filter(version_id=version.pk).delete()
        AssessmentFee.objects.filter(version_id=version.pk).delete()
        ContractVersion.objects.filter(pk=version.pk).update(status="withdrawn")


@pytest.fixture(autouse=True)
def _flushable(request):
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    if transactional:
        request.getfixturevalue("transactional_db")  # so this teardown runs before its flush
    yield
    if transactional:
        unfreeze_contracts_for_flush()


@pytest.fixture(autouse=True)
def _media(request, settings, tmp_path):
    # A real worker process reads MEDIA_ROOT from its own settings: leave it alone for those tests.
    if "celery_worker" not in request.fixturenames:
        settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def plan(payer):
    for code, name, rural, minutes, miles in MARKETS:
        Market.objects.create(organization=payer, code=code, name=name, rural=rural,
                              travel_minutes_per_visit=minutes, miles_per_visit=miles)
    return payer


@pytest.fixture
def plan_cm(plan, member_of):
    return member_of(plan, Role.CONTRACT_MANAGER)


@pytest.fixture
def plan_scope(plan, plan_cm):
    return scope_of(plan_cm, plan)


@pytest.fixture
def plan_analyst(plan, member_of):
    return member_of(plan, Role.ANALYST)


@pytest.fixture
def analyst_scope(plan, plan_analyst):
    return scope_of(plan_analyst, plan)


@pytest.fixture
def bundle_version(plan, plan_analyst):
    ensure_platform_roles(IdtRole)  # a flushed (transactional) database has lost the migration's catalogue
    scope = scope_of(plan_analyst, plan)
    bundle = bundle_services.bundle_create(scope=scope, definition=home_based_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def provider_admin(provider, member_of):
    return member_of(provider, Role.ADMIN)


@pytest.fixture
def provider_scope(provider, provider_admin):
    return scope_of(provider_admin, provider)


@pytest.fixture
def active_contract(plan_scope, provider, provider_admin, bundle_version, member_of):
    """active_contract(provider_org=None, **terms) -> an active contract with the plan."""

    def make(provider_org=None, **terms):
        org = provider_org or provider
        admin = provider_admin if org == provider else member_of(org, Role.ADMIN)
        return make_active_contract(plan_scope=plan_scope, provider=org, provider_admin=admin,
                                    bundle_version=bundle_version, **terms)

    return make


@pytest.fixture
def contract(active_contract):
    return active_contract()


# --- files ---------------------------------------------------------------------------------------


def roster_row(member_id: str, **values) -> dict:
    row = {"member_id": member_id, "last_name": f"LAST{member_id[-3:]}", "first_name": "ANA",
           "birth_date": "1940-05-17", "market": "URBAN", "enrollment_start": day(1, PREVIOUS),
           "enrollment_end": "", "disenrollment_reason": "", "tier": "1", "tier_start": ""}
    row.update(values)
    return row


def assessment_row(member_id: str, **values) -> dict:
    row = {"member_id": member_id, "last_name": f"LAST{member_id[-3:]}", "first_name": "ANA",
           "birth_date": "1940-05-17", "market": "URBAN", "assessment_date": day(3), "outcome": "enrolled",
           "assessor_role": "np"}
    row.update(values)
    return row


def csv_bytes(rows: list[dict], columns=ROSTER_COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def roster_file(rows: list[dict], name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows), content_type="text/csv")


def assessments_file(rows: list[dict], name: str = "assessments.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows, ASSESSMENT_COLUMNS), content_type="text/csv")


def make_834(members, *, full: bool = True, maintenance: str | None = None) -> bytes:
    """members: (member_id, last, first, birth 'YYYYMMDD', start date, end date|None[, hd03])."""
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
        segs += [f"INS*Y*18*{ins03}*XN*A", f"REF*0F*{member_id}", f"NM1*IL*1*{last}*{first}****ZZ*{member_id}",
                 f"DMG*D8*{birth}*F", f"HD*{ins03}**{hd03}*PALLIATIVE*IND", f"DTP*348*D8*{start:%Y%m%d}"]
        if end is not None:
            segs.append(f"DTP*349*D8*{end:%Y%m%d}")
    segs.append(f"SE*{len(segs) - 1}*0001")
    segs += ["GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segs) + "~\n").encode()


def eligibility_upload(data: bytes, name: str = "eligibility.834") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/edi-x12")
