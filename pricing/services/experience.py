"""Experience uploads: keep the file(s), validate every row, store the summary only when there
is no error (a rejected upload is kept with its row and column errors).
"""

from __future__ import annotations

import hashlib
import os
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.tenancy import Scope
from core.errors import ApplicationError
from pricing.experience import summarise_experience, summarise_spans
from pricing.models import ExperienceDataset, ExperienceStatus

EXPERIENCE_REJECTED_MESSAGE = (
    "The experience file has errors; nothing was loaded. Every error is listed with its row and column."
)


def _sha256_of(uploaded) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


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
) -> ExperienceDataset:
    """Keep the uploaded file(s), validate every row, store the summary only when there is no error.

    Returns the dataset in either case: a rejected upload is kept (status `rejected`) with its
    errors, so the caller shows them; the API answers 400 for it.
    """
    scope.require("pricing.edit")
    today = today or timezone.localdate()
    dataset = ExperienceDataset(
        payer=scope.organization,
        name=(name or _safe_name(file, "experience.csv"))[:200],
        program_name=program_name[:200],
        provider=provider,
        created_by=scope.user,
        original_filename=_safe_name(file, "experience.csv"),
        file_sha256=_sha256_of(file),
        status=ExperienceStatus.REJECTED,
    )
    dataset.file.save(dataset.original_filename, file, save=False)
    with dataset.file.open("rb") as fh:
        experience = summarise_experience(fh, today=today)
    errors = [issue.as_dict("experience") for issue in experience.issues]
    error_count = experience.issue_count
    spans = None
    if spans_file is not None:
        dataset.spans_original_filename = _safe_name(spans_file, "spans.csv")
        dataset.spans_sha256 = _sha256_of(spans_file)
        dataset.spans_file.save(dataset.spans_original_filename, spans_file, save=False)
        last_month = None
        if experience.valid:
            year, month = map(int, experience.summary["last_month"].split("-"))
            last_month = year * 12 + month - 1
        with dataset.spans_file.open("rb") as fh:
            spans = summarise_spans(fh, today=today, data_end_month=last_month)
        errors += [issue.as_dict("spans") for issue in spans.issues]
        error_count += spans.issue_count
        dataset.spans_count = spans.row_count
    dataset.row_count = experience.row_count
    dataset.errors = errors
    dataset.error_count = error_count
    if error_count == 0:
        dataset.status = ExperienceStatus.VALID
        dataset.summary = experience.summary
        dataset.spans_summary = spans.summary if spans is not None else {}
    with transaction.atomic():
        dataset.save()
    return dataset


def experience_rejected_error(dataset: ExperienceDataset) -> ApplicationError:
    return ApplicationError(
        EXPERIENCE_REJECTED_MESSAGE,
        code="invalid_experience",
        details={
            "dataset_id": str(dataset.public_id),
            "error_count": dataset.error_count,
            "errors": dataset.errors,
        },
    )
