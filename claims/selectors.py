"""Reads of the claims app, scoped to the user's organisation (the plan: claims are its own data)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from claims.models import ClaimLineRow, ClaimsUpload
from claims.records import ClaimLine
from claims.versions import version_content
from core.errors import NotFoundError

NOT_FOUND_MESSAGE = "No such claims upload."
CHUNK = 5000
_RECORD_FIELDS = [f for f in ClaimLine._fields]


def upload_list(*, scope: Scope) -> QuerySet[ClaimsUpload]:
    scope.require("performance.upload")
    return scoped(ClaimsUpload.objects.all(), scope)


def upload_get(*, scope: Scope, upload_id: Any) -> ClaimsUpload:
    try:
        uuid.UUID(str(upload_id))
    except ValueError as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
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
            key = (record.claim_id, upload_id, record.frequency_code, record.paid_date)
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
