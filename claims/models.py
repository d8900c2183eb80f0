"""The plan's claims: each file as it was sent, and every claim line in it.

Claims are the plan's data about its own members, so uploads and lines belong to the payer; a
provider never reads them (it reads its contracts' performance, computed from them). Nothing is
deleted: a replacement or a void marks the lines it ends as no longer ``standing``
(claims/versions.py), and the standing lines of a claim are the ones every figure is made from.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

MEMBER_ID_MAX = 64


class UploadStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"  # a large file, until a worker has read it
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


class ClaimType(models.TextChoices):
    PROFESSIONAL = "professional", "Professional"
    INSTITUTIONAL = "institutional", "Institutional"


class FrequencyCode(models.TextChoices):
    ORIGINAL = "1", "Original"
    REPLACEMENT = "7", "Replacement"
    VOID = "8", "Void"


def claims_upload_to(instance: ClaimsUpload, filename: str) -> str:
    return f"claims/{instance.payer.public_id}/{instance.public_id}/{filename}"


class ClaimsUpload(models.Model):
    """One claims file as the plan sent it; kept whatever the outcome (every line or none)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=UploadStatus.choices)
    file = models.FileField(upload_to=claims_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    line_count = models.PositiveIntegerField(default=0)
    claim_count = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(default=0)
    standing_count = models.PositiveIntegerField(default=0, help_text="Lines of this file that stand")
    replaced_count = models.PositiveIntegerField(
        default=0,
        help_text="Claims whose standing version (earlier, or in this file) a replacement took over",
    )
    voided_count = models.PositiveIntegerField(default=0, help_text="Claims a void in this file ended")
    duplicate_count = models.PositiveIntegerField(
        default=0, help_text="Claim versions in this file received before (nothing changed for them)"
    )
    paid_amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    first_service = models.DateField(null=True, blank=True)
    last_service = models.DateField(null=True, blank=True)
    last_paid = models.DateField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{row, column, code, message}]")
    warnings = models.JSONField(default=list, blank=True)
    ack_999 = models.TextField(blank=True, help_text="The 999 acknowledgement of an X12 837 ('' for a table)")
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
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


class ClaimLineRow(models.Model):
    """One claim line as received (docs/formats.md section 11)."""

    upload = models.ForeignKey(ClaimsUpload, on_delete=models.PROTECT, related_name="lines")
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    row = models.PositiveIntegerField(help_text="The row of the file it came from")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    claim_id = models.CharField(max_length=64)
    line_number = models.PositiveSmallIntegerField()
    claim_type = models.CharField(max_length=16, choices=ClaimType.choices)
    frequency_code = models.CharField(max_length=1, choices=FrequencyCode.choices)
    bill_type = models.CharField(max_length=3, blank=True)
    place_of_service = models.CharField(max_length=2, blank=True)
    revenue_code = models.CharField(max_length=4, blank=True)
    procedure_code = models.CharField(max_length=5, blank=True)
    modifiers = models.CharField(max_length=16, blank=True, help_text="Codes separated by ':'")
    diagnosis_codes = models.CharField(
        max_length=200, blank=True, help_text="ICD-10-CM, principal first, ':'"
    )
    admission_date = models.DateField(null=True, blank=True)
    discharge_date = models.DateField(null=True, blank=True)
    discharge_status = models.CharField(max_length=2, blank=True)
    service_from = models.DateField()
    service_to = models.DateField()
    paid_date = models.DateField()
    allowed_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2)
    standing = models.BooleanField(
        default=True, help_text="False once a replacement or a void ends it (or it is a void)"
    )

    class Meta:
        ordering = ["payer", "member_id", "claim_id", "line_number"]
        indexes = [
            models.Index(fields=["payer", "claim_id"], name="claim_line_claim"),
            models.Index(
                fields=["payer", "member_id", "service_from"],
                name="claim_line_standing_member",
                condition=Q(standing=True),
            ),
            models.Index(fields=["upload", "row"], name="claim_line_upload_row"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(service_to__gte=models.F("service_from")), name="claim_line_dates"
            ),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="claim_line_paid_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.claim_id}/{self.line_number}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class CompletionStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"


class CompletionRun(models.Model):
    """The plan's completion factors as of one claims file (claims/completion.py): computed by a worker
    after each accepted file, since fitting the chain ladder takes seconds; pages read the latest."""

    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    claims_upload = models.OneToOneField(ClaimsUpload, on_delete=models.PROTECT, related_name="completion")
    status = models.CharField(
        max_length=16, choices=CompletionStatus.choices, default=CompletionStatus.PROCESSING
    )
    valued_at = models.DateField(null=True, blank=True, help_text="The latest month paid claims reach")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"completion {self.valued_at} ({self.status})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class MonthCompletionRow(models.Model):
    """One service category and incurred month of a completion run."""

    run = models.ForeignKey(CompletionRun, on_delete=models.CASCADE, related_name="months")
    category = models.CharField(max_length=16)
    month = models.DateField()
    paid = models.DecimalField(max_digits=16, decimal_places=2)
    completion = models.DecimalField(max_digits=8, decimal_places=6)
    ultimate = models.DecimalField(max_digits=16, decimal_places=2)
    std_error = models.DecimalField(max_digits=16, decimal_places=2)
    fitted = models.BooleanField()

    class Meta:
        ordering = ["run", "category", "month"]
        constraints = [
            models.UniqueConstraint(fields=["run", "category", "month"], name="completion_month_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category} {self.month:%Y-%m}: {self.completion}"
