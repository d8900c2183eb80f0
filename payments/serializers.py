"""Input validation and output shapes of the payments API (no business rules here: services own them)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.domain.months import month_key, previous_month
from core.models import BulkItemStatus, BulkStatus
from payments.models import (
    CorrectionStatus,
    LedgerCorrection,
    LedgerEntry,
    LineKind,
    PaymentDetail,
    PaymentLine,
    PaymentRun,
    PaymentRunKind,
    PaymentRunStatus,
    Refund,
    RefundStatus,
    Settlement,
    SettlementKind,
    SettlementStatus,
)

MONEY = {"max_digits": 14, "decimal_places": 2, "coerce_to_string": True}
MM = {"max_digits": 14, "decimal_places": 6, "coerce_to_string": True}


def person(user) -> str | None:
    """How a person is named in an API body: full name, else username; None for nobody."""
    return (user.get_full_name() or user.username) if user else None


RUN_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in PaymentRunStatus.choices)
RUN_KINDS = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in PaymentRunKind.choices)
LINE_KINDS = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in LineKind.choices)


class PaymentRunStartSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The month to pay, YYYY-MM")


class PaymentRunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    contract = serializers.CharField(source="contract.number", read_only=True)
    contract_id = serializers.UUIDField(source="contract.public_id", read_only=True)
    month = serializers.DateField(format="%Y-%m", read_only=True)
    kind = serializers.CharField(read_only=True, help_text=RUN_KINDS)
    status = serializers.CharField(read_only=True, help_text=RUN_STATUSES)
    total = serializers.DecimalField(**MONEY, read_only=True)
    member_months = serializers.DecimalField(**MM, read_only=True)
    approved_by = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField(help_text="Who asked for the run (null: the schedule)")
    url = serializers.SerializerMethodField()

    class Meta:
        model = PaymentRun
        fields = [
            "id",
            "contract",
            "contract_id",
            "month",
            "number",
            "kind",
            "status",
            "total",
            "member_months",
            "member_count",
            "progress_message",
            "requested_at",
            "calculated_at",
            "approved_at",
            "approved_by",
            "requested_by",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_approved_by(self, run) -> str | None:
        user = run.approved_by
        return (user.get_full_name() or user.username) if user else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_requested_by(self, run) -> str | None:
        return person(run.requested_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, run) -> str:
        return reverse("api-payment-run", args=[run.public_id])


class PaymentRunStartedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text=RUN_STATUSES)
    kind = serializers.CharField(help_text=RUN_KINDS)
    number = serializers.IntegerField()
    month = serializers.CharField()
    created = serializers.BooleanField(
        help_text="False when nothing new was queued (a run in progress, or a paid "
        "month whose roster did not change)"
    )
    url = serializers.CharField()


class PaymentLineSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(help_text=LINE_KINDS)
    rate_cell = serializers.CharField(read_only=True)
    service_month = serializers.DateField(format="%Y-%m")
    member_months = serializers.DecimalField(**MM)
    rate = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=True, allow_null=True)
    amount = serializers.DecimalField(**MONEY)

    class Meta:
        model = PaymentLine
        fields = [
            "kind",
            "rate_cell",
            "tier",
            "market",
            "lob",
            "phase",
            "service_month",
            "count",
            "member_months",
            "rate",
            "amount",
            "description",
        ]
        read_only_fields = fields


class NotPayableSerializer(serializers.Serializer):
    member_id = serializers.CharField()
    assessment_date = serializers.CharField()
    market = serializers.CharField()
    outcome = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField(allow_blank=True)


class OutsideWindowSerializer(serializers.Serializer):
    member_id = serializers.CharField()
    month = serializers.CharField()
    difference = serializers.CharField()
    reason = serializers.CharField()


class CellChangeSerializer(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    previous_members = serializers.IntegerField()
    members = serializers.IntegerField()
    previous_member_months = serializers.DecimalField(**MM)
    member_months = serializers.DecimalField(**MM)
    previous_amount = serializers.DecimalField(**MONEY)
    amount = serializers.DecimalField(**MONEY)
    difference = serializers.DecimalField(**MONEY)
    changed = serializers.BooleanField()


class PaymentChangesSerializer(serializers.Serializer):
    previous_run = serializers.SerializerMethodField()
    previous_total = serializers.DecimalField(**MONEY, allow_null=True)
    total_difference = serializers.DecimalField(**MONEY, allow_null=True)
    members_joined = serializers.IntegerField(allow_null=True)
    members_left = serializers.IntegerField(allow_null=True)
    cells = CellChangeSerializer(many=True)

    @extend_schema_field(OpenApiTypes.STR)
    def get_previous_run(self, changes) -> str | None:
        previous = changes["previous"]
        return reverse("api-payment-run", args=[previous.public_id]) if previous else None


class StatementLinksSerializer(serializers.Serializer):
    pdf = serializers.CharField()
    csv = serializers.CharField()
    x12_820 = serializers.CharField(allow_null=True)


class PaymentRunDetailSerializer(PaymentRunSerializer):
    lines = PaymentLineSerializer(many=True, source="line_list")
    not_payable_assessments = NotPayableSerializer(many=True)
    outside_window = OutsideWindowSerializer(many=True)
    changes = serializers.SerializerMethodField()
    statement = serializers.SerializerMethodField()
    members_url = serializers.SerializerMethodField()
    error = serializers.JSONField(allow_null=True)

    class Meta(PaymentRunSerializer.Meta):
        fields = [
            *PaymentRunSerializer.Meta.fields,
            "terms_version",
            "lines",
            "not_payable_assessments",
            "outside_window",
            "changes",
            "statement",
            "members_url",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(PaymentChangesSerializer)
    def get_changes(self, run):
        return PaymentChangesSerializer(self.context["changes"]).data

    @extend_schema_field(StatementLinksSerializer)
    def get_statement(self, run):
        base = reverse("api-payment-run", args=[run.public_id])
        return {
            "pdf": f"{base}statement.pdf",
            "csv": f"{base}statement.csv",
            "x12_820": f"{base}statement.820" if run.status == PaymentRunStatus.APPROVED else None,
        }

    @extend_schema_field(OpenApiTypes.STR)
    def get_members_url(self, run) -> str:
        return reverse("api-payment-run-members", args=[run.public_id])


class MemberRowSerializer(serializers.ModelSerializer):
    line = serializers.CharField(source="line.kind", help_text=LINE_KINDS)
    month = serializers.DateField(format="%Y-%m")
    member_months = serializers.DecimalField(max_digits=12, decimal_places=6, coerce_to_string=True)
    amount = serializers.DecimalField(**MONEY)

    class Meta:
        model = PaymentDetail
        fields = [
            "member_id",
            "line",
            "month",
            "tier",
            "market",
            "lob",
            "phase",
            "member_months",
            "amount",
            "reference",
        ]
        read_only_fields = fields


class HistoryMonthSerializer(serializers.Serializer):
    month = serializers.CharField(source="label")
    member_months = serializers.DecimalField(**MM)
    member_lines = serializers.DecimalField(**MONEY)
    assessments = serializers.DecimalField(**MONEY)
    adjustments = serializers.DecimalField(**MONEY)
    withhold = serializers.DecimalField(**MONEY)
    settlements = serializers.DecimalField(
        **MONEY, help_text="Withhold returned, bonus and shared savings posted"
    )
    total = serializers.DecimalField(**MONEY)
    ytd = serializers.DecimalField(**MONEY, help_text="Posted from January through this month")


class HistoryYearSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    months = serializers.IntegerField()
    member_months = serializers.DecimalField(**MM)
    withhold = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class HistorySerializer(serializers.Serializer):
    contract = serializers.CharField()
    months = HistoryMonthSerializer(many=True)
    years = HistoryYearSerializer(many=True)


class LedgerEntrySerializer(serializers.ModelSerializer):
    run = serializers.SerializerMethodField(help_text="The payment run that posted the entry (or null)")
    settlement = serializers.SerializerMethodField(help_text="The settlement that posted the entry (or null)")
    refund = serializers.SerializerMethodField(
        help_text="The refund received that posted the entry (or null)"
    )
    month = serializers.DateField(format="%Y-%m")
    service_month = serializers.DateField(format="%Y-%m")
    kind = serializers.CharField(help_text=LINE_KINDS)
    amount = serializers.DecimalField(**MONEY)
    member_months = serializers.DecimalField(**MM)
    reverses = serializers.IntegerField(source="reverses.sequence", allow_null=True, default=None)

    class Meta:
        model = LedgerEntry
        fields = [
            "sequence",
            "run",
            "settlement",
            "refund",
            "month",
            "service_month",
            "kind",
            "amount",
            "member_months",
            "description",
            "reverses",
            "note",
            "posted_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "nullable": True})
    def get_run(self, entry) -> str | None:
        return reverse("api-payment-run", args=[entry.run.public_id]) if entry.run_id else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_settlement(self, entry) -> str | None:
        return reverse("api-settlement", args=[entry.settlement.public_id]) if entry.settlement_id else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_refund(self, entry) -> str | None:
        return reverse("api-refund", args=[entry.refund.public_id]) if entry.refund_id else None


SETTLEMENT_KINDS = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in SettlementKind.choices)
SETTLEMENT_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in SettlementStatus.choices)


class SettlementStartSerializer(serializers.Serializer):
    period = serializers.CharField(
        max_length=16, help_text="The period to settle: 2026-Q1, 2026, 2026-03 or CY1"
    )


class SettlementWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    months = serializers.ListField(child=serializers.CharField())


class SettlementSerializer(serializers.ModelSerializer):
    """A settlement: what the period earns, what was posted before, and the lines this one posts."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    contract = serializers.CharField(source="contract.number", read_only=True)
    contract_id = serializers.UUIDField(source="contract.public_id", read_only=True)
    period_start = serializers.DateField(format="%Y-%m")
    period_end = serializers.SerializerMethodField(help_text="The period's last month, YYYY-MM")
    kind = serializers.CharField(help_text=SETTLEMENT_KINDS)
    status = serializers.CharField(help_text=SETTLEMENT_STATUSES)
    composite_score = serializers.DecimalField(
        max_digits=8, decimal_places=6, coerce_to_string=True, allow_null=True
    )
    withheld = serializers.DecimalField(**MONEY, help_text="Withheld from the period's payments (ledger)")
    base_payments = serializers.DecimalField(**MONEY, help_text="The period's member-month payments (ledger)")
    earned_withhold_return = serializers.DecimalField(**MONEY)
    earned_bonus = serializers.DecimalField(**MONEY)
    earned_shared_savings = serializers.DecimalField(**MONEY)
    withhold_return = serializers.DecimalField(**MONEY, help_text="Posted by this settlement")
    bonus = serializers.DecimalField(**MONEY, help_text="Posted by this settlement")
    shared_savings = serializers.DecimalField(**MONEY, help_text="Posted by this settlement")
    total = serializers.DecimalField(**MONEY)
    warnings = SettlementWarningSerializer(many=True)
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Settlement
        fields = [
            "id",
            "contract",
            "contract_id",
            "period",
            "period_kind",
            "period_start",
            "period_end",
            "number",
            "kind",
            "status",
            "terms_version",
            "composite_score",
            "withheld",
            "base_payments",
            "earned_withhold_return",
            "earned_bonus",
            "earned_shared_savings",
            "withhold_return",
            "bonus",
            "shared_savings",
            "total",
            "warnings",
            "requested_at",
            "calculated_at",
            "approved_at",
            "requested_by",
            "approved_by",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_period_end(self, settlement) -> str:
        return month_key(previous_month(settlement.period_end))

    @extend_schema_field({"type": "string", "nullable": True})
    def get_requested_by(self, settlement) -> str | None:
        return person(settlement.requested_by)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_approved_by(self, settlement) -> str | None:
        user = settlement.approved_by
        return (user.get_full_name() or user.username) if user else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, settlement) -> str:
        return reverse("api-settlement", args=[settlement.public_id])


class SettlementStartedSerializer(SettlementSerializer):
    created = serializers.SerializerMethodField(help_text="False when an existing settlement was returned")

    class Meta(SettlementSerializer.Meta):
        fields = [*SettlementSerializer.Meta.fields, "created"]
        read_only_fields = fields

    def get_created(self, settlement) -> bool:
        return bool(self.context.get("created"))


CORRECTION_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in CorrectionStatus.choices)


class LedgerCorrectionRequestSerializer(serializers.Serializer):
    entry = serializers.IntegerField(min_value=1, help_text="The sequence of the ledger entry to correct")
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="The entry's corrected amount"
    )
    reason = serializers.CharField(
        max_length=300, help_text="Why the entry is corrected (kept with the ledger)"
    )


class LedgerCorrectionRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class LedgerCorrectionSerializer(serializers.ModelSerializer):
    """A correction of a posted entry: requested with a reason, approved by a second person (reversal plus
    new entry posted) or rejected."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    contract = serializers.CharField(source="contract.number", read_only=True)
    entry = serializers.IntegerField(source="entry.sequence", read_only=True)
    entry_amount = serializers.DecimalField(source="entry.amount", **MONEY, read_only=True)
    amount = serializers.DecimalField(**MONEY, read_only=True)
    difference = serializers.DecimalField(**MONEY, read_only=True, help_text="amount - entry_amount")
    status = serializers.CharField(read_only=True, help_text=CORRECTION_STATUSES)
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    rejected_by = serializers.SerializerMethodField()
    reversal = serializers.IntegerField(
        source="reversal.sequence", allow_null=True, default=None, read_only=True
    )
    replacement = serializers.IntegerField(
        source="replacement.sequence", allow_null=True, default=None, read_only=True
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = LedgerCorrection
        fields = [
            "id",
            "contract",
            "entry",
            "entry_amount",
            "amount",
            "difference",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "rejected_by",
            "rejected_at",
            "rejection_reason",
            "reversal",
            "replacement",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_requested_by(self, correction) -> str | None:
        return person(correction.requested_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_approved_by(self, correction) -> str | None:
        return person(correction.approved_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_rejected_by(self, correction) -> str | None:
        return person(correction.rejected_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, correction) -> str:
        return reverse("api-ledger-correction", args=[correction.public_id])


REFUND_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in RefundStatus.choices)


class RefundRequestSerializer(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Received from the provider, at most the open receivable"
    )
    received_on = serializers.DateField(help_text="The day the refund was received (not in the future)")
    reference = serializers.CharField(
        max_length=80, required=False, allow_blank=True, default="", help_text="e.g. the cheque number"
    )
    reason = serializers.CharField(max_length=300, help_text="What the refund is for (kept with the ledger)")


class RefundRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RefundSerializer(serializers.ModelSerializer):
    """A refund received against the open receivable: recorded, then approved by a second person (one
    ``refund`` ledger entry of -amount posted) or rejected."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    contract = serializers.CharField(source="contract.number", read_only=True)
    amount = serializers.DecimalField(**MONEY, read_only=True)
    status = serializers.CharField(read_only=True, help_text=REFUND_STATUSES)
    requested_by = serializers.SerializerMethodField()
    approved_by = serializers.SerializerMethodField()
    rejected_by = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "contract",
            "amount",
            "received_on",
            "reference",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
            "rejected_by",
            "rejected_at",
            "rejection_reason",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_requested_by(self, refund) -> str | None:
        return person(refund.requested_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_approved_by(self, refund) -> str | None:
        return person(refund.approved_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_rejected_by(self, refund) -> str | None:
        return person(refund.rejected_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, refund) -> str:
        return reverse("api-refund", args=[refund.public_id])


class LedgerBalanceSerializer(serializers.Serializer):
    """The contract's ledger at the end of a day: all it paid, and what the provider owes back."""

    contract = serializers.CharField()
    as_of = serializers.DateField()
    paid = serializers.DecimalField(**MONEY, help_text="The sum of every entry posted up to as_of")
    open_receivable = serializers.DecimalField(
        **MONEY, help_text="receivables + offsets + refunds (offsets and refunds negative), never below 0"
    )
    receivables = serializers.DecimalField(**MONEY, help_text="Negative months carried (positive)")
    offsets = serializers.DecimalField(**MONEY, help_text="Recovered from later payments (negative)")
    refunds = serializers.DecimalField(**MONEY, help_text="Refunds received (negative)")


class LedgerBalanceQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text="YYYY-MM-DD; today when left out")


BULK_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in BulkStatus.choices)
BULK_ITEM_STATUSES = "One of: " + ", ".join(f"`{v}` ({label})" for v, label in BulkItemStatus.choices)


class MonthEndProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="Contracts in the month-end")
    finished = serializers.IntegerField(help_text="Contracts no longer pending")
    percent = serializers.IntegerField()
    pending = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="No accepted roster yet: tried again when month-end runs again"
    )
    failed = serializers.IntegerField(help_text="Failed, with the reason: retried alone")


class MonthEndSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    title = serializers.CharField()
    month = serializers.CharField(source="params.month", help_text="YYYY-MM")
    status = serializers.CharField(help_text=BULK_STATUSES)
    progress = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField(help_text="Who started it last (null: the daily job)")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    @extend_schema_field(MonthEndProgressSerializer)
    def get_progress(self, operation) -> dict:
        return self.context["progress"](operation)

    @extend_schema_field(OpenApiTypes.STR)
    def get_requested_by(self, operation) -> str | None:
        return person(operation.requested_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, operation) -> str:
        return reverse("api-month-end", args=[operation.public_id])


class MonthEndRunSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(help_text=RUN_STATUSES)
    total = serializers.DecimalField(**MONEY)
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, run) -> str:
        return reverse("api-payment-run", args=[run.public_id])


class MonthEndItemSerializer(serializers.Serializer):
    contract = serializers.CharField(source="item.label")
    status = serializers.CharField(source="item.status", help_text=BULK_ITEM_STATUSES)
    message = serializers.CharField(source="item.message")
    attempts = serializers.IntegerField(source="item.attempts")
    finished_at = serializers.DateTimeField(source="item.finished_at", allow_null=True)
    run = MonthEndRunSerializer(allow_null=True, help_text="The contract's payment run of the month, if any")


class MonthEndDetailSerializer(MonthEndSerializer):
    items = MonthEndItemSerializer(many=True, source="rows")


class MonthEndStartSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The month to pay, YYYY-MM")


class SettlementAllProgressSerializer(MonthEndProgressSerializer):
    total = serializers.IntegerField(help_text="Contracts in the period's settlement")
    skipped = serializers.IntegerField(
        help_text="Not yet (run-out not over, claims incomplete): tried again when the period is settled again"
    )


class SettlementAllSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    title = serializers.CharField()
    period = serializers.CharField(source="params.period", help_text="The period code, e.g. 2026-Q1")
    status = serializers.CharField(help_text=BULK_STATUSES)
    progress = serializers.SerializerMethodField()
    requested_by = serializers.SerializerMethodField(help_text="Who started it last")
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    @extend_schema_field(SettlementAllProgressSerializer)
    def get_progress(self, operation) -> dict:
        return self.context["progress"](operation)

    @extend_schema_field(OpenApiTypes.STR)
    def get_requested_by(self, operation) -> str | None:
        return person(operation.requested_by)

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, operation) -> str:
        return reverse("api-settlement-run", args=[operation.public_id])


class SettlementAllSettlementSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(help_text=SETTLEMENT_STATUSES)
    total = serializers.DecimalField(**MONEY)
    url = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, settlement) -> str:
        return reverse("api-settlement", args=[settlement.public_id])


class SettlementAllItemSerializer(serializers.Serializer):
    contract = serializers.CharField(source="item.label")
    status = serializers.CharField(source="item.status", help_text=BULK_ITEM_STATUSES)
    message = serializers.CharField(source="item.message")
    attempts = serializers.IntegerField(source="item.attempts")
    finished_at = serializers.DateTimeField(source="item.finished_at", allow_null=True)
    settlement = SettlementAllSettlementSerializer(
        allow_null=True, help_text="The contract's settlement of the period, if any"
    )


class SettlementAllDetailSerializer(SettlementAllSerializer):
    items = SettlementAllItemSerializer(many=True, source="rows")


class SettlementAllStartSerializer(serializers.Serializer):
    period = serializers.CharField(max_length=16, help_text="The period to settle: 2026-Q1, 2026, CY1, ...")
