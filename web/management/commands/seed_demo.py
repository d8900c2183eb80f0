"""Load the demo data: organisations, users, and each app's demo records. Safe to run twice."""

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

# Each app's demo.seed(ctx) (or the function named after a colon) runs in this order; later apps build
# on earlier ones.
DEMO_STEPS = [
    "accounts.demo",
    "bundles.demo",
    "pricing.demo",
    "pricing.demo:share",  # the plan shares its home-based bundle and its pricing run with the urban program
    "contracts.demo",
    "enrollment.demo",
    "payments.demo",
    "performance.demo",
    "claims.demo",  # after performance: its claims supersede the utilisation file the plan sent
    "performance.demo:settle",  # a settlement of what the claims say
    "notifications.demo",  # last: every member's worklist as the demo left it
]


class Command(BaseCommand):
    help = "Create the demo plan, providers and users (refuses to run when DEBUG is off)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo refuses to run when DEBUG is off: demo users have a public password."
            )
        from accounts.demo import DemoContext

        ctx = DemoContext()
        with transaction.atomic():
            for step in DEMO_STEPS:
                module_name, _, function = step.partition(":")
                getattr(import_module(module_name), function or "seed")(ctx)
                self.stdout.write(
                    f"seeded {module_name.split('.')[0]}{' (' + function + ')' if function else ''}"
                )
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Users: " + ", ".join(ctx.users) + " (password carebundle-demo)"
            )
        )
