"""The contract lifecycle: propose, return, accept (both sides: activate), terminate, and the daily
expiry of contracts whose end has come.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import Scope
from contracts import rules
from contracts.models import Contract, ContractAcceptance, ContractVersion, EventKind, OfferKind, Side
from contracts.selectors import version_document
from contracts.services.checks import _check_amendment_start, _check_overlap, _current_terms, _validated_terms
from contracts.services.common import (
    _event,
    _latest_activated,
    _link_bundle,
    _lock,
    _pending_for,
    _problems_error,
    _require,
    _side,
)
from contracts.services.negotiation import record_proposal
from contracts.states import CONTRACT, CONTRACT_VERSION
from contracts.states import NOT_ACCEPTABLE_MESSAGE as NOT_ACCEPTABLE_MESSAGE
from contracts.states import NOT_PROPOSABLE_MESSAGE as NOT_PROPOSABLE_MESSAGE
from contracts.states import NOT_RETURNABLE_MESSAGE as NOT_RETURNABLE_MESSAGE
from contracts.states import NOT_TERMINABLE_MESSAGE as NOT_TERMINABLE_MESSAGE
from core.errors import ApplicationError, ConflictError

INCOMPLETE_MESSAGE = "The contract cannot be proposed yet; every missing item is listed."
ALREADY_ACCEPTED_MESSAGE = "Your side has already accepted this proposal."
COMMENTS_REQUIRED_MESSAGE = "Say what should change: comments are required to return a proposal."
TERMINATION_DATE_MESSAGE = "The termination date must fall within the contract's period in force."
TERMINATION_NOTICE_MESSAGE = "The termination date does not give the notice the contract requires."
REASON_REQUIRED_MESSAGE = "A reason is required."


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
    _require(scope, contract, CONTRACT_VERSION, "propose")
    version = _pending_for(contract, "propose")
    if version.is_amendment:
        _check_amendment_start(version, version.effective_start)
    # the document below is the proposed version's (a negotiated one names its round and side)
    version.status = CONTRACT_VERSION.target("propose", version.status)
    version.proposal_round += 1
    if version.offer_side:  # negotiated before it was returned: the plan's re-proposal is on the table
        version.offer_side, version.offer_kind = Side.PAYER, OfferKind.PROPOSAL
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
    version.proposed_at = now
    version.sent_at = version.sent_at or now
    version.save()
    if contract.first_sent_at is None:
        contract.first_sent_at = now
    if version.number == 1:  # the contract's status follows its first version's
        contract.status = CONTRACT.target("propose", contract.status)
    contract.save()
    _event(contract, version, EventKind.PROPOSED, scope)
    record_proposal(scope=scope, version=version)
    return version


@transaction.atomic
def contract_return(*, scope: Scope, contract: Contract, comments: str) -> ContractVersion:
    """The provider sends a proposal back with comments; it is a draft again."""
    contract = _lock(contract)
    _require(scope, contract, CONTRACT_VERSION, "return")
    version = _pending_for(contract, "return")
    comments = (comments or "").strip()
    if not comments:
        raise ApplicationError(
            COMMENTS_REQUIRED_MESSAGE,
            code="comments_required",
            details={"comments": [COMMENTS_REQUIRED_MESSAGE]},
        )
    version.status = CONTRACT_VERSION.target("return", version.status)
    version.fingerprint = ""
    version.save()
    if version.number == 1:
        contract.status = CONTRACT.target("return", contract.status)
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
    _require(scope, contract, CONTRACT_VERSION, "accept")
    version = _pending_for(contract, "accept")  # one side's acceptance leaves it proposed
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
        if CONTRACT_VERSION.can_fire("supersede", previous.status):
            previous.status = CONTRACT_VERSION.target("supersede", previous.status)
        previous.save()
    version.status = CONTRACT_VERSION.target("activate", version.status)
    version.activated_at = timezone.now()
    version.in_force_end = version.effective_end
    version.save()
    contract.current_version = version
    contract.status = CONTRACT.target("activate", contract.status)
    contract.save()
    _link_bundle(contract, version.bundle_version)
    _event(contract, version, EventKind.ACTIVATED, None)


def _withdraw_pending(contract: Contract, scope: Scope | None, why: str) -> None:
    for pending in ContractVersion.objects.select_for_update().filter(
        contract=contract, status__in=CONTRACT_VERSION.sources("withdraw")
    ):
        pending.status = CONTRACT_VERSION.target("withdraw", pending.status)
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
    _require(scope, contract, CONTRACT, "terminate")
    CONTRACT.check("terminate", contract.status)
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
    current.status = CONTRACT_VERSION.target("terminate", current.status)
    current.in_force_end = end_date
    current.save()
    contract.status = CONTRACT.target("terminate", contract.status)
    contract.terminated_on = end_date
    contract.termination_reason = reason + (" (for cause)" if for_cause else "")
    contract.terminated_by = scope.user
    contract.save()
    _withdraw_pending(contract, scope, "The contract was terminated.")
    _event(contract, current, EventKind.TERMINATED, scope, comment=contract.termination_reason)
    return contract


def contracts_expire_due(*, today: date | None = None) -> list[str]:
    """Expire every active contract whose end has come (the daily beat job). Idempotent."""
    today = today or timezone.localdate()
    due = Contract.objects.filter(
        status__in=CONTRACT.sources("expire"), current_version__in_force_end__lte=today
    )
    expired = []
    for contract_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            contract = Contract.objects.select_for_update().get(pk=contract_id)
            current = ContractVersion.objects.select_for_update().get(pk=contract.current_version_id)
            if (
                not CONTRACT.can_fire("expire", contract.status)
                or current.in_force_end is None
                or current.in_force_end > today
            ):
                continue
            current.status = CONTRACT_VERSION.target("expire", current.status)
            current.save()
            contract.status = CONTRACT.target("expire", contract.status)
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
