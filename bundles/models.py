"""Bundles, their immutable numbered versions, the IDT role catalogue and the plan's markets."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from simple_history.models import HistoricalRecords

from accounts.visibility import granted
from bundles.definition import DEFAULT_REQUIRED_ROLES


class Market(models.Model):
    """A county or region where a plan offers bundles; rural markets add travel."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="markets"
    )
    code = models.CharField(max_length=32, help_text="e.g. a county code; used in rosters and rate sheets")
    name = models.CharField(max_length=120)
    rural = models.BooleanField(default=False)
    travel_minutes_per_visit = models.DecimalField(max_digits=6, decimal_places=1, default=20)
    miles_per_visit = models.DecimalField(max_digits=6, decimal_places=1, default=8)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="market_code_unique_per_plan"),
            models.CheckConstraint(
                condition=Q(travel_minutes_per_visit__gte=0) & Q(miles_per_visit__gte=0),
                name="market_travel_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The plan's own markets, and what grants add (contracts: those of a provider's plans)."""
        return Q(organization=organization) | granted(cls, organization)


class IdtRole(models.Model):
    """A role of the interdisciplinary team. Platform roles have no organisation; plans add their own."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, null=True, blank=True, related_name="idt_roles"
    )
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=120)
    bills_ffs = models.BooleanField(default=False, help_text="Can bill fee-for-service")
    service_codes = models.JSONField(default=list, blank=True, help_text="CPT/HCPCS codes this role bills")
    prescriber = models.BooleanField(default=False)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(organization__isnull=True), name="idt_role_platform_code_unique"
            ),
            models.UniqueConstraint(fields=["organization", "code"], name="idt_role_code_unique_per_plan"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization__isnull=True) | Q(organization=organization)


class BundlePolicy(models.Model):
    """A plan's rules for publishing bundles."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="bundle_policy"
    )
    required_roles = models.JSONField(
        default=list, help_text="Groups of role codes; every tier needs effort from one role of each group"
    )

    def __str__(self) -> str:
        return f"Bundle policy of {self.organization}"

    def required_role_groups(self) -> list[list[str]]:
        return self.required_roles or DEFAULT_REQUIRED_ROLES


class Bundle(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="bundles")
    name = models.CharField(max_length=200, help_text="The name of the latest version or draft")
    lines_of_business = models.JSONField(default=list, blank=True)
    adopted_from = models.ForeignKey(
        "BundleVersion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adoptions",
        help_text="The shared version (another organisation's) this bundle was adopted from",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def own_filter(cls, organization) -> Q:
        """The plan's own bundles, and what grants add (contracts: those a provider holds a contract on)."""
        return Q(payer=organization) | granted(cls, organization)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """Its own and granted bundles, and those with a version shared with the organisation (a share
        shows the bundle and only the versions shared)."""
        return cls.own_filter(organization) | Q(
            Exists(
                BundleVersionShare.objects.active().filter(
                    bundle_version__bundle=OuterRef("pk"), organization=organization
                )
            )
        )


class BundleVersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class BundleVersion(models.Model):
    """One version of a bundle. Published versions are immutable (a database trigger refuses changes)."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True, help_text="Set when published: 1, 2, ...")
    status = models.CharField(
        max_length=16, choices=BundleVersionStatus.choices, default=BundleVersionStatus.DRAFT
    )
    definition = models.JSONField(help_text="The bundle definition (bundles/definition.py)")
    content_hash = models.CharField(max_length=64, blank=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="drafts"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["bundle", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["bundle", "number"], name="bundle_version_number_unique"),
            models.UniqueConstraint(fields=["bundle"], condition=Q(status="draft"), name="bundle_one_draft"),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number__isnull=True))
                | (~Q(status="draft") & Q(number__isnull=False)),
                name="bundle_version_number_iff_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bundle.name} {self.label}"

    @property
    def label(self) -> str:
        return "draft" if self.number is None else f"v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == BundleVersionStatus.DRAFT

    @classmethod
    def own_filter(cls, organization) -> Q:
        """The plan sees every version; what grants add (contracts: a provider, the versions they name)."""
        return Q(bundle__payer=organization) | granted(cls, organization)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """Its own and granted versions, and the versions shared with the organisation (active shares)."""
        return cls.own_filter(organization) | Q(
            Exists(
                BundleVersionShare.objects.active().filter(
                    bundle_version=OuterRef("pk"), organization=organization
                )
            )
        )


class ShareQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class Share(models.Model):
    """What every share holds: the recipient, who shared and when, and a revoke set once.

    Append-only in spirit: a revoke sets ``revoked_at``/``revoked_by`` once; sharing again after a
    revoke makes a new row. Each share model adds the object shared and its one-active constraint."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="+", help_text="The recipient"
    )
    note = models.TextField(blank=True)
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    shared_at = models.DateTimeField(auto_now_add=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ShareQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["-shared_at", "-pk"]

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class BundleVersionShare(Share):
    """A published bundle version shared, read-only, with another organisation (the recipient); one
    active share per version and recipient."""

    bundle_version = models.ForeignKey(BundleVersion, on_delete=models.CASCADE, related_name="shares")

    class Meta(Share.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["bundle_version", "organization"],
                condition=Q(revoked_at__isnull=True),
                name="bundle_version_share_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bundle_version_id} shared with {self.organization_id}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The owner sees every share of its versions; a recipient, the shares made to it."""
        return Q(bundle_version__bundle__payer=organization) | Q(organization=organization)
