"""Reads of contracts, their versions, terms and rate sheets, scoped to the user's organisation.

A provider sees a contract once the plan has sent it (proposed it at least once), and of its
versions only those sent to it: a plan's unsent draft is the plan's own working paper.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse

from accounts.models import Organization, OrganizationKind
from accounts.tenancy import Scope, get_scoped_or_404, scoped
from bundles.definition import episode_days
from bundles.models import Market
from bundles.phases import phases
from contracts import rules
from contracts.models import (
    ACTIVATED_STATUSES,
    PENDING_STATUSES,
    Contract,
    ContractAcceptance,
    ContractEvent,
    ContractOffer,
    ContractVersion,
    RateSheetExport,
    Side,
    VersionStatus,
)
from contracts.states import CONTRACT, CONTRACT_VERSION, PLAN_ONLY_ACTIONS
from contracts.terms import ContractTerms, RateCell
from core.domain.codes import lob_label
from core.domain.money import to_cents
from core.errors import NOT_FOUND_MESSAGE, NotFoundError
from core.models import BulkItem, BulkItemStatus
from core.worklist import WorkItem

NO_TERMS_IN_FORCE_MESSAGE = "No version of this contract was in force on that date."


def _visible_contracts(queryset: QuerySet[Contract], scope: Scope) -> QuerySet[Contract]:
    contracts = scoped(queryset, scope)
    if not scope.is_payer:
        contracts = contracts.filter(first_sent_at__isnull=False)
    return contracts


def _visible_versions(queryset: QuerySet[ContractVersion], scope: Scope) -> QuerySet[ContractVersion]:
    versions = scoped(queryset, scope)
    if not scope.is_payer:
        versions = versions.filter(sent_at__isnull=False)
    return versions


def contract_list(
    *,
    scope: Scope,
    status: str = "",
    search: str = "",
    counterparty: str = "",
    bundle: str = "",
    market: str = "",
) -> QuerySet[Contract]:
    """Contracts with their parties and current version's bundle, in a constant number of queries."""
    scope.require("contract.view")
    contracts = _visible_contracts(
        Contract.objects.select_related("payer", "provider", "current_version__bundle_version__bundle"), scope
    )
    if status:
        contracts = contracts.filter(status=status)
    if search:
        contracts = contracts.filter(
            Q(number__icontains=search)
            | Q(provider__legal_name__icontains=search)
            | Q(payer__legal_name__icontains=search)
        )
    if counterparty:
        try:
            uuid.UUID(str(counterparty))
        except ValueError:
            return contracts.none()
        contracts = contracts.filter(Q(provider__public_id=counterparty) | Q(payer__public_id=counterparty))
    if bundle:
        try:
            uuid.UUID(str(bundle))
        except ValueError:
            return contracts.none()
        contracts = contracts.filter(current_version__bundle_version__bundle__public_id=bundle)
    if market:
        if connection.vendor == "postgresql":
            contracts = contracts.filter(current_version__markets__contains=[market])
        else:
            contracts = contracts.filter(current_version__markets__icontains=f'"{market}"')
    return contracts.order_by("-created_at", "-number")


def contract_get(*, scope: Scope, contract_id: str) -> Contract:
    """By public id (UUID) or number (CTR-2026-0001)."""
    scope.require("contract.view")
    contracts = Contract.objects.select_related(
        "payer", "provider", "current_version__bundle_version__bundle"
    )
    try:
        lookup = {"public_id": uuid.UUID(str(contract_id))}
    except ValueError:
        lookup = {"number": str(contract_id).upper()}
    try:
        return _visible_contracts(contracts, scope).get(**lookup)
    except Contract.DoesNotExist as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc


def version_list(*, scope: Scope, contract: Contract) -> QuerySet[ContractVersion]:
    return _visible_versions(
        ContractVersion.objects.filter(contract=contract).select_related("bundle_version__bundle"), scope
    ).order_by("-number")


def version_get(*, scope: Scope, contract: Contract, number: Any) -> ContractVersion:
    try:
        number = int(number)
    except (TypeError, ValueError) as exc:
        raise NotFoundError(NOT_FOUND_MESSAGE) from exc
    versions = ContractVersion.objects.filter(contract=contract).select_related(
        "contract__payer", "contract__provider", "bundle_version__bundle"
    )
    return get_scoped_or_404(_visible_versions(versions, scope), scope, number=number)


def version_for_rate_sheet(*, scope: Scope, contract: Contract, number: Any = None) -> ContractVersion:
    """The named version, else the contract's current one."""
    if number in (None, ""):
        number = contract.current_version.number if contract.current_version_id else 1
    return version_get(scope=scope, contract=contract, number=number)


def pending_version(*, contract: Contract) -> ContractVersion | None:
    """The version in draft or proposed, if any (there is at most one)."""
    return ContractVersion.objects.filter(contract=contract, status__in=PENDING_STATUSES).first()


def previous_activated(*, version: ContractVersion) -> ContractVersion | None:
    return (
        ContractVersion.objects.filter(
            contract_id=version.contract_id, number__lt=version.number, status__in=ACTIVATED_STATUSES
        )
        .order_by("-number")
        .first()
    )


def event_list(*, scope: Scope, contract: Contract) -> QuerySet[ContractEvent]:
    events = ContractEvent.objects.filter(contract=contract).select_related("user", "organization", "version")
    if not scope.is_payer:
        events = events.filter(Q(version__isnull=True) | Q(version__sent_at__isnull=False))
    return events.order_by("at", "pk")


def provider_choices(*, scope: Scope) -> QuerySet[Organization]:
    """The provider directory a plan opens contracts from (names only; not tenant data)."""
    scope.require("contract.edit")
    return Organization.objects.filter(kind=OrganizationKind.PROVIDER).order_by("legal_name")


def _with_progress(exports: QuerySet[RateSheetExport]) -> QuerySet[RateSheetExport]:
    """Each export with its operation and the number of its contracts done so far (live progress)."""
    done = (
        BulkItem.objects.filter(operation_id=OuterRef("operation_id"), status=BulkItemStatus.DONE)
        .order_by()
        .values("operation_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return exports.select_related("requested_by", "operation").annotate(
        items_done=Coalesce(Subquery(done), 0)
    )


def export_get(*, scope: Scope, export_id) -> RateSheetExport:
    export = get_scoped_or_404(_with_progress(RateSheetExport.objects.all()), scope, public_id=export_id)
    scope.require("contract.export")
    return export


def export_list(*, scope: Scope) -> QuerySet[RateSheetExport]:
    scope.require("contract.export")
    return scoped(_with_progress(RateSheetExport.objects.defer("content")), scope)


def export_items(*, export: RateSheetExport) -> list[BulkItem]:
    """Each contract of an export with its status and reason, by number (one query)."""
    if export.operation_id is None:
        return []
    return list(BulkItem.objects.filter(operation_id=export.operation_id).order_by("label", "pk"))


# --- a version as plain data -------------------------------------------------------------------


def version_document(version: ContractVersion) -> dict[str, Any]:
    """Every rate and term of a version as JSON-ready plain data (what the fingerprint hashes)."""
    contract = version.contract
    bundle_version = version.bundle_version
    definition = bundle_version.definition
    rates, details = {}, {}
    for entry in version.rates.all().order_by("lob", "tier", "market", "phase"):
        key = rules.rate_key(entry.lob, entry.tier, entry.market, entry.phase)
        rates[key] = rules.money(entry.pmpm)
        details[key] = {
            "priced_pmpm": None if entry.priced_pmpm is None else rules.money(entry.priced_pmpm),
            "difference": None if entry.difference is None else rules.money(entry.difference),
            "source": entry.source,
            "reason": entry.reason,
        }
    fees = {fee.market: rules.money(fee.fee) for fee in version.assessment_fees.all()}
    market_names = dict(
        Market.objects.filter(organization_id=contract.payer_id, code__in=version.markets).values_list(
            "code", "name"
        )
    )
    return {
        "contract": contract.number,
        "contract_id": str(contract.public_id),
        "version": version.number,
        "status": version.status,
        "payer": {"id": str(contract.payer.public_id), "name": contract.payer.legal_name},
        "provider": {
            "id": str(contract.provider.public_id),
            "name": contract.provider.legal_name,
            "npi": contract.provider.npi,
        },
        "bundle": {
            "id": str(bundle_version.bundle.public_id),
            "name": definition.get("name", ""),
            "number": bundle_version.number,
            "content_hash": bundle_version.content_hash,
            "label": f"{definition.get('name', '')} v{bundle_version.number}",
        },
        "effective_start": version.effective_start.isoformat(),
        "effective_end": version.effective_end.isoformat() if version.effective_end else None,
        "lines_of_business": list(version.lines_of_business),
        "markets": list(version.markets),
        "market_names": {code: market_names.get(code, code) for code in version.markets},
        "tiers": [{"code": t["code"], "name": t.get("name", "")} for t in definition.get("tiers", [])],
        # a phased bundle's phases (from the bundle, fingerprinted by its content hash); [] when none
        "phases": [{"code": p.code, "name": p.name, "from_month": p.from_month} for p in phases(definition)],
        "rates": rates,
        "rate_details": details,
        "assessment_fees": fees,
        "assessment_lookback_months": version.assessment_lookback_months,
        "proration_rule": version.proration_rule,
        "tier_rule": version.tier_rule,
        "retro_window_months": version.retro_window_months,
        "roster_due_day": version.roster_due_day,
        "withhold_percentage": str(Decimal(version.withhold_percentage).quantize(Decimal("0.0001"))),
        "quality_terms": list(version.quality_terms),
        "shared_savings_terms": dict(version.shared_savings_terms),
        "quality_bonus": dict(version.quality_bonus) if version.quality_bonus else None,
        "termination_notice_days": version.termination_notice_days,
        "single_approval_limit": (
            None if version.single_approval_limit is None else str(to_cents(version.single_approval_limit))
        ),
        "recovery_offset_share": (
            None
            if version.recovery_offset_share is None
            else rules.plain_number(Decimal(version.recovery_offset_share))
        ),
        "episode_days": episode_days(definition),  # from the bundle (fingerprinted by its content hash)
        "episode_installments": version.episode_installments,
        "episode_early_exit": version.episode_early_exit,
        "episode_renewal": version.episode_renewal,
        "pricing_run_id": version.pricing_run_id,
        "amends": _amended_version(version),
        "negotiation": _negotiation(version),
    }


def _negotiation(version: ContractVersion) -> dict[str, Any] | None:
    """Which round's offer the terms are, and whose, once the version was countered (ContractOffer);
    None for a version never negotiated (its document, fingerprint and rate sheets are as before), and
    for a draft (returned after a round: the plan's next proposal is not negotiated yet)."""
    if not version.offer_side or version.status == VersionStatus.DRAFT:
        return None
    return {"round": version.proposal_round, "side": version.offer_side, "kind": version.offer_kind}


def document_for(*, scope: Scope, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as ``scope`` may see it: the priced rates (and each cell's difference from them)
    are the plan's own pricing, never shown to the provider. The fingerprint is of the whole document."""
    if scope.is_payer:
        return document
    details = {
        key: {**detail, "priced_pmpm": None, "difference": None}
        for key, detail in document["rate_details"].items()
    }
    return {**document, "rate_details": details}


def _amended_version(version: ContractVersion) -> dict[str, Any] | None:
    """For an amendment, the version it replaces (shown on the rate sheet, not fingerprinted)."""
    if version.number == 1:
        return None
    previous = (
        ContractVersion.objects.filter(contract_id=version.contract_id, number__lt=version.number)
        .exclude(status=VersionStatus.WITHDRAWN)
        .order_by("-number")
        .only("number", "effective_start")
        .first()
    )
    return (
        {"version": previous.number, "effective_start": previous.effective_start.isoformat()}
        if previous
        else None
    )


def version_fingerprint(version: ContractVersion, document: dict[str, Any] | None = None) -> str:
    """The stored fingerprint of a frozen version, or the live one of a draft."""
    if version.fingerprint:
        return version.fingerprint
    return rules.fingerprint(document or version_document(version))


def version_terms(version: ContractVersion) -> ContractTerms:
    definition = version.bundle_version.definition
    rates = {RateCell(e.tier, e.market, e.lob, e.phase): e.pmpm for e in version.rates.all()}
    return ContractTerms(
        contract_number=version.contract.number,
        version=version.number,
        effective_start=version.effective_start,
        effective_end=version.in_force_end if version.status in ACTIVATED_STATUSES else version.effective_end,
        bundle_version_ids=(version.bundle_version_id,),
        tiers=tuple(t["code"] for t in definition.get("tiers", [])),
        markets=tuple(version.markets),
        lines_of_business=tuple(version.lines_of_business),
        rates=rates,
        assessment_fees={f.market: f.fee for f in version.assessment_fees.all()},
        assessment_lookback_months=version.assessment_lookback_months,
        proration_rule=version.proration_rule,
        tier_rule=version.tier_rule,
        retro_window_months=version.retro_window_months,
        roster_due_day=version.roster_due_day,
        withhold_percentage=Decimal(version.withhold_percentage),
        quality_terms=[dict(t) for t in version.quality_terms],
        shared_savings_terms=dict(version.shared_savings_terms),
        quality_bonus=dict(version.quality_bonus) if version.quality_bonus else None,
        termination_notice_days=version.termination_notice_days,
        single_approval_limit=version.single_approval_limit,
        recovery_offset_share=(
            Decimal(1) if version.recovery_offset_share is None else Decimal(version.recovery_offset_share)
        ),
        episode_days=episode_days(definition),
        episode_installments=version.episode_installments or 1,
        episode_early_exit=version.episode_early_exit or "full",
        episode_renewal=bool(version.episode_renewal),
        phases=phases(definition),
        fingerprint=version.fingerprint,
    )


def version_in_force(*, contract: Contract, on: date) -> ContractVersion | None:
    return (
        ContractVersion.objects.filter(
            contract=contract, status__in=ACTIVATED_STATUSES, effective_start__lte=on
        )
        .filter(Q(in_force_end__isnull=True) | Q(in_force_end__gt=on))
        .select_related("contract", "bundle_version")
        .order_by("-number")
        .first()
    )


def in_force_among(versions: Iterable[ContractVersion], on: date) -> ContractVersion | None:
    """:func:`version_in_force` over versions already read (say, prefetched for many contracts)."""
    candidates = [
        v
        for v in versions
        if v.status in ACTIVATED_STATUSES
        and v.effective_start <= on
        and (v.in_force_end is None or v.in_force_end > on)
    ]
    return max(candidates, key=lambda v: v.number, default=None)


def activated_versions() -> Prefetch:
    """Prefetch a contract's activated versions as ``contract.activated`` (for :func:`in_force_among`)."""
    return Prefetch(
        "versions",
        queryset=ContractVersion.objects.filter(status__in=ACTIVATED_STATUSES),
        to_attr="activated",
    )


def terms_in_force(*, contract: Contract, on: date) -> ContractTerms:
    """The terms of the version in force on ``on`` (for a month: pass its first day).

    Only versions both sides accepted count; a superseded version still answers for the months
    before its amendment took effect. Raises ``NotFoundError`` (code ``no_terms_in_force``) when
    no version was in force that day.
    """
    version = version_in_force(contract=contract, on=on)
    if version is None:
        raise NotFoundError(
            NO_TERMS_IN_FORCE_MESSAGE,
            code="no_terms_in_force",
            details={"contract": contract.number, "on": on.isoformat()},
        )
    return version_terms(version)


def version_diff(*, before: ContractVersion, after: ContractVersion) -> dict[str, Any]:
    return rules.diff(version_document(before), version_document(after))


def rate_tables(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The rate table for display: one per LOB, tiers down (a phased version: each tier's phases, one
    row per phase with its name) and markets across."""
    phase_list = document.get("phases") or [None]
    tables = []
    for lob in document["lines_of_business"]:
        rows = []
        for tier in document["tiers"]:
            for phase in phase_list:
                code = phase["code"] if phase else ""
                cells = []
                for market in document["markets"]:
                    key = rules.rate_key(lob, tier["code"], market, code)
                    cells.append(
                        {
                            "key": key,
                            "lob": lob,
                            "tier": tier["code"],
                            "market": market,
                            "phase": code,
                            "phase_name": phase["name"] if phase else "",
                            "pmpm": document["rates"].get(key),
                            **document["rate_details"].get(key, {}),
                        }
                    )
                rows.append({"tier": tier, "phase": phase, "cells": cells})
        tables.append(
            {
                "lob": lob,
                "lob_name": lob_label(lob),
                "rows": rows,
                "phased": bool(document.get("phases")),
                "markets": [
                    {"code": m, "name": document["market_names"].get(m, m)} for m in document["markets"]
                ],
            }
        )
    return tables


def contract_actions(*, scope: Scope, contract: Contract, pending: ContractVersion | None) -> list[str]:
    """What the scope's role may do to the contract now (the API lists them; pages show the buttons).

    The actions contracts.states declares from the pending version's status and the contract's that
    the role may fire, less those the services would refuse for a reason other than the status:
    another plan's contract, this side's acceptance already given, an amendment already pending.
    """
    actions = CONTRACT_VERSION.actions_for(pending.status, can=scope.can) if pending is not None else []
    actions += CONTRACT.actions_for(contract.status, can=scope.can)
    own_plan = scope.is_payer and contract.payer_id == scope.organization.pk
    if not own_plan:
        actions = [action for action in actions if action not in PLAN_ONLY_ACTIONS]
    if "accept" in actions and pending is not None:
        side = "payer" if scope.is_payer else "provider"
        if pending.acceptances.filter(side=side, proposal_round=pending.proposal_round).exists():
            actions.remove("accept")
    if "amend" in actions and pending is not None:
        actions.remove("amend")
    if pending is not None and {"counter", "reject_counter"} & set(actions):
        # the side whose offer is on the table does not answer it; only a counter-offer is rejected
        side = "payer" if scope.is_payer else "provider"
        if (pending.offer_side or "payer") == side:
            actions = [action for action in actions if action not in ("counter", "reject_counter")]
        elif pending.offer_kind != "counter" and "reject_counter" in actions:
            actions.remove("reject_counter")
    return actions


def version_offer_terms(version: ContractVersion) -> dict[str, Any]:
    """The negotiable terms of ``version`` as they stand: amounts as strings (ContractOffer.terms)."""
    rates, reasons = {}, {}
    for entry in version.rates.all().order_by("lob", "tier", "market", "phase"):
        key = rules.rate_key(entry.lob, entry.tier, entry.market, entry.phase)
        rates[key] = rules.money(entry.pmpm)
        if entry.source == "negotiated" and entry.reason:
            reasons[key] = entry.reason
    return {
        "rates": rates,
        "rate_reasons": reasons,
        "assessment_fees": {fee.market: rules.money(fee.fee) for fee in version.assessment_fees.all()},
        "withhold_percentage": str(Decimal(version.withhold_percentage).quantize(Decimal("0.0001"))),
        "quality_terms": [dict(term) for term in version.quality_terms],
    }


def negotiated_version(*, scope: Scope, contract: Contract, number: Any = None) -> ContractVersion:
    """The version whose negotiation to show: ``number``, else the pending one the scope sees (a
    provider: once sent), else the current one."""
    if number in (None, ""):
        pending = pending_version(contract=contract)
        if pending is not None and (scope.is_payer or pending.sent_at is not None):
            number = pending.number
        else:
            number = contract.current_version.number if contract.current_version_id else 1
    return version_get(scope=scope, contract=contract, number=number)


def offer_list(*, scope: Scope, contract: Contract, version: ContractVersion) -> QuerySet[ContractOffer]:
    """The rounds of ``version``'s negotiation, first to last, with their authors (``contract`` is one
    the scope sees: contract_get)."""
    return (
        ContractOffer.objects.filter(version=version, version__contract=contract)
        .select_related("author")
        .order_by("round")
    )


# --- the workspace's worklist ----------------------------------------------------------------------


def contract_work(*, scope: Scope) -> list[WorkItem]:
    """Proposals and amendments waiting for this side's acceptance, and (for the plan) proposals the
    provider returned with comments, to revise. Two queries whatever the number of contracts."""
    items: list[WorkItem] = []
    if scope.can("contract.accept"):
        side = Side.PAYER if scope.is_payer else Side.PROVIDER
        accepted_by_me = ContractAcceptance.objects.filter(
            version=OuterRef("pk"), side=side, proposal_round=OuterRef("proposal_round")
        )
        waiting = (
            _visible_versions(ContractVersion.objects.filter(status=VersionStatus.PROPOSED), scope)
            .exclude(Exists(accepted_by_me))
            .select_related("contract__payer", "contract__provider")
            .order_by("proposed_at")
        )
        for version in waiting:
            contract = version.contract
            other = contract.provider if scope.is_payer else contract.payer
            items.append(
                WorkItem(
                    kind="amendment_awaiting" if version.is_amendment else "proposal_awaiting",
                    title=f"{contract.number} {version.label} with {other.display_name}",
                    detail=f"Proposed {version.proposed_at:%Y-%m-%d}, from {version.effective_start:%Y-%m-%d}: "
                    "read it, then accept it or return it with comments.",
                    url=reverse("contract-detail", kwargs={"contract_id": contract.number}),
                )
            )
    if scope.can("contract.edit"):
        returned = (
            scoped(ContractVersion.objects.filter(status=VersionStatus.DRAFT, proposal_round__gt=0), scope)
            .select_related("contract__provider")
            .order_by("updated_at")
        )
        for version in returned:
            contract = version.contract
            items.append(
                WorkItem(
                    kind="proposal_returned",
                    title=f"{contract.number} {version.label} with {contract.provider.display_name}",
                    detail="Returned with comments: revise it and propose it again.",
                    url=reverse("contract-detail", kwargs={"contract_id": contract.number}),
                )
            )
    return items
