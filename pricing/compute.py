"""What a pricing run computes from its stored inputs: plain data in, a JSON-ready result out.

No database here: the task's service hands in `PricingRun.inputs` and a progress callback
(which may raise to cancel between steps) and stores what comes back. Every figure is the
engine's (`pricing.engine`): the quote (rates, ranges, build-up, assessment fees, PMPM without
a separate assessment fee), the payment model comparison and, for monthly bundles, a Monte
Carlo of the contract year per market. On top: the annual budget for the expected enrollment
and the comparison with published payment levels, from the quote's rounded figures so that
every number on a page adds up to the cent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, localcontext
from typing import Any

from core.domain.money import CALCULATION_CONTEXT, cents_str, round_half_up, to_cents
from core.domain.months import months_between
from pricing.documents import main_document, phase_documents, validate_document
from pricing.engine import (
    ENGINE_VERSION,
    ContractYearDraws,
    compare_payment_models,
    contract_year_model,
    quote,
    simulate_contract_years,
    summarize_contract_years,
)
from pricing.engine.ffs import RateSchedule
from pricing.engine.montecarlo import combine_draws, reserve_needed
from pricing.engine.scenarios import WhatIf, what_if_assumptions, what_if_enrollees
from pricing.engine.schema import PricingFile
from pricing.engine.sensitivity import sensitivity

ProgressCallback = Callable[[int, str], None]

#: Published payment levels a plan checks its rates against (docs/reference-data.md; sources below).
PUBLISHED_LEVELS: dict[str, dict[str, Any]] = {
    "pcf_sip": {
        "name": "CMMI Primary Care First, Seriously Ill Population",
        "pmpm": "275",
        "initial_payment": "325",
        "source": "CMMI Primary Care First model design (2019): $275 per beneficiary per month plus a one-time "
        "$325 initial visit payment.",
    },
    "pacssi": {
        "name": "AAHPM PACSSI",
        "tiers": {"1": "450", "2": "600"},
        "source": "AAHPM PACSSI proposal (2017): Tier 1 $450 per month, Tier 2 $600 per month, 6-month eligibility.",
    },
}
DEFAULT_SIMULATION_YEARS = 20_000
DEFAULT_ENROLLEES_PER_YEAR = 100
DEFAULT_MINUTES_CV = "0.3"


def _strings(value: Any) -> Any:
    """Decimals (the Monte Carlo summary's money) as plain strings, recursively."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, Mapping):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strings(v) for v in value]
    return value


def _noop(progress: int, message: str) -> None:
    return None


def compute_run_result(inputs: Mapping[str, Any], *, on_progress: ProgressCallback = _noop) -> dict[str, Any]:
    """The complete result of a run: quote, comparison, enrollment, budgets, risk, benchmarks.

    Raises PricingInputError when the stored pricing file cannot be priced (it was validated
    when the run started, so only a change of engine rules can cause it).
    """
    on_progress(5, "Checking the inputs")
    # a phased bundle: everything below is priced on its last phase (pricing.documents.main_document)
    pf = validate_document(main_document(inputs["pricing_file"]))
    markets: list[str] = list(inputs["markets"])
    lobs: list[str] = list(inputs["lobs"])
    options: Mapping[str, Any] = inputs.get("options") or {}
    seed = int(inputs["seed"])
    cells = len(pf.bundle.tiers) * len(markets) * len(lobs)

    on_progress(10, f"Pricing {cells} rate cells")
    quoted = quote(pf, markets=markets, lobs=lobs)
    phased = phase_quotes(inputs["pricing_file"], markets, lobs)
    if phased:
        quoted["phases"] = phased

    on_progress(25, "Comparing payment models")
    comparison = compare_payment_models(pf, markets=markets, rate_schedule=_rate_schedule(inputs))

    risk = _risk(pf, quoted, markets, lobs, options, seed, on_progress)

    on_progress(92, "Budgets and comparison with published payment levels")
    tier_mix = _tier_mix(options, pf)
    references = inputs.get("references") or {}
    return {
        "engine_version": ENGINE_VERSION,
        "seed": seed,
        "quote": quoted,
        "comparison": comparison,
        "enrollment": _enrollment(pf, quoted, references),
        "budgets": _budgets(pf, quoted, markets, lobs, options, tier_mix),
        "risk": risk,
        "credibility": _credibility(pf, quoted),
        "benchmarks": _benchmarks(pf, quoted, lobs),
        "warnings": _warnings(pf, references, lobs),
    }


def what_if_result(inputs: Mapping[str, Any], what_if: WhatIf) -> dict[str, Any]:
    """A run's rates and budgets again with the what-if's levers moved: no simulation, nothing stored.

    Raises PricingInputError when the levers make the file unpriceable.
    """
    document = dict(main_document(inputs["pricing_file"]))
    document["assumptions"] = what_if_assumptions(document["assumptions"], what_if)
    pf = validate_document(document)
    markets, lobs = list(inputs["markets"]), list(inputs["lobs"])
    options = dict(inputs.get("options") or {})
    options["enrollees_per_year"] = what_if_enrollees(
        {market: _enrollees(options, market) for market in markets}, what_if
    )
    quoted = quote(pf, markets=markets, lobs=lobs)
    return {
        "quote": quoted,
        "budgets": _budgets(pf, quoted, markets, lobs, options, _tier_mix(options, pf)),
        "enrollees_per_year": options["enrollees_per_year"],
    }


def sensitivity_result(
    inputs: Mapping[str, Any],
    *,
    tier: str,
    market: str,
    lob: str,
    n_years: int = DEFAULT_SIMULATION_YEARS,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """The tornado of one of a run's rate cells, with the run's enrollment (the line's share of the
    market's), tier mix, ramp-up and seed: at the run's own assumptions its probability of a loss is
    the run's for that market and line (``risk.by_market[market].by_lob[lob]``, same years)."""
    document = main_document(inputs["pricing_file"])
    pf = validate_document(document)
    options: Mapping[str, Any] = inputs.get("options") or {}
    markets, lobs = list(inputs["markets"]), list(inputs["lobs"])
    share = _lob_shares(options, lobs)[lob]
    referrals = float(Decimal(_enrollees(options, market)) * share / pf.assumptions.conversion_rate)
    return sensitivity(
        document,
        tier=tier,
        market=market,
        lob=lob,
        referrals_per_year=referrals,
        tier_mix={t: float(s) for t, s in _tier_mix(options, pf).items()},
        n_years=n_years,
        seed=risk_seed(int(inputs["seed"]), markets.index(market), lobs.index(lob), len(lobs)),
        minutes_cv=float(options.get("minutes_cv", DEFAULT_MINUTES_CV)),
        first_year=bool(options.get("first_year", False)),
        on_progress=on_progress,
    )


def phase_quotes(
    document: Mapping[str, Any], markets: list[str] | None, lobs: list[str] | None
) -> list[dict[str, Any]]:
    """A phased bundle's rates in each phase: the same engine on the phase's file, same assumptions
    (``quote.rates`` row shape). The assessment fee is paid once, whatever the phase: it is the main
    quote's. Empty for an unphased bundle."""
    return [
        {
            "code": phase.code,
            "name": phase.name,
            "from_month": phase.from_month,
            "rates": quote(validate_document(priced), markets=markets, lobs=lobs)["rates"],
        }
        for phase, priced in phase_documents(document)
    ]


def _rate_schedule(inputs: Mapping[str, Any]) -> RateSchedule | None:
    """The plan's own fee schedule the run names (its rates on the rating period's midpoint), if any."""
    schedule = inputs.get("fee_schedule")
    if not schedule:
        return None
    return RateSchedule(
        schedule["name"],
        schedule.get("version"),
        {code: Decimal(rate) for code, rate in schedule["rates"].items()},
    )


def _tier_mix(options: Mapping[str, Any], pf: PricingFile) -> dict[str, Decimal]:
    mix = options.get("tier_mix") or {}
    tiers = pf.bundle.tier_codes
    weights = (
        {t: Decimal(str(mix.get(t, 0))) for t in tiers}
        if mix
        else {t: Decimal(len(tiers) - i) for i, t in enumerate(tiers)}
    )
    total = sum(weights.values(), Decimal(0))
    with localcontext(CALCULATION_CONTEXT):
        return {t: w / total for t, w in weights.items()}


def _enrollees(options: Mapping[str, Any], market: str) -> int:
    by_market = options.get("enrollees_per_year") or {}
    if isinstance(by_market, Mapping):
        return int(by_market.get(market, DEFAULT_ENROLLEES_PER_YEAR))
    return int(by_market)


def _lob_shares(options: Mapping[str, Any], lobs: list[str]) -> dict[str, Decimal]:
    """Each line's share of a market's enrollees (the run's ``lob_mix``; alike when it has none)."""
    mix = {lob: Decimal(str((options.get("lob_mix") or {}).get(lob, 0))) for lob in lobs}
    total = sum(mix.values(), Decimal(0))
    if total <= 0:
        return {lob: Decimal(1) / len(lobs) for lob in lobs}
    return {lob: share / total for lob, share in mix.items()}


def _risk(
    pf: PricingFile,
    quoted: dict[str, Any],
    markets: list[str],
    lobs: list[str],
    options: Mapping[str, Any],
    seed: int,
    on_progress: ProgressCallback,
) -> dict[str, Any]:
    """The contract year simulated for every market and line of business, and for the whole program.

    Each (market, line) is its own model: the line's share of the market's enrollees at the line's
    rates, seeded ``seed + market index x lines + line index`` (a one-line run keeps the seeds it
    always had). A market's years are its lines' added up; the program's are every market's, less
    the program's fixed annual cost. ``first_year`` simulates a new program's ramp-up."""
    if pf.bundle.period.type != "monthly":
        on_progress(90, "Risk simulation skipped: an episode is paid per episode")
        return {
            "modelled": False,
            "reason": "The contract-year simulation models monthly bundles; an episode bundle is paid per episode.",
            "by_market": {},
        }
    years = int(options.get("simulation_years", DEFAULT_SIMULATION_YEARS))
    minutes_cv = float(options.get("minutes_cv", DEFAULT_MINUTES_CV))
    fixed = Decimal(str(options.get("fixed_annual_cost", "0")))
    first_year = bool(options.get("first_year", False))
    mix = {t: float(share) for t, share in _tier_mix(options, pf).items()}
    shares = _lob_shares(options, lobs)
    rates = {(r["tier"], r["market"], r["lob"]): r["pmpm"] for r in quoted["rates"]}
    conversion = pf.assumptions.conversion_rate
    by_market: dict[str, Any] = {}
    program: list[ContractYearDraws] = []
    for i, market in enumerate(markets):
        on_progress(
            30 + (60 * i) // len(markets),
            f"Simulating {years:,} contract years in {market} ({i + 1} of {len(markets)})",
        )
        enrollees = _enrollees(options, market)
        parts: list[ContractYearDraws] = []
        by_lob: dict[str, Any] = {}
        for j, lob in enumerate(lobs):
            referrals = float(Decimal(enrollees) * shares[lob] / conversion)
            model = contract_year_model(
                pf,
                market=market,
                referrals_per_year=referrals,
                tier_mix=mix,
                lob=lob,
                minutes_cv=minutes_cv,
                pmpm_by_tier={t: rates[(t, market, lob)] for t in pf.bundle.tier_codes},
                assessment_fee=quoted["assessment_fee"].get(market),
                first_year=first_year,
            )
            draws = simulate_contract_years(model, n_years=years, seed=risk_seed(seed, i, j, len(lobs)))
            parts.append(draws)
            by_lob[lob] = {
                "referrals_per_year": f"{referrals:.2f}",
                "seed": risk_seed(seed, i, j, len(lobs)),
                "summary": _strings(summarize_contract_years(draws)),
            }
        market_draws = parts[0] if len(parts) == 1 else combine_draws(parts)
        program.append(market_draws)
        by_market[market] = {
            "lobs": lobs,
            "enrollees_per_year": enrollees,
            "referrals_per_year": f"{float(Decimal(enrollees) / conversion):.2f}",
            "seed": risk_seed(seed, i, 0, len(lobs)),
            "summary": _strings(summarize_contract_years(market_draws)),
            "by_lob": by_lob,
        }
    whole = combine_draws(program, fixed_annual_cost=float(fixed))
    return {
        "modelled": True,
        "n_years": years,
        "lobs": lobs,
        "lob_shares": {lob: f"{share:.6f}" for lob, share in shares.items()},
        "minutes_cv": str(minutes_cv),
        "tier_mix": {t: f"{share:.6f}" for t, share in mix.items()},
        "by_market": by_market,
        "program": {
            "markets": markets,
            "fixed_annual_cost": cents_str(fixed),
            "first_year": first_year,
            "summary": _strings(summarize_contract_years(whole)),
            "reserve": _strings(reserve_needed(whole.margin)),
        },
    }


def risk_seed(seed: int, market_index: int, lob_index: int, lobs: int) -> int:
    """The seed of one (market, line) of a run's simulation."""
    return seed + market_index * lobs + lob_index


def _enrollment(pf: PricingFile, quoted: dict[str, Any], references: Mapping[str, Any]) -> dict[str, Any]:
    observed = "observed" in pf.assumptions.disenrollment
    experience = references.get("experience") or {}
    return {
        "expected_months_enrolled": format(
            Decimal(quoted["expected_months_enrolled"]).quantize(Decimal("0.01")), "f"
        ),
        "expected_months_enrolled_exact": quoted["expected_months_enrolled"],
        "source": "experience" if observed else "assumptions",
        "source_text": (
            f"Kaplan-Meier on {experience.get('spans', 'the')} enrollment spans of the experience data, censored at "
            f"{experience.get('data_end_month', 'the data end')}, with a constant hazard beyond the longest span"
            if observed
            else "Assumed monthly disenrollment probabilities (death, hospice transfer, other) of the assumption set"
        ),
        "conversion_rate": format(pf.assumptions.conversion_rate, "f"),
        "horizon_months": pf.assumptions.enrollment_horizon_months,
        "episode_days": pf.bundle.period.days,
    }


def _budgets(
    pf: PricingFile,
    quoted: dict[str, Any],
    markets: list[str],
    lobs: list[str],
    options: Mapping[str, Any],
    tier_mix: dict[str, Decimal],
) -> list[dict[str, Any]]:
    """Annual budget per market and LOB: enrollees x E[months] x PMPM (tier mix) + assessments x fee.

    A market's enrollees are split between the lines of business by the run's ``lob_mix`` (alike
    when a run has none), so each enrollee is budgeted once, on the line that pays for them."""
    expected = Decimal(quoted["expected_months_enrolled"])
    conversion = pf.assumptions.conversion_rate
    rates = {(r["tier"], r["market"], r["lob"]): r for r in quoted["rates"]}
    budgets = []
    with localcontext(CALCULATION_CONTEXT):
        shares = _lob_shares(options, lobs)
        for market in markets:
            fee = Decimal(quoted["assessment_fee"].get(market, "0"))
            for lob in lobs:
                enrollees = Decimal(_enrollees(options, market)) * shares[lob]
                assessments = enrollees / conversion
                weighted = sum(
                    (tier_mix[t] * Decimal(rates[(t, market, lob)]["pmpm"]) for t in pf.bundle.tier_codes),
                    Decimal(0),
                )
                if pf.bundle.period.type == "episode":
                    # an episode is paid once per enrollee, whatever its length
                    weighted_episode = sum(
                        (
                            tier_mix[t] * Decimal(rates[(t, market, lob)]["episode_rate"])
                            for t in pf.bundle.tier_codes
                        ),
                        Decimal(0),
                    )
                    care = enrollees * weighted_episode
                    member_months = enrollees * expected
                else:
                    member_months = enrollees * expected
                    care = member_months * weighted
                assessment_payments = assessments * fee
                budgets.append(
                    {
                        "market": market,
                        "lob": lob,
                        "enrollees": format(round_half_up(enrollees, 1), "f"),
                        "expected_months_enrolled": format(expected.quantize(Decimal("0.01")), "f"),
                        "member_months": format(round_half_up(member_months, 1), "f"),
                        "weighted_pmpm": cents_str(weighted),
                        "assessments": format(round_half_up(assessments, 1), "f"),
                        "assessment_fee": cents_str(fee),
                        "care_payments": cents_str(care),
                        "assessment_payments": cents_str(assessment_payments),
                        "annual_budget": format(to_cents(care) + to_cents(assessment_payments), "f"),
                    }
                )
    return budgets


def _credibility(pf: PricingFile, quoted: dict[str, Any]) -> list[dict[str, Any]]:
    """Per tier (credibility does not depend on the market): experience, Z and the blend, first market."""
    if pf.experience is None:
        return []
    standard = pf.assumptions.full_credibility_member_months
    first_market = quoted["rates"][0]["market"] if quoted["rates"] else None
    rows = []
    for rate in quoted["rates"]:
        if rate["market"] != first_market or rate["lob"] != quoted["rates"][0]["lob"]:
            continue
        b = rate["buildup"]
        rows.append(
            {
                "tier": rate["tier"],
                "market": rate["market"],
                "member_months": b["experience_member_months"],
                "full_credibility_member_months": None if standard is None else format(standard, "f"),
                "credibility": format(Decimal(b["credibility"]).quantize(Decimal("0.0001")), "f"),
                "experience_pmpm_trended": rate["experience_pmpm"],
                "manual_direct_pmpm": rate["direct_pmpm"],
                "blended_direct_pmpm": cents_str(Decimal(b["blended_direct"])),
            }
        )
    return rows


def _benchmarks(pf: PricingFile, quoted: dict[str, Any], lobs: list[str]) -> dict[str, Any]:
    """Rates by tier (first LOB, across markets) against CMMI PCF SIP and AAHPM PACSSI."""
    lob = lobs[0]
    pcf = Decimal(PUBLISHED_LEVELS["pcf_sip"]["pmpm"])
    pcf_initial = Decimal(PUBLISHED_LEVELS["pcf_sip"]["initial_payment"])
    pacssi = PUBLISHED_LEVELS["pacssi"]["tiers"]
    expected = Decimal(quoted["expected_months_enrolled"])
    rows = []
    with localcontext(CALCULATION_CONTEXT):
        for index, tier in enumerate(pf.bundle.tiers):
            values = [
                Decimal(r["pmpm"]) for r in quoted["rates"] if r["tier"] == tier.code and r["lob"] == lob
            ]
            if not values:
                continue
            average = sum(values, Decimal(0)) / len(values)
            pacssi_tier = "1" if index == 0 else "2"
            pacssi_pmpm = Decimal(pacssi[pacssi_tier])
            rows.append(
                {
                    "tier": tier.code,
                    "tier_name": tier.name,
                    "lob": lob,
                    "min_pmpm": cents_str(min(values)),
                    "average_pmpm": cents_str(average),
                    "max_pmpm": cents_str(max(values)),
                    "pcf_pmpm": cents_str(pcf),
                    "vs_pcf": format(to_cents(average) - pcf, "f"),
                    "pacssi_tier": pacssi_tier,
                    "pacssi_pmpm": cents_str(pacssi_pmpm),
                    "vs_pacssi": format(to_cents(average) - pacssi_pmpm, "f"),
                }
            )
        fees = [Decimal(f) for f in quoted["assessment_fee"].values()]
        return {
            "levels": PUBLISHED_LEVELS,
            "by_tier": rows,
            "assessment": None
            if not fees
            else {
                "min_fee": cents_str(min(fees)),
                "max_fee": cents_str(max(fees)),
                "pcf_initial_payment": cents_str(pcf_initial),
            },
            "pcf_per_enrollee": cents_str(pcf * expected + pcf_initial),
        }


def _warnings(pf: PricingFile, references: Mapping[str, Any], lobs: list[str]) -> list[str]:
    warnings = []
    experience = references.get("experience") or {}
    midpoint = experience.get("midpoint")
    if midpoint:
        from datetime import date

        base = pf.assumptions.base_period_midpoint
        gap = abs(months_between(base, date.fromisoformat(midpoint)))
        if gap > 6:
            warnings.append(
                f"The experience period's midpoint ({midpoint}) is {gap} months from the base period midpoint "
                f"({base.isoformat()}): the experience is trended as if it were from the base period."
            )
    if pf.experience is not None:
        missing = [t for t in pf.bundle.tier_codes if t not in pf.experience.by_tier]
        if missing:
            warnings.append(f"No experience for tier(s) {', '.join(missing)}: their rates are fully manual.")
    return warnings
