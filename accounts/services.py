"""Writes for organisations, memberships, invitations and API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.authentication import hash_key
from accounts.models import (
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    UserPreference,
)
from accounts.tenancy import Scope
from accounts.time_zone import is_time_zone
from core.errors import ApplicationError, ConflictError, NotFoundError

LAST_ADMIN_MESSAGE = "An organisation must keep at least one administrator."
NOT_OWN_ORGANIZATION_MESSAGE = "Memberships can only be managed in your own organisation."
UNKNOWN_USER_MESSAGE = "No active user with this username."
ALREADY_MEMBER_MESSAGE = "This user is already a member of the organisation."
ALREADY_INVITED_MESSAGE = "This address already has an open invitation: resend it instead."
NOT_OPEN_MESSAGE = "This invitation was already {status}: invite the person again instead."
INVITATION_GONE_MESSAGE = "This invitation link is no longer valid: it was {status}."
INVITATION_EXPIRED_MESSAGE = (
    "This invitation expired on {date}. Ask an administrator of {organization} to resend it."
)
WRONG_ACCOUNT_MESSAGE = (
    "This invitation was sent to {email}. Sign out, then accept it with the account of that address "
    "or create one."
)
EMAIL_TAKEN_MESSAGE = "An account with this e-mail address exists: sign in, then accept the invitation."
USERNAME_TAKEN_MESSAGE = "This username is taken: choose another."
SELF_DEACTIVATE_MESSAGE = "You cannot deactivate yourself: ask another administrator."


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
    back-office staff. Anyone else joins by an invitation they accept (invitation_accept)."""
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
        .active()
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
        and membership.is_active
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


@transaction.atomic
def membership_deactivate(*, scope: Scope, membership: Membership) -> Membership:
    """The member can no longer act for the organisation (web or API); the row and its history stay."""
    _require_own(scope, membership.organization)
    scope.require("membership.manage")
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if not membership.is_active:
        return membership  # already done: the same answer again
    if membership.user_id == scope.user.pk:
        raise ConflictError(SELF_DEACTIVATE_MESSAGE, code="self_deactivation")
    if membership.role == Role.ADMIN and _admins_left(membership.organization, membership) == 0:
        raise ConflictError(LAST_ADMIN_MESSAGE, code="last_admin")
    membership.deactivated_at = timezone.now()
    membership.deactivated_by = scope.user
    membership.save(update_fields=["deactivated_at", "deactivated_by"])
    return membership


@transaction.atomic
def membership_reactivate(*, scope: Scope, membership: Membership) -> Membership:
    _require_own(scope, membership.organization)
    scope.require("membership.manage")
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.is_active:
        return membership
    membership.deactivated_at = None
    membership.deactivated_by = None
    membership.save(update_fields=["deactivated_at", "deactivated_by"])
    return membership


# --- invitations ------------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    # Addresses are compared without case: "Ana@Plan.org" and "ana@plan.org" are one person.
    return email.strip().lower()


def invitation_url(key: str, request=None) -> str:
    """The absolute link an invitee follows: on the host of ``request`` when there is one, else on
    SITE_URL (an e-mail is sent with no request to take a host from)."""
    path = reverse("invitation-accept", args=[key])
    return request.build_absolute_uri(path) if request else f"{settings.SITE_URL.rstrip('/')}{path}"


def _new_key(invitation: Invitation, now) -> str:
    key = secrets.token_urlsafe(32)
    invitation.key_hash = hash_key(key)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.INVITATION_TTL_DAYS)
    return key


def _send_invitation(invitation: Invitation, key: str) -> None:
    """E-mail the link once the invitation is committed (a rolled-back one must not reach anyone)."""
    context = {
        "organization": invitation.organization.display_name,
        "role": invitation.get_role_display(),
        "inviter": invitation.invited_by.get_full_name() or invitation.invited_by.username
        if invitation.invited_by
        else "An administrator",
        "url": invitation_url(key),
        "expires_at": invitation.expires_at,
    }
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {context['organization']} on carebundle",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[invitation.email],
        )
    )


def _lock_own_invitation(scope: Scope, invitation: Invitation) -> Invitation:
    _require_own(scope, invitation.organization)
    scope.require("membership.manage")
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .get(pk=invitation.pk)
    )


@transaction.atomic
def invitation_create(
    *, scope: Scope, organization: Organization, email: str, role: str
) -> tuple[Invitation, str]:
    """Invite ``email`` to ``role``; returns the invitation and its link's key (shown once, never kept)."""
    _require_own(scope, organization)
    scope.require("membership.manage")
    email = normalize_email(email)
    if Membership.objects.active().filter(organization=organization, user__email__iexact=email).exists():
        raise ConflictError(
            ALREADY_MEMBER_MESSAGE, code="already_member", details={"email": [ALREADY_MEMBER_MESSAGE]}
        )
    invitation = Invitation(organization=organization, email=email, role=role, invited_by=scope.user)
    key = _new_key(invitation, timezone.now())
    try:
        with transaction.atomic():  # a savepoint: the unique constraint answers a concurrent twin
            invitation.save()
    except IntegrityError as exc:
        raise ConflictError(
            ALREADY_INVITED_MESSAGE, code="already_invited", details={"email": [ALREADY_INVITED_MESSAGE]}
        ) from exc
    _send_invitation(invitation, key)
    return invitation, key


@transaction.atomic
def invitation_resend(*, scope: Scope, invitation: Invitation) -> tuple[Invitation, str]:
    """A new link (the old one stops working) and a new expiry, e-mailed again."""
    invitation = _lock_own_invitation(scope, invitation)
    now = timezone.now()
    if invitation.status_at(now) not in (InvitationStatus.PENDING, InvitationStatus.EXPIRED):
        raise ConflictError(
            NOT_OPEN_MESSAGE.format(status=invitation.get_status_display()), code="invitation_closed"
        )
    key = _new_key(invitation, now)
    invitation.send_count += 1
    invitation.save(update_fields=["key_hash", "sent_at", "expires_at", "send_count"])
    _send_invitation(invitation, key)
    return invitation, key


@transaction.atomic
def invitation_revoke(*, scope: Scope, invitation: Invitation) -> Invitation:
    invitation = _lock_own_invitation(scope, invitation)
    if invitation.revoked_at is not None:
        return invitation  # already done: the same answer again
    if invitation.accepted_at is not None:
        raise ConflictError(
            NOT_OPEN_MESSAGE.format(status=invitation.get_status_display()), code="invitation_closed"
        )
    invitation.revoked_at = timezone.now()
    invitation.revoked_by = scope.user
    invitation.save(update_fields=["revoked_at", "revoked_by"])
    return invitation


def _open_invitation(key: str) -> Invitation:
    """The invitation of ``key``, locked, if it can still be accepted; else why not."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .filter(key_hash=hash_key(key))
        .first()
    )
    if invitation is None:
        raise NotFoundError("This invitation link is not valid.", code="invitation_invalid")
    status = invitation.status_at(timezone.now())
    if status == InvitationStatus.EXPIRED:
        raise ApplicationError(
            INVITATION_EXPIRED_MESSAGE.format(
                date=timezone.localdate(invitation.expires_at).isoformat(),
                organization=invitation.organization.display_name,
            ),
            code="invitation_expired",
            status=410,
        )
    if status != InvitationStatus.PENDING:
        raise ApplicationError(
            INVITATION_GONE_MESSAGE.format(status=invitation.get_status_display().lower()),
            code="invitation_closed",
            status=410,
        )
    return invitation


@transaction.atomic
def invitation_check(*, key: str) -> Invitation:
    """The invitation of ``key`` if it can still be accepted; else the error that says why not."""
    return _open_invitation(key)


@transaction.atomic
def invitation_accept(*, key: str, user) -> Membership:
    """``user`` joins the invitation's organisation in its role (a deactivated member comes back)."""
    invitation = _open_invitation(key)
    if normalize_email(user.email or "") != invitation.email:
        raise ApplicationError(
            WRONG_ACCOUNT_MESSAGE.format(email=invitation.email), code="wrong_account", status=403
        )
    membership = (
        Membership.objects.select_for_update().filter(user=user, organization=invitation.organization).first()
    )
    if membership is not None and membership.is_active:
        raise ConflictError(ALREADY_MEMBER_MESSAGE, code="already_member")
    if membership is None:
        membership = Membership.objects.create(
            user=user, organization=invitation.organization, role=invitation.role
        )
    else:
        membership.role = invitation.role
        membership.deactivated_at = None
        membership.deactivated_by = None
        membership.save(update_fields=["role", "deactivated_at", "deactivated_by"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_accept_new_user(
    *, key: str, username: str, password: str, first_name: str = "", last_name: str = ""
) -> Membership:
    """Create the invitee's account (with the invited address) and accept in one step."""
    invitation = _open_invitation(key)
    user_model = get_user_model()
    if user_model.objects.filter(email__iexact=invitation.email).exists():
        raise ConflictError(EMAIL_TAKEN_MESSAGE, code="email_taken")
    if user_model.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            USERNAME_TAKEN_MESSAGE, code="username_taken", details={"username": [USERNAME_TAKEN_MESSAGE]}
        )
    user = user_model(username=username, email=invitation.email, first_name=first_name, last_name=last_name)
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            " ".join(exc.messages), code="weak_password", details={"password": list(exc.messages)}
        ) from exc
    user.set_password(password)
    user.save()
    return invitation_accept(key=key, user=user)


# --- the user's own preferences --------------------------------------------------------------------

UNKNOWN_TIME_ZONE_MESSAGE = (
    "Unknown time zone: choose one from the list (an IANA name such as America/Denver)."
)


@transaction.atomic
def time_zone_set(*, user, time_zone: str) -> UserPreference:
    """The zone pages show ``user`` times in; blank returns to the site's."""
    time_zone = time_zone.strip()
    if time_zone and not is_time_zone(time_zone):
        raise ApplicationError(
            UNKNOWN_TIME_ZONE_MESSAGE,
            code="unknown_time_zone",
            details={"time_zone": [UNKNOWN_TIME_ZONE_MESSAGE]},
        )
    preference, _ = UserPreference.objects.update_or_create(user=user, defaults={"time_zone": time_zone})
    return preference
