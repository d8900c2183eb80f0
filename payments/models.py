"""Monthly payment runs, their lines and member detail, and the append-only ledger.

A :class:`PaymentRun` prices one contract month from the accepted roster versions (enrollment) and
the terms in force on the month's first day (contracts). Its lines are member-months x PMPM per
rate cell (each with one :class:`PaymentDetail` per member underneath), initial assessment fees,
retroactive adjustments for earlier months, the quality withhold and the withhold adjustments
that keep each service month's withhold at its percentage of the net paid for it. A run is calculated
(``calculating``), reviewed by a plan analyst (``review``) and approved (``approved``), which
posts one :class:`LedgerEntry` per line. The first run of a month is its *payment*; a later run
of an already paid month is an *adjustment* holding only what changed.

Ledger entries are append-only: a database trigger refuses updates (and deletes on PostgreSQL;
migration 0002). A correction is a reversing entry plus a new one.

A :class:`Settlement` posts what a closed performance period earns (withhold returned, quality bonus,
shared savings) to the same ledger, reviewed and approved like a run.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

#: The bulk operation (core.bulk) that runs every contract's payment run of a month.
MONTH_END = "payments.month_end"
#: The bulk operation that settles one performance period for every contract.
SETTLE_ALL = "payments.settle_all"


class PaymentRunStatus(models.TextChoices):
    CALCULATING = "calculating", "Calculating"
    REVIEW = "review", "In review"
    APPROVED = "approved", "Approved"
    FAILED = "failed", "Failed"


OPEN_STATUSES = (PaymentRunStatus.CALCULATING, PaymentRunStatus.REVIEW)


class PaymentRunKind(models.TextChoices):
    PAYMENT = "payment", "Monthly payment"
    ADJUSTMENT = "adjustment", "Adjustment of a paid month"


class LineKind(models.TextChoices):
    MEMBER_MONTHS = "member_months", "Member-months"
    # An episode bundle's case rates (payments.episodes): the installments and early-exit settlements due
    EPISODE = "episode", "Episodes (case rate)"
    ASSESSMENT = "assessment", "Initial assessments"
    RETRO_ADJUSTMENT = "retro_adjustment", "Retroactive adjustment"
    WITHHOLD = "withhold", "Quality withhold"
    # A service month's withhold brought back to its percentage of the net after retro lines
    WITHHOLD_ADJUSTMENT = "withhold_adjustment", "Withhold adjustment"
    # Settlement of a closed performance period (posted by a Settlement, never by a run)
    WITHHOLD_RETURN = "withhold_return", "Withhold returned"
    QUALITY_BONUS = "quality_bonus", "Quality bonus"
    SHARED_SAVINGS = "shared_savings", "Shared savings"
    # Negative balances (payments.recovery): a run whose lines net below zero carries the difference to
    # a receivable; later runs offset it; a refund received from the provider clears it too.
    RECEIVABLE = "receivable", "Carried to a receivable"
    RECOVERY_OFFSET = "recovery_offset", "Recovery offset"
    REFUND = "refund", "Refund received"


#: What a run pays for enrolled members: member-months x PMPM, or an episode bundle's case rates.
MEMBER_PAYMENT_KINDS = (LineKind.MEMBER_MONTHS, LineKind.EPISODE)
SETTLEMENT_KINDS = (LineKind.WITHHOLD_RETURN, LineKind.QUALITY_BONUS, LineKind.SHARED_SAVINGS)
# What is held back from the provider: the month's withhold and the later adjustments of it
WITHHOLD_KINDS = (LineKind.WITHHOLD, LineKind.WITHHOLD_ADJUSTMENT)
#: The ledger kinds that move the open receivable (sum, never below 0: payments.recovery).
RECOVERY_KINDS = (LineKind.RECEIVABLE, LineKind.RECOVERY_OFFSET, LineKind.REFUND)
LINE_ORDER = {kind: i for i, kind in enumerate(LineKind.values)}


def _party_filter(organization, prefix: str = "") -> Q:
    return Q(**{f"{prefix}contract__payer": organization}) | Q(
        **{f"{prefix}contract__provider": organization}
    )


class PaymentRun(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="payment_runs")
    month = models.DateField(help_text="The first day of the month paid")
    number = models.PositiveIntegerField(default=1, help_text="1, 2, ... per contract and month")
    kind = models.CharField(max_length=16, choices=PaymentRunKind.choices, default=PaymentRunKind.PAYMENT)
    status = models.CharField(
        max_length=16, choices=PaymentRunStatus.choices, default=PaymentRunStatus.CALCULATING
    )
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    member_months = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    member_count = models.PositiveIntegerField(default=0)
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    input_fingerprint = models.CharField(
        max_length=64,
        blank=True,
        help_text="sha256 of the roster versions, terms and ledger position the run was calculated from",
    )
    inputs = models.JSONField(
        default=dict, blank=True, help_text="Months priced: {YYYY-MM: {submission, version, terms, role}}"
    )
    ledger_position = models.PositiveBigIntegerField(
        default=0, help_text="Last ledger sequence when calculated"
    )
    not_payable_assessments = models.JSONField(default=list, blank=True)
    outside_window = models.JSONField(
        default=list, blank=True, help_text="Differences for months older than the retro window: not paid"
    )
    error = models.JSONField(null=True, blank=True)
    progress_message = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    calculated_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(
        excluded_fields=["inputs", "not_payable_assessments", "outside_window", "error", "progress_message"]
    )

    class Meta:
        ordering = ["-month", "-number"]
        indexes = [models.Index(fields=["contract", "month", "status"], name="payment_run_month")]
        constraints = [
            models.UniqueConstraint(fields=["contract", "month", "number"], name="payment_run_number_unique"),
            # Two runs of one contract month are never calculated or reviewed at the same time.
            models.UniqueConstraint(
                fields=["contract", "month"],
                condition=Q(status__in=["calculating", "review"]),
                name="payment_run_one_open_per_month",
            ),
            models.CheckConstraint(
                condition=Q(status__in=PaymentRunStatus.values), name="payment_run_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(status="approved"),
                name="payment_run_approved_at_iff_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.month:%Y-%m} #{self.number} ({self.status})"

    @property
    def month_label(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The plan sees every run of its contracts; a provider only approved (posted) ones."""
        return Q(contract__payer=organization) | Q(
            contract__provider=organization, status=PaymentRunStatus.APPROVED
        )


class PaymentLine(models.Model):
    """One line of a run: a rate cell's member-months, a market's assessments, a month's adjustments, the withhold."""

    run = models.ForeignKey(PaymentRun, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    position = models.PositiveIntegerField(default=0)
    service_month = models.DateField(help_text="The month the money is for")
    tier = models.CharField(max_length=16, blank=True)
    market = models.CharField(max_length=32, blank=True)
    lob = models.CharField(max_length=32, blank=True)
    phase = models.CharField(
        max_length=16, blank=True, default="", help_text="A phased contract's phase code"
    )
    member_months = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    count = models.PositiveIntegerField(default=0, help_text="Members, assessments or adjusted members")
    rate = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="PMPM, assessment fee, or the withhold fraction",
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["run", "position", "pk"]
        # run + kind + rate cell: a member row finds its line in one probe when a run is priced in SQL
        indexes = [models.Index(fields=["run", "kind", "tier", "market", "lob"], name="payment_line_cell")]

    def __str__(self) -> str:
        return f"{self.kind} {self.rate_cell} {self.amount}"

    @property
    def rate_cell(self) -> str:
        return "/".join(x for x in (self.tier, self.market, self.lob, self.phase) if x)

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(run__contract__payer=organization) | Q(
            run__contract__provider=organization, run__status=PaymentRunStatus.APPROVED
        )


class PaymentDetail(models.Model):
    """One member (and rate cell) under a line: what the member earned or was adjusted by for ``month``."""

    line = models.ForeignKey(PaymentLine, on_delete=models.CASCADE, related_name="details", db_index=False)
    member_id = models.CharField(max_length=64)
    month = models.DateField(help_text="The service month")
    tier = models.CharField(max_length=16, blank=True)
    market = models.CharField(max_length=32, blank=True)
    lob = models.CharField(max_length=32, blank=True)
    phase = models.CharField(max_length=16, blank=True, default="")
    member_months = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    reference = models.CharField(max_length=32, blank=True, help_text="e.g. the assessment date")

    class Meta:
        ordering = ["line", "member_id"]
        # Covering the line totals (an index-only scan) and a member's rows of a run.
        indexes = [
            models.Index(
                fields=["line", "member_id", "amount", "member_months"], name="payment_detail_line_member"
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m} {self.amount}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(line__run__contract__payer=organization) | Q(
            line__run__contract__provider=organization, line__run__status=PaymentRunStatus.APPROVED
        )


class SettlementKind(models.TextChoices):
    SETTLEMENT = "settlement", "Settlement of the period"
    ADJUSTMENT = "adjustment", "Adjustment of a settled period"


class SettlementStatus(models.TextChoices):
    REVIEW = "review", "In review"
    APPROVED = "approved", "Approved"


class Settlement(models.Model):
    """What a closed performance period earns under the contract: the withhold returned, the quality bonus
    and the provider's shared savings, computed from the period's performance and posted on approval.

    A settlement holds only what is still due: each amount is what the period earns now minus what earlier
    approved settlements of the same period already posted, so settling again after nothing changed creates
    nothing, and a late utilisation file or roster produces an adjustment. A settlement in review is
    recalculated in place when its inputs change; an approved one is never changed.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="settlements")
    period = models.CharField(max_length=16, help_text="The period code, e.g. 2026-Q1")
    period_kind = models.CharField(max_length=16)
    period_start = models.DateField()
    period_end = models.DateField(help_text="First day after the period (exclusive)")
    number = models.PositiveIntegerField(default=1, help_text="1, 2, ... per contract and period")
    kind = models.CharField(max_length=16, choices=SettlementKind.choices, default=SettlementKind.SETTLEMENT)
    status = models.CharField(
        max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.REVIEW
    )
    terms_version = models.PositiveIntegerField(null=True, blank=True)
    composite_score = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True)
    withheld = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    base_payments = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    earned_withhold_return = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    earned_bonus = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    earned_shared_savings = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    withhold_return = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        default=0,
        help_text="Posted by this settlement (earned minus posted before)",
    )
    bonus = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    shared_savings = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="The performance the amounts came from")
    warnings = models.JSONField(default=list, blank=True)
    input_fingerprint = models.CharField(max_length=64)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    calculated_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["summary", "warnings"])

    class Meta:
        ordering = ["-period_start", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "period", "number"], name="settlement_number_unique"),
            models.UniqueConstraint(
                fields=["contract", "period"],
                condition=Q(status="review"),
                name="settlement_one_open_per_period",
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(status="approved"),
                name="settlement_approved_at_iff_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} {self.period} #{self.number} ({self.status})"

    def save(self, *args, **kwargs):
        # The total is its lines, always (not a CHECK constraint: SQLite would add the decimals as floats).
        self.total = self.withhold_return + self.bonus + self.shared_savings
        super().save(*args, **kwargs)

    @property
    def lines(self) -> list[tuple[str, str, object]]:
        """(kind, label, amount) of the three settlement lines, in posting order."""
        return [
            (LineKind.WITHHOLD_RETURN, LineKind.WITHHOLD_RETURN.label, self.withhold_return),
            (LineKind.QUALITY_BONUS, LineKind.QUALITY_BONUS.label, self.bonus),
            (LineKind.SHARED_SAVINGS, LineKind.SHARED_SAVINGS.label, self.shared_savings),
        ]

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """Like runs: the plan sees every settlement of its contracts; a provider only approved ones."""
        return Q(contract__payer=organization) | Q(
            contract__provider=organization, status=SettlementStatus.APPROVED
        )


class LedgerSequence(models.Model):
    """The last ledger sequence number of a contract; its row lock serialises posting."""

    contract = models.OneToOneField("contracts.Contract", on_delete=models.PROTECT, related_name="+")
    last = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.last}"


class LedgerEntry(models.Model):
    """A posted amount. Never updated nor deleted (a database trigger refuses it)."""

    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="ledger_entries"
    )
    run = models.ForeignKey(
        PaymentRun, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    settlement = models.ForeignKey(
        Settlement, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    refund = models.ForeignKey(
        "payments.Refund", on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries"
    )
    line = models.ForeignKey(PaymentLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    sequence = models.PositiveBigIntegerField(help_text="1, 2, ... per contract, in posting order")
    month = models.DateField(help_text="The payment month")
    service_month = models.DateField()
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    member_months = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    description = models.CharField(max_length=200, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    note = models.CharField(max_length=300, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField()

    class Meta:
        ordering = ["contract", "sequence"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["contract", "month"], name="ledger_contract_month")]
        constraints = [
            models.UniqueConstraint(fields=["contract", "sequence"], name="ledger_sequence_unique"),
            # Every entry was posted by exactly one run, one settlement or one refund.
            models.CheckConstraint(
                condition=Q(run__isnull=False, settlement__isnull=True, refund__isnull=True)
                | Q(run__isnull=True, settlement__isnull=False, refund__isnull=True)
                | Q(run__isnull=True, settlement__isnull=True, refund__isnull=False),
                name="ledger_entry_from_run_settlement_or_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.month:%Y-%m} {self.kind} {self.amount}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return _party_filter(organization)


class CorrectionStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class LedgerCorrection(models.Model):
    """A request to correct a posted ledger entry, with its reason, approved by a second person.

    Approval posts, in one transaction, a reversing entry and a new entry of ``amount`` (the ledger is
    append-only: nothing posted is changed). A request is never deleted nor edited; it is approved
    or rejected once, and its history (django-simple-history, ADR 0001) is the audit trail.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="ledger_corrections"
    )
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="corrections")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="The entry's corrected amount")
    reason = models.CharField(max_length=300)
    status = models.CharField(
        max_length=16, choices=CorrectionStatus.choices, default=CorrectionStatus.REQUESTED
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    reversal = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    replacement = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # One open request per entry: two would race to reverse it.
            models.UniqueConstraint(
                fields=["entry"], condition=Q(status="requested"), name="ledger_correction_one_open_per_entry"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CorrectionStatus.values), name="ledger_correction_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(status="approved"),
                name="ledger_correction_approved_at_iff_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} correction of #{self.entry_id} ({self.status})"

    @property
    def difference(self):
        """What the correction changes on the ledger: the new amount less the entry's."""
        return self.amount - self.entry.amount

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The plan sees every request; the provider only approved corrections (posted entries)."""
        return Q(contract__payer=organization) | Q(
            contract__provider=organization, status=CorrectionStatus.APPROVED
        )


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Refund(models.Model):
    """Money the provider paid back to the plan against its open receivable, recorded by one analyst
    and approved by another (four eyes), which posts one ``refund`` ledger entry of -amount.

    Never deleted nor edited: approved or rejected once; its history is the audit trail."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=2, help_text="Received, more than 0")
    received_on = models.DateField()
    reference = models.CharField(max_length=80, blank=True, help_text="e.g. the cheque or trace number")
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="refund_status_valid"),
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(status="approved"),
                name="refund_approved_at_iff_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_id} refund {self.amount} ({self.status})"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        """The plan sees every refund; the provider only approved ones (posted to its ledger)."""
        return Q(contract__payer=organization) | Q(
            contract__provider=organization, status=RefundStatus.APPROVED
        )
