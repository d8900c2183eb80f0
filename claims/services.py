"""Writes of the claims app: a claims file is kept, validated and loaded whole, or not at all.

Services are keyword-only ``entity_action(*, scope, ...)`` and run in one transaction.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import Scope
from claims import hooks, x12_837
from claims.completion import month_completions
from claims.extract import Result, read_claims
from claims.models import (
    ClaimLineRow,
    ClaimsUpload,
    CompletionRun,
    CompletionStatus,
    MonthCompletionRow,
    UploadStatus,
)
from claims.records import ClaimLine
from claims.selectors import claim_history, latest_paid_date, paid_cells
from claims.versions import apply_versions
from core.domain.canonical import sha256_hex
from core.domain.months import first_of_month
from core.domain.problems import Problem, problem_dicts
from core.uploads import parsed_in_request, uploaded_sha256
from enrollment.ingest.ack_999 import AcknowledgementNotPossible

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
UPLOAD_REJECTED_MESSAGE = "The file has errors; nothing was loaded. Fix every row listed and upload it again."
PROCESSING_FAILED_MESSAGE = "The file could not be read ({error}). Nothing was loaded; upload it again."


def _safe_name(name: str) -> str:
    return os.path.basename(name or "claims.csv")[:200] or "claims.csv"


def claims_upload(
    *,
    scope: Scope,
    data: bytes | None = None,
    filename: str,
    file=None,
    run_inline: bool | None = None,
) -> ClaimsUpload:
    """Keep the file, then validate it and load every line, or none.

    Up to ``UPLOAD_SYNC_MAX_BYTES`` the file is read before returning (``accepted`` or ``rejected``);
    a larger one is read by a Celery worker after the commit and the upload is returned ``processing``.
    """
    scope.require("performance.upload")
    name = _safe_name(filename)
    size = len(data) if data is not None else (file.size or 0)
    upload = ClaimsUpload(
        payer=scope.organization,
        uploaded_by=scope.user,
        original_filename=name,
        file_sha256=sha256_hex(data) if data is not None else uploaded_sha256(file),
        file_size=size,
        status=UploadStatus.PROCESSING,
        progress_message="Queued",
    )
    upload.file.save(name, ContentFile(data) if data is not None else file, save=False)
    inline = parsed_in_request(size) if run_inline is None else run_inline
    if inline:
        if data is None:
            with upload.file.open("rb") as fh:
                data = fh.read()
        return _load(upload, _read(data, name))
    with transaction.atomic():
        upload.save()
        from claims.tasks import process_claims_upload

        transaction.on_commit(lambda: process_claims_upload.delay(upload.pk))
    return upload


def claims_upload_process(*, upload_id: int) -> ClaimsUpload | None:
    """Read a kept upload and load it (the Celery task's body). Idempotent: an upload no longer
    ``processing`` is returned as it is; a crash part-way leaves it ``processing`` with nothing loaded,
    and the next attempt reads it again."""
    upload = ClaimsUpload.objects.filter(pk=upload_id).first()
    if upload is None or upload.status != UploadStatus.PROCESSING:
        return upload
    _progress(upload, 5, "Reading the file")
    try:
        with upload.file.open("rb") as fh:
            result = _read(fh.read(), upload.original_filename)
    except OperationalError:
        raise  # the database: the task retries
    except Exception as exc:  # a file the reader cannot take: rejected with the reason, never left hanging
        logger.exception("Claims upload %s could not be read", upload_id)
        error = Problem.at_cell(
            1, "", "processing_failed", PROCESSING_FAILED_MESSAGE.format(error=type(exc).__name__)
        )
        result = Result([], [error], 1)
    _progress(upload, 60, f"Read {len(result.records):,} lines; loading")
    return _load(upload, result)


def _read(data: bytes, name: str) -> Result:
    """An X12 837 (told by its ISA) or a claims extract (CSV or Parquet)."""
    if x12_837.is_x12(data):
        return x12_837.read_837(data, name, max_bytes=settings.X12_MAX_BYTES)
    return read_claims(data, name)


def _ack_999(result: Result, upload: ClaimsUpload) -> str:
    """The 999 of an 837 ("" for a table, or an 837 without an envelope to answer: its problems say why)."""
    if not isinstance(result, x12_837.Result837):
        return ""
    try:
        return x12_837.write_999_for_837(
            result, control_number=upload.pk % 999_999_999 or 1, created=timezone.localtime()
        )
    except AcknowledgementNotPossible:
        return ""


def _progress(upload: ClaimsUpload, percent: int, message: str) -> None:
    """Saved in its own commit, so the page polling the upload sees it while the load runs."""
    ClaimsUpload.objects.filter(pk=upload.pk, status=UploadStatus.PROCESSING).update(
        progress=percent, progress_message=message
    )


def _load(upload: ClaimsUpload, result: Result) -> ClaimsUpload:
    """Store the verdict and, when the file has no error, its lines; in one transaction."""
    with transaction.atomic():
        if upload.pk is not None:
            # The worker: lock the upload, and let only the one that finds it processing go on.
            upload = ClaimsUpload.objects.select_for_update().get(pk=upload.pk)
            if upload.status != UploadStatus.PROCESSING:
                return upload
        # One load per plan at a time: versions read then write the plan's standing lines.
        list(Organization.objects.select_for_update().filter(pk=upload.payer_id).values_list("pk"))
        records = result.records
        problems = list(result.errors)
        outcome = None
        if not problems:
            standing, received = claim_history(upload.payer_id, {r.claim_id for r in records})
            outcome = apply_versions(records, result.rows, standing, received)
            problems = [p for p in outcome.problems if p.is_error]
        warnings = list(result.warnings) + ([p for p in outcome.problems if p.is_warning] if outcome else [])
        upload.warnings = problem_dicts(warnings)
        if upload.pk is None:
            upload.save()  # read in the request: the 999's control number is the upload's id
        upload.ack_999 = _ack_999(result, upload)
        upload.progress = 100
        if problems or outcome is None:
            upload.status = UploadStatus.REJECTED
            upload.errors = problem_dicts(problems)
            upload.error_count = max(result.error_count, len(problems))
            upload.progress_message = "Rejected"
            upload.save()
            return upload
        upload.status = UploadStatus.ACCEPTED
        upload.progress_message = "Loaded"
        upload.line_count = len(records)
        upload.claim_count = len({r.claim_id for r in records})
        upload.member_count = len({r.member_id for r in records})
        upload.standing_count = len(outcome.standing)
        upload.replaced_count = outcome.replaced
        upload.voided_count = outcome.voided
        upload.duplicate_count = outcome.duplicates
        upload.paid_amount = sum((records[i].paid_amount for i in outcome.standing), Decimal("0.00"))
        upload.first_service = min(r.service_from for r in records)
        upload.last_service = max(r.service_to for r in records)
        upload.last_paid = max(r.paid_date for r in records)
        upload.save()
        # Lines a replacement or a void ends stop standing; they are kept.
        superseded = sorted(outcome.superseded)
        for start in range(0, len(superseded), BATCH_SIZE):
            ClaimLineRow.objects.filter(
                payer_id=upload.payer_id, claim_id__in=superseded[start : start + BATCH_SIZE], standing=True
            ).update(standing=False)
        _insert(upload, records, result.rows, set(outcome.standing))
        hooks.claims_loaded(upload=upload, member_ids={r.member_id for r in records})
        # Completion factors take seconds to fit: a worker computes them once the file is committed.
        payer_id, upload_id = upload.payer_id, upload.pk
        from claims.tasks import compute_completion

        transaction.on_commit(lambda: compute_completion.delay(payer_id, upload_id))
    return upload


def completion_compute(*, payer_id: int, upload_id: int) -> CompletionRun | None:
    """Fit the plan's completion factors on its standing claims, as of an accepted file (the Celery task's
    body). Idempotent: a run already done is returned as it is; one interrupted part-way is done again
    from the start (its months are written in one transaction with its status)."""
    upload = ClaimsUpload.objects.filter(
        pk=upload_id, payer_id=payer_id, status=UploadStatus.ACCEPTED
    ).first()
    if upload is None:
        return None  # a message outliving its database (a test's, a restore's): nothing to fit
    run, _ = CompletionRun.objects.get_or_create(payer_id=payer_id, claims_upload=upload)
    if run.status == CompletionStatus.DONE:
        return run
    valued_at = latest_paid_date(payer_id)
    months = month_completions(paid_cells(payer_id)) if valued_at else {}
    with transaction.atomic():
        run = CompletionRun.objects.select_for_update().get(pk=run.pk)
        if run.status == CompletionStatus.DONE:
            return run
        run.months.all().delete()
        MonthCompletionRow.objects.bulk_create(
            MonthCompletionRow(
                run=run,
                category=m.category,
                month=m.month,
                paid=m.paid,
                completion=m.completion,
                ultimate=m.ultimate,
                std_error=m.std_error,
                fitted=m.fitted,
            )
            for m in months.values()
        )
        run.valued_at = first_of_month(valued_at) if valued_at else None
        run.status = CompletionStatus.DONE
        run.finished_at = timezone.now()
        run.save()
    return run


def _insert(upload: ClaimsUpload, records: list[ClaimLine], rows: list[int], standing: set[int]) -> None:
    batch: list[ClaimLineRow] = []
    for i, (record, row) in enumerate(zip(records, rows, strict=True)):
        batch.append(_row(upload, record, row, i in standing))
        if len(batch) >= BATCH_SIZE:
            ClaimLineRow.objects.bulk_create(batch)
            batch = []
    if batch:
        ClaimLineRow.objects.bulk_create(batch)


def _row(upload: ClaimsUpload, line: ClaimLine, row: int, standing: bool) -> ClaimLineRow:
    fields = line._asdict()
    fields["modifiers"] = ":".join(line.modifiers)
    fields["diagnosis_codes"] = ":".join(line.diagnosis_codes)
    return ClaimLineRow(upload=upload, payer_id=upload.payer_id, row=row, standing=standing, **fields)
