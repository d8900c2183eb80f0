"""Input validation and output shape of the enrollment API."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from enrollment.models import (
    Assessment,
    EligibilityFile,
    RosterEntry,
    RosterSubmission,
    SubmissionIssue,
)


class RosterSubmitSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="The roster's month, YYYY-MM")
    file = serializers.FileField(
        help_text="The roster: CSV, XLSX or JSON with the columns of docs/formats.md section 1"
    )
    assessments = serializers.FileField(
        required=False,
        help_text="The month's initial assessments (docs/formats.md section 2), CSV, XLSX or JSON",
    )


class RosterAcceptedSerializer(serializers.ModelSerializer):
    """The answer to a submission (202): it is processed in the background; poll ``status_url``."""

    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(read_only=True, help_text="`processing`, `accepted` or `rejected`")
    month = serializers.CharField(source="month_label")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = RosterSubmission
        fields = ["id", "status", "version", "month", "progress", "status_url"]

    def get_status_url(self, submission) -> str:
        return reverse("api-roster-detail", args=[submission.public_id])


class _Party(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(source="legal_name")


class _ContractRef(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()


class CountsSerializer(serializers.Serializer):
    rows = serializers.IntegerField(source="row_count", help_text="Data rows read from the file")
    members = serializers.IntegerField(source="member_count")
    errors = serializers.IntegerField(source="error_count")
    warnings = serializers.IntegerField(source="warning_count")
    assessments = serializers.IntegerField(source="assessment_count")
    payable_assessments = serializers.IntegerField(source="payable_assessment_count")


class RosterSubmissionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True, help_text="`processing`, `accepted` or `rejected`")
    contract = _ContractRef()
    payer = _Party(source="contract.payer")
    provider = _Party(source="contract.provider")
    month = serializers.CharField(source="month_label")
    submitted_by = serializers.CharField(source="submitted_by.username", allow_null=True, default=None)
    counts = CountsSerializer(source="*")
    member_months_total = serializers.DecimalField(source="member_months", max_digits=14, decimal_places=6)
    status_url = serializers.SerializerMethodField()
    origin = serializers.CharField(
        read_only=True,
        help_text="`provider` (sent by the provider) or `member_exit` (made by the platform: a death or "
        "hospice transfer recorded after the version it replaces was accepted ended a member's enrollment)",
    )

    class Meta:
        model = RosterSubmission
        fields = [
            "id",
            "contract",
            "payer",
            "provider",
            "month",
            "version",
            "origin",
            "status",
            "is_current",
            "late",
            "due_date",
            "submitted_at",
            "submitted_by",
            "counts",
            "member_months_total",
            "progress",
            "status_url",
        ]

    def get_status_url(self, submission) -> str:
        return reverse("api-roster-detail", args=[submission.public_id])


class IssueSerializer(serializers.ModelSerializer):
    """An error or warning of a submission, addressed by file, row and column."""

    # ``plan_detail`` is only in the plan's answers (serializer context ``plan_detail=True``): it holds
    # what the plan's records say about a member, which the provider who sent the roster must never read.
    severity = serializers.CharField(help_text="`error` (blocks the roster) or `warning`")
    file = serializers.CharField(source="source", help_text="`roster` or `assessments`")
    plan_detail = serializers.CharField(
        required=False,
        help_text="The plan only (absent for the provider): what the plan's records say, e.g. its "
        "values of a mismatched field or why a member is not eligible; empty when there is nothing to add",
    )

    class Meta:
        model = SubmissionIssue
        fields = ["severity", "file", "row", "column", "code", "message", "plan_detail"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("plan_detail"):
            del data["plan_detail"]
        return data


class RateCellSummarySerializer(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    member_months = serializers.DecimalField(max_digits=14, decimal_places=6)
    members = serializers.IntegerField()


class _Terms(serializers.Serializer):
    version = serializers.IntegerField(source="terms_version", allow_null=True)
    proration_rule = serializers.CharField()
    tier_rule = serializers.CharField()


class MemberExitSerializer(serializers.Serializer):
    """A death or hospice transfer a roster or an 834 reported, and what became of the report."""

    member_id = serializers.CharField()
    reason = serializers.CharField(help_text="`death` or `hospice`")
    date = serializers.DateField(
        source="exit_date", help_text="The date of death, or the last day before hospice"
    )
    status = serializers.CharField(
        help_text="`recorded` (the first report: it holds), `confirmed` (the same date again) or "
        "`conflicting` (another date: not applied)"
    )
    row = serializers.IntegerField(allow_null=True)


class RosterDetailSerializer(RosterSubmissionSerializer):
    """A submission with its verdict: errors and warnings (each with row, column, code and message; the
    first 1,000 of each here, all of them at ``issues_url``) and the member-months per rate cell."""

    progress_message = serializers.CharField()
    errors = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()
    member_months = RateCellSummarySerializer(source="summary", many=True)
    terms = _Terms(source="*")
    previous_version = serializers.IntegerField(source="previous.version", allow_null=True, default=None)
    diff = serializers.JSONField(
        help_text="Against the version it replaced: {against_version, added, removed, "
        "changed, items: [{member_id, name, change, changes}], truncated}"
    )
    files = serializers.SerializerMethodField()
    issues_url = serializers.SerializerMethodField()
    members_url = serializers.SerializerMethodField()
    assessments_url = serializers.SerializerMethodField()
    member_exits = serializers.SerializerMethodField()

    class Meta(RosterSubmissionSerializer.Meta):
        fields = [
            *RosterSubmissionSerializer.Meta.fields,
            "progress_message",
            "errors",
            "warnings",
            "member_months",
            "terms",
            "previous_version",
            "diff",
            "files",
            "issues_url",
            "members_url",
            "assessments_url",
            "member_exits",
        ]

    @extend_schema_field(MemberExitSerializer(many=True))
    def get_member_exits(self, submission):
        """The deaths and hospice transfers this roster reported (its rows with reason death or hospice)."""
        return MemberExitSerializer(self.context.get("member_exits", []), many=True).data

    @extend_schema_field(IssueSerializer(many=True))
    def get_errors(self, submission):
        return IssueSerializer(self.context["errors"], many=True, context=self.context).data

    @extend_schema_field(IssueSerializer(many=True))
    def get_warnings(self, submission):
        return IssueSerializer(self.context["warnings"], many=True, context=self.context).data

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "sha256": {"type": "string"},
                    "url": {"type": "string"},
                },
            },
        }
    )
    def get_files(self, submission) -> dict:
        url = reverse("api-roster-file", args=[submission.public_id])
        files = {
            "roster": {"name": submission.original_filename, "sha256": submission.file_sha256, "url": url}
        }
        if submission.assessments_file:
            files["assessments"] = {
                "name": submission.assessments_filename,
                "sha256": submission.assessments_sha256,
                "url": f"{url}?which=assessments",
            }
        return files

    def get_issues_url(self, submission) -> str:
        return reverse("api-roster-issues", args=[submission.public_id])

    def get_members_url(self, submission) -> str:
        return reverse("api-roster-members", args=[submission.public_id])

    def get_assessments_url(self, submission) -> str:
        return reverse("api-roster-assessments", args=[submission.public_id])


class RosterEntrySerializer(serializers.ModelSerializer):
    date_of_death = serializers.DateField(
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The member's recorded date of death (from any roster or the plan's 834), if any",
    )

    class Meta:
        model = RosterEntry
        fields = [
            "row",
            "member_id",
            "last_name",
            "first_name",
            "birth_date",
            "market",
            "enrollment_start",
            "enrollment_end",
            "disenrollment_reason",
            "tier",
            "tier_start",
            "date_of_death",
        ]


class AssessmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Assessment
        fields = [
            "row",
            "member_id",
            "last_name",
            "first_name",
            "birth_date",
            "market",
            "assessment_date",
            "outcome",
            "assessor_role",
            "referral_date",
            "payable",
            "reason",
            "message",
        ]


class AssessmentListSerializer(AssessmentSerializer):
    """An assessment among a contract's rosters in force: with its contract and roster."""

    contract = serializers.CharField(source="contract.number")
    roster_id = serializers.UUIDField(source="submission.public_id")
    roster_month = serializers.CharField(
        source="submission.month_label", help_text="The roster's month, YYYY-MM"
    )
    roster_version = serializers.IntegerField(source="submission.version")

    class Meta(AssessmentSerializer.Meta):
        fields = [
            *AssessmentSerializer.Meta.fields,
            "contract",
            "roster_id",
            "roster_month",
            "roster_version",
        ]


# --- eligibility ---------------------------------------------------------------------------------


class EligibilityUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An X12 834 (005010X220A1)")


class EligibilityFileSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.CharField(read_only=True, help_text="`processing`, `accepted` or `rejected`")
    uploaded_by = serializers.CharField(source="uploaded_by.username", allow_null=True, default=None)
    acknowledgement_url = serializers.SerializerMethodField()
    x12_999_url = serializers.SerializerMethodField()

    class Meta:
        model = EligibilityFile
        fields = [
            "id",
            "status",
            "original_filename",
            "file_sha256",
            "file_size",
            "full_file",
            "member_count",
            "counts",
            "error_count",
            "warning_count",
            "uploaded_by",
            "uploaded_at",
            "processed_at",
            "acknowledgement_url",
            "x12_999_url",
        ]

    def get_acknowledgement_url(self, record) -> str:
        return reverse("api-eligibility-acknowledgement", args=[record.public_id])

    def get_x12_999_url(self, record) -> str:
        return reverse("api-eligibility-999", args=[record.public_id])


class _Death(serializers.Serializer):
    member_id = serializers.CharField()
    date_of_death = serializers.DateField(source="exit_date")
    status = serializers.CharField(
        help_text="`recorded` (the first report: it holds), `confirmed` or `conflicting` (not applied)"
    )


class EligibilityFileDetailSerializer(EligibilityFileSerializer):
    """A file with the deaths it reported (INS12)."""

    deaths = _Death(many=True, source="member_exits.all")

    class Meta(EligibilityFileSerializer.Meta):
        fields = [*EligibilityFileSerializer.Meta.fields, "deaths"]


class EligibilityAcceptedSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(read_only=True, help_text="`processing`, `accepted` or `rejected`")
    acknowledgement_url = serializers.SerializerMethodField()

    class Meta:
        model = EligibilityFile
        fields = ["id", "status", "acknowledgement_url"]

    def get_acknowledgement_url(self, record) -> str:
        return reverse("api-eligibility-acknowledgement", args=[record.public_id])


class X12IssueSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    segment_index = serializers.IntegerField(
        allow_null=True, help_text="Segment number in the file (ISA = 1)"
    )
    segment_id = serializers.CharField()
    position = serializers.IntegerField(allow_null=True, help_text="Position in the transaction set (ST = 1)")
    element = serializers.IntegerField(allow_null=True)
    loop = serializers.CharField()
    transaction = serializers.CharField(allow_null=True, help_text="ST02 control number")


class AcknowledgementSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(read_only=True, help_text="`processing`, `accepted` or `rejected`")
    accepted = serializers.BooleanField(allow_null=True, source="acknowledgement.accepted", default=None)
    lines = serializers.ListField(child=serializers.CharField(), source="acknowledgement.lines", default=list)
    errors = X12IssueSerializer(many=True, source="acknowledgement.errors", default=list)
    warnings = X12IssueSerializer(many=True, source="acknowledgement.warnings", default=list)
    x12_999 = serializers.CharField(source="ack_999", help_text="The X12 999 (005010X231A1)")
    deaths = _Death(many=True, source="member_exits.all", help_text="The deaths the file reported (INS12)")
