"""The platform's default assumptions, each with its source (docs/domain.md 4, docs/reference-data.md).

A new assumption set starts from these: every value shows where it comes from, and a plan
replaces what it knows better (its own wages, its programs' payroll loads). Each published figure
cites its publisher; the few no publication covers are stated platform defaults and say so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date
from typing import Any

from pricing.engine.schema import (
    DEFAULT_CONVERSION_RATE,
    DEFAULT_DISENROLLMENT,
    DEFAULT_ENROLLMENT_HORIZON_MONTHS,
    DEFAULT_FFS_CONVERSION_FACTOR,
    DEFAULT_SHARED_SAVINGS_RATE,
    DEFAULT_TCOC_BASELINE_PMPM,
    DEFAULT_TCOC_SAVINGS_RATE,
    DEFAULT_VBP_BONUS_SHARE,
)

FORMATS_EXAMPLE = "carebundle.pricing/1 worked example (docs/formats.md section 6)"


@dataclass(frozen=True)
class ScalarDefault:
    key: str
    label: str
    value: str
    low: str | None
    high: str | None
    source: str
    unit: str = ""
    help: str = ""


#: The scalar assumptions, in the order forms and reports show them.
SCALARS: tuple[ScalarDefault, ...] = (
    ScalarDefault(
        "benefits_load",
        "Benefits load",
        "0.28",
        "0.25",
        "0.30",
        f"Platform default, as in the {FORMATS_EXAMPLE}; replace with the program's ratio of benefits "
        "to salary from its payroll.",
        "share of salary",
        "cost_per_fte = salary x (1 + benefits_load)",
    ),
    ScalarDefault(
        "productivity",
        "Productivity",
        "0.75",
        "0.70",
        "0.80",
        "Domain rules (docs/domain.md 4.1): the productive share of paid hours of a home-based palliative team, "
        "typically 0.70 to 0.80 (2080 paid hours a year).",
        "share of paid hours",
        "productive minutes per FTE = 2080 x 60 x productivity",
    ),
    ScalarDefault(
        "admin_load",
        "Administrative load",
        "0.12",
        "0.10",
        "0.14",
        f"Platform default, as in the {FORMATS_EXAMPLE}: non-benefit administration as a share of "
        "the rate, as in Medicaid rate setting.",
        "share of the rate",
    ),
    ScalarDefault(
        "margin",
        "Margin",
        "0.03",
        "0.02",
        "0.04",
        f"Platform default, as in the {FORMATS_EXAMPLE}: the provider's margin as a share of the rate.",
        "share of the rate",
    ),
    ScalarDefault(
        "annual_trend",
        "Annual cost trend",
        "0.035",
        "0.025",
        "0.045",
        f"Platform default, as in the {FORMATS_EXAMPLE}: annual growth of labour and other costs.",
        "per year",
        "applied from the base period midpoint to the rating period midpoint",
    ),
    ScalarDefault(
        "mileage_rate",
        "Mileage rate",
        "0.70",
        "0.67",
        "0.70",
        "IRS standard business mileage rate for 2025, 70 cents a mile (IRS Notice 2025-5); the low "
        "end is the 2024 rate, 67 cents.",
        "$ per mile",
    ),
    ScalarDefault(
        "supplies_pmpm",
        "Supplies",
        "15",
        "10",
        "20",
        f"Platform default, as in the {FORMATS_EXAMPLE}.",
        "$ PMPM",
    ),
    ScalarDefault(
        "on_call_pmpm",
        "24/7 on-call line",
        "40",
        "30",
        "50",
        f"Platform default, as in the {FORMATS_EXAMPLE}: the cost of the 24/7 telephone line and "
        "after-hours visits spread per member-month.",
        "$ PMPM",
    ),
    ScalarDefault(
        "technology_pmpm",
        "Technology",
        "8",
        "5",
        "10",
        f"Platform default, as in the {FORMATS_EXAMPLE}: EHR, telehealth and phones.",
        "$ PMPM",
    ),
    ScalarDefault(
        "full_credibility_member_months",
        "Full credibility standard",
        "12000",
        "10000",
        "15000",
        f"Platform default, as in the {FORMATS_EXAMPLE}: member-months of experience that earn full "
        "credibility (limited fluctuation, Z = min(1, sqrt(MM / standard))).",
        "member-months",
    ),
    ScalarDefault(
        "conversion_rate",
        "Assessment conversion rate",
        str(DEFAULT_CONVERSION_RATE),
        None,
        None,
        "Stated platform default (no public figure): the share of initial assessments that end in "
        "enrollment; replace with the program's referral history.",
        "share of assessments",
    ),
    ScalarDefault(
        "vbp_bonus_share",
        "Value-based bonus",
        str(DEFAULT_VBP_BONUS_SHARE),
        None,
        None,
        "The MACRA Advanced APM incentive order of magnitude: 5% of Part B payments (2019-2024).",
        "share of FFS revenue",
    ),
    ScalarDefault(
        "tcoc_baseline_pmpm",
        "Total cost of care baseline",
        str(DEFAULT_TCOC_BASELINE_PMPM),
        None,
        None,
        "Set so that gross savings equal the low end of the NASHP / CBIZ Optumas (2023) range of "
        "$231 to $1,165 PMPM (2,310 x 10% = 231); replace with the members' pre-enrollment TCOC.",
        "$ PMPM",
    ),
    ScalarDefault(
        "tcoc_savings_rate",
        "TCOC savings rate",
        str(DEFAULT_TCOC_SAVINGS_RATE),
        None,
        None,
        "With the baseline, the low end of the NASHP / CBIZ Optumas (2023) savings range.",
        "share of TCOC",
    ),
    ScalarDefault(
        "shared_savings_rate",
        "Provider's share of savings",
        str(DEFAULT_SHARED_SAVINGS_RATE),
        None,
        None,
        "50%: the final sharing rate of the Medicare Shared Savings Program's original one-sided "
        "model (Track 1); a contract's own rate replaces it.",
        "share of savings",
    ),
    ScalarDefault(
        "ffs_conversion_factor",
        "FFS conversion factor",
        str(DEFAULT_FFS_CONVERSION_FACTOR),
        None,
        None,
        "CY2025 Medicare Physician Fee Schedule conversion factor (CMS, CY2025 PFS final rule).",
        "$ per RVU",
    ),
)
SCALAR_KEYS = tuple(s.key for s in SCALARS)
RANGED_KEYS = tuple(s.key for s in SCALARS if s.low is not None)

#: Annual salary by IDT role (US medians): (value, source). Roles a plan adds have no default.
SALARIES: dict[str, tuple[str, str]] = {
    "physician": (
        "260000",
        "Stated platform default: there is no public wage figure for hospice and palliative "
        "physicians; replace with the program's contracted cost.",
    ),
    "np": ("126260", "BLS, nurse practitioners, US median annual wage, May 2023."),
    "pa": (
        "130020",
        "BLS Occupational Outlook Handbook, physician assistants, median pay May 2023 (verify against the "
        "current release before certifying).",
    ),
    "rn": ("86070", "BLS, registered nurses, US median annual wage, May 2023."),
    "lvn": (
        "59730",
        "BLS Occupational Outlook Handbook, licensed practical and vocational nurses, median pay "
        "May 2023 (verify against the current release before certifying).",
    ),
    "lcsw": ("67880", "BLS, healthcare social workers, US median annual wage, May 2025."),
    "chaplain": ("60820", "BLS, clergy (chaplain proxy), US median annual wage, 2024."),
    "chw": ("51850", "BLS, community health workers, US median annual wage, May 2025."),
    "pharmacist": (
        "136030",
        "BLS Occupational Outlook Handbook, pharmacists, median pay May 2023 (verify against the "
        "current release before certifying).",
    ),
    "hha": (
        "33530",
        "BLS Occupational Outlook Handbook, home health and personal care aides, median pay May 2023 "
        "(verify against the current release before certifying).",
    ),
}

LOB_FACTOR_SOURCE = (
    "No published differential between lines of business: 1.0 (the same rate in each) until "
    "the plan sets one."
)
DISENROLLMENT_SOURCE = (
    "CAPC survey of 83 home-based palliative programs: median length of stay "
    "123.5 days gives a monthly disenrollment probability of 0.157, split as CAPC's discharges: "
    "31% hospice, 7% died on service, 62% other (expected 6.37 months enrolled)."
)
HORIZON_SOURCE = "Platform default: survival curves are summed over at most 120 months (the restricted mean)."
MARKET_SOURCE = (
    "Plan market catalogue ({name}); for comparison, CAPC's survey average drive time is 41 minutes a visit."
)
LINES_OF_BUSINESS = ("medicaid", "medicare_advantage", "dsnp", "commercial")
LOB_LABELS = {
    "medicaid": "Medicaid",
    "medicare_advantage": "Medicare Advantage",
    "dsnp": "D-SNP",
    "commercial": "Commercial",
}


def default_period(today: date) -> tuple[date, date, str]:
    """Base period: the last complete calendar year; rating period: the next calendar year (midpoints)."""
    base = date(today.year - 1, 7, 1)
    rating = date(today.year + 1, 7, 1)
    source = (
        f"Platform default: base period calendar year {today.year - 1} (the last complete year of cost "
        f"data), rating period calendar year {today.year + 1}; each at its midpoint."
    )
    return base, rating, source


def default_assumptions(
    *, markets: list[dict[str, Any]], role_codes: list[str], today: date
) -> tuple[dict[str, Any], dict[str, str]]:
    """A complete `assumptions` part with the platform's defaults, and the source of each field.

    ``markets`` are the plan's markets ({code, name, travel_minutes_per_visit, miles_per_visit});
    ``role_codes`` the IDT roles the plan can use (roles without a public wage get no salary).
    """
    base, rating, period_source = default_period(today)
    assumptions: dict[str, Any] = {
        "salaries": {code: {"default": SALARIES[code][0]} for code in role_codes if code in SALARIES},
        "base_period_midpoint": base.isoformat(),
        "rating_period_midpoint": rating.isoformat(),
        "markets": [
            {
                "code": m["code"],
                "name": m["name"],
                "travel_minutes_per_visit": str(m["travel_minutes_per_visit"]),
                "miles_per_visit": str(m["miles_per_visit"]),
            }
            for m in markets
        ],
        "ranges": {},
        "disenrollment": {cause: str(q) for cause, q in DEFAULT_DISENROLLMENT.items()},
        "enrollment_horizon_months": DEFAULT_ENROLLMENT_HORIZON_MONTHS,
        "lob_factors": dict.fromkeys(LINES_OF_BUSINESS, "1"),
    }
    sources: dict[str, str] = {
        "base_period_midpoint": period_source,
        "rating_period_midpoint": period_source,
        "disenrollment": DISENROLLMENT_SOURCE,
        "enrollment_horizon_months": HORIZON_SOURCE,
        "lob_factors": LOB_FACTOR_SOURCE,
    }
    for scalar in SCALARS:
        assumptions[scalar.key] = scalar.value
        sources[scalar.key] = scalar.source
        if scalar.low is not None:
            assumptions["ranges"][scalar.key] = [scalar.low, scalar.high]
    for code in assumptions["salaries"]:
        sources[f"salaries.{code}"] = SALARIES[code][1]
    for m in markets:
        sources[f"markets.{m['code']}"] = MARKET_SOURCE.format(name=m["name"])
    return assumptions, sources


def defaults_catalogue() -> dict[str, Any]:
    """The defaults as a reference table (the API's /assumption-sets/defaults/ and the form's hints)."""
    return {
        "scalars": [
            {
                "key": s.key,
                "label": s.label,
                "value": s.value,
                "low": s.low,
                "high": s.high,
                "unit": s.unit,
                "source": s.source,
            }
            for s in SCALARS
        ],
        "salaries": [
            {"role": role, "value": value, "source": source} for role, (value, source) in SALARIES.items()
        ],
        "disenrollment": {
            "values": {c: str(q) for c, q in DEFAULT_DISENROLLMENT.items()},
            "source": DISENROLLMENT_SOURCE,
        },
        "lob_factors": {"value": "1", "source": LOB_FACTOR_SOURCE},
    }


def copy_assumptions(assumptions: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(assumptions)
