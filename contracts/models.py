"""Contracts between a payer and a provider, their versions (amendments), rates and rate sheets.

The contract is also what makes two organisations visible to each other (tenancy): a provider
sees the plan it contracts with, and the plan sees the provider.

A contract is a sequence of numbered versions. Version 1 is the contract as first signed; each
amendment is a new version with its own effective date, going through the same states
(draft -> proposed -> active). A version's terms are frozen once it leaves draft; an activated
version stays readable for the months it was in force. ``Contract.status`` mirrors its current
version (the latest activated one, or version 1 while nothing is activated yet).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet
from simple_history.models import HistoricalRecords

from core.domain.codes import PRORATION_LABELS, PRORATION_RULES, TIER_RULE_LABELS, TIER_RULES


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    TERMINATED = "terminated", "Terminated"
    EXPIRED = "expired", "Expired"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded by an amendment"
    TERMINATED = "terminated", "Terminated"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Versions both sides agreed to: they answer "which terms applied on day D?".
ACTIVATED_STATUSES = (
    VersionStatus.ACTIVE,
    VersionStatus.SUPERSEDED,
    VersionStatus.TERMINATED,
    VersionStatus.EXPIRED,
)
PENDING_STATUSES = (VersionStatus.DRAFT, VersionStatus.PROPOSED)

PRORATION_CHOICES = [(rule, PRORATION_LABELS[rule]) for rule in PRORATION_RULES]
TIER_RULE_CHOICES = [(rule, TIER_RULE_LABELS[rule]) for rule in TIER_RULES]


class Side(models.TextChoices):
    PAYER = "payer", "Plan"
    PROVIDER = "provider", "Provider"


class Contract(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20, unique=True, help_text="Public id, e.g. CTR-2026-0001")
    payer = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="payer_contracts"
    )
    provider = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="provider_contracts"
    )
    status = models.CharField(max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    bundle_versions = models.ManyToManyField(
        "bundles.BundleVersion", through="ContractBundleVersion", related_name="contracts", blank=True
    )
    current_version = models.ForeignKey(
        "ContractVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The latest activated version, or version 1 while none is activated",
    )
    first_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the plan first sent it to the provider (the provider sees it from then)",
    )
    terminated_on = models.DateField(null=True, blank=True, help_text="First day no longer in force")
    termination_reason = models.TextField(blank=True)
    terminated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=~Q(payer=models.F("provider")), name="contract_two_parties"),
        ]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization) | Q(provider=organization)


class ContractBundleVersion(models.Model):
    """A bundle version a contract pays for; a referenced version can never be deleted."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="bundle_links")
    bundle_version = models.ForeignKey(
        "bundles.BundleVersion", on_delete=models.PROTECT, related_name="contract_links"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "bundle_version"], name="contract_bundle_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} -> {self.bundle_version_id}"

    @classmethod
    def shown_to(cls, provider) -> QuerySet[ContractBundleVersion]:
        """The links a provider may see: on contracts the plan has sent it, except a bundle version
        that only an unsent draft (an amendment the plan is still writing) names."""
        versions = ContractVersion.objects.filter(
            contract_id=OuterRef("contract_id"), bundle_version_id=OuterRef("bundle_version_id")
        )
        return cls.objects.filter(contract__provider=provider, contract__first_sent_at__isnull=False).exclude(
            Exists(versions.filter(sent_at__isnull=True)) & ~Exists(versions.filter(sent_at__isnull=False))
        )


class ContractNumberSequence(models.Model):
    """The last contract number handed out per year (CTR-YYYY-NNNN); its row lock serialises allocation."""

    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class ContractVersion(models.Model):
    """One version of a contract's terms: the original (1) or an amendment (2, 3, ...)."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="+")
    # The terms as written (frozen once the version leaves draft) --------------------------
    effective_start = models.DateField(help_text="First day in force (the first of a month)")
    effective_end = models.DateField(
        null=True,
        blank=True,
        help_text="Contract end as written, exclusive (the first of a month); empty: open",
    )
    lines_of_business = models.JSONField(default=list)
    markets = models.JSONField(default=list)
    assessment_lookback_months = models.PositiveSmallIntegerField(default=12)
    proration_rule = models.CharField(max_length=16, choices=PRORATION_CHOICES, default="any_day")
    tier_rule = models.CharField(max_length=16, choices=TIER_RULE_CHOICES, default="first_day")
    retro_window_months = models.PositiveSmallIntegerField(default=3)
    roster_due_day = models.PositiveSmallIntegerField(default=10, help_text="Day of the following month")
    withhold_percentage = models.DecimalField(
        max_digits=5, decimal_places=4, default=0, help_text="A fraction: 0.0500 is 5%"
    )
    quality_terms = models.JSONField(default=list, blank=True)
    shared_savings_terms = models.JSONField(default=dict, blank=True)
    # {"threshold": "0.9", "percentage": "0.02"}: a bonus of ``percentage`` x the period's member-month
    # payments when the composite quality score is at least ``threshold``; null: no bonus. Nullable
    # without a default, so that adding it is a plain ADD COLUMN (SQLite keeps the table and its triggers).
    quality_bonus = models.JSONField(null=True, blank=True)
    termination_notice_days = models.PositiveSmallIntegerField(default=90)
    # Four eyes (docs/domain.md section 5, "Four eyes on money"): a payment, settlement, correction or refund whose amount is under
    # this limit may be approved by the person who requested it; null: always two people. Nullable
    # without a default, so that adding it is a plain ADD COLUMN (like ``quality_bonus``).
    single_approval_limit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # Recovery (docs/domain.md section 5, "Negative balances"): the largest share of a payment that may
    # go to repaying an open receivable, 0 < share <= 1; null: 1 (all of it). Nullable for the same
    # reason as ``single_approval_limit``, and so that versions frozen before it keep their fingerprint.
    recovery_offset_share = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    # Episode bundles (docs/domain.md section 5, "Episodes"): the case rate is paid in this many monthly
    # installments from the episode's first month (null: 1); on an early exit the episode is paid in
    # full or prorated by its days (null: full); a new episode may follow one that ended (null: no).
    # Nullable like the terms above, so versions frozen before them keep their fingerprint.
    episode_installments = models.PositiveSmallIntegerField(null=True, blank=True)
    episode_early_exit = models.CharField(max_length=8, null=True, blank=True)  # noqa: DJ001 (null: not set, a plain ADD COLUMN)
    episode_renewal = models.BooleanField(null=True, blank=True)
    pricing_run_id = models.CharField(
        max_length=64, blank=True, help_text="The pricing run the rates came from"
    )
    # Workflow ---------------------------------------------------------------------------
    in_force_end = models.DateField(
        null=True,
        blank=True,
        help_text="Exclusive end of the period this version actually governs (set when activated, "
        "shortened when an amendment supersedes it or the contract is terminated)",
    )
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="sha256 of the rates and terms, when frozen"
    )
    proposal_round = models.PositiveIntegerField(default=0)
    # Negotiation (ContractOffer): whose offer is on the table while proposed, and how it got there
    # (a counter-offer, or a rejection restoring that side's earlier offer); null: the plan's proposal,
    # never countered. Nullable without a default (a plain ADD COLUMN), and only set by a counter, so
    # versions never negotiated keep their fingerprint and rate sheets.
    offer_side = models.CharField(max_length=16, choices=Side.choices, null=True, blank=True)  # noqa: DJ001
    offer_kind = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
    sent_at = models.DateTimeField(null=True, blank=True, help_text="First sent to the provider")
    proposed_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="contract_version_number_unique"),
            models.UniqueConstraint(
                fields=["contract"],
                condition=Q(status__in=["draft", "proposed"]),
                name="contract_one_pending_version",
            ),
            models.CheckConstraint(
                condition=Q(effective_end__isnull=True) | Q(effective_end__gt=models.F("effective_start")),
                name="contract_version_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(withhold_percentage__gte=0) & Q(withhold_percentage__lt=1),
                name="contract_version_withhold_fraction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract.number} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @property
    def is_amendment(self) -> bool:
        return self.number > 1

    @property
    def period_end(self):
        """Exclusive end of the period this version governs: in force once activated, as written before."""
        return self.in_force_end if self.activated_at else self.effective_end

    @property
    def period_through(self):
        """The last day of ``period_end`` (people and files count end dates inclusively)."""
        return self.period_end - timedelta(days=1) if self.period_end else None

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(contract__payer=organization) | Q(contract__provider=organization)


class RateSource(models.TextChoices):
    PRICING_RUN = "pricing_run", "Pricing run"
    NEGOTIATED = "negotiated", "Negotiated"


class RateScheduleEntry(models.Model):
    """The PMPM of one rate cell (tier x market x LOB, and phase of enrollment for a phased bundle)."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="rates")
    tier = models.CharField(max_length=16)
    market = models.CharField(max_length=32)
    lob = models.CharField(max_length=32)
    phase = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="The bundle's phase code; empty: one rate for every month",
    )
    pmpm = models.DecimalField(max_digits=12, decimal_places=2)
    priced_pmpm = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The pricing run's rate for the cell, when there is one",
    )
    source = models.CharField(max_length=16, choices=RateSource.choices, default=RateSource.NEGOTIATED)
    reason = models.TextField(blank=True, help_text="Why a negotiated rate differs from the priced one")
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "lob", "tier", "market", "phase"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "tier", "market", "lob", "phase"], name="rate_cell_unique_per_version"
            ),
            models.CheckConstraint(condition=Q(pmpm__gt=0), name="rate_pmpm_positive"),
        ]

    def __str__(self) -> str:
        phase = f"/{self.phase}" if self.phase else ""
        return f"{self.version} {self.lob}/{self.tier}/{self.market}{phase}: {self.pmpm}"

    @property
    def difference(self):
        return None if self.priced_pmpm is None else self.pmpm - self.priced_pmpm

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(version__contract__payer=organization) | Q(version__contract__provider=organization)


class AssessmentFee(models.Model):
    """The initial assessment fee of a contract version in one market."""

    version = models.ForeignKey(ContractVersion, on_delete=models.CASCADE, related_name="assessment_fees")
    market = models.CharField(max_length=32)
    fee = models.DecimalField(max_digits=14, decimal_places=2)
    priced_fee = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "market"]
        constraints = [
            models.UniqueConstraint(fields=["version", "market"], name="assessment_fee_unique_per_version"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="assessment_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.market}: {self.fee}"


class OfferKind(models.TextChoices):
    PROPOSAL = "proposal", "Proposal"
    COUNTER = "counter", "Counter-offer"
    REJECTION = "rejection", "Counter-offer rejected"


class ContractOffer(models.Model):
    """One round of a proposed version's negotiation, append-only: the plan's proposal (round 1, and each
    re-proposal after a return), a side's counter-offer, or a rejection restoring that side's earlier
    offer. ``terms`` is the full snapshot of what was on the table (amounts as strings), ``changes`` what
    differs from the round before, each change with its reason."""

    version = models.ForeignKey(ContractVersion, on_delete=models.PROTECT, related_name="offers")
    round = models.PositiveIntegerField()
    side = models.CharField(max_length=16, choices=Side.choices)
    kind = models.CharField(max_length=16, choices=OfferKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    # {"rates": {rate key: "123.45"}, "assessment_fees": {market: "50.00"}, "withhold_percentage": "0.0500",
    #  "quality_terms": [...]}
    terms = models.JSONField(default=dict)
    # [{"field", "cell" (rates: {"lob", "tier", "market", "phase"}; fees: {"market"}), "before", "after",
    #   "reason"}]
    changes = models.JSONField(default=list, blank=True)
    reason = models.TextField(blank=True, help_text="The rejection's reason")
    pricing_run_id = models.CharField(
        max_length=64, blank=True, help_text="A pricing run backing the offer (as given by its author)"
    )
    fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["version", "round"]
        constraints = [
            models.UniqueConstraint(fields=["version", "round"], name="contract_offer_once_per_round"),
        ]

    def __str__(self) -> str:
        return f"{self.version} round {self.round}: {self.kind} by {self.side}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValueError("Contract offers are append-only.")
        super().save(*args, **kwargs)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(version__contract__payer=organization) | Q(version__contract__provider=organization)


class ContractAcceptance(models.Model):
    """One side's acceptance of a proposed version (per proposal round: a returned proposal starts over)."""

    version = models.ForeignKey(ContractVersion, on_delete=models.PROTECT, related_name="acceptances")
    side = models.CharField(max_length=16, choices=Side.choices)
    proposal_round = models.PositiveIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["version", "at"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "side", "proposal_round"], name="acceptance_once_per_side"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} accepted by {self.side} ({self.user}) at {self.at:%Y-%m-%d %H:%M}"


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    EDITED = "edited", "Edited"
    PROPOSED = "proposed", "Proposed"
    RETURNED = "returned", "Returned with comments"
    COUNTERED = "countered", "Counter-offer"
    COUNTER_REJECTED = "counter_rejected", "Counter-offer rejected"
    ACCEPTED = "accepted", "Accepted"
    ACTIVATED = "activated", "Activated"
    AMENDED = "amended", "Amendment started"
    TERMINATED = "terminated", "Terminated"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ContractEvent(models.Model):
    """The contract's timeline: who did what to which version, when, with what comment."""

    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="events")
    version = models.ForeignKey(
        ContractVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    comment = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["contract", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.contract} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class RateSheetFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    XLSX = "xlsx", "XLSX"
    CSV = "csv", "CSV"


class StoredRateSheet(models.Model):
    """A rendered rate sheet of a frozen version: generated once, then served byte for byte."""

    version = models.ForeignKey(ContractVersion, on_delete=models.PROTECT, related_name="rate_sheets")
    format = models.CharField(max_length=8, choices=RateSheetFormat.choices)
    fingerprint = models.CharField(max_length=64)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["version", "format"]
        constraints = [
            models.UniqueConstraint(fields=["version", "format", "fingerprint"], name="rate_sheet_once"),
        ]

    def __str__(self) -> str:
        return f"{self.version} rate sheet ({self.format})"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RateSheetExport(models.Model):
    """A zip of every active contract's rate sheets: a bulk operation (core.bulk) renders each contract's
    sheets on the workers, and its completion hook assembles the zip here."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    content = models.BinaryField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    operation = models.ForeignKey(
        "core.BulkOperation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The per-contract work (empty for exports built before it was spread over the workers)",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rate sheet export {self.public_id} ({self.status})"

    @property
    def progress_done(self) -> int:
        """Contracts whose sheets are made: live from the operation's items while it runs (the selectors'
        ``items_done`` annotation), else what the zip holds."""
        live = getattr(self, "items_done", None)
        if live is None or self.status in (ExportStatus.DONE, ExportStatus.FAILED):
            return self.done
        return live

    @property
    def progress_status(self) -> str:
        """The status, failed too when the operation's completion hook stopped before writing it."""
        operation = self.operation if self.operation_id else None
        if (
            operation is not None
            and operation.error
            and self.status not in (ExportStatus.DONE, ExportStatus.FAILED)
        ):
            return ExportStatus.FAILED
        return self.status

    @property
    def progress_error(self) -> str:
        if self.progress_status == ExportStatus.FAILED and not self.error and self.operation_id:
            return self.operation.error
        return self.error

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        return int(100 * self.progress_done / self.total) if self.total else 0

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)
