"""Writes for contracts: open, edit the draft, rates (from a pricing run or negotiated), the
lifecycle (propose, return, accept, activate, terminate, expire), amendments, rate sheets and
the zip of every active contract's rate sheets.

Every transition locks the contract row first (``select_for_update``) and re-checks the state,
so that two people acting at once (both sides accepting, say) are applied one after the other.
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import Organization, OrganizationKind
from accounts.tenancy import Scope
from bundles.models import BundleVersion, BundleVersionStatus
from contracts import ratesheets, rules
from contracts.models import (
    ACTIVATED_STATUSES,
    PENDING_STATUSES,
    AssessmentFee,
    Contract,
    ContractAcceptance,
    ContractBundleVersion,
    ContractEvent,
    ContractNumberSequence,
    ContractStatus,
    ContractVersion,
    EventKind,
    ExportStatus,
    RateScheduleEntry,
    RateSheetExport,
    RateSheetFormat,
    RateSource,
    Side,
    StoredRateSheet,
    VersionStatus,
)
from contracts.selectors import version_document
from core.errors import (
    NOT_FOUND_MESSAGE,
    ApplicationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)

logger = logging.getLogger(__name__)

INVALID_TERMS_MESSAGE = "The contract terms have errors; see details."
INCOMPLETE_MESSAGE = "The contract cannot be proposed yet; every missing item is listed."
NOT_EDITABLE_MESSAGE = "Only a draft can be edited. To change an active contract, amend it."
NOT_PROPOSABLE_MESSAGE = "Only a draft can be proposed."
NOT_ACCEPTABLE_MESSAGE = "Only a proposed contract can be accepted; a draft must be proposed first."
ALREADY_ACCEPTED_MESSAGE = "Your side has already accepted this proposal."
NOT_RETURNABLE_MESSAGE = "Only a proposed contract can be returned to the plan."
COMMENTS_REQUIRED_MESSAGE = "Say what should change: comments are required to return a proposal."
NOT_TERMINABLE_MESSAGE = "Only an active contract can be terminated."
NOT_AMENDABLE_MESSAGE = "Only an active contract can be amended."
AMENDMENT_PENDING_MESSAGE = (
    "An amendment is already in progress; propose, or let the provider return, it first."
)
AMENDMENT_START_MESSAGE = (
    "An amendment takes effect on the first of a month after the previous version's start."
)
AMENDMENT_AFTER_END_MESSAGE = "An amendment must take effect before the contract ends."
OVERLAP_MESSAGE = (
    "The provider already has an active contract for this bundle in the same market and period; "
    "end that one first or change the markets or dates."
)
TERMINATION_DATE_MESSAGE = "The termination date must fall within the contract's period in force."
TERMINATION_NOTICE_MESSAGE = "The termination date does not give the notice the contract requires."
REASON_REQUIRED_MESSAGE = "A reason is required."
NOT_OWN_CONTRACT_MESSAGE = "Only the plan that holds the contract can change it."
BUNDLE_NOT_PUBLISHED_MESSAGE = "A contract points at a published bundle version."
NOT_A_PROVIDER_MESSAGE = "The counterparty must be a provider organisation."
PRICING_MISMATCH_MESSAGE = "The pricing run is for another bundle version than this contract version."
PRICING_INCOMPLETE_MESSAGE = "The pricing run has no rate for some of the contract's cells; see details."

TERM_FIELDS = (
    "effective_start",
    "effective_end",
    "lines_of_business",
    "markets",
    "assessment_lookback_months",
    "proration_rule",
    "tier_rule",
    "retro_window_months",
    "roster_due_day",
    "withhold_percentage",
    "quality_terms",
    "shared_savings_terms",
    "quality_bonus",
    "termination_notice_days",
)
DEFAULT_TERMS: dict[str, Any] = {
    "effective_end": None,
    "assessment_lookback_months": 12,
    "proration_rule": "any_day",
    "tier_rule": "first_day",
    "retro_window_months": 3,
    "roster_due_day": 10,
    "withhold_percentage": Decimal("0"),
    "quality_terms": [],
    "shared_savings_terms": {},
    "quality_bonus": None,
    "termination_notice_days": 90,
}


# --- helpers -----------------------------------------------------------------------------------


def _problems_error(
    problems: list[rules.Problem], message: str = INVALID_TERMS_MESSAGE, code: str = "invalid_terms"
) -> ApplicationError:
    return ApplicationError(message, code=code, details={"problems": [p.as_dict() for p in problems]})


def _side(scope: Scope) -> str:
    return Side.PAYER if scope.organization.kind == OrganizationKind.PAYER else Side.PROVIDER


def _require_plan(scope: Scope, contract: Contract, action: str = "contract.edit") -> None:
    scope.require(action)
    if contract.payer_id != scope.organization.pk:
        raise PermissionDeniedError(NOT_OWN_CONTRACT_MESSAGE)


def _require_party(scope: Scope, contract: Contract, action: str) -> None:
    scope.require(action)
    if scope.organization.pk not in (contract.payer_id, contract.provider_id):
        raise NotFoundError(NOT_FOUND_MESSAGE)


def _lock(contract: Contract) -> Contract:
    return Contract.objects.select_for_update().select_related("payer", "provider").get(pk=contract.pk)


def _pending(contract: Contract) -> ContractVersion | None:
    return (
        ContractVersion.objects.select_for_update()
        .filter(contract=contract, status__in=PENDING_STATUSES)
        .select_related("bundle_version__bundle")
        .first()
    )


def _latest_activated(contract: Contract) -> ContractVersion | None:
    return (
        ContractVersion.objects.filter(contract=contract, status__in=ACTIVATED_STATUSES)
        .order_by("-number")
        .first()
    )


def _event(
    contract: Contract, version: ContractVersion | None, kind: str, scope: Scope | None, comment: str = ""
) -> ContractEvent:
    return ContractEvent.objects.create(
        contract=contract,
        version=version,
        kind=kind,
        comment=comment,
        at=timezone.now(),
        user=scope.user if scope else None,
        organization=scope.organization if scope else None,
    )


def _transition_error(message: str, *, status: str, action: str) -> ConflictError:
    return ConflictError(message, code="invalid_transition", details={"status": status, "action": action})


def allocate_number(*, year: int | None = None) -> str:
    """The next CTR-YYYY-NNNN. Call inside a transaction: the sequence row stays locked until commit."""
    year = year or timezone.localdate().year
    ContractNumberSequence.objects.get_or_create(year=year)
    ContractNumberSequence.objects.filter(year=year).update(last=F("last") + 1)  # locks the row
    sequence = ContractNumberSequence.objects.get(year=year)
    number = f"CTR-{year}-{sequence.last:04d}"
    while Contract.objects.filter(number=number).exists():  # numbers made outside the sequence (imports)
        ContractNumberSequence.objects.filter(year=year).update(last=F("last") + 1)
        sequence.refresh_from_db()
        number = f"CTR-{year}-{sequence.last:04d}"
    return number


def _bundle_scope(bundle_version: BundleVersion) -> tuple[list[str], list[str], list[str]]:
    definition = bundle_version.definition
    return (
        [t["code"] for t in definition.get("tiers", [])],
        list(definition.get("markets", [])),
        list(definition.get("lines_of_business", [])),
    )


def _current_terms(version: ContractVersion) -> dict[str, Any]:
    return {field: getattr(version, field) for field in TERM_FIELDS}


def _validated_terms(bundle_version: BundleVersion, terms: dict[str, Any]) -> dict[str, Any]:
    _, markets, lobs = _bundle_scope(bundle_version)
    normalized, problems = rules.validate_terms(terms, allowed_markets=markets, allowed_lobs=lobs)
    if problems:
        raise _problems_error(problems)
    return normalized


def _ranges_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return (b_end is None or a_start < b_end) and (a_end is None or b_start < a_end)


def _check_overlap(
    *, contract: Contract, bundle_id: int, markets: list[str], start: date, end: date | None
) -> None:
    """Refuse when another contract of the provider, for the same bundle and a shared market, is in force
    (or agreed to be) over an overlapping period."""
    others = (
        ContractVersion.objects.filter(
            contract__provider_id=contract.provider_id,
            bundle_version__bundle_id=bundle_id,
            status__in=ACTIVATED_STATUSES,
        )
        .exclude(contract_id=contract.pk)
        .select_related("contract")
    )
    clashes = []
    for other in others:
        other_end = other.in_force_end
        if other_end is not None and other_end <= other.effective_start:
            continue
        shared = sorted(set(other.markets) & set(markets))
        if shared and _ranges_overlap(start, end, other.effective_start, other_end):
            clashes.append(
                {
                    "contract": other.contract.number,
                    "version": other.number,
                    "markets": shared,
                    "effective_start": other.effective_start.isoformat(),
                    "in_force_end": other_end.isoformat() if other_end else None,
                }
            )
    if clashes:
        raise ConflictError(OVERLAP_MESSAGE, code="overlapping_contract", details={"contracts": clashes})


def _check_amendment_start(version: ContractVersion, start: date) -> None:
    previous = (
        ContractVersion.objects.filter(
            contract_id=version.contract_id, number__lt=version.number, status__in=ACTIVATED_STATUSES
        )
        .order_by("-number")
        .first()
    )
    if previous is None:
        return
    if start.day != 1 or start <= previous.effective_start:
        raise ApplicationError(
            AMENDMENT_START_MESSAGE,
            code="invalid_amendment_date",
            details={
                "effective_start": start.isoformat(),
                "previous_version": previous.number,
                "previous_start": previous.effective_start.isoformat(),
            },
        )
    if previous.in_force_end is not None and start >= previous.in_force_end:
        raise ApplicationError(
            AMENDMENT_AFTER_END_MESSAGE,
            code="invalid_amendment_date",
            details={
                "effective_start": start.isoformat(),
                "contract_ends": previous.in_force_end.isoformat(),
            },
        )


def _apply_rates(
    version: ContractVersion, rates: list[dict[str, Any]], problems: list[rules.Problem]
) -> None:
    tiers, _, _ = _bundle_scope(version.bundle_version)
    existing = {(e.tier, e.market, e.lob): e for e in version.rates.all()}
    changes = []
    for i, item in enumerate(rates):
        at = f"rates[{i}]"
        tier, market, lob = str(item.get("tier", "")), str(item.get("market", "")), str(item.get("lob", ""))
        if tier not in tiers or market not in version.markets or lob not in version.lines_of_business:
            problems.append(
                rules.Problem(
                    at,
                    "unknown_cell",
                    f"Tier {tier!r}, market {market!r}, LOB {lob!r} is not a rate cell of "
                    f"this contract version.",
                )
            )
            continue
        pmpm = rules.validate_rate(item.get("pmpm"), f"{at}.pmpm", problems)
        if pmpm is None:
            continue
        entry = existing.get((tier, market, lob)) or RateScheduleEntry(
            version=version, tier=tier, market=market, lob=lob
        )
        reason = str(item.get("reason") or "").strip()
        if entry.priced_pmpm is not None and pmpm == entry.priced_pmpm:
            entry.source, entry.reason = RateSource.PRICING_RUN, ""
        else:
            if not reason and not (entry.pk and entry.source == RateSource.NEGOTIATED and entry.reason):
                problems.append(
                    rules.Problem(
                        f"{at}.reason",
                        "reason_required",
                        f"Tier {tier} in {market} ({lob}) is negotiated: record the reason.",
                    )
                )
                continue
            entry.source = RateSource.NEGOTIATED
            entry.reason = reason or entry.reason
        entry.pmpm = pmpm
        changes.append(entry)
    if not problems:
        for entry in changes:
            entry.save()


def _apply_fees(version: ContractVersion, fees: dict[str, Any], problems: list[rules.Problem]) -> None:
    changes = []
    for market, value in fees.items():
        if market not in version.markets:
            problems.append(
                rules.Problem(
                    f"assessment_fees.{market}",
                    "unknown_market",
                    f"{market!r} is not a market of this contract version.",
                )
            )
            continue
        fee = rules.validate_fee(value, f"assessment_fees.{market}", problems)
        if fee is not None:
            changes.append((market, fee))
    if not problems:
        for market, fee in changes:
            entry = AssessmentFee.objects.filter(version=version, market=market).first() or AssessmentFee(
                version=version, market=market
            )
            entry.fee = fee
            entry.save()


def _drop_cells_outside(version: ContractVersion) -> None:
    """After markets or lines of business change, cells outside the version go (drafts only)."""
    for entry in version.rates.all():
        if entry.market not in version.markets or entry.lob not in version.lines_of_business:
            entry.delete()
    for fee in version.assessment_fees.all():
        if fee.market not in version.markets:
            fee.delete()


def _link_bundle(contract: Contract, bundle_version: BundleVersion) -> None:
    ContractBundleVersion.objects.get_or_create(contract=contract, bundle_version=bundle_version)


# --- open and edit -----------------------------------------------------------------------------


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
    problems: list[rules.Problem] = []
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
    _require_plan(scope, contract)
    version = (
        ContractVersion.objects.select_for_update()
        .select_related("bundle_version__bundle")
        .get(pk=version.pk)
    )
    if version.status != VersionStatus.DRAFT:
        raise _transition_error(NOT_EDITABLE_MESSAGE, status=version.status, action="edit")
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
            raise ApplicationError(
                INVALID_TERMS_MESSAGE,
                code="invalid_terms",
                details={
                    "problems": [
                        {"path": key, "code": "unknown_term", "message": f"{key!r} is not a contract term."}
                        for key in sorted(unknown)
                    ]
                },
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
    problems: list[rules.Problem] = []
    _apply_rates(version, rates or [], problems)
    _apply_fees(version, assessment_fees or {}, problems)
    if problems:
        raise _problems_error(problems)
    if terms or bundle_version is not None:
        _event(contract, version, EventKind.EDITED, scope)
    return version


def contract_rate_set(
    *, scope: Scope, version: ContractVersion, tier: str, market: str, lob: str, pmpm: Any, reason: str = ""
) -> RateScheduleEntry:
    """Set one rate cell of a draft (the web grid's per-cell edit)."""
    contract_version_update(
        scope=scope,
        version=version,
        rates=[{"tier": tier, "market": market, "lob": lob, "pmpm": pmpm, "reason": reason}],
    )
    return RateScheduleEntry.objects.get(version=version, tier=tier, market=market, lob=lob)


@transaction.atomic
def rate_schedule_from_pricing(
    *,
    scope: Scope,
    contract_version: ContractVersion,
    rate_table: dict[str, Any],
    keep_negotiated: bool = True,
) -> ContractVersion:
    """Take a draft's rates and assessment fees from a pricing run's rate table.

    ``rate_table`` is what ``pricing.selectors.pricing_run_rate_table`` returns:
    ``{"run_id", "bundle_version_id", "rates": [{"tier", "market", "lob", "pmpm", "low", "high"}],
    "assessment_fees": {market: amount}}`` (a rate without ``lob`` applies to every line of business).
    Every cell gets the priced rate; a cell already negotiated keeps its rate and reason and now
    shows its difference from the priced rate (unless ``keep_negotiated`` is false). All or nothing.
    """
    contract = _lock(contract_version.contract)
    _require_plan(scope, contract)
    version = (
        ContractVersion.objects.select_for_update()
        .select_related("bundle_version")
        .get(pk=contract_version.pk)
    )
    if version.status != VersionStatus.DRAFT:
        raise _transition_error(NOT_EDITABLE_MESSAGE, status=version.status, action="edit")
    if int(rate_table.get("bundle_version_id") or 0) != version.bundle_version_id:
        raise ApplicationError(
            PRICING_MISMATCH_MESSAGE,
            code="pricing_run_mismatch",
            details={"bundle_version_id": rate_table.get("bundle_version_id")},
        )
    priced: dict[tuple[str, str, str | None], Any] = {}
    for row in rate_table.get("rates", []):
        priced[(str(row["tier"]), str(row["market"]), row.get("lob") or None)] = row["pmpm"]
    problems: list[rules.Problem] = []
    tiers, _, _ = _bundle_scope(version.bundle_version)
    values: dict[tuple[str, str, str], Decimal] = {}
    for lob in version.lines_of_business:
        for tier in tiers:
            for market in version.markets:
                raw = priced.get((tier, market, lob), priced.get((tier, market, None)))
                at = f"rates.{lob}.{tier}.{market}"
                if raw is None:
                    problems.append(
                        rules.Problem(
                            at, "missing_rate", f"The run has no rate for tier {tier} in {market} ({lob})."
                        )
                    )
                    continue
                value = rules.validate_rate(rules.money(Decimal(str(raw))), at, problems)
                if value is not None:
                    values[(tier, market, lob)] = value
    fees_in = rate_table.get("assessment_fees") or {}
    fees: dict[str, Decimal] = {}
    for market in version.markets:
        if market not in fees_in:
            problems.append(
                rules.Problem(
                    f"assessment_fees.{market}", "missing_fee", f"The run has no assessment fee for {market}."
                )
            )
            continue
        fee = rules.validate_fee(
            rules.money(Decimal(str(fees_in[market]))), f"assessment_fees.{market}", problems
        )
        if fee is not None:
            fees[market] = fee
    if problems:
        raise _problems_error(problems, PRICING_INCOMPLETE_MESSAGE, "pricing_run_incomplete")
    existing = {(e.tier, e.market, e.lob): e for e in version.rates.all()}
    for key, value in values.items():
        entry = existing.get(key) or RateScheduleEntry(
            version=version, tier=key[0], market=key[1], lob=key[2]
        )
        entry.priced_pmpm = value
        if keep_negotiated and entry.pk and entry.source == RateSource.NEGOTIATED and entry.pmpm != value:
            entry.save()
            continue
        entry.pmpm, entry.source, entry.reason = value, RateSource.PRICING_RUN, ""
        entry.save()
    for market, fee in fees.items():
        entry = AssessmentFee.objects.filter(version=version, market=market).first() or AssessmentFee(
            version=version, market=market
        )
        entry.fee = entry.priced_fee = fee
        entry.save()
    version.pricing_run_id = str(rate_table.get("run_id") or "")
    version.save(update_fields=["pricing_run_id", "updated_at"])
    _event(
        contract,
        version,
        EventKind.EDITED,
        scope,
        comment=f"Rates taken from pricing run {version.pricing_run_id}",
    )
    return version


# --- lifecycle ---------------------------------------------------------------------------------


def _full_check(version: ContractVersion) -> dict[str, Any]:
    """Everything a version must satisfy to leave draft; returns its document."""
    _validated_terms(version.bundle_version, _current_terms(version))
    document = version_document(version)
    problems = rules.completeness_problems(document)
    if problems:
        raise _problems_error(problems, INCOMPLETE_MESSAGE, "incomplete_contract")
    return document


@transaction.atomic
def contract_propose(*, scope: Scope, contract: Contract) -> ContractVersion:
    """Send the draft (the contract or an amendment) to the provider; its terms freeze."""
    contract = _lock(contract)
    _require_plan(scope, contract)
    version = _pending(contract)
    if version is None or version.status != VersionStatus.DRAFT:
        status = version.status if version else contract.status
        raise _transition_error(NOT_PROPOSABLE_MESSAGE, status=status, action="propose")
    if version.is_amendment:
        _check_amendment_start(version, version.effective_start)
    document = _full_check(version)
    _check_overlap(
        contract=contract,
        bundle_id=version.bundle_version.bundle_id,
        markets=version.markets,
        start=version.effective_start,
        end=version.effective_end,
    )
    now = timezone.now()
    version.fingerprint = rules.fingerprint(document)
    version.status = VersionStatus.PROPOSED
    version.proposal_round += 1
    version.proposed_at = now
    version.sent_at = version.sent_at or now
    version.save()
    if contract.first_sent_at is None:
        contract.first_sent_at = now
    if version.number == 1:
        contract.status = ContractStatus.PROPOSED
    contract.save()
    _event(contract, version, EventKind.PROPOSED, scope)
    return version


@transaction.atomic
def contract_return(*, scope: Scope, contract: Contract, comments: str) -> ContractVersion:
    """The provider sends a proposal back with comments; it is a draft again."""
    contract = _lock(contract)
    _require_party(scope, contract, "contract.return")
    version = _pending(contract)
    if version is None or version.status != VersionStatus.PROPOSED:
        raise _transition_error(
            NOT_RETURNABLE_MESSAGE, status=version.status if version else contract.status, action="return"
        )
    comments = (comments or "").strip()
    if not comments:
        raise ApplicationError(
            COMMENTS_REQUIRED_MESSAGE,
            code="comments_required",
            details={"comments": [COMMENTS_REQUIRED_MESSAGE]},
        )
    version.status = VersionStatus.DRAFT
    version.fingerprint = ""
    version.save()
    if version.number == 1:
        contract.status = ContractStatus.DRAFT
        contract.save()
    _event(contract, version, EventKind.RETURNED, scope, comment=comments)
    return version


@transaction.atomic
def contract_accept(*, scope: Scope, contract: Contract) -> ContractVersion:
    """One side's contract manager accepts the proposal; when both sides have, it becomes active.

    The contract row lock makes two acceptances at the same moment apply one after the other, so
    the second always sees the first and activates the contract exactly once.
    """
    contract = _lock(contract)
    _require_party(scope, contract, "contract.accept")
    version = _pending(contract)
    if version is None or version.status != VersionStatus.PROPOSED:
        raise _transition_error(
            NOT_ACCEPTABLE_MESSAGE, status=version.status if version else contract.status, action="accept"
        )
    side = _side(scope)
    try:
        with transaction.atomic():
            ContractAcceptance.objects.create(
                version=version,
                side=side,
                proposal_round=version.proposal_round,
                user=scope.user,
                at=timezone.now(),
            )
    except IntegrityError as exc:
        raise ConflictError(
            ALREADY_ACCEPTED_MESSAGE, code="already_accepted", details={"side": side}
        ) from exc
    _event(contract, version, EventKind.ACCEPTED, scope)
    sides = set(
        ContractAcceptance.objects.filter(version=version, proposal_round=version.proposal_round).values_list(
            "side", flat=True
        )
    )
    if sides == {Side.PAYER, Side.PROVIDER}:
        _activate(contract, version)
    return version


def _activate(contract: Contract, version: ContractVersion) -> None:
    # Serialise activations for the provider, so that two overlapping contracts cannot both go live.
    Organization.objects.select_for_update().filter(pk=contract.provider_id).first()
    _check_overlap(
        contract=contract,
        bundle_id=version.bundle_version.bundle_id,
        markets=version.markets,
        start=version.effective_start,
        end=version.effective_end,
    )
    previous = _latest_activated(contract)
    if previous is not None:
        previous = ContractVersion.objects.select_for_update().get(pk=previous.pk)
        if previous.in_force_end is None or previous.in_force_end > version.effective_start:
            previous.in_force_end = version.effective_start
        if previous.status == VersionStatus.ACTIVE:
            previous.status = VersionStatus.SUPERSEDED
        previous.save()
    version.status = VersionStatus.ACTIVE
    version.activated_at = timezone.now()
    version.in_force_end = version.effective_end
    version.save()
    contract.current_version = version
    contract.status = ContractStatus.ACTIVE
    contract.save()
    _link_bundle(contract, version.bundle_version)
    _event(contract, version, EventKind.ACTIVATED, None)


def _withdraw_pending(contract: Contract, scope: Scope | None, why: str) -> None:
    for pending in ContractVersion.objects.select_for_update().filter(
        contract=contract, status__in=PENDING_STATUSES
    ):
        pending.status = VersionStatus.WITHDRAWN
        pending.save()
        _event(contract, pending, EventKind.WITHDRAWN, scope, comment=why)


@transaction.atomic
def contract_terminate(
    *, scope: Scope, contract: Contract, end_date: date, reason: str, for_cause: bool = False
) -> Contract:
    """End an active contract: from ``end_date`` (exclusive) its terms no longer apply.

    Without cause, the date must give the contract's termination notice from today.
    """
    contract = _lock(contract)
    _require_plan(scope, contract, "contract.terminate")
    if contract.status != ContractStatus.ACTIVE:
        raise _transition_error(NOT_TERMINABLE_MESSAGE, status=contract.status, action="terminate")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            REASON_REQUIRED_MESSAGE, code="reason_required", details={"reason": [REASON_REQUIRED_MESSAGE]}
        )
    current = ContractVersion.objects.select_for_update().get(pk=contract.current_version_id)
    if end_date <= current.effective_start or (
        current.in_force_end is not None and end_date > current.in_force_end
    ):
        raise ApplicationError(
            TERMINATION_DATE_MESSAGE,
            code="invalid_termination_date",
            details={
                "end_date": end_date.isoformat(),
                "current_version": current.number,
                "current_version_start": current.effective_start.isoformat(),
                "in_force_end": current.in_force_end.isoformat() if current.in_force_end else None,
            },
        )
    earliest = timezone.localdate() + timedelta(days=current.termination_notice_days)
    if not for_cause and end_date < earliest:
        raise ApplicationError(
            TERMINATION_NOTICE_MESSAGE,
            code="notice_too_short",
            details={
                "notice_days": current.termination_notice_days,
                "earliest_end_date": earliest.isoformat(),
            },
        )
    current.status = VersionStatus.TERMINATED
    current.in_force_end = end_date
    current.save()
    contract.status = ContractStatus.TERMINATED
    contract.terminated_on = end_date
    contract.termination_reason = reason + (" (for cause)" if for_cause else "")
    contract.terminated_by = scope.user
    contract.save()
    _withdraw_pending(contract, scope, "The contract was terminated.")
    _event(contract, current, EventKind.TERMINATED, scope, comment=contract.termination_reason)
    return contract


@transaction.atomic
def contract_amend(*, scope: Scope, contract: Contract, effective_start: date) -> ContractVersion:
    """Start an amendment: a new draft version copying the current terms, effective from a later month."""
    contract = _lock(contract)
    _require_plan(scope, contract)
    if contract.status != ContractStatus.ACTIVE:
        raise _transition_error(NOT_AMENDABLE_MESSAGE, status=contract.status, action="amend")
    if _pending(contract) is not None:
        raise ConflictError(AMENDMENT_PENDING_MESSAGE, code="amendment_pending")
    current = ContractVersion.objects.get(pk=contract.current_version_id)
    number = (ContractVersion.objects.filter(contract=contract).aggregate(n=Max("number"))["n"] or 0) + 1
    version = ContractVersion(
        contract=contract,
        number=number,
        bundle_version_id=current.bundle_version_id,
        created_by=scope.user,
        pricing_run_id=current.pricing_run_id,
        **{field: getattr(current, field) for field in TERM_FIELDS},
    )
    version.effective_start = effective_start
    _check_amendment_start(version, effective_start)
    version.save()
    for entry in current.rates.all():
        RateScheduleEntry.objects.create(
            version=version,
            tier=entry.tier,
            market=entry.market,
            lob=entry.lob,
            pmpm=entry.pmpm,
            priced_pmpm=entry.priced_pmpm,
            source=entry.source,
            reason=entry.reason,
        )
    for fee in current.assessment_fees.all():
        AssessmentFee.objects.create(
            version=version, market=fee.market, fee=fee.fee, priced_fee=fee.priced_fee
        )
    _event(
        contract, version, EventKind.AMENDED, scope, comment=f"Effective from {effective_start.isoformat()}"
    )
    return version


def contracts_expire_due(*, today: date | None = None) -> list[str]:
    """Expire every active contract whose end has come (the daily beat job). Idempotent."""
    today = today or timezone.localdate()
    due = Contract.objects.filter(status=ContractStatus.ACTIVE, current_version__in_force_end__lte=today)
    expired = []
    for contract_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            contract = Contract.objects.select_for_update().get(pk=contract_id)
            current = ContractVersion.objects.select_for_update().get(pk=contract.current_version_id)
            if (
                contract.status != ContractStatus.ACTIVE
                or current.in_force_end is None
                or current.in_force_end > today
            ):
                continue
            current.status = VersionStatus.EXPIRED
            current.save()
            contract.status = ContractStatus.EXPIRED
            contract.save()
            _withdraw_pending(contract, None, "The contract expired.")
            _event(
                contract,
                current,
                EventKind.EXPIRED,
                None,
                comment=f"Ended on {current.in_force_end.isoformat()}",
            )
            expired.append(contract.number)
    return expired


# --- rate sheets -------------------------------------------------------------------------------

CONTENT_TYPES = {
    RateSheetFormat.PDF: "application/pdf",
    RateSheetFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    RateSheetFormat.CSV: "text/csv; charset=utf-8",
}


def rate_sheet_filename(document: dict[str, Any], fmt: str) -> str:
    suffix = "" if document["status"] != VersionStatus.DRAFT else "-DRAFT"
    return f"{document['contract']}-v{document['version']}-rate-sheet{suffix}.{fmt}"


def _render(document: dict[str, Any], fmt: str, *, draft: bool) -> bytes:
    if fmt == RateSheetFormat.PDF:
        return ratesheets.render_pdf(document, draft=draft)
    if fmt == RateSheetFormat.XLSX:
        return ratesheets.render_xlsx(document, draft=draft)
    if fmt == RateSheetFormat.CSV:
        return ratesheets.render_csv(document, draft=draft)
    raise NotFoundError(NOT_FOUND_MESSAGE)


def rate_sheet(*, version: ContractVersion, fmt: str) -> tuple[bytes, str]:
    """The rate sheet of a version as (bytes, filename).

    A frozen version's sheet is rendered once and stored; every later download returns the
    same bytes. A draft's is rendered on each request, marked DRAFT, and never stored.
    """
    if fmt not in RateSheetFormat.values:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    if version.fingerprint:
        stored = (
            StoredRateSheet.objects.filter(version=version, format=fmt, fingerprint=version.fingerprint)
            .only("content", "version_id")
            .first()
        )
        if stored is not None:
            document_stub = {
                "contract": version.contract.number,
                "version": version.number,
                "status": version.status,
            }
            return bytes(stored.content), rate_sheet_filename(document_stub, fmt)
    document = version_document(version)
    if not version.fingerprint:
        document["fingerprint"] = rules.fingerprint(document)
        return _render(document, fmt, draft=True), rate_sheet_filename(document, fmt)
    document["fingerprint"] = version.fingerprint
    content = _render(document, fmt, draft=False)
    try:
        with transaction.atomic():
            stored = StoredRateSheet.objects.create(
                version=version,
                format=fmt,
                fingerprint=version.fingerprint,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
            )
    except IntegrityError:  # someone else stored it a moment ago: theirs is the one
        stored = StoredRateSheet.objects.get(version=version, format=fmt, fingerprint=version.fingerprint)
    return bytes(stored.content), rate_sheet_filename(document, fmt)


@transaction.atomic
def rate_sheet_export_start(*, scope: Scope) -> RateSheetExport:
    """Queue a zip of every active contract's current rate sheets (PDF, XLSX, CSV)."""
    scope.require("contract.export")
    export = RateSheetExport.objects.create(organization=scope.organization, requested_by=scope.user)
    from contracts.tasks import build_rate_sheet_export

    transaction.on_commit(lambda: build_rate_sheet_export.delay(export.pk))
    return export


def _export_contracts(organization_id: int):
    return (
        Contract.objects.filter(payer_id=organization_id, status=ContractStatus.ACTIVE)
        .select_related("current_version")
        .order_by("number")
    )


def rate_sheet_export_build(*, export_id: int) -> RateSheetExport:
    """Build the zip (the task's body). Progress is saved per contract; re-running gives the same zip."""
    export = RateSheetExport.objects.get(pk=export_id)
    if export.status == ExportStatus.DONE:
        return export
    contracts = list(_export_contracts(export.organization_id))
    export.status, export.total, export.done = ExportStatus.RUNNING, len(contracts), 0
    export.started_at, export.error = timezone.now(), ""
    export.save(update_fields=["status", "total", "done", "started_at", "error"])
    buffer = io.BytesIO()
    manifest = ["contract,version,file,sha256,fingerprint"]
    try:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for i, contract in enumerate(contracts, start=1):
                version = ContractVersion.objects.select_related(
                    "contract__payer", "contract__provider", "bundle_version__bundle"
                ).get(pk=contract.current_version_id)
                stamp = (version.activated_at or version.created_at).astimezone(
                    timezone.get_current_timezone()
                )
                for fmt in (RateSheetFormat.PDF, RateSheetFormat.XLSX, RateSheetFormat.CSV):
                    content, filename = rate_sheet(version=version, fmt=fmt)
                    info = zipfile.ZipInfo(filename, date_time=stamp.timetuple()[:6])
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, content)
                    manifest.append(
                        f"{contract.number},{version.number},{filename},"
                        f"{hashlib.sha256(content).hexdigest()},{version.fingerprint}"
                    )
                RateSheetExport.objects.filter(pk=export.pk).update(done=i)
            info = zipfile.ZipInfo("manifest.csv", date_time=(2000, 1, 1, 0, 0, 0))
            archive.writestr(info, "\n".join(manifest) + "\n")
    except Exception as exc:
        logger.exception("Rate sheet export %s failed", export.public_id)
        RateSheetExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    content = buffer.getvalue()
    RateSheetExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE,
        done=len(contracts),
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export
