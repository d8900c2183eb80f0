from django.urls import path

from bundles import views

urlpatterns = [
    path("bundles/", views.bundle_list, name="bundle-list"),
    path("bundles/new/", views.bundle_new, name="bundle-new"),
    path("bundles/import/", views.bundle_import, name="bundle-import"),
    path("bundles/<str:bundle_id>/", views.bundle_detail, name="bundle-detail"),
    path("bundles/<str:bundle_id>/draft/", views.draft_edit, name="bundle-draft"),
    path("bundles/<str:bundle_id>/draft/general/", views.draft_general, name="bundle-draft-general"),
    path("bundles/<str:bundle_id>/draft/cell/", views.draft_cell, name="bundle-draft-cell"),
    path("bundles/<str:bundle_id>/draft/roles/", views.draft_roles, name="bundle-draft-roles"),
    path("bundles/<str:bundle_id>/draft/tiers/", views.draft_tiers, name="bundle-draft-tiers"),
    path("bundles/<str:bundle_id>/draft/phases/", views.draft_phases, name="bundle-draft-phases"),
    path("bundles/<str:bundle_id>/draft/assessment/", views.draft_assessment, name="bundle-draft-assessment"),
    path(
        "bundles/<str:bundle_id>/draft/eligibility/", views.draft_eligibility, name="bundle-draft-eligibility"
    ),
    path("bundles/<str:bundle_id>/draft/publish/", views.draft_publish, name="bundle-draft-publish"),
    path("bundles/<str:bundle_id>/draft/discard/", views.draft_discard, name="bundle-draft-discard"),
    path("bundles/<str:bundle_id>/v/<str:number>/", views.version_detail, name="bundle-version"),
    path("bundles/<str:bundle_id>/v/<str:number>/diff/", views.version_diff, name="bundle-diff"),
    path("bundles/<str:bundle_id>/v/<str:number>/export.json", views.version_export, name="bundle-export"),
    path(
        "bundles/<str:bundle_id>/v/<str:number>/new-draft/", views.version_new_draft, name="bundle-new-draft"
    ),
    path("bundles/<str:bundle_id>/v/<str:number>/retire/", views.version_retire, name="bundle-retire"),
    path("bundles/<str:bundle_id>/v/<str:number>/shares/", views.version_share, name="bundle-version-share"),
    path(
        "bundles/<str:bundle_id>/v/<str:number>/shares/<str:share_id>/revoke/",
        views.version_share_revoke,
        name="bundle-version-share-revoke",
    ),
    path("bundles/<str:bundle_id>/v/<str:number>/adopt/", views.version_adopt, name="bundle-adopt"),
]
