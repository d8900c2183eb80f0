from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("switch-organization/", views.switch_organization, name="switch-organization"),
    path("organizations/", views.organization_list, name="organization-list"),
    path("organizations/<str:organization_id>/", views.organization_detail, name="organization-detail"),
    path("organizations/<str:organization_id>/members/", views.membership_list, name="membership-list"),
    path("audit/access-log/", views.access_log, name="access-log"),
]
