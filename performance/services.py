"""Writes of the performance app: utilisation uploads, unit costs, patient stories.

Services are keyword-only ``entity_action(*, scope, ...)`` and run in one transaction.
"""

from __future__ import annotations

import logging
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import OperationalError, connection, transaction

from accounts.models import Organization
from accounts.tenancy import Scope
from claims.classify import MemberMonthUse, member_months
from claims.selectors import standing_lines_of_members
from contracts.models import Contract
from core.domain.canonical import sha256_hex
from core.domain.months import INVALID_PERIOD_MESSAGE, parse_period
from core.domain.problems import Problem, problem_dicts
from core.errors import PERMISSION_DENIED_MESSAGE, ApplicationError, PermissionDeniedError
from core.uploads import parsed_in_request, uploaded_sha256
from performance.ingest import Result, UtilizationRecord, read_utilization, write_utilization
from performance.models import (
    EventKind,
    PatientStory,
    UnitCost,
    UploadStatus,
    UtilizationRow,
    UtilizationUpload,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
ANALYZE_AFTER_ROWS = 50_000
UPLOAD_REJECTED_MESSAGE = "The file has errors; nothing was loaded. Fix every row listed and upload it again."
PROCESSING_FAILED_MESSAGE = "The file could not be read ({error}). Nothing was loaded; upload it again."
STORY_EMPTY_MESSAGE = "Write the story (a few sentences, without names or identifiers)."
STORY_TOO_LONG_MESSAGE = "A story is at most 5,000 characters."
UNIT_COST_INVALID_MESSAGE = "Each unit cost is an amount of 0 or more with at most 2 decimal places."
UNKNOWN_EVENT_KIND_MESSAGE = "Unknown event kind."


def _safe_name(name: str) -> str:
    return os.path.basename(name or "utilization.csv")[:200] or "utilization.csv"


def utilization_upload(
    *,
    scope: Scope,
    data: bytes | None = None,
    filename: str,
    file=None,
    run_inline: bool | None = None,
) -> UtilizationUpload:
    """Keep the file, then validate it and load every row, or none.

    The file comes as ``data`` or as an uploaded ``file`` (streamed to storage, never read whole in
    the request). Up to ``UPLOAD_SYNC_MAX_BYTES`` it is read before returning (status ``accepted`` or
    ``rejected``); a larger one is read by a Celery worker after the commit and the upload is returned
    ``processing`` (``run_inline`` overrides the choice). A row for a (member, month) the plan already
    sent supersedes the earlier row.
    """
    scope.require("performance.upload")
    name = _safe_name(filename)
    size = len(data) if data is not None else (file.size or 0)
    upload = UtilizationUpload(
        payer=scope.organization,
        uploaded_by=scope.user,
        original_filename=name,
        file_sha256=sha256_hex(data) if data is not None else uploaded_sha256(file),
        file_size=size,
        status=UploadStatus.PROCESSING,
    )
    upload.file.save(name, ContentFile(data) if data is not None else file, save=False)
    inline = parsed_in_request(size) if run_inline is None else run_inline
    if inline:
        if data is None:
            with upload.file.open("rb") as fh:
                data = fh.read()
        return _load(upload, read_utilization(data, name))
    with transaction.atomic():
        upload.save()
        from performance.tasks import process_utilization_upload

        transaction.on_commit(lambda: process_utilization_upload.delay(upload.pk))
    return upload


def utilization_upload_process(*, upload_id: int) -> UtilizationUpload | None:
    """Read a kept upload and load it (the Celery task's body). Idempotent: an upload no longer
    ``processing`` is returned as it is; a crash part-way leaves it ``processing`` with nothing loaded."""
    upload = UtilizationUpload.objects.filter(pk=upload_id).first()
    if upload is None or upload.status != UploadStatus.PROCESSING:
        return upload
    try:
        with upload.file.open("rb") as fh:
            result = read_utilization(fh.read(), upload.original_filename)
    except OperationalError:
        raise  # the database: the task retries
    except Exception as exc:  # a file the reader cannot take: rejected with the reason, never left hanging
        logger.exception("Utilisation upload %s could not be read", upload_id)
        error = Problem.at_cell(
            1, "", "processing_failed", PROCESSING_FAILED_MESSAGE.format(error=type(exc).__name__)
        )
        result = Result([], [error], 1)
    return _load(upload, result)


def _load(upload: UtilizationUpload, result: Result) -> UtilizationUpload:
    """Store the verdict and, when the file has no error, its rows; in one transaction."""
    with transaction.atomic():
        if upload.pk is not None:
            # The worker: lock the upload, and let only the one that finds it processing go on.
            upload = UtilizationUpload.objects.select_for_update().get(pk=upload.pk)
            if upload.status != UploadStatus.PROCESSING:
                return upload
        # One load per plan at a time: superseding reads then writes the plan's current rows.
        list(Organization.objects.select_for_update().filter(pk=upload.payer_id).values_list("pk"))
        if result.errors:
            upload.status = UploadStatus.REJECTED
            upload.errors = problem_dicts(result.errors)
            upload.error_count = result.error_count
            upload.save()
            return upload
        records = result.records
        upload.status = UploadStatus.ACCEPTED
        upload.row_count = len(records)
        upload.member_count = len({r.member_id for r in records})
        upload.first_month = min(r.month for r in records)
        upload.last_month = max(r.month for r in records)
        upload.save()
        # Earlier current rows of the same members and months: superseded, never deleted.
        upload.superseded_count = _supersede(upload, records)
        _insert_rows(upload, records)
        upload.save(update_fields=["superseded_count"])
    return upload


ROW_COLUMNS = (
    "upload_id",
    "payer_id",
    "member_id",
    "month",
    "ed_visits",
    "inpatient_admissions",
    "icu_admissions",
    "discharges",
    "readmissions_30d",
    "tcoc_amount",
    "acp_documented_date",
    "satisfaction_score",
    "death_date",
    "death_place",
    "superseded",
)


def _insert_rows(upload: UtilizationUpload, records) -> None:
    """Insert the rows in batches without building model instances: COPY on PostgreSQL, else executemany."""
    table = UtilizationRow._meta.db_table
    upload_id, payer_id = upload.pk, upload.payer_id
    values = (
        (
            upload_id,
            payer_id,
            r.member_id,
            r.month,
            r.ed_visits,
            r.inpatient_admissions,
            r.icu_admissions,
            r.discharges,
            r.readmissions_30d,
            r.tcoc_amount,
            r.acp_documented_date,
            r.satisfaction_score,
            r.death_date,
            r.death_place,
            False,
        )
        for r in records
    )
    columns = ", ".join(connection.ops.quote_name(c) for c in ROW_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(
                f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN"
            ) as copy:
                for chunk in _copy_text(upload_id, payer_id, records):
                    copy.write(chunk)
            if len(records) >= ANALYZE_AFTER_ROWS:  # fresh planner statistics for the queries that follow
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
            return
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({columns}) VALUES ({', '.join(['%s'] * 15)})"  # noqa: S608 - names are the model's own
        batch: list[tuple] = []
        for row in values:
            batch.append(row)
            if len(batch) >= BATCH_SIZE:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


COPY_CHUNK_ROWS = 20_000
NULL = "\\N"


def _copy_field(text: str) -> str:
    """A string as a field of COPY's text format (backslash, tab, newline and CR escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_text(upload_id: int, payer_id: int, records):
    """The rows as COPY text-format lines (in ROW_COLUMNS order), joined in chunks.

    Formatting the lines here and sending them in large writes is several times cheaper than
    ``Copy.write_row`` per row; the values are the validated records (ints, ISO dates, Decimals
    as their exact text, ``\\N`` for NULL).
    """
    prefix = f"{upload_id}\t{payer_id}\t"
    lines: list[str] = []
    for r in records:
        acp, score, death = r.acp_documented_date, r.satisfaction_score, r.death_date
        lines.append(
            f"{prefix}{_copy_field(r.member_id)}\t{r.month.isoformat()}\t{r.ed_visits}\t"
            f"{r.inpatient_admissions}\t{r.icu_admissions}\t{r.discharges}\t{r.readmissions_30d}\t"
            f"{r.tcoc_amount}\t{acp.isoformat() if acp is not None else NULL}\t"
            f"{score if score is not None else NULL}\t{death.isoformat() if death is not None else NULL}\t"
            f"{_copy_field(r.death_place)}\tf\n"
        )
        if len(lines) >= COPY_CHUNK_ROWS:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


SUPERSEDE_KEYS_TABLE = "performance_supersede_keys"


def _supersede(upload: UtilizationUpload, records) -> int:
    """Mark the payer's current rows for the upload's (member, month) keys as superseded; how many.

    Runs before ``_insert_rows``, so that ``utilization_one_current_row`` holds once the new rows are in.
    PostgreSQL does it set-based (:func:`_supersede_postgresql`); other databases in chunks.
    """
    first, last = upload.first_month, upload.last_month
    current = UtilizationRow.objects.filter(
        payer_id=upload.payer_id, superseded=False, month__gte=first, month__lte=last
    )
    if not current.exists():
        return 0
    if connection.vendor == "postgresql":
        return _supersede_postgresql(upload, records)
    keys = {(r.member_id, r.month) for r in records}
    members = sorted({m for m, _ in keys})
    stale: list[int] = []
    for start in range(0, len(members), 500):
        chunk = members[start : start + 500]
        for pk, member_id, month in current.filter(member_id__in=chunk).values_list(
            "pk", "member_id", "month"
        ):
            if (member_id, month) in keys:
                stale.append(pk)
    for start in range(0, len(stale), 500):
        UtilizationRow.objects.filter(pk__in=stale[start : start + 500]).update(superseded=True)
    return len(stale)


def _supersede_postgresql(upload: UtilizationUpload, records) -> int:
    """The upload's keys COPYed into a temporary table, then one ``UPDATE ... FROM`` joining it.

    A fixed number of statements whatever the size of the file (the chunked queries were ~2 per 500
    members). The table is dropped as soon as it has served, so that a second upload in the same
    transaction can make it again; ``ON COMMIT DROP`` and the rollback of a failed upload clean up
    otherwise. The records are unique per (member, month): the reader refuses a duplicate.
    """
    quote = connection.ops.quote_name
    table, keys = quote(UtilizationRow._meta.db_table), quote(SUPERSEDE_KEYS_TABLE)
    with transaction.atomic(), connection.cursor() as cursor:  # a temporary table ON COMMIT DROP needs one
        cursor.execute(
            f"CREATE TEMPORARY TABLE {keys} (member_id text NOT NULL, month date NOT NULL) ON COMMIT DROP"
        )
        with cursor.cursor.copy(f"COPY {keys} (member_id, month) FROM STDIN") as copy:
            for chunk in _key_lines(records):
                copy.write(chunk)
        cursor.execute(f"ANALYZE {keys}")  # row estimates for the join's plan
        cursor.execute(
            f"UPDATE {table} AS u SET superseded = true FROM {keys} AS k "  # noqa: S608 - names are our own
            "WHERE u.payer_id = %s AND u.member_id = k.member_id AND u.month = k.month "
            "AND u.month BETWEEN %s AND %s AND u.superseded = false",
            [upload.payer_id, upload.first_month, upload.last_month],
        )
        count = cursor.rowcount
        cursor.execute(f"DROP TABLE {keys}")
    return count


def _key_lines(records):
    """(member_id, month) of each record as COPY text-format lines, joined in chunks."""
    lines: list[str] = []
    for r in records:
        lines.append(f"{_copy_field(r.member_id)}\t{r.month.isoformat()}\n")
        if len(lines) >= COPY_CHUNK_ROWS:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def unit_costs_set(*, scope: Scope, costs: dict[str, object]) -> list[UnitCost]:
    """Set the plan's cost per avoided event for the kinds given (others keep theirs)."""
    scope.require("performance.upload")
    parsed: dict[str, Decimal] = {}
    for kind, value in costs.items():
        if kind not in EventKind.values:
            raise ApplicationError(
                UNKNOWN_EVENT_KIND_MESSAGE, code="unknown_event_kind", details={"kind": kind}
            )
        try:
            amount = Decimal(str(value).strip())
            if (
                not amount.is_finite()
                or amount < 0
                or amount != amount.quantize(Decimal("0.01"))
                or amount > Decimal("999999999999.99")
            ):
                raise InvalidOperation
        except (InvalidOperation, ValueError) as exc:
            raise ApplicationError(
                UNIT_COST_INVALID_MESSAGE,
                code="invalid_unit_cost",
                details={"kind": kind, "value": str(value)},
            ) from exc
        parsed[kind] = amount
    with transaction.atomic():
        for kind, amount in parsed.items():
            UnitCost.objects.update_or_create(
                payer=scope.organization, kind=kind, defaults={"cost": amount, "updated_by": scope.user}
            )
    return list(UnitCost.objects.filter(payer=scope.organization))


def patient_story_save(
    *, scope: Scope, contract: Contract, period: str, text: str, title: str = ""
) -> PatientStory:
    """The provider's story of one patient for a period (one per contract and period)."""
    scope.require("performance.story")
    if contract.provider_id != scope.organization.pk:
        raise PermissionDeniedError(PERMISSION_DENIED_MESSAGE, details={"action": "performance.story"})
    try:
        code = parse_period(period, contract_start=contract_start(contract)).code
    except ValueError as exc:
        raise ApplicationError(INVALID_PERIOD_MESSAGE, code="invalid_period") from exc
    text = (text or "").strip()
    if not text:
        raise ApplicationError(STORY_EMPTY_MESSAGE, code="story_required", details={"field": "text"})
    if len(text) > 5000:
        raise ApplicationError(STORY_TOO_LONG_MESSAGE, code="story_too_long", details={"field": "text"})
    with transaction.atomic():
        story, _ = PatientStory.objects.update_or_create(
            contract=contract,
            period=code,
            defaults={"text": text, "title": (title or "").strip()[:200], "written_by": scope.user},
        )
    return story


def contract_start(contract: Contract):
    version = contract.versions.order_by("number").first()
    return version.effective_start if version else None


def utilization_from_claims(*, upload, member_ids: list[str]) -> UtilizationUpload | None:
    """Derive the utilisation of these members from their standing claims (claims/classify.py) and load
    it as a utilisation upload of its own, whose rows supersede the members' earlier rows month by month.

    Called by the claims load, in its transaction (``claims.hooks``). A month the claims no longer
    reach (a void, a replacement that moved a stay) but that an earlier derivation filled is written
    again with zeros, so a voided claim leaves nothing behind. What claims cannot say (a satisfaction
    score; an advance care plan or a death recorded outside claims) is carried from the row it supersedes.
    """
    if not member_ids:
        return None
    uses = member_months(standing_lines_of_members(upload.payer_id, member_ids))
    current = {
        (row.member_id, row.month): row
        for row in UtilizationRow.objects.filter(
            payer_id=upload.payer_id, member_id__in=member_ids, superseded=False
        ).select_related("upload")
    }
    keys = set(uses) | {key for key, row in current.items() if row.upload.claims_upload_id is not None}
    if not keys:
        return None
    records = [_derived_record(key, uses.get(key), current.get(key)) for key in sorted(keys)]
    name = f"utilization-from-{Path(upload.original_filename).stem}.csv"
    derived = UtilizationUpload(
        payer_id=upload.payer_id,
        uploaded_by=upload.uploaded_by,
        claims_upload=upload,
        original_filename=name,
        status=UploadStatus.PROCESSING,
    )
    data = write_utilization(records).encode()
    derived.file_sha256 = sha256_hex(data)
    derived.file_size = len(data)
    derived.file.save(name, ContentFile(data), save=False)
    return _load(derived, Result(records, [], 0))


def _derived_record(key, use: MemberMonthUse | None, earlier: UtilizationRow | None) -> UtilizationRecord:
    member_id, month = key
    acp = use.acp_documented_date if use else None
    death_date, death_place = (use.death_date, use.death_place) if use and use.death_date else (None, "")
    if earlier is not None:
        acp = acp or earlier.acp_documented_date
        if death_date is None and earlier.death_date is not None:
            death_date, death_place = earlier.death_date, earlier.death_place
    return UtilizationRecord(
        member_id=member_id,
        month=month,
        ed_visits=use.ed_visits if use else 0,
        inpatient_admissions=use.inpatient_admissions if use else 0,
        icu_admissions=use.icu_admissions if use else 0,
        discharges=use.discharges if use else 0,
        readmissions_30d=use.readmissions_30d if use else 0,
        tcoc_amount=use.tcoc_amount if use else Decimal("0.00"),
        acp_documented_date=acp,
        satisfaction_score=earlier.satisfaction_score if earlier is not None else None,
        death_date=death_date,
        death_place=death_place,
    )
