"""Assumption sets (versioned like bundles), experience datasets and pricing runs.

A pricing run keeps the complete pricing file it was computed from (`inputs`) and a hash of it,
so a result can always be explained and recomputed; published assumption set versions and the
inputs and results of a run are immutable (database triggers, migration 0002, refuse changes).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from simple_history.models import HistoricalRecords

from bundles.models import Share


class AssumptionSet(models.Model):
    """A plan's named set of pricing assumptions (wages, loads, trend...), edited as numbered versions."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="assumption_sets"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "name"], name="assumption_set_name_unique_per_plan"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class AssumptionSetVersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class AssumptionSetVersion(models.Model):
    """One version of an assumption set: the pricing file's `assumptions` part and a source per field.

    Published versions are immutable (a database trigger refuses changes); runs point at them.
    """

    assumption_set = models.ForeignKey(AssumptionSet, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True, help_text="Set when published: 1, 2, ...")
    status = models.CharField(
        max_length=16, choices=AssumptionSetVersionStatus.choices, default=AssumptionSetVersionStatus.DRAFT
    )
    assumptions = models.JSONField(help_text="The `assumptions` part of a carebundle.pricing/1 file")
    sources = models.JSONField(
        default=dict, blank=True, help_text="Where each value comes from, by field key (e.g. `salaries.np`)"
    )
    notes = models.TextField(blank=True, help_text="What changed in this version and why")
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
    history = HistoricalRecords()

    class Meta:
        ordering = ["assumption_set", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["assumption_set", "number"], name="assumption_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["assumption_set"], condition=Q(status="draft"), name="assumption_set_one_draft"
            ),
            models.CheckConstraint(
                condition=(Q(status="draft") & Q(number__isnull=True))
                | (~Q(status="draft") & Q(number__isnull=False)),
                name="assumption_version_number_iff_published",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assumption_set.name} {self.label}"

    @property
    def label(self) -> str:
        return "draft" if self.number is None else f"v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == AssumptionSetVersionStatus.DRAFT

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(assumption_set__payer=organization)


def experience_upload_to(instance: ExperienceDataset, filename: str) -> str:
    return f"pricing/experience/{instance.payer.public_id}/{instance.public_id}/{filename}"


class ExperienceStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"  # files over UPLOAD_SYNC_MAX_BYTES, until a worker has read them
    VALID = "valid", "Valid"
    REJECTED = "rejected", "Rejected"


class ExperienceDataset(models.Model):
    """A program's cost experience (month, tier, member-months, cost) and optional enrollment spans.

    The uploaded files are always kept; a file with any error is rejected as a whole (no summary)
    and lists every error with its row and column. A valid upload keeps the summary by tier (and
    the Kaplan-Meier estimate of the spans), never a model row per data row.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="experience_datasets"
    )
    name = models.CharField(max_length=200)
    program_name = models.CharField(
        max_length=200, blank=True, help_text="The program the experience is from"
    )
    provider = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The provider organisation, when it is on the platform",
    )
    file = models.FileField(upload_to=experience_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    spans_file = models.FileField(upload_to=experience_upload_to, max_length=300, blank=True)
    spans_original_filename = models.CharField(max_length=255, blank=True)
    spans_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=ExperienceStatus.choices)
    row_count = models.PositiveIntegerField(default=0)
    spans_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="member_months and cost by tier, by month")
    spans_summary = models.JSONField(
        default=dict, blank=True, help_text="Kaplan-Meier estimate of months enrolled"
    )
    errors = models.JSONField(default=list, blank=True, help_text="[{file, row, column, code, message}]")
    error_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExperienceStatus.values), name="experience_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_valid(self) -> bool:
        return self.status == ExperienceStatus.VALID

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class PricingRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


#: The statuses nothing leaves (pricing.states.PRICING_RUN.final_states(); a test keeps them equal).
TERMINAL_STATUSES = frozenset(
    {PricingRunStatus.SUCCEEDED, PricingRunStatus.FAILED, PricingRunStatus.CANCELLED}
)

# The transitions between these statuses, and who may fire each, are declared in pricing/states.py.


class PricingRun(models.Model):
    """One pricing of a published bundle version with a published assumption set version.

    `inputs` is the complete pricing file and run options it was computed from; `inputs_hash` its
    fingerprint. Progress and state live here (the task writes them, the UI and API read them).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="pricing_runs")
    bundle_version = models.ForeignKey(
        "bundles.BundleVersion", on_delete=models.PROTECT, related_name="pricing_runs"
    )
    assumption_set_version = models.ForeignKey(
        AssumptionSetVersion, on_delete=models.PROTECT, related_name="pricing_runs"
    )
    experience = models.ForeignKey(
        ExperienceDataset, on_delete=models.PROTECT, null=True, blank=True, related_name="pricing_runs"
    )
    markets = models.JSONField(default=list)
    lobs = models.JSONField(default=list)
    seed = models.BigIntegerField()
    options = models.JSONField(default=dict, blank=True)
    engine_version = models.CharField(max_length=20)
    inputs = models.JSONField(help_text="The complete pricing file and run options")
    inputs_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=16, choices=PricingRunStatus.choices, default=PricingRunStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    progress_log = models.JSONField(default=list, blank=True, help_text="[{at, progress, message}]")
    cancel_requested = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.JSONField(null=True, blank=True, help_text="{code, message, details} when the run failed")
    result = models.JSONField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(
        excluded_fields=["inputs", "result", "progress", "progress_message", "progress_log"]
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PricingRunStatus.values), name="pricing_run_status_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="pricing_run_progress_percent"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(result__isnull=False),
                name="pricing_run_succeeded_has_result",
            ),
        ]

    def __str__(self) -> str:
        return f"Pricing run {self.public_id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == PricingRunStatus.SUCCEEDED

    @classmethod
    def own_filter(cls, organization) -> Q:
        return Q(payer=organization)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The organisation's own runs, and the runs shared with it (active shares; read-only)."""
        return cls.own_filter(organization) | Q(
            Exists(PricingRunShare.objects.active().filter(run=OuterRef("pk"), organization=organization))
        )


class PricingRunShare(Share):
    """A succeeded pricing run shared, read-only, with another organisation (the recipient): the run
    and its report. Append-only in spirit, like ``bundles.BundleVersionShare``."""

    run = models.ForeignKey(PricingRun, on_delete=models.CASCADE, related_name="shares")

    class Meta(Share.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["run", "organization"],
                condition=Q(revoked_at__isnull=True),
                name="pricing_run_share_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} shared with {self.organization_id}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The owner sees every share of its runs; a recipient, the shares made to it."""
        return Q(run__payer=organization) | Q(organization=organization)


class SensitivityStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SensitivityAnalysis(models.Model):
    """The tornado of one rate cell of a succeeded run: each ranged assumption across its range.

    One per (run, cell, points, simulated years): asking again returns the same analysis (a failed
    one is computed again). The result is deterministic (the run's seed), so computing it twice
    stores the same figures.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    run = models.ForeignKey(PricingRun, on_delete=models.PROTECT, related_name="sensitivities")
    tier = models.CharField(max_length=20)
    market = models.CharField(max_length=40)
    lob = models.CharField(max_length=40)
    points = models.PositiveSmallIntegerField(default=5)
    n_years = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=SensitivityStatus.choices, default=SensitivityStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="{code, message} when it failed")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "tier", "market", "lob", "points", "n_years"], name="sensitivity_once_per_cell"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SensitivityStatus.values), name="sensitivity_status_valid"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="sensitivity_progress_percent"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(result__isnull=False),
                name="sensitivity_succeeded_has_result",
            ),
        ]

    def __str__(self) -> str:
        return f"Sensitivity of {self.tier}/{self.market}/{self.lob} in {self.run}"

    @property
    def cell_key(self) -> str:
        return f"{self.tier}/{self.market}/{self.lob}"

    @property
    def is_finished(self) -> bool:
        return self.status in (SensitivityStatus.SUCCEEDED, SensitivityStatus.FAILED)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(run__payer=organization)


def fee_schedule_upload_to(instance: FeeScheduleVersion, filename: str) -> str:
    return f"pricing/fee-schedules/{instance.schedule.payer.public_id}/{instance.public_id}/{filename}"


class FeeSchedule(models.Model):
    """A plan's own fee schedule (its state's Medicaid schedule), uploaded as numbered versions."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="fee_schedules")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "name"], name="fee_schedule_name_unique_per_plan")
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class FeeScheduleVersion(models.Model):
    """One upload of a fee schedule, kept whatever its verdict. A valid upload gets the next number and
    its rows; a rejected one keeps its errors (every one, with its row and column) and no number."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(FeeSchedule, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=ExperienceStatus.choices)
    file = models.FileField(upload_to=fee_schedule_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField(default=0)
    rows = models.JSONField(
        default=list, blank=True, help_text="[{code, modifier, rate, effective_start, effective_end}]"
    )
    errors = models.JSONField(default=list, blank=True, help_text="[{file, row, column, code, message}]")
    error_count = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["schedule", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "number"], name="fee_schedule_version_number_unique"),
            models.CheckConstraint(
                condition=Q(status__in=[ExperienceStatus.VALID, ExperienceStatus.REJECTED]),
                name="fee_schedule_version_status_valid",
            ),
            models.CheckConstraint(
                condition=(Q(status="valid") & Q(number__isnull=False))
                | (Q(status="rejected") & Q(number__isnull=True)),
                name="fee_schedule_version_number_iff_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name} {self.label}"

    @property
    def label(self) -> str:
        return f"v{self.number}" if self.number else "rejected upload"

    @property
    def is_valid(self) -> bool:
        return self.status == ExperienceStatus.VALID

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(schedule__payer=organization)
