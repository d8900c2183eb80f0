"""Phases of enrollment: a bundle may pay a higher rate for a member's first months than after.

No Django here. A bundle's definition may list phases, each starting at a month of continuous
enrollment (the first at month 1), and give each role its own effort per phase and tier
(``roles[].by_phase[phase][tier]``, falling back to the role's ``by_tier`` where a phase says
nothing). Pricing prices each phase on its effort; a contract carries a rate per phase; a payment
picks the phase from the member's months since the start of its enrollment with the provider, as the
paid month's roster states it, the paid month included (docs/domain.md, "Phased rates"). A new
enrollment start (after a gap) starts the phases again; a change of tier does not.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.domain.months import months_between, shift_month

#: The latest month of enrollment a phase may start at (two years).
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


def months_enrolled(enrollment_start: dt.date, month: dt.date) -> int:
    """The paid ``month``'s place in the enrollment that began on ``enrollment_start``: 1 for the month
    it began in (whatever the day), 2 for the next, and so on."""
    return months_between(enrollment_start, month) + 1


def phase_cutoffs(bundle_phases: Sequence[Phase], month: dt.date) -> list[tuple[str, dt.date]]:
    """For each phase after the first, latest first: the day an enrollment must have begun before to be
    in that phase (or a later one) in ``month``. The same rule as :func:`phase_of` over
    :func:`months_enrolled`, as dates, so that a database can pick the phase with one comparison each."""
    return [(p.code, shift_month(month, 2 - p.from_month)) for p in reversed(bundle_phases[1:])]


def phase_definition(definition: dict[str, Any], code: str) -> dict[str, Any]:
    """The definition as priced for one phase: each role's ``by_tier`` is its effort in that phase
    (the phase's own effort per tier where it gives one, the role's ``by_tier`` elsewhere), and the
    result has no phases, so that the pricing engine prices it like any bundle."""
    if code not in {p.code for p in phases(definition)}:
        raise KeyError(f"no phase {code!r} in this bundle")
    priced = copy.deepcopy(definition)
    del priced["phases"]  # there are phases: the code is one of them
    for role in priced.get("roles", []):
        own = (role.pop("by_phase", None) or {}).get(code) or {}
        role["by_tier"] = {**(role.get("by_tier") or {}), **own}
    return priced
