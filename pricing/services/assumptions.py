"""Assumption sets and their versions: create (from the platform's defaults), edit the draft,
publish, start a new draft, export and import as a pricing file; each field keeps its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.tenancy import Scope
from bundles.models import IdtRole, Market
from core.errors import ApplicationError, ConflictError, PermissionDeniedError
from pricing import defaults
from pricing.documents import assumption_errors, canonical_json, sha256_hex
from pricing.engine import FORMAT
from pricing.models import AssumptionSet, AssumptionSetVersion, AssumptionSetVersionStatus

INVALID_ASSUMPTIONS_MESSAGE = "The assumptions have errors; every problem is listed with its path."
NO_DRAFT_MESSAGE = "This assumption set has no draft; start one from a published version."
DRAFT_EXISTS_MESSAGE = "This assumption set already has a draft; publish it first."
DUPLICATE_NAME_MESSAGE = "The plan already has an assumption set with this name."
NOT_OWN_MESSAGE = "Only the plan that owns these assumptions can change them."


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
