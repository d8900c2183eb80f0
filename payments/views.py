"""Payment pages: contracts with their payments, a contract's runs and history (chart, year to date), a
run with its lines, what changed since the month before, member rows, approval and statement downloads."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.audit import record_access
from core.errors import ApplicationError
from payments import charts, selectors, services
from payments.models import LineKind, PaymentRunStatus
from web.decorators import scoped_view

MEMBER_PAGE_SIZE = 100


def _last_month():
    today = timezone.localdate()
    return services.add_months(today.replace(day=1), -1)


@scoped_view
def payment_home(request):
    contracts = selectors.payment_contract_list(scope=request.scope)
    return render(request, "payments/payment_home.html", {"contracts": contracts})


@scoped_view
def contract_payments(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    runs = selectors.run_list(scope=scope, contract=contract)
    history = selectors.payment_history(scope=scope, contract=contract)
    chart = charts.history_chart([m for m in history["months"]])
    can_run = scope.can("payment.run") and contract.payer_id == scope.organization.pk
    return render(request, "payments/contract_payments.html", {
        "contract": contract, "runs": runs, "history": history, "chart": mark_safe(chart),  # noqa: S308 - built by charts.py, every text escaped
        "can_run": can_run, "default_month": f"{_last_month():%Y-%m}",
    })


@require_POST
@scoped_view
def contract_calculate(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    try:
        run, created = services.payment_run_start(scope=scope, contract=contract, month=request.POST.get("month", ""))
    except ApplicationError as exc:
        if exc.status in (403, 404):  # the decorator answers with the 403/404 page
            raise
        messages.error(request, exc.message)
        return redirect("payment-contract", contract_id=contract.number)
    if created:
        messages.success(request, f"The {run.month_label} run is being calculated.")
    elif run.status == PaymentRunStatus.APPROVED:
        messages.info(request, f"{run.month_label} is paid and nothing changed since: no new run.")
    return redirect("payment-run", run_id=run.public_id)


def _run_context(request, run) -> dict:
    scope = request.scope
    lines = list(selectors.line_list(run=run))
    search = request.GET.get("search", "").strip()
    page = Paginator(selectors.detail_list(run=run, search=search), MEMBER_PAGE_SIZE).get_page(request.GET.get("page"))
    if page.object_list or run.not_payable_assessments or run.outside_window:
        record_access(scope=scope, action="payment_run.view", object_type="payment_run", object_id=run.public_id,
                      detail=f"{run.contract.number} {run.month_label}: member lines", request=request)
    can_approve = (scope.can("payment.approve") and run.contract.payer_id == scope.organization.pk
                   and run.status == PaymentRunStatus.REVIEW)
    api = reverse("api-payment-run", args=[run.public_id])
    return {
        "run": run, "contract": run.contract, "lines": lines, "page": page, "search": search,
        "changes": selectors.changes_since_previous_month(run=run),
        "can_approve": can_approve,
        "can_recalculate": scope.can("payment.run") and run.contract.payer_id == scope.organization.pk
        and run.status in (PaymentRunStatus.REVIEW, PaymentRunStatus.FAILED),
        "downloads": [("PDF", f"{api}statement.pdf"), ("CSV", f"{api}statement.csv")]
        + ([("X12 820", f"{api}statement.820")] if run.status == PaymentRunStatus.APPROVED and run.total >= 0 else []),
        "line_kinds": LineKind,
    }


@scoped_view
def run_detail(request, run_id):
    run = selectors.run_get(scope=request.scope, run_id=run_id)
    context = _run_context(request, run)
    template = "payments/_member_rows.html" if request.htmx and request.GET.get("members") else "payments/run_detail.html"
    return render(request, template, context)


@scoped_view
def run_status(request, run_id):
    """What the page polls while a run is calculated; a finished run reloads the page."""
    run = selectors.run_get(scope=request.scope, run_id=run_id)
    response = render(request, "payments/_run_status.html", {"run": run})
    if run.status != PaymentRunStatus.CALCULATING and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@scoped_view
def run_approve(request, run_id):
    run = selectors.run_get(scope=request.scope, run_id=run_id)
    try:
        services.payment_run_approve(scope=request.scope, run=run)
    except ApplicationError as exc:
        if exc.status in (403, 404):  # the decorator answers with the 403/404 page
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Approved and posted: {run.contract.number} {run.month_label}.")
    return redirect("payment-run", run_id=run.public_id)
