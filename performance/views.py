"""Performance pages: the plan's uploads and unit costs, a contract's performance for a period, the
members behind it (logged), the provider's patient story, the period's settlement and the PDF report."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import scoped_view
from core.audit import record_access
from core.domain.months import shift_month
from core.errors import ApplicationError
from payments import selectors as payment_selectors
from performance import charts, reports, selectors, services
from performance.display import decorate
from performance.measures import MEASURE_UNITS


@scoped_view
def performance_home(request):
    scope = request.scope
    contracts = selectors.performance_contracts(scope=scope)
    can_upload = scope.can("performance.upload")
    return render(
        request,
        "performance/home.html",
        {
            "contracts": contracts,
            "can_upload": can_upload,
            "uploads": selectors.upload_list(scope=scope)[:10] if can_upload else [],
            "unit_costs": selectors.unit_cost_table(scope=scope) if can_upload else [],
        },
    )


@require_POST
@scoped_view
def upload(request):
    file = request.FILES.get("file")
    if file is None:
        messages.error(request, "Choose a utilisation file (CSV or XLSX) to upload.")
        return redirect("performance-home")
    record = services.utilization_upload(scope=request.scope, file=file, filename=file.name)
    return redirect("performance-upload", record.public_id)


@scoped_view
def upload_detail(request, upload_id):
    record = selectors.upload_get(scope=request.scope, upload_id=upload_id)
    record_access(
        scope=request.scope,
        action="utilization_upload.view",
        object_type="utilization_upload",
        object_id=record.public_id,
        detail=f"{record.original_filename}: errors name members",
        request=request,
    )
    return render(request, "performance/upload_detail.html", {"upload": record})


@require_POST
@scoped_view
def unit_costs(request):
    costs = {
        row["kind"]: request.POST.get(row["kind"], "").strip()
        for row in selectors.unit_cost_table(scope=request.scope)
    }
    try:
        services.unit_costs_set(scope=request.scope, costs={k: v for k, v in costs.items() if v})
        messages.success(request, "Unit costs saved.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("performance-home")


def _performance(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_performance(scope=scope, contract_id=contract_id)
    period_code = request.GET.get("period") or None
    try:
        data = selectors.contract_performance(scope=scope, contract=contract, period=period_code)
    except ApplicationError as exc:
        if exc.code != "invalid_period":
            raise
        messages.error(request, exc.message)
        data = selectors.contract_performance(scope=scope, contract=contract, period=None)
    return contract, decorate(data)


@scoped_view
def contract_performance(request, contract_id):
    scope = request.scope
    contract, data = _performance(request, contract_id)
    period_end = shift_month(date.fromisoformat(data["period"]["end"]), 1)
    return render(
        request,
        "performance/contract.html",
        {
            "contract": contract,
            "p": data,
            "charts": charts.charts_for(data),
            "can_story": scope.can("performance.story") and contract.provider_id == scope.organization.pk,
            # The period's settlement (payments): who may settle it, and whether it is over yet.
            "settlements": payment_selectors.settlement_list(scope=scope, contract=contract).filter(
                period=data["period"]["code"]
            ),
            "can_settle": scope.can("performance.settle") and contract.payer_id == scope.organization.pk,
            "period_closed": period_end <= timezone.localdate(),
            "period_closes": period_end,
        },
    )


@require_POST
@scoped_view
def story_save(request, contract_id):
    contract = selectors.contract_for_performance(scope=request.scope, contract_id=contract_id)
    period = selectors.period_of(contract, request.POST.get("period"))
    try:
        services.patient_story_save(
            scope=request.scope,
            contract=contract,
            period=period.code,
            text=request.POST.get("text", ""),
            title=request.POST.get("title", ""),
        )
        messages.success(request, "Story saved.")
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        messages.error(request, exc.message)
    return redirect(f"{request.path.rsplit('story/', 1)[0]}?period={period.code}")


@scoped_view
def members(request, contract_id):
    scope = request.scope
    contract = selectors.contract_for_performance(scope=scope, contract_id=contract_id)
    period = selectors.period_of(contract, request.GET.get("period") or None)
    measure = request.GET.get("measure", "")
    rows = selectors.member_breakdown(scope=scope, contract=contract, period=period, measure=measure)
    record_access(
        scope=scope,
        action="performance.members",
        object_type="contract",
        object_id=contract.number,
        detail=f"{period.code} {measure}".strip(),
        request=request,
    )
    return render(
        request,
        "performance/members.html",
        {
            "contract": contract,
            "period": period,
            "rows": rows,
            "measure": measure,
            "measure_known": measure in MEASURE_UNITS,
        },
    )


@scoped_view
def report_pdf(request, contract_id):
    contract, data = _performance(request, contract_id)
    pdf = reports.render_pdf(contract, data)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="performance-{contract.number}-{data["period"]["code"]}.pdf"'
    )
    return response
