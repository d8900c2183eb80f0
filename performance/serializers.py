from __future__ import annotations

from rest_framework import serializers

from contracts.rules import BASELINE_METHOD_CODES
from performance.models import UtilizationUpload


class UtilizationUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="utilization.csv or the same columns in XLSX (docs/formats.md section 4)"
    )


class UtilizationRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As a spreadsheet shows it: the header is row 1")
    column = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class UtilizationUploadSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    errors = UtilizationRowErrorSerializer(many=True, read_only=True)
    status = serializers.CharField(
        read_only=True,
        help_text="`accepted` (every row loaded), `rejected` (none) or `processing` (a large file, being "
        "read by a worker)",
    )

    class Meta:
        model = UtilizationUpload
        fields = [
            "id",
            "status",
            "original_filename",
            "file_sha256",
            "file_size",
            "row_count",
            "member_count",
            "superseded_count",
            "first_month",
            "last_month",
            "error_count",
            "errors",
            "uploaded_at",
        ]


class MeasureSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.ChoiceField(choices=["per_1000", "rate", "days", "score"])
    direction = serializers.ChoiceField(choices=["lower", "higher"])
    numerator = serializers.CharField(allow_null=True, help_text="null when suppressed (see `suppression`)")
    denominator = serializers.CharField(allow_null=True, help_text="null when suppressed")
    denominator_label = serializers.CharField()
    rate = serializers.CharField(allow_null=True)
    ci_low = serializers.CharField(allow_null=True, help_text="95% interval (Wilson / Garwood / normal)")
    ci_high = serializers.CharField(allow_null=True)
    target = serializers.CharField(allow_null=True)
    weight = serializers.CharField()
    minimum_denominator = serializers.IntegerField()
    scored = serializers.BooleanField()
    met = serializers.BooleanField(allow_null=True)
    suppressed = serializers.BooleanField(
        required=False, help_text="A provider's view: a count of 1 to the limit hid the counts and the rate"
    )


class SharedSavingsResultSerializer(serializers.Serializer):
    """The shared savings of the period (money and rates as decimal strings)."""

    baseline_method = serializers.ChoiceField(
        choices=BASELINE_METHOD_CODES, help_text="The contract's baseline (details in `baseline`)"
    )
    baseline_pmpm = serializers.CharField(allow_null=True, help_text="The baseline TCOC PMPM compared with")
    actual_pmpm = serializers.CharField(allow_null=True, help_text="TCOC PMPM of the enrolled months")
    member_months = serializers.CharField(help_text="Enrolled months (whole months with a member-month row)")
    gross_savings = serializers.CharField(help_text="(baseline - actual) x member-months")
    savings_rate = serializers.CharField(allow_null=True, help_text="(baseline - actual) / baseline")
    minimum_savings_rate = serializers.CharField()
    msr_met = serializers.BooleanField()
    quality_gate = serializers.CharField()
    gate_met = serializers.BooleanField()
    sharing_rate = serializers.CharField()
    cap_amount = serializers.CharField(help_text="cap x baseline PMPM x member-months")
    shared = serializers.CharField(help_text="The provider's share")
    reason = serializers.CharField()


class BenchmarkSerializer(serializers.Serializer):
    pmpm = serializers.CharField(help_text="The contract's benchmark TCOC PMPM")
    midpoint = serializers.DateField(help_text="Midpoint of the period the benchmark was measured on")
    annual_trend = serializers.CharField(help_text="A fraction: 0.035 is 3.5% a year")
    period_midpoint = serializers.DateField(help_text="The performance period's midpoint (trended to)")
    days = serializers.IntegerField(help_text="Days from the benchmark's midpoint to the period's")
    trended_pmpm = serializers.CharField(help_text="pmpm x (1 + annual_trend) ^ (days / 365.25), to the cent")


class BaselineSerializer(serializers.Serializer):
    months = serializers.IntegerField(
        help_text="Pre-enrollment months with utilisation of the period's members"
    )
    tcoc_pmpm = serializers.CharField(allow_null=True, help_text="The members' own pre-enrollment TCOC PMPM")
    events = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        help_text="Pre-enrollment events by kind (the rates of avoided events); null when suppressed",
    )
    method = serializers.ChoiceField(
        choices=BASELINE_METHOD_CODES, help_text="The baseline of the shared savings"
    )
    window_months = serializers.IntegerField(
        help_text="The contract's baseline window: months before each member's first enrolled month"
    )
    benchmark = BenchmarkSerializer(
        allow_null=True, help_text="trended_benchmark: the benchmark and its trending"
    )
    savings_pmpm = serializers.CharField(
        allow_null=True,
        help_text="The baseline PMPM the shared savings compare with (tcoc_pmpm, benchmark.trended_pmpm or "
        "comparison_group.baseline_pmpm)",
    )
    actual_pmpm = serializers.CharField(
        allow_null=True,
        help_text="The period's TCOC PMPM of the enrolled months (what each baseline is set against)",
    )


def _pmpm(help_text: str = "") -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text=help_text)


def _count(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        allow_null=True, help_text=help_text + " (null for a provider when 1 to 10)"
    )


class ComparisonGroupSerializer(serializers.Serializer):
    window_months = serializers.IntegerField(help_text="The pre window: months before each index month")
    treated = _count("Enrolled members in the period")
    matched = _count("Enrolled members with a comparison")
    controls = _count("Distinct members who did not enroll used as comparisons")
    unmatched = serializers.DictField(
        child=serializers.IntegerField(allow_null=True),
        help_text="Enrolled members left out, by reason: no_history, no_condition_group, no_match",
    )
    member_months = serializers.IntegerField(help_text="Enrolled months of the matched members (the weights)")
    treated_pre_pmpm = _pmpm("Matched enrolled members, pre window")
    treated_post_pmpm = _pmpm("Matched enrolled members, the period")
    control_pre_pmpm = _pmpm("Their comparisons, the same pre windows (null for a provider with few)")
    control_post_pmpm = _pmpm("Their comparisons, the period")
    effect_pmpm = _pmpm("Difference in differences: negative when the program costs less")
    ci_low = _pmpm("95% interval of the effect")
    ci_high = _pmpm()
    savings_pmpm = _pmpm("The opposite of the effect")
    savings_low = _pmpm("95% interval of the savings")
    savings_high = _pmpm()
    baseline_pmpm = _pmpm("The actual PMPM plus the savings: the baseline under comparison_group")


class CompletionRowSerializer(serializers.Serializer):
    category = serializers.CharField(help_text="A service category (docs/domain.md), or `total`")
    paid = serializers.CharField(help_text="Paid so far for these members' services in the period")
    completion = serializers.CharField(help_text="paid / completed, 6 places")
    completed = serializers.CharField(help_text="The completed estimate (chain ladder on the plan's claims)")
    low = serializers.CharField(help_text="95% range, low end (never below what was paid)")
    high = serializers.CharField()
    fitted = serializers.BooleanField(help_text="False: too little history to fit, taken as complete")


class ClaimsCompletionSerializer(serializers.Serializer):
    valued_at = serializers.DateField(
        allow_null=True, help_text="The latest month the plan's paid claims reach"
    )
    total = CompletionRowSerializer()
    categories = CompletionRowSerializer(many=True)


class SuppressionSerializer(serializers.Serializer):
    limit = serializers.IntegerField(help_text="Counts from 1 to this are hidden")
    applied = serializers.BooleanField(help_text="Whether anything in this period was hidden")


class RunOutSerializer(serializers.Serializer):
    months = serializers.IntegerField(help_text="The contract's run-out: months after the period (0: none)")
    settles_from = serializers.DateField(help_text="The first day the period may be settled")
    completion_threshold = serializers.CharField(
        allow_null=True, help_text="The share of the completed claims cost that must be paid to settle"
    )
    text = serializers.CharField(help_text="The same, in words ('' when the terms set neither)")


class PerformanceSerializer(serializers.Serializer):
    contract = serializers.JSONField()
    period = serializers.JSONField(help_text="{code, kind, label, start, end} (end inclusive)")
    member_months = serializers.CharField()
    enrolled_months = serializers.IntegerField()
    members = serializers.IntegerField()
    measures = MeasureSerializer(many=True)
    composite_score = serializers.CharField(
        allow_null=True, help_text="Weighted share of scored measures met, 0..1"
    )
    withhold = serializers.JSONField(
        help_text="{withheld, return_share, withhold_returned, withhold_kept, bonus, base_payments}"
    )
    shared_savings = SharedSavingsResultSerializer(allow_null=True)
    baseline = BaselineSerializer()
    avoided_events = serializers.JSONField()
    run_out = RunOutSerializer()
    suppression = SuppressionSerializer(
        allow_null=True,
        help_text="For a provider: counts from 1 to `limit` are null (with `suppressed` on their measure "
        "or event) where they could point at a member; null for the plan, which sees every count",
    )
    claims_completion = ClaimsCompletionSerializer(
        allow_null=True, help_text="How complete the plan's claims for the period are; null without claims"
    )
    comparison_group = ComparisonGroupSerializer(
        allow_null=True,
        help_text="The difference in differences against matched eligible members who did not enroll; "
        "null without claims",
    )
    story = serializers.JSONField(allow_null=True)
    series = serializers.JSONField(required=False)


class PerformanceMemberSerializer(serializers.Serializer):
    member_id = serializers.CharField()
    member_months = serializers.CharField()
    months = serializers.IntegerField()
    ed_visits = serializers.IntegerField()
    inpatient_admissions = serializers.IntegerField()
    icu_admissions = serializers.IntegerField()
    discharges = serializers.IntegerField()
    readmissions_30d = serializers.IntegerField()
    tcoc_amount = serializers.CharField()
    death_date = serializers.DateField(allow_null=True)
    acp_documented_date = serializers.DateField(allow_null=True)


class StorySerializer(serializers.Serializer):
    period = serializers.CharField(read_only=True)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    text = serializers.CharField(max_length=5000)
    updated_at = serializers.DateTimeField(read_only=True)


class UnitCostSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField(read_only=True)
    cost = serializers.CharField(allow_null=True)


class UnitCostInputSerializer(serializers.Serializer):
    costs = serializers.DictField(
        child=serializers.CharField(), help_text='{event kind: cost}, e.g. {"ed_visit": "1450.00"}'
    )
