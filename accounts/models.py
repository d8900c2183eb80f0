"""Organisations, memberships with roles, API tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.visibility import granted
from core.domain import codes


class OrganizationKind(models.TextChoices):
    PAYER = "payer", "Payer (health plan)"
    PROVIDER = "provider", "Provider (palliative care program)"


class LineOfBusiness(models.TextChoices):
    # The codes and names are the kernel's (core.domain.codes), so every app means the same thing.
    MEDICAID = codes.MEDICAID, codes.LOB_NAMES[codes.MEDICAID]
    MEDICARE_ADVANTAGE = codes.MEDICARE_ADVANTAGE, codes.LOB_NAMES[codes.MEDICARE_ADVANTAGE]
    DSNP = codes.DSNP, codes.LOB_NAMES[codes.DSNP]
    COMMERCIAL = codes.COMMERCIAL, codes.LOB_NAMES[codes.COMMERCIAL]


class Role(models.TextChoices):
    ADMIN = codes.ADMIN, codes.ROLE_LABELS[codes.ADMIN]
    ANALYST = codes.ANALYST, codes.ROLE_LABELS[codes.ANALYST]
    CONTRACT_MANAGER = codes.CONTRACT_MANAGER, codes.ROLE_LABELS[codes.CONTRACT_MANAGER]
    SUBMITTER = codes.SUBMITTER, codes.ROLE_LABELS[codes.SUBMITTER]
    AUDITOR = codes.AUDITOR, codes.ROLE_LABELS[codes.AUDITOR]


class Organization(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=OrganizationKind.choices)
    legal_name = models.CharField(max_length=200, unique=True)
    short_name = models.CharField(max_length=80, blank=True)
    npi = models.CharField("NPI", max_length=10, blank=True, help_text="National Provider Identifier")
    tax_id = models.CharField("Tax id (TIN)", max_length=10, blank=True)
    lines_of_business = models.JSONField(
        default=list, blank=True, help_text="Lines of business a payer offers, e.g. ['medicaid']"
    )
    requires_two_factor = models.BooleanField(
        default=False, help_text="Members must sign in with a one-time code from an authenticator app."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=OrganizationKind.values), name="organization_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.short_name or self.legal_name

    @property
    def display_name(self) -> str:
        return self.short_name or self.legal_name

    @classmethod
    def tenant_filter(cls, organization: Organization) -> Q:
        """An organisation sees itself, and what grants add (contracts: its counterparties)."""
        return Q(pk=organization.pk) | granted(cls, organization)


class MembershipQuerySet(models.QuerySet):
    def active(self) -> MembershipQuerySet:
        return self.filter(deactivated_at__isnull=True)


class Membership(models.Model):
    """A user's role in an organisation. Deactivating keeps the row (who acted as whom stays
    readable in the history and the access log) but the user can no longer act for the organisation."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organization__legal_name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_one_role_per_org"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.get_role_display()})"

    @classmethod
    def tenant_filter(cls, organization: Organization) -> Q:
        # Memberships are private to their organisation, even from counterparties.
        return Q(organization=organization)

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None


class InvitationStatus(models.TextChoices):
    PENDING = codes.INVITATION_PENDING, codes.INVITATION_STATUS_LABELS[codes.INVITATION_PENDING]
    ACCEPTED = codes.INVITATION_ACCEPTED, codes.INVITATION_STATUS_LABELS[codes.INVITATION_ACCEPTED]
    REVOKED = codes.INVITATION_REVOKED, codes.INVITATION_STATUS_LABELS[codes.INVITATION_REVOKED]
    EXPIRED = codes.INVITATION_EXPIRED, codes.INVITATION_STATUS_LABELS[codes.INVITATION_EXPIRED]


class Invitation(models.Model):
    """An offer, sent by e-mail, to join an organisation in a role. The link carries a random key of
    which only the hash is kept; resending replaces the key, so an older link stops working."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField()
    send_count = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One open invitation per address and organisation: a second would be a resend.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_or_revoked_not_both",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.organization} ({self.get_role_display()})"

    @classmethod
    def tenant_filter(cls, organization: Organization) -> Q:
        return Q(organization=organization)

    def status_at(self, now) -> str:
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    def get_status_display(self) -> str:
        return InvitationStatus(self.status).label


class UserPreference(models.Model):
    """What a user chooses for themselves, whichever organisation they act for."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text="IANA time zone pages show times in, e.g. America/Denver; blank: the site's (TIME_ZONE).",
    )

    def __str__(self) -> str:
        return f"preferences of {self.user}"


class ApiToken(models.Model):
    """A bearer token for the API. Only a hash is stored; tokens expire and can be revoked."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token of {self.user} created {self.created_at:%Y-%m-%d %H:%M}"
