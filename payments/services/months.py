"""Month values of payments: parsing ``YYYY-MM``, keys, month arithmetic."""

from __future__ import annotations

import re
from datetime import date

from core.errors import ApplicationError

INVALID_MONTH_MESSAGE = "Give the month as YYYY-MM."
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


def parse_month(value) -> date:
    if isinstance(value, date):
        return value.replace(day=1)
    match = _MONTH.match(str(value or "").strip())
    if match and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900:
        return date(int(match.group(1)), int(match.group(2)), 1)
    raise ApplicationError(
        INVALID_MONTH_MESSAGE, code="invalid_month", details={"month": [INVALID_MONTH_MESSAGE]}
    )


def month_key(month: date) -> str:
    return f"{month:%Y-%m}"


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def cell_key(tier: str, market: str, lob: str) -> str:
    return f"{tier}/{market}/{lob}"
