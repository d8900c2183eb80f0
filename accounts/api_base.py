"""The base of every tenant-scoped API view: it resolves ``self.scope`` after authentication."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.views import APIView

from accounts.tenancy import ORGANIZATION_HEADER, Scope, scope_from_request
from core.errors import NotFoundError, PermissionDeniedError

NO_MEMBERSHIP_MESSAGE = "Your account does not belong to any organisation yet; ask an administrator."
NOT_A_MEMBER_MESSAGE = "You are not a member of the organisation named in X-Organization."

ORGANIZATION_PARAMETER = OpenApiParameter(
    name="X-Organization",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The organisation to act as (its id), for users in more than one; default: the first.",
)


class ScopedMixin:
    """Mix into any DRF view (APIView or generic) to get ``self.scope``."""

    scope: Scope

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        scope = scope_from_request(request)
        if scope is None:
            if request.META.get(ORGANIZATION_HEADER):
                raise NotFoundError(NOT_A_MEMBER_MESSAGE, code="organization_not_found")
            raise PermissionDeniedError(NO_MEMBERSHIP_MESSAGE, code="no_membership")
        self.scope = scope


class ScopedAPIView(ScopedMixin, APIView):
    pass
