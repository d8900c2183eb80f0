from django.urls import path

from contracts import views

urlpatterns = [
    path("", views.contract_list, name="contract-list"),
    path("new/", views.contract_create, name="contract-create"),
    path("rate-sheet-exports/", views.export_list, name="rate-sheet-export-list"),
    path("rate-sheet-exports/<str:export_id>/", views.export_detail, name="rate-sheet-export"),
    path(
        "rate-sheet-exports/<str:export_id>/retry/",
        views.export_retry,
        name="rate-sheet-export-retry",
    ),
    path(
        "rate-sheet-exports/<str:export_id>/download/",
        views.export_download,
        name="rate-sheet-export-download",
    ),
    path("<str:contract_id>/", views.contract_detail, name="contract-detail"),
    path("<str:contract_id>/propose/", views.contract_propose, name="contract-propose"),
    path("<str:contract_id>/accept/", views.contract_accept, name="contract-accept"),
    path("<str:contract_id>/return/", views.contract_return, name="contract-return"),
    path("<str:contract_id>/counter/", views.contract_counter, name="contract-counter"),
    path("<str:contract_id>/reject-counter/", views.contract_reject_counter, name="contract-reject-counter"),
    path("<str:contract_id>/terminate/", views.contract_terminate, name="contract-terminate"),
    path("<str:contract_id>/amend/", views.contract_amend, name="contract-amend"),
    path("<str:contract_id>/versions/<int:number>/", views.version_detail, name="contract-version"),
    path("<str:contract_id>/versions/<int:number>/edit/", views.version_edit, name="contract-version-edit"),
    path("<str:contract_id>/versions/<int:number>/rates/", views.rate_cell, name="contract-rate-cell"),
    path(
        "<str:contract_id>/versions/<int:number>/rates-from-pricing/",
        views.rates_from_pricing,
        name="contract-rates-from-pricing",
    ),
    path("<str:contract_id>/versions/<int:number>/diff/", views.version_diff, name="contract-version-diff"),
    path(
        "<str:contract_id>/versions/<int:number>/rate-sheet.<str:fmt>",
        views.rate_sheet_download,
        name="contract-rate-sheet",
    ),
]
