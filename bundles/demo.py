"""Demo bundles: the plan's home-based palliative care bundle (three tiers, the whole team, two
published versions) and a 90-day post-discharge episode bundle, with the plan's markets; and the
rural provider's own service model, a bundle it owns and prices on its own costs."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Membership
from accounts.tenancy import Scope
from bundles import services
from bundles.catalogue import ensure_platform_roles
from bundles.definition import empty_definition
from bundles.models import Bundle, IdtRole, Market

HOME_BASED = "Home-based palliative care"
EPISODE = "Post-discharge palliative transition (90 days)"
PHASED = "Home-based palliative care, phased"
RURAL_MODEL = "Sierra home palliative care (our service model)"
#: The rural provider's own counties: it travels further than the plan's figures assume.
RURAL_MARKETS = [("RURAL-N", "Northern Sierra foothills", True, "62", "41")]

MARKETS = [
    # code, name, rural, travel minutes per visit, miles per visit
    ("URBAN", "San Francisco Bay urban core", False, "20", "8"),
    ("URBAN-E", "East Bay suburbs", False, "30", "14"),
    ("RURAL-N", "Northern Sierra foothills", True, "55", "35"),
    ("RURAL-S", "Southern Sierra frontier", True, "70", "48"),
]


def _effort(visit_minutes, *tiers):
    return {
        "visit_minutes": str(visit_minutes),
        "by_tier": {
            str(i + 1): {"visits_per_mm": str(v), "coordination_minutes_per_mm": str(c)}
            for i, (v, c) in enumerate(tiers)
        },
    }


def home_based_definition() -> dict:
    d = empty_definition(HOME_BASED, tiers=3)
    d["description"] = (
        "Ongoing home-based palliative care by the whole interdisciplinary team for adults with "
        "serious illness, paid per member per month by acuity tier."
    )
    d["lines_of_business"] = ["medicaid", "medicare_advantage"]
    d["markets"] = [m[0] for m in MARKETS]
    d["tiers"][0]["description"] = "Symptoms controlled; monthly check-ins; caregiver coping."
    d["tiers"][1]["description"] = "New or worsening symptoms, or an ED visit in the last 90 days."
    d["tiers"][2]["description"] = "Rapid decline, complex symptoms or a caregiver in crisis."
    d["roles"] = [
        {"role": "physician", **_effort(45, (0.1, 10), (0.25, 15), (0.5, 30))},
        {"role": "np", **_effort(60, (0.5, 15), (1.0, 30), (2.0, 45))},
        {"role": "rn", **_effort(60, (1.0, 30), (2.0, 45), (3.0, 60))},
        {"role": "lcsw", **_effort(60, (0.5, 20), (1.0, 30), (1.5, 45))},
        {"role": "chaplain", **_effort(60, (0.25, 10), (0.5, 15), (1.0, 20))},
        {"role": "chw", **_effort(45, (1.0, 60), (1.5, 90), (2.0, 120))},
    ]
    d["assessment"] = {
        "roles": [{"role": "np", "minutes": "90"}, {"role": "lcsw", "minutes": "60"}],
        "home": True,
    }
    return d


def phased_definition() -> dict:
    """The home-based bundle paid in two phases: a richer team in the first two months (assessment,
    goals of care, stabilising symptoms), the ongoing effort from month 3."""
    d = home_based_definition()
    d["name"] = PHASED
    d["description"] = (
        "Home-based palliative care paid in two phases: the first two months, when the team does the "
        "most, at a higher rate; the ongoing months after."
    )
    d["phases"] = [
        {"code": "initial", "name": "Months 1-2", "from_month": 1},
        {"code": "ongoing", "name": "Month 3 on", "from_month": 3},
    ]
    more = {"np": (1.0, 2.0, 3.0), "rn": (2.0, 3.0, 4.0), "lcsw": (1.0, 1.5, 2.0)}
    for role in d["roles"]:
        if role["role"] in more:
            role["by_phase"] = {
                "initial": {
                    str(tier): {**role["by_tier"][str(tier)], "visits_per_mm": str(visits)}
                    for tier, visits in enumerate(more[role["role"]], start=1)
                }
            }
    return d


def episode_definition() -> dict:
    d = empty_definition(EPISODE, tiers=2)
    d["description"] = (
        "A 90-day episode after a hospital discharge: stabilise symptoms, reconcile medicines, plan care."
    )
    d["period"] = {"type": "episode", "days": 90}
    d["markets"] = ["URBAN", "URBAN-E", "RURAL-N"]
    d["tiers"] = [
        {"code": "1", "name": "Standard", "description": "One recent admission."},
        {"code": "2", "name": "Intensive", "description": "Two or more admissions in 6 months."},
    ]
    d["roles"] = [
        {"role": "np", **_effort(60, (1.5, 30), (2.5, 45))},
        {"role": "rn", **_effort(60, (2.0, 45), (3.0, 60))},
        {"role": "lcsw", **_effort(60, (1.0, 30), (1.5, 45))},
        {"role": "chaplain", **_effort(45, (0.5, 10), (1.0, 15))},
        {"role": "pharmacist", **_effort(30, (0.5, 30), (1.0, 45))},
    ]
    d["assessment"] = {
        "roles": [{"role": "np", "minutes": "75"}, {"role": "rn", "minutes": "45"}],
        "home": True,
    }
    return d


def seed_markets(organization, rows) -> None:
    """The organisation's markets from (code, name, rural, travel minutes, miles) rows, as they are."""
    for code, name, rural, minutes, miles in rows:
        Market.objects.update_or_create(
            organization=organization,
            code=code,
            defaults={
                "name": name,
                "rural": rural,
                "travel_minutes_per_visit": Decimal(minutes),
                "miles_per_visit": Decimal(miles),
            },
        )


def seed(ctx) -> None:
    analyst = Membership.objects.select_related("organization", "user").get(user=ctx.users["plan_analyst"])
    scope = Scope(analyst)
    ensure_platform_roles(IdtRole)
    seed_markets(ctx.plan, MARKETS)
    if not Bundle.objects.filter(payer=ctx.plan, name=HOME_BASED).exists():
        first = home_based_definition()
        first["roles"][2]["by_tier"]["3"]["visits_per_mm"] = "2.5"
        bundle = services.bundle_create(scope=scope, definition=first)
        v1 = services.draft_publish(scope=scope, bundle=bundle)
        services.version_new_draft(scope=scope, version=v1)
        services.draft_update(scope=scope, bundle=bundle, definition=home_based_definition())
        v2 = services.draft_publish(scope=scope, bundle=bundle)
        # A revision in progress: more chaplain time for the high-need tier, not yet published.
        services.version_new_draft(scope=scope, version=v2)
        revision = home_based_definition()
        revision["roles"][4]["by_tier"]["3"]["visits_per_mm"] = "1.5"
        services.draft_update(scope=scope, bundle=bundle, definition=revision)
    if not Bundle.objects.filter(payer=ctx.plan, name=EPISODE).exists():
        bundle = services.bundle_create(scope=scope, definition=episode_definition())
        services.draft_publish(scope=scope, bundle=bundle)
    if not Bundle.objects.filter(payer=ctx.plan, name=PHASED).exists():
        bundle = services.bundle_create(scope=scope, definition=phased_definition())
        services.draft_publish(scope=scope, bundle=bundle)
    ctx.extra["home_bundle"] = Bundle.objects.get(payer=ctx.plan, name=HOME_BASED)
    ctx.extra["phased_bundle"] = Bundle.objects.get(payer=ctx.plan, name=PHASED)
    ctx.extra["episode_bundle"] = Bundle.objects.get(payer=ctx.plan, name=EPISODE)
    _rural_provider_model(ctx)


def _rural_provider_model(ctx) -> None:
    """The rural provider's own bundle: the plan's home-based model with its own drive times."""
    admin = Membership.objects.select_related("organization", "user").get(
        user=ctx.users["rural_admin"], organization=ctx.rural
    )
    scope = Scope(admin)
    seed_markets(ctx.rural, RURAL_MARKETS)
    if not Bundle.objects.filter(payer=ctx.rural, name=RURAL_MODEL).exists():
        definition = home_based_definition()
        definition["name"] = RURAL_MODEL
        definition["markets"] = [code for code, *_ in RURAL_MARKETS]
        bundle = services.bundle_create(scope=scope, definition=definition)
        services.draft_publish(scope=scope, bundle=bundle)
    ctx.extra["rural_bundle"] = Bundle.objects.get(payer=ctx.rural, name=RURAL_MODEL)
