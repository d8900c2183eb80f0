"""The provider's side of a priced bundle: what a member-month costs it, and what it needs to break even.

A quote's rate is ``blended / (1 - admin_load - margin)``: the program's direct cost of care with its
overhead (``admin_load``, a share of the rate) and its margin. A provider that breaks even earns no
margin, so (docs/domain.md 4.6.2):

- cost of a member-month, per rate cell: ``cost_pmpm = blended / (1 - admin_load)``;
- cost of an initial assessment, per market: ``assessment_cost = direct cost / (1 - admin_load)``;
- the year's contribution at the quoted rates, over the run's budget (its expected member-months and
  assessments per market and line of business, tier mix as simulated):
  ``sum(member_months x sum_t(mix_t x (pmpm_t - cost_pmpm_t)) + assessments x (fee - assessment_cost))``;
- the program's fixed annual cost spread over its expected member-months:
  ``breakeven_pmpm = cost_pmpm + fixed_annual_cost / member_months``;
- break-even enrollment: the enrollees a year whose contribution covers the fixed cost, at the run's
  mix of markets and lines, ``ceil(fixed_annual_cost / (contribution / enrollees))``; none when the
  rates do not cover the variable cost.

Everything is computed at full precision and rounded half-up to the cent only in the result. No
Django here: it reads a stored run's ``result`` (plain dicts of strings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from core.domain.money import CALCULATION_CONTEXT, to_cents


@dataclass(frozen=True)
class CellCost:
    """One rate cell as the provider sees it (cents)."""

    tier: str
    market: str
    lob: str | None
    rate_pmpm: Decimal
    cost_pmpm: Decimal
    breakeven_pmpm: Decimal | None  # None: the run expects no member-months to spread fixed cost over


@dataclass(frozen=True)
class ProviderEconomics:
    cells: tuple[CellCost, ...]
    assessment_cost: dict[str, Decimal]  # per market, cents
    member_months: Decimal  # expected a year, whole program (as budgeted)
    enrollees: Decimal
    fixed_annual_cost: Decimal
    contribution: Decimal  # a year, at the quoted rates, before the fixed cost (cents)
    expected_result: Decimal  # contribution - fixed_annual_cost (cents)
    breakeven_enrollees: int | None  # None: every enrollee costs more than the rates pay


def provider_economics(
    *,
    rates: Sequence[Mapping[str, Any]],
    assessment_fee: Mapping[str, str],
    assessment_direct_cost: Mapping[str, str],
    budgets: Sequence[Mapping[str, Any]],
    tier_mix: Mapping[str, str],
    admin_load: Decimal,
    fixed_annual_cost: Decimal,
) -> ProviderEconomics:
    """The break-even figures of a quote (see the module docstring).

    ``rates`` are the quote's rate rows (``pmpm`` and ``buildup.blended_direct``), ``budgets`` the
    run's budget rows (``market``, ``lob``, ``enrollees``, ``member_months``, ``assessments``)."""
    with localcontext(CALCULATION_CONTEXT):
        overhead_divisor = 1 - admin_load
        cost = {
            (r["tier"], r["market"]): Decimal(r["buildup"]["blended_direct"]) / overhead_divisor
            for r in rates
        }
        fee_cost = {m: Decimal(c) / overhead_divisor for m, c in assessment_direct_cost.items()}
        rate = {(r["tier"], r["market"], r["lob"]): Decimal(r["pmpm"]) for r in rates}
        mix = {t: Decimal(share) for t, share in tier_mix.items()}

        member_months = sum((Decimal(b["member_months"]) for b in budgets), Decimal(0))
        enrollees = sum((Decimal(b["enrollees"]) for b in budgets), Decimal(0))
        contribution = Decimal(0)
        for b in budgets:
            market, lob = b["market"], b["lob"]
            per_member_month = sum(
                (share * (rate[(t, market, lob)] - cost[(t, market)]) for t, share in mix.items()),
                Decimal(0),
            )
            contribution += Decimal(b["member_months"]) * per_member_month
            if market in fee_cost:
                fee = Decimal(assessment_fee[market])
                contribution += Decimal(b["assessments"]) * (fee - fee_cost[market])

        fixed_pmpm = fixed_annual_cost / member_months if member_months > 0 else None
        cells = tuple(
            CellCost(
                tier=r["tier"],
                market=r["market"],
                lob=r["lob"],
                rate_pmpm=to_cents(rate[(r["tier"], r["market"], r["lob"])]),
                cost_pmpm=to_cents(cost[(r["tier"], r["market"])]),
                breakeven_pmpm=None
                if fixed_pmpm is None
                else to_cents(cost[(r["tier"], r["market"])] + fixed_pmpm),
            )
            for r in rates
        )
        return ProviderEconomics(
            cells=cells,
            assessment_cost={m: to_cents(c) for m, c in fee_cost.items()},
            member_months=member_months,
            enrollees=enrollees,
            fixed_annual_cost=to_cents(fixed_annual_cost),
            contribution=to_cents(contribution),
            expected_result=to_cents(contribution - fixed_annual_cost),
            breakeven_enrollees=breakeven_enrollees(fixed_annual_cost, contribution, enrollees),
        )


def breakeven_enrollees(fixed_annual_cost: Decimal, contribution: Decimal, enrollees: Decimal) -> int | None:
    """Whole enrollees a year whose contribution covers the fixed cost; None when each one loses money."""
    if fixed_annual_cost <= 0:
        return 0
    if enrollees <= 0 or contribution <= 0:
        return None
    with localcontext(CALCULATION_CONTEXT):
        return math.ceil(fixed_annual_cost * enrollees / contribution)


def run_economics(inputs: Mapping[str, Any], result: Mapping[str, Any]) -> ProviderEconomics | None:
    """The break-even figures of a stored run; None for a bundle paid per episode (its risk is not
    simulated, so the run has no tier mix) or a run without budgets."""
    quote, risk, budgets = result.get("quote") or {}, result.get("risk") or {}, result.get("budgets") or []
    if not risk.get("modelled") or not budgets or "tier_mix" not in risk:
        return None
    fixed = Decimal((risk.get("program") or {}).get("fixed_annual_cost", "0"))
    return provider_economics(
        rates=quote["rates"],
        assessment_fee=quote.get("assessment_fee") or {},
        assessment_direct_cost={m: b["cost"] for m, b in (quote.get("assessment_buildup") or {}).items()},
        budgets=budgets,
        tier_mix=risk["tier_mix"],
        admin_load=Decimal(str(inputs["pricing_file"]["assumptions"]["admin_load"])),
        fixed_annual_cost=fixed,
    )
