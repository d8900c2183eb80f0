"""Contract performance: the plan's utilisation and quality uploads, its unit costs, and the
provider's patient stories.

Utilisation is the plan's data about its own members (one row per member per month, docs/formats.md
section 4), so uploads and rows belong to the payer. A later upload that carries the same member
and month supersedes the earlier row (``superseded``; nothing is deleted): the current row of a
(payer, member, month) is the one with ``superseded=False`` (a partial unique constraint holds it).
Providers never read rows directly: they read their contracts' performance, computed from the
rows of the members on their own rosters.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

MEMBER_ID_MAX = 64


class UploadStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"  # a file over UPLOAD_SYNC_MAX_BYTES, until a worker has read it
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class DeathPlace(models.TextChoices):
    HOME = "home", "Home"
    HOSPITAL = "hospital", "Hospital"
    NURSING_FACILITY = "nursing_facility", "Nursing facility"
    HOSPICE_FACILITY = "hospice_facility", "Hospice facility"
    OTHER = "other", "Other"


class EventKind(models.TextChoices):
    ED_VISIT = "ed_visit", "ED visit"
    INPATIENT_ADMISSION = "inpatient_admission", "Inpatient admission"
    ICU_ADMISSION = "icu_admission", "ICU admission"
    READMISSION = "readmission", "30-day readmission"


def utilization_upload_to(instance: UtilizationUpload, filename: str) -> str:
    return f"performance/utilization/{instance.payer.public_id}/{instance.public_id}/{filename}"


class UtilizationUpload(models.Model):
    """One utilisation file as the plan sent it; kept whatever the outcome (all rows or none)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=UploadStatus.choices)
    file = models.FileField(upload_to=utilization_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    row_count = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(default=0)
    superseded_count = models.PositiveIntegerField(default=0, help_text="Earlier rows this upload replaced")
    first_month = models.DateField(null=True, blank=True)
    last_month = models.DateField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, code, message}]")
    claims_upload = models.ForeignKey(
        "claims.ClaimsUpload",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when the rows were derived from the plan's claims (the file is what was derived)",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.status})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class UtilizationRow(models.Model):
    """One member-month of utilisation and quality data (docs/formats.md section 4)."""

    upload = models.ForeignKey(UtilizationUpload, on_delete=models.PROTECT, related_name="rows")
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    month = models.DateField(help_text="First day of the month")
    ed_visits = models.PositiveIntegerField(default=0)
    inpatient_admissions = models.PositiveIntegerField(default=0)
    icu_admissions = models.PositiveIntegerField(default=0)
    discharges = models.PositiveIntegerField(default=0)
    readmissions_30d = models.PositiveIntegerField(default=0)
    tcoc_amount = models.DecimalField(max_digits=14, decimal_places=2)
    acp_documented_date = models.DateField(null=True, blank=True)
    satisfaction_score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    death_date = models.DateField(null=True, blank=True)
    death_place = models.CharField(max_length=20, choices=DeathPlace.choices, blank=True)
    superseded = models.BooleanField(default=False, help_text="A later upload carries this member and month")

    class Meta:
        ordering = ["payer", "member_id", "month"]
        indexes = [
            models.Index(fields=["payer", "member_id", "month"], name="utilization_member_month"),
            models.Index(fields=["upload", "member_id", "month"], name="utilization_upload_member"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payer", "member_id", "month"],
                condition=Q(superseded=False),
                name="utilization_one_current_row",
            ),
            models.CheckConstraint(
                condition=Q(readmissions_30d__lte=models.F("discharges")),
                name="utilization_readmissions_within_discharges",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class UnitCost(models.Model):
    """What the plan counts one avoided event as costing (the table the plan maintains)."""

    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    cost = models.DecimalField(max_digits=14, decimal_places=2)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["payer", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "kind"], name="unit_cost_unique_per_payer"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="unit_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.cost}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class PatientStory(models.Model):
    """The story of one patient a provider tells with a period's results (provider-only write).

    Providers write it without names or identifiers; the plan reads it on the performance page
    and in the report.
    """

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=16, help_text="The period code, e.g. 2026-Q1")
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "period"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "period"], name="patient_story_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.period}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(contract__payer=organization) | Q(contract__provider=organization)
