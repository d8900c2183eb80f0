from django.urls import path

from pricing import api

urlpatterns = [
    path("pricing/quote/", api.QuoteApi.as_view(), name="api-pricing-quote"),
    path("pricing/assumption-sets/", api.AssumptionSetListApi.as_view(), name="api-assumption-set-list"),
    path(
        "pricing/assumption-sets/defaults/",
        api.AssumptionDefaultsApi.as_view(),
        name="api-assumption-defaults",
    ),
    path("pricing/assumption-sets/import/", api.AssumptionImportApi.as_view(), name="api-assumption-import"),
    path(
        "pricing/assumption-sets/<str:set_id>/",
        api.AssumptionSetDetailApi.as_view(),
        name="api-assumption-set-detail",
    ),
    path(
        "pricing/assumption-sets/<str:set_id>/draft/",
        api.AssumptionDraftApi.as_view(),
        name="api-assumption-draft",
    ),
    path(
        "pricing/assumption-sets/<str:set_id>/draft/publish/",
        api.AssumptionPublishApi.as_view(),
        name="api-assumption-publish",
    ),
    path(
        "pricing/assumption-sets/<str:set_id>/versions/<str:number>/",
        api.AssumptionVersionApi.as_view(),
        name="api-assumption-version",
    ),
    path(
        "pricing/assumption-sets/<str:set_id>/versions/<str:number>/new-draft/",
        api.AssumptionNewDraftApi.as_view(),
        name="api-assumption-new-draft",
    ),
    path(
        "pricing/assumption-sets/<str:set_id>/versions/<str:number>/export/",
        api.AssumptionExportApi.as_view(),
        name="api-assumption-export",
    ),
    path("pricing/fee-schedules/", api.FeeScheduleListApi.as_view(), name="api-fee-schedule-list"),
    path(
        "pricing/fee-schedules/<str:schedule_id>/",
        api.FeeScheduleDetailApi.as_view(),
        name="api-fee-schedule-detail",
    ),
    path(
        "pricing/fee-schedules/<str:schedule_id>/versions/<str:number>/",
        api.FeeScheduleVersionApi.as_view(),
        name="api-fee-schedule-version",
    ),
    path("pricing/experience/", api.ExperienceListApi.as_view(), name="api-experience-list"),
    path(
        "pricing/experience/<str:dataset_id>/",
        api.ExperienceDetailApi.as_view(),
        name="api-experience-detail",
    ),
    path(
        "pricing/experience/<str:dataset_id>/file/",
        api.ExperienceFileApi.as_view(),
        name="api-experience-file",
    ),
    path("pricing/runs/", api.RunListApi.as_view(), name="api-pricing-run-list"),
    path("pricing/comparison/", api.RunComparisonApi.as_view(), name="api-pricing-comparison"),
    path("pricing/runs/<str:run_id>/", api.RunDetailApi.as_view(), name="api-pricing-run-detail"),
    path("pricing/runs/<str:run_id>/cancel/", api.RunCancelApi.as_view(), name="api-pricing-run-cancel"),
    path(
        "pricing/runs/<str:run_id>/sensitivity/",
        api.RunSensitivityApi.as_view(),
        name="api-pricing-run-sensitivity",
    ),
    path(
        "pricing/sensitivity/<str:analysis_id>/",
        api.SensitivityDetailApi.as_view(),
        name="api-pricing-sensitivity-detail",
    ),
    path("pricing/runs/<str:run_id>/what-if/", api.RunWhatIfApi.as_view(), name="api-pricing-run-what-if"),
    path("pricing/runs/<str:run_id>/shares/", api.RunShareListApi.as_view(), name="api-pricing-run-shares"),
    path(
        "pricing/runs/<str:run_id>/shares/<str:share_id>/revoke/",
        api.RunShareRevokeApi.as_view(),
        name="api-pricing-run-share-revoke",
    ),
    path("pricing/runs/<str:run_id>/inputs/", api.RunInputsApi.as_view(), name="api-pricing-run-inputs"),
    path("pricing/runs/<str:run_id>/report.pdf", api.RunReportApi.as_view(), name="api-pricing-run-report"),
]
