"""What the contract services share: who may fire a transition, the contract row lock, the pending
version a transition applies to, events, contract numbers.

Every transition locks the contract row first (``select_for_update``) and re-checks the state through
the declaration (contracts.states), so that two people acting at once (both sides accepting, say) are
applied one after the other.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from accounts.models import OrganizationKind
from accounts.tenancy import Scope
from bundles.models import BundleVersion
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
from contracts.states import CONTRACT_VERSION, PLAN_ONLY_ACTIONS
from contracts.states import NOT_EDITABLE_MESSAGE as NOT_EDITABLE_MESSAGE
from core.domain.problems import Problem
from core.errors import (
    NOT_FOUND_MESSAGE,
    ApplicationError,
    NotFoundError,
    PermissionDeniedError,
    problems_error,
)
from core.statemachine import StateMachine

INVALID_TERMS_MESSAGE = "The contract terms have errors; see details."
NOT_OWN_CONTRACT_MESSAGE = "Only the plan that holds the contract can change it."


def _problems_error(
    problems: list[Problem], message: str = INVALID_TERMS_MESSAGE, code: str = "invalid_terms"
) -> ApplicationError:
    return problems_error(message, problems, code=code)


def _side(scope: Scope) -> str:
    return Side.PAYER if scope.organization.kind == OrganizationKind.PAYER else Side.PROVIDER


def _require(scope: Scope, contract: Contract, machine: StateMachine, action: str) -> None:
    """Who may fire ``action`` (contracts.states): the role's permission, then the plan that holds the
    contract for the plan's own actions, or either party for the others."""
    scope.require(machine.person_permission(action))
    if action in PLAN_ONLY_ACTIONS:
        if contract.payer_id != scope.organization.pk:
            raise PermissionDeniedError(NOT_OWN_CONTRACT_MESSAGE)
    elif scope.organization.pk not in (contract.payer_id, contract.provider_id):
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


def _pending_for(contract: Contract, action: str) -> ContractVersion:
    """The pending version ``action`` applies to, locked; refused (with the contract's status when
    nothing is pending) unless the declaration allows ``action`` from its status."""
    version = _pending(contract)
    if version is None:
        raise CONTRACT_VERSION.refusal(action, status=contract.status)
    CONTRACT_VERSION.check(action, version.status)
    return version


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
