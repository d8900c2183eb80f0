"""A plan's fee schedules: each upload kept as a version, numbered when valid, rejected whole (with
every error's row and column) when not. A valid version never changes (a database trigger)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.tenancy import Scope
from core.domain.problems import Problem, problem_dicts
from core.errors import ApplicationError, problems_error
from core.uploads import uploaded_sha256
from pricing.fee_schedules import read_fee_schedule
from pricing.models import ExperienceStatus, FeeSchedule, FeeScheduleVersion
from pricing.services.experience import _safe_name

FEE_SCHEDULE_REJECTED_MESSAGE = (
    "The fee schedule has errors: the file is kept but none of its rates; every problem is listed with its row "
    "and column."
)
MAX_FEE_SCHEDULE_BYTES = 20 * 1024 * 1024


def fee_schedule_upload(*, scope: Scope, name: str, file, notes: str = "") -> FeeScheduleVersion:
    """A new version of the plan's schedule called ``name`` (made when it has none).

    The file is kept and every row validated: a valid file gets the next number; a rejected one is
    kept with its errors (the caller shows them; the API answers 400).
    """
    scope.require("pricing.edit")
    name = (name or "").strip()[:200]
    if not name:
        raise problems_error(
            "Name the fee schedule.",
            [Problem.at_path("name", "required", "the schedule needs a name")],
            code="invalid_fee_schedule",
        )
    if (file.size or 0) > MAX_FEE_SCHEDULE_BYTES:
        raise problems_error(
            "The file is too large.",
            [
                Problem.at_path(
                    "file",
                    "too_large",
                    f"a fee schedule file is at most {MAX_FEE_SCHEDULE_BYTES // 2**20} MB",
                )
            ],
            code="invalid_fee_schedule",
        )
    read = read_fee_schedule(file)
    file.seek(0)
    with transaction.atomic():
        try:
            with transaction.atomic():
                schedule, _ = FeeSchedule.objects.get_or_create(
                    payer=scope.organization, name=name, defaults={"created_by": scope.user}
                )
        except IntegrityError:  # made at the same moment by another upload
            schedule = FeeSchedule.objects.get(payer=scope.organization, name=name)
        FeeSchedule.objects.select_for_update().filter(pk=schedule.pk).get()  # numbers one at a time
        number = None
        if read.valid:
            number = (schedule.versions.aggregate(last=Max("number"))["last"] or 0) + 1
        version = FeeScheduleVersion(
            schedule=schedule,
            number=number,
            status=ExperienceStatus.VALID if read.valid else ExperienceStatus.REJECTED,
            original_filename=_safe_name(file, "fee-schedule.csv"),
            file_sha256=uploaded_sha256(file),
            row_count=read.row_count,
            rows=read.rows,
            errors=problem_dicts(read.issues),
            error_count=read.issue_count,
            notes=notes[:2000],
            created_by=scope.user,
        )
        version.file.save(version.original_filename, file, save=False)
        version.save()
    return version


def fee_schedule_rejected_error(version: FeeScheduleVersion) -> ApplicationError:
    """The 400 a rejected upload answers: every problem with its row and column."""
    return problems_error(
        FEE_SCHEDULE_REJECTED_MESSAGE,
        version.errors,
        code="invalid_fee_schedule",
        version_id=str(version.public_id),
        error_count=version.error_count,
    )
