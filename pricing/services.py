"""Writes for pricing: assumption sets and their versions, experience uploads, pricing runs, quotes.

Every service checks the role (accounts.permissions) and that the objects are the plan's own,
validates everything before writing anything, and reports every problem at once with its JSON
path (assumptions, pricing files, run parameters) or its row and column (experience files).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.tenancy import Scope
from bundles.models import BundleVersion, BundleVersionStatus, IdtRole, Market
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError
from pricing import defaults
from pricing.compute import (
    DEFAULT_ENROLLEES_PER_YEAR,
    DEFAULT_MINUTES_CV,
    DEFAULT_SIMULATION_YEARS,
    compute_run_result,
)
from pricing.documents import (
    assumption_errors,
    canonical_json,
    default_seed,
    inputs_hash,
    run_document,
    sha256_hex,
    validate_document,
)
from pricing.engine import ENGINE_VERSION, FORMAT, PricingInputError, quote
from pricing.experience import (
    experience_part,
    observed_disenrollment,
    summarise_experience,
    summarise_spans,
)
from pricing.models import (
    AssumptionSet,
    AssumptionSetVersion,
    AssumptionSetVersionStatus,
    ExperienceDataset,
    ExperienceStatus,
    PricingRun,
    PricingRunStatus,
)

logger = logging.getLogger(__name__)

INVALID_PRICING_FILE_MESSAGE = "The pricing file cannot be priced; every problem is listed with its path."
OUT_OF_RANGE_MESSAGE = "The numbers are too large to compute with; check the values of the pricing file."
INVALID_ASSUMPTIONS_MESSAGE = "The assumptions have errors; every problem is listed with its path."
INVALID_RUN_MESSAGE = (
    "The run cannot start: its inputs have errors; every problem is listed with its path or field."
)
NO_DRAFT_MESSAGE = "This assumption set has no draft; start one from a published version."
DRAFT_EXISTS_MESSAGE = "This assumption set already has a draft; publish it first."
DUPLICATE_NAME_MESSAGE = "The plan already has an assumption set with this name."
NOT_OWN_MESSAGE = "Only the plan that owns these assumptions can change them."
EXPERIENCE_REJECTED_MESSAGE = (
    "The experience file has errors; nothing was loaded. Every error is listed with its row and column."
)
BUNDLE_NOT_PUBLISHED_MESSAGE = "Only a published bundle version can be priced."
ASSUMPTIONS_NOT_PUBLISHED_MESSAGE = "Publish the assumption set before pricing with it."
EXPERIENCE_NOT_VALID_MESSAGE = "This experience upload was rejected; upload a corrected file."
RUN_FINISHED_MESSAGE = "The run has already finished; there is nothing to cancel."
MAX_SIMULATION_YEARS = 100_000
MIN_SIMULATION_YEARS = 1_000
MAX_ENROLLEES = 100_000
#: Test-only: seconds to sleep after each progress step of a run (the killed-worker tests use it).
STEP_DELAY_ENV = "CAREBUNDLE_PRICING_STEP_DELAY"
#: The first key of the PostgreSQL advisory lock a worker holds while it computes a run (the second is the run).
RUN_LOCK_NAMESPACE = 0x50524943  # "PRIC"


class RunCancelled(Exception):
    """Raised by the progress callback when a cancel was requested between two steps."""


# --- quote (stateless) ---------------------------------------------------------------------------


def pricing_quote(
    *, scope: Scope, document: Any, markets: list[str] | None = None, lobs: list[str] | None = None
) -> dict[str, Any]:
    """Price a pricing file at once, storing nothing (the what-if calculator)."""
    scope.require("pricing.quote")
    try:
        return quote(validate_document(document), markets=markets, lobs=lobs)
    except PricingInputError as exc:
        raise ApplicationError(
            INVALID_PRICING_FILE_MESSAGE, code="invalid_pricing_file", details={"errors": exc.errors}
        ) from exc
    except ArithmeticError as exc:  # a value the plausibility screen let through but Decimal cannot hold
        raise ApplicationError(OUT_OF_RANGE_MESSAGE, code="numbers_out_of_range") from exc


# --- assumption sets -----------------------------------------------------------------------------


def _require_own(scope: Scope, assumption_set: AssumptionSet) -> None:
    scope.require("pricing.edit")
    if assumption_set.payer_id != scope.organization.pk:
        raise PermissionDeniedError(NOT_OWN_MESSAGE)


def _invalid_assumptions(errors: list[dict[str, str]]) -> ApplicationError:
    return ApplicationError(
        INVALID_ASSUMPTIONS_MESSAGE, code="invalid_assumptions", details={"errors": errors}
    )


def plan_market_entries(organization) -> list[dict[str, Any]]:
    return [
        {
            "code": m.code,
            "name": m.name,
            "rural": m.rural,
            "travel_minutes_per_visit": _plain(m.travel_minutes_per_visit),
            "miles_per_visit": _plain(m.miles_per_visit),
        }
        for m in Market.objects.filter(organization=organization).order_by("code")
    ]


def _plain(value: Decimal) -> str:
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def plan_defaults(organization, *, today: date | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The platform's defaults for this plan: its markets, the roles it can use."""
    roles = list(IdtRole.objects.filter(IdtRole.tenant_filter(organization)).values_list("code", flat=True))
    return defaults.default_assumptions(
        markets=plan_market_entries(organization), role_codes=roles, today=today or timezone.localdate()
    )


def _source_values(assumptions: Mapping[str, Any]) -> dict[str, str]:
    """The value behind each source key, canonically, to see which fields a new version changed."""
    values: dict[str, str] = {}
    ranges = assumptions.get("ranges") if isinstance(assumptions.get("ranges"), Mapping) else {}
    for key, value in assumptions.items():
        if key in ("salaries", "markets", "ranges"):
            continue
        values[key] = canonical_json([value, ranges.get(key)])
    for role, entry in (assumptions.get("salaries") or {}).items():
        values[f"salaries.{role}"] = canonical_json(entry)
    for market in assumptions.get("markets") or []:
        if isinstance(market, Mapping) and market.get("code"):
            values[f"markets.{market['code']}"] = canonical_json(market)
    return values


def _updated_sources(
    scope: Scope,
    *,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    previous: Mapping[str, str],
    given: Mapping[str, str] | None,
) -> dict[str, str]:
    """Sources after an edit: given ones win; a changed field without one says who entered it and when."""
    old = _source_values(before or {})
    new = _source_values(after)
    entered = f"Entered by {scope.user.get_full_name() or scope.user.username} on {timezone.localdate().isoformat()}."
    sources = {}
    for key, value in new.items():
        if given and given.get(key):
            sources[key] = str(given[key])[:1000]
        elif key in previous and old.get(key) == value:
            sources[key] = previous[key]
        else:
            sources[key] = entered
    return sources


def _validated_assumptions(assumptions: Any) -> dict[str, Any]:
    errors = assumption_errors(assumptions)
    if errors:
        raise _invalid_assumptions(errors)
    return dict(assumptions)


def _check_sources(sources: Any) -> dict[str, str] | None:
    if sources is None:
        return None
    if not isinstance(sources, Mapping) or not all(isinstance(v, str) for v in sources.values()):
        raise _invalid_assumptions(
            [
                {
                    "path": "sources",
                    "code": "wrong_type",
                    "message": "sources is an object of field key to text",
                }
            ]
        )
    return dict(sources)


@transaction.atomic
def assumption_set_create(
    *,
    scope: Scope,
    name: str,
    description: str = "",
    assumptions: Any = None,
    sources: Any = None,
    notes: str = "",
) -> AssumptionSet:
    """A new assumption set with a draft: the platform's defaults (each with its source) unless given."""
    scope.require("pricing.edit")
    name = (name or "").strip()
    if not name:
        raise ApplicationError(
            "The assumption set needs a name.", code="invalid", details={"name": ["Required."]}
        )
    given_sources = _check_sources(sources)
    if assumptions is None:
        assumptions, default_sources = plan_defaults(scope.organization)
        previous = default_sources
        before: Mapping[str, Any] | None = assumptions
    else:
        previous, before = {}, None
    assumptions = _validated_assumptions(assumptions)
    try:
        with transaction.atomic():
            assumption_set = AssumptionSet.objects.create(
                payer=scope.organization, name=name[:200], description=description, created_by=scope.user
            )
    except IntegrityError as exc:
        raise ConflictError(
            DUPLICATE_NAME_MESSAGE, code="duplicate_name", details={"name": [DUPLICATE_NAME_MESSAGE]}
        ) from exc
    AssumptionSetVersion.objects.create(
        assumption_set=assumption_set,
        assumptions=assumptions,
        created_by=scope.user,
        notes=notes,
        sources=_updated_sources(
            scope, before=before, after=assumptions, previous=previous, given=given_sources
        ),
    )
    return assumption_set


def _locked_draft(assumption_set: AssumptionSet) -> AssumptionSetVersion:
    draft = (
        AssumptionSetVersion.objects.select_for_update()
        .filter(assumption_set=assumption_set, status=AssumptionSetVersionStatus.DRAFT)
        .first()
    )
    if draft is None:
        raise ConflictError(NO_DRAFT_MESSAGE, code="no_draft")
    return draft


@transaction.atomic
def assumption_draft_update(
    *,
    scope: Scope,
    assumption_set: AssumptionSet,
    assumptions: Any,
    sources: Any = None,
    notes: str | None = None,
) -> AssumptionSetVersion:
    """Replace the draft's assumptions (validated as a whole; nothing saved when anything is wrong)."""
    _require_own(scope, assumption_set)
    draft = _locked_draft(assumption_set)
    given = _check_sources(sources)
    validated = _validated_assumptions(assumptions)
    draft.sources = _updated_sources(
        scope, before=draft.assumptions, after=validated, previous=draft.sources, given=given
    )
    draft.assumptions = validated
    if notes is not None:
        draft.notes = notes
    draft.save(update_fields=["assumptions", "sources", "notes", "updated_at"])
    AssumptionSet.objects.filter(pk=assumption_set.pk).update(updated_at=timezone.now())
    return draft


@transaction.atomic
def assumption_draft_publish(*, scope: Scope, assumption_set: AssumptionSet) -> AssumptionSetVersion:
    """Publish the draft as the next numbered, immutable version."""
    _require_own(scope, assumption_set)
    AssumptionSet.objects.select_for_update().filter(pk=assumption_set.pk).first()
    draft = _locked_draft(assumption_set)
    errors = assumption_errors(draft.assumptions)
    if errors:
        raise _invalid_assumptions(errors)
    latest = (
        AssumptionSetVersion.objects.filter(assumption_set=assumption_set).aggregate(n=Max("number"))["n"]
        or 0
    )
    draft.number = latest + 1
    draft.status = AssumptionSetVersionStatus.PUBLISHED
    draft.content_hash = sha256_hex(
        canonical_json({"assumptions": draft.assumptions, "sources": draft.sources})
    )
    draft.published_by = scope.user
    draft.published_at = timezone.now()
    draft.save()
    return draft


@transaction.atomic
def assumption_version_new_draft(*, scope: Scope, version: AssumptionSetVersion) -> AssumptionSetVersion:
    assumption_set = version.assumption_set
    _require_own(scope, assumption_set)
    AssumptionSet.objects.select_for_update().filter(pk=assumption_set.pk).first()
    if version.is_draft:
        raise ConflictError("Start a new draft from a published version.", code="not_published")
    if AssumptionSetVersion.objects.filter(
        assumption_set=assumption_set, status=AssumptionSetVersionStatus.DRAFT
    ).exists():
        raise ConflictError(DRAFT_EXISTS_MESSAGE, code="draft_exists")
    return AssumptionSetVersion.objects.create(
        assumption_set=assumption_set,
        assumptions=version.assumptions,
        sources=version.sources,
        based_on=version,
        created_by=scope.user,
    )


def assumption_version_export(*, version: AssumptionSetVersion) -> dict[str, Any]:
    """The version as a pricing file: the `assumptions` part, plus `sources` (an extension)."""
    return {
        "format": FORMAT,
        "assumptions": version.assumptions,
        "sources": version.sources,
        "exported_from": {"assumption_set": version.assumption_set.name, "version": version.number},
    }


def assumption_set_import(*, scope: Scope, document: Any, name: str | None = None) -> AssumptionSet:
    """A new assumption set (as a draft) from a pricing file's `assumptions` part; nothing on any error."""
    scope.require("pricing.edit")
    errors = []
    if not isinstance(document, Mapping):
        raise _invalid_assumptions(
            [{"path": "$", "code": "wrong_type", "message": "The file must be a JSON object."}]
        )
    if document.get("format") != FORMAT:
        errors.append(
            {"path": "$.format", "code": "format_unsupported", "message": f"Expected format {FORMAT!r}."}
        )
    if not isinstance(document.get("assumptions"), Mapping):
        errors.append(
            {"path": "$.assumptions", "code": "required", "message": "The file has no `assumptions` object."}
        )
    else:
        errors += assumption_errors(document["assumptions"])
    sources = document.get("sources")
    if sources is not None and (
        not isinstance(sources, Mapping) or not all(isinstance(v, str) for v in sources.values())
    ):
        errors.append(
            {"path": "$.sources", "code": "wrong_type", "message": "sources is an object of key to text."}
        )
    if errors:
        raise _invalid_assumptions(errors)
    exported = document.get("exported_from") if isinstance(document.get("exported_from"), Mapping) else {}
    label = name or (
        f"{exported.get('assumption_set')} (imported)" if exported.get("assumption_set") else None
    )
    label = label or f"Imported assumptions {timezone.localdate().isoformat()}"
    imported = f"Imported from a carebundle.pricing/1 file on {timezone.localdate().isoformat()}."
    given = dict(sources or {})
    for key in _source_values(document["assumptions"]):
        given.setdefault(key, imported)
    return assumption_set_create(
        scope=scope,
        name=str(label),
        assumptions=dict(document["assumptions"]),
        sources=given,
        notes="Imported",
    )


# --- experience ----------------------------------------------------------------------------------


def _sha256_of(uploaded) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def _safe_name(uploaded, fallback: str) -> str:
    name = get_valid_filename(os.path.basename(getattr(uploaded, "name", "") or "")) or fallback
    return name[:200]


def experience_upload(
    *,
    scope: Scope,
    name: str,
    file,
    spans_file=None,
    program_name: str = "",
    provider=None,
    today: date | None = None,
) -> ExperienceDataset:
    """Keep the uploaded file(s), validate every row, store the summary only when there is no error.

    Returns the dataset in either case: a rejected upload is kept (status `rejected`) with its
    errors, so the caller shows them; the API answers 400 for it.
    """
    scope.require("pricing.edit")
    today = today or timezone.localdate()
    dataset = ExperienceDataset(
        payer=scope.organization,
        name=(name or _safe_name(file, "experience.csv"))[:200],
        program_name=program_name[:200],
        provider=provider,
        created_by=scope.user,
        original_filename=_safe_name(file, "experience.csv"),
        file_sha256=_sha256_of(file),
        status=ExperienceStatus.REJECTED,
    )
    dataset.file.save(dataset.original_filename, file, save=False)
    with dataset.file.open("rb") as fh:
        experience = summarise_experience(fh, today=today)
    errors = [issue.as_dict("experience") for issue in experience.issues]
    error_count = experience.issue_count
    spans = None
    if spans_file is not None:
        dataset.spans_original_filename = _safe_name(spans_file, "spans.csv")
        dataset.spans_sha256 = _sha256_of(spans_file)
        dataset.spans_file.save(dataset.spans_original_filename, spans_file, save=False)
        last_month = None
        if experience.valid:
            year, month = map(int, experience.summary["last_month"].split("-"))
            last_month = year * 12 + month - 1
        with dataset.spans_file.open("rb") as fh:
            spans = summarise_spans(fh, today=today, data_end_month=last_month)
        errors += [issue.as_dict("spans") for issue in spans.issues]
        error_count += spans.issue_count
        dataset.spans_count = spans.row_count
    dataset.row_count = experience.row_count
    dataset.errors = errors
    dataset.error_count = error_count
    if error_count == 0:
        dataset.status = ExperienceStatus.VALID
        dataset.summary = experience.summary
        dataset.spans_summary = spans.summary if spans is not None else {}
    with transaction.atomic():
        dataset.save()
    return dataset


def experience_rejected_error(dataset: ExperienceDataset) -> ApplicationError:
    return ApplicationError(
        EXPERIENCE_REJECTED_MESSAGE,
        code="invalid_experience",
        details={
            "dataset_id": str(dataset.public_id),
            "error_count": dataset.error_count,
            "errors": dataset.errors,
        },
    )


# --- pricing runs --------------------------------------------------------------------------------


def _error(path: str, code: str, message: str) -> dict[str, str]:
    return {"path": path, "code": code, "message": message}


def _whole(value: Any, path: str, low: int, high: int, errors: list[dict[str, str]]) -> int | None:
    if isinstance(value, bool):
        errors.append(_error(path, "wrong_type", "must be a whole number"))
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.append(_error(path, "not_a_number", f"{value!r} is not a number"))
        return None
    if not number.is_finite() or number != number.to_integral_value():
        errors.append(_error(path, "not_integer", "must be a whole number"))
        return None
    if not low <= number <= high:
        errors.append(_error(path, "out_of_range", f"must be between {low:,} and {high:,}"))
        return None
    return int(number)


def _run_options(
    options: Any,
    *,
    tiers: list[str],
    markets: list[str],
    experience: ExperienceDataset | None,
    errors: list[dict[str, str]],
) -> dict[str, Any]:
    """The simulation options, normalised: years, enrollees per year by market, tier mix, intensity CV."""
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        errors.append(_error("options", "wrong_type", "options must be an object"))
        options = {}
    known = {"simulation_years", "enrollees_per_year", "tier_mix", "minutes_cv"}
    for key in options:
        if key not in known:
            errors.append(
                _error(
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
                    _error(
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
    elif isinstance(mix_raw, Mapping):
        for tier, share in mix_raw.items():
            path = f"options.tier_mix.{tier}"
            if tier not in tiers:
                errors.append(_error(path, "unknown_tier", f"tier {tier!r} is not one of the bundle's tiers"))
                continue
            try:
                number = Decimal(str(share))
            except (InvalidOperation, ValueError):
                errors.append(_error(path, "not_a_number", f"{share!r} is not a number"))
                continue
            if not number.is_finite() or number < 0 or number > 1_000_000:
                errors.append(_error(path, "out_of_range", "a share is zero or more"))
                continue
            mix[tier] = number
    elif mix_raw is not None:
        errors.append(_error("options.tier_mix", "wrong_type", "tier_mix is an object of tier code to share"))
    if mix and sum(mix.values()) <= 0:
        errors.append(_error("options.tier_mix", "invalid_tier_mix", "tier shares must not all be zero"))
        mix = {}
    if not mix:
        mix = {t: Decimal(len(tiers) - i) for i, t in enumerate(tiers)}
    total = sum(mix.values())
    cv_raw = options.get("minutes_cv", DEFAULT_MINUTES_CV)
    try:
        cv = Decimal(str(cv_raw))
        if not cv.is_finite() or not 0 <= cv <= 2:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(
            _error("options.minutes_cv", "out_of_range", "the intensity CV is a number from 0 to 2")
        )
        cv = Decimal(DEFAULT_MINUTES_CV)
    return {
        "simulation_years": years or DEFAULT_SIMULATION_YEARS,
        "enrollees_per_year": enrollees,
        "tier_mix": {
            t: format((mix.get(t, Decimal(0)) / total).quantize(Decimal("0.000001")), "f") for t in tiers
        },
        "minutes_cv": format(cv, "f"),
    }


def _codes(value: Any, field: str, allowed: list[str], errors: list[dict[str, str]], what: str) -> list[str]:
    if value is None or value == []:
        return list(allowed)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(_error(field, "wrong_type", f"{field} is a list of {what} codes"))
        return []
    codes = []
    for i, code in enumerate(value):
        if code not in allowed:
            errors.append(
                _error(
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
    enqueue: bool = True,
) -> PricingRun:
    """Validate every input, store the complete pricing file and its hash, and queue the computation."""
    scope.require("pricing.run")
    organization = scope.organization
    if (
        bundle_version.bundle.payer_id != organization.pk
        or assumption_set_version.assumption_set.payer_id != organization.pk
        or (experience is not None and experience.payer_id != organization.pk)
    ):
        raise NotFoundError("Not found.")
    if bundle_version.status != BundleVersionStatus.PUBLISHED:
        raise ConflictError(BUNDLE_NOT_PUBLISHED_MESSAGE, code="bundle_version_not_published")
    if assumption_set_version.status != AssumptionSetVersionStatus.PUBLISHED:
        raise ConflictError(ASSUMPTIONS_NOT_PUBLISHED_MESSAGE, code="assumptions_not_published")
    if experience is not None and not experience.is_valid:
        raise ConflictError(EXPERIENCE_NOT_VALID_MESSAGE, code="experience_not_valid")
    definition = bundle_version.definition
    errors: list[dict[str, str]] = []
    market_codes = _codes(markets, "markets", list(definition.get("markets", [])), errors, "market")
    lob_codes = _codes(
        lobs, "lobs", list(definition.get("lines_of_business", [])), errors, "line of business"
    )
    if not market_codes and not any(e["path"].startswith("markets") for e in errors):
        errors.append(_error("markets", "required", "choose at least one market"))
    if not lob_codes and not any(e["path"].startswith("lobs") for e in errors):
        errors.append(_error("lobs", "required", "choose at least one line of business"))
    tiers = [t.get("code") for t in definition.get("tiers", [])]
    normalized_options = _run_options(
        options, tiers=tiers, markets=market_codes, experience=experience, errors=errors
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
        pricing_file = validate_document(document).to_dict()
    except PricingInputError as exc:
        errors += exc.errors
    if errors:
        raise ApplicationError(INVALID_RUN_MESSAGE, code="invalid_run", details={"errors": errors})
    inputs: dict[str, Any] = {
        "pricing_file": pricing_file,
        "markets": market_codes,
        "lobs": lob_codes,
        "options": normalized_options,
        "engine_version": ENGINE_VERSION,
        "seed": None,
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


def _log_entry(progress: int, message: str) -> dict[str, Any]:
    return {"at": timezone.now().isoformat(timespec="seconds"), "progress": progress, "message": message}


@transaction.atomic
def pricing_run_cancel(*, scope: Scope, run: PricingRun) -> PricingRun:
    """Cancel a queued run at once (it never starts); ask a running one to stop at its next step."""
    scope.require("pricing.run")
    run = PricingRun.objects.select_for_update().get(pk=run.pk)
    if run.is_terminal:
        raise ConflictError(RUN_FINISHED_MESSAGE, code="run_finished")
    run.cancel_requested = True
    if run.status == PricingRunStatus.QUEUED:
        run.status = PricingRunStatus.CANCELLED
        run.finished_at = timezone.now()
        run.progress_message = "Cancelled before it started"
    else:
        run.progress_message = "Cancelling at the next step"
    run.progress_log = [*run.progress_log, _log_entry(run.progress, run.progress_message)]
    run.save(update_fields=["cancel_requested", "status", "finished_at", "progress_message", "progress_log"])
    return run


def _pause() -> None:
    delay = float(os.environ.get(STEP_DELAY_ENV, "0") or 0)
    if delay > 0:
        time.sleep(delay)


class _Progress:
    """Writes progress to the run row between steps (each in its own short transaction) and stops
    the computation when a cancel was requested."""

    def __init__(self, run: PricingRun):
        self.run_id = run.pk
        self.log = list(run.progress_log)
        self.last = run.progress

    def __call__(self, progress: int, message: str) -> None:
        progress = max(self.last, min(99, progress))
        log = [*self.log, _log_entry(progress, message)]
        # Only while no cancel was requested: the cancel takes the row lock, so a cancel that lands
        # between a check and this write cannot be overwritten (and its log entry lost).
        written = PricingRun.objects.filter(
            pk=self.run_id, status=PricingRunStatus.RUNNING, cancel_requested=False
        ).update(progress=progress, progress_message=message[:200], progress_log=log)
        if not written:
            raise RunCancelled  # a cancel was requested (or the run is no longer running)
        self.last, self.log = progress, log
        _pause()


@contextmanager
def _computing(run_id: int) -> Iterator[None]:
    """Held while a worker computes a run (PostgreSQL: a session advisory lock on its connection).

    A second delivery of the same run (a broker redelivering a message whose worker is still alive)
    waits here for the first to finish, then finds the run finished; if the first worker died, its
    connection and so its lock went with it, and the second computes the run again from its inputs.
    """
    if connection.vendor != "postgresql":
        yield
        return
    key = [RUN_LOCK_NAMESPACE, run_id % 2_147_483_647]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", key)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        except DatabaseError:  # the connection is gone, and the lock with it
            logger.warning("Pricing run %s: the run lock could not be released", run_id, exc_info=True)


def _finish(
    run_id: int, status: str, *, result: dict | None = None, error: dict | None = None, message: str
) -> PricingRun | None:
    """Write a run's outcome once: a run already finished (by another attempt) is left as it is."""
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_terminal:
            return run
        if status == PricingRunStatus.SUCCEEDED and run.cancel_requested:
            status, result, message = PricingRunStatus.CANCELLED, None, "Cancelled"
        run.status = status
        run.result = result
        run.error = error
        run.finished_at = timezone.now()
        if status == PricingRunStatus.SUCCEEDED:
            run.progress = 100
        run.progress_message = message
        run.progress_log = [*run.progress_log, _log_entry(run.progress, message)]
        run.save(
            update_fields=[
                "status",
                "result",
                "error",
                "finished_at",
                "progress",
                "progress_message",
                "progress_log",
            ]
        )
        return run


def pricing_run_execute(*, run_id: int) -> PricingRun | None:
    """Compute a run from its stored inputs (the Celery task calls this).

    Idempotent and retry-safe: a finished run is left alone (never computed twice, its result written
    once); a run found `running` with no worker on it (a worker died mid-way and the message came
    back) is computed again from its inputs, its progress carrying on from where it was; a duplicate
    delivery while a worker is computing the run waits for it (see ``_computing``).
    """
    with _computing(run_id):
        return _execute(run_id)


def _execute(run_id: int) -> PricingRun | None:
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.is_terminal:
            return run
        if run.cancel_requested:
            run = None
    if run is None:
        return _finish(run_id, PricingRunStatus.CANCELLED, message="Cancelled")
    with transaction.atomic():
        run = PricingRun.objects.select_for_update().get(pk=run_id)
        if run.is_terminal:
            return run
        retry = run.status == PricingRunStatus.RUNNING
        run.status = PricingRunStatus.RUNNING
        run.started_at = run.started_at or timezone.now()
        run.attempts += 1
        run.progress = max(run.progress, 1)  # a restart recomputes, but the bar never goes back
        run.progress_message = "Restarted after an interruption" if retry else "Started"
        run.progress_log = [*run.progress_log, _log_entry(run.progress, run.progress_message)]
        run.save(
            update_fields=["status", "started_at", "attempts", "progress", "progress_message", "progress_log"]
        )
    try:
        result = compute_run_result(run.inputs, on_progress=_Progress(run))
    except RunCancelled:
        return _finish(run_id, PricingRunStatus.CANCELLED, message="Cancelled")
    except PricingInputError as exc:
        return _finish(
            run_id,
            PricingRunStatus.FAILED,
            message="Failed: the inputs cannot be priced",
            error={
                "code": "invalid_inputs",
                "message": INVALID_PRICING_FILE_MESSAGE,
                "details": {"errors": exc.errors},
            },
        )
    except Exception as exc:
        logger.exception("Pricing run %s failed", run_id)
        return _finish(
            run_id,
            PricingRunStatus.FAILED,
            message="Failed",
            error={
                "code": "computation_failed",
                "message": f"The computation stopped: {exc.__class__.__name__}: {exc}"[:1000],
                "details": {},
            },
        )
    return _finish(run_id, PricingRunStatus.SUCCEEDED, result=result, message="Done")


# --- stalled runs --------------------------------------------------------------------------------

#: A run still queued or running with no sign of life (created, started, a progress step, queued
#: again) for this long is queued again by the sweep (``pricing_runs_requeue_stalled``).
STALLED_AFTER = timedelta(minutes=15)
REQUEUED_MESSAGE = "Queued again: no sign of life for {minutes} minutes"
#: A run whose worker died this many times is failed by the sweep instead of queued again (it would
#: take down every worker that picks it up, e.g. by running out of memory).
MAX_ATTEMPTS = 5
GAVE_UP_MESSAGE = "Stopped after {attempts} attempts: the worker computing it stopped each time."
_ACTIVE = (PricingRunStatus.QUEUED, PricingRunStatus.RUNNING)


def _last_sign_of_life(run: PricingRun) -> datetime:
    """The latest of the run's creation, its start and the moments of its progress log."""
    moments = [moment for moment in (run.created_at, run.started_at) if moment is not None]
    for entry in run.progress_log or []:
        try:
            at = datetime.fromisoformat(entry["at"])
        except (KeyError, TypeError, ValueError):
            continue
        moments.append(timezone.make_aware(at) if timezone.is_naive(at) else at)
    return max(moments)


def _runs_being_computed(run_ids: list[int]) -> set[int]:
    """The runs whose run lock (``_computing``) a live database session holds: a worker computes them.

    Only PostgreSQL has the lock; elsewhere every stalled run is queued again (still computed once:
    a finished run is left alone)."""
    if connection.vendor != "postgresql" or not run_ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND objsubid = 2 AND classid::bigint = %s",
            [RUN_LOCK_NAMESPACE],
        )
        held = {row[0] for row in cursor.fetchall()}
    return {run_id for run_id in run_ids if run_id % 2_147_483_647 in held}


def pricing_runs_requeue_stalled(*, now: datetime | None = None) -> list[str]:
    """Every few minutes (CELERY_BEAT_SCHEDULE): queue again the runs still queued or running whose last
    sign of life is older than STALLED_AFTER, e.g. their whole worker died (the broker would give their
    message back only after its visibility timeout). Returns one line per run queued again.

    Safe with a worker still computing the run: on PostgreSQL a run whose lock a worker holds is
    skipped, and a new message for it would wait for that worker and then find the run finished
    (``pricing_run_execute``); a finished or cancelled run is never queued again. The log entry
    written when a run is queued again is a sign of life too, so a run is queued again at most once
    per STALLED_AFTER.
    """
    from pricing.tasks import run_pricing

    now = now or timezone.now()
    cutoff = now - STALLED_AFTER
    candidates = (
        PricingRun.objects.filter(status__in=_ACTIVE, created_at__lt=cutoff)
        .only("pk", "created_at", "started_at", "progress_log")
        .order_by("pk")
    )
    stalled = [run.pk for run in candidates if _last_sign_of_life(run) < cutoff]
    busy = _runs_being_computed(stalled)
    requeued = []
    for run_id in stalled:
        if run_id in busy:
            logger.info(
                "Pricing run %s: no progress for %s but a worker holds its lock; left to it",
                run_id,
                STALLED_AFTER,
            )
            continue
        with transaction.atomic():
            run = PricingRun.objects.select_for_update().filter(pk=run_id, status__in=_ACTIVE).first()
            if run is None:
                continue  # finished meanwhile
            last = _last_sign_of_life(run)
            if last >= cutoff:
                continue  # moved on meanwhile
            if run.attempts >= MAX_ATTEMPTS:
                message = GAVE_UP_MESSAGE.format(attempts=run.attempts)
                _finish(
                    run_id,
                    PricingRunStatus.FAILED,
                    message=message,
                    error={"code": "worker_lost", "message": message, "details": {"attempts": run.attempts}},
                )
                logger.error("Pricing run %s: %s", run_id, message)
                requeued.append(f"run {run.public_id} failed after {run.attempts} attempts")
                continue
            message = REQUEUED_MESSAGE.format(minutes=int((now - last).total_seconds() // 60))
            entry = {"at": now.isoformat(timespec="seconds"), "progress": run.progress, "message": message}
            PricingRun.objects.filter(pk=run_id).update(
                progress_message=message, progress_log=[*run.progress_log, entry]
            )
            transaction.on_commit(lambda run_id=run_id: run_pricing.delay(run_id))
        logger.warning("Pricing run %s: %s", run_id, message)
        requeued.append(f"run {run.public_id} queued again")
    return requeued
