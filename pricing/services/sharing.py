"""Sharing a succeeded pricing run, read-only, with another organisation (the run and its report),
and revoking it. Each share and revoke is in the access log of both organisations."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import Scope
from bundles.services import share_create, share_recipient_check, share_revoke
from core.audit import record_event
from core.errors import ConflictError
from pricing.models import PricingRun, PricingRunShare, PricingRunStatus
from pricing.services.common import require_run_owner

SHARE_NOT_SUCCEEDED_MESSAGE = "Only a pricing run that has succeeded can be shared."
ALREADY_SHARED_MESSAGE = "This run is already shared with that organisation."


def _label(run: PricingRun) -> str:
    version = run.bundle_version
    finished = f" of {timezone.localtime(run.finished_at):%Y-%m-%d %H:%M}" if run.finished_at else ""
    return f"the pricing run{finished} of {version.bundle.name} v{version.number}"


def _record(share: PricingRunShare, *, user, action: str, verb: str) -> None:
    run = share.run
    owner, recipient = run.payer, share.organization
    for organization, detail in (
        (owner, f"{_label(run)} {verb} {recipient.display_name}"),
        (recipient, f"{_label(run)} of {owner.display_name} {verb} your organisation"),
    ):
        record_event(
            user=user,
            organization=organization,
            action=f"pricing_run.{action}",
            object_type="pricing_run",
            object_id=str(run.public_id),
            detail=detail[0].upper() + detail[1:],
        )


@transaction.atomic
def pricing_run_share(
    *, scope: Scope, run: PricingRun, organization: Organization, note: str = ""
) -> PricingRunShare:
    """Let ``organization`` read the succeeded ``run`` and its report; it can never change, re-run
    nor share it on."""
    require_run_owner(scope, run, "pricing.share")
    share_recipient_check(scope, organization)
    run = (
        PricingRun.objects.select_for_update()
        .select_related("payer", "bundle_version__bundle")
        .defer("inputs", "result", "progress_log")
        .get(pk=run.pk)
    )
    if run.status != PricingRunStatus.SUCCEEDED:
        raise ConflictError(SHARE_NOT_SUCCEEDED_MESSAGE, code="run_not_succeeded")
    share = share_create(
        PricingRunShare,
        already_shared=ALREADY_SHARED_MESSAGE,
        run=run,
        organization=organization,
        note=note,
        shared_by=scope.user,
    )
    _record(share, user=scope.user, action="share", verb="shared with")
    return share


@transaction.atomic
def pricing_run_share_revoke(*, scope: Scope, share: PricingRunShare) -> PricingRunShare:
    """Stop sharing: the recipient gets 404 again. Once; sharing again makes a new share."""
    require_run_owner(scope, share.run, "pricing.share")
    share_revoke(share, scope=scope)
    _record(share, user=scope.user, action="unshare", verb="no longer shared with")
    return share
