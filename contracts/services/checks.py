"""The checks a contract version's terms go through: the terms themselves, no overlapping contract
of the provider, and an amendment's start date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from bundles.definition import episode_days
from bundles.models import BundleVersion
from bundles.phases import phases
from contracts import rules
from contracts.models import ACTIVATED_STATUSES, Contract, ContractVersion
from contracts.services.common import _problems_error
from core.errors import ApplicationError, ConflictError

AMENDMENT_START_MESSAGE = (
    "An amendment takes effect on the first of a month after the previous version's start."
)
AMENDMENT_AFTER_END_MESSAGE = "An amendment must take effect before the contract ends."
OVERLAP_MESSAGE = (
    "The provider already has an active contract for this bundle in the same market and period; "
    "end that one first or change the markets or dates."
)
TERM_FIELDS = (
    "effective_start",
    "effective_end",
    "lines_of_business",
    "markets",
    "assessment_lookback_months",
    "proration_rule",
    "tier_rule",
    "retro_window_months",
    "roster_due_day",
    "withhold_percentage",
    "quality_terms",
    "shared_savings_terms",
    "quality_bonus",
    "termination_notice_days",
    "single_approval_limit",
    "recovery_offset_share",
    "episode_installments",
    "episode_early_exit",
    "episode_renewal",
)
DEFAULT_TERMS: dict[str, Any] = {
    "effective_end": None,
    "assessment_lookback_months": 12,
    "proration_rule": "any_day",
    "tier_rule": "first_day",
    "retro_window_months": 3,
    "roster_due_day": 10,
    "withhold_percentage": Decimal("0"),
    "quality_terms": [],
    "shared_savings_terms": {},
    "quality_bonus": None,
    "termination_notice_days": 90,
    "single_approval_limit": None,
    "recovery_offset_share": None,
    "episode_installments": None,
    "episode_early_exit": None,
    "episode_renewal": None,
}


def _bundle_scope(bundle_version: BundleVersion) -> tuple[list[str], list[str], list[str]]:
    definition = bundle_version.definition
    return (
        [t["code"] for t in definition.get("tiers", [])],
        list(definition.get("markets", [])),
        list(definition.get("lines_of_business", [])),
    )


def _bundle_phases(bundle_version: BundleVersion) -> list[str]:
    """The codes of the bundle's phases of enrollment: a rate cell per phase; [] when it has none."""
    return [p.code for p in phases(bundle_version.definition)]


def _current_terms(version: ContractVersion) -> dict[str, Any]:
    return {field: getattr(version, field) for field in TERM_FIELDS}


def _validated_terms(bundle_version: BundleVersion, terms: dict[str, Any]) -> dict[str, Any]:
    _, markets, lobs = _bundle_scope(bundle_version)
    normalized, problems = rules.validate_terms(
        terms,
        allowed_markets=markets,
        allowed_lobs=lobs,
        episode_days=episode_days(bundle_version.definition),
    )
    if problems:
        raise _problems_error(problems)
    return normalized


def _ranges_overlap(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return (b_end is None or a_start < b_end) and (a_end is None or b_start < a_end)


def _check_overlap(
    *, contract: Contract, bundle_id: int, markets: list[str], start: date, end: date | None
) -> None:
    """Refuse when another contract of the provider, for the same bundle and a shared market, is in force
    (or agreed to be) over an overlapping period."""
    others = (
        ContractVersion.objects.filter(
            contract__provider_id=contract.provider_id,
            bundle_version__bundle_id=bundle_id,
            status__in=ACTIVATED_STATUSES,
        )
        .exclude(contract_id=contract.pk)
        .select_related("contract")
    )
    clashes = []
    for other in others:
        other_end = other.in_force_end
        if other_end is not None and other_end <= other.effective_start:
            continue
        shared = sorted(set(other.markets) & set(markets))
        if shared and _ranges_overlap(start, end, other.effective_start, other_end):
            clashes.append(
                {
                    "contract": other.contract.number,
                    "version": other.number,
                    "markets": shared,
                    "effective_start": other.effective_start.isoformat(),
                    "in_force_end": other_end.isoformat() if other_end else None,
                }
            )
    if clashes:
        raise ConflictError(OVERLAP_MESSAGE, code="overlapping_contract", details={"contracts": clashes})


def _check_amendment_start(version: ContractVersion, start: date) -> None:
    previous = (
        ContractVersion.objects.filter(
            contract_id=version.contract_id, number__lt=version.number, status__in=ACTIVATED_STATUSES
        )
        .order_by("-number")
        .first()
    )
    if previous is None:
        return
    if start.day != 1 or start <= previous.effective_start:
        raise ApplicationError(
            AMENDMENT_START_MESSAGE,
            code="invalid_amendment_date",
            details={
                "effective_start": start.isoformat(),
                "previous_version": previous.number,
                "previous_start": previous.effective_start.isoformat(),
            },
        )
    if previous.in_force_end is not None and start >= previous.in_force_end:
        raise ApplicationError(
            AMENDMENT_AFTER_END_MESSAGE,
            code="invalid_amendment_date",
            details={
                "effective_start": start.isoformat(),
                "contract_ends": previous.in_force_end.isoformat(),
            },
        )
