"""Writes for organisations, memberships and API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.authentication import hash_key
from accounts.models import ApiToken, Membership, Organization, Role
from accounts.tenancy import Scope
from core.errors import ApplicationError, ConflictError, NotFoundError

LAST_ADMIN_MESSAGE = "An organisation must keep at least one administrator."
NOT_OWN_ORGANIZATION_MESSAGE = "Memberships can only be managed in your own organisation."
UNKNOWN_USER_MESSAGE = "No active user with this username."
ALREADY_MEMBER_MESSAGE = "This user is already a member of the organisation."


def token_create(*, user) -> tuple[str, ApiToken]:
    """Issue a token; the raw key is returned once and only its hash is kept."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=hash_key(key),
        expires_at=timezone.now() + timedelta(hours=settings.API_TOKEN_TTL_HOURS),
    )
    return key, token


def failed_logins_reset(*, username: str, ip_address: str) -> None:
    """Forget the failed logins of ``username`` from ``ip_address`` after a successful one (the
    lockout counts that pair: AXES_LOCKOUT_PARAMETERS), as AXES_RESET_ON_SUCCESS asks."""
    if settings.AXES_RESET_ON_SUCCESS:
        axes_reset(ip=ip_address, username=username)


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())


def _require_own(scope: Scope, organization: Organization) -> None:
    if organization.pk != scope.organization.pk:
        raise NotFoundError("Not found.")


def _may_join(user, organization: Organization) -> bool:
    """Whether an administrator may add ``user`` directly: someone in no other organisation, and not
    back-office staff. Anyone else joins by an invitation they accept (not built yet: refused)."""
    if user.is_staff or user.is_superuser:
        return False
    return not Membership.objects.filter(user=user).exclude(organization=organization).exists()


@transaction.atomic
def membership_create(*, scope: Scope, organization: Organization, username: str, role: str) -> Membership:
    _require_own(scope, organization)
    scope.require("membership.manage")
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is not None and Membership.objects.filter(user=user, organization=organization).exists():
        raise ConflictError(ALREADY_MEMBER_MESSAGE, code="already_member")  # listed to them already
    if user is None or not _may_join(user, organization):
        # One answer for "no such user" and "not yours to add": it must not tell the administrator
        # that a username exists elsewhere, let alone whose it is.
        raise ApplicationError(
            UNKNOWN_USER_MESSAGE, code="unknown_user", details={"username": [UNKNOWN_USER_MESSAGE]}
        )
    membership, created = Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": role}
    )
    if not created:
        raise ConflictError(ALREADY_MEMBER_MESSAGE, code="already_member")
    return membership


def _admins_left(organization: Organization, excluding: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.ADMIN)
        .exclude(pk=excluding.pk)
        .count()
    )


@transaction.atomic
def membership_change_role(*, scope: Scope, membership: Membership, role: str) -> Membership:
    _require_own(scope, membership.organization)
    scope.require("membership.manage")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if (
        membership.role == Role.ADMIN
        and role != Role.ADMIN
        and _admins_left(membership.organization, membership) == 0
    ):
        raise ConflictError(LAST_ADMIN_MESSAGE, code="last_admin")
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_delete(*, scope: Scope, membership: Membership) -> None:
    _require_own(scope, membership.organization)
    scope.require("membership.manage")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and _admins_left(membership.organization, membership) == 0:
        raise ConflictError(LAST_ADMIN_MESSAGE, code="last_admin")
    membership.delete()
