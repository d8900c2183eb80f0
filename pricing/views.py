"""Pricing pages: runs (start, watch progress, read, cancel, PDF), assumption sets, experience uploads.

Thin: each view calls a selector or a service; domain errors are shown next to their field or
row, never as a 500.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts.decorators import scoped_view, tenant_free
from bundles.selectors import plan_markets, roles_for
from core.audit import record_access
from core.domain.problems import Problem
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError
from pricing import comparison, report, selectors, services
from pricing import forms as pricing_forms
from pricing.engine.montecarlo import RESERVE_LEVELS
from pricing.engine.scenarios import WhatIf
from pricing.experience import EXPERIENCE_COLUMNS
from pricing.fee_schedules import TEMPLATE as FEE_SCHEDULE_TEMPLATE
from pricing.models import AssumptionSetVersion, ExperienceDataset, ExperienceStatus
from pricing.states import NO_DRAFT_MESSAGE

RUNS_ON_HOME = 50
FEE_SCHEDULE_ROWS_SHOWN = 500
RESERVE_KEYS = {format(level.normalize(), "f") for level in RESERVE_LEVELS}


def _role_names(scope) -> dict[str, str]:
    return dict(roles_for(organization=scope.organization).values_list("code", "name"))


# --- runs --------------------------------------------------------------------------------------


@scoped_view
def pricing_home(request):
    runs = list(
        selectors.pricing_run_list(scope=request.scope, status=request.GET.get("status", ""))[:RUNS_ON_HOME]
    )
    return render(
        request,
        "pricing/home.html",
        {
            "runs": runs,
            "status": request.GET.get("status", ""),
            "can_run": request.scope.can("pricing.run"),
            "can_edit": request.scope.can("pricing.edit"),
        },
    )


@scoped_view
def run_new(request):
    scope = request.scope
    scope.require("pricing.run")
    bundle_versions = list(selectors.published_bundle_versions(scope=scope))
    assumption_versions = list(selectors.published_assumption_versions(scope=scope))
    experiences = list(selectors.valid_experience(scope=scope))
    markets = list(plan_markets(organization=scope.organization))
    fee_schedules = list(selectors.valid_fee_schedule_versions(scope=scope))
    form = pricing_forms.RunForm(
        request.POST or None,
        bundle_versions=bundle_versions,
        assumption_versions=assumption_versions,
        experiences=experiences,
        markets=markets,
        fee_schedules=fee_schedules,
    )
    errors: list[dict] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        by_pk = {str(v.pk): v for v in bundle_versions}
        assumptions_by_pk = {str(v.pk): v for v in assumption_versions}
        experience_by_pk = {str(e.pk): e for e in experiences}
        schedule_by_pk = {str(v.pk): v for v in fee_schedules}
        try:
            run = services.pricing_run_start(
                scope=scope,
                bundle_version=by_pk[data["bundle_version"]],
                assumption_set_version=assumptions_by_pk[data["assumption_version"]],
                experience=experience_by_pk.get(data["experience"] or ""),
                fee_schedule_version=schedule_by_pk.get(data["fee_schedule"] or ""),
                markets=data["markets"] or None,
                lobs=data["lobs"] or None,
                seed=data["seed"],
                options={
                    "enrollees_per_year": data["enrollees_per_year"],
                    "simulation_years": data["simulation_years"],
                    "fixed_annual_cost": format(data["fixed_annual_cost"] or 0, "f"),
                    "first_year": data["first_year"],
                    **({"lob_mix": form.lob_mix()} if form.lob_mix() else {}),
                },
            )
        except ApplicationError as exc:
            errors = (exc.details or {}).get("problems") or [Problem(exc.code, exc.message).as_dict()]
        else:
            messages.success(request, "The pricing run has started.")
            return redirect("pricing-run-detail", run_id=run.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "pricing/run_new.html",
        {
            "form": form,
            "errors": errors,
            "bundle_versions": bundle_versions,
            "assumption_versions": assumption_versions,
        },
        status=status,
    )


def _loss_level(percent: str | None) -> tuple[str, str]:
    """The loss probability asked for (a percentage, 0.5 to 50 by halves) as a reserve key, and an error."""
    if not percent:
        return report.DEFAULT_LOSS_LEVEL, ""
    try:
        level = format((Decimal(percent.strip()) / 100).normalize(), "f")
    except (InvalidOperation, ValueError):
        level = ""
    if level not in RESERVE_KEYS:
        return report.DEFAULT_LOSS_LEVEL, "The probability is a percentage from 0.5 to 50, by half a percent."
    return level, ""


def _sharing_context(request, run, error: str = "") -> dict | None:
    """The owner's sharing panel of a succeeded run; None for a recipient or an unfinished run."""
    scope = request.scope
    if run.payer_id != scope.organization.pk or not run.succeeded:
        return None
    shares = list(selectors.run_share_list(scope=scope, run=run))
    for share in shares:
        share.revoke_url = reverse("pricing-run-share-revoke", args=[run.public_id, share.public_id])
    can_share = scope.can("pricing.share")
    return {
        "what": "this run and its report",
        "action": reverse("pricing-run-share", args=[run.public_id]),
        "shares": shares,
        "can_share": can_share,
        "counterparties": list(account_selectors.counterparty_list(scope=scope)) if can_share else [],
        "error": error,
    }


@scoped_view
def run_detail(request, run_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id)
    received = selectors.run_share_received(scope=request.scope, run=run)
    context = {
        "run": run,
        "actions": selectors.pricing_run_actions(scope=request.scope, run=run),
        "lob_names": [report.lob_name(lob) for lob in run.lobs],
        "received": received,
        "own": received is None,
        "sharing": _sharing_context(request, run),
    }
    if run.succeeded:
        level, context["loss_level_error"] = _loss_level(request.GET.get("loss_level"))
        context["loss_level_percent"] = format((Decimal(level) * 100).normalize(), "f")
        context["report"] = report.run_report(run, role_names=_role_names(request.scope), loss_level=level)
        context["sensitivities"] = [
            report.sensitivity_view(a) for a in selectors.sensitivity_list(scope=request.scope, run=run)
        ]
        context["can_analyse"] = received is None and request.scope.can("pricing.run")
        # a provider asks first what the bundle costs it and what it needs to break even
        context["economics_first"] = not request.scope.is_payer
    return render(request, "pricing/run_detail.html", context)


@require_POST
@scoped_view
def run_share(request, run_id):
    """Share the run with the organisation chosen (htmx: the sharing panel again)."""
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id)
    error = ""
    try:
        organization = account_selectors.share_recipient(
            scope=request.scope, public_id=request.POST.get("organization_id", "")
        )
        services.pricing_run_share(
            scope=request.scope, run=run, organization=organization, note=request.POST.get("note", "")
        )
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        error = exc.message
    return _sharing_response(request, run, error, "Shared the run.")


@require_POST
@scoped_view
def run_share_revoke(request, run_id, share_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id)
    share = selectors.run_share_get(scope=request.scope, run=run, share_id=share_id)
    error = ""
    try:
        services.pricing_run_share_revoke(scope=request.scope, share=share)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        error = exc.message
    return _sharing_response(request, run, error, "Sharing stopped.")


def _sharing_response(request, run, error: str, done: str):
    if request.htmx:
        return render(
            request,
            "web/_sharing.html",
            {"sharing": _sharing_context(request, run, error)},
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(reverse("pricing-run-detail", args=[run.public_id]) + "#sharing")


@require_POST
@scoped_view
def run_sensitivity(request, run_id):
    """Ask for the sensitivity of one rate cell (``cell`` = tier/market/lob); a worker computes it."""
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id, own=True)
    tier, market, lob = ([*request.POST.get("cell", "").split("/", 2), "", "", ""])[:3]
    try:
        services.sensitivity_start(scope=request.scope, run=run, tier=tier, market=market, lob=lob)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        problems = (exc.details or {}).get("problems") or []
        messages.error(request, " ".join([exc.message, *(p["message"].capitalize() + "." for p in problems)]))
    else:
        messages.success(request, "The sensitivity analysis has started; this page shows its progress.")
    return redirect(reverse("pricing-run-detail", args=[run.public_id]) + "#sensitivity")


@require_GET
@scoped_view
def sensitivity_detail(request, analysis_id):
    """One analysis on its own page; to htmx (which polls it while a worker computes), its panel only."""
    analysis = selectors.sensitivity_get(scope=request.scope, public_id=analysis_id)
    template = "pricing/_sensitivity.html" if request.htmx else "pricing/sensitivity_detail.html"
    return render(request, template, {"s": report.sensitivity_view(analysis)})


@require_GET
@scoped_view
def run_progress(request, run_id):
    """The progress bar (htmx polls it); once the run has finished the page reloads to show why or what."""
    run = selectors.pricing_run_status_get(scope=request.scope, public_id=run_id)
    response = render(
        request,
        "pricing/_run_progress.html",
        # the page head's status badge follows the panel (out of band), so the two never disagree
        {
            "run": run,
            "actions": selectors.pricing_run_actions(scope=request.scope, run=run),
            "oob": bool(request.htmx),
        },
    )
    if run.is_terminal and request.htmx:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@scoped_view
def run_cancel(request, run_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id, own=True)
    try:
        services.pricing_run_cancel(scope=request.scope, run=run)
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, "Cancel requested.")
    return redirect("pricing-run-detail", run_id=run.public_id)


@require_GET
@scoped_view
def run_report_pdf(request, run_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id)
    if not run.succeeded:
        raise NotFoundError("The report exists once the run has succeeded.")
    response = HttpResponse(report.render_pdf(run), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.pdf_filename(run)}"'
    return response


@require_GET
@scoped_view
def run_inputs(request, run_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id)
    response = JsonResponse({**run.inputs, "inputs_hash": run.inputs_hash}, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="pricing-run-{run.public_id}-inputs.json"'
    return response


# --- what-if ------------------------------------------------------------------------------------


def _what_if_context(request, run) -> dict:
    """The levers from the query (the run's own values when none are given) and the re-quote."""
    levers = services.run_levers(run)
    data = request.POST if request.method == "POST" else request.GET
    form = pricing_forms.WhatIfForm(
        data if "conversion_rate" in data else None, initial=pricing_forms.WhatIfForm.initial_from(levers)
    )
    context: dict = {"run": run, "form": form, "levers": levers, "result": None, "problems": []}
    if form.is_bound and not form.is_valid():
        return context
    if form.is_bound:
        what_if = form.levers()
    else:
        what_if = WhatIf(conversion_rate=levers["conversion_rate"], productivity=levers["productivity"])
    try:
        context["result"] = services.pricing_what_if(scope=request.scope, run=run, what_if=what_if)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        context["problems"] = (exc.details or {}).get("problems") or [
            Problem(exc.code, exc.message).as_dict()
        ]
    context["what_if"] = what_if
    return context


def _succeeded_run(request, run_id):
    run = selectors.pricing_run_get(scope=request.scope, public_id=run_id, own=True)
    if not run.succeeded:
        raise NotFoundError("A what-if starts from a succeeded run.")
    return run


@scoped_view
def run_what_if(request, run_id):
    """Sliders that re-quote the run live (nothing stored); Save keeps the levers as a new run."""
    run = _succeeded_run(request, run_id)
    context = _what_if_context(request, run)
    context["can_save"] = request.scope.can("pricing.run") and request.scope.can("pricing.edit")
    if request.method == "POST" and context["form"].is_valid():
        try:
            new_run = services.pricing_run_what_if_save(
                scope=request.scope, run=run, what_if=context["form"].levers()
            )
        except (NotFoundError, PermissionDeniedError):
            raise
        except ApplicationError as exc:
            context["problems"] = (exc.details or {}).get("problems") or [
                Problem(exc.code, exc.message).as_dict()
            ]
        else:
            messages.success(
                request, "The what-if is saved as a new assumption set, and its pricing run has started."
            )
            return redirect("pricing-run-detail", run_id=new_run.public_id)
    status = 400 if context["problems"] or context["form"].errors else 200
    return render(request, "pricing/what_if.html", context, status=status)


@require_GET
@scoped_view
def run_what_if_quote(request, run_id):
    """The re-quote the sliders ask for (htmx): the result panel only."""
    run = _succeeded_run(request, run_id)
    return render(request, "pricing/_what_if_result.html", _what_if_context(request, run))


# --- runs side by side ---------------------------------------------------------------------------


def _chosen_runs(request) -> list[str]:
    """The ticked runs, the ``baseline`` first (a browser sends ticked boxes in page order)."""
    chosen = request.GET.getlist("run")
    baseline = request.GET.get("baseline", "")
    return [baseline, *(c for c in chosen if c != baseline)] if baseline in chosen else chosen


def _comparison(request) -> dict:
    """The comparison the query asks for (``run`` repeated, ``baseline``, ``to``); ApplicationError when
    it cannot be made."""
    runs = selectors.pricing_runs_for_comparison(scope=request.scope, run_ids=_chosen_runs(request))
    document = comparison.build_comparison(runs, walk_to=request.GET.get("to"))
    comparison.refuse_unknown_cell(document["walk"], request.GET.get("cell"))
    return document


@require_GET
@scoped_view
def compare(request):
    """Choose two to six succeeded runs; see them side by side with the walk from the first to another."""
    scope = request.scope
    chosen = _chosen_runs(request)
    document, error = None, ""
    if chosen:
        try:
            document = _comparison(request)  # looked up first: another plan's run is a 404, never a 403
        except (NotFoundError, PermissionDeniedError):
            raise
        except ApplicationError as exc:
            error = exc.message
    context: dict = {
        "choices": list(selectors.pricing_run_list(scope=scope, status="succeeded")[:RUNS_ON_HOME]),
        "chosen": chosen,
        "min_runs": selectors.COMPARE_MIN_RUNS,
        "max_runs": selectors.COMPARE_MAX_RUNS,
        "error": error,
    }
    if document is None:
        return render(request, "pricing/compare.html", context, status=400 if error else 200)
    cell_walk = comparison.walk_for_cell(document["walk"], request.GET.get("cell"))
    context.update(
        doc=document,
        cell_walk=cell_walk,
        labour=comparison.labour_for_cell(document, cell_walk["key"]) if cell_walk else [],
        width=2 * len(document["runs"]),
        query=request.GET.urlencode(),
    )
    return render(request, "pricing/compare.html", context)


@require_GET
@scoped_view
def compare_export(request, extension):
    try:
        document = _comparison(request)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    content = comparison.render_file(
        document, extension, cell=request.GET.get("cell"), organization=request.scope.organization
    )
    response = HttpResponse(content, content_type=comparison.content_type(extension))
    response["Content-Disposition"] = f'attachment; filename="{comparison.filename(document, extension)}"'
    return response


# --- assumption sets -----------------------------------------------------------------------------


@scoped_view
def assumption_list(request):
    scope = request.scope
    sets = selectors.assumption_set_list(scope=scope)
    create_form = pricing_forms.AssumptionSetCreateForm(prefix="create")
    import_form = pricing_forms.AssumptionImportForm(prefix="import")
    status = 200
    if request.method == "POST":
        scope.require("pricing.edit")
        try:
            if "import-file" in request.FILES:
                import_form = pricing_forms.AssumptionImportForm(request.POST, request.FILES, prefix="import")
                if import_form.is_valid():
                    try:
                        document = json.load(import_form.cleaned_data["file"])
                    except (ValueError, UnicodeDecodeError):
                        import_form.add_error("file", "The file is not JSON.")
                    else:
                        assumption_set = services.assumption_set_import(
                            scope=scope, document=document, name=import_form.cleaned_data["name"] or None
                        )
                        messages.success(request, "Assumptions imported as a draft.")
                        return redirect("pricing-assumption-draft", set_id=assumption_set.public_id)
            else:
                create_form = pricing_forms.AssumptionSetCreateForm(request.POST, prefix="create")
                if create_form.is_valid():
                    assumption_set = services.assumption_set_create(scope=scope, **create_form.cleaned_data)
                    messages.success(request, "Assumption set created with the platform's defaults.")
                    return redirect("pricing-assumption-draft", set_id=assumption_set.public_id)
        except ApplicationError as exc:
            if exc.status == 403:
                raise
            details = (exc.details or {}).get("problems") or []
            target = import_form if "import-file" in request.FILES else create_form
            target.add_error(None, exc.message)
            for error in details[:20]:
                target.add_error(None, f"{error['path']}: {error['message']}")
        status = 400
    return render(
        request,
        "pricing/assumption_list.html",
        {
            "sets": sets,
            "create_form": create_form,
            "import_form": import_form,
            "can_edit": scope.can("pricing.edit"),
        },
        status=status,
    )


def _version_context(scope, version: AssumptionSetVersion) -> dict:
    roles = list(roles_for(organization=scope.organization).values_list("code", "name"))
    markets = services.plan_market_entries(scope.organization)
    return {
        "rows": pricing_forms.editor_rows(version.assumptions, version.sources, roles=roles, markets=markets),
        "roles": roles,
        "markets": markets,
    }


@scoped_view
def assumption_detail(request, set_id):
    scope = request.scope
    assumption_set = selectors.assumption_set_get(scope=scope, public_id=set_id)
    versions = list(selectors.assumption_version_list(scope=scope, assumption_set=assumption_set))
    number = request.GET.get("version")
    version = None
    if number:
        version = selectors.assumption_version_get(scope=scope, assumption_set=assumption_set, number=number)
    elif versions:
        version = next((v for v in versions if not v.is_draft), versions[0])
    draft = next((v for v in versions if v.is_draft), None)
    context = {
        "assumption_set": assumption_set,
        "versions": versions,
        "version": version,
        "has_draft": draft is not None,
        "actions": selectors.assumption_version_actions(
            scope=scope, assumption_set=assumption_set, version=version
        ),
        "draft_actions": selectors.assumption_version_actions(
            scope=scope, assumption_set=assumption_set, version=draft
        ),
    }
    if version is not None:
        context.update(_version_context(scope, version))
    return render(request, "pricing/assumption_detail.html", context)


@scoped_view
def assumption_draft(request, set_id):
    scope = request.scope
    assumption_set = selectors.assumption_set_get(scope=scope, public_id=set_id)
    scope.require("pricing.edit")
    try:
        draft = selectors.assumption_version_get(scope=scope, assumption_set=assumption_set, number="draft")
    except NotFoundError:
        messages.info(request, NO_DRAFT_MESSAGE)
        return redirect("pricing-assumption-detail", set_id=assumption_set.public_id)
    roles = list(roles_for(organization=scope.organization).values_list("code", "name"))
    markets = services.plan_market_entries(scope.organization)
    general: list[str] = []
    by_field: dict[str, list[str]] = {}
    post = None
    status = 200
    if request.method == "POST":
        post = request.POST
        assumptions, changed = pricing_forms.assumptions_from_post(
            post, base=draft.assumptions, sources=draft.sources, roles=roles, markets=markets
        )
        try:
            services.assumption_draft_update(
                scope=scope,
                assumption_set=assumption_set,
                assumptions=assumptions,
                sources=changed,
                notes=post.get("notes", ""),
            )
        except ApplicationError as exc:
            if exc.status == 403:
                raise
            by_field, general = pricing_forms.errors_by_field(
                (exc.details or {}).get("problems") or [], [m["code"] for m in markets]
            )
            general.insert(0, exc.message)
            status = 400
        else:
            if post.get("publish"):
                try:
                    version = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
                except ApplicationError as exc:
                    messages.error(request, exc.message)
                    return redirect("pricing-assumption-draft", set_id=assumption_set.public_id)
                messages.success(request, f"Published as version {version.number}.")
                return redirect(
                    f"{reverse('pricing-assumption-detail', args=[assumption_set.public_id])}"
                    f"?version={version.number}"
                )
            messages.success(request, "Draft saved.")
            return redirect("pricing-assumption-draft", set_id=assumption_set.public_id)
    rows = pricing_forms.editor_rows(
        draft.assumptions, draft.sources, roles=roles, markets=markets, post=post, errors=by_field
    )
    return render(
        request,
        "pricing/assumption_draft.html",
        {
            "assumption_set": assumption_set,
            "draft": draft,
            "actions": selectors.assumption_version_actions(
                scope=scope, assumption_set=assumption_set, version=draft
            ),
            "rows": rows,
            "general_errors": general,
            "notes": post.get("notes", "") if post is not None else draft.notes,
        },
        status=status,
    )


@require_POST
@scoped_view
def assumption_new_draft(request, set_id, number):
    scope = request.scope
    assumption_set = selectors.assumption_set_get(scope=scope, public_id=set_id)
    version = selectors.assumption_version_get(scope=scope, assumption_set=assumption_set, number=number)
    try:
        services.assumption_version_new_draft(scope=scope, version=version)
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        messages.error(request, exc.message)
    return redirect("pricing-assumption-draft", set_id=assumption_set.public_id)


@require_GET
@scoped_view
def assumption_export(request, set_id, number):
    assumption_set = selectors.assumption_set_get(scope=request.scope, public_id=set_id)
    version = selectors.assumption_version_get(
        scope=request.scope, assumption_set=assumption_set, number=number
    )
    response = JsonResponse(
        services.assumption_version_export(version=version), json_dumps_params={"indent": 2}
    )
    response["Content-Disposition"] = (
        f'attachment; filename="assumptions-{assumption_set.public_id}-{version.label}.json"'
    )
    return response


# --- experience ----------------------------------------------------------------------------------


@scoped_view
def experience_list(request):
    scope = request.scope
    datasets = selectors.experience_list(scope=scope)
    form = pricing_forms.ExperienceUploadForm()
    status = 200
    if request.method == "POST":
        scope.require("pricing.edit")
        form = pricing_forms.ExperienceUploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            dataset = services.experience_upload(
                scope=scope,
                name=data["name"],
                program_name=data["program_name"],
                file=data["file"],
                spans_file=data.get("spans_file"),
            )
            if dataset.status == ExperienceStatus.PROCESSING:
                messages.success(request, "File received; it is being read.")
            elif dataset.is_valid:
                messages.success(request, f"{dataset.row_count:,} rows loaded.")
            else:
                messages.error(request, f"The file has {dataset.error_count:,} error(s); nothing was loaded.")
            return redirect("pricing-experience-detail", dataset_id=dataset.public_id)
        status = 400
    return render(
        request,
        "pricing/experience_list.html",
        {
            "datasets": datasets,
            "form": form,
            "can_edit": scope.can("pricing.edit"),
            "columns": EXPERIENCE_COLUMNS,
        },
        status=status,
    )


@scoped_view
def experience_detail(request, dataset_id):
    dataset: ExperienceDataset = selectors.experience_get(scope=request.scope, public_id=dataset_id)
    return render(request, "pricing/experience_detail.html", {"dataset": dataset})


@require_GET
@scoped_view
def experience_file(request, dataset_id):
    dataset = selectors.experience_get(scope=request.scope, public_id=dataset_id)
    which = request.GET.get("which", "experience")
    record_access(
        scope=request.scope,
        action="experience.download",
        object_type="experience_dataset",
        object_id=dataset.public_id,
        detail=f"{which} file",
        request=request,
    )
    return report.file_response(dataset, which)


# --- fee schedules --------------------------------------------------------------------------------


@scoped_view
def fee_schedule_list(request):
    scope = request.scope
    schedules = list(selectors.fee_schedule_list(scope=scope))
    form = pricing_forms.FeeScheduleUploadForm()
    status = 200
    if request.method == "POST":
        scope.require("pricing.edit")
        form = pricing_forms.FeeScheduleUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                version = services.fee_schedule_upload(
                    scope=scope,
                    name=form.cleaned_data["name"],
                    file=form.cleaned_data["file"],
                    notes=form.cleaned_data["notes"],
                )
            except (NotFoundError, PermissionDeniedError):
                raise
            except ApplicationError as exc:
                for problem in (exc.details or {}).get("problems", []):
                    form.add_error(
                        "file" if problem.get("path") == "file" else "name",
                        problem["message"].capitalize() + ".",
                    )
            else:
                if version.is_valid:
                    messages.success(
                        request, f"Version {version.number}: {version.row_count:,} rates loaded."
                    )
                else:
                    messages.error(
                        request, f"The file has {version.error_count:,} error(s); no rate was loaded."
                    )
                return redirect("pricing-fee-schedule-detail", schedule_id=version.schedule.public_id)
        status = 400
    return render(
        request,
        "pricing/fee_schedule_list.html",
        {
            "schedules": schedules,
            "form": form,
            "can_edit": scope.can("pricing.edit"),
        },
        status=status,
    )


@scoped_view
def fee_schedule_detail(request, schedule_id):
    """A schedule's uploads, the latest one's rates (or its errors), and a form for the next version."""
    scope = request.scope
    schedule = selectors.fee_schedule_get(scope=scope, public_id=schedule_id)
    versions = list(selectors.fee_schedule_versions(scope=scope, schedule=schedule))
    latest = next((v for v in versions if v.is_valid), None)
    shown = versions[0] if versions else None
    rows = []
    if shown is not None and shown.is_valid:
        rows = selectors.fee_schedule_version_get(scope=scope, schedule=schedule, number=shown.number).rows
    return render(
        request,
        "pricing/fee_schedule_detail.html",
        {
            "schedule": schedule,
            "versions": versions,
            "latest": latest,
            "shown": shown,
            "rows": rows[:FEE_SCHEDULE_ROWS_SHOWN],
            "row_total": len(rows),
            "form": pricing_forms.FeeScheduleUploadForm(initial={"name": schedule.name}),
            "can_edit": scope.can("pricing.edit"),
        },
    )


@tenant_free
@require_GET
@scoped_view
def fee_schedule_template(request):
    response = HttpResponse(FEE_SCHEDULE_TEMPLATE, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="fee-schedule.csv"'
    return response


TEMPLATES = {
    "experience": "month,tier,member_months,cost\n2025-01,1,120,32400.00\n2025-01,2,80,36000.00\n",
    "spans": (
        "member_id,enrollment_start,enrollment_end,disenrollment_reason\n"
        "M0001,2025-01-06,2025-04-18,hospice\nM0002,2025-02-03,,\n"
    ),
}


@tenant_free
@require_GET
@scoped_view
def experience_template(request, which):
    if which not in TEMPLATES:
        raise NotFoundError("No such template.")
    response = HttpResponse(TEMPLATES[which], content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{which}-template.csv"'
    return response
