"""Who may do what: the one map of role x action (and organisation kind).

Every service and view asks ``scope.can(action)`` / ``scope.require(action)``; nothing else
decides permissions. Later apps add their actions here so the whole policy reads in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import OrganizationKind, Role

ALL_ROLES = frozenset(Role.values)
PAYER = frozenset({OrganizationKind.PAYER})
PROVIDER = frozenset({OrganizationKind.PROVIDER})
ANY_KIND = frozenset(OrganizationKind.values)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    kinds: frozenset[str] = ANY_KIND


_ADMIN = frozenset({Role.ADMIN})
_ANALYSTS = frozenset({Role.ADMIN, Role.ANALYST})
_CONTRACTING = frozenset({Role.ADMIN, Role.CONTRACT_MANAGER})
_SUBMITTERS = frozenset({Role.ADMIN, Role.SUBMITTER})
_HISTORY_READERS = frozenset({Role.ADMIN, Role.AUDITOR, Role.ANALYST, Role.CONTRACT_MANAGER})

PERMISSIONS: dict[str, Rule] = {
    # organisations and people
    "organization.view": Rule(ALL_ROLES),
    "membership.view": Rule(ALL_ROLES),
    "membership.manage": Rule(_ADMIN),
    "webhook.manage": Rule(_ADMIN),  # register and stop the organisation's webhook endpoints
    "history.view": Rule(_HISTORY_READERS),
    "audit.view": Rule(frozenset({Role.ADMIN, Role.AUDITOR})),
    # bundles and pricing: a plan's actuarial work, and a provider's own service model priced on its
    # own costs (each organisation edits and prices only what it owns)
    "bundle.view": Rule(ALL_ROLES),
    "bundle.edit": Rule(_ANALYSTS),
    "bundle.publish": Rule(_ANALYSTS),
    "bundle.share": Rule(_ANALYSTS),  # share a published version read-only with another organisation
    "pricing.view": Rule(ALL_ROLES),
    "pricing.run": Rule(_ANALYSTS),
    "pricing.edit": Rule(_ANALYSTS),  # assumption sets, experience uploads
    "pricing.quote": Rule(ALL_ROLES),
    "pricing.share": Rule(_ANALYSTS),  # share a succeeded run read-only (receiving needs no action)
    # contracts
    "contract.view": Rule(ALL_ROLES),
    "contract.edit": Rule(frozenset({Role.ADMIN, Role.CONTRACT_MANAGER}), PAYER),
    "contract.accept": Rule(_CONTRACTING),
    "contract.return": Rule(_CONTRACTING, PROVIDER),  # send a proposal back with comments
    "contract.counter": Rule(_CONTRACTING, ANY_KIND),  # counter-offer on a proposal, or reject one
    "contract.terminate": Rule(_CONTRACTING, PAYER),  # the plan terminates (issue: contracts lifecycle)
    "contract.export": Rule(_CONTRACTING, PAYER),  # zip of every active contract's rate sheets
    # enrollment and payment
    "roster.submit": Rule(_SUBMITTERS, PROVIDER),
    "roster.view": Rule(ALL_ROLES),
    "eligibility.load": Rule(_ANALYSTS, PAYER),
    "eligibility.view": Rule(ALL_ROLES, PAYER),  # the plan's 834 files and their acknowledgements
    "payment.view": Rule(ALL_ROLES),
    "payment.run": Rule(_ANALYSTS, PAYER),
    "payment.approve": Rule(_ANALYSTS, PAYER),
    "payment.correct": Rule(_ANALYSTS, PAYER),  # request a ledger correction (another approves it)
    # performance
    "performance.view": Rule(ALL_ROLES),
    "performance.upload": Rule(_ANALYSTS, PAYER),
    "performance.settle": Rule(_ANALYSTS, PAYER),
    "performance.story": Rule(frozenset({Role.ADMIN, Role.SUBMITTER}), PROVIDER),
}


def allows(role: str, kind: str, action: str) -> bool:
    """True when a member with ``role`` in an organisation of ``kind`` may do ``action``."""
    rule = PERMISSIONS.get(action)
    if rule is None:
        raise KeyError(f"Unknown action {action!r}: add it to accounts.permissions.PERMISSIONS")
    return role in rule.roles and kind in rule.kinds
