"""The contract state machine through the services: every allowed and refused transition, the
acceptance record, amendments, termination, expiry, overlap and completeness rules. A refused
transition changes nothing."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from contracts import services
from contracts.models import (
    Contract,
    ContractAcceptance,
    ContractEvent,
    ContractVersion,
    RateScheduleEntry,
)
from core.errors import ApplicationError, ConflictError, PermissionDeniedError
from tests.contracts.conftest import full_rates, scope_of

pytestmark = pytest.mark.django_db


def snapshot(contract):
    contract.refresh_from_db()
    versions = list(
        ContractVersion.objects.filter(contract=contract).values_list(
            "number", "status", "fingerprint", "in_force_end"
        )
    )
    rates = list(
        RateScheduleEntry.objects.filter(version__contract=contract).values_list("pk", "pmpm", "reason")
    )
    return (
        contract.status,
        contract.current_version_id,
        versions,
        rates,
        ContractEvent.objects.filter(contract=contract).count(),
        ContractAcceptance.objects.filter(version__contract=contract).count(),
    )


def refused(contract, exc_type, call, code=None):
    before = snapshot(contract)
    with pytest.raises(exc_type) as info:
        call()
    if code:
        assert info.value.code == code, info.value.details
    assert snapshot(contract) == before
    return info.value


def test_draft_propose_accept_by_both_sides_activates_with_who_and_when(
    open_contract, plan_scope, provider_scope, plan_cm, provider_admin
):
    contract = open_contract()
    assert contract.number.startswith(f"CTR-{timezone.localdate().year}-")
    assert contract.status == "draft"
    version = services.contract_propose(scope=plan_scope, contract=contract)
    contract.refresh_from_db()
    assert contract.status == "proposed" and version.status == "proposed"
    assert len(version.fingerprint) == 64

    services.contract_accept(scope=plan_scope, contract=contract)
    contract.refresh_from_db()
    assert contract.status == "proposed"  # one side is not enough
    services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    version.refresh_from_db()
    assert contract.status == "active" and version.status == "active"
    assert version.in_force_end == date(2027, 1, 1)
    acceptances = {a.side: a for a in version.acceptances.all()}
    assert acceptances["payer"].user == plan_cm and acceptances["provider"].user == provider_admin
    assert all(a.at is not None for a in acceptances.values())
    kinds = list(ContractEvent.objects.filter(contract=contract).values_list("kind", flat=True))
    assert kinds == ["created", "proposed", "accepted", "accepted", "activated"]


def test_provider_returns_with_comments_and_the_plan_edits_again(open_contract, plan_scope, provider_scope):
    contract = open_contract()
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    refused(
        contract,
        ApplicationError,
        lambda: services.contract_return(scope=provider_scope, contract=contract, comments="  "),
        "comments_required",
    )
    version = services.contract_return(
        scope=provider_scope, contract=contract, comments="Tier 3 in URBAN-E is below our cost."
    )
    contract.refresh_from_db()
    assert contract.status == "draft" and version.status == "draft" and version.fingerprint == ""
    event = ContractEvent.objects.get(contract=contract, kind="returned")
    assert (
        event.comment == "Tier 3 in URBAN-E is below our cost."
        and event.organization == provider_scope.organization
    )
    # Editable again; the earlier round's acceptance no longer counts.
    services.contract_rate_set(
        scope=plan_scope,
        version=version,
        tier="3",
        market="URBAN-E",
        lob="medicaid",
        pmpm="700.00",
        reason="Provider's cost of tier 3 in the East Bay",
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    contract.refresh_from_db()
    assert contract.status == "proposed"
    services.contract_accept(scope=plan_scope, contract=contract)
    contract.refresh_from_db()
    assert contract.status == "active"


def test_refused_transitions_change_nothing(open_contract, active_contract, plan_scope, provider_scope):
    draft = open_contract(markets=["URBAN"])
    # activating (accepting) a draft
    refused(
        draft,
        ConflictError,
        lambda: services.contract_accept(scope=plan_scope, contract=draft),
        "invalid_transition",
    )
    refused(
        draft,
        ConflictError,
        lambda: services.contract_return(scope=provider_scope, contract=draft, comments="x"),
        "invalid_transition",
    )
    refused(
        draft,
        ConflictError,
        lambda: services.contract_terminate(
            scope=plan_scope, contract=draft, end_date=date(2026, 6, 1), reason="x", for_cause=True
        ),
        "invalid_transition",
    )
    refused(
        draft,
        ConflictError,
        lambda: services.contract_amend(scope=plan_scope, contract=draft, effective_start=date(2026, 6, 1)),
        "invalid_transition",
    )
    services.contract_propose(scope=plan_scope, contract=draft)
    refused(
        draft,
        ConflictError,
        lambda: services.contract_propose(scope=plan_scope, contract=draft),
        "invalid_transition",
    )
    proposed_version = draft.versions.get()
    refused(
        draft,
        ConflictError,
        lambda: services.contract_version_update(
            scope=plan_scope, version=proposed_version, terms={"roster_due_day": 15}
        ),
        "invalid_transition",
    )
    services.contract_accept(scope=plan_scope, contract=draft)
    refused(
        draft,
        ConflictError,
        lambda: services.contract_accept(scope=plan_scope, contract=draft),
        "already_accepted",
    )

    active = active_contract(markets=["URBAN-E"])
    version = active.current_version
    # editing an active contract: its version, its rates
    refused(
        active,
        ConflictError,
        lambda: services.contract_version_update(
            scope=plan_scope, version=version, terms={"withhold_percentage": Decimal("0.02")}
        ),
        "invalid_transition",
    )
    refused(
        active,
        ConflictError,
        lambda: services.contract_rate_set(
            scope=plan_scope,
            version=version,
            tier="1",
            market="URBAN-E",
            lob="medicaid",
            pmpm="1.00",
            reason="x",
        ),
        "invalid_transition",
    )
    refused(
        active,
        ConflictError,
        lambda: services.contract_propose(scope=plan_scope, contract=active),
        "invalid_transition",
    )
    # amending a terminated contract
    services.contract_terminate(
        scope=plan_scope, contract=active, end_date=date(2026, 9, 1), reason="Program closed", for_cause=True
    )
    refused(
        active,
        ConflictError,
        lambda: services.contract_amend(scope=plan_scope, contract=active, effective_start=date(2026, 6, 1)),
        "invalid_transition",
    )
    refused(
        active,
        ConflictError,
        lambda: services.contract_terminate(
            scope=plan_scope, contract=active, end_date=date(2026, 8, 1), reason="again", for_cause=True
        ),
        "invalid_transition",
    )


@pytest.mark.parametrize(
    ("kind", "role", "allowed"),
    [
        ("payer", Role.ADMIN, {"create", "edit", "propose", "accept", "terminate", "amend"}),
        ("payer", Role.CONTRACT_MANAGER, {"create", "edit", "propose", "accept", "terminate", "amend"}),
        ("payer", Role.ANALYST, set()),
        ("payer", Role.AUDITOR, set()),
        ("payer", Role.SUBMITTER, set()),
        ("provider", Role.ADMIN, {"accept", "return"}),
        ("provider", Role.CONTRACT_MANAGER, {"accept", "return"}),
        ("provider", Role.ANALYST, set()),
        ("provider", Role.AUDITOR, set()),
        ("provider", Role.SUBMITTER, set()),
    ],
)
def test_who_may_do_what(
    kind, role, allowed, plan, provider, bundle_version, member_of, open_contract, plan_scope, provider_scope
):
    organization = plan if kind == "payer" else provider
    scope = scope_of(member_of(organization, role), organization)
    draft = open_contract(markets=["URBAN"])
    proposed = open_contract(markets=["URBAN-E"])
    services.contract_propose(scope=plan_scope, contract=proposed)
    active = open_contract(markets=["RURAL-N"])
    services.contract_propose(scope=plan_scope, contract=active)
    services.contract_accept(scope=plan_scope, contract=active)
    services.contract_accept(scope=provider_scope, contract=active)
    from tests.contracts.conftest import terms

    attempts = {
        "create": (
            None,
            lambda: services.contract_create(
                scope=scope,
                provider=provider,
                bundle_version=bundle_version,
                terms=terms(markets=["RURAL-S"]),
            ),
        ),
        "edit": (
            draft,
            lambda: services.contract_version_update(
                scope=scope, version=draft.versions.get(), terms={"roster_due_day": 12}
            ),
        ),
        "propose": (draft, lambda: services.contract_propose(scope=scope, contract=draft)),
        "accept": (proposed, lambda: services.contract_accept(scope=scope, contract=proposed)),
        "return": (
            proposed,
            lambda: services.contract_return(scope=scope, contract=proposed, comments="Please no"),
        ),
        "amend": (
            active,
            lambda: services.contract_amend(scope=scope, contract=active, effective_start=date(2026, 4, 1)),
        ),
        "terminate": (
            active,
            lambda: services.contract_terminate(
                scope=scope, contract=active, end_date=date(2026, 10, 1), reason="x", for_cause=True
            ),
        ),
    }
    for action, (contract, call) in attempts.items():
        if action in allowed:
            call()
        elif contract is None:
            with pytest.raises(PermissionDeniedError):
                call()
            assert not Contract.objects.filter(versions__markets__icontains="RURAL-S").exists()
        else:
            refused(contract, PermissionDeniedError, call)


def test_propose_lists_every_missing_rate_and_fee(open_contract, plan_scope):
    rates = [r for r in full_rates() if not (r["tier"] == "2" and r["market"] == "URBAN-E")]
    contract = open_contract(rates=rates, fees={"URBAN": "300.00"})
    error = refused(
        contract,
        ApplicationError,
        lambda: services.contract_propose(scope=plan_scope, contract=contract),
        "incomplete_contract",
    )
    problems = {(p["path"], p["code"]) for p in error.details["problems"]}
    assert ("rates.medicaid.2.URBAN-E", "missing_rate") in problems
    assert ("assessment_fees.URBAN-E", "missing_fee") in problems
    assert len(problems) == 2
    assert "No PMPM for tier 2 in URBAN-E (Medicaid)." in [p["message"] for p in error.details["problems"]]


def test_quality_weights_and_withhold_must_cohere_before_proposing(open_contract, plan_scope):
    contract = open_contract(
        quality_terms=[{"measure": "ed_visits_per_1000", "target": "80", "weight": "0.6"}]
    )
    error = refused(
        contract, ApplicationError, lambda: services.contract_propose(scope=plan_scope, contract=contract)
    )
    assert [p["code"] for p in error.details["problems"]] == ["weights_not_one"]
    no_quality = open_contract(markets=["RURAL-N"], quality_terms=[], shared_savings_terms={})
    error = refused(
        no_quality, ApplicationError, lambda: services.contract_propose(scope=plan_scope, contract=no_quality)
    )
    assert [p["code"] for p in error.details["problems"]] == ["withhold_without_quality"]


def test_invalid_terms_create_nothing(plan_scope, provider, bundle_version):
    from tests.contracts.conftest import terms

    bad = terms(
        effective_start=date(2026, 1, 15),
        markets=["NOWHERE"],
        proration_rule="weekly",
        withhold_percentage=Decimal("0.6"),
        quality_terms=[
            {"measure": "ed_visits_per_1000", "target": "80", "weight": "1", "direction": "higher"}
        ],
    )
    with pytest.raises(ApplicationError) as info:
        services.contract_create(
            scope=plan_scope, provider=provider, bundle_version=bundle_version, terms=bad
        )
    codes = {(p["path"], p["code"]) for p in info.value.details["problems"]}
    assert ("effective_start", "not_first_of_month") in codes
    assert ("markets[0]", "unknown_market") in codes
    assert ("proration_rule", "unknown_rule") in codes
    assert ("withhold_percentage", "too_large") in codes
    assert ("quality_terms[0].direction", "wrong_direction") in codes
    assert not Contract.objects.exists()


def test_negotiated_rate_needs_a_reason(open_contract, plan_scope):
    contract = open_contract(markets=["URBAN"], rates=[])
    version = contract.versions.get()
    with pytest.raises(ApplicationError) as info:
        services.contract_rate_set(
            scope=plan_scope, version=version, tier="1", market="URBAN", lob="medicaid", pmpm="250.00"
        )
    assert info.value.details["problems"][0]["code"] == "reason_required"
    assert not version.rates.exists()
    with pytest.raises(ApplicationError) as info:
        services.contract_rate_set(
            scope=plan_scope,
            version=version,
            tier="9",
            market="URBAN",
            lob="medicaid",
            pmpm="250.00",
            reason="x",
        )
    assert info.value.details["problems"][0]["code"] == "unknown_cell"
    with pytest.raises(ApplicationError) as info:
        services.contract_rate_set(
            scope=plan_scope,
            version=version,
            tier="1",
            market="URBAN",
            lob="medicaid",
            pmpm="250.005",
            reason="x",
        )
    assert info.value.details["problems"][0]["code"] == "too_many_places"


def test_overlapping_active_contracts_are_refused(
    active_contract, open_contract, plan_scope, provider_scope, provider, other_provider
):
    active_contract(markets=["URBAN", "URBAN-E"])
    with pytest.raises(ConflictError) as info:
        open_contract(markets=["URBAN-E", "RURAL-N"], effective_start=date(2026, 6, 1))
    assert info.value.code == "overlapping_contract"
    assert info.value.details["contracts"][0]["markets"] == ["URBAN-E"]
    assert Contract.objects.count() == 1
    # Another market, a later period, or another provider: fine.
    open_contract(markets=["RURAL-N"])
    open_contract(markets=["URBAN"], effective_start=date(2027, 1, 1), effective_end=date(2028, 1, 1))
    open_contract(provider_org=other_provider, markets=["URBAN"])


def test_overlap_is_checked_again_when_the_second_contract_would_activate(
    open_contract, plan_scope, provider_scope
):
    first = open_contract(markets=["URBAN"])
    second = open_contract(markets=["URBAN"])  # both drafts: nothing active yet
    for contract in (first, second):
        services.contract_propose(scope=plan_scope, contract=contract)
        services.contract_accept(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=first)
    refused(
        second,
        ConflictError,
        lambda: services.contract_accept(scope=provider_scope, contract=second),
        "overlapping_contract",
    )
    second.refresh_from_db()
    assert second.status == "proposed"


def test_amendment_is_a_new_version_with_the_same_lifecycle(active_contract, plan_scope, provider_scope):
    contract = active_contract()
    v1 = contract.current_version
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    assert v2.number == 2 and v2.status == "draft"
    assert v2.rates.count() == v1.rates.count() and v2.assessment_fees.count() == 2
    contract.refresh_from_db()
    assert contract.status == "active" and contract.current_version == v1
    refused(
        contract,
        ConflictError,
        lambda: services.contract_amend(
            scope=plan_scope, contract=contract, effective_start=date(2026, 8, 1)
        ),
        "amendment_pending",
    )
    services.contract_rate_set(
        scope=plan_scope,
        version=v2,
        tier="3",
        market="URBAN",
        lob="medicaid",
        pmpm="700.00",
        reason="Higher acuity mix",
    )
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=provider_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    contract.refresh_from_db()
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert contract.current_version == v2 and contract.status == "active"
    assert (v1.status, v1.in_force_end) == ("superseded", date(2026, 7, 1))
    assert (v2.status, v2.in_force_end) == ("active", date(2027, 1, 1))
    assert v1.rates.get(tier="3", market="URBAN").pmpm == Decimal("655.00")  # the old version is kept


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (date(2026, 1, 1), "invalid_amendment_date"),  # not after the previous version's start
        (date(2025, 12, 1), "invalid_amendment_date"),  # before it
        (date(2026, 5, 15), "invalid_amendment_date"),  # not the first of a month
        (date(2027, 1, 1), "invalid_amendment_date"),  # on or after the contract's end
    ],
)
def test_amendment_dates_are_checked(active_contract, plan_scope, start, code):
    contract = active_contract()
    refused(
        contract,
        ApplicationError,
        lambda: services.contract_amend(scope=plan_scope, contract=contract, effective_start=start),
        code,
    )
    assert contract.versions.count() == 1


def test_an_amendment_cannot_be_moved_before_the_previous_version(active_contract, plan_scope):
    contract = active_contract()
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    refused(
        contract,
        ApplicationError,
        lambda: services.contract_version_update(
            scope=plan_scope, version=v2, terms={"effective_start": date(2025, 11, 1)}
        ),
        "invalid_amendment_date",
    )


def test_termination_needs_notice_unless_for_cause(active_contract, plan_scope):
    contract = active_contract(effective_start=date(2026, 1, 1), effective_end=None)
    soon = timezone.localdate() + timedelta(days=10)
    error = refused(
        contract,
        ApplicationError,
        lambda: services.contract_terminate(
            scope=plan_scope, contract=contract, end_date=soon, reason="Budget"
        ),
        "notice_too_short",
    )
    assert error.details["notice_days"] == 90
    refused(
        contract,
        ApplicationError,
        lambda: services.contract_terminate(
            scope=plan_scope, contract=contract, end_date=date(2025, 12, 1), reason="x", for_cause=True
        ),
        "invalid_termination_date",
    )
    refused(
        contract,
        ApplicationError,
        lambda: services.contract_terminate(
            scope=plan_scope, contract=contract, end_date=soon, reason=" ", for_cause=True
        ),
        "reason_required",
    )
    later = timezone.localdate() + timedelta(days=120)
    services.contract_terminate(scope=plan_scope, contract=contract, end_date=later, reason="Network change")
    contract.refresh_from_db()
    assert contract.status == "terminated" and contract.terminated_on == later
    assert contract.current_version.status == "terminated" and contract.current_version.in_force_end == later
    assert ContractEvent.objects.get(contract=contract, kind="terminated").comment == "Network change"


def test_termination_withdraws_a_pending_amendment(active_contract, plan_scope):
    contract = active_contract()
    v2 = services.contract_amend(scope=plan_scope, contract=contract, effective_start=date(2026, 7, 1))
    services.contract_terminate(
        scope=plan_scope, contract=contract, end_date=date(2026, 10, 1), reason="x", for_cause=True
    )
    v2.refresh_from_db()
    assert v2.status == "withdrawn"


def test_expiry_job_expires_contracts_whose_end_has_come(
    active_contract, open_contract, plan_scope, other_provider
):
    ended = active_contract(effective_start=date(2025, 1, 1), effective_end=date(2026, 1, 1))
    running = active_contract(markets=["RURAL-N"])
    services.contract_amend(scope=plan_scope, contract=ended, effective_start=date(2025, 6, 1))
    assert services.contracts_expire_due(today=date(2026, 1, 1)) == [ended.number]
    assert services.contracts_expire_due(today=date(2026, 1, 1)) == []  # idempotent
    ended.refresh_from_db()
    running.refresh_from_db()
    assert ended.status == "expired" and ended.current_version.status == "expired"
    assert ended.versions.get(number=2).status == "withdrawn"
    assert running.status == "active"
    refused(
        ended,
        ConflictError,
        lambda: services.contract_amend(scope=plan_scope, contract=ended, effective_start=date(2025, 9, 1)),
        "invalid_transition",
    )


def test_expiry_task_is_scheduled_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["contracts-expire-due"]
    assert entry["task"] == "contracts.expire_due"
    assert entry["schedule"] == 24 * 60 * 60
    from contracts.tasks import expire_due_contracts

    assert expire_due_contracts.name == "contracts.expire_due"


def test_contract_numbers_are_sequential_per_year(open_contract, other_provider):
    first = open_contract(markets=["URBAN"])
    second = open_contract(markets=["URBAN"], provider_org=other_provider)
    year = timezone.localdate().year
    assert (first.number, second.number) == (f"CTR-{year}-0001", f"CTR-{year}-0002")


def test_numbers_skip_ones_taken_outside_the_sequence(open_contract, plan):
    from tests.factories import ContractFactory

    year = timezone.localdate().year
    ContractFactory(number=f"CTR-{year}-0001", payer=plan)
    assert open_contract().number == f"CTR-{year}-0002"


def test_the_provider_does_not_see_an_unsent_draft(open_contract, plan_scope, provider_scope):
    from contracts import selectors
    from core.errors import NotFoundError

    contract = open_contract()
    assert not selectors.contract_list(scope=provider_scope).exists()
    with pytest.raises(NotFoundError):
        selectors.contract_get(scope=provider_scope, contract_id=contract.number)
    services.contract_propose(scope=plan_scope, contract=contract)
    assert selectors.contract_get(scope=provider_scope, contract_id=contract.number) == contract


def test_the_database_refuses_to_change_an_agreed_versions_money(active_contract):
    from django.db import IntegrityError, connection, transaction

    from contracts.models import AssessmentFee

    version = active_contract().current_version
    entry = version.rates.first()
    entry.pmpm = Decimal("1.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
    if connection.vendor == "postgresql":  # SQLite has no delete trigger (the test flush deletes row by row)
        with pytest.raises(IntegrityError), transaction.atomic():
            RateScheduleEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        RateScheduleEntry.objects.create(version=version, tier="9", market="URBAN", lob="medicaid", pmpm=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        AssessmentFee.objects.filter(version=version).update(fee=0)
    assert RateScheduleEntry.objects.get(pk=entry.pk).pmpm != Decimal("1.00")
