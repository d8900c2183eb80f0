"""``{% if scope|can:"membership.manage" %}``: a page asks the one permission map (accounts.permissions),
never a role by name."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def can(scope, action: str) -> bool:
    return bool(scope) and scope.can(action)
