"""What a contract lets each party see of the other's records (registered in ``ContractsConfig.ready``).

Organisations, markets and bundles live below contracts, so their ``tenant_filter`` cannot name a
contract; these grants are added to it through ``accounts.visibility``.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import Organization
from accounts.visibility import register_grant
from bundles.models import Bundle, BundleVersion, Market
from contracts.models import Contract, ContractBundleVersion


def counterparties(organization: Organization) -> Q:
    """The organisations it has contracts with: a provider's plans, a plan's providers."""
    return Q(pk__in=Contract.objects.filter(provider=organization).values("payer_id")) | Q(
        pk__in=Contract.objects.filter(payer=organization).values("provider_id")
    )


def markets_of_contracted_plans(organization: Organization) -> Q:
    """A provider sees the markets of the plans it has contracts with."""
    return Q(organization__in=Contract.objects.filter(provider=organization).values("payer_id"))


def bundles_held(organization: Organization) -> Q:
    """A provider sees the bundles it holds a contract on."""
    held = ContractBundleVersion.objects.filter(contract__provider=organization).values(
        "bundle_version__bundle_id"
    )
    return Q(pk__in=held)


def bundle_versions_held(organization: Organization) -> Q:
    """A provider sees only the versions its contracts name."""
    held = ContractBundleVersion.objects.filter(contract__provider=organization).values("bundle_version_id")
    return Q(pk__in=held)


def register() -> None:
    register_grant(Organization, counterparties)
    register_grant(Market, markets_of_contracted_plans)
    register_grant(Bundle, bundles_held)
    register_grant(BundleVersion, bundle_versions_held)
