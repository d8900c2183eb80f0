"""Contract fixtures: a plan with markets and a published home-based bundle, its contract manager,
a provider's admin, and helpers that open, propose and activate contracts through the services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Membership, Role
from accounts.tenancy import Scope
from bundles import services as bundle_services
from bundles.catalogue import ensure_platform_roles
from bundles.demo import MARKETS, home_based_definition
from bundles.models import IdtRole, Market
from contracts import services
from tests.factories import ProviderFactory

TIERS = ("1", "2", "3")
BASE = {"1": Decimal("250.00"), "2": Decimal("410.00"), "3": Decimal("655.00")}


def scope_of(user, organization) -> Scope:
    return Scope(Membership.objects.select_related("organization", "user").get(user=user, organization=organization))


def full_rates(markets=("URBAN", "URBAN-E"), lobs=("medicaid",), bump: Decimal = Decimal(0), reason="Negotiated"):
    rates = []
    for lob in lobs:
        for tier in TIERS:
            for i, market in enumerate(markets):
                pmpm = BASE[tier] + Decimal(i * 12) + (Decimal(15) if lob != "medicaid" else 0) + bump
                rates.append({"tier": tier, "market": market, "lob": lob, "pmpm": str(pmpm), "reason": reason})
    return rates


def terms(**overrides):
    base = {
        "effective_start": date(2026, 1, 1),
        "effective_end": date(2027, 1, 1),
        "markets": ["URBAN", "URBAN-E"],
        "lines_of_business": ["medicaid"],
        "proration_rule": "any_day",
        "tier_rule": "first_day",
        "assessment_lookback_months": 12,
        "retro_window_months": 3,
        "roster_due_day": 10,
        "withhold_percentage": Decimal("0.05"),
        "termination_notice_days": 90,
        "quality_terms": [
            {"measure": "ed_visits_per_1000", "target": "85", "weight": "0.5", "minimum_denominator": 100},
            {"measure": "hospice_transition_rate", "target": "0.45", "weight": "0.5", "minimum_denominator": 20},
        ],
        "shared_savings_terms": {"baseline_method": "pre_enrollment", "minimum_savings_rate": "0.02",
                                 "sharing_rate": "0.5", "cap": "0.1", "quality_gate": "0.7"},
    }
    base.update(overrides)
    return base


@pytest.fixture
def plan(payer, member_of):
    for code, name, rural, minutes, miles in MARKETS:
        Market.objects.create(organization=payer, code=code, name=name, rural=rural,
                              travel_minutes_per_visit=minutes, miles_per_visit=miles)
    return payer


@pytest.fixture
def bundle_version(plan, member_of):
    ensure_platform_roles(IdtRole)  # a flushed (transactional) test database has lost the migration's catalogue
    analyst = member_of(plan, Role.ANALYST)
    scope = scope_of(analyst, plan)
    bundle = bundle_services.bundle_create(scope=scope, definition=home_based_definition())
    return bundle_services.draft_publish(scope=scope, bundle=bundle)


@pytest.fixture
def plan_cm(plan, member_of):
    return member_of(plan, Role.CONTRACT_MANAGER)


@pytest.fixture
def plan_scope(plan, plan_cm):
    return scope_of(plan_cm, plan)


@pytest.fixture
def provider_admin(provider, member_of):
    return member_of(provider, Role.ADMIN)


@pytest.fixture
def provider_scope(provider, provider_admin):
    return scope_of(provider_admin, provider)


@pytest.fixture
def open_contract(plan_scope, provider, bundle_version):
    """open_contract(**term_overrides) -> a draft contract with every rate and fee filled in."""

    def make(provider_org=None, rates=None, fees=None, **overrides):
        t = terms(**overrides)
        return services.contract_create(
            scope=plan_scope, provider=provider_org or provider, bundle_version=bundle_version, terms=t,
            rates=full_rates(t["markets"], t["lines_of_business"]) if rates is None else rates,
            assessment_fees={m: "341.85" for m in t["markets"]} if fees is None else fees,
        )

    return make


@pytest.fixture
def active_contract(open_contract, plan_scope, provider, member_of):
    """active_contract(**term_overrides) -> a contract proposed and accepted by both sides."""

    def make(provider_org=None, **overrides):
        provider_org = provider_org or provider
        contract = open_contract(provider_org=provider_org, **overrides)
        services.contract_propose(scope=plan_scope, contract=contract)
        services.contract_accept(scope=plan_scope, contract=contract)
        admin = member_of(provider_org, Role.ADMIN)
        services.contract_accept(scope=scope_of(admin, provider_org), contract=contract)
        contract.refresh_from_db()
        return contract

    return make


@pytest.fixture
def other_provider(db):
    return ProviderFactory()
