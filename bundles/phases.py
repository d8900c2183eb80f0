"""Phases of enrollment: a bundle may pay a higher rate for a member's first months than after.

No Django here. A bundle's definition may list phases, each starting at a month of continuous
enrollment (the first at month 1), and give each role its own effort per phase and tier
(``roles[].by_phase[phase][tier]``, falling back to the role's ``by_tier`` where a phase says
nothing). Pricing prices each phase on its effort; a contract carries a rate per phase; a payment
picks the phase from the member's months of continuous enrollment under the contract, counted up to
and including the month paid (docs/domain.md, "Phased rates").
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.domain.months import shift_month

#: The latest month a phase may start at: a payment looks back this far at most.
MAX_PHASE_START = 24


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase of enrollment: it starts at ``from_month`` (1 = the month enrollment starts)."""

    code: str
    name: str
    from_month: int


def phases(definition: dict[str, Any]) -> tuple[Phase, ...]:
    """The bundle's phases in order; empty for a bundle paid one rate whatever the month."""
    return tuple(
        Phase(str(p["code"]), str(p.get("name") or p["code"]), int(p["from_month"]))
        for p in definition.get("phases") or []
    )


def phase_of(months_enrolled: int, bundle_phases: Sequence[Phase]) -> str:
    """The code of the phase a member is in after ``months_enrolled`` months of continuous enrollment
    (this month included, so at least 1); '' when the bundle has no phases."""
    if months_enrolled < 1:
        raise ValueError("a member paid for a month has at least one month of enrollment")
    code = ""
    for phase in bundle_phases:
        if phase.from_month <= months_enrolled:
            code = phase.code
    return code


def continuous_months(enrolled: Iterable[dt.date], month: dt.date, *, limit: int = MAX_PHASE_START) -> int:
    """How many months in a row, ending with ``month``, the member was enrolled (``enrolled``: the first
    days of the months with enrollment); counting stops at ``limit``, the most a phase needs."""
    months = set(enrolled)
    count = 0
    while count < limit and shift_month(month, -count) in months:
        count += 1
    return count


def look_back(bundle_phases: Sequence[Phase]) -> int:
    """How many months before the paid month decide its phase (the last phase's start, less one)."""
    return max((p.from_month for p in bundle_phases), default=1) - 1


def phase_definition(definition: dict[str, Any], code: str) -> dict[str, Any]:
    """The definition as priced for one phase: each role's ``by_tier`` is its effort in that phase
    (the phase's own effort per tier where it gives one, the role's ``by_tier`` elsewhere), and the
    result has no phases, so that the pricing engine prices it like any bundle."""
    if code not in {p.code for p in phases(definition)}:
        raise KeyError(f"no phase {code!r} in this bundle")
    priced = copy.deepcopy(definition)
    priced.pop("phases", None)
    for role in priced.get("roles", []):
        own = (role.pop("by_phase", None) or {}).get(code) or {}
        role["by_tier"] = {**(role.get("by_tier") or {}), **own}
    return priced
