"""Numbers as people read them on the page and in the report (pure formatting, no Django).

Presentation rounds further than the figures (a rate to 0.1%, money to the cent) with the kernel's
half-up helpers, so a page never shows a figure rounded differently from the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.domain.display import amount_text, money_text, percent_text
from core.domain.money import round_half_up
from core.domain.months import months_text


def _d(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def value_text(value: Any, unit: str) -> str:
    v = _d(value)
    if v is None:
        return "—"
    if unit == "rate":
        return f"{round_half_up(v * 100, 1)}%"
    if unit == "days":
        return f"{round_half_up(v, 1)} days"
    return f"{round_half_up(v, 1):,}"


def trend_text(value: Any) -> str:
    """A yearly trend as given (not rounded): 0.035 -> 3.5%, 0.0325 -> 3.25%."""
    v = _d(value)
    return "—" if v is None else f"{format((v * 100).normalize(), 'f')}%"


def baseline_text(baseline: dict) -> str:
    """Which baseline the shared savings compare with, and its parameters, in a line."""
    if baseline.get("method") == "trended_benchmark":
        b = baseline.get("benchmark")
        if not b:
            return "trended benchmark, but the contract gives no benchmark PMPM, midpoint and trend"
        return (
            f"trended benchmark {amount_text(b['pmpm'])} PMPM from {b['midpoint']} at "
            f"{trend_text(b['annual_trend'])}/year → {amount_text(b['trended_pmpm'])} "
            f"(at the period's midpoint, {b['period_midpoint']})"
        )
    if baseline.get("method") == "comparison_group":
        return (
            "a comparison group: eligible members who did not enroll, matched on age band, line of business, "
            "market, condition group, risk score and their prior cost and use (difference in differences)"
        )
    return f"the same members' {months_text(baseline.get('window_months') or 12)} before enrollment"


def _count_text(value: Any, hidden: str) -> str:
    return hidden if value is None else f"{value:,}"


UNMATCHED_TEXT = {
    "no_history": "no months of history before enrolling",
    "no_condition_group": "no claim diagnosis in the bundle's condition groups",
    "no_match": "nobody alike who did not enroll",
}


def baselines(performance: dict, hidden: str) -> list[dict]:
    """The baselines side by side: each one's PMPM, the savings it gives per member-month and on what it
    rests, the contract's own marked ``used``."""
    base, actual = performance["baseline"], _d(performance["baseline"].get("actual_pmpm"))
    used = base.get("method") or "pre_enrollment"

    def savings(pmpm: Any) -> str:
        v = _d(pmpm)
        return "—" if v is None or actual is None else money_text(v - actual)

    rows: list[dict[str, Any]] = [
        {
            "method": "pre_enrollment",
            "name": "The members' own history",
            "pmpm_text": money_text(base.get("tcoc_pmpm")),
            "savings_text": savings(base.get("tcoc_pmpm")),
            "range_text": "—",
            "basis": f"{base['months']} member-months in the {months_text(base.get('window_months') or 12)} before "
            "each member enrolled; people enroll after their costliest months, so this credits the program "
            "with their return to usual cost",
        }
    ]
    b = base.get("benchmark")
    if b:
        rows.append(
            {
                "method": "trended_benchmark",
                "name": "Trended benchmark",
                "pmpm_text": money_text(b["trended_pmpm"]),
                "savings_text": savings(b["trended_pmpm"]),
                "range_text": "—",
                "basis": f"{amount_text(b['pmpm'])} PMPM from {b['midpoint']} at {trend_text(b['annual_trend'])}/year",
            }
        )
    c = performance.get("comparison_group")
    if c:
        unmatched = "; ".join(
            f"{_count_text(n, hidden)} with {UNMATCHED_TEXT.get(reason, reason)}"
            for reason, n in sorted(c["unmatched"].items())
        )
        rows.append(
            {
                "method": "comparison_group",
                "name": "Comparison group",
                "pmpm_text": money_text(c["baseline_pmpm"]),
                "savings_text": money_text(c["savings_pmpm"]),
                "range_text": "—"
                if c["savings_low"] is None
                else f"{money_text(c['savings_low'])} – {money_text(c['savings_high'])}",
                "basis": f"{_count_text(c['matched'], hidden)} of {_count_text(c['treated'], hidden)} enrolled "
                f"members matched with {_count_text(c['controls'], hidden)} members who did not enroll "
                f"({c['member_months']} enrolled months); their cost went from "
                f"{money_text(c['control_pre_pmpm'])} to {money_text(c['control_post_pmpm'])} PMPM, the "
                f"enrolled members' from {money_text(c['treated_pre_pmpm'])} to "
                f"{money_text(c['treated_post_pmpm'])}" + (f". Left out: {unmatched}" if unmatched else ""),
            }
        )
    for row in rows:
        row["used"] = row["method"] == used
    return rows


EVENT_LABELS = {
    "ed_visit": "ED visits",
    "inpatient_admission": "Inpatient admissions",
    "icu_admission": "ICU admissions",
    "readmission": "30-day readmissions",
}


CATEGORY_NAMES = {
    "inpatient": "Inpatient",
    "emergency": "Emergency",
    "outpatient": "Outpatient",
    "professional": "Professional",
    "snf": "Skilled nursing",
    "home_health": "Home health",
    "hospice": "Hospice",
    "total": "All services",
}


def _decorate_completion(completion: dict | None) -> None:
    if not completion:
        return
    for row in [*completion["categories"], completion["total"]]:
        row["name"] = CATEGORY_NAMES.get(row["category"], row["category"])
        row["paid_text"], row["completed_text"] = money_text(row["paid"]), money_text(row["completed"])
        row["range_text"] = f"{money_text(row['low'])} – {money_text(row['high'])}"
        row["completion_text"] = percent_text(row["completion"])


def decorate(performance: dict) -> dict:
    """Add ``*_text`` fields next to the numbers (in place) and return the dict."""
    _decorate_completion(performance.get("claims_completion"))
    suppression = performance.get("suppression")
    hidden = f"1–{suppression['limit']}" if suppression else ""  # how a hidden count reads
    for row in performance["measures"]:
        unit = row["unit"]
        row["rate_text"] = value_text(row["rate"], unit)
        row["target_text"] = ("at most " if row["direction"] == "lower" else "at least ") + value_text(
            row["target"], unit
        )
        row["ci_text"] = (
            f"{value_text(row['ci_low'], unit)} – {value_text(row['ci_high'], unit)}"
            if row["ci_low"] is not None
            else "—"
        )
        row["weight_text"] = percent_text(row["weight"])
        row["status_text"] = (
            ("Met" if row["met"] else "Not met")
            if row["scored"]
            else f"Not scored (fewer than {row['minimum_denominator']} {row['denominator_label']})"
        )
        num = _d(row["numerator"])
        row["numerator_text"] = f"{num.normalize():f}" if num is not None else "—"
        den = _d(row["denominator"])
        row["denominator_text"] = f"{den.normalize():f}" if den is not None else "—"
        if row.get("suppressed"):
            row["numerator_text"] = row["denominator_text"] = row["rate_text"] = hidden
            row["ci_text"] = "—"
    performance["composite_text"] = (
        percent_text(performance["composite_score"])
        if performance["composite_score"] is not None
        else "Not scored"
    )
    w = performance["withhold"]
    w["withheld_text"], w["returned_text"] = money_text(w["withheld"]), money_text(w["withhold_returned"])
    w["kept_text"], w["bonus_text"] = money_text(w["withhold_kept"]), money_text(w["bonus"])
    w["share_text"] = percent_text(w["return_share"])
    base = performance["baseline"]
    base["text"] = baseline_text(base)
    base["window_text"] = months_text(base.get("window_months") or 12)
    base["tcoc_pmpm_text"] = money_text(base.get("tcoc_pmpm"))
    base["actual_pmpm_text"] = money_text(base.get("actual_pmpm"))
    performance["baselines"] = baselines(performance, hidden or "—")
    s = performance["shared_savings"]
    if s:
        for key in ("baseline_pmpm", "actual_pmpm", "gross_savings", "cap_amount", "shared"):
            s[f"{key}_text"] = money_text(s[key])
        for key in ("savings_rate", "minimum_savings_rate", "quality_gate", "sharing_rate"):
            s[f"{key}_text"] = percent_text(s[key])
    for e in performance["avoided_events"]["events"]:
        e["label"] = EVENT_LABELS.get(e["kind"], e["kind"])
        e["unit_cost_text"], e["value_text"] = money_text(e["unit_cost"]), money_text(e["value"])
        e["actual_text"] = hidden if e.get("suppressed") else e["actual"]
        e["avoided_text"] = hidden if e.get("suppressed") else e["avoided"]
    performance["avoided_events"]["total_text"] = money_text(performance["avoided_events"]["total"])
    performance["suppression_text"] = (
        f"Counts from 1 to {suppression['limit']} that could point at a member are shown as “{hidden}”, "
        "and so are the rates, events avoided and values they could be worked back from."
        if suppression and suppression["applied"]
        else ""
    )
    return performance
