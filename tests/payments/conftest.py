"""Payment fixtures: a plan with markets and a published home-based bundle, its analyst, a provider's
admin, and the two helpers that reach other apps through their services:

- :func:`make_contract` opens, proposes and activates a contract (contracts' services);
- :func:`submit_roster` submits and processes a month's roster with its assessments (enrollment's
  services), with ``today`` pinned so that fixed months (2026) are inside the retro window.

Change those two if the other apps' APIs change; nothing else here touches them.
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
from enrollment.ingest.roster import ASSESSMENT_COLUMNS, ROSTER_COLUMNS
from payments import services
from payments.models import PaymentRun
from tests.factories import ProviderFactory

D = dt.date
JAN, FEB, MAR, APR, MAY, JUN = (D(2026, m, 1) for m in range(1, 7))
ENROLLED = D(2025, 6, 1)
RATES = {"1": Decimal("300.00"), "2": Decimal("450.00"), "3": Decimal("612.35")}
FEE = Decimal("341.85")


def scope_of(user, organization) -> Scope:
    return Scope(Membership.objects.select_related("organization", "user").get(user=user, organization=organization))


# --- the one place that makes contracts ---------------------------------------------------------


def make_contract(*, plan_scope: Scope, provider, provider_scope: Scope, bundle_version, markets=("URBAN",),
                  lobs=("medicaid",), rates=None, fee=FEE, **terms):
    """An active contract (opened, proposed, accepted by both sides) through the contracts services."""
    base = {
        "effective_start": D(2025, 1, 1), "effective_end": None, "markets": list(markets),
        "lines_of_business": list(lobs), "proration_rule": "any_day", "tier_rule": "first_day",
        "assessment_lookback_months": 12, "retro_window_months": 3, "roster_due_day": 10,
        "withhold_percentage": Decimal("0"), "termination_notice_days": 90,
        "quality_terms": [{"measure": "hospice_transition_rate", "target": "0.45", "weight": "1",
                           "minimum_denominator": 20}],
    }
    base.update(terms)
    rates = rates or RATES
    contract = contract_services.contract_create(
        scope=plan_scope, provider=provider, bundle_version=bundle_version, terms=base,
        rates=[{"tier": t, "market": m, "lob": lob, "pmpm": str(rates[t]), "reason": "Negotiated"}
               for lob in lobs for t in ("1", "2", "3") for m in markets],
        assessment_fees={m: str(fee) for m in markets})
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=plan_scope, contract=contract)
    contract_services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    return contract


# --- the one place that makes rosters -----------------------------------------------------------


def _csv(rows: list[dict], columns) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def submit_roster(*, provider_scope: Scope, contract, month: dt.date, rows: list[dict],
                  assessments: list[dict] | None = None, today: dt.date | None = None):
    """Submit and process a month's roster (a new version) through the enrollment services; accepted or fail."""
    today = today or D(month.year + month.month // 12, month.month % 12 + 1, 5)
    submission = enrollment_services.roster_submit(
        scope=provider_scope, contract=contract, month=month, today=today, run_inline=True,
        file=SimpleUploadedFile("roster.csv", _csv(rows, ROSTER_COLUMNS), content_type="text/csv"),
        assessments_file=(SimpleUploadedFile("assessments.csv", _csv(assessments, ASSESSMENT_COLUMNS),
                                             content_type="text/csv") if assessments else None))
    errors = list(submission.issues.filter(severity="error").values_list("row", "code", "message"))
    assert submission.status == "accepted", errors
    return submission


def member(member_id: str, *, start: dt.date = ENROLLED, end: dt.date | None = None, tier: str = "1",
           tier_start: dt.date | None = None, reason: str = "", market: str = "URBAN", last: str = "",
           first: str = "ANA") -> dict:
    return {"member_id": member_id, "last_name": last or f"LAST{member_id}", "first_name": first,
            "birth_date": "1940-05-17", "market": market, "enrollment_start": start.isoformat(),
            "enrollment_end": end.isoformat() if end else "",
            "disenrollment_reason": reason or ("death" if end else ""), "tier": tier,
            "tier_start": tier_start.isoformat() if tier_start else ""}


def assessment(member_id: str, on: dt.date, *, outcome: str = "enrolled", market: str = "URBAN") -> dict:
    return {"member_id": member_id, "last_name": f"LAST{member_id}", "first_name": "ANA",
            "birth_date": "1940-05-17", "market": market, "assessment_date": on.isoformat(), "outcome": outcome,
            "assessor_role": "np"}


def calculate(*, scope: Scope, contract, month) -> PaymentRun:
    """Request and calculate a month's run in this process (the task's body, without a worker)."""
    run, _created = services.payment_run_start(scope=scope, contract=contract, month=month, enqueue=False)
    if run.status == "calculating":
        services.payment_run_calculate(run_id=run.pk)
    run.refresh_from_db()
    return run


def pay(*, scope: Scope, contract, month) -> PaymentRun:
    """Calculate and approve a month's run."""
    run = calculate(scope=scope, contract=contract, month=month)
    assert run.status == "review", run.error
    return services.payment_run_approve(scope=scope, run=run)


# --- fixtures -----------------------------------------------------------------------------------


def _unfreeze_contracts_for_flush() -> None:
    """contracts/migrations/0004 adds SQLite triggers that refuse to DELETE the rates of an agreed version, so
    Django's flush after a transactional test fails there. Delete them first, one version at a time as a
    draft (test teardown only; PostgreSQL's TRUNCATE does not fire triggers). Reported to contracts."""
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
    transactional = "transactional_db" in request.fixturenames
    if transactional:
        request.getfixturevalue("transactional_db")  # so this teardown runs before its flush
    yield
    if transactional:
        _unfreeze_contracts_for_flush()



@pytest.fixture(autouse=True)
def _media(request, settings, tmp_path):
    if "celery_worker" not in request.fixturenames and "transactional_db" not in request.fixturenames:
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
    provider.tax_id = "987654321"
    provider.npi = "1234567893"
    provider.save()
    return member_of(provider, Role.ADMIN)


@pytest.fixture
def provider_scope(provider, provider_admin):
    return scope_of(provider_admin, provider)


@pytest.fixture
def contract_factory(plan_scope, provider, provider_scope, bundle_version, member_of):
    """contract_factory(provider_org=None, **terms) -> an active contract of the plan."""

    def make(provider_org=None, **terms):
        org = provider_org or provider
        scope = provider_scope if org == provider else scope_of(member_of(org, Role.ADMIN), org)
        return make_contract(plan_scope=plan_scope, provider=org, provider_scope=scope,
                             bundle_version=bundle_version, **terms)

    return make


@pytest.fixture
def contract(contract_factory):
    return contract_factory()


@pytest.fixture
def other_provider(db):
    return ProviderFactory()
