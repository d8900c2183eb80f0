"""Rate sheets: a frozen version's sheet rendered once and stored, a draft's on each request, and
the zip of every active contract's rate sheets: a bulk operation (core.bulk), one item per contract
rendering and storing its sheets on the workers, and a completion hook assembling the zip from them.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
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
from core.bulk import Outcome, bulk_item_run, bulk_operation_retry_failed, bulk_operation_start
from core.domain.canonical import sha256_hex
from core.errors import NOT_FOUND_MESSAGE, NotFoundError
from core.models import BulkItem, BulkItemStatus, BulkOperation
from core.tasks import time_limit_text

#: The kind of the bulk operation behind each export (core.bulk), registered in ContractsConfig.ready.
RATE_SHEETS = "contracts.rate_sheets"
EXPORT_FORMATS = (RateSheetFormat.PDF, RateSheetFormat.XLSX, RateSheetFormat.CSV)
NO_CURRENT_VERSION_MESSAGE = "No activated version to make its rate sheets from"
ITEM_TIME_LIMIT_MESSAGE = "Rendering its rate sheets took longer than the limit of {limit}; retry it."
EXPORT_FAILED_MESSAGE = "The rate sheets of {n} contract{s} could not be made: {contracts}. Retry them."

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
                sha256=sha256_hex(content),
                size=len(content),
            )
    except IntegrityError:  # someone else stored it a moment ago: theirs is the one
        stored = StoredRateSheet.objects.get(version=version, format=fmt, fingerprint=version.fingerprint)
    return bytes(stored.content), rate_sheet_filename(document, fmt)


def rate_sheet_export_start(*, scope: Scope) -> RateSheetExport:
    """Queue a zip of every active contract's current rate sheets (PDF, XLSX, CSV): one bulk item per
    contract renders and stores its sheets on the workers; the last one to finish assembles the zip."""
    scope.require("contract.export")
    with transaction.atomic():
        export = RateSheetExport.objects.create(organization=scope.organization, requested_by=scope.user)
        _fan_out(export, requested_by=scope.user)
    return export


def _fan_out(export: RateSheetExport, *, requested_by=None) -> None:
    """The export's operation: a new one per export (its id is in the parameters, which key it)."""
    contracts = list(_export_contracts(export.organization_id))
    RateSheetExport.objects.filter(pk=export.pk).update(total=len(contracts), done=0, error="")
    operation, _ = bulk_operation_start(
        organization=export.organization,
        kind=RATE_SHEETS,
        title=f"Rate sheet zip {export.public_id}",
        params={"export": str(export.public_id)},
        subjects=[(c.pk, c.number) for c in contracts],
        requested_by=requested_by or export.requested_by,
    )
    RateSheetExport.objects.filter(pk=export.pk).update(operation=operation)
    export.refresh_from_db()


def rate_sheet_export_queue(*, export_id: int) -> RateSheetExport:
    """Spread an export over the workers if it is not yet (an export queued for the old single task)."""
    with transaction.atomic():
        export = RateSheetExport.objects.select_for_update().get(pk=export_id)
        if export.operation_id is None and export.status != ExportStatus.DONE:
            _fan_out(export)
    return export


def rate_sheet_export_build(*, export_id: int) -> RateSheetExport:
    """Build the zip here, in this process (the demo, benchmarks): the export's pending contracts are
    done one after another, as the workers would, and the last closes the operation and writes the zip.
    A done export is kept; re-running gives the same zip."""
    export = rate_sheet_export_queue(export_id=export_id)
    if export.operation_id is not None:
        pending = export.operation.items.filter(status=BulkItemStatus.PENDING).order_by("pk")
        for item_id in pending.values_list("pk", flat=True):
            bulk_item_run(item_id=item_id)
    export.refresh_from_db()
    return export


def rate_sheet_export_retry_failed(*, scope: Scope, export: RateSheetExport) -> list[BulkItem]:
    """Render the failed contracts again, alone; the zip is assembled once they are done."""
    scope.require("contract.export")
    with transaction.atomic():
        export = RateSheetExport.objects.select_for_update().get(pk=export.pk)
        if export.status == ExportStatus.DONE:
            return []
        if export.operation_id is None:  # failed in the old single task: spread it over the workers now
            RateSheetExport.objects.filter(pk=export.pk).update(status=ExportStatus.QUEUED, finished_at=None)
            _fan_out(export, requested_by=scope.user)
            return list(
                BulkItem.objects.filter(operation_id=export.operation_id, status=BulkItemStatus.PENDING)
            )
        RateSheetExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.RUNNING, error="", finished_at=None
        )
        return bulk_operation_retry_failed(operation=export.operation, requested_by=scope.user)


def _export_contracts(organization_id: int):
    return (
        Contract.objects.filter(payer_id=organization_id, status=ContractStatus.ACTIVE)
        .select_related("current_version")
        .order_by("number")
    )


def _export_of(operation: BulkOperation) -> RateSheetExport | None:
    return RateSheetExport.objects.filter(
        organization_id=operation.organization_id, public_id=operation.params.get("export")
    ).first()


def _export_version(pk: int) -> ContractVersion:
    return ContractVersion.objects.select_related(
        "contract__payer", "contract__provider", "bundle_version__bundle"
    ).get(pk=pk)


def rate_sheet_export_item(operation: BulkOperation, item: BulkItem) -> Outcome:
    """One contract's share (a bulk item): its current version's three sheets, rendered once and stored
    (``rate_sheet``), so running it again renders nothing. Which version is recorded for the zip."""
    RateSheetExport.objects.filter(
        organization_id=operation.organization_id,
        public_id=operation.params.get("export"),
        status=ExportStatus.QUEUED,
    ).update(status=ExportStatus.RUNNING, started_at=timezone.now())
    contract = Contract.objects.get(pk=item.subject_id, payer_id=operation.organization_id)
    if contract.current_version_id is None:
        return Outcome(BulkItemStatus.FAILED, NO_CURRENT_VERSION_MESSAGE)
    version = _export_version(contract.current_version_id)
    if not version.fingerprint:
        return Outcome(BulkItemStatus.FAILED, NO_CURRENT_VERSION_MESSAGE)
    try:
        for fmt in EXPORT_FORMATS:
            rate_sheet(version=version, fmt=fmt)
    except SoftTimeLimitExceeded:  # the item task's soft time limit (core.tasks)
        return Outcome(BulkItemStatus.FAILED, ITEM_TIME_LIMIT_MESSAGE.format(limit=time_limit_text()))
    return Outcome(
        BulkItemStatus.DONE,
        f"Version {version.number}",
        {"version": version.pk, "version_number": version.number},
    )


def rate_sheet_export_finish(operation: BulkOperation) -> None:
    """The completion hook: the zip assembled from the stored sheets (nothing rendered), with the same
    names, timestamps and manifest as ever; or the export failed naming the contracts that failed.
    Idempotent: assembling it again gives the same bytes."""
    export = _export_of(operation)
    if export is None or export.status == ExportStatus.DONE:
        return
    items = list(operation.items.order_by("label", "pk"))
    failed = [item for item in items if item.status != BulkItemStatus.DONE]
    done = len(items) - len(failed)
    if failed:
        error = EXPORT_FAILED_MESSAGE.format(
            n=len(failed),
            s="" if len(failed) == 1 else "s",
            contracts="; ".join(
                f"{item.label} ({item.message or item.get_status_display()})" for item in failed
            ),
        )
        RateSheetExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED,
            error=error[:2000],
            done=done,
            total=len(items),
            finished_at=timezone.now(),
        )
        return
    versions = [_export_version(item.result["version"]) for item in items]
    content = rate_sheet_zip(versions)
    RateSheetExport.objects.filter(pk=export.pk).update(
        status=ExportStatus.DONE,
        error="",
        done=done,
        total=len(items),
        content=content,
        size=len(content),
        sha256=sha256_hex(content),
        finished_at=timezone.now(),
    )


def rate_sheet_zip(versions: list[ContractVersion]) -> bytes:
    """The zip of these versions' stored sheets, in this order, with its manifest. A sheet not stored
    (removed since) is rendered and stored again by ``rate_sheet``."""
    fingerprints = {v.pk: v.fingerprint for v in versions}
    stored = {
        (sheet.version_id, sheet.format): bytes(sheet.content)
        for sheet in StoredRateSheet.objects.filter(
            version__in=list(fingerprints), format__in=EXPORT_FORMATS
        ).only("version_id", "format", "fingerprint", "content")
        if sheet.fingerprint == fingerprints[sheet.version_id]
    }
    buffer = io.BytesIO()
    manifest = ["contract,version,file,sha256,fingerprint"]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for version in versions:
            stamp = (version.activated_at or version.created_at).astimezone(timezone.get_current_timezone())
            stub = {"contract": version.contract.number, "version": version.number, "status": version.status}
            for fmt in EXPORT_FORMATS:
                content = stored.get((version.pk, fmt))
                if content is None:
                    content, filename = rate_sheet(version=version, fmt=fmt)
                else:
                    filename = rate_sheet_filename(stub, fmt)
                info = zipfile.ZipInfo(filename, date_time=stamp.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, content)
                manifest.append(
                    f"{version.contract.number},{version.number},{filename},"
                    f"{sha256_hex(content)},{version.fingerprint}"
                )
        info = zipfile.ZipInfo("manifest.csv", date_time=(2000, 1, 1, 0, 0, 0))
        archive.writestr(info, "\n".join(manifest) + "\n")
    return buffer.getvalue()
