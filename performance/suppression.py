"""Small numbers on provider-facing performance: counts from 1 to N (10 by default) that could point
at a member are not shown, nor anything they could be worked back from. Pure: no Django.

The provider reads figures the plan computed from its own data (claims, utilisation), so a measure
numerator of 2 ("died in hospital") or one ED visit seen is a fact about someone. What is hidden:

- a measure whose numerator or denominator is small: the counts, the rate and its interval (a rate
  and a denominator give the numerator back). Whether the measure was met stays: it decides money;
- an avoided event whose count seen is small: the count, the events avoided and their value, and then
  the total value (it would give the one hidden value back by subtraction);
- a pre-enrollment event count that is small;
- in the comparison group, a small count of members (enrolled, matched, compared with, left out), and
  when the members compared with are few, their cost (it describes people who did not enroll). The
  estimate itself stays: it decides money.

Zero is shown: it identifies nobody. The plan's own pages are never suppressed.
"""

from __future__ import annotations

import copy
from decimal import Decimal, InvalidOperation
from typing import Any

DEFAULT_LIMIT = 10


def is_small(value: Any, limit: int) -> bool:
    """A count from 1 to ``limit`` (counts arrive as ints or decimal strings)."""
    if value is None:
        return False
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return False
    return 1 <= number <= limit


def suppress_small_counts(performance: dict[str, Any], limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """A copy of a period's performance (``performance.selectors.compute_performance``) with small
    counts hidden, each hidden place flagged ``suppressed``, and ``suppression`` saying the rule."""
    out = copy.deepcopy(performance)
    if limit < 1:
        out["suppression"] = None
        return out
    hidden = False
    for row in out["measures"]:
        row["suppressed"] = is_small(row["numerator"], limit) or is_small(row["denominator"], limit)
        if row["suppressed"]:
            hidden = True
            for key in ("numerator", "denominator", "rate", "ci_low", "ci_high"):
                row[key] = None
    events = out["avoided_events"]
    for event in events["events"]:
        event["suppressed"] = is_small(event["actual"], limit)
        if event["suppressed"]:
            hidden = True
            for key in ("actual", "avoided", "value"):
                event[key] = None
    if any(event["suppressed"] for event in events["events"]):
        events["total"] = None
    counts = out["baseline"]["events"]
    for kind, count in list(counts.items()):
        if is_small(count, limit):
            hidden = True
            counts[kind] = None
    group = out.get("comparison_group")
    if group:
        for key in ("treated", "matched", "controls"):
            if is_small(group[key], limit):
                hidden = True
                group[key] = None
        if group["controls"] is None:
            group["control_pre_pmpm"] = group["control_post_pmpm"] = None
        for reason, count in list(group["unmatched"].items()):
            if is_small(count, limit):
                hidden = True
                group["unmatched"][reason] = None
    out["suppression"] = {"limit": limit, "applied": hidden}
    return out
