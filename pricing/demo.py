"""Demo pricing: the plan's default assumption set, a year of the urban program's experience, and a
finished pricing run of each demo bundle (computed here, synchronously, by the task's service).

The experience is generated, deterministically: a home-based program with about 20 referrals a
month that enroll, a monthly disenrollment probability near CAPC's (median stay about four
months), members moving up a tier now and then, and a cost per member-month that varies around
each tier's level. One CSV row per member and month; one span per enrollment.
"""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import date, timedelta

from django.core.files.base import ContentFile

from accounts.models import Membership
from accounts.tenancy import Scope
from bundles.models import BundleVersionStatus
from core.domain.months import last_of_month
from pricing import services
from pricing.models import (
    AssumptionSet,
    AssumptionSetVersionStatus,
    ExperienceDataset,
    FeeSchedule,
    PricingRun,
    PricingRunStatus,
)

ASSUMPTION_SET = "Golden Coast standard assumptions"
EXPERIENCE = "Bayview 2025 experience"
SEED = 20250101
YEAR = 2025
#: Direct cost of care per member-month by tier in 2025 dollars, before member-to-member variation.
TIER_COST = {"1": 470.0, "2": 820.0, "3": 1_380.0}
TIER_ENTRY = (("1", 0.55), ("2", 0.32), ("3", 0.13))
MONTHLY_REFERRALS = 20
STARTING_CENSUS = 90
MONTHLY_HAZARD = {"death": 0.011, "hospice": 0.049, "discharged": 0.060, "moved": 0.012, "declined": 0.025}
ENROLLEES_PER_YEAR = {"URBAN": 150, "URBAN-E": 80, "RURAL-N": 40, "RURAL-S": 25}


def _month_end(year: int, month: int) -> date:
    return last_of_month(date(year, month, 1))


def experience_files(seed: int = SEED) -> tuple[str, str]:
    """(experience.csv, spans.csv) of the urban program's 2025, the same every time for a seed."""
    rnd = random.Random(seed)
    members: list[dict] = []
    next_id = 1

    def enroll(start: date, tier: str) -> None:
        nonlocal next_id
        members.append({"id": f"BV{next_id:05d}", "start": start, "tier": tier, "end": None, "reason": ""})
        next_id += 1

    def entry_tier() -> str:
        draw, total = rnd.random(), 0.0
        for tier, share in TIER_ENTRY:
            total += share
            if draw < total:
                return tier
        return "3"

    for _ in range(STARTING_CENSUS):  # members enrolled before the year began
        enroll(date(YEAR - 1, rnd.randint(6, 12), rnd.randint(1, 28)), entry_tier())
    rows: list[tuple[str, str, str, str, str]] = []
    for month in range(1, 13):
        for _ in range(MONTHLY_REFERRALS):
            enroll(date(YEAR, month, rnd.randint(1, 28)), entry_tier())
        first = date(YEAR, month, 1)
        for member in members:
            if member["end"] is not None or member["start"] > _month_end(YEAR, month):
                continue
            if member["tier"] != "3" and rnd.random() < 0.05:
                member["tier"] = str(int(member["tier"]) + 1)
            variation = math.exp(rnd.gauss(0, 0.35) - 0.35**2 / 2)  # mean 1
            cost = TIER_COST[member["tier"]] * variation
            rows.append((member["id"], f"{YEAR}-{month:02d}", member["tier"], "1", f"{cost:.2f}"))
            draw = rnd.random()
            for reason, hazard in MONTHLY_HAZARD.items():
                if draw < hazard:
                    day = max(first, member["start"]) + timedelta(days=rnd.randint(0, 20))
                    member["end"], member["reason"] = min(day, _month_end(YEAR, month)), reason
                    break
                draw -= hazard
    experience = io.StringIO()
    writer = csv.writer(experience, lineterminator="\n")
    writer.writerow(["member_id", "month", "tier", "member_months", "cost"])
    writer.writerows(rows)
    spans = io.StringIO()
    writer = csv.writer(spans, lineterminator="\n")
    writer.writerow(["member_id", "enrollment_start", "enrollment_end", "disenrollment_reason"])
    for m in members:
        writer.writerow(
            [m["id"], m["start"].isoformat(), m["end"].isoformat() if m["end"] else "", m["reason"]]
        )
    return experience.getvalue(), spans.getvalue()


def _latest_published(bundle):
    return bundle.versions.filter(status=BundleVersionStatus.PUBLISHED).order_by("-number").first()


def _price(scope: Scope, version, assumptions, experience, options: dict) -> None:
    if (
        version is None
        or PricingRun.objects.filter(
            bundle_version=version, assumption_set_version=assumptions, status=PricingRunStatus.SUCCEEDED
        ).exists()
    ):
        return
    markets = version.definition["markets"]
    run = services.pricing_run_start(
        scope=scope,
        bundle_version=version,
        assumption_set_version=assumptions,
        experience=experience,
        options={**options, "enrollees_per_year": {m: ENROLLEES_PER_YEAR.get(m, 50) for m in markets}},
        enqueue=False,
    )
    services.pricing_run_execute(run_id=run.pk)


def seed(ctx) -> None:
    analyst = Membership.objects.select_related("organization", "user").get(
        user=ctx.users["plan_analyst"], organization=ctx.plan
    )
    scope = Scope(analyst)
    assumption_set = AssumptionSet.objects.filter(payer=ctx.plan, name=ASSUMPTION_SET).first()
    if assumption_set is None:
        assumption_set = services.assumption_set_create(
            scope=scope,
            name=ASSUMPTION_SET,
            description="The platform's sourced defaults with the plan's market catalogue; rural wages 5% lower.",
        )
        draft = assumption_set.versions.get(status=AssumptionSetVersionStatus.DRAFT)
        assumptions = draft.assumptions
        for entry in assumptions["salaries"].values():
            default = float(entry["default"])
            entry["markets"] = {"RURAL-N": f"{default * 0.95:.0f}", "RURAL-S": f"{default * 0.95:.0f}"}
        services.assumption_draft_update(
            scope=scope,
            assumption_set=assumption_set,
            assumptions=assumptions,
            sources={
                f"salaries.{role}": f"{draft.sources.get(f'salaries.{role}', '')} Rural markets: 5% below, "
                "from the plan's provider network survey (demo)."
                for role in assumptions["salaries"]
            },
            notes="Rural wage differential",
        )
        published = services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
        # Next year's assumptions in progress: a higher trend under review, not yet published.
        services.assumption_version_new_draft(scope=scope, version=published)
        revision = dict(published.assumptions, annual_trend="0.04")
        services.assumption_draft_update(
            scope=scope,
            assumption_set=assumption_set,
            assumptions=revision,
            notes="Trend under review for the next rating period",
        )
    version = (
        assumption_set.versions.filter(status=AssumptionSetVersionStatus.PUBLISHED)
        .order_by("-number")
        .first()
    )
    ctx.extra["assumption_set"] = assumption_set

    experience = ExperienceDataset.objects.filter(payer=ctx.plan, name=EXPERIENCE, status="valid").first()
    if experience is None:
        experience_csv, spans_csv = experience_files()
        experience = services.experience_upload(
            scope=scope,
            name=EXPERIENCE,
            program_name=ctx.urban.legal_name,
            provider=ctx.urban,
            file=ContentFile(experience_csv.encode(), name="bayview-experience-2025.csv"),
            spans_file=ContentFile(spans_csv.encode(), name="bayview-spans-2025.csv"),
            run_inline=True,
        )
    ctx.extra["experience"] = experience

    _price(
        scope, _latest_published(ctx.extra["home_bundle"]), version, experience, {"simulation_years": 10_000}
    )
    _price(scope, _latest_published(ctx.extra["episode_bundle"]), version, None, {"simulation_years": 10_000})
    _price(scope, _latest_published(ctx.extra["phased_bundle"]), version, None, {"simulation_years": 10_000})
    _sensitivity(scope, _latest_published(ctx.extra["home_bundle"]), version)
    _fee_schedule(scope)
    _rural_provider_pricing(ctx)


RURAL_ASSUMPTION_SET = "Our costs 2027"
#: The rural provider's first year: a small census, the fixed cost of a team on call and a vehicle.
RURAL_OPTIONS = {
    "simulation_years": 10_000,
    "enrollees_per_year": {"RURAL-N": 25},
    "fixed_annual_cost": "60000",
    "first_year": True,
}


def _rural_provider_pricing(ctx) -> None:
    """The rural provider prices its own bundle on its own wages (10% under the platform's defaults)."""
    admin = Membership.objects.select_related("organization", "user").get(
        user=ctx.users["rural_admin"], organization=ctx.rural
    )
    scope = Scope(admin)
    assumption_set = AssumptionSet.objects.filter(payer=ctx.rural, name=RURAL_ASSUMPTION_SET).first()
    if assumption_set is None:
        assumption_set = services.assumption_set_create(
            scope=scope, name=RURAL_ASSUMPTION_SET, description="Our own wages, drive times and overhead."
        )
        draft = assumption_set.versions.get(status=AssumptionSetVersionStatus.DRAFT)
        assumptions = draft.assumptions
        for entry in assumptions["salaries"].values():
            entry["default"] = f"{float(entry['default']) * 0.9:.0f}"
        services.assumption_draft_update(
            scope=scope,
            assumption_set=assumption_set,
            assumptions=assumptions,
            sources={f"salaries.{role}": "Our payroll, 2026 (demo)." for role in assumptions["salaries"]},
            notes="Our payroll",
        )
        services.assumption_draft_publish(scope=scope, assumption_set=assumption_set)
    version = assumption_set.versions.get(status=AssumptionSetVersionStatus.PUBLISHED, number=1)
    bundle_version = _latest_published(ctx.extra["rural_bundle"])
    if not PricingRun.objects.filter(
        bundle_version=bundle_version, assumption_set_version=version, status=PricingRunStatus.SUCCEEDED
    ).exists():
        run = services.pricing_run_start(
            scope=scope,
            bundle_version=bundle_version,
            assumption_set_version=version,
            options=RURAL_OPTIONS,
            enqueue=False,
        )
        services.pricing_run_execute(run_id=run.pk)


#: The demo plan's state fee schedule: what its Medicaid program pays the codes a palliative team bills.
DEMO_FEE_SCHEDULE = "Golden Coast Medicaid physician fee schedule"
DEMO_FEE_SCHEDULE_CSV = (
    "code,modifier,rate,effective_start,effective_end\n"
    "99349,,96.40,2026-01-01,\n99350,,130.60,2026-01-01,\n99345,,168.30,2026-01-01,\n"
    "99214,,78.90,2026-01-01,\n99205,,142.10,2026-01-01,\n99487,,88.75,2026-01-01,\n"
    "99489,,44.20,2026-01-01,\n99490,,42.80,2026-01-01,\n99439,,32.50,2026-01-01,\n"
    "99497,,61.40,2026-01-01,\n99498,,53.10,2026-01-01,\nG0511,,62.00,2026-01-01,\n"
)


def _fee_schedule(scope: Scope) -> None:
    if FeeSchedule.objects.filter(payer=scope.organization, name=DEMO_FEE_SCHEDULE).exists():
        return
    services.fee_schedule_upload(
        scope=scope,
        name=DEMO_FEE_SCHEDULE,
        file=ContentFile(DEMO_FEE_SCHEDULE_CSV.encode(), name="golden-coast-fee-schedule-2026.csv"),
        notes="Demo rates for the codes a palliative team bills (illustrative, not a published schedule).",
    )


def _sensitivity(scope: Scope, bundle_version, assumptions) -> None:
    """The home-based run's tornado for its costliest rural cell (tier 3), so the run page shows one."""
    run = (
        PricingRun.objects.filter(
            bundle_version=bundle_version,
            assumption_set_version=assumptions,
            status=PricingRunStatus.SUCCEEDED,
        )
        .order_by("created_at")
        .first()
    )
    market = next((m for m in run.markets if m.startswith("RURAL")), run.markets[0]) if run else None
    if run is None or market is None:
        return
    analysis = services.sensitivity_start(
        scope=scope,
        run=run,
        tier="3",
        market=market,
        lob=run.lobs[0],
        n_years=services.MIN_SENSITIVITY_YEARS,
        enqueue=False,
    )
    services.sensitivity_execute(analysis_id=analysis.pk)


def share(ctx) -> None:
    """Sharing on purpose (issue 19): the plan shares its home-based bundle's latest version and its
    pricing run with the urban program, read-only (the program sees them under "Shared with us")."""
    from bundles.models import BundleVersionShare
    from bundles.services import version_share

    analyst = Membership.objects.select_related("organization", "user").get(
        user=ctx.users["plan_analyst"], organization=ctx.plan
    )
    scope = Scope(analyst)
    version = _latest_published(ctx.extra["home_bundle"])
    if version is None:
        return
    if (
        not BundleVersionShare.objects.active()
        .filter(bundle_version=version, organization=ctx.urban)
        .exists()
    ):
        version_share(
            scope=scope,
            version=version,
            organization=ctx.urban,
            note="The bundle we priced; comments welcome.",
        )
    run = (
        PricingRun.objects.filter(bundle_version=version, payer=ctx.plan, status=PricingRunStatus.SUCCEEDED)
        .order_by("created_at")
        .first()
    )
    if run is not None and not run.shares.active().filter(organization=ctx.urban).exists():
        services.pricing_run_share(
            scope=scope, run=run, organization=ctx.urban, note="How we priced the home-based bundle for 2027."
        )
