from django.urls import path

from pricing import views

urlpatterns = [
    path("pricing/", views.pricing_home, name="pricing-home"),
    path("pricing/runs/new/", views.run_new, name="pricing-run-new"),
    path("pricing/compare/", views.compare, name="pricing-compare"),
    path(
        "pricing/compare/export.xlsx",
        views.compare_export,
        {"extension": "xlsx"},
        name="pricing-compare-xlsx",
    ),
    path(
        "pricing/compare/export.pdf", views.compare_export, {"extension": "pdf"}, name="pricing-compare-pdf"
    ),
    path("pricing/runs/<str:run_id>/", views.run_detail, name="pricing-run-detail"),
    path("pricing/runs/<str:run_id>/progress/", views.run_progress, name="pricing-run-progress"),
    path("pricing/runs/<str:run_id>/cancel/", views.run_cancel, name="pricing-run-cancel"),
    path("pricing/runs/<str:run_id>/sensitivity/", views.run_sensitivity, name="pricing-run-sensitivity"),
    path(
        "pricing/sensitivity/<str:analysis_id>/", views.sensitivity_detail, name="pricing-sensitivity-detail"
    ),
    path("pricing/runs/<str:run_id>/what-if/", views.run_what_if, name="pricing-run-what-if"),
    path(
        "pricing/runs/<str:run_id>/what-if/quote/", views.run_what_if_quote, name="pricing-run-what-if-quote"
    ),
    path("pricing/runs/<str:run_id>/report.pdf", views.run_report_pdf, name="pricing-run-report"),
    path("pricing/runs/<str:run_id>/inputs.json", views.run_inputs, name="pricing-run-inputs"),
    path("pricing/runs/<str:run_id>/shares/", views.run_share, name="pricing-run-share"),
    path(
        "pricing/runs/<str:run_id>/shares/<str:share_id>/revoke/",
        views.run_share_revoke,
        name="pricing-run-share-revoke",
    ),
    path("pricing/assumptions/", views.assumption_list, name="pricing-assumption-list"),
    path("pricing/assumptions/<str:set_id>/", views.assumption_detail, name="pricing-assumption-detail"),
    path("pricing/assumptions/<str:set_id>/draft/", views.assumption_draft, name="pricing-assumption-draft"),
    path(
        "pricing/assumptions/<str:set_id>/versions/<str:number>/new-draft/",
        views.assumption_new_draft,
        name="pricing-assumption-new-draft",
    ),
    path(
        "pricing/assumptions/<str:set_id>/versions/<str:number>/export.json",
        views.assumption_export,
        name="pricing-assumption-export",
    ),
    path("pricing/fee-schedules/", views.fee_schedule_list, name="pricing-fee-schedule-list"),
    path(
        "pricing/fee-schedules/template.csv",
        views.fee_schedule_template,
        name="pricing-fee-schedule-template",
    ),
    path(
        "pricing/fee-schedules/<str:schedule_id>/",
        views.fee_schedule_detail,
        name="pricing-fee-schedule-detail",
    ),
    path("pricing/experience/", views.experience_list, name="pricing-experience-list"),
    path(
        "pricing/experience/templates/<str:which>.csv",
        views.experience_template,
        name="pricing-experience-template",
    ),
    path("pricing/experience/<str:dataset_id>/", views.experience_detail, name="pricing-experience-detail"),
    path("pricing/experience/<str:dataset_id>/file/", views.experience_file, name="pricing-experience-file"),
]
