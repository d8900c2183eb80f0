"""Rates and assessment fees of a draft: negotiated cells (each with its reason), and taking them
from a pricing run's rate table.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.tenancy import Scope
from bundles.definition import episode_days
from contracts import rules
from contracts.models import (
    AssessmentFee,
    ContractVersion,
    EventKind,
    RateScheduleEntry,
    RateSource,
)
from contracts.services.checks import _bundle_phases, _bundle_scope
from contracts.services.common import (
    _event,
    _lock,
    _problems_error,
    _require,
)
from contracts.states import CONTRACT_VERSION
from core.domain.problems import Problem
from core.errors import ApplicationError

PRICING_MISMATCH_MESSAGE = "The pricing run is for another bundle version than this contract version."
PRICING_INCOMPLETE_MESSAGE = "The pricing run has no rate for some of the contract's cells; see details."


def _apply_rates(version: ContractVersion, rates: list[dict[str, Any]], problems: list[Problem]) -> None:
    tiers, _, _ = _bundle_scope(version.bundle_version)
    phase_codes = _bundle_phases(version.bundle_version)
    existing = {(e.tier, e.market, e.lob, e.phase): e for e in version.rates.all()}
    changes = []
    for i, item in enumerate(rates):
        at = f"rates[{i}]"
        tier, market, lob = str(item.get("tier", "")), str(item.get("market", "")), str(item.get("lob", ""))
        if tier not in tiers or market not in version.markets or lob not in version.lines_of_business:
            problems.append(
                Problem.at_path(
                    at,
                    "unknown_cell",
                    f"Tier {tier!r}, market {market!r}, LOB {lob!r} is not a rate cell of "
                    f"this contract version.",
                )
            )
            continue
        phase = rules.validate_phase(item.get("phase"), phase_codes, f"{at}.phase", problems)
        if phase is None:
            continue
        pmpm = rules.validate_rate(item.get("pmpm"), f"{at}.pmpm", problems)
        if pmpm is None:
            continue
        entry = existing.get((tier, market, lob, phase)) or RateScheduleEntry(
            version=version, tier=tier, market=market, lob=lob, phase=phase
        )
        reason = str(item.get("reason") or "").strip()
        if entry.priced_pmpm is not None and pmpm == entry.priced_pmpm:
            entry.source, entry.reason = RateSource.PRICING_RUN, ""
        else:
            if not reason and not (entry.pk and entry.source == RateSource.NEGOTIATED and entry.reason):
                cell = f"Tier {tier} in {market} ({lob})" + (f", phase {phase}," if phase else "")
                problems.append(
                    Problem.at_path(
                        f"{at}.reason",
                        "reason_required",
                        f"{cell} is negotiated: record the reason.",
                    )
                )
                continue
            entry.source = RateSource.NEGOTIATED
            entry.reason = reason or entry.reason
        entry.pmpm = pmpm
        changes.append(entry)
    if not problems:
        for entry in changes:
            entry.save()


def _apply_fees(version: ContractVersion, fees: dict[str, Any], problems: list[Problem]) -> None:
    changes = []
    for market, value in fees.items():
        if market not in version.markets:
            problems.append(
                Problem.at_path(
                    f"assessment_fees.{market}",
                    "unknown_market",
                    f"{market!r} is not a market of this contract version.",
                )
            )
            continue
        fee = rules.validate_fee(value, f"assessment_fees.{market}", problems)
        if fee is not None:
            changes.append((market, fee))
    if not problems:
        for market, fee in changes:
            entry = AssessmentFee.objects.filter(version=version, market=market).first() or AssessmentFee(
                version=version, market=market
            )
            entry.fee = fee
            entry.save()


@transaction.atomic
def rate_schedule_from_pricing(
    *,
    scope: Scope,
    contract_version: ContractVersion,
    rate_table: dict[str, Any],
    keep_negotiated: bool = True,
) -> ContractVersion:
    """Take a draft's rates and assessment fees from a pricing run's rate table.

    ``rate_table`` is what ``pricing.selectors.pricing_run_rate_table`` returns:
    ``{"run_id", "bundle_version_id", "rates": [{"tier", "market", "lob", "pmpm", "low", "high"}],
    "assessment_fees": {market: amount}}`` (a rate without ``lob`` applies to every line of business;
    a phased bundle's rows also carry ``"phase"``, and every phase of every cell needs its rate).
    For a bundle paid per episode the cell's rate is the run's ``episode_rate`` (the case rate per
    episode), not its PMPM. Every cell gets the priced rate; a cell already negotiated keeps its rate and reason and now
    shows its difference from the priced rate (unless ``keep_negotiated`` is false). All or nothing.
    """
    contract = _lock(contract_version.contract)
    _require(scope, contract, CONTRACT_VERSION, "edit")
    version = (
        ContractVersion.objects.select_for_update()
        .select_related("bundle_version")
        .get(pk=contract_version.pk)
    )
    CONTRACT_VERSION.check("edit", version.status)
    if int(rate_table.get("bundle_version_id") or 0) != version.bundle_version_id:
        raise ApplicationError(
            PRICING_MISMATCH_MESSAGE,
            code="pricing_run_mismatch",
            details={"bundle_version_id": rate_table.get("bundle_version_id")},
        )
    per_episode = episode_days(version.bundle_version.definition) is not None
    # a phased bundle's run prices each phase (rows carry "phase"); an unphased one's rows have none
    priced: dict[tuple[str, str, str | None, str], Any] = {}
    for row in rate_table.get("rates", []):
        rate = row.get("episode_rate") if per_episode else row["pmpm"]
        key = (str(row["tier"]), str(row["market"]), row.get("lob") or None, str(row.get("phase") or ""))
        priced[key] = rate
    problems: list[Problem] = []
    tiers, _, _ = _bundle_scope(version.bundle_version)
    phase_codes = _bundle_phases(version.bundle_version) or [""]
    values: dict[tuple[str, str, str, str], Decimal] = {}
    for lob in version.lines_of_business:
        for tier in tiers:
            for market in version.markets:
                for phase in phase_codes:
                    raw = priced.get((tier, market, lob, phase), priced.get((tier, market, None, phase)))
                    at = rules.rate_path(lob, tier, market, phase)
                    if raw is None:
                        in_phase = f", phase {phase}" if phase else ""
                        problems.append(
                            Problem.at_path(
                                at,
                                "missing_rate",
                                f"The run has no {'episode rate' if per_episode else 'rate'} for tier {tier} "
                                f"in {market} ({lob}){in_phase}.",
                            )
                        )
                        continue
                    value = rules.validate_rate(rules.money(Decimal(str(raw))), at, problems)
                    if value is not None:
                        values[(tier, market, lob, phase)] = value
    fees_in = rate_table.get("assessment_fees") or {}
    fees: dict[str, Decimal] = {}
    for market in version.markets:
        if market not in fees_in:
            problems.append(
                Problem.at_path(
                    f"assessment_fees.{market}", "missing_fee", f"The run has no assessment fee for {market}."
                )
            )
            continue
        fee = rules.validate_fee(
            rules.money(Decimal(str(fees_in[market]))), f"assessment_fees.{market}", problems
        )
        if fee is not None:
            fees[market] = fee
    if problems:
        raise _problems_error(problems, PRICING_INCOMPLETE_MESSAGE, "pricing_run_incomplete")
    existing = {(e.tier, e.market, e.lob, e.phase): e for e in version.rates.all()}
    for key, value in values.items():
        entry = existing.get(key) or RateScheduleEntry(
            version=version, tier=key[0], market=key[1], lob=key[2], phase=key[3]
        )
        entry.priced_pmpm = value
        if keep_negotiated and entry.pk and entry.source == RateSource.NEGOTIATED and entry.pmpm != value:
            entry.save()
            continue
        entry.pmpm, entry.source, entry.reason = value, RateSource.PRICING_RUN, ""
        entry.save()
    for market, fee in fees.items():
        entry = AssessmentFee.objects.filter(version=version, market=market).first() or AssessmentFee(
            version=version, market=market
        )
        entry.fee = entry.priced_fee = fee
        entry.save()
    version.pricing_run_id = str(rate_table.get("run_id") or "")
    version.save(update_fields=["pricing_run_id", "updated_at"])
    _event(
        contract,
        version,
        EventKind.EDITED,
        scope,
        comment=f"Rates taken from {rate_table.get('run_label') or 'a pricing run'}",
    )
    return version
