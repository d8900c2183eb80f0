"""Experience uploads: keep the file(s), validate every row, store the summary only when there
is no error (a rejected upload is kept with its row and column errors). Files over
``UPLOAD_SYNC_MAX_BYTES`` are read by a Celery worker (:func:`experience_upload_process`).
"""

from __future__ import annotations

import logging
import os
from datetime import date

from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.tenancy import Scope
from core.domain.months import month_index, parse_month
from core.domain.problems import Problem, problem_dicts
from core.errors import ApplicationError, problems_error
from core.uploads import parsed_in_request, uploaded_sha256
from pricing.experience import summarise_experience, summarise_spans
from pricing.models import ExperienceDataset, ExperienceStatus

logger = logging.getLogger(__name__)

PROCESSING_FAILED_MESSAGE = "The file could not be read ({error}). Nothing was loaded; upload it again."
EXPERIENCE_REJECTED_MESSAGE = (
    "The experience file has errors; nothing was loaded. Every error is listed with its row and column."
)


def _safe_name(uploaded, fallback: str) -> str:
    name = get_valid_filename(os.path.basename(getattr(uploaded, "name", "") or "")) or fallback
    return name[:200]


def experience_upload(
    *,
    scope: Scope,
    name: str,
    file,
    spans_file=None,
    program_name: str = "",
    provider=None,
    today: date | None = None,
    run_inline: bool | None = None,
) -> ExperienceDataset:
    """Keep the uploaded file(s), validate every row, store the summary only when there is no error.

    Files up to ``UPLOAD_SYNC_MAX_BYTES`` (both together) are read before returning: the dataset is
    ``valid``, or ``rejected`` with its errors so the caller shows them (the API answers 400). Larger
    ones are read by a Celery worker after the commit and the dataset comes back ``processing``
    (``run_inline`` overrides the choice).
    """
    scope.require("pricing.edit")
    dataset = ExperienceDataset(
        payer=scope.organization,
        name=(name or _safe_name(file, "experience.csv"))[:200],
        program_name=program_name[:200],
        provider=provider,
        created_by=scope.user,
        original_filename=_safe_name(file, "experience.csv"),
        file_sha256=uploaded_sha256(file),
        status=ExperienceStatus.PROCESSING,
    )
    dataset.file.save(dataset.original_filename, file, save=False)
    if spans_file is not None:
        dataset.spans_original_filename = _safe_name(spans_file, "spans.csv")
        dataset.spans_sha256 = uploaded_sha256(spans_file)
        dataset.spans_file.save(dataset.spans_original_filename, spans_file, save=False)
    size = (file.size or 0) + (getattr(spans_file, "size", 0) or 0)
    inline = parsed_in_request(size) if run_inline is None else run_inline
    if inline:
        return _summarise(dataset, today or timezone.localdate())
    with transaction.atomic():
        dataset.save()
        from pricing.tasks import process_experience_upload

        transaction.on_commit(lambda: process_experience_upload.delay(dataset.pk))
    return dataset


def experience_upload_process(*, dataset_id: int) -> ExperienceDataset | None:
    """Read a kept upload (the Celery task's body). Idempotent: a dataset no longer ``processing`` is
    returned as it is. "Not after the current month" is judged on the day of the upload."""
    dataset = ExperienceDataset.objects.filter(pk=dataset_id).first()
    if dataset is None or dataset.status != ExperienceStatus.PROCESSING:
        return dataset
    try:
        return _summarise(dataset, timezone.localdate(dataset.created_at))
    except OperationalError:
        raise  # the database: the task retries
    except Exception as exc:  # a file the reader cannot take: rejected with the reason, never left hanging
        logger.exception("Experience upload %s could not be read", dataset_id)
        dataset.errors = problem_dicts(
            [
                Problem.at_cell(
                    1,
                    "",
                    "processing_failed",
                    PROCESSING_FAILED_MESSAGE.format(error=type(exc).__name__),
                    file="experience",
                )
            ]
        )
        dataset.error_count = 1
        return _save_verdict(dataset, ExperienceStatus.REJECTED)


def _summarise(dataset: ExperienceDataset, today: date) -> ExperienceDataset:
    """Validate the kept file(s) and record the verdict (the summary only when there is no error)."""
    with dataset.file.open("rb") as fh:
        experience = summarise_experience(fh, today=today)
    errors = problem_dicts(experience.issues)
    error_count = experience.issue_count
    spans = None
    if dataset.spans_file:
        last_month = None
        if experience.valid:
            last_month = month_index(parse_month(experience.summary["last_month"]))
        with dataset.spans_file.open("rb") as fh:
            spans = summarise_spans(fh, today=today, data_end_month=last_month)
        errors += problem_dicts(spans.issues)
        error_count += spans.issue_count
        dataset.spans_count = spans.row_count
    dataset.row_count = experience.row_count
    dataset.errors = errors
    dataset.error_count = error_count
    if error_count:
        return _save_verdict(dataset, ExperienceStatus.REJECTED)
    dataset.summary = experience.summary
    dataset.spans_summary = spans.summary if spans is not None else {}
    return _save_verdict(dataset, ExperienceStatus.VALID)


def _save_verdict(dataset: ExperienceDataset, status: str) -> ExperienceDataset:
    with transaction.atomic():
        if dataset.pk is not None:
            # The worker: only the one that finds the dataset still processing records a verdict.
            current = ExperienceDataset.objects.select_for_update().get(pk=dataset.pk)
            if current.status != ExperienceStatus.PROCESSING:
                return current
        dataset.status = status
        dataset.save()
    return dataset


def experience_rejected_error(dataset: ExperienceDataset) -> ApplicationError:
    # details.errors: the same list, under the name this endpoint used first (deprecated)
    return problems_error(
        EXPERIENCE_REJECTED_MESSAGE,
        dataset.errors,
        code="invalid_experience",
        errors_alias=True,
        dataset_id=str(dataset.public_id),
        error_count=dataset.error_count,
    )
