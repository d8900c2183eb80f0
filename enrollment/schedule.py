"""When a month's roster is due and which months a roster can be sent for (one rule, used by the
upload's checks, the reminders, the lateness sweep, the form and the workspace's worklist)."""

from __future__ import annotations

from datetime import date

from core.domain.months import day_of_month, next_month, shift_month


def due_date_for(month: date, due_day: int) -> date:
    """A month's roster is due on the contract's due day of the following month (clamped to its end)."""
    return day_of_month(next_month(month), due_day)


def earliest_month(today: date, retro_window_months: int) -> date:
    """The oldest month a roster can still be sent for: the retro window counts back from this month."""
    return shift_month(today.replace(day=1), -retro_window_months)


def latest_month(today: date) -> date:
    """The newest month a roster can be sent for: the month in progress (never a future one)."""
    return today.replace(day=1)
