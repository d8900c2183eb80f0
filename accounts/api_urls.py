from django.urls import path

from accounts import api, people_api
from accounts.access_log_api import AccessEventListApi

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="api-token"),
    path("auth/token/revoke/", api.TokenRevokeApi.as_view(), name="api-token-revoke"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("organizations/", api.OrganizationListApi.as_view(), name="api-organization-list"),
    path(
        "organizations/counterparties/",
        api.CounterpartyListApi.as_view(),
        name="api-organization-counterparties",
    ),
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
    path(
        "organizations/<str:organization_id>/memberships/<str:membership_id>/deactivate/",
        people_api.MembershipDeactivateApi.as_view(),
        name="api-membership-deactivate",
    ),
    path(
        "organizations/<str:organization_id>/memberships/<str:membership_id>/reactivate/",
        people_api.MembershipReactivateApi.as_view(),
        name="api-membership-reactivate",
    ),
    path(
        "organizations/<str:organization_id>/invitations/",
        people_api.InvitationListApi.as_view(),
        name="api-invitation-list",
    ),
    path(
        "organizations/<str:organization_id>/invitations/<str:invitation_id>/",
        people_api.InvitationDetailApi.as_view(),
        name="api-invitation-detail",
    ),
    path(
        "organizations/<str:organization_id>/invitations/<str:invitation_id>/resend/",
        people_api.InvitationResendApi.as_view(),
        name="api-invitation-resend",
    ),
    path(
        "organizations/<str:organization_id>/invitations/<str:invitation_id>/revoke/",
        people_api.InvitationRevokeApi.as_view(),
        name="api-invitation-revoke",
    ),
    path("me/preferences/", people_api.MePreferencesApi.as_view(), name="api-me-preferences"),
    path("invitations/accept/", people_api.InvitationAcceptApi.as_view(), name="api-invitation-accept"),
    path("audit/access-events/", AccessEventListApi.as_view(), name="api-access-event-list"),
    # two-factor sign-in (accounts.two_factor)
    path("me/two-factor/", api.TwoFactorStatusApi.as_view(), name="api-me-two-factor"),
    path("me/two-factor/setup/", api.TwoFactorSetupApi.as_view(), name="api-me-two-factor-setup"),
    path("me/two-factor/confirm/", api.TwoFactorConfirmApi.as_view(), name="api-me-two-factor-confirm"),
    path(
        "me/two-factor/backup-codes/",
        api.TwoFactorBackupCodesApi.as_view(),
        name="api-me-two-factor-backup-codes",
    ),
    path("me/two-factor/disable/", api.TwoFactorDisableApi.as_view(), name="api-me-two-factor-disable"),
    path(
        "organizations/<str:organization_id>/two-factor-requirement/",
        api.OrganizationTwoFactorRequirementApi.as_view(),
        name="api-organization-two-factor-requirement",
    ),
]
