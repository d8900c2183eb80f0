"""The roster rules of an episode bundle (docs/domain.md section 5, "Episodes"). No Django here.

An episode runs ``days`` days from the member's enrollment start (day 1). A roster row may not enrol a
member past the episode's last day: a row that ends later, or is open in a month that runs past it, is
an error on ``enrollment_end``. A member's next episode (a row starting after the last day of an episode
the contract already knows) is refused unless the terms allow renewal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from core.domain.problems import Problem

PAST_EPISODE_END = "past_episode_end"
EPISODE_RENEWAL_NOT_ALLOWED = "episode_renewal_not_allowed"
ONE_DAY = dt.timedelta(days=1)


class Row(Protocol):
    row: int
    member_id: str
    enrollment_start: dt.date
    enrollment_end: dt.date | None


def last_day(start: dt.date, days: int) -> dt.date:
    """The episode's last day (inclusive, as a roster writes it)."""
    return start + dt.timedelta(days=days - 1)


def roster_problems(
    rows: Sequence[Row],
    *,
    month_last_day: dt.date,
    days: int,
    renewal: bool,
    earlier_starts: Iterable[dt.date] = (),
) -> list[Problem]:
    """The errors of one member's rows in a month's roster of an episode contract.

    A member has one enrollment span per roster (its rows are tier periods; the roster's own checks
    refuse rows that disagree), so each row is checked against its own start. ``month_last_day`` is the
    roster month's last day (an open row runs to it); ``earlier_starts`` the enrollment starts of the
    member's episodes on earlier rosters of the contract. An earlier start whose episode is still
    running on this start is the same episode with a corrected start (the roster's start_changed
    warning), not a second one."""
    problems: list[Problem] = []
    for r in sorted(rows, key=lambda r: r.row):
        last = last_day(r.enrollment_start, days)
        through = r.enrollment_end or month_last_day
        if through > last:
            listed = (
                f"ends on {r.enrollment_end}" if r.enrollment_end else f"is open through {month_last_day}"
            )
            then = (
                f"; end the row on {last}, or list the new episode from {last + ONE_DAY} in its place"
                if renewal
                else f"; end the enrollment on {last} or earlier (this contract does not renew episodes)"
            )
            problems.append(
                Problem.at_cell(
                    r.row,
                    "enrollment_end",
                    PAST_EPISODE_END,
                    f"member {r.member_id}: the episode from {r.enrollment_start} ends on {last} ({days} days) "
                    f"but the row {listed}{then}",
                )
            )
    first = min(rows, key=lambda r: r.row)
    ended = [s for s in earlier_starts if last_day(s, days) < first.enrollment_start]
    if ended and not renewal:
        problems.append(
            Problem.at_cell(
                first.row,
                "enrollment_start",
                EPISODE_RENEWAL_NOT_ALLOWED,
                f"member {first.member_id} already had an episode from {max(ended)} on this contract; "
                f"a new episode from {first.enrollment_start} is not allowed: the contract does not renew "
                "episodes",
            )
        )
    return problems
