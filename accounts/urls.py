from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/", views.account_settings, name="account-settings"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("organizations/", views.organization_list, name="organization-list"),
    path("organizations/<str:organization_id>/", views.organization_detail, name="organization-detail"),
    path("organizations/<str:organization_id>/members/", views.membership_list, name="membership-list"),
    path(
        "organizations/<str:organization_id>/members/<str:membership_id>/deactivate/",
        views.membership_deactivate,
        name="membership-deactivate",
    ),
    path(
        "organizations/<str:organization_id>/members/<str:membership_id>/reactivate/",
        views.membership_reactivate,
        name="membership-reactivate",
    ),
    path(
        "organizations/<str:organization_id>/invitations/", views.invitation_create, name="invitation-create"
    ),
    path(
        "organizations/<str:organization_id>/invitations/<str:invitation_id>/resend/",
        views.invitation_resend,
        name="invitation-resend",
    ),
    path(
        "organizations/<str:organization_id>/invitations/<str:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/<str:key>/", views.invitation_accept, name="invitation-accept"),
    path("audit/access-log/", views.access_log, name="access-log"),
]
