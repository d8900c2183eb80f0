"""Reads of organisations, memberships and the PHI access log, always through the tenancy scope."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from accounts.authentication import hash_key
from accounts.models import Invitation, Membership, Organization
from accounts.tenancy import Scope, get_scoped_or_404, scoped
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError
from core.models import AccessEvent

SHARE_WITH_OWN_MESSAGE = "Your own organisation already sees its work; choose another organisation."
UNKNOWN_RECIPIENT_MESSAGE = "Choose an organisation of the other kind (a plan or a provider) from the list."


def organization_list(*, scope: Scope) -> QuerySet[Organization]:
    scope.require("organization.view")
    return scoped(Organization.objects.all(), scope).order_by("legal_name")


def organization_get(*, scope: Scope, public_id) -> Organization:
    scope.require("organization.view")
    return get_scoped_or_404(Organization.objects.all(), scope, public_id=public_id)


def counterparty_list(*, scope: Scope) -> QuerySet[Organization]:
    """The organisations one may share work with: every organisation of the other kind (a plan
    shares with providers, a provider with plans), by name. Names only; nothing else of theirs."""
    scope.require("organization.view")
    return Organization.objects.exclude(kind=scope.organization.kind).order_by("legal_name")


def share_recipient(*, scope: Scope, public_id) -> Organization:
    """The organisation a share names (by public id), or the 400 that says why it cannot be one."""
    if str(public_id) == str(scope.organization.public_id):
        raise ApplicationError(
            SHARE_WITH_OWN_MESSAGE,
            code="share_with_own_organization",
            details={"organization_id": [SHARE_WITH_OWN_MESSAGE]},
        )
    try:
        return counterparty_list(scope=scope).get(public_id=public_id)
    except (Organization.DoesNotExist, ValueError, ValidationError):
        raise ApplicationError(
            UNKNOWN_RECIPIENT_MESSAGE,
            code="unknown_recipient",
            details={"organization_id": [UNKNOWN_RECIPIENT_MESSAGE]},
        ) from None


def membership_list(*, scope: Scope, organization: Organization) -> QuerySet[Membership]:
    """Members of ``organization``; a counterparty's list is as invisible as a stranger's."""
    scope.require("membership.view")
    if organization.pk != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return scoped(Membership.objects.filter(organization=organization), scope).select_related(
        "user", "organization"
    )


def membership_get(*, scope: Scope, organization: Organization, public_id) -> Membership:
    scope.require("membership.view")
    return get_scoped_or_404(
        Membership.objects.filter(organization=organization).select_related("user", "organization"),
        scope,
        public_id=public_id,
    )


def invitation_list(*, scope: Scope, organization: Organization) -> QuerySet[Invitation]:
    """Invitations of the scope's own organisation, newest first (administrators)."""
    scope.require("membership.manage")
    if organization.pk != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return scoped(Invitation.objects.filter(organization=organization), scope).select_related(
        "organization", "invited_by", "accepted_by", "revoked_by"
    )


def invitation_get(*, scope: Scope, organization: Organization, public_id) -> Invitation:
    return get_scoped_or_404(
        invitation_list(scope=scope, organization=organization), scope, public_id=public_id
    )


def invitation_by_key(key: str) -> Invitation | None:
    """The invitation a link names, for its invitee, who belongs to no scope yet: the key is the proof."""
    return (
        Invitation.objects.select_related("organization", "invited_by").filter(key_hash=hash_key(key)).first()
    )


def access_event_list(*, scope: Scope) -> QuerySet[AccessEvent]:
    """The organisation's PHI access log, newest first (auditors and administrators)."""
    scope.require("audit.view")
    return scoped(AccessEvent.objects.select_related("user"), scope)
