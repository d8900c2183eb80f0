"""Contract fixtures: the terms and rate tables of the contracts under test, and helpers that open,
propose and activate them through the services, for the plan and provider of
tests/fixtures/contracts.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import Role
from contracts import services
from tests.fixtures.contracts import TIERS, accept_by_both, contract_terms
from tests.fixtures.contracts import scope_of as scope_of  # contracts' tests import it from here

BASE = {"1": Decimal("250.00"), "2": Decimal("410.00"), "3": Decimal("655.00")}


def full_rates(
    markets=("URBAN", "URBAN-E"), lobs=("medicaid",), bump: Decimal = Decimal(0), reason="Negotiated"
):
    rates = []
    for lob in lobs:
        for tier in TIERS:
            for i, market in enumerate(markets):
                pmpm = BASE[tier] + Decimal(i * 12) + (Decimal(15) if lob != "medicaid" else 0) + bump
                rates.append(
                    {"tier": tier, "market": market, "lob": lob, "pmpm": str(pmpm), "reason": reason}
                )
    return rates


def terms(**overrides):
    """The terms of calendar 2026 in two markets, with a withhold, quality and shared-savings terms."""
    base = contract_terms(
        effective_start=date(2026, 1, 1),
        markets=("URBAN", "URBAN-E"),
        effective_end=date(2027, 1, 1),
        withhold_percentage=Decimal("0.05"),
        quality_terms=[
            {"measure": "ed_visits_per_1000", "target": "85", "weight": "0.5", "minimum_denominator": 100},
            {
                "measure": "hospice_transition_rate",
                "target": "0.45",
                "weight": "0.5",
                "minimum_denominator": 20,
            },
        ],
        shared_savings_terms={
            "baseline_method": "pre_enrollment",
            "minimum_savings_rate": "0.02",
            "sharing_rate": "0.5",
            "cap": "0.1",
            "quality_gate": "0.7",
        },
    )
    base.update(overrides)
    return base


@pytest.fixture
def open_contract(plan_scope, provider, bundle_version):
    """open_contract(**term_overrides) -> a draft contract with every rate and fee filled in."""

    def make(provider_org=None, rates=None, fees=None, **overrides):
        t = terms(**overrides)
        return services.contract_create(
            scope=plan_scope,
            provider=provider_org or provider,
            bundle_version=bundle_version,
            terms=t,
            rates=full_rates(t["markets"], t["lines_of_business"]) if rates is None else rates,
            assessment_fees={m: "341.85" for m in t["markets"]} if fees is None else fees,
        )

    return make


@pytest.fixture
def active_contract(open_contract, plan_scope, provider, member_of):
    """active_contract(**term_overrides) -> a contract proposed and accepted by both sides (the provider's
    side by a new admin of its own)."""

    def make(provider_org=None, **overrides):
        provider_org = provider_org or provider
        contract = open_contract(provider_org=provider_org, **overrides)
        admin = member_of(provider_org, Role.ADMIN)
        return accept_by_both(contract, plan_scope=plan_scope, provider_scope=scope_of(admin, provider_org))

    return make
