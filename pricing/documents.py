"""Pricing files assembled from the platform's records, validated, and fingerprinted.

No database access here: plain dicts in, plain dicts out. A bundle version's definition *is* the
pricing file's `bundle` part (the engine ignores its extra keys: description, eligibility...),
an assumption set version's `assumptions` is the `assumptions` part, an experience dataset's
summary the `experience` part. `run_document` puts them together for the markets a run asks for;
`validate_document` checks a whole file (the engine's rules plus a plausibility screen, so a
salary of 10^30 is refused with its path instead of producing an absurd rate); `inputs_hash` is
the fingerprint a pricing run stores.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from bundles.phases import Phase, phase_definition, phases
from core.domain.canonical import content_hash
from core.domain.months import months_between
from core.domain.problems import Problem
from pricing.engine import FORMAT, PricingInputError, parse_pricing_file
from pricing.engine.schema import PricingFile

IMPLAUSIBLE = "implausible"
UNKNOWN_MARKET = "unknown_market"
MAX_TREND_MONTHS = 120

# (what, upper bound) for numbers the engine accepts but no real pricing has.
_SCALAR_BOUNDS: dict[str, Decimal] = {
    "benefits_load": Decimal("1.5"),
    "mileage_rate": Decimal(10),
    "supplies_pmpm": Decimal(50_000),
    "on_call_pmpm": Decimal(50_000),
    "technology_pmpm": Decimal(50_000),
    "full_credibility_member_months": Decimal(100_000_000),
    "tcoc_baseline_pmpm": Decimal(1_000_000),
    "ffs_conversion_factor": Decimal(1_000),
    "vbp_bonus_share": Decimal(1),
}
_TREND_BOUNDS = (Decimal("-0.5"), Decimal("0.5"))
MAX_SALARY = Decimal(5_000_000)
MAX_TRAVEL_MINUTES = Decimal(600)
MAX_MILES = Decimal(1_000)
MAX_VISITS_PER_MM = Decimal(62)
MAX_MINUTES = Decimal(44_640)  # the minutes in 31 days
MAX_MEMBER_MONTHS = Decimal(1_000_000_000)
MAX_COST_PMPM = Decimal(1_000_000)


def _number(value: Any) -> Decimal | None:
    """A finite Decimal, or None for anything the engine itself will report."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _error(path: str, message: str, code: str = IMPLAUSIBLE) -> Problem:
    return Problem.at_path(path, code, message)


def _fmt(value: Decimal) -> str:
    return f"{value:,f}"


def plausibility_errors(document: Any) -> list[Problem]:
    """Values the engine accepts but that cannot be meant (a $10 million salary, a 300% trend)."""
    errors: list[Problem] = []
    if not isinstance(document, Mapping):
        return errors

    def upper(value: Any, path: str, bound: Decimal, what: str) -> None:
        number = _number(value)
        if number is not None and number > bound:
            errors.append(_error(path, f"{what} of {_fmt(number)} is not plausible; at most {_fmt(bound)}"))

    a = document.get("assumptions")
    if isinstance(a, Mapping):
        for key, bound in _SCALAR_BOUNDS.items():
            upper(a.get(key), f"$.assumptions.{key}", bound, key.replace("_", " "))
        trend = _number(a.get("annual_trend"))
        if trend is not None and not _TREND_BOUNDS[0] <= trend <= _TREND_BOUNDS[1]:
            errors.append(
                _error(
                    "$.assumptions.annual_trend",
                    f"an annual trend of {_fmt(trend)} is not plausible; between -0.5 and 0.5",
                )
            )
        ranges = a.get("ranges")
        if isinstance(ranges, Mapping):
            for key, bounds in ranges.items():
                if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                    continue
                for i, end in enumerate(bounds):
                    path = f"$.assumptions.ranges.{key}[{i}]"
                    if key in _SCALAR_BOUNDS:
                        upper(end, path, _SCALAR_BOUNDS[key], f"{key.replace('_', ' ')} range end")
                    elif key == "annual_trend":
                        number = _number(end)
                        if number is not None and not _TREND_BOUNDS[0] <= number <= _TREND_BOUNDS[1]:
                            errors.append(
                                _error(path, "an annual trend range end must be between -0.5 and 0.5")
                            )
        salaries = a.get("salaries")
        if isinstance(salaries, Mapping):
            for role, entry in salaries.items():
                if not isinstance(entry, Mapping):
                    continue
                upper(entry.get("default"), f"$.assumptions.salaries.{role}.default", MAX_SALARY, "a salary")
                by_market = entry.get("markets")
                if isinstance(by_market, Mapping):
                    for market, amount in by_market.items():
                        upper(
                            amount, f"$.assumptions.salaries.{role}.markets.{market}", MAX_SALARY, "a salary"
                        )
        markets = a.get("markets")
        if isinstance(markets, list):
            for i, market in enumerate(markets):
                if isinstance(market, Mapping):
                    upper(
                        market.get("travel_minutes_per_visit"),
                        f"$.assumptions.markets[{i}].travel_minutes_per_visit",
                        MAX_TRAVEL_MINUTES,
                        "travel time per visit",
                    )
                    upper(
                        market.get("miles_per_visit"),
                        f"$.assumptions.markets[{i}].miles_per_visit",
                        MAX_MILES,
                        "miles per visit",
                    )
        lob_factors = a.get("lob_factors")
        if isinstance(lob_factors, Mapping):
            for lob, factor in lob_factors.items():
                upper(factor, f"$.assumptions.lob_factors.{lob}", Decimal(10), "a line-of-business factor")
        base, rating = _date(a.get("base_period_midpoint")), _date(a.get("rating_period_midpoint"))
        if base and rating and months_between(base, rating) > MAX_TREND_MONTHS:
            errors.append(
                _error(
                    "$.assumptions.rating_period_midpoint",
                    "the rating period is more than 10 years after the base period; trend over such a "
                    "span is not plausible",
                )
            )

    b = document.get("bundle")
    if isinstance(b, Mapping) and isinstance(b.get("period"), Mapping):
        upper(b["period"].get("days"), "$.bundle.period.days", Decimal(366), "an episode length in days")
    if (
        isinstance(b, Mapping)
        and isinstance(b.get("assessment"), Mapping)
        and isinstance(b["assessment"].get("roles"), list)
    ):
        for i, role in enumerate(b["assessment"]["roles"]):
            if isinstance(role, Mapping):
                upper(
                    role.get("minutes"),
                    f"$.bundle.assessment.roles[{i}].minutes",
                    Decimal(1440),
                    "an assessment visit length",
                )
    if isinstance(b, Mapping) and isinstance(b.get("roles"), list):
        for i, role in enumerate(b["roles"]):
            if not isinstance(role, Mapping):
                continue
            upper(
                role.get("visit_minutes"),
                f"$.bundle.roles[{i}].visit_minutes",
                Decimal(1440),
                "a visit length",
            )
            by_phase = role.get("by_phase")
            efforts = [(f"$.bundle.roles[{i}].by_tier", role.get("by_tier"))] + [
                (f"$.bundle.roles[{i}].by_phase.{phase}", by_tier)
                for phase, by_tier in (by_phase.items() if isinstance(by_phase, Mapping) else ())
            ]
            for prefix, by_tier in efforts:
                if not isinstance(by_tier, Mapping):
                    continue
                for tier, effort in by_tier.items():
                    if isinstance(effort, Mapping):
                        path = f"{prefix}.{tier}"
                        upper(
                            effort.get("visits_per_mm"),
                            f"{path}.visits_per_mm",
                            MAX_VISITS_PER_MM,
                            "visits per member-month",
                        )
                        upper(
                            effort.get("coordination_minutes_per_mm"),
                            f"{path}.coordination_minutes_per_mm",
                            MAX_MINUTES,
                            "coordination minutes per member-month",
                        )

    e = document.get("experience")
    if isinstance(e, Mapping) and isinstance(e.get("by_tier"), Mapping):
        for tier, cell in e["by_tier"].items():
            if not isinstance(cell, Mapping):
                continue
            path = f"$.experience.by_tier.{tier}"
            upper(cell.get("member_months"), f"{path}.member_months", MAX_MEMBER_MONTHS, "member-months")
            mm, cost = _number(cell.get("member_months")), _number(cell.get("cost"))
            if mm and cost is not None and mm > 0 and cost > mm * MAX_COST_PMPM:
                errors.append(
                    _error(
                        f"{path}.cost", f"more than {_fmt(MAX_COST_PMPM)} per member-month is not plausible"
                    )
                )
    return errors


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _merge(*lists: Iterable[Problem]) -> list[Problem]:
    seen: set[tuple[str | None, str]] = set()
    merged = []
    for errors in lists:
        for error in errors:
            key = (error.path, error.code)
            if key not in seen:
                seen.add(key)
                merged.append(error)
    return merged


def validate_document(document: Any) -> PricingFile:
    """Parse a whole pricing file; raise PricingInputError with every engine and plausibility error."""
    plausible = plausibility_errors(document)
    try:
        parsed = parse_pricing_file(document)
    except PricingInputError as exc:
        raise PricingInputError(_merge(exc.problems, plausible)) from None
    if plausible:
        raise PricingInputError(plausible)
    return parsed


# --- the `assumptions` part on its own (assumption set versions) -----------------------------------

_PROBE_BUNDLE = {
    "name": "assumption check",
    "period": {"type": "monthly"},
    "tiers": [{"code": "1", "name": "1"}],
    "home_share": "0",
    "roles": [{"role": "__probe__", "visit_minutes": "0", "by_tier": {}}],
}
_PROBE_MARKET = {"code": "__probe__", "travel_minutes_per_visit": "0", "miles_per_visit": "0"}


def assumption_errors(assumptions: Any) -> list[Problem]:
    """Every problem of an assumption set's `assumptions` part, each with its JSON path.

    Checked as the engine checks a whole file, with a probe bundle: wages are checked against
    a bundle's roles when a run is started. An assumption set may leave `markets` empty (runs
    take the plan's market catalogue).
    """
    if not isinstance(assumptions, Mapping):
        return [Problem.at_path("$.assumptions", "wrong_type", "the assumptions must be an object")]
    probe = dict(assumptions)
    markets = probe.get("markets")
    if not markets:
        markets = probe["markets"] = [_PROBE_MARKET]
    if isinstance(markets, list) and isinstance(probe.get("salaries"), Mapping):
        # salary overrides may name any of the plan's markets; the run checks them against its own
        listed = {m.get("code") for m in markets if isinstance(m, Mapping)}
        named = {
            code
            for entry in probe["salaries"].values()
            if isinstance(entry, Mapping) and isinstance(entry.get("markets"), Mapping)
            for code in entry["markets"]
        }
        probe["markets"] = list(markets) + [
            {**_PROBE_MARKET, "code": code}
            for code in sorted(named - listed)
            if isinstance(code, str) and code
        ]
    document = {"format": FORMAT, "bundle": _PROBE_BUNDLE, "assumptions": probe}
    try:
        validate_document(document)
    except PricingInputError as exc:
        return [
            p
            for p in exc.problems
            if (p.path or "").startswith("$.assumptions") and "__probe__" not in (p.path or "")
        ]
    return []


# --- a run's pricing file ------------------------------------------------------------------------

# "phases" with each role's "by_phase": a phased bundle's file carries them (and so does the run's
# hash); pricing.compute prices each phase on its own file. An unphased definition has no such key.
_BUNDLE_KEYS = ("name", "period", "tiers", "home_share", "roles", "assessment", "phases")


def bundle_part(definition: Mapping[str, Any], *, bills_ffs: Mapping[str, bool]) -> dict[str, Any]:
    """The `bundle` part of a bundle version's definition, with each role's FFS billing from the catalogue."""
    part = {key: copy.deepcopy(definition[key]) for key in _BUNDLE_KEYS if key in definition}
    part["tiers"] = [
        {"code": t.get("code"), "name": t.get("name")} if isinstance(t, Mapping) else t
        for t in part.get("tiers", [])
    ]
    for role in part.get("roles", []):
        if isinstance(role, dict) and role.get("role") in bills_ffs:
            role["bills_ffs"] = bills_ffs[role["role"]]
    return part


def run_document(
    *,
    bundle_definition: Mapping[str, Any],
    bills_ffs: Mapping[str, bool],
    assumptions: Mapping[str, Any],
    plan_markets: Mapping[str, Mapping[str, Any]],
    market_codes: list[str],
    experience: Mapping[str, Any] | None = None,
    observed_disenrollment: list[str] | None = None,
) -> dict[str, Any]:
    """The pricing file of a run: bundle part, the assumptions for the markets asked, experience.

    A market's travel comes from the assumption set when it lists the market, otherwise from the
    plan's market catalogue; a code in neither is an error at `markets[i]`. Salary overrides for
    markets not priced are left out. `observed_disenrollment` (monthly probabilities from the
    experience's enrollment spans) replaces the assumed disenrollment.
    """
    own = {m.get("code"): m for m in assumptions.get("markets") or [] if isinstance(m, Mapping)}
    errors = []
    markets = []
    for i, code in enumerate(market_codes):
        entry = own.get(code) or plan_markets.get(code)
        if entry is None:
            errors.append(
                Problem.at_path(
                    f"markets[{i}]",
                    UNKNOWN_MARKET,
                    f"market {code!r} is neither in the assumption set nor in the plan's markets",
                )
            )
            continue
        market = {"code": code}
        for key in ("name", "travel_minutes_per_visit", "miles_per_visit", "ffs_locality"):
            if entry.get(key) is not None:
                market[key] = str(entry[key]) if key != "ffs_locality" else entry[key]
        markets.append(market)
    if errors:
        raise PricingInputError(errors)
    part = copy.deepcopy(dict(assumptions))
    part["markets"] = markets
    salaries = part.get("salaries")
    if isinstance(salaries, dict):
        for entry in salaries.values():
            if isinstance(entry, dict) and isinstance(entry.get("markets"), dict):
                entry["markets"] = {m: v for m, v in entry["markets"].items() if m in market_codes}
                if not entry["markets"]:
                    entry.pop("markets")
    if observed_disenrollment:
        part["disenrollment"] = {"observed": list(observed_disenrollment)}
    document: dict[str, Any] = {
        "format": FORMAT,
        "bundle": bundle_part(bundle_definition, bills_ffs=bills_ffs),
        "assumptions": part,
    }
    if experience:
        document["experience"] = {"by_tier": copy.deepcopy(dict(experience))}
    return document


def phase_documents(document: Mapping[str, Any]) -> list[tuple[Phase, dict[str, Any]]]:
    """A phased bundle's pricing file as priced in each phase, in order (the bundle part as
    ``bundles.phases.phase_definition`` gives it: that phase's effort, no phases); empty when the
    bundle has no phases."""
    bundle = document["bundle"]
    return [(phase, {**document, "bundle": phase_definition(bundle, phase.code)}) for phase in phases(bundle)]


def main_document(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The file a run's main quote (and its budgets, comparison, risk, what-ifs) is priced on.

    A phased bundle's is its last phase's: the effort a member settles into and is paid for the
    longest (the earlier phases' rates are in ``quote.phases``); an unphased bundle's, the file itself.
    """
    phased = phase_documents(document)
    return phased[-1][1] if phased else document


#: The parts of a run's `inputs` its hash covers: everything the numbers depend on.
HASHED_KEYS = ("pricing_file", "markets", "lobs", "seed", "options", "engine_version")


def inputs_hash(inputs: Mapping[str, Any]) -> str:
    """The fingerprint of a run's inputs: same pricing file, markets, LOBs, seed, options and engine
    version give the same hash whatever the records were called or who started the run."""
    return content_hash({key: inputs.get(key) for key in HASHED_KEYS})


def default_seed(inputs: Mapping[str, Any]) -> int:
    """A seed derived from the inputs themselves, so re-running the same inputs reproduces the numbers."""
    digest = content_hash({key: inputs.get(key) for key in HASHED_KEYS if key != "seed"})
    return int(digest[:12], 16) % (2**31 - 1)
