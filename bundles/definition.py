"""A bundle's definition as plain data: validation, publishing rules, totals and diffs.

No Django here. A bundle version stores its definition as one JSON document, the ``bundle`` part
of the pricing file (docs/formats.md section 6) extended with description, lines of business,
markets, tier descriptions, eligibility and services. Keeping it one document makes versions
immutable as a whole, exports byte-stable and diffs simple.

Every problem is reported at once, each with the JSON path of what is wrong.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bundles.phases import MAX_PHASE_START, phase_definition
from bundles.phases import phases as phases_of
from core.domain.codes import CARE_MANAGEMENT_PROGRAMS, LINES_OF_BUSINESS
from core.domain.display import code_label
from core.domain.problems import ERROR, Problem, Severity

PERIOD_TYPES = ("monthly", "episode")
PHASE_CODE = re.compile(r"[a-z0-9_-]{1,16}")


def episode_days(definition: dict[str, Any]) -> int | None:
    """An episode bundle's length in days (30, 60, 90...); None for a bundle paid per member-month."""
    period = definition.get("period") or {}
    return int(period["days"]) if period.get("type") == "episode" and period.get("days") else None


# California SB 1004 criteria (advanced cancer, CHF, COPD, liver disease), dementia and renal
# disease as options; ICD-10-CM ranges.
DEFAULT_DIAGNOSIS_GROUPS = [
    {"name": "Advanced cancer", "icd10_ranges": ["C00-C96"], "included": True},
    {"name": "Congestive heart failure", "icd10_ranges": ["I50.0-I50.9"], "included": True},
    {"name": "Chronic obstructive pulmonary disease", "icd10_ranges": ["J41.0-J44.9"], "included": True},
    {"name": "Liver disease", "icd10_ranges": ["K70.0-K77"], "included": True},
    {"name": "Dementia", "icd10_ranges": ["F01-F03", "G30.0-G30.9"], "included": False},
    {"name": "Renal disease", "icd10_ranges": ["N18.4-N18.6"], "included": False},
]
DEFAULT_ELIGIBILITY = {
    "diagnosis_groups": DEFAULT_DIAGNOSIS_GROUPS,
    "functional_status": {"scale": "PPS", "max": 70},
    "utilization_criteria": ["At least one ED visit or inpatient admission in the last 12 months"],
    "exclusions": ["Enrolled in hospice"],
}
DEFAULT_SERVICES = [
    {"name": "Advance care planning", "codes": ["99497", "99498"]},
    {"name": "Pain and symptom management", "codes": []},
    {"name": "24/7 telephone line", "codes": []},
    {"name": "Caregiver support", "codes": []},
    {"name": "Medication reconciliation", "codes": []},
    {"name": "Care coordination", "codes": ["S0311"]},
]
# Required role groups: each group is satisfied by any one of its roles.
DEFAULT_REQUIRED_ROLES: list[list[str]] = [["physician", "np", "pa"], ["rn"], ["lcsw"], ["chaplain"]]


def problem(path: str, code: str, message: str, severity: Severity = ERROR) -> Problem:
    """A problem in a bundle definition. Bundle checks grade what they find (a missing role blocks
    publishing, an unusual effort only warns), so every problem says its severity."""
    return Problem.at_path(path, code, message, severity)


class DefinitionError(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


def empty_definition(name: str = "", tiers: int = 3) -> dict[str, Any]:
    tier_names = ["Stable", "Moderate", "High need", "Complex", "Very complex"]
    return {
        "name": name,
        "description": "",
        "lines_of_business": ["medicaid"],
        "markets": [],
        "period": {"type": "monthly"},
        "tiers": [
            {
                "code": str(i + 1),
                "name": tier_names[i] if i < len(tier_names) else f"Tier {i + 1}",
                "description": "",
            }
            for i in range(tiers)
        ],
        "home_share": "0.8",
        "roles": [],
        "assessment": {"roles": [], "home": True},
        "eligibility": copy.deepcopy(DEFAULT_ELIGIBILITY),
        "services": copy.deepcopy(DEFAULT_SERVICES),
    }


# --- numbers -------------------------------------------------------------------------------


def check_number(
    value: Any,
    path: str,
    problems: list[Problem],
    *,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal | None = None,
    integer: bool = False,
) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        problems.append(
            problem(path, "required" if value in (None, "") else "not_a_number", "A number is required.")
        )
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        problems.append(problem(path, "not_a_number", f"{value!r} is not a number."))
        return None
    if not number.is_finite():
        problems.append(problem(path, "not_a_number", "The number must be finite."))
        return None
    if minimum is not None and number < minimum:
        problems.append(
            problem(path, "negative" if minimum == 0 else "too_small", f"Must be at least {minimum}.")
        )
    if maximum is not None and number > maximum:
        problems.append(problem(path, "too_large", f"Must be at most {maximum}."))
    if integer and number != number.to_integral_value():
        problems.append(problem(path, "not_an_integer", "Must be a whole number."))
    return number


def normalize_number(value: Any) -> str:
    """Numbers are kept as decimal strings so that exports are exact and stable."""
    number = Decimal(str(value))
    text = format(number.normalize(), "f")
    return text


# --- validation ----------------------------------------------------------------------------


def validate(
    definition: Any, *, role_codes: set[str] | None = None, market_codes: set[str] | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """Check a definition's shape and values; return it normalised and every problem found.

    ``role_codes`` and ``market_codes`` are what the plan's catalogue knows; unknown codes are
    errors when given. Structural problems only: completeness is ``publish_problems``.
    """
    problems: list[Problem] = []
    if not isinstance(definition, dict):
        return {}, [problem("$", "not_an_object", "The bundle must be a JSON object.")]
    d = copy.deepcopy(definition)

    name = d.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(problem("$.name", "required", "The bundle needs a name."))
    elif len(name) > 200:
        problems.append(problem("$.name", "too_long", "At most 200 characters."))
    if not isinstance(d.setdefault("description", ""), str):
        problems.append(problem("$.description", "not_a_string", "The description must be text."))

    lobs = d.setdefault("lines_of_business", [])
    if not isinstance(lobs, list):
        problems.append(problem("$.lines_of_business", "not_a_list", "A list of line-of-business codes."))
    else:
        for i, lob in enumerate(lobs):
            if lob not in LINES_OF_BUSINESS:
                problems.append(
                    problem(
                        f"$.lines_of_business[{i}]",
                        "unknown_lob",
                        f"Unknown line of business {lob!r}; one of {', '.join(LINES_OF_BUSINESS)}.",
                    )
                )
        if len(set(lobs)) != len(lobs):
            problems.append(
                problem("$.lines_of_business", "duplicate", "A line of business is listed twice.")
            )

    markets = d.setdefault("markets", [])
    if not isinstance(markets, list):
        problems.append(problem("$.markets", "not_a_list", "A list of market codes."))
    else:
        for i, market in enumerate(markets):
            if not isinstance(market, str) or not market:
                problems.append(problem(f"$.markets[{i}]", "not_a_string", "A market code."))
            elif market_codes is not None and market not in market_codes:
                problems.append(
                    problem(f"$.markets[{i}]", "unknown_market", f"The plan has no market {market!r}.")
                )
        if len(set(map(str, markets))) != len(markets):
            problems.append(problem("$.markets", "duplicate", "A market is listed twice."))

    period = d.get("period")
    if not isinstance(period, dict) or period.get("type") not in PERIOD_TYPES:
        problems.append(problem("$.period.type", "invalid_period", "Period type is `monthly` or `episode`."))
    elif period["type"] == "episode":
        days = check_number(
            period.get("days"),
            "$.period.days",
            problems,
            minimum=Decimal(1),
            maximum=Decimal(366),
            integer=True,
        )
        if days is not None:
            period["days"] = int(days)
    else:
        period.pop("days", None)

    tiers = d.get("tiers")
    tier_codes: list[str] = []
    if not isinstance(tiers, list):
        problems.append(problem("$.tiers", "not_a_list", "Tiers must be a list."))
        d["tiers"] = tiers = []
    for i, tier in enumerate(tiers):
        if not isinstance(tier, dict):
            problems.append(
                problem(f"$.tiers[{i}]", "not_an_object", "A tier is an object with code and name.")
            )
            continue
        code = tier.get("code")
        if not isinstance(code, str | int) or str(code).strip() == "":
            problems.append(problem(f"$.tiers[{i}].code", "required", "Each tier needs a code."))
            continue
        tier["code"] = str(code).strip()
        if tier["code"] in tier_codes:
            problems.append(
                problem(f"$.tiers[{i}].code", "duplicate", f"Tier code {tier['code']!r} is used twice.")
            )
        tier_codes.append(tier["code"])
        if not isinstance(tier.get("name"), str) or not tier["name"].strip():
            problems.append(problem(f"$.tiers[{i}].name", "required", "Each tier needs a name."))
        tier.setdefault("description", "")

    home_share = check_number(d.get("home_share"), "$.home_share", problems, maximum=Decimal(1))
    if home_share is not None:
        d["home_share"] = normalize_number(home_share)
    care_management = d.get("care_management") or ""
    if care_management and care_management not in CARE_MANAGEMENT_PROGRAMS:
        problems.append(
            problem(
                "$.care_management",
                "invalid_choice",
                f"Care management is billed as one of {', '.join(CARE_MANAGEMENT_PROGRAMS)}, or not at all.",
            )
        )
    if care_management:
        d["care_management"] = care_management
    else:
        d.pop("care_management", None)

    phase_codes = _validate_phases(d, problems)

    roles = d.get("roles")
    if not isinstance(roles, list):
        problems.append(problem("$.roles", "not_a_list", "Roles must be a list."))
        d["roles"] = roles = []
    seen_roles: set[str] = set()
    for i, role in enumerate(roles):
        path = f"$.roles[{i}]"
        if not isinstance(role, dict):
            problems.append(problem(path, "not_an_object", "A role is an object."))
            continue
        code = role.get("role")
        if not isinstance(code, str) or not code:
            problems.append(problem(f"{path}.role", "required", "Each team member needs a role code."))
        elif role_codes is not None and code not in role_codes:
            problems.append(problem(f"{path}.role", "unknown_role", f"No role {code!r} in the catalogue."))
        elif code in seen_roles:
            problems.append(problem(f"{path}.role", "duplicate", f"Role {code!r} is listed twice."))
        seen_roles.add(str(code))
        minutes = check_number(
            role.get("visit_minutes"), f"{path}.visit_minutes", problems, maximum=Decimal(600)
        )
        if minutes is not None:
            role["visit_minutes"] = normalize_number(minutes)
        by_tier = role.setdefault("by_tier", {})
        if not isinstance(by_tier, dict):
            problems.append(problem(f"{path}.by_tier", "not_an_object", "Effort by tier code."))
            continue
        _validate_effort(by_tier, f"{path}.by_tier", tier_codes, problems)
        by_phase = role.get("by_phase")
        if by_phase in (None, {}):
            role.pop("by_phase", None)
        elif not isinstance(by_phase, dict):
            problems.append(problem(f"{path}.by_phase", "not_an_object", "Effort by phase code, then tier."))
        else:
            for phase_code, phase_effort in by_phase.items():
                ppath = f"{path}.by_phase.{phase_code}"
                if phase_code not in phase_codes:
                    problems.append(
                        problem(ppath, "unknown_phase", f"No phase {phase_code!r} in this bundle.")
                    )
                if not isinstance(phase_effort, dict):
                    problems.append(problem(ppath, "not_an_object", "Effort by tier code."))
                    continue
                _validate_effort(phase_effort, ppath, tier_codes, problems)

    assessment = d.get("assessment")
    if not isinstance(assessment, dict):
        problems.append(problem("$.assessment", "not_an_object", "The initial assessment is an object."))
        d["assessment"] = {"roles": [], "home": True}
    else:
        assessment["home"] = bool(assessment.get("home", True))
        a_roles = assessment.setdefault("roles", [])
        if not isinstance(a_roles, list):
            problems.append(
                problem("$.assessment.roles", "not_a_list", "Roles taking part in the assessment.")
            )
        else:
            for i, a_role in enumerate(a_roles):
                apath = f"$.assessment.roles[{i}]"
                if not isinstance(a_role, dict) or not isinstance(a_role.get("role"), str):
                    problems.append(problem(f"{apath}.role", "required", "A role code."))
                    continue
                if role_codes is not None and a_role["role"] not in role_codes:
                    problems.append(
                        problem(
                            f"{apath}.role", "unknown_role", f"No role {a_role['role']!r} in the catalogue."
                        )
                    )
                minutes = check_number(
                    a_role.get("minutes"), f"{apath}.minutes", problems, maximum=Decimal(600)
                )
                if minutes is not None:
                    a_role["minutes"] = normalize_number(minutes)

    eligibility = d.setdefault("eligibility", copy.deepcopy(DEFAULT_ELIGIBILITY))
    if not isinstance(eligibility, dict):
        problems.append(problem("$.eligibility", "not_an_object", "Eligibility is an object."))
    else:
        for i, group in enumerate(eligibility.get("diagnosis_groups", [])):
            if not isinstance(group, dict) or not group.get("name"):
                problems.append(
                    problem(f"$.eligibility.diagnosis_groups[{i}].name", "required", "A group needs a name.")
                )
                continue
            for j, code_range in enumerate(group.get("icd10_ranges", [])):
                if not _valid_icd10_range(code_range):
                    problems.append(
                        problem(
                            f"$.eligibility.diagnosis_groups[{i}].icd10_ranges[{j}]",
                            "invalid_icd10",
                            f"{code_range!r} is not an ICD-10-CM code or range like C00-C96.",
                        )
                    )
        functional = eligibility.get("functional_status")
        if functional is not None:
            if not isinstance(functional, dict):
                problems.append(
                    problem("$.eligibility.functional_status", "not_an_object", "Scale and maximum.")
                )
            else:
                check_number(
                    functional.get("max"),
                    "$.eligibility.functional_status.max",
                    problems,
                    maximum=Decimal(100),
                )

    services = d.setdefault("services", [])
    if not isinstance(services, list):
        problems.append(problem("$.services", "not_a_list", "A list of services."))
    else:
        for i, service in enumerate(services):
            if not isinstance(service, dict) or not str(service.get("name", "")).strip():
                problems.append(problem(f"$.services[{i}].name", "required", "A service needs a name."))
            else:
                service.setdefault("codes", [])
    return d, problems


def _validate_effort(
    by_tier: dict[str, Any], path: str, tier_codes: list[str], problems: list[Problem]
) -> None:
    """A role's effort per tier (its ``by_tier``, or a phase's under ``by_phase``), normalised in place."""
    for tier_code, effort in by_tier.items():
        tpath = f"{path}.{tier_code}"
        if tier_code not in tier_codes:
            problems.append(problem(tpath, "unknown_tier", f"No tier {tier_code!r} in this bundle."))
        if not isinstance(effort, dict):
            problems.append(problem(tpath, "not_an_object", "visits_per_mm and coordination_minutes_per_mm."))
            continue
        for field, maximum in (
            ("visits_per_mm", Decimal(62)),
            ("coordination_minutes_per_mm", Decimal(10000)),
        ):
            value = check_number(effort.get(field, 0), f"{tpath}.{field}", problems, maximum=maximum)
            if value is not None:
                effort[field] = normalize_number(value)


def _validate_phases(d: dict[str, Any], problems: list[Problem]) -> list[str]:
    """The phases of enrollment (bundles/phases.py), normalised in place; returns their codes.

    None or an empty list: the bundle pays one rate whatever the month (the key is dropped). Otherwise at
    least two phases, the first from month 1, each later one starting later (at most month
    ``MAX_PHASE_START``), with unique codes; an episode bundle has no phases (its case rate already is one).
    """
    phases = d.get("phases")
    if phases in (None, []):
        d.pop("phases", None)
        return []
    if not isinstance(phases, list):
        problems.append(problem("$.phases", "not_a_list", "Phases must be a list."))
        return []
    if (d.get("period") or {}).get("type") == "episode":
        problems.append(
            problem("$.phases", "phases_not_for_episodes", "An episode bundle pays one case rate: no phases.")
        )
    if len(phases) < 2:
        problems.append(
            problem("$.phases", "one_phase", "Phases split enrollment in two or more; remove the only one.")
        )
    codes: list[str] = []
    previous = 0
    for i, phase in enumerate(phases):
        path = f"$.phases[{i}]"
        if not isinstance(phase, dict):
            problems.append(
                problem(path, "not_an_object", "A phase is an object with code, name and from_month.")
            )
            continue
        code = str(phase.get("code") or "").strip()
        if not PHASE_CODE.fullmatch(code):
            problems.append(
                problem(
                    f"{path}.code",
                    "invalid_code",
                    "A phase code is 1 to 16 lowercase letters, digits, - or _.",
                )
            )
        elif code in codes:
            problems.append(problem(f"{path}.code", "duplicate", f"Phase code {code!r} is used twice."))
        codes.append(code)
        phase["code"] = code
        if not isinstance(phase.get("name"), str) or not phase["name"].strip():
            problems.append(problem(f"{path}.name", "required", "Each phase needs a name."))
        start = check_number(
            phase.get("from_month"),
            f"{path}.from_month",
            problems,
            minimum=Decimal(1),
            maximum=Decimal(MAX_PHASE_START),
            integer=True,
        )
        if start is None or start != start.to_integral_value():
            continue
        phase["from_month"] = int(start)
        if i == 0 and start != 1:
            problems.append(
                problem(f"{path}.from_month", "first_phase_start", "The first phase starts at month 1.")
            )
        elif start <= previous:  # not the first phase: it starts at month 1 (after 0) or is caught above
            problems.append(
                problem(
                    f"{path}.from_month",
                    "phase_order",
                    f"A phase starts after the one before it (month {previous}).",
                )
            )
        previous = int(start)
    return codes


def _valid_icd10_range(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("-")
    if len(parts) > 2:
        return False
    for part in parts:
        part = part.strip()
        if len(part) < 3 or not part[0].isalpha() or not part[1:3].isalnum():
            return False
    return True


def in_icd10_range(code: str, code_range: str) -> bool:
    """Whether an ICD-10-CM code (dots optional) lies in a range such as ``I50.0-I50.9`` or ``C00-C96``:
    each bound covers every code that starts with it, so ``K70.0-K77`` holds K70.0 to K77.9."""
    code = code.replace(".", "").strip().upper()
    low, _, high = code_range.upper().replace(".", "").partition("-")
    low, high = low.strip(), (high or low).strip()
    return code[: len(low)] >= low and code[: len(high)] <= high


def diagnosis_group(codes: Iterable[str], definition: dict[str, Any]) -> str:
    """The first included diagnosis group of a bundle's eligibility (in its order) that any of
    ``codes`` falls in; '' when none does."""
    codes = list(codes)
    for group in (definition.get("eligibility") or {}).get("diagnosis_groups", []):
        if group.get("included") and any(
            in_icd10_range(code, code_range) for code_range in group.get("icd10_ranges", []) for code in codes
        ):
            return str(group.get("name") or "")
    return ""


# --- effort arithmetic ---------------------------------------------------------------------


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def role_minutes(
    role: dict[str, Any],
    tier_code: str,
    home_share: Decimal = Decimal(0),
    travel_minutes: Decimal = Decimal(0),
) -> Decimal:
    """Minutes per member-month a role spends in a tier (travel only when a market's is given)."""
    effort = role.get("by_tier", {}).get(tier_code) or {}
    visits = _dec(effort.get("visits_per_mm", 0))
    return visits * (_dec(role.get("visit_minutes", 0)) + travel_minutes * home_share) + _dec(
        effort.get("coordination_minutes_per_mm", 0)
    )


def grid(definition: dict[str, Any]) -> dict[str, Any]:
    """The team-by-tier grid: minutes per member-month per role and tier, and tier totals."""
    tiers = [t["code"] for t in definition.get("tiers", [])]
    rows = []
    totals = {code: Decimal(0) for code in tiers}
    for role in definition.get("roles", []):
        cells = {}
        for code in tiers:
            minutes = role_minutes(role, code)
            cells[code] = minutes
            totals[code] += minutes
        rows.append(
            {"role": role.get("role"), "visit_minutes": _dec(role.get("visit_minutes", 0)), "minutes": cells}
        )
    return {"tiers": tiers, "rows": rows, "totals": totals}


def _has_effort(role: dict[str, Any], tier_code: str) -> bool:
    effort = role.get("by_tier", {}).get(tier_code) or {}
    return _dec(effort.get("visits_per_mm", 0)) > 0 or _dec(effort.get("coordination_minutes_per_mm", 0)) > 0


def publish_problems(
    definition: dict[str, Any],
    *,
    required_roles: list[list[str]],
    role_names: dict[str, str],
    role_codes: set[str] | None = None,
    market_codes: set[str] | None = None,
) -> list[Problem]:
    """Everything that stops publication (errors) and what a reviewer should see (warnings)."""
    normalized, problems = validate(definition, role_codes=role_codes, market_codes=market_codes)
    if problems:
        return problems
    tiers = [t["code"] for t in normalized["tiers"]]
    if not tiers:
        problems.append(problem("$.tiers", "no_tiers", "Add at least one tier."))
    if not normalized["lines_of_business"]:
        problems.append(problem("$.lines_of_business", "required", "Choose at least one line of business."))
    if not normalized["markets"]:
        problems.append(
            problem("$.markets", "required", "Choose at least one market the bundle may be offered in.")
        )
    # every phase is a team of its own: each needs the required roles in every tier
    teams = [("", normalized["roles"])] + [
        (f" in phase {p.name}", phase_definition(normalized, p.code)["roles"]) for p in phases_of(normalized)
    ]
    for in_phase, roles in teams:
        for tier_index, code in enumerate(tiers):
            for group in required_roles:
                if not any(r["role"] in group and _has_effort(r, code) for r in roles):
                    names = " or ".join(role_names.get(c, c) for c in group)
                    problems.append(
                        problem(
                            f"$.tiers[{tier_index}]",
                            "missing_required_role",
                            f"Tier {code} has no effort from a {names}{in_phase}.",
                        )
                    )
    assessment_roles = [r for r in normalized["assessment"]["roles"] if _dec(r.get("minutes", 0)) > 0]
    if not assessment_roles:
        problems.append(
            problem(
                "$.assessment.roles",
                "no_assessment",
                "Define the initial assessment: which roles take part and for how long.",
            )
        )
    totals = grid(normalized)["totals"]
    for lower, higher in zip(tiers, tiers[1:], strict=False):
        if totals[higher] < totals[lower]:
            problems.append(
                problem(
                    f"$.tiers[{tiers.index(higher)}]",
                    "tier_order",
                    severity="warning",
                    message=(
                        f"Tier {higher} needs {totals[higher].normalize():f} minutes per member-month, less than "
                        f"tier {lower}'s {totals[lower].normalize():f}: is the order right?"
                    ),
                )
            )
    return problems


# --- diffs ---------------------------------------------------------------------------------


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        if not value:
            out[path] = {}
        for key in sorted(value):
            _flatten(value[key], f"{path}.{key}", out)
    elif isinstance(value, list):
        keyed = all(isinstance(v, dict) and ("code" in v or "role" in v or "name" in v) for v in value)
        if not value:
            out[path] = []
        for i, item in enumerate(value):
            key = (item.get("code") or item.get("role") or item.get("name")) if keyed else None
            _flatten(item, f"{path}[{key if key is not None else i}]", out)
    else:
        out[path] = value


#: How a definition's field reads in a change ("RN visits per member-month, Tier 3"); a field not
#: listed reads as its words. ``None``: the segment only groups its children.
FIELD_WORDS: dict[str, str | None] = {
    "by_tier": None,
    "by_phase": None,
    "from_month": "starts at month",
    "visits_per_mm": "visits per member-month",
    "coordination_minutes_per_mm": "coordination minutes per member-month",
    "visit_minutes": "minutes per visit",
    "travel_minutes_per_visit": "travel minutes per visit",
    "miles_per_visit": "miles per visit",
    "home_share": "share of visits made at home",
    "care_management": "care management billed under a supervising clinician",
    "period": "payment period",
    "days": "length in days",
    "assessment": "initial assessment",
    "home": "made at home",
    "diagnosis_groups": "diagnosis group",
    "icd10_ranges": "ICD-10 ranges",
    "max": "maximum",
}
_SEGMENT = re.compile(r"\.([^.\[]+)(?:\[([^\]]+)\])?")


def describe_path(
    path: str,
    role_names: Mapping[str, str],
    tier_names: Mapping[str, str],
    phase_names: Mapping[str, str] | None = None,
) -> str:
    """A change's path in words: ``$.roles[rn].by_tier.3.visits_per_mm`` -> "Registered nurse visits
    per member-month, Tier 3"; ``$.tiers[2].name`` -> "Tier 2 (Moderate) name";
    ``$.roles[rn].by_phase.initial.1.visits_per_mm`` -> "Registered nurse visits per member-month,
    Tier 1, in phase Months 1-2" (the phase's name from ``phase_names``, else its code)."""
    phase_names = phase_names or {}
    words: list[str] = []
    tiers: list[str] = []
    in_phase: list[str] = []
    previous = phase = ""
    for name, key in _SEGMENT.findall(path):
        if name == "roles" and key:
            words.append(role_names.get(key, key))
        elif name == "tiers" and key:
            words.append(f"Tier {key}" + (f" ({tier_names[key]})" if tier_names.get(key) else ""))
        elif previous == "by_tier" or phase:  # the keys under by_tier (and a phase's) are tier codes
            tiers.append(f"Tier {name}")
            phase = ""
        elif previous == "by_phase":
            # the phase goes last, after the tier: "..., Tier 1, in phase Months 1-2"
            in_phase = [f"in phase {phase_names.get(name) or name}"]
            phase = name
            continue
        elif name == "phases" and key:
            words.append(f"Phase {key}" + (f" ({phase_names[key]})" if phase_names.get(key) else ""))
        elif (word := FIELD_WORDS.get(name, code_label(name).lower())) is not None:
            words.append(word + (f" {key}" if key and not key.isdigit() else ""))
        previous = name
    text = " ".join(words) or "The bundle"
    text = text[:1].upper() + text[1:]
    return text + "".join(f", {part}" for part in [*tiers, *in_phase])


def diff(
    before: dict[str, Any], after: dict[str, Any], role_names: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Changes between two definitions, as (path, label, before, after) with list items keyed by code.

    Keying tiers and roles by their code means that reordering or adding a role shows as that
    role's change, not as every later item shifting. ``label`` says the path in words, with the
    roles' names from ``role_names`` (the plan's role list) and the tiers' from the definitions.
    """
    tier_names = {
        str(t.get("code")): t.get("name") or ""
        for t in [*(before.get("tiers") or []), *(after.get("tiers") or [])]
        if isinstance(t, dict)
    }
    phase_names = {
        str(p.get("code")): p.get("name") or ""
        for p in [*(before.get("phases") or []), *(after.get("phases") or [])]
        if isinstance(p, dict)
    }
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten(before, "$", a)
    _flatten(after, "$", b)
    changes = []
    for path in sorted(set(a) | set(b)):
        if a.get(path, _MISSING) != b.get(path, _MISSING):
            changes.append(
                {
                    "path": path,
                    "label": describe_path(path, role_names or {}, tier_names, phase_names),
                    "change": "added" if path not in a else "removed" if path not in b else "changed",
                    "before": a.get(path),
                    "after": b.get(path),
                }
            )
    return changes


_MISSING = object()
