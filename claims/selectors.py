"""Reads of the claims app, scoped to the user's organisation (the plan: claims are its own data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db.models import Max, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from claims.classify import INPATIENT_BILL_TYPES, service_category
from claims.completion import MonthCompletion
from claims.models import ClaimLineRow, ClaimsUpload, CompletionRun, CompletionStatus
from claims.records import INSTITUTIONAL, ORIGINAL, ClaimLine
from claims.versions import version_content
from core.domain.money import to_cents
from core.errors import uuid_or_404

NOT_FOUND_MESSAGE = "No such claims upload."
CHUNK = 5000
_RECORD_FIELDS = list(ClaimLine._fields)


def upload_list(*, scope: Scope) -> QuerySet[ClaimsUpload]:
    scope.require("performance.upload")
    return scoped(ClaimsUpload.objects.all(), scope)


def upload_get(*, scope: Scope, upload_id: Any) -> ClaimsUpload:
    uuid_or_404(upload_id)
    upload = get_scoped_or_404(ClaimsUpload.objects.all(), scope, public_id=upload_id)  # 404 before 403
    scope.require("performance.upload")
    return upload


def _record(values: dict) -> ClaimLine:
    values["modifiers"] = tuple(values["modifiers"].split(":")) if values["modifiers"] else ()
    values["diagnosis_codes"] = (
        tuple(values["diagnosis_codes"].split(":")) if values["diagnosis_codes"] else ()
    )
    return ClaimLine(**values)


def claim_history(
    payer_id: int, claim_ids: Iterable[str]
) -> tuple[dict[str, list[ClaimLine]], dict[str, set[tuple[ClaimLine, ...]]]]:
    """What a new file is applied to: the standing lines of these claims of a plan (claim id -> lines)
    and every version of them received before (claim id -> version contents). Called inside the load,
    which holds the plan's lock."""
    ids = sorted(set(claim_ids))
    standing: dict[str, list[ClaimLine]] = {}
    versions: dict[tuple, list[ClaimLine]] = {}
    for start in range(0, len(ids), CHUNK):
        rows = ClaimLineRow.objects.filter(payer_id=payer_id, claim_id__in=ids[start : start + CHUNK]).values(
            "upload_id", "standing", *_RECORD_FIELDS
        )
        for values in rows:
            upload_id, is_standing = values.pop("upload_id"), values.pop("standing")
            record = _record(values)
            if is_standing:
                standing.setdefault(record.claim_id, []).append(record)
            key = (record.claim_id, upload_id, record.frequency_code)
            versions.setdefault(key, []).append(record)
    received: dict[str, set[tuple[ClaimLine, ...]]] = {}
    for (claim_id, *_), lines in versions.items():
        received.setdefault(claim_id, set()).add(version_content(lines))
    return standing, received


def standing_lines_of_members(payer_id: int, member_ids: Iterable[str]) -> Iterator[ClaimLine]:
    """Every standing line of these members of a plan: what their utilisation is derived from."""
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), CHUNK):
        rows = (
            ClaimLineRow.objects.filter(
                payer_id=payer_id, member_id__in=ids[start : start + CHUNK], standing=True
            )
            .order_by()
            .values(*_RECORD_FIELDS)
            .iterator(chunk_size=CHUNK)
        )
        for values in rows:
            yield _record(values)


# A line with only what the service category reads: the aggregate queries below group on those fields.
_CATEGORY_LINE = ClaimLine(
    "",
    "",
    1,
    INSTITUTIONAL,
    ORIGINAL,
    "",
    "",
    "",
    "",
    (),
    (),
    None,
    None,
    "",
    dt.date.min,
    dt.date.min,
    dt.date.min,
    None,
    Decimal(0),
)


def paid_cells(
    payer_id: int, *, member_ids: Iterable[str] | None = None, months: tuple[dt.date, dt.date] | None = None
) -> dict[tuple[str, dt.date, dt.date], Decimal]:
    """Standing paid amounts by (service category, incurred month, paid month): the plan's whole book, or
    some members' lines incurred in ``months`` ([start, end) by service start). Summed in the database
    by the fields the category and the incurred month depend on, classified here."""
    lines = ClaimLineRow.objects.filter(payer_id=payer_id, standing=True)
    if member_ids is not None:
        lines = lines.filter(member_id__in=sorted(set(member_ids)))
    if months is not None:
        lines = lines.filter(service_from__gte=months[0], service_from__lt=months[1])
    groups = (
        lines.order_by()
        .values("claim_type", "bill_type", "revenue_code", "place_of_service", "procedure_code")
        .annotate(
            admitted=TruncMonth("admission_date"),
            served=TruncMonth("service_from"),
            paid_month=TruncMonth("paid_date"),
        )
        .values(
            "claim_type",
            "bill_type",
            "revenue_code",
            "place_of_service",
            "procedure_code",
            "admitted",
            "served",
            "paid_month",
        )
        .annotate(amount=Sum("paid_amount"))
    )
    cells: dict[tuple[str, dt.date, dt.date], Decimal] = {}
    for g in groups:
        line = _CATEGORY_LINE._replace(
            claim_type=g["claim_type"],
            bill_type=g["bill_type"],
            revenue_code=g["revenue_code"],
            place_of_service=g["place_of_service"],
            procedure_code=g["procedure_code"],
        )
        inpatient = g["bill_type"][:2] in INPATIENT_BILL_TYPES and g["admitted"] is not None
        incurred = _day(g["admitted"] if inpatient else g["served"])
        key = (service_category(line), incurred, max(incurred, _day(g["paid_month"])))
        # to the cent: SQLite sums decimals as floats
        cells[key] = cells.get(key, Decimal("0.00")) + to_cents(Decimal(str(g["amount"])))
    return cells


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def latest_paid_date(payer_id: int) -> dt.date | None:
    return ClaimLineRow.objects.filter(payer_id=payer_id, standing=True).aggregate(last=Max("paid_date"))[
        "last"
    ]


def latest_completion(
    payer_id: int,
) -> tuple[CompletionRun | None, dict[tuple[str, dt.date], MonthCompletion]]:
    """The plan's newest finished completion run and its months, keyed (category, incurred month)."""
    run = (
        CompletionRun.objects.filter(payer_id=payer_id, status=CompletionStatus.DONE).order_by("-pk").first()
    )
    if run is None:
        return None, {}
    return run, {
        (row.category, row.month): MonthCompletion(
            row.category, row.month, row.paid, row.completion, row.ultimate, row.std_error, row.fitted
        )
        for row in run.months.all()
    }


def diagnoses_by_month(
    payer_id: int, member_ids: Iterable[str], start: dt.date, end: dt.date
) -> dict[str, dict[dt.date, set[str]]]:
    """The ICD-10-CM codes on these members' standing claim lines, by the month their service began
    in ``[start, end)``: member -> month -> codes (the diagnoses a comparison group matches on)."""
    ids = sorted(set(member_ids))
    out: dict[str, dict[dt.date, set[str]]] = {}
    for k in range(0, len(ids), CHUNK):
        rows = (
            ClaimLineRow.objects.filter(
                payer_id=payer_id,
                standing=True,
                member_id__in=ids[k : k + CHUNK],
                service_from__gte=start,
                service_from__lt=end,
            )
            .exclude(diagnosis_codes="")
            .annotate(month=TruncMonth("service_from"))
            .values_list("member_id", "month", "diagnosis_codes")
            .distinct()
            .order_by()
        )
        for member_id, month, codes in rows:
            out.setdefault(member_id, {}).setdefault(_day(month), set()).update(codes.split(":"))
    return out


def has_claims(payer_id: int) -> bool:
    """Whether the plan has claims on the platform (a comparison group is drawn from them)."""
    return ClaimLineRow.objects.filter(payer_id=payer_id, standing=True).exists()
