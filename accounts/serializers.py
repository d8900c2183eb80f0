from rest_framework import serializers

from accounts.backends import username_max_length
from accounts.models import Membership, Organization, Role


class TokenRequestSerializer(serializers.Serializer):
    # Refused here, longer than a username can be, before authenticate() (and django-axes) sees it.
    username = serializers.CharField(max_length=username_max_length())
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


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

    class Meta:
        model = Membership
        fields = ["id", "username", "full_name", "role", "organization", "created_at"]
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
