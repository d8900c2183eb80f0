"""Amendments: a new draft version of an active contract, effective from a later month."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Max

from accounts.tenancy import Scope
from contracts.models import (
    AssessmentFee,
    Contract,
    ContractVersion,
    EventKind,
    RateScheduleEntry,
)
from contracts.services.checks import TERM_FIELDS, _check_amendment_start
from contracts.services.common import _event, _lock, _pending, _require
from contracts.states import CONTRACT
from contracts.states import NOT_AMENDABLE_MESSAGE as NOT_AMENDABLE_MESSAGE
from core.errors import ConflictError

AMENDMENT_PENDING_MESSAGE = (
    "An amendment is already in progress; propose, or let the provider return, it first."
)


@transaction.atomic
def contract_amend(*, scope: Scope, contract: Contract, effective_start: date) -> ContractVersion:
    """Start an amendment: a new draft version copying the current terms, effective from a later month."""
    contract = _lock(contract)
    _require(scope, contract, CONTRACT, "amend")
    CONTRACT.check("amend", contract.status)
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
            phase=entry.phase,
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
