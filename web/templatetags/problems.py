"""``{% problem_table problems %}``: every page shows a list of problems the same way.

A list of problems (kernel :class:`~core.domain.problems.Problem` values, their ``as_dict()``
form as stored or sent by the API, or stored issue rows) becomes one table: a column for each
coordinate some problem has (file, row, column, path, and any ``extra`` ones a format needs),
then the code and the message. A warning's row is marked (``class="warning"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import template

from core.domain.problems import Problem

register = template.Library()

#: (key, header, numeric): the coordinates every problem may have, in the order they are shown.
COORDINATES = (
    ("file", "File", False),
    ("row", "Row", True),
    ("column", "Column", False),
    ("path", "Where", False),
)


def problem_dict(item: Any, extra_keys: Iterable[str] = ()) -> dict[str, Any]:
    """One problem as a dict, whatever form it arrives in."""
    if isinstance(item, Problem):
        return item.as_dict()
    if isinstance(item, Mapping):
        return dict(item)
    # A stored issue row (enrollment's SubmissionIssue) names its file ``source``.
    return {
        "file": getattr(item, "source", None),
        "row": getattr(item, "row", None),
        "column": getattr(item, "column", None),
        "code": getattr(item, "code", None),
        "message": getattr(item, "message", ""),
        "severity": getattr(item, "severity", None),
        **{key: getattr(item, key, None) for key in extra_keys},
    }


def _extra_columns(extra: str) -> list[tuple[str, str, bool]]:
    """``"segment_index:Segment:num,segment_id:Id"`` -> [(key, header, numeric), ...]."""
    columns = []
    for spec in filter(None, (part.strip() for part in extra.split(","))):
        key, _, rest = spec.partition(":")
        header, _, kind = rest.partition(":")
        columns.append((key, header or key, kind == "num"))
    return columns


@register.inclusion_tag("web/_problems.html")
def problem_table(
    problems: Iterable[Any],
    testid: str = "problems",
    label: str = "Problems",
    labelledby: str = "",
    extra: str = "",
    plan_detail: bool = False,
) -> dict[str, Any]:
    """``plan_detail``: the reader is the plan, so each problem's ``plan_detail`` (what the plan's own
    records say about the member) is shown under its message; nobody else ever gets it."""
    extra_columns = _extra_columns(extra)
    keys = [key for key, _, _ in extra_columns] + (["plan_detail"] if plan_detail else [])
    items = [problem_dict(p, keys) for p in problems]
    candidates = [*COORDINATES, *extra_columns]
    columns = [c for c in candidates if any(item.get(c[0]) is not None for item in items)]
    rows = [
        {
            "cells": [
                {"value": item.get(key), "num": numeric, "code": key == "path"} for key, _, numeric in columns
            ],
            "code": item.get("code"),
            "message": item.get("message", ""),
            "warning": item.get("severity") == "warning",
            "plan_detail": item.get("plan_detail") if plan_detail else None,
        }
        for item in items
    ]
    return {
        "columns": [{"header": header, "num": numeric} for _, header, numeric in columns],
        "rows": rows,
        "testid": testid,
        "label": label,
        "labelledby": labelledby,
    }
