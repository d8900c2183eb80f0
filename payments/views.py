"""Payment pages: contracts with their payments, a contract's runs and history (chart, year to date), a
run with its lines, what changed since the month before, member rows, approval and statement downloads, and the
settlements of closed performance periods."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import scoped_view
from core.audit import record_access
from core.domain.months import shift_month
from core.domain.problems import Problem
from core.errors import ApplicationError
from core.models import BulkStatus
from payments import charts, selectors, services, statements
from payments.models import CorrectionStatus, LineKind, PaymentRunStatus, SettlementStatus

MEMBER_PAGE_SIZE = 100


def _last_month():
    today = timezone.localdate()
    return shift_month(today, -1)


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
    can_settle = scope.can("performance.settle") and contract.payer_id == scope.organization.pk
    return render(
        request,
        "payments/contract_payments.html",
        {
            "contract": contract,
            "runs": runs,
            "history": history,
            "chart": mark_safe(chart),  # noqa: S308 - built by charts.py, every text escaped
            "can_run": can_run,
            "default_month": f"{_last_month():%Y-%m}",
            "settlements": selectors.settlement_list(scope=scope, contract=contract),
            "can_settle": can_settle,
            "default_period": _last_quarter(),
        },
    )


def _last_quarter() -> str:
    """The latest quarter that is over (the default period to settle)."""
    today = timezone.localdate()
    quarter = (today.month - 1) // 3  # 0..3; the current quarter is not over
    return f"{today.year - 1}-Q4" if quarter == 0 else f"{today.year}-Q{quarter}"


@require_POST
@scoped_view
def contract_settle(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    try:
        settlement, created = services.settlement_request(
            scope=scope, contract=contract, period=request.POST.get("period", "")
        )
    except ApplicationError as exc:
        if exc.status in (403, 404):  # the decorator answers with the 403/404 page
            raise
        messages.error(request, exc.message)
        back = request.POST.get("next", "")  # the page the form was on (the performance page), if ours
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("payment-contract", args=[contract.number])
        return redirect(back)
    if not created and settlement.status == SettlementStatus.APPROVED:
        messages.info(
            request, f"{settlement.period} is settled and nothing changed since: no new settlement."
        )
    elif not created:
        messages.info(request, f"The {settlement.period} settlement in review is up to date.")
    return redirect("payment-settlement", settlement_id=settlement.public_id)


@scoped_view
def settlement_detail(request, settlement_id):
    scope = request.scope
    settlement = selectors.settlement_get(scope=scope, settlement_id=settlement_id)
    contract = settlement.contract
    api = reverse("api-settlement", args=[settlement.public_id])
    return render(
        request,
        "payments/settlement_detail.html",
        {
            "settlement": settlement,
            "contract": contract,
            "actions": selectors.settlement_actions(scope=scope, settlement=settlement),
            "lines": statements.settlement_lines(settlement),
            "entries": settlement.ledger_entries.order_by("sequence"),
            "summary": settlement.summary or {},
            "downloads": [("PDF", f"{api}statement.pdf"), ("CSV", f"{api}statement.csv")],
        },
    )


@require_POST
@scoped_view
def settlement_approve(request, settlement_id):
    settlement = selectors.settlement_get(scope=request.scope, settlement_id=settlement_id)
    try:
        services.settlement_approve(scope=request.scope, settlement=settlement)
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Settled and posted: {settlement.contract.number} {settlement.period}.")
    return redirect("payment-settlement", settlement_id=settlement.public_id)


@require_POST
@scoped_view
def contract_calculate(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    try:
        run, created = services.payment_run_start(
            scope=scope, contract=contract, month=request.POST.get("month", "")
        )
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
    page = Paginator(selectors.detail_list(run=run, search=search), MEMBER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # Every read is logged, member lines or not: a route that can show member data always logs.
    record_access(
        scope=scope,
        action="payment_run.view",
        object_type="payment_run",
        object_id=run.public_id,
        detail=f"{run.contract.number} {run.month_label}: member lines",
        request=request,
    )
    api = reverse("api-payment-run", args=[run.public_id])
    return {
        "run": run,
        "contract": run.contract,
        "lines": lines,
        "page": page,
        "search": search,
        "changes": selectors.changes_since_previous_month(run=run),
        "actions": selectors.run_actions(scope=scope, run=run),
        "downloads": [("PDF", f"{api}statement.pdf"), ("CSV", f"{api}statement.csv")]
        + (
            [("X12 820", f"{api}statement.820")]
            if run.status == PaymentRunStatus.APPROVED and run.total >= 0
            else []
        ),
        "line_kinds": LineKind,
    }


@scoped_view
def run_detail(request, run_id):
    run = selectors.run_get(scope=request.scope, run_id=run_id)
    context = _run_context(request, run)
    template = (
        "payments/_member_rows.html"
        if request.htmx and request.GET.get("members")
        else "payments/run_detail.html"
    )
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


def _ledger_context(request, contract, *, error: str = "", form: dict | None = None) -> dict:
    scope = request.scope
    own = contract.payer_id == scope.organization.pk
    entries = list(selectors.ledger_list(scope=scope, contract=contract))
    reversed_ids = {e.reverses_id for e in entries if e.reverses_id}
    corrections = list(selectors.correction_list(scope=scope, contract=contract))
    open_ids = {c.entry_id for c in corrections if c.status == CorrectionStatus.REQUESTED}
    for correction in corrections:
        correction.actions = selectors.correction_actions(scope=scope, correction=correction)
    return {
        "contract": contract,
        "entries": entries,
        "corrections": corrections,
        # what a correction may be asked for: not a reversal, not reversed, no request waiting
        "correctable": [
            e for e in entries if e.reverses_id is None and e.pk not in reversed_ids and e.pk not in open_ids
        ],
        "can_correct": own and scope.can("payment.correct"),
        "error": error,
        "form": form or {},
    }


@scoped_view
def contract_ledger(request, contract_id):
    """The contract's ledger with its corrections: request one (an analyst), approve or reject (another)."""
    contract = selectors.contract_for_payments(scope=request.scope, contract_id=contract_id)
    return render(request, "payments/contract_ledger.html", _ledger_context(request, contract))


def _ledger_answer(request, contract, *, error: str = "", form: dict | None = None):
    """htmx: the corrections panel again (with the error); otherwise back to the page."""
    if request.htmx:
        return render(
            request,
            "payments/_ledger_corrections.html",
            _ledger_context(request, contract, error=error, form=form),
        )
    if error:
        messages.error(request, error)
    return redirect("payment-contract-ledger", contract_id=contract.number)


@require_POST
@scoped_view
def ledger_correction_request(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    form = {key: request.POST.get(key, "") for key in ("entry", "amount", "reason")}
    try:
        entry = selectors.ledger_entry_get(scope=scope, contract=contract, sequence=form["entry"])
        services.ledger_correction_request(
            scope=scope, entry=entry, amount=form["amount"], reason=form["reason"]
        )
    except ApplicationError as exc:
        if exc.status == 403 or (exc.status == 404 and contract.payer_id != scope.organization.pk):
            raise
        message = exc.message if exc.status != 404 else "Choose an entry of this contract's ledger."
        return _ledger_answer(request, contract, error=message, form=form)
    if not request.htmx:
        messages.success(
            request, f"Correction of entry #{entry.sequence} requested: another analyst approves it."
        )
    return _ledger_answer(request, contract)


def _decide(request, correction_id, action: str):
    scope = request.scope
    correction = selectors.correction_get(scope=scope, correction_id=correction_id)
    try:
        if action == "approve":
            services.ledger_correction_approve(scope=scope, correction=correction)
        else:
            services.ledger_correction_reject(
                scope=scope, correction=correction, reason=request.POST.get("reason", "")
            )
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        return _ledger_answer(request, correction.contract, error=exc.message)
    if not request.htmx:
        done = "approved and posted" if action == "approve" else "rejected"
        messages.success(request, f"Correction of entry #{correction.entry.sequence} {done}.")
    return _ledger_answer(request, correction.contract)


@require_POST
@scoped_view
def ledger_correction_approve(request, correction_id):
    return _decide(request, correction_id, "approve")


@require_POST
@scoped_view
def ledger_correction_reject(request, correction_id):
    return _decide(request, correction_id, "reject")


# --- the balance page: the open receivable and refunds received -----------------------------------


def _problems(exc: ApplicationError) -> list[Problem]:
    """The service's error as the rows of the problem table: one per field it names, else one."""
    fields = {k: v for k, v in (exc.details or {}).items() if isinstance(v, list)}
    if not fields:
        return [Problem(exc.code, exc.message)]
    return [
        Problem.at_path(field, exc.code, str(message)) for field, items in fields.items() for message in items
    ]


def _balance_context(request, contract, *, problems=(), form: dict | None = None) -> dict:
    scope = request.scope
    today = timezone.localdate()
    refunds = list(selectors.refund_list(scope=scope, contract=contract))
    for refund in refunds:
        refund.actions = selectors.refund_actions(scope=scope, refund=refund)
    return {
        "contract": contract,
        "balance": selectors.ledger_balance(scope=scope, contract=contract, as_of=today),
        "months": selectors.receivable_by_month(scope=scope, contract=contract),
        "refunds": refunds,
        "can_record": contract.payer_id == scope.organization.pk and scope.can("payment.correct"),
        "problems": list(problems),
        "form": form or {"received_on": today.isoformat()},
    }


@scoped_view
def contract_balance(request, contract_id):
    """The contract's open receivable over time and the refunds received: record one (an analyst),
    approve or reject it (another)."""
    contract = selectors.contract_for_payments(scope=request.scope, contract_id=contract_id)
    return render(request, "payments/contract_balance.html", _balance_context(request, contract))


def _balance_answer(request, contract, *, problems=(), form: dict | None = None):
    """htmx: the balance panel again (with the problems); otherwise back to the page."""
    if request.htmx:
        return render(
            request,
            "payments/_balance_refunds.html",
            _balance_context(request, contract, problems=problems, form=form),
        )
    for problem in problems:
        messages.error(request, problem.message)
    return redirect("payment-contract-balance", contract_id=contract.number)


@require_POST
@scoped_view
def refund_request(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_payments(scope=scope, contract_id=contract_id)
    form = {key: request.POST.get(key, "") for key in ("amount", "received_on", "reference", "reason")}
    try:
        refund = services.refund_request(scope=scope, contract=contract, **form)
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        return _balance_answer(request, contract, problems=_problems(exc), form=form)
    if not request.htmx:
        messages.success(request, f"Refund of {refund.amount:,.2f} recorded: another analyst approves it.")
    return _balance_answer(request, contract)


def _decide_refund(request, refund_id, action: str):
    scope = request.scope
    refund = selectors.refund_get(scope=scope, refund_id=refund_id)
    try:
        if action == "approve":
            services.refund_approve(scope=scope, refund=refund)
        else:
            services.refund_reject(scope=scope, refund=refund, reason=request.POST.get("reason", ""))
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        return _balance_answer(request, refund.contract, problems=_problems(exc))
    if not request.htmx:
        done = "approved and posted" if action == "approve" else "rejected"
        messages.success(request, f"Refund of {refund.amount:,.2f} {done}.")
    return _balance_answer(request, refund.contract)


@require_POST
@scoped_view
def refund_approve(request, refund_id):
    return _decide_refund(request, refund_id, "approve")


@require_POST
@scoped_view
def refund_reject(request, refund_id):
    return _decide_refund(request, refund_id, "reject")


@require_http_methods(["GET", "POST"])
@scoped_view
def month_end_list(request):
    """The plan's month-ends (every contract's run of a month, spread over the workers); a form starts one."""
    scope = request.scope
    if request.method == "POST":
        try:
            operation, queued = services.month_end_start(scope=scope, month=request.POST.get("month", ""))
        except ApplicationError as exc:
            if exc.status in (403, 404):
                raise
            messages.error(request, exc.message)
            return redirect("payment-month-end-list")
        if queued:
            messages.success(
                request, f"{operation.title}: {len(queued)} contract{'s' if len(queued) != 1 else ''} queued."
            )
        else:
            messages.info(request, f"{operation.title} is done for every contract; nothing was queued again.")
        return redirect("payment-month-end", operation_id=operation.public_id)
    operations = list(selectors.month_end_list(scope=scope)[:24])
    return render(
        request,
        "payments/month_end_list.html",
        {
            "operations": [(op, selectors.month_end_progress(op)) for op in operations],
            "can_run": scope.can("payment.run") and scope.is_payer,
            "default_month": f"{_last_month():%Y-%m}",
        },
    )


def _month_end_context(request, operation_id) -> dict:
    operation = selectors.month_end_get(scope=request.scope, operation_id=operation_id)
    progress = selectors.month_end_progress(operation)
    return {
        "operation": operation,
        "progress": progress,
        "rows": selectors.month_end_items(operation=operation),
        "can_retry": request.scope.can("payment.run") and progress["failed"] > 0,
    }


@scoped_view
def month_end_detail(request, operation_id):
    context = _month_end_context(request, operation_id)
    if request.htmx and request.GET.get("progress"):  # what the page polls while the month-end runs
        response = render(request, "payments/_month_end_progress.html", context)
        if context["operation"].status != BulkStatus.RUNNING:
            response["HX-Refresh"] = "true"
        return response
    return render(request, "payments/month_end_detail.html", context)


@require_POST
@scoped_view
def month_end_retry(request, operation_id):
    operation = selectors.month_end_get(scope=request.scope, operation_id=operation_id)
    queued = services.month_end_retry_failed(scope=request.scope, operation=operation)
    if queued:
        messages.success(
            request, f"{len(queued)} failed contract{'s' if len(queued) != 1 else ''} queued again."
        )
    else:
        messages.info(request, "No contract has failed: nothing to retry.")
    return redirect("payment-month-end", operation_id=operation.public_id)


@require_http_methods(["GET", "POST"])
@scoped_view
def settlement_all_list(request):
    """The plan's period settlements for every contract (one bulk item per contract); a form starts one."""
    scope = request.scope
    if request.method == "POST":
        try:
            operation, queued = services.settlement_all_start(
                scope=scope, period=request.POST.get("period", "")
            )
        except ApplicationError as exc:
            if exc.status in (403, 404):
                raise
            messages.error(request, exc.message)
            return redirect("payment-settlement-runs")
        if queued:
            messages.success(
                request, f"{operation.title}: {len(queued)} contract{'s' if len(queued) != 1 else ''} queued."
            )
        else:
            messages.info(request, f"{operation.title} is done for every contract; nothing was queued again.")
        return redirect("payment-settlement-run", operation_id=operation.public_id)
    operations = list(selectors.settlement_all_list(scope=scope)[:24])
    return render(
        request,
        "payments/settlement_all_list.html",
        {
            "operations": [(op, selectors.month_end_progress(op)) for op in operations],
            "can_settle": scope.can("performance.settle") and scope.is_payer,
            "default_period": _last_quarter(),
        },
    )


def _settlement_all_context(request, operation_id) -> dict:
    operation = selectors.settlement_all_get(scope=request.scope, operation_id=operation_id)
    progress = selectors.month_end_progress(operation)
    return {
        "operation": operation,
        "progress": progress,
        "rows": selectors.settlement_all_items(operation=operation),
        "can_retry": request.scope.can("performance.settle") and progress["failed"] > 0,
    }


@scoped_view
def settlement_all_detail(request, operation_id):
    context = _settlement_all_context(request, operation_id)
    if request.htmx and request.GET.get("progress"):  # what the page polls while the settlements run
        response = render(request, "payments/_settlement_all_progress.html", context)
        if context["operation"].status != BulkStatus.RUNNING:
            response["HX-Refresh"] = "true"
        return response
    return render(request, "payments/settlement_all_detail.html", context)


@require_POST
@scoped_view
def settlement_all_retry(request, operation_id):
    operation = selectors.settlement_all_get(scope=request.scope, operation_id=operation_id)
    queued = services.settlement_all_retry_failed(scope=request.scope, operation=operation)
    if queued:
        messages.success(
            request, f"{len(queued)} failed contract{'s' if len(queued) != 1 else ''} queued again."
        )
    else:
        messages.info(request, "No contract has failed: nothing to retry.")
    return redirect("payment-settlement-run", operation_id=operation.public_id)
