"""Two-factor sign-in: a time-based one-time code (TOTP) from an authenticator app, with single-use
backup codes, on django-otp's devices (ADR 0020).

Every write and read of a user's devices is here; pages and the API only call these functions.
A user has two-factor sign-in when they have a confirmed ``TOTPDevice``; their backup codes are the
tokens of one ``StaticDevice``. An organisation may require it of its members
(``Organization.requires_two_factor``): then a member without it must set it up before anything else
(``accounts.middleware.TwoFactorMiddleware``, and the token endpoint of the API).

Codes are checked with django-otp's own ``verify_token`` against one device at a time, so its
throttling (a wait that doubles after each wrong code) and its refusal of a code already used apply.
A wrong code is recorded in its own transaction before the error is raised: a caller must not wrap a
verification in a transaction it then rolls back, or the throttle would forget the attempt.
"""

from __future__ import annotations

import io
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime

import django_otp
import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import ApiToken, Membership, Organization
from accounts.tenancy import Scope
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, ConflictError, NotFoundError

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"

INVALID_CODE_MESSAGE = "That code is not right, or it was already used. Enter the current code from your app."
THROTTLED_MESSAGE = "Too many wrong codes. Wait {seconds} seconds, then enter the current code."
ALREADY_ENABLED_MESSAGE = "Two-factor sign-in is already on. Turn it off first to use another app."
NOT_STARTED_MESSAGE = "Start the setup first: it gives the key to add to your authenticator app."
NOT_ENABLED_MESSAGE = "Two-factor sign-in is not on for your account."
REQUIRED_MESSAGE = "{organizations} requires two-factor sign-in of its members: it cannot be turned off."
API_CODE_MISSING_MESSAGE = "Two-factor sign-in is on for this user: send the code from the app as otp_token."
API_SETUP_MISSING_MESSAGE = (
    "An organisation of this user requires two-factor sign-in: set it up on the web page "
    "/accounts/two-factor/ first."
)
CODE_REQUIRED_MESSAGE = "Enter the code from your authenticator app, or a backup code."


@dataclass(frozen=True)
class PendingSetup:
    """An authenticator app being added: the key to give it, not yet confirmed by a code."""

    device: TOTPDevice

    @property
    def secret(self) -> str:
        """The key in base32, as authenticator apps take it when typed (no padding: 20 bytes)."""
        return b32encode(self.device.bin_key).decode("ascii").rstrip("=")

    @property
    def otpauth_uri(self) -> str:
        return self.device.config_url

    def qr_svg(self) -> str:
        return qr_svg(self.otpauth_uri)


@dataclass(frozen=True)
class Status:
    enabled: bool
    required: bool
    backup_codes_left: int
    pending_setup: bool
    requiring_organizations: tuple[str, ...] = ()


# --- reads ------------------------------------------------------------------------------------------


def has_two_factor(user) -> bool:
    """A confirmed authenticator app (backup codes alone are not a second factor: they come with it)."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def _requiring(user):
    return Organization.objects.filter(
        pk__in=Membership.objects.active().filter(user=user).values("organization"),
        requires_two_factor=True,
    ).order_by("legal_name")


def requires_two_factor(user) -> bool:
    """Whether an organisation the user is an active member of requires two-factor sign-in."""
    return _requiring(user).exists()


def requiring_organizations(user) -> list[Organization]:
    return list(_requiring(user))


def backup_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def status(user) -> Status:
    organizations = requiring_organizations(user)
    return Status(
        enabled=has_two_factor(user),
        required=bool(organizations),
        backup_codes_left=backup_codes_left(user),
        pending_setup=TOTPDevice.objects.devices_for_user(user, confirmed=False).exists(),
        requiring_organizations=tuple(o.display_name for o in organizations),
    )


def pending_setup(user) -> PendingSetup | None:
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
    return PendingSetup(device) if device else None


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code (paths only: no image library, no style attribute for the CSP)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    # The XML declaration is for a file; inline in HTML it is noise.
    return svg[svg.index("<svg") :]


# --- verification -------------------------------------------------------------------------------------


def normalize_code(code: str | None) -> str:
    """What people type: spaces and dashes between groups are ignored, backup codes in any case."""
    return "".join((code or "").split()).replace("-", "").lower()


def _throttle_check(device: Device) -> None:
    allowed, data = device.verify_is_allowed()
    if not allowed:
        locked_until: datetime | None = (data or {}).get("locked_until")
        seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1) if locked_until else 1
        raise ApplicationError(
            THROTTLED_MESSAGE.format(seconds=seconds),
            code="otp_throttled",
            status=429,
            details={"retry_after": seconds},
        )


def _verify_on(user, device: Device, code: str) -> bool:
    _throttle_check(device)
    # django-otp locks the device row, checks the code and records the result (the throttle, the time
    # step used) in its own transaction.
    return django_otp.verify_token(user, device.persistent_id, code) is not None


def verify(*, user, code: str | None) -> Device:
    """The device that accepts ``code``: the authenticator app for a code of its length in digits,
    else the backup codes (a backup code works once). Raises ``invalid_otp`` or ``otp_throttled``."""
    code = normalize_code(code)
    if not code:
        raise ApplicationError(
            CODE_REQUIRED_MESSAGE, code="otp_required", details={"otp_token": [CODE_REQUIRED_MESSAGE]}
        )
    totp = TOTPDevice.objects.devices_for_user(user, confirmed=True).first()
    if totp is None:
        raise ApplicationError(NOT_ENABLED_MESSAGE, code="two_factor_not_enabled")
    if code.isdigit() and len(code) == totp.digits:
        device: Device | None = totp
    else:
        device = StaticDevice.objects.devices_for_user(user, confirmed=True).first()
    if device is None or not _verify_on(user, device, code):
        raise ApplicationError(
            INVALID_CODE_MESSAGE, code="invalid_otp", details={"otp_token": [INVALID_CODE_MESSAGE]}
        )
    # verify_token worked on its own copy of the row; this one is what the session will name.
    device.refresh_from_db()
    return device


# --- writes -------------------------------------------------------------------------------------------


def setup_start(*, user) -> PendingSetup:
    """A new key for an authenticator app, unconfirmed until a code from it comes back; an earlier
    unconfirmed one is replaced (its key was shown, perhaps to someone else: never reuse it)."""
    with transaction.atomic():
        if TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).exists():
            raise ConflictError(ALREADY_ENABLED_MESSAGE, code="two_factor_already_enabled")
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return PendingSetup(device)


def _new_backup_codes(user) -> list[str]:
    """Replaces every backup code of the user with BACKUP_CODE_COUNT new ones; inside a transaction."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes: list[str] = []
    while len(codes) < BACKUP_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def setup_confirm(*, user, code: str | None) -> tuple[TOTPDevice, list[str]]:
    """A code from the app proves it holds the key: the device is confirmed and the user gets ten
    backup codes, returned here once (they are not shown again; new ones replace them)."""
    pending = pending_setup(user)
    if pending is None:
        if has_two_factor(user):
            raise ConflictError(ALREADY_ENABLED_MESSAGE, code="two_factor_already_enabled")
        raise ApplicationError(NOT_STARTED_MESSAGE, code="two_factor_not_started")
    code = normalize_code(code)
    if not code:
        raise ApplicationError(
            CODE_REQUIRED_MESSAGE, code="otp_required", details={"otp_token": [CODE_REQUIRED_MESSAGE]}
        )
    if not _verify_on(user, pending.device, code):
        raise ApplicationError(
            INVALID_CODE_MESSAGE, code="invalid_otp", details={"otp_token": [INVALID_CODE_MESSAGE]}
        )
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=pending.device.pk)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).exists():
            raise ConflictError(ALREADY_ENABLED_MESSAGE, code="two_factor_already_enabled")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_backup_codes(user)
    return device, codes


def backup_codes_regenerate(*, user, code: str | None) -> list[str]:
    """New backup codes for the old ones (lost, or mostly used), on a current code."""
    verify(user=user, code=code)
    with transaction.atomic():
        return _new_backup_codes(user)


def disable(*, user, code: str | None) -> None:
    """Turns two-factor sign-in off, on a current code; refused while an organisation requires it."""
    organizations = requiring_organizations(user)
    if organizations:
        names = ", ".join(o.display_name for o in organizations)
        raise ConflictError(
            REQUIRED_MESSAGE.format(organizations=names),
            code="two_factor_required",
            details={"organizations": [str(o.public_id) for o in organizations]},
        )
    verify(user=user, code=code)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def requirement_set(*, scope: Scope, organization: Organization, required: bool) -> Organization:
    """An administrator requires (or stops requiring) two-factor sign-in of their organisation's members.

    Turning it on also revokes the API tokens of members without it: a token outlives the sign-in
    that made it, and the next one will need a code."""
    scope.require("membership.manage")
    if organization.pk != scope.organization.pk:  # a counterparty's settings are not ours to see
        raise NotFoundError(NOT_FOUND_MESSAGE)
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=organization.pk)
        if organization.requires_two_factor != required:
            organization.requires_two_factor = required
            organization.save(update_fields=["requires_two_factor"])
        if required:
            members = Membership.objects.active().filter(organization=organization).values("user")
            with_app = TOTPDevice.objects.filter(confirmed=True).values("user")
            ApiToken.objects.filter(
                user__in=members, revoked_at__isnull=True, expires_at__gt=timezone.now()
            ).exclude(user__in=with_app).update(revoked_at=timezone.now())
    return organization


def token_check(*, user, otp_token: str) -> None:
    """A token is a sign-in: the same second factor as the login page, and the same requirement."""
    if has_two_factor(user):
        if not otp_token:
            raise ApplicationError(API_CODE_MISSING_MESSAGE, code="otp_required", status=401)
        try:
            verify(user=user, code=otp_token)
        except ApplicationError as exc:
            if exc.code == "invalid_otp":
                raise ApplicationError(exc.message, code="invalid_otp", status=401) from None
            raise  # otp_throttled: 429
    elif requires_two_factor(user):
        raise ApplicationError(API_SETUP_MISSING_MESSAGE, code="two_factor_setup_required", status=403)
