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
from collections.abc import Iterable, Mapping
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

PaidCell = tuple[str, dt.date, dt.date, Decimal]  # (category, incurred month, paid month, amount)


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


def paid_triangle_cells(
    rows: Iterable[tuple[str, dt.date, dt.date, Decimal]], as_of: dt.date
) -> dict[tuple[str, dt.date, dt.date], Decimal]:
    """Paid amounts summed by (category, incurred month, paid month), for payments up to ``as_of``."""
    last = first_of_month(as_of)
    cells: dict[tuple[str, dt.date, dt.date], Decimal] = {}
    for category, incurred, paid_on, amount in rows:
        paid_month = first_of_month(paid_on)
        if paid_month > last:
            continue  # not paid yet as of the valuation date
        key = (category, first_of_month(incurred), max(paid_month, first_of_month(incurred)))
        cells[key] = cells.get(key, ZERO) + amount
    return cells


def month_completions(
    cells: Mapping[tuple[str, dt.date, dt.date], Decimal], as_of: dt.date
) -> dict[tuple[str, dt.date], MonthCompletion]:
    """Completion of every (category, incurred month) in ``cells``, valued at the month of ``as_of``."""
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
        known = completions.get(key)
        total_paid += amount
        if known is None or known.completion >= ONE or amount == 0:
            total += amount
            continue
        fitted = fitted or known.fitted
        share = amount / known.paid if known.paid else ZERO  # this group's part of the book's month
        total += amount / known.completion
        spread += share * known.std_error
    completed_total = to_cents(total)
    margin = to_cents(Z95 * spread)
    return Completed(
        paid=to_cents(total_paid),
        completed=completed_total,
        low=max(to_cents(total_paid), completed_total - margin),
        high=completed_total + margin,
        fitted=fitted,
    )


def _fit(category: str, cells: Mapping[tuple[dt.date, dt.date], Decimal]) -> dict[dt.date, MonthCompletion]:
    origins = sorted({incurred for incurred, _ in cells})
    paid_by_origin: dict[dt.date, Decimal] = {}
    for (incurred, _), amount in cells.items():
        paid_by_origin[incurred] = paid_by_origin.get(incurred, ZERO) + amount

    def unfitted() -> dict[dt.date, MonthCompletion]:
        return {
            month: MonthCompletion(category, month, to_cents(paid), ONE, to_cents(paid), ZERO, False)
            for month, paid in paid_by_origin.items()
        }

    if len(origins) < MIN_ORIGINS:
        return unfitted()
    ultimates, errors = _mack(cells)
    if ultimates is None:
        return unfitted()
    result = {}
    for month in origins:
        paid = to_cents(paid_by_origin[month])
        ultimate = ultimates.get(month)
        error = errors.get(month, 0.0)
        if ultimate is None or not math.isfinite(ultimate) or ultimate <= 0 or paid <= 0:
            result[month] = MonthCompletion(category, month, paid, ONE, paid, ZERO, False)
            continue
        ultimate_cents = max(paid, to_cents(Decimal(repr(ultimate))))
        completion = min(ONE, round_half_up(paid / ultimate_cents, COMPLETION_PLACES))
        std_error = to_cents(Decimal(repr(error))) if math.isfinite(error) else ZERO
        result[month] = MonthCompletion(category, month, paid, completion, ultimate_cents, std_error, True)
    return result


def _mack(
    cells: Mapping[tuple[dt.date, dt.date], Decimal],
) -> tuple[dict[dt.date, float] | None, dict[dt.date, float]]:
    """Ultimates and Mack standard errors by incurred month, from incremental paid cells."""
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
            triangle = cl.Triangle(  # type: ignore[abstract]  # the library declares methods it adds at run time
                frame,
                origin="origin",
                development="paid_month",
                columns="paid",
                cumulative=False,
                origin_format="%Y-%m-%d",
                development_format="%Y-%m-%d",
            ).incr_to_cum()
            # Mack's own extrapolation of the last sigma, so the errors are those of Mack (1993).
            development = cl.Development(average="volume", sigma_interpolation="mack")
            model = cl.MackChainladder().fit(development.fit_transform(triangle))
            ultimate = model.ultimate_.to_frame(origin_as_datetime=True)
            error = model.mack_std_err_.to_frame(origin_as_datetime=True)
    except (ValueError, ZeroDivisionError, IndexError, KeyError, TypeError):
        return None, {}
    ultimates = {first_of_month(index.date()): float(row.iloc[-1]) for index, row in ultimate.iterrows()}
    errors = {first_of_month(index.date()): float(row.iloc[-1]) for index, row in error.iterrows()}
    return ultimates, errors
