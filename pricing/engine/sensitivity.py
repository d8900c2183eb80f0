"""Sensitivity: each ranged assumption moved across its range, one at a time, the rest at their point.

Two questions, both asked of one rate cell's market and line of business:
- **the rate**: the cell's PMPM priced again at every point (what the assumption does to the price);
- **the probability of a loss** at the run's rates: the contract is signed at the quoted rates, and
  the year is simulated with the moved assumption as the true one (what the assumption does to the
  provider's risk). Every point uses the same seed, so the random years are the same and only the
  assumption differs (common random numbers: a higher cost can only make a loss more likely).

The ranges are those the pricing file declares (`assumptions.ranges`), the same ones that bracket
the low and high rates. Plain data in and out; no Django.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from core.domain.money import cents_str
from pricing.engine.buildup import quote
from pricing.engine.montecarlo import contract_year_model, run_monte_carlo
from pricing.engine.scenarios import part_label
from pricing.engine.schema import parse_pricing_file

DEFAULT_POINTS = 5


def range_points(low: Decimal, high: Decimal, points: int) -> list[Decimal]:
    """``points`` values evenly from ``low`` to ``high``, both ends included exactly."""
    if points < 2 or low == high:
        return [low]
    step = (high - low) / (points - 1)
    return [low, *(low + step * i for i in range(1, points - 1)), high]


def _moved(document: Mapping[str, Any], key: str, value: Decimal) -> dict[str, Any]:
    out = copy.deepcopy(dict(document))
    out["assumptions"] = {**out["assumptions"], key: format(value.normalize(), "f")}
    return out


def sensitivity(
    document: Mapping[str, Any],
    *,
    tier: str,
    market: str,
    lob: str | None,
    referrals_per_year: float,
    tier_mix: Mapping[str, float],
    n_years: int,
    seed: int,
    minutes_cv: float = 0.3,
    first_year: bool = False,
    points: int = DEFAULT_POINTS,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """The tornado of one rate cell: per ranged assumption, its points, the cell's PMPM and the
    probability of a loss at each, and the swing of each (largest minus smallest), largest first.

    ``on_progress(done, total, message)`` is called after each point (it may raise to cancel).
    The probability of a loss is None for an episode bundle (the contract-year model is monthly).
    """
    pf = parse_pricing_file(document)
    base = pf.to_dict()
    lobs = None if lob is None else [lob]
    quoted = quote(pf, markets=[market], lobs=lobs)
    rates = {r["tier"]: r["pmpm"] for r in quoted["rates"]}
    fee = quoted["assessment_fee"].get(market)
    monthly = pf.bundle.period.type == "monthly"

    def loss(doc: Mapping[str, Any]) -> float | None:
        if not monthly or n_years <= 0:
            return None
        model = contract_year_model(
            doc,
            market=market,
            referrals_per_year=referrals_per_year,
            tier_mix=tier_mix,
            pmpm_by_tier=rates,  # the run's rates: the contract does not move with the assumption
            assessment_fee=fee,
            lob=lob,
            minutes_cv=minutes_cv,
            first_year=first_year,
        )
        return float(
            run_monte_carlo(model, n_years=n_years, seed=seed)["provider_margin"]["probability_of_loss"]
        )

    ranges = pf.assumptions.ranges
    total = len(ranges) * points + 1
    done = 0

    def step(message: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total, message)

    point_loss = loss(base)
    step("The run's own assumptions")
    rows: list[dict[str, Any]] = []
    for key, (low, high) in ranges.items():
        values = range_points(low, high, points)
        pmpms: list[Decimal] = []
        losses: list[float | None] = []
        for value in values:
            moved = _moved(base, key, value)
            cell = next(r for r in quote(moved, markets=[market], lobs=lobs)["rates"] if r["tier"] == tier)
            pmpms.append(Decimal(cell["pmpm"]))
            losses.append(loss(moved))
            step(f"{part_label('assumptions.' + key)} at {format(value.normalize(), 'f')}")
        known = [p for p in losses if p is not None]
        rows.append(
            {
                "assumption": key,
                "label": part_label(f"assumptions.{key}"),
                "point": format(Decimal(str(base["assumptions"][key])), "f"),
                "values": [format(v.normalize(), "f") for v in values],
                "pmpm": [cents_str(p) for p in pmpms],
                "probability_of_loss": [None if p is None else round(p, 6) for p in losses],
                "pmpm_swing": cents_str(max(pmpms) - min(pmpms)),
                "loss_swing": round(max(known) - min(known), 6) if known else None,
            }
        )
    rows.sort(key=lambda r: (-Decimal(str(r["pmpm_swing"])), str(r["assumption"])))
    return {
        "tier": tier,
        "market": market,
        "lob": lob,
        "pmpm": rates[tier],
        "assessment_fee": fee,
        "probability_of_loss": None if point_loss is None else round(point_loss, 6),
        "n_years": n_years if monthly else 0,
        "seed": seed,
        "points": points,
        "assumptions": rows,
        "by_loss": [
            r["assumption"] for r in sorted(rows, key=lambda r: (-(r["loss_swing"] or 0), r["assumption"]))
        ],
    }


def _loss_order(row: Mapping[str, Any]) -> tuple[float, str]:
    return -float(row["loss_swing"] or 0), str(row["assumption"])
