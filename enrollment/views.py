"""Enrollment pages: rosters (templates, submit, list with status and lateness, detail with the verdict,
errors paginated and as CSV, member-months, assessments, the difference from the previous version,
member rows) and the plan's eligibility files (load an 834, read its acknowledgement, the 999).

Thin: each view calls a selector or a service. Pages that show member data record the access.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import scoped_view, tenant_free
from core.audit import record_access
from core.domain.months import shift_month
from core.errors import ApplicationError, NotFoundError, month_from_input
from core.exports import safe_row
from core.uploads import upload_limit
from enrollment import file_templates, selectors, services
from enrollment.api import (
    assessment_query,
    file_response,
    record_assessments_access,
    record_eligibility_access,
)
from enrollment.forms import EligibilityUploadForm, RosterUploadForm
from enrollment.models import ProcessingStatus

SUBMISSIONS_PER_PAGE = 50
ISSUES_PER_PAGE = 50
MEMBERS_PER_PAGE = 100
MONTHS_SHOWN = 60


def _record(request, submission, detail: str, action: str = "roster.view") -> None:
    record_access(
        scope=request.scope,
        action=action,
        object_type="roster_submission",
        object_id=submission.public_id,
        detail=f"{submission.contract.number} {submission.month_label} v{submission.version} {detail}",
        request=request,
    )


def _page(request, queryset, per_page: int, param: str = "page"):
    return Paginator(queryset, per_page).get_page(request.GET.get(param))


def _query_without(request, *params: str) -> str:
    """The current query string minus ``params``, ready to prefix another parameter."""
    query = request.GET.copy()
    for param in params:
        query.pop(param, None)
    encoded = query.urlencode()
    return f"{encoded}&" if encoded else ""


def _month_param(request):
    try:
        return month_from_input(request.GET["month"]) if request.GET.get("month") else None
    except ApplicationError:
        return None


# --- assessments ---------------------------------------------------------------------------------

ASSESSMENTS_PER_PAGE = 100


@require_GET
@scoped_view
def assessment_list(request):
    """Every initial assessment of the rosters in force, payable or not and why, filtered by contract,
    roster month, payable and member."""
    scope = request.scope
    error = None
    try:
        assessments = assessment_query(scope, request.GET)
    except NotFoundError:
        error, assessments = "No such contract among yours.", selectors.assessment_search(scope=scope).none()
    except ApplicationError as exc:
        error, assessments = exc.message, selectors.assessment_search(scope=scope).none()
    page = _page(request, assessments, ASSESSMENTS_PER_PAGE)
    record_assessments_access(scope, request.GET, request)
    contracts = (
        selectors.assessment_search(scope=scope)
        .order_by("contract__number")
        .values_list("contract__number", flat=True)
        .distinct()
    )
    return render(
        request,
        "enrollment/assessment_list.html",
        {
            "page": page,
            "error": error,
            "contracts": contracts,
            "filters": {k: request.GET.get(k, "") for k in ("contract", "month", "payable", "member")},
            "query": _query_without(request, "page"),
        },
        status=400 if error else 200,
    )


# --- rosters -------------------------------------------------------------------------------------


@scoped_view
def roster_list(request):
    scope = request.scope
    scope.require("roster.view")
    can_submit = scope.can("roster.submit")
    contracts = list(selectors.submittable_contracts(scope=scope)) if can_submit else []
    last_month = shift_month(timezone.localdate(), -1)
    # "Submit a corrected file" on a rejected roster comes back here with its contract and month
    initial = {
        "month": request.GET.get("month") or last_month.strftime("%Y-%m"),
        "contract": request.GET.get("contract"),
    }
    form = RosterUploadForm(contracts=contracts, initial=initial)
    status_code = 200
    if request.method == "POST":
        scope.require("roster.submit")
        form = RosterUploadForm(request.POST, request.FILES, contracts=contracts)
        if form.is_valid():
            data = form.cleaned_data
            contract = next(c for c in contracts if str(c.public_id) == data["contract"])
            try:
                submission = services.roster_submit(
                    scope=scope,
                    contract=contract,
                    month=data["month"],
                    file=data["file"],
                    assessments_file=data.get("assessments"),
                )
            except ApplicationError as exc:
                if exc.status == 403:
                    raise
                field = "month" if isinstance(exc.details, dict) and "month" in exc.details else None
                form.add_error(field, exc.message)
            else:
                if submission.status == ProcessingStatus.ACCEPTED:
                    messages.success(request, f"Roster accepted as version {submission.version}.")
                elif submission.status == ProcessingStatus.REJECTED:
                    messages.error(
                        request,
                        f"Roster rejected: {submission.error_count} error(s). Nothing was "
                        "stored; correct the file and submit it again.",
                    )
                else:
                    messages.success(
                        request, f"Roster received as version {submission.version}; it is being checked."
                    )
                return redirect("roster-detail", submission_id=submission.public_id)
        status_code = 400
    filters = {
        "month": _month_param(request),
        "status": request.GET.get("status", ""),
        "late": True if request.GET.get("late") == "1" else None,
    }
    submissions = selectors.submission_list(scope=scope, **filters)
    page = _page(request, submissions, SUBMISSIONS_PER_PAGE)
    late_months = list(selectors.roster_month_list(scope=scope, late=True)[:MONTHS_SHOWN])
    return render(
        request,
        "enrollment/roster_list.html",
        {
            "page": page,
            "submissions": page.object_list,
            "form": form,
            "can_submit": can_submit and bool(contracts),
            "late_months": late_months,
            "statuses": ProcessingStatus.choices,
            "month": request.GET.get("month", ""),
            "status": filters["status"],
            "late": request.GET.get("late", ""),
            "filter_qs": _query_without(request, "page"),
            "template_columns": file_templates.instructions("roster"),
            "assessment_columns": file_templates.instructions("assessments"),
        },
        status=status_code,
    )


@scoped_view
def roster_detail(request, submission_id):
    submission = selectors.submission_get(scope=request.scope, public_id=submission_id)
    _record(request, submission, "detail")
    errors = _page(request, selectors.errors_of(submission), ISSUES_PER_PAGE, "errors_page")
    warnings = _page(request, selectors.warnings_of(submission), ISSUES_PER_PAGE, "warnings_page")
    assessments = list(selectors.assessment_list(submission=submission)[:500])
    return render(
        request,
        "enrollment/roster_detail.html",
        {
            "submission": submission,
            "errors": errors,
            "warnings": warnings,
            "assessments": assessments,
            "versions": list(selectors.versions_of(submission=submission)),
            "errors_qs": _query_without(request, "errors_page"),
            "warnings_qs": _query_without(request, "warnings_page"),
            "diff": submission.diff or {},
            "plan_detail": selectors.shows_plan_detail(scope=request.scope, submission=submission),
            "member_exits": list(selectors.exits_reported(submission=submission)),
            "can_submit": request.scope.can("roster.submit"),
        },
    )


@require_GET
@scoped_view
def roster_progress(request, submission_id):
    """The progress bar htmx polls; once processed the page reloads to show the verdict."""
    submission = selectors.submission_status_get(scope=request.scope, public_id=submission_id)
    response = render(request, "enrollment/_progress.html", {"submission": submission})
    if submission.is_finished and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@scoped_view
def roster_members(request, submission_id):
    submission = selectors.submission_get(scope=request.scope, public_id=submission_id)
    search = request.GET.get("search", "").strip()
    _record(request, submission, f"member rows{' search ' + search if search else ''}")
    page = _page(request, selectors.entry_list(submission=submission, search=search), MEMBERS_PER_PAGE)
    member_months = {}
    if page.object_list:
        ids = {e.member_id for e in page.object_list}
        member_months = {
            m.member_id: m
            for m in selectors.member_month_list(submission=submission).filter(member_id__in=ids)
        }
    rows = [{"entry": e, "mm": member_months.get(e.member_id)} for e in page.object_list]
    return render(
        request,
        "enrollment/roster_members.html",
        {
            "submission": submission,
            "page": page,
            "rows": rows,
            "search": search,
            "filter_qs": _query_without(request, "page"),
        },
    )


class _Echo:
    def write(self, value):
        return value


@require_GET
@scoped_view
def roster_error_report(request, submission_id):
    """Every error and warning as CSV (the downloadable error report)."""
    submission = selectors.submission_get(scope=request.scope, public_id=submission_id)
    _record(request, submission, "error report", action="roster.download")
    writer = csv.writer(_Echo())
    columns = ["severity", "source", "row", "column", "code", "message"]
    header = ["severity", "file", "row", "column", "code", "message"]
    if selectors.shows_plan_detail(scope=request.scope, submission=submission):  # the plan's own report
        columns.append("plan_detail")
        header.append("plan_detail")
    issues = selectors.issue_list(submission=submission).values_list(*columns)

    def lines():
        yield writer.writerow(header)
        for issue in issues.iterator(chunk_size=2000):
            yield writer.writerow(safe_row(issue))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="roster-{submission.contract.number}-'
        f'{submission.month_label}-v{submission.version}-errors.csv"'
    )
    return response


@require_GET
@scoped_view
def roster_file(request, submission_id):
    submission = selectors.submission_get(scope=request.scope, public_id=submission_id)
    which = request.GET.get("which", "roster")
    _record(request, submission, f"{which} file", action="roster.download")
    return file_response(submission, which)


@tenant_free
@require_GET
@scoped_view
def roster_template(request, kind, fmt):
    request.scope.require("roster.view")
    if kind not in file_templates.KINDS or fmt not in file_templates.FORMATS:
        raise NotFoundError("No such template.")
    content = file_templates.template_csv(kind) if fmt == "csv" else file_templates.template_xlsx(kind)
    response = HttpResponse(content, content_type=file_templates.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{kind}-template.{fmt}"'
    return response


# --- eligibility ---------------------------------------------------------------------------------


@upload_limit("X12_MAX_BYTES")
@scoped_view
def eligibility_list(request):
    scope = request.scope
    scope.require("eligibility.view")
    form = EligibilityUploadForm()
    status_code = 200
    if request.method == "POST":
        scope.require("eligibility.load")
        form = EligibilityUploadForm(request.POST, request.FILES)
        if form.is_valid():
            record = services.eligibility_file_load(scope=scope, file=form.cleaned_data["file"])
            if record.status == ProcessingStatus.ACCEPTED:
                messages.success(request, f"Eligibility file accepted: {record.member_count} member(s).")
            elif record.status == ProcessingStatus.REJECTED:
                messages.error(
                    request,
                    f"Eligibility file rejected with {record.error_count} error(s); nothing was changed.",
                )
            else:
                messages.success(request, "Eligibility file received; it is being read.")
            return redirect("eligibility-detail", file_id=record.public_id)
        status_code = 400
    page = _page(request, selectors.eligibility_file_list(scope=scope), SUBMISSIONS_PER_PAGE)
    return render(
        request,
        "enrollment/eligibility_list.html",
        {"page": page, "files": page.object_list, "form": form, "can_load": scope.can("eligibility.load")},
        status=status_code,
    )


@scoped_view
def eligibility_detail(request, file_id):
    record = selectors.eligibility_file_get(scope=request.scope, public_id=file_id)
    record_eligibility_access(request.scope, record, "acknowledgement", request)
    return render(
        request,
        "enrollment/eligibility_detail.html",
        {"record": record, "ack": record.acknowledgement or {}, "deaths": list(record.member_exits.all())},
    )


@require_GET
@scoped_view
def eligibility_999(request, file_id):
    record = selectors.eligibility_file_get(scope=request.scope, public_id=file_id)
    if not record.ack_999:
        raise NotFoundError("No 999 has been written for this file.")
    record_eligibility_access(request.scope, record, "999", request)
    response = HttpResponse(record.ack_999, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{record.original_filename}.999"'
    return response


@require_GET
@scoped_view
def eligibility_file(request, file_id):
    record = selectors.eligibility_file_get(scope=request.scope, public_id=file_id)
    record_access(
        scope=request.scope,
        action="eligibility.download",
        object_type="eligibility_file",
        object_id=record.public_id,
        detail=record.original_filename,
        request=request,
    )
    return FileResponse(record.file.open("rb"), as_attachment=True, filename=record.original_filename)
