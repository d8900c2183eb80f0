"""Demo contracts: one active contract with each demo provider on the home-based bundle's latest
published version; Bayview's is amended once (tier 3 rates rise from July) and pays a quality bonus.

Rates come from the plan's latest succeeded pricing run of that bundle version when the demo has
one covering every cell; otherwise they are negotiated demo rates, each with its reason.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from accounts.models import Membership
from accounts.tenancy import Scope
from bundles.models import BundleVersion, BundleVersionStatus
from contracts import services
from contracts.models import Contract, ContractVersion, RateSheetExport
from core.domain.months import next_month
from core.errors import ApplicationError

DEMO_REASON = "Demo rate agreed with the provider (the demo data has no pricing run covering this cell)."
AMENDMENT_REASON = "Tier 3 visit frequency rose after the mid-year utilisation review."

# tier -> market -> medicaid PMPM
DEMO_RATES = {
    "1": {"URBAN": "285.00", "URBAN-E": "296.40", "RURAL-N": "330.00", "RURAL-S": "349.80"},
    "2": {"URBAN": "465.00", "URBAN-E": "483.60", "RURAL-N": "540.00", "RURAL-S": "572.40"},
    "3": {"URBAN": "720.00", "URBAN-E": "748.80", "RURAL-N": "835.00", "RURAL-S": "885.10"},
}
DEMO_FEES = {"URBAN": "342.00", "URBAN-E": "371.00", "RURAL-N": "468.00", "RURAL-S": "512.00"}
LOB_FACTOR = {"medicaid": Decimal("1"), "medicare_advantage": Decimal("1.05")}


def _scope(user, organization) -> Scope:
    return Scope(
        Membership.objects.select_related("organization", "user").get(user=user, organization=organization)
    )


def _demo_rates(markets: list[str], lobs: list[str]) -> list[dict]:
    return [
        {
            "tier": tier,
            "market": market,
            "lob": lob,
            "reason": DEMO_REASON,
            "pmpm": str(
                (Decimal(by_market[market]) * LOB_FACTOR.get(lob, Decimal(1))).quantize(Decimal("0.01"))
            ),
        }
        for lob in lobs
        for tier, by_market in DEMO_RATES.items()
        for market in markets
    ]


def _rates_from_pricing(scope: Scope, version: ContractVersion) -> bool:
    """Take the rates from the plan's latest succeeded pricing run of the bundle version, if any covers them."""
    try:
        from pricing.selectors import pricing_run_rate_table, succeeded_runs_for_bundle_version
    except ImportError:
        return False
    run = succeeded_runs_for_bundle_version(scope=scope, bundle_version=version.bundle_version).first()
    if run is None:
        return False
    try:
        table = pricing_run_rate_table(scope=scope, run_id=run.public_id)
        services.rate_schedule_from_pricing(scope=scope, contract_version=version, rate_table=table)
    except ApplicationError:
        return False
    return True


def _open(
    ctx, *, provider, markets, lobs, proration, tier_rule, withhold, quality, start, end, bonus=None
) -> Contract:
    plan_scope = _scope(ctx.users["plan_contracts"], ctx.plan)
    bundle_version = (
        BundleVersion.objects.filter(bundle=ctx.extra["home_bundle"], status=BundleVersionStatus.PUBLISHED)
        .order_by("-number")
        .first()
    )
    contract = services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        terms={
            "effective_start": start,
            "effective_end": end,
            "markets": markets,
            "lines_of_business": lobs,
            "proration_rule": proration,
            "tier_rule": tier_rule,
            "assessment_lookback_months": 12,
            "retro_window_months": 3,
            "roster_due_day": 10,
            "withhold_percentage": withhold,
            "termination_notice_days": 90,
            "quality_terms": quality,
            "shared_savings_terms": {
                "baseline_method": "pre_enrollment",
                "minimum_savings_rate": "0.02",
                "sharing_rate": "0.5",
                "cap": "0.1",
                "quality_gate": "0.7",
            },
            "quality_bonus": bonus,
        },
    )
    version = contract.current_version
    if not _rates_from_pricing(plan_scope, version):
        services.contract_version_update(
            scope=plan_scope,
            version=version,
            rates=_demo_rates(markets, lobs),
            assessment_fees={m: DEMO_FEES[m] for m in markets},
        )
    services.contract_propose(scope=plan_scope, contract=contract)
    services.contract_accept(scope=plan_scope, contract=contract)
    return contract


def seed(ctx) -> None:
    today = timezone.localdate()
    start, end = date(today.year, 1, 1), date(today.year + 2, 1, 1)
    home = ctx.extra["home_bundle"]
    plan_scope = _scope(ctx.users["plan_contracts"], ctx.plan)

    if not Contract.objects.filter(payer=ctx.plan, provider=ctx.urban, bundle_versions__bundle=home).exists():
        contract = _open(
            ctx,
            provider=ctx.urban,
            markets=["URBAN", "URBAN-E"],
            lobs=["medicaid", "medicare_advantage"],
            proration="any_day",
            tier_rule="first_day",
            withhold=Decimal("0.05"),
            start=start,
            end=end,
            bonus={
                "threshold": "0.9",
                "percentage": "0.01",
            },  # 1% of the payments at a composite of 90% or more
            quality=[
                {
                    "measure": "ed_visits_per_1000",
                    "target": "85",
                    "weight": "0.3",
                    "minimum_denominator": 100,
                },
                {
                    "measure": "hospice_transition_rate",
                    "target": "0.45",
                    "weight": "0.3",
                    "minimum_denominator": 20,
                },
                {
                    "measure": "acp_within_60d_rate",
                    "target": "0.8",
                    "weight": "0.2",
                    "minimum_denominator": 20,
                },
                {"measure": "satisfaction_score", "target": "85", "weight": "0.2", "minimum_denominator": 30},
            ],
        )
        services.contract_accept(scope=_scope(ctx.users["urban_admin"], ctx.urban), contract=contract)
        # The amendment: tier 3 rates up 4% from July.
        amendment = services.contract_amend(
            scope=plan_scope, contract=contract, effective_start=date(today.year, 7, 1)
        )
        raised = [
            {
                "tier": e.tier,
                "market": e.market,
                "lob": e.lob,
                "reason": AMENDMENT_REASON,
                "pmpm": str((e.pmpm * Decimal("1.04")).quantize(Decimal("0.01"))),
            }
            for e in amendment.rates.filter(tier="3")
        ]
        services.contract_version_update(scope=plan_scope, version=amendment, rates=raised)
        services.contract_propose(scope=plan_scope, contract=contract)
        services.contract_accept(scope=plan_scope, contract=contract)
        services.contract_accept(scope=_scope(ctx.users["urban_admin"], ctx.urban), contract=contract)

    if not Contract.objects.filter(payer=ctx.plan, provider=ctx.rural, bundle_versions__bundle=home).exists():
        contract = _open(
            ctx,
            provider=ctx.rural,
            markets=["RURAL-N", "RURAL-S"],
            lobs=["medicaid"],
            proration="daily",
            tier_rule="highest",
            withhold=Decimal("0.03"),
            start=start,
            end=end,
            quality=[
                {
                    "measure": "hospice_transition_rate",
                    "target": "0.4",
                    "weight": "0.4",
                    "minimum_denominator": 15,
                },
                {
                    "measure": "death_at_home_rate",
                    "target": "0.6",
                    "weight": "0.3",
                    "minimum_denominator": 15,
                },
                {
                    "measure": "assessment_within_n_days_rate",
                    "target": "0.85",
                    "weight": "0.3",
                    "minimum_denominator": 20,
                    "n_days": 10,
                },
            ],
        )
        services.contract_accept(scope=_scope(ctx.users["rural_admin"], ctx.rural), contract=contract)
        # An amendment in preparation at the plan (a draft the provider does not see yet).
        services.contract_amend(scope=plan_scope, contract=contract, effective_start=next_month(today))
    if not RateSheetExport.objects.filter(organization=ctx.plan).exists():
        export = services.rate_sheet_export_start(scope=plan_scope)
        services.rate_sheet_export_build(export_id=export.pk)
    ctx.extra["urban_contract"] = (
        Contract.objects.filter(payer=ctx.plan, provider=ctx.urban).order_by("pk").first()
    )
    ctx.extra["rural_contract"] = (
        Contract.objects.filter(payer=ctx.plan, provider=ctx.rural).order_by("pk").first()
    )
