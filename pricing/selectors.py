"""Reads of assumption sets, experience datasets and pricing runs, scoped to the user's organisation.

Pricing is the plan's own work: only the plan that owns an object sees it. Object lookups come
first and answer 404 for anything another organisation owns (a provider included), and only
then is the role checked, so nobody learns that another plan's run exists.

`pricing_run_rate_table` and `succeeded_runs_for_bundle_version` are the interface contracts
build rate schedules from.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from bundles.models import BundleVersion, BundleVersionStatus
from core.errors import NOT_FOUND_MESSAGE, ApplicationError, NotFoundError, uuid_or_404
from core.worklist import WorkItem
from pricing.models import (
    AssumptionSet,
    AssumptionSetVersion,
    AssumptionSetVersionStatus,
    ExperienceDataset,
    ExperienceStatus,
    FeeSchedule,
    FeeScheduleVersion,
    PricingRun,
    PricingRunShare,
    PricingRunStatus,
    SensitivityAnalysis,
)
from pricing.states import ASSUMPTION_SET_VERSION, PRICING_RUN

# --- assumption sets ---------------------------------------------------------------------------


def assumption_set_list(*, scope: Scope, search: str = "") -> QuerySet[AssumptionSet]:
    """Assumption sets with their latest published number and whether a draft is open, in one query."""
    scope.require("pricing.view")
    sets = scoped(AssumptionSet.objects.all(), scope).annotate(
        latest_number=Max("versions__number"),
        draft_count=Count("versions", filter=Q(versions__status=AssumptionSetVersionStatus.DRAFT)),
    )
    if search:
        sets = sets.filter(name__icontains=search)
    return sets.order_by("name")


def assumption_set_get(*, scope: Scope, public_id) -> AssumptionSet:
    assumption_set = get_scoped_or_404(
        AssumptionSet.objects.select_related("payer"), scope, public_id=public_id
    )
    scope.require("pricing.view")
    return assumption_set


def assumption_version_list(*, scope: Scope, assumption_set: AssumptionSet) -> QuerySet[AssumptionSetVersion]:
    versions = scoped(AssumptionSetVersion.objects.filter(assumption_set=assumption_set), scope)
    return versions.select_related("created_by", "published_by", "based_on").order_by(
        F("number").desc(nulls_first=True)
    )


def assumption_version_get(
    *, scope: Scope, assumption_set: AssumptionSet, number: str | int
) -> AssumptionSetVersion:
    """``number`` is a version number or ``"draft"``."""
    versions = AssumptionSetVersion.objects.filter(assumption_set=assumption_set).select_related(
        "assumption_set", "based_on", "created_by", "published_by"
    )
    if str(number) == "draft":
        return get_scoped_or_404(versions, scope, status=AssumptionSetVersionStatus.DRAFT)
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    return get_scoped_or_404(versions, scope, number=number)


def assumption_version_actions(
    *, scope: Scope, assumption_set: AssumptionSet, version: AssumptionSetVersion | None
) -> list[str]:
    """What the scope may do to the version now (the page shows these buttons): the actions declared
    from its status that the role may fire, on the plan's own sets only (pricing.states)."""
    if version is None or assumption_set.payer_id != scope.organization.pk:
        return []
    return ASSUMPTION_SET_VERSION.actions_for(version.status, can=scope.can)


def published_assumption_versions(*, scope: Scope) -> QuerySet[AssumptionSetVersion]:
    """Published versions a run may point at, newest first per set."""
    return (
        scoped(AssumptionSetVersion.objects.filter(status=AssumptionSetVersionStatus.PUBLISHED), scope)
        .select_related("assumption_set")
        .order_by("assumption_set__name", "-number")
    )


def published_bundle_versions(*, scope: Scope) -> QuerySet[BundleVersion]:
    """The plan's own published bundle versions (a run prices only those)."""
    return (
        BundleVersion.objects.filter(bundle__payer=scope.organization, status=BundleVersionStatus.PUBLISHED)
        .select_related("bundle")
        .order_by("bundle__name", "-number")
    )


# --- experience ------------------------------------------------------------------------------


def experience_list(*, scope: Scope, status: str = "") -> QuerySet[ExperienceDataset]:
    scope.require("pricing.view")
    datasets = scoped(ExperienceDataset.objects.select_related("provider", "created_by"), scope)
    if status:
        datasets = datasets.filter(status=status)
    return datasets.order_by("-created_at", "-pk")


def experience_get(*, scope: Scope, public_id) -> ExperienceDataset:
    dataset = get_scoped_or_404(
        ExperienceDataset.objects.select_related("provider", "created_by", "payer"),
        scope,
        public_id=public_id,
    )
    scope.require("pricing.view")
    return dataset


def valid_experience(*, scope: Scope) -> QuerySet[ExperienceDataset]:
    return scoped(ExperienceDataset.objects.filter(status=ExperienceStatus.VALID), scope).order_by(
        "-created_at"
    )


# --- runs ------------------------------------------------------------------------------------

_RUN_LIST_DEFER = ("inputs", "result", "progress_log")


def pricing_run_list(
    *, scope: Scope, status: str = "", bundle_version: BundleVersion | None = None
) -> QuerySet[PricingRun]:
    """The organisation's own runs newest first, without their (large) inputs and results (runs shared
    with it are on the "Shared with us" page)."""
    scope.require("pricing.view")
    runs = (
        scoped(PricingRun.objects.all(), scope)
        .filter(PricingRun.own_filter(scope.organization))
        .select_related(
            "bundle_version__bundle", "assumption_set_version__assumption_set", "experience", "created_by"
        )
        .defer(*_RUN_LIST_DEFER)
    )
    if status:
        runs = runs.filter(status=status)
    if bundle_version is not None:
        runs = runs.filter(bundle_version=bundle_version)
    return runs.order_by("-created_at", "-pk")


def _require_run_view(scope: Scope, run: PricingRun, *, own: bool) -> None:
    """``pricing.view`` on the organisation's own run. A run shared with it needs no action (receiving
    is not a role's); with ``own`` (what hangs off a run beyond its report: what-if, sensitivity,
    cancel), a shared run is as missing as another organisation's."""
    if run.payer_id == scope.organization.pk:
        scope.require("pricing.view")
    elif own:
        raise NotFoundError(NOT_FOUND_MESSAGE)


def pricing_run_get(*, scope: Scope, public_id, own: bool = False) -> PricingRun:
    """A run the scope may read: its own, or one shared with it (the run and its report; ``own``
    refuses those with a 404)."""
    run = get_scoped_or_404(
        PricingRun.objects.select_related(
            "payer",
            "bundle_version__bundle",
            "assumption_set_version__assumption_set",
            "experience",
            "created_by",
        ),
        scope,
        public_id=public_id,
    )
    _require_run_view(scope, run, own=own)
    return run


#: How many runs one comparison puts side by side (columns a page and a PDF page can hold).
COMPARE_MIN_RUNS, COMPARE_MAX_RUNS = 2, 6


def pricing_runs_for_comparison(*, scope: Scope, run_ids: list[str]) -> list[PricingRun]:
    """The succeeded runs to put side by side, in the order asked (the first is the baseline).

    An id repeated counts once. Any run that is missing or another organisation's is a 404 (as for
    one run); too few or too many runs, or one that has not succeeded, is a 400 that says so.
    """
    ids = list(dict.fromkeys(uuid_or_404(run_id) for run_id in run_ids))
    if not COMPARE_MIN_RUNS <= len(ids) <= COMPARE_MAX_RUNS:
        raise ApplicationError(
            f"Choose {COMPARE_MIN_RUNS} to {COMPARE_MAX_RUNS} different pricing runs to compare"
            f" ({len(ids)} chosen).",
            code="comparison_run_count",
        )
    runs = {
        run.public_id: run
        for run in scoped(PricingRun.objects.filter(public_id__in=ids), scope).select_related(
            "bundle_version__bundle", "assumption_set_version__assumption_set", "experience"
        )
    }
    if len(runs) != len(ids):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    scope.require("pricing.view")
    unfinished = [runs[i] for i in ids if not runs[i].succeeded]
    if unfinished:
        raise ApplicationError(
            "Only succeeded runs have rates to compare; "
            + ", ".join(
                f"the run of {timezone.localtime(r.created_at):%Y-%m-%d %H:%M} is {r.get_status_display().lower()}"
                for r in unfinished
            )
            + ".",
            code="run_not_succeeded",
            details={"runs": [str(r.public_id) for r in unfinished]},
        )
    return [runs[i] for i in ids]


def sensitivity_list(*, scope: Scope, run: PricingRun) -> QuerySet[SensitivityAnalysis]:
    """A run's sensitivity analyses, newest first (the run was looked up through the scope)."""
    return scoped(SensitivityAnalysis.objects.filter(run=run), scope).order_by("-created_at", "-pk")


def sensitivity_get(*, scope: Scope, public_id) -> SensitivityAnalysis:
    analysis = get_scoped_or_404(
        SensitivityAnalysis.objects.select_related("run", "run__bundle_version__bundle"),
        scope,
        public_id=public_id,
    )
    scope.require("pricing.view")
    return analysis


def pricing_run_actions(*, scope: Scope, run: PricingRun) -> list[str]:
    """What the scope may do to the run now: the actions pricing.states declares from its status that
    the role may fire, on its own runs only (a run shared with it is read-only)."""
    if run.payer_id != scope.organization.pk:
        return []
    return PRICING_RUN.actions_for(run.status, can=scope.can)


def pricing_run_status_get(*, scope: Scope, public_id) -> PricingRun:
    """The run's state and progress only (the progress bar polls this)."""
    run = get_scoped_or_404(PricingRun.objects.defer(*_RUN_LIST_DEFER), scope, public_id=public_id)
    _require_run_view(scope, run, own=False)
    return run


def succeeded_runs_for_bundle_version(*, scope: Scope, bundle_version: BundleVersion) -> QuerySet[PricingRun]:
    """Succeeded runs of a bundle version the scope may see, newest first (for contracts' rate pickers)."""
    return (
        scoped(
            PricingRun.objects.filter(bundle_version=bundle_version, status=PricingRunStatus.SUCCEEDED), scope
        )
        .filter(PricingRun.own_filter(scope.organization))
        .select_related("assumption_set_version__assumption_set", "experience")
        .defer(*_RUN_LIST_DEFER)
        .order_by("-finished_at", "-pk")
    )


def pricing_run_rate_table(*, scope: Scope, run_id) -> dict[str, Any]:
    """The rates of a succeeded run as Decimals, for a contract's rate schedule.

    Returns {"run_id", "run_label", "bundle_version_id", "rates": [{"tier", "market", "lob", "pmpm", "low", "high"}],
    (and ``episode_rate`` per rate for an episode bundle)
    "assessment_fees": {market: Decimal}}. For a phased bundle every rate also has ``"phase": code``
    (one row per tier, market, LOB and phase) and the table has "phases": [{"code", "name", "from_month"}]. A run that is missing, another organisation's, or not
    succeeded raises NotFoundError.
    """
    run = get_scoped_or_404(  # the scope's own runs: a shared run is read-only, never a contract's rates
        PricingRun.objects.filter(
            PricingRun.own_filter(scope.organization), status=PricingRunStatus.SUCCEEDED
        ).only("public_id", "bundle_version_id", "result", "payer_id", "status", "finished_at"),
        scope,
        public_id=run_id,
    )
    quote = (run.result or {}).get("quote", {})
    phases = quote.get("phases") or []
    table: dict[str, Any] = {
        "run_id": str(run.public_id),
        # how a person names the run: when it finished (its id is for machines)
        "run_label": f"the pricing run of {timezone.localtime(run.finished_at):%Y-%m-%d %H:%M}"
        if run.finished_at
        else "a pricing run",
        "bundle_version_id": run.bundle_version_id,
        # a phased bundle's cells are one per phase (its main quote is only the last phase's again)
        "rates": [_rate_row(rate, phase["code"]) for phase in phases for rate in phase["rates"]]
        if phases
        else [_rate_row(rate) for rate in quote.get("rates", [])],
        "assessment_fees": {market: Decimal(fee) for market, fee in quote.get("assessment_fee", {}).items()},
    }
    if phases:
        table["phases"] = [
            {"code": phase["code"], "name": phase["name"], "from_month": phase["from_month"]}
            for phase in phases
        ]
    return table


def _rate_row(rate: dict[str, Any], phase: str | None = None) -> dict[str, Any]:
    """One rate cell of a run's table; ``phase`` only for a phased bundle's (an unphased row has no key)."""
    return {
        "tier": rate["tier"],
        "market": rate["market"],
        "lob": rate["lob"],
        **({"phase": phase} if phase is not None else {}),
        "pmpm": Decimal(rate["pmpm"]),
        "low": Decimal(rate["low"]),
        "high": Decimal(rate["high"]),
        # an episode bundle's case rate per episode (the PMPM x the episode's months)
        **({"episode_rate": Decimal(rate["episode_rate"])} if rate.get("episode_rate") else {}),
    }


# --- fee schedules ---------------------------------------------------------------------------------


def fee_schedule_list(*, scope: Scope) -> QuerySet[FeeSchedule]:
    """The plan's fee schedules with their latest number and count of uploads, in one query."""
    scope.require("pricing.view")
    return (
        scoped(FeeSchedule.objects.all(), scope)
        .annotate(latest_number=Max("versions__number"), upload_count=Count("versions"))
        .order_by("name")
    )


def fee_schedule_get(*, scope: Scope, public_id) -> FeeSchedule:
    schedule = get_scoped_or_404(FeeSchedule.objects.all(), scope, public_id=public_id)
    scope.require("pricing.view")
    return schedule


def fee_schedule_versions(*, scope: Scope, schedule: FeeSchedule) -> QuerySet[FeeScheduleVersion]:
    """Every upload of a schedule, newest first, without their rows."""
    return (
        scoped(FeeScheduleVersion.objects.filter(schedule=schedule), scope)
        .select_related("created_by")
        .defer("rows")
        .order_by("-created_at", "-pk")
    )


def fee_schedule_version_get(*, scope: Scope, schedule: FeeSchedule, number: str | int) -> FeeScheduleVersion:
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    return get_scoped_or_404(
        FeeScheduleVersion.objects.filter(schedule=schedule).select_related("schedule"), scope, number=number
    )


def fee_schedule_version_for_run(
    *, scope: Scope, schedule_id, number: int | None = None
) -> FeeScheduleVersion:
    """The version a run asks for (its latest valid one when no number is given); 409 when it has none."""
    schedule = fee_schedule_get(scope=scope, public_id=schedule_id)
    if number is None:
        number = schedule.versions.aggregate(last=Max("number"))["last"]
        if number is None:
            raise ApplicationError(
                "The fee schedule has no valid version yet.", code="fee_schedule_rejected", status=409
            )
    return fee_schedule_version_get(scope=scope, schedule=schedule, number=number)


def valid_fee_schedule_versions(*, scope: Scope) -> QuerySet[FeeScheduleVersion]:
    """Every valid version a run may name, newest schedule version first (for the run form)."""
    return (
        scoped(FeeScheduleVersion.objects.filter(status=ExperienceStatus.VALID), scope)
        .select_related("schedule")
        .defer("rows", "errors")
        .order_by("schedule__name", "-number")
    )


# --- stalled runs and the workspace's worklist -----------------------------------------------------

#: A run still queued or running with no sign of life (created, started, a progress step, queued
#: again) for this long is queued again by the sweep (``pricing_runs_requeue_stalled``).
STALLED_AFTER = timedelta(minutes=15)
#: Queued or running: not final.
ACTIVE_STATUSES = tuple(status for status in PRICING_RUN.states if status not in PRICING_RUN.final_states())


def last_sign_of_life(run: PricingRun) -> datetime:
    """The latest of the run's creation, its start and the moments of its progress log."""
    moments = [moment for moment in (run.created_at, run.started_at) if moment is not None]
    for entry in run.progress_log or []:
        try:
            at = datetime.fromisoformat(entry["at"])
        except (KeyError, TypeError, ValueError):
            continue
        moments.append(timezone.make_aware(at) if timezone.is_naive(at) else at)
    return max(moments)


def stalled_run_work(*, scope: Scope, now: datetime | None = None) -> list[WorkItem]:
    """The plan's pricing runs queued or running with no sign of life for ``STALLED_AFTER`` (the sweep
    queues them again; someone may want to cancel one). One query."""
    if not scope.can("pricing.run"):
        return []
    now = now or timezone.now()
    runs = scoped(PricingRun.objects.filter(status__in=ACTIVE_STATUSES), scope).select_related(
        "bundle_version__bundle"
    )
    items = []
    for run in runs.defer("inputs", "result").order_by("created_at"):
        last = last_sign_of_life(run)
        if now - last < STALLED_AFTER:
            continue
        items.append(
            WorkItem(
                kind="pricing_run_stalled",
                title=f"Pricing run of {run.bundle_version}, started {timezone.localtime(run.created_at):%Y-%m-%d %H:%M}",
                detail=f"No progress since {timezone.localtime(last):%Y-%m-%d %H:%M}: it is queued again "
                "automatically; cancel it if it is no longer needed.",
                url=reverse("pricing-run-detail", kwargs={"run_id": run.public_id}),
                urgent=True,
            )
        )
    return items


# --- shares ------------------------------------------------------------------------------------


def run_share_list(*, scope: Scope, run: PricingRun) -> QuerySet[PricingRunShare]:
    """Every share of the run, active and revoked, newest first: its owner's only (a recipient gets
    404)."""
    if run.payer_id != scope.organization.pk:
        raise NotFoundError(NOT_FOUND_MESSAGE)
    scope.require("pricing.view")
    return (
        scoped(PricingRunShare.objects.filter(run=run), scope)
        .select_related(
            "organization", "shared_by", "revoked_by", "run__payer", "run__bundle_version__bundle"
        )
        .defer("run__inputs", "run__result", "run__progress_log")
        .order_by("-shared_at", "-pk")
    )


def run_share_get(*, scope: Scope, run: PricingRun, share_id) -> PricingRunShare:
    try:
        return run_share_list(scope=scope, run=run).get(public_id=share_id)
    except (PricingRunShare.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def run_share_received(*, scope: Scope, run: PricingRun) -> PricingRunShare | None:
    """The active share that lets the scope see another organisation's run (None: its own)."""
    if run.payer_id == scope.organization.pk:
        return None
    return (
        PricingRunShare.objects.active()
        .filter(run=run, organization=scope.organization)
        .select_related("shared_by")
        .first()
    )


def run_shares_received(*, scope: Scope) -> QuerySet[PricingRunShare]:
    """The pricing runs other organisations share with the scope's, newest first (no role needed:
    receiving is the organisation's)."""
    return (
        PricingRunShare.objects.active()
        .filter(organization=scope.organization)
        .select_related("run__payer", "run__bundle_version__bundle", "shared_by")
        .defer("run__inputs", "run__result", "run__progress_log")
        .order_by("-shared_at", "-pk")
    )
