"""Run-out and completion: how much of each month's cost has been paid yet, and what it will come to.

Claims arrive months after the service. From the plan's paid claims, by the month a cost was
incurred and the month it was paid, we build one development triangle per service category and fit
the chain ladder to it (chainladder-python: volume-weighted development factors, and Mack's
standard error of each month's ultimate). A month's **completion** is what has been paid for it
divided by its estimated ultimate; its **completed estimate** is that ultimate, with a 95% range
of 1.96 Mack standard errors either side.

A period's range adds its months' standard errors (as if their errors moved together): wider than
Mack's own total, never narrower. Figures are Decimals; the fit runs in floats inside the library,
and what we publish is rounded once, to the cent (amounts) or to 6 places (completion).

Pure: no Django. chainladder (and pandas) load on first use: only pages that show completion pay
for the import.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.domain.money import round_half_up, to_cents
from core.domain.months import first_of_month

Z95 = Decimal("1.959964")  # two-sided 95% of the normal distribution
COMPLETION_PLACES = 6
ONE = Decimal(1)
ZERO = Decimal("0.00")
#: Months with fewer origins than this cannot be fitted: they are taken as complete, and said so.
MIN_ORIGINS = 3


@dataclass(frozen=True)
class MonthCompletion:
    """One incurred month of one service category, valued at ``as_of``."""

    category: str
    month: dt.date
    paid: Decimal  # paid to date
    completion: Decimal  # paid / ultimate, 0 < completion <= 1
    ultimate: Decimal  # the completed estimate
    std_error: Decimal  # Mack's standard error of the ultimate
    fitted: bool  # False: too little history to fit; taken as complete


@dataclass(frozen=True)
class Completed:
    """Some months' cost, paid and completed: a contract's members in a period, say."""

    paid: Decimal
    completed: Decimal
    low: Decimal
    high: Decimal
    fitted: bool

    @property
    def completion(self) -> Decimal:
        if self.completed <= 0:
            return ONE
        return min(ONE, round_half_up(self.paid / self.completed, COMPLETION_PLACES))


def month_completions(
    cells: Mapping[tuple[str, dt.date, dt.date], Decimal],
) -> dict[tuple[str, dt.date], MonthCompletion]:
    """Completion of every (category, incurred month) in ``cells``, valued at the latest paid month
    they hold (the plan's claims as they stand)."""
    by_category: dict[str, dict[tuple[dt.date, dt.date], Decimal]] = {}
    for (category, incurred, paid_month), amount in cells.items():
        by_category.setdefault(category, {})[(incurred, paid_month)] = amount
    result: dict[tuple[str, dt.date], MonthCompletion] = {}
    for category, category_cells in sorted(by_category.items()):
        for month, completion in _fit(category, category_cells).items():
            result[(category, month)] = completion
    return result


def completed(
    paid: Mapping[tuple[str, dt.date], Decimal], completions: Mapping[tuple[str, dt.date], MonthCompletion]
) -> Completed:
    """Complete ``paid`` (category, incurred month -> paid to date, e.g. one contract's members) with the
    book's completion of each category and month. A cell with no completion is taken as complete."""
    total_paid = total = spread = ZERO
    fitted = False
    for key, amount in paid.items():
        total_paid += amount
        known = completions.get(key)
        if known is None:
            total += amount
            continue
        fitted = fitted or known.fitted
        total += amount / known.completion
        if known.paid:  # the group's share of the book's month carries that share of its error
            spread += amount / known.paid * known.std_error
    completed_total = to_cents(total)
    margin = to_cents(Z95 * spread)
    return Completed(
        paid=to_cents(total_paid),
        completed=completed_total,
        low=max(to_cents(total_paid), completed_total - margin),
        high=completed_total + margin,
        fitted=fitted,
    )


def _complete(category: str, month: dt.date, paid: Decimal) -> MonthCompletion:
    """A month taken as complete: too little history to fit, or nothing paid to project from."""
    return MonthCompletion(category, month, to_cents(paid), ONE, to_cents(paid), ZERO, False)


def _fit(category: str, cells: Mapping[tuple[dt.date, dt.date], Decimal]) -> dict[dt.date, MonthCompletion]:
    paid_by_origin: dict[dt.date, Decimal] = {}
    for (incurred, _), amount in cells.items():
        paid_by_origin[incurred] = paid_by_origin.get(incurred, ZERO) + amount
    fit = _mack(cells) if len(paid_by_origin) >= MIN_ORIGINS else None
    if fit is None:
        return {month: _complete(category, month, paid) for month, paid in paid_by_origin.items()}
    result = {}
    for month, paid in paid_by_origin.items():
        ultimate, error = fit[month]
        if not paid > 0 or not math.isfinite(ultimate):  # nothing paid, or factors from nothing paid
            result[month] = _complete(category, month, paid)
            continue
        ultimate_cents = max(to_cents(paid), to_cents(Decimal(repr(ultimate))))
        completion = min(ONE, round_half_up(paid / ultimate_cents, COMPLETION_PLACES))
        # The oldest month has no error (nothing left to develop): chainladder leaves it NaN.
        std_error = to_cents(Decimal(repr(error))) if math.isfinite(error) else ZERO
        result[month] = MonthCompletion(
            category, month, to_cents(paid), completion, ultimate_cents, std_error, True
        )
    return result


def _mack(cells: Mapping[tuple[dt.date, dt.date], Decimal]) -> dict[dt.date, tuple[float, float]] | None:
    """(ultimate, Mack standard error) by incurred month, from incremental paid cells; None when the
    library cannot fit them."""
    import warnings

    import chainladder as cl
    import pandas as pd

    frame = pd.DataFrame(
        [
            {"origin": pd.Timestamp(incurred), "paid_month": pd.Timestamp(paid_month), "paid": float(amount)}
            for (incurred, paid_month), amount in cells.items()
        ]
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            triangle = cl.Triangle(  # type: ignore[abstract]  # the library adds those methods at run time
                frame, origin="origin", development="paid_month", columns="paid", cumulative=False
            ).incr_to_cum()
            # Volume-weighted factors (the default) with Mack's own extrapolation of the last sigma, so
            # the errors are those of Mack (1993).
            development = cl.Development(sigma_interpolation="mack")
            summary = cl.MackChainladder().fit(development.fit_transform(triangle)).summary_
            frame = summary.to_frame(origin_as_datetime=True)
    except (ValueError, ZeroDivisionError, IndexError, KeyError, TypeError):
        return None
    return {
        first_of_month(index.date()): (float(row["Ultimate"]), float(row["Mack Std Err"]))
        for index, row in frame.iterrows()
    }
