from django.urls import path

from accounts import api
from accounts.access_log_api import AccessEventListApi

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("auth/token/revoke/", api.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("organizations/", api.OrganizationListApi.as_view(), name="api-organization-list"),
    path(
        "organizations/<str:organization_id>/",
        api.OrganizationDetailApi.as_view(),
        name="api-organization-detail",
    ),
    path(
        "organizations/<str:organization_id>/memberships/",
        api.MembershipListApi.as_view(),
        name="api-membership-list",
    ),
    path(
        "organizations/<str:organization_id>/memberships/<str:membership_id>/",
        api.MembershipDetailApi.as_view(),
        name="api-membership-detail",
    ),
    path("audit/access-events/", AccessEventListApi.as_view(), name="api-access-event-list"),
]
