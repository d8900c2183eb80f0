"""Bundle pages: list, create, read a version, edit the draft (htmx grid), publish, diff, export/import."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors as account_selectors
from accounts.decorators import scoped_view
from bundles import definition as bundle_definition
from bundles import selectors, services
from bundles.models import Bundle, BundleVersion, BundleVersionStatus
from bundles.phases import phase_definition, phases
from core.domain.canonical import canonical_json_indented
from core.domain.codes import CARE_MANAGEMENT_LABELS, LINES_OF_BUSINESS
from core.domain.problems import Problem
from core.errors import ApplicationError, NotFoundError, PermissionDeniedError

MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _problems_of(exc: ApplicationError) -> list[dict[str, Any]]:
    """The problems an error lists (as dicts), or the error itself as the one problem."""
    listed = exc.details.get("problems") if isinstance(exc.details, dict) else None
    return listed or [Problem.at_path("$", exc.code, exc.message).as_dict()]


def _role_names(scope) -> dict[str, str]:
    return dict(selectors.role_list(scope=scope).values_list("code", "name"))


def _sharing_context(
    request, bundle: Bundle, version: BundleVersion, error: str = ""
) -> dict[str, Any] | None:
    """The owner's sharing panel of a published (or retired) version; None for a draft or a recipient."""
    scope = request.scope
    if version.is_draft or not selectors.is_owner(scope=scope, bundle=bundle):
        return None
    shares = list(selectors.version_share_list(scope=scope, version=version))
    for share in shares:
        share.revoke_url = reverse(
            "bundle-version-share-revoke", args=[bundle.public_id, version.number, share.public_id]
        )
    can_share = scope.can("bundle.share") and version.status == BundleVersionStatus.PUBLISHED
    return {
        "what": "this version of the bundle",
        "action": reverse("bundle-version-share", args=[bundle.public_id, version.number]),
        "shares": shares,
        "can_share": can_share,
        "counterparties": list(account_selectors.counterparty_list(scope=scope)) if can_share else [],
        "error": error,
    }


def _version_context(request, bundle: Bundle, version: BundleVersion) -> dict[str, Any]:
    scope = request.scope
    received = selectors.version_share_received(scope=scope, version=version)
    names = _role_names(scope)
    grid = bundle_definition.grid(version.definition)
    for row in grid["rows"]:
        row["name"] = names.get(row["role"], row["role"])
    markets = {m.code: m for m in selectors.plan_markets(organization=bundle.payer)}
    return {
        "bundle": bundle,
        "version": version,
        "d": version.definition,
        "grid": grid,
        "phase_grids": _phase_grids(version.definition, names),
        "role_names": names,
        "markets": [markets.get(code) or code for code in version.definition.get("markets", [])],
        "versions": selectors.version_list(scope=scope, bundle=bundle),
        "actions": selectors.version_actions(scope=scope, bundle=bundle, version=version),
        "sharing": _sharing_context(request, bundle, version),
        "received": received,
        "can_adopt": received is not None and scope.can("bundle.edit"),
        "problems": services.publish_check(bundle=bundle, definition=version.definition)
        if version.is_draft
        else [],
        "warnings": [
            p
            for p in services.publish_check(bundle=bundle, definition=version.definition)
            if p.severity == "warning"
        ]
        if not version.is_draft
        else [],
    }


def _valid_phases(d: dict[str, Any]) -> tuple[Any, ...]:
    """The definition's phases; none while what was typed cannot be read as phases (its problems show)."""
    try:
        return phases(d)
    except (KeyError, TypeError, ValueError, AttributeError):
        return ()


def _phase_grids(d: dict[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    """Each phase with its team-by-tier grid: the definition as priced for that phase."""
    bundle_phases = _valid_phases(d)
    ends: list[int | None] = [p.from_month - 1 for p in bundle_phases[1:]]
    result = []
    for phase, to_month in zip(bundle_phases, [*ends, None], strict=False):
        phase_grid = bundle_definition.grid(phase_definition(d, phase.code))
        for row in phase_grid["rows"]:
            row["name"] = names.get(row["role"], row["role"])
        result.append({"phase": phase, "to_month": to_month, "grid": phase_grid})
    return result


@scoped_view
def bundle_list(request):
    q = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    lob = request.GET.get("lob", "")
    bundles = selectors.bundle_list(scope=request.scope, search=q, status=status, lob=lob)
    context = {
        "bundles": bundles,
        "q": q,
        "status": status,
        "lob": lob,
        "lobs": LINES_OF_BUSINESS,
        "can_edit": request.scope.can("bundle.edit"),
    }
    template = "bundles/_bundle_rows.html" if request.htmx else "bundles/bundle_list.html"
    return render(request, template, context)


@scoped_view
def bundle_new(request):
    request.scope.require("bundle.edit")
    markets = selectors.plan_markets(organization=request.scope.organization)
    errors: list = []
    if request.method == "POST":
        tiers = int(request.POST.get("tiers") or 3) if (request.POST.get("tiers") or "3").isdigit() else 3
        definition = bundle_definition.empty_definition(
            request.POST.get("name", "").strip(), tiers=max(1, min(tiers, 6))
        )
        definition["description"] = request.POST.get("description", "").strip()
        definition["lines_of_business"] = request.POST.getlist("lines_of_business")
        definition["markets"] = request.POST.getlist("markets")
        if request.POST.get("period") == "episode":
            definition["period"] = {"type": "episode", "days": request.POST.get("days") or ""}
        definition["roles"] = [
            {"role": code, "visit_minutes": "60", "by_tier": {}}
            for code in ("physician", "np", "rn", "lcsw", "chaplain", "chw")
        ]
        try:
            bundle = services.bundle_create(scope=request.scope, definition=definition)
        except ApplicationError as exc:
            errors = _problems_of(exc)
        else:
            messages.success(
                request, "Bundle created as a draft. Fill in the team's effort by tier, then publish."
            )
            return redirect("bundle-draft", bundle_id=bundle.public_id)
    return render(
        request,
        "bundles/bundle_new.html",
        {
            "markets": markets,
            "lobs": LINES_OF_BUSINESS,
            "errors": errors,
            "post": request.POST,
        },
        status=400 if errors else 200,
    )


@scoped_view
def bundle_detail(request, bundle_id):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    versions = list(selectors.version_list(scope=request.scope, bundle=bundle))
    if not versions:
        raise Http404
    published = [v for v in versions if not v.is_draft]
    version = published[0] if published else versions[0]
    return render(request, "bundles/bundle_detail.html", _version_context(request, bundle, version))


@scoped_view
def version_detail(request, bundle_id, number):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    return render(request, "bundles/bundle_detail.html", _version_context(request, bundle, version))


# --- the draft editor ------------------------------------------------------------------------


def _draft(request, bundle_id) -> tuple[Bundle, BundleVersion]:
    # Look up first: another organisation's bundle is a 404 before it is a 403.
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    request.scope.require("bundle.edit")
    return bundle, selectors.version_get(scope=request.scope, bundle=bundle, number="draft")


def _grid_phase(request, d: dict[str, Any]) -> str:
    """The phase the effort grid shows ('' for the base effort): the ``phase`` parameter, when the
    draft has that phase."""
    phase = request.POST.get("phase") or request.GET.get("phase") or ""
    return phase if phase in {p.code for p in _valid_phases(d)} else ""


def _editor_context(request, bundle, draft, problems=None) -> dict[str, Any]:
    context = _version_context(request, bundle, draft)
    phase = _grid_phase(request, draft.definition)
    context["phase"] = phase
    context["grid_phases"] = _valid_phases(draft.definition)
    if phase:
        context["grid"] = bundle_definition.grid(phase_definition(draft.definition, phase))
    context["edit_problems"] = problems or []
    context["problem_paths"] = {p["path"]: p["message"] for p in (problems or [])}
    context["all_roles"] = selectors.role_list(scope=request.scope)
    context["plan_markets"] = selectors.plan_markets(organization=bundle.payer)
    context["lobs"] = LINES_OF_BUSINESS
    context["care_management_programs"] = list(CARE_MANAGEMENT_LABELS.items())
    context["used_roles"] = {r["role"] for r in draft.definition.get("roles", [])}
    context["edit_rows"] = _edit_rows(
        draft.definition, context["role_names"], context["problem_paths"], phase=phase
    )
    context["phase_rows"] = _phase_rows(draft.definition, context["problem_paths"])
    return context


def _phase_rows(d: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    """The phases as typed, each field with its error (by JSON path)."""
    raw = d.get("phases")
    rows = []
    for i, phase in enumerate(raw if isinstance(raw, list) else []):
        phase = phase if isinstance(phase, dict) else {}
        path = f"$.phases[{i}]"
        rows.append(
            {
                "number": i + 1,
                "id": f"phase-{i + 1}",
                "code": phase.get("code", ""),
                "name": phase.get("name", ""),
                "from_month": phase.get("from_month", ""),
                "error": errors.get(path),
                "code_error": errors.get(f"{path}.code"),
                "name_error": errors.get(f"{path}.name"),
                "from_month_error": errors.get(f"{path}.from_month"),
            }
        )
    return rows


def _edited_cell(request, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The grid cell a cell edit targets, for the one-cell htmx response."""
    role, tier, field = (request.POST.get(k, "") for k in ("role", "tier", "field"))
    row = next((r for r in rows if r["role"] == role), None)
    if row is None:
        return None
    if field == "visit_minutes":
        return {
            "input_id": row["vm_id"],
            "label": row["vm_label"],
            "value": row["visit_minutes"],
            "error": row["visit_minutes_error"],
            "vals": row["vm_vals"],
        }
    cell = next((c for c in row["cells"] if c["tier"] == tier), None)
    if cell is None:
        return None
    prefix, key = ("v", "visits") if field == "visits_per_mm" else ("c", "coordination")
    return {
        "input_id": cell[f"{prefix}_id"],
        "label": cell[f"{prefix}_label"],
        "value": cell[key],
        "error": cell[f"{key}_error"],
        "vals": cell[f"{prefix}_vals"],
        "inherited": cell[f"{prefix}_inherited"],
    }


def _edit_rows(
    d: dict, names: dict[str, str], errors: dict[str, str], *, phase: str = ""
) -> list[dict[str, Any]]:
    """The editable grid: each cell's value (as typed, even when invalid) and its error, by JSON path.

    With ``phase``, the cells are that phase's effort (``by_phase[phase]``); a tier the phase gives no
    effort for inherits the role's ``by_tier``, shown as such (an empty cell, the inherited value as
    its placeholder) until edited.
    """
    rows = []
    tiers = [t.get("code") for t in d.get("tiers", [])]
    for i, role in enumerate(d.get("roles", [])):
        base = f"$.roles[{i}]"
        cells = []
        name = names.get(role.get("role"), role.get("role"))
        code_of_role = role.get("role")
        own_phase = ((role.get("by_phase") or {}).get(phase) or {}) if phase else {}
        effort_path = f"{base}.by_phase.{phase}" if phase else f"{base}.by_tier"
        # ids stay those of the base grid; a phase's cells get the phase in theirs
        prefix = f"{phase}-" if phase else ""
        in_phase = f" in phase {phase}" if phase else ""
        for code in tiers:
            base_effort = (role.get("by_tier") or {}).get(code) or {}
            inherited = bool(phase) and code not in own_phase
            effort = base_effort if not phase else own_phase.get(code) or {}
            vals = {"role": code_of_role, "tier": code}
            if phase:
                vals["phase"] = phase
            cells.append(
                {
                    "tier": code,
                    "v_id": f"v-{prefix}{code_of_role}-{code}",
                    "v_label": f"{name} tier {code} visits per member-month{in_phase}",
                    "v_vals": json.dumps({**vals, "field": "visits_per_mm"}),
                    "c_id": f"c-{prefix}{code_of_role}-{code}",
                    "c_label": f"{name} tier {code} coordination minutes per member-month{in_phase}",
                    "c_vals": json.dumps({**vals, "field": "coordination_minutes_per_mm"}),
                    "visits": "" if inherited else effort.get("visits_per_mm", "0"),
                    "coordination": "" if inherited else effort.get("coordination_minutes_per_mm", "0"),
                    "inherited": inherited,
                    "v_inherited": base_effort.get("visits_per_mm", "0") if inherited else "",
                    "c_inherited": base_effort.get("coordination_minutes_per_mm", "0") if inherited else "",
                    "visits_error": errors.get(f"{effort_path}.{code}.visits_per_mm"),
                    "coordination_error": errors.get(f"{effort_path}.{code}.coordination_minutes_per_mm"),
                    "minutes": bundle_definition.role_minutes(
                        {**role, "by_tier": {code: base_effort if inherited else effort}}, code
                    ),
                }
            )
        rows.append(
            {
                "role": code_of_role,
                "name": name,
                "vm_id": f"vm-{code_of_role}",
                "vm_label": f"{name} minutes per visit",
                "vm_vals": json.dumps({"role": code_of_role, "field": "visit_minutes"}),
                "visit_minutes": role.get("visit_minutes", ""),
                "visit_minutes_error": errors.get(f"{base}.visit_minutes"),
                "cells": cells,
            }
        )
    return rows


@scoped_view
def draft_edit(request, bundle_id):
    bundle, draft = _draft(request, bundle_id)
    context = _editor_context(request, bundle, draft)
    if request.htmx and request.htmx.target == "grid-editor":  # the grid switched to another phase
        return render(request, "bundles/_editor_grid.html", context)
    return render(request, "bundles/bundle_editor.html", context)


def _apply(request, bundle_id, mutate: Callable[[dict], None], partial: str):
    """Apply one edit to a copy of the draft; save it whole, or show every problem in place."""
    bundle, draft = _draft(request, bundle_id)
    definition = copy.deepcopy(draft.definition)
    mutate(definition)
    problems = None
    try:
        draft = services.draft_update(scope=request.scope, bundle=bundle, definition=definition)
    except ApplicationError as exc:
        problems = _problems_of(exc)
        draft.definition = definition  # show what was typed, with its errors, without saving it
    context = _editor_context(request, bundle, draft, problems)
    context["edited"] = _edited_cell(request, context["edit_rows"])
    if request.htmx:
        return render(request, partial, context, status=422 if problems else 200)
    if problems:
        return render(request, "bundles/bundle_editor.html", context, status=400)
    return redirect("bundle-draft", bundle_id=bundle.public_id)


@require_POST
@scoped_view
def draft_general(request, bundle_id):
    post = request.POST

    def mutate(d):
        d["name"] = post.get("name", "").strip()
        d["description"] = post.get("description", "").strip()
        d["lines_of_business"] = post.getlist("lines_of_business")
        d["markets"] = post.getlist("markets")
        d["home_share"] = post.get("home_share", "")
        d["care_management"] = post.get("care_management", "")
        d["period"] = (
            {"type": "episode", "days": post.get("days", "")}
            if post.get("period") == "episode"
            else {"type": "monthly"}
        )

    return _apply(request, bundle_id, mutate, "bundles/_editor_general.html")


@require_POST
@scoped_view
def draft_cell(request, bundle_id):
    """One cell of the grid (htmx): a role's visit minutes, or its visits/coordination in a tier (in a
    phase, with ``phase``: that phase's effort)."""
    role, tier, field, value = (request.POST.get(k, "") for k in ("role", "tier", "field", "value"))
    phase = request.POST.get("phase", "")

    def mutate(d):
        entry = next((r for r in d["roles"] if r["role"] == role), None)
        if entry is None:
            return
        if field == "visit_minutes":
            entry["visit_minutes"] = value
        elif field in ("visits_per_mm", "coordination_minutes_per_mm") and tier and phase:
            _set_phase_effort(entry, phase, tier, field, value)
        elif field in ("visits_per_mm", "coordination_minutes_per_mm") and tier:
            cell = entry.setdefault("by_tier", {}).setdefault(tier, {})
            cell[field] = value

    return _apply(request, bundle_id, mutate, "bundles/_editor_cell.html")


def _set_phase_effort(role: dict[str, Any], phase: str, tier: str, field: str, value: str) -> None:
    """Set one field of a role's effort in a phase and tier; an empty value removes the phase's effort
    for that tier, which then inherits the role's ``by_tier`` again."""
    by_phase = role.setdefault("by_phase", {})
    own = by_phase.setdefault(phase, {})
    if value.strip() == "":
        own.pop(tier, None)
    else:
        # a phase's effort replaces the tier's whole effort: the field not edited starts as inherited
        inherited = (role.get("by_tier") or {}).get(tier) or {}
        cell = own.setdefault(
            tier,
            {
                "visits_per_mm": inherited.get("visits_per_mm", "0"),
                "coordination_minutes_per_mm": inherited.get("coordination_minutes_per_mm", "0"),
            },
        )
        cell[field] = value
    if not own:
        by_phase.pop(phase)
    if not by_phase:
        role.pop("by_phase")


@require_POST
@scoped_view
def draft_roles(request, bundle_id):
    add, remove = request.POST.get("add", ""), request.POST.get("remove", "")

    def mutate(d):
        if add and add not in {r["role"] for r in d["roles"]}:
            d["roles"].append({"role": add, "visit_minutes": "60", "by_tier": {}})
        if remove:
            d["roles"] = [r for r in d["roles"] if r["role"] != remove]

    return _apply(request, bundle_id, mutate, "bundles/_editor_grid.html")


@require_POST
@scoped_view
def draft_tiers(request, bundle_id):
    post = request.POST

    def mutate(d):
        codes = post.getlist("code")
        names = post.getlist("name")
        descriptions = post.getlist("description")
        d["tiers"] = [
            {"code": c.strip(), "name": n.strip(), "description": s.strip()}
            for c, n, s in zip(codes, names, descriptions, strict=False)
            if c.strip() or n.strip()
        ]
        if post.get("action") == "add":
            next_code = str(len(d["tiers"]) + 1)
            d["tiers"].append({"code": next_code, "name": f"Tier {next_code}", "description": ""})
        remove = post.get("remove")
        if remove:
            d["tiers"] = [t for t in d["tiers"] if t["code"] != remove]
            for role in d["roles"]:
                role.get("by_tier", {}).pop(remove, None)
                by_phase = role.get("by_phase") or {}
                for phase_code in list(by_phase):
                    by_phase[phase_code].pop(remove, None)
                    if not by_phase[phase_code]:  # a phase with no effort of its own left
                        by_phase.pop(phase_code)
                if not by_phase:
                    role.pop("by_phase", None)

    return _apply(request, bundle_id, mutate, "bundles/_editor_tiers.html")


#: What "Split into phases" starts from: a richer first two months, then the ongoing rate.
STARTING_PHASES = [
    {"code": "initial", "name": "Months 1-2", "from_month": 1},
    {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
]


@require_POST
@scoped_view
def draft_phases(request, bundle_id):
    """The phases of enrollment: edit them in place, add one, remove one, or turn phases off."""
    post = request.POST
    action, remove = post.get("action", ""), post.get("remove", "")

    def mutate(d):
        if action == "off":
            d.pop("phases", None)
            for role in d["roles"]:
                role.pop("by_phase", None)
            return
        if action == "split" and not d.get("phases"):
            d["phases"] = copy.deepcopy(STARTING_PHASES)
            return
        rows = zip(
            post.getlist("old_code"),
            post.getlist("code"),
            post.getlist("name"),
            post.getlist("from_month"),
            strict=False,
        )
        edited = []
        for old, code, name, start in rows:
            edited.append({"code": code.strip(), "name": name.strip(), "from_month": start.strip()})
            if old and old != code.strip():  # a renamed phase keeps its effort
                for role in d["roles"]:
                    if old in (role.get("by_phase") or {}):
                        role["by_phase"][code.strip()] = role["by_phase"].pop(old)
        if action == "add":
            edited.append(
                {
                    "code": post.get("new_code", "").strip(),
                    "name": post.get("new_name", "").strip(),
                    "from_month": post.get("new_from_month", "").strip(),
                }
            )
        if remove:
            edited = [p for p in edited if p["code"] != remove]
            for role in d["roles"]:
                (role.get("by_phase") or {}).pop(remove, None)
                if role.get("by_phase") == {}:
                    role.pop("by_phase")
        d["phases"] = edited

    return _apply(request, bundle_id, mutate, "bundles/_editor_phases_response.html")


@require_POST
@scoped_view
def draft_assessment(request, bundle_id):
    post = request.POST

    def mutate(d):
        roles = []
        for code in post.getlist("assessment_role"):
            minutes = post.get(f"minutes_{code}", "").strip()
            if minutes:
                roles.append({"role": code, "minutes": minutes})
        d["assessment"] = {"roles": roles, "home": post.get("home") == "on"}

    return _apply(request, bundle_id, mutate, "bundles/_editor_assessment.html")


@require_POST
@scoped_view
def draft_eligibility(request, bundle_id):
    post = request.POST

    def mutate(d):
        eligibility = d.setdefault("eligibility", copy.deepcopy(bundle_definition.DEFAULT_ELIGIBILITY))
        included = set(post.getlist("diagnosis_group"))
        for group in eligibility.get("diagnosis_groups", []):
            group["included"] = group["name"] in included
        eligibility["functional_status"] = {
            "scale": post.get("scale", "PPS"),
            "max": post.get("functional_max", ""),
        }
        eligibility["utilization_criteria"] = [
            line.strip() for line in post.get("utilization", "").splitlines() if line.strip()
        ]
        eligibility["exclusions"] = [
            line.strip() for line in post.get("exclusions", "").splitlines() if line.strip()
        ]
        services_list = []
        for line in post.get("services", "").splitlines():
            name, _, codes = line.partition("|")
            if name.strip():
                services_list.append(
                    {"name": name.strip(), "codes": [c.strip() for c in codes.split(",") if c.strip()]}
                )
        d["services"] = services_list

    return _apply(request, bundle_id, mutate, "bundles/_editor_eligibility.html")


@require_POST
@scoped_view
def draft_publish(request, bundle_id):
    bundle, draft = _draft(request, bundle_id)
    try:
        version = services.draft_publish(scope=request.scope, bundle=bundle)
    except ApplicationError as exc:
        problems = _problems_of(exc)
        context = _editor_context(request, bundle, draft)
        context["publish_problems"] = problems
        if request.htmx:
            return render(request, "bundles/_publish_problems.html", context, status=422)
        return render(request, "bundles/bundle_editor.html", context, status=400)
    messages.success(request, f"Published {bundle.name} {version.label}.")
    target = f"/bundles/{bundle.public_id}/v/{version.number}/"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


@require_POST
@scoped_view
def draft_discard(request, bundle_id):
    bundle, _ = _draft(request, bundle_id)
    try:
        services.draft_discard(scope=request.scope, bundle=bundle)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("bundle-draft", bundle_id=bundle.public_id)
    messages.success(request, "Draft discarded.")
    return redirect("bundle-detail", bundle_id=bundle.public_id)


@require_POST
@scoped_view
def version_new_draft(request, bundle_id, number):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    try:
        services.version_new_draft(scope=request.scope, version=version)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("bundle-version", bundle_id=bundle.public_id, number=number)
    messages.success(request, f"New draft started from {version.label}.")
    return redirect("bundle-draft", bundle_id=bundle.public_id)


@require_POST
@scoped_view
def version_retire(request, bundle_id, number):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    try:
        services.version_retire(scope=request.scope, version=version)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{version.label} retired: it takes no new contracts.")
    return redirect("bundle-version", bundle_id=bundle.public_id, number=number)


@require_POST
@scoped_view
def version_share(request, bundle_id, number):
    """Share the version with the organisation chosen (htmx: the sharing panel again)."""
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    error = ""
    try:
        organization = account_selectors.share_recipient(
            scope=request.scope, public_id=request.POST.get("organization_id", "")
        )
        services.version_share(
            scope=request.scope, version=version, organization=organization, note=request.POST.get("note", "")
        )
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        error = exc.message
    return _sharing_response(request, bundle, version, error, f"Shared {bundle.name} {version.label}.")


@require_POST
@scoped_view
def version_share_revoke(request, bundle_id, number, share_id):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    share = selectors.version_share_get(scope=request.scope, version=version, share_id=share_id)
    error = ""
    try:
        services.version_share_revoke(scope=request.scope, share=share)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        error = exc.message
    return _sharing_response(request, bundle, version, error, "Sharing stopped.")


def _sharing_response(request, bundle: Bundle, version: BundleVersion, error: str, done: str):
    if request.htmx:
        return render(
            request,
            "web/_sharing.html",
            {"sharing": _sharing_context(request, bundle, version, error)},
            status=422 if error else 200,
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(reverse("bundle-version", args=[bundle.public_id, version.number]) + "#sharing")


@require_POST
@scoped_view
def version_adopt(request, bundle_id, number):
    """Adopt a version shared with the organisation: a new bundle of its own, drafted from it."""
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    try:
        adopted = services.bundle_adopt(scope=request.scope, version=version)
    except (NotFoundError, PermissionDeniedError):
        raise
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("bundle-version", bundle_id=bundle.public_id, number=number)
    messages.success(request, f"Adopted {version}: the draft is yours to edit; publishing lists what to fix.")
    return redirect("bundle-draft", bundle_id=adopted.public_id)


@scoped_view
def version_diff(request, bundle_id, number):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    base, changes = selectors.version_changes(
        scope=request.scope, bundle=bundle, version=version, against=request.GET.get("against")
    )
    others = [
        v
        for v in selectors.version_list(scope=request.scope, bundle=bundle)
        if v.number and v.pk != version.pk
    ]
    return render(
        request,
        "bundles/bundle_diff.html",
        {
            "bundle": bundle,
            "version": version,
            "base": base,
            "changes": changes,
            "others": others,
        },
    )


@scoped_view
def version_export(request, bundle_id, number):
    bundle = selectors.bundle_get(scope=request.scope, public_id=bundle_id)
    version = selectors.version_get(scope=request.scope, bundle=bundle, number=number)
    body = canonical_json_indented(services.bundle_export(version=version))
    response = HttpResponse(body, content_type="application/json")
    slug = "".join(c if c.isalnum() else "-" for c in bundle.name.lower()).strip("-")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{version.label}.json"'
    return response


@scoped_view
def bundle_import(request):
    request.scope.require("bundle.edit")
    problems: list = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            problems = [
                Problem.at_path("file", "required", "Choose a pricing file (JSON) to import.").as_dict()
            ]
        elif upload.size > MAX_IMPORT_BYTES:
            problems = [
                Problem.at_path(
                    "file", "too_large", "The file is larger than 2 MB; a bundle file is much smaller."
                ).as_dict()
            ]
        else:
            try:
                document = json.loads(upload.read().decode("utf-8-sig"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                problems = [
                    Problem.at_path("$", "not_json", f"The file is not valid UTF-8 JSON: {exc}").as_dict()
                ]
            else:
                try:
                    bundle = services.bundle_import(scope=request.scope, document=document)
                except ApplicationError as exc:
                    problems = _problems_of(exc)
                else:
                    messages.success(request, f"Imported {bundle.name} as a draft.")
                    return redirect("bundle-draft", bundle_id=bundle.public_id)
    return render(
        request, "bundles/bundle_import.html", {"problems": problems}, status=400 if problems else 200
    )
