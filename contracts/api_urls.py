from django.urls import path

from contracts import api

urlpatterns = [
    path("contracts/", api.ContractListApi.as_view(), name="api-contract-list"),
    path(
        "contracts/rate-sheet-exports/",
        api.RateSheetExportListApi.as_view(),
        name="api-rate-sheet-export-list",
    ),
    path(
        "contracts/rate-sheet-exports/<str:export_id>/",
        api.RateSheetExportApi.as_view(),
        name="api-rate-sheet-export",
    ),
    path(
        "contracts/rate-sheet-exports/<str:export_id>/retry/",
        api.RateSheetExportRetryApi.as_view(),
        name="api-rate-sheet-export-retry",
    ),
    path(
        "contracts/rate-sheet-exports/<str:export_id>/download/",
        api.RateSheetExportDownloadApi.as_view(),
        name="api-rate-sheet-export-download",
    ),
    path("contracts/<str:contract_id>/", api.ContractDetailApi.as_view(), name="api-contract-detail"),
    path(
        "contracts/<str:contract_id>/propose/", api.ContractProposeApi.as_view(), name="api-contract-propose"
    ),
    path("contracts/<str:contract_id>/accept/", api.ContractAcceptApi.as_view(), name="api-contract-accept"),
    path("contracts/<str:contract_id>/return/", api.ContractReturnApi.as_view(), name="api-contract-return"),
    path(
        "contracts/<str:contract_id>/counter/", api.ContractCounterApi.as_view(), name="api-contract-counter"
    ),
    path(
        "contracts/<str:contract_id>/reject-counter/",
        api.ContractRejectCounterApi.as_view(),
        name="api-contract-reject-counter",
    ),
    path(
        "contracts/<str:contract_id>/offers/", api.ContractOfferListApi.as_view(), name="api-contract-offers"
    ),
    path(
        "contracts/<str:contract_id>/terminate/",
        api.ContractTerminateApi.as_view(),
        name="api-contract-terminate",
    ),
    path("contracts/<str:contract_id>/amend/", api.ContractAmendApi.as_view(), name="api-contract-amend"),
    path(
        "contracts/<str:contract_id>/terms-in-force/",
        api.ContractTermsInForceApi.as_view(),
        name="api-contract-terms-in-force",
    ),
    path(
        "contracts/<str:contract_id>/versions/",
        api.ContractVersionListApi.as_view(),
        name="api-contract-versions",
    ),
    path(
        "contracts/<str:contract_id>/versions/<str:number>/",
        api.ContractVersionApi.as_view(),
        name="api-contract-version",
    ),
    path(
        "contracts/<str:contract_id>/versions/<str:number>/rates-from-pricing/",
        api.ContractRatesFromPricingApi.as_view(),
        name="api-contract-rates-from-pricing",
    ),
    path(
        "contracts/<str:contract_id>/versions/<str:number>/diff/",
        api.ContractDiffApi.as_view(),
        name="api-contract-diff",
    ),
    # Pinned URLs: the rate sheet of a version (`?version=N`, default the current one).
    path(
        "contracts/<str:contract_id>/rate-sheet.pdf", api.RateSheetPdfApi.as_view(), name="api-rate-sheet-pdf"
    ),
    path(
        "contracts/<str:contract_id>/rate-sheet.xlsx",
        api.RateSheetXlsxApi.as_view(),
        name="api-rate-sheet-xlsx",
    ),
    path(
        "contracts/<str:contract_id>/rate-sheet.csv", api.RateSheetCsvApi.as_view(), name="api-rate-sheet-csv"
    ),
]
