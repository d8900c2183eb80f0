"""Contract terms as plain data: the catalogues, validation, the fingerprint, the diff between
versions, and the terms in plain words. No Django here.

A version's *document* is a plain dict (built by ``contracts.selectors.version_document``) with
every rate and term as JSON-ready values (money as decimal strings). The fingerprint is the
sha256 of its canonical JSON; the diff compares two documents section by section.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bundles.phases import phases
from core.domain.canonical import canonical_json_ascii, sha256_hex
from core.domain.codes import PRORATION_RULES, TIER_RULES, lob_label
from core.domain.money import to_cents
from core.domain.problems import Problem


@dataclass(frozen=True)
class Measure:
    name: str
    better: str  # "lower" or "higher"
    unit: str  # "per_1000", "rate", "days", "score"
    denominator: str
    # The file whose data scores it (docs/formats.md); None: no file carries it yet, so a contract
    # cannot choose it (it would never be scored and its weight would silently drop out).
    source: str | None = None


_UTILIZATION = "the plan's utilisation file"
_ROSTER = "the provider's monthly roster"
QUALITY_MEASURES: dict[str, Measure] = {
    "ed_visits_per_1000": Measure(
        "ED visits per 1,000 member-months", "lower", "per_1000", "member-months", _UTILIZATION
    ),
    "inpatient_admissions_per_1000": Measure(
        "Inpatient admissions per 1,000 member-months", "lower", "per_1000", "member-months", _UTILIZATION
    ),
    "icu_admissions_per_1000": Measure(
        "ICU admissions per 1,000 member-months", "lower", "per_1000", "member-months", _UTILIZATION
    ),
    "readmission_30d_rate": Measure("30-day readmission rate", "lower", "rate", "discharges", _UTILIZATION),
    "hospice_transition_rate": Measure(
        "Hospice transition rate", "higher", "rate", "disenrollments", _ROSTER
    ),
    "median_days_before_hospice": Measure(
        "Median days enrolled before hospice", "higher", "days", "transitions to hospice", _ROSTER
    ),
    "death_at_home_rate": Measure(
        "Death at home (or preferred place)", "higher", "rate", "deaths", _UTILIZATION
    ),
    "acp_within_60d_rate": Measure(
        "Advance care plan documented within 60 days", "higher", "rate", "new enrollees", _UTILIZATION
    ),
    "assessment_within_n_days_rate": Measure(
        "Initial assessment within N days of referral",
        "higher",
        "rate",
        "referrals",
        "the provider's assessments file (referral_date)",
    ),
    "satisfaction_score": Measure(
        "Patient and family satisfaction score", "higher", "score", "survey responses", _UTILIZATION
    ),
}
NO_DATA_MESSAGE = (
    "{name} cannot be scored: no file the platform reads carries its data yet. Choose another measure."
)
DIRECTIONS = ("lower", "higher")

BASELINE_METHODS = {
    "pre_enrollment": "the same members' total cost of care PMPM in the months before enrollment",
    "trended_benchmark": "a trended benchmark total cost of care PMPM",
    "comparison_group": (
        "a comparison group of eligible members who did not enroll, matched and compared by difference in "
        "differences"
    ),
}
BASELINE_METHOD_CODES = tuple(BASELINE_METHODS)  # one OpenAPI enum wherever a baseline method appears
#: The members' own pre-enrollment window (months) when the terms name none: the baseline of
#: ``pre_enrollment`` and, under either method, the event rates of avoided events.
DEFAULT_BASELINE_MONTHS = 12
MAX_BASELINE_MONTHS = 36
MIN_ANNUAL_TREND, MAX_ANNUAL_TREND = Decimal("-0.2"), Decimal("0.5")
BENCHMARK_KEYS = ("benchmark_pmpm", "benchmark_midpoint", "annual_trend")
#: Run-out: the months after a period before it may be settled, and the share of its completed claims
#: cost that must be paid by then (docs/domain.md "Run-out and completion").
MAX_RUNOUT_MONTHS = 24
MIN_COMPLETION_THRESHOLD = Decimal("0.5")
SHARED_SAVINGS_LABELS = {
    "baseline_months": "Shared savings · baseline window (months before enrollment)",
    "runout_months": "Shared savings · run-out (months after the period)",
    "completion_threshold": "Shared savings · claims completion threshold",
    "benchmark_pmpm": "Shared savings · benchmark PMPM",
    "benchmark_midpoint": "Shared savings · benchmark midpoint",
    "annual_trend": "Shared savings · annual trend",
}

MAX_PMPM = Decimal("99999.99")
MAX_WITHHOLD = Decimal("0.25")
MAX_BONUS_PERCENTAGE = Decimal("0.2")
MAX_APPROVAL_LIMIT = Decimal("999999999999.99")  # the 14-digit money column
RECOVERY_SHARE_PLACES = 6  # the version's column: 0.000001 .. 1.000000
#: On an early exit from an episode: paid in full, or prorated by the days enrolled of the episode's days.
EPISODE_EARLY_EXIT = {"full": "paid in full", "prorated": "prorated by the days enrolled"}
MAX_EPISODE_INSTALLMENTS = 12
EPISODE_TERMS = ("episode_installments", "episode_early_exit", "episode_renewal")
EPISODE_ONLY_MESSAGE = "Episode terms apply only to a bundle paid per episode; this bundle is paid per month."


# --- numbers ---------------------------------------------------------------------------------


def parse_decimal(
    value: Any,
    path: str,
    problems: list[Problem],
    *,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    places: int | None = None,
    strictly_positive: bool = False,
    label: str = "The value",
) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        problems.append(Problem.at_path(path, "required", f"{label} is required."))
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        problems.append(Problem.at_path(path, "not_a_number", f"{label} must be a number, not {value!r}."))
        return None
    if not number.is_finite():
        problems.append(Problem.at_path(path, "not_a_number", f"{label} must be a finite number."))
        return None
    if strictly_positive and number <= 0:
        problems.append(Problem.at_path(path, "not_positive", f"{label} must be more than 0."))
    elif minimum is not None and number < minimum:
        problems.append(Problem.at_path(path, "too_small", f"{label} must be at least {minimum}."))
    if maximum is not None and number > maximum:
        problems.append(Problem.at_path(path, "too_large", f"{label} must be at most {maximum}."))
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        problems.append(
            Problem.at_path(path, "too_many_places", f"{label} has more than {places} decimal places.")
        )
    return number


def parse_int(
    value: Any, path: str, problems: list[Problem], *, minimum: int, maximum: int, label: str = "The value"
) -> int | None:
    number = parse_decimal(
        value, path, problems, minimum=Decimal(minimum), maximum=Decimal(maximum), label=label
    )
    if number is None:
        return None
    if number != number.to_integral_value():
        problems.append(Problem.at_path(path, "not_an_integer", f"{label} must be a whole number."))
        return None
    return int(number)


def money(value: Decimal) -> str:
    return str(to_cents(Decimal(value)))


def plain_number(value: Any) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    return text


# --- validation --------------------------------------------------------------------------------


def _parse_date(value: Any, path: str, problems: list[Problem], label: str) -> date | None:
    if isinstance(value, date):
        return value
    if value in (None, ""):
        problems.append(Problem.at_path(path, "required", f"{label} is required."))
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(Problem.at_path(path, "not_a_date", f"{label} must be a date (YYYY-MM-DD)."))
        return None


def validate_quality_terms(value: Any, problems: list[Problem], path: str = "quality_terms") -> list[dict]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        problems.append(Problem.at_path(path, "not_a_list", "Quality terms are a list of measures."))
        return []
    seen: set[str] = set()
    result = []
    for i, term in enumerate(value):
        at = f"{path}[{i}]"
        if not isinstance(term, dict):
            problems.append(Problem.at_path(at, "not_an_object", "Each quality term is an object."))
            continue
        code = term.get("measure")
        if not isinstance(code, str) or code not in QUALITY_MEASURES:  # a list or object too: unknown
            problems.append(
                Problem.at_path(
                    f"{at}.measure",
                    "unknown_measure",
                    f"Unknown measure {code!r}; one of {', '.join(QUALITY_MEASURES)}.",
                )
            )
            continue
        measure = QUALITY_MEASURES[code]
        if measure.source is None:  # a contract cannot choose a measure its data cannot score
            problems.append(
                Problem.at_path(
                    f"{at}.measure", "measure_without_data", NO_DATA_MESSAGE.format(name=measure.name)
                )
            )
            continue
        if code in seen:
            problems.append(Problem.at_path(f"{at}.measure", "duplicate", f"{measure.name} is listed twice."))
        seen.add(code)
        maximum = Decimal(1) if measure.unit == "rate" else Decimal(100) if measure.unit == "score" else None
        target = parse_decimal(
            term.get("target"),
            f"{at}.target",
            problems,
            minimum=Decimal(0),
            maximum=maximum,
            label=f"The target of {measure.name}",
        )
        weight = parse_decimal(
            term.get("weight"),
            f"{at}.weight",
            problems,
            maximum=Decimal(1),
            strictly_positive=True,
            label=f"The weight of {measure.name}",
        )
        direction = term.get("direction") or measure.better
        if direction not in DIRECTIONS:
            problems.append(
                Problem.at_path(f"{at}.direction", "unknown_direction", "Direction is `lower` or `higher`.")
            )
        elif direction != measure.better:
            problems.append(
                Problem.at_path(
                    f"{at}.direction", "wrong_direction", f"For {measure.name}, {measure.better} is better."
                )
            )
        minimum_denominator = parse_int(
            term.get("minimum_denominator", 0),
            f"{at}.minimum_denominator",
            problems,
            minimum=0,
            maximum=1_000_000,
            label=f"The minimum denominator of {measure.name}",
        )
        entry = {
            "measure": code,
            "target": None if target is None else plain_number(target),
            "weight": None if weight is None else plain_number(weight),
            "direction": direction,
            "minimum_denominator": minimum_denominator,
        }
        if code == "assessment_within_n_days_rate":
            entry["n_days"] = parse_int(
                term.get("n_days", 14),
                f"{at}.n_days",
                problems,
                minimum=1,
                maximum=365,
                label="N (days from referral)",
            )
        result.append(entry)
    return result


def validate_shared_savings(value: Any, problems: list[Problem], path: str = "shared_savings_terms") -> dict:
    if not value:
        return {}
    if not isinstance(value, dict):
        problems.append(Problem.at_path(path, "not_an_object", "Shared savings terms are an object."))
        return {}
    method = value.get("baseline_method")
    if method not in BASELINE_METHODS:
        problems.append(
            Problem.at_path(
                f"{path}.baseline_method",
                "unknown_baseline_method",
                f"Baseline method is one of {', '.join(BASELINE_METHODS)}.",
            )
        )
    result: dict[str, Any] = {"baseline_method": method}
    for key, label, maximum, positive in (
        ("minimum_savings_rate", "The minimum savings rate", Decimal("0.5"), False),
        ("sharing_rate", "The sharing rate", Decimal(1), True),
        ("cap", "The cap (share of the baseline)", Decimal(1), True),
        ("quality_gate", "The quality gate (minimum composite score)", Decimal(1), False),
    ):
        number = parse_decimal(
            value.get(key),
            f"{path}.{key}",
            problems,
            minimum=Decimal(0),
            maximum=maximum,
            strictly_positive=positive,
            label=label,
        )
        result[key] = None if number is None else plain_number(number)
    # The keys below are stored only when given (``baseline_months``) or needed (the benchmark of a
    # trended benchmark), so the terms of every version written before they existed, and so their
    # fingerprints, are unchanged. Benchmark figures given for ``pre_enrollment`` are not stored.
    if value.get("baseline_months") not in (None, ""):
        result["baseline_months"] = parse_int(
            value.get("baseline_months"),
            f"{path}.baseline_months",
            problems,
            minimum=1,
            maximum=MAX_BASELINE_MONTHS,
            label="The baseline window (months before enrollment)",
        )
    if value.get("runout_months") not in (None, ""):
        result["runout_months"] = parse_int(
            value.get("runout_months"),
            f"{path}.runout_months",
            problems,
            minimum=0,
            maximum=MAX_RUNOUT_MONTHS,
            label="The run-out (months after the period before it is settled)",
        )
    if value.get("completion_threshold") not in (None, ""):
        threshold = parse_decimal(
            value.get("completion_threshold"),
            f"{path}.completion_threshold",
            problems,
            minimum=MIN_COMPLETION_THRESHOLD,
            maximum=Decimal(1),
            places=4,
            label="The completion threshold (the share of the period's completed claims cost paid)",
        )
        result["completion_threshold"] = None if threshold is None else plain_number(threshold)
    if method == "trended_benchmark":
        benchmark = parse_decimal(
            value.get("benchmark_pmpm"),
            f"{path}.benchmark_pmpm",
            problems,
            maximum=MAX_PMPM,
            places=2,
            strictly_positive=True,
            label="The benchmark PMPM (needed for a trended benchmark)",
        )
        result["benchmark_pmpm"] = None if benchmark is None else money(benchmark)
        midpoint = _parse_date(
            value.get("benchmark_midpoint"),
            f"{path}.benchmark_midpoint",
            problems,
            "The benchmark midpoint (the middle of the period the benchmark was measured on, "
            "needed for a trended benchmark)",
        )
        result["benchmark_midpoint"] = None if midpoint is None else midpoint.isoformat()
        trend = parse_decimal(
            value.get("annual_trend"),
            f"{path}.annual_trend",
            problems,
            minimum=MIN_ANNUAL_TREND,
            maximum=MAX_ANNUAL_TREND,
            places=4,
            label="The annual trend (a fraction, 0.035 for 3.5% a year, needed for a trended benchmark)",
        )
        result["annual_trend"] = None if trend is None else plain_number(trend)
    return result


def baseline_months(terms: dict[str, Any] | None) -> int:
    """The members' pre-enrollment window of shared savings terms (the default when they name none)."""
    return int((terms or {}).get("baseline_months") or DEFAULT_BASELINE_MONTHS)


def has_benchmark(terms: dict[str, Any] | None) -> bool:
    """Whether shared savings terms carry every figure of a trended benchmark."""
    return all((terms or {}).get(key) not in (None, "") for key in BENCHMARK_KEYS)


def validate_quality_bonus(value: Any, problems: list[Problem], path: str = "quality_bonus") -> dict | None:
    """The bonus paid when the composite score reaches a threshold; ``None`` (or ``{}``) is no bonus."""
    if value in (None, "") or value == {}:
        return None
    if not isinstance(value, dict):
        problems.append(
            Problem.at_path(
                path, "not_an_object", "The quality bonus is an object with a threshold and a percentage."
            )
        )
        return None
    result: dict[str, Any] = {}
    for key, label, maximum in (
        ("threshold", "The bonus threshold (minimum composite score, a fraction)", Decimal(1)),
        ("percentage", "The bonus (a fraction of the period's member-month payments)", MAX_BONUS_PERCENTAGE),
    ):
        number = parse_decimal(
            value.get(key), f"{path}.{key}", problems, maximum=maximum, strictly_positive=True, label=label
        )
        result[key] = None if number is None else plain_number(number)
    return result


def validate_terms(
    terms: dict[str, Any],
    *,
    allowed_markets: list[str],
    allowed_lobs: list[str],
    episode_days: int | None = None,
) -> tuple[dict[str, Any], list[Problem]]:
    """Check the editable terms of a version (not the rates); return them normalised and every problem.

    ``episode_days`` is the bundle's episode length (None: a monthly bundle, which takes no episode terms).
    """
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    start = _parse_date(terms.get("effective_start"), "effective_start", problems, "The effective start")
    end = terms.get("effective_end")
    end = None if end in (None, "") else _parse_date(end, "effective_end", problems, "The effective end")
    if start is not None and start.day != 1:
        problems.append(
            Problem.at_path(
                "effective_start",
                "not_first_of_month",
                "A contract version takes effect on the first of a month.",
            )
        )
    if end is not None and end.day != 1:
        problems.append(
            Problem.at_path(
                "effective_end",
                "not_first_of_month",
                "The end is exclusive and falls on the first of a month (e.g. 2027-01-01 ends "
                "the contract after 31 December 2026).",
            )
        )
    if start is not None and end is not None and end <= start:
        problems.append(
            Problem.at_path("effective_end", "end_before_start", "The end must be after the start.")
        )
    out["effective_start"], out["effective_end"] = start, end

    for key, allowed, noun in (
        ("markets", allowed_markets, "market"),
        ("lines_of_business", allowed_lobs, "line of business"),
    ):
        values = terms.get(key)
        if not isinstance(values, list | tuple) or not values:
            problems.append(Problem.at_path(key, "required", f"Choose at least one {noun}."))
            out[key] = []
            continue
        for i, item in enumerate(values):
            if item not in allowed:
                problems.append(
                    Problem.at_path(
                        f"{key}[{i}]",
                        f"unknown_{'market' if key == 'markets' else 'lob'}",
                        f"The bundle version does not cover the {noun} {item!r}; "
                        f"it covers {', '.join(allowed)}.",
                    )
                )
        if len(set(values)) != len(values):
            problems.append(Problem.at_path(key, "duplicate", f"A {noun} is listed twice."))
        out[key] = [item for item in allowed if item in values]  # the bundle's order

    if terms.get("proration_rule") not in PRORATION_RULES:
        problems.append(
            Problem.at_path("proration_rule", "unknown_rule", f"One of {', '.join(PRORATION_RULES)}.")
        )
    if terms.get("tier_rule") not in TIER_RULES:
        problems.append(Problem.at_path("tier_rule", "unknown_rule", f"One of {', '.join(TIER_RULES)}."))
    out["proration_rule"], out["tier_rule"] = terms.get("proration_rule"), terms.get("tier_rule")
    for key, lo, hi, label in (
        ("assessment_lookback_months", 1, 60, "The assessment look-back window (months)"),
        ("retro_window_months", 0, 24, "The retro window (months)"),
        ("roster_due_day", 1, 28, "The roster due day"),
        ("termination_notice_days", 0, 365, "The termination notice (days)"),
    ):
        out[key] = parse_int(terms.get(key), key, problems, minimum=lo, maximum=hi, label=label)
    withhold = parse_decimal(
        terms.get("withhold_percentage"),
        "withhold_percentage",
        problems,
        minimum=Decimal(0),
        maximum=MAX_WITHHOLD,
        places=4,
        label="The withhold (a fraction, 0.05 for 5%)",
    )
    out["withhold_percentage"] = withhold
    out["quality_terms"] = validate_quality_terms(terms.get("quality_terms"), problems)
    out["shared_savings_terms"] = validate_shared_savings(terms.get("shared_savings_terms"), problems)
    out["quality_bonus"] = validate_quality_bonus(terms.get("quality_bonus"), problems)
    limit = terms.get("single_approval_limit")
    out["single_approval_limit"] = (
        None
        if limit in (None, "")
        else parse_decimal(
            limit,
            "single_approval_limit",
            problems,
            maximum=MAX_APPROVAL_LIMIT,
            places=2,
            strictly_positive=True,
            label="The single-approval limit",
        )
    )
    out["recovery_offset_share"] = validate_recovery_offset_share(
        terms.get("recovery_offset_share"), problems
    )
    out.update(validate_episode_terms(terms, episode_days, problems))
    return out, problems


def validate_episode_terms(
    terms: dict[str, Any], episode_days: int | None, problems: list[Problem]
) -> dict[str, Any]:
    """Installments (1..12), the early-exit rule and renewal; each empty means its default (1, full, no).
    A monthly bundle takes none of them."""
    given = {key: terms.get(key) for key in EPISODE_TERMS if terms.get(key) not in (None, "")}
    out: dict[str, Any] = dict.fromkeys(EPISODE_TERMS)
    if episode_days is None:
        problems += [Problem.at_path(key, "not_an_episode_bundle", EPISODE_ONLY_MESSAGE) for key in given]
        return out
    if "episode_installments" in given:
        out["episode_installments"] = parse_int(
            given["episode_installments"],
            "episode_installments",
            problems,
            minimum=1,
            maximum=MAX_EPISODE_INSTALLMENTS,
            label="The number of installments per episode",
        )
    if "episode_early_exit" in given:
        rule = given["episode_early_exit"]
        if rule in EPISODE_EARLY_EXIT:
            out["episode_early_exit"] = rule
        else:
            problems.append(
                Problem.at_path(
                    "episode_early_exit", "unknown_rule", f"One of {', '.join(EPISODE_EARLY_EXIT)}."
                )
            )
    if "episode_renewal" in given:
        renewal = given["episode_renewal"]
        if isinstance(renewal, bool):
            out["episode_renewal"] = renewal
        else:
            problems.append(Problem.at_path("episode_renewal", "not_a_boolean", "Renewal is true or false."))
    return out


def validate_recovery_offset_share(value: Any, problems: list[Problem]) -> Decimal | None:
    """The share of each payment an open receivable takes back: 0 < share <= 1; empty: 1 (all of it)."""
    if value in (None, ""):
        return None
    return parse_decimal(
        value,
        "recovery_offset_share",
        problems,
        maximum=Decimal(1),
        places=RECOVERY_SHARE_PLACES,
        strictly_positive=True,
        label="The recovery offset share (a fraction, 0.5 for half of each payment)",
    )


def validate_rate(value: Any, path: str, problems: list[Problem]) -> Decimal | None:
    return parse_decimal(
        value, path, problems, maximum=MAX_PMPM, places=2, strictly_positive=True, label="The PMPM"
    )


def validate_fee(value: Any, path: str, problems: list[Problem]) -> Decimal | None:
    return parse_decimal(
        value, path, problems, minimum=Decimal(0), maximum=MAX_PMPM, places=2, label="The assessment fee"
    )


def cells(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (lob, tier, market) the version's terms call for, in display order (a phased version has
    one rate cell per phase of each: ``rate_cells``)."""
    return [
        (lob, tier["code"], market)
        for lob in document["lines_of_business"]
        for tier in document["tiers"]
        for market in document["markets"]
    ]


def phase_codes(document: dict[str, Any]) -> list[str]:
    """The codes of the version's phases of enrollment, in order; [''] when the bundle has none, the
    one phase of a rate cell that holds for every month. (Documents built before phases have no key.)"""
    return [p.code for p in phases(document)] or [""]


def rate_cells(document: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Every rate cell (lob, tier, market, phase) the version's terms call for, in display order: the
    phases of a (lob, tier, market) together; phase '' when the bundle has none."""
    codes = phase_codes(document)
    return [(lob, tier, market, phase) for lob, tier, market in cells(document) for phase in codes]


def rate_key(lob: str, tier: str, market: str, phase: str = "") -> str:
    """A rate cell's key in the document: ``lob/tier/market``, and ``/phase`` only for a phase, so that
    an unphased version's document (and fingerprint) is what it was before phases."""
    return f"{lob}/{tier}/{market}/{phase}" if phase else f"{lob}/{tier}/{market}"


def rate_path(lob: str, tier: str, market: str, phase: str = "") -> str:
    """A rate cell's path in problems and the diff, ``rates.lob.tier.market[.phase]``."""
    return "rates." + rate_key(lob, tier, market, phase).replace("/", ".")


def split_rate_key(key: str) -> tuple[str, str, str, str]:
    """(lob, tier, market, phase) of a document's rate key; phase '' for an unphased cell."""
    lob, tier, market, *phase = key.split("/")
    return lob, tier, market, (phase[0] if phase else "")


def phase_names(document: dict[str, Any]) -> dict[str, str]:
    return {p.code: p.name for p in phases(document)}


def describe_cell(document: dict[str, Any], lob: str, tier: str, market: str, phase: str = "") -> str:
    """A rate cell in words: "tier 2 in URBAN (Medicaid)", with ", phase Months 1-2" for a phase."""
    words = f"tier {tier} in {market} ({lob_label(lob)})"
    return f"{words}, phase {phase_names(document).get(phase, phase)}" if phase else words


def validate_phase(value: Any, codes: list[str], path: str, problems: list[Problem]) -> str | None:
    """A rate's phase against the bundle's phase codes (empty when it has none): a phased bundle's rate
    names one of its phases, an unphased bundle's names none."""
    phase = str(value or "").strip()
    if not codes:
        if phase:
            problems.append(
                Problem.at_path(
                    path,
                    "unknown_phase",
                    f"The bundle has no phases: a rate holds for every month, not {phase!r}.",
                )
            )
            return None
        return ""
    if not phase:
        problems.append(
            Problem.at_path(
                path, "phase_required", f"The bundle has phases ({', '.join(codes)}): name the rate's phase."
            )
        )
        return None
    if phase not in codes:
        problems.append(
            Problem.at_path(path, "unknown_phase", f"No phase {phase!r} in this bundle ({', '.join(codes)}).")
        )
        return None
    return phase


def completeness_problems(document: dict[str, Any]) -> list[Problem]:
    """What a version must have before it can be proposed: every rate and fee, coherent quality terms."""
    problems: list[Problem] = []
    rates = document["rates"]
    rate = "rate per episode" if document.get("episode_days") else "PMPM"
    for lob, tier, market, phase in rate_cells(document):
        if rate_key(lob, tier, market, phase) not in rates:
            problems.append(
                Problem.at_path(
                    rate_path(lob, tier, market, phase),
                    "missing_rate",
                    f"No {rate} for {describe_cell(document, lob, tier, market, phase)}.",
                )
            )
    for market in document["markets"]:
        if market not in document["assessment_fees"]:
            problems.append(
                Problem.at_path(
                    f"assessment_fees.{market}", "missing_fee", f"No assessment fee for {market}."
                )
            )
    quality = document["quality_terms"]
    if quality:
        total = sum(Decimal(t["weight"]) for t in quality)
        if total != 1:
            problems.append(
                Problem.at_path(
                    "quality_terms",
                    "weights_not_one",
                    f"The quality weights add up to {plain_number(total)}; they must add up to 1.",
                )
            )
    if Decimal(document["withhold_percentage"]) > 0 and not quality:
        problems.append(
            Problem.at_path(
                "quality_terms",
                "withhold_without_quality",
                "A withhold is returned according to quality results: add at least one measure.",
            )
        )
    if document.get("quality_bonus") and not quality:
        problems.append(
            Problem.at_path(
                "quality_bonus",
                "bonus_without_quality",
                "A quality bonus is paid according to the composite quality score: add at least one measure.",
            )
        )
    savings = document["shared_savings_terms"]
    if savings and Decimal(savings.get("quality_gate") or 0) > 0 and not quality:
        problems.append(
            Problem.at_path(
                "shared_savings_terms.quality_gate",
                "gate_without_quality",
                "A quality gate needs quality measures to score.",
            )
        )
    return problems


# --- fingerprint and diff ----------------------------------------------------------------------


FINGERPRINTED_KEYS = (
    "contract",
    "version",
    "payer",
    "provider",
    "bundle",
    "effective_start",
    "effective_end",
    "lines_of_business",
    "markets",
    "tiers",
    "rates",
    "assessment_fees",
    "assessment_lookback_months",
    "proration_rule",
    "tier_rule",
    "retro_window_months",
    "roster_due_day",
    "withhold_percentage",
    "quality_terms",
    "shared_savings_terms",
    "termination_notice_days",
)


def fingerprint(document: dict[str, Any]) -> str:
    """sha256 of the rates and terms (and who and what they bind): two copies can be told apart.

    Parties and the bundle enter by their ids, so renaming an organisation changes no fingerprint. The
    quality bonus and the single-approval limit enter only when the version has one, so versions
    without them (every version frozen before the terms existed) keep their fingerprint."""
    data = {k: document[k] for k in FINGERPRINTED_KEYS}
    if document.get("quality_bonus"):
        data["quality_bonus"] = document["quality_bonus"]
    if document.get("single_approval_limit") is not None:  # likewise: only versions that set one
        data["single_approval_limit"] = document["single_approval_limit"]
    if document.get("recovery_offset_share") is not None:  # likewise
        data["recovery_offset_share"] = document["recovery_offset_share"]
    for key in EPISODE_TERMS:  # likewise, each only when set
        if document.get(key) is not None:
            data[key] = document[key]
    if document.get("negotiation"):  # likewise: only a countered version's round and side
        data["negotiation"] = {k: document["negotiation"][k] for k in ("round", "side")}
    data["payer"], data["provider"] = document["payer"]["id"], document["provider"]["id"]
    data["bundle"] = {k: document["bundle"][k] for k in ("id", "number", "content_hash")}
    data["tiers"] = [t["code"] for t in document["tiers"]]
    return sha256_hex(canonical_json_ascii(data))


def grouped(fingerprint_hex: str, size: int = 4) -> str:
    return " ".join(fingerprint_hex[i : i + size] for i in range(0, len(fingerprint_hex), size))


SECTIONS = {
    "period": "Effective period",
    "coverage": "Bundle, markets and lines of business",
    "rates": "Rates (PMPM)",
    "assessment_fees": "Initial assessment fees",
    "rules": "Enrollment and payment rules",
    "withhold": "Withhold",
    "quality": "Quality terms",
    "shared_savings": "Shared savings",
    "episode": "Episode payment",
    "approval": "Approval of payments (four eyes)",
    "termination": "Termination",
}


@dataclass(frozen=True)
class Term:
    """One term of a contract version, as the amendment diff sees it.

    ``field`` is the key of the version's document (and the model field, unless ``model_field`` names
    another); ``moves_money`` says whether changing it can change what the provider is paid, so an
    amendment that changes it is flagged as a payment-term change (docs/formats.md section 8, "Amendments"). ``kind`` is
    ``scalar`` (compared as one value) or the name of a structured term the diff walks item by item.
    """

    field: str
    label: str
    section: str
    moves_money: bool
    kind: str = "scalar"
    model_field: str | None = None

    @property
    def model_name(self) -> str:
        return self.model_field or self.field


#: Every term of a contract version, in display order. A new term is added here (a test checks that
#: every term field of the version model is listed), with ``moves_money`` saying whether an amendment
#: changing it changes payments.
TERMS: tuple[Term, ...] = (
    Term("effective_start", "Effective from", "period", False),
    Term("effective_end", "Ends (exclusive)", "period", False),
    Term("bundle", "Bundle version", "coverage", False, model_field="bundle_version"),
    Term("markets", "Markets", "coverage", False),
    Term("lines_of_business", "Lines of business", "coverage", False),
    Term("rates", "Rates (PMPM)", "rates", True, kind="rates"),
    Term("assessment_fees", "Initial assessment fees", "assessment_fees", True, kind="assessment_fees"),
    Term("assessment_lookback_months", "Assessment look-back window (months)", "assessment_fees", True),
    Term("proration_rule", "Proration rule", "rules", True),
    Term("tier_rule", "Tier rule", "rules", True),
    Term("retro_window_months", "Retro window (months)", "rules", True),
    Term("roster_due_day", "Roster due day", "rules", False),
    Term("withhold_percentage", "Withhold", "withhold", True),
    Term("quality_terms", "Quality terms", "quality", True, kind="quality_terms"),
    Term("quality_bonus", "Quality bonus", "quality", True, kind="quality_bonus"),
    Term("shared_savings_terms", "Shared savings", "shared_savings", True, kind="shared_savings_terms"),
    Term("recovery_offset_share", "Recovery offset share", "rules", True),
    Term("episode_installments", "Installments per episode", "episode", True),
    Term("episode_early_exit", "Early exit from an episode", "episode", True),
    Term("episode_renewal", "A new episode may follow one that ended", "episode", True),
    Term("single_approval_limit", "Single-approval limit", "approval", True),
    Term("termination_notice_days", "Termination notice (days)", "termination", False),
)
TERMS_BY_FIELD = {term.field: term for term in TERMS}
MONEY_TERMS = tuple(term.field for term in TERMS if term.moves_money)
#: The sections holding a term that moves money, each flagged in ``payment_terms_changed``.
PAYMENT_SECTIONS = tuple(s for s in SECTIONS if any(t.moves_money and t.section == s for t in TERMS))
_SCALAR_TERMS = {t.field: (t.section, t.label) for t in TERMS if t.kind == "scalar"}


def _delta(before: str | None, after: str | None) -> str | None:
    if before is None or after is None:
        return None
    try:
        return money(Decimal(after) - Decimal(before))
    except InvalidOperation:
        return None


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Every change from one version's document to another's, by section, and which payment terms changed."""
    changes: list[dict[str, Any]] = []

    def add(section, path, label, old, new, delta=None):
        change = "added" if old is None else "removed" if new is None else "changed"
        term = TERMS_BY_FIELD[path.split(".")[0]]
        changes.append(
            {
                "section": section,
                "path": path,
                "label": label,
                "change": change,
                "before": old,
                "after": new,
                "difference": delta,
                "term": term.field,
                "moves_money": term.moves_money,
            }
        )

    for key, (section, label) in _SCALAR_TERMS.items():
        old, new = before.get(key), after.get(key)
        if old != new:
            if isinstance(old, dict) or isinstance(new, dict):
                old = None if old is None else old.get("label")
                new = None if new is None else new.get("label")
            elif isinstance(old, list) or isinstance(new, list):
                word = lob_label if key == "lines_of_business" else str
                old = ", ".join(map(word, old or [])) or None
                new = ", ".join(map(word, new or [])) or None
            add(section, key, label, old, new)
    tier_names = {t["code"]: t["name"] for t in before.get("tiers", []) + after.get("tiers", [])}
    phase_words = {**phase_names(before), **phase_names(after)}
    for key in sorted(set(before["rates"]) | set(after["rates"])):
        old, new = before["rates"].get(key), after["rates"].get(key)
        if old != new:
            lob, tier, market, phase = split_rate_key(key)
            label = f"{lob_label(lob)} · Tier {tier} {tier_names.get(tier, '')} · {market}"
            if phase:
                label += f" · Phase {phase_words.get(phase, phase)}"
            path = rate_path(lob, tier, market, phase)
            add("rates", path, label.replace("  ", " "), old, new, _delta(old, new))
    for market in sorted(set(before["assessment_fees"]) | set(after["assessment_fees"])):
        old, new = before["assessment_fees"].get(market), after["assessment_fees"].get(market)
        if old != new:
            add(
                "assessment_fees",
                f"assessment_fees.{market}",
                f"Assessment fee · {market}",
                old,
                new,
                _delta(old, new),
            )
    old_q = {t["measure"]: t for t in before["quality_terms"]}
    new_q = {t["measure"]: t for t in after["quality_terms"]}
    for code in [c for c in QUALITY_MEASURES if c in old_q or c in new_q]:
        o, n = old_q.get(code), new_q.get(code)
        name = QUALITY_MEASURES[code].name
        if o is None or n is None:
            add(
                "quality",
                f"quality_terms.{code}",
                name,
                describe_quality(o) if o else None,
                describe_quality(n) if n else None,
            )
            continue
        for field in ("target", "weight", "direction", "minimum_denominator", "n_days"):
            if o.get(field) != n.get(field):
                add(
                    "quality",
                    f"quality_terms.{code}.{field}",
                    f"{name} · {field.replace('_', ' ')}",
                    None if o.get(field) is None else str(o.get(field)),
                    None if n.get(field) is None else str(n.get(field)),
                )
    old_b, new_b = before.get("quality_bonus") or {}, after.get("quality_bonus") or {}
    for field in ("threshold", "percentage"):
        if old_b.get(field) != new_b.get(field):
            add(
                "quality",
                f"quality_bonus.{field}",
                f"Quality bonus · {field}",
                old_b.get(field),
                new_b.get(field),
            )
    old_s, new_s = before["shared_savings_terms"] or {}, after["shared_savings_terms"] or {}
    for field in sorted(set(old_s) | set(new_s)):
        if old_s.get(field) != new_s.get(field):
            label = SHARED_SAVINGS_LABELS.get(field, f"Shared savings · {field.replace('_', ' ')}")
            old, new = (None if v is None else str(v) for v in (old_s.get(field), new_s.get(field)))
            add(
                "shared_savings",
                f"shared_savings_terms.{field}",
                label,
                old,
                new,
                _delta(old, new) if field == "benchmark_pmpm" else None,
            )
    changed_sections = [s for s in SECTIONS if any(c["section"] == s for c in changes)]
    money = {c["term"] for c in changes if c["moves_money"]}
    return {
        "from_version": before["version"],
        "to_version": after["version"],
        "changes": changes,
        "sections_changed": changed_sections,
        # a section is flagged only for a change of a term that moves money (not the roster due day)
        "payment_terms_changed": {
            s: any(c["section"] == s and c["moves_money"] for c in changes) for s in PAYMENT_SECTIONS
        },
        "money_terms_changed": [field for field in MONEY_TERMS if field in money],
    }


# --- plain words -------------------------------------------------------------------------------


def percent(fraction: Any) -> str:
    value = Decimal(str(fraction)) * 100
    return f"{plain_number(value)}%"


def describe_quality(term: dict[str, Any]) -> str:
    measure = QUALITY_MEASURES[term["measure"]]
    name = (
        measure.name.replace("within N days", f"within {term.get('n_days')} days")
        if term.get("n_days")
        else measure.name
    )
    target = Decimal(term["target"])
    shown = percent(target) if measure.unit == "rate" else plain_number(target)
    if measure.unit == "days":
        shown += " days"
    bound = "at most" if term["direction"] == "lower" else "at least"
    text = f"{name}: target {bound} {shown}, weight {percent(term['weight'])}"
    if term.get("minimum_denominator"):
        text += f"; scored only with at least {term['minimum_denominator']} {measure.denominator}"
    return text + "."


def describe_baseline(terms: dict[str, Any]) -> str:
    """The baseline of shared savings terms in words (the part after "against")."""
    method = terms.get("baseline_method")
    if method == "pre_enrollment":
        n = baseline_months(terms)
        return (
            f"the same members' total cost of care PMPM in the {n} month{'' if n == 1 else 's'} before "
            f"enrollment"
        )
    if method == "comparison_group":
        n = baseline_months(terms)
        return (
            "what the members would have cost had their cost moved like a comparison group's: plan members "
            "eligible for the bundle who did not enroll, matched on age band, line of business, market, "
            f"condition group, risk score and their cost and use in the {n} month{'' if n == 1 else 's'} "
            "before (difference in differences)"
        )
    if method == "trended_benchmark" and has_benchmark(terms):
        return (
            f"a benchmark of ${to_cents(Decimal(terms['benchmark_pmpm'])):,} PMPM "
            f"(measured around {terms['benchmark_midpoint']}) trended at {percent(terms['annual_trend'])} a year "
            f"to the middle of the performance period"
        )
    return BASELINE_METHODS.get(method, str(method)) if isinstance(method, str) else str(method)


def describe_shared_savings(terms: dict[str, Any]) -> str:
    if not terms:
        return "No shared savings."
    text = (
        f"Savings against {describe_baseline(terms)} above a minimum savings rate of "
        f"{percent(terms['minimum_savings_rate'])} are shared at {percent(terms['sharing_rate'])}, "
        f"capped at {percent(terms['cap'])} of the baseline"
    )
    gate = Decimal(terms.get("quality_gate") or 0)
    if gate > 0:
        text += f", and only when the composite quality score is at least {percent(gate)}"
    return text + "." + describe_runout(terms)


def describe_runout(terms: dict[str, Any]) -> str:
    """When a period may be settled, in words (" " first), or "" when the terms set no run-out."""
    months, threshold = terms.get("runout_months"), terms.get("completion_threshold")
    parts = []
    if months:
        parts.append(f"no earlier than {months} month{'' if months == 1 else 's'} after the period ends")
    if threshold not in (None, ""):
        parts.append(f"once at least {percent(threshold)} of its claims cost is paid")
    return f" A period is settled {' and '.join(parts)}." if parts else ""


def describe_quality_bonus(terms: dict[str, Any] | None) -> str:
    if not terms:
        return "No quality bonus."
    return (
        f"A bonus of {percent(terms['percentage'])} of the period's member-month payments is paid when the "
        f"composite quality score is at least {percent(terms['threshold'])}."
    )


def describe_approval(limit: Any) -> str:
    """Four eyes in words: who approves a payment, a settlement, a correction or a refund."""
    if limit in (None, ""):
        return "Every payment, settlement, ledger correction and refund is approved by a second person."
    return (
        f"A second person approves every payment, settlement, ledger correction and refund of "
        f"${to_cents(Decimal(str(limit))):,} or more; under that, the person who requested it may approve it."
    )


def describe_episode(document: dict[str, Any]) -> str:
    """The episode terms in plain words ("" for a monthly bundle)."""
    days = document.get("episode_days")
    if not days:
        return ""
    installments = document.get("episode_installments") or 1
    paid = (
        "in one payment in the episode's first month"
        if installments == 1
        else f"in {installments} monthly installments from the episode's first month"
    )
    exit_rule = EPISODE_EARLY_EXIT[document.get("episode_early_exit") or "full"]
    renewal = (
        "a new episode may start the day after one ends"
        if document.get("episode_renewal")
        else "an episode is not renewed: enrollment past its end is refused"
    )
    return (
        f"The rate is a case rate per episode of {days} days, counted from the enrollment start and paid "
        f"{paid}. On an early exit (death, hospice, disenrollment) the episode is {exit_rule}; {renewal}."
    )


def describe_withhold(withhold: Any) -> str:
    if not Decimal(str(withhold)):
        return "No withhold."
    return (
        f"{percent(withhold)} of each month's member-month payments is withheld and returned according "
        f"to the composite quality score."
    )
