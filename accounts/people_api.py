"""Invitations and member deactivation through the API (administrators of their own organisation), the
invitee's acceptance, and a user's own preferences."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import LoginRateThrottle
from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from accounts.backends import username_max_length
from accounts.models import Invitation, InvitationStatus, Membership, Role
from accounts.serializers import MembershipSerializer
from accounts.time_zone import chosen_time_zone
from core.api import ErrorSerializer
from core.errors import ApplicationError

ORG = [ORGANIZATION_PARAMETER]
SIGN_UP_NEEDED_MESSAGE = "Sign in with the invited account, or give a username and password to create one."


class InvitationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    status = serializers.ChoiceField(choices=InvitationStatus.choices, read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "sent_at",
            "send_count",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationSentSerializer(InvitationSerializer):
    accept_url = serializers.URLField(
        read_only=True, help_text="The invitee's link, given once (only its hash is kept)."
    )

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "accept_url"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationAcceptSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=100, help_text="The last part of the invitation's link.")
    username = serializers.CharField(max_length=username_max_length(), required=False)
    password = serializers.CharField(required=False, style={"input_type": "password"}, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, default="")
    last_name = serializers.CharField(max_length=150, required=False, default="")


def _sent(request, invitation: Invitation, key: str) -> dict:
    return {**InvitationSerializer(invitation).data, "accept_url": services.invitation_url(key, request)}


class InvitationListApi(ScopedMixin, generics.ListAPIView):
    """Your organisation's invitations, newest first; POST invites an e-mail address to a role."""

    queryset = Invitation.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = InvitationSerializer
    filterset_fields = ["role", "email"]

    def get_organization(self):
        return selectors.organization_get(scope=self.scope, public_id=self.kwargs["organization_id"])

    def get_queryset(self):
        return selectors.invitation_list(scope=self.scope, organization=self.get_organization())

    @extend_schema(parameters=ORG)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InvitationCreateSerializer,
        responses={201: InvitationSentSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        parameters=ORG,
    )
    def post(self, request, organization_id):
        organization = self.get_organization()
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, key = services.invitation_create(
            scope=self.scope, organization=organization, **serializer.validated_data
        )
        return Response(_sent(request, invitation, key), status=status.HTTP_201_CREATED)


class _InvitationApi(ScopedAPIView):
    def get_invitation(self, organization_id, invitation_id) -> Invitation:
        organization = selectors.organization_get(scope=self.scope, public_id=organization_id)
        return selectors.invitation_get(scope=self.scope, organization=organization, public_id=invitation_id)


class InvitationDetailApi(_InvitationApi):
    @extend_schema(responses={200: InvitationSerializer, 404: ErrorSerializer}, parameters=ORG)
    def get(self, request, organization_id, invitation_id):
        return Response(InvitationSerializer(self.get_invitation(organization_id, invitation_id)).data)


class InvitationResendApi(_InvitationApi):
    """A new link (the previous one stops working) and a new expiry, e-mailed again."""

    @extend_schema(
        request=None, responses={200: InvitationSentSerializer, 409: ErrorSerializer}, parameters=ORG
    )
    def post(self, request, organization_id, invitation_id):
        invitation, key = services.invitation_resend(
            scope=self.scope, invitation=self.get_invitation(organization_id, invitation_id)
        )
        return Response(_sent(request, invitation, key))


class InvitationRevokeApi(_InvitationApi):
    @extend_schema(request=None, responses={200: InvitationSerializer, 409: ErrorSerializer}, parameters=ORG)
    def post(self, request, organization_id, invitation_id):
        invitation = services.invitation_revoke(
            scope=self.scope, invitation=self.get_invitation(organization_id, invitation_id)
        )
        return Response(InvitationSerializer(invitation).data)


class _MembershipApi(ScopedAPIView):
    change: Callable[..., Membership]

    @extend_schema(request=None, responses={200: MembershipSerializer, 409: ErrorSerializer}, parameters=ORG)
    def post(self, request, organization_id, membership_id):
        organization = selectors.organization_get(scope=self.scope, public_id=organization_id)
        membership = selectors.membership_get(
            scope=self.scope, organization=organization, public_id=membership_id
        )
        return Response(MembershipSerializer(self.change(scope=self.scope, membership=membership)).data)


class MembershipDeactivateApi(_MembershipApi):
    """The member can no longer act for the organisation; the membership and its history stay."""

    change = staticmethod(services.membership_deactivate)


class MembershipReactivateApi(_MembershipApi):
    change = staticmethod(services.membership_reactivate)


class InvitationAcceptApi(APIView):
    """Accept an invitation: as the user this request is authenticated as (whose e-mail address must be
    the invited one), or, unauthenticated, by creating an account with a username and password."""

    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]
    schema_public = True

    @extend_schema(
        request=InvitationAcceptSerializer,
        responses={
            201: MembershipSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
            410: ErrorSerializer,
        },
    )
    def post(self, request):
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if request.user.is_authenticated:
            membership = services.invitation_accept(key=data["key"], user=request.user)
        elif data.get("username") and data.get("password"):
            membership = services.invitation_accept_new_user(
                key=data["key"],
                username=data["username"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
            )
        else:
            services.invitation_check(key=data["key"])  # a dead link says so before asking for more
            raise ApplicationError(SIGN_UP_NEEDED_MESSAGE, code="sign_up_needed")
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class UserPreferencesSerializer(serializers.Serializer):
    time_zone = serializers.CharField(
        allow_blank=True,
        max_length=64,
        help_text="IANA zone pages show times in (e.g. America/Denver); blank: the site's.",
    )
    site_time_zone = serializers.CharField(read_only=True)


class MePreferencesApi(APIView):
    """Your own settings, whichever organisation you act for."""

    def _body(self, user) -> dict:
        return {"time_zone": chosen_time_zone(user), "site_time_zone": settings.TIME_ZONE}

    @extend_schema(responses=UserPreferencesSerializer)
    def get(self, request):
        return Response(UserPreferencesSerializer(self._body(request.user)).data)

    @extend_schema(
        request=UserPreferencesSerializer, responses={200: UserPreferencesSerializer, 400: ErrorSerializer}
    )
    def patch(self, request):
        serializer = UserPreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.time_zone_set(user=request.user, time_zone=serializer.validated_data["time_zone"])
        return Response(UserPreferencesSerializer(self._body(request.user)).data)
