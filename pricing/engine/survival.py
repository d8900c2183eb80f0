"""How long an enrollee stays enrolled (docs/domain.md 4.5).

The expected months enrolled turn a PMPM into a cost per enrollee and an annual budget, spread
the initial assessment over the months it buys, and drive the Monte Carlo's months enrolled.

Convention used throughout (discrete monthly time): an enrollee is enrolled in month 1, and at
the end of month k leaves with the month's disenrollment probability h[k]. `S(k)` is the
probability of being enrolled more than k months, `S(0) = 1`, so the expected months enrolled
is `sum_{k>=0} S(k)`; it is summed to a horizon (default 120 months), which makes it the
restricted mean and keeps it finite when the hazards are zero.

Two sources: assumed monthly disenrollment probabilities by cause (death, hospice transfer,
other; exact Decimal arithmetic, because the result feeds money), or the program's own
enrollment spans through Kaplan-Meier (numpy, vectorised, censored at the data's end).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from core.domain.money import CALCULATION_CONTEXT


def disenrollment_hazards(disenrollment: Mapping[str, Sequence[Decimal]], horizon: int) -> list[Decimal]:
    """Total monthly disenrollment probability for months 1..horizon.

    Each cause gives one probability (the same every month) or one per month, the last value
    repeating; the causes are competing, so the month's total is their sum.
    """
    hazards = []
    with localcontext(CALCULATION_CONTEXT):
        for month in range(horizon):
            total = Decimal(0)
            for by_month in disenrollment.values():
                total += by_month[min(month, len(by_month) - 1)]
            hazards.append(total)
    return hazards


def survival_curve(hazards: Sequence[Decimal]) -> list[Decimal]:
    """S(0..H) from the monthly hazards h[1..H]: S(k) = S(k-1) * (1 - h[k])."""
    curve = [Decimal(1)]
    with localcontext(CALCULATION_CONTEXT):
        for h in hazards:
            curve.append(curve[-1] * (1 - h))
    return curve


def expected_months_enrolled(disenrollment: Mapping[str, Sequence[Decimal]], horizon: int = 120) -> Decimal:
    """Restricted mean months enrolled: sum of S(k) for k in 0..horizon-1.

    With a constant monthly probability q this is (1 - (1 - q) ** horizon) / q, i.e. about 1/q.
    """
    # A quote asks this once, and every what-if re-quote again for the same assumptions: 120 months of
    # 40-digit products, kept by value.
    causes = tuple((cause, tuple(by_month)) for cause, by_month in disenrollment.items())
    return _expected_months_enrolled(causes, horizon)


@lru_cache(maxsize=256)
def _expected_months_enrolled(causes: tuple[tuple[str, tuple[Decimal, ...]], ...], horizon: int) -> Decimal:
    curve = survival_curve(disenrollment_hazards(dict(causes), horizon))
    with localcontext(CALCULATION_CONTEXT):
        return sum(curve[:horizon], Decimal(0))


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan-Meier estimate of months enrolled.

    `survival[k]` = S(k) for k = 0..restricted_to; `at_risk[k]`, `events[k]` and `hazards[k]` are
    the enrollees still enrolled at month k, those who left at its end, and their ratio (index
    0 unused). `hazards[1:]` can be pasted into a pricing file's `disenrollment` as a monthly list.
    """

    survival: npt.NDArray[np.float64]
    at_risk: npt.NDArray[np.int64]
    events: npt.NDArray[np.int64]
    hazards: npt.NDArray[np.float64]
    expected_months: float
    restricted_to: int


def kaplan_meier(
    months_observed: npt.ArrayLike, disenrolled: npt.ArrayLike, *, horizon: int = 120
) -> KaplanMeierResult:
    """Kaplan-Meier on enrollment spans: months enrolled (>= 1) and whether the span ended.

    A span that had not ended (`disenrolled` false) is censored: the enrollee is known to have
    stayed at least that many months, and counts as at risk through its last month (censoring
    after the month's events, the usual KM tie rule). The expected months is the restricted
    mean up to the longest span observed (or `horizon` if shorter): beyond the data there is
    nothing to estimate from.
    """
    months = np.asarray(months_observed, dtype=np.int64)
    events_flag = np.asarray(disenrolled, dtype=bool)
    if months.ndim != 1 or months.shape != events_flag.shape or months.size == 0:
        raise ValueError("months_observed and disenrolled must be two non-empty 1-D arrays of one length")
    if months.min() < 1:
        raise ValueError("every span has at least one month enrolled")
    tau = int(min(horizon, months.max()))
    beyond = months > tau  # enrolled past the horizon: censored at it
    months = np.where(beyond, tau, months)
    events_flag = events_flag & ~beyond
    spans_ending = np.bincount(months, minlength=tau + 1)
    events = np.bincount(months[events_flag], minlength=tau + 1)
    at_risk = spans_ending[::-1].cumsum()[::-1]  # at_risk[k] = spans with months >= k
    hazards = np.zeros(tau + 1)
    hazards[1:] = events[1:] / at_risk[1:]
    survival = np.ones(tau + 1)
    survival[1:] = np.cumprod(1.0 - hazards[1:])
    return KaplanMeierResult(
        survival=survival,
        at_risk=at_risk,
        events=events,
        hazards=hazards,
        expected_months=float(survival[:tau].sum()),
        restricted_to=tau,
    )


def kaplan_meier_spans(
    start_month: npt.ArrayLike,
    months_observed: npt.ArrayLike,
    disenrolled: npt.ArrayLike,
    *,
    data_end_month: int,
    horizon: int = 120,
) -> KaplanMeierResult:
    """Kaplan-Meier on spans given by start month (see `month_index`), censored at the data's end.

    A span is observed at most through `data_end_month` (the last month the data covers): any
    span reaching past it is cut there and censored, whatever its recorded end. This is how an
    open enrollment (no end yet) is passed: months_observed = its months so far, disenrolled false.
    """
    start = np.asarray(start_month, dtype=np.int64)
    months = np.asarray(months_observed, dtype=np.int64)
    flag = np.asarray(disenrolled, dtype=bool)
    if (start > data_end_month).any():
        raise ValueError("a span starts after the end of the data")
    observable = data_end_month - start + 1
    cut = months > observable
    return kaplan_meier(np.where(cut, observable, months), flag & ~cut, horizon=horizon)
