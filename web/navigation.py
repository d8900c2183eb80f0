"""The navigation: one entry per page, shown when the active role may do its action."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    action: str | None  # None: every signed-in member


NAV_ITEMS: list[NavItem] = [
    NavItem("Home", "home", None),
    NavItem("Bundles", "bundle-list", "bundle.view"),
    NavItem("Pricing", "pricing-home", "pricing.view"),
    NavItem("Shared with us", "shared-with-us", "bundle.view"),
    NavItem("Contracts", "contract-list", "contract.view"),
    NavItem("Rosters", "roster-list", "roster.view"),
    NavItem("Assessments", "assessment-list", "roster.view"),
    NavItem("Eligibility", "eligibility-list", "eligibility.load"),
    NavItem("Payments", "payment-home", "payment.view"),
    NavItem("Performance", "performance-home", "performance.view"),
    NavItem("Claims", "claims-home", "performance.upload"),
    NavItem("Organisations", "organization-list", "organization.view"),
    NavItem("Access log", "access-log", "audit.view"),
]


def items_for(scope) -> list[dict]:
    result = []
    for item in NAV_ITEMS:
        if item.action and (scope is None or not scope.can(item.action)):
            continue
        try:
            result.append({"label": item.label, "url": reverse(item.url_name), "url_name": item.url_name})
        except NoReverseMatch:
            continue
    return result
