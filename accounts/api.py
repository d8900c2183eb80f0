"""Accounts API: tokens, the current user, organisations and memberships."""

from __future__ import annotations

import django_filters
from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services, two_factor
from accounts.api_base import ORGANIZATION_PARAMETER, ScopedAPIView, ScopedMixin
from accounts.models import ApiToken, Membership, Organization, OrganizationKind
from accounts.serializers import (
    CounterpartySerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    MeSerializer,
    OrganizationSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    TwoFactorBackupCodesSerializer,
    TwoFactorCodeSerializer,
    TwoFactorRequirementSerializer,
    TwoFactorSetupSerializer,
    TwoFactorStatusSerializer,
)
from accounts.tenancy import memberships_of, scope_from_request
from core.api import ErrorSerializer
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError
from core.net import client_ip

INVALID_CREDENTIALS_MESSAGE = "Wrong username or password."
LOCKED_OUT_MESSAGE = "Too many failed logins for this account; try again in 15 minutes."


class LoginRateThrottle(AnonRateThrottle):
    rate = "20/min"

    def get_ident(self, request) -> str:
        # The trusted-proxy rule (core.net), as django-axes counts the same request.
        return client_ip(request)


# --- two-factor sign-in at the token endpoint (accounts.two_factor) --------------------------------------

TOKEN_TWO_FACTOR_RESPONSES = {
    401: OpenApiResponse(
        ErrorSerializer,
        description="`invalid_credentials` (wrong username or password); `otp_required` (two-factor sign-in "
        "is on for the user and `otp_token` is missing); `invalid_otp` (the code is wrong or was used).",
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        description="`two_factor_setup_required`: an organisation of the user requires two-factor "
        "sign-in and the user has not set it up (on the web page /accounts/two-factor/).",
    ),
}


class TokenApi(APIView):
    """Exchange a username and password for an API token; DELETE revokes the token in use."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]
    schema_public = True

    @extend_schema(
        request=TokenRequestSerializer,
        responses={201: TokenResponseSerializer, **TOKEN_TWO_FACTOR_RESPONSES},
        auth=[],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        otp_token = serializer.validated_data.pop("otp_token", "")
        user = authenticate(request, **serializer.validated_data)
        if getattr(request, "axes_locked_out", False):  # django-axes refused before checking the password
            raise ApplicationError(LOCKED_OUT_MESSAGE, code="locked_out", status=429)
        if user is None:
            raise ApplicationError(INVALID_CREDENTIALS_MESSAGE, code="invalid_credentials", status=401)
        two_factor.token_check(user=user, otp_token=otp_token)
        # A token login is a login: the failures before it no longer count (the login page gets
        # this from django-axes' user_logged_in handler, which also opens a session we do not want).
        services.failed_logins_reset(
            username=serializer.validated_data["username"], ip_address=client_ip(request)
        )
        key, token = services.token_create(user=user)
        return Response({"token": key, "expires_at": token.expires_at}, status=status.HTTP_201_CREATED)


class TokenRevokeApi(APIView):
    """Revoke the token this request is authenticated with."""

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if isinstance(request.auth, ApiToken):
            services.token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(responses=MeSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request):
        scope = scope_from_request(request)
        data = {
            "username": request.user.username,
            "full_name": request.user.get_full_name(),
            "active_membership": scope.membership if scope else None,
            "memberships": list(memberships_of(request.user)),
            "two_factor_enabled": two_factor.has_two_factor(request.user),
            "two_factor_required": two_factor.requires_two_factor(request.user),
        }
        return Response(MeSerializer(data).data)


class OrganizationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=OrganizationKind.choices)

    class Meta:
        model = Organization
        fields = ["kind"]


class OrganizationListApi(ScopedMixin, generics.ListAPIView):
    """Organisations you may see: your own and the counterparties you have contracts with."""

    queryset = Organization.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = OrganizationSerializer
    filterset_class = OrganizationFilter
    search_fields = ["legal_name", "short_name"]
    ordering_fields = ["legal_name", "kind"]

    def get_queryset(self):
        return selectors.organization_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CounterpartyListApi(ScopedMixin, generics.ListAPIView):
    """The organisations you may share a bundle version or a pricing run with: every organisation of
    the other kind (a plan sees providers, a provider sees plans). Name a recipient by its `id`."""

    queryset = Organization.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = CounterpartySerializer
    search_fields = ["legal_name", "short_name"]

    def get_queryset(self):
        return selectors.counterparty_list(scope=self.scope)

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class OrganizationDetailApi(ScopedAPIView):
    @extend_schema(responses=OrganizationSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, organization_id):
        organization = selectors.organization_get(scope=self.scope, public_id=organization_id)
        return Response(OrganizationSerializer(organization).data)


class MembershipListApi(ScopedMixin, generics.ListAPIView):
    """Members of your own organisation (another organisation's members are never listed)."""

    queryset = Membership.objects.none()  # for the schema; get_queryset scopes the real one
    serializer_class = MembershipSerializer
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    filterset_fields = ["role"]

    def get_organization(self) -> Organization:
        return selectors.organization_get(scope=self.scope, public_id=self.kwargs["organization_id"])

    def get_queryset(self):
        return selectors.membership_list(scope=self.scope, organization=self.get_organization())

    @extend_schema(parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=MembershipCreateSerializer,
        responses={201: MembershipSerializer},
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, organization_id):
        organization = self.get_organization()
        serializer = MembershipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_create(
            scope=self.scope, organization=organization, **serializer.validated_data
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipDetailApi(ScopedAPIView):
    def get_membership(self, organization_id, membership_id):
        organization = selectors.organization_get(scope=self.scope, public_id=organization_id)
        return selectors.membership_get(scope=self.scope, organization=organization, public_id=membership_id)

    @extend_schema(responses=MembershipSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, organization_id, membership_id):
        return Response(MembershipSerializer(self.get_membership(organization_id, membership_id)).data)

    @extend_schema(
        request=MembershipUpdateSerializer,
        responses=MembershipSerializer,
        parameters=[ORGANIZATION_PARAMETER],
    )
    def patch(self, request, organization_id, membership_id):
        membership = self.get_membership(organization_id, membership_id)
        serializer = MembershipUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            scope=self.scope, membership=membership, **serializer.validated_data
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(request=None, responses={204: None}, parameters=[ORGANIZATION_PARAMETER])
    def delete(self, request, organization_id, membership_id):
        services.membership_delete(
            scope=self.scope, membership=self.get_membership(organization_id, membership_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- two-factor sign-in: the user's own, and an organisation's requirement (accounts.two_factor) ---------

TWO_FACTOR_ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description="`invalid_otp` (wrong or used code), `otp_required` (no code), `two_factor_not_started`, "
        "`two_factor_not_enabled`, or invalid input.",
    ),
    409: OpenApiResponse(
        ErrorSerializer,
        description="`two_factor_already_enabled`; `two_factor_required` (an organisation requires it: it "
        "cannot be turned off).",
    ),
    429: OpenApiResponse(
        ErrorSerializer, description="`otp_throttled`: too many wrong codes; `details.retry_after` seconds."
    ),
}


def _status_data(user) -> dict:
    status_ = two_factor.status(user)
    return {
        "enabled": status_.enabled,
        "required": status_.required,
        "backup_codes_left": status_.backup_codes_left,
        "pending_setup": status_.pending_setup,
    }


class TwoFactorStatusApi(APIView):
    """Whether two-factor sign-in is on for you, required of you, and how many backup codes are left."""

    @extend_schema(responses=TwoFactorStatusSerializer)
    def get(self, request):
        return Response(TwoFactorStatusSerializer(_status_data(request.user)).data)


class TwoFactorSetupApi(APIView):
    """Start adding an authenticator app: a new key (an earlier unconfirmed one is replaced). Confirm it
    with a code from the app at .../confirm/."""

    @extend_schema(request=None, responses={201: TwoFactorSetupSerializer, **TWO_FACTOR_ERRORS})
    def post(self, request):
        pending = two_factor.setup_start(user=request.user)
        data = {"otpauth_uri": pending.otpauth_uri, "secret": pending.secret}
        return Response(TwoFactorSetupSerializer(data).data, status=status.HTTP_201_CREATED)


class TwoFactorConfirmApi(APIView):
    """Turn two-factor sign-in on with a code from the app; the answer holds ten backup codes, once."""

    @extend_schema(
        request=TwoFactorCodeSerializer,
        responses={200: TwoFactorBackupCodesSerializer, **TWO_FACTOR_ERRORS},
        examples=[OpenApiExample("A code", value={"otp_token": "123456"}, request_only=True)],
    )
    def post(self, request):
        serializer = TwoFactorCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        _, codes = two_factor.setup_confirm(user=request.user, code=serializer.validated_data["otp_token"])
        return Response(TwoFactorBackupCodesSerializer({"backup_codes": codes}).data)


class TwoFactorBackupCodesApi(APIView):
    """Ten new backup codes replace the old ones, on a current code."""

    @extend_schema(
        request=TwoFactorCodeSerializer, responses={200: TwoFactorBackupCodesSerializer, **TWO_FACTOR_ERRORS}
    )
    def post(self, request):
        serializer = TwoFactorCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = two_factor.backup_codes_regenerate(
            user=request.user, code=serializer.validated_data["otp_token"]
        )
        return Response(TwoFactorBackupCodesSerializer({"backup_codes": codes}).data)


class TwoFactorDisableApi(APIView):
    """Turn two-factor sign-in off, on a current code; refused while an organisation requires it."""

    @extend_schema(request=TwoFactorCodeSerializer, responses={204: None, **TWO_FACTOR_ERRORS})
    def post(self, request):
        serializer = TwoFactorCodeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        two_factor.disable(user=request.user, code=serializer.validated_data["otp_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationTwoFactorRequirementApi(ScopedAPIView):
    """Whether your organisation requires two-factor sign-in of its members; administrators change it.
    Requiring it revokes the API tokens of members without it (their next token needs a code)."""

    def get_organization(self, organization_id) -> Organization:
        organization = selectors.organization_get(scope=self.scope, public_id=organization_id)
        if organization.pk != self.scope.organization.pk:  # a counterparty's rule is not ours to read
            raise NotFoundError(NOT_FOUND_MESSAGE)
        return organization

    @extend_schema(responses=TwoFactorRequirementSerializer, parameters=[ORGANIZATION_PARAMETER])
    def get(self, request, organization_id):
        organization = self.get_organization(organization_id)
        return Response(TwoFactorRequirementSerializer({"required": organization.requires_two_factor}).data)

    @extend_schema(
        request=TwoFactorRequirementSerializer,
        responses=TwoFactorRequirementSerializer,
        parameters=[ORGANIZATION_PARAMETER],
    )
    def post(self, request, organization_id):
        organization = self.get_organization(organization_id)  # 404 before anything is read of the body
        serializer = TwoFactorRequirementSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = two_factor.requirement_set(
            scope=self.scope, organization=organization, required=serializer.validated_data["required"]
        )
        return Response(TwoFactorRequirementSerializer({"required": organization.requires_two_factor}).data)
