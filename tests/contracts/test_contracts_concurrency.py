"""Race safety with real concurrent transactions (PostgreSQL: CI sets DATABASE_URL to it).

Both sides accepting at the same moment activate the contract exactly once; one side accepting
twice at once records one acceptance; contract numbers handed out at once are unique and gapless.
"""

import threading

import pytest
from django.db import connection

from accounts.models import Role
from contracts import services
from contracts.models import Contract, ContractAcceptance, ContractEvent
from core.errors import ConflictError
from tests.contracts.conftest import scope_of, terms
from tests.factories import ProviderFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="row locks need PostgreSQL (SQLite serialises every write anyway)",
    ),
]


def run_at_once(*calls):
    """Run each call in its own thread and connection, released together; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # collected for the assertions
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_both_sides_accepting_at_once_activate_exactly_once(open_contract, plan_scope, provider_scope):
    for market in ("URBAN", "URBAN-E", "RURAL-N", "RURAL-S"):
        contract = open_contract(markets=[market])
        services.contract_propose(scope=plan_scope, contract=contract)
        results = run_at_once(
            lambda c=contract: services.contract_accept(
                scope=plan_scope, contract=Contract.objects.get(pk=c.pk)
            ),
            lambda c=contract: services.contract_accept(
                scope=provider_scope, contract=Contract.objects.get(pk=c.pk)
            ),
        )
        assert not any(isinstance(r, Exception) for r in results), results
        contract.refresh_from_db()
        assert contract.status == "active", market
        assert contract.current_version.status == "active"
        assert ContractAcceptance.objects.filter(version__contract=contract).count() == 2
        assert ContractEvent.objects.filter(contract=contract, kind="activated").count() == 1


def test_one_side_accepting_twice_at_once_records_one_acceptance(open_contract, plan_scope, plan, member_of):
    contract = open_contract()
    services.contract_propose(scope=plan_scope, contract=contract)
    other_cm = scope_of(member_of(plan, Role.CONTRACT_MANAGER), plan)
    results = run_at_once(
        lambda: services.contract_accept(scope=plan_scope, contract=Contract.objects.get(pk=contract.pk)),
        lambda: services.contract_accept(scope=other_cm, contract=Contract.objects.get(pk=contract.pk)),
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ConflictError) and errors[0].code == "already_accepted"
    assert ContractAcceptance.objects.filter(version__contract=contract).count() == 1
    contract.refresh_from_db()
    assert contract.status == "proposed"


def test_contract_numbers_allocated_at_once_are_unique_and_gapless(plan_scope, bundle_version):
    providers = [ProviderFactory() for _ in range(6)]
    results = run_at_once(
        *[
            (
                lambda p=p: services.contract_create(
                    scope=plan_scope,
                    provider=p,
                    bundle_version=bundle_version,
                    terms=terms(markets=["URBAN"]),
                )
            )
            for p in providers
        ]
    )
    assert not any(isinstance(r, Exception) for r in results), results
    numbers = sorted(c.number for c in results)
    year = numbers[0][4:8]
    assert numbers == [f"CTR-{year}-{i:04d}" for i in range(1, 7)]


def test_two_overlapping_contracts_cannot_both_go_live(open_contract, plan_scope, provider_scope):
    first, second = open_contract(markets=["URBAN"]), open_contract(markets=["URBAN"])
    for contract in (first, second):
        services.contract_propose(scope=plan_scope, contract=contract)
        services.contract_accept(scope=plan_scope, contract=contract)
    results = run_at_once(
        lambda: services.contract_accept(scope=provider_scope, contract=Contract.objects.get(pk=first.pk)),
        lambda: services.contract_accept(scope=provider_scope, contract=Contract.objects.get(pk=second.pk)),
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and errors[0].code == "overlapping_contract"
    assert Contract.objects.filter(pk__in=[first.pk, second.pk], status="active").count() == 1
