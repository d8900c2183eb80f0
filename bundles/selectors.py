"""Reads of bundles, versions, markets and roles, scoped to the user's organisation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Max, Q, QuerySet

from accounts.tenancy import Scope, get_scoped_or_404, scoped
from bundles import definition as bundle_definition
from bundles.models import (
    Bundle,
    BundlePolicy,
    BundleVersion,
    BundleVersionShare,
    BundleVersionStatus,
    IdtRole,
    Market,
)
from bundles.states import BUNDLE_VERSION
from core.errors import NOT_FOUND_MESSAGE, NotFoundError


def bundle_list(*, scope: Scope, search: str = "", status: str = "", lob: str = "") -> QuerySet[Bundle]:
    """Bundles with their latest published number and whether a draft is open, in one query.

    Its own and granted bundles only: a bundle shared with the organisation is listed on the
    "Shared with us" page (its counts here would tell of versions not shared)."""
    scope.require("bundle.view")
    bundles = (
        scoped(Bundle.objects.select_related("payer"), scope)
        .filter(Bundle.own_filter(scope.organization))
        .annotate(
            latest_number=Max("versions__number"),
            draft_count=Count("versions", filter=Q(versions__status=BundleVersionStatus.DRAFT)),
            published_count=Count("versions", filter=Q(versions__status=BundleVersionStatus.PUBLISHED)),
        )
    )
    if search:
        bundles = bundles.filter(name__icontains=search)
    if status == "draft":
        bundles = bundles.filter(draft_count__gt=0)
    elif status == "published":
        bundles = bundles.filter(published_count__gt=0)
    elif status == "retired":
        bundles = bundles.filter(latest_number__isnull=False, published_count=0)
    if lob:
        bundles = (
            bundles.filter(lines_of_business__contains=[lob])
            if _json_contains_supported()
            else bundles.filter(lines_of_business__icontains=f'"{lob}"')
        )
    return bundles.order_by("name")


def _json_contains_supported() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def bundle_get(*, scope: Scope, public_id) -> Bundle:
    scope.require("bundle.view")
    return get_scoped_or_404(
        Bundle.objects.select_related("payer", "adopted_from__bundle__payer"), scope, public_id=public_id
    )


def version_list(*, scope: Scope, bundle: Bundle) -> QuerySet[BundleVersion]:
    """Versions newest first (the draft on top); a provider sees only the versions it contracts on."""
    versions = scoped(BundleVersion.objects.filter(bundle=bundle), scope).select_related(
        "created_by", "published_by", "based_on"
    )
    return versions.order_by(F("number").desc(nulls_first=True))


def version_get(*, scope: Scope, bundle: Bundle, number: str | int) -> BundleVersion:
    """``number`` is a version number or ``"draft"``."""
    versions = BundleVersion.objects.filter(bundle=bundle).select_related(
        "bundle", "based_on", "bundle__payer"
    )
    if str(number) == "draft":
        return get_scoped_or_404(versions, scope, status=BundleVersionStatus.DRAFT)
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    return get_scoped_or_404(versions, scope, number=number)


def version_actions(*, scope: Scope, bundle: Bundle, version: BundleVersion) -> list[str]:
    """What the scope may do to the version now (the page shows these buttons): the actions declared
    from its status that the role may fire, on the plan's own bundles only (bundles.states)."""
    if bundle.payer_id != scope.organization.pk:
        return []
    return BUNDLE_VERSION.actions_for(version.status, can=scope.can)


def draft_of(*, scope: Scope, bundle: Bundle) -> BundleVersion | None:
    return scoped(
        BundleVersion.objects.filter(bundle=bundle, status=BundleVersionStatus.DRAFT), scope
    ).first()


def published_version_list(*, scope: Scope) -> QuerySet[BundleVersion]:
    """Published versions the scope may point a contract or a pricing run at (not those only shared
    with it: a share is read-only)."""
    return (
        scoped(BundleVersion.objects.filter(status=BundleVersionStatus.PUBLISHED), scope)
        .filter(BundleVersion.own_filter(scope.organization))
        .select_related("bundle")
    )


def market_list(*, scope: Scope) -> QuerySet[Market]:
    return scoped(Market.objects.all(), scope).select_related("organization")


def plan_markets(*, organization) -> QuerySet[Market]:
    return Market.objects.filter(organization=organization)


def role_list(*, scope: Scope) -> QuerySet[IdtRole]:
    return scoped(IdtRole.objects.all(), scope)


def roles_for(*, organization) -> QuerySet[IdtRole]:
    return IdtRole.objects.filter(IdtRole.tenant_filter(organization))


def required_roles_for(organization) -> list[list[str]]:
    policy = BundlePolicy.objects.filter(organization=organization).first()
    return (
        policy.required_role_groups()
        if policy
        else BundlePolicy(organization=organization).required_role_groups()
    )


def version_changes(
    *, scope: Scope, bundle: Bundle, version: BundleVersion, against: str | int | None = None
) -> tuple[BundleVersion | None, list[dict[str, Any]]]:
    """The version's changes since ``against`` (a version number), else since the version it was
    drafted from (everything, for a first version), each with its path in words."""
    base = None
    if against:
        base = version_get(scope=scope, bundle=bundle, number=against)
    elif version.based_on_id:
        base = version_get(scope=scope, bundle=bundle, number=version.based_on.number)
    role_names = dict(role_list(scope=scope).values_list("code", "name"))
    return base, bundle_definition.diff(base.definition if base else {}, version.definition, role_names)


# --- shares ------------------------------------------------------------------------------------


def is_owner(*, scope: Scope, bundle: Bundle) -> bool:
    return bundle.payer_id == scope.organization.pk


def version_share_list(*, scope: Scope, version: BundleVersion) -> QuerySet[BundleVersionShare]:
    """Every share of the version, active and revoked, newest first: its owner's only (a recipient
    gets 404, as for a page it cannot see)."""
    scope.require("bundle.view")
    if not is_owner(scope=scope, bundle=version.bundle):
        raise NotFoundError(NOT_FOUND_MESSAGE)
    return (
        scoped(BundleVersionShare.objects.filter(bundle_version=version), scope)
        .select_related("organization", "shared_by", "revoked_by", "bundle_version__bundle__payer")
        .order_by("-shared_at", "-pk")
    )


def version_share_get(*, scope: Scope, version: BundleVersion, share_id) -> BundleVersionShare:
    try:
        return (
            version_share_list(scope=scope, version=version)
            .select_related("bundle_version__bundle__payer")
            .get(public_id=share_id)
        )
    except (BundleVersionShare.DoesNotExist, ValueError, ValidationError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def version_share_received(*, scope: Scope, version: BundleVersion) -> BundleVersionShare | None:
    """The active share that lets the scope see another organisation's version (None: its own)."""
    if is_owner(scope=scope, bundle=version.bundle):
        return None
    return (
        BundleVersionShare.objects.active()
        .filter(bundle_version=version, organization=scope.organization)
        .select_related("shared_by")
        .first()
    )


def version_shares_received(*, scope: Scope) -> QuerySet[BundleVersionShare]:
    """The bundle versions other organisations share with the scope's, newest first."""
    scope.require("bundle.view")
    return (
        BundleVersionShare.objects.active()
        .filter(organization=scope.organization)
        .select_related("bundle_version__bundle__payer", "shared_by")
        .order_by("-shared_at", "-pk")
    )
