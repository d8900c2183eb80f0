"""Demo organisations and users (demo data only: the password is public)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from accounts import services
from accounts.models import Invitation, LineOfBusiness, Membership, Organization, OrganizationKind, Role
from accounts.tenancy import Scope

DEMO_PASSWORD = "carebundle-demo"  # noqa: S105 - documented demo credential, refused when DEBUG is off
PLAN_NAME = "Golden Coast Health Plan"
URBAN_NAME = "Bayview Home Palliative Care"
RURAL_NAME = "Sierra Foothills Palliative Program"

DEMO_USERS = [
    # username, first, last, organisation, role
    ("plan_analyst", "Priya", "Natarajan", PLAN_NAME, Role.ANALYST),
    # the second analyst: approves what plan_analyst requests (four eyes on money)
    ("plan_analyst2", "Samuel", "Ortiz", PLAN_NAME, Role.ANALYST),
    ("plan_contracts", "Marcus", "Bell", PLAN_NAME, Role.CONTRACT_MANAGER),
    ("plan_auditor", "Helen", "Okafor", PLAN_NAME, Role.AUDITOR),
    ("urban_admin", "Dana", "Reyes", URBAN_NAME, Role.ADMIN),
    ("rural_admin", "Tom", "Whitaker", RURAL_NAME, Role.ADMIN),
]


@dataclass
class DemoContext:
    """What each app's seed step made, for the steps after it."""

    plan: Organization | None = None
    urban: Organization | None = None
    rural: Organization | None = None
    users: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def seed(ctx: DemoContext) -> None:
    ctx.plan, _ = Organization.objects.update_or_create(
        legal_name=PLAN_NAME,
        defaults={
            "kind": OrganizationKind.PAYER,
            "short_name": "Golden Coast",
            "tax_id": "941234567",
            "lines_of_business": [LineOfBusiness.MEDICAID, LineOfBusiness.MEDICARE_ADVANTAGE],
        },
    )
    ctx.urban, _ = Organization.objects.update_or_create(
        legal_name=URBAN_NAME,
        defaults={
            "kind": OrganizationKind.PROVIDER,
            "short_name": "Bayview",
            "npi": "1234567893",
            "tax_id": "942345678",
        },
    )
    ctx.rural, _ = Organization.objects.update_or_create(
        legal_name=RURAL_NAME,
        defaults={
            "kind": OrganizationKind.PROVIDER,
            "short_name": "Sierra Foothills",
            "npi": "1245319599",
            "tax_id": "943456789",
        },
    )
    organizations = {PLAN_NAME: ctx.plan, URBAN_NAME: ctx.urban, RURAL_NAME: ctx.rural}
    User = get_user_model()
    for username, first, last, org_name, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.org"},
        )
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save()
        Membership.objects.update_or_create(
            user=user, organization=organizations[org_name], defaults={"role": role}
        )
        ctx.users[username] = user
    staff, created = User.objects.get_or_create(
        username="staff",
        defaults={"first_name": "Back", "last_name": "Office", "is_staff": True, "is_superuser": True},
    )
    if created:
        staff.set_password(DEMO_PASSWORD)
        staff.save()
    _invite_demo_nurse(ctx)


#: Bayview's administrator has invited its nurse lead, who has not accepted yet (the People page).
DEMO_INVITEE = "nurse.lead@bayview.example.org"


def _invite_demo_nurse(ctx: DemoContext) -> None:
    if Invitation.objects.filter(organization=ctx.urban, email=DEMO_INVITEE).exists():
        return
    admin = Membership.objects.select_related("organization", "user").get(
        user=ctx.users["urban_admin"], organization=ctx.urban
    )
    services.invitation_create(
        scope=Scope(admin), organization=ctx.urban, email=DEMO_INVITEE, role=Role.SUBMITTER
    )
