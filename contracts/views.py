"""Contract pages: list, open, edit a draft (terms, an htmx rate grid, fees), detail with the actions
of the user's role, versions and their diff, rate sheet downloads, and the zip of all rate sheets."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import scoped_view
from accounts.models import Organization, OrganizationKind
from bundles.models import Market
from bundles.selectors import published_version_list
from contracts import rules, selectors, services
from contracts.forms import AmendForm, ContractCreateForm, ReturnForm, TerminateForm, TermsForm
from contracts.models import ContractStatus, ContractVersion, RateSheetFormat
from contracts.states import CONTRACT_VERSION, NOT_EDITABLE_MESSAGE
from core.domain.codes import LOB_LABELS, PRORATION_WORDS, TIER_RULE_WORDS, lob_label
from core.domain.months import next_month, shift_month
from core.domain.problems import Problem
from core.errors import ApplicationError, problems_error


def _problems(exc: ApplicationError) -> list[dict]:
    return list(exc.details.get("problems", [])) if isinstance(exc.details, dict) else []


def _flash_error(request, exc: ApplicationError) -> None:
    text = exc.message
    problems = _problems(exc)
    if problems:
        text += " " + " ".join(p["message"] for p in problems[:12])
        if len(problems) > 12:
            text += f" (and {len(problems) - 12} more)"
    elif isinstance(exc.details, dict) and exc.details.get("contracts"):
        text += " Overlaps " + ", ".join(c["contract"] for c in exc.details["contracts"]) + "."
    messages.error(request, text)


def _market_choices(payer, codes: list[str]) -> list[tuple[str, str]]:
    names = dict(Market.objects.filter(organization=payer, code__in=codes).values_list("code", "name"))
    return [(code, f"{code} · {names.get(code, code)}") for code in codes]


def _contract(request, contract_id):
    return selectors.contract_get(scope=request.scope, contract_id=contract_id)


@scoped_view
def contract_list(request):
    scope = request.scope
    params = {key: request.GET.get(key, "").strip() for key in ("search", "status", "market")}
    contracts = selectors.contract_list(scope=scope, **params)
    context = {
        "contracts": contracts,
        "statuses": ContractStatus.choices,
        **params,
        "can_create": scope.can("contract.edit"),
        "can_export": scope.can("contract.export"),
    }
    template = "contracts/_contract_rows.html" if request.htmx else "contracts/contract_list.html"
    return render(request, template, context)


@scoped_view
def contract_create(request):
    scope = request.scope
    scope.require("contract.edit")
    versions = list(
        published_version_list(scope=scope)
        .filter(bundle__payer=scope.organization)
        .order_by("bundle__name", "-number")
    )
    if not versions:
        return render(request, "contracts/contract_create.html", {"no_bundles": True})
    providers = [(str(o.public_id), o.legal_name) for o in selectors.provider_choices(scope=scope)]
    chosen_id = request.POST.get("bundle_version") or request.GET.get("bundle_version") or str(versions[0].pk)
    chosen = next((v for v in versions if str(v.pk) == chosen_id), versions[0])
    form_kwargs = {
        "providers": providers,
        "bundle_versions": [(str(v.pk), f"{v.bundle.name} v{v.number}") for v in versions],
        "markets": _market_choices(scope.organization, chosen.definition.get("markets", [])),
        "lobs": chosen.definition.get("lines_of_business", []),
    }
    today = timezone.localdate()
    start = next_month(today)
    initial = {
        "bundle_version": str(chosen.pk),
        "markets": chosen.definition.get("markets", []),
        "effective_start": start,
        "effective_end": shift_month(start, 12),
        "lines_of_business": chosen.definition.get("lines_of_business", [])[:1],
        "provider": request.GET.get("provider", ""),
    }
    is_submit = request.method == "POST" and "create" in request.POST
    form = ContractCreateForm(request.POST if is_submit else None, initial=initial, **form_kwargs)
    status = 200
    if is_submit:
        if form.is_valid():
            provider = Organization.objects.filter(
                public_id=form.cleaned_data["provider"], kind=OrganizationKind.PROVIDER
            ).first()
            try:
                if provider is None:
                    raise problems_error(
                        "Choose a provider.", [Problem.at_path("provider", "required", "Choose a provider.")]
                    )
                contract = services.contract_create(
                    scope=scope, provider=provider, bundle_version=chosen, terms=form.terms()
                )
            except ApplicationError as exc:
                form.add_problems(_problems(exc), exc.message)
                if not _problems(exc) and isinstance(exc.details, dict) and exc.details.get("contracts"):
                    form.add_error(
                        None, "Overlaps " + ", ".join(c["contract"] for c in exc.details["contracts"])
                    )
            else:
                messages.success(
                    request,
                    f"{contract.number} is a draft. Fill in the rates and assessment fees, "
                    f"then propose it to {provider.legal_name}.",
                )
                return redirect("contract-version-edit", contract_id=contract.number, number=1)
        status = 400
    template = (
        "contracts/_create_terms.html" if request.htmx and not is_submit else "contracts/contract_create.html"
    )
    return render(request, template, {"form": form, "chosen": chosen}, status=status)


def _negotiation(request, contract, pending, actions, typed=None, errors=None) -> dict | None:
    """The pending version's rounds and, for the side that answers the offer on the table, the
    counter-offer form's rows (the current terms, or what was typed when refused) and the reject form."""
    if pending is None or pending.status != "proposed":
        return None
    scope = request.scope
    offers = list(selectors.offer_list(scope=scope, contract=contract, version=pending))
    context: dict = {
        "version": pending,
        "offers": offers,
        "on_the_table": pending.offer_side or "payer",
        "can_counter": "counter" in actions,
        "can_reject": "reject_counter" in actions,
    }
    if not context["can_counter"]:
        return context
    typed, errors = typed or {}, errors or {}
    current = selectors.version_offer_terms(pending)
    tier_names = {t["code"]: t.get("name", "") for t in pending.bundle_version.definition.get("tiers", [])}
    rows = []
    for key, value in current["rates"].items():
        lob, tier, market, phase = rules.split_rate_key(key)
        name = f"rate:{key}"
        rows.append(
            {
                "name": name,
                "label": f"{tier_names.get(tier) or 'Tier ' + tier} · {market} · {lob_label(lob)}"
                + (f" · {phase}" if phase else ""),
                "current": value,
                "value": typed.get(name, value),
                "reason": typed.get(f"reason:{name}", ""),
                "error": errors.get(name, ""),
            }
        )
    for market, value in current["assessment_fees"].items():
        name = f"fee:{market}"
        rows.append(
            {
                "name": name,
                "label": f"Assessment fee · {market}",
                "current": value,
                "value": typed.get(name, value),
                "reason": typed.get(f"reason:{name}", ""),
                "error": errors.get(name, ""),
            }
        )
    rows.append(
        {
            "name": "withhold_percentage",
            "label": "Withhold (a fraction: 0.0500 is 5%)",
            "current": current["withhold_percentage"],
            "value": typed.get("withhold_percentage", current["withhold_percentage"]),
            "reason": typed.get("reason:withhold_percentage", ""),
            "error": errors.get("withhold_percentage", ""),
        }
    )
    context["rows"] = rows
    context["pricing_run_id"] = typed.get("pricing_run_id", "")
    return context


def _detail_context(request, contract, version: ContractVersion, typed=None, errors=None) -> dict:
    scope = request.scope
    pending = selectors.pending_version(contract=contract)
    if pending is not None and not scope.is_payer and pending.sent_at is None:
        pending = None
    full_document = selectors.version_document(version)
    fingerprint = selectors.version_fingerprint(version, full_document)  # of the whole terms
    document = selectors.document_for(scope=scope, document=full_document)
    tables = selectors.rate_tables(document)
    negotiated = [
        cell
        for table in tables
        for row in table["rows"]
        for cell in row["cells"]
        if cell.get("source") == "negotiated"
    ]
    actions = selectors.contract_actions(scope=scope, contract=contract, pending=pending)
    return {
        "contract": contract,
        "version": version,
        "document": document,
        "fingerprint": fingerprint,
        "tables": tables,
        "negotiated": negotiated,
        "show_priced": scope.is_payer,
        "pending": pending,
        "actions": actions,
        "versions": selectors.version_list(scope=scope, contract=contract),
        "events": selectors.event_list(scope=scope, contract=contract),
        "acceptances": version.acceptances.select_related("user").filter(
            proposal_round=version.proposal_round
        ),
        "words": {
            "proration": PRORATION_WORDS[document["proration_rule"]],
            "tier_rule": TIER_RULE_WORDS[document["tier_rule"]],
            "withhold": rules.describe_withhold(document["withhold_percentage"]),
            "quality": [rules.describe_quality(t) for t in document["quality_terms"]],
            "shared_savings": rules.describe_shared_savings(document["shared_savings_terms"]),
            "quality_bonus": rules.describe_quality_bonus(document["quality_bonus"]),
            "approval": rules.describe_approval(document.get("single_approval_limit")),
            "episode": rules.describe_episode(document),
        },
        "lobs": [lob_label(x) for x in document["lines_of_business"]],
        "lob_names": LOB_LABELS,
        "through": version.effective_end - timedelta(days=1) if version.effective_end else None,
        "in_force_through": (
            version.in_force_end - timedelta(days=1)
            if version.activated_at and version.in_force_end
            else None
        ),
        "return_form": ReturnForm(),
        "terminate_form": TerminateForm(),
        "amend_form": AmendForm(),
        "negotiation": _negotiation(request, contract, pending, actions, typed, errors),
    }


@scoped_view
def contract_detail(request, contract_id):
    contract = _contract(request, contract_id)
    number = contract.current_version.number if contract.current_version_id else 1
    version = selectors.version_get(scope=request.scope, contract=contract, number=number)
    return render(request, "contracts/contract_detail.html", _detail_context(request, contract, version))


@scoped_view
def version_detail(request, contract_id, number):
    contract = _contract(request, contract_id)
    version = selectors.version_get(scope=request.scope, contract=contract, number=number)
    return render(request, "contracts/contract_detail.html", _detail_context(request, contract, version))


def _edit_form(version: ContractVersion, data=None) -> TermsForm:
    definition = version.bundle_version.definition
    return TermsForm(
        data,
        initial=TermsForm.initial_from(version),
        markets=_market_choices(version.contract.payer, definition.get("markets", [])),
        lobs=definition.get("lines_of_business", []),
        fee_markets=list(version.markets),
    )


@scoped_view
def version_edit(request, contract_id, number):
    scope = request.scope
    contract = _contract(request, contract_id)
    version = selectors.version_get(scope=scope, contract=contract, number=number)
    scope.require(CONTRACT_VERSION.person_permission("edit"))
    if not CONTRACT_VERSION.can_fire("edit", version.status):
        messages.error(request, NOT_EDITABLE_MESSAGE)
        return redirect("contract-version", contract_id=contract.number, number=version.number)
    form = _edit_form(version, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.contract_version_update(
                    scope=scope, version=version, terms=form.terms(), assessment_fees=form.fees()
                )
            except ApplicationError as exc:
                form.add_problems(_problems(exc), exc.message)
                if isinstance(exc.details, dict) and exc.details.get("contracts"):
                    form.add_error(
                        None, "Overlaps " + ", ".join(c["contract"] for c in exc.details["contracts"])
                    )
            else:
                messages.success(request, "Terms saved.")
                return redirect("contract-version-edit", contract_id=contract.number, number=version.number)
        status = 400
    version.refresh_from_db()
    document = selectors.version_document(version)
    return render(
        request,
        "contracts/version_edit.html",
        {
            "contract": contract,
            "version": version,
            "form": form,
            "tables": selectors.rate_tables(document),
            "document": document,
            "missing": rules.completeness_problems(document),
            "pricing_runs": _pricing_runs(scope, version),
        },
        status=status,
    )


def _pricing_runs(scope, version: ContractVersion) -> list:
    """Succeeded pricing runs of the version's bundle version the plan may take rates from."""
    if not scope.is_payer:
        return []
    from pricing.selectors import succeeded_runs_for_bundle_version

    return list(succeeded_runs_for_bundle_version(scope=scope, bundle_version=version.bundle_version)[:10])


@require_POST
@scoped_view
def rates_from_pricing(request, contract_id, number):
    from pricing.selectors import pricing_run_rate_table

    scope = request.scope
    contract = _contract(request, contract_id)
    version = selectors.version_get(scope=scope, contract=contract, number=number)
    scope.require("contract.edit")
    try:
        table = pricing_run_rate_table(scope=scope, run_id=request.POST.get("run_id", ""))
        services.rate_schedule_from_pricing(scope=scope, contract_version=version, rate_table=table)
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        _flash_error(request, exc)
    else:
        messages.success(
            request,
            "Rates and assessment fees taken from the pricing run; negotiated cells kept "
            "their rate and now show the difference.",
        )
    return redirect("contract-version-edit", contract_id=contract.number, number=version.number)


@require_POST
@scoped_view
def rate_cell(request, contract_id, number):
    """One cell of the rate grid (htmx): save it and answer the cell again, with its error if any."""
    scope = request.scope
    contract = _contract(request, contract_id)
    version = selectors.version_get(scope=scope, contract=contract, number=number)
    tier, market, lob, phase = (request.POST.get(k, "") for k in ("tier", "market", "lob", "phase"))
    pmpm, reason = request.POST.get("pmpm", "").strip(), request.POST.get("reason", "").strip()
    error = ""
    try:
        services.contract_rate_set(
            scope=scope,
            version=version,
            tier=tier,
            market=market,
            lob=lob,
            phase=phase,
            pmpm=pmpm,
            reason=reason,
        )
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        error = " ".join(p["message"] for p in _problems(exc)) or exc.message
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("contract-version-edit", contract_id=contract.number, number=version.number)
    document = selectors.document_for(scope=scope, document=selectors.version_document(version))
    key = rules.rate_key(lob, tier, market, phase)
    cell = {
        "key": key,
        "lob": lob,
        "tier": tier,
        "market": market,
        "phase": phase,
        "phase_name": rules.phase_names(document).get(phase, phase),
        "pmpm": document["rates"].get(key),
        **document["rate_details"].get(key, {}),
    }
    return render(
        request, "contracts/_rate_cell_status.html", {"cell": cell, "error": error, "saved": not error}
    )


def _action(request, contract_id, run, success: str):
    contract = _contract(request, contract_id)
    try:
        run(contract)
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        _flash_error(request, exc)
    else:
        messages.success(request, success)
    target = reverse("contract-detail", kwargs={"contract_id": contract.number})
    if request.htmx:  # the editor's queued form: follow with a full page load
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_POST
@scoped_view
def contract_propose(request, contract_id):
    return _action(
        request,
        contract_id,
        lambda c: services.contract_propose(scope=request.scope, contract=c),
        "Proposed: the provider can now accept it or send it back.",
    )


@require_POST
@scoped_view
def contract_accept(request, contract_id):
    contract = _contract(request, contract_id)
    try:
        version = services.contract_accept(scope=request.scope, contract=contract)
    except ApplicationError as exc:
        if exc.status == 403:
            raise
        _flash_error(request, exc)
    else:
        messages.success(
            request,
            "Accepted. Both sides have accepted: the contract version is active."
            if version.status == "active"
            else "Accepted; waiting for the other side.",
        )
    return redirect("contract-detail", contract_id=contract.number)


@require_POST
@scoped_view
def contract_return(request, contract_id):
    form = ReturnForm(request.POST)
    contract = _contract(request, contract_id)
    try:
        services.contract_return(
            scope=request.scope, contract=contract, comments=form.data.get("comments", "")
        )
    except ApplicationError as exc:
        return _refused(request, contract, "return", _refusal(exc))
    messages.success(request, "Sent back to the plan with your comments.")
    return redirect("contract-detail", contract_id=contract.number)


def _counter_input(post, current: dict) -> tuple[dict, dict[str, str]]:
    """The counter-offer form as contract_counter's arguments, and each problem path's form field."""
    rates, fees, fields = [], [], {}
    for key in current["rates"]:
        name = f"rate:{key}"
        if name in post:
            lob, tier, market, phase = rules.split_rate_key(key)
            at = f"rates[{len(rates)}]"
            fields[f"{at}.rate"] = fields[f"{at}.reason"] = fields[at] = name
            rates.append(
                {
                    "tier": tier,
                    "market": market,
                    "lob": lob,
                    "phase": phase,
                    "rate": post[name].strip(),
                    "reason": post.get(f"reason:{name}", ""),
                }
            )
    for market in current["assessment_fees"]:
        name = f"fee:{market}"
        if name in post:
            at = f"assessment_fees[{len(fees)}]"
            fields[f"{at}.fee"] = fields[f"{at}.reason"] = fields[f"{at}.market"] = name
            fees.append(
                {"market": market, "fee": post[name].strip(), "reason": post.get(f"reason:{name}", "")}
            )
    fields["withhold_percentage"] = fields["withhold_reason"] = "withhold_percentage"
    withhold = post.get("withhold_percentage", "").strip()
    return {
        "rates": rates,
        "assessment_fees": fees,
        "withhold_percentage": withhold or None,
        "withhold_reason": post.get("reason:withhold_percentage", ""),
        "pricing_run_id": post.get("pricing_run_id", ""),
    }, fields


def _negotiation_refused(
    request, contract, form_name: str, exc: ApplicationError, fields=None
) -> HttpResponse:
    """The negotiation again with what was typed and every problem (htmx: the section, 422; else the
    page, 400)."""
    if exc.status == 403:
        raise exc
    errors: dict[str, str] = {}
    unplaced = []
    for problem in _problems(exc):
        field = (fields or {}).get(problem.get("path", ""))
        if field:
            errors[field] = " ".join(filter(None, [errors.get(field, ""), problem["message"]]))
        else:
            unplaced.append(problem["message"])
    number = contract.current_version.number if contract.current_version_id else 1
    version = selectors.version_get(scope=request.scope, contract=contract, number=number)
    context = _detail_context(request, contract, version, typed=request.POST, errors=errors)
    context.update(
        typed=request.POST, refused={"form": form_name, "message": exc.message, "problems": unplaced}
    )
    if request.htmx:
        return render(request, "contracts/_negotiation.html", context, status=422)
    return render(request, "contracts/contract_detail.html", context, status=400)


def _negotiated(request, contract, success: str) -> HttpResponse:
    messages.success(request, success)
    target = reverse("contract-detail", kwargs={"contract_id": contract.number})
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_POST
@scoped_view
def contract_counter(request, contract_id):
    contract = _contract(request, contract_id)
    pending = selectors.pending_version(contract=contract)
    current = selectors.version_offer_terms(pending) if pending else {"rates": {}, "assessment_fees": {}}
    arguments, fields = _counter_input(request.POST, current)
    try:
        offer = services.contract_counter(scope=request.scope, contract=contract, **arguments)
    except ApplicationError as exc:
        return _negotiation_refused(request, contract, "counter", exc, fields)
    return _negotiated(
        request, contract, f"Counter-offer sent (round {offer.round}): the other side answers it."
    )


@require_POST
@scoped_view
def contract_reject_counter(request, contract_id):
    contract = _contract(request, contract_id)
    try:
        offer = services.contract_reject_counter(
            scope=request.scope, contract=contract, reason=request.POST.get("reason", "")
        )
    except ApplicationError as exc:
        return _negotiation_refused(request, contract, "reject_counter", exc)
    return _negotiated(
        request,
        contract,
        f"Counter-offer rejected: your earlier offer is back on the table (round {offer.round}).",
    )


def _refused(request, contract, form_name: str, message: str) -> HttpResponse:
    """The contract's page again, with the form ``form_name`` as the user filled it and why it was
    refused (a redirect would lose what they typed)."""
    number = contract.current_version.number if contract.current_version_id else 1
    version = selectors.version_get(scope=request.scope, contract=contract, number=number)
    context = _detail_context(request, contract, version)
    context.update(typed=request.POST, refused={"form": form_name, "message": message})
    return render(request, "contracts/contract_detail.html", context, status=400)


def _refusal(exc: ApplicationError) -> str:
    if exc.status == 403:
        raise exc
    return exc.message


@require_POST
@scoped_view
def contract_terminate(request, contract_id):
    form = TerminateForm(request.POST)
    contract = _contract(request, contract_id)
    if not form.is_valid():
        message = "Give the date the contract no longer applies from, and a reason."
        return _refused(request, contract, "terminate", message)
    try:
        services.contract_terminate(scope=request.scope, contract=contract, **form.cleaned_data)
    except ApplicationError as exc:
        return _refused(request, contract, "terminate", _refusal(exc))
    messages.success(request, "Terminated.")
    return redirect("contract-detail", contract_id=contract.number)


@require_POST
@scoped_view
def contract_amend(request, contract_id):
    form = AmendForm(request.POST)
    contract = _contract(request, contract_id)
    if not form.is_valid():
        message = "Give the date the amendment takes effect (the first of a month)."
        return _refused(request, contract, "amend", message)
    try:
        version = services.contract_amend(
            scope=request.scope, contract=contract, effective_start=form.cleaned_data["effective_start"]
        )
    except ApplicationError as exc:
        return _refused(request, contract, "amend", _refusal(exc))
    messages.success(
        request, f"Amendment v{version.number} started as a draft; change what it changes, then propose it."
    )
    return redirect("contract-version-edit", contract_id=contract.number, number=version.number)


@scoped_view
def version_diff(request, contract_id, number):
    contract = _contract(request, contract_id)
    after = selectors.version_get(scope=request.scope, contract=contract, number=number)
    against = request.GET.get("against") or after.number - 1
    before = selectors.version_get(scope=request.scope, contract=contract, number=against)
    diff = selectors.version_diff(before=before, after=after)
    sections = [
        {
            "code": code,
            "title": title,
            "changes": [c for c in diff["changes"] if c["section"] == code],
            "payment": code in rules.PAYMENT_SECTIONS,
        }
        for code, title in rules.SECTIONS.items()
    ]
    return render(
        request,
        "contracts/version_diff.html",
        {
            "contract": contract,
            "before": before,
            "after": after,
            "diff": diff,
            "sections": sections,
            "versions": selectors.version_list(scope=request.scope, contract=contract),
            "payment_labels": [
                (rules.SECTIONS[s], changed) for s, changed in diff["payment_terms_changed"].items()
            ],
        },
    )


@scoped_view
def rate_sheet_download(request, contract_id, number, fmt):
    if fmt not in RateSheetFormat.values:
        raise Http404
    contract = _contract(request, contract_id)
    version = selectors.version_get(scope=request.scope, contract=contract, number=number)
    content, filename = services.rate_sheet(version=version, fmt=fmt)
    response = HttpResponse(content, content_type=services.CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@scoped_view
def export_list(request):
    scope = request.scope
    if request.method == "POST":
        export = services.rate_sheet_export_start(scope=scope)
        return redirect("rate-sheet-export", export_id=export.public_id)
    exports = selectors.export_list(scope=scope)[:20]
    active = selectors.contract_list(scope=scope, status=ContractStatus.ACTIVE).count()
    return render(request, "contracts/export_list.html", {"exports": exports, "active_count": active})


@scoped_view
def export_detail(request, export_id):
    export = selectors.export_get(scope=request.scope, export_id=export_id)
    items = selectors.export_items(export=export)
    template = "contracts/_export_progress.html" if request.htmx else "contracts/export_detail.html"
    context = {
        "export": export,
        "items": items,
        "can_retry": export.progress_status == "failed" and request.scope.can("contract.export"),
    }
    return render(request, template, context)


@require_POST
@scoped_view
def export_retry(request, export_id):
    export = selectors.export_get(scope=request.scope, export_id=export_id)
    queued = services.rate_sheet_export_retry_failed(scope=request.scope, export=export)
    if queued:
        messages.success(
            request, f"{len(queued)} failed contract{'s' if len(queued) != 1 else ''} queued again."
        )
    else:
        messages.info(request, "No contract has failed: the zip is being assembled again.")
    return redirect("rate-sheet-export", export_id=export.public_id)


@scoped_view
def export_download(request, export_id):
    export = selectors.export_get(scope=request.scope, export_id=export_id)
    if export.status != "done":
        messages.error(request, "The zip is not ready yet.")
        return redirect(reverse("rate-sheet-export", kwargs={"export_id": export.public_id}))
    response = HttpResponse(bytes(export.content), content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="rate-sheets-{export.created_at:%Y%m%d-%H%M}.zip"'
    )
    return response
