"""Sensitivity analyses of a run's rate cells: asked for on the page or the API, computed by a worker.

Asking twice for the same cell (same points and simulated years) returns the one analysis; a failed
one is queued again. Computing is idempotent: a finished analysis is left alone, one interrupted
mid-way (its worker died) is computed again from the run's stored inputs, which gives the same
figures (the run's seed).
"""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.tenancy import Scope
from core.domain.problems import Problem
from core.errors import ConflictError, problems_error
from pricing.compute import DEFAULT_SIMULATION_YEARS, sensitivity_result
from pricing.engine import PricingInputError
from pricing.engine.sensitivity import DEFAULT_POINTS
from pricing.models import PricingRun, SensitivityAnalysis, SensitivityStatus
from pricing.services.common import require_run_owner

logger = logging.getLogger(__name__)

MIN_SENSITIVITY_YEARS, MAX_SENSITIVITY_YEARS = 1_000, 100_000
INVALID_SENSITIVITY_MESSAGE = "The sensitivity cannot be computed: every problem is listed with its field."


def sensitivity_start(
    *,
    scope: Scope,
    run: PricingRun,
    tier: str,
    market: str,
    lob: str,
    n_years: int | None = None,
    enqueue: bool = True,
) -> SensitivityAnalysis:
    """The analysis of one rate cell of a succeeded run, queued (or the one already asked for)."""
    require_run_owner(scope, run, "pricing.run")
    if not run.succeeded:
        raise ConflictError("A sensitivity analysis starts from a succeeded run.", code="run_not_succeeded")
    years = (
        n_years
        if n_years is not None
        else int((run.options or {}).get("simulation_years", DEFAULT_SIMULATION_YEARS))
    )
    cells = {(r["tier"], r["market"], r["lob"]) for r in run.result["quote"]["rates"]}
    problems = []
    if (tier, market, lob) not in cells:
        problems.append(
            Problem.at_path("cell", "unknown_cell", f"the run prices no rate cell {tier}/{market}/{lob}")
        )
    if not MIN_SENSITIVITY_YEARS <= years <= MAX_SENSITIVITY_YEARS:
        problems.append(
            Problem.at_path(
                "simulation_years",
                "out_of_range",
                f"simulated years are {MIN_SENSITIVITY_YEARS:,} to {MAX_SENSITIVITY_YEARS:,}",
            )
        )
    if problems:
        raise problems_error(INVALID_SENSITIVITY_MESSAGE, problems, code="invalid_sensitivity")
    key = {"run": run, "tier": tier, "market": market, "lob": lob, "points": DEFAULT_POINTS, "n_years": years}
    try:
        with transaction.atomic():
            analysis, created = SensitivityAnalysis.objects.get_or_create(
                **key, defaults={"created_by": scope.user}
            )
    except IntegrityError:  # two asked at once: the other one's row
        analysis, created = SensitivityAnalysis.objects.get(**key), False
    if not created and analysis.status == SensitivityStatus.FAILED:
        SensitivityAnalysis.objects.filter(pk=analysis.pk, status=SensitivityStatus.FAILED).update(
            status=SensitivityStatus.QUEUED, progress=0, progress_message="Queued again", error=None
        )
        analysis.refresh_from_db()
        created = True
    if created and enqueue:
        from pricing.tasks import run_sensitivity

        analysis_id = analysis.pk
        transaction.on_commit(lambda: run_sensitivity.delay(analysis_id))
    return analysis


def sensitivity_execute(*, analysis_id: int) -> SensitivityAnalysis | None:
    """Compute an analysis (the Celery task calls this); a finished one is left as it is."""
    with transaction.atomic():
        analysis = (
            SensitivityAnalysis.objects.select_for_update(of=("self",))
            .select_related("run")
            .filter(pk=analysis_id)
            .first()
        )
        if analysis is None or analysis.is_finished:
            return analysis
        analysis.status = SensitivityStatus.RUNNING
        analysis.started_at = analysis.started_at or timezone.now()
        analysis.progress_message = "Started"
        analysis.save(update_fields=["status", "started_at", "progress_message"])

    def on_progress(done: int, total: int, message: str) -> None:
        percent = min(99, 100 * done // total)
        SensitivityAnalysis.objects.filter(pk=analysis_id, status=SensitivityStatus.RUNNING).update(
            progress=percent, progress_message=f"{message} ({done} of {total})"[:200]
        )

    try:
        result = sensitivity_result(
            analysis.run.inputs,
            tier=analysis.tier,
            market=analysis.market,
            lob=analysis.lob,
            n_years=analysis.n_years,
            on_progress=on_progress,
        )
    except SoftTimeLimitExceeded:
        return _finish(
            analysis_id, error={"code": "time_limit", "message": "The analysis took longer than its limit."}
        )
    except PricingInputError as exc:
        return _finish(analysis_id, error={"code": "invalid_inputs", "message": str(exc)[:1000]})
    except Exception as exc:
        logger.exception("Sensitivity %s failed", analysis_id)
        return _finish(
            analysis_id,
            error={"code": "computation_failed", "message": f"{exc.__class__.__name__}: {exc}"[:1000]},
        )
    return _finish(analysis_id, result=result)


def _finish(
    analysis_id: int, *, result: dict | None = None, error: dict | None = None
) -> SensitivityAnalysis | None:
    with transaction.atomic():
        analysis = SensitivityAnalysis.objects.select_for_update().filter(pk=analysis_id).first()
        if analysis is None or analysis.is_finished:
            return analysis
        analysis.status = SensitivityStatus.SUCCEEDED if error is None else SensitivityStatus.FAILED
        analysis.result, analysis.error = result, error
        analysis.progress = 100 if error is None else analysis.progress
        analysis.progress_message = "Done" if error is None else "Failed"
        analysis.finished_at = timezone.now()
        analysis.save(
            update_fields=["status", "result", "error", "progress", "progress_message", "finished_at"]
        )
        return analysis
