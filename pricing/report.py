"""What a pricing run shows: one presentation of its stored result, for the page and the PDF alike.

`run_report(run)` turns a succeeded run's result and inputs into display rows (every amount
formatted once, here, from the stored Decimal strings) and the charts; the run page and the PDF
template both render these rows, so the screen and the report show the same numbers to the cent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import FileResponse
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

from core.domain.codes import LOB_LABELS
from core.domain.display import code_label
from core.errors import NotFoundError
from pricing import charts
from pricing.defaults import SCALARS
from pricing.engine.breakeven import run_economics
from pricing.models import ExperienceDataset, PricingRun, SensitivityAnalysis, SensitivityStatus

money = charts.money

LOB_NAMES = LOB_LABELS


#: The loss probabilities the reserve table shows (a page may ask for any of RESERVE_LEVELS).
RESERVE_SHOWN = ("0.01", "0.05", "0.1")
DEFAULT_LOSS_LEVEL = "0.05"


def _ranged_labels(ranges: dict) -> list[str]:
    """The ranged assumptions by their labels, in the order the assumptions page shows them."""
    keys = [s.key for s in SCALARS]
    return [s.label for s in SCALARS if s.key in ranges] + [
        code_label(k) for k in sorted(ranges) if k not in keys
    ]


def _dec(value: Any, places: int) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)):,.{places}f}"


def _pct(value: Any, places: int = 1) -> str:
    if value is None or value == "":
        return "—"
    return f"{Decimal(str(value)) * 100:.{places}f}%"


def _ordered(mapping: dict, keys: list[str]) -> list[tuple[str, Any]]:
    """A stored mapping's items in a given order (JSON columns may not keep key order, jsonb doesn't)."""
    known = [(k, mapping[k]) for k in keys if k in mapping]
    return known + [(k, v) for k, v in mapping.items() if k not in keys]


def lob_name(code: str | None) -> str:
    return LOB_NAMES.get(code or "", code or "—")


def role_name(code: str, names: dict[str, str]) -> str:
    return names.get(code, code)


def run_report(
    run: PricingRun, *, role_names: dict[str, str] | None = None, loss_level: str = DEFAULT_LOSS_LEVEL
) -> dict[str, Any]:
    """Display rows and charts of a succeeded run (see the module docstring)."""
    names = role_names or {}
    result = run.result or {}
    inputs = run.inputs
    references = inputs.get("references") or {}
    quote = result["quote"]
    tiers = {t["code"]: t["name"] for t in inputs["pricing_file"]["bundle"]["tiers"]}
    lobs = inputs["lobs"]
    first_lob = lobs[0]
    chart_market = inputs["markets"][0]
    episode = quote["period"]["type"] == "episode"

    rates = [
        {
            "tier": r["tier"],
            "tier_name": tiers.get(r["tier"], r["tier"]),
            "market": r["market"],
            "lob": r["lob"],
            "lob_name": lob_name(r["lob"]),
            "pmpm": money(r["pmpm"]),
            "low": money(r["low"]),
            "high": money(r["high"]),
            "without_fee": money(r["pmpm_without_assessment_fee"]),
            "cost_per_enrollee": money(r["cost_per_enrollee"]),
            "episode_rate": money(r.get("episode_rate")) if episode else None,
            "credibility": f"{r['credibility']:.4f}",
            "raw": {"pmpm": r["pmpm"], "low": r["low"], "high": r["high"]},
        }
        for r in quote["rates"]
    ]
    matrix = []
    for lob in lobs:
        by_cell = {(r["tier"], r["market"]): r for r in quote["rates"] if r["lob"] == lob}
        matrix.append(
            {
                "lob": lob_name(lob),
                "markets": inputs["markets"],
                "rows": [
                    {
                        "tier": code,
                        "tier_name": name,
                        "cells": [
                            {
                                "pmpm": money(by_cell[(code, m)]["pmpm"]),
                                "episode": money(by_cell[(code, m)].get("episode_rate")) if episode else None,
                                "range": f"{money(by_cell[(code, m)]['low'])} – {money(by_cell[(code, m)]['high'])}",
                            }
                            for m in inputs["markets"]
                        ],
                    }
                    for code, name in tiers.items()
                ],
            }
        )
    phase_rates = _phase_rates(quote.get("phases") or [], tiers, inputs["markets"], lobs)
    fee_range = quote.get("assessment_fee_range", {})
    assessment_fees = [
        {
            "market": market,
            "fee": money(fee),
            "low": money(fee_range.get(market, {}).get("low")),
            "high": money(fee_range.get(market, {}).get("high")),
            "raw": fee,
        }
        for market, fee in _ordered(quote["assessment_fee"], inputs["markets"])
    ]
    role_order = [r["role"] for r in inputs["pricing_file"]["bundle"]["roles"]]
    buildups = [_buildup(r, tiers, names, quote, role_order) for r in quote["rates"] if r["lob"] == first_lob]

    context: dict[str, Any] = {
        "run": run,
        "episode": episode,
        "bundle": references.get("bundle") or {},
        "assumption_set": references.get("assumption_set") or {},
        "experience": references.get("experience"),
        "tiers": tiers,
        "markets": inputs["markets"],
        "lobs": [lob_name(lob) for lob in lobs],
        "first_lob": lob_name(first_lob),
        "rates": rates,
        "rate_matrix": matrix,
        "phase_rates": phase_rates,
        "assessment_fees": assessment_fees,
        "trend": {"months": quote["trend_months"], "factor": _dec(quote["trend_factor"], 6)},
        "buildups": buildups,
        "assumption_rows": _assumption_rows(inputs, references),
        "salary_rows": _salary_rows(inputs, references, names),
        "market_rows": _market_rows(inputs, references),
        "credibility": _credibility_rows(result.get("credibility", []), tiers),
        "enrollment": _enrollment(result.get("enrollment", {})),
        "budgets": _budget_rows(result.get("budgets", [])),
        "budget_total": money(
            sum((Decimal(b["annual_budget"]) for b in result.get("budgets", [])), Decimal(0))
        ),
        "lob_mix": ", ".join(
            f"{lob_name(lob)} {_pct(share)}"
            for lob, share in (inputs.get("options") or {}).get("lob_mix", {}).items()
        ),
        "risk": _risk_rows(result.get("risk", {}), inputs["markets"], list(tiers), loss_level),
        "economics": _economics(inputs, result, tiers),
        "comparison": _comparison_rows(result.get("comparison", {}), tiers),
        "fee_schedule": _fee_schedule_used(result.get("comparison", {}).get("fee_schedule") or {}),
        "comparison_roles": _comparison_roles(
            result.get("comparison", {}), chart_market, tiers, names, role_order
        ),
        "benchmarks": _benchmark_rows(result.get("benchmarks", {})),
        "warnings": result.get("warnings", []),
        "chart_market": chart_market,
        "ranged": _ranged_labels(inputs["pricing_file"]["assumptions"].get("ranges", {})),
        "generated_at": timezone.localtime(),
    }
    context["charts"] = _charts(result, quote, tiers, names, chart_market, first_lob, role_order)
    return context


def _phase_rates(
    phases: list[dict], tiers: dict, markets: list[str], lobs: list[str]
) -> dict[str, Any] | None:
    """A phased bundle's PMPM in each phase: a row per tier, market and LOB, a column per phase;
    None for an unphased bundle (the rate matrix says it all)."""
    if not phases:
        return None
    by_phase = [{(r["tier"], r["market"], r["lob"]): r for r in phase["rates"]} for phase in phases]
    return {
        "phases": [{"code": p["code"], "name": p["name"], "from_month": p["from_month"]} for p in phases],
        "rows": [
            {
                "tier": tier,
                "tier_name": name,
                "market": market,
                "lob": lob_name(lob),
                "cells": [
                    {
                        "pmpm": money(rates[(tier, market, lob)]["pmpm"]),
                        "range": f"{money(rates[(tier, market, lob)]['low'])} – "
                        f"{money(rates[(tier, market, lob)]['high'])}",
                    }
                    for rates in by_phase
                ],
            }
            for lob in lobs
            for tier, name in tiers.items()
            for market in markets
        ],
    }


def _buildup(rate: dict, tiers: dict, names: dict, quote: dict, role_order: list[str]) -> dict[str, Any]:
    b = rate["buildup"]
    roles = [
        {
            "role": role_name(code, names),
            "visits": _dec(line["visits_per_mm"], 2),
            "coordination": _dec(line["coordination_minutes_per_mm"], 1),
            "minutes": _dec(line["minutes"], 2),
            "salary": money(line["salary"], cents=False),
            "cost_per_minute": f"${Decimal(line['cost_per_minute']):.4f}",
            "labor_untrended": money(line["labor_untrended"]),
            "labor_pmpm": money(line["labor_pmpm"]),
        }
        for code, line in _ordered(b["roles"], role_order)
    ]
    nl = b["non_labor"]
    steps = [
        ("Labor, untrended", "sum of minutes x cost per minute", money(b["labor_untrended"])),
        (
            "Mileage",
            f"{_dec(nl['visits_per_mm'], 2)} visits x home share x miles x rate",
            money(nl["mileage"]),
        ),
        (
            "Supplies + on-call + technology",
            "per member-month",
            money(Decimal(nl["supplies"]) + Decimal(nl["on_call"]) + Decimal(nl["technology"])),
        ),
        ("Non-labor, untrended", "", money(nl["total_untrended"])),
        ("Non-labor PMPM, trended", "non-labor x f", money(rate["non_labor_pmpm"])),
        ("Trend factor f", f"{quote['trend_months']} months", _dec(b["trend_factor"], 4)),
        ("Direct cost PMPM (manual)", "(labor + non-labor) x f", money(b["direct_pmpm"])),
    ]
    if b.get("experience_pmpm") is not None:
        steps += [
            (
                "Experience PMPM, trended",
                f"{_dec(b['experience_member_months'], 0)} member-months",
                money(b["experience_pmpm_trended"]),
            ),
            ("Credibility Z", "min(1, sqrt(MM / standard))", _dec(b["credibility"], 4)),
        ]
    steps += [
        ("Blended direct PMPM", "Z x experience + (1 - Z) x manual", money(b["blended_direct"])),
        ("Load divisor", "1 - admin load - margin", _dec(b["load_divisor"], 4)),
        ("PMPM", "blended / divisor", money(b["pmpm"])),
    ]
    if Decimal(b["lob_factor"]) != 1:
        steps.append(("LOB factor", lob_name(rate["lob"]), _dec(b["lob_factor"], 4)))
    steps.append(("Rate (rounded half-up to the cent)", lob_name(rate["lob"]), money(rate["pmpm"])))
    return {
        "tier": rate["tier"],
        "tier_name": tiers.get(rate["tier"], rate["tier"]),
        "market": rate["market"],
        "roles": roles,
        "steps": steps,
        "pmpm": money(rate["pmpm"]),
    }


def _assumption_rows(inputs: dict, references: dict) -> list[dict[str, str]]:
    a = inputs["pricing_file"]["assumptions"]
    sources = (references.get("assumption_set") or {}).get("sources") or {}
    ranges = a.get("ranges", {})
    rows = []
    for scalar in SCALARS:
        if scalar.key not in a:
            continue
        low, high = ranges.get(scalar.key, [None, None])
        rows.append(
            {
                "label": scalar.label,
                "key": scalar.key,
                "value": a[scalar.key],
                "low": low or "",
                "high": high or "",
                "unit": scalar.unit,
                "source": sources.get(scalar.key, ""),
            }
        )
    rows.append(
        {
            "label": "Base period midpoint",
            "key": "base_period_midpoint",
            "value": a["base_period_midpoint"],
            "low": "",
            "high": "",
            "unit": "",
            "source": sources.get("base_period_midpoint", ""),
        }
    )
    rows.append(
        {
            "label": "Rating period midpoint",
            "key": "rating_period_midpoint",
            "value": a["rating_period_midpoint"],
            "low": "",
            "high": "",
            "unit": "",
            "source": sources.get("rating_period_midpoint", ""),
        }
    )
    disenrollment = a.get("disenrollment", {})
    if "observed" in disenrollment:
        value = "Observed"
        source = "The experience's enrollment spans: Kaplan-Meier, censored at the data end, constant hazard beyond."
    else:
        value = ", ".join(f"{cause} {q}" for cause, q in disenrollment.items())
        source = sources.get("disenrollment", "")
    rows.append(
        {
            "label": "Monthly disenrollment",
            "key": "disenrollment",
            "value": value,
            "low": "",
            "high": "",
            "unit": "probability a month",
            "source": source,
        }
    )
    factors = a.get("lob_factors") or {}
    used = {lob: factors.get(lob, "1") for lob in inputs["lobs"]}
    rows.append(
        {
            "label": "Line-of-business factors",
            "key": "lob_factors",
            "value": ", ".join(f"{lob_name(lob)} {f}" for lob, f in used.items()),
            "low": "",
            "high": "",
            "unit": "",
            "source": sources.get("lob_factors", ""),
        }
    )
    return rows


def _salary_rows(inputs: dict, references: dict, names: dict) -> list[dict[str, str]]:
    a = inputs["pricing_file"]["assumptions"]
    sources = (references.get("assumption_set") or {}).get("sources") or {}
    used = [r["role"] for r in inputs["pricing_file"]["bundle"]["roles"]]
    for r in inputs["pricing_file"]["bundle"].get("assessment", {}).get("roles", []):
        if r["role"] not in used:
            used.append(r["role"])
    rows = []
    for code in used:
        entry = a["salaries"].get(code, {})
        overrides = ", ".join(
            f"{m} {money(v, cents=False)}" for m, v in _ordered(entry.get("markets") or {}, inputs["markets"])
        )
        rows.append(
            {
                "role": role_name(code, names),
                "default": money(entry.get("default"), cents=False)
                if entry.get("default") is not None
                else "—",
                "overrides": overrides,
                "source": sources.get(f"salaries.{code}", ""),
            }
        )
    return rows


def _market_rows(inputs: dict, references: dict) -> list[dict[str, str]]:
    sources = (references.get("assumption_set") or {}).get("sources") or {}
    return [
        {
            "code": m["code"],
            "name": m.get("name", ""),
            "travel": _dec(m["travel_minutes_per_visit"], 0),
            "miles": _dec(m["miles_per_visit"], 0),
            "source": sources.get(f"markets.{m['code']}", "Plan market catalogue"),
        }
        for m in inputs["pricing_file"]["assumptions"]["markets"]
    ]


def _credibility_rows(rows: list[dict], tiers: dict) -> list[dict[str, str]]:
    return [
        {
            "tier": r["tier"],
            "tier_name": tiers.get(r["tier"], r["tier"]),
            "market": r["market"],
            "member_months": _dec(r["member_months"], 0) if r["member_months"] is not None else "—",
            "standard": _dec(r["full_credibility_member_months"], 0),
            "z": r["credibility"],
            "experience": money(r["experience_pmpm_trended"]),
            "manual": money(r["manual_direct_pmpm"]),
            "blended": money(r["blended_direct_pmpm"]),
        }
        for r in rows
    ]


def _enrollment(enrollment: dict) -> dict[str, str]:
    return {**enrollment, "conversion_pct": _pct(enrollment.get("conversion_rate"), 0)}


def _budget_rows(budgets: list[dict]) -> list[dict[str, str]]:
    return [
        {
            "market": b["market"],
            "lob": lob_name(b["lob"]),
            "enrollees": _dec(b["enrollees"], 1),
            "months": b["expected_months_enrolled"],
            "member_months": _dec(b["member_months"], 1),
            "weighted_pmpm": money(b["weighted_pmpm"]),
            "assessments": _dec(b["assessments"], 1),
            "assessment_fee": money(b["assessment_fee"]),
            "care": money(b["care_payments"]),
            "assessment_payments": money(b["assessment_payments"]),
            "budget": money(b["annual_budget"]),
        }
        for b in budgets
    ]


def _margin_row(label: str, summary: dict) -> dict[str, str]:
    margin, spend = summary["provider_margin"], summary["payer_spend"]
    return {
        "market": label,
        "mean": money(margin["mean"]),
        "p5": money(margin["p5"]),
        "p50": money(margin["p50"]),
        "p95": money(margin["p95"]),
        "loss": f"{margin['probability_of_loss']:.1%}",
        "spend_mean": money(spend["mean"]),
        "spend_p95": money(spend["p95"]),
        "cost_mean": money(summary["provider_cost"]["mean"]),
    }


def _risk_rows(
    risk: dict, markets: list[str], tier_codes: list[str], loss_level: str = DEFAULT_LOSS_LEVEL
) -> dict[str, Any]:
    rows = []
    for market, item in _ordered(risk.get("by_market") or {}, markets):
        rows.append(
            {
                **_margin_row(market, item["summary"]),
                "enrollees": f"{item['enrollees_per_year']:,}",
                "referrals": _dec(item["referrals_per_year"], 1),
                "years": f"{item['summary']['n_years']:,}",
            }
        )
    program = risk.get("program")
    program_view = None
    if program:  # runs priced by engine 2 and later
        reserve = program["reserve"]
        program_view = {
            **_margin_row("Whole program", program["summary"]),
            "fixed_annual_cost": money(program["fixed_annual_cost"]),
            "first_year": program["first_year"],
            "loss_level": loss_level,
            "reserve": money(reserve.get(loss_level)) if loss_level in reserve else None,
            "reserves": [(f"{Decimal(level) * 100:g}%", money(reserve[level])) for level in RESERVE_SHOWN],
        }
    lobs = risk.get("lobs") or ([risk["lob"]] if risk.get("lob") else [])
    return {
        "modelled": risk.get("modelled", False),
        "reason": risk.get("reason"),
        "rows": rows,
        "program": program_view,
        "n_years": f"{risk.get('n_years', 0):,}",
        "lob": ", ".join(lob_name(lob) for lob in lobs),
        "lob_shares": ", ".join(
            f"{lob_name(lob)} {Decimal(share) * 100:.1f}%"
            for lob, share in (risk.get("lob_shares") or {}).items()
        ),
        "tier_mix": ", ".join(
            f"tier {t} {Decimal(v) * 100:.1f}%" for t, v in _ordered(risk.get("tier_mix") or {}, tier_codes)
        ),
        "minutes_cv": risk.get("minutes_cv"),
    }


def _economics(inputs: dict, result: dict, tiers: dict) -> dict[str, Any] | None:
    """The provider's break-even figures (pricing.engine.breakeven), shown first on a provider's run."""
    economics = run_economics(inputs, result)
    if economics is None:
        return None
    program = (result.get("risk") or {}).get("program") or {}
    loss = ((program.get("summary") or {}).get("provider_margin") or {}).get("probability_of_loss")
    return {
        "cells": [
            {
                "tier": c.tier,
                "tier_name": tiers.get(c.tier, c.tier),
                "market": c.market,
                "lob": lob_name(c.lob),
                "rate": money(c.rate_pmpm),
                "cost": money(c.cost_pmpm),
                "breakeven": money(c.breakeven_pmpm),
            }
            for c in economics.cells
        ],
        "assessment_cost": [(m, money(c)) for m, c in _ordered(economics.assessment_cost, inputs["markets"])],
        "member_months": _dec(economics.member_months, 1),
        "enrollees": _dec(economics.enrollees, 1),
        "fixed_annual_cost": money(economics.fixed_annual_cost),
        "contribution": money(economics.contribution),
        "expected_result": money(economics.expected_result),
        "loses_money": economics.expected_result < 0,
        "breakeven_enrollees": economics.breakeven_enrollees,
        "probability_of_loss": None if loss is None else f"{float(loss):.1%}",
        "first_year": bool(program.get("first_year")),
    }


CARE_MANAGEMENT_NAMES = {
    "ccm": "chronic care management (99490, 99439, 99487, 99489)",
    "pcm": "principal care management (99426, 99427)",
    "rhc_fqhc": "general care management in a rural health clinic or FQHC (G0511)",
}


def _fee_schedule_used(schedule: dict) -> dict[str, Any]:
    """Which fee schedule the fee-for-service column was priced with, in a sentence."""
    if schedule.get("kind") == "plan":
        text = (
            f"Fee-for-service priced with the plan's fee schedule {schedule['name']} v{schedule['version']}."
        )
    else:
        text = "Fee-for-service priced with the Medicare physician fee schedule 2025."
    if schedule.get("care_management"):
        text += (
            " The team's coordination minutes are billed together by a supervising clinician as "
            f"{CARE_MANAGEMENT_NAMES.get(schedule['care_management'], schedule['care_management'])}."
        )
    return {"text": text, "unpriced": schedule.get("unpriced_codes") or []}


def _comparison_rows(comparison: dict, tiers: dict) -> list[dict[str, str]]:
    rows = []
    for cell in comparison.get("cells", []):
        m = cell["models"]
        rows.append(
            {
                "tier": cell["tier"],
                "tier_name": tiers.get(cell["tier"], cell["tier"]),
                "market": cell["market"],
                "cost": money(cell["cost_pmpm"]),
                "ffs": money(m["ffs"]["revenue_pmpm"]),
                "ffs_gap": money(m["ffs"]["surplus_pmpm"]),
                "ffs_coverage": _pct(m["ffs"]["cost_coverage"], 0),
                "bundle": money(m["bundle"]["revenue_pmpm"]),
                "bundle_surplus": money(m["bundle"]["surplus_pmpm"]),
                "value_based": money(m["value_based"]["revenue_pmpm"]),
                "capitation": money(m["capitation_tcoc"]["revenue_pmpm"]),
            }
        )
    return rows


def _comparison_roles(
    comparison: dict, market: str, tiers: dict, names: dict, role_order: list[str]
) -> list[dict[str, Any]]:
    """Per tier in the chart market: each role's cost, FFS revenue and the gap FFS leaves."""
    out = []
    for cell in comparison.get("cells", []):
        if cell["market"] != market:
            continue
        out.append(
            {
                "tier": cell["tier"],
                "tier_name": tiers.get(cell["tier"], cell["tier"]),
                "roles": [
                    {
                        "role": role_name(code, names),
                        "billable": "yes" if r["billable"] else "no",
                        "cost": money(r["cost_pmpm"]),
                        "ffs": money(r["ffs_revenue_pmpm"]),
                        "gap": money(r["ffs_gap_pmpm"]),
                    }
                    for code, r in _ordered(cell["by_role"], role_order)
                ],
            }
        )
    return out


def _benchmark_rows(benchmarks: dict) -> dict[str, Any]:
    if not benchmarks:
        return {}
    levels = benchmarks["levels"]
    assessment = benchmarks.get("assessment") or {}
    return {
        "rows": [
            {
                "tier": r["tier"],
                "tier_name": r["tier_name"],
                "lob": lob_name(r["lob"]),
                "min": money(r["min_pmpm"]),
                "average": money(r["average_pmpm"]),
                "max": money(r["max_pmpm"]),
                "pcf": money(r["pcf_pmpm"]),
                "vs_pcf": money(r["vs_pcf"]),
                "pacssi": f"Tier {r['pacssi_tier']} {money(r['pacssi_pmpm'])}",
                "vs_pacssi": money(r["vs_pacssi"]),
            }
            for r in benchmarks["by_tier"]
        ],
        "pcf_source": levels["pcf_sip"]["source"],
        "pacssi_source": levels["pacssi"]["source"],
        "assessment_min": money(assessment.get("min_fee")),
        "assessment_max": money(assessment.get("max_fee")),
        "pcf_initial": money(assessment.get("pcf_initial_payment")),
        "pcf_per_enrollee": money(benchmarks.get("pcf_per_enrollee")),
    }


def _charts(
    result: dict, quote: dict, tiers: dict, names: dict, market: str, lob: str, role_order: list[str]
) -> dict[str, str]:
    cells = [r for r in quote["rates"] if r["market"] == market and r["lob"] == lob]
    cost = charts.cost_by_role(
        [
            {
                "label": f"Tier {r['tier']} {tiers.get(r['tier'], '')}".strip()[:22],
                "parts": [
                    (role_name(role, names), value) for role, value in _ordered(r["labor_pmpm"], role_order)
                ],
                "non_labor": r["non_labor_pmpm"],
                "total": r["direct_pmpm"],
            }
            for r in cells
        ],
        market=market,
    )
    out = {"cost_by_role": mark_safe(cost)}  # noqa: S308 - built here, every text escaped
    risk = (result.get("risk") or {}).get("by_market", {}).get(market)
    if risk:
        s = risk["summary"]
        margin = s["provider_margin"]
        out["margin"] = mark_safe(  # noqa: S308 - the chart escapes its texts
            charts.margin_distribution(
                s["histogram"]["provider_margin"],
                p5=margin["p5"],
                p50=margin["p50"],
                p95=margin["p95"],
                mean=margin["mean"],
                loss_probability=margin["probability_of_loss"],
                market=market,
            )
        )
    comparison = [c for c in (result.get("comparison") or {}).get("cells", []) if c["market"] == market]
    if comparison:
        # the highest tier shows the gap best; every tier's figures are in the table
        cell = comparison[-1]
        models = cell["models"]
        out["ffs_vs_bundle"] = mark_safe(  # noqa: S308 - the chart escapes its texts
            charts.ffs_vs_bundle(
                [
                    {"role": role_name(code, names), "cost": r["cost_pmpm"], "ffs": r["ffs_revenue_pmpm"]}
                    for code, r in _ordered(cell["by_role"], role_order)
                ],
                cost=cell["cost_pmpm"],
                ffs=models["ffs"]["revenue_pmpm"],
                bundle=models["bundle"]["revenue_pmpm"],
                title=f"FFS and bundle revenue against cost by role, tier {cell['tier']} "
                f"{tiers.get(cell['tier'], '')}, {market} (per member-month)",
            )
        )
        out["ffs_tier"] = f"{cell['tier']} {tiers.get(cell['tier'], '')}".strip()
    return out


# --- sensitivity ---------------------------------------------------------------------------------


def sensitivity_view(analysis: SensitivityAnalysis) -> dict[str, Any]:
    """A succeeded analysis as the page and the report show it: two tornado charts and the table."""
    result = analysis.result or {}
    rows = result.get("assumptions", [])
    cell = f"Tier {analysis.tier} · {analysis.market} · {lob_name(analysis.lob)}"

    def bars(key: str, order: list[dict]) -> list[dict]:
        return [
            {
                "label": r["label"],
                "low_end": r["values"][0],
                "high_end": r["values"][-1],
                "at_low": float(r[key][0]),
                "at_high": float(r[key][-1]),
            }
            for r in order
        ]

    out: dict[str, Any] = {
        "analysis": analysis,
        "cell": cell,
        "pmpm": result.get("pmpm"),
        "probability_of_loss": result.get("probability_of_loss"),
        "rows": rows,
        "rate_chart": mark_safe(  # noqa: S308 - our own SVG; every text in it is escaped by charts
            charts.tornado(
                bars("pmpm", rows),
                base=float(result.get("pmpm") or 0),
                label=lambda v: charts.money(Decimal(str(v))),
                title=f"PMPM of {cell}: each assumption across its range",
                chart_id=f"tornado-rate-{analysis.public_id}",
            )
        )
        if rows
        else "",
        "loss_chart": "",
    }
    if rows and result.get("probability_of_loss") is not None:
        by_loss = {r["assumption"]: r for r in rows}
        order = [by_loss[key] for key in result.get("by_loss", []) if key in by_loss]
        out["loss_chart"] = mark_safe(  # noqa: S308 - as above
            charts.tornado(
                bars("probability_of_loss", order),
                base=float(result["probability_of_loss"]),
                label=lambda v: f"{v * 100:.1f}%",
                title=f"Probability of a loss in {analysis.market} at the run's rates: each assumption across its range",
                chart_id=f"tornado-loss-{analysis.public_id}",
            )
        )
    return out


# --- files -------------------------------------------------------------------------------------


def pdf_filename(run: PricingRun) -> str:
    return f"pricing-report-{run.public_id}.pdf"


def render_pdf(run: PricingRun) -> bytes:
    """The pricing report as PDF (WeasyPrint, imported here: it is heavy and only this needs it)."""
    from weasyprint import HTML

    from bundles.selectors import roles_for

    names = dict(roles_for(organization=run.payer).values_list("code", "name"))
    context = run_report(run, role_names=names)
    sensitivities = [
        sensitivity_view(a)
        for a in run.sensitivities.filter(status=SensitivityStatus.SUCCEEDED).order_by("created_at")
    ]
    html = render_to_string(
        "pricing/report_pdf.html",
        {**context, "report_self": context, "payer": run.payer, "sensitivities": sensitivities},
    )
    return HTML(string=html).write_pdf()


def file_response(dataset: ExperienceDataset, which: str) -> FileResponse:
    field, name = (
        (dataset.spans_file, dataset.spans_original_filename)
        if which == "spans"
        else (dataset.file, dataset.original_filename)
    )
    if not field:
        raise NotFoundError("This upload has no such file.", code="no_file")
    return FileResponse(field.open("rb"), as_attachment=True, filename=name, content_type="text/csv")
