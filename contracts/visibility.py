"""What a contract lets each party see of the other's records (registered in ``ContractsConfig.ready``).

Organisations, markets and bundles live below contracts, so their ``tenant_filter`` cannot name a
contract; these grants are added to it through ``accounts.visibility``.

A plan's contract is its own working paper until it sends it: a provider sees the plan, its markets
and its bundles from the first time the plan sends it a contract (``first_sent_at``), and not a
bundle version that only an unsent draft (an amendment still being written) names.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import Organization
from accounts.visibility import register_grant
from bundles.models import Bundle, BundleVersion, Market
from contracts.models import Contract, ContractBundleVersion


def counterparties(organization: Organization) -> Q:
    """The organisations it has contracts with: a provider's plans (once sent), a plan's providers."""
    return Q(
        pk__in=Contract.objects.filter(provider=organization, first_sent_at__isnull=False).values("payer_id")
    ) | Q(pk__in=Contract.objects.filter(payer=organization).values("provider_id"))


def markets_of_contracted_plans(organization: Organization) -> Q:
    """A provider sees the markets of the plans that have sent it a contract."""
    return Q(
        organization__in=Contract.objects.filter(provider=organization, first_sent_at__isnull=False).values(
            "payer_id"
        )
    )


def bundles_held(organization: Organization) -> Q:
    """A provider sees the bundles of the contracts sent to it."""
    return Q(pk__in=ContractBundleVersion.shown_to(organization).values("bundle_version__bundle_id"))


def bundle_versions_held(organization: Organization) -> Q:
    """A provider sees only the versions the contracts sent to it name."""
    return Q(pk__in=ContractBundleVersion.shown_to(organization).values("bundle_version_id"))


def register() -> None:
    register_grant(Organization, counterparties)
    register_grant(Market, markets_of_contracted_plans)
    register_grant(Bundle, bundles_held)
    register_grant(BundleVersion, bundle_versions_held)
