from __future__ import annotations

from rest_framework import serializers

from core.worklist import KIND_CODES
from notifications.models import DeliveryStatus, Notification, WebhookDelivery, WebhookEndpoint


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    kind = serializers.ChoiceField(
        choices=KIND_CODES, help_text="The work item's kind (GET /api/v1/workspace/)"
    )
    label = serializers.CharField(source="get_kind_display", read_only=True)
    read = serializers.SerializerMethodField()
    resolved = serializers.SerializerMethodField(help_text="The item left the worklist (it was done)")

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "label",
            "title",
            "detail",
            "url",
            "due",
            "urgent",
            "created_at",
            "read",
            "read_at",
            "resolved",
            "resolved_at",
        ]
        read_only_fields = fields

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None

    def get_resolved(self, obj: Notification) -> bool:
        return obj.resolved_at is not None


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KIND_CODES)
    label = serializers.CharField(read_only=True)
    in_app = serializers.BooleanField()
    email = serializers.BooleanField()


class PreferencesSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True)


class WebhookSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=KIND_CODES), required=False, help_text="Empty: every kind"
    )
    secret = serializers.CharField(read_only=True, help_text="Signs each body: X-Carebundle-Signature")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "kinds", "secret", "active", "created_at"]
        read_only_fields = ["id", "secret", "active", "created_at"]


class DeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    endpoint = serializers.UUIDField(source="endpoint.public_id", read_only=True)
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "kind",
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "created_at",
            "last_attempt_at",
            "delivered_at",
        ]
        read_only_fields = fields
