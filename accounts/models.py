"""Organisations, memberships with roles, API tokens."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class Membership(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

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
