from django.urls import path

from bundles import api

urlpatterns = [
    path("bundles/", api.BundleListApi.as_view(), name="api-bundle-list"),
    path("bundles/import/", api.BundleImportApi.as_view(), name="api-bundle-import"),
    path("bundles/<str:bundle_id>/", api.BundleDetailApi.as_view(), name="api-bundle-detail"),
    path("bundles/<str:bundle_id>/draft/", api.BundleDraftApi.as_view(), name="api-bundle-draft"),
    path("bundles/<str:bundle_id>/draft/publish/", api.BundlePublishApi.as_view(), name="api-bundle-publish"),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/",
        api.BundleVersionApi.as_view(),
        name="api-bundle-version",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/diff/",
        api.BundleDiffApi.as_view(),
        name="api-bundle-diff",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/export/",
        api.BundleExportApi.as_view(),
        name="api-bundle-export",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/new-draft/",
        api.BundleNewDraftApi.as_view(),
        name="api-bundle-new-draft",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/retire/",
        api.BundleRetireApi.as_view(),
        name="api-bundle-retire",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/shares/",
        api.BundleVersionShareListApi.as_view(),
        name="api-bundle-version-shares",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/shares/<str:share_id>/revoke/",
        api.BundleVersionShareRevokeApi.as_view(),
        name="api-bundle-version-share-revoke",
    ),
    path(
        "bundles/<str:bundle_id>/versions/<str:number>/adopt/",
        api.BundleAdoptApi.as_view(),
        name="api-bundle-adopt",
    ),
    path("markets/", api.MarketListApi.as_view(), name="api-market-list"),
    path("idt-roles/", api.IdtRoleListApi.as_view(), name="api-idt-role-list"),
]
