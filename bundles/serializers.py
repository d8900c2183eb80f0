from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import MembershipOrganizationSerializer, ShareSerializer
from bundles.models import Bundle, BundleVersion, IdtRole, Market


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path of the item, e.g. `$.roles[0].by_tier.2.visits_per_mm`")
    code = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])


class BundleVersionSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = BundleVersion
        fields = ["number", "status", "content_hash", "created_at", "published_at", "retired_at"]


class BundleVersionSerializer(serializers.ModelSerializer):
    bundle_id = serializers.UUIDField(source="bundle.public_id", read_only=True)
    based_on = serializers.IntegerField(source="based_on.number", read_only=True, allow_null=True)
    definition = serializers.JSONField()
    grid = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = BundleVersion
        fields = [
            "bundle_id",
            "number",
            "status",
            "based_on",
            "content_hash",
            "definition",
            "grid",
            "warnings",
            "created_at",
            "published_at",
            "retired_at",
        ]

    def get_grid(self, version) -> dict:
        from bundles.definition import grid

        data = grid(version.definition)
        return {
            "tiers": data["tiers"],
            "rows": [
                {"role": r["role"], "minutes": {t: str(m) for t, m in r["minutes"].items()}}
                for r in data["rows"]
            ],
            "totals": {t: str(m) for t, m in data["totals"].items()},
        }

    def get_warnings(self, version) -> list[dict]:
        from bundles.services import publish_check

        return [
            p.as_dict()
            for p in publish_check(bundle=version.bundle, definition=version.definition)
            if p.severity == "warning" or version.is_draft
        ]


class BundleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    payer = serializers.UUIDField(source="payer.public_id", read_only=True)
    latest_version = serializers.IntegerField(source="latest_number", read_only=True, allow_null=True)
    has_draft = serializers.SerializerMethodField()

    class Meta:
        model = Bundle
        fields = [
            "id",
            "name",
            "payer",
            "lines_of_business",
            "latest_version",
            "has_draft",
            "created_at",
            "updated_at",
        ]

    def get_has_draft(self, bundle) -> bool:
        return bool(getattr(bundle, "draft_count", 0))


class AdoptedFromSerializer(serializers.Serializer):
    bundle_id = serializers.UUIDField(source="bundle.public_id")
    bundle_name = serializers.CharField(source="bundle.name")
    number = serializers.IntegerField()
    owner = serializers.CharField(source="bundle.payer.display_name")


class BundleDetailSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="bundle.public_id")
    name = serializers.CharField(source="bundle.name")
    payer = serializers.UUIDField(source="bundle.payer.public_id")
    adopted_from = AdoptedFromSerializer(
        source="bundle.adopted_from",
        allow_null=True,
        help_text="The shared version of another organisation this bundle was adopted from",
    )
    versions = BundleVersionSummarySerializer(many=True)


class DefinitionInputSerializer(serializers.Serializer):
    definition = serializers.JSONField(
        help_text="The bundle definition (the `bundle` part of the pricing file)"
    )


class PricingFileSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="`carebundle.pricing/1`")
    bundle = serializers.JSONField()


class MarketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Market
        fields = ["code", "name", "rural", "travel_minutes_per_visit", "miles_per_visit"]
        # The database refuses negative travel (market_travel_not_negative): a field error, not a 500.
        extra_kwargs = {"travel_minutes_per_visit": {"min_value": 0}, "miles_per_visit": {"min_value": 0}}


class IdtRoleSerializer(serializers.ModelSerializer):
    platform = serializers.SerializerMethodField()

    class Meta:
        model = IdtRole
        fields = ["code", "name", "bills_ffs", "service_codes", "prescriber", "platform"]
        read_only_fields = ["prescriber", "platform"]

    def get_platform(self, role) -> bool:
        return role.organization_id is None


class DiffEntrySerializer(serializers.Serializer):
    path = serializers.CharField()
    label = serializers.CharField(
        help_text="The path in words: 'Registered nurse visits per member-month, Tier 3'"
    )
    change = serializers.ChoiceField(choices=["added", "removed", "changed"])
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class BundleVersionShareSerializer(ShareSerializer):
    links = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_links(self, share) -> dict:
        version = share.bundle_version
        return {
            "revoke": reverse(
                "api-bundle-version-share-revoke",
                args=[version.bundle.public_id, version.number, share.public_id],
            )
        }


class SharedBundleVersionSerializer(serializers.Serializer):
    """A bundle version another organisation shares with yours."""

    share_id = serializers.UUIDField(source="public_id")
    bundle_id = serializers.UUIDField(source="bundle_version.bundle.public_id")
    bundle_name = serializers.CharField(source="bundle_version.bundle.name")
    number = serializers.IntegerField(source="bundle_version.number")
    owner = MembershipOrganizationSerializer(source="bundle_version.bundle.payer")
    note = serializers.CharField()
    shared_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, share) -> str:
        version = share.bundle_version
        return reverse("api-bundle-version", args=[version.bundle.public_id, version.number])
