"""Episode payments (docs/domain.md section 5, "Episodes"): what an episode bundle pays per episode and
in which month. No Django here.

An episode starts on the member's enrollment start and lasts the bundle's days (the start is day 1).
Its rate cell's rate is a case rate per episode, paid in ``installments`` equal monthly parts from the
episode's first month (the last part takes the cents a division leaves). A member who leaves before
the episode's last day (death, hospice, disenrollment) is an early exit: the episode is paid in full,
or prorated by the days enrolled over the episode's days, and settled in the month of the last day
enrolled: the installments of earlier months stand, that month gets what remains of the episode's
amount (negative when more was paid than is due), and later months get nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from core.domain.money import CENT, to_cents
from core.domain.months import first_of_month, shift_month

FULL, PRORATED = "full", "prorated"
EARLY_EXIT_RULES = (FULL, PRORATED)
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Episode:
    member_id: str
    start: dt.date  # the first day, the enrollment start
    days: int  # the bundle's episode length
    rate: Decimal  # the case rate of its rate cell
    last_day: dt.date | None = None  # the last day enrolled, when the roster ends the enrollment

    @property
    def end(self) -> dt.date:
        """The first day after the episode (exclusive)."""
        return episode_end(self.start, self.days)

    @property
    def exit_day(self) -> dt.date | None:
        """The last day enrolled when it is before the episode's last day (an early exit), else None."""
        if self.last_day is not None and self.last_day < self.end - dt.timedelta(days=1):
            return self.last_day
        return None

    @property
    def days_enrolled(self) -> int:
        exit_day = self.exit_day
        return self.days if exit_day is None else (exit_day - self.start).days + 1


def episode_end(start: dt.date, days: int) -> dt.date:
    """The first day after an episode of ``days`` days starting on ``start`` (day 1)."""
    if days < 1:
        raise ValueError("an episode lasts at least one day")
    return start + dt.timedelta(days=days)


def episode_amount(rate: Decimal, days: int, days_enrolled: int, early_exit: str) -> Decimal:
    """What the episode is worth: the case rate, or on an early exit under ``prorated`` the rate x
    days enrolled / days, rounded half-up to the cent."""
    if early_exit not in EARLY_EXIT_RULES:
        raise ValueError(f"early exit is one of {EARLY_EXIT_RULES}, not {early_exit!r}")
    if not 1 <= days_enrolled <= days:
        raise ValueError(f"days enrolled must be 1..{days}, got {days_enrolled}")
    if early_exit == PRORATED and days_enrolled < days:
        return to_cents(rate * days_enrolled / days)
    return to_cents(rate)


def installments(amount: Decimal, count: int) -> list[Decimal]:
    """``amount`` in ``count`` parts: each the amount / count cut down to the cent, the last one the
    rest, so that the parts add up to the amount exactly and none is negative."""
    if count < 1:
        raise ValueError("at least one installment")
    if amount < 0:
        raise ValueError("an episode amount cannot be negative")
    part = (amount / count).quantize(CENT, rounding=ROUND_DOWN)
    return [part] * (count - 1) + [amount - part * (count - 1)]


def schedule(episode: Episode, count: int, early_exit: str) -> dict[dt.date, Decimal]:
    """The amount due per month (first of the month) for ``episode``; months with nothing due are left
    out. The values add up to :func:`episode_amount` of the episode."""
    first = first_of_month(episode.start)
    parts = installments(to_cents(episode.rate), count)
    planned = {shift_month(first, k): part for k, part in enumerate(parts)}
    exit_day = episode.exit_day
    if exit_day is None:
        return {month: amount for month, amount in planned.items() if amount}
    exit_month = first_of_month(exit_day)
    due = {month: amount for month, amount in planned.items() if month < exit_month}
    total = episode_amount(episode.rate, episode.days, episode.days_enrolled, early_exit)
    due[exit_month] = total - sum(due.values(), ZERO)
    return {month: amount for month, amount in due.items() if amount}


def amounts_due(
    episodes: list[tuple[Episode, int, str]], through: dt.date
) -> dict[tuple[str, dt.date], Decimal]:
    """Per (member, month) up to and including the month ``through``: what every episode's schedule
    makes due (a member's episodes in the same month add up). Each item is (episode, installments,
    early-exit rule), the terms in force when the episode started."""
    due: dict[tuple[str, dt.date], Decimal] = {}
    for episode, count, early_exit in episodes:
        for month, amount in schedule(episode, count, early_exit).items():
            if month <= through:
                key = (episode.member_id, month)
                due[key] = due.get(key, ZERO) + amount
    return due
