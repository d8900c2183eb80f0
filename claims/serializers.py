from __future__ import annotations

from rest_framework import serializers

from claims.models import ClaimsUpload


class ClaimsUploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A claims extract, CSV or Parquet (docs/formats.md section 11)")


class ClaimsProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="As a spreadsheet shows it: the header is row 1")
    column = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class ClaimsUploadSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    errors = ClaimsProblemSerializer(many=True, read_only=True)
    warnings = ClaimsProblemSerializer(many=True, read_only=True)
    status = serializers.CharField(
        read_only=True,
        help_text="`accepted` (every line loaded), `rejected` (none) or `processing` (a large file, being "
        "read by a worker: `progress` says how far)",
    )
    has_999 = serializers.SerializerMethodField(help_text="An X12 837: its 999 is at `999/` under the upload")
    paid_amount = serializers.DecimalField(
        max_digits=16, decimal_places=2, read_only=True, help_text="Paid on the lines of this file that stand"
    )

    def get_has_999(self, upload: ClaimsUpload) -> bool:
        return bool(upload.ack_999)

    class Meta:
        model = ClaimsUpload
        fields = [
            "id",
            "status",
            "progress",
            "progress_message",
            "original_filename",
            "file_sha256",
            "file_size",
            "line_count",
            "claim_count",
            "member_count",
            "standing_count",
            "replaced_count",
            "voided_count",
            "duplicate_count",
            "paid_amount",
            "first_service",
            "last_service",
            "last_paid",
            "error_count",
            "errors",
            "warnings",
            "has_999",
            "uploaded_at",
        ]
