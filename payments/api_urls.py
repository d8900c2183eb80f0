from django.urls import path

from payments import api

urlpatterns = [
    path("month-end/", api.MonthEndListApi.as_view(), name="api-month-ends"),
    path("month-end/<str:operation_id>/", api.MonthEndApi.as_view(), name="api-month-end"),
    path("month-end/<str:operation_id>/retry/", api.MonthEndRetryApi.as_view(), name="api-month-end-retry"),
    path("settlement-runs/", api.SettlementAllListApi.as_view(), name="api-settlement-runs"),
    path("settlement-runs/<str:operation_id>/", api.SettlementAllApi.as_view(), name="api-settlement-run"),
    path(
        "settlement-runs/<str:operation_id>/retry/",
        api.SettlementAllRetryApi.as_view(),
        name="api-settlement-run-retry",
    ),
    path(
        "contracts/<str:contract_id>/payment-runs/",
        api.ContractPaymentRunListApi.as_view(),
        name="api-contract-payment-runs",
    ),
    path(
        "contracts/<str:contract_id>/payment-history/",
        api.ContractPaymentHistoryApi.as_view(),
        name="api-contract-payment-history",
    ),
    path("contracts/<str:contract_id>/ledger/", api.ContractLedgerApi.as_view(), name="api-contract-ledger"),
    path(
        "contracts/<str:contract_id>/ledger-corrections/",
        api.ContractLedgerCorrectionListApi.as_view(),
        name="api-contract-ledger-corrections",
    ),
    path(
        "ledger-corrections/<str:correction_id>/",
        api.LedgerCorrectionApi.as_view(),
        name="api-ledger-correction",
    ),
    path(
        "ledger-corrections/<str:correction_id>/approve/",
        api.LedgerCorrectionApproveApi.as_view(),
        name="api-ledger-correction-approve",
    ),
    path(
        "ledger-corrections/<str:correction_id>/reject/",
        api.LedgerCorrectionRejectApi.as_view(),
        name="api-ledger-correction-reject",
    ),
    path(
        "contracts/<str:contract_id>/ledger/balance/",
        api.ContractLedgerBalanceApi.as_view(),
        name="api-contract-ledger-balance",
    ),
    path(
        "contracts/<str:contract_id>/refunds/",
        api.ContractRefundListApi.as_view(),
        name="api-contract-refunds",
    ),
    path("refunds/<str:refund_id>/", api.RefundApi.as_view(), name="api-refund"),
    path("refunds/<str:refund_id>/approve/", api.RefundApproveApi.as_view(), name="api-refund-approve"),
    path("refunds/<str:refund_id>/reject/", api.RefundRejectApi.as_view(), name="api-refund-reject"),
    path(
        "contracts/<str:contract_id>/settlements/",
        api.ContractSettlementListApi.as_view(),
        name="api-contract-settlements",
    ),
    path("settlements/<str:settlement_id>/", api.SettlementApi.as_view(), name="api-settlement"),
    path(
        "settlements/<str:settlement_id>/approve/",
        api.SettlementApproveApi.as_view(),
        name="api-settlement-approve",
    ),
    path(
        "settlements/<str:settlement_id>/statement.pdf",
        api.SettlementStatementPdfApi.as_view(),
        name="api-settlement-statement-pdf",
    ),
    path(
        "settlements/<str:settlement_id>/statement.csv",
        api.SettlementStatementCsvApi.as_view(),
        name="api-settlement-statement-csv",
    ),
    path("payment-runs/<str:run_id>/", api.PaymentRunApi.as_view(), name="api-payment-run"),
    path(
        "payment-runs/<str:run_id>/approve/",
        api.PaymentRunApproveApi.as_view(),
        name="api-payment-run-approve",
    ),
    path(
        "payment-runs/<str:run_id>/members/",
        api.PaymentRunMembersApi.as_view(),
        name="api-payment-run-members",
    ),
    # Pinned URLs: the statement of a run.
    path(
        "payment-runs/<str:run_id>/statement.pdf",
        api.StatementPdfApi.as_view(),
        name="api-payment-statement-pdf",
    ),
    path(
        "payment-runs/<str:run_id>/statement.csv",
        api.StatementCsvApi.as_view(),
        name="api-payment-statement-csv",
    ),
    path(
        "payment-runs/<str:run_id>/statement.820",
        api.Statement820Api.as_view(),
        name="api-payment-statement-820",
    ),
]
