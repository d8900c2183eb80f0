"""What the contract services share: permission checks, the contract row lock, events, transition
errors, contract numbers.

Every transition locks the contract row first (``select_for_update``) and re-checks the state,
so that two people acting at once (both sides accepting, say) are applied one after the other.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from accounts.models import OrganizationKind
from accounts.tenancy import Scope
from bundles.models import BundleVersion
from contracts import rules
from contracts.models import (
    ACTIVATED_STATUSES,
    PENDING_STATUSES,
    Contract,
    ContractBundleVersion,
    ContractEvent,
    ContractNumberSequence,
    ContractVersion,
    Side,
)
from core.errors import (
    NOT_FOUND_MESSAGE,
    ApplicationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)

INVALID_TERMS_MESSAGE = "The contract terms have errors; see details."
NOT_EDITABLE_MESSAGE = "Only a draft can be edited. To change an active contract, amend it."
NOT_OWN_CONTRACT_MESSAGE = "Only the plan that holds the contract can change it."


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


def _link_bundle(contract: Contract, bundle_version: BundleVersion) -> None:
    ContractBundleVersion.objects.get_or_create(contract=contract, bundle_version=bundle_version)
