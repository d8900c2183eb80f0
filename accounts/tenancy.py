"""The one tenancy scoping path.

A request acts as one membership: a user in one organisation with one role (a ``Scope``).
Every selector narrows its queryset with ``scoped(queryset, scope)``, which applies the model's
``tenant_filter(organization)`` (what a higher app lets an organisation see of the model, such as a
contract's counterparty, is registered as a grant in ``accounts.visibility``); objects are fetched with
``get_scoped_or_404`` so that an object of another organisation and a missing one answer the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from accounts import permissions
from accounts.models import Membership, Organization
from core.errors import NOT_FOUND_MESSAGE, PERMISSION_DENIED_MESSAGE, NotFoundError, PermissionDeniedError

M = TypeVar("M", bound=Model)

ORGANIZATION_HEADER = "HTTP_X_ORGANIZATION"
SESSION_KEY = "active_organization"


@dataclass(frozen=True)
class Scope:
    membership: Membership

    @property
    def user(self):
        return self.membership.user

    @property
    def organization(self) -> Organization:
        return self.membership.organization

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def is_payer(self) -> bool:
        return self.organization.kind == "payer"

    def can(self, action: str) -> bool:
        return permissions.allows(self.role, self.organization.kind, action)

    def require(self, action: str) -> None:
        if not self.can(action):
            raise PermissionDeniedError(PERMISSION_DENIED_MESSAGE, details={"action": action})


def memberships_of(user) -> QuerySet[Membership]:
    return (
        Membership.objects.active()
        .filter(user=user)
        .select_related("organization", "user")
        .order_by("created_at", "pk")
    )


def resolve_scope(user, organization_id: str | None = None) -> Scope | None:
    """The membership a request acts as: the named organisation's, else the user's first one.

    Naming an organisation the user does not belong to gives ``None`` (the caller answers 404),
    never a silent fallback to another organisation.
    """
    if not user or not user.is_authenticated:
        return None
    memberships = memberships_of(user)
    if organization_id:
        try:
            return Scope(memberships.get(organization__public_id=organization_id))
        except (Membership.DoesNotExist, ValueError, ValidationError):  # a malformed id is "no such one"
            return None
    first = memberships.first()
    return Scope(first) if first else None


def scoped(queryset: QuerySet[M], scope: Scope) -> QuerySet[M]:
    """Narrow any tenant-owned queryset to what the scope's organisation may see."""
    return queryset.filter(queryset.model.tenant_filter(scope.organization))


def get_scoped_or_404(queryset: QuerySet[M], scope: Scope, **lookup: Any) -> M:
    try:
        return scoped(queryset, scope).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, ValidationError) as exc:  # incl. a malformed id
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def scope_from_request(request) -> Scope | None:
    """The scope a request acts as, resolved once per request.

    The API names the organisation in the ``X-Organization`` header; the web keeps the choice in
    the session (the organisation switcher).
    """
    if not hasattr(request, "_carebundle_scope"):
        organization_id = request.META.get(ORGANIZATION_HEADER)
        if organization_id is None and hasattr(request, "session"):
            organization_id = request.session.get(SESSION_KEY)
        request._carebundle_scope = resolve_scope(request.user, organization_id)
    return request._carebundle_scope
