from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.backends import username_max_length
from accounts.models import Membership, Organization, Role


class TokenRequestSerializer(serializers.Serializer):
    # Refused here, longer than a username can be, before authenticate() (and django-axes) sees it.
    username = serializers.CharField(max_length=username_max_length())
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    # Two-factor sign-in (accounts.two_factor): the code of a user who has it, else left out.
    otp_token = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="The code from the user's authenticator app, or a backup code; needed when two-factor "
        "sign-in is on for the user.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class OrganizationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["id", "kind", "legal_name", "short_name", "npi", "tax_id", "lines_of_business"]
        read_only_fields = fields


class MembershipOrganizationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.CharField()
    legal_name = serializers.CharField()


class MembershipSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    full_name = serializers.CharField(source="user.get_full_name", read_only=True)
    organization = MembershipOrganizationSerializer(read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = Membership
        fields = [
            "id",
            "username",
            "full_name",
            "role",
            "organization",
            "created_at",
            "active",
            "deactivated_at",
        ]
        read_only_fields = fields


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


class MembershipUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    active_membership = MembershipSerializer(allow_null=True)
    memberships = MembershipSerializer(many=True)
    two_factor_enabled = serializers.BooleanField()
    two_factor_required = serializers.BooleanField()


# --- two-factor sign-in (accounts.two_factor) ----------------------------------------------------------


class TwoFactorStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(
        help_text="A confirmed authenticator app signs the user in with a code."
    )
    required = serializers.BooleanField(help_text="An organisation of the user requires two-factor sign-in.")
    backup_codes_left = serializers.IntegerField()
    pending_setup = serializers.BooleanField(help_text="A setup was started and not yet confirmed by a code.")


class TwoFactorSetupSerializer(serializers.Serializer):
    otpauth_uri = serializers.CharField(
        help_text="otpauth:// URI for an authenticator app (show it as a QR code)."
    )
    secret = serializers.CharField(help_text="The same key in base32, for typing into the app.")


class TwoFactorCodeSerializer(serializers.Serializer):
    otp_token = serializers.CharField(max_length=64, help_text="A code from the app, or a backup code.")


class TwoFactorBackupCodesSerializer(serializers.Serializer):
    backup_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Single-use codes, shown only in this answer."
    )


class TwoFactorRequirementSerializer(serializers.Serializer):
    required = serializers.BooleanField(
        help_text="Members must sign in with a code from an authenticator app."
    )


class CounterpartySerializer(serializers.ModelSerializer):
    """An organisation one may share work with (names only)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    kind = serializers.CharField(read_only=True, help_text="`payer` or `provider`")

    class Meta:
        model = Organization
        fields = ["id", "kind", "legal_name", "short_name"]
        read_only_fields = fields


def _person(user) -> str | None:
    return (user.get_full_name() or user.username) if user is not None else None


class ShareInputSerializer(serializers.Serializer):
    organization_id = serializers.UUIDField(
        help_text="The recipient: an organisation of the other kind (`GET /api/v1/organizations/counterparties/`)"
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ShareSerializer(serializers.Serializer):
    """A share of a bundle version or a pricing run with another organisation (read-only for it)."""

    id = serializers.UUIDField(source="public_id")
    organization = MembershipOrganizationSerializer(help_text="The recipient")
    note = serializers.CharField()
    shared_by = serializers.SerializerMethodField()
    shared_at = serializers.DateTimeField()
    revoked_by = serializers.SerializerMethodField()
    revoked_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()

    def get_shared_by(self, share) -> str:
        return _person(share.shared_by) or ""

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_revoked_by(self, share) -> str | None:
        return _person(share.revoked_by)
