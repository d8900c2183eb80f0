"""Scenarios: pricing runs side by side, and the walk that explains what moved a rate.

The walk starts from run A's pricing file and swaps in run B's value of one part at a time (the
bundle's parts, the experience, then each assumption in the file's order), quoting after every
swap. A step's change is the difference of two quotes already rounded to the cent, so the steps
add up to B's rate minus A's rate exactly: nothing is left over for a "rounding" line. A swap the
engine cannot price on its own (B's salaries name a market only B's markets have) is taken
together with the next one, and the step names every part it swapped.

Plain data in and out, no Django: the pages, the API and the exports all show the same numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.domain.money import cents_str, round_half_up
from pricing.engine.buildup import quote
from pricing.engine.schema import PricingInputError, parse_pricing_file

#: A rate cell: (tier, market, line of business or None).
Cell = tuple[str, str, str | None]

#: The parts of a pricing file the walk swaps, in the order it swaps them, with what a person calls
#: them. A part not listed (a later engine's new assumption) is swapped after these, by its key.
PARTS: dict[str, str] = {
    "bundle.tiers": "Tiers",
    "bundle.period": "Payment period",
    "bundle.roles": "Care team: visits, visit minutes and coordination per role",
    "bundle.home_share": "Share of visits at home",
    "bundle.assessment": "Initial assessment",
    "experience": "Experience data",
    "assumptions.salaries": "Salaries",
    "assumptions.benefits_load": "Benefits load",
    "assumptions.productivity": "Productivity",
    "assumptions.markets": "Markets: travel time and miles per visit",
    "assumptions.mileage_rate": "Mileage rate",
    "assumptions.supplies_pmpm": "Supplies PMPM",
    "assumptions.on_call_pmpm": "On-call PMPM",
    "assumptions.technology_pmpm": "Technology PMPM",
    "assumptions.admin_load": "Administrative load",
    "assumptions.margin": "Margin",
    "assumptions.annual_trend": "Annual trend",
    "assumptions.base_period_midpoint": "Base period midpoint",
    "assumptions.rating_period_midpoint": "Rating period midpoint",
    "assumptions.full_credibility_member_months": "Full-credibility member-months",
    "assumptions.conversion_rate": "Referral-to-enrollment conversion rate",
    "assumptions.disenrollment": "Disenrollment (death, hospice, other)",
    "assumptions.enrollment_horizon_months": "Enrollment horizon",
    "assumptions.lob_factors": "Line-of-business factors",
    "assumptions.ranges": "Ranges of the low and high rates",
    "assumptions.vbp_bonus_share": "Value-based bonus share",
    "assumptions.tcoc_baseline_pmpm": "Total cost of care baseline",
    "assumptions.tcoc_savings_rate": "Total cost of care savings rate",
    "assumptions.shared_savings_rate": "Shared savings rate",
    "assumptions.ffs_conversion_factor": "Fee-for-service conversion factor",
    "assumptions.ffs_locality": "Fee-for-service locality",
}
#: Parts that name or describe and never price: never a step.
_NOT_PRICED = {"bundle.name"}


def part_label(part: str) -> str:
    return PARTS.get(part) or part.split(".")[-1].replace("_", " ").capitalize()


def canonical(document: Mapping[str, Any]) -> dict[str, Any]:
    """The pricing file with every default written out, so equal inputs compare equal."""
    return parse_pricing_file(document).to_dict()


def _parts(start: Mapping[str, Any], end: Mapping[str, Any]) -> list[str]:
    """The parts whose values differ between the two files, in walk order."""
    found: list[str] = []
    for section in ("bundle", "experience", "assumptions"):
        a, b = start.get(section), end.get(section)
        if section == "experience" or not isinstance(a, Mapping) or not isinstance(b, Mapping):
            if a != b:
                found.append(section)
            continue
        found += [
            f"{section}.{key}" for key in (*a, *(k for k in b if k not in a)) if a.get(key) != b.get(key)
        ]
    order = list(PARTS)
    found = [part for part in found if part not in _NOT_PRICED]
    return sorted(found, key=lambda p: (order.index(p) if p in order else len(order), p))


def _swap(document: dict[str, Any], end: Mapping[str, Any], part: str) -> None:
    """Put ``end``'s value of ``part`` into ``document`` (removing it where ``end`` has none)."""
    *parents, key = part.split(".")
    target: dict[str, Any] = document
    source: Any = end
    for name in parents:
        target = target.setdefault(name, {})
        source = source.get(name, {}) if isinstance(source, Mapping) else {}
    if isinstance(source, Mapping) and key in source:
        target[key] = copy.deepcopy(source[key])
    else:
        target.pop(key, None)


@dataclass(frozen=True)
class Priced:
    """The figures the walk follows: the PMPM of every rate cell and each market's assessment fee."""

    rates: dict[Cell, Decimal]
    fees: dict[str, Decimal]


def _price(document: Mapping[str, Any], markets: Sequence[str], lobs: Sequence[str] | None) -> Priced | None:
    try:
        quoted = quote(document, markets=markets, lobs=lobs)
    except PricingInputError:
        return None
    return Priced(
        rates={(r["tier"], r["market"], r["lob"]): Decimal(r["pmpm"]) for r in quoted["rates"]},
        fees={market: Decimal(fee) for market, fee in quoted["assessment_fee"].items()},
    )


@dataclass(frozen=True)
class WalkStep:
    parts: tuple[str, ...]
    after: Priced

    @property
    def label(self) -> str:
        return " + ".join(part_label(p) for p in self.parts)


@dataclass(frozen=True)
class Walk:
    """From ``start`` to ``end`` one swap at a time; ``cells`` and ``markets`` are what both price."""

    cells: tuple[Cell, ...]
    markets: tuple[str, ...]
    start: Priced
    steps: tuple[WalkStep, ...]

    @property
    def end(self) -> Priced:
        return self.steps[-1].after if self.steps else self.start

    def rate_changes(self, cell: Cell) -> list[Decimal]:
        """Each step's change of the cell's PMPM; they add up to ``end - start``."""
        before = [self.start, *(s.after for s in self.steps)]
        return [
            after.rates[cell] - prior.rates[cell] for prior, after in zip(before, before[1:], strict=False)
        ]

    def fee_changes(self, market: str) -> list[Decimal]:
        before = [self.start, *(s.after for s in self.steps)]
        return [
            after.fees.get(market, Decimal(0)) - prior.fees.get(market, Decimal(0))
            for prior, after in zip(before, before[1:], strict=False)
        ]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the steps, then per cell and per market the start, the end and each step's change."""
        return {
            "steps": [{"parts": list(s.parts), "label": s.label} for s in self.steps],
            "rates": [
                {
                    "tier": cell[0],
                    "market": cell[1],
                    "lob": cell[2],
                    "start": cents_str(self.start.rates[cell]),
                    "end": cents_str(self.end.rates[cell]),
                    "change": cents_str(self.end.rates[cell] - self.start.rates[cell]),
                    "steps": [cents_str(c) for c in self.rate_changes(cell)],
                }
                for cell in self.cells
            ],
            "assessment_fees": [
                {
                    "market": market,
                    "start": cents_str(self.start.fees.get(market, Decimal(0))),
                    "end": cents_str(self.end.fees.get(market, Decimal(0))),
                    "change": cents_str(
                        self.end.fees.get(market, Decimal(0)) - self.start.fees.get(market, Decimal(0))
                    ),
                    "steps": [cents_str(c) for c in self.fee_changes(market)],
                }
                for market in self.markets
            ],
        }


class NothingInCommon(ValueError):
    """The two runs price no rate cell in common (no shared tier, market or line of business)."""


def rate_walk(
    start: Mapping[str, Any],
    end: Mapping[str, Any],
    *,
    markets: Sequence[str],
    lobs: Sequence[str] | None,
) -> Walk:
    """Walk from ``start``'s rates to ``end``'s over ``markets`` x ``lobs`` (those both runs priced).

    Raises ``PricingInputError`` if either file cannot be priced, ``NothingInCommon`` when the two
    share no rate cell.
    """
    start_doc, end_doc = canonical(start), canonical(end)
    first = quote(start_doc, markets=markets, lobs=lobs)
    last = quote(end_doc, markets=markets, lobs=lobs)
    in_end = {(r["tier"], r["market"], r["lob"]) for r in last["rates"]}
    cells = tuple(c for c in ((r["tier"], r["market"], r["lob"]) for r in first["rates"]) if c in in_end)
    if not cells:
        raise NothingInCommon("The two runs have no rate cell in common.")
    start_priced = _price(start_doc, markets, lobs)
    assert start_priced is not None  # quoted above
    document = copy.deepcopy(start_doc)
    steps: list[WalkStep] = []
    pending: list[str] = []
    for part in _parts(start_doc, end_doc):
        _swap(document, end_doc, part)
        pending.append(part)
        priced = _price(document, markets, lobs)
        if priced is not None:
            steps.append(WalkStep(tuple(pending), priced))
            pending = []
    if pending:  # cannot happen: after the last swap the document is ``end``, which priced above
        raise AssertionError(f"the walk could not price {pending}")
    return Walk(cells=cells, markets=tuple(dict.fromkeys(markets)), start=start_priced, steps=tuple(steps))


# --- what-if -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIf:
    """The levers of the what-if page: each None (or a zero wage change) leaves its assumption alone."""

    conversion_rate: Decimal | None = None
    productivity: Decimal | None = None
    wage_change: Decimal = Decimal(0)  # 0.05: every salary 5% higher
    enrollment_change: Decimal = Decimal(0)  # 0.5: every market's enrollees half as many again

    def changes(self) -> bool:
        return (
            self.conversion_rate is not None
            or self.productivity is not None
            or self.wage_change != 0
            or self.enrollment_change != 0
        )


def what_if_enrollees(enrollees: Mapping[str, int], what_if: WhatIf) -> dict[str, int]:
    """Each market's enrollees a year moved by the enrollment change, to whole people (half up), at
    least one: a market keeps its own figure, scaled, never another market's."""
    factor = 1 + what_if.enrollment_change
    return {market: max(1, int(round_half_up(Decimal(n) * factor, 0))) for market, n in enrollees.items()}


def what_if_assumptions(assumptions: Mapping[str, Any], what_if: WhatIf) -> dict[str, Any]:
    """The assumptions with the what-if's values. Salaries (by default and by market) move by the wage
    change, to the cent; a productivity outside its declared range widens the range to include it,
    since the range only brackets the point for the low and high rates."""
    out = copy.deepcopy(dict(assumptions))
    if what_if.conversion_rate is not None:
        out["conversion_rate"] = format(what_if.conversion_rate, "f")
    if what_if.productivity is not None:
        point = what_if.productivity
        out["productivity"] = format(point, "f")
        ranges = out.get("ranges") or {}
        if "productivity" in ranges:
            low, high = ranges["productivity"]
            if point < Decimal(str(low)):
                low = format(point, "f")
            if point > Decimal(str(high)):
                high = format(point, "f")
            ranges["productivity"] = [low, high]
    if what_if.wage_change:
        factor = 1 + what_if.wage_change
        for salary in (out.get("salaries") or {}).values():
            if salary.get("default") is not None:
                salary["default"] = cents_str(Decimal(str(salary["default"])) * factor)
            for market, value in (salary.get("markets") or {}).items():
                salary["markets"][market] = cents_str(Decimal(str(value)) * factor)
    return out


# --- side by side ----------------------------------------------------------------------------------


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for index, item in enumerate(value):
            name = item.get("role") or item.get("code") or index  # roles and markets by their code
            _flatten({k: v for k, v in item.items() if k not in ("role", "code")}, f"{path}[{name}]", out)
    else:
        out[path] = value


def input_differences(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every input value that is not the same in all the files: [{path, values (one per file, None if absent)}]."""
    flat: list[dict[str, Any]] = []
    for document in documents:
        leaves: dict[str, Any] = {}
        _flatten(document, "", leaves)
        flat.append(leaves)
    paths = list(dict.fromkeys(p for leaves in flat for p in leaves))
    rows = []
    for path in paths:
        values = [leaves.get(path) for leaves in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append({"path": path, "values": [None if v is None else _text(v) for v in values]})
    return rows


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _changes(values: list[Decimal | None]) -> list[str | None]:
    base = values[0]
    return [None if base is None or v is None else cents_str(v - base) for v in values]


def side_by_side(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Runs' results in columns (the first is the baseline): rates by cell, fees, labour, budgets, risk.

    Each row has ``values`` (one per run, None where a run does not price it) and ``changes``
    against the first run. Rows follow the first run that has them.
    """
    quotes = [r.get("quote") or {} for r in results]

    def by_cell(q: Mapping[str, Any]) -> dict[Cell, Mapping[str, Any]]:
        return {(r["tier"], r["market"], r["lob"]): r for r in q.get("rates", [])}

    rates_by_run = [by_cell(q) for q in quotes]
    cells = list(dict.fromkeys(c for rates in rates_by_run for c in rates))
    rates = []
    labour = []
    for cell in cells:
        values = [_decimal(rates.get(cell, {}).get("pmpm")) for rates in rates_by_run]
        rates.append(
            {
                "tier": cell[0],
                "market": cell[1],
                "lob": cell[2],
                "values": [None if v is None else cents_str(v) for v in values],
                "changes": _changes(values),
            }
        )
        roles = list(
            dict.fromkeys(role for r in rates_by_run for role in (r.get(cell, {}).get("labor_pmpm") or {}))
        )
        for role in roles:
            role_values = [
                _decimal((r.get(cell, {}).get("labor_pmpm") or {}).get(role)) for r in rates_by_run
            ]
            labour.append(
                {
                    "tier": cell[0],
                    "market": cell[1],
                    "lob": cell[2],
                    "role": role,
                    "values": [None if v is None else cents_str(v) for v in role_values],
                    "changes": _changes(role_values),
                }
            )
    markets = list(dict.fromkeys(m for q in quotes for m in (q.get("assessment_fee") or {})))
    fees = []
    for market in markets:
        values = [_decimal((q.get("assessment_fee") or {}).get(market)) for q in quotes]
        fees.append(
            {
                "market": market,
                "values": [None if v is None else cents_str(v) for v in values],
                "changes": _changes(values),
            }
        )
    budgets = []
    by_run = [{(b["market"], b["lob"]): b for b in r.get("budgets") or []} for r in results]
    for key in dict.fromkeys(k for budgets_of in by_run for k in budgets_of):
        values = [_decimal((b.get(key) or {}).get("annual_budget")) for b in by_run]
        budgets.append(
            {
                "market": key[0],
                "lob": key[1],
                "values": [None if v is None else cents_str(v) for v in values],
                "changes": _changes(values),
            }
        )
    return {
        "rates": rates,
        "labour": labour,
        "assessment_fees": fees,
        "budgets": budgets,
        "expected_months_enrolled": [_months(q.get("expected_months_enrolled")) for q in quotes],
        "risk": _risk_rows(results),
    }


def _risk_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    by_run = [
        {
            **((r.get("risk") or {}).get("by_market") or {}),
            **({"Whole program": r["risk"]["program"]} if (r.get("risk") or {}).get("program") else {}),
        }
        for r in results
    ]
    markets = list(dict.fromkeys(m for markets in by_run for m in markets))
    rows = []
    for market in markets:
        summaries = [(markets.get(market) or {}).get("summary") or {} for markets in by_run]
        margins = [s.get("provider_margin") or {} for s in summaries]
        rows.append(
            {
                "market": market,
                "probability_of_loss": [
                    None if "probability_of_loss" not in m else f"{float(m['probability_of_loss']):.4f}"
                    for m in margins
                ],
                "margin_mean": [
                    None if "mean" not in m else cents_str(Decimal(str(m["mean"]))) for m in margins
                ],
                "margin_p5": [None if "p5" not in m else cents_str(Decimal(str(m["p5"]))) for m in margins],
            }
        )
    return rows


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _months(value: Any) -> str | None:
    return None if value is None else format(Decimal(str(value)).quantize(Decimal("0.01")), "f")
