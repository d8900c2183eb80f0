from django.urls import path

from payments import views

urlpatterns = [
    path("", views.payment_home, name="payment-home"),
    path("month-end/", views.month_end_list, name="payment-month-end-list"),
    path("month-end/<str:operation_id>/", views.month_end_detail, name="payment-month-end"),
    path("month-end/<str:operation_id>/retry/", views.month_end_retry, name="payment-month-end-retry"),
    path("settlement-runs/", views.settlement_all_list, name="payment-settlement-runs"),
    path("settlement-runs/<str:operation_id>/", views.settlement_all_detail, name="payment-settlement-run"),
    path(
        "settlement-runs/<str:operation_id>/retry/",
        views.settlement_all_retry,
        name="payment-settlement-run-retry",
    ),
    path("contracts/<str:contract_id>/", views.contract_payments, name="payment-contract"),
    path(
        "contracts/<str:contract_id>/calculate/", views.contract_calculate, name="payment-contract-calculate"
    ),
    path("contracts/<str:contract_id>/settle/", views.contract_settle, name="payment-contract-settle"),
    path("contracts/<str:contract_id>/ledger/", views.contract_ledger, name="payment-contract-ledger"),
    path(
        "contracts/<str:contract_id>/ledger/corrections/",
        views.ledger_correction_request,
        name="payment-ledger-correction-request",
    ),
    path(
        "ledger-corrections/<str:correction_id>/approve/",
        views.ledger_correction_approve,
        name="payment-ledger-correction-approve",
    ),
    path(
        "ledger-corrections/<str:correction_id>/reject/",
        views.ledger_correction_reject,
        name="payment-ledger-correction-reject",
    ),
    path("contracts/<str:contract_id>/balance/", views.contract_balance, name="payment-contract-balance"),
    path(
        "contracts/<str:contract_id>/balance/refunds/",
        views.refund_request,
        name="payment-refund-request",
    ),
    path("refunds/<str:refund_id>/approve/", views.refund_approve, name="payment-refund-approve"),
    path("refunds/<str:refund_id>/reject/", views.refund_reject, name="payment-refund-reject"),
    path("settlements/<str:settlement_id>/", views.settlement_detail, name="payment-settlement"),
    path(
        "settlements/<str:settlement_id>/approve/",
        views.settlement_approve,
        name="payment-settlement-approve",
    ),
    path("runs/<str:run_id>/", views.run_detail, name="payment-run"),
    path("runs/<str:run_id>/status/", views.run_status, name="payment-run-status"),
    path("runs/<str:run_id>/approve/", views.run_approve, name="payment-run-approve"),
]
