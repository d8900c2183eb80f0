"""Starting and cancelling pricing runs: every input is validated (every problem reported with its
path or field), the complete pricing file and its hash are stored, and the computation is queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.tenancy import Scope
from bundles.models import BundleVersion, BundleVersionStatus, IdtRole
from core.domain.money import cents_str
from core.domain.problems import Problem
from core.errors import ConflictError, NotFoundError, problems_error
from pricing.compute import DEFAULT_ENROLLEES_PER_YEAR, DEFAULT_MINUTES_CV, DEFAULT_SIMULATION_YEARS
from pricing.documents import default_seed, inputs_hash, run_document, validate_document
from pricing.engine import ENGINE_VERSION, PricingInputError
from pricing.engine.scenarios import WhatIf, what_if_assumptions, what_if_enrollees
from pricing.experience import experience_part, observed_disenrollment
from pricing.fee_schedules import rates_on
from pricing.models import (
    AssumptionSetVersion,
    AssumptionSetVersionStatus,
    ExperienceDataset,
    FeeScheduleVersion,
    PricingRun,
)
from pricing.services.assumptions import assumption_draft_publish, assumption_set_create, plan_market_entries
from pricing.services.common import _log_entry, require_run_owner
from pricing.states import PRICING_RUN
from pricing.states import RUN_FINISHED_MESSAGE as RUN_FINISHED_MESSAGE

INVALID_RUN_MESSAGE = (
    "The run cannot start: its inputs have errors; every problem is listed with its path or field."
)
BUNDLE_NOT_PUBLISHED_MESSAGE = "Only a published bundle version can be priced."
ASSUMPTIONS_NOT_PUBLISHED_MESSAGE = "Publish the assumption set before pricing with it."
EXPERIENCE_NOT_VALID_MESSAGE = "This experience upload was rejected; upload a corrected file."
MAX_SIMULATION_YEARS = 100_000
MIN_SIMULATION_YEARS = 1_000
MAX_ENROLLEES = 100_000
MAX_FIXED_ANNUAL_COST = Decimal(100_000_000)


def _whole(value: Any, path: str, low: int, high: int, errors: list[Problem]) -> int | None:
    if isinstance(value, bool):
        errors.append(Problem.at_path(path, "wrong_type", "must be a whole number"))
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.append(Problem.at_path(path, "not_a_number", f"{value!r} is not a number"))
        return None
    if not number.is_finite() or number != number.to_integral_value():
        errors.append(Problem.at_path(path, "not_integer", "must be a whole number"))
        return None
    if not low <= number <= high:
        errors.append(Problem.at_path(path, "out_of_range", f"must be between {low:,} and {high:,}"))
        return None
    return int(number)


def _shares(raw: Any, path: str, codes: list[str], what: str, errors: list[Problem]) -> dict[str, Decimal]:
    """A mix such as ``{tier: share}``: each key one of ``codes``, each share a number of zero or more,
    not all zero ({} when absent or wrong, with the problems)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(
            Problem.at_path(path, "wrong_type", f"{path.split('.')[-1]} is an object of {what} code to share")
        )
        return {}
    mix: dict[str, Decimal] = {}
    for code, share in raw.items():
        at = f"{path}.{code}"
        if code not in codes:
            errors.append(
                Problem.at_path(
                    at, f"unknown_{what.replace(' ', '_')}", f"{what} {code!r} is not priced in this run"
                )
            )
            continue
        try:
            number = Decimal(str(share))
        except (InvalidOperation, ValueError):
            errors.append(Problem.at_path(at, "not_a_number", f"{share!r} is not a number"))
            continue
        if not number.is_finite() or number < 0 or number > 1_000_000:
            errors.append(Problem.at_path(at, "out_of_range", "a share is zero or more"))
            continue
        mix[code] = number
    if mix and sum(mix.values()) <= 0:
        errors.append(Problem.at_path(path, f"invalid_{path.split('.')[-1]}", "shares must not all be zero"))
        return {}
    return mix


def _normalised(mix: dict[str, Decimal], codes: list[str]) -> dict[str, str]:
    """Shares as fractions of their total, to 6 places (absent codes: 0)."""
    total = sum(mix.values(), Decimal(0)) or Decimal(1)
    return {c: format((mix.get(c, Decimal(0)) / total).quantize(Decimal("0.000001")), "f") for c in codes}


def _run_options(
    options: Any,
    *,
    tiers: list[str],
    lobs: list[str],
    markets: list[str],
    experience: ExperienceDataset | None,
    errors: list[Problem],
) -> dict[str, Any]:
    """The simulation options, normalised: years, enrollees per year by market, tier mix, intensity CV."""
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        errors.append(Problem.at_path("options", "wrong_type", "options must be an object"))
        options = {}
    known = {
        "simulation_years",
        "enrollees_per_year",
        "tier_mix",
        "lob_mix",
        "minutes_cv",
        "fixed_annual_cost",
        "first_year",
    }
    for key in options:
        if key not in known:
            errors.append(
                Problem.at_path(
                    f"options.{key}", "unknown_option", f"unknown option; one of {', '.join(sorted(known))}"
                )
            )
    years = _whole(
        options.get("simulation_years", DEFAULT_SIMULATION_YEARS),
        "options.simulation_years",
        MIN_SIMULATION_YEARS,
        MAX_SIMULATION_YEARS,
        errors,
    )
    raw = options.get("enrollees_per_year", DEFAULT_ENROLLEES_PER_YEAR)
    enrollees: dict[str, int] = {}
    if isinstance(raw, Mapping):
        for market, count in raw.items():
            if market not in markets:
                errors.append(
                    Problem.at_path(
                        f"options.enrollees_per_year.{market}",
                        "unknown_market",
                        f"market {market!r} is not priced in this run",
                    )
                )
                continue
            value = _whole(count, f"options.enrollees_per_year.{market}", 1, MAX_ENROLLEES, errors)
            if value is not None:
                enrollees[market] = value
        enrollees = {m: enrollees.get(m, DEFAULT_ENROLLEES_PER_YEAR) for m in markets}
    else:
        value = _whole(raw, "options.enrollees_per_year", 1, MAX_ENROLLEES, errors)
        enrollees = dict.fromkeys(markets, value or DEFAULT_ENROLLEES_PER_YEAR)
    mix_raw = options.get("tier_mix")
    mix: dict[str, Decimal] = {}
    if mix_raw is None and experience is not None:
        by_tier = experience.summary.get("by_tier", {})
        mix = {t: Decimal(by_tier[t]["member_months"]) for t in tiers if t in by_tier}
    elif mix_raw is not None:
        mix = _shares(mix_raw, "options.tier_mix", tiers, "tier", errors)
    if not mix:
        mix = {t: Decimal(len(tiers) - i) for i, t in enumerate(tiers)}
    # Each market's enrollees are split between the lines of business by their shares (all alike
    # when none are given): a market's enrollees are counted once, not once per line.
    lob_mix = _shares(options.get("lob_mix"), "options.lob_mix", lobs, "line of business", errors)
    if not lob_mix:
        lob_mix = dict.fromkeys(lobs, Decimal(1))
    cv_raw = options.get("minutes_cv", DEFAULT_MINUTES_CV)
    try:
        cv = Decimal(str(cv_raw))
        if not cv.is_finite() or not 0 <= cv <= 2:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(
            Problem.at_path("options.minutes_cv", "out_of_range", "the intensity CV is a number from 0 to 2")
        )
        cv = Decimal(DEFAULT_MINUTES_CV)
    fixed_raw = options.get("fixed_annual_cost", 0)
    try:
        if isinstance(fixed_raw, bool):
            raise InvalidOperation
        fixed = Decimal(str(fixed_raw))
        if not fixed.is_finite() or not 0 <= fixed <= MAX_FIXED_ANNUAL_COST:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(
            Problem.at_path(
                "options.fixed_annual_cost",
                "out_of_range",
                f"the program's fixed annual cost is an amount from 0 to {MAX_FIXED_ANNUAL_COST:,}",
            )
        )
        fixed = Decimal(0)
    first_year = options.get("first_year", False)
    if not isinstance(first_year, bool):
        errors.append(Problem.at_path("options.first_year", "wrong_type", "first_year is true or false"))
        first_year = False
    return {
        "simulation_years": years or DEFAULT_SIMULATION_YEARS,
        "enrollees_per_year": enrollees,
        "fixed_annual_cost": cents_str(fixed),
        "first_year": first_year,
        "tier_mix": _normalised(mix, tiers),
        "lob_mix": _normalised(lob_mix, lobs),
        "minutes_cv": format(cv, "f"),
    }


def _codes(value: Any, field: str, allowed: list[str], errors: list[Problem], what: str) -> list[str]:
    if value is None or value == []:
        return list(allowed)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(Problem.at_path(field, "wrong_type", f"{field} is a list of {what} codes"))
        return []
    codes = []
    for i, code in enumerate(value):
        if code not in allowed:
            errors.append(
                Problem.at_path(
                    f"{field}[{i}]",
                    f"unknown_{what.replace(' ', '_')}",
                    f"{code!r} is not one of the bundle version's {what}s ({', '.join(allowed)})",
                )
            )
        elif code not in codes:
            codes.append(code)
    return codes


def pricing_run_start(
    *,
    scope: Scope,
    bundle_version: BundleVersion,
    assumption_set_version: AssumptionSetVersion,
    experience: ExperienceDataset | None = None,
    markets: Any = None,
    lobs: Any = None,
    seed: Any = None,
    options: Any = None,
    fee_schedule_version: FeeScheduleVersion | None = None,
    enqueue: bool = True,
) -> PricingRun:
    """Validate every input, store the complete pricing file and its hash, and queue the computation.

    With ``fee_schedule_version`` (the plan's own schedule) the fee-for-service comparison prices
    every code at that schedule's rate in effect at the rating period's midpoint (kept in the inputs,
    so the run stays reproducible), instead of the Medicare physician fee schedule."""
    scope.require("pricing.run")
    organization = scope.organization
    if (
        bundle_version.bundle.payer_id != organization.pk
        or assumption_set_version.assumption_set.payer_id != organization.pk
        or (experience is not None and experience.payer_id != organization.pk)
        or (fee_schedule_version is not None and fee_schedule_version.schedule.payer_id != organization.pk)
    ):
        raise NotFoundError("Not found.")
    if fee_schedule_version is not None and not fee_schedule_version.is_valid:
        raise ConflictError(
            "A rejected fee schedule upload has no rates to price with.", code="fee_schedule_rejected"
        )
    if bundle_version.status != BundleVersionStatus.PUBLISHED:
        raise ConflictError(BUNDLE_NOT_PUBLISHED_MESSAGE, code="bundle_version_not_published")
    if assumption_set_version.status != AssumptionSetVersionStatus.PUBLISHED:
        raise ConflictError(ASSUMPTIONS_NOT_PUBLISHED_MESSAGE, code="assumptions_not_published")
    if experience is not None and not experience.is_valid:
        raise ConflictError(EXPERIENCE_NOT_VALID_MESSAGE, code="experience_not_valid")
    definition = bundle_version.definition
    errors: list[Problem] = []
    market_codes = _codes(markets, "markets", list(definition.get("markets", [])), errors, "market")
    lob_codes = _codes(
        lobs, "lobs", list(definition.get("lines_of_business", [])), errors, "line of business"
    )
    if not market_codes and not any((e.path or "").startswith("markets") for e in errors):
        errors.append(Problem.at_path("markets", "required", "choose at least one market"))
    if not lob_codes and not any((e.path or "").startswith("lobs") for e in errors):
        errors.append(Problem.at_path("lobs", "required", "choose at least one line of business"))
    tiers = [t.get("code") for t in definition.get("tiers", [])]
    normalized_options = _run_options(
        options, tiers=tiers, lobs=lob_codes, markets=market_codes, experience=experience, errors=errors
    )
    if seed is not None:
        seed = _whole(seed, "seed", 0, 2**31 - 1, errors)
    roles = IdtRole.objects.filter(IdtRole.tenant_filter(organization))
    plan_markets = {m["code"]: m for m in plan_market_entries(organization)}
    pricing_file = None
    try:
        document = run_document(
            bundle_definition=definition,
            bills_ffs=dict(roles.values_list("code", "bills_ffs")),
            assumptions=assumption_set_version.assumptions,
            plan_markets=plan_markets,
            market_codes=market_codes,
            experience=experience_part(experience.summary) if experience is not None else None,
            observed_disenrollment=observed_disenrollment(experience.spans_summary)
            if experience is not None
            else None,
        )
        parsed = validate_document(document)
        pricing_file = parsed.to_dict()
        rating_midpoint = parsed.assumptions.rating_period_midpoint
    except PricingInputError as exc:
        errors += exc.problems
    if errors:
        raise problems_error(INVALID_RUN_MESSAGE, errors, code="invalid_run", errors_alias=True)
    inputs: dict[str, Any] = {
        "pricing_file": pricing_file,
        "markets": market_codes,
        "lobs": lob_codes,
        "options": normalized_options,
        "engine_version": ENGINE_VERSION,
        "seed": None,
    }
    if fee_schedule_version is not None:
        inputs["fee_schedule"] = {
            "id": str(fee_schedule_version.schedule.public_id),
            "name": fee_schedule_version.schedule.name,
            "version": fee_schedule_version.number,
            "effective_on": rating_midpoint.isoformat(),
            "rates": rates_on(fee_schedule_version.rows, rating_midpoint),
        }
    inputs["seed"] = seed if seed is not None else default_seed(inputs)
    inputs["references"] = _references(bundle_version, assumption_set_version, experience)
    with transaction.atomic():
        run = PricingRun.objects.create(
            payer=organization,
            bundle_version=bundle_version,
            assumption_set_version=assumption_set_version,
            experience=experience,
            markets=market_codes,
            lobs=lob_codes,
            seed=inputs["seed"],
            options=normalized_options,
            engine_version=ENGINE_VERSION,
            inputs=inputs,
            inputs_hash=inputs_hash(inputs),
            created_by=scope.user,
            progress_message="Queued",
            progress_log=[_log_entry(0, "Queued")],
        )
        if enqueue:
            from pricing.tasks import run_pricing

            run_id = run.pk
            transaction.on_commit(lambda: run_pricing.delay(run_id))
    return run


def _references(
    bundle_version: BundleVersion, version: AssumptionSetVersion, experience: ExperienceDataset | None
) -> dict[str, Any]:
    """What the inputs were taken from (kept with the run, outside its hash)."""
    references: dict[str, Any] = {
        "bundle": {
            "id": str(bundle_version.bundle.public_id),
            "name": bundle_version.bundle.name,
            "version": bundle_version.number,
            "content_hash": bundle_version.content_hash,
            "tiers": {t.get("code"): t.get("name") for t in bundle_version.definition.get("tiers", [])},
        },
        "assumption_set": {
            "id": str(version.assumption_set.public_id),
            "name": version.assumption_set.name,
            "version": version.number,
            "content_hash": version.content_hash,
            "sources": version.sources,
        },
        "experience": None,
    }
    if experience is not None:
        spans = experience.spans_summary or {}
        references["experience"] = {
            "id": str(experience.public_id),
            "name": experience.name,
            "program": experience.program_name,
            "file": experience.original_filename,
            "file_sha256": experience.file_sha256,
            "rows": experience.row_count,
            "first_month": experience.summary.get("first_month"),
            "last_month": experience.summary.get("last_month"),
            "midpoint": experience.summary.get("midpoint"),
            "spans": spans.get("spans"),
            "data_end_month": spans.get("data_end_month"),
            "spans_file_sha256": experience.spans_sha256 or None,
        }
    return references


@transaction.atomic
def pricing_run_cancel(*, scope: Scope, run: PricingRun) -> PricingRun:
    """Cancel a queued run at once (it never starts); ask a running one to stop at its next step."""
    require_run_owner(scope, run, PRICING_RUN.person_permission("cancel"))
    run = PricingRun.objects.select_for_update().get(pk=run.pk)
    target = PRICING_RUN.target("cancel", run.status)  # a finished run: refused
    run.cancel_requested = True
    if target != run.status:  # queued: it never starts
        run.status = target
        run.finished_at = timezone.now()
        run.progress_message = "Cancelled before it started"
    else:
        run.progress_message = "Cancelling at the next step"
    run.progress_log = [*run.progress_log, _log_entry(run.progress, run.progress_message)]
    run.save(update_fields=["cancel_requested", "status", "finished_at", "progress_message", "progress_log"])
    return run


def _what_if_notes(run: PricingRun, what_if: WhatIf) -> str:
    assumptions = run.assumption_set_version.assumptions
    moved = []
    if what_if.conversion_rate is not None:
        moved.append(f"conversion rate {assumptions.get('conversion_rate')} to {what_if.conversion_rate}")
    if what_if.productivity is not None:
        moved.append(f"productivity {assumptions.get('productivity')} to {what_if.productivity}")
    if what_if.wage_change:
        moved.append(f"every salary {what_if.wage_change * 100:+.1f}%")
    if what_if.enrollment_change:
        moved.append(f"every market's enrollees {what_if.enrollment_change * 100:+.1f}%")
    source = f"{run.assumption_set_version.assumption_set.name} v{run.assumption_set_version.number}"
    return (
        f"Saved from a what-if of pricing run {run.public_id} ({source}): "
        + ("; ".join(moved) or "no change")
        + "."
    )


def pricing_run_what_if_save(*, scope: Scope, run: PricingRun, what_if: WhatIf) -> PricingRun:
    """Keep a what-if: a new assumption set (the run's, with the levers moved; its notes say from where),
    published, and a run of the same bundle version, experience, markets, lines and seed with it, each
    market's enrollees moved by the enrollment change.

    All or nothing: an assumption set is never left behind without its run.
    """
    require_run_owner(scope, run, "pricing.run")
    scope.require("pricing.edit")
    if not run.succeeded:
        raise ConflictError("A what-if starts from a succeeded run.", code="run_not_succeeded")
    version = run.assumption_set_version
    stamp = timezone.localtime()
    base = f"{version.assumption_set.name} v{version.number} · what-if {stamp:%Y-%m-%d %H:%M:%S}"
    options = dict(run.options or {})
    options["enrollees_per_year"] = what_if_enrollees(dict(options.get("enrollees_per_year") or {}), what_if)
    with transaction.atomic():
        taken = set(
            AssumptionSetVersion.objects.filter(
                assumption_set__payer=scope.organization, assumption_set__name__startswith=base
            ).values_list("assumption_set__name", flat=True)
        )
        name = next(n for n in (base, *(f"{base} ({i})" for i in range(2, 1000))) if n not in taken)
        assumption_set = assumption_set_create(
            scope=scope,
            name=name,
            description=f"A what-if of {version.assumption_set.name} v{version.number}.",
            assumptions=what_if_assumptions(version.assumptions, what_if),
            sources=version.sources,
            notes=_what_if_notes(run, what_if),
        )
        published = assumption_draft_publish(scope=scope, assumption_set=assumption_set)
        return pricing_run_start(
            scope=scope,
            bundle_version=run.bundle_version,
            assumption_set_version=published,
            experience=run.experience,
            markets=run.markets,
            lobs=run.lobs,
            seed=run.seed,
            options=options,
        )
