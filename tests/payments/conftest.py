"""Payment fixtures: active contracts on payments' terms and the rows of the rosters they pay, on top
of tests/fixtures/contracts.py (the plan, its bundle, the users of each side, and the helpers that
reach the contracts and enrollment services):

- :func:`make_contract` opens, proposes and activates a contract from 2025-01;
- :func:`submit_roster` (from there) submits and processes a month's roster with its assessments,
  with ``today`` pinned so that fixed months (2026) are inside the retro window.

The plan and the provider have tax ids (and the provider an NPI): the 820 names them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.models import Role
from accounts.tenancy import Scope
from bundles import services as bundle_services
from bundles.demo import home_based_definition
from payments import services
from payments.models import PaymentRun
from tests.fixtures.contracts import (
    activate_contract,
    flushable_after_contracts,
    media_in_tmp,
    scope_of,
    second_scope,
)
from tests.fixtures.contracts import submit_roster as submit_roster  # payments' tests import it from here

D = dt.date
JAN, FEB, MAR, APR, MAY, JUN = (D(2026, m, 1) for m in range(1, 7))
ENROLLED = D(2025, 6, 1)
RATES = {"1": Decimal("300.00"), "2": Decimal("450.00"), "3": Decimal("612.35")}
FEE = Decimal("341.85")

_flushable = flushable_after_contracts()
_media = media_in_tmp(unless=("celery_worker", "transactional_db"))


def make_contract(
    *,
    plan_scope: Scope,
    provider,
    provider_scope: Scope,
    bundle_version,
    markets=("URBAN",),
    lobs=("medicaid",),
    rates=None,
    fee=FEE,
    **terms,
):
    """An active contract from 2025-01 with a hospice-transition quality measure, at ``rates`` (tier -> PMPM)."""
    terms.setdefault("effective_start", D(2025, 1, 1))
    terms.setdefault(
        "quality_terms",
        [{"measure": "hospice_transition_rate", "target": "0.45", "weight": "1", "minimum_denominator": 20}],
    )
    return activate_contract(
        plan_scope=plan_scope,
        provider=provider,
        provider_scope=provider_scope,
        bundle_version=bundle_version,
        pmpm=rates or RATES,
        markets=markets,
        lobs=lobs,
        fee=fee,
        **terms,
    )


def member(
    member_id: str,
    *,
    start: dt.date = ENROLLED,
    end: dt.date | None = None,
    tier: str = "1",
    tier_start: dt.date | None = None,
    reason: str = "",
    market: str = "URBAN",
    last: str = "",
    first: str = "ANA",
) -> dict:
    return {
        "member_id": member_id,
        "last_name": last or f"LAST{member_id}",
        "first_name": first,
        "birth_date": "1940-05-17",
        "market": market,
        "enrollment_start": start.isoformat(),
        "enrollment_end": end.isoformat() if end else "",
        "disenrollment_reason": reason or ("death" if end else ""),
        "tier": tier,
        "tier_start": tier_start.isoformat() if tier_start else "",
    }


def assessment(member_id: str, on: dt.date, *, outcome: str = "enrolled", market: str = "URBAN") -> dict:
    return {
        "member_id": member_id,
        "last_name": f"LAST{member_id}",
        "first_name": "ANA",
        "birth_date": "1940-05-17",
        "market": market,
        "assessment_date": on.isoformat(),
        "outcome": outcome,
        "assessor_role": "np",
    }


def calculate(*, scope: Scope, contract, month) -> PaymentRun:
    """Request and calculate a month's run in this process (the task's body, without a worker)."""
    run, _created = services.payment_run_start(scope=scope, contract=contract, month=month, enqueue=False)
    if run.status == "calculating":
        services.payment_run_calculate(run_id=run.pk)
    run.refresh_from_db()
    return run


def pay(*, scope: Scope, contract, month) -> PaymentRun:
    """Calculate a month's run and approve it as a second analyst (four eyes)."""
    run = calculate(scope=scope, contract=contract, month=month)
    assert run.status == "review", run.error
    return services.payment_run_approve(scope=second_scope(scope), run=run)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def identified_parties():
    return True  # the 820 names the plan and the provider by tax id, the provider by NPI too


@pytest.fixture
def contract_factory(plan_scope, provider, provider_scope, bundle_version, member_of):
    """contract_factory(provider_org=None, **terms) -> an active contract of the plan."""

    def make(provider_org=None, **terms):
        org = provider_org or provider
        scope = provider_scope if org == provider else scope_of(member_of(org, Role.ADMIN), org)
        return make_contract(
            plan_scope=plan_scope, provider=org, provider_scope=scope, bundle_version=bundle_version, **terms
        )

    return make


@pytest.fixture
def contract(contract_factory):
    return contract_factory()


# --- an episode bundle (90 days) and contracts on it ----------------------------------------------

CASE_RATES = {"1": Decimal("2976.78"), "2": Decimal("4410.00"), "3": Decimal("6000.00")}


@pytest.fixture
def episode_version(plan, plan_analyst):
    scope = scope_of(plan_analyst, plan)
    definition = home_based_definition()
    definition["name"] = "Transition 90"
    definition["period"] = {"type": "episode", "days": 90}
    bundle = bundle_services.bundle_create(scope=scope, definition=definition)
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def episode_contract(plan_scope, provider, provider_scope, episode_version):
    def make(**terms):
        terms.setdefault("quality_terms", [])
        return make_contract(
            plan_scope=plan_scope,
            provider=provider,
            provider_scope=provider_scope,
            bundle_version=episode_version,
            rates=CASE_RATES,
            **terms,
        )

    return make
