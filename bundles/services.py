"""Writes for bundles: create, edit the draft, publish, new draft from a version, retire, import;
share a published version with another organisation (read-only), revoke it, adopt a shared one."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Organization
from accounts.tenancy import Scope
from bundles import definition as bundle_definition
from bundles.models import (
    Bundle,
    BundleVersion,
    BundleVersionShare,
    BundleVersionStatus,
    IdtRole,
    Market,
    Share,
)
from bundles.selectors import plan_markets, required_roles_for, roles_for
from bundles.states import BUNDLE_VERSION
from bundles.states import NO_DRAFT_MESSAGE as NO_DRAFT_MESSAGE
from bundles.states import NOT_PUBLISHED_MESSAGE as NOT_PUBLISHED_MESSAGE
from core.audit import record_event
from core.domain.canonical import canonical_json_indented, sha256_hex
from core.domain.problems import Problem, errors_only
from core.errors import (
    NOT_FOUND_MESSAGE,
    ApplicationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    problems_error,
)

PRICING_FORMAT = "carebundle.pricing/1"
INVALID_DEFINITION_MESSAGE = "The bundle has errors; see details."
INCOMPLETE_MESSAGE = "The bundle cannot be published yet; every missing item is listed."
DRAFT_EXISTS_MESSAGE = "This bundle already has a draft; publish or discard it first."
NOT_OWNER_MESSAGE = "Only the organisation that owns a bundle can change it."
SHARE_NOT_PUBLISHED_MESSAGE = "Only a published bundle version can be shared."
ALREADY_SHARED_MESSAGE = "This version is already shared with that organisation."
SHARE_REVOKED_MESSAGE = "This share was already revoked."
ADOPT_OWN_MESSAGE = "This bundle is already your organisation's; start a new draft from it instead."


def _require_own(scope: Scope, bundle: Bundle, action: str) -> None:
    """The permission the declaration gives ``action``, on a bundle of the scope's own plan."""
    _require_owner(scope, bundle, BUNDLE_VERSION.person_permission(action))


def _require_owner(scope: Scope, bundle: Bundle, permission: str) -> None:
    """``permission``, on a bundle of the scope's own organisation (a recipient of a share reads only)."""
    scope.require(permission)
    if bundle.payer_id != scope.organization.pk:
        raise PermissionDeniedError(NOT_OWNER_MESSAGE)


def _catalogue(organization) -> tuple[set[str], set[str]]:
    role_codes = set(roles_for(organization=organization).values_list("code", flat=True))
    market_codes = set(plan_markets(organization=organization).values_list("code", flat=True))
    return role_codes, market_codes


def _validated(organization, definition: Any) -> dict[str, Any]:
    role_codes, market_codes = _catalogue(organization)
    normalized, problems = bundle_definition.validate(
        definition, role_codes=role_codes, market_codes=market_codes
    )
    if problems:
        raise problems_error(INVALID_DEFINITION_MESSAGE, problems, code="invalid_bundle")
    return normalized


def content_hash(definition: dict[str, Any]) -> str:
    """The hash stored on a version: over the export text (indented), as every version was hashed."""
    return sha256_hex(canonical_json_indented(definition))


def _sync_bundle(bundle: Bundle, definition: dict[str, Any]) -> None:
    bundle.name = definition["name"]
    bundle.lines_of_business = definition["lines_of_business"]
    bundle.save(update_fields=["name", "lines_of_business", "updated_at"])


@transaction.atomic
def bundle_create(*, scope: Scope, definition: dict[str, Any]) -> Bundle:
    scope.require("bundle.edit")
    normalized = _validated(scope.organization, definition)
    bundle = Bundle.objects.create(
        payer=scope.organization, name=normalized["name"], lines_of_business=normalized["lines_of_business"]
    )
    BundleVersion.objects.create(bundle=bundle, definition=normalized, created_by=scope.user)
    return bundle


def _locked_draft(bundle: Bundle, action: str) -> BundleVersion:
    """The bundle's version ``action`` applies to (its draft), locked; refused when it has none."""
    draft = (
        BundleVersion.objects.select_for_update()
        .filter(bundle=bundle, status__in=BUNDLE_VERSION.sources(action))
        .first()
    )
    if draft is None:
        raise BUNDLE_VERSION.refusal(action, status=None)
    return draft


@transaction.atomic
def draft_update(*, scope: Scope, bundle: Bundle, definition: dict[str, Any]) -> BundleVersion:
    """Replace the draft's definition (validated as a whole; nothing saved when anything is wrong)."""
    _require_own(scope, bundle, "edit")
    draft = _locked_draft(bundle, "edit")
    draft.definition = _validated(scope.organization, definition)
    draft.save(update_fields=["definition", "updated_at"])
    _sync_bundle(bundle, draft.definition)
    return draft


def draft_set_effort(
    *, scope: Scope, bundle: Bundle, role: str, tier: str | None, field: str, value: Any
) -> BundleVersion:
    """Change one cell of the team-by-tier grid (the editor's htmx calls)."""
    with transaction.atomic():
        _require_own(scope, bundle, "edit")
        draft = _locked_draft(bundle, "edit")
        definition = draft.definition
        entry = next((r for r in definition["roles"] if r["role"] == role), None)
        if entry is None:
            raise NotFoundError(f"Role {role!r} is not on this bundle's team.")
        if field == "visit_minutes":
            entry["visit_minutes"] = value
        elif field in {"visits_per_mm", "coordination_minutes_per_mm"} and tier is not None:
            entry.setdefault("by_tier", {}).setdefault(
                tier, {"visits_per_mm": "0", "coordination_minutes_per_mm": "0"}
            )
            entry["by_tier"][tier][field] = value
        else:
            raise ApplicationError(f"Unknown grid field {field!r}.", code="unknown_field")
        return draft_update(scope=scope, bundle=bundle, definition=definition)


@transaction.atomic
def draft_discard(*, scope: Scope, bundle: Bundle) -> None:
    _require_own(scope, bundle, "discard")
    draft = _locked_draft(bundle, "discard")
    if not bundle.versions.exclude(pk=draft.pk).exists():
        raise ConflictError(
            "A bundle's only draft cannot be discarded; it has no published version.", code="only_draft"
        )
    draft.delete()


def publish_check(*, bundle: Bundle, definition: dict[str, Any]) -> list[Problem]:
    role_codes, market_codes = _catalogue(bundle.payer)
    names = dict(roles_for(organization=bundle.payer).values_list("code", "name"))
    return bundle_definition.publish_problems(
        definition,
        required_roles=required_roles_for(bundle.payer),
        role_names=names,
        role_codes=role_codes,
        market_codes=market_codes,
    )


@transaction.atomic
def draft_publish(*, scope: Scope, bundle: Bundle) -> BundleVersion:
    """Publish the draft as the next numbered, immutable version; every missing item is reported."""
    _require_own(scope, bundle, "publish")
    Bundle.objects.select_for_update().filter(pk=bundle.pk).first()  # serialise publications of this bundle
    draft = _locked_draft(bundle, "publish")
    problems = errors_only(publish_check(bundle=bundle, definition=draft.definition))
    if problems:
        raise problems_error(INCOMPLETE_MESSAGE, problems, code="incomplete_bundle")
    latest = BundleVersion.objects.filter(bundle=bundle).aggregate(n=Max("number"))["n"] or 0
    draft.number = latest + 1
    draft.status = BUNDLE_VERSION.target("publish", draft.status)
    draft.content_hash = content_hash(draft.definition)
    draft.published_by = scope.user
    draft.published_at = timezone.now()
    draft.save()
    _sync_bundle(bundle, draft.definition)
    return draft


@transaction.atomic
def version_new_draft(*, scope: Scope, version: BundleVersion) -> BundleVersion:
    bundle = version.bundle
    _require_own(scope, bundle, "new_draft")
    Bundle.objects.select_for_update().filter(pk=bundle.pk).first()
    BUNDLE_VERSION.check("new_draft", version.status)
    if BundleVersion.objects.filter(bundle=bundle, status=BundleVersionStatus.DRAFT).exists():
        raise ConflictError(DRAFT_EXISTS_MESSAGE, code="draft_exists")
    return BundleVersion.objects.create(
        bundle=bundle, definition=version.definition, based_on=version, created_by=scope.user
    )


@transaction.atomic
def version_retire(*, scope: Scope, version: BundleVersion) -> BundleVersion:
    """A retired version takes no new contracts; existing ones keep pointing at it."""
    _require_own(scope, version.bundle, "retire")
    version = BundleVersion.objects.select_for_update().get(pk=version.pk)
    version.status = BUNDLE_VERSION.target("retire", version.status)
    version.retired_at = timezone.now()
    version.save(update_fields=["status", "retired_at", "updated_at"])
    return version


# --- markets and roles -----------------------------------------------------------------------


@transaction.atomic
def market_create(
    *,
    scope: Scope,
    code: str,
    name: str,
    rural: bool = False,
    travel_minutes_per_visit: Decimal = Decimal(20),
    miles_per_visit: Decimal = Decimal(8),
) -> Market:
    scope.require("bundle.edit")
    market, created = Market.objects.get_or_create(
        organization=scope.organization,
        code=code,
        defaults={
            "name": name,
            "rural": rural,
            "travel_minutes_per_visit": travel_minutes_per_visit,
            "miles_per_visit": miles_per_visit,
        },
    )
    if not created:
        raise ConflictError(
            f"The plan already has a market {code!r}.",
            code="duplicate_market",
            details={"code": [f"The plan already has a market {code!r}."]},
        )
    return market


@transaction.atomic
def idt_role_create(
    *, scope: Scope, code: str, name: str, bills_ffs: bool = False, service_codes: list[str] | None = None
) -> IdtRole:
    scope.require("bundle.edit")
    if IdtRole.objects.filter(IdtRole.tenant_filter(scope.organization), code=code).exists():
        raise ConflictError(
            f"A role {code!r} already exists.",
            code="duplicate_role",
            details={"code": [f"A role {code!r} already exists."]},
        )
    return IdtRole.objects.create(
        organization=scope.organization,
        code=code,
        name=name,
        bills_ffs=bills_ffs,
        service_codes=list(service_codes or []),
    )


# --- export and import (the `bundle` part of the pricing file) -------------------------------


def bundle_export(*, version: BundleVersion) -> dict[str, Any]:
    """The pricing-file document of a version: its definition plus the roles and markets it names,
    so that another plan can import it."""
    definition = dict(version.definition)
    used_roles = {r["role"] for r in definition["roles"]} | {
        r["role"] for r in definition["assessment"]["roles"]
    }
    roles = roles_for(organization=version.bundle.payer).filter(code__in=used_roles).order_by("code")
    markets = (
        plan_markets(organization=version.bundle.payer)
        .filter(code__in=definition["markets"])
        .order_by("code")
    )
    definition["role_definitions"] = [
        {"code": r.code, "name": r.name, "bills_ffs": r.bills_ffs, "service_codes": list(r.service_codes)}
        for r in roles
    ]
    definition["market_definitions"] = [
        {
            "code": m.code,
            "name": m.name,
            "rural": m.rural,
            "travel_minutes_per_visit": bundle_definition.normalize_number(m.travel_minutes_per_visit),
            "miles_per_visit": bundle_definition.normalize_number(m.miles_per_visit),
        }
        for m in markets
    ]
    return {"format": PRICING_FORMAT, "bundle": definition}


def _import_problems(document: Any) -> list[Problem]:
    problem = bundle_definition.problem
    if not isinstance(document, dict):
        return [problem("$", "not_an_object", "The file must be a JSON object.")]
    problems = []
    if document.get("format") != PRICING_FORMAT:
        problems.append(problem("$.format", "unknown_format", f"Expected format {PRICING_FORMAT!r}."))
    if not isinstance(document.get("bundle"), dict):
        problems.append(problem("$.bundle", "required", "The file has no `bundle` object."))
    return problems


@transaction.atomic
def bundle_import(*, scope: Scope, document: Any) -> Bundle:
    """Create a bundle (as a draft) from a pricing file; with any error, nothing is created."""
    scope.require("bundle.edit")
    problem = bundle_definition.problem
    problems = _import_problems(document)
    if problems:
        raise problems_error(INVALID_DEFINITION_MESSAGE, problems, code="invalid_bundle")
    part = dict(document["bundle"])
    role_defs = part.pop("role_definitions", []) or []
    market_defs = part.pop("market_definitions", []) or []
    known_roles, known_markets = _catalogue(scope.organization)
    new_roles, new_markets = [], []
    for i, role in enumerate(role_defs if isinstance(role_defs, list) else []):
        path = f"$.bundle.role_definitions[{i}]"
        if not isinstance(role, dict) or not role.get("code") or not role.get("name"):
            problems.append(problem(path, "invalid_role", "A role definition needs a code and a name."))
        elif role["code"] not in known_roles:
            new_roles.append(role)
    for i, market in enumerate(market_defs if isinstance(market_defs, list) else []):
        path = f"$.bundle.market_definitions[{i}]"
        if not isinstance(market, dict) or not market.get("code") or not market.get("name"):
            problems.append(problem(path, "invalid_market", "A market definition needs a code and a name."))
            continue
        for field in ("travel_minutes_per_visit", "miles_per_visit"):
            bundle_definition.check_number(market.get(field, 0), f"{path}.{field}", problems)
        if market["code"] not in known_markets:
            new_markets.append(market)
    role_codes = known_roles | {r["code"] for r in new_roles}
    market_codes = known_markets | {m["code"] for m in new_markets}
    normalized, definition_problems = bundle_definition.validate(
        part, role_codes=role_codes, market_codes=market_codes
    )
    problems += [p.evolve(path=(p.path or "$").replace("$", "$.bundle", 1)) for p in definition_problems]
    if problems:
        raise problems_error(INVALID_DEFINITION_MESSAGE, problems, code="invalid_bundle")
    for role in new_roles:
        IdtRole.objects.create(
            organization=scope.organization,
            code=role["code"],
            name=role["name"],
            bills_ffs=bool(role.get("bills_ffs")),
            service_codes=list(role.get("service_codes", [])),
        )
    for market in new_markets:
        Market.objects.create(
            organization=scope.organization,
            code=market["code"],
            name=market["name"],
            rural=bool(market.get("rural")),
            travel_minutes_per_visit=Decimal(str(market.get("travel_minutes_per_visit", 0))),
            miles_per_visit=Decimal(str(market.get("miles_per_visit", 0))),
        )
    bundle = Bundle.objects.create(
        payer=scope.organization, name=normalized["name"], lines_of_business=normalized["lines_of_business"]
    )
    BundleVersion.objects.create(bundle=bundle, definition=normalized, created_by=scope.user)
    return bundle


# --- sharing a published version (read-only) and adopting a shared one --------------------------


def _share_label(version: BundleVersion) -> str:
    return f"{version.bundle.name} {version.label}"


def _record_share(share: BundleVersionShare, *, user, action: str, verb: str) -> None:
    """The change in the access log of both organisations: the owner's and the recipient's."""
    version = share.bundle_version
    owner, recipient = version.bundle.payer, share.organization
    for organization, detail in (
        (owner, f"{_share_label(version)} {verb} {recipient.display_name}"),
        (recipient, f"{_share_label(version)} of {owner.display_name} {verb} your organisation"),
    ):
        record_event(
            user=user,
            organization=organization,
            action=f"bundle_version.{action}",
            object_type="bundle_version",
            object_id=f"{version.bundle.public_id} {version.label}",
            detail=detail,
        )


def share_recipient_check(scope: Scope, organization: Organization) -> None:
    """A share goes to another organisation (bundle versions and pricing runs alike)."""
    if organization.pk == scope.organization.pk:
        from accounts.selectors import SHARE_WITH_OWN_MESSAGE

        raise ApplicationError(SHARE_WITH_OWN_MESSAGE, code="share_with_own_organization")


def share_create(model: type[Share], *, already_shared: str, **fields: Any) -> Share:
    """A new share; the one-active constraint turns a second active share into a 409."""
    try:
        with transaction.atomic():
            return model.objects.create(**fields)
    except IntegrityError:
        raise ConflictError(already_shared, code="already_shared") from None


def share_revoke(share: Share, *, scope: Scope) -> None:
    """Revoke once (a conditional update: two revokes at once cannot both succeed); ``share`` reloaded."""
    updated = (
        type(share)
        .objects.filter(pk=share.pk, revoked_at__isnull=True)
        .update(revoked_at=timezone.now(), revoked_by=scope.user)
    )
    if not updated:
        raise ConflictError(SHARE_REVOKED_MESSAGE, code="share_revoked")
    share.refresh_from_db()


@transaction.atomic
def version_share(
    *, scope: Scope, version: BundleVersion, organization: Organization, note: str = ""
) -> BundleVersionShare:
    """Let ``organization`` read the published ``version`` (its bundle page shows only the versions
    shared); it can never change it nor share it on."""
    _require_owner(scope, version.bundle, "bundle.share")
    share_recipient_check(scope, organization)
    version = BundleVersion.objects.select_for_update().select_related("bundle__payer").get(pk=version.pk)
    if version.status != BundleVersionStatus.PUBLISHED:
        raise ConflictError(SHARE_NOT_PUBLISHED_MESSAGE, code="version_not_published")
    share = share_create(
        BundleVersionShare,
        already_shared=ALREADY_SHARED_MESSAGE,
        bundle_version=version,
        organization=organization,
        note=note,
        shared_by=scope.user,
    )
    _record_share(share, user=scope.user, action="share", verb="shared with")
    return share


@transaction.atomic
def version_share_revoke(*, scope: Scope, share: BundleVersionShare) -> BundleVersionShare:
    """Stop sharing: the recipient gets 404 again. Once; sharing again makes a new share."""
    _require_owner(scope, share.bundle_version.bundle, "bundle.share")
    share_revoke(share, scope=scope)
    _record_share(share, user=scope.user, action="unshare", verb="no longer shared with")
    return share


@transaction.atomic
def bundle_adopt(*, scope: Scope, version: BundleVersion) -> Bundle:
    """A new bundle of the scope's own, drafted from a version another organisation shared with it,
    recording where it came from. The draft keeps the definition as it is: roles and markets the
    adopter lacks stay in it, and the publish check lists them."""
    scope.require("bundle.edit")
    if version.bundle.payer_id == scope.organization.pk:
        raise ApplicationError(ADOPT_OWN_MESSAGE, code="adopt_own_bundle")
    if (
        not BundleVersionShare.objects.active()
        .filter(bundle_version=version, organization=scope.organization)
        .exists()
    ):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    definition = copy.deepcopy(version.definition)
    bundle = Bundle.objects.create(
        payer=scope.organization,
        name=definition.get("name") or version.bundle.name,
        lines_of_business=definition.get("lines_of_business") or [],
        adopted_from=version,
    )
    BundleVersion.objects.create(bundle=bundle, definition=definition, created_by=scope.user)
    for organization in (scope.organization, version.bundle.payer):
        record_event(
            user=scope.user,
            organization=organization,
            action="bundle_version.adopt",
            object_type="bundle_version",
            object_id=f"{version.bundle.public_id} {version.label}",
            detail=f"{_share_label(version)} of {version.bundle.payer.display_name}"
            f" adopted by {scope.organization.display_name}",
        )
    return bundle
