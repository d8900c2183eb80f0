"""Rate sheets: a frozen version's sheet rendered once and stored, a draft's on each request, and
the zip of every active contract's rate sheets (built by a task).
"""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.tenancy import Scope
from contracts import ratesheets, rules
from contracts.models import (
    Contract,
    ContractStatus,
    ContractVersion,
    ExportStatus,
    RateSheetExport,
    RateSheetFormat,
    StoredRateSheet,
    VersionStatus,
)
from contracts.selectors import version_document
from core.errors import NOT_FOUND_MESSAGE, NotFoundError

logger = logging.getLogger(__name__)


CONTENT_TYPES = {
    RateSheetFormat.PDF: "application/pdf",
    RateSheetFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    RateSheetFormat.CSV: "text/csv; charset=utf-8",
}


def rate_sheet_filename(document: dict[str, Any], fmt: str) -> str:
    suffix = "" if document["status"] != VersionStatus.DRAFT else "-DRAFT"
    return f"{document['contract']}-v{document['version']}-rate-sheet{suffix}.{fmt}"


def _render(document: dict[str, Any], fmt: str, *, draft: bool) -> bytes:
    if fmt == RateSheetFormat.PDF:
        return ratesheets.render_pdf(document, draft=draft)
    if fmt == RateSheetFormat.XLSX:
        return ratesheets.render_xlsx(document, draft=draft)
    if fmt == RateSheetFormat.CSV:
        return ratesheets.render_csv(document, draft=draft)
    raise NotFoundError(NOT_FOUND_MESSAGE)


def rate_sheet(*, version: ContractVersion, fmt: str) -> tuple[bytes, str]:
    """The rate sheet of a version as (bytes, filename).

    A frozen version's sheet is rendered once and stored; every later download returns the
    same bytes. A draft's is rendered on each request, marked DRAFT, and never stored.
    """
    if fmt not in RateSheetFormat.values:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    if version.fingerprint:
        stored = (
            StoredRateSheet.objects.filter(version=version, format=fmt, fingerprint=version.fingerprint)
            .only("content", "version_id")
            .first()
        )
        if stored is not None:
            document_stub = {
                "contract": version.contract.number,
                "version": version.number,
                "status": version.status,
            }
            return bytes(stored.content), rate_sheet_filename(document_stub, fmt)
    document = version_document(version)
    if not version.fingerprint:
        document["fingerprint"] = rules.fingerprint(document)
        return _render(document, fmt, draft=True), rate_sheet_filename(document, fmt)
    document["fingerprint"] = version.fingerprint
    content = _render(document, fmt, draft=False)
    try:
        with transaction.atomic():
            stored = StoredRateSheet.objects.create(
                version=version,
                format=fmt,
                fingerprint=version.fingerprint,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
            )
    except IntegrityError:  # someone else stored it a moment ago: theirs is the one
        stored = StoredRateSheet.objects.get(version=version, format=fmt, fingerprint=version.fingerprint)
    return bytes(stored.content), rate_sheet_filename(document, fmt)


@transaction.atomic
def rate_sheet_export_start(*, scope: Scope) -> RateSheetExport:
    """Queue a zip of every active contract's current rate sheets (PDF, XLSX, CSV)."""
    scope.require("contract.export")
    export = RateSheetExport.objects.create(organization=scope.organization, requested_by=scope.user)
    from contracts.tasks import build_rate_sheet_export

    transaction.on_commit(lambda: build_rate_sheet_export.delay(export.pk))
    return export


def _export_contracts(organization_id: int):
    return (
        Contract.objects.filter(payer_id=organization_id, status=ContractStatus.ACTIVE)
        .select_related("current_version")
        .order_by("number")
    )


def rate_sheet_export_build(*, export_id: int) -> RateSheetExport:
    """Build the zip (the task's body). Progress is saved per contract; re-running gives the same zip."""
    export = RateSheetExport.objects.get(pk=export_id)
    if export.status == ExportStatus.DONE:
        return export
    contracts = list(_export_contracts(export.organization_id))
    export.status, export.total, export.done = ExportStatus.RUNNING, len(contracts), 0
    export.started_at, export.error = timezone.now(), ""
    export.save(update_fields=["status", "total", "done", "started_at", "error"])
    buffer = io.BytesIO()
    manifest = ["contract,version,file,sha256,fingerprint"]
    try:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for i, contract in enumerate(contracts, start=1):
                version = ContractVersion.objects.select_related(
                    "contract__payer", "contract__provider", "bundle_version__bundle"
                ).get(pk=contract.current_version_id)
                stamp = (version.activated_at or version.created_at).astimezone(
                    timezone.get_current_timezone()
                )
                for fmt in (RateSheetFormat.PDF, RateSheetFormat.XLSX, RateSheetFormat.CSV):
                    content, filename = rate_sheet(version=version, fmt=fmt)
                    info = zipfile.ZipInfo(filename, date_time=stamp.timetuple()[:6])
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, content)
                    manifest.append(
                        f"{contract.number},{version.number},{filename},"
                        f"{hashlib.sha256(content).hexdigest()},{version.fingerprint}"
                    )
                RateSheetExport.objects.filter(pk=export.pk).update(done=i)
            info = zipfile.ZipInfo("manifest.csv", date_time=(2000, 1, 1, 0, 0, 0))
            archive.writestr(info, "\n".join(manifest) + "\n")
    except Exception as exc:
        logger.exception("Rate sheet export %s failed", export.public_id)
        RateSheetExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    content = buffer.getvalue()
    RateSheetExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE,
        done=len(contracts),
        content=content,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        finished_at=timezone.now(),
    )
    export.refresh_from_db()
    return export
