"""Negotiating a proposed version: counter-offers and their rejection, every round recorded.

A proposal is the plan's offer (round 1, ContractOffer of kind ``proposal``). The side whose offer is
not on the table answers it: it accepts it (``contract_accept``, per round: both sides accept the final
one), the provider returns it (``contract_return``), or it counters with new rates, assessment fees,
withhold or quality terms, each change with its reason (``contract_counter``); a counter-offer may be
rejected by the other side, whose own earlier offer is then back on the table as a new round, with the
rejection's reason (``contract_reject_counter``). Each round changes the proposed version's terms in
place, re-fingerprints them and leaves the version proposed; earlier rounds' acceptances no longer count.

The rates and fees of a version that has left draft are frozen by the database (migration 0004: its
triggers refuse any write to them unless the version's status reads ``draft``). A round reopens them
inside its own transaction, under the contract's and the version's row locks: the version's status is
set to draft by a plain UPDATE (no history row), the cells are written, and it is set back to proposed
before the transaction commits, so no other transaction ever sees the version as a draft and every
other writer still meets the freeze.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.tenancy import Scope
from bundles.definition import episode_days
from contracts import rules
from contracts.models import (
    AssessmentFee,
    Contract,
    ContractOffer,
    ContractVersion,
    EventKind,
    OfferKind,
    RateScheduleEntry,
    RateSource,
    Side,
    VersionStatus,
)
from contracts.selectors import version_document, version_offer_terms
from contracts.services.checks import _bundle_scope, _current_terms
from contracts.services.common import _event, _lock, _pending_for, _problems_error, _require, _side
from contracts.states import CONTRACT_VERSION
from core.domain.problems import Problem
from core.errors import ApplicationError, ConflictError, NotFoundError, PermissionDeniedError

OWN_OFFER_MESSAGE = "Your side's offer is on the table: the other side answers it."
NO_COUNTER_MESSAGE = "Only a counter-offer can be rejected; the offer on the table is not one."
NO_EARLIER_OFFER_MESSAGE = "Your side has no earlier offer on this version to go back to."
INVALID_COUNTER_MESSAGE = "The counter-offer has errors; every problem is listed."
NO_CHANGES_MESSAGE = (
    "The counter-offer changes nothing: change a rate, a fee, the withhold or the quality terms."
)
REJECTION_REASON_MESSAGE = "Say why: a reason is required to reject a counter-offer."
UNKNOWN_PRICING_RUN_MESSAGE = "No pricing run you can see has this id."

SIDE_WORDS = {Side.PAYER: "the plan", Side.PROVIDER: "the provider"}


def _withhold(value: Any) -> str:
    return str(Decimal(value).quantize(Decimal("0.0001")))


def _diff(before: dict[str, Any], after: dict[str, Any], reasons: dict[str, str]) -> list[dict[str, Any]]:
    """What differs from ``before`` to ``after``, one item per rate cell, fee, withhold, quality terms;
    ``reasons`` by the item's path (``rates.<key>``, ``assessment_fees.<market>``, the term's name)."""
    changes: list[dict[str, Any]] = []
    for key in sorted(set(before["rates"]) | set(after["rates"])):
        if before["rates"].get(key) != after["rates"].get(key):
            lob, tier, market, phase = rules.split_rate_key(key)
            changes.append(
                {
                    "field": "rates",
                    "cell": {"lob": lob, "tier": tier, "market": market, "phase": phase},
                    "label": f"{tier} · {market} · {lob}" + (f" · {phase}" if phase else ""),
                    "before": before["rates"].get(key),
                    "after": after["rates"].get(key),
                    "reason": reasons.get(f"rates.{key}", ""),
                }
            )
    for market in sorted(set(before["assessment_fees"]) | set(after["assessment_fees"])):
        if before["assessment_fees"].get(market) != after["assessment_fees"].get(market):
            changes.append(
                {
                    "field": "assessment_fees",
                    "cell": {"market": market},
                    "label": f"Assessment fee · {market}",
                    "before": before["assessment_fees"].get(market),
                    "after": after["assessment_fees"].get(market),
                    "reason": reasons.get(f"assessment_fees.{market}", ""),
                }
            )
    for field, label in (("withhold_percentage", "Withhold"), ("quality_terms", "Quality terms")):
        if before.get(field) != after.get(field):
            changes.append(
                {
                    "field": field,
                    "cell": None,
                    "label": label,
                    "before": before.get(field),
                    "after": after.get(field),
                    "reason": reasons.get(field, ""),
                }
            )
    return changes


def on_the_table(version: ContractVersion) -> str:
    """The side whose offer the proposed version's terms are (the plan's until it is countered)."""
    return version.offer_side or Side.PAYER


def may_counter(version: ContractVersion, side: str) -> bool:
    return version.status == VersionStatus.PROPOSED and on_the_table(version) != side


def may_reject_counter(version: ContractVersion, side: str) -> bool:
    return may_counter(version, side) and version.offer_kind == OfferKind.COUNTER


def _check_answering(version: ContractVersion, side: str) -> None:
    if on_the_table(version) == side:
        raise ConflictError(OWN_OFFER_MESSAGE, code="own_offer", details={"side": side})


def _open_money(version: ContractVersion) -> None:
    """Let this transaction write the version's rates and fees (the 0004 triggers read its status)."""
    ContractVersion.objects.filter(pk=version.pk).update(status=VersionStatus.DRAFT)


def _close_money(version: ContractVersion) -> None:
    ContractVersion.objects.filter(pk=version.pk).update(status=VersionStatus.PROPOSED)


def _new_round(
    *,
    scope: Scope,
    contract: Contract,
    version: ContractVersion,
    kind: str,
    before: dict[str, Any],
    reasons: dict[str, str],
    reason: str = "",
    pricing_run_id: str = "",
) -> ContractOffer:
    """After the cells are written: the version's next round, its fingerprint, the offer and an event."""
    side = _side(scope)
    version.proposal_round += 1
    version.offer_side, version.offer_kind = side, kind
    version.fingerprint = rules.fingerprint(version_document(version))
    version.save()
    after = version_offer_terms(version)
    changes = _diff(before, after, reasons)
    offer = ContractOffer.objects.create(
        version=version,
        round=version.proposal_round,
        side=side,
        kind=kind,
        author=scope.user,
        created_at=timezone.now(),
        terms=after,
        changes=changes,
        reason=reason,
        pricing_run_id=pricing_run_id,
        fingerprint=version.fingerprint,
    )
    what = "Counter-offer" if kind == OfferKind.COUNTER else "Counter-offer rejected"
    summary = "; ".join(
        f"{c['label']}: {c['before']} → {c['after']}" + (f" ({c['reason']})" if c["reason"] else "")
        for c in changes
        if c["field"] != "quality_terms"
    )
    if any(c["field"] == "quality_terms" for c in changes):
        summary = "; ".join(filter(None, [summary, "quality terms changed"]))
    comment = f"{what}, round {version.proposal_round}" + (f": {reason}" if reason else "")
    if summary:
        comment += f". {summary}"
    _event(
        contract,
        version,
        EventKind.COUNTERED if kind == OfferKind.COUNTER else EventKind.COUNTER_REJECTED,
        scope,
        comment=comment,
    )
    return offer


def record_proposal(*, scope: Scope, version: ContractVersion) -> ContractOffer:
    """The plan's proposal as a round (contract_propose calls it once the version is proposed)."""
    terms = version_offer_terms(version)
    previous = version.offers.order_by("-round").first()
    return ContractOffer.objects.create(
        version=version,
        round=version.proposal_round,
        side=Side.PAYER,
        kind=OfferKind.PROPOSAL,
        author=scope.user,
        created_at=timezone.now(),
        terms=terms,
        changes=_diff(previous.terms, terms, {}) if previous is not None else [],
        pricing_run_id=version.pricing_run_id,
        fingerprint=version.fingerprint,
    )


def _reason(item: dict[str, Any]) -> str:
    return str(item.get("reason") or "").strip()


def pricing_run_visible(scope: Scope, run_id: str) -> bool:
    """Whether ``run_id`` is a pricing run the scope's organisation can see (pricing's own selector)."""
    from pricing.selectors import pricing_run_get

    try:
        pricing_run_get(scope=scope, public_id=run_id)
    except (NotFoundError, PermissionDeniedError):
        return False
    return True


@transaction.atomic
def contract_counter(
    *,
    scope: Scope,
    contract: Contract,
    rates: list[dict[str, Any]] | None = None,
    assessment_fees: list[dict[str, Any]] | None = None,
    withhold_percentage: Any = None,
    withhold_reason: str = "",
    quality_terms: list[dict[str, Any]] | None = None,
    quality_terms_reason: str = "",
    pricing_run_id: str = "",
) -> ContractOffer:
    """Answer the offer on the table with new terms: ``rates`` ``[{tier, market, lob, phase, rate,
    reason}]``, ``assessment_fees`` ``[{market, fee, reason}]``, the withhold and the quality terms (each
    with its reason). Only what changes needs a reason; an item equal to the current term is no change.
    All or nothing: every problem is listed, with its field."""
    contract = _lock(contract)
    _require(scope, contract, CONTRACT_VERSION, "counter")
    version = _pending_for(contract, "counter")
    _check_answering(version, _side(scope))
    problems: list[Problem] = []
    reasons: dict[str, str] = {}
    cells = {(e.tier, e.market, e.lob, e.phase): e for e in version.rates.all()}
    new_rates: list[tuple[RateScheduleEntry, Decimal, str]] = []
    for i, item in enumerate(rates or []):
        at = f"rates[{i}]"
        key = tuple(str(item.get(k) or "") for k in ("tier", "market", "lob", "phase"))
        entry = cells.get(key)  # type: ignore[call-overload]
        if entry is None:
            tier, market, lob, phase = key
            problems.append(
                Problem.at_path(
                    at,
                    "unknown_cell",
                    f"Tier {tier!r}, market {market!r}, LOB {lob!r}"
                    + (f", phase {phase!r}" if phase else "")
                    + " is not a rate cell of this contract version.",
                )
            )
            continue
        value = rules.validate_rate(item.get("rate"), f"{at}.rate", problems)
        if value is None or value == entry.pmpm:
            continue
        reason = _reason(item)
        if not reason:
            cell = f"Tier {entry.tier} in {entry.market} ({entry.lob})" + (
                f", phase {entry.phase}," if entry.phase else ""
            )
            problems.append(
                Problem.at_path(f"{at}.reason", "reason_required", f"{cell} changes: give the reason.")
            )
            continue
        new_rates.append((entry, value, reason))
        reasons["rates." + rules.rate_key(entry.lob, entry.tier, entry.market, entry.phase)] = reason
    fees = {fee.market: fee for fee in version.assessment_fees.all()}
    new_fees: list[tuple[AssessmentFee, Decimal]] = []
    for i, item in enumerate(assessment_fees or []):
        at = f"assessment_fees[{i}]"
        market = str(item.get("market") or "")
        fee = fees.get(market)
        if fee is None:
            problems.append(
                Problem.at_path(
                    f"{at}.market", "unknown_market", f"{market!r} is not a market of this contract version."
                )
            )
            continue
        value = rules.validate_fee(item.get("fee"), f"{at}.fee", problems)
        if value is None or value == fee.fee:
            continue
        reason = _reason(item)
        if not reason:
            problems.append(
                Problem.at_path(
                    f"{at}.reason",
                    "reason_required",
                    f"The assessment fee in {market} changes: give the reason.",
                )
            )
            continue
        new_fees.append((fee, value))
        reasons[f"assessment_fees.{market}"] = reason
    terms: dict[str, Any] = {}
    if withhold_percentage is not None or quality_terms is not None:
        _, markets, lobs = _bundle_scope(version.bundle_version)
        asked = {**_current_terms(version)}
        if withhold_percentage is not None:
            asked["withhold_percentage"] = withhold_percentage
        if quality_terms is not None:
            asked["quality_terms"] = quality_terms
        normalized, term_problems = rules.validate_terms(
            asked,
            allowed_markets=markets,
            allowed_lobs=lobs,
            episode_days=episode_days(version.bundle_version.definition),
        )
        problems += term_problems
        if not term_problems:
            for field, reason in (
                ("withhold_percentage", withhold_reason),
                ("quality_terms", quality_terms_reason),
            ):
                current = getattr(version, field)
                same = (
                    _withhold(normalized[field]) == _withhold(current)
                    if field == "withhold_percentage"
                    else list(normalized[field]) == list(current)
                )
                if same:
                    continue
                reason = (reason or "").strip()
                if not reason:
                    label = "The withhold" if field == "withhold_percentage" else "The quality terms"
                    problems.append(
                        Problem.at_path(
                            f"{field.removesuffix('_percentage')}_reason",
                            "reason_required",
                            f"{label} change: give the reason.",
                        )
                    )
                    continue
                terms[field] = normalized[field]
                reasons[field] = reason
    pricing_run_id = str(pricing_run_id or "").strip()
    if pricing_run_id and not pricing_run_visible(scope, pricing_run_id):
        problems.append(Problem.at_path("pricing_run_id", "unknown_pricing_run", UNKNOWN_PRICING_RUN_MESSAGE))
    if problems:
        raise _problems_error(problems, INVALID_COUNTER_MESSAGE, "invalid_counter_offer")
    if not (new_rates or new_fees or terms):
        raise ApplicationError(NO_CHANGES_MESSAGE, code="no_changes")
    before = version_offer_terms(version)
    _open_money(version)
    for entry, value, reason in new_rates:
        entry.pmpm = value
        if entry.priced_pmpm is not None and value == entry.priced_pmpm:
            entry.source, entry.reason = RateSource.PRICING_RUN, ""
        else:
            entry.source, entry.reason = RateSource.NEGOTIATED, reason
        entry.save()
    for fee, value in new_fees:
        fee.fee = value
        fee.save()
    _close_money(version)
    for field, value in terms.items():
        setattr(version, field, value)
    return _new_round(
        scope=scope,
        contract=contract,
        version=version,
        kind=OfferKind.COUNTER,
        before=before,
        reasons=reasons,
        pricing_run_id=pricing_run_id,
    )


@transaction.atomic
def contract_reject_counter(*, scope: Scope, contract: Contract, reason: str) -> ContractOffer:
    """Reject the counter-offer on the table: this side's own latest offer is back, as a new round."""
    contract = _lock(contract)
    _require(scope, contract, CONTRACT_VERSION, "reject_counter")
    version = _pending_for(contract, "reject_counter")
    side = _side(scope)
    _check_answering(version, side)
    if version.offer_kind != OfferKind.COUNTER:
        raise ConflictError(NO_COUNTER_MESSAGE, code="no_counter_offer")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(
            REJECTION_REASON_MESSAGE, code="reason_required", details={"reason": [REJECTION_REASON_MESSAGE]}
        )
    earlier = version.offers.filter(side=side).order_by("-round").first()
    if earlier is None:
        raise ConflictError(NO_EARLIER_OFFER_MESSAGE, code="no_earlier_offer")
    target = earlier.terms
    before = version_offer_terms(version)
    _open_money(version)
    for entry in version.rates.all():
        key = rules.rate_key(entry.lob, entry.tier, entry.market, entry.phase)
        if key not in target["rates"]:
            continue
        value = Decimal(target["rates"][key])
        earlier_reason = target.get("rate_reasons", {}).get(key, "")
        if value == entry.pmpm and earlier_reason == (
            entry.reason if entry.source == RateSource.NEGOTIATED else ""
        ):
            continue
        entry.pmpm = value
        if entry.priced_pmpm is not None and value == entry.priced_pmpm:
            entry.source, entry.reason = RateSource.PRICING_RUN, ""
        else:
            entry.source, entry.reason = RateSource.NEGOTIATED, earlier_reason or reason
        entry.save()
    for fee in version.assessment_fees.all():
        if (
            fee.market in target["assessment_fees"]
            and Decimal(target["assessment_fees"][fee.market]) != fee.fee
        ):
            fee.fee = Decimal(target["assessment_fees"][fee.market])
            fee.save()
    _close_money(version)
    version.withhold_percentage = Decimal(target["withhold_percentage"])
    version.quality_terms = list(target["quality_terms"])
    everything = {f"rates.{key}": reason for key in before["rates"]}
    everything |= {f"assessment_fees.{market}": reason for market in before["assessment_fees"]}
    everything |= {"withhold_percentage": reason, "quality_terms": reason}
    return _new_round(
        scope=scope,
        contract=contract,
        version=version,
        kind=OfferKind.REJECTION,
        before=before,
        reasons=everything,
        reason=reason,
        pricing_run_id=earlier.pricing_run_id,
    )
