"""Claims pages: the plan uploads a claims extract and reads each file's verdict."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import scoped_view
from claims import selectors, services
from claims.extract import write_claims_csv
from claims.template import EXAMPLE_LINES
from core.audit import record_access
from core.errors import NotFoundError


@scoped_view
def claims_home(request):
    uploads = selectors.upload_list(scope=request.scope)[:20]
    return render(request, "claims/home.html", {"uploads": uploads})


@require_POST
@scoped_view
def upload(request):
    file = request.FILES.get("file")
    if file is None:
        messages.error(request, "Choose a claims file (CSV or Parquet) to upload.")
        return redirect("claims-home")
    record = services.claims_upload(scope=request.scope, file=file, filename=file.name)
    return redirect("claims-upload", record.public_id)


@scoped_view
def upload_detail(request, upload_id):
    record = selectors.upload_get(scope=request.scope, upload_id=upload_id)
    _record_read(request, record, "errors name claims and members")
    return render(request, "claims/upload_detail.html", {"upload": record})


def _record_read(request, record, what: str) -> None:
    record_access(
        scope=request.scope,
        action="claims_upload.view",
        object_type="claims_upload",
        object_id=record.public_id,
        detail=f"{record.original_filename}: {what}",
        request=request,
    )


@scoped_view
def template_csv(request):
    request.scope.require("performance.upload")
    response = HttpResponse(write_claims_csv(EXAMPLE_LINES), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="claims.csv"'
    return response


@scoped_view
def upload_999(request, upload_id):
    record = selectors.upload_get(scope=request.scope, upload_id=upload_id)
    if not record.ack_999:
        raise NotFoundError("No 999 has been written for this file (it is not an X12 837).")
    _record_read(request, record, "999")
    response = HttpResponse(record.ack_999, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{record.original_filename}.999"'
    return response
