"""Demo notifications: Bayview's systems registered for its rosters and proposals (a placeholder
address, so the delivery log shows retries), and every demo member's worklist as it stands, notified."""

from __future__ import annotations

from notifications import services
from notifications.models import WebhookEndpoint

DEMO_HOOK = "https://hooks.bayview.example.org/carebundle"


def seed(ctx) -> None:
    WebhookEndpoint.objects.get_or_create(
        organization=ctx.urban,
        url=DEMO_HOOK,
        defaults={
            "kinds": ["roster_late", "roster_rejected", "proposal_awaiting", "amendment_awaiting"],
            "created_by": ctx.users.get("urban_admin"),
        },
    )
    services.notifications_sweep()
