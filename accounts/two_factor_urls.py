"""Pages of two-factor sign-in, under /accounts/two-factor/ (config/urls.py)."""

from django.urls import path

from accounts import two_factor_views as views

urlpatterns = [
    path("", views.two_factor_status, name="two-factor-status"),
    path("setup/", views.two_factor_setup, name="two-factor-setup"),
    path("verify/", views.two_factor_verify, name="two-factor-verify"),
    path("backup-codes/", views.two_factor_backup_codes, name="two-factor-backup-codes"),
    path(
        "backup-codes/regenerate/",
        views.two_factor_backup_codes_regenerate,
        name="two-factor-backup-codes-regenerate",
    ),
    path("disable/", views.two_factor_disable, name="two-factor-disable"),
    path(
        "organizations/<str:organization_id>/requirement/",
        views.organization_two_factor_requirement,
        name="organization-two-factor-requirement",
    ),
]
