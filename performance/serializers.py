from __future__ import annotations

from rest_framework import serializers

from performance.models import UtilizationUpload


class UtilizationUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="utilization.csv or the same columns in XLSX (formats.md section 4)")


class UtilizationRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As a spreadsheet shows it: the header is row 1")
    column = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class UtilizationUploadSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    errors = UtilizationRowErrorSerializer(many=True, read_only=True)
    status = serializers.CharField(read_only=True, help_text="`accepted` (every row loaded) or `rejected` (none)")

    class Meta:
        model = UtilizationUpload
        fields = ["id", "status", "original_filename", "file_sha256", "file_size", "row_count", "member_count",
                  "superseded_count", "first_month", "last_month", "error_count", "errors", "uploaded_at"]


class MeasureSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    unit = serializers.ChoiceField(choices=["per_1000", "rate", "days", "score"])
    direction = serializers.ChoiceField(choices=["lower", "higher"])
    numerator = serializers.CharField()
    denominator = serializers.CharField()
    denominator_label = serializers.CharField()
    rate = serializers.CharField(allow_null=True)
    ci_low = serializers.CharField(allow_null=True, help_text="95% interval (Wilson / Garwood / normal)")
    ci_high = serializers.CharField(allow_null=True)
    target = serializers.CharField(allow_null=True)
    weight = serializers.CharField()
    minimum_denominator = serializers.IntegerField()
    scored = serializers.BooleanField()
    met = serializers.BooleanField(allow_null=True)


class PerformanceSerializer(serializers.Serializer):
    contract = serializers.JSONField()
    period = serializers.JSONField(help_text="{code, kind, label, start, end} (end inclusive)")
    member_months = serializers.CharField()
    enrolled_months = serializers.IntegerField()
    members = serializers.IntegerField()
    measures = MeasureSerializer(many=True)
    composite_score = serializers.CharField(allow_null=True, help_text="Weighted share of scored measures met, 0..1")
    withhold = serializers.JSONField(help_text="{withheld, return_share, withhold_returned, withhold_kept, bonus}")
    shared_savings = serializers.JSONField(allow_null=True)
    baseline = serializers.JSONField()
    avoided_events = serializers.JSONField()
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
    costs = serializers.DictField(child=serializers.CharField(), help_text="{event kind: cost}, e.g. "
                                  '{"ed_visit": "1450.00"}')
