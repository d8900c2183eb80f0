"""Opening a contract and editing a draft version (terms, rates, fees; all or nothing)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import Organization, OrganizationKind
from accounts.tenancy import Scope
from bundles.models import BundleVersion, BundleVersionStatus
from contracts.models import Contract, ContractVersion, EventKind, RateScheduleEntry
from contracts.services.checks import (
    DEFAULT_TERMS,
    TERM_FIELDS,
    _bundle_phases,
    _check_amendment_start,
    _check_overlap,
    _current_terms,
    _validated_terms,
)
from contracts.services.common import (
    _event,
    _link_bundle,
    _lock,
    _problems_error,
    _require,
    allocate_number,
)
from contracts.services.rates import _apply_fees, _apply_rates
from contracts.states import CONTRACT_VERSION
from core.domain.problems import Problem
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError

BUNDLE_NOT_PUBLISHED_MESSAGE = "A contract points at a published bundle version."
NOT_A_PROVIDER_MESSAGE = "The counterparty must be a provider organisation."


def _drop_cells_outside(version: ContractVersion) -> None:
    """After markets, lines of business or the bundle version (and so its phases) change, cells outside
    the version go (drafts only)."""
    phase_codes = _bundle_phases(version.bundle_version) or [""]
    for entry in version.rates.all():
        if (
            entry.market not in version.markets
            or entry.lob not in version.lines_of_business
            or entry.phase not in phase_codes
        ):
            entry.delete()
    for fee in version.assessment_fees.all():
        if fee.market not in version.markets:
            fee.delete()


@transaction.atomic
def contract_create(
    *,
    scope: Scope,
    provider: Organization,
    bundle_version: BundleVersion,
    terms: dict[str, Any],
    rates: list[dict[str, Any]] | None = None,
    assessment_fees: dict[str, Any] | None = None,
) -> Contract:
    """Open a contract as a draft (version 1). Nothing is created when anything is wrong."""
    scope.require("contract.edit")
    if provider.kind != OrganizationKind.PROVIDER:
        raise ApplicationError(NOT_A_PROVIDER_MESSAGE, code="not_a_provider")
    if bundle_version.bundle.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    if bundle_version.status != BundleVersionStatus.PUBLISHED:
        raise ApplicationError(BUNDLE_NOT_PUBLISHED_MESSAGE, code="bundle_not_published")
    normalized = _validated_terms(bundle_version, {**DEFAULT_TERMS, **terms})
    contract = Contract(number="", payer=scope.organization, provider=provider, created_by=scope.user)
    _check_overlap(
        contract=contract,
        bundle_id=bundle_version.bundle_id,
        markets=normalized["markets"],
        start=normalized["effective_start"],
        end=normalized["effective_end"],
    )
    contract.number = allocate_number()
    contract.save()
    version = ContractVersion.objects.create(
        contract=contract, number=1, bundle_version=bundle_version, created_by=scope.user, **normalized
    )
    contract.current_version = version
    contract.save(update_fields=["current_version", "updated_at"])
    _link_bundle(contract, bundle_version)
    problems: list[Problem] = []
    _apply_rates(version, rates or [], problems)
    _apply_fees(version, assessment_fees or {}, problems)
    if problems:
        raise _problems_error(problems)
    _event(contract, version, EventKind.CREATED, scope)
    return contract


@transaction.atomic
def contract_version_update(
    *,
    scope: Scope,
    version: ContractVersion,
    terms: dict[str, Any] | None = None,
    rates: list[dict[str, Any]] | None = None,
    assessment_fees: dict[str, Any] | None = None,
    bundle_version: BundleVersion | None = None,
) -> ContractVersion:
    """Change a draft version's terms, rates and fees (each part optional); all or nothing."""
    contract = _lock(version.contract)
    _require(scope, contract, CONTRACT_VERSION, "edit")
    version = (
        ContractVersion.objects.select_for_update()
        .select_related("bundle_version__bundle")
        .get(pk=version.pk)
    )
    CONTRACT_VERSION.check("edit", version.status)
    if bundle_version is not None and bundle_version.pk != version.bundle_version_id:
        if bundle_version.bundle_id != version.bundle_version.bundle_id:
            raise ApplicationError(
                "An amendment keeps the contract's bundle; open a new contract for another bundle.",
                code="bundle_changed",
            )
        if bundle_version.status != BundleVersionStatus.PUBLISHED:
            raise ApplicationError(BUNDLE_NOT_PUBLISHED_MESSAGE, code="bundle_not_published")
        version.bundle_version = bundle_version
    if terms:
        unknown = set(terms) - set(TERM_FIELDS)
        if unknown:
            raise _problems_error(
                [
                    Problem.at_path(key, "unknown_term", f"{key!r} is not a contract term.")
                    for key in sorted(unknown)
                ]
            )
    normalized = _validated_terms(version.bundle_version, {**_current_terms(version), **(terms or {})})
    if version.is_amendment:
        _check_amendment_start(version, normalized["effective_start"])
    for field, value in normalized.items():
        setattr(version, field, value)
    _check_overlap(
        contract=contract,
        bundle_id=version.bundle_version.bundle_id,
        markets=version.markets,
        start=version.effective_start,
        end=version.effective_end,
    )
    version.save()
    _link_bundle(contract, version.bundle_version)
    _drop_cells_outside(version)
    problems: list[Problem] = []
    _apply_rates(version, rates or [], problems)
    _apply_fees(version, assessment_fees or {}, problems)
    if problems:
        raise _problems_error(problems)
    if terms or bundle_version is not None:
        _event(contract, version, EventKind.EDITED, scope)
    return version


def contract_rate_set(
    *,
    scope: Scope,
    version: ContractVersion,
    tier: str,
    market: str,
    lob: str,
    pmpm: Any,
    reason: str = "",
    phase: str = "",
) -> RateScheduleEntry:
    """Set one rate cell of a draft (the web grid's per-cell edit); ``phase`` for a phased bundle."""
    contract_version_update(
        scope=scope,
        version=version,
        rates=[{"tier": tier, "market": market, "lob": lob, "phase": phase, "pmpm": pmpm, "reason": reason}],
    )
    return RateScheduleEntry.objects.get(version=version, tier=tier, market=market, lob=lob, phase=phase)
