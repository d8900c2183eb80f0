"""Enrollment: the plan's eligibility (X12 834 files, members, eligibility spans) and the providers'
monthly roster submissions with what they yield (roster rows, member-months, initial assessments).

Dates: roster rows keep ``enrollment_end`` **inclusive**, exactly as the provider's file says (the
last day enrolled); eligibility spans are stored **half-open** ``[start, end)`` (``end`` is the first
day no longer eligible; ``None`` while open), like every range computed on inside the code.
Months are the ``date`` of their first day.

A roster submission is immutable once processed: a resubmission for the same contract and month
is a new version (numbered under the lock of its :class:`RosterMonth` row), and the latest accepted
version is the *current* one, the one payments read (``is_current``; one per contract and month,
a partial unique constraint holds it).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from core.domain import codes

MEMBER_ID_MAX = 64
NAME_MAX = 100


class ProcessingStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"


def _party_filter(organization) -> Q:
    return Q(contract__payer=organization) | Q(contract__provider=organization)


# --- the plan's eligibility ----------------------------------------------------------------------


def eligibility_upload_to(instance: EligibilityFile, filename: str) -> str:
    return f"enrollment/eligibility/{instance.payer.public_id}/{instance.public_id}/{filename}"


class EligibilityFile(models.Model):
    """One X12 834 the plan loaded, kept byte for byte, with its acknowledgement (readable and 999).

    An accepted full file (audit, INS03 030 / BGN08 4 or RX) replaces the plan's eligibility; any
    other accepted file updates it member by member. A rejected file changes nothing.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payer = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="eligibility_files"
    )
    file = models.FileField(upload_to=eligibility_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, default=ProcessingStatus.PROCESSING
    )
    full_file = models.BooleanField(
        default=False, help_text="An audit file that replaced the plan's whole list"
    )
    member_count = models.PositiveIntegerField(default=0)
    counts = models.JSONField(
        default=dict, blank=True, help_text="added, changed, terminated, reinstated, ..."
    )
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    acknowledgement = models.JSONField(
        default=dict, blank=True, help_text="{accepted, lines, errors: [...], warnings: [...]}"
    )
    ack_999 = models.TextField(blank=True, help_text="The X12 999 acknowledgement")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ProcessingStatus.values), name="eligibility_file_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"834 {self.original_filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != ProcessingStatus.PROCESSING

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class Member(models.Model):
    """A plan member as the plan's eligibility files describe them (the latest file wins)."""

    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    last_name = models.CharField(max_length=NAME_MAX, blank=True)
    first_name = models.CharField(max_length=NAME_MAX, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, blank=True)
    market = models.CharField(
        max_length=32,
        blank=True,
        help_text="The county of the member's address (834 N4*..CY), '' when not sent",
    )
    source_file = models.ForeignKey(EligibilityFile, on_delete=models.PROTECT, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["payer", "member_id"]
        constraints = [models.UniqueConstraint(fields=["payer", "member_id"], name="member_unique_per_payer")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.last_name}, {self.first_name}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class EligibilitySpan(models.Model):
    """A period a member is eligible with the plan: half-open ``[start, end)``, ``end=None`` open."""

    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    start = models.DateField()
    end = models.DateField(null=True, blank=True, help_text="Exclusive: the first day no longer eligible")
    lob = models.CharField(
        max_length=32, blank=True, help_text="The platform's line of business ('' when unmapped)"
    )
    insurance_line = models.CharField(
        max_length=8, blank=True, help_text="HD03 as the plan sent it, e.g. HMO"
    )
    source_file = models.ForeignKey(EligibilityFile, on_delete=models.PROTECT, related_name="spans")

    class Meta:
        ordering = ["payer", "member_id", "start"]
        indexes = [models.Index(fields=["payer", "member_id"], name="eligibility_span_member")]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__isnull=True) | Q(end__gt=models.F("start")),
                name="eligibility_span_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} [{self.start}, {self.end or 'open'})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


class InsuranceLineMapping(models.Model):
    """How a plan's HD03 insurance line code maps to the platform's line of business."""

    payer = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=8, help_text="HD03, e.g. HMO")
    lob = models.CharField(max_length=32, help_text="e.g. medicaid")

    class Meta:
        ordering = ["payer", "code"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "code"], name="insurance_line_unique_per_payer")
        ]

    def __str__(self) -> str:
        return f"{self.code} -> {self.lob}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization)


# --- monthly rosters -----------------------------------------------------------------------------


class RosterMonth(models.Model):
    """A contract's roster for one month: its version counter (the row lock that numbers versions),
    due date, lateness and the reminder sent for it."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="roster_months")
    month = models.DateField()
    last_version = models.PositiveIntegerField(default=0)
    due_date = models.DateField(null=True, blank=True)
    late = models.BooleanField(default=False, help_text="No accepted roster by the due date")
    reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-month", "contract"]
        constraints = [models.UniqueConstraint(fields=["contract", "month"], name="roster_month_unique")]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.month:%Y-%m}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return _party_filter(organization)


def roster_upload_to(instance: RosterSubmission, filename: str) -> str:
    return f"enrollment/rosters/{instance.contract.public_id}/{instance.month:%Y-%m}/{instance.public_id}/{filename}"


class SubmissionOrigin(models.TextChoices):
    PROVIDER = "provider", "Sent by the provider"
    MEMBER_EXIT = "member_exit", "Made by the platform after a death or hospice transfer was recorded"


class RosterSubmission(models.Model):
    """One version of a contract's roster for a month, with the initial assessments sent with it.

    The files are kept whatever the outcome. Processing (validation and storage) happens once:
    ``processing`` -> ``accepted`` or ``rejected``, all in one transaction; progress lives here.

    A version of origin ``member_exit`` is made by the platform, not sent: when a member's death (or
    transfer to hospice) is recorded after a month's roster was accepted with the member enrolled past
    that day, the month gets a new version with the member's span ended on it (enrollment.exits), so
    that payments take back what was paid for the days after (their retro machinery reads the
    current version).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="roster_submissions"
    )
    month = models.DateField(help_text="The first day of the roster's month")
    version = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ProcessingStatus.choices, default=ProcessingStatus.PROCESSING
    )
    origin = models.CharField(
        max_length=16, choices=SubmissionOrigin.choices, default=SubmissionOrigin.PROVIDER
    )
    is_current = models.BooleanField(default=False, help_text="The latest accepted version: the one paid")
    previous = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The version this one replaced for payment",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    due_date = models.DateField(null=True, blank=True)
    late = models.BooleanField(default=False, help_text="Submitted after the contract's due day")
    file = models.FileField(upload_to=roster_upload_to, max_length=300)
    original_filename = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    assessments_file = models.FileField(upload_to=roster_upload_to, max_length=300, blank=True)
    assessments_filename = models.CharField(max_length=255, blank=True)
    assessments_sha256 = models.CharField(max_length=64, blank=True)
    # What processing found --------------------------------------------------------------------
    terms_version = models.PositiveIntegerField(null=True, blank=True, help_text="Contract version in force")
    proration_rule = models.CharField(max_length=16, blank=True)
    tier_rule = models.CharField(max_length=16, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(default=0)
    assessment_count = models.PositiveIntegerField(default=0)
    payable_assessment_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    warning_count = models.PositiveIntegerField(default=0)
    member_months = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    summary = models.JSONField(
        default=list,
        blank=True,
        help_text="Member-months per rate cell: [{tier, market, lob, member_months, members}]",
    )
    diff = models.JSONField(default=dict, blank=True, help_text="Against the version it replaced")
    # Progress ----------------------------------------------------------------------------------
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    progress_log = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(
        excluded_fields=["progress", "progress_message", "progress_log", "summary", "diff"]
    )

    class Meta:
        ordering = ["-month", "-submitted_at", "-pk"]
        indexes = [models.Index(fields=["contract", "month", "status"], name="roster_submission_month")]
        constraints = [
            models.UniqueConstraint(fields=["contract", "month", "version"], name="roster_version_unique"),
            models.UniqueConstraint(
                fields=["contract", "month"],
                condition=Q(is_current=True),
                name="roster_one_current_per_month",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProcessingStatus.values), name="roster_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(status=ProcessingStatus.ACCEPTED),
                name="roster_current_is_accepted",
            ),
        ]

    def __str__(self) -> str:
        return f"roster {self.month:%Y-%m} v{self.version} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status != ProcessingStatus.PROCESSING

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return _party_filter(organization)


class RosterEntry(models.Model):
    """One accepted roster row (a member in one tier period). ``enrollment_end`` is inclusive."""

    submission = models.ForeignKey(
        RosterSubmission, on_delete=models.CASCADE, related_name="entries", db_index=False
    )  # (submission, member_id) below serves it
    row = models.PositiveIntegerField(help_text="Row number in the file (header = 1)")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    last_name = models.CharField(max_length=NAME_MAX)
    first_name = models.CharField(max_length=NAME_MAX)
    birth_date = models.DateField()
    market = models.CharField(max_length=32)
    enrollment_start = models.DateField()
    enrollment_end = models.DateField(null=True, blank=True, help_text="Inclusive: the last day enrolled")
    disenrollment_reason = models.CharField(max_length=32, blank=True)
    tier = models.CharField(max_length=16)
    tier_start = models.DateField()

    class Meta:
        ordering = ["submission", "member_id", "tier_start", "row"]
        indexes = [models.Index(fields=["submission", "member_id"], name="roster_entry_member")]

    def __str__(self) -> str:
        return f"{self.member_id} tier {self.tier} from {self.tier_start}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(submission__contract__payer=organization) | Q(submission__contract__provider=organization)


class MemberMonth(models.Model):
    """What one member yields for the submission's month: one tier and market, a member-month figure."""

    # Both foreign keys are served by the composite indexes below (fewer indexes: a faster COPY).
    submission = models.ForeignKey(
        RosterSubmission, on_delete=models.CASCADE, related_name="member_month_rows", db_index=False
    )
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    month = models.DateField()
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    tier = models.CharField(max_length=16)
    market = models.CharField(max_length=32)
    lob = models.CharField(max_length=32)
    member_months = models.DecimalField(max_digits=9, decimal_places=6)
    days_enrolled = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["submission", "member_id"]
        indexes = [models.Index(fields=["contract", "month", "member_id"], name="member_month_lookup")]
        # Once per submission: the month is the submission's, and is in the key because on PostgreSQL the
        # table is partitioned by month (migration 0006), whose unique keys must hold the month (there it
        # is a unique index of this name).
        constraints = [
            models.UniqueConstraint(fields=["submission", "member_id", "month"], name="member_month_once")
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m} {self.member_months}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return _party_filter(organization)


class Assessment(models.Model):
    """An initial assessment sent with a roster, and whether its fee is payable (and if not, why)."""

    submission = models.ForeignKey(RosterSubmission, on_delete=models.CASCADE, related_name="assessments")
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="+", db_index=False
    )  # (contract, member_id) below serves it
    row = models.PositiveIntegerField()
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    last_name = models.CharField(max_length=NAME_MAX)
    first_name = models.CharField(max_length=NAME_MAX)
    birth_date = models.DateField()
    market = models.CharField(max_length=32)
    assessment_date = models.DateField()
    outcome = models.CharField(max_length=32)
    assessor_role = models.CharField(max_length=32)
    # Optional column of the assessments file (docs/formats.md 2): scores assessment_within_n_days_rate.
    referral_date = models.DateField(null=True, blank=True)
    payable = models.BooleanField()
    reason = models.CharField(max_length=32, blank=True, help_text="Why not payable, e.g. second_in_lookback")
    message = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["submission", "assessment_date", "row"]
        indexes = [models.Index(fields=["contract", "member_id"], name="assessment_member")]

    def __str__(self) -> str:
        return f"{self.member_id} assessed {self.assessment_date}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return _party_filter(organization)


class Severity(models.TextChoices):
    ERROR = "error", "Error"
    WARNING = "warning", "Warning"


class IssueSource(models.TextChoices):
    ROSTER = "roster", "Roster"
    ASSESSMENTS = "assessments", "Assessments"


class SubmissionIssue(models.Model):
    """One error or warning of a submission, addressed by row and column as a spreadsheet shows them."""

    submission = models.ForeignKey(
        RosterSubmission, on_delete=models.CASCADE, related_name="issues", db_index=False
    )  # the (submission, severity, source, row) index serves it
    severity = models.CharField(max_length=8, choices=Severity.choices)
    source = models.CharField(max_length=16, choices=IssueSource.choices, default=IssueSource.ROSTER)
    row = models.PositiveIntegerField()
    column = models.CharField(max_length=64, blank=True)
    code = models.CharField(max_length=48)
    message = models.TextField(help_text="For both sides: never what the plan holds about a member")
    plan_detail = models.TextField(
        blank=True,
        default="",
        help_text="What the plan's records say (its values for a mismatch, why a member is not eligible); "
        "shown to the plan only",
    )

    class Meta:
        ordering = ["submission", "severity", "source", "row", "pk"]
        indexes = [
            models.Index(fields=["submission", "severity", "source", "row"], name="submission_issue_order")
        ]

    def __str__(self) -> str:
        return f"{self.severity} row {self.row} {self.column}: {self.code}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(submission__contract__payer=organization) | Q(submission__contract__provider=organization)


# --- deaths and hospice transfers ----------------------------------------------------------------


class ExitReason(models.TextChoices):
    DEATH = codes.DEATH, "Death"
    HOSPICE = codes.HOSPICE, "Transfer to hospice"


class ExitSource(models.TextChoices):
    ROSTER = "roster", "Roster"
    X12_834 = "834", "Plan's 834"


class ExitStatus(models.TextChoices):
    RECORDED = "recorded", "Recorded (the first report: it holds)"
    CONFIRMED = "confirmed", "Confirmed (a later report of the same date)"
    CONFLICTING = "conflicting", "Conflicting (a later report of another date: not applied)"


class MemberExit(models.Model):
    """A report of a member's death or transfer to hospice: append-only, one row per report.

    The first report of a member's death (per plan) is ``recorded`` and holds across contracts,
    providers and months: no roster may enroll the member after ``exit_date``, and member-months stop
    on it. A transfer to hospice is the same for one bundle (``bundle``) only: the member may be
    enrolled in another. A later report of the same date is ``confirmed``; of another date,
    ``conflicting`` (kept, shown as a warning, never applied: correcting a recorded date is the
    plan's decision, not a file's).
    """

    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    member_id = models.CharField(max_length=MEMBER_ID_MAX)
    reason = models.CharField(max_length=16, choices=ExitReason.choices)
    bundle = models.ForeignKey(
        "bundles.Bundle",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Hospice: the bundle the member left (a death ends every bundle: empty)",
    )
    exit_date = models.DateField(help_text="The date of death, or the last day in the bundle before hospice")
    source = models.CharField(max_length=8, choices=ExitSource.choices)
    submission = models.ForeignKey(
        RosterSubmission, on_delete=models.PROTECT, null=True, blank=True, related_name="member_exits"
    )
    row = models.PositiveIntegerField(null=True, blank=True, help_text="The roster row that reported it")
    eligibility_file = models.ForeignKey(
        EligibilityFile, on_delete=models.PROTECT, null=True, blank=True, related_name="member_exits"
    )
    status = models.CharField(max_length=16, choices=ExitStatus.choices)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["payer", "member_id", "recorded_at", "pk"]
        indexes = [models.Index(fields=["payer", "member_id"], name="member_exit_member")]
        constraints = [
            models.UniqueConstraint(
                fields=["payer", "member_id"],
                condition=Q(reason=codes.DEATH, status="recorded"),
                name="member_exit_one_death",
            ),
            models.UniqueConstraint(
                fields=["payer", "member_id", "bundle"],
                condition=Q(reason=codes.HOSPICE, status="recorded"),
                name="member_exit_one_hospice_per_bundle",
            ),
            models.CheckConstraint(
                condition=Q(reason=codes.DEATH, bundle__isnull=True)
                | Q(reason=codes.HOSPICE, bundle__isnull=False),
                name="member_exit_bundle_for_hospice_only",
            ),
            models.CheckConstraint(
                condition=Q(source="roster", submission__isnull=False)
                | Q(source="834", eligibility_file__isnull=False),
                name="member_exit_source_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.reason} {self.exit_date} ({self.status})"

    @property
    def source_label(self) -> str:
        """Where it was reported, as the plan reads it (names the contract or the file)."""
        if self.source == ExitSource.X12_834 and self.eligibility_file is not None:
            return f"834 file {self.eligibility_file.original_filename}"
        if self.submission is not None:
            s = self.submission
            return f"roster {s.contract.number} {s.month:%Y-%m} v{s.version}" + (
                f" row {self.row}" if self.row else ""
            )
        return self.source

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The plan sees its members' exits; a provider those its own rosters reported, or of members
        it has rostered (enrollment.selectors narrows further by contract)."""
        return Q(payer=organization) | Q(submission__contract__provider=organization)
